"""A district's LMS as its people see it (the sandbox's LMS launch page), and the LTI 1.3 claims
a launch from it sends.

Only Canvas and Schoology districts have launches (``LAUNCH_LMS_TYPES``). A person's courses
there are:

- each Clever section they teach or attend: the LMS course LMS Connect knows, titled with the
  section's name, context id ``course-<section id>`` (``section_context_id``), with the LMS
  Connect assignments the app created in it (every one, whether or not it was assigned to the
  person);
- each course made in the LMS itself that they teach or attend (``SandboxLmsCourse``: a
  homeroom, a club; Clever knows nothing of it), made by ``create_lms_course``.

Every course has a resource link that opens the app (id ``<context id>-app``, titled with the
app's name); each assignment is a resource link of its own (id: the assignment's ID).

The claims (the contract of issue #19; whether Clever names them so is not verified): message
type, version 1.3.0, ``deployment_id`` ``<district id>-<lms type>``, the app's primary redirect
URI as ``target_link_uri``, the resource link, the person's role in the course (Instructor for
its teacher, Learner for a student), the course as ``context``, the district's LMS as
``tool_platform`` (guid ``<district id>.<lms type>.sandbox``), and ``custom``:
``clever_section_id`` for a Clever section's course, ``clever_assignment_id`` for an
assignment's link (absent otherwise).
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass

from django.db import transaction

from ..models import (
    LmsType,
    RecordType,
    SandboxDistrict,
    SandboxEdge,
    SandboxLmsAssignment,
    SandboxLmsCourse,
    SandboxRecord,
)

LAUNCH_LMS_TYPES = (LmsType.CANVAS, LmsType.SCHOOLOGY)
LTI = "https://purl.imsglobal.org/spec/lti/claim/"
ROLE_URIS = {
    "teacher": "http://purl.imsglobal.org/vocab/lis/v2/membership#Instructor",
    "student": "http://purl.imsglobal.org/vocab/lis/v2/membership#Learner",
}
COURSE_SECTION = "http://purl.imsglobal.org/vocab/lis/v2/course#CourseSection"


@dataclass(frozen=True)
class ResourceLink:
    """Something in a course that opens the app: the course's own link, or an assignment."""

    id: str
    title: str
    assignment_id: str = ""


@dataclass(frozen=True)
class Course:
    """A course of the person whose dashboard it is, with their role in it."""

    context_id: str
    title: str
    label: str
    role: str  # "teacher" or "student"
    section_id: str = ""  # the Clever section; "" for a course made in the LMS
    assignments: tuple[ResourceLink, ...] = ()

    def app_link(self, app_name: str) -> ResourceLink:
        return ResourceLink(id=f"{self.context_id}-app", title=app_name)

    def assignment(self, assignment_id: str) -> ResourceLink | None:
        return next((link for link in self.assignments if link.assignment_id == assignment_id), None)


def section_context_id(section_id: str) -> str:
    return f"course-{section_id}"


def has_launches(district: SandboxDistrict) -> bool:
    return district.lms_type in LAUNCH_LMS_TYPES


# --- a person's courses ------------------------------------------------------------------------------


def courses_of(user: SandboxRecord) -> list[Course]:
    """The person's Clever sections' courses (by title), then the courses made in the LMS."""
    return [*_section_courses(user), *_made_in_lms_courses(user)]


def find_course(user: SandboxRecord, context_id: str) -> Course | None:
    """The person's course with this context id; None when they are not a member of it."""
    return next((course for course in courses_of(user) if course.context_id == context_id), None)


def _section_courses(user: SandboxRecord) -> list[Course]:
    roles: dict[str, str] = {}
    for section_id, rel in SandboxEdge.objects.filter(
        district_id=user.district_id, dst_id=user.clever_id, rel__in=("teachers", "students")
    ).values_list("src_id", "rel"):
        # Teaching a section outranks being enrolled in it.
        if rel == "teachers" or section_id not in roles:
            roles[section_id] = "teacher" if rel == "teachers" else "student"
    links: dict[str, list[ResourceLink]] = {}
    for assignment in SandboxLmsAssignment.objects.filter(
        district_id=user.district_id, section_id__in=list(roles)
    ).order_by("created", "id"):
        links.setdefault(assignment.section_id, []).append(
            ResourceLink(
                id=str(assignment.id),
                title=assignment.data.get("title") or "Untitled assignment",
                assignment_id=str(assignment.id),
            )
        )
    courses = []
    for section_id, body in SandboxRecord.objects.filter(
        clever_id__in=list(roles), record_type=RecordType.SECTIONS
    ).values_list("clever_id", "body"):
        section = json.loads(body)
        title = section.get("name") or "Section without a name"
        courses.append(
            Course(
                context_id=section_context_id(section_id),
                title=title,
                label=section.get("section_number") or section.get("sis_id") or title,
                role=roles[section_id],
                section_id=section_id,
                assignments=tuple(links.get(section_id, ())),
            )
        )
    return sorted(courses, key=lambda course: (course.title.casefold(), course.context_id))


def _made_in_lms_courses(user: SandboxRecord) -> list[Course]:
    courses = []
    for course in SandboxLmsCourse.objects.filter(district_id=user.district_id):
        if course.teacher_id == user.clever_id:
            role = "teacher"
        elif user.clever_id in course.student_ids:
            role = "student"
        else:
            continue
        courses.append(
            Course(context_id=course.context_id, title=course.title, label=course.label, role=role)
        )
    return courses


# --- the launch -------------------------------------------------------------------------------------


def launch_claims(*, user: SandboxRecord, course: Course, link: ResourceLink, target_link_uri: str) -> dict:
    """The LTI 1.3 claims of ``user`` opening ``link`` of ``course`` (one of theirs)."""
    district = user.district
    custom = {}
    if course.section_id:
        custom["clever_section_id"] = course.section_id
    if link.assignment_id:
        custom["clever_assignment_id"] = link.assignment_id
    return {
        f"{LTI}message_type": "LtiResourceLinkRequest",
        f"{LTI}version": "1.3.0",
        f"{LTI}deployment_id": f"{district.id}-{district.lms_type}",
        f"{LTI}target_link_uri": target_link_uri,
        f"{LTI}resource_link": {"id": link.id, "title": link.title},
        f"{LTI}roles": [ROLE_URIS[course.role]],
        f"{LTI}context": {
            "id": course.context_id,
            "label": course.label,
            "title": course.title,
            "type": [COURSE_SECTION],
        },
        f"{LTI}tool_platform": {
            "guid": f"{district.id}.{district.lms_type}.sandbox",
            "name": district.get_lms_type_display(),
            "product_family_code": district.lms_type,
        },
        f"{LTI}custom": custom,
    }


# --- courses made in the LMS --------------------------------------------------------------------------


class LmsCourseError(Exception):
    """A course the LMS cannot have: the message says why, in words for the control page."""


def students_of_teacher(teacher_id: str, limit: int) -> list[str]:
    """The first ``limit`` students (by name) of the teacher's Clever sections."""
    # Lists, not nested subqueries: PostgreSQL planned those as a scan of every record by name.
    sections = list(
        SandboxEdge.objects.filter(rel="teachers", dst_id=teacher_id).values_list("src_id", flat=True)
    )
    students = set(
        SandboxEdge.objects.filter(rel="students", src_id__in=sections).values_list("dst_id", flat=True)
    )
    return list(
        SandboxRecord.objects.filter(clever_id__in=students, record_type=RecordType.USERS)
        .order_by("display_name", "clever_id")
        .values_list("clever_id", flat=True)[:limit]
    )


@transaction.atomic
def create_lms_course(
    *, district: SandboxDistrict, title: str, teacher_id: str, student_ids: list[str], label: str = ""
) -> SandboxLmsCourse:
    """A course made in the district's LMS, taught by ``teacher_id`` (a teacher of the
    district) to ``student_ids`` (students of the district). Its context id is random, 40 hex
    digits, like Canvas's."""
    teachers = SandboxRecord.objects.filter(district=district, record_type=RecordType.USERS, is_teacher=True)
    if not teachers.filter(clever_id=teacher_id).exists():
        raise LmsCourseError(f"{teacher_id} is not a teacher of {district.name}.")
    students = set(
        SandboxRecord.objects.filter(
            district=district, is_student=True, clever_id__in=student_ids
        ).values_list("clever_id", flat=True)
    )
    strangers = [student_id for student_id in student_ids if student_id not in students]
    if strangers:
        raise LmsCourseError(f"Not students of {district.name}: {', '.join(strangers)}.")
    return SandboxLmsCourse.objects.create(
        district=district,
        context_id=secrets.token_hex(20),
        title=title,
        label=label or title,
        teacher_id=teacher_id,
        student_ids=list(dict.fromkeys(student_ids)),
    )


def courses_made_in_lms(district: SandboxDistrict) -> list[tuple[SandboxLmsCourse, str]]:
    """The district's courses made in the LMS, each with its teacher's name."""
    courses = list(SandboxLmsCourse.objects.filter(district=district))
    names = dict(
        SandboxRecord.objects.filter(clever_id__in=[course.teacher_id for course in courses]).values_list(
            "clever_id", "display_name"
        )
    )
    return [(course, names.get(course.teacher_id) or course.teacher_id) for course in courses]
