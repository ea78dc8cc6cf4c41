"""What the linking pages show: the unmatched list (ranked or searched, as sequences the
Paginator slices, with each row's chips and places), a district's and an organization's facts side
by side, where a request stands and how it ended, how a district was linked and its sync, in
words."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlencode

from django.conf import settings
from django.core.paginator import Page, Paginator
from django.db.models import F, FilteredRelation, Q, QuerySet
from django.utils import timezone
from django.utils.functional import cached_property

from accounts.models import Organization
from districts.models import District, DistrictStatus, LinkMethod
from rostering import presentation as roster_presentation
from rostering import selectors as rostering_selectors
from rostering.models import School as CleverSchool
from rostering.models import SyncRequest, SyncRun

from ..models import DistrictCandidate, DistrictLinkRequest, DistrictVerification
from . import evidence, selectors
from .search import NameMatch, NameSearch

_LIST_FIELDS = ("pk", "clever_id", "name", "us_state", "nces_id", "mdr_number", "status")
# How a closed request ended, in words, by its last step.
OUTCOME_WORDS = {
    selectors.Step.DISTRICT_WITHDREW: "taken back by the district's Clever administrator",
    selectors.Step.VERIFIED: "verified with Clever and linked",
    selectors.Step.CONFIRMED: "confirmed by the organization's administrator and linked",
    selectors.Step.DECLINED: "declined by the organization's administrator",
    selectors.Step.APPROVED: "approved by our support team and linked",
    selectors.Step.REJECTED: "declined by our support team",
    selectors.Step.MOOT: "closed: the district was linked",
}


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
    """The unmatched list for a search: the city and state filters run once in SQL (ids and
    names of what they find, at most the 10,000 unlinked districts), the name search ranks them
    here (:class:`NameSearch`), the organization's positive evidence is read once (its
    ``DistrictCandidate`` rows), and a page reads its own districts by primary key. Order: the
    best name match first, then evidence, then name. No count, and no second evaluation of the
    search's school subqueries."""

    def __init__(self, organization: Organization, districts: QuerySet[District], name: NameSearch):
        names = dict(districts.order_by().values_list("pk", "name"))
        self.scores = dict(
            DistrictCandidate.objects.filter(organization=organization, score__gt=0)
            .order_by()
            .values_list("district_id", "score")
        )
        matches = name.rank(names) if name else {}
        unmatched = NameMatch(0.0, 0, 0.0)

        def order(pk: int) -> tuple:
            match = matches.get(pk, unmatched)
            return (-match.words, -match.kinds, -match.coverage, -self.scores.get(pk, 0.0), names[pk], pk)

        self.order = sorted(matches if name else names, key=order)

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
    (score, then name), then the others by name; searchable by name (:class:`NameSearch`: the
    best match first), city and state (:func:`selectors.search_unlinked`)."""
    districts = selectors.search_unlinked(city=city, state=state)
    if name or city or state:
        return SearchedDistricts(organization, districts, NameSearch(name))
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
    page, rows = unmatched_page(
        organization, name=search["q"], city=search["city"], state=search["state"], page=query.get("page", 1)
    )
    return {
        "search": search,
        "search_query": urlencode({k: v for k, v in search.items() if v}),
        "page": page,
        "rows": rows,
    }


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


def district_facts(district: District) -> dict:
    """What support staff compare side by side: the Clever district's identifiers and places,
    and its staff email domains (counts; no addresses)."""
    return {
        "name": district.name,
        "clever_id": district.clever_id,
        "state": district.us_state or evidence.district_states([district.pk]).get(district.pk, ""),
        "nces_id": district.nces_id,
        "mdr_number": district.mdr_number,
        "places": _places([district.pk]).get(district.pk, ""),
        "domains": sorted(
            evidence.staff_domains([district.pk]).get(district.pk, {}).items(), key=lambda item: -item[1]
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


def status_for_organization(link_request: DistrictLinkRequest, *, now: datetime | None = None) -> str:
    """Where a pending request stands, for the organization's admin."""
    now = now or timezone.now()
    waiting = selectors.waiting_for(link_request, now=now)
    expires = selectors.verification_expires_at(link_request)
    if waiting == selectors.Waiting.ORGANIZATION_ADMIN:
        return "The district's Clever administrator asked to link it: waiting for you to confirm it."
    if waiting == selectors.Waiting.SUPPORT:
        asked = link_request.support_asked_at or link_request.created_at
        asked_text = roster_presentation.moment_text(asked, now=now)
        text = f"Waiting for our support team to check it (asked {asked_text})."
        if expires is not None and expires > now:
            text += (
                " The verification link you sent also works until "
                f"{roster_presentation.moment_text(expires, now=now)}."
            )
        return text
    if waiting == selectors.Waiting.DISTRICT_ADMIN:
        until = f" (it works until {roster_presentation.moment_text(expires, now=now)})" if expires else ""
        return (
            f"Waiting for the district's Clever administrator to open the verification link you sent{until}."
        )
    return (
        f"The verification link you sent expired on {roster_presentation.moment_text(expires, now=now)} "
        "and nothing was linked: get a new link, or ask support."
    )


def outcome(link_request: DistrictLinkRequest) -> str:
    """How a closed request ended, in words (by its last step)."""
    steps = [item.get("step") for item in link_request.history or () if isinstance(item, dict)]
    if steps and steps[-1] in OUTCOME_WORDS:
        return OUTCOME_WORDS[selectors.Step(steps[-1])]
    return link_request.get_status_display().lower()


# How long a closed request stays on the organization's page.
CLOSED_SHOWN_DAYS = 30
# The most closed requests the organization's page lists (the newest).
CLOSED_SHOWN = 20


def organization_requests(organization: Organization) -> dict:
    """The organization's requests as its page shows them: ``to_answer`` (a district's Clever
    admin asked), ``waiting`` (pending, with where each stands) and ``closed`` (declined or
    withdrawn in the last ``CLOSED_SHOWN_DAYS`` days, the district not linked here since)."""
    now = timezone.now()
    pending = selectors.pending_requests(organization)
    waiting = pending.filter(district_admin_clever_id="").order_by("created_at", "id")
    closed = (
        DistrictLinkRequest.objects.filter(
            organization=organization,
            status__in=[DistrictLinkRequest.Status.REJECTED, DistrictLinkRequest.Status.WITHDRAWN],
            decided_at__gte=now - timedelta(days=CLOSED_SHOWN_DAYS),
        )
        .exclude(district__organization=organization)
        .select_related("district")
        .order_by("-decided_at", "-id")[:CLOSED_SHOWN]
    )
    return {
        "to_answer": selectors.requests_to_answer(organization),
        "waiting": [(item, status_for_organization(item, now=now)) for item in waiting],
        "closed": [(item, outcome(item)) for item in closed],
    }


# How a district came to be linked, for the organization's admin (``District.link_method``).
LINKED_BY_WORDS = {
    LinkMethod.NCES: "its NCES district ID matches yours",
    LinkMethod.MDR: "its MDR number matches yours",
    LinkMethod.CLEVER_LOGIN: "verified with Clever",
    LinkMethod.VERIFICATION_LINK: "verified with Clever through your verification link",
    LinkMethod.STAFF: "linked by our support team",
    LinkMethod.REQUEST_APPROVED: "your request, approved by our support team",
}


def how_linked(district: District) -> str:
    # Both a "Verify with Clever" round trip and a confirmed district admin's request are
    # Clever logins; the proof in the link's evidence tells them apart.
    if (district.link_evidence or {}).get("proof") == DistrictVerification.Method.DISTRICT_ADMIN_REQUEST:
        return "asked by its Clever administrator, confirmed by your organization"
    return LINKED_BY_WORDS.get(district.link_method, "")


# --- selectors: a district's sync, for the people who linked it ----------------------------------

# The roster counts shown, with the word for one of each (``rostering.presentation.label`` is
# the word for several).
ROSTER_COUNTS = {
    "schools": "school",
    "students": "student",
    "teachers": "teacher",
    "staff": "staff",
    "sections": "section",
}


def sync_status(district: District) -> dict:
    """A linked district's sync as its organization sees it: ``last`` (the last sync's title, or
    "" before the first), ``outcome`` (its status in words), ``cause`` and ``next_step`` (when it
    did not simply succeed: ``rostering.presentation.failure_summary``), ``next_sync`` (when the
    next one comes, or why none does) and ``counts`` (the live roster: label, number)."""
    run = rostering_selectors.last_sync(district)
    cause, next_step = roster_presentation.failure_summary(run) if run else ("", "")
    if run and roster_presentation.support_must_act(run):
        # The summary's step is written for support staff (their details, their settings).
        next_step = (
            "Our support team sees this failure on their dashboard and looks into "
            "it; nothing is needed from you."
        )
    totals = rostering_selectors.live_totals(district)
    return {
        "last": roster_presentation.run_title(run) if run else "",
        "outcome": roster_presentation.STATUS_WORDS.get(run.status, run.status) if run else "",
        "failed": bool(run and run.status == SyncRun.Status.FAILED),
        "cause": cause,
        "next_step": next_step,
        "next_sync": _next_sync(district),
        "counts": [
            (
                one if totals[key] == 1 else roster_presentation.label(key),
                roster_presentation.number(totals[key]),
            )
            for key, one in ROSTER_COUNTS.items()
        ],
    }


def _next_sync(district: District) -> str:
    if district.status != DistrictStatus.CONNECTED:
        return f"None while the district is {district.get_status_display().lower()}."
    if not district.sync_enabled:
        return "None: syncs are switched off for this district (our support team can switch them on)."
    now = timezone.now()
    owed = SyncRequest.objects.filter(district=district).values_list("due_at", flat=True).first()
    if owed is not None and owed <= now:
        return "Due now."
    when = roster_presentation.at_text(owed or roster_presentation.next_nightly_sync(now), now=now)
    return f"{when[0].upper()}{when[1:]}" + ("." if owed else " (the nightly sync).")


def verification_days() -> int:
    """How many days a verification link works, for the page that hands it out."""
    return max(1, round(settings.DISTRICT_LINK_VERIFICATION_MAX_AGE / 86400))
