"""Celery tasks for roster syncs: thin, they take IDs and call one service.

``request_sync`` (not a task) is how anything asks for a sync: it records a ``SyncRequest``
(``services.requests``) and sends ``sync_district`` after the commit. The request lives in the
database, so a lost message is found again by the recovery sweep.

``sync_district``
    One district's sync through ``rostering.services.sync.run_sync``. ``acks_late`` (a worker
    that dies mid-sync leaves the message to be redelivered), soft/hard time limits from
    settings that stay below the Redis visibility timeout (checked at import), one sync per
    district (the engine answers a second one with a ``skipped`` run: the task reports it and
    does not retry; so does a district that is not connected or has syncs switched off). A
    message whose request a run that started after it already answered (a duplicate, a
    redelivery, a resend by the sweep) reports ``done`` and syncs nothing.

    Retries: ``run_sync`` never raises for Clever's problems; it returns a ``failed`` run. A
    failed run is retried only when its cause is one that waiting can fix (Clever's 429 or
    5xx other than 501, no answer at all, a dropped database connection, Redis unreachable, the
    soft time limit): the task retries with exponential backoff and full jitter
    (``SYNC_RETRY_BACKOFF`` doubling up to ``SYNC_RETRY_BACKOFF_MAX``), at most
    ``SYNC_TASK_MAX_RETRIES`` times; then the failed run stands and the next night tries
    again; a failure no retry follows is announced once (``events.SyncFailedFinally``).
    The request is postponed to when the retry is due: if the waiting retry is lost
    (its worker killed), the sweep sends it again a grace period later. A database that is down when the run's
    end is written makes ``run_sync`` raise: Celery retries that too, and the next attempt
    finds the run abandoned (the engine's ``liveness``) and resumes it at once. A 400/401/403/
    404/413/501, a refused token or a held run is final: retrying cannot help. A retry is a
    new run that resumes the failed full run's checkpoint. Eager (no Redis: the demo) never
    retries: it would run again at once inside the caller.

    Poison-message guard: a redelivered message for a district with ``SYNC_MAX_INTERRUPTIONS``
    interrupted runs in the last 24 hours is dropped (logged), and the sweep stops resuming it.

``recover_syncs``
    Celery beat's recovery sweep, every ``SYNC_RECOVERY_INTERVAL_SECONDS`` (2 minutes by
    default): a running run whose process is gone (killed worker, lost database connection)
    is marked interrupted and its district's sync is requested again (it resumes from the
    checkpoint), so a killed worker's sync runs again within minutes, not when Redis's
    visibility timeout (4 hours) redelivers its message; and a request due more than
    ``SYNC_RECOVERY_GRACE_SECONDS`` ago with no run since (its message lost) is sent again,
    at most ``SYNC_RECOVERY_MAX_RESENDS`` times; and a district connected (discovered,
    reconnected, unpaused) since its last run gets its sync now rather than at night (a
    district disconnected mid-sync and reconnected is not left with a failed run until then).

``nightly_sync``
    Celery beat's dispatcher: discovers districts first (failures logged, not fatal), then
    requests a sync of every connected, sync-enabled district after the commit, the largest
    first (``selectors.largest_first``: a district never synced, then by live people), all at
    once by default: the sync workers (prefetch 1) take them one by one, so the long syncs
    start while every worker is free and the small ones fill in around them (1,000 districts:
    docs/performance.md). ``SYNC_STAGGER_SECONDS`` (0) spreads the starts if a deployment wants
    that (compressed if the fan-out would stretch past half the visibility timeout: a countdown
    longer than it makes Redis deliver the task twice). Announces that it ran
    (``events.NightlyDispatched``, even when nothing was due).

``poll_events``
    Celery beat's event poll dispatcher, every ``SYNC_EVENTS_POLL_SECONDS`` (5 minutes; 0: no
    polling): one query for the districts whose events can be polled
    (``selectors.districts_to_poll``), then one ``poll_district_events`` each, after the commit,
    expiring when the next round is sent (a round that workers could not start in time is
    dropped, not piled up).

``poll_district_events``
    One district's poll (``services.polling.poll_events``: one request to ``/events``; a
    sync through the engine only when events arrived). A stale cursor or events switched off
    ask for a sync (``request_sync``, which falls back to a full one); a run that failed for a
    reason waiting cannot fix is announced once (``events.SyncFailedFinally``); anything else
    that failed waits for the next poll. On the ``sync`` queue: it may run a sync.

``purge_expired_rosters``
    Purges the districts that stopped sharing (disconnected or revoked) more than
    ``ROSTER_RETENTION_DAYS`` ago, and Library-only districts none of whose teachers signed in
    for as long (``lifecycle.purge_district_roster``: docs/data-lifecycle.md). Idempotent: a
    district already purged since its clock started is not purged (nor audited) again.

Without ``REDIS_URL`` these run eagerly in-process (settings); with it, on a real worker.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from celery import shared_task
from celery.utils.time import get_exponential_backoff_interval
from django.conf import settings
from django.db import InterfaceError, OperationalError, transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from core import events
from districts import services as district_services
from districts.models import District
from districts.selectors import districts_needing_sync

from .events import NightlyDispatched, SyncFailedFinally
from .models import SyncRun
from .selectors import (
    districts_due_for_purge,
    districts_to_poll,
    districts_unsynced_since_connected,
    largest_first,
    running_sync,
)
from .services import liveness, polling
from .services import requests as sync_requests
from .services.lifecycle import purge_district_roster
from .services.sync import (
    interrupt_abandoned_runs,
    run_sync,
)

logger = logging.getLogger(__name__)

# Retries of a failed sync whose cause is temporary: at most 3, 2, 4, 8... minutes apart
# (each a random delay between zero and that, Celery's full jitter), never above 15 minutes.
SYNC_TASK_MAX_RETRIES = 3
SYNC_RETRY_BACKOFF = 120
SYNC_RETRY_BACKOFF_MAX = 15 * 60

# Poison-message guard: a redelivered sync of a district with this many interrupted runs in
# the last 24 hours is not started again (task_reject_on_worker_lost would loop forever).
SYNC_MAX_INTERRUPTIONS = 3

# CELERY_TASK_SOFT_TIME_LIMIT < CELERY_TASK_TIME_LIMIT < CELERY_VISIBILITY_TIMEOUT -
# SYNC_RETRY_BACKOFF_MAX, or Redis hands a running sync to a second worker: rostering/checks.py.


class RetryableSync(Exception):
    """A sync failed for a reason that waiting can fix; Celery retries the task."""


def failure_is_retryable(run: SyncRun) -> bool:
    """Whether a failed run's cause is temporary (the engine records it: ``SyncRun.retryable``)."""
    return run.status == SyncRun.Status.FAILED and run.retryable


def _summary(run: SyncRun, **extra) -> dict:
    return {
        "district": run.district_id,
        "run": run.pk,
        "status": run.status,
        "kind": run.kind,
        "error": run.error or None,
        **extra,
    }


def _recent_interruptions(district: District) -> int:
    """Runs of the district that died without finishing in the last day."""
    since = timezone.now() - timedelta(hours=24)
    return SyncRun.objects.filter(
        district=district,
        status=SyncRun.Status.FAILED,
        cause=SyncRun.Cause.INTERRUPTED,
        started_at__gte=since,
    ).count()


def request_sync(
    *, district: District, kind: str = "auto", trigger: str = SyncRun.Trigger.MANUAL, countdown: float = 0
) -> None:
    """Ask for a sync of ``district``: recorded now, sent to a worker after the commit (to
    start in ``countdown`` seconds)."""
    request = sync_requests.record(district=district, kind=kind, trigger=trigger, countdown=countdown)
    _send(request, countdown=countdown)


def _send(request, *, countdown: float = 0) -> None:
    kwargs = {
        "district_id": request.district_id,
        "kind": request.kind,
        "trigger": request.trigger,
        "requested_at": request.requested_at.isoformat(),
    }
    transaction.on_commit(lambda: sync_district.apply_async(kwargs=kwargs, countdown=countdown))


def _answered_since(district_id: int, requested_at: str | None) -> SyncRun | None:
    """A run that finished the district's sync after it was asked for (nothing left to do)."""
    asked = parse_datetime(requested_at) if requested_at else None
    answer = sync_requests.answered_since(district_id, asked) if asked else None
    if answer is not None:
        logger.info(
            "sync_district: district %s already synced by run %s since it was asked for",
            district_id,
            answer.pk,
        )
    return answer


def _interrupted_too_often(request, district: District) -> bool:
    """Poison-message guard: this sync keeps killing its worker; stop redelivering it."""
    redelivered = bool((request.delivery_info or {}).get("redelivered"))
    if not (redelivered and _recent_interruptions(district) >= SYNC_MAX_INTERRUPTIONS):
        return False
    logger.error(
        "sync_district: district %s: %s interrupted runs in 24 hours; not retried "
        "(see the district's sync history)",
        district.pk,
        SYNC_MAX_INTERRUPTIONS,
    )
    return True


def _settle_skipped(run: SyncRun, district: District) -> dict:
    # Another live sync is doing the work (it settles what was asked before it started),
    # or the district is not syncable now (nothing is owed until it is).
    if running_sync(district) is None:
        sync_requests.settle(run=run)
    logger.info("sync_district: district %s skipped: %s", district.pk, run.error)
    return _summary(run)


def _retry_temporary_failure(task, run: SyncRun, district_id: int, attempt: int) -> None:
    """Raise Celery's retry while retries are left; otherwise log that the failure stands."""
    if not task.request.is_eager and attempt <= SYNC_TASK_MAX_RETRIES:
        countdown = get_exponential_backoff_interval(
            factor=SYNC_RETRY_BACKOFF,
            retries=task.request.retries,
            maximum=SYNC_RETRY_BACKOFF_MAX,
            full_jitter=True,
        )
        logger.warning(
            "sync_district: district %s run %s failed (temporary); retry %s of %s in %ss",
            district_id,
            run.pk,
            attempt,
            SYNC_TASK_MAX_RETRIES,
            countdown,
        )
        # Owed from when the retry is due: if its message is lost, the sweep resends it then.
        sync_requests.postpone(district_id=district_id, seconds=countdown)
        raise task.retry(
            countdown=countdown,
            exc=RetryableSync(f"run {run.pk} of district {district_id} failed: retryable"),
        )
    # In-process (no Redis), a retry would run at once inside the caller (an admin
    # request); otherwise the retries are spent. The failed run stands; the next sync
    # resumes it.
    logger.warning(
        "sync_district: district %s run %s failed (temporary); not retried%s",
        district_id,
        run.pk,
        " in eager mode" if task.request.is_eager else f" after {SYNC_TASK_MAX_RETRIES} retries",
    )


def _announce_final_failure(run: SyncRun | None) -> None:
    """No retry follows this failed run: say so once (``SyncFailedFinally``), not per retry."""
    if run is not None:
        events.publish(SyncFailedFinally(district_id=run.district_id, run_id=run.pk))


@shared_task(
    bind=True,
    acks_late=True,
    soft_time_limit=settings.CELERY_TASK_SOFT_TIME_LIMIT,
    time_limit=settings.CELERY_TASK_TIME_LIMIT,
    # A database out of reach when the run's end is written (a failed run is retried below).
    autoretry_for=(OperationalError, InterfaceError),
    max_retries=SYNC_TASK_MAX_RETRIES,
    retry_backoff=SYNC_RETRY_BACKOFF,
    retry_backoff_max=SYNC_RETRY_BACKOFF_MAX,
    retry_jitter=True,
)
def sync_district(
    self,
    district_id: int,
    kind: str = "auto",
    trigger: str = SyncRun.Trigger.NIGHTLY,
    requested_at: str | None = None,
) -> dict:
    """Sync one district (our ``District`` pk); returns a summary of the run (no PII).
    ``requested_at``: when the sync was asked for (``request_sync``)."""
    district = District.objects.filter(pk=district_id).first()
    if district is None:
        logger.warning("sync_district: district %s no longer exists", district_id)
        return {"district": district_id, "run": None, "status": "missing", "kind": kind, "error": None}
    answer = _answered_since(district_id, requested_at)
    if answer is not None:
        sync_requests.settle(run=answer)
        return {**_summary(answer), "status": "done"}
    if _interrupted_too_often(self.request, district):
        _announce_final_failure(
            SyncRun.objects.filter(district=district, status=SyncRun.Status.FAILED).order_by("-pk").first()
        )
        return {
            "district": district_id,
            "run": None,
            "status": "abandoned",
            "kind": kind,
            "error": "the sync was interrupted too often",
        }
    run = run_sync(district=district, kind=kind, trigger=trigger)
    if run.status == SyncRun.Status.SKIPPED:
        return _settle_skipped(run, district)
    attempt = self.request.retries + 1
    if failure_is_retryable(run):
        _retry_temporary_failure(self, run, district_id, attempt)
    sync_requests.settle(run=run)
    if run.status == SyncRun.Status.FAILED:
        _announce_final_failure(run)
    return _summary(run, attempt=attempt)


@shared_task(acks_late=True, soft_time_limit=240, time_limit=300)
def recover_syncs() -> dict:
    """Resume syncs whose process died, resend syncs whose message was lost, and sync
    districts connected since their last run (see the module's docstring). Returns
    ``{"resumed": [district pks], "resent": [...], "dropped": [...], "connected": [...]}``."""
    resumed: list[int] = []
    for run in interrupt_abandoned_runs():
        district = run.district
        if _recent_interruptions(district) >= SYNC_MAX_INTERRUPTIONS:
            logger.error(
                "recover_syncs: district %s: %s interrupted runs in 24 hours; not "
                "resumed (see the district's sync history)",
                district.pk,
                SYNC_MAX_INTERRUPTIONS,
            )
            _announce_final_failure(run)
            continue
        request_sync(district=district, kind="auto", trigger=SyncRun.Trigger.RESUME)
        resumed.append(district.pk)
    resent: list[int] = []
    dropped: list[int] = []
    grace = settings.SYNC_RECOVERY_GRACE_SECONDS
    now = timezone.now()
    for request in sync_requests.overdue(grace=grace, now=now):
        if request.district_id in resumed:
            continue
        running = running_sync(request.district)
        if running is not None and liveness.is_alive(running, now=now):
            continue
        if request.resent >= settings.SYNC_RECOVERY_MAX_RESENDS:
            logger.error(
                "recover_syncs: district %s: the sync asked for at %s never ran after %s resends; dropped",
                request.district_id,
                request.requested_at.isoformat(),
                request.resent,
            )
            sync_requests.drop(request=request)
            dropped.append(request.district_id)
            continue
        sync_requests.mark_resent(request=request, due_in=grace, now=now)
        _send(request)
        resent.append(request.district_id)
    connected: list[int] = []
    for district in districts_unsynced_since_connected():
        request_sync(district=district, kind="auto", trigger=SyncRun.Trigger.CONNECTED)
        connected.append(district.pk)
    if resumed or resent or dropped:
        logger.warning(
            "recover_syncs: %s resumed, %s resent, %s dropped", len(resumed), len(resent), len(dropped)
        )
    return {"resumed": resumed, "resent": resent, "dropped": dropped, "connected": connected}


def nightly_countdowns(count: int) -> list[int]:
    """Start offsets (seconds) for ``count`` syncs: ``SYNC_STAGGER_SECONDS`` apart, squeezed so
    the last one starts within half the visibility timeout (a longer countdown is redelivered)."""
    if count <= 0:
        return []
    step = float(settings.SYNC_STAGGER_SECONDS)
    ceiling = settings.CELERY_VISIBILITY_TIMEOUT // 2
    if count > 1 and step * (count - 1) > ceiling:
        step = ceiling / (count - 1)
    return [int(i * step) for i in range(count)]


@shared_task(acks_late=True, soft_time_limit=600, time_limit=900)
def nightly_sync() -> int:
    """Discover districts, then request one sync per connected, sync-enabled district, the
    largest first (``selectors.largest_first``; sent after the commit, ``SYNC_STAGGER_SECONDS``
    apart). Returns how many syncs were requested."""
    try:
        district_services.discover_districts()
    except Exception:
        # Clever's /oauth/tokens may be down tonight: sync the districts we already know.
        logger.exception("nightly_sync: district discovery failed; syncing known districts")
    districts = largest_first(list(districts_needing_sync()))
    for district, countdown in zip(districts, nightly_countdowns(len(districts)), strict=True):
        request_sync(district=district, kind="auto", trigger=SyncRun.Trigger.NIGHTLY, countdown=countdown)
    logger.info("nightly_sync: %s district syncs requested", len(districts))
    events.publish(NightlyDispatched(requested=len(districts)))
    return len(districts)


@shared_task(acks_late=True, soft_time_limit=240, time_limit=300)
def poll_events() -> int:
    """Send one ``poll_district_events`` per district whose events can be polled (after the
    commit); returns how many."""
    district_ids = list(districts_to_poll())
    # A poll still queued when the next round is sent is no use any more.
    expires = settings.SYNC_EVENTS_POLL_SECONDS or None
    for district_id in district_ids:
        transaction.on_commit(
            lambda district_id=district_id: poll_district_events.apply_async(
                kwargs={"district_id": district_id}, expires=expires
            )
        )
    return len(district_ids)


@shared_task(
    acks_late=True,
    soft_time_limit=settings.CELERY_TASK_SOFT_TIME_LIMIT,
    time_limit=settings.CELERY_TASK_TIME_LIMIT,
)
def poll_district_events(district_id: int) -> dict:
    """Poll one district's events and apply what arrived (see the module's docstring); returns
    ``{"district", "outcome", "run", "requests", "error"}``."""
    district = District.objects.filter(pk=district_id).first()
    if district is None:
        return {"district": district_id, "outcome": "missing", "run": None, "requests": 0, "error": None}
    result = polling.poll_events(district=district)
    if result.outcome == polling.PollOutcome.EVENTS_UNUSABLE:
        request_sync(district=district, kind="auto", trigger=SyncRun.Trigger.POLL)
    elif result.run is not None and result.run.status == SyncRun.Status.FAILED and not result.run.retryable:
        _announce_final_failure(result.run)
    return {
        "district": district_id,
        "outcome": str(result.outcome),
        "run": result.run.pk if result.run else None,
        "requests": result.requests,
        "error": result.error or None,
    }


@shared_task(
    acks_late=True,
    soft_time_limit=settings.CELERY_TASK_SOFT_TIME_LIMIT,
    time_limit=settings.CELERY_TASK_TIME_LIMIT,
)
def purge_expired_rosters() -> dict:
    """Purge every district past its retention window (``selectors.districts_due_for_purge``);
    one failure does not stop the others. Returns ``{"purged": [district pks], "failed": [district pks]}``."""
    purged: list[int] = []
    failed: list[int] = []
    for district in districts_due_for_purge():
        try:
            purge_district_roster(district=district, actor_label="retention")
        except Exception:
            logger.exception("purge_expired_rosters: district %s failed", district.pk)
            failed.append(district.pk)
        else:
            purged.append(district.pk)
    logger.info("purge_expired_rosters: %s purged, %s failed", len(purged), len(failed))
    return {"purged": purged, "failed": failed}
