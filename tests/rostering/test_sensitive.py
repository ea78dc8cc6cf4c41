"""Sensitive and demographic fields (clever.sensitive) in the mirror: never in ``raw`` or a
column; the date of birth always kept, encrypted; the others encrypted only when the district
allows them; the upgrade from the first shape changes nobody at the next sync."""

from __future__ import annotations

import copy
import importlib
import json
import logging

import pytest
from django.apps import apps

from clever.sensitive import DATE_OF_BIRTH, SENSITIVE_FIELDS, pop_listed
from districts import crypto
from rostering.models import ChangeHold, Person, StagedRecord, SyncRun
from rostering.selectors import dates_of_birth, decrypted_fields
from rostering.services import mapping
from rostering.services.sync import run_sync
from sandbox import services as sandbox_services
from sandbox.models import SandboxRecord
from tests.rostering.conftest import truth

# What the first mapping took out of ``raw`` (roles.student, bare names), for the upgrade test.
FIRST_SHAPE = (
    "ell_status",
    "frl_status",
    "iep_status",
    "home_language",
    "home_language_code",
    "disability",
    "gifted_status",
    "section_504_status",
)


def listed_of(record: dict) -> dict:
    """The listed fields a served record carries, {path: value}."""
    return pop_listed(copy.deepcopy(record)) or {}


def assert_nothing_listed_in_clear(person: Person) -> None:
    stored = json.dumps(person.raw)
    for field in SENSITIVE_FIELDS:
        assert field.name not in person.raw.get("roles", {}).get(field.role, {}), field.path
    assert "ciphertext" not in stored


def test_only_the_date_of_birth_is_kept_by_default_encrypted(generated, client, caplog):
    sandbox_district, district = generated
    served = truth(sandbox_district)["users"]
    assert sum(1 for u in served.values() if len(listed_of(u)) > 8) > 250

    with caplog.at_level(logging.DEBUG):
        run = run_sync(district=district, client=client)

    assert run.status == SyncRun.Status.SUCCEEDED, run.error
    people = list(Person.objects.filter(district=district))
    born = dates_of_birth(people)
    for person in people:
        assert_nothing_listed_in_clear(person)
        listed = listed_of(served[person.clever_id])
        if DATE_OF_BIRTH.path in listed:
            assert DATE_OF_BIRTH.path not in person.sensitive_ciphertext  # ciphertext, not JSON
            assert decrypted_fields(person.sensitive_ciphertext) == {
                DATE_OF_BIRTH.path: listed[DATE_OF_BIRTH.path]
            }
            month, day, year = listed[DATE_OF_BIRTH.path].split("/")
            assert born[person.pk].isoformat() == f"{year}-{int(month):02d}-{int(day):02d}"
        else:
            assert person.sensitive_ciphertext == "" and born[person.pk] is None
    log_text = "\n".join(r.getMessage() for r in caplog.records)
    dobs = {listed_of(u).get(DATE_OF_BIRTH.path) for u in served.values()} - {None}
    assert dobs and not any(dob in log_text for dob in dobs)


def test_every_listed_field_is_encrypted_when_the_district_allows_them(generated, client, caplog):
    sandbox_district, district = generated
    district.store_sensitive_fields = True
    district.save()
    served = truth(sandbox_district)["users"]

    with caplog.at_level(logging.DEBUG):
        run = run_sync(district=district, client=client)

    assert run.status == SyncRun.Status.SUCCEEDED, run.error
    kinds = set()
    for person in Person.objects.filter(district=district):
        assert_nothing_listed_in_clear(person)
        expected = listed_of(served[person.clever_id])
        if not expected:
            assert person.sensitive_ciphertext == ""
            continue
        assert decrypted_fields(person.sensitive_ciphertext) == expected
        kinds.update(expected)
    # Every field of the list came from the sandbox and went to the ciphertext.
    assert kinds == {field.path for field in SENSITIVE_FIELDS}
    iep_values = {listed_of(u).get("roles.student.iep_status") for u in served.values()} - {None, "", "N"}
    log_text = "\n".join(r.getMessage() for r in caplog.records)
    assert "ciphertext" not in log_text
    assert not any(f'"{value}"' in log_text for value in iep_values)


def _change_served(sandbox_district, clever_id: str, **student_fields) -> None:
    """The SIS changes only these fields (same last_modified: nothing else differs)."""
    record = copy.deepcopy(truth(sandbox_district)["users"][clever_id])
    record["roles"]["student"].update(student_fields)
    SandboxRecord.objects.filter(clever_id=clever_id).delete()
    sandbox_services.bulk_load(district=sandbox_district, items=[("users", record)])


def test_a_change_of_a_sensitive_field_alone_is_synced(generated, client):
    sandbox_district, district = generated
    district.store_sensitive_fields = True
    district.save()
    run_sync(district=district, client=client)
    served = truth(sandbox_district)["users"]
    clever_id = next(
        i for i, u in sorted(served.items()) if listed_of(u).get("roles.student.iep_status") == "N"
    )
    _change_served(sandbox_district, clever_id, iep_status="Y")
    raw_before = Person.objects.get(district=district, clever_id=clever_id).raw

    run = run_sync(district=district, kind="full", client=client)

    assert run.counts["updated"]["users"] == 1
    person = Person.objects.get(district=district, clever_id=clever_id)
    assert person.raw == raw_before
    assert decrypted_fields(person.sensitive_ciphertext)["roles.student.iep_status"] == "Y"


def test_a_corrected_date_of_birth_is_synced_without_the_districts_consent(generated, client):
    sandbox_district, district = generated
    run_sync(district=district, client=client)
    person = (
        Person.objects.filter(district=district, is_student=True)
        .exclude(sensitive_ciphertext="")
        .order_by("clever_id")
        .first()
    )
    _change_served(sandbox_district, person.clever_id, dob="1/2/2013")

    run = run_sync(district=district, kind="full", client=client)

    assert run.counts["updated"]["users"] == 1
    person.refresh_from_db()
    assert dates_of_birth([person])[person.pk].isoformat() == "2013-01-02"


def test_switching_sensitive_storage_off_keeps_only_the_date_of_birth(generated, client):
    _, district = generated
    district.store_sensitive_fields = True
    district.guard_max_changed_fraction = 1.0  # every student changes: that is the point
    district.save()
    run_sync(district=district, client=client)
    assert any(
        len(decrypted_fields(c)) > 1
        for c in Person.objects.filter(district=district)
        .exclude(sensitive_ciphertext="")
        .values_list("sensitive_ciphertext", flat=True)
    )

    district.store_sensitive_fields = False
    district.save()
    run = run_sync(district=district, kind="full", client=client)

    assert run.status == SyncRun.Status.SUCCEEDED, run.error
    for ciphertext in (
        Person.objects.filter(district=district)
        .exclude(sensitive_ciphertext="")
        .values_list("sensitive_ciphertext", flat=True)
    ):
        assert set(decrypted_fields(ciphertext)) == {DATE_OF_BIRTH.path}


# --- the upgrade from the first shape (rostering migration 0006) ---------------------------------


def _first_shape(person: Person, record: dict, *, opted_in: bool) -> None:
    """Write ``person`` as the first mapping did: ``raw`` without the eight program fields only
    (race, gender, dob, address, ext, a parent's phone in clear), those eight encrypted under
    their bare names when the district allowed them, the hash and fingerprint over that."""
    received = copy.deepcopy(record)
    student = received.get("roles", {}).get("student", {})
    program = {key: student.pop(key) for key in FIRST_SHAPE if key in student} or None
    kept = program if opted_in else None
    raw_json = mapping.canonical_json(received)
    person.raw = json.loads(raw_json)
    person.content_hash = mapping.content_hash(raw_json, kept)
    person.fingerprint = mapping.fingerprint(received, kept)
    person.sensitive_ciphertext = crypto.encrypt(mapping.canonical_json(kept)) if kept else ""
    person.save(update_fields=["raw", "content_hash", "fingerprint", "sensitive_ciphertext"])


@pytest.mark.parametrize("opted_in", [False, True], ids=["default", "stores-sensitive-fields"])
def test_the_upgrade_reshapes_stored_people_and_the_next_sync_changes_nobody(generated, client, opted_in):
    sandbox_district, district = generated
    district.store_sensitive_fields = opted_in
    district.save()
    first = run_sync(district=district, client=client)
    assert first.status == SyncRun.Status.SUCCEEDED, first.error
    served = truth(sandbox_district)["users"]
    # The district as the first version left it: its rows, its last run's page digests (made
    # with mapping version 1), a pending hold with staged rows of the old layout.
    for person in Person.objects.filter(district=district):
        _first_shape(person, served[person.clever_id], opted_in=opted_in)
    key = first.checkpoint["pages_key"]
    first.checkpoint["pages_key"] = key.replace(f"{mapping.MAPPING_VERSION}:", "1:", 1)
    first.save(update_fields=["checkpoint"])
    held = SyncRun.objects.create(district=district, kind=SyncRun.Kind.FULL, status=SyncRun.Status.HELD)
    hold = ChangeHold.objects.create(run=held)
    StagedRecord.objects.create(
        run=held,
        record_type="users",
        clever_id="x" * 24,
        content_hash="h",
        data=["2012-02-11", "Black or African American"],
    )
    students = Person.objects.filter(district=district, is_student=True)
    assert all("race" in p.raw["roles"]["student"] for p in students)

    upgrade = importlib.import_module("rostering.migrations.0006_sensitive_fields_out_of_raw")
    upgrade.forwards(apps, None)

    for person in Person.objects.filter(district=district):
        assert_nothing_listed_in_clear(person)
        listed = listed_of(served[person.clever_id])
        expected = listed if opted_in else {k: v for k, v in listed.items() if k == DATE_OF_BIRTH.path}
        assert (
            decrypted_fields(person.sensitive_ciphertext) if expected else person.sensitive_ciphertext
        ) == (expected or "")
    assert not StagedRecord.objects.exists()
    hold.refresh_from_db()
    held.refresh_from_db()
    assert hold.status == ChangeHold.Status.REJECTED and held.status == SyncRun.Status.REJECTED

    resync = run_sync(district=district, kind="full", client=client)

    assert resync.status == SyncRun.Status.SUCCEEDED, resync.error
    assert resync.counts["updated"]["users"] == 0
    assert resync.counts["unchanged"]["users"] == len(served)
