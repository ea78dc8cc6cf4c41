"""What happens in the LMS itself, not through Clever's API (for tests of "teacher edits read
back", and the control page): a teacher edits a grade, a student turns work in. No API request
is made, no rate limit applies.
"""

import copy
import uuid
from datetime import datetime

from django.db import transaction

from ..models import SandboxLmsSubmission
from ..services import iso
from .go_decode import to_float32
from .payloads import SUBMISSION_FLAGS, SUBMISSION_STATES
from .serialization import parse_stored, sandbox_now

_UNSET = object()


@transaction.atomic
def teacher_edit_submission(
    *,
    assignment_id: str,
    user_id: str,
    grade=_UNSET,
    grade_points=_UNSET,
    grade_comment=_UNSET,
    flags=_UNSET,
    state=_UNSET,
    grader_id=_UNSET,
    now: datetime | None = None,
) -> dict:
    """A teacher changes a submission in the LMS gradebook (not through Clever's API).

    Only the given fields change; ``last_modified`` moves to ``now`` (default: the sandbox
    clock). Returns the stored submission (before the per-LMS read rules).
    """
    row = SandboxLmsSubmission.objects.select_for_update().get(
        assignment_id=uuid.UUID(str(assignment_id)), user_id=user_id
    )
    changes = {
        "grade": grade,
        "grade_points": grade_points if grade_points is _UNSET else to_float32(grade_points),
        "grade_comment": grade_comment,
        "flags": flags if flags is _UNSET else list(flags),
        "state": state,
        "grader_id": grader_id,
    }
    for key, value in changes.items():
        if value is _UNSET:
            continue
        if key == "state" and value not in SUBMISSION_STATES:
            raise ValueError(f"state must be one of {SUBMISSION_STATES}")
        if key == "flags" and any(flag not in SUBMISSION_FLAGS for flag in value):
            raise ValueError(f"flags must be among {SUBMISSION_FLAGS}")
        row.data[key] = value
    row.data["last_modified"] = iso(now or sandbox_now())
    row.save(update_fields=["data"])
    return copy.deepcopy(row.data)


@transaction.atomic
def student_submit(
    *,
    assignment_id: str,
    user_id: str,
    attachments: list[dict] | None = None,
    now: datetime | None = None,
) -> dict:
    """A student turns the work in, in the LMS: state ``submitted`` (``late`` flagged after the
    due date)."""
    row = (
        SandboxLmsSubmission.objects.select_for_update()
        .select_related("assignment")
        .get(assignment_id=uuid.UUID(str(assignment_id)), user_id=user_id)
    )
    moment = now or sandbox_now()
    row.data["state"] = "submitted"
    if attachments is not None:
        row.data["attachments"] = [dict(a) for a in attachments]
    due = parse_stored(row.assignment.data.get("due_date"))
    if due is not None and moment > due and "late" not in row.data.get("flags", []):
        row.data["flags"] = [*row.data.get("flags", []), "late"]
    row.data["last_modified"] = iso(moment)
    row.save(update_fields=["data"])
    return copy.deepcopy(row.data)
