import io
import json
import time

import pytest
from allauth.mfa.models import Authenticator
from allauth.mfa.recovery_codes.internal.auth import RecoveryCodes
from allauth.mfa.totp.internal.auth import TOTP, format_hotp_value, hotp_value
from cryptography.fernet import Fernet, InvalidToken
from django.core.management import CommandError, call_command
from django.test import override_settings

from accounts.factories import UserFactory
from districts import crypto, services
from districts.models import District
from rostering.models import Person

pytestmark = pytest.mark.django_db

OLD_KEY = Fernet.generate_key().decode()
NEW_KEY = Fernet.generate_key().decode()


def _rows():
    """Three districts with pasted tokens and two people with sensitive fields, all under OLD_KEY."""
    with override_settings(FIELD_ENCRYPTION_KEYS=[OLD_KEY]):
        districts = [
            District.objects.create(clever_id=f"d{n:023d}", token_ciphertext=crypto.encrypt(f"token-{n}"))
            for n in range(3)
        ]
        District.objects.create(clever_id="e" * 24)  # no pasted token: nothing to rotate
        people = [
            Person.objects.create(
                district=districts[0],
                clever_id=f"p{n:023d}",
                content_hash="h",
                sensitive_ciphertext=crypto.encrypt(json.dumps({"iep_status": "Y", "n": n})),
            )
            for n in range(2)
        ]
        Person.objects.create(district=districts[0], clever_id="q" * 24, content_hash="h")
    return districts, people


def _run(*args):
    out = io.StringIO()
    call_command("rotate_encryption_keys", *args, stdout=out)
    return out.getvalue()


def test_rotation_re_encrypts_everything_with_the_new_key():
    districts, _ = _rows()
    before = {d.pk: d.token_ciphertext for d in districts}

    with override_settings(FIELD_ENCRYPTION_KEYS=[NEW_KEY, OLD_KEY]):
        report = json.loads(_run("--json", "--batch-size", "2"))

    assert report["rotated"] == 5 and report["failed"] == 0 and report["dry_run"] is False
    assert report["columns"]["districts.District.token_ciphertext"]["rotated"] == 3
    assert report["columns"]["rostering.Person.sensitive_ciphertext"]["rotated"] == 2
    # The old key is gone: every value still decrypts, with the new key alone.
    with override_settings(FIELD_ENCRYPTION_KEYS=[NEW_KEY]):
        for n, district in enumerate(District.objects.exclude(token_ciphertext="").order_by("clever_id")):
            assert district.token_ciphertext != before[district.pk]
            assert crypto.decrypt(district.token_ciphertext) == f"token-{n}"
            assert services.district_token(district) == f"token-{n}"
        for n, person in enumerate(Person.objects.exclude(sensitive_ciphertext="").order_by("clever_id")):
            assert json.loads(crypto.decrypt(person.sensitive_ciphertext)) == {"iep_status": "Y", "n": n}
    with pytest.raises(InvalidToken):
        Fernet(OLD_KEY.encode()).decrypt(District.objects.get(pk=districts[0].pk).token_ciphertext.encode())
    assert Person.objects.get(clever_id="q" * 24).sensitive_ciphertext == ""


def test_dry_run_checks_and_writes_nothing():
    districts, _ = _rows()
    with override_settings(FIELD_ENCRYPTION_KEYS=[NEW_KEY, OLD_KEY]):
        text = _run("--dry-run")
    assert "districts.District.token_ciphertext: 3 decryptable, 0 failed" in text
    assert District.objects.get(pk=districts[0].pk).token_ciphertext == districts[0].token_ciphertext


def test_a_value_no_key_decrypts_fails_the_command_and_is_left_alone():
    districts, _ = _rows()
    stranger = Fernet(Fernet.generate_key()).encrypt(b"lost").decode()
    District.objects.filter(pk=districts[1].pk).update(token_ciphertext=stranger)

    with override_settings(FIELD_ENCRYPTION_KEYS=[NEW_KEY, OLD_KEY]):
        out = io.StringIO()
        with pytest.raises(CommandError, match="could not be decrypted") as caught:
            call_command("rotate_encryption_keys", "--json", stdout=out)

    assert caught.value.returncode == 1
    report = json.loads(out.getvalue())
    column = report["columns"]["districts.District.token_ciphertext"]
    assert column == {"rotated": 2, "failed": 1, "failed_ids": [districts[1].pk]}
    assert District.objects.get(pk=districts[1].pk).token_ciphertext == stranger
    # The others were still rotated.
    with override_settings(FIELD_ENCRYPTION_KEYS=[NEW_KEY]):
        assert crypto.decrypt(District.objects.get(pk=districts[0].pk).token_ciphertext) == "token-0"


def test_rotation_is_repeatable():
    _rows()
    with override_settings(FIELD_ENCRYPTION_KEYS=[NEW_KEY, OLD_KEY]):
        first = services.reencrypt_stored_values()
        second = services.reencrypt_stored_values()
    assert first == second
    assert sum(c["rotated"] for c in second.values()) == 5


def test_the_batch_size_must_be_positive():
    with pytest.raises(CommandError, match="batch-size"):
        _run("--batch-size", "0")


def test_second_factor_secrets_are_rotated_too():
    # A staff member's authenticator app and recovery codes must keep working once the old key
    # is dropped, or rotating keys would lock support out of the admin.
    staff = UserFactory(username="support", is_staff=True)
    with override_settings(FIELD_ENCRYPTION_KEYS=[OLD_KEY]):
        TOTP.activate(staff, "JBSWY3DPEHPK3PXP")
        codes = RecoveryCodes.activate(staff).generate_codes()

    with override_settings(FIELD_ENCRYPTION_KEYS=[NEW_KEY, OLD_KEY]):
        report = json.loads(_run("--json"))
    assert report["columns"]["mfa.Authenticator.data"] == {"rotated": 2, "failed": 0, "failed_ids": []}

    with override_settings(FIELD_ENCRYPTION_KEYS=[NEW_KEY]):
        totp = TOTP(Authenticator.objects.get(user=staff, type=Authenticator.Type.TOTP))
        assert totp.validate_code(format_hotp_value(hotp_value("JBSWY3DPEHPK3PXP", int(time.time()) // 30)))
        kind = Authenticator.Type.RECOVERY_CODES
        recovery = RecoveryCodes(Authenticator.objects.get(user=staff, type=kind))
        assert recovery.validate_code(codes[0])
