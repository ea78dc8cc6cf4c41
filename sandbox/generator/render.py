"""A plan rendered as Clever v3.1 bodies (every field one the v3.1 Swagger defines), one record
at a time, in load order: schools, terms, courses, users (students, adults, contacts), sections.

Each record draws from its own seeded ``rng``, so rendering order does not matter and rendering
again gives the same bodies, byte for byte.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import date

from ..models import RecordType
from .people import clever_dob, diagnosed_disability, graduation_year, street_address, student_ext
from .plan import Adult, Contact, Plan, Student
from .tables import (
    CONTACT_TYPES,
    FRL_STATUSES,
    GIFTED_STATUSES,
    GRADE_NUMBER,
    HISPANIC_ETHNICITIES,
    HOME_LANGUAGES,
    IEP_STATUSES,
    NICKNAMES,
    PHONE_TYPES,
    RACES,
    RELATIONSHIPS,
    SECTION_504_STATUSES,
    YOUNG_GRADES,
    ascii_fold,
    pick,
    slug,
)


def render(plan: Plan, record_type: str | None = None) -> Iterator[tuple[str, dict]]:
    """(record_type, body) pairs of every record (or of one type), in load order."""
    renderers = (
        (RecordType.SCHOOLS, _schools),
        (RecordType.TERMS, _terms),
        (RecordType.COURSES, _courses),
        (RecordType.USERS, _users),
        (RecordType.SECTIONS, _sections),
    )
    for kind, renderer in renderers:
        if record_type is None or record_type == kind:
            for body in renderer(plan):
                yield kind, body


def _stamped(plan: Plan, body: dict) -> dict:
    body["created"] = plan.created
    body["last_modified"] = plan.created
    return body


def _legacy_id(plan: Plan, seed: int) -> str:
    """A legacy (pre-v3) ID derived from the record's seed: rendering order does not matter."""
    return f"{(plan.start - 5 * 365 * 86400 + seed % 86_400):08x}{seed % (1 << 64):016x}"


def _lms_status(plan: Plan, rng: random.Random) -> dict:
    return {"synced_in_lms": bool(plan.lms_type) and rng.random() < 0.93}


def _schools(plan: Plan) -> Iterator[dict]:
    y = plan.school_year
    for school in plan.schools:
        rng = random.Random(school.seed)
        principal = plan.adults[school.principal] if school.principal is not None else None
        number = f"{school.index + 1:03d}"
        yield _stamped(
            plan,
            {
                "id": school.id,
                "district": plan.district_id,
                "name": school.name,
                "sis_id": str(100 + school.index),
                "school_number": number,
                "state_id": f"{plan.state}-{plan.fips}{school.index + 1:04d}",
                "nces_id": f"{plan.nces_id}{rng.randrange(100_000):05d}" if plan.nces_id else "",
                "mdr_number": f"{rng.randrange(10**7, 10**8)}" if plan.mdr_number else "",
                "low_grade": school.grades[0],
                "high_grade": school.grades[-1],
                "principal": {
                    "name": f"{principal.first} {principal.last}" if principal else "",
                    "email": (principal.email or "") if principal else "",
                },
                "location": {
                    "address": street_address(rng, lowest_number=100),
                    "city": plan.town,
                    "state": plan.state,
                    "zip": f"{plan.zip_base + rng.randrange(40):05d}",
                    "lat": "",
                    "lon": "",
                },
                "phone": f"({rng.randrange(201, 989)}) 555-01{rng.randrange(100):02d}",
                "ext": {"school_year": f"{y}-{y + 1}"},
            },
        )


def _terms(plan: Plan) -> Iterator[dict]:
    for (name, start, end), term_id, alt in zip(plan.terms, plan.term_ids, plan.term_alt_format, strict=True):
        # Clever validates term dates as times without normalizing them.
        fmt = (lambda d: f"{d.isoformat()}T00:00:00.000Z") if alt else date.isoformat
        yield {
            "id": term_id,
            "district": plan.district_id,
            "name": name,
            "start_date": fmt(start),
            "end_date": fmt(end),
        }


def _courses(plan: Plan) -> Iterator[dict]:
    for (name, _subject, number), course_id in zip(plan.courses, plan.course_ids, strict=True):
        yield {"id": course_id, "district": plan.district_id, "name": name, "number": number}


def _users(plan: Plan) -> Iterator[dict]:
    for index, student in enumerate(plan.students):
        yield _student(plan, index, student)
    for index, adult in enumerate(plan.adults):
        yield _adult(plan, index, adult)
    for index, contact in enumerate(plan.contacts):
        yield _contact(plan, index, contact)


def _username(plan: Plan, first: str, last: str, number: int) -> str:
    first, last = slug(first), slug(last)
    if plan.username_style == 0:
        return f"{first}{last[:1]}{number % 100}"
    if plan.username_style == 1:
        return f"{first[:1]}{last}{number % 1000}"
    return f"{first}.{last}"


# --- students ------------------------------------------------------------------------------------


def _student(plan: Plan, index: int, student: Student) -> dict:
    rng = random.Random(student.seed)
    nickname, preferred = _nickname_and_preferred_name(plan, rng, student)
    email = _student_email(plan, rng, student, index, nickname)
    role = _student_role(plan, rng, index, student)
    if preferred:
        role["preferred_name"] = preferred
    if plan.chance("student_legacy_id", rng):
        role["legacy_id"] = _legacy_id(plan, student.seed)
    body = {"id": student.id, "district": plan.district_id}
    if email is not None:
        body["email"] = email
    body["name"] = {"first": student.first, "middle": student.middle, "last": student.last}
    body["roles"] = {"student": role}
    body["lms_status"] = _lms_status(plan, rng)
    # Drawn last, so the fields above are what they were before ``ext`` was generated.
    if rng.random() < 0.9:
        role["ext"] = student_ext(rng)
    return _stamped(plan, body)


def _nickname_and_preferred_name(
    plan: Plan, rng: random.Random, student: Student
) -> tuple[str | None, dict | None]:
    """The nickname the student's email uses, and the ``preferred_name``; either may be None."""
    nickname = preferred = None
    if student.first in NICKNAMES and plan.chance("nickname", rng):
        nickname = rng.choice(NICKNAMES[student.first])
        if rng.random() < 0.5:
            preferred = {"first": nickname, "middle": "", "last": student.last}
            nickname = None if rng.random() < 0.5 else nickname
    elif not student.first.isascii() and rng.random() < 0.3:
        preferred = {"first": ascii_fold(student.first), "middle": "", "last": student.last}
    return nickname, preferred


def _student_email(
    plan: Plan, rng: random.Random, student: Student, index: int, nickname: str | None
) -> str | None:
    young = student.grade in YOUNG_GRADES
    if plan.chance("young_no_email" if young else "older_no_email", rng):
        return None
    first = slug(nickname or student.first)
    last = slug(student.last)
    style = plan.student_email_style
    if style == 0:
        local = f"{first}.{last}{index % 100:02d}"
    elif style == 1:
        local = f"{last[:1]}.{first}{index % 1000}"
    elif style == 2:
        local = f"{first[:1]}{last}{(student.dob.year % 100) if student.dob else index % 100:02d}"
    else:
        local = f"{plan.sis_base + index}"
    return plan.mess_email(rng, f"{local}@{plan.student_domain}")


def _student_role(plan: Plan, rng: random.Random, index: int, student: Student) -> dict:
    """The ``student`` role: ids, grade, demographics, home, schools, and (when the district
    shares them) the program fields."""
    y = plan.school_year
    schools = [student.school] + ([student.other_school] if student.other_school is not None else [])
    school_ids = sorted(plan.schools[s].id for s in schools)
    sis_id = str(plan.sis_base + index)
    gender_roll = rng.random()
    gender = student.sex if gender_roll > 0.02 else ("X" if gender_roll < 0.01 else "")
    number = GRADE_NUMBER.get(student.grade)
    no_graduation_year = number is None or plan.chance("blank_graduation_year", rng)
    language, language_code = pick(rng, HOME_LANGUAGES)
    ell = (
        ("Y" if rng.random() < 0.6 else "N")
        if language != "English"
        else ("Y" if rng.random() < 0.01 else "N")
    )
    iep = pick(rng, IEP_STATUSES)
    role = {
        "credentials": {"district_username": _username(plan, student.first, student.last, index)},
        "enrollments": [],
        "gender": gender,
        "grade": student.grade,
        "graduation_year": "" if no_graduation_year else graduation_year(y, number),
        "hispanic_ethnicity": pick(rng, HISPANIC_ETHNICITIES),
        "location": {
            "address": "" if rng.random() < 0.2 else street_address(rng),
            "city": plan.town,
            "state": plan.state,
            "zip": f"{plan.zip_base + rng.randrange(60):05d}",
        },
        "race": pick(rng, RACES),
        "school": plan.schools[student.school].id,
        "schools": school_ids,
        "sis_id": sis_id,
        "state_id": ""
        if plan.chance("missing_state_id", rng)
        else str(1_000_000_000 + (plan.state_id_base + index * 7919) % 9_000_000_000),
        "student_number": sis_id if rng.random() < 0.8 else f"S{index + 1:06d}",
    }
    if student.dob:  # a missing dob is absent: "" would not match Clever's M/D/YYYY pattern
        role["dob"] = clever_dob(student.dob)
    if len(schools) > 1:
        role["enrollments"] = [
            {
                "school": school_id,
                "start_date": f"{y}-08-18T00:00:00.000Z",
                "end_date": f"{y + 1}-06-05T00:00:00.000Z",
            }
            for school_id in school_ids
        ]
    if plan.sensitive_fields:
        role.update(_program_fields(rng, ell=ell, iep=iep, language=language, language_code=language_code))
    return role


def _program_fields(rng: random.Random, *, ell: str, iep: str, language: str, language_code: str) -> dict:
    """The v3.1 sensitive program fields; not every SIS export carries every one."""
    fields = {
        "ell_status": ell,
        "frl_status": pick(rng, FRL_STATUSES),
        "iep_status": iep,
        "home_language": language,
        "home_language_code": language_code,
        "gifted_status": pick(rng, GIFTED_STATUSES),
        "section_504_status": pick(rng, SECTION_504_STATUSES),
    }
    if iep == "Y":
        fields["disability"] = diagnosed_disability(rng)
    else:
        fields["disability"] = {"disability_status": "N"} if rng.random() < 0.8 else {}
    return {key: value for key, value in fields.items() if rng.random() < 0.97}


# --- adults, contacts, sections ------------------------------------------------------------------


def _adult(plan: Plan, index: int, adult: Adult) -> dict:
    rng = random.Random(adult.seed)
    roles: dict = {}
    username = _username(plan, adult.first, adult.last, index)
    if adult.teacher_schools:
        teacher = {
            "credentials": {"district_username": username},
            "school": plan.schools[adult.teacher_schools[0]].id,
            "schools": sorted(plan.schools[s].id for s in adult.teacher_schools),
            "sis_id": str(1000 + index),
            "state_id": str(700_000_000 + (plan.state_id_base + index * 104_729) % 99_999_999),
            "teacher_number": f"T{rng.randrange(100_000, 999_999)}",
            "title": adult.teacher_title,
        }
        if rng.random() < 0.6:
            teacher["legacy_id"] = _legacy_id(plan, adult.seed)
        roles["teacher"] = teacher
    if adult.staff:
        title, department, staff_roles, schools = adult.staff
        staff = {
            "credentials": {"district_username": username},
            "department": department,
            "roles": list(staff_roles),
            "schools": sorted(plan.schools[s].id for s in schools),
            "staff_id": f"E{20_000 + index}",
            "title": title,
        }
        if rng.random() < 0.5:
            staff["legacy_id"] = _legacy_id(plan, adult.seed + 1)
        roles["staff"] = staff
    if adult.admin_title is not None:
        roles["district_admin"] = {
            "title": adult.admin_title,
            # In Clever's demo district, the district contact's id is an admin's legacy_id.
            "legacy_id": plan.district_contact_id if index == 0 else _legacy_id(plan, adult.seed + 2),
        }
    body = {"id": adult.id, "district": plan.district_id}
    if adult.email is not None:
        body["email"] = adult.email
    body["name"] = {"first": adult.first, "middle": adult.middle, "last": adult.last}
    body["roles"] = roles
    if adult.teacher_schools or adult.staff:
        body["lms_status"] = _lms_status(plan, rng)
    return _stamped(plan, body)


def _contact(plan: Plan, index: int, contact: Contact) -> dict:
    rng = random.Random(contact.seed)
    email: str | None
    if contact.teacher is not None:
        email = plan.adults[contact.teacher].email
    elif rng.random() < 0.7:
        given = contact.first
        if given in NICKNAMES and plan.chance("nickname", rng):
            given = rng.choice(NICKNAMES[given])
        provider = rng.choice(("gmail.example.com", "yahoo.example.com", "mail.example.net"))
        email = plan.mess_email(rng, f"{slug(given)}{slug(contact.last)}{index % 97}@{provider}")
    else:
        email = None
    area, line = rng.randrange(201, 989), rng.randrange(100)
    phone = f"({area}) 555-01{line:02d}"
    if plan.chance("odd_phone", rng):
        phone = rng.choice(
            (f"{area}-555-01{line:02d}", f"{area}55501{line:02d}", f"+1 {area} 555 01{line:02d}", "")
        )
    relationships = []
    for k, student_index in enumerate(contact.students):
        relationship = pick(rng, RELATIONSHIPS) if k == 0 else relationships[0]["relationship"]
        relationships.append(
            {
                "student": plan.students[student_index].id,
                "relationship": relationship,
                "type": pick(rng, CONTACT_TYPES),
            }
        )
    role = {
        "phone": phone,
        "phone_type": pick(rng, PHONE_TYPES) if phone else "",
        "sis_id": f"C{plan.sis_base + index}" if rng.random() < 0.6 else "",
        "student_relationships": relationships,
    }
    if rng.random() < 0.3:
        role["legacy_id"] = _legacy_id(plan, contact.seed)
    body = {"id": contact.id, "district": plan.district_id}
    if email is not None:
        body["email"] = email
    if contact.teacher is None and plan.chance("contact_full_name_in_last", rng):
        body["name"] = {"last": f"{contact.first} {contact.last}"}
    else:
        body["name"] = {"first": contact.first, "middle": "", "last": contact.last}
    body["roles"] = {"contact": role}
    return _stamped(plan, body)


def _sections(plan: Plan) -> Iterator[dict]:
    for number, section in enumerate(plan.sections):
        rng = random.Random(section.seed)
        course_name, subject, _ = plan.courses[section.course]
        teacher_ids = [plan.adults[t].id for t in section.teachers]
        lead = plan.adults[section.teachers[0]].last if section.teachers else "TBD"
        body = {
            "id": section.id,
            "district": plan.district_id,
            "school": plan.schools[section.school].id,
            "name": f"{course_name} - {lead} - {section.period}",
            "sis_id": str(500 + number),
            "section_number": "" if rng.random() < 0.1 else f"{number % 40 + 1:03d}",
            "period": section.period,
            "subject": subject,
            "grade": section.grade,
            "course": plan.course_ids[section.course],
            "term_id": plan.term_ids[section.term],
            "teachers": teacher_ids,
            "students": [plan.students[s].id for s in sorted(section.students)],
            "lms_status": _lms_status(plan, rng),
        }
        if teacher_ids:
            body["teacher"] = teacher_ids[0]
        yield _stamped(plan, body)
