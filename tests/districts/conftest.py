"""Fixtures for the districts tests: sandbox districts and a Clever client that never sleeps.

The app's CleverClient reaches the local Clever in-process (``settings.CLEVER_HTTP_ADAPTER``),
so discovery, token look-ups and token checks run the real flows against sandbox districts.
"""

import random

import pytest

from districts import services
from districts.models import District
from sandbox import services as sandbox


@pytest.fixture
def make_client(fake_clock, make_clever_client):
    """``make_client(**overrides)``: the app's client on the fake clock (backoff never sleeps)."""

    def build(**overrides):
        options = {"clock": fake_clock, "sleep": fake_clock.sleep, "rng": random.Random(3), "max_retries": 1}
        options.update(overrides)
        return make_clever_client(**options)

    return build


@pytest.fixture
def clever(make_client):
    return make_client()


@pytest.fixture
def make_sandbox_district(sandbox_app):
    def build(name="Springfield Unified", **options):
        return sandbox.create_district(name=name, **options)

    return build


@pytest.fixture
def pair(make_sandbox_district, clever):
    """A sandbox district and the District row discovery made for it."""
    remote = make_sandbox_district("Springfield Unified")
    services.discover_districts(client=clever)
    return remote, District.objects.get(clever_id=remote.id)


@pytest.fixture
def row_pair(make_sandbox_district):
    """A sandbox district and a District row made for it directly (as discovery would have
    made it, without asking Clever)."""
    remote = make_sandbox_district("Springfield Unified")
    return remote, District.objects.create(clever_id=remote.id, name=remote.name)


def live_token(sandbox_district) -> str:
    return sandbox.district_token(sandbox_district).access_token
