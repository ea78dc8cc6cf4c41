"""The panels of a teacher's and a student's landing page (``accounts.landing``): a teacher's
classes, and a student's classes with their assignments and own grades."""

from __future__ import annotations

from accounts import landing

from . import selectors


@landing.provider
def classes(request) -> landing.Panel | None:
    sections = list(selectors.sections_taught_by(request.user).order_by("name"))
    if not sections:
        return None
    return landing.Panel("lms/_landing_classes.html", {"sections": sections}, order=20)


@landing.provider
def student_assignments(request) -> landing.Panel | None:
    classes = selectors.student_classes(request.user)
    if not classes:
        return None
    # Where work is handed in, said once: a student's classes are nearly always in one LMS.
    lms_names = " or ".join(sorted({c.lms for c in classes if c.lms}))
    return landing.Panel("lms/_landing_student.html", {"classes": classes, "lms_names": lms_names}, order=20)
