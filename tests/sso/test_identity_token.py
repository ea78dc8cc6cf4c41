"""Clever's identity tokens: each check refuses on its own, and a rotated key is learnt with
one fetch of the key set (sso/identity_token.py).

The keys are the local Clever's (its ``/oauth/certs``, reached through the app's Clever client);
tokens are minted here with PyJWT so each case breaks exactly one thing. The other library's
view of the same tokens is tests/sso/test_identity_token_interop.py.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from django.conf import settings
from django.core.signals import request_started

from sso.identity_token import ISSUER, IdentityTokenRefused, verify
from sso.models import IdentityTokenProblem as Problem
from tests.sso.signing import published_signing_key, rotate_clever_key

SUBJECT = "5f0c0a1b2c3d4e5f60718293"
NONCE = "nonce-sent-with-this-login"


def claims(**changes) -> dict:
    now = int(time.time())
    base = {
        "iss": ISSUER,
        "aud": settings.CLEVER_CLIENT_ID,
        "sub": SUBJECT,
        "multi_role_user_id": SUBJECT,
        "user_type": "teacher",
        "district": "5a0c91b95c7cc000010d417c",
        "iat": now,
        "exp": now + 3600,
        "nonce": NONCE,
    }
    base.update(changes)
    return {name: value for name, value in base.items() if value is not None}


def mint(payload: dict, *, key=None, kid: str | None = None, algorithm: str = "RS256") -> str:
    signing = published_signing_key() if key is None else None
    return jwt.encode(
        payload,
        key if key is not None else signing.private_key,
        algorithm=algorithm,
        headers={"kid": kid if kid is not None else signing.kid},
    )


def refusal(token: str, *, nonce: str | None = NONCE, subject: str = SUBJECT) -> str:
    with pytest.raises(IdentityTokenRefused) as refused:
        verify(token, client_id=settings.CLEVER_CLIENT_ID, subject=subject, nonce=nonce)
    return refused.value.problem


@pytest.fixture
def key_set_fetches():
    """How many times the key set is fetched from the local Clever during the test."""
    fetches = []

    def count(sender, environ=None, **kwargs):
        if environ and environ.get("PATH_INFO", "").endswith("/oauth/certs"):
            fetches.append(environ["PATH_INFO"])

    request_started.connect(count)
    yield fetches
    request_started.disconnect(count)


def other_rsa_key():
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


pytestmark = pytest.mark.django_db


def test_a_token_that_passes_every_check_gives_its_claims(key_set_fetches):
    token = mint(claims())
    before = len(key_set_fetches)
    verified = verify(token, client_id=settings.CLEVER_CLIENT_ID, subject=SUBJECT, nonce=NONCE)
    assert (verified["sub"], verified["user_type"], verified["nonce"]) == (SUBJECT, "teacher", NONCE)
    assert len(key_set_fetches) == before + 1  # fetched once, then cached
    verify(
        mint(claims(nonce="another-login")),
        client_id=settings.CLEVER_CLIENT_ID,
        subject=SUBJECT,
        nonce="another-login",
    )
    assert len(key_set_fetches) == before + 1


def test_a_forged_signature_is_refused():
    token = mint(claims())
    header, payload, signature = token.split(".")
    raw = bytearray(base64.urlsafe_b64decode(signature + "=" * (-len(signature) % 4)))
    raw[10] ^= 0xFF
    forged = base64.urlsafe_b64encode(bytes(raw)).rstrip(b"=").decode()
    assert refusal(f"{header}.{payload}.{forged}") == Problem.BAD_SIGNATURE


def test_claims_changed_after_signing_are_refused():
    token = mint(claims())
    header, _, signature = token.split(".")
    other = jwt.encode(claims(sub="5f0c0a1b2c3d4e5f60718299"), "x" * 32, algorithm="HS256").split(".")[1]
    assert (
        refusal(f"{header}.{other}.{signature}", subject="5f0c0a1b2c3d4e5f60718299") == Problem.BAD_SIGNATURE
    )


def test_another_keys_signature_under_a_published_kid_is_refused():
    published = published_signing_key()
    assert refusal(mint(claims(), key=other_rsa_key(), kid=published.kid)) == Problem.BAD_SIGNATURE


def accept_one() -> None:
    """A good token goes through: the app has the key set cached afterwards."""
    verify(
        mint(claims(nonce="warm-up")), client_id=settings.CLEVER_CLIENT_ID, subject=SUBJECT, nonce="warm-up"
    )


def test_an_unknown_kid_is_refused_after_one_fetch_of_the_key_set(key_set_fetches):
    accept_one()
    before = len(key_set_fetches)
    assert refusal(mint(claims(), key=other_rsa_key(), kid="not-a-clever-key")) == Problem.UNKNOWN_KEY
    assert len(key_set_fetches) == before + 1


def test_a_token_without_a_kid_is_refused():
    token = jwt.encode(claims(), published_signing_key().private_key, algorithm="RS256")
    assert refusal(token) == Problem.UNKNOWN_KEY


def test_alg_none_is_refused():
    unsigned = jwt.encode(claims(), None, algorithm="none", headers={"kid": published_signing_key().kid})
    assert refusal(unsigned) == Problem.ALGORITHM


def test_hs256_signed_with_the_public_key_as_the_secret_is_refused():
    published = published_signing_key()
    public_pem = published.private_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    # PyJWT will not HMAC with a PEM key itself; the attacker's token is built by hand.
    header = jwt.utils.base64url_encode(
        json.dumps({"alg": "HS256", "kid": published.kid, "typ": "JWT"}).encode()
    )
    payload = jwt.utils.base64url_encode(json.dumps(claims()).encode())
    signing_input = header + b"." + payload
    signature = jwt.utils.base64url_encode(hmac.new(public_pem, signing_input, hashlib.sha256).digest())
    assert refusal((signing_input + b"." + signature).decode()) == Problem.ALGORITHM


def test_a_wrong_issuer_is_refused():
    assert refusal(mint(claims(iss="https://clever.example.com"))) == Problem.ISSUER


def test_a_wrong_audience_is_refused():
    assert refusal(mint(claims(aud="another-apps-client-id"))) == Problem.AUDIENCE


def test_an_expired_token_is_refused_beyond_the_leeway():
    now = int(time.time())
    leeway = settings.SSO_ID_TOKEN_LEEWAY_SECONDS
    assert refusal(mint(claims(iat=now - 7200, exp=now - leeway - 5))) == Problem.EXPIRED
    # Within the leeway a slightly slow clock does not refuse it.
    verify(
        mint(claims(iat=now - 3600, exp=now - leeway + 10)),
        client_id=settings.CLEVER_CLIENT_ID,
        subject=SUBJECT,
        nonce=NONCE,
    )


def test_a_token_issued_in_the_future_is_refused():
    now = int(time.time())
    assert refusal(mint(claims(iat=now + 600, exp=now + 4200))) == Problem.NOT_YET_VALID


def test_a_token_without_exp_is_refused():
    assert refusal(mint(claims(exp=None))) == Problem.MISSING_CLAIM


def test_another_logins_nonce_is_refused():
    assert refusal(mint(claims(nonce="someone-elses-login"))) == Problem.NONCE_MISMATCH
    assert refusal(mint(claims(nonce=None))) == Problem.NONCE_MISMATCH


def test_a_replayed_nonce_is_refused():
    token = mint(claims())
    verify(token, client_id=settings.CLEVER_CLIENT_ID, subject=SUBJECT, nonce=NONCE)
    assert refusal(token) == Problem.NONCE_REPLAYED
    # A fresh token carrying the same nonce is a replay too.
    assert refusal(mint(claims(iat=int(time.time()) + 1))) == Problem.NONCE_REPLAYED


def test_a_sub_that_is_not_the_me_user_is_refused():
    assert refusal(mint(claims()), subject="5f0c0a1b2c3d4e5f60718294") == Problem.SUBJECT_MISMATCH


def test_garbage_is_refused_as_malformed():
    assert refusal("not-a-jwt") == Problem.MALFORMED
    assert refusal("a.b.c") == Problem.MALFORMED


def test_a_token_signed_by_a_rotated_key_is_accepted_after_one_fetch(key_set_fetches):
    old = published_signing_key()
    accept_one()  # the app caches the key set with the old key only
    fetched = len(key_set_fetches)
    new = rotate_clever_key()
    assert new.kid != old.kid
    token = mint(claims(), key=new.private_key, kid=new.kid)
    verified = verify(token, client_id=settings.CLEVER_CLIENT_ID, subject=SUBJECT, nonce=NONCE)
    assert verified["sub"] == SUBJECT
    assert len(key_set_fetches) == fetched + 1
    # Now cached: the next token with the new key costs no fetch, and the old key still verifies.
    verify(
        mint(claims(nonce="n2"), key=new.private_key, kid=new.kid),
        client_id=settings.CLEVER_CLIENT_ID,
        subject=SUBJECT,
        nonce="n2",
    )
    verify(
        mint(claims(nonce="n3"), key=old.private_key, kid=old.kid),
        client_id=settings.CLEVER_CLIENT_ID,
        subject=SUBJECT,
        nonce="n3",
    )
    assert len(key_set_fetches) == fetched + 1


def test_keys_that_cannot_be_fetched_refuse_the_token(settings):
    settings.CLEVER_JWKS_URL = f"{settings.CLEVER_OAUTH_BASE}/oauth/no-such-key-set"
    token = jwt.encode(claims(), other_rsa_key(), algorithm="RS256", headers={"kid": "k1"})
    assert refusal(token) == Problem.KEYS_UNAVAILABLE


@pytest.mark.parametrize("header", [{"alg": "RS256", "kid": 7}, {"alg": "RS256", "crit": ["exp"]}])
def test_a_header_pyjwt_cannot_read_is_refused_as_malformed(header):
    # Built by hand: PyJWT will not mint these headers itself.
    signed = mint(claims()).split(".")
    forged_header = jwt.utils.base64url_encode(json.dumps(header).encode()).decode()
    assert refusal(f"{forged_header}.{signed[1]}.{signed[2]}") == Problem.MALFORMED
