"""Reads of the matching app: the engine's records built from the mirror and the product, the
review queue, what provisioning asks before it creates an account, the onboarding checklist."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import asdict

from django.contrib.auth import get_user_model
from django.db.models import Q, QuerySet
from django.utils.crypto import salted_hmac

from accounts.models import School as ProductSchool
from districts.models import District, DistrictStatus
from rostering.models import Person, SyncRun
from rostering.models import School as CleverSchool
from rostering.selectors import dates_of_birth

from .engine import PersonRecord, Role, SchoolRecord
from .models import DECIDED, MatchSource, MatchStatus, PersonMatch, SchoolMatch

User = get_user_model()

# The Clever roles matching considers (a contact is a parent: never a product user's match).
MATCHED_ROLES = ("is_student", "is_teacher", "is_staff", "is_district_admin")
_PERSON_FIELDS = (
    "id",
    "clever_id",
    "first_name",
    "middle_name",
    "last_name",
    "email",
    "grade",
    "is_student",
    "is_teacher",
    "is_staff",
    "is_district_admin",
    "is_contact",
    "student_sis_id",
    "student_number",
    "student_state_id",
    "teacher_sis_id",
    "teacher_number",
    "teacher_state_id",
    "staff_id",
    "legacy_ids",
    "school_clever_ids",
    "user_id",
    # The date of birth, read through rostering.selectors.dates_of_birth.
    "sensitive_ciphertext",
)


def _roles(person: Person) -> frozenset[Role]:
    return frozenset(
        role
        for role, flag in (
            (Role.STUDENT, person.is_student),
            (Role.TEACHER, person.is_teacher),
            (Role.STAFF, person.is_staff),
            (Role.DISTRICT_ADMIN, person.is_district_admin),
            (Role.CONTACT, person.is_contact),
        )
        if flag
    )


def clever_record(person: Person) -> PersonRecord:
    """The engine's view of a Clever person: the identifiers of their first role (a student's
    student IDs, else a teacher's, else staff), and the date of birth, which the mirror keeps
    encrypted (decrypted here, from the loaded row: no query)."""
    if person.is_student:
        ids = dict(
            sis_id=person.student_sis_id, number=person.student_number, state_id=person.student_state_id
        )
        legacy = person.legacy_ids.get("student", "")
    elif person.is_teacher:
        ids = dict(
            sis_id=person.teacher_sis_id, number=person.teacher_number, state_id=person.teacher_state_id
        )
        legacy = person.legacy_ids.get("teacher", "")
    else:
        ids = {}
        legacy = next(iter(person.legacy_ids.values()), "") if person.legacy_ids else ""
    return PersonRecord(
        key=person.clever_id,
        roles=_roles(person),
        first_name=person.first_name,
        middle_name=person.middle_name,
        last_name=person.last_name,
        email=person.email,
        dob=dates_of_birth([person])[person.pk],
        grade=person.grade,
        staff_id=person.staff_id,
        legacy_id=legacy,
        schools=frozenset(person.school_clever_ids or ()),
        **ids,
    )


def product_record(user, *, school_keys: dict[int, str] | None = None) -> PersonRecord:
    """The engine's view of a product user; ``school_keys`` maps product school pks to the Clever
    school IDs they were matched with (so both sides share school keys)."""
    schools = frozenset()
    if user.school_id and school_keys and user.school_id in school_keys:
        schools = frozenset([school_keys[user.school_id]])
    number = user.student_number if user.role == User.Role.STUDENT else user.teacher_number
    return PersonRecord(
        key=str(user.pk),
        roles=frozenset([Role(user.role)]) if user.role else frozenset(),
        first_name=user.first_name,
        last_name=user.last_name,
        email=user.email,
        dob=user.date_of_birth,
        grade=user.grade,
        sis_id=user.sis_id,
        number=number,
        state_id=user.state_id,
        staff_id=user.staff_id,
        schools=schools,
    )


def compared_digest(*records: PersonRecord | SchoolRecord | None) -> str:
    """What a decision was made on: it stays decided until one of these values changes."""
    payload = [
        None
        if record is None
        else {
            k: sorted(v) if isinstance(v, frozenset) else v for k, v in asdict(record).items() if k != "key"
        }
        for record in records
    ]
    plain = hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()
    return keyed_digest(plain)


def keyed_digest(plain: str) -> str:
    """The stored digest: keyed with ``SECRET_KEY``. The compared fields include a child's date of
    birth beside names in clear, so a bare SHA-256 would give the date away to anyone who tries
    a few thousand dates. Rotating ``SECRET_KEY`` therefore sends decided items back for a look,
    as it makes the next sync update students with sensitive fields (docs/privacy.md)."""
    return salted_hmac("matching.compared_digest", plain, algorithm="sha256").hexdigest()


def live_clever_people(district: District) -> QuerySet[Person]:
    any_role = Q()
    for flag in MATCHED_ROLES:
        any_role |= Q(**{flag: True})
    return (
        Person.objects.filter(any_role, district=district, archived_at__isnull=True)
        .only(*_PERSON_FIELDS)
        .order_by("clever_id")
    )


def product_people(district: District) -> QuerySet:
    """The organization's people the product knew before Clever: not the accounts created from
    Clever (``clever-*``), and only those with a role."""
    if district.organization_id is None:
        return User.objects.none()
    return (
        User.objects.filter(organization_id=district.organization_id, is_active=True)
        .exclude(role="")
        .filter(made_for_clever_id="")
        .order_by("pk")
    )


def school_keys(district: District) -> dict[int, str]:
    """Product school pk -> the Clever school ID it is linked to, in this district."""
    return dict(
        CleverSchool.objects.filter(district=district, product_school__isnull=False).values_list(
            "product_school_id", "clever_id"
        )
    )


def product_schools(district: District) -> QuerySet[ProductSchool]:
    if district.organization_id is None:
        return ProductSchool.objects.none()
    return ProductSchool.objects.filter(organization_id=district.organization_id).order_by("pk")


def clever_school_record(school: CleverSchool) -> SchoolRecord:
    return SchoolRecord(
        key=school.clever_id,
        name=school.name,
        nces_id=school.nces_id,
        state_id=school.state_id,
        school_number=school.school_number,
    )


def product_school_record(school: ProductSchool) -> SchoolRecord:
    return SchoolRecord(
        key=str(school.pk),
        name=school.name,
        nces_id=school.nces_id,
        state_id=school.state_id,
        school_number=school.school_number,
    )


def review_queue(district: District | None = None) -> QuerySet[PersonMatch]:
    queue = PersonMatch.objects.filter(status=MatchStatus.PENDING)
    return queue.filter(district=district) if district is not None else queue


def people_decided_by_a_person(district: District) -> QuerySet[PersonMatch]:
    """Sticky decisions: made by a person or Matchmaker, or an automatic link (engine results that
    linked nobody are recomputed on every run)."""
    return (
        PersonMatch.objects.filter(district=district)
        .filter(status__in=[*DECIDED, MatchStatus.AUTO_LINKED])
        .exclude(status__in=DECIDED, source=MatchSource.ENGINE)
    )


def existing_users_for(people: Iterable[Person]) -> dict[int, object]:
    """Provisioning's question: which product account does each Clever person already have?
    Those matching linked (automatically or by a person's decision); the rest get a new one. A
    person named by more than one linked decision gets none of them (a person decides)."""
    people = list(people)
    linked = PersonMatch.objects.filter(
        person__in=[p.pk for p in people],
        user__isnull=False,
        status__in=[MatchStatus.AUTO_LINKED, MatchStatus.ACCEPTED],
    ).select_related("user")
    by_person: dict[int, list] = {}
    for match in linked:
        by_person.setdefault(match.person_id, []).append(match.user)
    return {pk: users[0] for pk, users in by_person.items() if len(users) == 1 and users[0].is_active}


def onboarding_checklist(district: District) -> list[dict]:
    """The district's way to live: each step, done or not, and what blocks the next one."""
    first_sync = SyncRun.objects.filter(district=district, status=SyncRun.Status.SUCCEEDED).exists()
    # Matching compares the roster with an organization's records: none before the link.
    matchable = first_sync and district.organization_id is not None
    schools_pending = SchoolMatch.objects.filter(district=district, status=MatchStatus.PENDING).count()
    people_pending = review_queue(district).count()
    steps = [
        ("discovered", "Discovered", True, ""),
        (
            "linked",
            "Linked to an organization",
            district.organization_id is not None,
            "Link the district to its organization (or approve a pending link request).",
        ),
        (
            "first_sync",
            "First sync done",
            first_sync,
            "Run a sync; the district must be connected."
            if district.status == DistrictStatus.CONNECTED
            else f"The district is {district.get_status_display().lower()}: reconnect it first.",
        ),
        (
            "schools_matched",
            "Schools matched",
            matchable and schools_pending == 0,
            f"{schools_pending} school(s) wait for a decision." if schools_pending else "Run matching.",
        ),
        (
            "people_matched",
            "People matched (review queue empty)",
            matchable and people_pending == 0,
            f"{people_pending} person(s) wait in the review queue." if people_pending else "Run matching.",
        ),
    ]
    steps.append(
        (
            "live",
            "Live",
            # Live is the sum of the steps before, and a connected district that syncs.
            all(done for _key, _label, done, _blocker in steps)
            and district.status == DistrictStatus.CONNECTED
            and district.sync_enabled,
            "Syncs are off or the district is not connected.",
        )
    )
    # Each step shows what is true (a first sync done before the link shows done); only the
    # first step not done says what blocks the way.
    checklist, blocked = [], False
    for key, label, done, blocker in steps:
        checklist.append(
            {"key": key, "label": label, "done": done, "blocking": "" if done or blocked else blocker}
        )
        blocked = blocked or not done
    return checklist


def matchmaker_export_rows(district: District):
    """Matchmaker input rows: one per product person of the district's organization."""
    for user in product_people(district).select_related("school").iterator(chunk_size=2000):
        school = user.school
        yield {
            "app.id": str(user.pk),
            "app.role": user.role,
            "app.first_name": user.first_name,
            "app.last_name": user.last_name,
            "app.email": user.email,
            "app.dob": user.date_of_birth.isoformat() if user.date_of_birth else "",
            "app.grade": user.grade,
            "app.sis_id": user.sis_id,
            "app.student_number": user.student_number,
            "app.state_id": user.state_id,
            "app.teacher_number": user.teacher_number,
            "app.staff_id": user.staff_id,
            "app.school_name": school.name if school else "",
            "app.school_nces_id": school.nces_id if school else "",
            "app.school_state_id": school.state_id if school else "",
        }


EXPLAINED_COLUMNS = (
    "app.id",
    "clever.id",
    "matchmaker_results",
    "status",
    "match_probability",
    "match_weight",
    "top_contributions",
    "reasons",
)
_MATCHMAKER_WORD = {
    "auto_linked": "match",
    "accepted": "match",
    "no_match": "from app, no match",
    "duplicate": "from app, duplicate",
}


def explained_rows(district: District):
    """Our own results in Matchmaker's words plus the why: probability, weight, the three fields
    that weighed most (field:level:+bits), the queue status."""
    for match in (
        PersonMatch.objects.filter(district=district)
        .select_related("person")
        .order_by("user_id", "pk")
        .iterator(chunk_size=2000)
    ):
        best = match.candidates[0] if match.candidates else {}
        top = sorted(best.get("contributions", []), key=lambda c: -abs(c["weight"]))[:3]
        word = _MATCHMAKER_WORD.get(match.status, "")
        if match.user_id is None:
            word = "from Clever, no match" if match.zone == "no_match" else "from Clever, duplicate"
        yield {
            "app.id": str(match.user_id or ""),
            "clever.id": match.person.clever_id if match.person_id else "",
            "matchmaker_results": word or "review",
            "status": match.status,
            "match_probability": f"{match.probability:.6f}",
            "match_weight": f"{match.weight:.3f}",
            "top_contributions": "; ".join(f"{c['field']}:{c['level']}:{c['weight']:+.2f}" for c in top),
            "reasons": ", ".join(best.get("vetoes", [])),
        }


# --- the review page ---------------------------------------------------------------------------

DUPLICATE_CHOICES_LIMIT = 20


def duplicate_targets(match: PersonMatch) -> QuerySet:
    """The accounts a review item's product record may be marked a duplicate of: the other
    product people of its organization (what the "duplicate of" choice validates against)."""
    if match.user_id is None:
        return User.objects.none()
    return product_people(match.district).exclude(pk=match.user_id)


def duplicate_choices(match: PersonMatch, *, search: str = "", limit: int = DUPLICATE_CHOICES_LIMIT) -> list:
    """What the "duplicate of" choice offers, at most ``limit`` accounts. With a ``search``: the
    organization's product people whose name or email contains every word of it. Without: the
    plausible ones, most plausible first: the record the engine named, the product accounts the
    item's Clever candidates are linked to or proposed for, then people with the same last name."""
    targets = duplicate_targets(match).select_related("school")
    words = search.split()[:5]
    if words:
        for word in words:
            targets = targets.filter(
                Q(first_name__icontains=word) | Q(last_name__icontains=word) | Q(email__icontains=word)
            )
        return list(targets.order_by("last_name", "first_name", "pk")[:limit])
    clever_ids = [c["clever_id"] for c in match.candidates]
    related = set(
        PersonMatch.objects.filter(district=match.district, person__clever_id__in=clever_ids)
        .exclude(user__isnull=True)
        .values_list("user_id", flat=True)
    ) | set(
        Person.objects.filter(
            district=match.district, clever_id__in=clever_ids, user__isnull=False
        ).values_list("user_id", flat=True)
    )
    if match.duplicate_of_id:
        related.add(match.duplicate_of_id)
    first = sorted(
        targets.filter(pk__in=related)[:limit],
        key=lambda u: (u.pk != match.duplicate_of_id, u.last_name, u.first_name, u.pk),
    )
    last_name = match.user.last_name.strip()
    if not last_name or len(first) >= limit:
        return first[:limit]
    same_name = targets.filter(last_name__iexact=last_name).exclude(pk__in=related)
    return first + list(same_name.order_by("last_name", "first_name", "pk")[: limit - len(first)])
