"""The local Clever's signing keys, for tests that mint identity tokens the app must check."""

from __future__ import annotations

from dataclasses import dataclass

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey
from django.test import Client

from sandbox import services as sandbox_services
from sandbox.models import SandboxSigningKey


@dataclass(frozen=True)
class SigningKey:
    kid: str
    pem: str
    private_key: RSAPrivateKey


def _loaded(row: SandboxSigningKey) -> SigningKey:
    key = serialization.load_pem_private_key(row.private_key_pem.encode(), password=None)
    assert isinstance(key, RSAPrivateKey)
    return SigningKey(kid=row.kid, pem=row.private_key_pem, private_key=key)


def published_signing_key() -> SigningKey:
    """The key the local Clever signs with now (made on first use, by its key set's page)."""
    row = SandboxSigningKey.objects.filter(retired_at=None).order_by("-created", "-id").first()
    if row is None:
        assert Client().get("/sandbox/oauth/certs").status_code == 200
        row = SandboxSigningKey.objects.filter(retired_at=None).order_by("-created", "-id").first()
    assert row is not None
    return _loaded(row)


def rotate_clever_key(*, retire_previous: bool = False) -> SigningKey:
    """Clever rotates its signing key: the new one signs from now on."""
    sandbox_services.rotate_signing_key(retire_previous=retire_previous)
    return published_signing_key()
