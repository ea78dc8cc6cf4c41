"""Linking Clever districts to customer organizations: evidence per (district, organization).

Evidence, strongest first (weights are bits of evidence, added up for the ranking):

| evidence | weight | strong |
|---|---|---|
| a verified "Log in with Clever" round trip (our signed ``state`` came back) | 20 | yes |
| NCES LEAID exact (7 digits; its 2-digit FIPS prefix must agree with the state) | 14 | yes |
| MDR number exact | 12 | yes |
| SSO logins: distinct people of the organization who logged in from the district | up to 10 | no |
| share of the district's staff emails on the organization's domains (free mail ignored) | up to 8 | no |
| normalized name similarity, same state | up to 5 | no, ranking only |

Nothing here links: strong evidence puts the pair in support's queue (``matching.linking.refresh``)
with the reasons it is contested, if it is: several organizations or districts carry the id (or
the round trip), a side is linked already, the states or the other id disagree, or another
organization has strong evidence (logins or domain) for the district.
"""

import math
from collections import Counter, defaultdict
from collections.abc import Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass, field

from rapidfuzz import fuzz, process

from .normalize import normalize_identifier, normalize_name

WEIGHT_ROUND_TRIP = 20.0
WEIGHT_NCES = 14.0
WEIGHT_MDR = 12.0
MAX_WEIGHT_SSO = 10.0
MAX_WEIGHT_DOMAIN = 8.0
MAX_WEIGHT_NAME = 4.0
WEIGHT_SAME_STATE = 1.0
WEIGHT_OTHER_STATE = -3.0
# Evidence an administrator should see as pointing at an organization (logins, a domain).
STRONG_SOFT_EVIDENCE = 5.0
MIN_DOMAIN_SHARE = 0.5

FREE_MAIL_DOMAINS = frozenset(
    {
        "gmail.com",
        "googlemail.com",
        "yahoo.com",
        "ymail.com",
        "hotmail.com",
        "outlook.com",
        "live.com",
        "msn.com",
        "aol.com",
        "icloud.com",
        "me.com",
        "mac.com",
        "comcast.net",
        "protonmail.com",
        "proton.me",
        "mail.com",
        "gmx.com",
        "zoho.com",
        "att.net",
        "verizon.net",
        "sbcglobal.net",
    }
)
# Words every district name has, which say nothing about which district it is.
_DISTRICT_WORDS = frozenset(
    {
        "school",
        "schools",
        "district",
        "districts",
        "public",
        "unified",
        "independent",
        "consolidated",
        "community",
        "county",
        "city",
        "area",
        "regional",
        "joint",
        "central",
        "union",
        "free",
        "elementary",
        "high",
        "isd",
        "cusd",
        "cisd",
        "sd",
        "ps",
        "psd",
        "usd",
        "the",
        "of",
        "no",
    }
)
# The state FIPS codes an NCES LEAID starts with (nces.ed.gov/ccd).
STATE_FIPS = {
    "AL": "01",
    "AK": "02",
    "AZ": "04",
    "AR": "05",
    "CA": "06",
    "CO": "08",
    "CT": "09",
    "DE": "10",
    "DC": "11",
    "FL": "12",
    "GA": "13",
    "HI": "15",
    "ID": "16",
    "IL": "17",
    "IN": "18",
    "IA": "19",
    "KS": "20",
    "KY": "21",
    "LA": "22",
    "ME": "23",
    "MD": "24",
    "MA": "25",
    "MI": "26",
    "MN": "27",
    "MS": "28",
    "MO": "29",
    "MT": "30",
    "NE": "31",
    "NV": "32",
    "NH": "33",
    "NJ": "34",
    "NM": "35",
    "NY": "36",
    "NC": "37",
    "ND": "38",
    "OH": "39",
    "OK": "40",
    "OR": "41",
    "PA": "42",
    "RI": "44",
    "SC": "45",
    "SD": "46",
    "TN": "47",
    "TX": "48",
    "UT": "49",
    "VT": "50",
    "VA": "51",
    "WA": "53",
    "WV": "54",
    "WI": "55",
    "WY": "56",
    "AS": "60",
    "GU": "66",
    "MP": "69",
    "PR": "72",
    "VI": "78",
}


@dataclass(frozen=True, slots=True)
class DistrictRecord:
    """A Clever district; ``staff_email_domains`` counts its teachers' and staff's email domains."""

    key: str
    name: str
    state: str = ""
    nces_id: str = ""
    mdr_number: str = ""
    staff_email_domains: Mapping[str, int] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class OrganizationRecord:
    key: str
    name: str
    state: str = ""
    nces_leaid: str = ""
    mdr_number: str = ""
    email_domains: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class Evidence:
    kind: str
    weight: float
    detail: str = ""


@dataclass(frozen=True, slots=True)
class OrganizationCandidate:
    organization_key: str
    score: float
    evidence: tuple[Evidence, ...]


@dataclass(frozen=True, slots=True)
class DistrictMatch:
    """``candidates`` rank every organization with evidence, best first; ``reasons`` say why the
    district's strong evidence does not single out one organization."""

    district_key: str
    candidates: tuple[OrganizationCandidate, ...]
    reasons: tuple[str, ...] = ()


# The identifiers a district and an organization both record (the organization's field names).
_ORG_ID = {"nces_id": "nces_leaid", "mdr_number": "mdr_number"}
ID_KINDS = tuple(_ORG_ID)
# Evidence strong enough to put a pair in support's queue.
STRONG_KINDS = ("verified_round_trip", "nces_id", "mdr_number")


def normalize_district_name(name: str) -> str:
    return " ".join(word for word in normalize_name(name).split() if word not in _DISTRICT_WORDS)


def identifier_of(record: DistrictRecord | OrganizationRecord, kind: str) -> str:
    """The record's NCES LEAID (digits, leading zeros kept: they are the state's FIPS code) or
    MDR number (leading zeros dropped, as spreadsheets do); ``kind`` is one of ``ID_KINDS``."""
    if isinstance(record, OrganizationRecord):
        value = getattr(record, _ORG_ID[kind])
    else:
        value = getattr(record, kind)
    return normalize_identifier(value) if kind == "mdr_number" else _clean_id(value)


def _clean_id(value: str) -> str:
    return "".join(char for char in (value or "") if char.isalnum()).upper()


def valid_leaid(leaid: str, state: str) -> bool:
    """Seven digits whose FIPS prefix agrees with the state (when the state is known)."""
    fips = STATE_FIPS.get((state or "").upper())
    return len(leaid) == 7 and leaid.isdigit() and (fips is None or leaid[:2] == fips)


def _domain_share(district: DistrictRecord, domains: frozenset[str]) -> tuple[float, int]:
    """Share of the district's non-free-mail staff emails on the domains (or their subdomains)."""
    total = matching = 0
    for domain, count in district.staff_email_domains.items():
        domain = domain.lower()
        if domain in FREE_MAIL_DOMAINS:
            continue
        total += count
        if any(domain == own or domain.endswith("." + own) for own in domains):
            matching += count
    return (matching / total if total else 0.0), matching


def _domain_and_parents(domain: str) -> list[str]:
    """ "hs.district.k12.us" -> itself, "district.k12.us", "k12.us" (a school's subdomain counts
    for the district's domain)."""
    labels = domain.split(".")
    return [".".join(labels[start:]) for start in range(len(labels) - 1)]


@dataclass(frozen=True)
class _Market:
    """The organizations and what points at them, indexed once for every district."""

    organizations: Sequence[OrganizationRecord]
    by_key: dict[str, OrganizationRecord]
    # Per id kind: how many districts carry each value; the organizations that record it.
    district_id_counts: dict[str, Counter]
    organizations_by_id: dict[str, dict[str, list[str]]]
    trips_by_district: dict[str, set[str]]
    trips_by_organization: dict[str, set[str]]
    logins_by_district: dict[str, dict[str, int]]
    domain_owners: dict[str, list[str]]
    organization_names: list[str]
    linked_districts: Collection[str]
    linked_organizations: Collection[str]


def rank_organizations(
    districts: Sequence[DistrictRecord],
    organizations: Sequence[OrganizationRecord],
    *,
    sso_logins: Mapping[tuple[str, str], int] | None = None,
    verified_round_trips: Collection[tuple[str, str]] = (),
    linked_districts: Collection[str] = (),
    linked_organizations: Collection[str] = (),
    max_candidates: int = 10,
    name_candidates: int = 5,
) -> list[DistrictMatch]:
    """Rank organizations for each district, and say why its strong evidence is contested.

    ``sso_logins`` maps (district key, organization key) to the number of distinct people of the
    organization who logged in through Clever from that district; ``verified_round_trips`` holds
    the (district, organization) pairs a signed "Log in with Clever" state proved.
    """
    market = _index_market(
        districts,
        organizations,
        sso_logins=sso_logins or {},
        verified_round_trips=verified_round_trips,
        linked_districts=linked_districts,
        linked_organizations=linked_organizations,
    )
    matches = []
    for district in districts:
        evidence = _evidence(district, market, name_candidates=name_candidates)
        candidates = sorted(
            (
                OrganizationCandidate(key, round(sum(item.weight for item in items), 2), tuple(items))
                for key, items in evidence.items()
            ),
            key=lambda candidate: (-candidate.score, candidate.organization_key),
        )[:max_candidates]
        reasons = _contest_reasons(district, evidence, market)
        matches.append(DistrictMatch(district.key, tuple(candidates), reasons))
    return matches


def _index_market(
    districts: Sequence[DistrictRecord],
    organizations: Sequence[OrganizationRecord],
    *,
    sso_logins: Mapping[tuple[str, str], int],
    verified_round_trips: Collection[tuple[str, str]],
    linked_districts: Collection[str],
    linked_organizations: Collection[str],
) -> _Market:
    logins_by_district: dict[str, dict[str, int]] = defaultdict(dict)
    for (district_key, organization_key), count in sso_logins.items():
        logins_by_district[district_key][organization_key] = count
    domain_owners: dict[str, list[str]] = defaultdict(list)
    for organization in organizations:
        for domain in organization.email_domains:
            domain_owners[domain.lower()].append(organization.key)
    return _Market(
        organizations=organizations,
        by_key={organization.key: organization for organization in organizations},
        district_id_counts={
            kind: Counter(identifier_of(district, kind) for district in districts) for kind in ID_KINDS
        },
        organizations_by_id={
            kind: _group(organizations, lambda organization, kind=kind: identifier_of(organization, kind))
            for kind in ID_KINDS
        },
        trips_by_district=_pairs_by(verified_round_trips, 0),
        trips_by_organization=_pairs_by(verified_round_trips, 1),
        logins_by_district=logins_by_district,
        domain_owners=domain_owners,
        organization_names=[normalize_district_name(organization.name) for organization in organizations],
        linked_districts=linked_districts,
        linked_organizations=linked_organizations,
    )


def _group(records, key_of) -> dict[str, list[str]]:
    groups: dict[str, list[str]] = defaultdict(list)
    for record in records:
        if value := key_of(record):
            groups[value].append(record.key)
    return groups


def _pairs_by(pairs: Collection[tuple[str, str]], side: int) -> dict[str, set[str]]:
    grouped: dict[str, set[str]] = defaultdict(set)
    for pair in pairs:
        grouped[pair[side]].add(pair[1 - side])
    return grouped


# --- the evidence for one district ------------------------------------------------------------------

Pointer = tuple[str, Evidence]  # an organization key and a piece of evidence for it


def _evidence(
    district: DistrictRecord,
    market: _Market,
    *,
    name_candidates: int,
) -> dict[str, list[Evidence]]:
    """Organization key -> the evidence for it, in the order: ids, round trip, logins, domains,
    then name and state (for every organization with evidence and the best-named ones)."""
    evidence: dict[str, list[Evidence]] = defaultdict(list)
    for source in (_id_evidence, _round_trip_evidence, _login_evidence, _domain_evidence):
        for organization_key, item in source(district, market):
            evidence[organization_key].append(item)
    for organization_key, item in _name_and_state_evidence(
        district, market, pointed_at=set(evidence), name_candidates=name_candidates
    ):
        evidence[organization_key].append(item)
    return evidence


def _id_evidence(district: DistrictRecord, market: _Market) -> Iterator[Pointer]:
    nces = identifier_of(district, "nces_id")
    nces_usable = bool(nces) and valid_leaid(nces, district.state)
    for kind, usable, weight in (("nces_id", nces_usable, WEIGHT_NCES), ("mdr_number", True, WEIGHT_MDR)):
        value = identifier_of(district, kind)
        if value and usable:
            for organization_key in market.organizations_by_id[kind].get(value, ()):
                yield organization_key, Evidence(kind, weight, value)


def _round_trip_evidence(district: DistrictRecord, market: _Market) -> Iterator[Pointer]:
    for organization_key in market.trips_by_district.get(district.key, ()):
        yield organization_key, Evidence("verified_round_trip", WEIGHT_ROUND_TRIP)


def _login_evidence(district: DistrictRecord, market: _Market) -> Iterator[Pointer]:
    for organization_key, count in market.logins_by_district.get(district.key, {}).items():
        weight = min(MAX_WEIGHT_SSO, 3 * math.log2(1 + count))
        yield organization_key, Evidence("sso_logins", weight, f"{count} people")


def _domain_evidence(district: DistrictRecord, market: _Market) -> Iterator[Pointer]:
    owners = {
        owner
        for domain in district.staff_email_domains
        for suffix in _domain_and_parents(domain.lower())
        for owner in market.domain_owners.get(suffix, ())
    }
    for organization_key in owners:
        share, count = _domain_share(district, market.by_key[organization_key].email_domains)
        if count:
            # Under MIN_DOMAIN_SHARE, the domain is a minority of the staff: half the weight.
            weight = MAX_WEIGHT_DOMAIN * share if share >= MIN_DOMAIN_SHARE else MAX_WEIGHT_DOMAIN * share / 2
            yield organization_key, Evidence("email_domain", weight, f"{share:.0%} of staff emails")


def _name_and_state_evidence(
    district: DistrictRecord, market: _Market, *, pointed_at: set[str], name_candidates: int
) -> Iterator[Pointer]:
    """Name similarity (and same or other state) for the organizations other evidence points at
    and the ``name_candidates`` best-named ones."""
    name = normalize_district_name(district.name)
    named = process.extract(
        name, market.organization_names, scorer=fuzz.token_sort_ratio, limit=name_candidates
    )
    name_scores = {market.organizations[index].key: score for _choice, score, index in named}
    for organization_key in pointed_at | set(name_scores):
        organization = market.by_key[organization_key]
        score = name_scores.get(organization_key)
        if score is None:
            score = fuzz.token_sort_ratio(name, normalize_district_name(organization.name))
        yield organization_key, Evidence("name", MAX_WEIGHT_NAME * score / 100, f"{score:.0f}/100")
        if district.state and organization.state:
            same = district.state.upper() == organization.state.upper()
            yield (
                organization_key,
                Evidence("state", WEIGHT_SAME_STATE if same else WEIGHT_OTHER_STATE, organization.state),
            )


# --- why strong evidence is contested ---------------------------------------------------------------


def _contest_reasons(
    district: DistrictRecord, evidence: Mapping[str, list[Evidence]], market: _Market
) -> tuple[str, ...]:
    """Why the district's strong evidence does not single out one organization (empty when it
    does, or when there is none); support reads these beside the request the refresh queues."""
    pointed = {
        kind: {key for key, items in evidence.items() if any(item.kind == kind for item in items)}
        for kind in STRONG_KINDS
    }
    targets = set().union(*pointed.values())
    if not targets:
        return ()
    target = next(iter(targets))
    return (
        *_shared_or_split(district, pointed, targets, market),
        *_disagreements(district, target, market),
        *_rivals(evidence, target),
    )


def _shared_or_split(
    district: DistrictRecord, pointed: Mapping[str, set[str]], targets: set[str], market: _Market
) -> list[str]:
    """The strong evidence points at several organizations, or its id or round trip is shared."""
    reasons = []
    if len(targets) > 1:
        reasons.append("ids_point_to_different_organizations")
    for kind in ID_KINDS:
        if pointed[kind] and market.district_id_counts[kind][identifier_of(district, kind)] > 1:
            reasons.append(f"{kind}_shared_by_several_districts")
    if len(market.trips_by_district.get(district.key, ())) > 1 or any(
        len(market.trips_by_organization.get(target, ())) > 1 for target in pointed["verified_round_trip"]
    ):
        reasons.append("round_trips_contested")
    return reasons


def _disagreements(district: DistrictRecord, target: str, market: _Market) -> list[str]:
    """The district and the organization it points at: linked already, or recorded differently."""
    organization = market.by_key[target]
    reasons = []
    if district.key in market.linked_districts or target in market.linked_organizations:
        reasons.append("already_linked")
    if district.state and organization.state and district.state.upper() != organization.state.upper():
        reasons.append("states_differ")
    for kind in ID_KINDS:
        district_value, organization_value = identifier_of(district, kind), identifier_of(organization, kind)
        if district_value and organization_value and district_value != organization_value:
            reasons.append(f"{kind}_disagrees")
    return reasons


def _rivals(evidence: Mapping[str, list[Evidence]], target: str) -> list[str]:
    """Another organization has strong evidence of its own: its people's logins or its domain."""
    rivals = [
        key
        for key, items in evidence.items()
        if key != target
        and sum(item.weight for item in items if item.kind in ("sso_logins", "email_domain"))
        >= STRONG_SOFT_EVIDENCE
    ]
    return ["another_organization_has_logins_or_domain"] if rivals else []
