"""Reads about Clever districts (no writes here: see services.py)."""

from __future__ import annotations

from collections.abc import Iterable

from django.db.models import Q, QuerySet

from .models import District, DistrictAudit, DistrictQuerySet


def districts_needing_sync() -> QuerySet[District]:
    """Districts a scheduled sync should run for: connected and with syncs switched on."""
    return District.objects.syncable().order_by("pk")


def get_district(clever_id: str) -> District | None:
    return District.objects.filter(clever_id=clever_id).select_related("organization").first()


def search_districts(
    *,
    q: str = "",
    us_state: str = "",
    clever_state: str = "",
    status: str | Iterable[str] | None = None,
    clever_ids: Iterable[str] | None = None,
    linked: bool | None = None,
) -> DistrictQuerySet:
    """Districts matching every word of ``q`` (in the name, or a whole Clever ID, NCES LEAID or
    MDR number), a US state, Clever's own sync state, status(es), Clever IDs, and linked or not
    to an organization."""
    qs = District.objects.select_related("organization")
    for word in q.split():
        qs = qs.filter(Q(name__icontains=word) | Q(clever_id=word) | Q(nces_id=word) | Q(mdr_number=word))
    if us_state:
        qs = qs.filter(us_state__iexact=us_state.strip())
    if clever_state:
        qs = qs.filter(clever_state=clever_state)
    if status:
        qs = qs.filter(status__in=[status] if isinstance(status, str) else list(status))
    if clever_ids is not None:
        qs = qs.filter(clever_id__in=list(clever_ids))
    if linked is not None:
        qs = qs.filter(organization__isnull=not linked)
    return qs.order_by("name", "clever_id")


def unlinked_districts() -> QuerySet[District]:
    """Districts not yet linked to a customer organization (for the linking review)."""
    return search_districts().unlinked()


def district_audits(
    district: District | int, *, actions: Iterable[str] | None = None
) -> QuerySet[DistrictAudit]:
    """The district's audit trail, newest first (optionally only some actions)."""
    district_id = district.pk if isinstance(district, District) else district
    qs = DistrictAudit.objects.filter(district_id=district_id).select_related(
        "actor", "organization_before", "organization_after"
    )
    if actions is not None:
        qs = qs.filter(action__in=list(actions))
    return qs.order_by("-created_at", "-id")


def district_rows(districts: Iterable[District] | None = None) -> list[dict]:
    """``{"clever_id", "name", "status"}`` per district (the command's JSON), by Clever ID."""
    qs = District.objects.all() if districts is None else districts
    return [
        {"clever_id": d.clever_id, "name": d.name, "status": d.status}
        for d in sorted(qs, key=lambda d: d.clever_id)
    ]
