"""Reads for LMS Connect: whether a section can be written to, teacher access, status rows."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db.models import QuerySet
from django.utils import timezone

from districts.models import District, DistrictStatus
from rostering.models import Person, Section, SectionMembership

from .models import Assignment, CleverAssignment, Problem, Result, SubmissionSync

SUPPORTED_LMS = ("canvas", "schoology", "google_classroom")
# A push asked for longer ago than this and never started (a lost message) runs again.
STALE_PUSH_REQUEST = timedelta(minutes=15)
LMS_NAMES = {"canvas": "Canvas", "schoology": "Schoology", "google_classroom": "Google Classroom"}


def lms_name(lms_type: str) -> str:
    return LMS_NAMES.get(lms_type, lms_type or "no LMS")


def district_blocker(district: District) -> str:
    """Why nothing can be written to the district's LMS now, in plain words ("" when it can).

    Uses the district's ``lms_type``/``lms_state`` as read from Clever's district record
    (refreshed by district discovery); Clever's own refusal of a write is the backstop."""
    if district.status != DistrictStatus.CONNECTED:
        return f"The district is not connected to Clever (it is {district.get_status_display().lower()})."
    if not district.lms_type:
        return "This district has no LMS connected through Clever, so nothing can be sent to an LMS."
    if district.lms_state != "success":
        state = district.lms_state or "not set"
        return (f"The district's {lms_name(district.lms_type)} connection is not ready yet "
                f"(Clever reports “{state}”). Grades can be sent once the district finishes it.")
    return ""


def section_blocker(section: Section) -> str:
    """Why nothing can be written for this section now ("" when it can).

    ``Section.synced_in_lms`` mirrors Clever's v3.1 ``lms_status.synced_in_lms``. ``False``
    refuses; ``None`` (Clever did not report it) is allowed, as Clever only sends the flag once
    LMS Connect is on; Clever refuses the write itself if the section is not matched."""
    reason = district_blocker(section.district)
    if reason:
        return reason
    if section.archived_at is not None:
        return "This class is no longer shared by Clever."
    if section.synced_in_lms is False:
        return (f"This class is not synced with the district's {lms_name(section.district.lms_type)} "
                "yet (Clever says it is not matched in the LMS). Ask the district to finish LMS "
                "matching in Clever.")
    return ""


def teacher_person(user, section: Section) -> Person | None:
    """The mirrored Person of ``user`` who teaches ``section``, or None."""
    if not user.is_authenticated:
        return None
    people = Person.objects.filter(user=user, district_id=section.district_id, archived_at=None,
                                   is_teacher=True)
    teacher_ids = SectionMembership.objects.filter(
        section=section, role=SectionMembership.Role.TEACHER
    ).values_list("person_clever_id", flat=True)
    return people.filter(clever_id__in=teacher_ids).first()


def sections_taught_by(user) -> QuerySet[Section]:
    clever_ids = Person.objects.filter(user=user, archived_at=None).values_list("clever_id", flat=True)
    section_ids = SectionMembership.objects.filter(
        role=SectionMembership.Role.TEACHER, person_clever_id__in=clever_ids
    ).values_list("section_id", flat=True)
    return Section.objects.filter(pk__in=section_ids, archived_at=None).select_related("district")


def section_assignments(section: Section) -> QuerySet[Assignment]:
    return (Assignment.objects.filter(section=section, deleted_at=None)
            .select_related("clever", "section__district").order_by("due_at", "id"))


def section_students(section: Section) -> QuerySet[Person]:
    """Live students of the section in the mirror, by name."""
    ids = SectionMembership.objects.filter(
        section=section, role=SectionMembership.Role.STUDENT
    ).values_list("person_clever_id", flat=True)
    return Person.objects.filter(district_id=section.district_id, clever_id__in=ids,
                                 archived_at=None).order_by("last_name", "first_name", "clever_id")


def approved_results(assignment: Assignment) -> QuerySet[Result]:
    return (Result.objects.filter(assignment=assignment, status=Result.Status.APPROVED)
            .select_related("student").order_by("student__clever_id"))


@dataclass
class StudentRow:
    student: Person
    result: Result | None
    sync: SubmissionSync | None

    @property
    def push_status(self) -> str:
        if self.sync is not None:
            return self.sync.get_status_display()
        if self.result is None:
            return "No grade yet"
        if self.result.status != Result.Status.APPROVED:
            return "Draft (not approved)"
        return "Waiting to be sent"


def student_rows(assignment: Assignment) -> list[StudentRow]:
    results = {r.student.clever_id: r for r in
               Result.objects.filter(assignment=assignment).select_related("student")}
    syncs = {s.student_clever_id: s for s in SubmissionSync.objects.filter(assignment=assignment)}
    return [StudentRow(student=p, result=results.get(p.clever_id), sync=syncs.get(p.clever_id))
            for p in section_students(assignment.section)]


def person_name(district_id: int, clever_id: str) -> str:
    """A person of the district by name, or their Clever ID when the mirror has no such row."""
    person = Person.objects.filter(district_id=district_id, clever_id=clever_id).first()
    return str(person) if person is not None else clever_id


def student_row(assignment: Assignment, student_clever_id: str) -> StudentRow | None:
    """One live student of the assignment's section with their grade and push state."""
    student = section_students(assignment.section).filter(clever_id=student_clever_id).first()
    if student is None:
        return None
    return StudentRow(
        student=student,
        result=Result.objects.filter(assignment=assignment, student=student).first(),
        sync=SubmissionSync.objects.filter(assignment=assignment,
                                           student_clever_id=student_clever_id).first())


def lms_status_text(assignment: Assignment) -> str:
    """The assignment's state in the LMS in plain words."""
    link: CleverAssignment | None = getattr(assignment, "clever", None)
    blocker = section_blocker(assignment.section)
    if link is None or link.state == CleverAssignment.State.NOT_PUSHED:
        if blocker:
            return f"Not sent: {blocker}"
        if link is not None and link.problem:
            return f"Not sent: {link.problem_message}"
        if assignment.sync_policy == "manual":
            return "Not sent yet: click “Sync to LMS” to send it."
        return "Waiting to be sent."
    if link.state == CleverAssignment.State.CREATING:
        return "Being created in the LMS."
    if link.state == CleverAssignment.State.UNKNOWN:
        return link.problem_message or "Creation unconfirmed: support is checking the LMS."
    if link.state == CleverAssignment.State.DELETED:
        return "Deleted from the LMS."
    text = f"In {lms_name(link.lms_type)}"
    if link.lms_state:
        text += f" ({link.lms_state})"
    if link.problem:
        text += f". Last sync failed: {link.problem_message}"
    return text + "."


def push_counts(assignment: Assignment) -> dict[str, int]:
    counts: dict[str, int] = {}
    for status in SubmissionSync.objects.filter(assignment=assignment).values_list("status", flat=True):
        counts[status] = counts.get(status, 0) + 1
    return counts


def assignments_to_pull(district: District) -> QuerySet[Assignment]:
    """Linked, live assignments of the district whose grades may still change: due in the last
    ``LMS_PULL_WINDOW_DAYS`` days or later."""
    since = timezone.now() - timedelta(days=settings.LMS_PULL_WINDOW_DAYS)
    return (Assignment.objects.filter(section__district=district, deleted_at=None,
                                      clever__state=CleverAssignment.State.LINKED, due_at__gte=since)
            .select_related("section", "clever").order_by("pk"))


def pushes_to_retry() -> list[int]:
    """Assignments whose push should run again: the requested push never started (a lost
    message), or the last one failed for a reason that may have passed (blocked, temporary
    after the task's retries) and the section can be written to now."""
    cutoff = timezone.now() - STALE_PUSH_REQUEST
    lost = CleverAssignment.objects.filter(push_requested_at__lt=cutoff)
    failed = CleverAssignment.objects.filter(problem__in=[Problem.BLOCKED, Problem.TEMPORARY],
                                             push_requested_at=None)
    ids: list[int] = []
    for link in (lost | failed).filter(assignment__deleted_at=None).select_related(
            "assignment__section__district").order_by("assignment_id"):
        if link.push_requested_at is not None or not section_blocker(link.assignment.section):
            ids.append(link.assignment_id)
    return ids


def districts_to_pull() -> QuerySet[District]:
    return District.objects.filter(
        status=DistrictStatus.CONNECTED, lms_state="success",
        pk__in=Assignment.objects.filter(clever__state=CleverAssignment.State.LINKED)
        .values("section__district_id"),
    ).exclude(lms_type="").order_by("pk")
