"""Production installs only `[project] dependencies` (requirements/production.lock): the app must
load and import every module it serves without the sandbox's and the tests' extras, and the lock
files must pin exactly what pyproject.toml pins."""

import re
import subprocess
import sys
import tomllib

from tests.config.test_settings import PRODUCTION_ENV, ROOT, environment

# Distributions installed only by an extra, by the module name they are imported as.
EXTRA_ONLY_MODULES = (
    "faker",
    "yaml",
    "psutil",
    "factory",
    "hypothesis",
    "jsonschema",
    "pytest",
    "playwright",
)

# Blocks the extras' modules, then loads the production settings and every module of every
# installed app (urls, admin, tasks, management commands included).
IMPORT_EVERYTHING = """
import importlib, pkgutil, sys
from pathlib import Path
BLOCKED = set(sys.argv[1].split(","))
class Block:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in BLOCKED:
            raise ImportError(f"{name} is not installed in production")
sys.meta_path.insert(0, Block())
import django
django.setup()
from django.apps import apps
from django.conf import settings
import config.urls, config.celery
count = 0
for app in apps.get_app_configs():
    if Path(app.path).parent != settings.BASE_DIR:  # the project's own apps only
        continue
    package = importlib.import_module(app.name)
    for info in pkgutil.walk_packages(package.__path__, app.name + "."):
        # Migrations run apart; factories are test helpers kept beside their models; the demo's
        # set-up needs the sandbox, which production never installs (its command refuses first).
        if ".migrations" in info.name or info.name.endswith(".factories") or info.name == "demo.setup":
            continue
        importlib.import_module(info.name)
        count += 1
print("imported", count)
"""


def test_production_imports_nothing_from_the_extras():
    result = subprocess.run(
        [sys.executable, "-c", IMPORT_EVERYTHING, ",".join(EXTRA_ONLY_MODULES)],
        cwd=ROOT,
        env=environment({**PRODUCTION_ENV, "DJANGO_SETTINGS_MODULE": "config.settings"}),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert int(result.stdout.split()[-1]) > 100


def _pins(text: str) -> dict[str, str]:
    return {
        re.sub(r"[-_.]+", "-", name).lower(): version
        for name, version in re.findall(r"^\s*\"?([A-Za-z0-9_.-]+)(?:\[[^\]]*\])?==([^\s\";\\]+)", text, re.M)
    }


def test_the_locks_pin_what_pyproject_pins():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    runtime = _pins("\n".join(project["dependencies"]))
    extras = _pins("\n".join(pin for pins in project["optional-dependencies"].values() for pin in pins))
    production = _pins((ROOT / "requirements/production.lock").read_text())
    dev = _pins((ROOT / "requirements/dev.lock").read_text())
    assert {name: production.get(name) for name in runtime} == runtime
    assert {name: dev.get(name) for name in {**runtime, **extras}} == {**runtime, **extras}
    assert not set(extras) & set(production), "an extra's package leaked into the production lock"
    assert "--hash=sha256:" in (ROOT / "requirements/production.lock").read_text()
