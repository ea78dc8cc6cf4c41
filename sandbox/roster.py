"""Roster changes after a district is loaded, as a district's SIS would make them.

Each goes through ``sandbox.services``, so Clever events (with ``previous_attributes``) follow.
Used by the sandbox control page and by tests.

One record at a time: add a student to a section, rename or remove a user, add or remove a
section. Many at once (the bulk changes, set-based: N can be thousands): remove N students,
add N students, move N students from one section to another. A bulk change emits the events
the single changes would, except that a section or contact touched by many students gets one
updated event carrying all of it, as Clever sends when an SIS upload changes many records.
"""

import json
import random
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, timedelta

from django.db import transaction

from . import services
from .generator.people import student_record
from .generator.plan import SECTIONS_PER_STUDENT
from .generator.tables import FIRST_NAMES, GRADE_NUMBER, LAST_NAMES, pick, slug
from .ids import new_id
from .models import RecordType, SandboxDistrict, SandboxEdge, SandboxRecord

# The most students one bulk "add" makes (one request of the control page).
MAX_ADDED_STUDENTS = 10_000


class RosterError(Exception):
    """A roster change that cannot be made (unknown record, wrong district, wrong type)."""


def _record(district: SandboxDistrict, clever_id: str, record_type: str) -> dict:
    row = SandboxRecord.objects.filter(
        district=district, clever_id=clever_id.strip(), record_type=record_type
    ).first()
    if row is None:
        raise RosterError(f"no {record_type[:-1]} {clever_id!r} in {district.name}")
    return services.rec_loads(row)


@transaction.atomic
def add_student_to_section(
    *,
    district: SandboxDistrict,
    section_id: str,
    first: str = "",
    last: str = "",
    seed: int | None = None,
) -> dict:
    """A new student (users.created) enrolled in a section (sections.updated)."""
    section = _record(district, section_id, RecordType.SECTIONS)
    rng = random.Random(seed)
    sex = rng.choice("MF")
    first = first.strip() or pick(rng, FIRST_NAMES[sex])
    last = last.strip() or pick(rng, LAST_NAMES)
    grade = section.get("grade") or "Ungraded"
    offset = GRADE_NUMBER.get(grade, 10)
    dob = date(date.today().year - 6 - offset, 1, 1) + timedelta(days=rng.randrange(365))
    student_id = new_id()
    sis_id = str(900_000_000 + int(student_id[-6:], 16))
    school = section["school"]
    student = services.put_record(
        district=district,
        record_type=RecordType.USERS,
        data={
            "id": student_id,
            "name": {"first": first, "middle": "", "last": last},
            "roles": {
                "student": {
                    "credentials": {"district_username": f"{slug(first)}{slug(last)[:1]}{sis_id[-3:]}"},
                    "dob": f"{dob.month}/{dob.day}/{dob.year}",
                    "enrollments": [],
                    "gender": sex,
                    "grade": grade,
                    "school": school,
                    "schools": [school],
                    "sis_id": sis_id,
                    "student_number": sis_id,
                    "state_id": "",
                }
            },
            "lms_status": {"synced_in_lms": False},
        },
    )
    services.update_record(
        clever_id=section["id"], changes={"students": [*section.get("students", []), student_id]}
    )
    return student


@transaction.atomic
def rename_user(*, district: SandboxDistrict, user_id: str, first: str, last: str) -> dict:
    """A name change in the SIS (users.updated with the old name in previous_attributes)."""
    user = _record(district, user_id, RecordType.USERS)
    name = dict(user.get("name") or {})
    name["first"], name["last"] = first.strip(), last.strip()
    return services.update_record(clever_id=user["id"], changes={"name": name})


@transaction.atomic
def remove_user(*, district: SandboxDistrict, user_id: str) -> dict:
    """A user leaves: out of their sections and contacts (updated), then users.deleted."""
    user = _record(district, user_id, RecordType.USERS)
    deleted, _ = _remove_users(district, [user["id"]])
    return deleted[0]


def _remove_users(district: SandboxDistrict, user_ids: list[str]) -> tuple[list[dict], list[dict]]:
    """Take users out of every section and contact that names them (one updated event per
    section or contact, in ID order), then delete them (users.deleted each).

    Returns (the deleted users' last bodies, the updated sections' and contacts' new bodies).
    """
    gone = set(user_ids)
    sources: set[str] = set()
    for batch in services.batches(user_ids):
        sources.update(
            SandboxEdge.objects.filter(
                district=district, dst_id__in=batch, rel__in=("students", "teachers")
            ).values_list("src_id", flat=True)
        )
    changes: dict[str, dict] = {}
    for batch in services.batches(sorted(sources)):
        for row in SandboxRecord.objects.filter(clever_id__in=batch).order_by("clever_id"):
            body = services.rec_loads(row)
            if row.record_type == RecordType.SECTIONS:
                change = {
                    "students": [s for s in body.get("students", []) if s not in gone],
                    "teachers": [t for t in body.get("teachers", []) if t not in gone],
                }
                if body.get("teacher") in gone:
                    change["teacher"] = change["teachers"][0] if change["teachers"] else ""
            else:
                contact = dict(body["roles"]["contact"])
                contact["student_relationships"] = [
                    r for r in contact.get("student_relationships", []) if r.get("student") not in gone
                ]
                change = {"roles": {"contact": contact}}
            changes[row.clever_id] = change
    updated = services.update_records(changes=changes)
    return services.delete_records(clever_ids=user_ids), updated


@transaction.atomic
def add_section(*, district: SandboxDistrict, school_id: str = "", name: str = "", students: int = 5) -> dict:
    """A new section (sections.created) at a school, with one of its teachers and students."""
    schools = SandboxRecord.objects.filter(district=district, record_type=RecordType.SCHOOLS)
    school = (
        schools.filter(clever_id=school_id.strip()).first()
        if school_id.strip()
        else (schools.order_by("clever_id").first())
    )
    if school is None:
        raise RosterError(f"no school {school_id!r} in {district.name}")
    members = SandboxEdge.objects.filter(district=district, rel="schools", dst_id=school.clever_id)
    users = SandboxRecord.objects.filter(district=district, clever_id__in=members.values("src_id")).order_by(
        "clever_id"
    )
    teacher = users.filter(is_teacher=True).values_list("clever_id", flat=True).first()
    student_ids = list(users.filter(is_student=True).values_list("clever_id", flat=True)[:students])
    term = (
        SandboxRecord.objects.filter(district=district, record_type=RecordType.TERMS)
        .order_by("clever_id")
        .values_list("clever_id", flat=True)
        .first()
    )
    course = (
        SandboxRecord.objects.filter(district=district, record_type=RecordType.COURSES)
        .order_by("clever_id")
        .values_list("clever_id", flat=True)
        .first()
    )
    section_id = new_id()
    body = {
        "id": section_id,
        "school": school.clever_id,
        "name": name.strip() or f"New section {section_id[-6:]}",
        "sis_id": f"N{int(section_id[-6:], 16)}",
        "section_number": "",
        "period": "",
        "subject": "other",
        "grade": "",
        "teachers": [teacher] if teacher else [],
        "students": student_ids,
        "lms_status": {"synced_in_lms": False},
    }
    if teacher:
        body["teacher"] = teacher
    if term:
        body["term_id"] = term
    if course:
        body["course"] = course
    return services.put_record(district=district, record_type=RecordType.SECTIONS, data=body)


@transaction.atomic
def remove_section(*, district: SandboxDistrict, section_id: str) -> dict:
    """A section is dropped (sections.deleted)."""
    section = _record(district, section_id, RecordType.SECTIONS)
    return services.delete_record(clever_id=section["id"])


# --- bulk changes ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class BulkChange:
    """What a bulk change did: the students it removed, added or moved (IDs, in order), and
    per kind of record ("students", "sections", "contacts") how many changed (removed or
    updated; created ones are not counted) out of how many the district had before."""

    students: list[str]
    changed: dict[str, tuple[int, int]] = field(default_factory=dict)


def student_ids(district: SandboxDistrict) -> list[str]:
    """The district's students, in ID order."""
    return list(
        SandboxRecord.objects.filter(district=district, is_student=True)
        .order_by("clever_id")
        .values_list("clever_id", flat=True)
    )


def _totals(district: SandboxDistrict) -> dict[str, int]:
    records = SandboxRecord.objects.filter(district=district)
    return {
        "sections": records.filter(record_type=RecordType.SECTIONS).count(),
        "contacts": records.filter(is_contact=True).count(),
    }


def _is_section(body: dict) -> bool:
    return "roles" not in body


@transaction.atomic
def remove_students(*, district: SandboxDistrict, count: int, seed: int | None = None) -> BulkChange:
    """``count`` students leave at once, picked at random (the same ``seed`` picks the same
    ones): out of their sections and contacts (one sections.updated or users.updated per record
    touched), then one users.deleted each."""
    students = student_ids(district)
    if not 1 <= count <= len(students):
        raise RosterError(
            f"{district.name} has {len(students)} students: remove 1 to {len(students)}, not {count}"
        )
    totals = _totals(district)
    chosen = sorted(random.Random(seed).sample(students, count))
    deleted, updated = _remove_users(district, chosen)
    sections = sum(1 for body in updated if _is_section(body))
    return BulkChange(
        students=[body["id"] for body in deleted],
        changed={
            "students": (len(deleted), len(students)),
            "sections": (sections, totals["sections"]),
            "contacts": (len(updated) - sections, totals["contacts"]),
        },
    )


def _student_email_domain(district: SandboxDistrict) -> str:
    """The domain most of the district's student emails use ("" when they have none)."""
    domains: Counter[str] = Counter()
    rows = (
        SandboxRecord.objects.filter(district=district, is_student=True)
        .order_by("clever_id")
        .values_list("body", flat=True)[:200]
    )
    for body in rows:
        data = json.loads(body)
        email = data.get("email") or ((data.get("roles") or {}).get("student") or {}).get("email")
        if isinstance(email, str) and email.count("@") == 1:
            domains[email.strip().lower().partition("@")[2]] += 1
    return domains.most_common(1)[0][0] if domains else ""


def _sections_in_schools(district: SandboxDistrict) -> tuple[dict[str, dict], int]:
    """The district's sections that belong to a school (by ID, in ID order), and how many
    sections it has in all."""
    sections: dict[str, dict] = {}
    total_sections = 0
    for clever_id, body in (
        SandboxRecord.objects.filter(district=district, record_type=RecordType.SECTIONS)
        .order_by("clever_id")
        .values_list("clever_id", "body")
    ):
        total_sections += 1
        data = json.loads(body)
        if data.get("school"):
            sections[clever_id] = data
    return sections, total_sections


def _schools(district: SandboxDistrict) -> dict[str, dict]:
    return {
        clever_id: json.loads(body)
        for clever_id, body in SandboxRecord.objects.filter(
            district=district, record_type=RecordType.SCHOOLS
        ).values_list("clever_id", "body")
    }


def _sections_to_join(
    rng: random.Random,
    anchor: dict,
    by_grade: dict[tuple[str, str], list[str]],
    by_school: dict[str, list[str]],
) -> list[str]:
    """The anchor section and up to four more of its school, its grade's first."""
    school_id, grade = anchor["school"], anchor.get("grade") or ""
    own = [s for s in by_grade[(school_id, grade)] if s != anchor["id"]]
    chosen = [anchor["id"], *rng.sample(own, min(SECTIONS_PER_STUDENT - 1, len(own)))]
    if len(chosen) < SECTIONS_PER_STUDENT:
        rest = [s for s in by_school[school_id] if s not in chosen]
        chosen += rng.sample(rest, min(SECTIONS_PER_STUDENT - len(chosen), len(rest)))
    return chosen


@transaction.atomic
def add_students(*, district: SandboxDistrict, count: int, seed: int | None = None) -> BulkChange:
    """``count`` new students (users.created each), each enrolled in an existing section and up
    to four more of the same school, the section's grade first (as the generator enrols
    students); then one sections.updated per section that gained students."""
    if not 1 <= count <= MAX_ADDED_STUDENTS:
        raise RosterError(f"add 1 to {MAX_ADDED_STUDENTS:,} students at a time, not {count}")
    sections, total_sections = _sections_in_schools(district)
    if not sections:
        raise RosterError(f"{district.name} has no sections to enrol new students in")
    schools = _schools(district)
    by_grade: dict[tuple[str, str], list[str]] = {}
    by_school: dict[str, list[str]] = {}
    for clever_id, data in sections.items():
        by_grade.setdefault((data["school"], data.get("grade") or ""), []).append(clever_id)
        by_school.setdefault(data["school"], []).append(clever_id)
    anchors = list(sections)
    rng = random.Random(seed)
    domain = _student_email_domain(district)
    students: list[dict] = []
    joining: dict[str, list[str]] = {}
    for _ in range(count):
        anchor = sections[rng.choice(anchors)]
        school_id, grade = anchor["school"], anchor.get("grade") or ""
        student = student_record(
            rng=rng,
            student_id=new_id(),
            school=schools.get(school_id) or {"id": school_id},
            grade=grade or "Ungraded",
            email_domain=domain,
        )
        students.append(student)
        for section_id in _sections_to_join(rng, anchor, by_grade, by_school):
            joining.setdefault(section_id, []).append(student["id"])
    created = services.put_records(district=district, record_type=RecordType.USERS, items=students)
    updated = services.update_records(
        changes={
            section_id: {"students": [*sections[section_id].get("students", []), *joining[section_id]]}
            for section_id in sorted(joining)
        }
    )
    return BulkChange(
        students=[body["id"] for body in created], changed={"sections": (len(updated), total_sections)}
    )


@transaction.atomic
def move_students(
    *,
    district: SandboxDistrict,
    from_section_id: str,
    to_section_id: str,
    count: int,
    seed: int | None = None,
) -> BulkChange:
    """``count`` students of one section move to another section of the same school (a
    schedule change): both sections are updated (two sections.updated). Students already in
    the second section are not picked."""
    source = _record(district, from_section_id, RecordType.SECTIONS)
    target = _record(district, to_section_id, RecordType.SECTIONS)
    if source["id"] == target["id"]:
        raise RosterError("choose two different sections")
    if source.get("school") != target.get("school"):
        raise RosterError("the two sections are in different schools: choose two sections of one school")
    already = set(target.get("students", []))
    movable = [s for s in source.get("students", []) if s not in already]
    if not 1 <= count <= len(movable):
        raise RosterError(
            f"{len(movable)} students of {source.get('name') or 'that section'} "
            f"can move: choose 1 to {len(movable)}, not {count}"
        )
    moving = set(random.Random(seed).sample(movable, count))
    moved = [s for s in movable if s in moving]
    updated = services.update_records(
        changes={
            source["id"]: {"students": [s for s in source.get("students", []) if s not in moving]},
            target["id"]: {"students": [*target.get("students", []), *moved]},
        }
    )
    sections = _totals(district)["sections"]
    return BulkChange(students=moved, changed={"sections": (len(updated), sections)})
