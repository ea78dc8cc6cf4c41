"""Syncs owed to districts (``SyncRequest``): recorded when a sync is asked for, settled by the
run that answers, found again by the recovery sweep when the Celery message that should have
run it was lost (a Redis without persistence, a worker that died holding it, a retry whose
countdown was waiting in a worker).

A request is *answered* by any run of the district that started after it was made and ended
applied, held or rejected, or failed for good (a cause waiting cannot fix: the next night
tries again). A run that failed for a temporary cause leaves it owed, due once the task's
longest backoff has passed.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from districts.models import District

from ..models import SyncRequest, SyncRun

ANSWERED = (SyncRun.Status.SUCCEEDED, SyncRun.Status.HELD, SyncRun.Status.REJECTED)


@transaction.atomic
def record(
    *, district: District, kind: str, trigger: str, countdown: float = 0, now: datetime | None = None
) -> SyncRequest:
    """Note that a sync of ``district`` was asked for, to start within ``countdown`` seconds
    (a newer request replaces an older one: it asks for data at least as fresh)."""
    now = now or timezone.now()
    request, _ = SyncRequest.objects.update_or_create(
        district=district,
        defaults={
            "kind": kind,
            "trigger": trigger,
            "requested_at": now,
            "due_at": now + timedelta(seconds=countdown),
            "resent": 0,
        },
    )
    return request


def answered_since(district_id: int, moment: datetime) -> SyncRun | None:
    """A run of the district that started at or after ``moment`` and answered a sync asked
    for then (applied, held or rejected), if any."""
    return (
        SyncRun.objects.filter(district_id=district_id, started_at__gte=moment, status__in=ANSWERED)
        .order_by("-id")
        .first()
    )


def settle(*, run: SyncRun) -> None:
    """The run answered what was asked before it started: forget the request."""
    SyncRequest.objects.filter(district_id=run.district_id, requested_at__lte=run.started_at).delete()


def postpone(*, district_id: int, seconds: float, now: datetime | None = None) -> None:
    """A retry of the district's sync is waiting (at most ``seconds``): due after it."""
    now = now or timezone.now()
    SyncRequest.objects.filter(district_id=district_id).update(due_at=now + timedelta(seconds=seconds))


def overdue(*, grace: float, now: datetime | None = None):
    """Requests that should have started more than ``grace`` seconds ago, oldest first."""
    now = now or timezone.now()
    return (
        SyncRequest.objects.select_related("district")
        .filter(due_at__lt=now - timedelta(seconds=grace))
        .order_by("due_at")
    )


def mark_resent(*, request: SyncRequest, due_in: float, now: datetime | None = None) -> None:
    now = now or timezone.now()
    SyncRequest.objects.filter(pk=request.pk).update(
        resent=request.resent + 1, due_at=now + timedelta(seconds=due_in)
    )


def drop(*, request: SyncRequest) -> None:
    SyncRequest.objects.filter(pk=request.pk).delete()
