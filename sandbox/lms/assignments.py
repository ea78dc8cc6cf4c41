"""Assignments (create, read, update, delete) and the submissions they open.

  - Create requires ``title``, ``description``, ``due_date`` (``missing required field(s):
    title, description, due_date``, listing only the missing ones, in that order; an empty
    string counts as missing, as does ``null``). ``due_date`` must be after the sandbox clock
    (``KNOBS.clock()``): ``due_date must be in the future``.
  - PATCH merges the given fields into the assignment (absent or ``null`` = unchanged, as Go
    cannot tell them apart); the merged result must still have the three required fields, and
    a ``due_date`` that the PATCH changes must be in the future.
  - ``state`` is validated against [draft scheduled open locked]. When absent, the state is
    derived: ``scheduled`` if ``display_date`` or ``start_date`` is in the future, else ``open``.
  - Canvas ignores ``state`` on create and update and always derives it as above.
    ``start_date`` and ``term_id`` are unsupported on Canvas: 400 ``unsupported field(s) for
    Canvas: start_date, term_id`` (only the ones given are listed; use ``display_date``).
  - ``grading_type`` defaults to ``points``, ``assignee_mode`` to ``all``. With
    ``individuals``, ``assignee_ids`` must be non-empty (400 ``assignee_ids is required when
    assignee_mode is individuals``) and name students of the section (400 ``assignee_ids
    contains users who are not students of the section: <ids>``); checked when a request sets
    ``assignee_mode`` or ``assignee_ids``, so a later PATCH of the title still works after an
    assignee left the section.
  - Assignment attachments follow the Swagger (``type`` one of [file]).
  - DELETE answers 200 with an empty body; the assignment and its submissions are gone.

Submissions opened: one (state ``created``, ``grade`` null, no ``grade_points``) for every
student of the section at that moment (``SandboxEdge`` section --students--> user, ordered by
user id), or for the assignees in ``individuals`` mode. Students whose user record says
``lms_status.synced_in_lms: false`` are not matched in the LMS and get none. A PATCH that widens
the assignees adds submissions; none are ever removed. Students who join the section later get
none (the sandbox does not follow roster changes). A submission ``id`` is a 24-hex id.
"""

import copy
import uuid
from datetime import datetime

from django.db import transaction

from ..ids import new_id
from ..models import LmsType, SandboxDistrict, SandboxLmsAssignment, SandboxLmsSubmission, SandboxToken
from ..services import iso
from .errors import bad
from .go_decode import decode_request
from .lookups import district_of, find_assignment, find_section, require_lms, section_students
from .payloads import ASSIGNMENT_REQUEST, validate_assignment_request
from .serialization import assignment_json, derived_state, parse_stored, sandbox_now

REQUIRED_ON_CREATE = ("title", "description", "due_date")
CANVAS_UNSUPPORTED = ("start_date", "term_id")
MSG_DUE_DATE_PAST = "due_date must be in the future"


def _blank_assignment(assignment_id: str, now: datetime) -> dict:
    stamp = iso(now)
    return {
        "id": assignment_id,
        "title": "",
        "description": "",
        "description_plaintext": None,
        "state": "open",
        "due_date": None,
        "display_date": None,
        "start_date": None,
        "end_date": None,
        "points_possible": None,
        "grading_type": "points",
        "grading_scale": [],
        "submission_types": [],
        "max_attempts": 0,
        "assignee_mode": "all",
        "assignee_ids": [],
        "attachments": [],
        "category_id": None,
        "term_id": None,
        "created": stamp,
        "last_modified": stamp,
    }


def _apply_assignment_fields(data: dict, request: dict) -> None:
    for key, value in request.items():
        if isinstance(value, datetime):
            value = iso(value)
        elif value == "" and key in ("due_date", "display_date", "start_date", "end_date"):
            continue  # an empty datetime is "unset", as for null
        if key == "attachments":
            value = [{k: a.get(k) for k in ("type", "title", "description", "url")} for a in value if a]
        data[key] = value


def _check_assignment(
    *,
    district: SandboxDistrict,
    section: dict,
    request: dict,
    merged: dict,
    now: datetime,
    previous_due: str | None,
) -> None:
    missing = [key for key in REQUIRED_ON_CREATE if not merged.get(key)]
    if missing:
        raise bad(f"missing required field(s): {', '.join(missing)}")
    due = parse_stored(merged["due_date"])
    if merged["due_date"] != previous_due and due <= now:
        raise bad(MSG_DUE_DATE_PAST)
    if district.lms_type == LmsType.CANVAS:
        unsupported = [key for key in CANVAS_UNSUPPORTED if request.get(key)]
        if unsupported:
            raise bad(f"unsupported field(s) for Canvas: {', '.join(unsupported)}")
    touched = "assignee_mode" in request or "assignee_ids" in request
    if touched and merged.get("assignee_mode") == "individuals":
        ids = merged.get("assignee_ids") or []
        if not ids:
            raise bad("assignee_ids is required when assignee_mode is individuals")
        students = set(section_students(district, section["id"]))
        strangers = [user_id for user_id in ids if user_id not in students]
        if strangers:
            raise bad(
                "assignee_ids contains users who are not students of the section: " + ", ".join(strangers)
            )


def _assignees(district: SandboxDistrict, section_id: str, data: dict) -> list[str]:
    students = section_students(district, section_id)
    if data.get("assignee_mode") == "individuals":
        wanted = set(data.get("assignee_ids") or [])
        return [user_id for user_id in students if user_id in wanted]
    return students


def _add_submissions(row: SandboxLmsAssignment, user_ids: list[str], now: datetime) -> None:
    existing = set(row.submissions.values_list("user_id", flat=True))
    stamp = iso(now)
    SandboxLmsSubmission.objects.bulk_create(
        [
            SandboxLmsSubmission(
                assignment=row,
                user_id=user_id,
                data={
                    "id": new_id(now.timestamp()),
                    "assignment_id": str(row.id),
                    "user_id": user_id,
                    "state": "created",
                    "grade": None,
                    "grade_points": 0.0,
                    "grade_comment": None,
                    "grader_id": None,
                    "flags": [],
                    "extra_attempts": 0,
                    "override_due_date": None,
                    "attachments": [],
                    "created": stamp,
                    "last_modified": stamp,
                },
            )
            for user_id in user_ids
            if user_id not in existing
        ]
    )


@transaction.atomic
def create_assignment(*, token: SandboxToken, section_id: str, body: bytes) -> dict:
    district = district_of(token)
    request = decode_request(body, ASSIGNMENT_REQUEST)
    validate_assignment_request(request)
    section = find_section(district, section_id)
    require_lms(district, section)
    now = sandbox_now()
    assignment_id = str(uuid.uuid4())
    data = _blank_assignment(assignment_id, now)
    _apply_assignment_fields(data, request)
    _check_assignment(
        district=district, section=section, request=request, merged=data, now=now, previous_due=None
    )
    if district.lms_type == LmsType.CANVAS or not request.get("state"):
        data["state"] = derived_state(data, now)
    row = SandboxLmsAssignment.objects.create(
        id=assignment_id, district=district, section_id=section_id, data=data, created=now
    )
    _add_submissions(row, _assignees(district, section_id, data), now)
    return assignment_json(row, district.lms_type)


def get_assignment(*, token: SandboxToken, section_id: str, assignment_id: str) -> dict:
    district = district_of(token)
    find_section(district, section_id)
    row = find_assignment(district, section_id, assignment_id)
    return assignment_json(row, district.lms_type)


@transaction.atomic
def update_assignment(*, token: SandboxToken, section_id: str, assignment_id: str, body: bytes) -> dict:
    district = district_of(token)
    request = decode_request(body, ASSIGNMENT_REQUEST)
    validate_assignment_request(request)
    section = find_section(district, section_id)
    row = find_assignment(district, section_id, assignment_id, lock=True)
    require_lms(district, section)
    now = sandbox_now()
    data = copy.deepcopy(row.data)
    previous_due = data.get("due_date")
    _apply_assignment_fields(data, request)
    _check_assignment(
        district=district, section=section, request=request, merged=data, now=now, previous_due=previous_due
    )
    if district.lms_type == LmsType.CANVAS:
        data["state"] = derived_state(data, now)
    data["last_modified"] = iso(now)
    row.data = data
    row.save(update_fields=["data"])
    _add_submissions(row, _assignees(district, section_id, data), now)
    return assignment_json(row, district.lms_type)


@transaction.atomic
def delete_assignment(*, token: SandboxToken, section_id: str, assignment_id: str) -> None:
    district = district_of(token)
    section = find_section(district, section_id)
    row = find_assignment(district, section_id, assignment_id, lock=True)
    require_lms(district, section)
    row.delete()
