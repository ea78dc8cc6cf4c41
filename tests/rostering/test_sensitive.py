"""Sensitive student fields: absent by default, encrypted when the district allows them."""

from __future__ import annotations

import copy
import json
import logging

from districts import crypto
from rostering.models import Person, SyncRun
from rostering.services.mapping import SENSITIVE_STUDENT_FIELDS
from rostering.services.sync import run_sync
from sandbox import services as sandbox_services
from sandbox.models import SandboxRecord
from tests.rostering.conftest import truth


def sensitive_of(record: dict) -> dict:
    student = record.get("roles", {}).get("student", {})
    return {key: student[key] for key in SENSITIVE_STUDENT_FIELDS if key in student}


def test_sensitive_fields_are_not_kept_by_default(generated, client, caplog):
    sandbox_district, district = generated
    served = truth(sandbox_district)["users"]
    with_sensitive = [i for i, u in served.items() if sensitive_of(u)]
    assert len(with_sensitive) > 250  # the generator gives most students some

    with caplog.at_level(logging.DEBUG):
        run = run_sync(district=district, client=client)

    assert run.status == SyncRun.Status.SUCCEEDED, run.error
    for person in Person.objects.filter(district=district, is_student=True):
        assert person.sensitive_ciphertext == ""
        stored = json.dumps(person.raw)
        for key in SENSITIVE_STUDENT_FIELDS:
            assert f'"{key}"' not in stored
    assert not any(f'"{key}"' in r.getMessage() for r in caplog.records
                   for key in SENSITIVE_STUDENT_FIELDS)


def test_sensitive_fields_are_encrypted_when_the_district_allows_them(generated, client, caplog):
    sandbox_district, district = generated
    district.store_sensitive_fields = True
    district.save()
    served = truth(sandbox_district)["users"]

    with caplog.at_level(logging.DEBUG):
        run = run_sync(district=district, client=client)

    assert run.status == SyncRun.Status.SUCCEEDED, run.error
    checked = 0
    for person in Person.objects.filter(district=district, is_student=True):
        expected = sensitive_of(served[person.clever_id])
        assert "iep_status" not in json.dumps(person.raw)  # never in raw
        if not expected:
            assert person.sensitive_ciphertext == ""
            continue
        assert "iep_status" not in person.sensitive_ciphertext  # ciphertext, not JSON
        assert json.loads(crypto.decrypt(person.sensitive_ciphertext)) == expected
        checked += 1
    assert checked > 250
    iep_values = {sensitive_of(u).get("iep_status") for u in served.values()} - {None, "", "N"}
    log_text = "\n".join(r.getMessage() for r in caplog.records)
    assert "ciphertext" not in log_text
    assert not any(f'"{value}"' in log_text for value in iep_values)


def test_a_change_of_a_sensitive_field_alone_is_synced(generated, client):
    sandbox_district, district = generated
    district.store_sensitive_fields = True
    district.save()
    run_sync(district=district, client=client)
    served = truth(sandbox_district)["users"]
    clever_id = next(i for i, u in sorted(served.items())
                     if sensitive_of(u).get("iep_status") == "N")
    # The SIS changes only the IEP status (same last_modified: nothing else differs).
    record = copy.deepcopy(served[clever_id])
    record["roles"]["student"]["iep_status"] = "Y"
    SandboxRecord.objects.filter(clever_id=clever_id).delete()
    sandbox_services.bulk_load(district=sandbox_district, items=[("users", record)])
    raw_before = Person.objects.get(district=district, clever_id=clever_id).raw

    run = run_sync(district=district, kind="full", client=client)

    assert run.counts["updated"]["users"] == 1
    person = Person.objects.get(district=district, clever_id=clever_id)
    assert person.raw == raw_before
    assert json.loads(crypto.decrypt(person.sensitive_ciphertext))["iep_status"] == "Y"


def test_switching_sensitive_storage_off_clears_the_ciphertext(generated, client):
    _, district = generated
    district.store_sensitive_fields = True
    district.guard_max_changed_fraction = 1.0  # every student changes: that is the point
    district.save()
    run_sync(district=district, client=client)
    assert Person.objects.filter(district=district).exclude(sensitive_ciphertext="").exists()

    district.store_sensitive_fields = False
    district.save()
    run = run_sync(district=district, kind="full", client=client)

    assert run.status == SyncRun.Status.SUCCEEDED, run.error
    assert not Person.objects.filter(district=district).exclude(sensitive_ciphertext="").exists()
