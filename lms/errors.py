"""The errors LMS Connect raises to its callers (pages, admin actions)."""


class LmsInputError(ValueError):
    """A product-side value the LMS could never accept (bad grading type, unknown flag...)."""


class GradesRefused(LmsInputError):
    """Some grades cannot be taken; nothing was saved. ``problems`` maps the caller's key of
    each refused grade (a student, a CSV line) to plain words."""

    def __init__(self, problems: dict):
        self.problems = problems
        super().__init__(f"{len(problems)} grade(s) refused; nothing was saved.")
