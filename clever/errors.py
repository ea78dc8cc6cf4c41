"""Errors of the Clever client, one type per way a call can fail.

Every error is a :class:`CleverError` carrying ``status`` (``None`` when no HTTP answer came
back), ``method``, ``url`` (the request path only: never the query string, never a token or a
code) and ``message`` (Clever's own words when it gave some). ``retryable`` tells a task whether
trying again later can help (429 and 5xx can; 400, 401, 404, 413 and broken answers cannot).

Callers catch by meaning:

- :class:`AuthError` (401): the token is revoked or invalid; look the district token up again.
- :class:`NotFound` (404): unshared, deleted, or the wrong kind of token.
- :class:`RateLimited` (429): still limited after the client waited as long as it may.
- :class:`ServerError` (5xx, or no answer at all: :class:`ConnectionFailed`), after retries.
- :class:`BadRequest` (400), :class:`Forbidden` (403), :class:`PayloadTooLarge` (413),
  :class:`Unsupported` (501).
- :class:`BadResponse`: HTML where JSON was expected, JSON cut short, a broken envelope.
- :class:`OAuthError` and its kinds: an ``{"error", "error_description"}`` answer from
  ``/oauth/*``; :class:`InvalidGrant` is a code that expired or was already exchanged.
"""

from __future__ import annotations

from core.errors import AppError


class CleverError(AppError):
    """A call to Clever failed. Safe to log: it never holds a token, a code or a query string."""

    retryable = False
    status: int | None
    method: str
    url: str
    body: str

    def __init__(
        self,
        message: str = "",
        *,
        status: int | None = None,
        method: str = "",
        url: str = "",
        body: str = "",
        **extras,
    ):
        # ``body``: the start of an error answer's body, for support staff. Only error bodies
        # are kept (Clever's messages); a 2xx body, which may hold tokens or student data,
        # never is.
        super().__init__(message, status=status, method=method, url=url, body=body[:500], **extras)
        self.args = (self._describe(),)

    def _describe(self) -> str:
        where = " ".join(part for part in (self.method, self.url) if part)
        status = f"HTTP {self.status}" if self.status is not None else "no response"
        prefix = f"{where}: {status}" if where else status
        return f"{prefix}: {self.message}" if self.message else prefix


class AuthError(CleverError):
    """401: the token (or the app's client credentials) is invalid or revoked. Never retried."""


class BadRequest(CleverError):
    """400 with Clever's ``{"message": ...}``: fix the request, do not retry."""


# Clever's documentation calls its 400 answers validation failures (LMS Connect especially).
ValidationError = BadRequest


class Forbidden(CleverError):
    """403: the token may not do this (e.g. Events while a district has them switched off)."""


class NotFound(CleverError):
    """404: the record is unshared, deleted, or was asked for with the wrong kind of token."""


class PayloadTooLarge(CleverError):
    """413: the ``limit`` was over 10,000."""


class RateLimited(CleverError):
    """429 after the client waited as long as it may (or used up its retries)."""

    retryable = True
    # When the limit resets (epoch seconds), when Clever said: ``RateLimited(..., reset_at=...)``.
    reset_at: float | None = None


class ServerError(CleverError):
    """5xx from Clever after every retry was used."""

    retryable = True


class ConnectionFailed(ServerError):
    """No answer at all (connection refused or reset, timeout) after every retry."""


class Unsupported(CleverError):
    """501: Clever does not support this request. Never retried."""


class BadResponse(CleverError):
    """Clever's answer could not be used: an HTML page, JSON cut short, a broken envelope."""


class UnreadableAnswer(BadResponse):
    """A 2xx whose body is not JSON or is JSON cut short, after every retry: usually a
    connection dropped mid-body or an edge's error page, so worth trying again later."""

    retryable = True


class HtmlServerError(ServerError, BadResponse):
    """A 5xx whose body was an HTML error page (a gateway's), after every retry: both a
    server error (worth trying later) and a response that was not JSON."""


class OAuthError(CleverError):
    """An error from ``/oauth/*`` in OAuth's shape: ``{"error", "error_description"}``."""

    # OAuth's error code (``invalid_grant``...): ``OAuthError(..., error=...)``.
    error: str = ""


class InvalidGrant(OAuthError):
    """The authorization code expired (after about a minute) or was already exchanged."""


class InvalidClient(OAuthError, AuthError):
    """The app's client ID or secret was refused (401 on ``/oauth/tokens``)."""
