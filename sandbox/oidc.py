"""Clever's OpenID Connect side in the local Clever: the JWKS, identity tokens and the
``/userinfo`` answer.

An identity token answers a code exchange (``POST /oauth/tokens``, as ``id_token``) when the
app is configured for OIDC (``SandboxApplication.oidc``) and the login is not a Clever Library
one (Clever: identity tokens are not supported for Library). Its claims are Clever's documented
names: ``iss`` is always ``https://clever.com`` (the sandbox imitates Clever), ``sub``,
``user_id`` and ``multi_role_user_id`` are the user's ID, ``aud`` the app's client ID, ``exp``
an hour after ``iat``, then ``user_type``, ``district``, ``email`` (when the user has one),
``email_verified`` (false), ``given_name``, ``family_name``, ``nonce`` (when the authorize
request sent one), and the LTI claims of the LMS launch the login came from
(``SandboxAuthCode.launch``). ``iat`` and ``exp`` follow the sandbox clock (``KNOBS.clock``), as
the codes' lifetime does.

Keys are RSA 2048 (``sandbox.keys``), tokens RS256 with the key's ``kid`` in the header. The
newest key not retired signs; every key not retired is published at ``/oauth/certs``
(``services.published_signing_keys``, ``services.rotate_signing_key``).

``KNOBS.identity_token_fault`` gives every token minted while it is set one defect:
``bad_signature`` (signature bytes altered), ``wrong_audience`` (another app's client ID),
``expired`` (``exp`` an hour ago), ``wrong_subject`` (``sub`` another user's ID),
``unpublished_key`` (signed by a key the JWKS does not publish, under its own ``kid``),
``wrong_issuer`` (not ``https://clever.com``).
"""

from __future__ import annotations

import base64
import json

import jwt

from . import keys, services
from .ids import new_id
from .knobs import KNOBS
from .models import (
    RecordType,
    SandboxAuthCode,
    SandboxEdge,
    SandboxRecord,
    SandboxSigningKey,
    SandboxToken,
    TokenKind,
)

ISSUER = "https://clever.com"
ALGORITHM = keys.ALGORITHM
IDENTITY_TOKEN_LIFETIME = 3600  # seconds
# A user's ``user_type`` is their first role in this order, in Clever's words.
USER_TYPES = (
    ("student", "student"),
    ("teacher", "teacher"),
    ("staff", "staff"),
    ("district_admin", "district admin"),
    ("contact", "contact"),
)
WRONG_AUDIENCE = "another-app-client-id"
WRONG_ISSUER = "https://clever.example.net"


def jwks() -> dict:
    """``GET /oauth/certs``: the public parts of the published keys."""
    return {
        "keys": [
            keys.public_jwk(row.kid, keys.private_key(row.kid, row.private_key_pem))
            for row in services.published_signing_keys()
        ]
    }


# --- claims -----------------------------------------------------------------------------------------


def user_type(roles: dict) -> str:
    return next((word for role, word in USER_TYPES if role in roles), "")


def _user_data(user_id: str) -> dict:
    body = (
        SandboxRecord.objects.filter(clever_id=user_id, record_type=RecordType.USERS)
        .values_list("body", flat=True)
        .first()
    )
    return json.loads(body) if body else {}


def _person_claims(user_id: str, district_id: str, data: dict) -> dict:
    """What the identity token and ``/userinfo`` both say about the person."""
    name = data.get("name") or {}
    claims = {
        "sub": user_id,
        "user_id": user_id,
        "multi_role_user_id": user_id,
        "user_type": user_type(data.get("roles") or {}),
        "district": district_id,
        "given_name": name.get("first") or "",
        "family_name": name.get("last") or "",
        "email_verified": False,
    }
    if data.get("email"):
        claims["email"] = data["email"]
    return claims


def userinfo(*, user_id: str, district_id: str, authorized_by: str) -> dict:
    """``GET /userinfo``'s flat answer for a user's token."""
    data = _user_data(user_id)
    name = data.get("name") or {}
    schools = SandboxEdge.objects.filter(src_id=user_id, rel="schools").order_by("id")
    return {
        **_person_claims(user_id, district_id, data),
        "district_id": district_id,
        "name": {key: name.get(key) or "" for key in ("first", "last", "middle")},
        "schools": list(schools.values_list("dst_id", flat=True)),
        "authorized_by": authorized_by,
    }


# --- minting ----------------------------------------------------------------------------------------


def identity_token(*, auth_code: SandboxAuthCode, token: SandboxToken) -> str | None:
    """The ``id_token`` of a code exchange, or None: the app is not configured for OIDC, or the
    login is a Clever Library one."""
    if not auth_code.application.oidc or token.kind == TokenKind.TEACHER:
        return None
    issued_at = int(KNOBS.clock())
    claims = {
        "iss": ISSUER,
        **_person_claims(auth_code.user_id, auth_code.district_id, _user_data(auth_code.user_id)),
        "aud": auth_code.application.client_id,
        "iat": issued_at,
        "exp": issued_at + IDENTITY_TOKEN_LIFETIME,
    }
    if auth_code.nonce:
        claims["nonce"] = auth_code.nonce
    claims.update(auth_code.launch)
    return _mint(claims, KNOBS.identity_token_fault)


def _mint(claims: dict, fault: str) -> str:
    claims = {**claims, **_claim_defect(fault, claims)}
    signing = services.published_signing_keys()[0]
    if fault == "unpublished_key":
        # After ``published_signing_keys``: the first key is made by then, so the stranger is
        # not it.
        kid, key = keys.unused_key(set(SandboxSigningKey.objects.values_list("kid", flat=True)))
    else:
        kid, key = signing.kid, keys.private_key(signing.kid, signing.private_key_pem)
    signed = jwt.encode(claims, key, algorithm=ALGORITHM, headers={"kid": kid, "typ": "JWT"})
    return _altered_signature(signed) if fault == "bad_signature" else signed


def _claim_defect(fault: str, claims: dict) -> dict:
    """The claims a fault replaces (none for a fault in the signature or the key)."""
    if fault == "wrong_audience":
        return {"aud": WRONG_AUDIENCE}
    if fault == "wrong_issuer":
        return {"iss": WRONG_ISSUER}
    if fault == "expired":
        return {
            "iat": claims["iat"] - 2 * IDENTITY_TOKEN_LIFETIME,
            "exp": claims["iat"] - IDENTITY_TOKEN_LIFETIME,
        }
    if fault == "wrong_subject":
        return {"sub": _another_user_id(claims["sub"], claims["district"])}
    return {}


def _another_user_id(user_id: str, district_id: str) -> str:
    """Someone else of the district (an ID that names a real person is the convincing forgery),
    or a fresh ID when the user is alone."""
    other = (
        SandboxRecord.objects.filter(district_id=district_id, record_type=RecordType.USERS)
        .exclude(clever_id=user_id)
        .order_by("clever_id")
        .values_list("clever_id", flat=True)
        .first()
    )
    return other or new_id()


def _altered_signature(signed: str) -> str:
    head, payload, signature = signed.split(".")
    raw = bytearray(base64.urlsafe_b64decode(signature + "=" * (-len(signature) % 4)))
    raw[0] ^= 0xFF
    return f"{head}.{payload}.{keys.b64url(bytes(raw))}"
