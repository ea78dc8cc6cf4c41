"""District-to-organization linking (issues #5 and #16, part 1): services (writes) and selectors
(reads).

Evidence per (unlinked Clever district, organization) pair is computed by the pure engine
(``matching.engine.districts.rank_organizations``) and stored in ``DistrictCandidate`` by
:func:`refresh_district_candidates`; the self-serve page and the admin order unmatched districts
by that precomputed score with one indexed join. Links, relinks and unlinks go through
``districts.services`` (audited with the evidence snapshot); the proof of control of a district is
a "Log in with Clever" round trip (``sso.services.start_clever_login`` with the purpose
``district_link``) by a Clever district admin of exactly that district, or a Clever district
admin's request (made in their Clever session) that the organization's admin confirms (issue #16).
Requests keep whom they wait for and every step (``DistrictLinkRequest.history``). The name search
reads abbreviations and typos (:class:`NameSearch`). See docs/matching.md, "District linking".

Never logs tokens, emails or names.
"""

from __future__ import annotations

import functools
import logging
import re
import secrets
import unicodedata
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
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
from django.utils.dateparse import parse_datetime
from django.utils.functional import cached_property
from rapidfuzz import fuzz, process

from accounts.models import Organization, OrganizationEmailDomain
from districts import services as district_services
from districts.models import District, DistrictAudit, DistrictStatus, LinkMethod
from rostering import presentation
from rostering import selectors as rostering_selectors
from rostering.models import Person, SyncRequest, SyncRun
from rostering.models import School as CleverSchool
from rostering.services.provisioning import USERNAME_PREFIX
from sso import selectors as sso_selectors
from sso.identity import CleverIdentity
from sso.models import CleverLogin

from .engine.districts import (
    FREE_MAIL_DOMAINS,
    STRONG_SOFT_EVIDENCE,
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


# How a closed request ended, in words, by its last step.
OUTCOME_WORDS = {
    Step.DISTRICT_WITHDREW: "taken back by the district's Clever administrator",
    Step.VERIFIED: "verified with Clever and linked",
    Step.CONFIRMED: "confirmed by the organization's administrator and linked",
    Step.DECLINED: "declined by the organization's administrator",
    Step.APPROVED: "approved by our support team and linked",
    Step.REJECTED: "declined by our support team",
    Step.MOOT: "closed: the district was linked",
}
# Nothing links on its own after a refresh: an NCES or MDR number is the district's own record
# (public identifiers anyone running a district can type), so a match only puts the pair in
# support's queue. Only a verified round trip links at once (in the hook, when Clever confirmed
# the person is the district's administrator).
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


# A name's similarity (the engine's rapidfuzz score out of 100) in words, best first.
NAME_WORDS = ((90, "same name"), (70, "similar name"), (40, "name partly alike"), (0, "different name"))


def chip_label(kind: str, detail: str, weight: float = 0.0, *, for_district: bool = False) -> str:
    """What a person reads for one piece of the engine's evidence: an organization admin
    (``your`` people and domains are the organization's), or a district admin (``for_district``:
    the organization's are ``its``)."""
    if kind == "verified_round_trip":
        return "Verified with Clever \u2713"
    if kind == "nces_id":
        return f"NCES \u2713 {detail}"
    if kind == "mdr_number":
        return f"MDR \u2713 {detail}"
    if kind == "sso_logins":
        count = detail.split()[0] if detail else "0"
        if for_district:
            return f"{count} of its people logged in from your district"
        return f"{count} of your people logged in from here"
    if kind == "email_domain":
        if for_district:
            share = detail.split()[0] if detail else ""
            return f"{share} of your staff emails on its domains"
        return f"{detail} on your domains"
    if kind == "name":
        score = float(detail.split("/")[0]) if detail[:1].isdigit() else 0.0
        return next(words for floor, words in NAME_WORDS if score >= floor)
    if kind == "state":
        return f"same state ({detail})" if weight >= 0 else f"not in {detail}"
    return f"{kind} {detail}".strip()


def _chips(evidence: Iterable[Evidence]) -> list[dict]:
    return [
        {
            "kind": item.kind,
            "weight": round(item.weight, 2),
            "detail": item.detail,
            "label": chip_label(item.kind, item.detail, item.weight),
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


def search_unlinked(*, city: str = "", state: str = "") -> QuerySet[District]:
    """Unlinked, not disconnected districts, filtered by city (one of its schools is in it) and
    state (its own, or one of its schools'). Names are searched in Python (:class:`NameSearch`)."""
    districts = _unlinked()
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


# --- searching by name ------------------------------------------------------------------------------

# How people write the kind of a district: the same district is "Madison Independent School
# District" in Clever and "Madison ISD" in a search (or the other way round). A name and a search
# are both read with each phrase written as its abbreviation, longest phrases first
# (docs/matching.md, "Searching by name").
KIND_ABBREVIATIONS = (
    ("consolidated independent school district", "cisd"),
    ("community unit school district", "cusd"),
    ("union free school district", "ufsd"),
    ("union high school district", "uhsd"),
    ("independent school district", "isd"),
    ("unified school district", "usd"),
    ("central school district", "csd"),
    ("city school district", "csd"),
    ("community school district", "csd"),
    ("consolidated school district", "csd"),
    ("elementary school district", "esd"),
    ("high school district", "hsd"),
    ("public school district", "psd"),
    ("regional school district", "rsd"),
    ("area school district", "asd"),
    ("school district", "sd"),
    ("public schools", "ps"),
)
# Words that say what kind of district it is, not which one: a search needs none of them to
# find a district ("Madison schools" finds "Madison ISD"); each one the name also has ranks it
# higher ("Madison County Schools" before "Madison City Schools" for "madison county").
KIND_WORDS = frozenset(
    {abbreviation for _phrase, abbreviation in KIND_ABBREVIATIONS}
    | {"school", "schools", "district", "districts", "public", "unified", "independent", "consolidated",
       "community", "county", "city", "area", "regional", "union", "central", "unit", "free", "joint",
       "elementary", "high", "the", "of", "no", "and"}
)
# Typos: a word of at least TYPO_MIN_LENGTH letters matches a name's word whose rapidfuzz
# ``ratio`` (normalized Indel similarity) is at least TYPO_MIN_SIMILARITY: one letter missing,
# added or swapped for another in a word of five or more ("madisn", "medison", "cedor").
# Shorter words and numbers must match exactly (or, for words, as the start of a name's word).
TYPO_MIN_LENGTH = 4
TYPO_MIN_SIMILARITY = 80.0
_NOT_WORD = re.compile(r"[^a-z0-9]+")
_DROPPED = re.compile(r"[.'\u2019]")
_KIND_PHRASE = re.compile(r"\b(?:" + "|".join(phrase for phrase, _ in KIND_ABBREVIATIONS) + r")\b")
_ABBREVIATION_OF = dict(KIND_ABBREVIATIONS)


@functools.lru_cache(maxsize=65_536)
def search_words(text: str) -> tuple[str, ...]:
    """``text`` as lowercase ASCII words with kind phrases abbreviated: "Madison Independent
    School Dist." -> ("madison", "isd", "dist"); "I.S.D." -> ("isd",)."""
    if not text.isascii():
        decomposed = unicodedata.normalize("NFKD", text)
        text = "".join(char for char in decomposed if not unicodedata.combining(char))
    plain = _NOT_WORD.sub(" ", _DROPPED.sub("", text.lower())).strip()
    # The alternation tries the phrases in the list's order, longest first where they overlap.
    return tuple(_KIND_PHRASE.sub(lambda found: _ABBREVIATION_OF[found.group()], plain).split())


@dataclass(frozen=True)
class NameMatch:
    """How well a district's name answers a search (higher is better, compared in this order):
    the mean of the best score of each searched word (100 exact, 90-99 the start of a word,
    80-99 a typo), the kind words both have, and the share of the name's own words searched."""

    words: float
    kinds: int
    coverage: float


def _singular(word: str) -> str:
    return word[:-1] if word.endswith("s") and len(word) > 3 else word


# The kind words each abbreviation stands for ("sd": school, district), so that a search for a
# kind word finds the names that abbreviate it ("school" finds "Lake Public Schools": "lake ps").
_SPELLED_OUT: dict[str, set[str]] = defaultdict(set)
for _phrase, _abbreviation in KIND_ABBREVIATIONS:
    _SPELLED_OUT[_abbreviation].update(_singular(word) for word in _phrase.split())


@functools.lru_cache(maxsize=65_536)
def _kinds_of(words: tuple[str, ...]) -> frozenset[str]:
    """The kind words a name has, spelled out and singular."""
    kinds = {_singular(word) for word in words if word in KIND_WORDS}
    return frozenset(kinds.union(*(_SPELLED_OUT.get(word, ()) for word in words)))


class NameSearch:
    """A search by name over many districts: each distinct word of their names is scored once
    against each searched word (rapidfuzz over the vocabulary); a name with none of the matched
    words is skipped in one set operation, the others are a few lookups."""

    def __init__(self, text: str):
        words = search_words(text)
        self.words = tuple(dict.fromkeys(word for word in words if word not in KIND_WORDS))
        self.kinds = frozenset(_singular(word) for word in words if word in KIND_WORDS)

    def __bool__(self) -> bool:
        return bool(self.words or self.kinds)

    def rank(self, names: dict[int, str]) -> dict[int, NameMatch]:
        """The districts (pk -> name) whose name answers the search: every searched word (a
        search of kind words only: every kind word) is in the name, exactly, as the start of a
        word, or with a typo."""
        named = {pk: search_words(name) for pk, name in names.items()}
        if not self.words:
            return {pk: NameMatch(100.0, len(self.kinds), 0.0)
                    for pk, words in named.items() if self.kinds <= _kinds_of(words)}
        vocabulary = set().union(*named.values())
        scores = {term: _word_scores(term, vocabulary) for term in self.words}
        matched = set().union(*scores.values())
        found = {}
        for pk, words in named.items():
            if matched.isdisjoint(words):
                continue
            best = [max(scores[term].get(word, 0.0) for word in words) for term in self.words]
            if min(best) == 0.0:
                continue
            own = [word for word in words if word not in KIND_WORDS]
            searched = sum(1 for word in own if word in matched)
            found[pk] = NameMatch(sum(best) / len(best), len(self.kinds & _kinds_of(words)),
                                  searched / len(own) if own else 0.0)
        return found


def _word_scores(searched: str, vocabulary: Iterable[str]) -> dict[str, float]:
    """The words of ``vocabulary`` that ``searched`` matches, with their score."""
    if searched.isdigit():
        return {searched: 100.0} if searched in vocabulary else {}
    scores = {
        word: 100.0 if word == searched else 90.0 + 10.0 * len(searched) / len(word)
        for word in vocabulary
        if word.startswith(searched)
    }
    if len(searched) >= TYPO_MIN_LENGTH:
        letters = [word for word in vocabulary if not word.isdigit()]
        for word, score, _index in process.extract(
            searched, letters, scorer=fuzz.ratio, score_cutoff=TYPO_MIN_SIMILARITY, limit=None
        ):
            scores[word] = max(scores.get(word, 0.0), score)
    return scores


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
    best match first), city and state (:func:`search_unlinked`)."""
    districts = search_unlinked(city=city, state=state)
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


# --- selectors: where a request stands ------------------------------------------------------------


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


def pending_waiting_for(queryset: QuerySet[DistrictLinkRequest], waiting: Waiting,
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


def status_for_organization(link_request: DistrictLinkRequest, *, now: datetime | None = None) -> str:
    """Where a pending request stands, for the organization's admin."""
    now = now or timezone.now()
    waiting = waiting_for(link_request, now=now)
    expires = verification_expires_at(link_request)
    if waiting == Waiting.ORGANIZATION_ADMIN:
        return "The district's Clever administrator asked to link it: waiting for you to confirm it."
    if waiting == Waiting.SUPPORT:
        asked = link_request.support_asked_at or link_request.created_at
        text = f"Waiting for our support team to check it (asked {presentation.moment_text(asked, now=now)})."
        if expires is not None and expires > now:
            text += (" The verification link you sent also works until "
                     f"{presentation.moment_text(expires, now=now)}.")
        return text
    if waiting == Waiting.DISTRICT_ADMIN:
        until = f" (it works until {presentation.moment_text(expires, now=now)})" if expires else ""
        return ("Waiting for the district's Clever administrator to open the verification link you "
                f"sent{until}.")
    return (f"The verification link you sent expired on {presentation.moment_text(expires, now=now)} "
            "and nothing was linked: get a new link, or ask support.")


def outcome(link_request: DistrictLinkRequest) -> str:
    """How a closed request ended, in words (by its last step)."""
    steps = [item.get("step") for item in link_request.history or () if isinstance(item, dict)]
    if steps and steps[-1] in OUTCOME_WORDS:
        return OUTCOME_WORDS[Step(steps[-1])]
    return link_request.get_status_display().lower()


def pair_request(district: District, organization: Organization) -> DistrictLinkRequest | None:
    """The pair's pending request, if any."""
    return DistrictLinkRequest.objects.filter(
        district=district, organization=organization, status=DistrictLinkRequest.Status.PENDING
    ).first()


# How long a closed request stays on the organization's page.
CLOSED_SHOWN_DAYS = 30
# The most closed requests the organization's page lists (the newest).
CLOSED_SHOWN = 20
# A district's Clever admins may ask this many times in ASK_WINDOW_DAYS (asking and taking back
# in a loop would fill an organization's page): after that, support links it.
ASKS_PER_WINDOW = 3
ASK_WINDOW_DAYS = 30


def requests_to_answer(organization: Organization) -> list[DistrictLinkRequest]:
    """What Clever district admins asked the organization and nobody decided yet, oldest first."""
    return list(
        pending_requests(organization).exclude(district_admin_clever_id="").order_by("created_at", "id")
    )


def organization_requests(organization: Organization) -> dict:
    """The organization's requests as its page shows them: ``to_answer`` (a district's Clever
    admin asked), ``waiting`` (pending, with where each stands) and ``closed`` (declined or
    withdrawn in the last ``CLOSED_SHOWN_DAYS`` days, the district not linked here since)."""
    now = timezone.now()
    waiting = pending_requests(organization).filter(district_admin_clever_id="").order_by("created_at", "id")
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
        "to_answer": requests_to_answer(organization),
        "waiting": [(item, status_for_organization(item, now=now)) for item in waiting],
        "closed": [(item, outcome(item)) for item in closed],
    }


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
    step = next((item for item in reversed(link_request.history or [])
                 if item.get("step") == Step.DISTRICT_ASKED), {})
    user = get_user_model().objects.filter(pk=step["by"]).first() if step.get("by") else None
    return DistrictAsk(user=user, at=parse_datetime(step.get("at") or ""),
                       organization_asked_first=link_request.origin != ORIGIN_DISTRICT_ADMIN)


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
ROSTER_COUNTS = {"schools": "school", "students": "student", "teachers": "teacher", "staff": "staff",
                 "sections": "section"}


def sync_status(district: District) -> dict:
    """A linked district's sync as its organization sees it: ``last`` (the last sync's title, or
    "" before the first), ``outcome`` (its status in words), ``cause`` and ``next_step`` (when it
    did not simply succeed: ``rostering.presentation.failure_summary``), ``next_sync`` (when the
    next one comes, or why none does) and ``counts`` (the live roster: label, number)."""
    run = rostering_selectors.last_sync(district)
    cause, next_step = presentation.failure_summary(run) if run else ("", "")
    if run and presentation.support_must_act(run):
        # The summary's step is written for support staff (their details, their settings).
        next_step = ("Our support team sees this failure on their dashboard and looks into "
                     "it; nothing is needed from you.")
    totals = rostering_selectors.live_totals(district)
    return {
        "last": presentation.run_title(run) if run else "",
        "outcome": presentation.STATUS_WORDS.get(run.status, run.status) if run else "",
        "failed": bool(run and run.status == SyncRun.Status.FAILED),
        "cause": cause,
        "next_step": next_step,
        "next_sync": _next_sync(district),
        "counts": [(one if totals[key] == 1 else presentation.label(key), presentation.number(totals[key]))
                   for key, one in ROSTER_COUNTS.items()],
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
    when = presentation.at_text(owed or presentation.next_nightly_sync(now), now=now)
    return f"{when[0].upper()}{when[1:]}" + ("." if owed else " (the nightly sync).")


# --- selectors: the district admin's side -----------------------------------------------------------

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
    return sum(float(chip.get("weight") or 0) for chip in chips or ()
               if chip.get("kind") not in _TYPED_BY_THE_DISTRICT)


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
        Offer(organization=candidate.organization, chips=_district_chips(candidate.evidence))
        for candidate in candidates
        if offer_strength(candidate.evidence) >= OFFER_MIN_BITS
    ]
    return offers[:OFFER_LIMIT]


def _district_chips(chips: list[dict]) -> list[dict]:
    return [
        {**chip, "label": chip_label(chip.get("kind", ""), chip.get("detail", ""),
                                     float(chip.get("weight") or 0), for_district=True)}
        for chip in chips
    ]


def district_admin_requests(district: District, *, limit: int = 5) -> list[DistrictLinkRequest]:
    """What the district's Clever admins asked, newest first (at most one is pending)."""
    return list(
        DistrictLinkRequest.objects.filter(district=district)
        .exclude(district_admin_clever_id="")
        .select_related("organization")
        .order_by("-created_at", "-id")[:limit]
    )


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
    queue: bool = True,
) -> dict:
    """Recompute the evidence of unlinked districts (all, or ``district_ids`` / ``clever_ids``) against every
    organization, store it in ``DistrictCandidate`` and (``queue``) put strong evidence (an NCES
    or MDR match, a verified round trip) in support's queue, once per pair: links nothing, since
    every identifier here is the district's own record.

    Never queues a pair a person unlinked before, nor one asked about already. Returns
    ``{"districts", "organizations", "candidates", "queued": n}``.
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
        "queued": _queue_strong(list(by_target.values())) if queue else 0,
    }
    logger.info(
        "district evidence refreshed: %s districts, %s candidates, %s queued",
        summary["districts"],
        summary["candidates"],
        summary["queued"],
    )
    return summary


def _queue_strong(matches: list[DistrictMatch]) -> int:
    """Support's queue gets each pair with strong evidence (and whatever made it ambiguous)."""
    if not matches:
        return 0
    # Pairs a person unlinked (or moved away) before: never proposed again by a rule.
    undone = set(
        DistrictAudit.objects.filter(
            action__in=[DistrictAudit.Action.UNLINKED, DistrictAudit.Action.RELINKED],
            organization_before__isnull=False,
        ).values_list("district_id", "organization_before_id")
    )
    asked = set(DistrictLinkRequest.objects.values_list("district_id", "organization_id"))
    organizations = Organization.objects.in_bulk(
        {int(candidate.organization_key) for match in matches for candidate in match.candidates}
    )
    queued = 0
    for match in matches:
        district_pk = int(match.district_key)
        for candidate in match.candidates:
            organization_pk = int(candidate.organization_key)
            chips = _chips(candidate.evidence)
            pair = (district_pk, organization_pk)
            if not strong(chips) or pair in asked or pair in undone:
                continue
            queued_request = DistrictLinkRequest(
                district_id=district_pk,
                organization=organizations[organization_pk],
                origin=ORIGIN_EVIDENCE,
                evidence={"score": candidate.score, "chips": chips, "reasons": list(match.reasons)},
                support_asked_at=timezone.now(),
            )
            _step(queued_request, Step.QUEUED)
            try:
                with transaction.atomic():
                    queued_request.save()
            except IntegrityError:
                continue
            asked.add(pair)
            queued += 1
    return queued


def _withdraw_others(district_pk: int, *, keep: int | None, actor=None) -> int:
    """Pending requests for a district that just got linked are moot."""
    pending = DistrictLinkRequest.objects.select_for_update().filter(
        district_id=district_pk, status=DistrictLinkRequest.Status.PENDING
    )
    if keep is not None:
        pending = pending.exclude(pk=keep)
    moot = list(pending)
    for link_request in moot:
        _decide(link_request, DistrictLinkRequest.Status.WITHDRAWN, Step.MOOT, by=actor,
                note="The district was linked.")
    return len(moot)


def _snapshot(district: District, organization: Organization, **extra) -> dict:
    candidate = candidate_for(district, organization)
    return {
        "score": candidate.score if candidate else 0.0,
        "chips": candidate.evidence if candidate else [],
        **extra,
    }


# --- services: a request's steps ------------------------------------------------------------------


def _step(link_request: DistrictLinkRequest, step: Step, *, by=None, clever_user: str = "",
          note: str = "") -> None:
    """Add a step to the request's history (the caller saves it): who (a product user, and for
    a district admin their Clever user ID), when, and their note. IDs only, never names."""
    link_request.history = [
        *(link_request.history or []),
        {
            "at": timezone.now().isoformat(),
            "step": str(step),
            "by": getattr(by, "pk", None),
            "clever_user": clever_user,
            "note": note[:500],
        },
    ]


def _decide(link_request: DistrictLinkRequest, status: str, step: Step, *, by=None, clever_user: str = "",
            note: str = "") -> DistrictLinkRequest:
    """Close a pending request: its status, who and when, a note, the step; its verification
    link (if any) dies with it."""
    link_request.status = status
    link_request.decided_by = by if getattr(by, "pk", None) else None
    link_request.decided_at = timezone.now()
    link_request.note = note[:500]
    link_request.evidence = {key: value for key, value in link_request.evidence.items()
                             if key != "verification_nonce"}
    _step(link_request, step, by=by, clever_user=clever_user, note=note)
    link_request.save(update_fields=["status", "decided_by", "decided_at", "note", "evidence", "history"])
    return link_request


def _unlinked_accounts(district: District) -> list[int]:
    """The accounts Clever sign-ins made (``clever-*``) for the district's people while it was
    linked to no organization: they have none."""
    return list(
        get_user_model()
        .objects.filter(organization__isnull=True, username__startswith=USERNAME_PREFIX,
                        clever_people__district=district)
        .values_list("pk", flat=True)
        .distinct()
    )


@transaction.atomic
def _link(*, district: District, organization: Organization, method: str, evidence: dict, actor=None,
          actor_label: str = "") -> District:
    """Link through ``districts.services`` (the LINKED audit) and bring into the organization the
    accounts its people made by signing in while the district was unlinked (a district admin who
    asked for the link, say): the sync gives everyone else theirs, but it leaves accounts it
    did not make alone."""
    accounts = _unlinked_accounts(district)
    district = district_services.link_district(
        district=district,
        organization=organization,
        method=method,
        evidence={**evidence, "accounts_joined": len(accounts)},
        actor=actor,
        actor_label=actor_label,
    )
    get_user_model().objects.filter(pk__in=accounts).update(organization=organization)
    return district


def _pending_pair(district: District, organization: Organization) -> DistrictLinkRequest | None:
    return (
        DistrictLinkRequest.objects.select_for_update()
        .filter(district=district, organization=organization, status=DistrictLinkRequest.Status.PENDING)
        .first()
    )


# --- services: an organization admin asks ---------------------------------------------------------


def _check_linkable(district: District, organization: Organization) -> None:
    """Refuse a district linked to another organization. Locks the district's row: the asks
    and links of one district take turns."""
    locked = District.objects.select_for_update().values("organization_id", "status").get(pk=district.pk)
    district.organization_id, district.status = locked["organization_id"], locked["status"]
    if district.organization_id is not None and district.organization_id != organization.pk:
        raise LinkingError(
            "This district is already linked to another organization. It cannot be claimed "
            "here; contact support if the link is wrong."
        )


@transaction.atomic
def request_district_link(
    *, organization: Organization, district: District, requested_by
) -> DistrictLinkRequest:
    """Ask support staff to decide the link. One pending request per pair: asking again changes
    nothing, and asking after a verification link was sent (or after the district's Clever admin
    asked) puts that same request in support's queue, the link still working."""
    _check_linkable(district, organization)
    link_request = _pending_pair(district, organization) or DistrictLinkRequest(
        district=district,
        organization=organization,
        requested_by=requested_by,
        origin=ORIGIN_SELF_SERVE,
        evidence=_snapshot(district, organization),
    )
    if link_request.support_asked_at is None:
        link_request.support_asked_at = timezone.now()
        _step(link_request, Step.ASKED_SUPPORT, by=requested_by)
        link_request.save()
    return link_request


def verification_days() -> int:
    return max(1, round(settings.DISTRICT_LINK_VERIFICATION_MAX_AGE / 86400))


def _signer() -> signing.TimestampSigner:
    return signing.TimestampSigner(salt=VERIFICATION_SALT)


@transaction.atomic
def issue_verification_link(*, organization: Organization, district: District, requested_by) -> str:
    """A signed, expiring, single-use token naming the pair's pending request (a new one: origin
    ``verification_link``); the organization admin sends its URL to the Clever district admin."""
    _check_linkable(district, organization)
    nonce = secrets.token_urlsafe(16)
    link_request = _pending_pair(district, organization)
    if link_request is None:
        link_request = DistrictLinkRequest(
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
        "verification_issued_at": timezone.now().isoformat(),
    }
    _step(link_request, Step.SENT_LINK, by=requested_by)
    link_request.save()
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
        _link(
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
    # The verification link's request, or the pair's own pending one (support was asked, say).
    verified = link_request or _pending_pair(district, organization)
    if verified is not None:
        verified.evidence = {**verified.evidence, "verified_by_clever_user": identity.clever_id}
        _decide(verified, DistrictLinkRequest.Status.APPROVED, Step.VERIFIED, by=requester,
                clever_user=identity.clever_id,
                note="Verified with Clever by a district administrator of the district.")
    _withdraw_others(district.pk, keep=verified.pk if verified else None)
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
    if link_request is not None and link_request.district_admin_clever_id:
        extra["asked_by_clever_user"] = link_request.district_admin_clever_id
    if reason:
        extra["reason"] = reason[:500]
    district = _link(
        district=district,
        organization=organization,
        method=method,
        evidence=_snapshot(district, organization, **extra),
        actor=actor,
    )
    # The request approved, or the pair's own pending request (support linked it from the list).
    approved = link_request or _pending_pair(district, organization)
    if approved is not None:
        _decide(approved, DistrictLinkRequest.Status.APPROVED, Step.APPROVED, by=actor, note=reason)
    _withdraw_others(district.pk, keep=None, actor=actor)
    return district


@transaction.atomic
def approve_link_request(*, link_request: DistrictLinkRequest, actor, reason: str = "") -> District:
    """Support staff link the request's pair. A request a Clever district admin made waits for
    the organization's admin: approving it before they answer needs a ``reason`` (recorded)."""
    link_request = (
        DistrictLinkRequest.objects.select_for_update(of=("self",))
        .select_related("district", "organization")
        .get(pk=link_request.pk)
    )
    if link_request.status != DistrictLinkRequest.Status.PENDING:
        raise LinkingError(f"This request is {link_request.status} already.")
    if waiting_for(link_request) == Waiting.ORGANIZATION_ADMIN and len(reason.strip()) < 3:
        raise LinkingError("A Clever district admin asked and the organization has not answered: "
                           "say why you approve it without them (it is recorded with your name).")
    return staff_link_district(
        district=link_request.district,
        organization=link_request.organization,
        actor=actor,
        link_request=link_request,
        reason=reason,
    )


@transaction.atomic
def reject_link_request(*, link_request: DistrictLinkRequest, actor, note: str = "") -> DistrictLinkRequest:
    link_request = DistrictLinkRequest.objects.select_for_update().get(pk=link_request.pk)
    if link_request.status != DistrictLinkRequest.Status.PENDING:
        raise LinkingError(f"This request is {link_request.status} already.")
    return _decide(link_request, DistrictLinkRequest.Status.REJECTED, Step.REJECTED, by=actor, note=note)


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
    if link_request is not None:
        _decide(link_request, DistrictLinkRequest.Status.APPROVED, Step.APPROVED, by=actor, note=reason)
    _withdraw_others(district.pk, keep=None, actor=actor)
    return district, moved


# --- services: a Clever district admin asks, the organization answers -----------------------------


def _check_district_admin(district_admin: DistrictAdmin, district: District) -> None:
    identity = district_admin.identity
    if (identity.is_library or "district_admin" not in identity.roles
            or identity.district_id != district.clever_id):
        raise LinkingError("Only a district administrator of this district in Clever can ask for its link.")


@transaction.atomic
def ask_organization_to_link(
    *, district_admin: DistrictAdmin, organization: Organization
) -> DistrictLinkRequest:
    """A Clever district admin asks to link their district to ``organization``, one of
    :func:`offered_organizations`. Nothing is linked on their word: the organization's admin
    confirms it (or support staff approve it). One pending ask per district; a pair the
    organization (or support) declined is not asked again from here. A pending request of the
    organization for the same district becomes this ask (both sides now agree to ask)."""
    district = district_admin.district
    _check_district_admin(district_admin, district)
    _check_linkable(district, organization)
    if district.organization_id is not None:
        raise LinkingError("Your district is linked already.")
    if organization.pk not in {offer.organization.pk for offer in offered_organizations(district)}:
        raise LinkingError(
            "This organization cannot be asked from here. Ask our support team to link your district."
        )
    if DistrictLinkRequest.objects.filter(
        district=district, status=DistrictLinkRequest.Status.PENDING
    ).exclude(district_admin_clever_id="").exists():
        raise LinkingError(
            "Your district already asked an organization to link it: wait for its answer, or take that "
            "request back first."
        )
    if _recent_asks(district) >= ASKS_PER_WINDOW:
        raise LinkingError(
            f"Your district asked {ASKS_PER_WINDOW} times in the last {ASK_WINDOW_DAYS} days. "
            "Ask our support team to link it."
        )
    link_request = _pending_pair(district, organization) or DistrictLinkRequest(
        district=district,
        organization=organization,
        requested_by=district_admin.user,
        origin=ORIGIN_DISTRICT_ADMIN,
        evidence=_snapshot(district, organization),
    )
    clever_user = district_admin.identity.clever_id
    link_request.district_admin_clever_id = clever_user
    _step(link_request, Step.DISTRICT_ASKED, by=district_admin.user, clever_user=clever_user)
    link_request.save()
    return link_request


def _recent_asks(district: District) -> int:
    """How many times the district's Clever admins asked in the last ``ASK_WINDOW_DAYS``."""
    since = (timezone.now() - timedelta(days=ASK_WINDOW_DAYS)).isoformat()
    return sum(
        1
        for history in DistrictLinkRequest.objects.filter(district=district).values_list("history", flat=True)
        for step in history or []
        if step.get("step") == Step.DISTRICT_ASKED and str(step.get("at", "")) >= since
    )


@transaction.atomic
def withdraw_district_admin_request(*, district_admin: DistrictAdmin) -> DistrictLinkRequest:
    """A Clever district admin of the district takes back its pending ask. A request the
    organization made itself stays, waiting as it did before the district asked."""
    district = district_admin.district
    _check_district_admin(district_admin, district)
    link_request = (
        DistrictLinkRequest.objects.select_for_update()
        .filter(district=district, status=DistrictLinkRequest.Status.PENDING)
        .exclude(district_admin_clever_id="")
        .first()
    )
    if link_request is None:
        raise LinkingError("Your district has no request waiting.")
    clever_user = district_admin.identity.clever_id
    if link_request.origin == ORIGIN_DISTRICT_ADMIN:
        return _decide(link_request, DistrictLinkRequest.Status.WITHDRAWN, Step.DISTRICT_WITHDREW,
                       by=district_admin.user, clever_user=clever_user,
                       note="Taken back by the district's Clever administrator.")
    link_request.district_admin_clever_id = ""
    _step(link_request, Step.DISTRICT_WITHDREW, by=district_admin.user, clever_user=clever_user)
    link_request.save(update_fields=["district_admin_clever_id", "history"])
    return link_request


def _answerable(link_request: DistrictLinkRequest, organization_admin) -> DistrictLinkRequest:
    """The request, locked, when ``organization_admin`` may answer it now."""
    organization = administered_organization(organization_admin)
    # The district first, then the request: the order the verification hook locks them in, so
    # a confirmation racing a verification waits instead of deadlocking.
    District.objects.select_for_update().filter(pk=link_request.district_id).first()
    locked = (
        DistrictLinkRequest.objects.select_for_update(of=("self",))
        .select_related("district", "organization")
        .filter(pk=link_request.pk)
        .first()
    )
    if locked is None or organization is None or locked.organization_id != organization.pk:
        raise LinkingError("Only an administrator of the organization asked can answer this request.")
    if locked.status != DistrictLinkRequest.Status.PENDING or not locked.district_admin_clever_id:
        raise LinkingError("This request was answered or taken back already.")
    return locked


@_refusals_as_linking_errors
@transaction.atomic
def confirm_district_admin_request(
    *, link_request: DistrictLinkRequest, organization_admin, reason: str
) -> District:
    """The organization's admin confirms what the district's Clever admin asked: both sides agree,
    so the district is linked (method ``clever_login``: Clever confirmed the district admin at
    their sign-in), audited with the evidence, both people and the reason, and the agreement is
    recorded as a ``DistrictVerification`` (evidence for the ranking, revoked by an unlink)."""
    link_request = _answerable(link_request, organization_admin)
    district, organization = link_request.district, link_request.organization
    _check_linkable(district, organization)
    DistrictVerification.objects.create(
        district=district,
        organization=organization,
        method=DistrictVerification.Method.DISTRICT_ADMIN_REQUEST,
        clever_user_id=link_request.district_admin_clever_id,
        requested_by=organization_admin,
    )
    _link(
        district=district,
        organization=organization,
        method=LinkMethod.CLEVER_LOGIN,
        evidence=_snapshot(
            district,
            organization,
            request=link_request.pk,
            proof=DistrictVerification.Method.DISTRICT_ADMIN_REQUEST,
            asked_by_clever_user=link_request.district_admin_clever_id,
            reason=reason[:500],
        ),
        actor=organization_admin,
        actor_label=f"{organization_admin} (confirmed the request of the district's Clever administrator)",
    )
    _decide(link_request, DistrictLinkRequest.Status.APPROVED, Step.CONFIRMED, by=organization_admin,
            note=reason)
    _withdraw_others(district.pk, keep=link_request.pk, actor=organization_admin)
    return district


@transaction.atomic
def decline_district_admin_request(
    *, link_request: DistrictLinkRequest, organization_admin, reason: str
) -> DistrictLinkRequest:
    """The organization's admin declines what the district's Clever admin asked (the district
    admin cannot ask this organization again; support can still link it)."""
    link_request = _answerable(link_request, organization_admin)
    return _decide(link_request, DistrictLinkRequest.Status.REJECTED, Step.DECLINED, by=organization_admin,
                   note=reason)
