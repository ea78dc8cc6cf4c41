"""Reads of the mirror and of sync history (no writes here)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, timedelta
from typing import Any

from django.conf import settings
from django.db.models import Case, Count, Exists, F, OuterRef, Q, Subquery, When
from django.db.models.functions import Coalesce
from django.utils import timezone

from clever.sensitive import DATE_OF_BIRTH
from districts import crypto
from districts.events import DEPARTED
from districts.models import District, DistrictAudit
from districts.selectors import districts_needing_sync

from .models import (
    ChangeHold,
    Course,
    Person,
    School,
    Section,
    SectionMembership,
    SyncRequest,
    SyncRun,
    Term,
)
from .services.mapping import parse_date

TOTAL_KEYS = (
    "schools",
    "users",
    "students",
    "teachers",
    "staff",
    "district_admins",
    "contacts",
    "sections",
    "enrollments",
    "terms",
    "courses",
)


def live_totals(district) -> dict[str, int]:
    """Live (not archived) rows of the district's mirror: ``{"schools", "users", "students",
    "teachers", "staff", "district_admins", "contacts", "sections", "enrollments", "terms",
    "courses"}``. A person counts once in ``users`` and once per role they hold;
    ``enrollments`` are student memberships of live sections."""
    district_id = getattr(district, "pk", district)
    people = Person.objects.filter(district_id=district_id, archived_at__isnull=True).aggregate(
        users=Count("pk"),
        students=Count("pk", filter=Q(is_student=True)),
        teachers=Count("pk", filter=Q(is_teacher=True)),
        staff=Count("pk", filter=Q(is_staff=True)),
        district_admins=Count("pk", filter=Q(is_district_admin=True)),
        contacts=Count("pk", filter=Q(is_contact=True)),
    )

    def live(model) -> int:
        return model.objects.filter(district_id=district_id, archived_at__isnull=True).count()

    enrollments = SectionMembership.objects.filter(
        district_id=district_id,
        role=SectionMembership.Role.STUDENT,
        section__archived_at__isnull=True,
    ).count()
    totals = {
        "schools": live(School),
        **people,
        "sections": live(Section),
        "enrollments": enrollments,
        "terms": live(Term),
        "courses": live(Course),
    }
    return {key: int(totals[key] or 0) for key in TOTAL_KEYS}


def districts_unsynced_since_connected():
    """Connected, sync-enabled districts that no run (other than a skipped one) started for
    since they were connected, discovered, reconnected or unpaused, and that are owed no sync:
    their first sync, or the one after a reconnection, need not wait for the night."""
    last_run = (
        SyncRun.objects.filter(district=OuterRef("pk"))
        .exclude(status=SyncRun.Status.SKIPPED)
        .order_by("-started_at")
        .values("started_at")[:1]
    )
    return (
        districts_needing_sync()
        .annotate(last_run=Subquery(last_run))
        .filter(Q(last_run__isnull=True) | Q(last_run__lt=F("status_changed_at")))
        .exclude(Exists(SyncRequest.objects.filter(district=OuterRef("pk"))))
    )


def running_sync(district) -> SyncRun | None:
    return SyncRun.objects.filter(district=district, status=SyncRun.Status.RUNNING).first()


def districts_to_poll(*, now=None):
    """Primary keys of the districts whose events are polled (``tasks.poll_events``), in one
    query: syncable, events on, and an event cursor read within Clever's retention (what
    ``services.sync.events_usable`` asks of one district)."""
    now = now or timezone.now()
    oldest = now - timedelta(days=settings.CLEVER_EVENT_RETENTION_DAYS)
    return (
        districts_needing_sync()
        .filter(events_enabled=True, event_cursor_at__gte=oldest)
        .values_list("pk", flat=True)
    )


def largest_first(districts: Sequence) -> list:
    """``districts`` in the order a night's syncs are sent: a district never synced first (its
    size unknown: a first sync is the longest kind), then by live people in the mirror, the
    largest first, ties by pk. The longest syncs so start while every worker is free and the
    small ones fill the workers around them, instead of one big district starting last and
    running alone at the end of the night (one ``COUNT ... GROUP BY``)."""
    sizes = dict(
        Person.objects.filter(district__in=[district.pk for district in districts], archived_at__isnull=True)
        .values_list("district")
        .annotate(people=Count("pk"))
        .order_by()
    )
    return sorted(districts, key=lambda d: (d.pk in sizes, -sizes.get(d.pk, 0), d.pk))


def sync_owed(district) -> bool:
    """Whether a sync of the district was asked for and not answered yet (``SyncRequest``)."""
    return SyncRequest.objects.filter(district=district).exists()


def last_run_state(district) -> Mapping[str, Any] | None:
    """The district's newest run that was not skipped, as ``{"status", "retryable", "cursor"}``
    (``cursor``: the event cursor its checkpoint reached, ``{"known", "id", ...}``), without
    loading the rest of its row (a full run's checkpoint lists every page); None before any."""
    return (
        SyncRun.objects.filter(district=district)
        .exclude(status=SyncRun.Status.SKIPPED)
        .order_by("-id")
        .values("status", "retryable", cursor=F("checkpoint__cursor"))
        .first()
    )


def last_sync(district, *, status: str | None = None) -> SyncRun | None:
    qs = SyncRun.objects.filter(district=district).exclude(status=SyncRun.Status.SKIPPED)
    if status:
        qs = qs.filter(status=status)
    return qs.order_by("-started_at", "-id").first()


def pending_hold(district) -> ChangeHold | None:
    """The hold waiting for support staff, if any (a newer sync supersedes older ones, so there
    is at most one)."""
    return (
        ChangeHold.objects.filter(run__district=district, status=ChangeHold.Status.PENDING)
        .select_related("run")
        .order_by("-created_at", "-id")
        .first()
    )


def pending_holds():
    return ChangeHold.objects.filter(status=ChangeHold.Status.PENDING).select_related("run", "run__district")


# --- sensitive and demographic fields (clever.sensitive) ----------------------------------------


def sensitive_values(people: Iterable[Person]) -> dict[int, dict[str, Any]]:
    """The kept sensitive and demographic fields of ``people``, decrypted: ``{pk: {path: value}}``
    (paths of ``clever.sensitive``) for those who have any. Only for a feature that needs a value
    (``dates_of_birth``) and for ``rostering.admin.reveal_sensitive``, which checks the viewer's
    permission and logs the view: nothing else shows them. ``sensitive_ciphertext`` must be
    loaded (not deferred). Raises ``crypto.DecryptionError`` when the configured keys cannot
    read one."""
    return {
        person.pk: decrypted_fields(person.sensitive_ciphertext)
        for person in people
        if person.sensitive_ciphertext
    }


def decrypted_fields(ciphertext: str) -> dict[str, Any]:
    """One ``sensitive_ciphertext`` read: ``{path: value}``."""
    return json.loads(crypto.decrypt(ciphertext))


def birth_date(values: dict[str, Any]) -> date | None:
    """The date of birth among one person's decrypted fields (Clever's ``M/D/YYYY``), or None."""
    text = parse_date(values.get(DATE_OF_BIRTH.path))
    return date.fromisoformat(text) if text else None


def dates_of_birth(people: Sequence[Person]) -> dict[int, date | None]:
    """``{pk: date of birth}`` of ``people`` (None when Clever sent none, or one that does not
    parse), decrypted one by one in a single pass, no query: what matching compares."""
    values = sensitive_values(people)
    return {person.pk: birth_date(values.get(person.pk, {})) for person in people}


def districts_due_for_purge():
    """Districts whose retention window (``ROSTER_RETENTION_DAYS``) has passed and that were not
    purged since their clock started: the clock runs from the departure of a disconnected or
    revoked district, and from the last Library sign-in (``last_seen_at``) of a Library-only one
    (docs/data-lifecycle.md)."""
    cutoff = timezone.now() - timedelta(days=settings.ROSTER_RETENTION_DAYS)
    clock = Case(
        When(status__in=DEPARTED, then=F("departed_at")),
        default=Coalesce(F("last_seen_at"), F("discovered_at")),
    )
    purged_since = DistrictAudit.objects.filter(
        district=OuterRef("pk"),
        action=DistrictAudit.Action.PURGED,
        created_at__gte=OuterRef("clock"),
    )
    return (
        District.objects.filter(Q(status__in=DEPARTED) | Q(library_only=True))
        .annotate(clock=clock)
        .filter(clock__lt=cutoff)
        .exclude(Exists(purged_since))
        .order_by("pk")
    )
