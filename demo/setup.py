"""The embedded demo's set-up: seed the local Clever once, discover its districts, run a first
sync of each, create the demo support user, and give the product side something to match: an
organization linked to the first generated district with product records of some of its
students (copied with the mess real rosters have: nicknames, missing IDs), matched so that the
review queue has work; an unlinked organization with an admin for the linking page, whose
email domain is the unlinked district's (evidence, so that district's Clever admin is offered
it); a demo teacher in the linked district whose class has assignments in the district's LMS
(grades sent, one changed in the LMS afterwards and read back, drafts not sent), signing in with
the Instant Login link printed at the end; and a Clever Library district.

``manage.py demo_setup`` (run by ``make demo`` before the server starts) calls
``set_up_demo``; safe to run again (it seeds only an empty sandbox; discovery and an incremental
sync are cheap). The port it is served on (the redirect URI in ``APP_BASE_URL``) becomes the
sandbox app's primary redirect URI, so one database serves any port. It lives outside
``sandbox/`` (docs/architecture.md, "Layers"): the fake Clever knows nothing of the app; this
module knows both, and is imported only where the sandbox is installed (it imports the
sandbox's models).
"""

import random
from collections import Counter
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import OutputWrapper
from django.urls import reverse
from django.utils import timezone

from accounts.models import Organization, OrganizationEmailDomain
from districts.models import District
from districts.services import link_district
from lms import selectors as lms_selectors
from lms.models import Assignment, CleverAssignment, GradingType, SubmissionSync
from lms.services.pull import pull_assignment
from lms.services.push import push_assignment
from lms.services.writes import create_assignment, record_result
from matching.linking.refresh import refresh_district_candidates
from matching.services import match_district
from rostering.models import Person, Section, SectionMembership
from rostering.selectors import dates_of_birth
from sandbox import services
from sandbox.lms import gradebook as sandbox_lms
from sandbox.lms import launch as sandbox_launch
from sandbox.models import SandboxApplication, SandboxDistrict, SandboxLmsCourse
from sandbox.views.oauth import instant_login_path

DEMO_SUPPORT_USER = "support"
DEMO_SUPPORT_PASSWORD = "support-demo"
DEMO_ORG_ADMIN = "orgadmin"
DEMO_ORG_ADMIN_PASSWORD = "orgadmin-demo"
# How many of the linked district's students the product already knew.
DEMO_PRODUCT_STUDENTS = 60
DEMO_LIBRARY_STUDENTS = 300
# Students of the demo teacher in the course they made in the LMS.
DEMO_CLUB_STUDENTS = 4
# Points to letters for the demo's letter-graded assignment.
LETTERS = ((90, "A"), (80, "B"), (70, "C"), (0, "D"))


@dataclass(frozen=True)
class Demo:
    """What the demo's banner shows: the sandbox app and the demo teacher with their link."""

    application: SandboxApplication
    teacher: Person | None
    teacher_login_path: str  # the teacher's Instant Login link (a path); "" without a teacher
    teacher_lms_path: str  # the teacher's page in the sandbox's LMS (a path); "" without one


def set_up_demo(*, stdout) -> Demo:
    """Everything ``make demo`` seeds (idempotent). The commands it runs and its own progress
    lines write to ``stdout``."""
    out = OutputWrapper(stdout)
    app = services.make_primary_redirect_uri(uri=settings.CLEVER_REDIRECT_URI)
    if not SandboxDistrict.objects.exists():
        call_command("sandbox_seed", demo=True, stdout=out)
        call_command("sandbox_seed", districts=2, students=800, seed=2026, stdout=out)
        call_command(
            "sandbox_seed", districts=0, library=True, students=DEMO_LIBRARY_STUDENTS, seed=2026, stdout=out
        )
    call_command("clever_districts", stdout=out)
    call_command("clever_sync", all=True, stdout=out)
    _ensure_support_user()
    _ensure_product_side(out)
    teacher = _ensure_lms_assignments(out)
    link = lms_page = ""
    if teacher is not None:
        link = instant_login_path(
            client_id=app.client_id, district_id=teacher.district.clever_id, user_id=teacher.clever_id
        )
        _ensure_course_made_in_the_lms(teacher)
        lms_page = reverse("sandbox:lms-dashboard", args=[teacher.clever_id])
    return Demo(application=app, teacher=teacher, teacher_login_path=link, teacher_lms_path=lms_page)


def _ensure_course_made_in_the_lms(teacher: Person) -> None:
    """The demo teacher also teaches a course made in the LMS itself (not a Clever section), so
    opening the app from it shows the set-up a teacher meets once. Idempotent."""
    district = SandboxDistrict.objects.get(pk=teacher.district.clever_id)
    if SandboxLmsCourse.objects.filter(district=district, teacher_id=teacher.clever_id).exists():
        return
    sandbox_launch.create_lms_course(
        district=district,
        title=f"Art club (made in {district.get_lms_type_display()})",
        label="CLUB",
        teacher_id=teacher.clever_id,
        student_ids=sandbox_launch.students_of_teacher(teacher.clever_id, DEMO_CLUB_STUDENTS),
    )


def _ensure_support_user() -> None:
    user_model = get_user_model()
    if not user_model.objects.filter(username=DEMO_SUPPORT_USER).exists():
        user_model.objects.create_superuser(
            username=DEMO_SUPPORT_USER, email="support@example.org", password=DEMO_SUPPORT_PASSWORD
        )


def _ensure_product_side(out: OutputWrapper) -> None:
    """Idempotent: does nothing once the demo organizations exist."""
    if Organization.objects.filter(name__startswith="Demo: ").exists():
        return
    generated = list(District.objects.exclude(name__icontains="demo").order_by("clever_id")[:2])
    if len(generated) < 2:
        return
    linked, unlinked = generated
    organization = Organization.objects.create(name=f"Demo: {linked.name}", state=linked.us_state)
    linked = link_district(
        district=linked,
        organization=organization,
        method="staff",
        evidence={"demo": True},
        actor_label="demo setup",
    )
    call_command("clever_sync", linked.clever_id, stdout=out)  # provisions accounts
    _product_students(linked, organization)
    summary = match_district(district=linked)
    out.write(f"Matching in {linked}: {summary['people']}, {summary['review_queue']} in the review queue")
    other = Organization.objects.create(
        name=f"Demo: {unlinked.name} (not linked yet)", state=unlinked.us_state
    )
    # The customer's email domain is the district's staff's: evidence (soft: never linked
    # automatically), so the district's Clever admin is offered this organization.
    domain = _staff_email_domain(unlinked)
    if domain:
        OrganizationEmailDomain.objects.create(organization=other, domain=domain)
        refresh_district_candidates(district_ids=[unlinked.pk])
    user_model = get_user_model()
    if not user_model.objects.filter(username=DEMO_ORG_ADMIN).exists():
        user_model.objects.create_user(
            DEMO_ORG_ADMIN,
            password=DEMO_ORG_ADMIN_PASSWORD,
            first_name="Olivia",
            last_name="Okafor",
            organization=other,
            is_organization_admin=True,
        )


def _staff_email_domain(district: District) -> str:
    emails = (
        Person.objects.filter(district=district, is_teacher=True, archived_at=None)
        .exclude(email="")
        .values_list("email", flat=True)
    )
    domains = Counter(email.rsplit("@", 1)[-1].strip().lower() for email in emails if "@" in email)
    return domains.most_common(1)[0][0] if domains else ""


def _demo_lms_section() -> Section | None:
    """The first class of a linked demo district with an LMS."""
    return (
        Section.objects.filter(
            district__organization__name__startswith="Demo: ",
            district__organization__isnull=False,
            archived_at=None,
        )
        .exclude(district__lms_type="")
        .select_related("district")
        .order_by("clever_id")
        .first()
    )


def _first_teacher(section: Section) -> Person | None:
    teacher_id = (
        SectionMembership.objects.filter(section=section, role=SectionMembership.Role.TEACHER)
        .order_by("person_clever_id")
        .values_list("person_clever_id", flat=True)
        .first()
    )
    return Person.objects.filter(district=section.district, clever_id=teacher_id).first()


def _graded_assignment(
    section: Section, students, rng: random.Random, *, title, grading_type, points, due_at, approve: bool
) -> Assignment:
    """An assignment with every student's result recorded (approved or a draft), sent through
    Clever."""
    assignment = create_assignment(
        section=section,
        title=title,
        description=f"{title} for {section.name}.",
        due_at=due_at,
        points_possible=points,
        grading_type=grading_type,
        created_by=None,
    )
    for student in students:
        score = round(points * rng.uniform(0.55, 1.0), 1)
        grade = (
            next(letter for floor, letter in LETTERS if score >= floor)
            if grading_type == GradingType.LETTER_GRADE
            else ""
        )
        record_result(assignment=assignment, student=student, points=score, grade=grade, approve=approve)
    push_assignment(assignment_id=assignment.pk)
    return assignment


def _teacher_regrades_in_lms(report: Assignment) -> None:
    """The teacher changes one sent grade in the LMS; reading it back keeps the LMS's grade."""
    edited = (
        SubmissionSync.objects.filter(assignment=report, status=SubmissionSync.Status.PUSHED)
        .order_by("student_clever_id")
        .first()
    )
    if edited is None:
        return
    uuid = CleverAssignment.objects.get(assignment=report).clever_id  # set by the push
    sandbox_lms.teacher_edit_submission(
        assignment_id=uuid, user_id=edited.student_clever_id, grade="A", grade_points=95
    )
    pull_assignment(assignment_id=report.pk)


def _ensure_lms_assignments(out: OutputWrapper) -> Person | None:
    """The demo teacher (the first teacher of the first class of the linked district with an
    LMS) and their class's assignments, sent through Clever: a quiz with points and a
    letter-graded report, graded and sent (one report grade then changed in the LMS and read
    back, so the page shows it kept), and a journal whose grades are drafts. Idempotent."""
    section = _demo_lms_section()
    if section is None:
        return None
    teacher = _first_teacher(section)
    if teacher is None:
        return None
    if Assignment.objects.filter(section=section).exists():
        return teacher
    students = list(lms_selectors.section_students(section))
    rng = random.Random(2026)
    plans = (
        ("Unit 1 quiz", GradingType.POINTS, 10, 3, True),
        ("Research report", GradingType.LETTER_GRADE, 100, 7, True),
        ("Weekly journal", GradingType.POINTS, 5, 10, False),
    )
    now = timezone.now()
    made = {
        title: _graded_assignment(
            section,
            students,
            rng,
            title=title,
            grading_type=grading_type,
            points=points,
            due_at=now + timedelta(days=days),
            approve=approve,
        )
        for title, grading_type, points, days, approve in plans
    }
    _teacher_regrades_in_lms(made["Research report"])
    out.write(f"LMS: {len(made)} assignments in {section.name} for {teacher}")
    return teacher


def _product_students(district: District, organization: Organization) -> None:
    """Product records of some students, as an older roster import would have them."""
    rng = random.Random(2026)
    students = list(
        Person.objects.filter(district=district, is_student=True, archived_at__isnull=True).order_by(
            "clever_id"
        )[:DEMO_PRODUCT_STUDENTS]
    )
    born = dates_of_birth(students)
    user_model = get_user_model()
    for index, person in enumerate(students):
        first_name, sis_id, dob = person.first_name, person.student_sis_id, born[person.pk]
        if index % 5 == 1:
            first_name = first_name[:3]  # a short form of the name
        if index % 5 in (1, 2):
            sis_id = ""  # imported before the SIS had IDs
        if index % 10 == 3:
            dob = None
        grade = person.grade
        if grade.isdigit() and rng.random() < 0.2:
            grade = str(int(grade) - 1)  # last year's grade
        user_model.objects.create_user(
            f"product-student-{index + 1}",
            organization=organization,
            role="student",
            first_name=first_name,
            last_name=person.last_name,
            sis_id=sis_id,
            date_of_birth=dob,
            grade=grade,
        )
