import os
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path
from urllib.parse import quote

import pytest
from django.db import connection, connections
from django.utils import timezone

from config.celery import app as celery_app
from sandbox import services
from sandbox.models import RecordType
from tests.conftest import VIEWPORT
from tests.sso.conftest import CALLBACK_PATH

ROOT = Path(__file__).resolve().parents[2]
# The width people's screens have at the least: no page may be wider.
WIDTH = VIEWPORT["width"]
SCREENSHOTS = ROOT / "artifacts" / "screenshots"  # git-ignored


def _test_database_url() -> str:
    """The URL of the database this test runs in, for processes the test starts."""
    s = connection.settings_dict
    auth = f"{quote(s['USER'])}:{quote(s['PASSWORD'] or '')}@" if s["USER"] else ""
    return f"postgres://{auth}{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"


@pytest.fixture
def worker_env() -> dict[str, str]:
    """Extra environment for the Celery processes a test starts (a test module overrides it:
    read when each process starts)."""
    return {}


@pytest.fixture
def start_celery(postgres, redis_url, transactional_db, worker_env, tmp_path):
    """``start_celery(kind="worker"|"beat", name=...)``: a real Celery process on Redis,
    reading and writing this test's database; every one still running is stopped at the end.
    A worker is returned once it answers a ping; its database sessions are named after it
    (``application_name``), so a test can find and end them."""
    env = {**os.environ, "DATABASE_URL": _test_database_url(), "REDIS_URL": redis_url, **worker_env}
    started: list[subprocess.Popen] = []
    celery_app.conf.task_always_eager = False

    def start(kind: str = "worker", name: str = "worker") -> subprocess.Popen:
        if kind == "worker":
            command = [
                "worker",
                "--pool=solo",
                "--concurrency=1",
                "--without-gossip",
                "--without-mingle",
                f"--hostname={name}@%h",
            ]
        else:
            command = ["beat", f"--schedule={tmp_path / 'beat-schedule'}"]
        process = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "config", *command, "--loglevel=INFO"],
            cwd=ROOT,
            env={**env, "PGAPPNAME": name},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        started.append(process)
        if kind == "worker":
            _wait_for_ping(process, name)
        return process

    try:
        yield start
    finally:
        celery_app.conf.task_always_eager = True
        for process in started:
            stop_process(process)
            process.stdout.close()


def stop_process(process: subprocess.Popen) -> None:
    """Ask a process to stop; kill it if it has not within 20 s."""
    if process.poll() is None:
        process.terminate()
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def _wait_for_ping(process: subprocess.Popen, name: str) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        replies = celery_app.control.ping(timeout=1.0)
        if any(name in host for reply in replies for host in reply):
            return
        if process.poll() is not None:
            pytest.fail(f"Celery worker exited: {process.stdout.read()}")
    pytest.fail(f"Celery worker {name} did not answer a ping within 60 s")


@pytest.fixture
def celery_worker(start_celery):
    """A real Celery worker process on Redis, reading and writing this test's database."""
    return start_celery()


@pytest.fixture
def expired_event(transactional_db):
    """A sandbox district whose school was created 31 days ago (an event the nightly purge
    deletes) and renamed now (one it keeps)."""
    district = services.create_district(name="Expired Events District")
    now = timezone.now()
    old = services.put_record(
        district=district,
        record_type=RecordType.SCHOOLS,
        data={"name": "Old School"},
        now=now - timedelta(days=31),
    )
    services.update_record(clever_id=old["id"], changes={"name": "Renamed"}, now=now)
    return district


@pytest.fixture
def clever_on_live_server(transactional_db, live_server, settings) -> str:
    """The app talks to the sandbox it serves over real HTTP, and the sandbox sends browsers
    back to the app's callback on the live server; returns the server's base URL."""
    base = live_server.url
    settings.CLEVER_REDIRECT_URI = f"{base}{CALLBACK_PATH}"
    settings.CLEVER_OAUTH_BASE = settings.CLEVER_API_BASE = f"{base}/sandbox"
    services.set_redirect_uris(uris=[settings.CLEVER_REDIRECT_URI])
    return base


@pytest.fixture
def browser_page(chromium_browser):
    """A page, not signed in, in Debian's Chromium (``chromium_browser`` in tests/conftest.py
    launches it and closes it, before the live server stops), at Playwright's default size."""
    page = chromium_browser.new_context().new_page()
    page.set_default_timeout(20_000)
    return page


@pytest.fixture
def page(browser_page):
    """The browser page at 1280x800. The database connections the test body opens while
    Playwright runs (its greenlet has its own context, so Django gives it its own connection)
    are closed at the end, or PostgreSQL could not drop the test database."""
    browser_page.set_viewport_size(VIEWPORT)
    yield browser_page
    connections.close_all()


class Screenshots:
    """Numbered full-page screenshots of one journey in ``artifacts/screenshots/<folder>/``
    (``prefix`` tells apart journeys that share a folder), each taken after checking that the
    page is no wider than the window. The journey's earlier screenshots are removed first."""

    def __init__(self, folder: str, *, prefix: str = ""):
        self.folder = SCREENSHOTS / folder
        self.prefix = f"{prefix}-" if prefix else ""
        self.n = 0
        self.folder.mkdir(parents=True, exist_ok=True)
        for old in self.folder.glob(f"{self.prefix}*.png"):
            old.unlink()

    def __call__(self, page, name: str) -> None:
        self.n += 1
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= WIDTH, f"{page.url} is {width} px wide"
        page.screenshot(path=str(self.folder / f"{self.prefix}{self.n:02d}-{name}.png"), full_page=True)
