"""Production mode refuses to run without PostgreSQL and Redis, in the settings themselves: gunicorn
and Celery never run the system checks, so a check alone would let them start. Without Redis
every task (a three-hour sync, an LMS push) would run inline inside a web request; on SQLite the
web and worker processes would lock each other out."""

import subprocess
import sys

import pytest

from tests.config.test_settings import PRODUCTION_ENV, ROOT, environment, manage


def without(*names: str) -> dict:
    return {k: v for k, v in PRODUCTION_ENV.items() if k not in names}


def refused(result: subprocess.CompletedProcess, name: str) -> bool:
    return (
        result.returncode != 0
        and "ImproperlyConfigured" in result.stderr
        and "DJANGO_ENV=production needs" in result.stderr
        and name in result.stderr
    )


@pytest.mark.parametrize("env", [without("REDIS_URL"), {**PRODUCTION_ENV, "REDIS_URL": ""}])
def test_production_refuses_to_load_without_redis(env):
    result = manage("check", env=env)
    assert refused(result, "REDIS_URL"), result.stderr
    assert "inline inside a web request" in result.stderr


@pytest.mark.parametrize(
    "env",
    [
        without("DATABASE_URL"),  # the demo's default, SQLite
        {**PRODUCTION_ENV, "DATABASE_URL": "sqlite:////tmp/clever-bridge-production.sqlite3"},
    ],
)
def test_production_refuses_sqlite(env):
    result = manage("check", env=env)
    assert refused(result, "DATABASE_URL"), result.stderr
    assert "PostgreSQL" in result.stderr


def test_the_web_server_refuses_to_start_without_redis():
    """gunicorn loads the WSGI application (``--check-config``) and exits non-zero."""
    result = gunicorn("--check-config", env=without("REDIS_URL"))
    assert refused(result, "REDIS_URL"), result.stderr


def test_a_complete_production_environment_starts():
    # The settings load and the deploy checks are clean (test_settings.py checks --deploy too).
    assert manage("check", env=PRODUCTION_ENV).returncode == 0
    # The web server loads the WSGI application.
    result = gunicorn("--check-config", env=PRODUCTION_ENV)
    assert result.returncode == 0, result.stderr
    # The Celery app every worker and beat load: on Redis, not eager.
    code = (
        "from config.celery import app; "
        "print(app.conf.task_always_eager, app.conf.broker_url.split(':')[0], app.conf.task_default_queue)"
    )
    result = python("-c", code, env=PRODUCTION_ENV)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["False", "redis", "default"]


def test_the_demo_still_runs_without_postgres_or_redis(settings):
    # Development mode (this test run without DATABASE_URL or REDIS_URL): nothing is refused.
    assert not settings.PRODUCTION
    if not settings.REDIS_URL:
        assert settings.CELERY_TASK_ALWAYS_EAGER is True


def gunicorn(*args: str, env: dict) -> subprocess.CompletedProcess:
    return python("-m", "gunicorn", *args, "-c", "config/gunicorn.conf.py", "config.wsgi", env=env)


def python(*args: str, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, *args], cwd=ROOT, env=environment(env), capture_output=True, text=True, timeout=120
    )
