"""What is sent to Clever and read back from it, and the conflict rule: pure functions.

A grade in the LMS that is not the one we last pushed was put there by a teacher: it is kept
(``is_lms_edit``), never overwritten.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any

from ..models import Assignment, GradingType, Result

GRADE_KEYS = ("grade", "grade_points", "grade_comment")
# Flags the LMS sets by itself: kept when we write flags.
LMS_OWN_FLAGS = frozenset({"late"})


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


def submission_body(fields: dict[str, Any], lms_value: dict | None) -> dict[str, Any]:
    """The SubmissionRequest for ``fields``, keeping the flags the LMS set by itself."""
    lms_own = set((lms_value or {}).get("flags") or []) & LMS_OWN_FLAGS
    return {**fields, "flags": sorted(set(fields["flags"]) | lms_own)}


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


def is_blank(seen: dict) -> bool:
    """Whether normalized grade fields (``lms_fields``) hold no grade at all."""
    return not seen["grade"] and not seen["grade_points"] and not seen["grade_comment"]


def is_lms_edit(seen: dict, pushed: dict | None) -> bool:
    """The conflict rule: the grade in the LMS is a teacher's (and wins) unless it is blank
    (nothing pushed yet) or equals, field by field, the grade fields we last pushed."""
    if pushed is None:
        return not is_blank(seen)
    return not all(_same(key, seen.get(key), pushed[key]) for key in GRADE_KEYS if key in pushed)
