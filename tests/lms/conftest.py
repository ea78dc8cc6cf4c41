"""Fixtures for LMS Connect: a sandbox district with an LMS, discovered and synced for real.

``lms_world(lms_type=..., students=...)`` builds, in the local Clever, a district with one
school, a teacher, students and a section; then runs district discovery (which reads
``lms_type``/``lms_state`` from Clever's district record) and a full roster sync, so the
mirror (``Section``, ``Person``, ``SectionMembership``) is what the product really has. Every
client is on the ``fake_clock`` (set to the real time, so product dates and the sandbox agree)
and never sleeps.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest

from accounts.factories import UserFactory
from clever.client import CleverClient
from districts.models import District
from districts.services import discover_districts
from lms.factories import AssignmentFactory, ResultFactory
from lms.models import CleverAssignment, GradingType
from lms.services.writes import delete_assignment
from rostering.models import Person, Section
from rostering.services.sync import run_sync
from sandbox import services as sbx
from sandbox.ids import new_id
from sandbox.models import SandboxLmsAssignment, SandboxLmsSubmission


@pytest.fixture
def clock(fake_clock):
    """The fake clock, started at the real time (product dates and the sandbox's agree)."""
    fake_clock.now = float(int(time.time()))
    return fake_clock


@pytest.fixture
def make_client(clock):
    clients = []

    def build(**overrides):
        options = {"clock": clock, "sleep": clock.sleep, "rng": random.Random(11)}
        options.update(overrides)
        client = CleverClient(**options)
        clients.append(client)
        return client

    yield build
    for client in clients:
        client.close()


@pytest.fixture
def api(make_client):
    """The base client services get in tests (they put the district's token on a copy)."""
    return make_client()


@dataclass
class World:
    sandbox_district: object
    district: District
    section: Section
    teacher: Person
    students: list[Person]
    clock: object

    def days(self, n: float) -> datetime:
        return datetime.fromtimestamp(self.clock.now, UTC) + timedelta(days=n)

    def sandbox_assignments(self):
        return SandboxLmsAssignment.objects.filter(
            district=self.sandbox_district, section_id=self.section.clever_id
        )

    @staticmethod
    def link(assignment) -> CleverAssignment:
        return CleverAssignment.objects.get(assignment=assignment)

    def lms_submission(self, assignment_uuid: str, student: Person) -> dict:
        return SandboxLmsSubmission.objects.get(assignment_id=assignment_uuid, user_id=student.clever_id).data


def build_world(
    *,
    make_client,
    clock,
    lms_type="canvas",
    lms_state=None,
    students=5,
    section_synced: bool | None = True,
    unmatched_students=0,
    name="Lakeside Unified",
) -> World:
    sandbox_district = sbx.create_district(name=name, lms_type=lms_type, lms_state=lms_state)
    school_id, teacher_id, section_id = new_id(), new_id(), new_id()
    student_ids = [new_id() for _ in range(students)]
    items = [
        ("schools", {"id": school_id, "name": "North Middle"}),
        (
            "users",
            {
                "id": teacher_id,
                "name": {"first": "Tess", "last": "Cher"},
                "email": "tess@example.org",
                "roles": {"teacher": {"school": school_id, "schools": [school_id], "sis_id": "T1"}},
            },
        ),
    ]
    for n, student_id in enumerate(student_ids):
        user = {
            "id": student_id,
            "name": {"first": f"Stu{n}", "last": "Dent"},
            "email": f"stu{n}@example.org",
            "roles": {
                "student": {
                    "school": school_id,
                    "schools": [school_id],
                    "sis_id": f"S{n}",
                    "student_number": f"{1001 + n}",
                }
            },
        }
        if n < unmatched_students:
            user["lms_status"] = {"synced_in_lms": False}
        items.append(("users", user))
    section = {
        "id": section_id,
        "name": "Algebra 1",
        "school": school_id,
        "students": student_ids,
        "teachers": [teacher_id],
        "teacher": teacher_id,
        "subject": "math",
        "sis_id": "SEC1",
    }
    if section_synced is not None:
        section["lms_status"] = {"synced_in_lms": section_synced}
    items.append(("sections", section))
    sbx.bulk_load(district=sandbox_district, items=items)

    client = make_client()
    discover_districts(client=client)
    district = District.objects.get(clever_id=sandbox_district.id)
    run = run_sync(district=district, kind="full", client=client)
    assert run.status == "succeeded", run.error
    people = {p.clever_id: p for p in Person.objects.filter(district=district)}
    return World(
        sandbox_district=sandbox_district,
        district=district,
        section=Section.objects.get(district=district, clever_id=section_id),
        teacher=people[teacher_id],
        students=[people[s] for s in sorted(student_ids)],
        clock=clock,
    )


@pytest.fixture
def lms_world(db, sandbox_app, make_client, clock):
    def build(**options) -> World:
        return build_world(make_client=make_client, clock=clock, **options)

    return build


@pytest.fixture
def world(lms_world) -> World:
    return lms_world()


@pytest.fixture
def teacher_user(world):
    """A product account linked to the world's teacher (``Person.user``)."""
    user = UserFactory(username="tess")
    Person.objects.filter(pk=world.teacher.pk).update(user=user)
    return user


def graded_work(world: World) -> SimpleNamespace:
    """The first student's work in the world's class: a quiz graded 8/10 (a classmate 3/10), an
    essay A- (91/100), a journal with a draft grade only, and a deleted assignment."""
    me, classmate = world.students[:2]
    quiz = AssignmentFactory(
        section=world.section, title="Fractions quiz", due_at=world.days(3), points_possible=10
    )
    essay = AssignmentFactory(
        section=world.section,
        title="Essay",
        due_at=world.days(9),
        grading_type=GradingType.LETTER_GRADE,
        points_possible=100,
    )
    journal = AssignmentFactory(section=world.section, title="Journal", due_at=world.days(5))
    gone = AssignmentFactory(section=world.section, title="Deleted one", due_at=world.days(4))
    delete_assignment(assignment=gone)
    ResultFactory(assignment=quiz, student=me, points=8)
    ResultFactory(assignment=quiz, student=classmate, points=3)
    ResultFactory(assignment=essay, student=me, points=91, grade="A-")
    ResultFactory(assignment=journal, student=me, points=2, status="draft")
    return SimpleNamespace(quiz=quiz, essay=essay, journal=journal, gone=gone)


def assignment_row(page: str, assignment) -> str:
    """The HTML of ``assignment``'s row in a student's list of assignments."""
    start = page.index(f'id="student-assignment-{assignment.pk}"')
    return page[start : page.index("</tr>", start)]
