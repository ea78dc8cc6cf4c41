"""Encryption at rest for secrets and children's sensitive fields (Fernet, from cryptography).

Keys come from ``FIELD_ENCRYPTION_KEYS`` (comma-separated Fernet keys, newest first): values are
encrypted with the first and decrypted with any, so a key is rotated by putting the new key in
front, running ``manage.py rotate_encryption_keys`` (re-encrypts every stored value with it),
then dropping the old key.

Which stored columns hold such ciphertexts is a registry: each app declares its own with
``register_encrypted_column`` in its ``AppConfig.ready()`` (districts: pasted district tokens;
rostering: people's sensitive fields; sso: the second-factor secrets of allauth's MFA, which its
adapter encrypts), and key rotation (``districts.services.reencrypt_stored_values``) reads
``encrypted_columns()``. ``districts`` names no model of the apps above it.
"""

from collections.abc import Iterable
from functools import cache
from typing import NamedTuple

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db.models import Model

from core.errors import AppError


class DecryptionError(AppError):
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


# --- the registry of encrypted columns -----------------------------------------------------------


class EncryptedColumn(NamedTuple):
    """A stored ciphertext: ``model.field`` itself, or, with ``json_keys``, the values under those
    keys of a JSON field."""

    model: type[Model]
    field: str
    json_keys: tuple[str, ...] = ()

    @property
    def label(self) -> str:
        return f"{self.model._meta.label}.{self.field}"


_columns: list[EncryptedColumn] = []


def register_encrypted_column(
    model: type[Model], field: str, json_keys: Iterable[str] = ()
) -> EncryptedColumn:
    """Declare that ``model.field`` holds values encrypted with ``FIELD_ENCRYPTION_KEYS`` (or,
    with ``json_keys``, that those keys of the JSON field do), so that key rotation re-encrypts
    them. Called by the app owning the column, in its ``AppConfig.ready()``; registering the same
    column again changes nothing. An unknown field raises ``FieldDoesNotExist``."""
    model._meta.get_field(field)
    column = EncryptedColumn(model, field, tuple(json_keys))
    for known in _columns:
        if known.label == column.label:
            if known.json_keys != column.json_keys:
                raise ImproperlyConfigured(
                    f"{column.label} is registered as encrypted twice, with different JSON keys"
                )
            return known
    _columns.append(column)
    return column


def encrypted_columns() -> list[EncryptedColumn]:
    """Every registered ciphertext column, in the order the apps registered them (the order of
    ``INSTALLED_APPS``). Empty ``json_keys``: the field itself is the ciphertext."""
    return list(_columns)
