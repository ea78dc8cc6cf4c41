"""Celery tasks (run eagerly here): district syncs, the nightly dispatcher, the retention purge.

Districts are generated sandbox districts with a ``District`` of the same Clever ID, so a task
runs the real sync engine against the local Clever (in-process).
"""

import importlib
from datetime import timedelta

import pytest
from celery.exceptions import Retry, SoftTimeLimitExceeded
from celery.schedules import crontab
from django.conf import settings
from django.db import InterfaceError, OperationalError
from django.utils import timezone
from redis.exceptions import ConnectionError as RedisConnectionError

from clever import errors
from districts import services as district_services
from districts.models import District, DistrictAudit, DistrictStatus
from districts.services import NoToken
from rostering import tasks
from rostering.models import Person, Section, SyncRequest, SyncRun
from rostering.services import requests as sync_requests
from rostering.services.sync import failure_is_temporary
from sandbox.generator.districts import generate_district, load_district
from tests.rostering.conftest import connected_district, held_by_another_process

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def quick_clever_client(settings):
    """The sync's own client retries 5xx with real sleeps: keep that short in tests."""
    settings.CLEVER_MAX_RETRIES = 1
    settings.CLEVER_BACKOFF_BASE = 0.0
    settings.CLEVER_BACKOFF_CAP = 0.0


@pytest.fixture
def district(sandbox_app):
    return connected_district(101)


def test_sync_district_runs_a_sync_and_mirrors_the_roster(district):
    result = tasks.sync_district.delay(district_id=district.pk, kind="full", trigger="manual").get()

    run = SyncRun.objects.get(district=district)
    assert result["status"] == SyncRun.Status.SUCCEEDED == run.status
    assert result["run"] == run.pk and result["district"] == district.pk
    assert run.kind == SyncRun.Kind.FULL and run.trigger == SyncRun.Trigger.MANUAL
    assert Person.objects.filter(district=district, is_student=True).count() == 40
    assert Section.objects.filter(district=district).exists()
    assert run.totals["students"] == 40


def test_a_second_sync_while_one_runs_is_skipped_and_not_retried(district, monkeypatch):
    running = SyncRun.objects.create(district=district, kind=SyncRun.Kind.FULL, trigger="nightly")
    calls = []
    real = tasks.run_sync
    monkeypatch.setattr(tasks, "run_sync", lambda **kw: calls.append(kw) or real(**kw))

    with held_by_another_process(running):
        result = tasks.sync_district.delay(district_id=district.pk).get()

    assert result["status"] == SyncRun.Status.SKIPPED
    assert len(calls) == 1  # no retry
    assert not Person.objects.filter(district=district).exists()


@pytest.fixture
def as_worker(monkeypatch):
    """Run sync_district's body as a worker would (not eager), at a given retry count and
    delivery; Celery's retry is recorded instead of re-queued (``requested`` countdowns)."""
    requested = []

    def fake_retry(exc=None, countdown=None, **options):
        requested.append(countdown)
        return Retry(exc=exc, when=countdown)

    monkeypatch.setattr(tasks.sync_district, "retry", fake_retry)

    def run(district, *, retries=0, redelivered=False, **kwargs):
        tasks.sync_district.push_request(
            retries=retries, is_eager=False, delivery_info={"redelivered": redelivered}
        )
        try:
            return tasks.sync_district.run(district_id=district.pk, **kwargs)
        finally:
            tasks.sync_district.pop_request()

    run.requested = requested
    return run


def test_a_temporary_failure_is_retried_with_jittered_backoff_a_bounded_number_of_times(
    district, sandbox_knobs, as_worker
):
    # Clever answers 503 to every API request: the engine returns a failed run each time.
    sandbox_knobs.add_fault("status", status=503, count=10_000, path_contains="/v3")

    for retries in range(tasks.SYNC_TASK_MAX_RETRIES):
        with pytest.raises(Retry):
            as_worker(district, retries=retries, kind="full")
        ceiling = min(tasks.SYNC_RETRY_BACKOFF * 2**retries, tasks.SYNC_RETRY_BACKOFF_MAX)
        assert 0 <= as_worker.requested[-1] <= ceiling  # full jitter under the backoff
    result = as_worker(district, retries=tasks.SYNC_TASK_MAX_RETRIES, kind="full")

    runs = SyncRun.objects.filter(district=district)
    assert len(as_worker.requested) == tasks.SYNC_TASK_MAX_RETRIES  # no retry after the last
    assert result["status"] == SyncRun.Status.FAILED
    assert result["attempt"] == tasks.SYNC_TASK_MAX_RETRIES + 1
    assert runs.count() == tasks.SYNC_TASK_MAX_RETRIES + 1
    assert set(runs.values_list("status", flat=True)) == {SyncRun.Status.FAILED}
    assert "HTTP 503" in runs.first().error and tasks.failure_is_retryable(runs.first())


def test_a_permanent_failure_is_not_retried(district, sandbox_knobs, as_worker):
    # 404 on users: the collection is unreadable with this token; waiting cannot help.
    sandbox_knobs.add_fault("status", status=404, count=10_000, path_contains="/users")

    result = as_worker(district, kind="full")

    assert result["status"] == SyncRun.Status.FAILED and result["attempt"] == 1
    assert as_worker.requested == []
    assert "HTTP 404" in SyncRun.objects.get(district=district).error


def test_eager_mode_never_retries_inside_the_caller(district, sandbox_knobs):
    sandbox_knobs.add_fault("status", status=503, count=10_000, path_contains="/v3")

    result = tasks.sync_district.delay(district_id=district.pk, kind="full").get()

    assert result["status"] == SyncRun.Status.FAILED and result["attempt"] == 1
    assert SyncRun.objects.filter(district=district).count() == 1


def test_a_redelivered_sync_resumes_its_dead_run_at_once(district, as_worker, settings):
    """The message of a worker that died comes back and finds the run the worker left: its
    process is gone (no session lock on PostgreSQL; here also a stale heartbeat), so the run is
    marked interrupted and resumed now, not after a countdown."""
    dead = SyncRun.objects.create(
        district=district,
        kind=SyncRun.Kind.FULL,
        trigger="nightly",
        heartbeat_at=timezone.now() - timedelta(seconds=settings.SYNC_STALE_AFTER_SECONDS + 1),
    )

    result = as_worker(district, redelivered=True)

    assert result["status"] == SyncRun.Status.SUCCEEDED and as_worker.requested == []
    dead.refresh_from_db()
    assert dead.status == SyncRun.Status.FAILED and dead.error.startswith("interrupted")


def test_poison_guard_drops_a_redelivered_sync_that_keeps_dying(district, as_worker):
    for _ in range(tasks.SYNC_MAX_INTERRUPTIONS):
        SyncRun.objects.create(
            district=district,
            kind="full",
            status="failed",
            finished_at=timezone.now(),
            cause=SyncRun.Cause.INTERRUPTED,
            error="interrupted: no heartbeat for more than 600s (...)",
        )

    assert as_worker(district, redelivered=True)["status"] == "abandoned"
    assert SyncRun.objects.filter(district=district).count() == tasks.SYNC_MAX_INTERRUPTIONS
    # Not redelivered (tonight's regular sync): it runs.
    assert as_worker(district)["status"] == SyncRun.Status.SUCCEEDED


def test_retry_classification_of_failures():
    retryable = [
        errors.ServerError("Service unavailable", status=503, method="GET", url="/v3.1/users"),
        errors.ServerError(status=502),
        errors.RateLimited("rate limited", status=429),
        errors.ConnectionFailed("connection reset"),
        errors.HtmlServerError("an HTML error page", status=500),
        errors.UnreadableAnswer("malformed JSON (...)", status=200),
        OperationalError("server closed the connection unexpectedly"),
        RedisConnectionError("Error 111 connecting to localhost:6379. Connection refused."),
        InterfaceError("connection already closed"),
        SoftTimeLimitExceeded(),
    ]
    permanent = [
        errors.AuthError("invalid token", status=401),
        errors.NotFound(status=404),
        errors.PayloadTooLarge(status=413),
        errors.Unsupported(status=501),
        errors.BadResponse('"data" has no "id"', status=200),
        errors.BadRequest("bad", status=400),
        NoToken("no token"),
        TypeError("'NoneType' object is not subscriptable"),
    ]
    assert [e for e in retryable if not failure_is_temporary(e)] == []
    assert [e for e in permanent if failure_is_temporary(e)] == []


def test_only_failed_runs_marked_retryable_are_retried(district):
    def run(status, retryable):
        return SyncRun(district=district, kind="full", status=status, retryable=retryable)

    assert tasks.failure_is_retryable(run(SyncRun.Status.FAILED, True))
    assert not tasks.failure_is_retryable(run(SyncRun.Status.FAILED, False))
    assert not tasks.failure_is_retryable(run(SyncRun.Status.HELD, True))


def test_sync_district_of_a_deleted_district_reports_missing():
    assert tasks.sync_district.delay(district_id=999_999).get()["status"] == "missing"


def test_time_limits_stay_below_the_redis_visibility_timeout():
    task = tasks.sync_district
    assert task.acks_late is True
    assert task.soft_time_limit < task.time_limit
    assert task.time_limit + tasks.SYNC_RETRY_BACKOFF_MAX < settings.CELERY_VISIBILITY_TIMEOUT
    assert task.max_retries == tasks.SYNC_TASK_MAX_RETRIES


# --- the nightly dispatcher ----------------------------------------------------------------------


@pytest.fixture
def enqueued(monkeypatch):
    """Record sync_district.apply_async calls instead of running them."""
    calls = []
    monkeypatch.setattr(
        tasks.sync_district,
        "apply_async",
        lambda args=None, kwargs=None, **options: calls.append({**kwargs, **options}),
    )
    return calls


def test_nightly_sync_fans_out_to_connected_sync_enabled_districts_after_commit(
    sandbox_app, enqueued, django_capture_on_commit_callbacks, settings
):
    settings.SYNC_STAGGER_SECONDS = 45
    eligible = [connected_district(201), connected_district(202), connected_district(203)]
    disconnected = connected_district(204)
    district_services.disconnect_district(district=disconnected, actor=None)
    switched_off = connected_district(205, sync_enabled=False)
    paused = connected_district(206)
    district_services.pause_district(district=paused, actor=None)

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        count = tasks.nightly_sync.delay().get()
        assert enqueued == []  # nothing leaves before the commit

    for callback in callbacks:
        callback()
    assert count == 3
    assert [call["district_id"] for call in enqueued] == [d.pk for d in eligible]
    assert [call["countdown"] for call in enqueued] == [0, 45, 90]
    assert {call["trigger"] for call in enqueued} == {"nightly"}
    assert {call["kind"] for call in enqueued} == {"auto"}
    skipped = {disconnected.pk, switched_off.pk, paused.pk}
    assert not skipped & {call["district_id"] for call in enqueued}


def test_nightly_sync_sends_the_largest_districts_first(
    sandbox_app, enqueued, django_capture_on_commit_callbacks
):
    small, large, medium = (connected_district(611), connected_district(612), connected_district(613))
    for district, students in ((small, 5), (large, 40), (medium, 20)):
        for n in range(students):
            Person.objects.create(district=district, clever_id=f"{district.pk:04d}{n:020d}", is_student=True)
    never_synced = connected_district(614)

    with django_capture_on_commit_callbacks(execute=True):
        tasks.nightly_sync.delay().get()

    # A district never synced first (its size is unknown), then the largest first.
    assert [call["district_id"] for call in enqueued] == [never_synced.pk, large.pk, medium.pk, small.pk]
    assert {call["countdown"] for call in enqueued} == {0}


def test_nightly_sync_discovers_districts_first(sandbox_app, enqueued, django_capture_on_commit_callbacks):
    generated = generate_district(seed=301, students=20)
    load_district(generated)  # in the sandbox only: discovery must find it

    with django_capture_on_commit_callbacks(execute=True):
        count = tasks.nightly_sync.delay().get()

    district = District.objects.get(clever_id=generated.id)
    assert count == 1 and [call["district_id"] for call in enqueued] == [district.pk]
    assert district.audits.filter(action=DistrictAudit.Action.DISCOVERED).exists()


def test_a_failed_discovery_does_not_stop_the_nightly_syncs(
    sandbox_app, enqueued, django_capture_on_commit_callbacks, monkeypatch, caplog
):
    known = connected_district(401)

    def broken(**kwargs):
        raise RuntimeError("Clever's /oauth/tokens is down")

    monkeypatch.setattr(district_services, "discover_districts", broken)
    with django_capture_on_commit_callbacks(execute=True):
        count = tasks.nightly_sync.delay().get()

    assert count == 1 and enqueued[0]["district_id"] == known.pk
    assert "district discovery failed" in caplog.text


def test_nightly_sync_runs_every_eligible_district_end_to_end(
    sandbox_app, django_capture_on_commit_callbacks
):
    districts = [connected_district(501, students=25), connected_district(502, students=30)]

    with django_capture_on_commit_callbacks(execute=True):
        assert tasks.nightly_sync.delay().get() == 2

    for district, students in zip(districts, (25, 30), strict=True):
        run = SyncRun.objects.get(district=district)
        assert run.status == SyncRun.Status.SUCCEEDED and run.trigger == SyncRun.Trigger.NIGHTLY
        assert Person.objects.filter(district=district, is_student=True).count() == students


def test_countdowns_are_squeezed_below_half_the_visibility_timeout(settings):
    settings.SYNC_STAGGER_SECONDS = 30
    settings.CELERY_VISIBILITY_TIMEOUT = 3600
    assert tasks.nightly_countdowns(0) == []
    assert tasks.nightly_countdowns(3) == [0, 30, 60]
    spread = tasks.nightly_countdowns(1000)  # 1000 x 30 s would be over 8 hours
    assert spread[0] == 0 and spread[-1] <= 1800
    assert spread == sorted(spread) and len(set(spread)) > 900


def test_beat_schedules_the_dispatcher_discovery_and_purge():
    schedule = settings.CELERY_BEAT_SCHEDULE
    nightly = schedule["rostering-nightly-sync"]
    assert nightly["task"] == "rostering.tasks.nightly_sync"
    assert nightly["schedule"] == crontab(
        hour=settings.SYNC_NIGHTLY_HOUR, minute=settings.SYNC_NIGHTLY_MINUTE
    )
    assert schedule["rostering-purge-expired-rosters"]["task"] == ("rostering.tasks.purge_expired_rosters")
    assert schedule["districts-discover"]["task"] == "districts.tasks.discover_districts_task"
    sweep = schedule["rostering-recover-syncs"]
    assert sweep["task"] == "rostering.tasks.recover_syncs"
    assert sweep["schedule"] == settings.SYNC_RECOVERY_INTERVAL_SECONDS <= 300  # minutes, not hours
    from config.celery import app

    for entry in schedule.values():  # every scheduled name is a registered task
        importlib.import_module(entry["task"].rsplit(".", 1)[0])
        assert entry["task"] in app.tasks, entry["task"]


# --- requested syncs and the recovery sweep ------------------------------------------------------


def test_a_requested_sync_is_recorded_then_settled_by_the_run_that_answers_it(
    district, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        tasks.request_sync(district=district, kind="full")
        request = SyncRequest.objects.get(district=district)  # owed before anything is sent
        assert request.kind == "full" and request.trigger == SyncRun.Trigger.MANUAL

    for callback in callbacks:
        callback()  # the message leaves after the commit; eager here, so it runs now

    run = SyncRun.objects.get(district=district)
    assert run.status == SyncRun.Status.SUCCEEDED
    assert not SyncRequest.objects.filter(district=district).exists()


def test_a_duplicate_of_an_answered_request_syncs_nothing(district):
    asked = timezone.now()
    first = tasks.sync_district.delay(district_id=district.pk, requested_at=asked.isoformat()).get()

    again = tasks.sync_district.delay(district_id=district.pk, requested_at=asked.isoformat()).get()

    assert first["status"] == SyncRun.Status.SUCCEEDED
    assert again["status"] == "done" and again["run"] == first["run"]
    assert SyncRun.objects.filter(district=district).count() == 1
    # A request answered by a run the message did not start (``clever_sync``, another worker)
    # is settled when its message comes.
    sync_requests.record(district=district, kind="auto", trigger="nightly", now=asked)
    tasks.sync_district.delay(district_id=district.pk, requested_at=asked.isoformat()).get()
    assert not SyncRequest.objects.filter(district=district).exists()
    # A request made after that run is not answered by it.
    later = tasks.sync_district.delay(district_id=district.pk, requested_at=timezone.now().isoformat()).get()
    assert later["status"] == SyncRun.Status.SUCCEEDED and later["run"] != first["run"]


def test_a_waiting_retry_keeps_the_request_owed_until_the_retry_is_due(district, sandbox_knobs, as_worker):
    sync_requests.record(district=district, kind="full", trigger="nightly")
    sandbox_knobs.add_fault("status", status=503, count=10_000, path_contains="/v3")

    with pytest.raises(Retry):
        as_worker(district, kind="full")

    request = SyncRequest.objects.get(district=district)
    countdown = timedelta(seconds=as_worker.requested[-1])
    assert abs(request.due_at - (timezone.now() + countdown)) < timedelta(seconds=5)
    # The retries spent: the failed run stands and nothing is owed any more.
    as_worker(district, retries=tasks.SYNC_TASK_MAX_RETRIES, kind="full")
    assert not SyncRequest.objects.filter(district=district).exists()


def dead_run(district, settings) -> SyncRun:
    """A running run whose process is gone: no session lock on PostgreSQL, and a heartbeat
    older than the stale limit (what SQLite goes by)."""
    return SyncRun.objects.create(
        district=district,
        kind=SyncRun.Kind.FULL,
        trigger="nightly",
        heartbeat_at=timezone.now() - timedelta(seconds=settings.SYNC_STALE_AFTER_SECONDS + 1),
    )


def test_the_sweep_resumes_a_sync_whose_process_died(district, settings, django_capture_on_commit_callbacks):
    dead = dead_run(district, settings)

    with django_capture_on_commit_callbacks(execute=True):
        outcome = tasks.recover_syncs.delay().get()

    assert outcome["resumed"] == [district.pk]
    dead.refresh_from_db()
    assert dead.status == SyncRun.Status.FAILED and dead.error.startswith("interrupted")
    resumed = SyncRun.objects.exclude(pk=dead.pk).get(district=district)
    assert resumed.status == SyncRun.Status.SUCCEEDED and resumed.trigger == SyncRun.Trigger.RESUME
    assert not SyncRequest.objects.filter(district=district).exists()


def test_the_sweep_leaves_a_live_sync_alone(district):
    running = SyncRun.objects.create(district=district, kind=SyncRun.Kind.FULL, trigger="nightly")
    SyncRequest.objects.create(district=district, due_at=timezone.now() - timedelta(hours=1))

    with held_by_another_process(running):
        outcome = tasks.recover_syncs.delay().get()

    assert outcome == {"resumed": [], "resent": [], "dropped": [], "connected": []}
    running.refresh_from_db()
    assert running.status == SyncRun.Status.RUNNING


def test_the_sweep_does_not_resume_a_district_that_keeps_killing_its_worker(district, settings):
    for _ in range(tasks.SYNC_MAX_INTERRUPTIONS - 1):
        SyncRun.objects.create(
            district=district,
            kind="full",
            status="failed",
            finished_at=timezone.now(),
            cause=SyncRun.Cause.INTERRUPTED,
            error="interrupted: (...)",
        )
    dead_run(district, settings)

    outcome = tasks.recover_syncs.delay().get()

    assert outcome["resumed"] == []
    assert not SyncRun.objects.filter(district=district, status=SyncRun.Status.SUCCEEDED).exists()


def test_the_sweep_resends_a_requested_sync_whose_message_was_lost(
    district, enqueued, settings, django_capture_on_commit_callbacks
):
    asked = timezone.now() - timedelta(hours=1)
    District.objects.filter(pk=district.pk).update(status_changed_at=asked - timedelta(days=30))
    SyncRun.objects.create(
        district=district, kind="full", status=SyncRun.Status.SUCCEEDED, started_at=asked - timedelta(days=1)
    )  # it synced last night
    SyncRequest.objects.create(
        district=district, kind="auto", trigger="nightly", requested_at=asked, due_at=asked
    )

    with django_capture_on_commit_callbacks(execute=True):
        outcome = tasks.recover_syncs.delay().get()

    assert outcome["resent"] == [district.pk]
    assert enqueued == [
        {
            "district_id": district.pk,
            "kind": "auto",
            "trigger": "nightly",
            "requested_at": asked.isoformat(),
            "countdown": 0,
        }
    ]
    request = SyncRequest.objects.get(district=district)
    assert request.resent == 1 and request.due_at > timezone.now()
    # Not again before the grace period has passed once more.
    assert tasks.recover_syncs.delay().get()["resent"] == []
    assert len(enqueued) == 1
    # Resent too often: dropped, and said so.
    SyncRequest.objects.filter(pk=request.pk).update(resent=settings.SYNC_RECOVERY_MAX_RESENDS, due_at=asked)
    assert tasks.recover_syncs.delay().get()["dropped"] == [district.pk]
    assert not SyncRequest.objects.filter(district=district).exists()


def test_the_sweep_syncs_a_district_connected_since_its_last_run(
    district, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        first = tasks.recover_syncs.delay().get()  # discovered, never synced
        again = tasks.recover_syncs.delay().get()

    assert first["connected"] == [district.pk] and again["connected"] == []
    run = SyncRun.objects.get(district=district)
    assert run.status == SyncRun.Status.SUCCEEDED and run.trigger == SyncRun.Trigger.CONNECTED
    # Disconnected mid-way (its run failed for good), then reconnected by discovery.
    SyncRun.objects.filter(pk=run.pk).update(status=SyncRun.Status.FAILED, retryable=False)
    for status in (DistrictStatus.DISCONNECTED, DistrictStatus.CONNECTED):
        district_services.set_status(district=district, status=status, actor_label="test")

    with django_capture_on_commit_callbacks(execute=True):
        assert tasks.recover_syncs.delay().get()["connected"] == [district.pk]

    latest = SyncRun.objects.filter(district=district).order_by("-pk").first()
    assert latest.status == SyncRun.Status.SUCCEEDED and latest.pk != run.pk


# --- the retention purge -------------------------------------------------------------------------


def _disconnect(district, days_ago):
    district_services.set_status(
        district=district, status=DistrictStatus.DISCONNECTED, actor_label="test", reason="stopped sharing"
    )
    District.objects.filter(pk=district.pk).update(departed_at=timezone.now() - timedelta(days=days_ago))


def test_purge_deletes_rosters_only_after_the_retention_window_and_only_once(sandbox_app, settings):
    settings.ROSTER_RETENTION_DAYS = 60
    expired, recent, connected = (
        connected_district(601, students=20),
        connected_district(602, students=20),
        connected_district(603, students=20),
    )
    for district in (expired, recent, connected):
        assert tasks.sync_district.delay(district_id=district.pk, kind="full").get()["status"] == "succeeded"
    _disconnect(expired, days_ago=61)
    _disconnect(recent, days_ago=59)

    result = tasks.purge_expired_rosters.delay().get()

    assert result == {"purged": [expired.pk], "failed": []}
    assert not Person.objects.filter(district=expired).exists()
    assert not Section.objects.filter(district=expired).exists()
    assert Person.objects.filter(district=recent).count() > 20
    assert Person.objects.filter(district=connected).count() > 20
    audits = DistrictAudit.objects.filter(district=expired, action=DistrictAudit.Action.PURGED)
    assert audits.count() == 1 and audits.get().actor_label == "retention"

    # Idempotent: the next night finds nothing to do, and writes no second audit.
    assert tasks.purge_expired_rosters.delay().get() == {"purged": [], "failed": []}
    assert audits.count() == 1

    # The window passes for the second district too.
    District.objects.filter(pk=recent.pk).update(departed_at=timezone.now() - timedelta(days=61))
    assert tasks.purge_expired_rosters.delay().get()["purged"] == [recent.pk]
    assert not Person.objects.filter(district=recent).exists()


def test_a_district_that_reconnected_is_not_purged(sandbox_app, settings):
    district = connected_district(701, students=20)
    tasks.sync_district.delay(district_id=district.pk, kind="full").get()
    _disconnect(district, days_ago=90)
    district_services.set_status(
        district=district, status=DistrictStatus.CONNECTED, actor_label="test", reason="shared again"
    )

    assert tasks.purge_expired_rosters.delay().get()["purged"] == []
    assert Person.objects.filter(district=district).exists()
