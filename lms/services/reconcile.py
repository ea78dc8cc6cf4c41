"""Decisions people make about the link with the LMS, each audited: support links a create
whose answer was lost to the assignment it finds in the LMS (checked with a GET) or confirms
the create made nothing; a teacher sends the product's grade over one changed in the LMS."""

from __future__ import annotations

import uuid

from django.db import transaction
from django.utils import timezone

from clever.client import CleverClient
from clever.errors import NotFound
from core.models import person_label

from ..errors import LmsInputError
from ..models import Assignment, CleverAssignment, LmsAudit, SubmissionSync
from .outcomes import clear_problem
from .payloads import GRADE_KEYS, lms_fields
from .sessions import district_sessions
from .writes import clever_link, request_push

State = CleverAssignment.State
SyncStatus = SubmissionSync.Status


def link_clever_assignment(
    *, assignment: Assignment, clever_id: str, actor, client: CleverClient | None = None
) -> CleverAssignment:
    """Support found the assignment in the LMS/Clever: check it with a GET in the section, then
    link it (the next push PATCHes the full content and pushes grades). Audited."""
    try:
        clever_id = str(uuid.UUID(clever_id.strip()))
    except (ValueError, AttributeError):
        raise LmsInputError("A Clever assignment ID is a UUID.") from None
    link = clever_link(assignment)
    if link.state in (State.LINKED, State.DELETED):
        raise LmsInputError(f"The assignment is already {link.get_state_display().lower()}.")
    if CleverAssignment.objects.filter(clever_id=clever_id).exclude(pk=link.pk).exists():
        raise LmsInputError("That Clever assignment is linked to another assignment.")
    with district_sessions(client) as session_for:
        session = session_for(assignment.section.district)
        try:
            body = session.open().get_assignment(assignment.section.clever_id, clever_id)
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
        clear_problem(link)
        link.save()
        LmsAudit.objects.create(
            assignment=assignment,
            action=LmsAudit.Action.LINKED,
            actor=actor,
            actor_label=person_label(actor),
            details={"clever_id": clever_id, "state_before": before, "checked_with": "GET assignment"},
        )
        request_push(assignment)
    return link


@transaction.atomic
def confirm_not_created(*, assignment: Assignment, actor, reason: str) -> CleverAssignment:
    """Support checked the LMS: the lost create made nothing. The next push creates it."""
    link = CleverAssignment.objects.select_for_update().get(assignment=assignment)
    if link.state not in (State.UNKNOWN, State.CREATING):
        raise LmsInputError("Only an unconfirmed creation can be confirmed as not created.")
    before = link.state
    link.state = State.NOT_PUSHED
    clear_problem(link)
    link.save()
    LmsAudit.objects.create(
        assignment=assignment,
        action=LmsAudit.Action.CONFIRMED_NOT_CREATED,
        actor=actor,
        actor_label=person_label(actor),
        details={"state_before": before, "create_attempts": link.create_attempts, "reason": reason},
    )
    request_push(assignment)
    return link


@transaction.atomic
def override_lms_edit(
    *, assignment: Assignment, student_clever_id: str, actor, reason: str
) -> SubmissionSync:
    """The teacher chose to send the product's grade over a grade changed in the LMS: the LMS
    value becomes the baseline, so the next push writes the product's grade (audited, with the
    teacher's reason)."""
    sync = SubmissionSync.objects.select_for_update().get(
        assignment=assignment, student_clever_id=student_clever_id
    )
    if sync.status != SyncStatus.LMS_EDITED:
        raise LmsInputError("That grade was not changed in the LMS.")
    seen = sync.lms_value or lms_fields({})
    sync.pushed = {key: seen[key] for key in (*GRADE_KEYS, "flags")}
    sync.status = SyncStatus.PENDING
    sync.updated_at = timezone.now()
    sync.save(update_fields=["pushed", "status", "updated_at"])
    LmsAudit.objects.create(
        assignment=assignment,
        action=LmsAudit.Action.OVERRIDE_LMS_EDIT,
        actor=actor,
        actor_label=person_label(actor, "teacher"),
        details={"student": student_clever_id, "reason": reason},
    )
    request_push(assignment)
    return sync
