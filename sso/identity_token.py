"""Clever's identity tokens (OpenID Connect), checked before anyone is signed in.

An app set up for OIDC with Clever gets an ``id_token`` beside the access token of a code
exchange: a JWT signed by Clever. It is accepted only when every check holds
(:func:`verify`); otherwise :class:`IdentityTokenRefused` names the check that failed
(``models.IdentityTokenProblem``), the callback signs nobody in and records why:

- the header's ``alg`` is one we expect (``ALGORITHMS``: asymmetric only, so ``none`` and an
  HMAC "signed" with the public key never get as far as a key);
- its ``kid`` is one of Clever's published keys (``CLEVER_JWKS_URL``, cached
  ``SSO_JWKS_CACHE_SECONDS``; a ``kid`` not in the cache fetches the set again, once, which is
  how a key Clever rotated in is learnt);
- the signature verifies with that key (PyJWT);
- ``iss`` is Clever, ``aud`` our client ID, ``exp`` not past and ``iat`` not in the future
  (``SSO_ID_TOKEN_LEEWAY_SECONDS`` of clock skew), ``sub`` present;
- ``nonce`` is the one this browser's login sent, and no token used it before (the login's
  state is single-use already; the nonce is remembered in the cache until the token expires);
- ``sub`` is the user ``/me`` returned for the access token.

Clever Library logins get no identity token (Clever does not support one there); for an app set
up for OIDC (``CLEVER_ID_TOKEN_REQUIRED``) they are checked against ``/userinfo`` instead
(:func:`check_userinfo`). Apps not set up for OIDC get no token and sign in as before.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Mapping
from typing import Any

import jwt
from django.conf import settings
from django.core.cache import cache
from django.utils.crypto import constant_time_compare
from requests import RequestException

from clever.client import CleverClient
from clever.errors import CleverError
from core.errors import AppError

from .models import IdentityTokenProblem

ISSUER = "https://clever.com"  # Clever's docs: "iss" is always this
ALGORITHMS = ("RS256",)
KEYS_CACHE_KEY = "sso.clever-signing-keys"
NONCE_CACHE_PREFIX = "sso.used-nonce."

# PyJWT's errors, most specific first (several derive from InvalidTokenError).
_PYJWT_PROBLEMS: tuple[tuple[type[Exception], str], ...] = (
    (jwt.ExpiredSignatureError, IdentityTokenProblem.EXPIRED),
    (jwt.ImmatureSignatureError, IdentityTokenProblem.NOT_YET_VALID),
    (jwt.InvalidIssuerError, IdentityTokenProblem.ISSUER),
    (jwt.InvalidAudienceError, IdentityTokenProblem.AUDIENCE),
    (jwt.MissingRequiredClaimError, IdentityTokenProblem.MISSING_CLAIM),
    (jwt.InvalidSignatureError, IdentityTokenProblem.BAD_SIGNATURE),
    (jwt.InvalidAlgorithmError, IdentityTokenProblem.ALGORITHM),
)


class IdentityTokenRefused(AppError):
    """An identity token (or ``/userinfo``) that signs nobody in; ``problem`` says which check."""

    problem: str


def verify(token: str, *, client_id: str, subject: str, nonce: str | None) -> dict[str, Any]:
    """The claims of ``token`` once every check holds (module docstring), else
    :class:`IdentityTokenRefused`. ``nonce``: the one the login sent (None: it sent none)."""
    header = _header(token)
    key = _signing_key(header)
    claims = _decode(token, key=key, algorithm=header["alg"], client_id=client_id)
    _check_nonce(claims, expected=nonce)
    if claims.get("sub") != subject:
        raise IdentityTokenRefused(
            "the token's sub is not the user /me names", problem=IdentityTokenProblem.SUBJECT_MISMATCH
        )
    return claims


def check_userinfo(userinfo: Mapping[str, Any], *, subject: str) -> None:
    """A Library sign-in of an app set up for OIDC: ``/userinfo`` must name the ``/me`` user."""
    if userinfo.get("sub") != subject:
        raise IdentityTokenRefused(
            "/userinfo names another user than /me", problem=IdentityTokenProblem.SUBJECT_MISMATCH
        )


def missing() -> IdentityTokenRefused:
    """The refusal for a district sign-in without a token, where one is required."""
    return IdentityTokenRefused(
        "no identity token came with the sign-in", problem=IdentityTokenProblem.MISSING
    )


# --- the checks ---------------------------------------------------------------------------------


def _header(token: str) -> dict[str, Any]:
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError as exc:  # DecodeError, and InvalidTokenError for a bad kid or crit
        raise IdentityTokenRefused(
            "the identity token is not a readable JWT", problem=IdentityTokenProblem.MALFORMED
        ) from exc
    if header.get("alg") not in ALGORITHMS:
        raise IdentityTokenRefused(
            f"the identity token's algorithm {str(header.get('alg'))[:16]!r} is not accepted",
            problem=IdentityTokenProblem.ALGORITHM,
        )
    return header


def _signing_key(header: Mapping[str, Any]) -> Any:
    """The published key the header names (the key set fetched again once if it is not known)."""
    kid = header.get("kid")
    if not isinstance(kid, str) or not kid:
        raise IdentityTokenRefused(
            "the identity token names no key", problem=IdentityTokenProblem.UNKNOWN_KEY
        )
    jwk = _published_keys(refresh=False).get(kid) or _published_keys(refresh=True).get(kid)
    if jwk is None:
        raise IdentityTokenRefused(
            "the identity token's key is not published by Clever", problem=IdentityTokenProblem.UNKNOWN_KEY
        )
    try:
        return jwt.PyJWK(jwk, algorithm=header["alg"]).key
    except (jwt.PyJWKError, jwt.InvalidKeyError) as exc:
        # A published entry that is not a usable key of the token's algorithm (e.g. an EC key
        # named by an RS256 token): the token cannot have been signed with it.
        raise IdentityTokenRefused(
            "the published key does not fit the token", problem=IdentityTokenProblem.UNKNOWN_KEY
        ) from exc


def _published_keys(*, refresh: bool) -> dict[str, dict]:
    """Clever's signing keys by ``kid``, from the cache unless ``refresh``."""
    if not refresh:
        cached = cache.get(KEYS_CACHE_KEY)
        if isinstance(cached, dict):
            return cached
    try:
        with CleverClient(max_retries=settings.SSO_CLEVER_MAX_RETRIES) as clever:
            key_set = clever.json_web_keys(jwks_url())
    except (CleverError, RequestException) as exc:
        raise IdentityTokenRefused(
            f"Clever's signing keys could not be fetched: {type(exc).__name__}",
            problem=IdentityTokenProblem.KEYS_UNAVAILABLE,
        ) from exc
    keys = {
        jwk["kid"]: jwk
        for jwk in key_set["keys"]
        if isinstance(jwk, dict) and isinstance(jwk.get("kid"), str) and jwk.get("use", "sig") == "sig"
    }
    cache.set(KEYS_CACHE_KEY, keys, settings.SSO_JWKS_CACHE_SECONDS)
    return keys


def jwks_url() -> str:
    """Where Clever publishes its signing keys: ``CLEVER_JWKS_URL``, by default next to the
    OAuth endpoints."""
    return settings.CLEVER_JWKS_URL or f"{settings.CLEVER_OAUTH_BASE.rstrip('/')}/oauth/certs"


def _decode(token: str, *, key: Any, algorithm: str, client_id: str) -> dict[str, Any]:
    try:
        return jwt.decode(
            token,
            key=key,
            algorithms=[algorithm],
            audience=client_id,
            issuer=ISSUER,
            leeway=settings.SSO_ID_TOKEN_LEEWAY_SECONDS,
            options={"require": ["iss", "aud", "sub", "exp", "iat"]},
        )
    except jwt.InvalidTokenError as exc:
        problem = next(
            (found for error, found in _PYJWT_PROBLEMS if isinstance(exc, error)),
            IdentityTokenProblem.MALFORMED,
        )
        raise IdentityTokenRefused(f"the identity token failed a check: {exc}", problem=problem) from exc


def _check_nonce(claims: Mapping[str, Any], *, expected: str | None) -> None:
    if expected is None:
        return
    given = claims.get("nonce")
    if not isinstance(given, str) or not constant_time_compare(given, expected):
        raise IdentityTokenRefused(
            "the token's nonce is not this login's", problem=IdentityTokenProblem.NONCE_MISMATCH
        )
    # Remembered until the token could no longer pass the exp check anyway.
    lifetime = max(int(claims["exp"]) - int(time.time()), 0) + settings.SSO_ID_TOKEN_LEEWAY_SECONDS + 1
    digest = hashlib.sha256(given.encode()).hexdigest()
    if not cache.add(NONCE_CACHE_PREFIX + digest, 1, timeout=lifetime):
        raise IdentityTokenRefused(
            "the token's nonce was used before", problem=IdentityTokenProblem.NONCE_REPLAYED
        )
