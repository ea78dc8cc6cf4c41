"""A request id for every web request: the one the proxy sent in ``X-Request-ID`` when it is a
safe token (letters, digits, ``-``, ``_``, ``.``; at most 64), otherwise a fresh uuid4. It is
kept in a context variable while the request is handled, so every log line written meanwhile
carries it (``config.observability.LogContextFilter``) and so does a Sentry event (a tag), and it
is sent back in the response's ``X-Request-ID`` header: support can ask for it and find the
request's log lines. An unsafe incoming value is never echoed or logged (it could be anything a
client chose to send, a token or a name included).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from contextvars import ContextVar

from django.http import HttpRequest, HttpResponseBase

HEADER = "X-Request-ID"
SAFE_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")

_request_id: ContextVar[str | None] = ContextVar("request_id", default=None)


def current_request_id() -> str | None:
    """The id of the request being handled in this context, or None (a task, a command)."""
    return _request_id.get()


def choose_request_id(incoming: str | None) -> str:
    """``incoming`` if it is a safe token, otherwise a new uuid4."""
    if incoming and SAFE_REQUEST_ID.fullmatch(incoming):
        return incoming
    return str(uuid.uuid4())


class RequestIdMiddleware:
    """Sets the request id for the time the request is handled and returns it in the response."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        request_id = choose_request_id(request.headers.get(HEADER))
        token = _request_id.set(request_id)
        try:
            response = self.get_response(request)
        finally:
            _request_id.reset(token)
        response[HEADER] = request_id
        return response
