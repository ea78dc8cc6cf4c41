"""Syncs under faults on real Celery workers, Redis and PostgreSQL: nothing leaves a district
stuck, and nothing is applied by a run that failed.

The workers reach the local Clever over HTTP on the test's live server, so the sandbox's fault
knobs (process memory) hold a page back while the test ends the worker's database session or
kills the worker. Retries run with the task's default backoff (a random delay of up to two
minutes before the first retry), so these tests wait as long as that.
"""

from __future__ import annotations

import os
import signal
import time

import psycopg
import pytest
from django.db import connection

from districts.models import District
from districts.services import forget_cached_token
from rostering.models import SyncRequest, SyncRun
from rostering.tasks import SYNC_RETRY_BACKOFF, request_sync
from sandbox.generator.districts import generate_district, load_district
from tests.rostering.test_full_sync import assert_mirror_matches

# How long a users page is held back, while the test strikes.
HELD_PAGE_SECONDS = 6.0
# The recovery sweep's interval for these workers (production's default is 120 s).
SWEEP_SECONDS = 5


@pytest.fixture
def worker_env(live_server):
    base = f"{live_server.url}/sandbox"
    return {
        "CLEVER_OAUTH_BASE": base,
        "CLEVER_API_BASE": base,
        "CLEVER_HTTP_ADAPTER": "",
        "CLEVER_PAGE_SIZE": "50",
        "SYNC_RECOVERY_INTERVAL_SECONDS": str(SWEEP_SECONDS),
    }


@pytest.fixture
def district(sandbox_app, postgres, redis_url):
    generated = load_district(generate_district(seed=8801, students=150))
    district = District.objects.create(clever_id=generated.id, name=generated.name)
    forget_cached_token(district)  # no token cached by an earlier test's sandbox
    return generated, district


def wait_for(predicate, *, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    pytest.fail(f"waited {timeout:.0f} s for {what}")


def hold_a_users_page(knobs, *, seconds: float):
    """The fourth request for users (the count and a few pages in) waits ``seconds``."""
    return knobs.add_fault("slow", delay=seconds, on_request=4, count=1, path_contains="/users")


def fired(fault) -> bool:
    return fault.seen >= fault.on_request


def other_session() -> psycopg.Connection:
    return psycopg.connect(**connection.get_connection_params(), autocommit=True)


def end_sessions_of(session: psycopg.Connection, application: str, *, waiting_on_lock=False):
    condition = " AND wait_event_type = 'Lock'" if waiting_on_lock else ""
    rows = session.execute(
        "SELECT pid, query FROM pg_stat_activity WHERE application_name = %s" + condition, [application]
    ).fetchall()
    for pid, _query in rows:
        session.execute("SELECT pg_terminate_backend(%s)", [pid])
    return rows


def finished(district) -> SyncRun | None:
    return SyncRun.objects.filter(district=district, status=SyncRun.Status.SUCCEEDED).first()


def assert_resumed_after_one_failure(district, sandbox_district) -> tuple[SyncRun, SyncRun]:
    """The run that met the fault failed (retryable, nothing applied); the next one resumed it
    and applied everything; nothing is left running or owed."""
    failed, resumed = SyncRun.objects.filter(district=district).order_by("pk")
    assert failed.status == SyncRun.Status.FAILED and failed.retryable, failed.error
    assert resumed.status == SyncRun.Status.SUCCEEDED, resumed.error
    assert resumed.resumed_from_id == failed.pk
    assert_mirror_matches(district, sandbox_district)
    assert not SyncRequest.objects.filter(district=district).exists()
    return failed, resumed


def test_a_session_ended_between_pages_fails_the_run_and_the_tasks_retry_resumes_it(
    district, start_celery, sandbox_knobs
):
    sandbox_district, district = district
    start_celery()
    held = hold_a_users_page(sandbox_knobs, seconds=HELD_PAGE_SECONDS)

    request_sync(district=district, kind="full")
    wait_for(lambda: fired(held), timeout=60, what="the worker to ask for the held page")
    with other_session() as session:
        # The worker waits for Clever; its session is idle, outside any transaction: the next
        # statement it sends (reading the mirror for that page) fails.
        assert end_sessions_of(session, "worker")

    wait_for(lambda: finished(district), timeout=SYNC_RETRY_BACKOFF + 90, what="the retry to finish the sync")
    failed, _resumed = assert_resumed_after_one_failure(district, sandbox_district)
    assert "OperationalError" in failed.error or "InterfaceError" in failed.error
    assert failed.checkpoint["done"][:4] == ["schools", "terms", "courses", "sections"]


def test_a_session_ended_during_the_apply_fails_the_run_and_the_tasks_retry_applies_it(
    district, start_celery
):
    sandbox_district, district = district
    start_celery()
    with other_session() as blocker, other_session() as session:
        # The apply ends by moving the district's event cursor: hold that row so the worker
        # waits there, inside the apply's transaction, with the mirror half written.
        blocker.autocommit = False
        blocker.execute("SELECT 1 FROM districts_district WHERE id = %s FOR NO KEY UPDATE", [district.pk])
        request_sync(district=district, kind="full")
        ended = wait_for(
            lambda: end_sessions_of(session, "worker", waiting_on_lock=True),
            timeout=90,
            what="the worker to reach the apply",
        )
        blocker.rollback()
    assert 'UPDATE "districts_district"' in ended[0][1]

    wait_for(lambda: finished(district), timeout=SYNC_RETRY_BACKOFF + 90, what="the retry to apply the sync")
    failed, resumed = assert_resumed_after_one_failure(district, sandbox_district)
    assert failed.counts == {} or not any(failed.counts.get("created", {}).values())
    assert resumed.counts["created"]["users"] > 0  # the retry applied what the failure did not


def test_a_worker_killed_mid_sync_has_its_sync_resumed_by_the_sweep_within_minutes(
    district, start_celery, sandbox_knobs
):
    sandbox_district, district = district
    doomed = start_celery(name="doomed")
    start_celery("beat", name="beat")
    held = hold_a_users_page(sandbox_knobs, seconds=HELD_PAGE_SECONDS)

    request_sync(district=district, kind="full")
    wait_for(lambda: fired(held), timeout=60, what="the worker to ask for the held page")
    killed_at = time.monotonic()
    os.kill(doomed.pid, signal.SIGKILL)
    doomed.wait()
    start_celery(name="rescuer")

    # Its message stays unacknowledged until Redis's visibility timeout (4 hours): only the
    # recovery sweep can bring the sync back this soon.
    resumed = wait_for(
        lambda: finished(district), timeout=180, what="the sweep to resume the killed worker's sync"
    )
    seconds = time.monotonic() - killed_at
    killed = SyncRun.objects.get(pk=resumed.resumed_from_id)
    assert killed.status == SyncRun.Status.FAILED and killed.error.startswith("interrupted")
    assert resumed.trigger == SyncRun.Trigger.RESUME
    assert_mirror_matches(district, sandbox_district)
    assert not SyncRequest.objects.filter(district=district).exists()
    print(
        f"killed worker's sync resumed and finished {seconds:.1f} s after the kill "
        f"(sweep every {SWEEP_SECONDS} s)"
    )
