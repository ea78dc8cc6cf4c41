import os
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import quote

import pytest
from django.db import connection, connections

from config.celery import app as celery_app

ROOT = Path(__file__).resolve().parents[2]
CALLBACK_PATH = "/accounts/clever/login/callback/"


def _test_database_url() -> str:
    """The URL of the database this test runs in, for processes the test starts."""
    s = connection.settings_dict
    auth = f"{quote(s['USER'])}:{quote(s['PASSWORD'] or '')}@" if s["USER"] else ""
    return f"postgres://{auth}{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"


@pytest.fixture
def celery_worker(postgres, redis_url, transactional_db):
    """A real Celery worker process on Redis, reading and writing this test's database."""
    env = {**os.environ, "DATABASE_URL": _test_database_url(), "REDIS_URL": redis_url}
    worker = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "config", "worker", "--pool=solo",
         "--concurrency=1", "--without-gossip", "--without-mingle", "--loglevel=INFO"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    celery_app.conf.task_always_eager = False
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            replies = celery_app.control.ping(timeout=1.0)
            if replies:
                break
            if worker.poll() is not None:
                pytest.fail(f"Celery worker exited: {worker.stdout.read()}")
        else:
            pytest.fail("Celery worker did not answer a ping within 60 s")
        yield worker
    finally:
        celery_app.conf.task_always_eager = True
        worker.terminate()
        try:
            worker.wait(timeout=20)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait()
        worker.stdout.close()


@pytest.fixture
def clever_on_live_server(transactional_db, live_server, settings) -> str:
    """The app talks to the sandbox it serves over real HTTP, and the sandbox sends browsers
    back to the app's callback on the live server; returns the server's base URL."""
    from sandbox import services

    base = live_server.url
    settings.CLEVER_REDIRECT_URI = f"{base}{CALLBACK_PATH}"
    settings.CLEVER_OAUTH_BASE = settings.CLEVER_API_BASE = f"{base}/sandbox"
    services.set_redirect_uris(uris=[settings.CLEVER_REDIRECT_URI])
    return base


@pytest.fixture
def browser_page(chromium_path, live_server):
    """A page in Debian's Chromium driven by Playwright (no browser download needed).

    Depends on ``live_server`` so the browser closes (and drops its keep-alive connections,
    and with them the server threads' database sessions) before the server stops.
    """
    from playwright.sync_api import sync_playwright

    # Playwright's sync API runs an event loop in this thread; the ORM calls the test makes
    # around it are still synchronous.
    os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=chromium_path,
            args=["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"],
        )
        try:
            page = browser.new_context().new_page()
            page.set_default_timeout(20_000)
            yield page
        finally:
            browser.close()
            # While Playwright's event loop runs in this thread, asgiref keeps Django's
            # connections per context: the ones the test opened here are unreachable once the
            # loop stops, and would stay open, idle, until the process exits (then the test
            # database cannot be dropped). Close them while they are still reachable.
            connections.close_all()
