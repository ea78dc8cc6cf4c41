"""Roster changes after a district is loaded, as a district's SIS would make them.

Each goes through ``sandbox.services``, so Clever events (with ``previous_attributes``) follow.
Used by the sandbox control page and by tests.
"""

import random
from datetime import date, timedelta

from django.db import transaction

from . import services
from .generator import _FIRST, _GRADE_NUMBER, _LAST, _pick, _slug
from .ids import new_id
from .models import RecordType, SandboxDistrict, SandboxEdge, SandboxRecord


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
    *, district: SandboxDistrict, section_id: str, first: str = "", last: str = "",
    seed: int | None = None,
) -> dict:
    """A new student (users.created) enrolled in a section (sections.updated)."""
    section = _record(district, section_id, RecordType.SECTIONS)
    rng = random.Random(seed)
    sex = rng.choice("MF")
    first = first.strip() or _pick(rng, _FIRST[sex])
    last = last.strip() or _pick(rng, _LAST)
    grade = section.get("grade") or "Ungraded"
    offset = _GRADE_NUMBER.get(grade, 10)
    dob = date(date.today().year - 6 - offset, 1, 1) + timedelta(days=rng.randrange(365))
    student_id = new_id()
    sis_id = str(900_000_000 + int(student_id[-6:], 16))
    school = section["school"]
    student = services.put_record(district=district, record_type=RecordType.USERS, data={
        "id": student_id,
        "name": {"first": first, "middle": "", "last": last},
        "roles": {"student": {
            "credentials": {"district_username": f"{_slug(first)}{_slug(last)[:1]}{sis_id[-3:]}"},
            "dob": f"{dob.month}/{dob.day}/{dob.year}",
            "enrollments": [],
            "gender": sex,
            "grade": grade,
            "school": school,
            "schools": [school],
            "sis_id": sis_id,
            "student_number": sis_id,
            "state_id": "",
        }},
        "lms_status": {"synced_in_lms": False},
    })
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
    uid = user["id"]
    sources = sorted(set(SandboxEdge.objects.filter(
        district=district, dst_id=uid, rel__in=("students", "teachers")
    ).values_list("src_id", flat=True)))
    for row in SandboxRecord.objects.filter(clever_id__in=sources).order_by("clever_id"):
        body = services.rec_loads(row)
        if row.record_type == RecordType.SECTIONS:
            changes = {"students": [s for s in body.get("students", []) if s != uid],
                       "teachers": [t for t in body.get("teachers", []) if t != uid]}
            if body.get("teacher") == uid:
                changes["teacher"] = changes["teachers"][0] if changes["teachers"] else ""
        else:
            contact = dict(body["roles"]["contact"])
            contact["student_relationships"] = [
                r for r in contact.get("student_relationships", []) if r.get("student") != uid
            ]
            changes = {"roles": {"contact": contact}}
        services.update_record(clever_id=row.clever_id, changes=changes)
    return services.delete_record(clever_id=uid)


@transaction.atomic
def add_section(
    *, district: SandboxDistrict, school_id: str = "", name: str = "", students: int = 5
) -> dict:
    """A new section (sections.created) at a school, with one of its teachers and students."""
    schools = SandboxRecord.objects.filter(district=district, record_type=RecordType.SCHOOLS)
    school = schools.filter(clever_id=school_id.strip()).first() if school_id.strip() else (
        schools.order_by("clever_id").first())
    if school is None:
        raise RosterError(f"no school {school_id!r} in {district.name}")
    members = SandboxEdge.objects.filter(district=district, rel="schools", dst_id=school.clever_id)
    users = SandboxRecord.objects.filter(
        district=district, clever_id__in=members.values("src_id")
    ).order_by("clever_id")
    teacher = users.filter(is_teacher=True).values_list("clever_id", flat=True).first()
    student_ids = list(users.filter(is_student=True).values_list("clever_id", flat=True)[:students])
    term = SandboxRecord.objects.filter(district=district, record_type=RecordType.TERMS).order_by(
        "clever_id").values_list("clever_id", flat=True).first()
    course = SandboxRecord.objects.filter(
        district=district, record_type=RecordType.COURSES
    ).order_by("clever_id").values_list("clever_id", flat=True).first()
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
