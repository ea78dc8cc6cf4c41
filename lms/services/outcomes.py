"""What one push or pull did (``Report``), and how a failure talking to Clever is classified,
put in plain words for the teacher and support, and recorded on the assignment's link.

Logs and reports carry IDs and counts only: never a token, a grade or a name.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import asdict, dataclass

import requests
from django.utils import timezone

from clever.client import ClientStats
from clever.errors import (
    AuthError,
    BadResponse,
    CleverError,
    ConnectionFailed,
    HtmlServerError,
    NotFound,
    RateLimited,
    ServerError,
)
from districts.services import NoToken, forget_cached_token
from districts.session import DistrictSession

from ..models import CleverAssignment, Problem

logger = logging.getLogger(__name__)


@dataclass
class Report:
    """What one push or pull did (counts and IDs only: safe to log and return from tasks)."""

    assignment: int
    # ok | partial (some grades refused) | blocked | refused | temporary | unknown | busy |
    # token | token_rotated | deleted | skipped (pull of an unlinked assignment)
    outcome: str = "ok"
    created: bool = False
    updated: bool = False
    deleted: bool = False
    sent: int = 0
    unchanged: int = 0
    kept_lms_edits: int = 0
    lms_edits_found: int = 0
    not_in_lms: int = 0
    errors: int = 0
    pages: int = 0
    restarts: int = 0
    retryable: bool = False
    message: str = ""
    requests: int = 0
    rate_limited: int = 0  # 429 answers received

    def as_dict(self) -> dict:
        return asdict(self)


def count_requests(report: Report, session: DistrictSession, *, since: ClientStats) -> None:
    """Put on ``report`` the requests sent with the district's token since ``since`` (a
    ``session.stats(token_lookups=False)``) and the 429 answers among them."""
    now = session.stats(token_lookups=False)
    report.requests = now.requests - since.requests
    report.rate_limited = now.rate_limited - since.rate_limited


_HINTS: tuple[tuple[Callable[[str], bool], str], ...] = (
    (
        lambda m: "due_date must be in the future" in m,
        "The due date is in the past. Choose a later due date, then sync again.",
    ),
    (
        lambda m: m.startswith("missing required field"),
        "Some details the LMS requires are missing (title, description or due date).",
    ),
    (lambda m: "is not synced in the LMS" in m, "This class is not synced with the district's LMS yet."),
    (
        lambda m: m.startswith("LMS Connect is not available"),
        "The district's LMS connection is not available right now.",
    ),
    (
        lambda m: m.startswith("unsupported field(s) for Canvas"),
        "Canvas does not support one of the dates set on this assignment.",
    ),
    (lambda m: m.startswith("validation failure list"), "The LMS refused one of the assignment's settings."),
)


def plain_refusal(exc: CleverError) -> str:
    """Clever's refusal in plain words, with Clever's own message after them."""
    message = (exc.message or "").strip()
    hint = next((text for test, text in _HINTS if test(message)), "The LMS refused it.")
    return f"{hint} (Clever: “{message or f'HTTP {exc.status}'}”)"[:500]


def classify(exc: Exception) -> tuple[str, bool, str]:
    """(problem, retryable, plain words) for a failure talking to Clever."""
    if isinstance(exc, NoToken):
        return (
            Problem.TOKEN,
            False,
            ("Clever no longer shares this district with us (no district token), so nothing can be sent."),
        )
    if isinstance(exc, AuthError):
        return Problem.TOKEN, False, "Clever refused the district's token (401). Support has to check it."
    if isinstance(exc, RateLimited):
        return Problem.TEMPORARY, True, "Clever asked us to slow down; we will try again automatically."
    if isinstance(exc, ServerError):
        status = f" (HTTP {exc.status})" if exc.status else ""
        return (
            Problem.TEMPORARY,
            True,
            f"Clever is not answering right now{status}; we will try again automatically.",
        )
    if isinstance(exc, NotFound):
        return (
            Problem.REFUSED,
            False,
            (
                "Clever does not know this class or assignment any more "
                f"(404: “{exc.message}”). It may have been deleted in the LMS."
            ),
        )
    if isinstance(exc, CleverError) and exc.status is not None and 400 <= exc.status < 500:
        return Problem.REFUSED, False, plain_refusal(exc)
    return Problem.REFUSED, False, f"Clever's answer could not be used ({type(exc).__name__})."


def create_surely_not_done(exc: CleverError) -> bool:
    """Whether a failed POST certainly created nothing (so it may be sent again)."""
    if isinstance(exc, ConnectionFailed):
        return isinstance(exc.__cause__, requests.ConnectTimeout)
    if isinstance(exc, HtmlServerError):
        return False  # a gateway's page: the LMS may have acted behind it
    if isinstance(exc, ServerError):
        return exc.status is not None  # Clever's own JSON error answer [inferred: atomic]
    if isinstance(exc, BadResponse):
        return False  # a 2xx we could not read: it was created
    return exc.status is not None and 400 <= exc.status < 500


def failure_detail(exc: Exception) -> str:
    """The failure as support sees it (Clever's texts never hold a token)."""
    return str(exc)[:500]


def clear_problem(link: CleverAssignment) -> None:
    """Forget the link's last problem (the caller saves the link)."""
    link.problem, link.problem_message, link.problem_detail, link.problem_at = "", "", "", None


def save_problem(link: CleverAssignment, problem: str, message: str, detail: str = "") -> None:
    link.problem, link.problem_message, link.problem_detail = problem, message[:500], detail[:500]
    link.problem_at = timezone.now() if problem else None
    link.save(update_fields=["problem", "problem_message", "problem_detail", "problem_at"])


def fail(link: CleverAssignment, report: Report, exc: Exception, session: DistrictSession) -> None:
    """Record a failed push on the link and the report; a 401 re-checks the token, and a
    rotated one makes the push worth trying again (``token_rotated``)."""
    problem, retryable, message = classify(exc)
    rotated = isinstance(exc, AuthError) and session.recheck_token()
    if rotated:
        retryable, message = True, "Clever refused the old district token; trying again with the new one."
    if isinstance(exc, NoToken):
        forget_cached_token(session.district)
    save_problem(link, problem, message, failure_detail(exc))
    report.outcome = (
        "token" if problem == Problem.TOKEN else ("temporary" if problem == Problem.TEMPORARY else "refused")
    )
    if rotated:
        report.outcome = "token_rotated"
    report.retryable, report.message = retryable, message
    logger.warning("lms: assignment %s: %s (%s)", link.assignment_id, report.outcome, failure_detail(exc))
