"""What the in-process benchmarks share: a Django set up on a throwaway database.

``setup_django(database_url, migrate=...)`` is the one way a bench sets Django up (the phases
of ``sync_bench`` and ``lifecycle_bench`` too, without migrating: their orchestrator has).
``run_on_django(prefix, run, args)`` uses ``DATABASE_URL`` when set (e.g. PostgreSQL), else a
SQLite file in a temporary directory removed afterwards; migrates; calls ``run(args)`` and
prints its summary as the one JSON line the benchmark ends with.
"""

import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def setup_django(database_url: str | None = None, *, migrate: bool = True) -> None:
    """Set Django up (``config.settings``, the repository on ``sys.path``) on ``database_url``,
    or on the environment's ``DATABASE_URL`` when None; with ``migrate``, create the tables."""
    sys.path.insert(0, str(ROOT))
    if database_url:
        os.environ["DATABASE_URL"] = database_url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    if migrate:
        from django.core.management import call_command

        call_command("migrate", verbosity=0, interactive=False)


def run_on_django(prefix: str, run, args) -> None:
    tmpdir = None
    database_url = os.environ.get("DATABASE_URL")
    if not database_url:
        tmpdir = tempfile.mkdtemp(prefix=f"{prefix}-")
        database_url = f"sqlite:///{tmpdir}/bench.sqlite3"
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    try:
        setup_django(database_url)
        summary = run(args)
    finally:
        if tmpdir:
            shutil.rmtree(tmpdir, ignore_errors=True)
    print(json.dumps(summary), flush=True)
