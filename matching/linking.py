"""District-to-organization linking (issue #5 part 1): services (writes) and selectors (reads).

Evidence per (unlinked Clever district, organization) pair is computed by the pure engine
(``matching.engine.districts.rank_organizations``) and stored in ``DistrictCandidate`` by
:func:`refresh_district_candidates`; the self-serve page and the admin order unmatched districts
by that precomputed score with one indexed join. Links, relinks and unlinks go through
``districts.services`` (audited with the evidence snapshot); the proof of control of a district is
a "Log in with Clever" round trip (``sso.services.start_clever_login`` with the purpose
``district_link``) by a Clever district admin of exactly that district. See docs/matching.md,
"District linking".

Never logs tokens, emails or names.
"""

from __future__ import annotations

import functools
import logging
import secrets
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import urlencode

from allauth.socialaccount.models import SocialAccount
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core import signing
from django.core.paginator import Page, Paginator
from django.db import IntegrityError, transaction
from django.db.models import Count, F, FilteredRelation, Q, QuerySet, Value
from django.db.models.functions import Lower, StrIndex, Substr
from django.utils import timezone
from django.utils.functional import cached_property

from accounts.models import Organization, OrganizationEmailDomain
from districts import services as district_services
from districts.models import District, DistrictAudit, DistrictStatus, LinkMethod
from rostering.models import Person
from rostering.models import School as CleverSchool
from rostering.services.provisioning import USERNAME_PREFIX
from sso.models import CleverLogin

from .engine.districts import (
    FREE_MAIL_DOMAINS,
    DistrictMatch,
    DistrictRecord,
    Evidence,
    OrganizationRecord,
    _id_of,
    rank_organizations,
)
from .models import DistrictCandidate, DistrictLinkRequest, DistrictVerification

logger = logging.getLogger(__name__)

PURPOSE = "district_link"
VERIFICATION_SALT = "matching.district-link-verification"
REFRESH_LABEL = "matching: district evidence refresh"
# Origins of a DistrictLinkRequest.
ORIGIN_SELF_SERVE = "self_serve"
ORIGIN_EVIDENCE = "evidence"
ORIGIN_VERIFICATION_LINK = "verification_link"
ORIGIN_CHOICES = {
    ORIGIN_SELF_SERVE: "Self-serve page (no proof)",
    ORIGIN_EVIDENCE: "Ambiguous evidence",
    ORIGIN_VERIFICATION_LINK: "Verification link sent to the district admin",
}
# The engine's evidence kinds that may link automatically after a refresh (a verified round trip
# links in the hook itself, at the moment Clever confirmed it).
_AUTO_METHODS = {"nces_id": LinkMethod.NCES, "mdr_number": LinkMethod.MDR}
_STRONG_KINDS = ("verified_round_trip", "nces_id", "mdr_number")
_STAFF_ROLES = ("teacher", "staff", "district_admin")
# CleverLogin rows older than this are not evidence any more.
LOGIN_EVIDENCE_DAYS = 365


class LinkingError(ValueError):
    """A linking action that cannot be done as asked; the message is for the person."""


def _refusals_as_linking_errors(function):
    """``districts.services`` refusals (e.g. a district linked elsewhere in a race) become
    LinkingError, after the function's transaction rolled back."""

    @functools.wraps(function)
    def wrapper(*args, **kwargs):
        try:
            return function(*args, **kwargs)
        except district_services.LinkError as exc:
            raise LinkingError(str(exc)) from exc

    return wrapper


# --- evidence chips --------------------------------------------------------------------------------


def chip_label(kind: str, detail: str) -> str:
    """What a person reads for one piece of the engine's evidence."""
    if kind == "verified_round_trip":
        return "Verified with Clever \u2713"
    if kind == "nces_id":
        return f"NCES \u2713 {detail}"
    if kind == "mdr_number":
        return f"MDR \u2713 {detail}"
    if kind == "sso_logins":
        count = detail.split()[0] if detail else "0"
        return f"{count} of your people logged in from here"
    if kind == "email_domain":
        return f"{detail} on your domains"
    if kind == "name":
        return f"name {detail}"
    if kind == "state":
        return f"state {detail}"
    return f"{kind} {detail}".strip()


def _chips(evidence: Iterable[Evidence]) -> list[dict]:
    return [
        {
            "kind": item.kind,
            "weight": round(item.weight, 2),
            "detail": item.detail,
            "label": chip_label(item.kind, item.detail),
        }
        for item in evidence
    ]


def strong(chips: list[dict]) -> bool:
    return any(chip.get("kind") in _STRONG_KINDS for chip in chips or ())


# --- selectors -------------------------------------------------------------------------------------


def administered_organization(user) -> Organization | None:
    """The organization ``user`` administers (active organization admin), else None."""
    if not (user and user.is_authenticated and user.is_active and user.is_organization_admin):
        return None
    if not user.organization_id:
        return None
    return Organization.objects.filter(pk=user.organization_id).first()


def linked_districts(organization: Organization) -> QuerySet[District]:
    return District.objects.filter(organization=organization).order_by("name", "clever_id")


def _unlinked() -> QuerySet[District]:
    return District.objects.filter(organization__isnull=True).exclude(status=DistrictStatus.DISCONNECTED)


_LIST_FIELDS = ("pk", "clever_id", "name", "us_state", "nces_id", "mdr_number", "status")


def search_unlinked(*, name: str = "", city: str = "", state: str = "") -> QuerySet[District]:
    """Unlinked, not disconnected districts, searched by name (contains), city (one of its schools
    is in it) and state (its own, or one of its schools')."""
    districts = _unlinked()
    if name:
        districts = districts.filter(name__icontains=name.strip())
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


class RankedDistricts:
    """The unmatched list for one organization, as a sequence the Paginator slices: first the
    districts with positive evidence for it (best score first, then name), then every other one by
    name. Each part is one indexed query (the evidence through ``candidate_by_organization``, the
    rest walking ``matching_unlinked_district_name``, minus the evidence ones), so no request sorts
    10,000 districts."""

    def __init__(self, organization: Organization, districts: QuerySet[District]):
        # Materialized once per query (NOT IN), not probed per skipped row (NOT EXISTS).
        positive = DistrictCandidate.objects.filter(organization=organization, score__gt=0).values(
            "district_id"
        )
        self.evidence = (
            districts.annotate(
                pair=FilteredRelation("candidates", condition=Q(candidates__organization=organization))
            )
            .filter(pair__score__gt=0)
            .annotate(score=F("pair__score"))
            .only(*_LIST_FIELDS)
            .order_by("-score", "name", "pk")
        )
        self.rest = districts.exclude(pk__in=positive).only(*_LIST_FIELDS).order_by("name", "pk")
        self.districts = districts

    @cached_property
    def evidence_count(self) -> int:
        return self.evidence.count()

    @cached_property
    def total(self) -> int:
        return self.districts.count()

    def count(self) -> int:
        return self.total

    def __len__(self) -> int:
        return self.total

    def __getitem__(self, item):
        if not isinstance(item, slice):
            raise TypeError("RankedDistricts is sliced by pages")
        start, stop = item.start or 0, item.stop if item.stop is not None else self.total
        split = self.evidence_count
        rows = list(self.evidence[start : min(stop, split)]) if start < split else []
        if stop > split:
            for district in self.rest[max(0, start - split) : stop - split]:
                district.score = 0.0
                rows.append(district)
        return rows


class SearchedDistricts:
    """The unmatched list for a search: the search runs once (ids and names of every district it
    finds, at most the 10,000 unlinked ones), the organization's positive evidence is read once
    (its ``DistrictCandidate`` rows), both are ordered here, and a page reads its own districts
    by primary key. No count, and no second evaluation of the search's school subqueries."""

    def __init__(self, organization: Organization, districts: QuerySet[District]):
        found = list(districts.order_by().values_list("pk", "name"))
        self.scores = dict(
            DistrictCandidate.objects.filter(organization=organization, score__gt=0)
            .order_by()
            .values_list("district_id", "score")
        )
        scores = self.scores
        evidence = sorted(
            (row for row in found if row[0] in scores), key=lambda r: (-scores[r[0]], r[1], r[0])
        )
        rest = sorted((row for row in found if row[0] not in scores), key=lambda r: (r[1], r[0]))
        self.order = [pk for pk, _name in evidence] + [pk for pk, _name in rest]

    def count(self) -> int:
        return len(self.order)

    def __len__(self) -> int:
        return len(self.order)

    def __getitem__(self, item):
        if not isinstance(item, slice):
            raise TypeError("SearchedDistricts is sliced by pages")
        ids = self.order[item]
        found = District.objects.only(*_LIST_FIELDS).in_bulk(ids)
        page = []
        for pk in ids:
            district = found[pk]
            district.score = self.scores.get(pk, 0.0)
            page.append(district)
        return page


def unmatched_districts(
    organization: Organization, *, name: str = "", city: str = "", state: str = ""
) -> RankedDistricts | SearchedDistricts:
    """Unlinked (and not disconnected) districts, positive evidence for ``organization`` first
    (score, then name), then the others by name; searchable (:func:`search_unlinked`)."""
    districts = search_unlinked(name=name, city=city, state=state)
    if name or city or state:
        return SearchedDistricts(organization, districts)
    return RankedDistricts(organization, districts)


@dataclass
class DistrictRow:
    district: District
    score: float
    chips: list[dict]
    places: str


def _places(district_ids: list[int]) -> dict[int, str]:
    """ "City, ST" of each district's schools (a few), for the list."""
    found: dict[int, list[str]] = defaultdict(list)
    # No ``archived_at`` condition in SQL: it would tempt SQLite to walk that index instead.
    rows = (
        CleverSchool.objects.filter(district_id__in=district_ids)
        .exclude(city="")
        .values_list("district_id", "city", "us_state", "archived_at")
        .order_by("district_id", "city")
    )
    for district_id, city, us_state, archived_at in rows:
        label = f"{city}, {us_state}" if us_state else city
        if archived_at is None and label not in found[district_id] and len(found[district_id]) < 3:
            found[district_id].append(label)
    return {key: "; ".join(value) for key, value in found.items()}


def unmatched_page_for_query(organization: Organization, query) -> dict:
    """The linking list as both pages show it, from a request's ``GET``: ``q`` (name),
    ``city``, ``state``, ``page``. Returns ``search``, ``search_query`` (for page links),
    ``page`` and ``rows``."""
    search = {key: query.get(key, "").strip()[:100] for key in ("q", "city", "state")}
    page, rows = unmatched_page(organization, name=search["q"], city=search["city"],
                                state=search["state"], page=query.get("page", 1))
    return {"search": search, "search_query": urlencode({k: v for k, v in search.items() if v}),
            "page": page, "rows": rows}


def unmatched_page(
    organization: Organization,
    *,
    name: str = "",
    city: str = "",
    state: str = "",
    page: str | int = 1,
    per_page: int | None = None,
) -> tuple[Page, list[DistrictRow]]:
    """One page of :func:`unmatched_districts` with the evidence chips of each row."""
    paginator = Paginator(
        unmatched_districts(organization, name=name, city=city, state=state),
        per_page or settings.DISTRICT_LINKING_PAGE_SIZE,
    )
    current = paginator.get_page(page)
    districts = list(current.object_list)
    ids = [district.pk for district in districts]
    chips = (
        dict(
            DistrictCandidate.objects.filter(organization=organization, district_id__in=ids)
            .order_by()
            .values_list("district_id", "evidence")
        )
        if ids
        else {}
    )
    places = _places(ids) if ids else {}
    rows = [
        DistrictRow(district, district.score, chips.get(district.pk, []), places.get(district.pk, ""))
        for district in districts
    ]
    return current, rows


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


def district_facts(district: District) -> dict:
    """What support staff compare side by side: the Clever district's identifiers and places,
    and its staff email domains (counts; no addresses)."""
    return {
        "name": district.name,
        "clever_id": district.clever_id,
        "state": district.us_state or _district_states([district.pk]).get(district.pk, ""),
        "nces_id": district.nces_id,
        "mdr_number": district.mdr_number,
        "places": _places([district.pk]).get(district.pk, ""),
        "domains": sorted(
            _staff_domains([district.pk]).get(district.pk, {}).items(), key=lambda item: -item[1]
        )[:5],
        "status": district.get_status_display(),
        "linked_to": district.organization,
    }


def organization_facts(organization: Organization) -> dict:
    return {
        "name": organization.name,
        "state": organization.state,
        "nces_id": organization.nces_leaid,
        "mdr_number": organization.mdr_number,
        "domains": list(organization.email_domains.values_list("domain", flat=True)),
        "districts": list(organization.districts.values_list("name", flat=True)),
    }


# --- evidence inputs (reads for the refresh) ------------------------------------------------------


def _staff_domains(district_ids: list[int] | None) -> dict[int, Counter]:
    """Email domains of each district's live teachers, staff and district admins (counts)."""
    people = Person.objects.filter(archived_at__isnull=True, email__contains="@").filter(
        Q(is_teacher=True) | Q(is_staff=True) | Q(is_district_admin=True)
    )
    if district_ids is not None:
        people = people.filter(district_id__in=district_ids)
    rows = (
        people.annotate(domain=Lower(Substr("email", StrIndex("email", Value("@")) + 1)))
        .values_list("district_id", "domain")
        .annotate(count=Count("id"))
        .order_by()
    )
    domains: dict[int, Counter] = defaultdict(Counter)
    for district_id, domain, count in rows:
        domain = (domain or "").strip()
        if domain:
            domains[district_id][domain] += count
    return domains


def _login_domains(clever_ids: list[str] | None) -> dict[str, Counter]:
    """Email domains of recent Clever logins by teachers, staff and district admins, per Clever
    district ID (evidence before the district's roster is synced)."""
    since = timezone.now() - timedelta(days=LOGIN_EVIDENCE_DAYS)
    logins = CleverLogin.objects.filter(created_at__gte=since).exclude(email_domain="")
    if clever_ids is not None:
        logins = logins.filter(clever_district_id__in=clever_ids)
    rows = (
        logins.values_list("clever_district_id", "roles", "email_domain")
        .annotate(count=Count("id"))
        .order_by()
    )
    domains: dict[str, Counter] = defaultdict(Counter)
    for clever_id, roles, domain, count in rows:
        if any(role in _STAFF_ROLES for role in roles or ()):
            domains[clever_id][domain] += count
    return domains


def _district_states(district_ids: list[int] | None) -> dict[int, str]:
    """The most common two-letter state of each district's schools."""
    schools = CleverSchool.objects.filter(archived_at__isnull=True).exclude(us_state="")
    if district_ids is not None:
        schools = schools.filter(district_id__in=district_ids)
    counts: dict[int, Counter] = defaultdict(Counter)
    rows = schools.values_list("district_id", "us_state").annotate(count=Count("id")).order_by()
    for district_id, us_state, count in rows:
        us_state = us_state.strip().upper()
        if len(us_state) == 2:
            counts[district_id][us_state] += count
    return {key: counter.most_common(1)[0][0] for key, counter in counts.items()}


def _sso_people(clever_ids: list[str] | None) -> dict[tuple[str, str], int]:
    """(district pk, organization pk) -> distinct product users of the organization who logged in
    through Clever from the district (their Clever account records the district)."""
    # Accounts the sync or SSO made (``clever-*``) belong to a linked district's organization by
    # construction: only product accounts a person linked to Clever are evidence.
    accounts = SocialAccount.objects.filter(provider="clever", user__organization__isnull=False).exclude(
        user__username__startswith=USERNAME_PREFIX
    )
    if clever_ids is not None:
        accounts = accounts.filter(extra_data__district__in=clever_ids)
    people: dict[tuple[str, int], set[int]] = defaultdict(set)
    for extra, organization_id, user_id in accounts.values_list(
        "extra_data", "user__organization_id", "user_id"
    ):
        clever_id = (extra or {}).get("district") if isinstance(extra, dict) else None
        if clever_id:
            people[(clever_id, organization_id)].add(user_id)
    return {key: len(users) for key, users in people.items()}


# --- services: the refresh ------------------------------------------------------------------------


def _record(row: dict, states: dict[int, str], domains: Counter) -> DistrictRecord:
    return DistrictRecord(
        key=str(row["pk"]),
        name=row["name"],
        state=row["us_state"] or states.get(row["pk"], ""),
        nces_id=row["nces_id"],
        mdr_number=row["mdr_number"],
        staff_email_domains=dict(domains),
    )


def _ids(row: dict) -> set[tuple[str, str]]:
    record = DistrictRecord(key="", name="", nces_id=row["nces_id"], mdr_number=row["mdr_number"])
    return {(kind, value) for kind in ("nces_id", "mdr_number") if (value := _id_of(record, kind))}


def refresh_district_candidates(
    *,
    district_ids: Iterable[int] | None = None,
    clever_ids: Iterable[str] | None = None,
    auto_link: bool = True,
) -> dict:
    """Recompute the evidence of unlinked districts (all, or ``district_ids`` / ``clever_ids``) against every
    organization, store it in ``DistrictCandidate``, link what the engine links automatically
    (uncontested NCES or MDR only), and queue ambiguous strong evidence for support staff.

    Never links a district or an organization that is linked already (the engine's rule), nor a
    pair a person unlinked before, nor a pair support staff rejected. Returns
    ``{"districts", "organizations", "candidates", "auto_linked": [clever ids], "queued": n}``.
    """
    columns = ("pk", "clever_id", "name", "us_state", "nces_id", "mdr_number", "organization_id", "status")
    everything = list(District.objects.values(*columns))
    wanted = None
    if district_ids is not None or clever_ids is not None:
        named = set(clever_ids or ())
        wanted = {int(pk) for pk in district_ids or ()} | {
            row["pk"] for row in everything if row["clever_id"] in named
        }
    targets = [
        row
        for row in everything
        if row["organization_id"] is None
        and row["status"] != DistrictStatus.DISCONNECTED
        and (wanted is None or row["pk"] in wanted)
    ]
    target_pks = {row["pk"] for row in targets}
    # Other districts carrying one of the targets' ids: the engine needs them to see a contested id.
    target_ids = set().union(*(_ids(row) for row in targets)) if targets else set()
    context = [row for row in everything if row["pk"] not in target_pks and _ids(row) & target_ids]
    rows = targets + context
    scoped = None if wanted is None else [row["pk"] for row in rows]
    scoped_clever = None if wanted is None else [row["clever_id"] for row in rows]

    staff = _staff_domains(scoped)
    logins = _login_domains(scoped_clever)
    states = _district_states(scoped)
    records = [
        _record(row, states, staff.get(row["pk"]) or logins.get(row["clever_id"]) or Counter())
        for row in rows
    ]
    domains: dict[int, set[str]] = defaultdict(set)
    for organization_id, domain in OrganizationEmailDomain.objects.values_list("organization_id", "domain"):
        if domain not in FREE_MAIL_DOMAINS:
            domains[organization_id].add(domain)
    organizations = [
        OrganizationRecord(
            key=str(row["pk"]),
            name=row["name"],
            state=row["state"],
            nces_leaid=row["nces_leaid"],
            mdr_number=row["mdr_number"],
            email_domains=frozenset(domains.get(row["pk"], ())),
        )
        for row in Organization.objects.values("pk", "name", "state", "nces_leaid", "mdr_number")
    ]
    by_clever = {row["clever_id"]: str(row["pk"]) for row in rows}
    sso_logins = {
        (by_clever[clever_id], str(organization_id)): count
        for (clever_id, organization_id), count in _sso_people(scoped_clever).items()
        if clever_id in by_clever
    }
    round_trips = {
        (str(district_id), str(organization_id))
        for district_id, organization_id in DistrictVerification.objects.filter(
            revoked_at__isnull=True
        ).values_list("district_id", "organization_id")
    }
    linked_organizations = {
        str(pk)
        for pk in District.objects.filter(organization__isnull=False)
        .values_list("organization_id", flat=True)
        .distinct()
    }
    linked = {str(row["pk"]) for row in rows if row["organization_id"] is not None}
    matches = (
        rank_organizations(
            records,
            organizations,
            sso_logins=sso_logins,
            verified_round_trips=round_trips,
            linked_districts=linked,
            linked_organizations=linked_organizations,
        )
        if organizations and records
        else []
    )
    by_target = {match.district_key: match for match in matches if int(match.district_key) in target_pks}

    now = timezone.now()
    fresh = [
        DistrictCandidate(
            district_id=int(match.district_key),
            organization_id=int(candidate.organization_key),
            score=candidate.score,
            evidence=_chips(candidate.evidence),
            computed_at=now,
        )
        for match in by_target.values()
        for candidate in match.candidates
    ]
    with transaction.atomic():
        stale = DistrictCandidate.objects.all()
        if wanted is not None:
            stale = stale.filter(district_id__in=sorted(wanted))
        stale.delete()
        DistrictCandidate.objects.bulk_create(fresh, batch_size=2000)

    summary = {
        "districts": len(by_target),
        "organizations": len(organizations),
        "candidates": len(fresh),
        "auto_linked": [],
        "queued": 0,
    }
    if auto_link:
        summary.update(_act_on(list(by_target.values()), {row["pk"]: row for row in targets}))
    logger.info(
        "district evidence refreshed: %s districts, %s candidates, %s auto-linked, %s queued",
        summary["districts"],
        summary["candidates"],
        len(summary["auto_linked"]),
        summary["queued"],
    )
    return summary


def _act_on(matches: list[DistrictMatch], targets: dict[int, dict]) -> dict:
    """Automatic links (uncontested NCES/MDR) and queue items for strong but contested evidence."""
    if not matches:
        return {"auto_linked": [], "queued": 0}
    # Pairs a person unlinked (or moved away) before: never linked again by a rule.
    undone = set(
        DistrictAudit.objects.filter(
            action__in=[DistrictAudit.Action.UNLINKED, DistrictAudit.Action.RELINKED],
            organization_before__isnull=False,
        ).values_list("district_id", "organization_before_id")
    )
    asked = set(DistrictLinkRequest.objects.values_list("district_id", "organization_id"))
    rejected = set(
        DistrictLinkRequest.objects.filter(status=DistrictLinkRequest.Status.REJECTED).values_list(
            "district_id", "organization_id"
        )
    )
    organizations = {
        organization.pk: organization
        for organization in Organization.objects.filter(
            pk__in={int(candidate.organization_key) for match in matches for candidate in match.candidates}
            | {int(match.linked_organization_key) for match in matches if match.linked_organization_key}
        )
    }
    linked_now: set[int] = set()
    auto_linked: list[str] = []
    queued = 0
    for match in matches:
        district_pk = int(match.district_key)
        row = targets[district_pk]
        organization_pk = int(match.linked_organization_key) if match.linked_organization_key else None
        method = _AUTO_METHODS.get(match.link_evidence or "")
        if (
            organization_pk is not None
            and method is not None
            and (district_pk, organization_pk) not in undone
            and (district_pk, organization_pk) not in rejected
            and organization_pk not in linked_now
        ):
            candidate = next(c for c in match.candidates if int(c.organization_key) == organization_pk)
            try:
                district_services.link_district(
                    district=District(pk=district_pk),
                    organization=organizations[organization_pk],
                    method=method,
                    evidence={
                        "decided_by": match.link_evidence,
                        "score": candidate.score,
                        "chips": _chips(candidate.evidence),
                    },
                    actor_label=f"{REFRESH_LABEL} (automatic: {match.link_evidence})",
                )
            except district_services.LinkError:
                continue
            linked_now.add(organization_pk)
            auto_linked.append(row["clever_id"])
            _withdraw_others(district_pk, keep=None)
            continue
        if not match.reasons:
            continue
        for candidate in match.candidates:
            organization_pk = int(candidate.organization_key)
            chips = _chips(candidate.evidence)
            pair = (district_pk, organization_pk)
            if not strong(chips) or pair in asked or pair in undone:
                continue
            try:
                with transaction.atomic():
                    DistrictLinkRequest.objects.create(
                        district_id=district_pk,
                        organization=organizations[organization_pk],
                        origin=ORIGIN_EVIDENCE,
                        evidence={"score": candidate.score, "chips": chips, "reasons": list(match.reasons)},
                    )
            except IntegrityError:
                continue
            asked.add(pair)
            queued += 1
    return {"auto_linked": auto_linked, "queued": queued}


def _withdraw_others(district_pk: int, *, keep: int | None, actor=None) -> int:
    """Pending requests for a district that just got linked are moot."""
    pending = DistrictLinkRequest.objects.filter(
        district_id=district_pk, status=DistrictLinkRequest.Status.PENDING
    )
    if keep is not None:
        pending = pending.exclude(pk=keep)
    return pending.update(
        status=DistrictLinkRequest.Status.WITHDRAWN,
        decided_at=timezone.now(),
        decided_by=actor,
        note="The district was linked.",
    )


def _snapshot(district: District, organization: Organization, **extra) -> dict:
    candidate = candidate_for(district, organization)
    return {
        "score": candidate.score if candidate else 0.0,
        "chips": candidate.evidence if candidate else [],
        **extra,
    }


# --- services: self-serve requests and verification links -----------------------------------------


def _check_linkable(district: District, organization: Organization) -> None:
    district.refresh_from_db(fields=["organization", "status"])
    if district.organization_id is not None and district.organization_id != organization.pk:
        raise LinkingError(
            "This district is already linked to another organization. It cannot be claimed "
            "here; contact support if the link is wrong."
        )


@transaction.atomic
def request_district_link(
    *, organization: Organization, district: District, requested_by, origin: str = ORIGIN_SELF_SERVE
) -> DistrictLinkRequest:
    """A pending request for support staff (the same pending pair is asked once)."""
    _check_linkable(district, organization)
    existing = (
        DistrictLinkRequest.objects.select_for_update()
        .filter(district=district, organization=organization, status=DistrictLinkRequest.Status.PENDING)
        .first()
    )
    if existing is not None:
        return existing
    return DistrictLinkRequest.objects.create(
        district=district,
        organization=organization,
        requested_by=requested_by,
        origin=origin,
        evidence=_snapshot(district, organization),
    )


def verification_days() -> int:
    return max(1, round(settings.DISTRICT_LINK_VERIFICATION_MAX_AGE / 86400))


def _signer() -> signing.TimestampSigner:
    return signing.TimestampSigner(salt=VERIFICATION_SALT)


@transaction.atomic
def issue_verification_link(*, organization: Organization, district: District, requested_by) -> str:
    """A signed, expiring, single-use token naming a new pending request (origin
    ``verification_link``); the organization admin sends its URL to the Clever district admin."""
    _check_linkable(district, organization)
    nonce = secrets.token_urlsafe(16)
    link_request = (
        DistrictLinkRequest.objects.filter(
            district=district, organization=organization, status=DistrictLinkRequest.Status.PENDING
        )
        .select_for_update()
        .first()
    )
    if link_request is None:
        link_request = DistrictLinkRequest.objects.create(
            district=district,
            organization=organization,
            requested_by=requested_by,
            origin=ORIGIN_VERIFICATION_LINK,
            evidence=_snapshot(district, organization),
        )
    # One live link per pending request: issuing a new one retires the previous nonce.
    link_request.evidence = {
        **link_request.evidence,
        "verification_nonce": nonce,
        "verification_requested_by": requested_by.pk,
    }
    link_request.save(update_fields=["evidence"])
    return _signer().sign_object({"request": link_request.pk, "nonce": nonce}, compress=True)


def read_verification_link(token: str) -> DistrictLinkRequest:
    """The pending request a verification token names; LinkingError when forged, expired or used."""
    try:
        payload = _signer().unsign_object(token, max_age=settings.DISTRICT_LINK_VERIFICATION_MAX_AGE)
    except signing.SignatureExpired as exc:
        raise LinkingError("This verification link has expired. Ask for a new one.") from exc
    except signing.BadSignature as exc:
        raise LinkingError("This verification link is not valid.") from exc
    link_request = (
        DistrictLinkRequest.objects.filter(pk=payload.get("request"))
        .select_related("district", "organization", "requested_by")
        .first()
    )
    if (
        link_request is None
        or link_request.status != DistrictLinkRequest.Status.PENDING
        or not link_request.evidence.get("verification_nonce")
        or not secrets.compare_digest(
            str(link_request.evidence.get("verification_nonce")), str(payload.get("nonce"))
        )
    ):
        raise LinkingError("This verification link was already used or withdrawn.")
    return link_request


# --- services: the verified round trip -----------------------------------------------------------


@dataclass(frozen=True)
class Verified:
    district: District
    organization: Organization
    already: bool


@_refusals_as_linking_errors
@transaction.atomic
def complete_clever_verification(*, identity, data: dict, actor) -> Verified:
    """The hook's work: Clever just confirmed ``identity``. Link when the Clever user is a district
    admin of exactly the district named in the signed ``data``, the requester is still an admin of
    the organization, and the district is unlinked (or already this organization's).

    ``data``: ``{"organization": pk, "district": clever id}`` and, for a verification link,
    ``{"request": pk, "nonce": ...}``. Raises LinkingError (nothing linked) otherwise.
    """
    organization = Organization.objects.filter(pk=data.get("organization")).first()
    district = District.objects.select_for_update().filter(clever_id=str(data.get("district") or "")).first()
    if organization is None or district is None:
        raise LinkingError("The district or the organization no longer exists. Nothing was linked.")
    link_request = None
    if data.get("request") is not None:
        link_request = (
            DistrictLinkRequest.objects.select_for_update()
            .filter(pk=data["request"], district=district, organization=organization)
            .first()
        )
        if (
            link_request is None
            or link_request.status != DistrictLinkRequest.Status.PENDING
            or str(link_request.evidence.get("verification_nonce")) != str(data.get("nonce"))
        ):
            raise LinkingError("This verification link was already used or withdrawn. Nothing was linked.")
        requester = (
            get_user_model()
            .objects.filter(
                pk=link_request.evidence.get("verification_requested_by") or link_request.requested_by_id
            )
            .first()
        )
        method = DistrictVerification.Method.VERIFICATION_LINK
    else:
        requester = actor
        method = DistrictVerification.Method.ROUND_TRIP
    if administered_organization(requester) != organization:
        raise LinkingError(
            "The person who asked for this link is no longer an administrator of the "
            "organization. Nothing was linked."
        )
    if identity.is_library or "district_admin" not in identity.roles:
        raise LinkingError(
            "Only a district administrator in Clever can verify this link. You signed in to "
            "Clever with another role. Nothing was linked."
        )
    if identity.district_id != district.clever_id:
        raise LinkingError(
            "You signed in to Clever as an administrator of another district. Nothing was linked."
        )
    if district.organization_id is not None and district.organization_id != organization.pk:
        raise LinkingError(
            "This district is already linked to another organization. Nothing was linked; "
            "contact support if that link is wrong."
        )
    DistrictVerification.objects.create(
        district=district,
        organization=organization,
        method=method,
        clever_user_id=identity.clever_id,
        requested_by=requester,
    )
    already = district.organization_id == organization.pk
    if not already:
        link_method = (
            LinkMethod.VERIFICATION_LINK
            if method == DistrictVerification.Method.VERIFICATION_LINK
            else LinkMethod.CLEVER_LOGIN
        )
        district_services.link_district(
            district=district,
            organization=organization,
            method=link_method,
            evidence=_snapshot(
                district,
                organization,
                verified_by_clever_user=identity.clever_id,
                clever_roles=list(identity.roles),
                proof=method,
            ),
            actor=requester,
            actor_label=f"{requester} (verified with Clever)",
        )
    now = timezone.now()
    if link_request is not None:
        evidence = {key: value for key, value in link_request.evidence.items() if key != "verification_nonce"}
        link_request.evidence = {**evidence, "verified_by_clever_user": identity.clever_id}
        link_request.status = DistrictLinkRequest.Status.APPROVED
        link_request.decided_at = now
        link_request.note = "Verified with Clever by a district administrator of the district."
        link_request.save(update_fields=["evidence", "status", "decided_at", "note"])
    _withdraw_others(district.pk, keep=link_request.pk if link_request else None)
    return Verified(district=district, organization=organization, already=already)


# --- services: support staff ---------------------------------------------------------------------


def _revoke_verifications(district: District, organization_id: int | None) -> None:
    if organization_id is not None:
        DistrictVerification.objects.filter(
            district=district, organization_id=organization_id, revoked_at__isnull=True
        ).update(revoked_at=timezone.now())


@_refusals_as_linking_errors
@transaction.atomic
def staff_link_district(
    *, district: District, organization: Organization, actor, link_request: DistrictLinkRequest | None = None,
    reason: str = "",
) -> District:
    """Support staff link an unlinked district at once (trusted), audited with the evidence and
    their ``reason``."""
    _check_linkable(district, organization)
    method = LinkMethod.REQUEST_APPROVED if link_request is not None else LinkMethod.STAFF
    extra = {"request": link_request.pk, "origin": link_request.origin} if link_request else {}
    if reason:
        extra["reason"] = reason[:500]
    district = district_services.link_district(
        district=district,
        organization=organization,
        method=method,
        evidence=_snapshot(district, organization, **extra),
        actor=actor,
    )
    now = timezone.now()
    if link_request is not None:
        DistrictLinkRequest.objects.filter(pk=link_request.pk).update(
            status=DistrictLinkRequest.Status.APPROVED, decided_by=actor, decided_at=now
        )
    # The pair approved by someone else (another request) is moot too.
    DistrictLinkRequest.objects.filter(
        district=district, organization=organization, status=DistrictLinkRequest.Status.PENDING
    ).update(
        status=DistrictLinkRequest.Status.APPROVED,
        decided_by=actor,
        decided_at=now,
        note="Linked by support staff.",
    )
    _withdraw_others(district.pk, keep=None, actor=actor)
    return district


@transaction.atomic
def approve_link_request(*, link_request: DistrictLinkRequest, actor) -> District:
    link_request = (
        DistrictLinkRequest.objects.select_for_update(of=("self",))
        .select_related("district", "organization")
        .get(pk=link_request.pk)
    )
    if link_request.status != DistrictLinkRequest.Status.PENDING:
        raise LinkingError(f"This request is {link_request.status} already.")
    return staff_link_district(
        district=link_request.district,
        organization=link_request.organization,
        actor=actor,
        link_request=link_request,
    )


@transaction.atomic
def reject_link_request(*, link_request: DistrictLinkRequest, actor, note: str = "") -> DistrictLinkRequest:
    link_request = DistrictLinkRequest.objects.select_for_update().get(pk=link_request.pk)
    if link_request.status != DistrictLinkRequest.Status.PENDING:
        raise LinkingError(f"This request is {link_request.status} already.")
    link_request.status = DistrictLinkRequest.Status.REJECTED
    link_request.decided_by = actor
    link_request.decided_at = timezone.now()
    link_request.note = note[:500]
    # A rejected verification link is dead too.
    link_request.evidence = {k: v for k, v in link_request.evidence.items() if k != "verification_nonce"}
    link_request.save(update_fields=["status", "decided_by", "decided_at", "note", "evidence"])
    return link_request


@_refusals_as_linking_errors
@transaction.atomic
def staff_unlink_district(*, district: District, actor, reason: str = "") -> District:
    """Remove a link (audited); its verifications stop counting and no refresh re-links the pair.
    The accounts provisioned for the district keep their organization until it is relinked."""
    before = district.organization_id
    district = district_services.unlink_district(district=district, actor=actor, reason=reason)
    _revoke_verifications(district, before)
    return district


def provisioned_users(*, district: District, organization_id: int) -> list[int]:
    """The accounts the sync or SSO provisioned (``clever-*``) for the district's people while it
    was linked to ``organization_id``: they follow the district when it is relinked. Product
    accounts found by matching are left with their organization."""
    return list(
        get_user_model()
        .objects.filter(
            organization_id=organization_id,
            username__startswith=USERNAME_PREFIX,
            clever_people__district=district,
        )
        .values_list("pk", flat=True)
        .distinct()
    )


@_refusals_as_linking_errors
@transaction.atomic
def staff_relink_district(
    *,
    district: District,
    organization: Organization,
    actor,
    reason: str = "",
    link_request: DistrictLinkRequest | None = None,
) -> tuple[District, int]:
    """Correct a wrong link: move the district to ``organization`` (RELINKED audit) and its
    provisioned accounts with it. Returns the district and the number of accounts moved."""
    district.refresh_from_db(fields=["organization"])
    before = district.organization_id
    if before is None:
        raise LinkingError("The district is not linked: link it instead.")
    if before == organization.pk:
        return district, 0
    method = LinkMethod.REQUEST_APPROVED if link_request is not None else LinkMethod.STAFF
    extra = {"request": link_request.pk} if link_request else {}
    accounts = provisioned_users(district=district, organization_id=before)
    district = district_services.relink_district(
        district=district,
        organization=organization,
        method=method,
        evidence=_snapshot(district, organization, accounts_moved=len(accounts), **extra),
        actor=actor,
        reason=reason,
    )
    moved = get_user_model().objects.filter(pk__in=accounts).update(organization=organization)
    _revoke_verifications(district, before)
    now = timezone.now()
    if link_request is not None:
        DistrictLinkRequest.objects.filter(pk=link_request.pk).update(
            status=DistrictLinkRequest.Status.APPROVED, decided_by=actor, decided_at=now
        )
    _withdraw_others(district.pk, keep=None, actor=actor)
    return district, moved
