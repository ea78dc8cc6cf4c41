"""One person (or one Library teacher's roster) into the mirror, from raw Clever records.

Used at login (sso/): a district user not yet in the mirror is written from ``/users/{id}``
(the next sync of the district agrees with it: same mapping, same content hash), and a Clever
Library teacher brings their shared sections and those sections' students, read with the
teacher's own token (and, in a Library-only district, the sections they stopped sharing are
archived). The mapping is ``rostering.services.mapping``'s and product accounts are
made as ``rostering.services.provisioning`` makes them (``clever-<Clever ID>``, unusable
password, the district's organization), through their public functions only.

Nothing here logs names, emails or tokens.
"""

from __future__ import annotations

import copy
import json

from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from ..models import ContactLink, Person, Section, SectionMembership
from . import mapping, provisioning


def _prepared_values(record_type: str, record: dict, *, keep_sensitive: bool) -> tuple[str, dict, dict]:
    """(clever_id, model column values, derived lists) of one raw record."""
    prepared = mapping.prepare(record_type, copy.deepcopy(record), keep_sensitive=keep_sensitive)
    raw = json.loads(prepared.raw_json)
    fields = mapping.map_fields(record_type, prepared.record)
    extra = {name: fields.pop(name) for name in list(fields) if name.startswith("_")}
    values = {
        **fields,
        "content_hash": prepared.content_hash,
        "fingerprint": prepared.fingerprint,
        "raw": raw,
        "archived_at": None,
    }
    if record_type == "users":
        values["sensitive_ciphertext"] = prepared.ciphertext()
    return prepared.clever_id, values, extra


def _upsert(model, *, district, clever_id: str, values: dict, now) -> tuple[object, bool]:
    row = model.objects.select_for_update().filter(district=district, clever_id=clever_id).first()
    if row is None:
        row = model.objects.create(
            district=district, clever_id=clever_id, created_at=now, updated_at=now, **values
        )
        return row, True
    # Encrypting the same kept fields again gives another ciphertext (Fernet is randomized):
    # the content hash, which covers them, says whether they changed.
    same = row.content_hash == values["content_hash"]
    changed = [
        name
        for name, value in values.items()
        if getattr(row, name) != value and not (same and name == "sensitive_ciphertext")
    ]
    if changed:
        for name in changed:
            setattr(row, name, values[name])
        row.updated_at = now
        row.save(update_fields=[*changed, "updated_at"])
        row.refresh_from_db()
    return row, False


@transaction.atomic
def upsert_person(*, district, record: dict) -> tuple[Person, bool]:
    """Create or refresh one Clever user in the district's mirror (an archived row comes back:
    Clever just served the record). Returns (person, created)."""
    clever_id, values, extra = _prepared_values(
        "users", record, keep_sensitive=district.store_sensitive_fields
    )
    person, created = _upsert(
        Person, district=district, clever_id=clever_id, values=values, now=timezone.now()
    )
    ContactLink.objects.filter(contact=person).delete()
    links = extra.get("_links") or []
    ContactLink.objects.bulk_create(
        [
            ContactLink(
                district=district,
                contact=person,
                student_clever_id=student,
                relationship=relationship,
                type=kind,
            )
            for student, relationship, kind in links
        ]
    )
    return person, created


@transaction.atomic
def upsert_section(*, district, record: dict) -> tuple[Section, bool]:
    """Create or refresh one section and rebuild its memberships."""
    clever_id, values, extra = _prepared_values("sections", record, keep_sensitive=False)
    section, created = _upsert(
        Section, district=district, clever_id=clever_id, values=values, now=timezone.now()
    )
    SectionMembership.objects.filter(section=section).delete()
    primary = section.primary_teacher_clever_id
    memberships = [
        SectionMembership(
            district=district,
            section=section,
            person_clever_id=student,
            role=SectionMembership.Role.STUDENT,
            is_primary=False,
        )
        for student in extra.get("_students") or []
    ] + [
        SectionMembership(
            district=district,
            section=section,
            person_clever_id=teacher,
            role=SectionMembership.Role.TEACHER,
            is_primary=teacher == primary,
        )
        for teacher in extra.get("_teachers") or []
    ]
    SectionMembership.objects.bulk_create(memberships)
    return section, created


def account_of(person: Person):
    """The product account this person already has: theirs, the matching seam's answer, or the
    account made for them, left from an earlier mirror. None: they need a new one."""
    if person.user_id:
        return person.user
    found = provisioning.find_existing_users([person]).get(person.pk)
    if found is not None:
        return found
    return get_user_model().objects.filter(made_for_clever_id=person.clever_id).first()


@transaction.atomic
def create_account(*, person: Person, organization):
    """A new product account for the person, as provisioning makes them, attached to them."""
    User = get_user_model()
    email = person.email.strip()[:254] if "@" in person.email else ""
    user = User(
        username=provisioning.username_for(person),
        made_for_clever_id=person.clever_id,
        first_name=person.first_name[:150],
        last_name=person.last_name[:150],
        email=email,
        organization=organization,
        is_active=True,
    )
    user.set_unusable_password()
    user.save()
    attach_account(person=person, user=user)
    return user


@transaction.atomic
def attach_account(*, person: Person, user) -> Person:
    """Point the person at the product account, or at none (``user`` None). An inactive account
    stays inactive: whoever deactivated it decides, and the sync reactivates accounts of
    restored people."""
    if person.user_id != getattr(user, "pk", None):
        person.user = user
        person.save(update_fields=["user"])
    return person


@transaction.atomic
def reassign_account(*, person: Person, user):
    """Make an existing product account the person's (matching linked them, or they proved the
    account is theirs). The account the roster had made for them is
    deactivated once no live person uses it, never deleted: undoing the link gives it back.
    Returns the account the person had before."""
    previous = person.user
    attach_account(person=person, user=user)
    if (
        previous is not None
        and previous.pk != user.pk
        and previous.made_for_clever_id == person.clever_id
        and not Person.objects.filter(user=previous, archived_at__isnull=True).exists()
    ):
        previous.is_active = False
        previous.save(update_fields=["is_active"])
    return previous


def _taught_but_not_shared(*, district, teacher_clever_id: str, shared: set[str]) -> list[int]:
    """Rule 1 of ``_unshared_sections``: the live sections the teacher teaches here, less the
    ones in ``shared``."""
    return list(
        Section.objects.filter(district=district, archived_at__isnull=True)
        .filter(
            Q(primary_teacher_clever_id=teacher_clever_id)
            | Q(
                pk__in=SectionMembership.objects.filter(
                    district=district, role=SectionMembership.Role.TEACHER, person_clever_id=teacher_clever_id
                ).values("section_id")
            )
        )
        .exclude(clever_id__in=shared)
        .values_list("pk", flat=True)
    )


def _shared_by_other_library_teachers(*, district, teacher_clever_id: str, sections: list[int]) -> set[int]:
    """Rule 3 of ``_unshared_sections``: which of ``sections`` another Library teacher still has
    a teacher membership in."""
    library_teachers = (
        Person.objects.filter(
            district=district,
            archived_at__isnull=True,
            is_teacher=True,
            user__isnull=False,
        )
        .exclude(clever_id=teacher_clever_id)
        .values("clever_id")
    )
    return set(
        SectionMembership.objects.filter(
            section_id__in=sections,
            role=SectionMembership.Role.TEACHER,
            person_clever_id__in=library_teachers,
        ).values_list("section_id", flat=True)
    )


def _unshared_sections(*, district, teacher_clever_id: str, shared: set[str], now) -> int:
    """Archive the live sections of a Clever Library district that ``teacher_clever_id`` teaches
    here but no longer shares (not in ``shared``, their ``/users/{id}/sections`` answer), unless
    another Library teacher still shares them. Returns how many were archived.

    The rule: the mirror of a Library district knows a teacher from their own sign-in only (a
    Library token never shows a co-teacher), and a teacher's sections from their token's answer.

    1. This teacher's sections are the live ones whose primary teacher they are, or that list
       them as a teacher (``SectionMembership`` role teacher, built from the record's
       ``teachers``).
    2. A section they no longer share loses their teacher membership at once: as far as this
       mirror knows, they do not teach it any more.
    3. It stays live while another *Library teacher* still has a teacher membership in it: a
       live teacher of this district with a product account, i.e. someone who signed in through
       Library themselves and, at their last sign-in, shared the section (or was listed on it).
       Whether they still share it is settled at *their* next sign-in, by this same rule; a
       co-teacher the district's roster lists but who never signed in through Library shares
       nothing.
    4. Otherwise it is archived like the sync archives a record Clever stopped serving: soft
       (``archived_at``; the same row comes back when a teacher shares it again, see
       ``upsert_section``), and without memberships (the sync engine keeps none for an archived
       section, ``apply._forget_memberships``; ``upsert_section`` rebuilds them on return).

    Students are left as they are, accounts included (the retention purge handles people in no
    live section); none are written or given accounts here."""
    left = _taught_but_not_shared(district=district, teacher_clever_id=teacher_clever_id, shared=shared)
    if not left:
        return 0
    SectionMembership.objects.filter(
        section_id__in=left, role=SectionMembership.Role.TEACHER, person_clever_id=teacher_clever_id
    ).delete()
    still_shared = _shared_by_other_library_teachers(
        district=district, teacher_clever_id=teacher_clever_id, sections=left
    )
    gone = [pk for pk in left if pk not in still_shared]
    if gone:
        SectionMembership.objects.filter(section_id__in=gone).delete()
        Section.objects.filter(pk__in=gone).update(archived_at=now, updated_at=now)
    return len(gone)


@transaction.atomic
def provision_library_roster(*, district, teacher_record: dict, client) -> dict:
    """A Clever Library teacher at sign-in: the teacher, the sections they shared and those
    sections' students, read with the teacher's token (``client``) and written at once; every
    student of a shared section gets a product account (the district's organization, if any).

    In a Library-only district (``district.library_only``: the teacher's token is all we know of
    it) the sections of this teacher that are no longer in their answer are archived, unless
    another Library teacher still shares them (``_unshared_sections`` has the rule), and a
    section that is shared again is restored (the same row). In a district that also shares
    its data, the sync owns the mirror and nothing is archived here.

    Returns counts: ``sections`` (shared now), ``students`` (written), ``archived`` and
    ``restored`` (sections)."""
    teacher, _ = upsert_person(district=district, record=teacher_record)
    sections = list(client.iter_records(f"users/{teacher.clever_id}/sections"))
    restored = Section.objects.filter(
        district=district,
        archived_at__isnull=False,
        clever_id__in=[
            record["id"]
            for record in sections
            if isinstance(record, dict) and isinstance(record.get("id"), str)
        ],
    ).count()
    shared: set[str] = set()
    student_ids: set[str] = set()
    for record in sections:
        section, _ = upsert_section(district=district, record=record)
        shared.add(section.clever_id)
        students, _teachers = mapping.section_members(record)
        student_ids.update(students)
    archived = 0
    if district.library_only:
        archived = _unshared_sections(
            district=district, teacher_clever_id=teacher.clever_id, shared=shared, now=timezone.now()
        )
    students_written = 0
    if student_ids:
        for record in client.iter_records("users"):
            if not isinstance(record, dict) or record.get("id") not in student_ids:
                continue
            person, _ = upsert_person(district=district, record=record)
            if account_of(person) is None:
                create_account(person=person, organization=district.organization)
            elif person.user_id is None:
                attach_account(person=person, user=account_of(person))
            students_written += 1
    return {
        "sections": len(sections),
        "students": students_written,
        "archived": archived,
        "restored": restored,
    }
