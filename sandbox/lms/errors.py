"""The one exception every refusal of the local LMS Connect raises."""


class LmsError(Exception):
    """A refusal: the view answers ``status`` with ``{"message": message}``."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


def bad(message: str) -> LmsError:
    """A 400 refusal."""
    return LmsError(400, message)
