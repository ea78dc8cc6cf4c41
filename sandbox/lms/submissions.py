"""Submissions through the API: a page of an assignment's submissions, one submission, a grade.

  - PATCH sets any of ``grade`` (string), ``grade_points`` (float32), ``grade_comment``,
    ``grader_id``, ``flags`` (replaces the list), ``extra_attempts``, ``override_due_date``,
    ``attachments``, ``state``; absent or ``null`` = unchanged. No state-transition rules and
    no grade/points consistency checks (Clever documents none).
  - Schoology refuses ``link`` attachments with Clever's documented text ``Schoology does not
    support submission type of link``. Not emulated: Schoology's 500 ``Error updating
    submission`` for a student who never launched the app's LTI link.

Paging: ``{"data": [Submission, ...], "links": [{"rel": "next", "uri": ...}]}``, items not
wrapped in ``{"data": ...}``, ``links`` omitted on the last page, no ``prev``. The next ``uri``
is relative to the API base, like every Clever link:
``/v3.1/sections/<sid>/assignments/<aid>/submissions?cursor=<c>&limit=<n>``. The cursor is a
``django.core.signing`` value carrying the assignment, the last user id served and the time the
link was issued (sandbox clock); it is valid for two hours after that request. A cursor that
fails the signature or belongs to another assignment: 400 ``invalid cursor``; an expired one:
400 ``cursor has expired: submissions links are valid for two hours``.
"""

import copy
from datetime import datetime
from urllib.parse import urlencode

from django.core import signing
from django.db import transaction

from ..knobs import KNOBS
from ..models import LmsType, SandboxToken
from ..services import iso
from .errors import bad
from .go_decode import decode_request
from .lookups import district_of, find_assignment, find_section, find_submission, require_lms
from .payloads import SUBMISSION_REQUEST, parse_limit, validate_submission_request
from .serialization import sandbox_now, submission_json

CURSOR_TTL_SECONDS = 2 * 60 * 60
CURSOR_SALT = "sandbox.lms.submissions-cursor"
MSG_INVALID_CURSOR = "invalid cursor"
MSG_EXPIRED_CURSOR = "cursor has expired: submissions links are valid for two hours"
MSG_SCHOOLOGY_LINK = "Schoology does not support submission type of link"


def _cursor(assignment_id: str, last_user_id: str, now: float) -> str:
    return signing.dumps({"a": assignment_id, "u": last_user_id, "t": int(now)}, salt=CURSOR_SALT)


def _read_cursor(cursor: str, assignment_id: str, now: float) -> str:
    """The last user id the previous page served."""
    try:
        payload = signing.loads(cursor, salt=CURSOR_SALT)
    except signing.BadSignature:
        raise bad(MSG_INVALID_CURSOR) from None
    if not isinstance(payload, dict) or payload.get("a") != assignment_id:
        raise bad(MSG_INVALID_CURSOR)
    issued = payload.get("t")
    if not isinstance(issued, int) or now - issued > CURSOR_TTL_SECONDS:
        raise bad(MSG_EXPIRED_CURSOR)
    return str(payload.get("u", ""))


def list_submissions(
    *,
    token: SandboxToken,
    section_id: str,
    assignment_id: str,
    cursor: str | None,
    limit_values: list[str],
) -> dict:
    """One page: ``{"data": [...], "links": [{"rel": "next", "uri": ...}]}``."""
    district = district_of(token)
    limit = parse_limit(limit_values)
    find_section(district, section_id)
    row = find_assignment(district, section_id, assignment_id)
    now = KNOBS.clock()
    rows = row.submissions.order_by("user_id")
    if cursor:
        rows = rows.filter(user_id__gt=_read_cursor(cursor, str(row.id), now))
    page = list(rows[: limit + 1])
    body: dict = {"data": [submission_json(s, district.lms_type) for s in page[:limit]]}
    if len(page) > limit:
        query = urlencode({"cursor": _cursor(str(row.id), page[limit - 1].user_id, now), "limit": limit})
        body["links"] = [
            {
                "rel": "next",
                "uri": f"/v3.1/sections/{section_id}/assignments/{row.id}/submissions?{query}",
            }
        ]
    return body


def get_submission(*, token: SandboxToken, section_id: str, assignment_id: str, user_id: str) -> dict:
    district = district_of(token)
    find_section(district, section_id)
    row = find_assignment(district, section_id, assignment_id)
    return submission_json(find_submission(row, user_id), district.lms_type)


def _apply_submission_fields(data: dict, request: dict) -> None:
    for key, value in request.items():
        if isinstance(value, datetime):
            value = iso(value)
        elif key == "override_due_date" and value == "":
            continue
        if key == "attachments":
            value = [
                {k: a.get(k) for k in ("type", "title", "description", "url", "text")} for a in value if a
            ]
        data[key] = value


@transaction.atomic
def update_submission(
    *, token: SandboxToken, section_id: str, assignment_id: str, user_id: str, body: bytes
) -> dict:
    district = district_of(token)
    request = decode_request(body, SUBMISSION_REQUEST)
    validate_submission_request(request)
    section = find_section(district, section_id)
    assignment = find_assignment(district, section_id, assignment_id)
    row = find_submission(assignment, user_id, lock=True)
    require_lms(district, section)
    if district.lms_type == LmsType.SCHOOLOGY and any(
        (a or {}).get("type") == "link" for a in request.get("attachments") or []
    ):
        raise bad(MSG_SCHOOLOGY_LINK)
    data = copy.deepcopy(row.data)
    _apply_submission_fields(data, request)
    data["last_modified"] = iso(sandbox_now())
    row.data = data
    row.save(update_fields=["data"])
    return submission_json(row, district.lms_type)
