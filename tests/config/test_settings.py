"""Production mode: secrets have no defaults, the sandbox cannot run, check --deploy is clean."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PRODUCTION_ENV = {
    "DJANGO_ENV": "production",
    "DJANGO_SECRET_KEY": "x" * 64 + "-a-long-random-production-secret-key",
    "DJANGO_ALLOWED_HOSTS": "bridge.example.org",
    "CLEVER_CLIENT_ID": "real-client-id",
    "CLEVER_CLIENT_SECRET": "real-client-secret",
    "FIELD_ENCRYPTION_KEYS": "cHJvZHVjdGlvbi10ZXN0LWtleS0zMi1ieXRlcy1sb24=",
    # Production refuses SQLite and a missing Redis (tests/config/test_production_services.py).
    # Loading the settings and answering a request that reads no data connect to neither.
    "DATABASE_URL": "postgres://bridge:bridge-password@127.0.0.1:5432/bridge",
    "REDIS_URL": "redis://127.0.0.1:6379/0",
    # Hermetic: never a developer's .env at the project root.
    "DJANGO_ENV_FILE": "",
}


def environment(env: dict) -> dict:
    """This process's environment without its app settings (CI's DATABASE_URL and REDIS_URL
    included), plus ``env``."""
    base = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("DJANGO_", "CLEVER_")) and k not in ("DATABASE_URL", "REDIS_URL")
    }
    return {**base, **env}


def manage(*args, env):
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=environment(env),
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_check_deploy_is_clean_in_production_mode():
    result = manage("check", "--deploy", "--fail-level", "WARNING", env=PRODUCTION_ENV)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_check_deploy_warns_when_sign_in_limits_are_per_process(settings):
    # Production settings refuse to load without Redis (test_production_services.py); the
    # check still guards settings that would put the cache back in process memory.
    from sso.checks import rate_limits_need_a_shared_cache

    settings.PRODUCTION = True
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    assert [w.id for w in rate_limits_need_a_shared_cache(None)] == ["sso.W001"]
    settings.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": "redis://"}
    }
    assert rate_limits_need_a_shared_cache(None) == []


@pytest.mark.parametrize(
    "missing",
    [
        "DJANGO_SECRET_KEY",
        "DJANGO_ALLOWED_HOSTS",
        "CLEVER_CLIENT_ID",
        "CLEVER_CLIENT_SECRET",
        "FIELD_ENCRYPTION_KEYS",
    ],
)
def test_production_secrets_have_no_default(missing):
    env = {k: v for k, v in PRODUCTION_ENV.items() if k != missing}
    result = manage("check", env=env)
    assert result.returncode != 0
    assert missing in result.stderr


def test_sandbox_in_production_refuses_to_load_the_settings():
    result = manage("check", env={**PRODUCTION_ENV, "CLEVER_SANDBOX": "on"})
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert "CLEVER_SANDBOX" in result.stderr


def test_embedded_defaults_point_clever_at_the_sandbox(settings):
    assert settings.CLEVER_SANDBOX is True
    assert settings.CLEVER_OAUTH_BASE.endswith("/sandbox")
    assert settings.CLEVER_API_BASE.endswith("/sandbox")
    assert settings.CLEVER_HTTP_ADAPTER == "sandbox.transport.InProcessAdapter"


def test_production_defaults_point_at_clever():
    code = (
        "from django.conf import settings; "
        "print(settings.CLEVER_OAUTH_BASE, settings.CLEVER_API_BASE, settings.CLEVER_SANDBOX, "
        "'sandbox' in settings.INSTALLED_APPS)"
    )
    result = manage("shell", "--no-imports", "-c", code, env=PRODUCTION_ENV)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["https://clever.com", "https://api.clever.com", "False", "False"]
