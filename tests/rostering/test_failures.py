"""Failures apply nothing and resume; tokens, rate limits, locks."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from clever.client import CleverClient
from districts import crypto
from districts.models import DistrictAudit, DistrictStatus
from rostering.models import Person, StagedRecord, SyncRun
from rostering.services.sync import run_sync
from sandbox import services as sandbox_services
from sandbox.transport import InProcessAdapter
from tests.conftest import require_service
from tests.rostering.conftest import (
    connect,
    held_by_another_process,
    load_generated,
    mirror,
    sandbox_token,
    truth,
)
from tests.rostering.test_full_sync import assert_mirror_matches


class Killed(BaseException):
    """What SIGKILL looks like from inside: nothing after it runs (not even ``except``)."""


class Hooked(InProcessAdapter):
    """The sandbox transport, calling ``hook(request)`` before each API request."""

    def __init__(self, hook):
        super().__init__()
        self.hook = hook

    def send(self, request, **kwargs):
        if "/oauth/" not in request.url:
            self.hook(request)
        return super().send(request, **kwargs)


def change_roster(sandbox_district) -> None:
    served = truth(sandbox_district)
    students = sorted(i for i, u in served["users"].items() if "student" in u["roles"])
    for clever_id in students[:5]:
        sandbox_services.delete_record(clever_id=clever_id)
    sandbox_services.update_record(clever_id=students[10], changes={"email": "new@example.org"})


def test_a_fault_at_page_k_applies_nothing_and_the_rerun_resumes(synced, client, sandbox_knobs):
    sandbox_district, district = synced
    change_roster(sandbox_district)
    before = mirror(district)
    # /users: the count, pages 1 and 2 answer; page 3 fails on every retry.
    sandbox_knobs.add_fault("status", status=503, on_request=4, count=1000, path_contains="/users")

    failed = run_sync(district=district, kind="full", client=client)

    assert failed.status == SyncRun.Status.FAILED
    assert "503" in failed.error
    assert failed.retries >= 5 and client.waits  # backed off (without really sleeping)
    assert mirror(district) == before  # nothing archived, nothing updated
    assert StagedRecord.objects.filter(run=failed).exists()  # kept for the rerun
    checkpoint = failed.checkpoint
    assert checkpoint["done"] == ["schools", "terms", "courses", "sections"]
    assert "starting_after=" in checkpoint["next"]["users"]

    sandbox_knobs.clear_faults()
    resumed = run_sync(district=district, client=client)

    assert resumed.status == SyncRun.Status.SUCCEEDED, resumed.error
    assert resumed.kind == SyncRun.Kind.FULL
    assert resumed.resumed_from_id == failed.pk
    assert resumed.requests < 8  # the remaining user pages only, not ~19
    assert resumed.counts["archived"]["users"] == 5
    assert resumed.counts["updated"]["users"] >= 1
    assert not StagedRecord.objects.exists()
    assert_mirror_matches(district, sandbox_district)


def test_a_killed_run_is_resumed_by_the_next_one(synced, make_client):
    sandbox_district, district = synced
    change_roster(sandbox_district)
    calls = {"users": 0}

    def kill_on_third_user_page(request):
        if "/v3.1/users" in request.url and "count=true" not in request.url:
            calls["users"] += 1
            if calls["users"] == 3:
                raise Killed

    with pytest.raises(Killed):
        run_sync(
            district=district,
            kind="full",
            client=make_client(page_size=100, http_adapter=Hooked(kill_on_third_user_page)),
        )

    killed = SyncRun.objects.get(district=district, status=SyncRun.Status.RUNNING)
    assert StagedRecord.objects.filter(run=killed).exists()
    # Nobody heard from it for longer than SYNC_STALE_AFTER_SECONDS.
    SyncRun.objects.filter(pk=killed.pk).update(heartbeat_at=timezone.now() - timedelta(hours=1))

    resumed = run_sync(district=district, client=make_client(page_size=100))

    assert resumed.status == SyncRun.Status.SUCCEEDED, resumed.error
    assert resumed.resumed_from_id == killed.pk
    killed.refresh_from_db()
    assert killed.status == SyncRun.Status.FAILED and killed.error.startswith("interrupted")
    assert resumed.requests < 8
    assert resumed.counts["archived"]["users"] == 5
    assert_mirror_matches(district, sandbox_district)


def test_a_running_sync_whose_process_is_alive_is_not_taken_over(synced, client):
    _, district = synced
    running = SyncRun.objects.create(district=district, kind="full", status="running")

    with held_by_another_process(running):
        skipped = run_sync(district=district, client=client)

    assert skipped.status == SyncRun.Status.SKIPPED
    assert f"run {running.pk}" in skipped.error
    running.refresh_from_db()
    assert running.status == SyncRun.Status.RUNNING


def test_a_running_sync_whose_process_is_gone_is_taken_over_at_once(synced, client):
    """On PostgreSQL the database released the dead process's lock: no waiting for the
    heartbeat to grow stale."""
    require_service(
        "PostgreSQL", connection.vendor == "postgresql", "set DATABASE_URL to a PostgreSQL database"
    )
    _, district = synced
    abandoned = SyncRun.objects.create(district=district, kind="full", status="running")

    run = run_sync(district=district, client=client)

    assert run.status == SyncRun.Status.SUCCEEDED, run.error
    abandoned.refresh_from_db()
    assert abandoned.status == SyncRun.Status.FAILED and abandoned.retryable
    assert abandoned.error.startswith("interrupted")


def test_a_429_storm_completes(generated, make_client, fake_clock, sandbox_knobs):
    sandbox_district, district = generated
    sandbox_knobs.rate_limit_per_minute = 3
    token = sandbox_token(sandbox_district)
    for _ in range(3):  # someone else used this minute's requests already
        sandbox_knobs.rate_limit(token)
    client = make_client(page_size=100, clock=fake_clock, sleep=fake_clock.sleep)

    run = run_sync(district=district, client=client)

    assert run.status == SyncRun.Status.SUCCEEDED, run.error
    assert run.retries >= 1  # at least one 429 answered
    assert run.seconds_waited >= 60 * (run.requests // 3 - 1)
    assert sum(fake_clock.slept) == pytest.approx(run.seconds_waited, abs=0.01)
    assert_mirror_matches(district, sandbox_district)


def _all_archived(snapshot: dict) -> dict:
    """``snapshot`` as the departure leaves it: the same rows, every one archived (docs/
    data-lifecycle.md), memberships and contact links kept for a return."""
    return {
        key: {cid: {**row, "archived": True, "archived_at": None} for cid, row in value.items()}
        if isinstance(value, dict)
        else value
        for key, value in snapshot.items()
    }


def _archive_moments_dropped(snapshot: dict) -> dict:
    return {
        key: {cid: {**row, "archived_at": None} for cid, row in value.items()}
        if isinstance(value, dict)
        else value
        for key, value in snapshot.items()
    }


def test_a_401_applies_nothing_and_the_departure_archives_the_mirror(synced, client):
    sandbox_district, district = synced
    change_roster(sandbox_district)
    before = mirror(district)
    sandbox_services.revoke_token(access_token=sandbox_token(sandbox_district))

    run = run_sync(district=district, kind="full", client=client)

    assert run.status == SyncRun.Status.FAILED
    assert "401" in run.error
    district.refresh_from_db()
    assert district.status == DistrictStatus.DISCONNECTED  # no token listed any more
    # Nothing of the run; everything archived at once by the departure.
    assert _archive_moments_dropped(mirror(district)) == _all_archived(before)
    assert DistrictAudit.objects.filter(
        district=district, action=DistrictAudit.Action.STATUS_CHANGED
    ).exists()
    # And it is not synced again until someone reconnects it.
    skipped = run_sync(district=district, client=client)
    assert skipped.status == SyncRun.Status.SKIPPED and "disconnected" in skipped.error


def test_a_refused_pasted_token_marks_the_district_revoked(synced, client):
    sandbox_district, district = synced
    token = sandbox_token(sandbox_district)
    district.token_ciphertext = crypto.encrypt(token)
    district.save()
    sandbox_services.revoke_token(access_token=token)
    before = mirror(district)

    run = run_sync(district=district, client=client)

    assert run.status == SyncRun.Status.FAILED
    district.refresh_from_db()
    assert district.status == DistrictStatus.REVOKED
    assert _archive_moments_dropped(mirror(district)) == _all_archived(before)
    assert token not in run.error


def test_a_rotated_token_is_picked_up_after_one_401(synced, client):
    sandbox_district, district = synced
    old = sandbox_token(sandbox_district)
    sandbox_services.rotate_district_token(district=sandbox_district)
    assert sandbox_token(sandbox_district) != old
    change_roster(sandbox_district)

    run = run_sync(district=district, kind="full", client=client)

    assert run.status == SyncRun.Status.SUCCEEDED, run.error
    district.refresh_from_db()
    assert district.status == DistrictStatus.CONNECTED
    assert_mirror_matches(district, sandbox_district)


def test_two_syncs_of_one_district_one_is_skipped(generated, make_client):
    sandbox_district, district = generated
    nested = {}

    def start_another_sync(request):
        if not nested:
            nested["run"] = run_sync(district=district, client=make_client())

    run = run_sync(district=district, client=make_client(http_adapter=Hooked(start_another_sync)))

    assert nested["run"].status == SyncRun.Status.SKIPPED
    assert "another sync of this district is running" in nested["run"].error
    assert run.status == SyncRun.Status.SUCCEEDED, run.error
    assert_mirror_matches(district, sandbox_district)


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_syncs_across_connections_one_is_skipped(sandbox_app, make_client):
    require_service(
        "PostgreSQL", connection.vendor == "postgresql", "set DATABASE_URL to a PostgreSQL database"
    )
    sandbox_district = load_generated(seed=4, students=100)
    district = connect(sandbox_district)
    started, release, result = threading.Event(), threading.Event(), {}

    def block(request):
        if not started.is_set():
            started.set()
            release.wait(20)

    def worker():
        try:
            with CleverClient(http_adapter=Hooked(block)) as worker_client:
                result["run"] = run_sync(district=district, client=worker_client)
        finally:
            connection.close()

    thread = threading.Thread(target=worker)
    thread.start()
    try:
        assert started.wait(20)
        second = run_sync(district=district, client=make_client())
    finally:
        release.set()
        thread.join(60)

    assert second.status == SyncRun.Status.SKIPPED
    assert result["run"].status == SyncRun.Status.SUCCEEDED, result["run"].error
    assert Person.objects.filter(district=district).count() == len(truth(sandbox_district)["users"])


def test_districts_that_are_not_connected_or_disabled_are_skipped(generated, client):
    _, district = generated
    district.status = DistrictStatus.PAUSED
    district.status_reason = "summer pause"
    district.save()
    paused = run_sync(district=district, client=client)
    assert paused.status == SyncRun.Status.SKIPPED
    assert paused.error == "not synced: the district is paused (summer pause)"

    district.status = DistrictStatus.CONNECTED
    district.sync_enabled = False
    district.save()
    disabled = run_sync(district=district, client=client)
    assert disabled.status == SyncRun.Status.SKIPPED
    assert "switched off" in disabled.error
    assert paused.requests == disabled.requests == 0
    assert not Person.objects.filter(district=district).exists()


def test_a_malformed_page_is_fetched_again_and_the_run_succeeds(synced, client, sandbox_knobs):
    sandbox_district, district = synced
    change_roster(sandbox_district)
    sandbox_knobs.add_fault("malformed_json", on_request=1, count=2, path_contains="/sections")

    run = run_sync(district=district, kind="full", client=client)

    assert run.status == SyncRun.Status.SUCCEEDED, run.error
    assert run.retries >= 2
    assert_mirror_matches(district, sandbox_district)


def test_a_page_malformed_on_every_try_fails_the_run_as_retryable(synced, client, sandbox_knobs):
    sandbox_district, district = synced
    change_roster(sandbox_district)
    before = mirror(district)
    sandbox_knobs.add_fault("malformed_json", on_request=1, count=1000, path_contains="/sections")

    run = run_sync(district=district, kind="full", client=client)

    assert run.status == SyncRun.Status.FAILED
    assert "malformed JSON" in run.error
    assert run.retryable  # the task tries again later, resuming from the checkpoint
    assert mirror(district) == before


def test_a_district_without_a_listed_token_is_disconnected(generated, client):
    sandbox_district, district = generated
    sandbox_services.disconnect_district(district=sandbox_district)

    run = run_sync(district=district, client=client)

    assert run.status == SyncRun.Status.FAILED
    assert "no token" in run.error
    district.refresh_from_db()
    assert district.status == DistrictStatus.DISCONNECTED
