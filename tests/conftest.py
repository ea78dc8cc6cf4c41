"""Shared fixtures.

Services: a test that needs PostgreSQL, Redis or Chromium calls ``require_service``; locally it
skips with the reason when the service is missing, under ``CI=true`` it fails the run instead.

Every test starts and ends with an empty cache (autouse); passwords are hashed with MD5
(``config/settings_test.py``, pytest's settings module);
``support_user``/``support`` are a member of the Support group (no organization) and a browser
signed in as them (``support.user``); ``staff_user`` is staff who act (decide holds, link,
disconnect) without being signed in anywhere; ``sync(district)`` syncs a district through the
Celery task; ``chromium_browser`` is Debian's Chromium driven by Playwright and
``signed_in_page(user)`` a 1280x800 page of it signed in to the live server as ``user``;
``make_clever_client`` makes the app's Clever clients and closes them at the end (each folder's
``make_client`` gives it its defaults: a fake clock, seeded jitter).
"""

import os
import shutil

import pytest
from django.conf import settings
from django.contrib.auth.models import Group
from django.core.cache import cache
from django.db import connection, connections
from django.test import Client

from accounts.factories import UserFactory
from accounts.models import User
from clever.client import CleverClient
from core.admin import SUPPORT_GROUP
from districts.models import District
from rostering import tasks as rostering_tasks
from rostering.models import SyncRun
from sandbox import services as sandbox_services
from sandbox.knobs import KNOBS

IN_CI = os.environ.get("CI", "").lower() == "true"
# Debian's Chromium in a container, quiet: no sandbox, GPU, QUIC or background traffic.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# The width people's screens have at the least, and the height the layout tests use.
VIEWPORT = {"width": 1280, "height": 800}


def require_service(name: str, available: bool, how: str) -> None:
    if available:
        return
    message = f"{name} is not available ({how})"
    if IN_CI:
        pytest.fail(f"CI=true but {message}: the CI run must provide it", pytrace=False)
    pytest.skip(message)


@pytest.fixture
def postgres(db):
    require_service(
        "PostgreSQL", connection.vendor == "postgresql", "set DATABASE_URL to a PostgreSQL database"
    )


@pytest.fixture
def redis_url():
    url = settings.REDIS_URL
    require_service("Redis", bool(url), "set REDIS_URL")
    return url


@pytest.fixture
def chromium_path():
    path = os.environ.get("CHROMIUM_PATH") or shutil.which("chromium") or shutil.which("chromium-browser")
    require_service("Chromium", bool(path), "apt-get install chromium, or set CHROMIUM_PATH")
    return path


@pytest.fixture
def chromium_browser(chromium_path, live_server, monkeypatch):
    """Debian's Chromium driven by Playwright (no browser download needed), closed at the end.

    Depends on ``live_server`` so the browser closes (and drops its keep-alive connections,
    and with them the server threads' database sessions) before the server stops.
    """
    from playwright.sync_api import sync_playwright

    # Playwright's sync API runs an event loop in this thread; the ORM calls the test makes
    # around it are still synchronous.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()
            # While Playwright's event loop runs in this thread, asgiref keeps Django's
            # connections per context: the ones the test opened here are unreachable once the
            # loop stops, and would stay open, idle, until the process exits (then the test
            # database cannot be dropped). Close them while they are still reachable.
            connections.close_all()


@pytest.fixture
def signed_in_page(chromium_browser, live_server):
    """``signed_in_page(user)``: a new 1280x800 browser page whose session cookie signs it in
    to the live server as ``user`` (signed in by a Django test client, no password needed)."""

    def open_page(user):
        client = Client()
        client.force_login(user)
        session = client.cookies[settings.SESSION_COOKIE_NAME].value
        context = chromium_browser.new_context(viewport=VIEWPORT)
        context.add_cookies(
            [{"name": settings.SESSION_COOKIE_NAME, "value": session, "url": live_server.url}]
        )
        page = context.new_page()
        page.set_default_timeout(20_000)
        return page

    return open_page


@pytest.fixture(autouse=True, scope="session")
def eager_celery():
    """Tasks run in-process unless a test starts a real worker (tests/e2e ``celery_worker``)."""
    from django.conf import settings

    from config.celery import app

    app.conf.task_always_eager = True
    app.conf.task_eager_propagates = True
    # In the calling thread even when the environment asks otherwise (config/celery.py).
    settings.EAGER_TASKS_IN_BACKGROUND = False


@pytest.fixture(autouse=True)
def sandbox_knobs():
    """Every test starts with the sandbox's default rate limit, no faults and the real clock."""
    KNOBS.reset()
    yield KNOBS
    KNOBS.reset()


@pytest.fixture
def sandbox_app(db):
    return sandbox_services.get_application()


# District tokens are cached by Clever district ID (generated districts reuse IDs) and allauth
# counts failed sign-ins in the cache: every test starts and ends with an empty one.
@pytest.fixture(autouse=True)
def fresh_token_cache():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def support_user(db):
    """Support staff: a member of the Support group, of no organization."""
    user = UserFactory(username="helpdesk", is_staff=True, organization=None)
    user.groups.add(Group.objects.get(name=SUPPORT_GROUP))
    return user


@pytest.fixture
def support(support_user):
    """A browser logged in as support staff (a fresh Django test client; ``.user`` is the
    person)."""
    browser = Client()
    browser.force_login(support_user)
    browser.user = support_user
    return browser


@pytest.fixture
def staff_user(db):
    """Staff who act (decide holds, link and disconnect districts), not signed in anywhere."""
    return User.objects.create_user(username="support", is_staff=True)


def sync(district: District, kind: str = "full") -> SyncRun:
    """Sync ``district`` through the Celery task (run eagerly), as support's button does;
    returns the run."""
    result = rostering_tasks.sync_district.delay(district_id=district.pk, kind=kind, trigger="manual").get()
    return SyncRun.objects.get(pk=result["run"])


@pytest.fixture
def make_clever_client():
    """``make_clever_client(token=None, **options)``: the app's CleverClient, closed when the
    test ends."""
    clients = []

    def build(token=None, **options):
        client = CleverClient(token, **options)
        clients.append(client)
        return client

    yield build
    for client in clients:
        client.close()


class FakeClock:
    """A clock tests move by hand; ``sleep`` advances it instead of waiting."""

    def __init__(self, start: float = 1_700_000_000.0):
        self.now = start
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


@pytest.fixture
def fake_clock():
    clock = FakeClock()
    KNOBS.clock = clock
    KNOBS.sleep = clock.sleep
    return clock
