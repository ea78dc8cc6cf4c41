"""Product writes: assignments, results and approvals. Each is ``@transaction.atomic`` and
enqueues a push after the commit when the assignment's sync policy says so (``request_push``).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime

from django.db import transaction
from django.utils import timezone

from rostering.models import Person, Section, SectionMembership

from .. import selectors
from ..errors import LmsInputError
from ..models import (
    FLAGS,
    SUBMISSION_TYPES,
    Assignment,
    CleverAssignment,
    GradingType,
    Result,
    SyncPolicy,
)

logger = logging.getLogger(__name__)

State = CleverAssignment.State

EDITABLE = (
    "title",
    "description",
    "due_at",
    "start_at",
    "points_possible",
    "grading_type",
    "submission_types",
    "max_attempts",
    "sync_policy",
    "auto_approve_autograded",
)


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


def clever_link(assignment: Assignment) -> CleverAssignment:
    """The assignment's link to Clever (made, ``not_pushed``, when it has none)."""
    link, _ = CleverAssignment.objects.get_or_create(
        assignment=assignment, defaults={"section_clever_id": assignment.section.clever_id}
    )
    return link


def request_push(assignment: Assignment) -> bool:
    """Mark a push as wanted and enqueue it after the commit, unless one is already waiting."""
    link = CleverAssignment.objects.select_for_update().get(pk=clever_link(assignment).pk)
    now = timezone.now()
    if link.push_requested_at is not None and now - link.push_requested_at < selectors.STALE_PUSH_REQUEST:
        return False
    link.push_requested_at = now
    link.save(update_fields=["push_requested_at"])
    from .. import tasks  # imported here: lms.tasks imports these services

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
    values = {
        "title": title,
        "description": description,
        "grading_type": grading_type,
        "submission_types": list(submission_types),
        "points_possible": points_possible,
        "sync_policy": sync_policy,
    }
    _check_assignment_values(values)
    assignment = Assignment.objects.create(
        section=section,
        created_by=created_by,
        title=title.strip(),
        description=description,
        due_at=due_at,
        start_at=start_at,
        points_possible=points_possible,
        grading_type=grading_type,
        submission_types=list(submission_types),
        max_attempts=max_attempts,
        sync_policy=sync_policy,
        auto_approve_autograded=auto_approve_autograded,
    )
    CleverAssignment.objects.create(assignment=assignment, section_clever_id=section.clever_id)
    if sync_policy == SyncPolicy.ON_CREATE:
        request_push(assignment)
    return assignment


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
        request_push(assignment)
    return assignment


@transaction.atomic
def delete_assignment(*, assignment: Assignment, actor=None) -> Assignment:
    """Delete in the product; a copy in the LMS is deleted through Clever by the push."""
    assignment = Assignment.objects.select_for_update().get(pk=assignment.pk)
    if assignment.deleted_at is None:
        assignment.deleted_at = timezone.now()
        assignment.save(update_fields=["deleted_at"])
    if clever_link(assignment).state == State.LINKED:
        request_push(assignment)
    return assignment


def _check_student(assignment: Assignment, student: Person) -> None:
    is_member = SectionMembership.objects.filter(
        section_id=assignment.section_id,
        role=SectionMembership.Role.STUDENT,
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
    result, _ = Result.objects.select_for_update().get_or_create(assignment=assignment, student=student)
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
        request_push(assignment)
    return result


@transaction.atomic
def approve_results(*, assignment: Assignment, actor, student_ids: Iterable[int] | None = None) -> int:
    drafts = Result.objects.filter(assignment=assignment, status=Result.Status.DRAFT)
    if student_ids is not None:
        drafts = drafts.filter(student_id__in=list(student_ids))
    count = drafts.update(
        status=Result.Status.APPROVED,
        approved_at=timezone.now(),
        approved_by=actor,
        updated_at=timezone.now(),
    )
    if count and assignment.sync_policy == SyncPolicy.ON_CREATE:
        request_push(assignment)
    return count


@transaction.atomic
def request_sync(*, assignment: Assignment, actor=None) -> bool:
    """The teacher's "Sync to LMS" button: push the assignment and its approved grades now
    (whatever the policy). Returns False when a push is already waiting."""
    logger.info("lms: sync of assignment %s requested by user %s", assignment.pk, getattr(actor, "pk", None))
    return request_push(assignment)
