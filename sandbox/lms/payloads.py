"""What a request carries, as Clever's Swagger defines it: the request models (as Go types, for
``go_decode``), their go-swagger validation and the ``limit`` query parameter.

Validation is go-swagger's: one line per failing property, properties in alphabetical order
(``validation failure list:\\nsubmission_types.0 in body should be one of [link file text
discussion]``). Empty strings are not checked (go-swagger skips zero values of optional fields).
``state`` is accepted in an AssignmentRequest although the Swagger's model lacks it (Clever's
docs talk about setting it). Submission attachments accept ``type`` [file link text] and a
``text`` field: Clever's "Submitting Schoology Submissions" page uses them although the Swagger's
AttachmentRequest only lists ``file``.

``limit`` is parsed like Go's ``strconv.ParseInt`` and range-checked like go-openapi (``limit in
query should be less than or equal to 100`` / ``... greater than or equal to 1``). Default: 100
(the spec gives none; 100 is the maximum and the Data API's default).
"""

from .errors import bad
from .go_decode import DATETIME, FLOAT32, INT64, STRING, array_of, enum_type, struct_type
from .go_strconv import parse_int64

DEFAULT_LIMIT = 100
MAX_LIMIT = 100

ASSIGNMENT_STATES = ["draft", "scheduled", "open", "locked"]
GRADING_TYPES = ["points", "percent", "pass_fail", "letter_grade"]
SUBMISSION_TYPES = ["link", "file", "text", "discussion"]
ASSIGNEE_MODES = ["all", "individuals"]
SUBMISSION_STATES = ["created", "submitted", "returned", "reclaimed"]
SUBMISSION_FLAGS = ["excused", "late", "missing"]
ASSIGNMENT_ATTACHMENT_TYPES = ["file"]
SUBMISSION_ATTACHMENT_TYPES = ["file", "link", "text"]

_ASSIGNMENT_ATTACHMENT = struct_type(
    "AttachmentRequest",
    {
        "description": STRING,
        "title": STRING,
        "type": STRING,
        "url": STRING,
    },
)
_SUBMISSION_ATTACHMENT = struct_type(
    "AttachmentRequest",
    {
        "description": STRING,
        "text": STRING,
        "title": STRING,
        "type": STRING,
        "url": STRING,
    },
)
ASSIGNMENT_REQUEST = struct_type(
    "AssignmentRequest",
    {
        "assignee_ids": array_of(STRING),
        "assignee_mode": enum_type("AssigneeMode"),
        "attachments": array_of(_ASSIGNMENT_ATTACHMENT),
        "description": STRING,
        "description_plaintext": STRING,
        "display_date": DATETIME,
        "due_date": DATETIME,
        "end_date": DATETIME,
        "grading_type": enum_type("GradingType"),
        "max_attempts": INT64,
        "points_possible": FLOAT32,
        "start_date": DATETIME,
        "state": enum_type("AssignmentState"),
        "submission_types": array_of(enum_type("SubmissionType")),
        "term_id": STRING,
        "title": STRING,
    },
)
SUBMISSION_REQUEST = struct_type(
    "SubmissionRequest",
    {
        "attachments": array_of(_SUBMISSION_ATTACHMENT),
        "extra_attempts": INT64,
        "flags": array_of(enum_type("SubmissionFlag")),
        "grade": STRING,
        "grade_comment": STRING,
        "grade_points": FLOAT32,
        "grader_id": STRING,
        "override_due_date": DATETIME,
        "state": enum_type("SubmissionState"),
    },
)


def _enum_line(name: str, value: str, allowed: list[str]) -> str | None:
    if value == "" or value in allowed:
        return None
    return f"{name} in body should be one of [{' '.join(allowed)}]"


def _first(lines) -> str | None:
    return next((line for line in lines if line), None)


def _validate(checks: list[tuple[str, str | None]]) -> None:
    failures = [line for _, line in sorted(checks, key=lambda check: check[0]) if line]
    if failures:
        raise bad("validation failure list:\n" + "\n".join(failures))


def _attachment_lines(name: str, attachments, allowed: list[str]) -> str | None:
    return _first(
        _enum_line(f"{name}.{i}.type", attachment.get("type", ""), allowed)
        for i, attachment in enumerate(attachments or [])
        if attachment
    )


def validate_assignment_request(data: dict) -> None:
    _validate(
        [
            ("assignee_mode", _enum_line("assignee_mode", data.get("assignee_mode", ""), ASSIGNEE_MODES)),
            (
                "attachments",
                _attachment_lines("attachments", data.get("attachments"), ASSIGNMENT_ATTACHMENT_TYPES),
            ),
            ("grading_type", _enum_line("grading_type", data.get("grading_type", ""), GRADING_TYPES)),
            ("state", _enum_line("state", data.get("state", ""), ASSIGNMENT_STATES)),
            (
                "submission_types",
                _first(
                    _enum_line(f"submission_types.{i}", value, SUBMISSION_TYPES)
                    for i, value in enumerate(data.get("submission_types") or [])
                ),
            ),
        ]
    )


def validate_submission_request(data: dict) -> None:
    _validate(
        [
            (
                "attachments",
                _attachment_lines("attachments", data.get("attachments"), SUBMISSION_ATTACHMENT_TYPES),
            ),
            (
                "flags",
                _first(
                    _enum_line(f"flags.{i}", value, SUBMISSION_FLAGS)
                    for i, value in enumerate(data.get("flags") or [])
                ),
            ),
            ("state", _enum_line("state", data.get("state", ""), SUBMISSION_STATES)),
        ]
    )


def parse_limit(values: list[str]) -> int:
    """``?limit=`` as wag parses (strconv.ParseInt) and go-openapi validates it."""
    if not values:
        return DEFAULT_LIMIT
    limit = parse_int64(values[0])
    if limit > MAX_LIMIT:
        raise bad(f"limit in query should be less than or equal to {MAX_LIMIT}")
    if limit < 1:
        raise bad("limit in query should be greater than or equal to 1")
    return limit
