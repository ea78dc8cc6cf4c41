"""The evidence of a (Clever district, organization) pair: what the refresh reads for the engine
(staff email domains, recent Clever logins, the states of the district's schools, the people who
signed in from it) and the chips the engine's evidence is stored and shown as. Domains and
counts only: never an address or a name."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from datetime import timedelta

from allauth.socialaccount.models import SocialAccount
from django.db.models import Count, Q, Value
from django.db.models.functions import Lower, StrIndex, Substr
from django.utils import timezone

from rostering.models import Person
from rostering.models import School as CleverSchool
from sso.identity import PROVIDER
from sso.models import CleverLogin

from ..engine.districts import Evidence

_STAFF_ROLES = ("teacher", "staff", "district_admin")
# CleverLogin rows older than this are not evidence any more.
LOGIN_EVIDENCE_DAYS = 365


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


def chips(evidence: Iterable[Evidence]) -> list[dict]:
    """The engine's evidence as stored (``DistrictCandidate.evidence``), labelled for the
    organization's admin."""
    return [
        {
            "kind": item.kind,
            "weight": round(item.weight, 2),
            "detail": item.detail,
            "label": chip_label(item.kind, item.detail, item.weight),
        }
        for item in evidence
    ]


def chips_for_district(stored: list[dict]) -> list[dict]:
    """Stored chips labelled for a district admin."""
    return [
        {
            **chip,
            "label": chip_label(
                chip.get("kind", ""),
                chip.get("detail", ""),
                float(chip.get("weight") or 0),
                for_district=True,
            ),
        }
        for chip in stored
    ]


# --- what the refresh reads ------------------------------------------------------------------------


def staff_domains(district_ids: list[int] | None) -> dict[int, Counter]:
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


def login_domains(clever_ids: list[str] | None) -> dict[str, Counter]:
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


def district_states(district_ids: list[int] | None) -> dict[int, str]:
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


def sso_people(clever_ids: list[str] | None) -> dict[tuple[str, int], int]:
    """(Clever district ID, organization pk) -> distinct product users of the organization who
    logged in through Clever from the district (their Clever account records the district)."""
    # Accounts the sync or SSO made belong to a linked district's organization by construction:
    # only product accounts a person linked to Clever are evidence.
    accounts = SocialAccount.objects.filter(
        provider=PROVIDER, user__organization__isnull=False, user__made_for_clever_id=""
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
