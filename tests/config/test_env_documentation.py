"""Configuration: a ``.env`` file at the project root is read (the real environment wins), and every
variable the code reads is documented in ``.env.example`` and in the README's configuration table,
so that neither drifts from the code."""

import os
import re

from tests.config.test_settings import PRODUCTION_ENV, ROOT, manage

# env.str("NAME", ...), env.list(...), env.db(...), env("NAME"), os.environ.get("NAME"),
# os.environ["NAME"], os.getenv("NAME"): what config/ reads (the apps read settings, never the
# environment; the test below checks that too).
READ = re.compile(
    r"""(?:\benv(?:\.\w+)?|os\.environ\.get|os\.getenv)\(\s*["']([A-Z][A-Z0-9_]*)["']"""
    r"""|os\.environ\[\s*["']([A-Z][A-Z0-9_]*)["']\s*\]"""
)
# Read by Django's and Celery's entry points to find the settings, not a setting.
NOT_SETTINGS = {"DJANGO_SETTINGS_MODULE"}
APP_PACKAGES = [
    "config",
    "core",
    "console",
    "accounts",
    "clever",
    "sandbox",
    "districts",
    "rostering",
    "sso",
    "matching",
    "lms",
    "demo",
    "operations",
]


def names_read(paths) -> set[str]:
    found: set[str] = set()
    for path in paths:
        for match in READ.finditer(path.read_text()):
            found.add(match.group(1) or match.group(2))
    return found - NOT_SETTINGS


def code_files():
    for package in APP_PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            if "migrations" not in path.parts:
                yield path


def documented_in_env_example() -> set[str]:
    text = (ROOT / ".env.example").read_text()
    return set(re.findall(r"^#? ?([A-Z][A-Z0-9_]*)=", text, flags=re.MULTILINE))


def documented_in_readme() -> set[str]:
    readme = (ROOT / "README.md").read_text()
    section = readme.split("\n## Configuration\n", 1)[1].split("\n## ", 1)[0]
    names: set[str] = set()
    for line in section.splitlines():
        if line.startswith("| `"):
            first_cell = line.split("|")[1]
            names.update(re.findall(r"`([A-Z][A-Z0-9_]*)`", first_cell))
    return names


def test_the_parser_finds_what_the_settings_read():
    settings_names = names_read([ROOT / "config" / "settings.py"])
    # One of each form: env.str, env.list, env.db, env.bool, env.int, env.float.
    assert {"DJANGO_ENV", "DJANGO_ALLOWED_HOSTS", "DATABASE_URL", "CLEVER_SANDBOX"} <= settings_names
    assert {"SYNC_NIGHTLY_HOUR", "CLEVER_TIMEOUT", "DJANGO_ENV_FILE"} <= settings_names
    assert {"PORT", "WEB_CONCURRENCY"} <= names_read([ROOT / "config" / "gunicorn.conf.py"])
    assert len(settings_names) > 70


def test_every_variable_read_is_in_env_example():
    missing = sorted(names_read(code_files()) - documented_in_env_example())
    assert not missing, f"add these to .env.example (meaning, default): {missing}"


def test_every_variable_read_is_in_the_readme_table():
    missing = sorted(names_read(code_files()) - documented_in_readme())
    assert not missing, f"add these to the README's configuration table: {missing}"


def test_nothing_documented_is_gone_from_the_code():
    read = names_read(code_files())
    assert sorted(documented_in_env_example() - read) == []
    assert sorted(documented_in_readme() - read) == []


def test_env_example_sets_nothing_when_copied():
    # Every line is a comment: `cp .env.example .env` leaves the demo's defaults in place.
    lines = (ROOT / ".env.example").read_text().splitlines()
    assert all(line == "" or line.startswith("#") for line in lines)


SHOW = "from django.conf import settings; print(settings.TIME_ZONE, settings.SYNC_NIGHTLY_HOUR)"


def show(env: dict) -> list[str]:
    result = manage("shell", "--no-imports", "-c", SHOW, env=env)
    assert result.returncode == 0, result.stderr
    return result.stdout.split()


def test_a_dotenv_file_is_read_and_the_environment_wins(tmp_path):
    dotenv = tmp_path / ".env"
    dotenv.write_text("# a comment\nTIME_ZONE=America/Chicago\nexport SYNC_NIGHTLY_HOUR=4\n")
    assert show({"DJANGO_ENV_FILE": str(dotenv)}) == ["America/Chicago", "4"]
    assert show({"DJANGO_ENV_FILE": str(dotenv), "TIME_ZONE": "America/Denver"}) == ["America/Denver", "4"]
    assert show({"DJANGO_ENV_FILE": str(tmp_path / "missing.env")}) == ["UTC", "2"]


def test_a_dotenv_file_can_hold_the_whole_production_environment(tmp_path):
    dotenv = tmp_path / ".env"
    dotenv.write_text("".join(f"{k}={v}\n" for k, v in PRODUCTION_ENV.items() if k != "DJANGO_ENV_FILE"))
    result = manage("check", "--deploy", "--fail-level", "WARNING", env={"DJANGO_ENV_FILE": str(dotenv)})
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_default_file_is_dotenv_at_the_project_root(settings):
    if "DJANGO_ENV_FILE" not in os.environ:
        env_file = settings.ENV_FILE
        assert env_file == str(ROOT / ".env")
    assert ".env" in (ROOT / ".gitignore").read_text().splitlines()
