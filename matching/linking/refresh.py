"""The refresh: the engine ranks every organization for the unlinked districts
(``matching.engine.districts.rank_organizations``), the ranking is stored in ``DistrictCandidate``
(the linking pages order 10,000 districts by it with one indexed join), and strong evidence goes to
support's queue. Never logs tokens, emails or names."""

from __future__ import annotations

import logging
from collections import Counter, defaultdict
from collections.abc import Iterable

from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.models import Organization, OrganizationEmailDomain
from districts.models import District, DistrictAudit, DistrictStatus

from ..engine.districts import (
    FREE_MAIL_DOMAINS,
    ID_KINDS,
    STRONG_KINDS,
    DistrictMatch,
    DistrictRecord,
    OrganizationRecord,
    identifier_of,
    rank_organizations,
)
from ..models import DistrictCandidate, DistrictLinkRequest, DistrictVerification
from . import evidence
from .selectors import ORIGIN_EVIDENCE, Step
from .services import add_step

logger = logging.getLogger(__name__)

_DISTRICT_COLUMNS = (
    "pk",
    "clever_id",
    "name",
    "us_state",
    "nces_id",
    "mdr_number",
    "organization_id",
    "status",
)


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
    everything = list(District.objects.values(*_DISTRICT_COLUMNS))
    wanted = _wanted(everything, district_ids=district_ids, clever_ids=clever_ids)
    targets = [row for row in everything if _needs_evidence(row, wanted)]
    rows = targets + _sharing_an_identifier(everything, targets)
    scoped = wanted is not None
    records = _district_records(rows, scoped=scoped)
    organizations = _organization_records()
    matches = _rank(rows, records, organizations, scoped=scoped)
    target_pks = {row["pk"] for row in targets}
    refreshed = [match for match in matches if int(match.district_key) in target_pks]
    summary = {
        "districts": len(refreshed),
        "organizations": len(organizations),
        "candidates": _store_candidates(refreshed, wanted),
        "queued": _queue_strong(refreshed) if queue else 0,
    }
    logger.info(
        "district evidence refreshed: %s districts, %s candidates, %s queued",
        summary["districts"],
        summary["candidates"],
        summary["queued"],
    )
    return summary


def _wanted(
    everything: list[dict], *, district_ids: Iterable[int] | None, clever_ids: Iterable[str] | None
) -> set[int] | None:
    """The pks of the districts a scoped refresh names (by pk or Clever ID); None: all of them."""
    if district_ids is None and clever_ids is None:
        return None
    named = set(clever_ids or ())
    by_clever_id = {row["pk"] for row in everything if row["clever_id"] in named}
    return {int(pk) for pk in district_ids or ()} | by_clever_id


def _needs_evidence(row: dict, wanted: set[int] | None) -> bool:
    """An unlinked, connected district the refresh covers."""
    return (
        row["organization_id"] is None
        and row["status"] != DistrictStatus.DISCONNECTED
        and (wanted is None or row["pk"] in wanted)
    )


def _identifiers(row: dict) -> set[tuple[str, str]]:
    """The district's (kind, NCES or MDR id) pairs, as the engine normalizes them."""
    record = DistrictRecord(key="", name="", nces_id=row["nces_id"], mdr_number=row["mdr_number"])
    return {(kind, value) for kind in ID_KINDS if (value := identifier_of(record, kind))}


def _sharing_an_identifier(everything: list[dict], targets: list[dict]) -> list[dict]:
    """Other districts carrying one of the targets' ids: the engine needs them to see a contested id."""
    target_pks = {row["pk"] for row in targets}
    target_ids = set().union(*(_identifiers(row) for row in targets))
    return [row for row in everything if row["pk"] not in target_pks and _identifiers(row) & target_ids]


def _district_records(rows: list[dict], *, scoped: bool) -> list[DistrictRecord]:
    """The engine's view of each district: its ids, its state (else its schools'), and its staff
    email domains (else those of recent Clever logins from it). A full refresh reads every
    district's evidence in one query each."""
    pks = [row["pk"] for row in rows] if scoped else None
    staff = evidence.staff_domains(pks)
    logins = evidence.login_domains([row["clever_id"] for row in rows] if scoped else None)
    states = evidence.district_states(pks)
    return [
        DistrictRecord(
            key=str(row["pk"]),
            name=row["name"],
            state=row["us_state"] or states.get(row["pk"], ""),
            nces_id=row["nces_id"],
            mdr_number=row["mdr_number"],
            staff_email_domains=dict(staff.get(row["pk"]) or logins.get(row["clever_id"]) or Counter()),
        )
        for row in rows
    ]


def _organization_records() -> list[OrganizationRecord]:
    """Every organization with its ids and email domains (free mail says nothing about one)."""
    domains: dict[int, set[str]] = defaultdict(set)
    for organization_id, domain in OrganizationEmailDomain.objects.values_list("organization_id", "domain"):
        if domain not in FREE_MAIL_DOMAINS:
            domains[organization_id].add(domain)
    return [
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


def _rank(
    rows: list[dict], records: list[DistrictRecord], organizations: list[OrganizationRecord], *, scoped: bool
) -> list[DistrictMatch]:
    """The engine's ranking, with what it weighs besides the records: the organizations' people who
    signed in from each district, the verified round trips, and which sides are linked already."""
    by_clever = {row["clever_id"]: str(row["pk"]) for row in rows}
    sso_logins = {
        (by_clever[clever_id], str(organization_id)): count
        for (clever_id, organization_id), count in evidence.sso_people(
            [row["clever_id"] for row in rows] if scoped else None
        ).items()
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
    if not (organizations and records):
        return []
    return rank_organizations(
        records,
        organizations,
        sso_logins=sso_logins,
        verified_round_trips=round_trips,
        linked_districts={str(row["pk"]) for row in rows if row["organization_id"] is not None},
        linked_organizations=linked_organizations,
    )


def _store_candidates(matches: list[DistrictMatch], wanted: set[int] | None) -> int:
    """Replace the stored evidence of the refreshed districts (of every district on a full
    refresh) with the ranking; the number of candidates stored."""
    now = timezone.now()
    fresh = [
        DistrictCandidate(
            district_id=int(match.district_key),
            organization_id=int(candidate.organization_key),
            score=candidate.score,
            evidence=evidence.chips(candidate.evidence),
            computed_at=now,
        )
        for match in matches
        for candidate in match.candidates
    ]
    with transaction.atomic():
        stale = DistrictCandidate.objects.all()
        if wanted is not None:
            stale = stale.filter(district_id__in=sorted(wanted))
        stale.delete()
        DistrictCandidate.objects.bulk_create(fresh, batch_size=2000)
    return len(fresh)


# Nothing links on its own after a refresh: an NCES or MDR number is the district's own record
# (public identifiers anyone running a district can type), so a match only puts the pair in
# support's queue. Only a verified round trip links at once (in the hook, when Clever confirmed
# the person is the district's administrator).
def _has_strong_evidence(chips: list[dict]) -> bool:
    return any(chip.get("kind") in STRONG_KINDS for chip in chips or ())


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
            chips = evidence.chips(candidate.evidence)
            pair = (district_pk, organization_pk)
            if not _has_strong_evidence(chips) or pair in asked or pair in undone:
                continue
            queued_request = DistrictLinkRequest(
                district_id=district_pk,
                organization=organizations[organization_pk],
                origin=ORIGIN_EVIDENCE,
                evidence={"score": candidate.score, "chips": chips, "reasons": list(match.reasons)},
                support_asked_at=timezone.now(),
            )
            add_step(queued_request, Step.QUEUED)
            try:
                with transaction.atomic():
                    queued_request.save()
            except IntegrityError:
                continue
            asked.add(pair)
            queued += 1
    return queued
