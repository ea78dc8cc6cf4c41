"""Fixtures for operations: a local webhook receiver, support staff with an email, a generated
sandbox district that syncs for real (``tests.rostering.conftest``) and LMS Connect's ``world``
(``tests.lms.conftest``).

Alerts are sent by subscribers that run after the commit (``core.events``): a test runs the code
that publishes inside ``django_capture_on_commit_callbacks(execute=True)`` (the ``committed``
fixture) so they run as they would in production.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

from tests.lms.conftest import api, clock, lms_world, make_client, world  # noqa: F401  (fixtures)
from tests.rostering.conftest import connect, load_generated


@pytest.fixture
def webhook(settings, monkeypatch):
    """A Slack-like webhook on 127.0.0.1 (http.server on a thread): ``ALERT_WEBHOOK_URL`` points
    to it; the fixture is the list of JSON bodies it received."""
    received: list[dict] = []

    class Receiver(BaseHTTPRequestHandler):
        def do_POST(self):
            length = int(self.headers.get("Content-Length") or 0)
            received.append(
                {
                    "path": self.path,
                    "content_type": self.headers.get("Content-Type"),
                    "json": json.loads(self.rfile.read(length)),
                }
            )
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    settings.ALERT_WEBHOOK_URL = f"http://127.0.0.1:{server.server_port}/services/T000/B000/secret"
    yield received
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


@pytest.fixture
def committed(django_capture_on_commit_callbacks):
    """``with committed():`` runs the after-commit subscribers of what the block published."""
    return lambda: django_capture_on_commit_callbacks(execute=True)


@pytest.fixture
def alerting(settings, support_user):
    """Alerts by email to the Support group (``support_user``, helpdesk@example.org), at once."""
    settings.ALERT_EMAILS = []
    settings.ALERT_MODE = "immediate"
    settings.APP_BASE_URL = "https://bridge.example.org"
    return support_user


@pytest.fixture
def roster(db, sandbox_app):
    """A generated sandbox district of 40 students and our District for it: ``(sandbox, ours)``."""
    sandbox_district = load_generated(seed=18, students=40)
    return sandbox_district, connect(sandbox_district)
