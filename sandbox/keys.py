"""RSA key material of the local Clever's identity tokens (rows: ``SandboxSigningKey``, written
by ``services.rotate_signing_key``): RSA 2048 keys, their kids, their public JWKs.

Making an RSA key takes a noticeable fraction of a second and every test's rolled-back
transaction forgets the keys it stored, so the process keeps the keys it made or loaded, by kid:
a key is reused by any database that does not hold it yet, while within one database each
rotation still gets a key it never had (``unused_key``).
"""

from __future__ import annotations

import base64
import hashlib
import json
import threading

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

ALGORITHM = "RS256"

_keys: dict[str, rsa.RSAPrivateKey] = {}
_keys_lock = threading.Lock()


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _b64uint(value: int) -> str:
    return b64url(value.to_bytes((value.bit_length() + 7) // 8, "big"))


def _kid(key: rsa.RSAPrivateKey) -> str:
    """The RFC 7638 thumbprint of the public key: a kid that names the key and nothing else."""
    numbers = key.public_key().public_numbers()
    canonical = json.dumps(
        {"e": _b64uint(numbers.e), "kty": "RSA", "n": _b64uint(numbers.n)}, separators=(",", ":")
    )
    return b64url(hashlib.sha256(canonical.encode()).digest())


def unused_key(stored: set[str]) -> tuple[str, rsa.RSAPrivateKey]:
    """A key whose kid is not in ``stored``, with its kid: one this process already has, else a
    new one."""
    with _keys_lock:
        for kid, key in _keys.items():
            if kid not in stored:
                return kid, key
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        kid = _kid(key)
        _keys[kid] = key
        return kid, key


def pem(key: rsa.RSAPrivateKey) -> str:
    """The private key as stored (PKCS #8 PEM, unencrypted: it is a sandbox)."""
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


def private_key(kid: str, stored_pem: str) -> rsa.RSAPrivateKey:
    """The stored key ``kid`` (its PEM is parsed once per process)."""
    with _keys_lock:
        key = _keys.get(kid)
    if key is None:
        loaded = serialization.load_pem_private_key(stored_pem.encode(), password=None)
        if not isinstance(loaded, rsa.RSAPrivateKey):
            raise TypeError(f"signing key {kid} is not an RSA key")
        key = loaded
        with _keys_lock:
            _keys[kid] = key
    return key


def public_jwk(kid: str, key: rsa.RSAPrivateKey) -> dict:
    """The public part of ``key`` as a JWKS entry."""
    numbers = key.public_key().public_numbers()
    return {
        "kty": "RSA",
        "kid": kid,
        "use": "sig",
        "alg": ALGORITHM,
        "n": _b64uint(numbers.n),
        "e": _b64uint(numbers.e),
    }
