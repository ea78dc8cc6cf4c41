"""The security suite drives the app as an attacker would, through the same Browser (real
redirects between the app and the sandbox) and sandbox districts as the sign-in tests (sign-in
rate limits and district tokens live in the cache, which tests/conftest.py empties around each
test)."""

from tests.sso.conftest import (  # noqa: F401  (fixtures)
    browser,
    library,
    login_with_clever,
    other_browser,
    portal_launch,
    world,
)
