"""Reads of district linking: who administers what, the unlinked districts, a pair's evidence and
request, where a request stands (whom it waits for), and what a Clever district admin may ask;
with the vocabulary of a request (its origins and the steps of its history)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from accounts.models import Organization
from districts.models import District, DistrictStatus
from rostering.models import School as CleverSchool
from sso import selectors as sso_selectors
from sso.identity import CleverIdentity

from ..engine.districts import STRONG_SOFT_EVIDENCE
from ..models import DistrictCandidate, DistrictLinkRequest
from . import evidence

# Origins of a DistrictLinkRequest.
ORIGIN_SELF_SERVE = "self_serve"
ORIGIN_EVIDENCE = "evidence"
ORIGIN_VERIFICATION_LINK = "verification_link"
ORIGIN_DISTRICT_ADMIN = "district_admin"
ORIGIN_CHOICES = {
    ORIGIN_SELF_SERVE: "Organization admin asked support (no proof)",
    ORIGIN_EVIDENCE: "Ambiguous evidence",
    ORIGIN_VERIFICATION_LINK: "Verification link sent to the district admin",
    ORIGIN_DISTRICT_ADMIN: "Asked by the district's Clever administrator",
}


class Step(StrEnum):
    """The steps of a request's history (``DistrictLinkRequest.history``)."""

    ASKED_SUPPORT = "asked_support"
    SENT_LINK = "sent_verification_link"
    QUEUED = "queued_by_evidence"
    DISTRICT_ASKED = "asked_by_district_admin"
    DISTRICT_WITHDREW = "withdrawn_by_district_admin"
    VERIFIED = "verified_with_clever"
    CONFIRMED = "confirmed_by_organization"
    DECLINED = "declined_by_organization"
    APPROVED = "approved_by_support"
    REJECTED = "rejected_by_support"
    MOOT = "closed_district_linked"


def administered_organization(user) -> Organization | None:
    """The organization ``user`` administers (active organization admin), else None."""
    if not (user and user.is_authenticated and user.is_active and user.is_organization_admin):
        return None
    if not user.organization_id:
        return None
    return Organization.objects.filter(pk=user.organization_id).first()


def linked_districts(organization: Organization) -> QuerySet[District]:
    return District.objects.filter(organization=organization).order_by("name", "clever_id")


def search_unlinked(*, city: str = "", state: str = "") -> QuerySet[District]:
    """Unlinked, not disconnected districts, filtered by city (one of its schools is in it) and
    state (its own, or one of its schools'). Names are searched in Python (``search.NameSearch``)."""
    districts = District.objects.unlinked()
    # Schools archived by a sync still say where the district is; and a condition on
    # ``archived_at`` makes SQLite walk that index over every school.
    schools = CleverSchool.objects.all()
    if state:
        state = state.strip()
        in_state = schools.filter(us_state__iexact=state).values("district_id")
        districts = districts.filter(Q(us_state__iexact=state) | Q(pk__in=in_state))
    if city:
        districts = districts.filter(
            pk__in=schools.filter(city__icontains=city.strip()).values("district_id")
        )
    return districts


def candidate_for(district: District, organization: Organization) -> DistrictCandidate | None:
    return DistrictCandidate.objects.filter(district=district, organization=organization).first()


def candidates_of(district: District, *, limit: int = 5) -> list[DistrictCandidate]:
    return list(
        DistrictCandidate.objects.filter(district=district)
        .select_related("organization")
        .order_by("-score", "organization__name")[:limit]
    )


def choosable_district(organization: Organization, clever_id: str) -> District | None:
    """The district an organization admin may act on: unlinked, or already theirs."""
    return (
        District.objects.filter(clever_id=clever_id)
        .filter(Q(organization__isnull=True) | Q(organization=organization))
        .first()
    )


def pending_requests(organization: Organization) -> QuerySet[DistrictLinkRequest]:
    return DistrictLinkRequest.objects.filter(
        organization=organization, status=DistrictLinkRequest.Status.PENDING
    ).select_related("district")


def pair_request(district: District, organization: Organization) -> DistrictLinkRequest | None:
    """The pair's pending request, if any."""
    return DistrictLinkRequest.objects.filter(
        district=district, organization=organization, status=DistrictLinkRequest.Status.PENDING
    ).first()


# --- where a request stands -------------------------------------------------------------------------


class Waiting(StrEnum):
    """Whom a pending request waits for. Support staff may decide any pending request; these
    say who else may, and so what the people who asked are told."""

    # A Clever district admin of the district asked: the organization's admin confirms it.
    ORGANIZATION_ADMIN = "organization_admin"
    SUPPORT = "support"
    # The verification link is out: the district's Clever admin opens it.
    DISTRICT_ADMIN = "district_admin"
    # The verification link expired before anyone used it.
    EXPIRED_LINK = "expired_link"


def verification_expires_at(link_request: DistrictLinkRequest) -> datetime | None:
    """When the request's verification link expires; None without one (or one issued before
    the issue time was kept)."""
    if not link_request.evidence.get("verification_nonce"):
        return None
    issued = parse_datetime(str(link_request.evidence.get("verification_issued_at") or ""))
    return issued + timedelta(seconds=settings.DISTRICT_LINK_VERIFICATION_MAX_AGE) if issued else None


def waiting_for(link_request: DistrictLinkRequest, *, now: datetime | None = None) -> Waiting:
    if link_request.district_admin_clever_id:
        return Waiting.ORGANIZATION_ADMIN
    if link_request.support_asked_at is not None or not link_request.evidence.get("verification_nonce"):
        return Waiting.SUPPORT
    expires = verification_expires_at(link_request)
    if expires is not None and expires <= (now or timezone.now()):
        return Waiting.EXPIRED_LINK
    return Waiting.DISTRICT_ADMIN


def pending_waiting_for(
    queryset: QuerySet[DistrictLinkRequest],
    waiting: Waiting,
) -> QuerySet[DistrictLinkRequest]:
    """The pending requests of ``queryset`` that wait for ``waiting`` (as ``waiting_for`` reads
    one request; ``DISTRICT_ADMIN`` here includes links that expired)."""
    pending = queryset.filter(status=DistrictLinkRequest.Status.PENDING)
    asked_by_district = ~Q(district_admin_clever_id="")
    if waiting == Waiting.ORGANIZATION_ADMIN:
        return pending.filter(asked_by_district)
    # A pending request without a verification link is support's.
    for_support = Q(support_asked_at__isnull=False) | ~Q(evidence__has_key="verification_nonce")
    if waiting == Waiting.SUPPORT:
        return pending.exclude(asked_by_district).filter(for_support)
    return pending.exclude(asked_by_district).exclude(for_support)


def requests_to_answer(organization: Organization) -> list[DistrictLinkRequest]:
    """What Clever district admins asked the organization and nobody decided yet, oldest first."""
    return list(
        pending_requests(organization).exclude(district_admin_clever_id="").order_by("created_at", "id")
    )


def request_to_answer(organization: Organization, pk) -> DistrictLinkRequest | None:
    """A pending request a Clever district admin made to ``organization``."""
    return (
        DistrictLinkRequest.objects.filter(
            pk=pk, organization=organization, status=DistrictLinkRequest.Status.PENDING
        )
        .exclude(district_admin_clever_id="")
        .select_related("district", "organization", "requested_by")
        .first()
    )


@dataclass(frozen=True)
class DistrictAsk:
    """Which of the district's Clever administrators asked, and when (the request's latest
    "asked" step: a request the organization made first keeps its own ``requested_by``)."""

    user: object | None
    at: datetime | None
    organization_asked_first: bool


def district_admin_ask(link_request: DistrictLinkRequest) -> DistrictAsk:
    step = next(
        (item for item in reversed(link_request.history or []) if item.get("step") == Step.DISTRICT_ASKED), {}
    )
    user = get_user_model().objects.filter(pk=step["by"]).first() if step.get("by") else None
    return DistrictAsk(
        user=user,
        at=parse_datetime(step.get("at") or ""),
        organization_asked_first=link_request.origin != ORIGIN_DISTRICT_ADMIN,
    )


# --- the district admin's side -----------------------------------------------------------------------

# An organization is offered to a Clever district admin only on evidence the district's own
# name cannot make: ``name`` and ``state`` chips are whatever the district's SIS says, so they
# do not count, and the rest must add up to OFFER_MIN_BITS (an NCES or MDR match, a verified
# round trip, three of the organization's people who signed in from the district, or at least
# 5/8 of its staff emails on the organization's domains). At most OFFER_LIMIT are shown; below
# the threshold the page says "ask support". docs/matching.md, "The district admin's side".
OFFER_MIN_BITS = STRONG_SOFT_EVIDENCE
OFFER_LIMIT = 3
_TYPED_BY_THE_DISTRICT = ("name", "state")


@dataclass(frozen=True)
class DistrictAdmin:
    """A Clever district admin signed in now, acting as one: their Clever identity (confirmed by
    Clever at sign-in), their account and their district."""

    identity: CleverIdentity
    user: object
    district: District


def signed_in_district_admin(request) -> DistrictAdmin | None:
    """The signed-in person when they act as a district admin (their active Clever role) of a
    district that shares its data with the app; Library sign-ins have no admins."""
    if not request.user.is_authenticated or sso_selectors.active_role(request) != "district_admin":
        return None
    identity = sso_selectors.signed_in_identity(request)
    if identity is None or identity.is_library or "district_admin" not in identity.roles:
        return None
    district = sso_selectors.district_for(identity)
    if district is None or district.library_only or district.status == DistrictStatus.DISCONNECTED:
        return None
    return DistrictAdmin(identity=identity, user=request.user, district=district)


def offer_strength(chips: list[dict]) -> float:
    """The bits of evidence the district's own name and state do not make."""
    return sum(
        float(chip.get("weight") or 0)
        for chip in chips or ()
        if chip.get("kind") not in _TYPED_BY_THE_DISTRICT
    )


@dataclass(frozen=True)
class Offer:
    organization: Organization
    # The evidence chips, labelled for the district admin.
    chips: list[dict]


def offered_organizations(district: District) -> list[Offer]:
    """The organizations a district admin of ``district`` may ask (strongest first): evidence
    above the threshold, and never one that declined the district before."""
    declined = DistrictLinkRequest.objects.filter(
        district=district, status=DistrictLinkRequest.Status.REJECTED
    ).values("organization_id")
    candidates = (
        DistrictCandidate.objects.filter(district=district)
        .exclude(organization_id__in=declined)
        .select_related("organization")
        .order_by("-score", "organization__name")
    )
    offers = [
        Offer(organization=candidate.organization, chips=evidence.chips_for_district(candidate.evidence))
        for candidate in candidates
        if offer_strength(candidate.evidence) >= OFFER_MIN_BITS
    ]
    return offers[:OFFER_LIMIT]


def district_admin_requests(district: District, *, limit: int = 5) -> list[DistrictLinkRequest]:
    """What the district's Clever admins asked, newest first (at most one is pending)."""
    return list(
        DistrictLinkRequest.objects.filter(district=district)
        .exclude(district_admin_clever_id="")
        .select_related("organization")
        .order_by("-created_at", "-id")[:limit]
    )
