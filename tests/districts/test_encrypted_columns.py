"""The registry of stored ciphertexts (``districts.crypto``): each app registers its own columns
in its ``AppConfig.ready()``, and key rotation reads the registry (districts names no model of
the apps above it)."""

import pytest
from django.core.exceptions import FieldDoesNotExist, ImproperlyConfigured

from districts import crypto, services
from districts.models import District


def test_every_app_registered_its_ciphertext_columns():
    columns = [(column.label, column.json_keys) for column in crypto.encrypted_columns()]

    assert columns == [
        ("districts.District.token_ciphertext", ()),
        ("rostering.Person.sensitive_ciphertext", ()),
        ("mfa.Authenticator.data", ("secret", "seed")),
    ]
    assert services.encrypted_columns() == crypto.encrypted_columns()


def test_registering_a_column_again_changes_nothing():
    before = crypto.encrypted_columns()

    again = crypto.register_encrypted_column(District, "token_ciphertext")

    assert again == before[0] and crypto.encrypted_columns() == before


def test_a_column_registered_twice_differently_or_unknown_is_refused():
    with pytest.raises(ImproperlyConfigured):
        crypto.register_encrypted_column(District, "token_ciphertext", json_keys=("secret",))
    with pytest.raises(FieldDoesNotExist):
        crypto.register_encrypted_column(District, "no_such_field")
    assert len(crypto.encrypted_columns()) == 3
