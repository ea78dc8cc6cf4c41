"""Writes for LMS Connect: the product's assignments and results, and pushing them to the
district's LMS through Clever (v3.1), and reading teacher edits back. Rules: docs/lms.md.

Product writes (``create_assignment``, ``record_result``...) are ``@transaction.atomic`` and
enqueue a push after the commit when the assignment's sync policy says so.

Talking to Clever (``push_assignments``, ``pull_assignments`` and the support actions) is not
one transaction: each step commits on its own, because the order matters more than atomicity.
The intent to create is committed *before* the POST, and Clever's UUID the moment it answers,
so a retried push (a Celery retry, a redelivered message, a second click) never creates a
second assignment:

- ``not_pushed`` -> ``creating`` (committed) -> POST -> ``linked`` (UUID committed at once);
- the POST failed in a way that proves Clever did nothing (4xx, 429, a connect timeout,
  Clever's own JSON 5xx answer) -> back to ``not_pushed``; a retry may POST again;
- the answer was lost (read timeout, a reset connection, a gateway's HTML 5xx, a 2xx that
  could not be read), or a worker died after recording the intent -> ``unknown``: nothing is
  POSTed again until support links the UUID found in the LMS (``link_clever_assignment``,
  checked with a GET) or confirms it does not exist (``confirm_not_created``). Clever has no
  way to list assignments, so this cannot be reconciled automatically.

Grades: one PATCH per student whose approved grade differs from what was last pushed; none
for unchanged ones. Before writing grades to an assignment that existed before this push, its
submissions are read (one request per 100 students) and the conflict rule applied: a grade in
the LMS that is not the one we last pushed was put there by a teacher; it is recorded and kept
(``lms_edited``), never overwritten. Logs carry IDs and counts only: never a token, a grade or
a name.
"""

from __future__ import annotations

import logging
import math
import uuid
from collections.abc import Callable, Iterable
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import requests
from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.utils import timezone

from clever.client import CleverClient
from clever.errors import (
    AuthError,
    BadRequest,
    BadResponse,
    CleverError,
    ConnectionFailed,
    HtmlServerError,
    NotFound,
    RateLimited,
    ServerError,
)
from districts.models import District
from districts.services import (
    CACHE_ERRORS,
    NoToken,
    district_token,
    forget_cached_token,
    recheck_after_unauthorized,
)
from rostering.models import Person, Section, SectionMembership

from . import selectors
from .models import (
    FLAGS,
    SUBMISSION_TYPES,
    Assignment,
    CleverAssignment,
    GradingType,
    LmsAudit,
    Problem,
    Result,
    SubmissionSync,
    SyncPolicy,
)

logger = logging.getLogger(__name__)

State = CleverAssignment.State
SyncStatus = SubmissionSync.Status

# A create whose intent is younger than this may still be waiting for Clever's answer in
# another worker; older, the worker died mid-POST and the outcome is unknown.
CREATE_IN_FLIGHT = timedelta(minutes=3)
# Starting a submissions listing over after its next link expired (valid 2 hours).
MAX_LISTING_RESTARTS = 2
SUBMISSIONS_PAGE_SIZE = 100  # Clever's maximum for submissions
STALE_PUSH_REQUEST = selectors.STALE_PUSH_REQUEST
GRADE_KEYS = ("grade", "grade_points", "grade_comment")
# Flags the LMS sets by itself: kept when we write flags.
LMS_OWN_FLAGS = frozenset({"late"})


class LmsInputError(ValueError):
    """A product-side value the LMS could never accept (bad grading type, unknown flag...)."""


# --------------------------------------------------------------------------------------------
# Payloads
# --------------------------------------------------------------------------------------------


def clever_time(moment: datetime) -> str:
    """Clever's timestamp format: ``YYYY-MM-DDThh:mm:ss.sssZ`` in UTC."""
    moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def assignment_content(assignment: Assignment, lms_type: str) -> dict[str, Any]:
    """The AssignmentRequest for the assignment in this LMS.

    ``state`` is never sent (Canvas ignores it and derives it from dates; the others derive
    open/scheduled from the dates too). ``start_date`` and ``term_id`` do not exist on Canvas:
    the start goes in ``display_date`` there; ``term_id`` is never sent. ``submission_types``
    and ``max_attempts`` are always explicit (Canvas asks for them)."""
    content: dict[str, Any] = {
        "title": assignment.title,
        "description": assignment.description,
        "due_date": clever_time(assignment.due_at),
        "grading_type": assignment.grading_type,
        "submission_types": list(assignment.submission_types or []),
        "max_attempts": int(assignment.max_attempts),
    }
    if assignment.points_possible is not None:
        content["points_possible"] = float(assignment.points_possible)
    if assignment.start_at is not None:
        key = "display_date" if lms_type == "canvas" else "start_date"
        content[key] = clever_time(assignment.start_at)
    return content


def grade_fields(assignment: Assignment, result: Result) -> dict[str, Any]:
    """The SubmissionRequest grade fields the grading type needs.

    points, percent: ``grade_points`` (points earned; the LMS shows the percent of
    ``points_possible``). pass_fail: ``grade`` "pass"/"fail". letter_grade: ``grade`` (the
    letter) and ``grade_points`` when the product has points too. Always ``grade_comment``
    ("" for none) and ``flags``."""
    fields: dict[str, Any] = {}
    kind = assignment.grading_type
    if kind in (GradingType.POINTS, GradingType.PERCENT):
        if result.points is not None:
            fields["grade_points"] = float(result.points)
    elif kind == GradingType.PASS_FAIL:
        if result.grade:
            fields["grade"] = result.grade.strip().lower()
    else:
        if result.grade:
            fields["grade"] = result.grade.strip()
        if result.points is not None:
            fields["grade_points"] = float(result.points)
    fields["grade_comment"] = result.comment or ""
    fields["flags"] = sorted(set(result.flags or []))
    return fields


def lms_fields(submission: dict) -> dict[str, Any]:
    """The grade fields of a Clever submission, normalized (a ``grade_points`` of 0 is absent
    from Clever's JSON; null and "" mean the same)."""
    points = submission.get("grade_points")
    return {
        "grade": submission.get("grade") or "",
        "grade_points": float(points) if isinstance(points, (int, float)) else 0.0,
        "grade_comment": submission.get("grade_comment") or "",
        "flags": sorted(f for f in (submission.get("flags") or []) if isinstance(f, str)),
    }


def _same(key: str, seen: Any, pushed: Any) -> bool:
    if key == "grade_points":
        # Clever stores float32: 1/3 comes back as 0.33333334.
        return math.isclose(float(seen or 0.0), float(pushed or 0.0), rel_tol=1e-6, abs_tol=1e-6)
    return (seen or "") == (pushed or "")


def _blank(seen: dict) -> bool:
    return not seen["grade"] and not seen["grade_points"] and not seen["grade_comment"]


def is_lms_edit(seen: dict, pushed: dict | None) -> bool:
    """The conflict rule: the grade in the LMS is a teacher's (and wins) unless it is blank
    (nothing pushed yet) or equals, field by field, the grade fields we last pushed."""
    if pushed is None:
        return not _blank(seen)
    return not all(_same(key, seen.get(key), pushed[key]) for key in GRADE_KEYS if key in pushed)


# --------------------------------------------------------------------------------------------
# Product writes
# --------------------------------------------------------------------------------------------


def _check_assignment_values(values: dict) -> None:
    if "title" in values and not (values["title"] or "").strip():
        raise LmsInputError("An assignment needs a title.")
    if "description" in values and not (values["description"] or "").strip():
        raise LmsInputError("An assignment needs a description (the LMS requires one).")
    if "grading_type" in values and values["grading_type"] not in GradingType.values:
        raise LmsInputError(f"Unknown grading type {values['grading_type']!r}.")
    if "submission_types" in values:
        unknown = [t for t in values["submission_types"] or [] if t not in SUBMISSION_TYPES]
        if unknown:
            raise LmsInputError(f"Unknown submission type(s): {', '.join(map(str, unknown))}.")
    if values.get("points_possible") is not None and values["points_possible"] < 0:
        raise LmsInputError("Points possible cannot be negative.")
    if "sync_policy" in values and values["sync_policy"] not in SyncPolicy.values:
        raise LmsInputError(f"Unknown sync policy {values['sync_policy']!r}.")


def _link(assignment: Assignment) -> CleverAssignment:
    link, _ = CleverAssignment.objects.get_or_create(
        assignment=assignment, defaults={"section_clever_id": assignment.section.clever_id}
    )
    return link


def _request_push(assignment: Assignment) -> bool:
    """Mark a push as wanted and enqueue it after the commit, unless one is already waiting."""
    link = CleverAssignment.objects.select_for_update().get(pk=_link(assignment).pk)
    now = timezone.now()
    if link.push_requested_at is not None and now - link.push_requested_at < STALE_PUSH_REQUEST:
        return False
    link.push_requested_at = now
    link.save(update_fields=["push_requested_at"])
    from . import tasks

    tasks.push_assignment.delay_on_commit(assignment.pk)
    return True


@transaction.atomic
def create_assignment(
    *,
    section: Section,
    title: str,
    description: str | None = None,
    due_at: datetime,
    points_possible: float | None = None,
    grading_type: str = GradingType.POINTS,
    submission_types: Iterable[str] = ("text",),
    max_attempts: int = 1,
    start_at: datetime | None = None,
    sync_policy: str = SyncPolicy.ON_CREATE,
    auto_approve_autograded: bool = True,
    created_by=None,
) -> Assignment:
    """A new assignment for a mirrored section; pushed after the commit when the policy is
    ``on_create``. The LMS requires a description: without one (``None``) the title stands in,
    so a teacher need not write instructions for a quiz whose title says it all."""
    if description is None:
        description = title
    values = {"title": title, "description": description, "grading_type": grading_type,
              "submission_types": list(submission_types), "points_possible": points_possible,
              "sync_policy": sync_policy}
    _check_assignment_values(values)
    assignment = Assignment.objects.create(
        section=section, created_by=created_by, title=title.strip(), description=description,
        due_at=due_at, start_at=start_at, points_possible=points_possible,
        grading_type=grading_type, submission_types=list(submission_types),
        max_attempts=max_attempts, sync_policy=sync_policy,
        auto_approve_autograded=auto_approve_autograded,
    )
    CleverAssignment.objects.create(assignment=assignment, section_clever_id=section.clever_id)
    if sync_policy == SyncPolicy.ON_CREATE:
        _request_push(assignment)
    return assignment


EDITABLE = ("title", "description", "due_at", "start_at", "points_possible", "grading_type",
            "submission_types", "max_attempts", "sync_policy", "auto_approve_autograded")


@transaction.atomic
def update_assignment(*, assignment: Assignment, **changes) -> Assignment:
    unknown = set(changes) - set(EDITABLE)
    if unknown:
        raise LmsInputError(f"Not editable: {', '.join(sorted(unknown))}.")
    _check_assignment_values(changes)
    assignment = Assignment.objects.select_for_update().get(pk=assignment.pk)
    for name, value in changes.items():
        setattr(assignment, name, value)
    assignment.updated_at = timezone.now()
    assignment.save()
    if assignment.sync_policy == SyncPolicy.ON_CREATE:
        _request_push(assignment)
    return assignment


@transaction.atomic
def delete_assignment(*, assignment: Assignment, actor=None) -> Assignment:
    """Delete in the product; a copy in the LMS is deleted through Clever by the push."""
    assignment = Assignment.objects.select_for_update().get(pk=assignment.pk)
    if assignment.deleted_at is None:
        assignment.deleted_at = timezone.now()
        assignment.save(update_fields=["deleted_at"])
    if _link(assignment).state == State.LINKED:
        _request_push(assignment)
    return assignment


def _check_student(assignment: Assignment, student: Person) -> None:
    is_member = SectionMembership.objects.filter(
        section_id=assignment.section_id, role=SectionMembership.Role.STUDENT,
        person_clever_id=student.clever_id,
    ).exists()
    if student.district_id != assignment.section.district_id or not is_member:
        raise LmsInputError("That student is not in this class.")


@transaction.atomic
def record_result(
    *,
    assignment: Assignment,
    student: Person,
    points: float | None = None,
    grade: str = "",
    comment: str = "",
    flags: Iterable[str] = (),
    source: str = Result.Source.TEACHER,
    approve: bool = False,
    actor=None,
) -> Result:
    """Set a student's result. Approved when asked, or when it is auto-graded and the
    assignment approves auto-graded results; an approved change is pushed (``on_create``)."""
    flags = sorted(set(flags))
    unknown = [f for f in flags if f not in FLAGS]
    if unknown:
        raise LmsInputError(f"Unknown flag(s): {', '.join(unknown)}.")
    if source not in Result.Source.values:
        raise LmsInputError(f"Unknown result source {source!r}.")
    _check_student(assignment, student)
    approved = approve or (source == Result.Source.AUTO and assignment.auto_approve_autograded)
    result, _ = Result.objects.select_for_update().get_or_create(assignment=assignment,
                                                                  student=student)
    result.points, result.grade, result.comment, result.flags = points, grade, comment, flags
    result.source = source
    if approved:
        result.status = Result.Status.APPROVED
        result.approved_at = timezone.now()
        result.approved_by = actor
    else:
        result.status = Result.Status.DRAFT
    result.updated_at = timezone.now()
    result.save()
    if approved and assignment.sync_policy == SyncPolicy.ON_CREATE:
        _request_push(assignment)
    return result


@transaction.atomic
def approve_results(*, assignment: Assignment, actor, student_ids: Iterable[int] | None = None) -> int:
    drafts = Result.objects.filter(assignment=assignment, status=Result.Status.DRAFT)
    if student_ids is not None:
        drafts = drafts.filter(student_id__in=list(student_ids))
    count = drafts.update(status=Result.Status.APPROVED, approved_at=timezone.now(),
                          approved_by=actor, updated_at=timezone.now())
    if count and assignment.sync_policy == SyncPolicy.ON_CREATE:
        _request_push(assignment)
    return count


# --- grades a teacher enters: the class form and a CSV file ----------------------------------

# Longer than any feedback a teacher types into a gradebook; keeps a pasted essay (or a CSV
# cell gone wrong) out of the LMS.
GRADE_COMMENT_MAX = 1000
PASS_FAIL = ("pass", "fail")


@dataclass(frozen=True)
class Grade:
    """One student's grade as a teacher entered it: points (points and percent grading), or a
    grade (a letter; "pass"/"fail"), and a comment."""

    student: Person
    points: float | None = None
    grade: str = ""
    comment: str = ""


@dataclass(frozen=True)
class GradeLine:
    """One line of a grades CSV, as read from the file: the column that names the student
    (``selectors.IDENTIFIER_COLUMNS``) and its value, the grade, and what was wrong with the
    line itself ("" when nothing)."""

    line: int
    column: str = ""
    identifier: str = ""
    points: float | None = None
    grade: str = ""
    comment: str = ""
    problem: str = ""


class GradesRefused(LmsInputError):
    """Some grades cannot be taken; nothing was saved. ``problems`` maps the caller's key of
    each refused grade (a student, a CSV line) to plain words."""

    def __init__(self, problems: dict):
        self.problems = problems
        super().__init__(f"{len(problems)} grade(s) refused; nothing was saved.")


@dataclass(frozen=True)
class GradesSaved:
    saved: int  # new or changed grades
    approved: int  # of which, and of unchanged drafts, approved now
    unchanged: int


def _number(value: float) -> str:
    return f"{value:g}"


def grade_problem(assignment: Assignment, grade: Grade, class_ids: set[str]) -> str:
    """What is wrong with ``grade`` for this assignment, in plain words ("" when nothing)."""
    if grade.student.district_id != assignment.section.district_id or \
            grade.student.clever_id not in class_ids:
        return f"{grade.student} is not in this class."
    if len(grade.comment) > GRADE_COMMENT_MAX:
        return f"The comment is longer than {GRADE_COMMENT_MAX} characters."
    kind = assignment.grading_type
    if kind == GradingType.PASS_FAIL:
        return "" if grade.grade.strip().lower() in PASS_FAIL else "Enter “pass” or “fail”."
    if kind == GradingType.LETTER_GRADE and not grade.grade.strip():
        return "Enter a letter grade."
    if kind == GradingType.LETTER_GRADE and len(grade.grade.strip()) > 32:
        return "A letter grade is at most 32 characters."
    if grade.points is None:
        return "" if kind == GradingType.LETTER_GRADE else "Enter the points."
    if not math.isfinite(grade.points) or grade.points < 0:
        return "Points cannot be negative."
    possible = assignment.points_possible
    if possible is not None and grade.points > possible + 1e-9:
        return f"{_number(grade.points)} is more than the {_number(possible)} points possible."
    return ""


def _as_stored(assignment: Assignment, grade: Grade) -> tuple[float | None, str, str]:
    """(points, grade, comment) as a ``Result`` keeps them for this grading type."""
    kind = assignment.grading_type
    letter = grade.grade.strip()
    if kind == GradingType.PASS_FAIL:
        return None, letter.lower(), grade.comment.strip()
    if kind == GradingType.LETTER_GRADE:
        return grade.points, letter, grade.comment.strip()
    return grade.points, "", grade.comment.strip()


def _class_ids(assignment: Assignment) -> set[str]:
    return set(SectionMembership.objects.filter(
        section_id=assignment.section_id, role=SectionMembership.Role.STUDENT,
    ).values_list("person_clever_id", flat=True))


def grade_problems(*, assignment: Assignment, grades: dict) -> dict:
    """The problems of ``grades`` (any key to a ``Grade``) by key, in plain words."""
    class_ids = _class_ids(assignment)
    return {key: problem for key, grade in grades.items()
            if (problem := grade_problem(assignment, grade, class_ids))}


@transaction.atomic
def record_grades(*, assignment: Assignment, grades: dict, approve: bool, actor) -> GradesSaved:
    """Save a teacher's grades for the class (``grades``: any key, e.g. the student's, to a
    ``Grade``): all of them or, if any is refused (``GradesRefused``), none. New and changed
    grades are saved as drafts, or approved with ``approve``, which also approves unchanged
    drafts; an unchanged approved grade is left alone (saving it as a draft again would take
    it back from the LMS's queue). Approved grades are pushed as the assignment's policy says."""
    problems = grade_problems(assignment=assignment, grades=grades)
    if problems:
        raise GradesRefused(problems)
    existing = {result.student_id: result for result in Result.objects.select_for_update().filter(
        assignment=assignment, student__in=[grade.student for grade in grades.values()])}
    saved, drafts_to_approve = 0, []
    for grade in grades.values():
        points, letter, comment = _as_stored(assignment, grade)
        result = existing.get(grade.student.pk)
        if result is not None and (result.points, result.grade, result.comment) == (points, letter, comment):
            if approve and result.status == Result.Status.DRAFT:
                drafts_to_approve.append(result.student_id)
            continue
        record_result(assignment=assignment, student=grade.student, points=points, grade=letter,
                      comment=comment, flags=result.flags if result is not None else (),
                      approve=approve, actor=actor)
        saved += 1
    approved = approve_results(assignment=assignment, actor=actor,
                               student_ids=drafts_to_approve) if drafts_to_approve else 0
    logger.info("lms: assignment %s: %s grade(s) saved, %s more approved, by user %s",
                assignment.pk, saved, approved, getattr(actor, "pk", None))
    return GradesSaved(saved=saved, approved=(saved if approve else 0) + approved,
                       unchanged=len(grades) - saved)


@transaction.atomic
def import_grades(*, assignment: Assignment, lines: Iterable[GradeLine], approve: bool,
                  actor) -> GradesSaved:
    """Save the grades of a CSV file's lines: each line names one student of the class (by the
    identifier its column says) at most once. All or nothing: any problem, with the file's line
    or with its grade, raises ``GradesRefused`` keyed by line number, every problem at once."""
    students = list(selectors.section_students(assignment.section))
    class_ids = {student.clever_id for student in students}
    problems: dict[int, str] = {}
    grades: dict[int, Grade] = {}
    line_of: dict[int, int] = {}
    for line in lines:
        if line.problem:
            problems[line.line] = line.problem
            continue
        found = selectors.students_matching(students, line.column, line.identifier)
        words = selectors.IDENTIFIER_COLUMNS[line.column]
        if not found:
            problems[line.line] = f"No student in this class has the {words} “{line.identifier[:60]}”."
        elif len(found) > 1:
            problems[line.line] = (f"{len(found)} students in this class have the {words} "
                                   f"“{line.identifier[:60]}”: name them by student number instead.")
        elif found[0].pk in line_of:
            problems[line.line] = f"{found[0]} is on line {line_of[found[0].pk]} too."
        else:
            line_of[found[0].pk] = line.line
            grade = Grade(student=found[0], points=line.points, grade=line.grade, comment=line.comment)
            if problem := grade_problem(assignment, grade, class_ids):
                problems[line.line] = problem
            else:
                grades[line.line] = grade
    if problems:
        raise GradesRefused(dict(sorted(problems.items())))
    return record_grades(assignment=assignment, grades=grades, approve=approve, actor=actor)


@transaction.atomic
def request_sync(*, assignment: Assignment, actor=None) -> bool:
    """The teacher's "Sync to LMS" button: push the assignment and its approved grades now
    (whatever the policy). Returns False when a push is already waiting."""
    logger.info("lms: sync of assignment %s requested by user %s", assignment.pk,
                getattr(actor, "pk", None))
    return _request_push(assignment)


@transaction.atomic
def override_lms_edit(*, assignment: Assignment, student_clever_id: str, actor,
                      reason: str) -> SubmissionSync:
    """The teacher chose to send the product's grade over a grade changed in the LMS: the LMS
    value becomes the baseline, so the next push writes the product's grade (audited, with the
    teacher's reason)."""
    sync = SubmissionSync.objects.select_for_update().get(assignment=assignment,
                                                          student_clever_id=student_clever_id)
    if sync.status != SyncStatus.LMS_EDITED:
        raise LmsInputError("That grade was not changed in the LMS.")
    seen = sync.lms_value or lms_fields({})
    sync.pushed = {key: seen[key] for key in (*GRADE_KEYS, "flags")}
    sync.status = SyncStatus.PENDING
    sync.updated_at = timezone.now()
    sync.save(update_fields=["pushed", "status", "updated_at"])
    LmsAudit.objects.create(assignment=assignment, action=LmsAudit.Action.OVERRIDE_LMS_EDIT,
                            actor=actor, details={"student": student_clever_id,
                                                  "reason": reason})
    _request_push(assignment)
    return sync


# --------------------------------------------------------------------------------------------
# Talking to Clever
# --------------------------------------------------------------------------------------------


def write_timeout() -> float:
    """Seconds an LMS write may take (Clever recommends 15 to 60)."""
    return min(max(float(settings.LMS_WRITE_TIMEOUT), 15.0), 60.0)


@dataclass
class Report:
    """What one push or pull did (counts and IDs only: safe to log and return from tasks)."""

    assignment: int
    # ok | partial (some grades refused) | blocked | refused | temporary | unknown | busy |
    # token | token_rotated | deleted | skipped (pull of an unlinked assignment)
    outcome: str = "ok"
    created: bool = False
    updated: bool = False
    deleted: bool = False
    sent: int = 0
    unchanged: int = 0
    kept_lms_edits: int = 0
    lms_edits_found: int = 0
    not_in_lms: int = 0
    errors: int = 0
    pages: int = 0
    restarts: int = 0
    retryable: bool = False
    message: str = ""
    requests: int = 0
    rate_limited: int = 0  # 429 answers received

    def as_dict(self) -> dict:
        return asdict(self)


class _Stop(Exception):
    """End this assignment's push; the report says why."""


@dataclass
class _Connection:
    district: District
    base: CleverClient
    token: str = ""
    api: CleverClient | None = None
    retired: dict = field(default_factory=lambda: {"requests": 0, "rate_limited": 0})

    def open(self) -> CleverClient:
        if self.api is None:
            self.token = district_token(self.district, client=self.base)
            self.api = self.base.with_token(self.token)
            self.api.lms_timeout = write_timeout()
        return self.api

    def counts(self) -> tuple[int, int]:
        """(requests sent, 429 answers) with every token used so far."""
        live = self.api.stats if self.api else None
        return (self.retired["requests"] + (live.requests if live else 0),
                self.retired["rate_limited"] + (live.rate_limited if live else 0))

    def refused(self) -> bool:
        """Clever answered 401: look the token up once more. True when a new one came back
        (the next try uses it)."""
        if self.api is not None:
            self.retired["requests"] += self.api.stats.requests
            self.retired["rate_limited"] += self.api.stats.rate_limited
        self.api = None
        token = recheck_after_unauthorized(self.district, rejected_token=self.token,
                                           client=self.base)
        return bool(token)


@contextmanager
def _connections(client: CleverClient | None):
    base = client or CleverClient(lms_timeout=write_timeout())
    try:
        yield lambda district: _Connection(district=district, base=base)
    finally:
        if client is None:
            base.close()


_HINTS: tuple[tuple[Callable[[str], bool], str], ...] = (
    (lambda m: "due_date must be in the future" in m,
     "The due date is in the past. Choose a later due date, then sync again."),
    (lambda m: m.startswith("missing required field"),
     "Some details the LMS requires are missing (title, description or due date)."),
    (lambda m: "is not synced in the LMS" in m,
     "This class is not synced with the district's LMS yet."),
    (lambda m: m.startswith("LMS Connect is not available"),
     "The district's LMS connection is not available right now."),
    (lambda m: m.startswith("unsupported field(s) for Canvas"),
     "Canvas does not support one of the dates set on this assignment."),
    (lambda m: m.startswith("validation failure list"),
     "The LMS refused one of the assignment's settings."),
)


def _plain_refusal(exc: CleverError) -> str:
    message = (exc.message or "").strip()
    hint = next((text for test, text in _HINTS if test(message)), "The LMS refused it.")
    return f"{hint} (Clever: “{message or f'HTTP {exc.status}'}”)"[:500]


def _classify(exc: Exception) -> tuple[str, bool, str]:
    """(problem, retryable, plain words) for a failure talking to Clever."""
    if isinstance(exc, NoToken):
        return Problem.TOKEN, False, ("Clever no longer shares this district with us (no district "
                                      "token), so nothing can be sent.")
    if isinstance(exc, AuthError):
        return Problem.TOKEN, False, "Clever refused the district's token (401). Support has to check it."
    if isinstance(exc, RateLimited):
        return Problem.TEMPORARY, True, "Clever asked us to slow down; we will try again automatically."
    if isinstance(exc, ServerError):
        status = f" (HTTP {exc.status})" if exc.status else ""
        return (Problem.TEMPORARY, True,
                f"Clever is not answering right now{status}; we will try again automatically.")
    if isinstance(exc, NotFound):
        return Problem.REFUSED, False, ("Clever does not know this class or assignment any more "
                                        f"(404: “{exc.message}”). It may have been deleted in the LMS.")
    if isinstance(exc, CleverError) and exc.status is not None and 400 <= exc.status < 500:
        return Problem.REFUSED, False, _plain_refusal(exc)
    return Problem.REFUSED, False, f"Clever's answer could not be used ({type(exc).__name__})."


def _detail(exc: Exception) -> str:
    return str(exc)[:500]


def _save_problem(link: CleverAssignment, problem: str, message: str, detail: str = "") -> None:
    link.problem, link.problem_message, link.problem_detail = problem, message[:500], detail[:500]
    link.problem_at = timezone.now() if problem else None
    link.save(update_fields=["problem", "problem_message", "problem_detail", "problem_at"])


def _fail(link: CleverAssignment, report: Report, exc: Exception, conn: _Connection) -> None:
    problem, retryable, message = _classify(exc)
    rotated = isinstance(exc, AuthError) and conn.refused()
    if rotated:
        retryable, message = True, "Clever refused the old district token; trying again with the new one."
    if isinstance(exc, NoToken):
        forget_cached_token(conn.district)
    _save_problem(link, problem, message, _detail(exc))
    report.outcome = "token" if problem == Problem.TOKEN else (
        "temporary" if problem == Problem.TEMPORARY else "refused")
    if rotated:
        report.outcome = "token_rotated"
    report.retryable, report.message = retryable, message
    logger.warning("lms: assignment %s: %s (%s)", link.assignment_id, report.outcome, _detail(exc))


def _create_surely_not_done(exc: CleverError) -> bool:
    """Whether a failed POST certainly created nothing (so it may be sent again)."""
    if isinstance(exc, ConnectionFailed):
        return isinstance(exc.__cause__, requests.ConnectTimeout)
    if isinstance(exc, HtmlServerError):
        return False  # a gateway's page: the LMS may have acted behind it
    if isinstance(exc, ServerError):
        return exc.status is not None  # Clever's own JSON error answer [inferred: atomic]
    if isinstance(exc, BadResponse):
        return False  # a 2xx we could not read: it was created
    return exc.status is not None and 400 <= exc.status < 500


# --- creating and updating the assignment ----------------------------------------------------


def _claim_create(link_pk: int, lms_type: str, section_clever_id: str) -> CleverAssignment | None:
    """Record the intent to POST (committed before the request); None when the link is not
    ``not_pushed`` any more (another worker claimed it, or it exists)."""
    with transaction.atomic():
        link = CleverAssignment.objects.select_for_update().get(pk=link_pk)
        if link.state != State.NOT_PUSHED:
            return None
        link.state = State.CREATING
        link.create_started_at = timezone.now()
        link.create_attempts += 1
        link.lms_type = lms_type
        link.section_clever_id = section_clever_id
        link.save(update_fields=["state", "create_started_at", "create_attempts", "lms_type",
                                 "section_clever_id"])
        return link


def _record_created(link: CleverAssignment, body: dict, content: dict) -> None:
    with transaction.atomic():
        link.state = State.LINKED
        link.clever_id = str(body.get("id") or "")
        link.created_in_lms_at = timezone.now()
        link.pushed_content = content
        link.lms_state = str(body.get("state") or "")
        link.lms_last_modified = str(body.get("last_modified") or "")
        link.problem, link.problem_message, link.problem_detail, link.problem_at = "", "", "", None
        link.save()


def _ensure_in_lms(assignment: Assignment, link: CleverAssignment, api: CleverClient,
                   report: Report, conn: _Connection) -> bool:
    """Create the assignment in the LMS, or PATCH what changed; True when created now."""
    district = assignment.section.district
    section_id = assignment.section.clever_id
    content = assignment_content(assignment, district.lms_type)
    if link.state == State.LINKED:
        pushed = link.pushed_content or {}
        changes = {key: value for key, value in content.items() if pushed.get(key) != value}
        if not changes:
            return False
        try:
            body = api.update_assignment(section_id, link.clever_id, changes)
        except CleverError as exc:
            _fail(link, report, exc, conn)
            if report.retryable or report.outcome != "refused" or isinstance(exc, NotFound):
                raise _Stop from exc
            # Clever refused the change (e.g. a due date moved into the past): the teacher sees
            # why; the assignment still exists, so its grades still go.
            return False
        link.pushed_content = {**pushed, **changes}
        link.lms_state = str(body.get("state") or "")
        link.lms_last_modified = str(body.get("last_modified") or "")
        link.save(update_fields=["pushed_content", "lms_state", "lms_last_modified"])
        report.updated = True
        return False

    if link.state == State.CREATING:
        if link.create_started_at and timezone.now() - link.create_started_at < CREATE_IN_FLIGHT:
            report.outcome, report.message = "busy", "Another push is creating this assignment."
            raise _Stop
        _mark_unknown(link, report, "the push creating it stopped before Clever's answer was recorded")
        raise _Stop
    if link.state == State.UNKNOWN:
        report.outcome, report.message = "unknown", link.problem_message
        raise _Stop
    if link.state == State.DELETED:
        report.outcome, report.message = "deleted", "The assignment was deleted from the LMS."
        raise _Stop

    claimed = _claim_create(link.pk, district.lms_type, section_id)
    if claimed is None:
        report.outcome, report.message = "busy", "Another push is creating this assignment."
        raise _Stop
    link.refresh_from_db()
    try:
        body = api.create_assignment(section_id, content)
    except CleverError as exc:
        if _create_surely_not_done(exc):
            CleverAssignment.objects.filter(pk=link.pk, state=State.CREATING).update(
                state=State.NOT_PUSHED)
            link.state = State.NOT_PUSHED
            _fail(link, report, exc, conn)
        else:
            _mark_unknown(link, report, _detail(exc))
        raise _Stop from exc
    if not body.get("id"):
        _mark_unknown(link, report, "Clever's answer had no assignment id")
        raise _Stop
    _record_created(link, body, content)
    report.created = True
    logger.info("lms: assignment %s created in the LMS as %s", assignment.pk, link.clever_id)
    return True


def _mark_unknown(link: CleverAssignment, report: Report, detail: str) -> None:
    message = ("Clever may have created this assignment in the LMS, but its answer was lost. "
               "It will not be sent again until support checks the LMS and links it (or confirms "
               "it is not there).")
    CleverAssignment.objects.filter(pk=link.pk).update(state=State.UNKNOWN)
    link.state = State.UNKNOWN
    _save_problem(link, Problem.UNKNOWN_OUTCOME, message, detail)
    report.outcome, report.message, report.retryable = "unknown", message, False
    logger.error("lms: assignment %s: create outcome unknown (%s)", link.assignment_id, detail)


# --- submissions: reading and the conflict rule ----------------------------------------------


def _observe(sync: SubmissionSync, submission: dict, now: datetime, report: Report) -> None:
    """Record what the LMS holds for one student and apply the conflict rule."""
    seen = lms_fields(submission)
    changed_in_lms = sync.lms_value is not None and seen != sync.lms_value
    sync.lms_value = seen
    sync.lms_seen_at = now
    sync.lms_last_modified = str(submission.get("last_modified") or "")[:40]
    sync.lms_state = str(submission.get("state") or "")[:16]
    sync.lms_submission_id = str(submission.get("id") or "")[:40]  # "" on Google Classroom
    if sync.status == SyncStatus.LMS_EDITED:
        if changed_in_lms:
            sync.lms_edited_at = now  # edited again in the LMS: still the LMS's
            report.lms_edits_found += 1
    elif is_lms_edit(seen, sync.pushed):
        sync.status = SyncStatus.LMS_EDITED
        sync.lms_edited_at = now
        sync.error = ""
        report.lms_edits_found += 1
    elif sync.status == SyncStatus.NOT_IN_LMS:
        sync.status = SyncStatus.PUSHED if sync.pushed is not None else SyncStatus.PENDING
    sync.updated_at = now


def _apply_page(assignment: Assignment, records: list[dict], syncs: dict[str, SubmissionSync],
                report: Report) -> None:
    now = timezone.now()
    with transaction.atomic():
        for submission in records:
            user_id = submission.get("user_id")
            if not isinstance(user_id, str) or not user_id:
                continue
            sync = syncs.get(user_id)
            if sync is None:
                if _blank(lms_fields(submission)):
                    continue  # nothing to record for an untouched submission
                sync = SubmissionSync(assignment=assignment, student_clever_id=user_id[:24])
                syncs[user_id] = sync
            _observe(sync, submission, now, report)
            sync.save()


def _read_submissions(assignment: Assignment, link: CleverAssignment, api: CleverClient,
                      syncs: dict[str, SubmissionSync], report: Report) -> set[str]:
    """Every submission of the assignment (cursor pages), each page recorded as it comes; the
    user IDs that have one. A next link expires two hours after it was issued: a 400 on a
    later page starts the listing over (recording is idempotent)."""
    section_id = assignment.section.clever_id
    for attempt in range(MAX_LISTING_RESTARTS + 1):
        seen: set[str] = set()
        pages = 0
        try:
            for page in api.iter_submission_pages(section_id, link.clever_id,
                                                  page_size=SUBMISSIONS_PAGE_SIZE):
                pages += 1
                report.pages += 1
                _apply_page(assignment, page.records, syncs, report)
                seen.update(s.get("user_id") for s in page.records if isinstance(s.get("user_id"), str))
            return seen
        except BadRequest as exc:
            if pages == 0 or attempt == MAX_LISTING_RESTARTS:
                raise
            report.restarts += 1
            logger.info("lms: assignment %s: submissions link refused after %s page(s) (%s); "
                        "starting over", assignment.pk, pages, exc.message)
    raise AssertionError("unreachable")


# --- grades ----------------------------------------------------------------------------------


def _syncs(assignment: Assignment) -> dict[str, SubmissionSync]:
    return {s.student_clever_id: s for s in SubmissionSync.objects.filter(assignment=assignment)}


def _push_grades(assignment: Assignment, link: CleverAssignment, api: CleverClient,
                 report: Report, conn: _Connection, *, created_now: bool) -> None:
    syncs = _syncs(assignment)
    wanted: list[tuple[str, dict]] = []
    for result in selectors.approved_results(assignment):
        student_id = result.student.clever_id
        fields = grade_fields(assignment, result)
        sync = syncs.get(student_id)
        if sync is not None and sync.status == SyncStatus.LMS_EDITED:
            report.kept_lms_edits += 1
            continue
        if sync is not None and sync.status == SyncStatus.PUSHED and sync.pushed == fields:
            report.unchanged += 1
            continue
        wanted.append((student_id, fields))
    if not wanted:
        return
    section_id = assignment.section.clever_id
    in_lms: set[str] | None = None
    if not created_now:
        # The assignment existed before this push: a teacher may have graded in the LMS since
        # we last looked. Read first (one request per 100 students), then write only ours.
        try:
            in_lms = _read_submissions(assignment, link, api, syncs, report)
        except CleverError as exc:
            _fail(link, report, exc, conn)
            raise _Stop from exc
    for student_id, fields in wanted:
        sync = syncs.get(student_id) or SubmissionSync(assignment=assignment,
                                                       student_clever_id=student_id)
        syncs[student_id] = sync
        now = timezone.now()
        if sync.status == SyncStatus.LMS_EDITED:
            report.kept_lms_edits += 1
            continue
        if in_lms is not None and student_id not in in_lms:
            _not_in_lms(sync, now, report)
            continue
        body = dict(fields)
        lms_own = set((sync.lms_value or {}).get("flags") or []) & LMS_OWN_FLAGS
        body["flags"] = sorted(set(fields["flags"]) | lms_own)
        try:
            submission = api.update_submission(section_id, link.clever_id, student_id, body)
        except NotFound:
            _not_in_lms(sync, now, report)
            continue
        except BadRequest as exc:
            sync.status, sync.error, sync.updated_at = SyncStatus.ERROR, _plain_refusal(exc), now
            sync.save()
            report.errors += 1
            continue
        except CleverError as exc:
            _fail(link, report, exc, conn)
            raise _Stop from exc
        sync.pushed, sync.pushed_at, sync.status, sync.error = fields, now, SyncStatus.PUSHED, ""
        sync.lms_value = lms_fields(submission)
        sync.lms_seen_at = now
        sync.lms_last_modified = str(submission.get("last_modified") or "")[:40]
        sync.lms_state = str(submission.get("state") or "")[:16]
        sync.lms_submission_id = str(submission.get("id") or "")[:40]
        sync.updated_at = now
        sync.save()
        report.sent += 1


def _not_in_lms(sync: SubmissionSync, now: datetime, report: Report) -> None:
    sync.status = SyncStatus.NOT_IN_LMS
    sync.error = ("The LMS has no submission for this student (not matched in the LMS yet); "
                  "sent again on a later sync.")
    sync.updated_at = now
    sync.save()
    report.not_in_lms += 1


# --- the push --------------------------------------------------------------------------------


def _delete_from_lms(assignment: Assignment, link: CleverAssignment, api_for: Callable[[], CleverClient],
                     report: Report, conn: _Connection) -> None:
    if link.state == State.LINKED:
        try:
            api_for().delete_assignment(assignment.section.clever_id, link.clever_id)
        except NotFound:
            pass  # already gone from the LMS
        except CleverError as exc:
            _fail(link, report, exc, conn)
            return
    elif link.state in (State.UNKNOWN, State.CREATING):
        report.outcome, report.message = "unknown", link.problem_message
        return
    link.state = State.DELETED
    link.save(update_fields=["state"])
    _save_problem(link, Problem.NONE, "")
    report.deleted, report.outcome = True, "deleted"


def _push_one(assignment: Assignment, conn: _Connection) -> Report:
    report = _push_once(assignment, conn)
    if report.outcome == "token_rotated":
        # Clever refused the cached token (401) and /oauth/tokens lists a new one: once more.
        report = _push_once(assignment, conn)
    return report


def _push_once(assignment: Assignment, conn: _Connection) -> Report:
    report = Report(assignment=assignment.pk)
    link = _link(assignment)
    CleverAssignment.objects.filter(pk=link.pk).update(push_requested_at=None)
    blocker = selectors.section_blocker(assignment.section)
    if blocker:
        if assignment.deleted_at is not None and link.state != State.LINKED:
            _delete_from_lms(assignment, link, conn.open, report, conn)
            return report
        _save_problem(link, Problem.BLOCKED, blocker)
        report.outcome, report.message = "blocked", blocker
        return report
    try:
        api = conn.open()
    except NoToken as exc:
        _fail(link, report, exc, conn)
        return report
    except CleverError as exc:
        _fail(link, report, exc, conn)
        return report
    if assignment.deleted_at is not None:
        _delete_from_lms(assignment, link, conn.open, report, conn)
        return report
    try:
        created_now = _ensure_in_lms(assignment, link, api, report, conn)
        _push_grades(assignment, link, api, report, conn, created_now=created_now)
    except _Stop:
        return report
    link.last_push_at = timezone.now()
    link.save(update_fields=["last_push_at"])
    if report.errors and report.outcome == "ok":
        report.outcome = "partial"
        _save_problem(link, Problem.REFUSED,
                      f"The LMS refused {report.errors} grade(s); see the students marked “Refused”.")
    elif link.problem and report.outcome == "ok":
        _save_problem(link, Problem.NONE, "")
    return report


def push_assignments(*, assignment_ids: Iterable[int], client: CleverClient | None = None) -> list[Report]:
    """Push each assignment (create/update/delete it in the LMS, then its changed approved
    grades), one Clever connection per district so requests are paced against the token's rate
    limit across assignments. Never raises for Clever's problems: each report says what
    happened (``retryable`` when waiting can help)."""
    assignments = (Assignment.objects.filter(pk__in=list(assignment_ids))
                   .select_related("section__district").order_by("section__district_id", "pk"))
    reports: list[Report] = []
    with _connections(client) as connect:
        conn: _Connection | None = None
        for assignment in assignments:
            if conn is None or conn.district.pk != assignment.section.district_id:
                conn = connect(assignment.section.district)
            before = conn.counts()
            report = _push_one(assignment, conn)
            after = conn.counts()
            report.requests, report.rate_limited = after[0] - before[0], after[1] - before[1]
            logger.info("lms: push of assignment %s: %s, created=%s sent=%s unchanged=%s kept=%s "
                        "not_in_lms=%s errors=%s requests=%s", assignment.pk, report.outcome,
                        report.created, report.sent, report.unchanged, report.kept_lms_edits,
                        report.not_in_lms, report.errors, report.requests)
            reports.append(report)
    return reports


def push_assignment(*, assignment_id: int, client: CleverClient | None = None) -> Report:
    reports = push_assignments(assignment_ids=[assignment_id], client=client)
    if not reports:
        raise Assignment.DoesNotExist(f"no assignment {assignment_id}")
    return reports[0]


# --- the pull --------------------------------------------------------------------------------


def pull_assignments(*, assignment_ids: Iterable[int], client: CleverClient | None = None) -> list[Report]:
    """Read the submissions of linked assignments back and apply the conflict rule (teacher
    edits in the LMS are recorded and kept). Reads need no LMS write access, only the token."""
    assignments = (Assignment.objects.filter(pk__in=list(assignment_ids))
                   .select_related("section__district", "clever")
                   .order_by("section__district_id", "pk"))
    reports: list[Report] = []
    with _connections(client) as connect:
        conn: _Connection | None = None
        for assignment in assignments:
            if conn is None or conn.district.pk != assignment.section.district_id:
                conn = connect(assignment.section.district)
            report = Report(assignment=assignment.pk)
            reports.append(report)
            link = _link(assignment)
            if link.state != State.LINKED or assignment.deleted_at is not None:
                report.outcome = "skipped"
                continue
            before = conn.counts()
            try:
                api = conn.open()
                _read_submissions(assignment, link, api, _syncs(assignment), report)
            except (CleverError, NoToken) as exc:
                _problem, retryable, message = _classify(exc)
                if isinstance(exc, AuthError) and conn.refused():
                    retryable = True
                report.outcome = "temporary" if retryable else "refused"
                report.retryable, report.message = retryable, message
                logger.warning("lms: pull of assignment %s failed: %s", assignment.pk, _detail(exc))
            else:
                link.last_pull_at = timezone.now()
                link.save(update_fields=["last_pull_at"])
            after = conn.counts()
            report.requests, report.rate_limited = after[0] - before[0], after[1] - before[1]
    return reports


# A teacher's "Check the LMS for changes" reads Clever at most this often per assignment: the
# district's Clever request budget is shared with its roster syncs.
CHECK_COOLDOWN_SECONDS = 60


def check_lms_now(*, assignment: Assignment, client: CleverClient | None = None) -> Report | None:
    """A teacher's "check for changes": the pull, or None when the assignment was checked less
    than ``CHECK_COOLDOWN_SECONDS`` ago (or the cache cannot say: then it is checked)."""
    try:
        first = cache.add(f"lms:check:{assignment.pk}", 1, timeout=CHECK_COOLDOWN_SECONDS)
    except CACHE_ERRORS:
        first = True
    return pull_assignment(assignment_id=assignment.pk, client=client) if first else None


def pull_assignment(*, assignment_id: int, client: CleverClient | None = None) -> Report:
    reports = pull_assignments(assignment_ids=[assignment_id], client=client)
    if not reports:
        raise Assignment.DoesNotExist(f"no assignment {assignment_id}")
    return reports[0]


def pull_district(*, district: District, client: CleverClient | None = None) -> list[Report]:
    ids = list(selectors.assignments_to_pull(district).values_list("pk", flat=True))
    return pull_assignments(assignment_ids=ids, client=client)


# --- support: reconciling a create whose answer was lost -------------------------------------


def link_clever_assignment(*, assignment: Assignment, clever_id: str, actor,
                           client: CleverClient | None = None) -> CleverAssignment:
    """Support found the assignment in the LMS/Clever: check it with a GET in the section, then
    link it (the next push PATCHes the full content and pushes grades). Audited."""
    try:
        clever_id = str(uuid.UUID(clever_id.strip()))
    except (ValueError, AttributeError):
        raise LmsInputError("A Clever assignment ID is a UUID.") from None
    link = _link(assignment)
    if link.state in (State.LINKED, State.DELETED):
        raise LmsInputError(f"The assignment is already {link.get_state_display().lower()}.")
    if CleverAssignment.objects.filter(clever_id=clever_id).exclude(pk=link.pk).exists():
        raise LmsInputError("That Clever assignment is linked to another assignment.")
    with _connections(client) as connect:
        conn = connect(assignment.section.district)
        try:
            body = conn.open().get_assignment(assignment.section.clever_id, clever_id)
        except NotFound:
            raise LmsInputError("Clever has no such assignment in this class.") from None
    with transaction.atomic():
        link = CleverAssignment.objects.select_for_update().get(pk=link.pk)
        before = link.state
        link.state = State.LINKED
        link.clever_id = clever_id
        link.lms_type = assignment.section.district.lms_type
        link.pushed_content = None  # unknown: the next push sends everything
        link.lms_state = str(body.get("state") or "")
        link.lms_last_modified = str(body.get("last_modified") or "")
        link.problem, link.problem_message, link.problem_detail, link.problem_at = "", "", "", None
        link.save()
        LmsAudit.objects.create(assignment=assignment, action=LmsAudit.Action.LINKED, actor=actor,
                                details={"clever_id": clever_id, "state_before": before,
                                         "checked_with": "GET assignment"})
        _request_push(assignment)
    return link


@transaction.atomic
def confirm_not_created(*, assignment: Assignment, actor, reason: str) -> CleverAssignment:
    """Support checked the LMS: the lost create made nothing. The next push creates it."""
    link = CleverAssignment.objects.select_for_update().get(assignment=assignment)
    if link.state not in (State.UNKNOWN, State.CREATING):
        raise LmsInputError("Only an unconfirmed creation can be confirmed as not created.")
    before = link.state
    link.state = State.NOT_PUSHED
    link.problem, link.problem_message, link.problem_detail, link.problem_at = "", "", "", None
    link.save()
    LmsAudit.objects.create(assignment=assignment, action=LmsAudit.Action.CONFIRMED_NOT_CREATED,
                            actor=actor, details={"state_before": before,
                                                  "create_attempts": link.create_attempts,
                                                  "reason": reason})
    _request_push(assignment)
    return link
