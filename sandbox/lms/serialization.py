"""What the local LMS Connect answers: wag's Go models, and the times they carry.

Fields marked ``x-omitempty`` in the Swagger are left out when empty or zero, so a
``grade_points`` of 0 is ABSENT from the JSON, as are empty ``submission_types``, ``flags``,
``attachments``, ``assignee_ids`` and a zero ``max_attempts`` or ``extra_attempts``;
``x-nullable`` fields are ``null`` when unset; the rest are always present. Floats are float32
(``points_possible``, ``grade_points``): 1/3 reads 0.33333334. Timestamps are Clever's
``YYYY-MM-DDThh:mm:ss.sssZ`` in UTC, taken from the sandbox clock (``sandbox_now``).

Per-LMS read rules: a submission's ``id`` is always ``""`` for Google Classroom (Clever's
deprecation note), decided at read time from the district's current LMS; a ``scheduled``
Canvas assignment whose display date has passed reads ``open``.
"""

import copy
from datetime import UTC, datetime

from ..knobs import KNOBS
from ..models import LmsType, SandboxLmsAssignment, SandboxLmsSubmission

_ASSIGNMENT_OMITEMPTY = ("assignee_ids", "attachments", "grading_scale", "max_attempts", "submission_types")
_SUBMISSION_OMITEMPTY = ("attachments", "extra_attempts", "flags", "grade_points")
_ATTACHMENT_KEYS = ("type", "title", "description", "url", "file_external_id", "thumbnail_url")


def sandbox_now() -> datetime:
    """The sandbox clock."""
    return datetime.fromtimestamp(KNOBS.clock(), UTC)


def parse_stored(value: str | None) -> datetime | None:
    """A stored timestamp (Clever's format) as a datetime; ``None`` when unset."""
    return datetime.strptime(value, "%Y-%m-%dT%H:%M:%S.%f%z") if value else None


def derived_state(data: dict, now: datetime) -> str:
    """An assignment's state when none is given: ``scheduled`` until it displays or starts."""
    for key in ("display_date", "start_date"):
        moment = parse_stored(data.get(key))
        if moment is not None and moment > now:
            return "scheduled"
    return "open"


def _drop_empty(data: dict, keys) -> dict:
    return {k: v for k, v in data.items() if not (k in keys and not v)}


def _attachment_out(attachment: dict) -> dict:
    out = {key: attachment.get(key) for key in _ATTACHMENT_KEYS}
    out["type"] = out["type"] or ""
    if attachment.get("text") is not None:
        out["text"] = attachment["text"]
    return out


def assignment_json(row: SandboxLmsAssignment, lms_type: str | None = None) -> dict:
    data = copy.deepcopy(row.data)
    lms_type = row.district.lms_type if lms_type is None else lms_type
    if lms_type == LmsType.CANVAS and data.get("state") == "scheduled":
        data["state"] = derived_state(data, sandbox_now())
    data["attachments"] = [_attachment_out(a) for a in data.get("attachments") or []]
    return _drop_empty(data, _ASSIGNMENT_OMITEMPTY)


def submission_json(row: SandboxLmsSubmission, lms_type: str) -> dict:
    data = copy.deepcopy(row.data)
    if lms_type == LmsType.GOOGLE_CLASSROOM:
        data["id"] = ""
    data["attachments"] = [_attachment_out(a) for a in data.get("attachments") or []]
    return _drop_empty(data, _SUBMISSION_OMITEMPTY)
