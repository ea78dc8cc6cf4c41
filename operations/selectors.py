"""The rules the health checks and the hourly alert check share (reads only).

**The nightly ran.** The nightly dispatcher records itself (``rostering.events.NightlyDispatched``,
kept as the ``nightly_dispatch`` heartbeat, even on a night with nothing to sync); a nightly
``SyncRun`` counts too (an installation upgraded before the heartbeat existed). Later than
``HEALTH_NIGHTLY_MAX_AGE_HOURS`` (26: a day and a margin) after the last one, it did not run. A
new installation is not late before its first district has been known that long.

**A district keeps failing.** Per district that is expected to sync (connected, syncs on), the
nights (local dates) with a failed nightly run since its last run that worked (succeeded, or
reached the guard: held or rejected), looking back ``HEALTH_MAX_FAILED_NIGHTS`` + 2 days. More
than ``HEALTH_MAX_FAILED_NIGHTS`` such nights in a row is red. One query, whatever the number
of districts.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Count, F, OuterRef, Q, Subquery
from django.db.models.functions import TruncDate
from django.utils import timezone

from districts.models import District
from rostering.models import SyncRun

from .models import Heartbeat

NIGHTLY_HEARTBEAT = "nightly_dispatch"
# A run that got this far worked: Clever answered and the guard weighed the changes.
WORKED = (SyncRun.Status.SUCCEEDED, SyncRun.Status.HELD, SyncRun.Status.REJECTED)


def last_nightly_dispatch() -> datetime | None:
    """When the nightly dispatcher last ran (its heartbeat, or the latest nightly run)."""
    beat = Heartbeat.objects.filter(name=NIGHTLY_HEARTBEAT).values_list("at", flat=True).first()
    run = (
        SyncRun.objects.filter(trigger=SyncRun.Trigger.NIGHTLY)
        .order_by("-started_at")
        .values_list("started_at", flat=True)
        .first()
    )
    moments = [moment for moment in (beat, run) if moment is not None]
    return max(moments) if moments else None


def _hours(delta: timedelta) -> int:
    return int(delta.total_seconds() // 3600)


def nightly_late(now: datetime | None = None) -> str:
    """Why the nightly sync looks like it did not run, in words ("" when it ran in time, or
    when nothing is expected yet)."""
    now = now or timezone.now()
    limit = timedelta(hours=settings.HEALTH_NIGHTLY_MAX_AGE_HOURS)
    last = last_nightly_dispatch()
    if last is None:
        first = District.objects.order_by("discovered_at").values_list("discovered_at", flat=True).first()
        if first is None or now - first <= limit:
            return ""
        return f"no nightly sync has run since the first district was found, {_hours(now - first)} hours ago"
    if now - last > limit:
        return (
            f"the last nightly sync started {_hours(now - last)} hours ago "
            f"(more than {settings.HEALTH_NIGHTLY_MAX_AGE_HOURS})"
        )
    return ""


def districts_failing_nights(more_than: int, now: datetime | None = None) -> int:
    """How many districts expected to sync failed more than ``more_than`` nights in a row."""
    now = now or timezone.now()
    last_worked = (
        SyncRun.objects.filter(district=OuterRef("district"), status__in=WORKED)
        .order_by("-started_at")
        .values("started_at")[:1]
    )
    failed = (
        SyncRun.objects.filter(
            district__in=District.objects.syncable(),
            trigger=SyncRun.Trigger.NIGHTLY,
            status=SyncRun.Status.FAILED,
            started_at__gte=now - timedelta(days=more_than + 2),
        )
        .annotate(last_worked=Subquery(last_worked))
        .filter(Q(last_worked__isnull=True) | Q(started_at__gt=F("last_worked")))
        .values("district")
        .annotate(nights=Count(TruncDate("started_at"), distinct=True))
        .filter(nights__gt=more_than)
    )
    return failed.count()
