"""Purging a district's roster (retention, or the district's written request)."""

from __future__ import annotations

import pytest

from accounts.models import Organization, User
from districts.models import DistrictAudit
from rostering.models import (
    ChangeHold,
    ContactLink,
    Person,
    Section,
    SectionMembership,
    StagedRecord,
    SyncRun,
)
from rostering.selectors import live_totals
from rostering.services.lifecycle import SyncInProgress, purge_district_roster
from rostering.services.sync import run_sync
from sandbox import services as sandbox_services
from tests.rostering.conftest import connect, held_by_another_process, load_generated, truth


def test_purge_deletes_the_mirror_and_deactivates_the_accounts(generated, client):
    sandbox_district, district = generated
    district.organization = Organization.objects.create(name="Purged USD")
    district.save()
    run_sync(district=district, client=client)
    accounts = list(Person.objects.filter(district=district).values_list("user_id", flat=True))
    # A pending hold (with names in its samples) is discarded as well.
    students = sorted(i for i, u in truth(sandbox_district)["users"].items() if "student" in u["roles"])
    for clever_id in students[:60]:
        sandbox_services.delete_record(clever_id=clever_id)
    held = run_sync(district=district, kind="full", client=client)
    assert held.status == SyncRun.Status.HELD

    result = purge_district_roster(district=district, actor_label="retention: 60 days")

    assert result["users"] == 595 and result["sections"] == 15
    assert result["memberships"] > 0 and result["contact_links"] > 0
    assert result["accounts_deactivated"] == len(accounts)
    assert result["holds_discarded"] == 1
    for model in (Person, Section, SectionMembership, ContactLink):
        assert not model.objects.filter(district=district).exists()
    assert not StagedRecord.objects.exists()
    assert User.objects.filter(pk__in=accounts).count() == len(accounts)  # kept, inactive
    assert not User.objects.filter(pk__in=accounts, is_active=True).exists()
    hold = ChangeHold.objects.get(run=held)
    assert hold.status == ChangeHold.Status.REJECTED and hold.samples == {}
    audit = DistrictAudit.objects.get(district=district, action=DistrictAudit.Action.PURGED)
    assert audit.actor_label == "retention: 60 days"
    assert audit.details["deleted"]["users"] == 595
    district.refresh_from_db()
    assert district.event_cursor == "" and district.event_cursor_at is None
    assert live_totals(district)["users"] == 0

    # The next sync is a full one and builds the mirror again.
    again = run_sync(district=district, client=client)
    assert again.kind == SyncRun.Kind.FULL and again.status == SyncRun.Status.SUCCEEDED
    assert again.totals["students"] == 240


def test_purge_refuses_while_a_sync_runs(generated):
    _, district = generated
    running = SyncRun.objects.create(district=district, kind="full", status="running")
    with held_by_another_process(running), pytest.raises(SyncInProgress):
        purge_district_roster(district=district)


def test_purge_deactivates_the_accounts_while_another_district_has_people_without_one(
    generated, client, make_client
):
    """Another district's people have no account (it is linked to no organization): their
    NULL ``user_id`` must not hide the purged district's accounts from deactivation."""
    _sandbox_district, district = generated
    district.organization = Organization.objects.create(name="Purged USD")
    district.save()
    run_sync(district=district, client=client)
    other = connect(load_generated(seed=5, students=40))
    assert run_sync(district=other, client=make_client(page_size=100)).status == "succeeded"
    assert Person.objects.filter(district=other, user__isnull=True).exists()
    accounts = list(Person.objects.filter(district=district).values_list("user_id", flat=True))

    result = purge_district_roster(district=district)

    assert result["accounts_deactivated"] == len(accounts) > 0
    assert not User.objects.filter(pk__in=accounts, is_active=True).exists()
