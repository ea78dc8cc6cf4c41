"""The one base of the errors this application raises on purpose.

An ``AppError`` is a refusal or a failure the code expected: its ``message`` is written for a
person and is safe to show support staff or to store on a run (it never holds a token, a code
or a child's data), and its ``extras`` are the structured facts beside it (an HTTP status, a
retry time, a file's problems by line), each also readable as an attribute. Code that stores or
shows "an error we know the shape of" catches ``AppError``; any other exception is a bug and is
reported by its type and first line only (see ``safe_summary``).

Subclasses keep their meaning-bearing types (``clever.errors.RateLimited``,
``districts.services.LinkError``, ...) and, where callers catch them as such, ``ValueError``
as a second base.
"""

from __future__ import annotations

from typing import Any


class AppError(Exception):
    message: str
    extras: dict[str, Any]

    def __init__(self, message: str = "", **extras: Any):
        super().__init__(message)
        self.message = message
        self.extras = extras
        for name, value in extras.items():
            setattr(self, name, value)

    def __reduce__(self):
        # Keep the extras when the error crosses a process (Celery results), whatever the
        # subclass's own ``__init__`` takes.
        return (_rebuild, (type(self), self.args, self.__dict__.copy()))


def _rebuild(cls: type[AppError], args: tuple, state: dict) -> AppError:
    error = cls.__new__(cls)
    error.args = args
    error.__dict__.update(state)
    return error


def safe_summary(exc: BaseException, *, limit: int = 500) -> str:
    """Words about ``exc`` that are safe to store: an ``AppError``'s own text, otherwise the
    type and the first line only (a database error puts row values, which may be a child's
    data, on the lines after it)."""
    if isinstance(exc, AppError):
        return str(exc)[:limit]
    text = str(exc).strip()
    first = text.splitlines()[0] if text else ""
    return f"{type(exc).__name__}: {first}"[: min(limit, 300)]
