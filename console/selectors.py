"""What the dashboard shows: what needs attention, and the fleet of districts (reads only)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db.models import OuterRef, Subquery
from django.urls import reverse
from django.utils import timezone
from django.utils.http import urlencode

from districts.models import District, DistrictStatus
from lms.models import CleverAssignment
from matching.linking import selectors as linking_selectors
from matching.models import DistrictLinkRequest, MatchStatus, PersonMatch
from rostering.models import ChangeHold, SyncRequest, SyncRun

# The nightly dispatcher runs once a day: later than this after the last one, it did not run.
NIGHTLY_LATE_AFTER = timedelta(hours=26)
# A district that stopped sharing within this window is news (often a mistake in Clever, and
# its people cannot sign in); after it, a known state.
DEPARTED_RECENTLY = timedelta(days=7)


@dataclass(frozen=True)
class Attention:
    """One thing support should look at: ``count`` of them, in words, linking to the list."""

    key: str
    label: str
    count: int
    url: str
    hint: str = ""
    # "alert": something is broken or waits for a person; "info": worth a look.
    level: str = "alert"


def _changelist(model, **filters) -> str:
    url = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")
    return url + ("?" + urlencode(filters) if filters else "")


def _last_run_status():
    runs = (
        SyncRun.objects.filter(district=OuterRef("pk"))
        .exclude(status=SyncRun.Status.SKIPPED)
        .order_by("-started_at", "-id")
    )
    return Subquery(runs.values("status")[:1])


def nightly_overdue(now=None) -> str:
    """Why the nightly sync looks like it did not run ("" when it did, or nothing to sync)."""
    now = now or timezone.now()
    if not District.objects.syncable().exists():
        return ""
    last = (
        SyncRun.objects.filter(trigger=SyncRun.Trigger.NIGHTLY)
        .order_by("-started_at")
        .values_list("started_at", flat=True)
        .first()
    )
    if last is None:
        # A new installation: nothing is late before the first night has passed.
        first = District.objects.order_by("discovered_at").values_list("discovered_at", flat=True).first()
        return "no nightly sync has run yet" if first and now - first > NIGHTLY_LATE_AFTER else ""
    if now - last > NIGHTLY_LATE_AFTER:
        return f"the last nightly sync started {timezone.localtime(last):%d %b %H:%M}"
    return ""


def _failing_district_count() -> int:
    return (
        District.objects.filter(status=DistrictStatus.CONNECTED)
        .annotate(last_status=_last_run_status())
        .filter(last_status=SyncRun.Status.FAILED)
        .count()
    )


def _district_access_items(now) -> list[Attention]:
    """Districts that took the app's access away: revoked, stopped sharing this week, earlier."""
    departed = District.objects.filter(status=DistrictStatus.DISCONNECTED)
    recently = now - DEPARTED_RECENTLY
    return [
        Attention(
            "revoked",
            "districts revoked the app",
            District.objects.filter(status=DistrictStatus.REVOKED).count(),
            _changelist(District, status__exact="revoked"),
            "Clever refuses the token: the district must authorize the app again in Clever.",
        ),
        Attention(
            "departed_recently",
            "districts stopped sharing this week",
            departed.filter(departed_at__gte=recently).count(),
            _changelist(
                District,
                status__exact="disconnected",
                departed_at__gte=recently.replace(microsecond=0).isoformat(),
            ),
            "Their people can no longer sign in: ask the district whether it meant to "
            "(it re-authorizes the app in Clever to come back).",
        ),
        Attention(
            "disconnected",
            "districts stopped sharing earlier",
            departed.exclude(departed_at__gte=recently).count(),
            _changelist(District, status__exact="disconnected"),
            "Archived; purged after the retention window unless they share again.",
            "info",
        ),
    ]


def _matching_items() -> list[Attention]:
    """Decisions only support can make: who is who, and which district is whose."""
    return [
        Attention(
            "review",
            "people wait in the review queue",
            PersonMatch.objects.filter(status=MatchStatus.PENDING).count(),
            _changelist(PersonMatch, status__exact="pending"),
            "The matcher was not sure: decide who is who.",
        ),
        Attention(
            "link_requests",
            "district link requests wait for support",
            linking_selectors.pending_waiting_for(
                DistrictLinkRequest.objects.all(), linking_selectors.Waiting.SUPPORT
            ).count(),
            _changelist(DistrictLinkRequest, waiting_for="support"),
            "An organization asked support to link a district.",
        ),
    ]


def _nightly_item(now) -> Attention | None:
    late = nightly_overdue(now)
    if not late:
        return None
    return Attention(
        "nightly",
        f"The nightly sync did not run: {late}",
        1,
        _changelist(SyncRun, trigger__exact="nightly"),
        "Is Celery beat running (exactly one)?",
    )


def attention(now=None) -> list[Attention]:
    """Everything that needs a person now, most urgent first; empty when all is well."""
    now = now or timezone.now()
    grace = timedelta(seconds=settings.SYNC_RECOVERY_GRACE_SECONDS)
    items = [
        Attention(
            "holds",
            "held syncs wait for approval",
            ChangeHold.objects.filter(status=ChangeHold.Status.PENDING).count(),
            _changelist(ChangeHold, status__exact="pending"),
            "A sync would remove or change more than the guard allows: approve or reject it.",
        ),
        Attention(
            "failing",
            "districts whose last sync failed",
            _failing_district_count(),
            _changelist(SyncRun, status__exact="failed"),
            "Each failed run says why and what happens next.",
        ),
        *_district_access_items(now),
        Attention(
            "overdue",
            "requested syncs are overdue",
            SyncRequest.objects.filter(due_at__lt=now - grace).count(),
            _changelist(District, status__exact="connected"),
            "Asked for but not started: is a worker running?",
        ),
        *_matching_items(),
        Attention(
            "lms_unknown",
            "LMS assignments in an unknown state",
            CleverAssignment.objects.filter(state=CleverAssignment.State.UNKNOWN).count(),
            _changelist(CleverAssignment, state__exact="unknown"),
            "Sent to the LMS, answer lost: check whether it exists there.",
        ),
    ]
    nightly = _nightly_item(now)
    if nightly:
        items.insert(0, nightly)
    return [item for item in items if item.count]


def fleet(limit: int = 50):
    """The districts support looks after, worst first: failing, revoked, held, then by name."""
    order: dict[str, int] = {
        DistrictStatus.REVOKED: 0,
        DistrictStatus.CONNECTED: 1,
        DistrictStatus.PAUSED: 2,
        DistrictStatus.DISCONNECTED: 3,
    }
    districts = list(
        District.objects.select_related("organization").annotate(last_status=_last_run_status())[:500]
    )
    districts.sort(
        key=lambda d: (d.last_status != SyncRun.Status.FAILED, order.get(d.status, 9), d.name.lower())
    )
    return districts[:limit]


def recent_runs(district_ids, per_district: int = 30) -> dict[int, list[SyncRun]]:
    """{district pk: its last ``per_district`` runs, oldest first} (skipped runs left out)."""
    found: dict[int, list[SyncRun]] = {}
    for district_id in district_ids:
        runs = list(
            SyncRun.objects.filter(district_id=district_id)
            .exclude(status=SyncRun.Status.SKIPPED)
            .only("pk", "status", "started_at", "finished_at", "duration_seconds", "counts", "district_id")
            .order_by("-started_at", "-id")[:per_district]
        )
        found[district_id] = runs[::-1]
    return found


def runs_per_day(days: int = 14, now=None) -> list[dict]:
    """[{"day": date, "succeeded": n, "held": n, "failed": n}] for the last ``days`` days."""
    now = timezone.localtime(now or timezone.now())
    start = (now - timedelta(days=days - 1)).replace(hour=0, minute=0, second=0, microsecond=0)
    buckets = {
        (start + timedelta(days=i)).date(): {"succeeded": 0, "held": 0, "failed": 0} for i in range(days)
    }
    for status, started in (
        SyncRun.objects.filter(started_at__gte=start)
        .filter(status__in=["succeeded", "held", "failed"])
        .values_list("status", "started_at")
    ):
        day = timezone.localtime(started).date()
        if day in buckets:
            buckets[day][status] += 1
    return [{"day": day, **counts} for day, counts in sorted(buckets.items())]
