"""Issue #12, district tokens in the shared cache: a token fetched from Clever is cached only
encrypted with the field-encryption keys (and bound to its district); a cached value that does
not decrypt to this district's token is a miss, never an error and never used as it is."""

import io
import json

import pytest
from cryptography.fernet import Fernet, InvalidToken
from django.core.cache import cache
from django.core.management import call_command
from django.test import override_settings

from clever.client import CleverClient
from districts import crypto, services
from districts.models import District
from sandbox import services as sandbox
from sandbox.generator.districts import generate_district, load_district
from sandbox.models import SandboxToken

pytestmark = pytest.mark.django_db

OLD_KEY = Fernet.generate_key().decode()
NEW_KEY = Fernet.generate_key().decode()
OTHER_DISTRICT = "f" * 24


@pytest.fixture
def remote(sandbox_app):
    return sandbox.create_district(name="Springfield Unified")


@pytest.fixture
def district(remote):
    return District.objects.create(clever_id=remote.id, name=remote.name)


def live_token(remote) -> str:
    return sandbox.district_token(remote).access_token


def lookup(district) -> tuple[str, int]:
    """The district's token and how many requests to Clever it took."""
    with CleverClient(max_retries=0) as client:
        return services.district_token(district, client=client), client.stats.requests


def cached(district):
    return cache.get(services._cache_key(district))


def test_the_cache_holds_the_token_encrypted_and_serves_it(remote, district):
    assert lookup(district) == (live_token(remote), 1)

    raw = cached(district)
    assert isinstance(raw, str) and live_token(remote) not in raw
    assert lookup(district) == (live_token(remote), 0)


def _tampered(district) -> str:
    sealed = crypto.encrypt(f"{district.clever_id}\nstale-token")
    middle = len(sealed) // 2
    return sealed[:middle] + ("A" if sealed[middle] != "A" else "B") + sealed[middle + 1 :]


@pytest.mark.parametrize(
    "stale",
    [
        pytest.param(lambda d: "stale-token", id="plain token left by the previous version"),
        pytest.param(_tampered, id="tampered"),
        pytest.param(
            lambda d: Fernet(Fernet.generate_key()).encrypt(f"{d.clever_id}\nstale-token".encode()).decode(),
            id="sealed with a key we do not hold",
        ),
        pytest.param(lambda d: crypto.encrypt(f"{OTHER_DISTRICT}\nstale-token"), id="another district's"),
        pytest.param(lambda d: crypto.encrypt("stale-token"), id="a field ciphertext copied in"),
        pytest.param(lambda d: b"stale-token", id="not text"),
    ],
)
def test_a_cached_value_that_is_not_this_districts_sealed_token_is_a_miss(remote, district, stale):
    value = stale(district)
    cache.set(services._cache_key(district), value)

    assert lookup(district) == (live_token(remote), 1)
    assert cached(district) != value
    assert lookup(district) == (live_token(remote), 0)  # replaced by a good one


def test_key_rotation_keeps_cached_tokens_working(remote, district):
    with override_settings(FIELD_ENCRYPTION_KEYS=[OLD_KEY]):
        assert lookup(district) == (live_token(remote), 1)
    # The new key in front, the old one still listed: the cached value is still good.
    with override_settings(FIELD_ENCRYPTION_KEYS=[NEW_KEY, OLD_KEY]):
        assert lookup(district) == (live_token(remote), 0)
    # The old key dropped: the cached value is a miss, fetched again and sealed with the new key.
    with override_settings(FIELD_ENCRYPTION_KEYS=[NEW_KEY]):
        assert lookup(district) == (live_token(remote), 1)
        assert lookup(district) == (live_token(remote), 0)
    assert Fernet(NEW_KEY.encode()).decrypt(cached(district).encode()).decode().endswith(live_token(remote))
    with pytest.raises(InvalidToken):
        Fernet(OLD_KEY.encode()).decrypt(cached(district).encode())


@override_settings(
    CACHES={
        "default": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "LOCATION": "security-token-scan",
        }
    }
)
def test_discovery_and_a_sync_leave_no_token_in_the_cache(sandbox_app):
    """Whatever discovery and a full sync put in the cache (keys and pickled values, looked at
    in the local-memory backend's own store), no district token is readable in it."""
    generated = load_district(generate_district(seed=5, students=30))
    call_command("clever_districts", "--json", stdout=io.StringIO())
    out = io.StringIO()
    call_command("clever_sync", generated.id, "--full", "--json", stdout=out)
    assert json.loads(out.getvalue())["runs"][0]["status"] == "succeeded"
    tokens = [token.encode() for token in SandboxToken.objects.values_list("access_token", flat=True)]

    store = cache._cache
    assert tokens and store  # the token was cached (sealed): the scan has something to look at
    for key, pickled in store.items():
        assert not any(token in key.encode() or token in pickled for token in tokens), key
    cache.clear()
