"""The district-linking evidence follows what other apps announce (``core.events``), whoever
started the work: a nightly sync, ``manage.py clever_sync``, an approved hold, discovery, a
Clever login. Nothing listens to Celery's task signals or matches task names."""

from __future__ import annotations

import io

import pytest
from django.core.cache import cache
from django.core.management import call_command

from accounts.models import Organization, OrganizationEmailDomain, User
from core import events
from districts.events import DistrictsDiscovered
from matching import tasks as matching_tasks
from matching.models import DistrictCandidate
from rostering import tasks as rostering_tasks
from rostering.events import RosterSynced
from rostering.models import SyncRun
from rostering.services.sync import approve_hold, reject_hold, run_sync
from sandbox import services as sandbox_services
from sso.events import CleverLoginRecorded
from tests.rostering.conftest import connect, load_generated, truth


@pytest.fixture
def refreshes(monkeypatch):
    """Every refresh the triggers start, as its keyword arguments; the refresh itself runs."""
    calls = []
    task = matching_tasks.refresh_district_candidates_task
    real = task.run

    def recording(district_ids=None, clever_ids=None):
        calls.append({"district_ids": district_ids, "clever_ids": clever_ids})
        return real(district_ids=district_ids, clever_ids=clever_ids)

    monkeypatch.setattr(task, "run", recording)
    return calls


@pytest.fixture
def district_with_evidence(db, sandbox_app):
    """A generated district of 40 students, our District for it, and an organization whose
    email domain is the district's staff domain (so a refresh finds a candidate)."""
    cache.clear()
    sandbox_district = load_generated(seed=41, students=40)
    district = connect(sandbox_district)
    staff_domain = next(
        user["email"].strip().lower().rsplit("@", 1)[1]
        for user in truth(sandbox_district)["users"].values()
        if "teacher" in user["roles"] and "@" in (user.get("email") or "")
    )
    organization = Organization.objects.create(name="Evidence Test Schools")
    OrganizationEmailDomain.objects.create(organization=organization, domain=staff_domain)
    return sandbox_district, district, organization


def sync_refreshes(calls, district) -> list[dict]:
    return [call for call in calls if call["district_ids"] == [district.pk]]


def test_the_triggers_are_subscriptions_to_events_not_task_names():
    assert "matching.tasks.refresh_after_sync" in events.subscribers(RosterSynced)
    assert "matching.tasks.refresh_after_discovery" in events.subscribers(DistrictsDiscovered)
    assert "matching.tasks.refresh_after_login" in events.subscribers(CleverLoginRecorded)


def test_a_nightly_sync_refreshes_the_evidence(
    district_with_evidence, refreshes, django_capture_on_commit_callbacks
):
    _sandbox_district, district, organization = district_with_evidence

    with django_capture_on_commit_callbacks(execute=True):
        rostering_tasks.nightly_sync.delay().get()

    assert district.sync_runs.get().status == SyncRun.Status.SUCCEEDED
    assert sync_refreshes(refreshes, district)
    assert DistrictCandidate.objects.filter(district=district, organization=organization).exists()


def test_a_clever_sync_command_refreshes_the_evidence(
    district_with_evidence, refreshes, django_capture_on_commit_callbacks
):
    _sandbox_district, district, organization = district_with_evidence

    with django_capture_on_commit_callbacks(execute=True):
        call_command("clever_sync", district.clever_id, "--json", stdout=io.StringIO())

    assert sync_refreshes(refreshes, district)
    assert DistrictCandidate.objects.filter(district=district, organization=organization).exists()


def test_an_approved_hold_refreshes_the_evidence_and_a_held_or_rejected_run_does_not(
    district_with_evidence, refreshes, django_capture_on_commit_callbacks
):
    sandbox_district, district, _organization = district_with_evidence
    assert run_sync(district=district).status == SyncRun.Status.SUCCEEDED
    students = sorted(i for i, u in truth(sandbox_district)["users"].items() if "student" in u["roles"])
    support = User.objects.create_user(username="support-evidence", is_staff=True)

    def held_run() -> SyncRun:
        for clever_id in students[: len(students) // 4]:
            sandbox_services.delete_record(clever_id=clever_id)
        run = run_sync(district=district, kind="full")
        assert run.status == SyncRun.Status.HELD
        return run

    first = held_run()
    refreshes.clear()
    with django_capture_on_commit_callbacks(execute=True):
        reject_hold(hold=first.hold, user=support, reason="looks wrong")
    assert sync_refreshes(refreshes, district) == []

    students = students[len(students) // 4 :]
    second = held_run()
    assert sync_refreshes(refreshes, district) == []  # holding applies nothing
    with django_capture_on_commit_callbacks(execute=True):
        approve_hold(hold=second.hold, user=support, reason="the district archived a school")
    assert sync_refreshes(refreshes, district)


def test_discovery_refreshes_the_districts_it_changed(
    sandbox_app, refreshes, django_capture_on_commit_callbacks
):
    from districts.tasks import discover_districts_task

    cache.clear()
    sandbox_district = load_generated(seed=42, students=10)
    with django_capture_on_commit_callbacks(execute=True):
        discover_districts_task.delay().get()

    assert {"district_ids": None, "clever_ids": [sandbox_district.id]} in refreshes
