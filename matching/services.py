"""Writes of the matching app: running the engine for a district, linking product records to
Clever records, the review queue's decisions, Matchmaker imports.

Rules (docs/matching.md):

- **Schools**: an exact NCES or state ID within the linked district links automatically
  (``rostering.School.product_school``); anything else is a candidate list for a person.
- **People**: the engine scores every product person of the district's organization against
  the district's live Clever people (students, teachers, staff, district admins). AUTO links at
  once; REVIEW and DUPLICATE go to the review queue with up to three candidates and per-field
  contributions; NO MATCH is recorded (recomputed on every run). Sections are never matched.
- **Sticky decisions**: links (automatic or not) and decisions made by a person or by a
  Matchmaker import are not asked again unless a compared field changed (``compared_digest``);
  then the item goes back to the queue, the existing link untouched until someone decides.
- **Labels**: decided pairs are the engine's labels (``m`` is estimated from them).
- **Linking** a product user to a Clever person is ``sso.services.move_clever_identity`` (the
  one owner of that link: ``Person.user``, the person's Clever sign-in and the account-link
  audit move together; the account made for the person is deactivated, never deleted);
  undoing it is ``sso.services.return_clever_identity``. This module adds the matching audit
  (``MatchAudit``) and reopens the decisions the move undid.
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from core.errors import AppError
from districts.models import District
from rostering.models import Person
from rostering.models import School as CleverSchool
from sso import policy as sso_policy
from sso import selectors as sso_selectors
from sso import services as sso_services

from . import matchmaker, selectors
from .engine import Candidate, Decision, LabelledPair, MatchParams, match_people
from .engine.schools import match_schools
from .models import MatchAudit, MatchSource, MatchStatus, PersonMatch, SchoolMatch, Zone

logger = logging.getLogger(__name__)
User = get_user_model()


class MatchError(AppError, ValueError):
    """A decision that cannot be applied (the record is linked elsewhere, the district is not
    linked to an organization...); the message says why in plain words."""


def params_from_settings() -> MatchParams:
    return MatchParams(
        auto_probability=settings.MATCH_AUTO_PROBABILITY,
        review_probability=settings.MATCH_REVIEW_PROBABILITY,
        auto_margin_bits=settings.MATCH_AUTO_MARGIN_BITS,
    )


def _candidates_json(candidates: tuple[Candidate, ...]) -> list[dict]:
    return [
        {
            "clever_id": c.clever_key,
            "probability": round(c.probability, 6),
            "weight": round(c.weight, 3),
            "prior": round(c.prior_bits, 3),
            "vetoes": list(c.vetoes),
            "contributions": [
                {"field": x.field, "level": str(x.level), "weight": round(x.weight, 3)}
                for x in c.contributions
            ],
        }
        for c in candidates
    ]


def _audit(
    *,
    district: District,
    kind: str,
    action: str,
    product_id: int,
    clever_id: str,
    source: str,
    actor=None,
    actor_label: str = "",
    details: dict | None = None,
) -> None:
    MatchAudit.objects.create(
        district=district,
        kind=kind,
        action=action,
        product_id=product_id,
        clever_id=clever_id,
        source=source,
        actor=actor if getattr(actor, "pk", None) else None,
        actor_label=actor_label or (actor.get_username() if getattr(actor, "pk", None) else "matching"),
        details=details or {},
    )


# --- linking ---------------------------------------------------------------------------------


@transaction.atomic
def link_person(*, person: Person, user, source: str, actor=None, evidence: dict | None = None) -> None:
    """Make ``user`` the product account of the Clever ``person`` (see the module docstring)."""
    person = Person.objects.select_for_update().get(pk=person.pk)
    if person.user_id == user.pk:
        return
    other = (
        Person.objects.filter(district=person.district_id, user=user, archived_at__isnull=True)
        .exclude(pk=person.pk)
        .first()
    )
    if other is not None:
        raise MatchError(f"That account is already linked to Clever user {other.clever_id} in this district.")
    foreign = sso_selectors.clever_accounts(user).exclude(uid=person.clever_id).first()
    if foreign is not None:
        raise MatchError(f"That account already signs in as Clever user {foreign.uid}.")
    try:
        previous = sso_services.move_clever_identity(
            person=person,
            user=user,
            by_a_person=source == MatchSource.STAFF,
            actor=actor,
            actor_label=f"matching: {source}",
            evidence={"probability": (evidence or {}).get("probability")},
        )
    except sso_services.LinkRefused as refusal:
        raise MatchError(str(refusal)) from refusal
    left = previous is not None and previous.pk != user.pk
    if left and not sso_policy.made_for(previous, person.clever_id):
        # The person leaves another product account: its decision naming them is open again.
        PersonMatch.objects.filter(
            district=person.district,
            user=previous,
            person=person,
            status__in=(MatchStatus.ACCEPTED, MatchStatus.AUTO_LINKED),
        ).update(status=MatchStatus.PENDING, decided_by=None, decided_at=None, compared_digest="")
        _audit(
            district=person.district,
            kind=MatchAudit.Kind.PERSON,
            action=MatchAudit.Action.UNLINKED,
            product_id=previous.pk,
            clever_id=person.clever_id,
            source=source,
            actor=actor,
            details={"reason": f"linked to account {user.pk} instead"},
        )
    _audit(
        district=person.district,
        kind=MatchAudit.Kind.PERSON,
        action=MatchAudit.Action.LINKED,
        product_id=user.pk,
        clever_id=person.clever_id,
        source=source,
        actor=actor,
        details={**(evidence or {}), "replaced_account": previous.pk if previous else None},
    )


@transaction.atomic
def unlink_person(*, person: Person, source: str, actor=None, reason: str = "") -> None:
    """Undo a link: the person gets back the account the sync had made for them (reactivated),
    or none (the next sync makes one); their Clever login follows."""
    previous = sso_services.return_clever_identity(
        person=person,
        by_a_person=source == MatchSource.STAFF,
        actor=actor,
        actor_label=f"matching: {source}",
        reason=reason,
    )
    if previous is None:
        return
    _audit(
        district=person.district,
        kind=MatchAudit.Kind.PERSON,
        action=MatchAudit.Action.UNLINKED,
        product_id=previous.pk,
        clever_id=person.clever_id,
        source=source,
        actor=actor,
        details={"reason": reason[:500]},
    )


# --- running the engine ---------------------------------------------------------------------------


@transaction.atomic
def match_district_schools(*, district: District) -> dict:
    """Match the organization's schools to the district's Clever schools."""
    product = list(selectors.product_schools(district))
    clever = list(CleverSchool.objects.filter(district=district, archived_at__isnull=True))
    decided = {m.school_id: m for m in SchoolMatch.objects.filter(district=district)}
    sticky = {
        pk
        for pk, m in decided.items()
        if m.status in (MatchStatus.ACCEPTED, MatchStatus.NO_MATCH, MatchStatus.AUTO_LINKED)
    }
    taken = set(
        CleverSchool.objects.filter(district=district, product_school_id__in=sticky).values_list(
            "clever_id", flat=True
        )
    )
    results = match_schools(
        [selectors.product_school_record(s) for s in product if s.pk not in sticky],
        [selectors.clever_school_record(s) for s in clever if s.clever_id not in taken],
    )
    by_clever_id = {s.clever_id: s for s in clever}
    counts = Counter()
    for result in results:
        candidates = [
            {"clever_id": c.clever_key, "name_score": round(c.name_score, 1), "evidence": list(c.evidence)}
            for c in result.candidates
        ]
        school_id = int(result.product_key)
        status = (
            MatchStatus.AUTO_LINKED
            if result.decision == Decision.AUTO
            else (MatchStatus.PENDING if result.decision == Decision.REVIEW else MatchStatus.NO_MATCH)
        )
        chosen = by_clever_id.get(result.clever_key) if result.clever_key else None
        SchoolMatch.objects.update_or_create(
            district=district,
            school_id=school_id,
            defaults={
                "status": status,
                "zone": Zone(str(result.decision)),
                "source": MatchSource.ENGINE,
                "clever_school": chosen,
                "candidates": candidates,
                "probability": 1.0 if status == MatchStatus.AUTO_LINKED else 0.0,
            },
        )
        if status == MatchStatus.AUTO_LINKED and chosen is not None:
            _link_school(
                chosen=chosen,
                school_id=school_id,
                source=MatchSource.ENGINE,
                evidence={"reasons": list(result.reasons), "candidates": candidates[:1]},
            )
        counts[status] += 1
    return {str(key): n for key, n in counts.items()}


def _link_school(*, chosen: CleverSchool, school_id: int, source: str, actor=None, evidence: dict) -> None:
    CleverSchool.objects.filter(pk=chosen.pk).update(product_school_id=school_id)
    _audit(
        district=chosen.district,
        kind=MatchAudit.Kind.SCHOOL,
        action=MatchAudit.Action.LINKED,
        product_id=school_id,
        clever_id=chosen.clever_id,
        source=source,
        actor=actor,
        details=evidence,
    )


def _labels(
    district: District, records: dict[str, object], people: dict[str, Person], users: dict[int, object]
):
    """Reviewed decisions as the engine's labels: accepted pairs match; a "no match" says the
    product record is not its best candidate."""
    labels = []
    for match in selectors.people_decided_by_a_person(district).exclude(source=MatchSource.ENGINE):
        person = people.get(match.person.clever_id) if match.person_id else None
        user = users.get(match.user_id)
        if person is None or user is None:
            continue
        labels.append(
            LabelledPair(
                product=selectors.product_record(user),
                clever=records[person.clever_id],
                is_match=match.status == MatchStatus.ACCEPTED,
            )
        )
    return labels


def _held_decisions(district: District, product_records: dict, clever_records: dict) -> tuple[set, set]:
    """Sticky decisions stay out of the run unless what they were decided on changed: the users
    and the Clever people (by Clever ID) those decisions hold."""
    held_users, held_people = set(), set()
    for match in selectors.people_decided_by_a_person(district):
        if match.user_id not in product_records:
            continue
        clever = clever_records.get(match.person.clever_id) if match.person_id else None
        if match.compared_digest == selectors.compared_digest(product_records[match.user_id], clever):
            held_users.add(match.user_id)
            if match.person_id and match.status in (MatchStatus.ACCEPTED, MatchStatus.AUTO_LINKED):
                held_people.add(match.person.clever_id)
    return held_users, held_people


def _engine_status(
    decision, *, user, person: Person | None, previous: PersonMatch | None, protected: bool
) -> str:
    """The match's status from the engine's decision. Never move an existing link, nor link a
    protected account (a password or permissions), without a person's decision."""
    status = {Decision.AUTO: MatchStatus.AUTO_LINKED, Decision.NO_MATCH: MatchStatus.NO_MATCH}.get(
        decision, MatchStatus.PENDING
    )
    if status != MatchStatus.AUTO_LINKED:
        return status
    linked_elsewhere = (
        person is not None and person.user_id not in (None, user.pk) and not person.user.made_by_clever
    )
    relinks = (
        previous is not None
        and previous.person_id
        and previous.status in (MatchStatus.ACCEPTED, MatchStatus.AUTO_LINKED)
        and previous.person_id != getattr(person, "pk", None)
    )
    return MatchStatus.PENDING if (linked_elsewhere or relinks or protected) else status


def _person_match_fields(
    result, *, status: str, person: Person | None, previous: PersonMatch | None, compared_digest: str
) -> dict:
    """The ``PersonMatch`` columns for one engine result: the decision, the candidates with their
    explanation, and what it was decided on (``compared_digest``)."""
    best = result.candidates[0] if result.candidates else None
    fields = {
        "status": status,
        "zone": Zone(str(result.decision)),
        "source": MatchSource.ENGINE,
        "person": person,
        "candidates": _candidates_json(result.candidates),
        "probability": best.probability if best else 0.0,
        "weight": best.weight if best else 0.0,
        "duplicate_of_id": int(result.duplicate_of) if result.duplicate_of else None,
        "compared_digest": compared_digest,
        "decided_by": None,
        "decided_at": timezone.now() if status != MatchStatus.PENDING else None,
    }
    if (
        previous is not None
        and previous.status in (MatchStatus.ACCEPTED, MatchStatus.AUTO_LINKED)
        and status == MatchStatus.PENDING
    ):
        fields["person"] = previous.person  # the queue shows the current link until decided
    return fields


def _record_person_result(
    result,
    *,
    district: District,
    user,
    person: Person | None,
    previous: PersonMatch | None,
    protected: bool,
    compared_digest: str,
) -> str:
    """Store one product person's engine result (``PersonMatch``) and link it when the engine
    may link on its own; its status."""
    status = _engine_status(result.decision, user=user, person=person, previous=previous, protected=protected)
    fields = _person_match_fields(
        result, status=status, person=person, previous=previous, compared_digest=compared_digest
    )
    PersonMatch.objects.update_or_create(district=district, user=user, defaults=fields)
    if status == MatchStatus.AUTO_LINKED:
        link_person(
            person=person,
            user=user,
            source=MatchSource.ENGINE,
            evidence={
                "probability": fields["probability"],
                "weight": fields["weight"],
                "contributions": fields["candidates"][0]["contributions"],
            },
        )
    return status


@transaction.atomic
def match_district_people(*, district: District) -> dict:
    """Run the engine over the district's people (see the module docstring); a summary."""
    if district.organization_id is None:
        raise MatchError(f"District {district.clever_id} is not linked to an organization: nobody to match.")
    people = {p.clever_id: p for p in selectors.live_clever_people(district)}
    clever_records = {cid: selectors.clever_record(p) for cid, p in people.items()}
    school_keys = selectors.school_keys(district)
    users = {u.pk: u for u in selectors.product_people(district)}
    product_records = {pk: selectors.product_record(u, school_keys=school_keys) for pk, u in users.items()}
    existing = {
        m.user_id: m
        for m in PersonMatch.objects.filter(district=district, user__isnull=False).select_related("person")
    }
    # Accounts with a password or permissions: the engine proposes, a person decides.
    protected = sso_policy.protected_ids(selectors.product_people(district))

    held_users, held_people = _held_decisions(district, product_records, clever_records)
    results = match_people(
        [r for pk, r in product_records.items() if pk not in held_users],
        [r for cid, r in clever_records.items() if cid not in held_people],
        params=params_from_settings(),
        labels=_labels(district, clever_records, people, users),
    )

    counts = Counter(kept=len(held_users))
    for result in results:
        if result.product_key is None:
            continue  # a Clever person nobody claimed: provisioning gives them an account
        user = users[int(result.product_key)]
        status = _record_person_result(
            result,
            district=district,
            user=user,
            person=people.get(result.clever_key) if result.clever_key else None,
            previous=existing.get(user.pk),
            protected=user.pk in protected,
            compared_digest=selectors.compared_digest(
                product_records[user.pk], clever_records.get(result.clever_key) if result.clever_key else None
            ),
        )
        counts[status] += 1
    logger.info("matching district %s: %s", district.clever_id, {str(k): n for k, n in counts.items()})
    return {str(key): n for key, n in counts.items()}


def match_district(*, district: District) -> dict:
    """Schools first (people share school keys through them), then people."""
    schools = match_district_schools(district=district)
    people = match_district_people(district=district)
    return {
        "district": district.clever_id,
        "schools": schools,
        "people": people,
        "review_queue": selectors.review_queue(district).count(),
    }


def _locked(match: PersonMatch) -> PersonMatch:
    """The match, re-read and locked (its row only: the user and person joins may be empty)."""
    return (
        PersonMatch.objects.select_for_update(of=("self",))
        .select_related("user", "person", "district")
        .get(pk=match.pk)
    )


# --- review decisions ------------------------------------------------------------------------------


def _decide(
    match: PersonMatch,
    *,
    status: str,
    actor,
    person: Person | None = None,
    duplicate_of=None,
    source: str = MatchSource.STAFF,
) -> PersonMatch:
    product = selectors.product_record(match.user, school_keys=selectors.school_keys(match.district))
    clever = selectors.clever_record(person) if person is not None else None
    match.status = status
    match.source = source
    match.person = person
    match.duplicate_of = duplicate_of
    match.decided_by = actor if getattr(actor, "pk", None) else None
    match.decided_at = timezone.now()
    match.compared_digest = selectors.compared_digest(product, clever)
    match.save()
    return match


def _not_on_roster(district: District, clever_id: str | None) -> str:
    """Why a Clever person cannot be linked, in words: they left the roster (when), or the
    district's roster never had them."""
    gone = Person.objects.filter(district=district, clever_id=clever_id or "").first()
    if gone is None:
        return "That person is not on the district's roster in Clever: there is nobody to link."
    left = timezone.localtime(gone.archived_at).strftime("%-d %b %Y")
    name = f"{gone.first_name} {gone.last_name}".strip() or "This person"
    return (
        f"{name} left the district's roster in Clever on {left}: there is nobody to link. "
        "Choose “None of these”, or another candidate."
    )


@transaction.atomic
def accept_match(
    *, match: PersonMatch, actor, clever_id: str | None = None, source: str = MatchSource.STAFF
) -> PersonMatch:
    """Accept the proposed Clever person, or choose another one (``clever_id``) of the district."""
    match = _locked(match)
    if match.user is None:
        raise MatchError(
            "A Clever record without a product record cannot be accepted: there is nothing to link."
        )
    clever_id = clever_id or (match.person.clever_id if match.person_id else None)
    person = Person.objects.filter(
        district=match.district, clever_id=clever_id, archived_at__isnull=True
    ).first()
    if person is None:
        raise MatchError(_not_on_roster(match.district, clever_id))
    chosen = next((c for c in match.candidates if c["clever_id"] == person.clever_id), None)
    for previous in Person.objects.filter(district=match.district, user=match.user).exclude(pk=person.pk):
        unlink_person(
            person=previous, source=source, actor=actor, reason=f"another record chosen: {clever_id}"
        )
    link_person(
        person=person,
        user=match.user,
        source=source,
        actor=actor,
        evidence={"decision": "accepted", "candidate": chosen},
    )
    return _decide(match, status=MatchStatus.ACCEPTED, actor=actor, person=person, source=source)


@transaction.atomic
def reject_match(*, match: PersonMatch, actor, source: str = MatchSource.STAFF) -> PersonMatch:
    """No Clever record is this product record."""
    match = _locked(match)
    if match.user is not None and match.person_id and match.person.user_id == match.user_id:
        unlink_person(person=match.person, source=source, actor=actor, reason="decided: no match")
    _audit(
        district=match.district,
        kind=MatchAudit.Kind.PERSON,
        action=MatchAudit.Action.NO_MATCH,
        product_id=match.user_id or 0,
        clever_id=match.person.clever_id if match.person_id else "",
        source=source,
        actor=actor,
        details={"candidates": match.candidates},
    )
    if match.user is None:
        match.status, match.decided_at = MatchStatus.NO_MATCH, timezone.now()
        match.decided_by = actor if getattr(actor, "pk", None) else None
        match.save()
        return match
    return _decide(match, status=MatchStatus.NO_MATCH, actor=actor, source=source)


@transaction.atomic
def mark_duplicate(
    *, match: PersonMatch, duplicate_of, actor, source: str = MatchSource.STAFF
) -> PersonMatch:
    """The product record repeats ``duplicate_of`` (another product user): not linked."""
    match = _locked(match)
    if duplicate_of is not None and duplicate_of.pk == match.user_id:
        raise MatchError("A record cannot duplicate itself.")
    _audit(
        district=match.district,
        kind=MatchAudit.Kind.PERSON,
        action=MatchAudit.Action.DUPLICATE,
        product_id=match.user_id or 0,
        clever_id="",
        source=source,
        actor=actor,
        details={"duplicate_of": getattr(duplicate_of, "pk", None)},
    )
    return _decide(match, status=MatchStatus.DUPLICATE, actor=actor, duplicate_of=duplicate_of, source=source)


def bulk_accept(*, matches, min_probability: float, actor) -> dict:
    """Accept every pending item whose proposed candidate reaches ``min_probability`` and has no
    veto; each in its own transaction, so one refusal (linked elsewhere) does not stop the rest.
    Accounts with a password or permissions are left for a decision one by one: a bulk action is
    not a person looking at that pair."""
    counts = Counter()
    pending = matches.filter(
        status=MatchStatus.PENDING, probability__gte=min_probability, person__isnull=False, user__isnull=False
    )
    protected = sso_policy.protected_ids(User.objects.filter(pk__in=pending.values("user_id")))
    for match in pending:
        if match.candidates and match.candidates[0].get("vetoes"):
            counts["vetoed"] += 1
            continue
        if match.user_id in protected:
            counts["protected"] += 1
            continue
        try:
            accept_match(match=match, actor=actor)
        except MatchError:
            counts["refused"] += 1
        else:
            counts["accepted"] += 1
    return {str(key): n for key, n in counts.items()}


# --- Clever Matchmaker -----------------------------------------------------------------------------


@dataclass(frozen=True)
class ImportSummary:
    linked: int
    review_items: int

    def as_dict(self) -> dict:
        return {"linked": self.linked, "review_items": self.review_items}


def _matchmaker_problems(rows, *, district: District, users: dict, people: dict) -> list[str]:
    """What is wrong with a Matchmaker file, line by line: an ``app.id`` that is not a product
    person of the district's organization, a ``clever.id`` that is not a live person of the
    synced district."""
    problems = []
    for row in rows:
        clever_side = row.result in (matchmaker.CLEVER_NO_MATCH, matchmaker.CLEVER_DUPLICATE)
        if row.app_id and not clever_side and row.app_id not in users:
            problems.append(
                f"line {row.line}: app.id {row.app_id} is not a person of {district.organization}"
            )
        if (
            row.clever_id
            and row.result in (matchmaker.MATCH, matchmaker.CLEVER_NO_MATCH, matchmaker.CLEVER_DUPLICATE)
            and row.clever_id not in people
        ):
            problems.append(
                f"line {row.line}: clever.id {row.clever_id} is not a live person of the synced "
                f"district {district.clever_id}"
            )
    return problems


def _apply_matchmaker_row(
    row, *, district: District, users: dict, people: dict, protected: set, actor
) -> bool:
    """Apply one checked Matchmaker row: True when it linked, False when it became a review
    item (a ``match`` naming a protected account, and every other result)."""
    if row.result == matchmaker.MATCH and int(row.app_id) in protected:
        PersonMatch.objects.update_or_create(
            district=district,
            user=users[row.app_id],
            defaults={
                "status": MatchStatus.PENDING,
                "zone": Zone.AUTO,
                "source": MatchSource.MATCHMAKER,
                "person": people[row.clever_id],
            },
        )
        return False
    if row.result == matchmaker.MATCH:
        match, _ = PersonMatch.objects.get_or_create(
            district=district,
            user=users[row.app_id],
            defaults={"zone": Zone.AUTO, "person": people[row.clever_id]},
        )
        accept_match(match=match, actor=actor, clever_id=row.clever_id, source=MatchSource.MATCHMAKER)
        return True
    if row.result in (matchmaker.APP_NO_MATCH, matchmaker.APP_DUPLICATE):
        zone = Zone.NO_MATCH if row.result == matchmaker.APP_NO_MATCH else Zone.DUPLICATE
        PersonMatch.objects.update_or_create(
            district=district,
            user=users[row.app_id],
            defaults={
                "status": MatchStatus.PENDING,
                "zone": zone,
                "source": MatchSource.MATCHMAKER,
                "person": people.get(row.clever_id),
            },
        )
        return False
    zone = Zone.NO_MATCH if row.result == matchmaker.CLEVER_NO_MATCH else Zone.DUPLICATE
    PersonMatch.objects.update_or_create(
        district=district,
        user=None,
        person=people[row.clever_id],
        defaults={"status": MatchStatus.PENDING, "zone": zone, "source": MatchSource.MATCHMAKER},
    )
    return False


def import_matchmaker_results(*, district: District, data: bytes, actor=None) -> ImportSummary:
    """Apply Matchmaker's output for one district, all or nothing (``MatchmakerFileError``).

    ``match`` rows link after checking the app record is a product person of the district's
    organization and the Clever ID a live person of the synced district, except rows naming an
    account with a password or permissions: a file is not a person's decision about that pair,
    so they become review items with the file's candidate proposed. The other results become
    review items too (``from Clever, …`` rows as Clever-side items).
    """
    rows = matchmaker.read_results(data)
    users = {str(u.pk): u for u in selectors.product_people(district)}
    people = {p.clever_id: p for p in selectors.live_clever_people(district)}
    problems = _matchmaker_problems(rows, district=district, users=users, people=people)
    if problems:
        raise matchmaker.MatchmakerFileError(problems)
    protected = sso_policy.protected_ids(selectors.product_people(district))
    with transaction.atomic():
        linked = review = 0
        for row in rows:
            if _apply_matchmaker_row(
                row, district=district, users=users, people=people, protected=protected, actor=actor
            ):
                linked += 1
            else:
                review += 1
    return ImportSummary(linked=linked, review_items=review)
