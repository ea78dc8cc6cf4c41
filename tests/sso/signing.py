"""The local Clever's signing keys, for tests that mint identity tokens the app must check."""

from __future__ import annotations

from dataclasses import dataclass

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey

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
    """The key the local Clever signs with now (made on first use)."""
    return _loaded(sandbox_services.published_signing_keys()[0])


def rotate_clever_key(*, retire_previous: bool = False) -> SigningKey:
    """Clever rotates its signing key: the new one signs from now on."""
    return _loaded(sandbox_services.rotate_signing_key(retire_previous=retire_previous))
