"""JSON logs (``LOG_FORMAT=json``, config/observability.py): one JSON object a line with the
time, level, logger, message, the fields attached with ``extra=`` (the Clever client's
``clever_*``) and the request or task id; fields named like a secret never reach a line."""

from __future__ import annotations

import io
import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import environ
import pytest
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.http import HttpResponse
from django.test import RequestFactory

from config import observability
from config.celery import app
from config.request_id import HEADER, RequestIdMiddleware

ROOT = Path(__file__).resolve().parents[2]
CLEVER_FIELDS = {
    "clever_method": "GET",
    "clever_path": "/v3.0/districts/d1/users",
    "clever_status": 200,
    "clever_duration": 0.0421,
}
logger = logging.getLogger("clever.client")


@pytest.fixture
def json_lines():
    """What ``clever.client`` writes meanwhile, through the handler set-up LOG_FORMAT=json gives
    (the JSON formatter, the context and secret filters), as parsed lines."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(observability.JsonFormatter())
    handler.addFilter(observability.LogContextFilter())
    handler.addFilter(observability.RedactSecretsFilter())
    logger.addHandler(handler)
    try:
        yield lambda: [json.loads(line) for line in stream.getvalue().splitlines()]
    finally:
        logger.removeHandler(handler)


def log_during_request(request_id: str, **extra) -> None:
    def view(request):
        logger.info("clever GET /v3.0/districts/d1/users 200 0.042s", extra=extra)
        return HttpResponse("ok")

    RequestIdMiddleware(view)(RequestFactory().get("/", headers={HEADER: request_id}))


def test_a_clever_client_line_during_a_request_keeps_its_fields_and_the_request_id(json_lines):
    log_during_request("req-7f3a", **CLEVER_FIELDS)

    [line] = json_lines()
    assert line["logger"] == "clever.client" and line["level"] == "INFO"
    assert line["message"] == "clever GET /v3.0/districts/d1/users 200 0.042s"
    assert {name: line[name] for name in CLEVER_FIELDS} == CLEVER_FIELDS
    assert line["request_id"] == "req-7f3a" and line["task_id"] is None
    assert line["time"].endswith("+00:00")  # ISO 8601, UTC


def test_fields_named_like_a_secret_are_dropped_and_the_message_kept(json_lines):
    secrets = {
        "access_token": "clvtok-1",
        "district_token": "clvtok-2",
        "client_secret": "s3cret",
        "oauth_code": "code-123",
        "code": "code-456",
        "Authorization": "Bearer clvtok-3",
        "password": "hunter2",
        "session_key": "abc",
        "request": RequestFactory().get("/callback?code=code-789"),  # Django's, on django.request
    }
    log_during_request("req-1", status_code=502, clever_district_id="d1", **secrets)

    [line] = json_lines()
    assert not set(secrets) & set(line)
    assert line["status_code"] == 502 and line["clever_district_id"] == "d1"
    text = json.dumps(line)
    assert "clvtok" not in text and "code-" not in text and "hunter2" not in text


def test_outside_a_request_the_ids_are_null(json_lines):
    logger.warning("clever GET /v3.0/users failed", extra={"clever_status": None})
    [line] = json_lines()
    assert line["request_id"] is None and line["task_id"] is None and line["clever_status"] is None


@app.task(name="tests.config.log_a_clever_line")
def log_a_clever_line() -> None:
    logger.info("clever GET /v3.0/users 200", extra={"clever_status": 200})


def test_a_line_written_in_a_task_carries_the_task_id(json_lines):
    result = log_a_clever_line.apply(task_id="task-0b1c")
    result.get()
    [line] = json_lines()
    assert line["task_id"] == "task-0b1c" and line["request_id"] is None and line["clever_status"] == 200


def env_with(monkeypatch, **values) -> environ.Env:
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    return environ.Env()


def test_every_handler_gets_the_filters_and_json_only_when_asked(monkeypatch):
    plain = observability.logging_config(env_with(monkeypatch, LOG_FORMAT="plain"), settings.LOGGING)
    json_config = observability.logging_config(env_with(monkeypatch, LOG_FORMAT="JSON"), settings.LOGGING)

    for config in (plain, json_config):
        for handler in config["handlers"].values():
            assert {"log_context", "redact_secrets"} <= set(handler["filters"])
    assert {h["formatter"] for h in plain["handlers"].values()} == {"plain"}
    assert {h["formatter"] for h in json_config["handlers"].values()} == {"json"}
    with pytest.raises(ImproperlyConfigured, match="LOG_FORMAT"):
        observability.logging_config(env_with(monkeypatch, LOG_FORMAT="xml"), settings.LOGGING)


# The settings as a process loads them: a request's line, then a line outside any request.
SCRIPT = """
import logging
import django
django.setup()
from django.http import HttpResponse
from django.test import RequestFactory
from config.request_id import RequestIdMiddleware
log = logging.getLogger("clever.client")
def view(request):
    log.info("clever GET /v3.0/users 200", extra={"clever_status": 200, "access_token": "clvtok-x"})
    return HttpResponse()
RequestIdMiddleware(view)(RequestFactory().get("/", headers={"X-Request-ID": "from-proxy-1"}))
log.warning("outside")
from config.celery import app
print(app.conf.worker_hijack_root_logger)  # a worker keeps the JSON handler
"""


def run_settings(log_format: str | None) -> subprocess.CompletedProcess:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("DJANGO_", "LOG_", "SENTRY_")) and k not in ("DATABASE_URL", "REDIS_URL")
    }
    env["DJANGO_SETTINGS_MODULE"] = "config.settings"
    if log_format is not None:
        env["LOG_FORMAT"] = log_format
    return subprocess.run(
        [sys.executable, "-c", SCRIPT], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )


def test_log_format_json_makes_the_settings_write_json_lines():
    result = run_settings("json")
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in result.stderr.splitlines()]
    assert [(line["logger"], line["message"]) for line in lines] == [
        ("clever.client", "clever GET /v3.0/users 200"),
        ("clever.client", "outside"),
    ]
    assert lines[0]["clever_status"] == 200 and lines[0]["request_id"] == "from-proxy-1"
    assert "access_token" not in lines[0] and "clvtok" not in result.stderr
    assert lines[1]["request_id"] is None
    assert result.stdout.split() == ["False"]


def test_the_default_format_is_plain_as_before():
    result = run_settings(None)
    assert result.returncode == 0, result.stderr
    first, second = result.stderr.splitlines()
    assert first.endswith(" INFO clever.client clever GET /v3.0/users 200")
    assert second.endswith(" WARNING clever.client outside")
    assert result.stdout.split() == ["True"]  # Celery's own worker format, as before
