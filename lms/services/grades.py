"""The grades a teacher enters for a class: the class form and a CSV file. Both are held to
the same rule (``grade_problem``) and saved all or nothing (``GradesRefused``)."""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable
from dataclasses import dataclass

from django.db import transaction

from rostering.models import Person, SectionMembership

from .. import selectors
from ..errors import GradesRefused
from ..models import Assignment, GradingType, Result
from .writes import approve_results, record_result

logger = logging.getLogger(__name__)

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


@dataclass(frozen=True)
class GradesSaved:
    saved: int  # new or changed grades
    approved: int  # of which, and of unchanged drafts, approved now
    unchanged: int


def _number(value: float) -> str:
    return f"{value:g}"


def grade_problem(assignment: Assignment, grade: Grade, class_ids: set[str]) -> str:
    """What is wrong with ``grade`` for this assignment, in plain words ("" when nothing)."""
    if (
        grade.student.district_id != assignment.section.district_id
        or grade.student.clever_id not in class_ids
    ):
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
    return set(
        SectionMembership.objects.filter(
            section_id=assignment.section_id,
            role=SectionMembership.Role.STUDENT,
        ).values_list("person_clever_id", flat=True)
    )


def grade_problems(*, assignment: Assignment, grades: dict) -> dict:
    """The problems of ``grades`` (any key to a ``Grade``) by key, in plain words."""
    class_ids = _class_ids(assignment)
    return {
        key: problem
        for key, grade in grades.items()
        if (problem := grade_problem(assignment, grade, class_ids))
    }


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
    existing = {
        result.student_id: result
        for result in Result.objects.select_for_update().filter(
            assignment=assignment, student__in=[grade.student for grade in grades.values()]
        )
    }
    saved, drafts_to_approve = 0, []
    for grade in grades.values():
        points, letter, comment = _as_stored(assignment, grade)
        result = existing.get(grade.student.pk)
        if result is not None and (result.points, result.grade, result.comment) == (points, letter, comment):
            if approve and result.status == Result.Status.DRAFT:
                drafts_to_approve.append(result.student_id)
            continue
        record_result(
            assignment=assignment,
            student=grade.student,
            points=points,
            grade=letter,
            comment=comment,
            flags=result.flags if result is not None else (),
            approve=approve,
            actor=actor,
        )
        saved += 1
    approved = (
        approve_results(assignment=assignment, actor=actor, student_ids=drafts_to_approve)
        if drafts_to_approve
        else 0
    )
    logger.info(
        "lms: assignment %s: %s grade(s) saved, %s more approved, by user %s",
        assignment.pk,
        saved,
        approved,
        getattr(actor, "pk", None),
    )
    return GradesSaved(
        saved=saved, approved=(saved if approve else 0) + approved, unchanged=len(grades) - saved
    )


@transaction.atomic
def import_grades(*, assignment: Assignment, lines: Iterable[GradeLine], approve: bool, actor) -> GradesSaved:
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
            problems[line.line] = (
                f"{len(found)} students in this class have the {words} "
                f"“{line.identifier[:60]}”: name them by student number instead."
            )
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
