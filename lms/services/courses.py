"""The LMS courses people open the app from (``LmsCourse``): recording each launch's course and
the teachers seen launching it, a teacher setting a course up as one of their classes, and
support clearing that.

Which class a course is changes where everyone launching from it lands, so the choice is audited
(``LmsAudit``, beside ``linked_by``/``linked_at`` for the pages): who chose, the section before
and after. Only a teacher seen launching from the course may choose, only among their own live
classes, and never over a live class they do not teach (a co-teacher of another class would move
its students).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from django.db import transaction
from django.utils import timezone

from core.models import person_label
from districts.models import District
from rostering.models import Person, Section

from .. import selectors
from ..errors import LmsInputError
from ..models import LmsAudit, LmsCourse

if TYPE_CHECKING:
    from ..launch import Launch

logger = logging.getLogger(__name__)

NOT_A_TEACHER_OF_IT = "Only a teacher who opened this app from the class can set it up."
NOT_YOUR_CLASS = "That class is not one of yours: choose one of your classes."
SET_UP_BY_ANOTHER = (
    "This class is already set up as another teacher's class. Ask them to change it, or ask "
    "support to clear it."
)


def record_launch(*, district: District, launch: Launch, people: list[Person]) -> LmsCourse | None:
    """Record the launch's course (created the first time, its names refreshed each time) and,
    for a launch as a teacher, the person among ``people`` who teaches; None when the launch
    names no course (no deployment or course id)."""
    if not (launch.deployment_id and launch.context_id):
        return None
    now = timezone.now()
    course, _created = LmsCourse.objects.get_or_create(
        district=district,
        platform_guid=launch.platform_guid,
        deployment_id=launch.deployment_id,
        context_id=launch.context_id,
        defaults={"first_seen_at": now},
    )
    # A course renamed in the LMS is shown by its new name; a launch without names keeps the old.
    course.title = launch.context_title or course.title
    course.label = launch.context_label or course.label
    course.platform_name = launch.platform_name or course.platform_name
    course.product_family = launch.product_family or course.product_family
    course.clever_section_id = launch.clever_section_id
    course.last_launch_at = now
    course.save(
        update_fields=[
            "title",
            "label",
            "platform_name",
            "product_family",
            "clever_section_id",
            "last_launch_at",
        ]
    )
    if launch.role == "teacher":
        course.teachers_seen.add(*[p for p in people if p.is_teacher])
    return course


def _link_problem(course: LmsCourse, section: Section, teacher: Person) -> str:
    """Why ``teacher`` may not set ``course`` up as ``section``, in their words ("" when they may)."""
    if (
        teacher.district_id != course.district_id
        or teacher.archived_at is not None
        or not course.teachers_seen.filter(pk=teacher.pk).exists()
    ):
        return NOT_A_TEACHER_OF_IT
    if (
        section.district_id != course.district_id
        or section.archived_at is not None
        or not selectors.teaches([teacher], section)
    ):
        return NOT_YOUR_CLASS
    if not selectors.may_change_link(course, [teacher]):
        return SET_UP_BY_ANOTHER
    return ""


@transaction.atomic
def link_course(*, course: LmsCourse, section: Section, teacher: Person) -> LmsCourse:
    """Remember that ``course`` is ``section``: from now on everyone launching from it lands in
    that class. Audited; ``LmsInputError`` (in words for the teacher) when not allowed."""
    course = LmsCourse.objects.select_for_update().get(pk=course.pk)
    problem = _link_problem(course, section, teacher)
    if problem:
        raise LmsInputError(problem)
    before = course.section.clever_id if course.section is not None else ""
    course.section = section
    course.linked_by = teacher
    course.linked_at = timezone.now()
    course.save(update_fields=["section", "linked_by", "linked_at"])
    LmsAudit.objects.create(
        course=course,
        action=LmsAudit.Action.COURSE_LINKED,
        actor=teacher.user,
        actor_label=person_label(teacher.user, "teacher"),
        details={
            "section": section.clever_id,
            "section_before": before,
            "teacher": teacher.clever_id,
            "context_id": course.context_id,
        },
    )
    logger.info("lms: course %s set up as section %s by teacher %s", course.pk, section.pk, teacher.pk)
    return course


@transaction.atomic
def clear_course_link(*, course: LmsCourse, actor, reason: str) -> LmsCourse:
    """Support forgets which class ``course`` is (a wrong choice): launches from it go back to
    asking its teacher. Audited with the reason."""
    course = LmsCourse.objects.select_for_update().get(pk=course.pk)
    if course.section is None:
        raise LmsInputError("This course is not set up as a class: there is nothing to clear.")
    before = course.section.clever_id
    course.section = None
    course.linked_by = None
    course.linked_at = None
    course.save(update_fields=["section", "linked_by", "linked_at"])
    LmsAudit.objects.create(
        course=course,
        action=LmsAudit.Action.COURSE_LINK_CLEARED,
        actor=actor,
        actor_label=person_label(actor),
        details={"section_before": before, "context_id": course.context_id, "reason": reason},
    )
    logger.info("lms: course %s no longer set up as section (cleared by support)", course.pk)
    return course
