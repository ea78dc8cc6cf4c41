"""What the controller looks up before it acts, and the LMS checks before a write.

Lookups: a token that is not a district-app token gets 404 (Clever: "404 ... wrong token type");
the section is 404 ``section not found`` unless it is a section of the token's district; the
assignment is 404 ``assignment not found`` (ids are UUIDs, anything else is simply not found);
the submission is 404 ``submission not found``.

LMS checks (writes only: create/update/delete assignment, update submission; reads still work
so an app can read back what it wrote after a district's LMS connection broke)
  - no LMS (``SandboxDistrict.lms_type == ""``): 400 ``MSG_NO_LMS``;
  - ``lms_state != "success"``: 400 ``MSG_LMS_NOT_READY``;
  - the section's v3.1 ``lms_status.synced_in_lms`` is false: 400 ``MSG_SECTION_NOT_SYNCED``. A
    section record without ``lms_status`` counts as synced when the district has an LMS (Clever
    only reports the flag once LMS Connect is on; seeded data rarely has it).
  Clever's exact text for these refusals is unknown; these are the sandbox's.
"""

import json
import uuid

from ..models import (
    RecordType,
    SandboxDistrict,
    SandboxEdge,
    SandboxLmsAssignment,
    SandboxLmsSubmission,
    SandboxRecord,
    SandboxToken,
    TokenKind,
)
from .errors import LmsError, bad

MSG_NO_LMS = "LMS Connect is not available: the district has no LMS connected"
MSG_LMS_NOT_READY = "LMS Connect is not available: the district's LMS connection is not ready (lms_state: {})"
MSG_SECTION_NOT_SYNCED = "section {} is not synced in the LMS"


def district_of(token: SandboxToken) -> SandboxDistrict:
    if token.kind != TokenKind.DISTRICT:
        raise LmsError(404, "LMS Connect needs a district-app token")
    return token.district


def find_section(district: SandboxDistrict, section_id: str) -> dict:
    row = SandboxRecord.objects.filter(
        clever_id=section_id, district=district, record_type=RecordType.SECTIONS
    ).first()
    if row is None:
        raise LmsError(404, "section not found")
    return json.loads(row.body)


def find_assignment(district, section_id: str, assignment_id: str, *, lock=False):
    try:
        key = uuid.UUID(assignment_id)
    except (ValueError, AttributeError, TypeError):
        raise LmsError(404, "assignment not found") from None
    rows = SandboxLmsAssignment.objects.filter(id=key, district=district, section_id=section_id)
    if lock:
        rows = rows.select_for_update()
    row = rows.first()
    if row is None:
        raise LmsError(404, "assignment not found")
    return row


def find_submission(assignment: SandboxLmsAssignment, user_id: str, *, lock=False):
    rows = SandboxLmsSubmission.objects.filter(assignment=assignment, user_id=user_id)
    if lock:
        rows = rows.select_for_update()
    row = rows.first()
    if row is None:
        raise LmsError(404, "submission not found")
    return row


def _synced(body: dict) -> bool:
    status = body.get("lms_status")
    if not isinstance(status, dict) or "synced_in_lms" not in status:
        return True
    return bool(status["synced_in_lms"])


def require_lms(district: SandboxDistrict, section: dict) -> None:
    if not district.lms_type:
        raise bad(MSG_NO_LMS)
    if district.lms_state != "success":
        raise bad(MSG_LMS_NOT_READY.format(district.lms_state or '""'))
    if not _synced(section):
        raise bad(MSG_SECTION_NOT_SYNCED.format(section["id"]))


def section_students(district: SandboxDistrict, section_id: str) -> list[str]:
    """The section's students who exist and are matched in the LMS, by user id."""
    ids = list(
        SandboxEdge.objects.filter(district=district, src_id=section_id, rel="students")
        .order_by("dst_id")
        .values_list("dst_id", flat=True)
        .distinct()
    )
    rows = SandboxRecord.objects.filter(
        clever_id__in=ids, district=district, record_type=RecordType.USERS
    ).values_list("clever_id", "body")
    return sorted(user_id for user_id, body in rows if _synced(json.loads(body)))
