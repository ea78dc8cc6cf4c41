"""The guard: large deletions or changes are held for support staff, who approve or reject."""

from __future__ import annotations

import pytest

from rostering.models import ChangeHold, Person, Section, StagedRecord, SyncRun
from rostering.selectors import pending_hold
from rostering.services import diff
from rostering.services.sync import HoldError, approve_hold, reject_hold, run_sync
from sandbox import services as sandbox_services
from tests.rostering.conftest import mirror, truth


def students_of(sandbox_district) -> list[str]:
    return sorted(i for i, u in truth(sandbox_district)["users"].items() if "student" in u["roles"])


def remove(ids) -> None:
    for clever_id in ids:
        sandbox_services.delete_record(clever_id=clever_id)


def test_removing_15_percent_of_the_students_holds_the_run_and_changes_nothing(synced, client):
    sandbox_district, district = synced
    students = students_of(sandbox_district)
    gone = students[::6][:45]  # 15% of 300 students (but under 10% of all users)
    remove(gone)
    before = mirror(district)

    run = run_sync(district=district, kind="full", client=client)

    assert run.status == SyncRun.Status.HELD
    assert mirror(district) == before  # nothing applied
    hold = run.hold
    assert hold.status == ChangeHold.Status.PENDING
    rules = {(r["type"], r["rule"]) for r in hold.reasons}
    assert ("students", "deleted") in rules
    assert ("users", "deleted") not in rules  # 45 of ~595 users is under 10%
    students_reason = next(r for r in hold.reasons if r["type"] == "students")
    assert students_reason["count"] == 45 and students_reason["live"] == 300
    assert students_reason["fraction"] == pytest.approx(0.15)
    assert hold.counts["archived"]["users"] == 45
    assert hold.counts["live"]["students"] == 300
    samples = hold.samples["archived"]["users"]
    assert 0 < len(samples) <= diff.SAMPLE_SIZE
    for sample in samples:
        person = Person.objects.get(district=district, clever_id=sample["clever_id"])
        assert sample["clever_id"] in gone
        assert sample["name"] == f"{person.first_name} {person.last_name}".strip()
        assert set(sample) == {"clever_id", "name"}  # names and IDs only
    assert StagedRecord.objects.filter(run=run, action="delete").count() == 45
    assert pending_hold(district) == hold


def test_approving_the_hold_applies_it(synced, client, staff_user):
    sandbox_district, district = synced
    gone = students_of(sandbox_district)[::6][:45]
    remove(gone)
    held = run_sync(district=district, kind="full", client=client)

    run = approve_hold(hold=held.hold, user=staff_user)

    assert run.pk == held.pk and run.status == SyncRun.Status.SUCCEEDED
    assert run.counts["archived"]["users"] == 45
    hold = ChangeHold.objects.get(pk=held.hold.pk)
    assert hold.status == ChangeHold.Status.APPROVED and hold.decided_by == staff_user
    assert hold.decided_at is not None
    archived = set(
        Person.objects.filter(district=district, archived_at__isnull=False).values_list(
            "clever_id", flat=True
        )
    )
    assert archived == set(gone)
    assert not StagedRecord.objects.filter(run=run).exists()
    assert run.totals["students"] == 255
    with pytest.raises(HoldError):
        approve_hold(hold=hold, user=staff_user)
    # The next sync finds nothing more to do.
    again = run_sync(district=district, kind="full", client=client)
    assert again.status == SyncRun.Status.SUCCEEDED
    assert sum(again.counts["archived"].values()) == 0


def test_rejecting_the_hold_discards_it(synced, client, staff_user):
    sandbox_district, district = synced
    remove(students_of(sandbox_district)[::6][:45])
    held = run_sync(district=district, kind="full", client=client)
    before = mirror(district)

    run = reject_hold(hold=held.hold, user=staff_user)

    assert run.status == SyncRun.Status.REJECTED
    assert ChangeHold.objects.get(pk=held.hold.pk).status == ChangeHold.Status.REJECTED
    assert not StagedRecord.objects.filter(run=run).exists()
    assert mirror(district) == before
    with pytest.raises(HoldError):
        reject_hold(hold=held.hold, user=staff_user)
    # Clever still lacks those students: the next sync is held again.
    assert run_sync(district=district, kind="full", client=client).status == SyncRun.Status.HELD


def test_an_emptied_roster_is_held_whatever_the_thresholds(synced, client):
    sandbox_district, district = synced
    district.guard_max_deleted_fraction = 1.0
    district.guard_max_changed_fraction = 1.0
    district.save()
    remove(truth(sandbox_district)["users"])
    before = mirror(district)

    run = run_sync(district=district, kind="full", client=client)

    assert run.status == SyncRun.Status.HELD
    assert {("users", "emptied"), ("students", "emptied")} <= {
        (r["type"], r["rule"]) for r in run.hold.reasons
    }
    assert mirror(district) == before


def test_many_updates_are_held_by_the_change_rule(synced, client):
    sandbox_district, district = synced
    sections = sorted(truth(sandbox_district)["sections"])
    for clever_id in sections[: int(len(sections) * 0.8) + 1]:
        sandbox_services.update_record(clever_id=clever_id, changes={"period": "9"})

    run = run_sync(district=district, kind="full", client=client)

    assert run.status == SyncRun.Status.HELD
    assert [r["rule"] for r in run.hold.reasons if r["type"] == "sections"] == ["changed"]
    assert run.hold.samples["updated"]["sections"]
    assert not Section.objects.filter(district=district, period="9").exists()


def test_per_district_thresholds_override_the_settings(synced, client, settings):
    sandbox_district, district = synced
    settings.SYNC_GUARD_MAX_DELETED_FRACTION = 0.01
    remove(students_of(sandbox_district)[:6])  # 2% of the students
    assert run_sync(district=district, kind="full", client=client).status == SyncRun.Status.HELD

    district.guard_max_deleted_fraction = 0.5
    district.save()
    run = run_sync(district=district, kind="full", client=client)

    assert run.status == SyncRun.Status.SUCCEEDED
    assert run.counts["archived"]["users"] == 6


def test_a_newer_run_supersedes_a_pending_hold(synced, client, staff_user):
    sandbox_district, district = synced
    remove(students_of(sandbox_district)[::6][:45])
    first = run_sync(district=district, kind="full", client=client)
    second = run_sync(district=district, kind="full", client=client)

    assert second.status == SyncRun.Status.HELD
    first.refresh_from_db()
    assert first.status == SyncRun.Status.REJECTED and "superseded" in first.error
    assert ChangeHold.objects.get(run=first).status == ChangeHold.Status.REJECTED
    assert not StagedRecord.objects.filter(run=first).exists()
    assert pending_hold(district).run == second
    with pytest.raises(HoldError):
        approve_hold(hold=ChangeHold.objects.get(run=first), user=staff_user)


def test_the_first_sync_of_an_empty_mirror_is_never_held(db, sandbox_app, client, settings):
    from tests.rostering.conftest import connect, load_generated

    settings.SYNC_GUARD_MAX_CHANGED_FRACTION = 0.0
    settings.SYNC_GUARD_MAX_DELETED_FRACTION = 0.0
    district = connect(load_generated(seed=5, students=120))
    assert run_sync(district=district, client=client).status == SyncRun.Status.SUCCEEDED


def test_guard_rules_are_strictly_greater_than_the_threshold(db):
    class District:
        guard_max_deleted_fraction = 0.1
        guard_max_changed_fraction = 0.75

    counts = diff.empty_counts()
    counts["archived"]["users"] = 10
    assert diff.evaluate_guard(counts, {"users": 100}, District()) == []
    counts["archived"]["users"] = 11
    assert [r["rule"] for r in diff.evaluate_guard(counts, {"users": 100}, District())] == ["deleted"]
    counts["archived"]["users"] = 0
    counts["updated"]["users"] = 76
    assert [r["rule"] for r in diff.evaluate_guard(counts, {"users": 100}, District())] == ["changed"]
    counts["created"]["users"] = 1000  # creations never hold
    counts["updated"]["users"] = 0
    assert diff.evaluate_guard(counts, {"users": 100}, District()) == []
