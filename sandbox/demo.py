"""Clever's recorded demo district (``#DEMO_DISTRICT``), loaded into the sandbox as recorded.

``data/clever-demo/`` holds real ``GET /v3.0/districts|users|sections`` answers for Clever's demo
district (Apache-2.0, see its SOURCE.md): 2,098 users (1,004 students, 89 teachers, 3 district
admins, 1,002 contacts) and 378 sections. They are loaded unchanged: same IDs, same bodies,
including the recording's quirks (``email`` inside ``roles.student``, contacts named only in
``name.last``, ``enrollments: []``).

The recording has no schools, terms or courses, yet users and sections point at 5 school, 5
term and 343 course IDs. So that ``/schools/{id}``, ``/sections/{id}/term`` and the other nested
endpoints answer, ``load_demo`` **synthesizes** one minimal record per referenced ID, and names
it as such: "Demo school 5a25ff950a5f621109000004 (synthesized)", "Demo term … (synthesized)",
and a course named after its sections ("Group Guidance (synthesized)"). Nothing else is
invented: no addresses, no NCES ids, no term dates.

Idempotent by skipping: when the demo district already exists, ``load_demo`` leaves it alone
(its token, the app's stored state and any events survive) and returns ``created=False``. Pass
``replace=True`` to delete it and load it afresh (a new district token is issued).

``seed_lms_courses`` gives every Canvas or Schoology district (the recorded one has no LMS; the
generated ones may) a course made in its LMS, which Clever does not know: "Homeroom (made in
Canvas)", taught by the first teacher by name who has students, to four of their students. The
LMS launch page lists it beside the people's Clever sections.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

from django.db import transaction

from . import services
from .lms import launch
from .models import RecordType, SandboxDistrict, SandboxEdge, SandboxLmsCourse, SandboxRecord

DEMO_DISTRICT_ID = "5a0c91b95c7cc000010d417c"
DATA_DIR = Path(__file__).resolve().parent / "data" / "clever-demo"
SYNTHESIZED = "(synthesized)"
HOMEROOM_STUDENTS = 4


def _recorded(name: str) -> list[dict]:
    """The records of one recorded list answer, in recorded (ascending ID) order."""
    payload = json.loads((DATA_DIR / name).read_text(encoding="utf-8"))
    return [item["data"] for item in payload["data"]]


def _referenced(users: list[dict], sections: list[dict]) -> tuple[list, list, dict]:
    """School, term and course IDs the recording points at (courses with their sections' names)."""
    schools: dict[str, None] = {}
    terms: dict[str, None] = {}
    courses: dict[str, list[str]] = {}
    for user in users:
        for role in (user.get("roles") or {}).values():
            for school in [role.get("school"), *(role.get("schools") or [])]:
                if school:
                    schools[school] = None
    for section in sections:
        if section.get("school"):
            schools[section["school"]] = None
        if section.get("term_id"):
            terms[section["term_id"]] = None
        if section.get("course"):
            courses.setdefault(section["course"], []).append(section.get("name") or "")
    return sorted(schools), sorted(terms), dict(sorted(courses.items()))


def _course_name(section_names: list[str]) -> str:
    """ "Group Guidance - Greene - 0" -> "Group Guidance" when all its sections agree."""
    prefixes = {name.split(" - ")[0].strip() for name in section_names if name}
    if len(prefixes) == 1:
        return f"{prefixes.pop()} {SYNTHESIZED}"
    return f"Demo course {SYNTHESIZED}"


def _synthesized(users, sections, stamp: str) -> Iterator[tuple[str, dict]]:
    schools, terms, courses = _referenced(users, sections)
    for school_id in schools:
        yield (
            RecordType.SCHOOLS,
            {
                "id": school_id,
                "district": DEMO_DISTRICT_ID,
                "name": f"Demo school {school_id} {SYNTHESIZED}",
                "sis_id": "",
                "school_number": "",
                "created": stamp,
                "last_modified": stamp,
            },
        )
    for term_id in terms:
        yield (
            RecordType.TERMS,
            {
                "id": term_id,
                "district": DEMO_DISTRICT_ID,
                "name": f"Demo term {term_id} {SYNTHESIZED}",
            },
        )
    for course_id, names in courses.items():
        yield (
            RecordType.COURSES,
            {
                "id": course_id,
                "district": DEMO_DISTRICT_ID,
                "name": _course_name(names),
                "number": "",
            },
        )


def demo_records() -> tuple[dict, Iterator[tuple[str, dict]]]:
    """The recorded district object, and every record to load (synthesized ones first)."""
    district = _recorded("districts.json")[0]
    users = _recorded("users.json")
    sections = _recorded("sections.json")
    stamp = district.get("last_sync") or "2021-03-02T22:25:23.709Z"

    def items():
        yield from _synthesized(users, sections, stamp)
        for user in users:
            yield RecordType.USERS, user
        for section in sections:
            yield RecordType.SECTIONS, section

    return district, items()


@transaction.atomic
def load_demo(*, replace: bool = False) -> tuple[SandboxDistrict, bool]:
    """Load the recorded demo district; returns (district, created).

    Already there: skipped (``created=False``), unless ``replace`` deletes and reloads it.
    """
    existing = SandboxDistrict.objects.filter(id=DEMO_DISTRICT_ID).first()
    if existing is not None:
        if not replace:
            return existing, False
        services.delete_district(district=existing)
    body, items = demo_records()
    district = services.create_district(name=body["name"], district_id=DEMO_DISTRICT_ID, data=body)
    services.bulk_load(district=district, items=items)
    return district, True


@transaction.atomic
def seed_lms_courses() -> list[SandboxLmsCourse]:
    """A homeroom made in the LMS for each Canvas or Schoology district that has no course made
    there yet (and has a teacher with students); returns the courses made."""
    made = []
    districts = SandboxDistrict.objects.filter(lms_type__in=launch.LAUNCH_LMS_TYPES, lms_courses__isnull=True)
    for district in districts:
        # Lists, not nested subqueries: PostgreSQL planned those as a scan of every record by name.
        edges = SandboxEdge.objects.filter(district=district)
        enrolled = set(edges.filter(rel="students").values_list("src_id", flat=True).distinct())
        teachers = {
            teacher
            for section, teacher in edges.filter(rel="teachers").values_list("src_id", "dst_id")
            if section in enrolled
        }
        teacher_id = (
            SandboxRecord.objects.filter(clever_id__in=teachers, record_type=RecordType.USERS)
            .order_by("display_name", "clever_id")
            .values_list("clever_id", flat=True)
            .first()
        )
        if teacher_id is None:
            continue
        lms = district.get_lms_type_display()
        made.append(
            launch.create_lms_course(
                district=district,
                title=f"Homeroom (made in {lms})",
                label="HOMEROOM",
                teacher_id=teacher_id,
                student_ids=launch.students_of_teacher(teacher_id, HOMEROOM_STUDENTS),
            )
        )
    return made
