"""Sentry (config/observability.py): an error reaches the DSN, with its type, and nothing of a
child's or a secret does. The DSN is a receiver on 127.0.0.1 started by the test; the request
carries a child's name, an email address, a Clever token and an OAuth code in its query string,
body, cookies and headers, the view keeps them in local variables, logs them with ``extra=`` and
puts the name in the lines after the first of its exception's message; none may appear anywhere
in the bytes received. Sentry is started inside each test and stopped after it."""

from __future__ import annotations

import gzip
import json
import logging
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import environ
import pytest
import sentry_sdk
from django.core.exceptions import ImproperlyConfigured
from django.core.handlers.wsgi import WSGIHandler
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from django.test import Client, RequestFactory
from django.urls import path
from sentry_sdk.integrations.django import DjangoIntegration

from accounts.factories import UserFactory
from config import observability

CHILD = "Adalind Quokkafield"
EMAIL = "adalind.quokka@example.org"
TOKEN = "clvtok9f8e7d6c5b4a39281706f5"
CODE = "oauthcode4b7c1d9e2f"
# Matched without case in everything received: any of them, quoted, URL-encoded or escaped.
PROBES = ("adalind", "quokka", TOKEN, CODE)
REQUEST_ID = "req-sentry-1"
CSRF = "A" * 32

pytestmark = [pytest.mark.urls(__name__), pytest.mark.django_db]


class ReportCardError(Exception):
    pass


# The view keeps the request's values in local variables, logs them with extra= beside safe
# fields, and fails with them on its message's second line (as a database error would).
def report_card(request):
    student = request.POST["student"]
    contact = request.POST["email"]
    bearer = request.headers["Authorization"]
    log = logging.getLogger("clever.client")
    log.warning("clever POST /v3.1/sections/s1/assignments retrying", extra={"access_token": bearer})
    log.error(
        "grade export failed",
        extra={
            "clever_district_id": "district-77",
            "clever_status": 502,
            "student_name": student,
            "contact": contact,
            "oauth_code": request.GET.get("code"),
        },
    )
    raise ReportCardError(f"could not save the report card\nDETAIL: Key (name)=({student}) exists")


urlpatterns = [path("report-card/", report_card)]


@pytest.fixture
def receiver():
    """A DSN receiver on 127.0.0.1: (its port, the request bodies received, decompressed)."""
    bodies: list[bytes] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            if self.headers.get("Content-Encoding") == "gzip":
                body = gzip.decompress(body)
            assert self.headers.get("Content-Encoding") in (None, "gzip", "identity")
            bodies.append(body)
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1], bodies
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def dsn(receiver, monkeypatch):
    for name in ("http_proxy", "https_proxy", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.upper(), raising=False)
    port, _ = receiver
    yield f"http://publickey@127.0.0.1:{port}/1"
    # Stop Sentry whatever the test did: later tests run without it.
    sentry_sdk.get_client().close(timeout=2)
    sentry_sdk.get_global_scope().set_client(None)


def parse_envelope(body: bytes) -> tuple[dict, list[tuple[dict, bytes]]]:
    """An envelope: a JSON header line, then items, each a JSON header line and a payload (of
    the header's ``length``, else up to the next newline)."""
    header_line, _, rest = body.partition(b"\n")
    items = []
    while rest.strip():
        item_line, _, rest = rest.partition(b"\n")
        item_header = json.loads(item_line)
        length = item_header.get("length")
        if length is None:
            payload, _, rest = rest.partition(b"\n")
        else:
            payload, rest = rest[:length], rest[length + 1 :]
        items.append((item_header, payload))
    return json.loads(header_line), items


def events(bodies: list[bytes]) -> list[dict]:
    return [
        json.loads(payload)
        for body in bodies
        for item_header, payload in parse_envelope(body)[1]
        if item_header.get("type") == "event"
    ]


def fail_a_request() -> None:
    """A signed-in child's request whose view raises, full of data that must not leave, through
    the WSGI application as a server calls it (Sentry reads the request's URL, method and
    headers there), with the test client's database connection kept open as the client does."""
    user = UserFactory(
        username="adalind-quokkafield", first_name="Adalind", last_name="Quokkafield", email=EMAIL
    )
    client = Client()
    client.force_login(user)
    factory = RequestFactory()
    factory.cookies = client.cookies
    factory.cookies["student"] = "Quokkafield"
    factory.cookies["clever_token"] = TOKEN
    factory.cookies["csrftoken"] = CSRF
    environ = factory.post(
        f"/report-card/?code={CODE}&state=s1&student={CHILD}",
        data={"student": CHILD, "email": EMAIL, "token": TOKEN},
        headers={
            "Authorization": f"Bearer {TOKEN}",
            "X-Request-ID": REQUEST_ID,
            "X-Child": CHILD,
            "X-CSRFToken": CSRF,
        },
    ).environ
    statuses: list[str] = []
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        response = WSGIHandler()(environ, lambda status, headers, exc_info=None: statuses.append(status))
        response.close()
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)
    assert statuses == ["500 Internal Server Error"]


def leaks(bodies: list[bytes]) -> list[str]:
    text = b"\n".join(bodies).decode("utf-8", "replace").lower()
    return [probe for probe in PROBES if probe.lower() in text]


def test_an_error_reaches_sentry_without_a_childs_data_or_a_secret(receiver, dsn, monkeypatch):
    _, bodies = receiver
    monkeypatch.setenv("SENTRY_DSN", dsn)
    monkeypatch.setenv("SENTRY_ENVIRONMENT", "ci-test")
    monkeypatch.setenv("SENTRY_RELEASE", "bridge@1.2.3")
    assert observability.init_sentry(environ.Env(), "test")

    fail_a_request()
    sentry_sdk.flush(timeout=10)

    received = events(bodies)
    [error] = [e for e in received if "exception" in e]
    assert error["level"] == "error"
    [exception] = error["exception"]["values"]
    assert exception["type"] == "ReportCardError"
    assert exception["value"] == "could not save the report card"  # the first line only
    assert error["environment"] == "ci-test" and error["release"] == "bridge@1.2.3"
    assert error["tags"]["request_id"] == REQUEST_ID
    assert error["request"]["method"] == "POST"
    assert error["request"]["url"].endswith("/report-card/")
    assert not {"data", "cookies", "query_string", "env"} & set(error["request"])
    assert "user" not in error or set(error["user"]) == {"id"}
    assert all("vars" not in frame for frame in exception["stacktrace"]["frames"])
    # The log error arrived too, with its safe fields only.
    [logged] = [e for e in received if e.get("logentry", {}).get("message") == "grade export failed"]
    assert logged["extra"].pop("request_id", REQUEST_ID) == REQUEST_ID
    logged["extra"].pop("task_id", None)
    assert logged["extra"] == {"clever_district_id": "district-77", "clever_status": 502}

    assert leaks(bodies) == []


def test_without_the_scrubbing_the_same_request_would_leak(receiver, dsn):
    """The probes catch what leaks: Sentry's defaults alone send the query string and body."""
    _, bodies = receiver
    sentry_sdk.init(dsn=dsn, integrations=[DjangoIntegration()])

    fail_a_request()
    sentry_sdk.flush(timeout=10)

    assert events(bodies) and CODE.lower() in leaks(bodies) and "quokka" in leaks(bodies)


def test_no_dsn_no_sentry(monkeypatch):
    monkeypatch.delenv("SENTRY_DSN", raising=False)
    assert observability.init_sentry(environ.Env(), "test") is False
    assert not sentry_sdk.get_client().is_active()


def test_the_scrubbers_keep_only_what_is_safe_of_what_integrations_add():
    """What the request above does not exercise: Celery task arguments, HTTP breadcrumbs and
    spans with query strings, subprocess arguments, a user's name, a secret-named tag."""
    event = {
        "extra": {"celery-job": {"task_name": "rostering.tasks.sync", "args": [CHILD], "kwargs": {}}},
        "user": {"id": 7, "username": "adalind-quokkafield", "email": EMAIL, "ip_address": "10.0.0.1"},
        "tags": {"celery_task_id": "t-1", "oauth_state": CODE},
        "breadcrumbs": {
            "values": [
                {
                    "category": "httplib",
                    "data": {
                        "url": f"https://clever.com/oauth/tokens?code={CODE}",
                        "http.method": "POST",
                        "http.query": f"code={CODE}",
                        "status_code": 200,
                    },
                },
                {"category": "subprocess", "message": f"pg_dump --password={TOKEN}", "data": {}},
            ]
        },
        "spans": [
            {
                "op": "http.client",
                "description": f"GET https://api.clever.com/v3.0/users?name={CHILD}",
                "data": {"url": "https://api.clever.com/v3.0/users", "http.query": f"name={CHILD}"},
            }
        ],
        "threads": {"values": [{"stacktrace": {"frames": [{"function": "f", "vars": {"child": CHILD}}]}}]},
    }
    scrubbed = observability.scrub_event(event, {})

    assert scrubbed["extra"] == {"celery-job": {"task_name": "rostering.tasks.sync"}}
    assert scrubbed["user"] == {"id": 7}
    assert scrubbed["tags"] == {"celery_task_id": "t-1"}
    http, command = scrubbed["breadcrumbs"]["values"]
    assert http["data"] == {
        "url": "https://clever.com/oauth/tokens",
        "http.method": "POST",
        "status_code": 200,
    }
    assert command["message"] == "pg_dump"
    assert scrubbed["spans"][0]["description"] == "GET https://api.clever.com/v3.0/users"
    assert scrubbed["spans"][0]["data"] == {"url": "https://api.clever.com/v3.0/users"}
    assert leaks([json.dumps(scrubbed).encode()]) == []


def test_a_traces_sample_rate_outside_0_to_1_is_refused(monkeypatch):
    monkeypatch.setenv("SENTRY_DSN", "http://publickey@127.0.0.1:9/1")
    monkeypatch.setenv("SENTRY_TRACES_SAMPLE_RATE", "2")
    with pytest.raises(ImproperlyConfigured, match="SENTRY_TRACES_SAMPLE_RATE"):
        observability.init_sentry(environ.Env(), "test")
    assert not sentry_sdk.get_client().is_active()
