"""Fixtures for the districts tests: sandbox districts and a Clever client that never sleeps.

The app's CleverClient reaches the local Clever in-process (``settings.CLEVER_HTTP_ADAPTER``),
so discovery, token look-ups and token checks run the real flows against sandbox districts.
"""

import random

import pytest
from django.core.cache import cache

from clever.client import CleverClient
from sandbox import services as sandbox


@pytest.fixture(autouse=True)
def empty_cache():
    """District tokens are cached by Clever ID: start and end every test with none."""
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def make_client(fake_clock):
    """``make_client(**overrides)``: the app's client on the fake clock (backoff never sleeps)."""
    clients = []

    def build(**overrides):
        options = {"clock": fake_clock, "sleep": fake_clock.sleep, "rng": random.Random(3),
                   "max_retries": 1}
        options.update(overrides)
        client = CleverClient(**options)
        clients.append(client)
        return client

    yield build
    for client in clients:
        client.close()


@pytest.fixture
def clever(make_client):
    return make_client()


@pytest.fixture
def make_sandbox_district(sandbox_app):
    def build(name="Springfield Unified", **options):
        return sandbox.create_district(name=name, **options)

    return build


def live_token(sandbox_district) -> str:
    return sandbox.district_token(sandbox_district).access_token


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    """Staff users come from UserFactory, which hashes a password: MD5 keeps that instant."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def staff(db):
    from accounts.factories import UserFactory

    return UserFactory(username="support", is_staff=True)
