"""The security suite drives the app as an attacker would, through the same Browser (real
redirects between the app and the sandbox) and sandbox districts as the sign-in tests."""

import pytest
from django.core.cache import cache

from tests.sso.conftest import (  # noqa: F401  (fixtures)
    browser,
    fast_password_hashing,
    library,
    login_with_clever,
    other_browser,
    portal_launch,
    world,
)


@pytest.fixture(autouse=True)
def fresh_cache():
    """Sign-in rate limits and district tokens live in the cache; generated districts reuse IDs."""
    cache.clear()
    yield
    cache.clear()
