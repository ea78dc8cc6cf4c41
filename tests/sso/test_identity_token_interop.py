"""An independent check of identity-token validation: tokens minted by a second JOSE library
(joserfc, not PyJWT, which the app and the local Clever use) must get the same verdict from the
app's validator as from joserfc's own, and the local Clever's tokens from a real code exchange
must verify with joserfc against the published key set."""

from __future__ import annotations

import time
import warnings

import pytest
from django.conf import settings
from joserfc import jwt as jose_jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet, RSAKey

from clever.client import CleverClient
from sandbox import selectors as sandbox_selectors
from sandbox import services as sandbox
from sso.identity_token import ISSUER, IdentityTokenRefused, jwks_url, verify

from .signing import published_signing_key

pytestmark = pytest.mark.django_db

SUBJECT = "5f0c0a1b2c3d4e5f60718293"


def claims(login_nonce: str, **changes) -> dict:
    now = int(time.time())
    base = {"iss": ISSUER, "aud": settings.CLEVER_CLIENT_ID, "sub": SUBJECT, "iat": now, "exp": now + 3600}
    base.update(nonce=login_nonce)
    base.update(changes)
    return {name: value for name, value in base.items() if value is not None}


def key_set() -> dict:
    with CleverClient() as clever:
        return clever.json_web_keys(jwks_url())


def joserfc_accepts(token: str, *, nonce: str) -> bool:
    """joserfc's verdict with the same rules: RS256, the published keys, iss/aud/sub/nonce
    values, exp and iat required, the same leeway."""
    try:
        decoded = jose_jwt.decode(token, KeySet.import_key_set(key_set()), algorithms=["RS256"])
        jose_jwt.JWTClaimsRegistry(
            leeway=settings.SSO_ID_TOKEN_LEEWAY_SECONDS,
            iss={"essential": True, "value": ISSUER},
            aud={"essential": True, "value": settings.CLEVER_CLIENT_ID},
            sub={"essential": True, "value": SUBJECT},
            nonce={"essential": True, "value": nonce},
            exp={"essential": True},
            iat={"essential": True},
        ).validate(decoded.claims)
    except (JoseError, ValueError):
        return False
    return True


def app_accepts(token: str, *, nonce: str) -> bool:
    try:
        verify(token, client_id=settings.CLEVER_CLIENT_ID, subject=SUBJECT, nonce=nonce)
    except IdentityTokenRefused:
        return False
    return True


def variants() -> dict[str, tuple[str, str]]:
    """Tokens minted by joserfc: name -> (token, the nonce the login sent)."""
    published = published_signing_key()
    clever_key = RSAKey.import_key(published.pem, parameters={"kid": published.kid})
    stranger = RSAKey.generate_key(2048, parameters={"kid": "not-published"})
    impostor = RSAKey.generate_key(2048, parameters={"kid": published.kid})
    now = int(time.time())

    def signed(name: str, key=clever_key, alg: str = "RS256", **changes) -> tuple[str, str]:
        nonce = f"nonce-{name}"
        header = {"alg": alg, "kid": key.kid if key is not None else published.kid}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # joserfc warns when asked for "none"
            token = jose_jwt.encode(header, claims(nonce, **changes), key, algorithms=[alg])
        return token, nonce

    return {
        "sound": signed("sound"),
        "wrong issuer": signed("iss", iss="https://clever.example.org"),
        "wrong audience": signed("aud", aud="someone-else"),
        "expired": signed("exp", iat=now - 7200, exp=now - 600),
        "issued in the future": signed("iat", iat=now + 600, exp=now + 4200),
        "another subject": signed("sub", sub="5f0c0a1b2c3d4e5f60718294"),
        "no exp": signed("noexp", exp=None),
        "no nonce": signed("nononce", nonce=None),
        "another key under Clever's kid": signed("impostor", key=impostor),
        "an unpublished key": signed("stranger", key=stranger),
        "alg none": signed("none", key=None, alg="none"),
    }


def test_the_app_and_joserfc_agree_on_every_token_joserfc_mints():
    verdicts = {
        name: (app_accepts(token, nonce=nonce), joserfc_accepts(token, nonce=nonce))
        for name, (token, nonce) in variants().items()
    }
    disagreements = {name: pair for name, pair in verdicts.items() if pair[0] != pair[1]}
    assert disagreements == {}
    assert [name for name, (ours, _) in verdicts.items() if ours] == ["sound"]


def test_the_local_clevers_tokens_verify_with_joserfc(world):
    """A real exchange: the local Clever mints with PyJWT; joserfc verifies with the key set."""
    code = sandbox.issue_auth_code(
        application=sandbox.get_application(),
        user=sandbox_selectors.get_user(world.teacher["id"]),
        redirect_uri=settings.CLEVER_REDIRECT_URI,
    ).code
    with CleverClient() as clever:
        token = clever.exchange_code(code)
    assert token.id_token
    decoded = jose_jwt.decode(token.id_token, KeySet.import_key_set(key_set()), algorithms=["RS256"])
    jose_jwt.JWTClaimsRegistry(
        iss={"essential": True, "value": ISSUER},
        aud={"essential": True, "value": settings.CLEVER_CLIENT_ID},
        sub={"essential": True, "value": world.teacher["id"]},
    ).validate(decoded.claims)
    ours = verify(
        token.id_token, client_id=settings.CLEVER_CLIENT_ID, subject=world.teacher["id"], nonce=None
    )
    assert ours == decoded.claims
