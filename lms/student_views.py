"""A student's pages: one of their classes (its teachers, its assignments by due date and their
own grades) and one assignment of it (what to do, when it is due, their own grade and comment).

Only a student of the class in the mirror (a student ``SectionMembership`` of a live ``Person``
linked to the signed-in account) sees them; anyone else, a teacher included, gets 404. A grade
shows once it is released: approved by the teacher, or changed by them in the LMS (which wins
there); never a draft, never another student's.
"""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import render
from django.views.decorators.http import require_GET

from rostering.models import Section

from . import selectors
from .models import Assignment, GradingType


def _section_for_student(request, section_id: int) -> Section:
    section = selectors.student_section(request.user, section_id)
    if section is None:
        raise Http404("No such class")
    return section


def _points_possible(assignment: Assignment) -> str:
    """ "10", or "" when points say nothing (pass/fail grading, or none set)."""
    if assignment.points_possible is None or assignment.grading_type == GradingType.PASS_FAIL:
        return ""
    return f"{assignment.points_possible:g}"


@login_required
@require_GET
def student_class(request, section_id: int):
    section = _section_for_student(request, section_id)
    return render(
        request, "lms/student_class.html", {"page": selectors.student_class_page(request.user, section)}
    )


@login_required
@require_GET
def student_assignment(request, section_id: int, assignment_id: int):
    section = _section_for_student(request, section_id)
    item = selectors.student_assignment(request.user, section, assignment_id)
    if item is None:
        raise Http404("No such assignment")
    return render(
        request,
        "lms/student_assignment.html",
        {
            "section": section,
            "item": item,
            "lms_name": selectors.LMS_NAMES.get(section.district.lms_type, ""),
            "points_possible": _points_possible(item.assignment),
        },
    )
