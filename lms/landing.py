"""The classes panel of a teacher's landing page (``accounts.landing``)."""

from __future__ import annotations

from accounts import landing

from . import selectors


@landing.provider
def classes(request) -> landing.Panel | None:
    if not selectors.sections_taught_by(request.user).exists():
        return None
    return landing.Panel("lms/_landing_classes.html", order=20)
