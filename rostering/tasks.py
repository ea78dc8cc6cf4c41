"""Celery tasks for roster syncs: thin, they take IDs and call one service.

``sync_district``
    One district's sync through ``rostering.services.sync.run_sync``. ``acks_late`` (a worker
    that dies mid-sync leaves the message to be redelivered; the engine resumes from its
    checkpoint), soft/hard time limits from settings that stay below the Redis visibility
    timeout (checked at import), one sync per district (the engine's database lock answers a
    second one with a ``skipped`` run: the task reports it and does not retry; so does a
    district that is not connected or has syncs switched off).

    Retries: ``run_sync`` never raises for Clever's problems; it returns a ``failed`` run. A
    failed run is retried only when its cause is one that waiting can fix (Clever's 429 or
    5xx other than 501, no answer at all, a dropped database connection, the soft time limit):
    the task raises ``RetryableSync`` and Celery retries it with exponential backoff and full
    jitter (``SYNC_RETRY_BACKOFF`` doubling up to ``SYNC_RETRY_BACKOFF_MAX``), at most
    ``SYNC_TASK_MAX_RETRIES`` times; then the failed run stands and the next night tries again.
    A 400/401/403/404/413/501, a broken answer, a refused token or a held run is final:
    retrying cannot help (a 401 already made the engine look the token up again). A retry is a
    new run that resumes the failed full run's checkpoint (the engine's "auto"/"full"), so
    pages already staged are not fetched again. The longest backoff plus the hard time limit
    stays below the visibility timeout, so a waiting retry is never delivered twice. Eager
    (no Redis: the demo) never retries: it would run again at once inside the caller.

    A worker killed mid-sync (``task_reject_on_worker_lost``): the redelivered message finds
    the dead run still "running" and is skipped, so it retries once that run's heartbeat is
    stale (``SYNC_STALE_AFTER_SECONDS`` + 60 s), when the engine marks it interrupted and
    resumes it. Poison-message guard: a redelivered message for a district with
    ``SYNC_MAX_INTERRUPTIONS`` interrupted runs in the last 24 hours is dropped (logged).

``nightly_sync``
    Celery beat's dispatcher: discovers districts first (failures logged, not fatal), then
    enqueues ``sync_district`` for every connected, sync-enabled district after the commit,
    ``SYNC_STAGGER_SECONDS`` apart (compressed if the whole fan-out would stretch past half
    the visibility timeout: a countdown longer than it makes Redis deliver the task twice).

``purge_disconnected_districts``
    Deletes the roster of districts disconnected more than ``ROSTER_RETENTION_DAYS`` ago
    (``purge_district_roster``: rows deleted, users deactivated, audited). Idempotent: a
    district already purged since it disconnected is not purged (nor audited) again.

Without ``REDIS_URL`` these run eagerly in-process (settings); with it, on a real worker.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from celery import shared_task
from celery.exceptions import MaxRetriesExceededError
from django.conf import settings
from django.db import InterfaceError, OperationalError
from django.db.models import Exists, OuterRef
from django.utils import timezone

from districts import services as district_services
from districts.models import District, DistrictAudit, DistrictStatus
from districts.selectors import districts_needing_sync

from .models import SyncRun
from .selectors import running_sync
from .services.sync import INTERRUPTED, purge_district_roster, run_sync

logger = logging.getLogger(__name__)

# Retries of a failed sync whose cause is temporary: at most 3, 2, 4, 8... minutes apart
# (each a random delay between zero and that, Celery's full jitter), never above 15 minutes.
SYNC_TASK_MAX_RETRIES = 3
SYNC_RETRY_BACKOFF = 120
SYNC_RETRY_BACKOFF_MAX = 15 * 60

# Runs that died mid-way (worker killed) are marked with this prefix by the engine.
INTERRUPTED_PREFIX = INTERRUPTED.split(":", 1)[0]
# Poison-message guard: a redelivered sync of a district with this many interrupted runs in
# the last 24 hours is not started again (task_reject_on_worker_lost would loop forever).
SYNC_MAX_INTERRUPTIONS = 3

if not (
    settings.CELERY_TASK_SOFT_TIME_LIMIT
    < settings.CELERY_TASK_TIME_LIMIT
    < settings.CELERY_VISIBILITY_TIMEOUT - SYNC_RETRY_BACKOFF_MAX
):
    raise ValueError(
        "CELERY_TASK_SOFT_TIME_LIMIT < CELERY_TASK_TIME_LIMIT < CELERY_VISIBILITY_TIMEOUT - "
        f"{SYNC_RETRY_BACKOFF_MAX}s is required, or Redis hands a running sync to a second worker"
    )


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
    """Runs of the district that died without finishing (no heartbeat) in the last day."""
    since = timezone.now() - timedelta(hours=24)
    return SyncRun.objects.filter(
        district=district, status=SyncRun.Status.FAILED, error__startswith=INTERRUPTED_PREFIX,
        started_at__gte=since,
    ).count()


@shared_task(
    bind=True,
    acks_late=True,
    soft_time_limit=settings.CELERY_TASK_SOFT_TIME_LIMIT,
    time_limit=settings.CELERY_TASK_TIME_LIMIT,
    autoretry_for=(RetryableSync, OperationalError, InterfaceError),
    max_retries=SYNC_TASK_MAX_RETRIES,
    retry_backoff=SYNC_RETRY_BACKOFF,
    retry_backoff_max=SYNC_RETRY_BACKOFF_MAX,
    retry_jitter=True,
)
def sync_district(self, district_id: int, kind: str = "auto", trigger: str = SyncRun.Trigger.NIGHTLY) -> dict:
    """Sync one district (our ``District`` pk); returns a summary of the run (no PII)."""
    district = District.objects.filter(pk=district_id).first()
    if district is None:
        logger.warning("sync_district: district %s no longer exists", district_id)
        return {"district": district_id, "run": None, "status": "missing", "kind": kind, "error": None}
    redelivered = bool((self.request.delivery_info or {}).get("redelivered"))
    if redelivered and _recent_interruptions(district) >= SYNC_MAX_INTERRUPTIONS:
        # Poison-message guard: this sync keeps killing its worker; stop redelivering it.
        logger.error("sync_district: district %s: %s interrupted runs in 24 hours; not retried "
                     "(see the district's sync history)", district_id, SYNC_MAX_INTERRUPTIONS)
        return {"district": district_id, "run": None, "status": "abandoned", "kind": kind,
                "error": "the sync was interrupted too often"}
    run = run_sync(district=district, kind=kind, trigger=trigger)
    if run.status == SyncRun.Status.SKIPPED:
        if redelivered and running_sync(district) is not None:
            # This message came back after its worker died: the "running" run is most likely
            # its own dead one. Come back once its heartbeat is stale: the engine then marks it
            # interrupted and resumes from its checkpoint.
            try:
                raise self.retry(countdown=settings.SYNC_STALE_AFTER_SECONDS + 60)
            except MaxRetriesExceededError:
                pass
        # Otherwise another sync is doing the work, or the district is not syncable now.
        logger.info("sync_district: district %s skipped: %s", district_id, run.error)
        return _summary(run)
    if failure_is_retryable(run):
        attempt = self.request.retries + 1
        if self.request.is_eager:
            # In-process (no Redis): a retry would run at once, inside the caller (an admin
            # request); the failed run stands and the next sync resumes it.
            logger.warning("sync_district: district %s run %s failed (temporary); not retried "
                           "in eager mode", district_id, run.pk)
        elif attempt <= SYNC_TASK_MAX_RETRIES:
            logger.warning("sync_district: district %s run %s failed (temporary); retry %s of %s",
                           district_id, run.pk, attempt, SYNC_TASK_MAX_RETRIES)
            raise RetryableSync(f"run {run.pk} of district {district_id} failed: retryable")
        logger.error("sync_district: district %s run %s failed after %s retries",
                     district_id, run.pk, SYNC_TASK_MAX_RETRIES)
    return _summary(run, attempt=self.request.retries + 1)


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
    """Discover districts, then enqueue one staggered sync per connected, sync-enabled district
    (after the commit). Returns how many syncs were enqueued."""
    try:
        district_services.discover_districts()
    except Exception:
        # Clever's /oauth/tokens may be down tonight: sync the districts we already know.
        logger.exception("nightly_sync: district discovery failed; syncing known districts")
    district_ids = list(districts_needing_sync().values_list("pk", flat=True))
    for district_id, countdown in zip(district_ids, nightly_countdowns(len(district_ids)), strict=True):
        sync_district.apply_async_on_commit(
            kwargs={"district_id": district_id, "kind": "auto", "trigger": SyncRun.Trigger.NIGHTLY},
            countdown=countdown,
        )
    logger.info("nightly_sync: %s district syncs enqueued", len(district_ids))
    return len(district_ids)


def districts_due_for_purge():
    """Districts disconnected longer than the retention window and not purged since."""
    cutoff = timezone.now() - timedelta(days=settings.ROSTER_RETENTION_DAYS)
    purged_since = DistrictAudit.objects.filter(
        district=OuterRef("pk"),
        action=DistrictAudit.Action.PURGED,
        created_at__gte=OuterRef("disconnected_at"),
    )
    return (
        District.objects.filter(status=DistrictStatus.DISCONNECTED, disconnected_at__lt=cutoff)
        .exclude(Exists(purged_since))
        .order_by("pk")
    )


@shared_task(acks_late=True, soft_time_limit=settings.CELERY_TASK_SOFT_TIME_LIMIT,
             time_limit=settings.CELERY_TASK_TIME_LIMIT)
def purge_disconnected_districts() -> dict:
    """Delete the roster of every district past the retention window; one failure does not stop
    the others. Returns ``{"purged": [district pks], "failed": [district pks]}``."""
    purged: list[int] = []
    failed: list[int] = []
    for district in districts_due_for_purge():
        try:
            purge_district_roster(district=district, actor_label="retention")
        except Exception:
            logger.exception("purge_disconnected_districts: district %s failed", district.pk)
            failed.append(district.pk)
        else:
            purged.append(district.pk)
    logger.info("purge_disconnected_districts: %s purged, %s failed", len(purged), len(failed))
    return {"purged": purged, "failed": failed}
