"""Reads for LMS Connect: whether a section can be written to, teacher access, status rows; a
student's classes and own grades; who a launch from the LMS is and which class it opens."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Count, Q, QuerySet
from django.utils import timezone
from django.utils.text import capfirst

from districts.models import District, DistrictStatus
from rostering.models import Person, School, Section, SectionMembership
from sso import selectors as sso_selectors

from .models import Assignment, CleverAssignment, GradingType, LmsCourse, Problem, Result, SubmissionSync

# A push asked for longer ago than this and never started (a lost message) runs again.
STALE_PUSH_REQUEST = timedelta(minutes=15)
LMS_NAMES = {"canvas": "Canvas", "schoology": "Schoology", "google_classroom": "Google Classroom"}


def lms_name(lms_type: str) -> str:
    """The LMS by its name, for sentences ("sent to Canvas"); "the LMS" when there is none."""
    return LMS_NAMES.get(lms_type, lms_type or "the LMS")


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
        return (
            f"The district's {lms_name(district.lms_type)} connection is not ready yet "
            f"(Clever reports “{state}”). Grades can be sent once the district finishes it."
        )
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
        return (
            f"This class is not synced with the district's {lms_name(section.district.lms_type)} "
            "yet (Clever says it is not matched in the LMS). Ask the district to finish LMS "
            "matching in Clever."
        )
    return ""


def teacher_person(user, section: Section) -> Person | None:
    """The mirrored Person of ``user`` who teaches ``section``, or None."""
    if not user.is_authenticated:
        return None
    people = Person.objects.filter(
        user=user, district_id=section.district_id, archived_at=None, is_teacher=True
    )
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
    return (
        Assignment.objects.filter(section=section, deleted_at=None)
        .select_related("clever", "section__district")
        .order_by("due_at", "id")
    )


def section_students(section: Section) -> QuerySet[Person]:
    """Live students of the section in the mirror, by name."""
    ids = SectionMembership.objects.filter(section=section, role=SectionMembership.Role.STUDENT).values_list(
        "person_clever_id", flat=True
    )
    return Person.objects.filter(
        district_id=section.district_id, clever_id__in=ids, archived_at=None
    ).order_by("last_name", "first_name", "clever_id")


def approved_results(assignment: Assignment) -> QuerySet[Result]:
    return (
        Result.objects.filter(assignment=assignment, status=Result.Status.APPROVED)
        .select_related("student")
        .order_by("student__clever_id")
    )


def _score(points: float | None, grade: str, possible: float | None = None) -> str:
    """A grade in words: "8", "8 / 10", "B+ (88)", "pass"; "" for none."""
    number = f"{points:g}" if isinstance(points, (int, float)) else ""
    if number and possible is not None:
        number += f" / {possible:g}"
    if grade and number:
        return f"{grade} ({number})"
    return grade or number


# A grade's state in the LMS in words (after a count, or capitalized in a student's row), in
# the order a teacher reads them.
PUSH_WORDS = {
    SubmissionSync.Status.PUSHED: "sent to {lms}",
    SubmissionSync.Status.PENDING: "waiting to be sent",
    SubmissionSync.Status.LMS_EDITED: "changed in {lms} (kept)",
    SubmissionSync.Status.NOT_IN_LMS: "not in the {lms} class",
    SubmissionSync.Status.ERROR: "refused by {lms}",
}


@dataclass
class StudentRow:
    student: Person
    result: Result | None
    sync: SubmissionSync | None
    lms: str = "the LMS"  # the LMS's name, for the words

    @property
    def our_grade(self) -> str:
        """The product's grade: "8", "B+ (88)", "pass" ("" when none)."""
        if self.result is None:
            return ""
        return _score(self.result.points, self.result.grade)

    @property
    def lms_grade(self) -> str:
        """The grade last seen in the LMS ("" when never seen). Clever reads a blank
        ``grade_points`` as 0, so beside a letter a 0 says nothing and is left out."""
        seen = self.sync.lms_value if self.sync is not None else None
        if not seen:
            return ""
        points = seen.get("grade_points")
        return _score(points if points or not seen.get("grade") else None, seen.get("grade") or "")

    @property
    def push_status(self) -> str:
        """Where the student's grade is, in words: a change in the LMS (kept) first, then our
        grade's state (a draft, or approved since it was last sent), then the LMS's."""
        sync = self.sync
        if sync is not None and (sync.status == SubmissionSync.Status.LMS_EDITED or self.result is None):
            return capfirst(PUSH_WORDS[sync.status].format(lms=self.lms))
        if self.result is None:
            return "No grade yet"
        if self.result.status != Result.Status.APPROVED:
            return "Draft (not approved)"
        if sync is None or (
            sync.status == SubmissionSync.Status.PUSHED
            and sync.pushed_at is not None
            and self.result.updated_at > sync.pushed_at
        ):
            return "Waiting to be sent"
        return capfirst(PUSH_WORDS[sync.status].format(lms=self.lms))


def student_rows(assignment: Assignment) -> list[StudentRow]:
    results = {
        r.student.clever_id: r for r in Result.objects.filter(assignment=assignment).select_related("student")
    }
    syncs = {s.student_clever_id: s for s in SubmissionSync.objects.filter(assignment=assignment)}
    lms = lms_name(assignment.section.district.lms_type)
    return [
        StudentRow(student=p, result=results.get(p.clever_id), sync=syncs.get(p.clever_id), lms=lms)
        for p in section_students(assignment.section)
    ]


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
        sync=SubmissionSync.objects.filter(
            assignment=assignment, student_clever_id=student_clever_id
        ).first(),
        lms=lms_name(assignment.section.district.lms_type),
    )


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


def _count(n: int, one: str, many: str | None = None) -> str:
    return f"{n} {one if n == 1 else (many or one + 's')}"


def push_counts_text(assignment: Assignment, lms: str) -> str:
    """The grades' states in the LMS in words: "3 sent to Canvas, 1 changed in Canvas (kept)"."""
    counts = push_counts(assignment)
    return ", ".join(
        f"{counts[status]} {words.format(lms=lms)}"
        for status, words in PUSH_WORDS.items()
        if counts.get(status)
    )


def grades_text(assignment: Assignment) -> str:
    """How far the class's grading is, in words: "4 of 5 students graded (1 draft)"."""
    students = section_students(assignment.section)
    results = Result.objects.filter(assignment=assignment, student__in=students)
    graded = results.count()
    drafts = results.filter(status=Result.Status.DRAFT).count()
    text = f"{graded} of {_count(students.count(), 'student')} graded"
    return text + (f" ({_count(drafts, 'draft')})" if drafts else "")


def push_outcome(assignment: Assignment, since: datetime, *, subject: str = "") -> tuple[str, str]:
    """(message level, words) saying what became of a push asked for at ``since``: sent (and
    what happened to the grades), failed and why, or still waiting. Read after the request's
    commit: with eager tasks the push has run by then; with a worker it may not have.
    ``subject`` names the assignment in the sentence (its title by default; "It" after a
    sentence that named it)."""
    link = CleverAssignment.objects.get(assignment=assignment)
    lms = lms_name(assignment.section.district.lms_type)
    title = subject or f"“{assignment.title}”"
    pushed = link.last_push_at is not None and link.last_push_at >= since
    failed = bool(link.problem) and link.problem_at is not None and link.problem_at >= since
    if link.state == CleverAssignment.State.UNKNOWN and failed:
        return "error", link.problem_message
    if pushed and failed:
        return "error", f"{title} is in {lms}, but not everything went: {link.problem_message}"
    if failed:
        return "error", f"{title} was not sent to {lms}: {link.problem_message}"
    if pushed:
        grades = push_counts_text(assignment, lms)
        return "success", f"{title} is in {lms}" + (
            f". Grades: {grades}." if grades else ", with no approved grades yet."
        )
    return "info", (
        f"{title} is waiting to be sent to {lms}. It usually goes within a minute; "
        "this page shows when it is there."
    )


def replacement_outcome(assignment: Assignment, student: Person, since: datetime) -> tuple[str, str]:
    """(message level, words) after a teacher chose to send our grade over an LMS edit."""
    lms = lms_name(assignment.section.district.lms_type)
    sync = SubmissionSync.objects.get(assignment=assignment, student_clever_id=student.clever_id)
    if sync.status == SubmissionSync.Status.PUSHED and sync.pushed_at and sync.pushed_at >= since:
        return "success", f"Our grade for {student} is in {lms} now, in place of the grade set there."
    level, text = push_outcome(assignment, since)
    return (
        "info" if level == "success" else level,
        f"Our grade for {student} replaces the grade set in {lms} when it is sent. {text}",
    )


def pull_outcome(assignment: Assignment, report) -> tuple[str, str]:
    """(message level, words) for a read back of the assignment's grades (``services.outcomes.Report``)."""
    lms = lms_name(assignment.section.district.lms_type)
    if report.outcome == "skipped":
        return "info", f"“{assignment.title}” is not in {lms} yet: there is nothing to check."
    if report.outcome != "ok":
        return "error", f"We could not check {lms}: {report.message}"
    if not report.lms_edits_found:
        return "success", f"Checked {lms}: no grade was changed there since we last looked."
    return "success", (
        f"Checked {lms}: {_count(report.lms_edits_found, 'grade was', 'grades were')} "
        f"changed there. Those are kept; each says so below, where you can send "
        "ours instead."
    )


# The columns of a grades CSV that may name a student, most reliable first (a line is read by
# the first of them it fills), with their words for messages.
IDENTIFIER_COLUMNS = {
    "student_number": "student number",
    "sis_id": "SIS ID",
    "email": "email",
    "name": "name",
}


def _folded(text: str) -> str:
    return " ".join(text.split()).casefold()


def students_matching(students: list[Person], column: str, value: str) -> list[Person]:
    """The students whose ``column`` (of ``IDENTIFIER_COLUMNS``) is ``value``: numbers and IDs
    exactly, an email or a name ("First Last" or "Last, First") whatever the case and spacing."""
    value = value.strip()
    if column == "student_number":
        return [s for s in students if s.student_number and s.student_number == value]
    if column == "sis_id":
        return [s for s in students if s.student_sis_id and s.student_sis_id == value]
    if column == "email":
        return [s for s in students if s.email and _folded(s.email) == _folded(value)]
    wanted = _folded(value)
    return [
        s
        for s in students
        if wanted in (_folded(f"{s.first_name} {s.last_name}"), _folded(f"{s.last_name}, {s.first_name}"))
    ]


def grade_columns(assignment: Assignment) -> tuple[str, ...]:
    """The grade columns of the assignment's CSV: points, or a grade (pass/fail, a letter, with
    points optional for a letter)."""
    return {GradingType.PASS_FAIL: ("grade",), GradingType.LETTER_GRADE: ("grade", "points")}.get(
        assignment.grading_type, ("points",)
    )


def grades_csv_columns(assignment: Assignment) -> tuple[str, ...]:
    return ("student_number", "name", *grade_columns(assignment), "comment")


def grades_csv_rows(assignment: Assignment) -> list[dict[str, str]]:
    """The class list as a grades CSV to fill in: each student's number and name, and their
    grade and comment so far."""
    results = {r.student_id: r for r in Result.objects.filter(assignment=assignment)}
    columns = grades_csv_columns(assignment)
    rows = []
    for student in section_students(assignment.section):
        result = results.get(student.pk)
        row = {
            "student_number": student.student_number,
            "name": f"{student.first_name} {student.last_name}".strip(),
            "points": "",
            "grade": "",
            "comment": "",
        }
        if result is not None:
            row.update(
                points="" if result.points is None else f"{result.points:g}",
                grade=result.grade,
                comment=result.comment,
            )
        rows.append({column: row[column] for column in columns})
    return rows


def grade_words(assignment: Assignment, points: float | None, grade: str) -> str:
    """A grade as a student reads it: "8 / 10", "Pass", "B+ (87 / 100)"."""
    if assignment.grading_type == GradingType.PASS_FAIL:
        return grade.capitalize()
    return _score(points, grade, assignment.points_possible)


@dataclass
class StudentAssignment:
    assignment: Assignment
    grade: str  # the student's own grade in words; "" when not graded (or not approved) yet
    comment: str = ""  # the teacher's comment with that grade ("" when none, or not released)


@dataclass
class StudentClass:
    section: Section
    teacher: str  # the primary teacher's name, "" when the mirror has none
    lms: str  # where the class hands work in ("Canvas"), "" when the district has no LMS
    assignments: list[StudentAssignment]


def _sections_of_students(people: list[Person]) -> list[Section]:
    mine = Q()
    for person in people:
        mine |= Q(district_id=person.district_id, person_clever_id=person.clever_id)
    return list(
        Section.objects.filter(
            archived_at=None,
            pk__in=SectionMembership.objects.filter(mine, role=SectionMembership.Role.STUDENT).values(
                "section_id"
            ),
        )
        .select_related("district")
        .order_by("name", "pk")
    )


def _lms_edited_values(assignments: list[Assignment], people: list[Person]) -> dict[int, dict]:
    """The grade a teacher changed in the LMS, by assignment."""
    return {
        s.assignment_id: s.lms_value or {}
        for s in SubmissionSync.objects.filter(
            assignment__in=assignments,
            student_clever_id__in=[p.clever_id for p in people],
            status=SubmissionSync.Status.LMS_EDITED,
        )
    }


def _teacher_names(sections: list[Section]) -> dict[tuple[int, str], str]:
    # By name only: a teacher the mirror has no name for is left out, not shown by Clever ID.
    return {
        (p.district_id, p.clever_id): f"{p.first_name} {p.last_name}".strip()
        for p in Person.objects.filter(
            clever_id__in=[s.primary_teacher_clever_id for s in sections if s.primary_teacher_clever_id]
        )
    }


def _student_grade(assignment: Assignment, result: Result | None, lms_edit: dict | None) -> str:
    """The approved grade in words; the LMS's when a teacher changed it there (the LMS wins)."""
    if result is None:
        return ""
    if lms_edit is None:
        return grade_words(assignment, result.points, result.grade)
    if assignment.grading_type in (GradingType.POINTS, GradingType.PERCENT):
        return grade_words(assignment, lms_edit.get("grade_points"), "")
    # Clever reads a blank grade_points as 0: only the grade says anything here
    return grade_words(assignment, None, lms_edit.get("grade") or "")


def _student_comment(result: Result | None, lms_edit: dict | None) -> str:
    """The comment beside the released grade: the LMS's when the LMS's grade is the one shown."""
    if result is None:
        return ""
    if lms_edit is None:
        return result.comment
    comment = lms_edit.get("grade_comment")
    return comment if isinstance(comment, str) else ""


def _student_work(assignments: list[Assignment], people: list[Person]) -> list[StudentAssignment]:
    """Each assignment with the student's own released grade and comment: approved ones, or
    where a teacher changed the grade in the LMS (which wins there), that one."""
    results = {
        r.assignment_id: r
        for r in Result.objects.filter(
            assignment__in=assignments, student__in=people, status=Result.Status.APPROVED
        )
    }
    lms_edits = _lms_edited_values(assignments, people)
    work = []
    for assignment in assignments:
        result, lms_edit = results.get(assignment.pk), lms_edits.get(assignment.pk)
        work.append(
            StudentAssignment(
                assignment=assignment,
                grade=_student_grade(assignment, result, lms_edit),
                comment=_student_comment(result, lms_edit),
            )
        )
    return work


def student_classes(user) -> list[StudentClass]:
    """The live classes of the signed-in student, each with its assignments by due date and the
    student's own grades: approved ones only, and where a teacher changed the grade in the LMS
    (which wins there), that grade. Never another student's."""
    if not user.is_authenticated:
        return []
    people = list(Person.objects.filter(user=user, archived_at=None, is_student=True))
    if not people:
        return []
    sections = _sections_of_students(people)
    assignments = list(
        Assignment.objects.filter(section__in=sections, deleted_at=None)
        .select_related("section")
        .order_by("due_at", "pk")
    )
    teachers = _teacher_names(sections)
    by_section: dict[int, list[StudentAssignment]] = {s.pk: [] for s in sections}
    for item in _student_work(assignments, people):
        by_section[item.assignment.section_id].append(item)
    return [
        StudentClass(
            section=s,
            teacher=teachers.get((s.district_id, s.primary_teacher_clever_id), ""),
            lms=LMS_NAMES.get(s.district.lms_type, ""),
            assignments=by_section[s.pk],
        )
        for s in sections
    ]


def assignments_to_pull(district: District) -> QuerySet[Assignment]:
    """Linked, live assignments of the district whose grades may still change: due in the last
    ``LMS_PULL_WINDOW_DAYS`` days or later."""
    since = timezone.now() - timedelta(days=settings.LMS_PULL_WINDOW_DAYS)
    return (
        Assignment.objects.filter(
            section__district=district,
            deleted_at=None,
            clever__state=CleverAssignment.State.LINKED,
            due_at__gte=since,
        )
        .select_related("section", "clever")
        .order_by("pk")
    )


def pushes_to_retry() -> list[int]:
    """Assignments whose push should run again: the requested push never started (a lost
    message), or the last one failed for a reason that may have passed (blocked, temporary
    after the task's retries) and the section can be written to now."""
    cutoff = timezone.now() - STALE_PUSH_REQUEST
    lost = CleverAssignment.objects.filter(push_requested_at__lt=cutoff)
    failed = CleverAssignment.objects.filter(
        problem__in=[Problem.BLOCKED, Problem.TEMPORARY], push_requested_at=None
    )
    ids: list[int] = []
    for link in (
        (lost | failed)
        .filter(assignment__deleted_at=None)
        .select_related("assignment__section__district")
        .order_by("assignment_id")
    ):
        if link.push_requested_at is not None or not section_blocker(link.assignment.section):
            ids.append(link.assignment_id)
    return ids


def districts_to_pull() -> QuerySet[District]:
    return (
        District.objects.filter(
            status=DistrictStatus.CONNECTED,
            lms_state="success",
            pk__in=Assignment.objects.filter(clever__state=CleverAssignment.State.LINKED).values(
                "section__district_id"
            ),
        )
        .exclude(lms_type="")
        .order_by("pk")
    )


# --- launches from the LMS, and a student's class pages -------------------------------------------


def signed_in_district(request) -> District | None:
    """The district of the Clever session (the one the person signed in through), or None."""
    identity = sso_selectors.signed_in_identity(request)
    if identity is None or not identity.district_id:
        return None
    return District.objects.filter(clever_id=identity.district_id).first()


def people_in_district(user, district: District) -> list[Person]:
    """The live mirrored people of the signed-in ``user`` in ``district`` (usually one)."""
    if not user.is_authenticated:
        return []
    return list(Person.objects.filter(user=user, district=district, archived_at=None).order_by("pk"))


def _is_member(people: list[Person], section: Section, role: str) -> bool:
    clever_ids = [p.clever_id for p in people if p.district_id == section.district_id]
    return bool(clever_ids) and (
        SectionMembership.objects.filter(section=section, role=role, person_clever_id__in=clever_ids).exists()
    )


def teaches(people: list[Person], section: Section) -> bool:
    return _is_member(people, section, SectionMembership.Role.TEACHER)


def attends(people: list[Person], section: Section) -> bool:
    """Whether one of ``people`` is a student of ``section`` (by a student membership)."""
    return _is_member(people, section, SectionMembership.Role.STUDENT)


def sections_taught_by_people(people: list[Person]) -> QuerySet[Section]:
    """The live sections ``people`` teach, in their own districts."""
    mine = Q(pk__in=[])
    for person in people:
        mine |= Q(district_id=person.district_id, person_clever_id=person.clever_id)
    return Section.objects.filter(
        archived_at=None,
        pk__in=SectionMembership.objects.filter(mine, role=SectionMembership.Role.TEACHER).values(
            "section_id"
        ),
    ).select_related("district")


def teaches_in_district(people: list[Person]) -> bool:
    return bool(people) and sections_taught_by_people(people).exists()


def launched_assignment(district: District, clever_assignment_id: str) -> Assignment | None:
    """The live assignment of a live section of ``district`` that Clever knows by this ID."""
    return (
        Assignment.objects.filter(
            clever__clever_id=clever_assignment_id,
            deleted_at=None,
            section__district=district,
            section__archived_at=None,
        )
        .select_related("section__district")
        .first()
    )


def course_sections(district: District, clever_section_id: str, course: LmsCourse | None) -> list[Section]:
    """The live sections of ``district`` an LMS course may be: the Clever section the launch
    names, then the one a teacher set the course up as."""
    found: list[Section] = []
    if clever_section_id:
        found.extend(Section.objects.filter(district=district, clever_id=clever_section_id, archived_at=None))
    if course is not None and course.section_id is not None:
        linked = Section.objects.filter(pk=course.section_id, district=district, archived_at=None).first()
        if linked is not None and linked not in found:
            found.append(linked)
    return found


def course_lms_name(course: LmsCourse) -> str:
    """The LMS the course is in, by name ("Canvas"), for sentences."""
    return (
        LMS_NAMES.get(course.product_family)
        or course.platform_name
        or LMS_NAMES.get(course.district.lms_type)
        or "your school's online classroom"
    )


def course_teachers(user, course: LmsCourse) -> list[Person]:
    """The signed-in user's live people seen launching ``course`` as its teacher: they may set it up."""
    if not user.is_authenticated:
        return []
    return list(course.teachers_seen.filter(user=user, district=course.district_id, archived_at=None))


def _names(people) -> list[str]:
    # By name only: a person the mirror has no name for is left out, never shown by Clever ID.
    return [name for name in (f"{p.first_name} {p.last_name}".strip() for p in people) if name]


def seen_teacher_names(course: LmsCourse) -> list[str]:
    """The teachers seen launching ``course`` (live ones), by name."""
    return _names(course.teachers_seen.filter(archived_at=None).order_by("last_name", "first_name", "pk"))


def may_change_link(course: LmsCourse, people: list[Person]) -> bool:
    """Whether ``people`` may (re)choose the course's section: nobody chose a live one yet, or
    they teach the one chosen (a co-teacher of another class cannot move its students)."""
    section = course.section
    return section is None or section.archived_at is not None or teaches(people, section)


@dataclass
class SectionChoice:
    section: Section
    school: str
    students: int

    @property
    def label(self) -> str:
        """ "Algebra 1 · North Middle · 24 students"."""
        parts = [self.section.name or "Class without a name", self.school, _count(self.students, "student")]
        return " · ".join(part for part in parts if part)


def _school_names(district_id: int, clever_ids: list[str]) -> dict[str, str]:
    return dict(
        School.objects.filter(district_id=district_id, clever_id__in=clever_ids).values_list(
            "clever_id", "name"
        )
    )


def setup_choices(people: list[Person]) -> list[SectionChoice]:
    """The live classes ``people`` teach, with their school and number of students, by name."""
    sections = list(
        sections_taught_by_people(people)
        .annotate(students=Count("memberships", filter=Q(memberships__role=SectionMembership.Role.STUDENT)))
        .order_by("name", "pk")
    )
    schools: dict[tuple[int, str], str] = {}
    for district_id in {s.district_id for s in sections}:
        names = _school_names(district_id, [s.school_clever_id for s in sections])
        schools.update({(district_id, clever_id): name for clever_id, name in names.items()})
    return [
        SectionChoice(
            section=s,
            school=schools.get((s.district_id, s.school_clever_id), ""),
            students=s.students,  # the annotation above
        )
        for s in sections
    ]


def launch_course_of_section(course_id: object, section: Section, user) -> LmsCourse | None:
    """The course of this session's launch (``course_id``, from the session) when it is set up
    as ``section`` and ``user`` may set it up: the class page offers "not the right class?"."""
    if not isinstance(course_id, int):
        return None
    course = LmsCourse.objects.filter(pk=course_id, section=section).select_related("district").first()
    if course is None or not course_teachers(user, course):
        return None
    return course


def student_section(user, section_id: int) -> Section | None:
    """The live section if the signed-in ``user`` is one of its students, else None."""
    if not user.is_authenticated:
        return None
    section = Section.objects.filter(pk=section_id, archived_at=None).select_related("district").first()
    if section is None or not attends(people_in_district(user, section.district), section):
        return None
    return section


def section_teacher_names(section: Section) -> list[str]:
    """The section's live teachers by name, its primary teacher first."""
    clever_ids = SectionMembership.objects.filter(
        section=section, role=SectionMembership.Role.TEACHER
    ).values_list("person_clever_id", flat=True)
    teachers = Person.objects.filter(
        district_id=section.district_id, clever_id__in=clever_ids, archived_at=None
    )
    ordered = sorted(
        teachers, key=lambda p: (p.clever_id != section.primary_teacher_clever_id, p.last_name, p.first_name)
    )
    return _names(ordered)


@dataclass
class ClassPage:
    """A class as its student sees it."""

    section: Section
    school: str
    teachers: list[str]
    lms: str  # where the class hands work in ("Canvas"), "" when the district has no LMS
    work: list[StudentAssignment]


def _students_people(user, section: Section) -> list[Person]:
    return [p for p in people_in_district(user, section.district) if attends([p], section)]


def student_class_page(user, section: Section) -> ClassPage:
    """``section`` (one the user attends: ``student_section``) with its live assignments by due
    date and the user's own released grades."""
    assignments = list(section_assignments(section))
    return ClassPage(
        section=section,
        school=_school_names(section.district_id, [section.school_clever_id]).get(
            section.school_clever_id, ""
        ),
        teachers=section_teacher_names(section),
        lms=LMS_NAMES.get(section.district.lms_type, ""),
        work=_student_work(assignments, _students_people(user, section)),
    )


def student_assignment(user, section: Section, assignment_id: int) -> StudentAssignment | None:
    """A live assignment of ``section`` (one the user attends) with the user's own released
    grade and comment; None when the class has no such assignment."""
    assignment = section_assignments(section).filter(pk=assignment_id).first()
    if assignment is None:
        return None
    return _student_work([assignment], _students_people(user, section))[0]
