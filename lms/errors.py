"""The errors LMS Connect raises to its callers (pages, admin actions)."""

from core.errors import AppError


class LmsInputError(AppError, ValueError):
    """A product-side value the LMS could never accept (bad grading type, unknown flag...)."""


class GradesRefused(LmsInputError):
    """Some grades cannot be taken; nothing was saved. ``problems`` maps the caller's key of
    each refused grade (a student, a CSV line) to plain words."""

    problems: dict

    def __init__(self, problems: dict):
        super().__init__(f"{len(problems)} grade(s) refused; nothing was saved.", problems=problems)
