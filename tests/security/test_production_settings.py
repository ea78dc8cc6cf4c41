"""Production mode refuses what only the demo may have, at import time: the WSGI application a
server loads (gunicorn never runs ``manage.py check``) cannot start with the sandbox mounted or
with the published demo secrets."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.config.test_settings import PRODUCTION_ENV

ROOT = Path(__file__).resolve().parents[2]
DEMO_KEY = "ZGVtby1vbmx5LWtleS1uZXZlci1pbi1wcm9kdWN0aW8="
DEMO_SECRET = "insecure-demo-key-not-for-production"
SANDBOX_SECRET = "sandbox-client-secret"
# Loads the WSGI application as a server does, then asks it for a path; prints the status.
SERVE_ONE_REQUEST = """
import io, sys
from config.wsgi import application
status = []
environ = {"REQUEST_METHOD": "GET", "PATH_INFO": sys.argv[1], "SERVER_NAME": "bridge.example.org",
           "SERVER_PORT": "443", "HTTP_HOST": "bridge.example.org", "wsgi.url_scheme": "https",
           "HTTP_X_FORWARDED_PROTO": "https", "wsgi.input": io.BytesIO(), "wsgi.errors": sys.stderr}
application(environ, lambda s, headers, exc_info=None: status.append(s))
print(status[0])
"""


def serve(path: str, env: dict) -> subprocess.CompletedProcess:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "CLEVER_"))}
    return subprocess.run(
        [sys.executable, "-c", SERVE_ONE_REQUEST, path],
        cwd=ROOT,
        env={**base, "DJANGO_SETTINGS_MODULE": "config.settings", **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_wsgi_application_refuses_to_load_with_the_sandbox_in_production():
    result = serve("/sandbox/oauth/tokens", {**PRODUCTION_ENV, "CLEVER_SANDBOX": "on"})
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr and "CLEVER_SANDBOX" in result.stderr
    assert not result.stdout  # no request was ever answered


def test_without_the_sandbox_production_serves_no_sandbox_path():
    result = serve("/sandbox/oauth/tokens", PRODUCTION_ENV)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "404 Not Found"


@pytest.mark.parametrize(
    "name, value",
    [
        ("FIELD_ENCRYPTION_KEYS", DEMO_KEY),
        # The demo key anywhere in the list (an old key kept for decryption counts too).
        ("FIELD_ENCRYPTION_KEYS", f"{PRODUCTION_ENV['FIELD_ENCRYPTION_KEYS']},{DEMO_KEY}"),
        ("DJANGO_SECRET_KEY", DEMO_SECRET),
        ("CLEVER_CLIENT_SECRET", SANDBOX_SECRET),
    ],
)
def test_published_demo_secrets_are_refused_in_production(name, value):
    result = serve("/", {**PRODUCTION_ENV, name: value})
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr and name in result.stderr
    assert value not in result.stderr  # the refusal does not echo the secret


def test_the_refused_values_are_the_demo_defaults(settings):
    assert settings.FIELD_ENCRYPTION_KEYS == [DEMO_KEY] == [settings.DEMO_FIELD_ENCRYPTION_KEY]
    assert settings.DEMO_SECRET_KEY == DEMO_SECRET and settings.SANDBOX_CLIENT_SECRET == SANDBOX_SECRET
