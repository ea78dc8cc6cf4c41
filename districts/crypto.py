"""Encryption at rest for secrets and children's sensitive fields (Fernet, from cryptography).

Keys come from ``FIELD_ENCRYPTION_KEYS`` (comma-separated Fernet keys, newest first): values are
encrypted with the first and decrypted with any, so a key is rotated by putting the new key in
front, running ``manage.py rotate_encryption_keys`` (re-encrypts every stored value with it),
then dropping the old key.
"""

from functools import cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured


class DecryptionError(Exception):
    """A stored value cannot be decrypted with any configured key (it names no value)."""


@cache
def _fernet(keys: tuple[str, ...]) -> MultiFernet:
    if not keys:
        raise ImproperlyConfigured("FIELD_ENCRYPTION_KEYS is empty: set at least one Fernet key")
    try:
        return MultiFernet([Fernet(key.encode()) for key in keys])
    except ValueError as exc:
        raise ImproperlyConfigured(
            "FIELD_ENCRYPTION_KEYS must hold url-safe base64 Fernet keys "
            "(make one with: python -c 'from cryptography.fernet import Fernet; "
            "print(Fernet.generate_key().decode())')"
        ) from exc


def _current() -> MultiFernet:
    return _fernet(tuple(settings.FIELD_ENCRYPTION_KEYS))


def encrypt(plaintext: str) -> str:
    return _current().encrypt(plaintext.encode()).decode()


def decrypt(ciphertext: str) -> str:
    try:
        return _current().decrypt(ciphertext.encode()).decode()
    except InvalidToken as exc:
        raise DecryptionError("a stored value could not be decrypted with the configured keys") from exc


def rotate(ciphertext: str) -> str:
    """The same value encrypted with the newest key."""
    try:
        return _current().rotate(ciphertext.encode()).decode()
    except InvalidToken as exc:
        raise DecryptionError("a stored value could not be decrypted with the configured keys") from exc
