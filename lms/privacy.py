"""What LMS Connect erases when a district's roster is purged (docs/data-lifecycle.md)."""

from __future__ import annotations

from core import events
from rostering.events import RosterPurging

from .models import LmsCourse


@events.subscribe(RosterPurging, atomic=True)
def erase_lms_courses(event: RosterPurging) -> dict:
    """The district's LMS courses go, with their audit rows: their names were typed by the
    district's teachers (a course may be named after one), and the classes and people they point
    to are purged too. Assignments and their audits go with their sections."""
    return {
        "lms_courses": LmsCourse.objects.filter(district_id=event.district_id)
        .delete()[1]
        .get("lms.LmsCourse", 0)
    }
