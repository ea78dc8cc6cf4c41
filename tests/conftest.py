"""Shared fixtures.

Services: a test that needs PostgreSQL, Redis or Chromium calls ``require_service``; locally it
skips with the reason when the service is missing, under ``CI=true`` it fails the run instead.

Every test starts and ends with an empty cache (autouse); passwords are hashed with MD5
(``config/settings_test.py``, pytest's settings module);
``support_user``/``support`` are a member of the Support group and a browser signed in as them;
``make_clever_client`` makes the app's Clever clients and closes them at the end (each folder's
``make_client`` gives it its defaults: a fake clock, seeded jitter).
"""

import os
import shutil

import pytest
from django.conf import settings
from django.contrib.auth.models import Group
from django.core.cache import cache
from django.db import connection
from django.test import Client

from accounts.factories import UserFactory
from clever.client import CleverClient
from core.admin import SUPPORT_GROUP
from sandbox import services as sandbox_services
from sandbox.knobs import KNOBS

IN_CI = os.environ.get("CI", "").lower() == "true"


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
    """Support staff: a member of the Support group."""
    user = UserFactory(username="helpdesk", is_staff=True)
    user.groups.add(Group.objects.get(name=SUPPORT_GROUP))
    return user


@pytest.fixture
def support(support_user):
    """A browser logged in as support staff (a fresh Django test client)."""
    browser = Client()
    browser.force_login(support_user)
    return browser


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
