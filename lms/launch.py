"""LMS Connect launches: the one module that reads the launch's claim names, and the router that
says where a person who opened the app from their LMS lands.

Read here, and only here (so a real launch that names things differently needs one change, in
this module):

- standard LTI 1.3 claims (IMS LTI Core 1.3, prefix ``https://purl.imsglobal.org/spec/lti/claim/``):
  ``message_type`` (only ``LtiResourceLinkRequest`` is a launch), ``deployment_id``, ``roles``
  (IMS role URIs), ``context`` (the course: ``id``, ``title``, ``label``), ``resource_link``
  (what was clicked: ``id``, ``title``) and ``tool_platform`` (the LMS: ``guid``, ``name``,
  ``product_family_code``). ``target_link_uri`` and ``version`` are not read: the app has one
  launch address, and Clever (which validated the launch) sent the person to it;
- Clever's custom keys ``custom.clever_section_id`` (the Clever section of an LMS course that
  LMS Connect knows) and ``custom.clever_assignment_id`` (the LMS Connect assignment launched).
  **Inferred, not verified against a real Clever launch** (issue #19's contract, imitated by the
  sandbox): if Clever names them otherwise, only ``parse_launch`` changes.

Every value is treated as text an attacker chose (the identity token is Clever's, but the
course's names and ids are typed by whoever runs the LMS): types are checked, identifiers that
are too long or not printable ASCII are dropped (never cut: two cut ids could become one), names
are stripped of control characters and cut, Clever IDs must look like Clever IDs.

Where a launch lands (``route``, registered with ``sso.launches`` in ``LmsConfig.ready``):

a. from an assignment the app pushed (``clever_assignment_id``) of a live section of the
   signed-in person's district: its teacher to the assignment's page, an enrolled student to
   their own view of it; anyone else falls through to the course;
b. the course's class: the Clever section it names, then the one a teacher set it up as, the
   first of them the person is in: its teacher to the class's page, a student to their class
   page (Clever's section first, so a teacher's choice never moves a Clever class's students);
c. otherwise a teacher (launching as one, and teaching a live class of the district) is asked
   which of their classes the course is; everyone else is told it is not set up yet.

The launch's role (teacher or student) becomes the session's role, so a person who is both acts
in the one they launched as; a launch naming neither lands in the role of the page it opens.
Every launch's course is recorded (``LmsCourse``), with the teachers seen launching it, and
kept in the session (``SESSION_LAUNCH_COURSE``).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django.http import HttpRequest
from django.urls import reverse

from districts.models import District
from rostering.models import Person
from sso.launches import LaunchRoute

from . import selectors
from .models import LmsCourse
from .services import courses

LTI = "https://purl.imsglobal.org/spec/lti/claim/"
RESOURCE_LINK_REQUEST = "LtiResourceLinkRequest"
# The course of the last launch (an ``LmsCourse`` pk): the set-up page and the class page's
# "not the right class?" read it. The session is flushed at every sign-in.
SESSION_LAUNCH_COURSE = "lms.launch_course"

# LTI 1.3: ids (deployment, context, resource link, platform guid) are at most 255 ASCII characters.
ID_MAX = 255
TEXT_MAX = 255
NAME_MAX = 64
MAX_ROLES = 50  # a person has a handful; a longer list is read no further

MEMBERSHIP = "http://purl.imsglobal.org/vocab/lis/v2/membership"
INSTITUTION = "http://purl.imsglobal.org/vocab/lis/v2/institution/person"
# Roles in the course first; roles in the institution only when the course names none.
ROLE_SETS = (
    (
        {
            f"{MEMBERSHIP}#Instructor",
            f"{MEMBERSHIP}#TeachingAssistant",
            f"{MEMBERSHIP}/Instructor#TeachingAssistant",
        },
        {f"{MEMBERSHIP}#Learner", f"{MEMBERSHIP}/Learner#Learner"},
    ),
    (
        {f"{INSTITUTION}#Instructor", f"{INSTITUTION}#Faculty"},
        {f"{INSTITUTION}#Student", f"{INSTITUTION}#Learner"},
    ),
)
CLEVER_ID = re.compile(r"[0-9a-f]{24}")
UUID_CHARACTERS = re.compile(r"[0-9A-Fa-f-]{32,36}")


@dataclass(frozen=True)
class Launch:
    """What a launch says, checked: "" for anything absent or unusable."""

    platform_guid: str
    platform_name: str
    product_family: str
    deployment_id: str
    context_id: str
    context_title: str
    context_label: str
    resource_link_id: str
    resource_link_title: str
    role: str | None  # "teacher", "student" or None (another role, or none)
    clever_section_id: str
    clever_assignment_id: str


def _object(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _identifier(value: Any) -> str:
    """An LTI identifier, or "" when it is not one (too long, not printable ASCII)."""
    if not isinstance(value, str):
        return ""
    value = value.strip()
    if len(value) > ID_MAX or not value.isascii() or not value.isprintable():
        return ""
    return value


def _text(value: Any, limit: int = TEXT_MAX) -> str:
    """A name to show: control characters and runs of spaces become one space, cut to ``limit``."""
    if not isinstance(value, str):
        return ""
    head = value[: limit * 4]  # enough to fill ``limit`` after spaces collapse; no more work
    return " ".join("".join(c if c.isprintable() else " " for c in head).split())[:limit]


def _lower(value: Any) -> Any:
    return value.lower() if isinstance(value, str) else value


def _clever_id(value: Any) -> str:
    return value if isinstance(value, str) and CLEVER_ID.fullmatch(value) else ""


def _assignment_id(value: Any) -> str:
    """An LMS Connect assignment ID as the app stores it (a lower-case UUID), or ""."""
    if not isinstance(value, str) or not UUID_CHARACTERS.fullmatch(value.strip()):
        return ""
    try:
        return str(uuid.UUID(value.strip()))
    except ValueError:
        return ""


def role_of(roles: Any) -> str | None:
    """ "teacher" or "student" from IMS role URIs: the course's roles (Instructor or teaching
    assistant; Learner) whenever the launch names any course role, else the institution's
    (Instructor, Faculty; Student, Learner). Teaching outranks learning when a list names both.
    A course role such as Mentor or ContentDeveloper is neither, whatever the person is in the
    institution (an LMS names everyone who teaches anywhere an institution Instructor)."""
    if not isinstance(roles, list):
        return None
    given = {role.strip() for role in roles[:MAX_ROLES] if isinstance(role, str) and len(role) <= ID_MAX}
    names_a_course_role = any(role.startswith(MEMBERSHIP) for role in given)
    for teaching, learning in ROLE_SETS[:1] if names_a_course_role else ROLE_SETS[1:]:
        if given & teaching:
            return "teacher"
        if given & learning:
            return "student"
    return None


# The claims ``parse_launch`` reads, and of ``custom`` the keys it reads: all a sign-in keeps.
CLAIMS_READ = tuple(
    f"{LTI}{name}"
    for name in ("message_type", "deployment_id", "roles", "context", "resource_link", "tool_platform")
)
CUSTOM_KEYS_READ = ("clever_section_id", "clever_assignment_id")


def kept_claims(claims: Mapping[str, Any]) -> dict:
    """The part of a verified token's claims ``parse_launch`` reads (registered with
    ``sso.launches``): no name, email, SIS id or LMS extra rides along in the session."""
    kept = {name: claims[name] for name in CLAIMS_READ if name in claims}
    custom = _object(claims.get(f"{LTI}custom"))
    if custom:
        kept[f"{LTI}custom"] = {key: custom[key] for key in CUSTOM_KEYS_READ if key in custom}
    return kept


def parse_launch(claims: Mapping[str, Any]) -> Launch | None:
    """The launch in ``claims`` (a validated identity token's), or None when they are not one."""
    if not isinstance(claims, Mapping) or claims.get(f"{LTI}message_type") != RESOURCE_LINK_REQUEST:
        return None
    platform = _object(claims.get(f"{LTI}tool_platform"))
    context = _object(claims.get(f"{LTI}context"))
    link = _object(claims.get(f"{LTI}resource_link"))
    custom = _object(claims.get(f"{LTI}custom"))
    guid = _identifier(platform.get("guid"))
    return Launch(
        platform_guid=guid,
        platform_name=_text(platform.get("name"), NAME_MAX),
        # Lower case first: lowering after the cut can lengthen it past the column ("İ" -> 2).
        product_family=_text(_lower(platform.get("product_family_code")), NAME_MAX),
        deployment_id=_identifier(claims.get(f"{LTI}deployment_id")),
        # An LMS that names itself with an unusable guid records no course: keyed on "" it
        # would share courses with every LMS that sends no guid.
        context_id=_identifier(context.get("id")) if guid or "guid" not in platform else "",
        context_title=_text(context.get("title")),
        context_label=_text(context.get("label")),
        resource_link_id=_identifier(link.get("id")),
        resource_link_title=_text(link.get("title")),
        role=role_of(claims.get(f"{LTI}roles")),
        clever_section_id=_clever_id(custom.get("clever_section_id")),
        clever_assignment_id=_assignment_id(custom.get("clever_assignment_id")),
    )


# --- where it lands ------------------------------------------------------------------------------


def route(request: HttpRequest, claims: Mapping[str, Any]) -> LaunchRoute | None:
    """Where the signed-in person lands after this launch; None when the claims are not a
    launch, or nothing in it can be placed (no district, no course and no known class)."""
    launch = parse_launch(claims)
    if launch is None or not request.user.is_authenticated:
        return None
    district = selectors.signed_in_district(request)
    if district is None:
        return None
    people = selectors.people_in_district(request.user, district)
    course = courses.record_launch(district=district, launch=launch, people=people)
    if course is not None:
        request.session[SESSION_LAUNCH_COURSE] = course.pk
    else:
        request.session.pop(SESSION_LAUNCH_COURSE, None)
    return (
        _assignment_route(launch, district, people)
        or _course_route(launch, district, people, course)
        or _unmapped_route(launch, people, course)
    )


def _assignment_route(launch: Launch, district: District, people: list[Person]) -> LaunchRoute | None:
    if not launch.clever_assignment_id:
        return None
    assignment = selectors.launched_assignment(district, launch.clever_assignment_id)
    if assignment is None:
        return None
    section = assignment.section
    if launch.role != "student" and selectors.teaches(people, section):
        return LaunchRoute(reverse("lms:assignment", args=[assignment.pk]), launch.role or "teacher")
    if launch.role != "teacher" and selectors.attends(people, section):
        url = reverse("lms:student-assignment", args=[section.pk, assignment.pk])
        return LaunchRoute(url, launch.role or "student")
    return None


def _course_route(
    launch: Launch, district: District, people: list[Person], course: LmsCourse | None
) -> LaunchRoute | None:
    """The class page of the first of the course's sections (Clever's, then the remembered one)
    the person teaches or attends, as the role they launched in."""
    for section in selectors.course_sections(district, launch.clever_section_id, course):
        if launch.role != "student" and selectors.teaches(people, section):
            return LaunchRoute(reverse("lms:section", args=[section.pk]), launch.role or "teacher")
        if launch.role != "teacher" and selectors.attends(people, section):
            return LaunchRoute(reverse("lms:student-class", args=[section.pk]), launch.role or "student")
    return None


def _unmapped_route(launch: Launch, people: list[Person], course: LmsCourse | None) -> LaunchRoute | None:
    if course is None:
        return None  # nothing to set up or to name: the sign-in lands as any other does
    if launch.role == "teacher" and selectors.teaches_in_district(people):
        return LaunchRoute(reverse("lms:course-setup", args=[course.pk]), launch.role)
    return LaunchRoute(reverse("lms:course-not-set-up", args=[course.pk]), launch.role)
