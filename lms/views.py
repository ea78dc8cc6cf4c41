"""The teacher's LMS page for a section: assignments with their LMS status, the "Sync to LMS"
button, each student's grade push status, and problems in plain words.

Only a signed-in teacher of the section in the mirror may see it (``Person.user`` is the
signed-in user and a teacher ``SectionMembership`` links them to the section); anyone else gets
404, so the page does not reveal which sections exist. Views are thin: one selector or service.
"""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from core.forms import ReasonForm
from rostering.models import Section

from . import selectors, services
from .models import Assignment, SubmissionSync


def _section_for_teacher(request, section_id: int) -> Section:
    section = get_object_or_404(Section.objects.select_related("district"), pk=section_id,
                                archived_at=None)
    if selectors.teacher_person(request.user, section) is None:
        raise Http404("No such section")
    return section


def _assignment_for_teacher(request, assignment_id: int) -> Assignment:
    assignment = get_object_or_404(
        Assignment.objects.select_related("section__district", "clever"), pk=assignment_id,
        deleted_at=None,
    )
    _section_for_teacher(request, assignment.section_id)
    return assignment


@login_required
@require_GET
def sections_page(request):
    return render(request, "lms/sections.html", {
        "sections": selectors.sections_taught_by(request.user).order_by("name"),
    })


@login_required
@require_GET
def section_page(request, section_id: int):
    section = _section_for_teacher(request, section_id)
    rows = [
        {"assignment": a, "status": selectors.lms_status_text(a),
         "counts": selectors.push_counts(a)}
        for a in selectors.section_assignments(section)
    ]
    return render(request, "lms/section.html", {
        "section": section,
        "rows": rows,
        "blocker": selectors.section_blocker(section),
        "lms_name": selectors.lms_name(section.district.lms_type),
    })


@login_required
@require_GET
def assignment_page(request, assignment_id: int):
    assignment = _assignment_for_teacher(request, assignment_id)
    return render(request, "lms/assignment.html", {
        "assignment": assignment,
        "section": assignment.section,
        "status": selectors.lms_status_text(assignment),
        "students": selectors.student_rows(assignment),
        "lms_name": selectors.lms_name(assignment.section.district.lms_type),
    })


@login_required
@require_POST
def sync_to_lms(request, assignment_id: int):
    assignment = _assignment_for_teacher(request, assignment_id)
    blocker = selectors.section_blocker(assignment.section)
    if blocker:
        messages.error(request, blocker)
    elif services.request_sync(assignment=assignment, actor=request.user):
        messages.success(request, f"“{assignment.title}” is being sent to the LMS.")
    else:
        messages.info(request, f"“{assignment.title}” is already waiting to be sent.")
    return redirect("lms:section", section_id=assignment.section_id)


class ReplaceGradeForm(ReasonForm):
    reason = forms.CharField(
        label="Why replace the grade in the LMS?", min_length=3, max_length=500,
        widget=forms.Textarea(attrs={"rows": 3, "cols": 60}),
        help_text="Kept with your name in the assignment's history.")


@login_required
@require_http_methods(["GET", "POST"])
def use_product_grade(request, assignment_id: int, student_clever_id: str):
    """Ask first, with a reason: sending our grade overwrites a grade someone set in the LMS."""
    assignment = _assignment_for_teacher(request, assignment_id)
    row = selectors.student_row(assignment, student_clever_id)
    if row is None:
        raise Http404("No such student in this class")
    back = redirect("lms:assignment", assignment_id=assignment.pk)
    if row.sync is None or row.sync.status != SubmissionSync.Status.LMS_EDITED or row.result is None:
        messages.info(request, f"{row.student}'s grade was not changed in the LMS: nothing to "
                               "replace.")
        return back
    form = ReplaceGradeForm(request.POST if request.method == "POST" else None)
    if form.is_valid():
        try:
            services.override_lms_edit(assignment=assignment, student_clever_id=student_clever_id,
                                       actor=request.user, reason=form.cleaned_data["reason"])
        except services.LmsInputError as exc:
            messages.error(request, str(exc))
        else:
            messages.success(request, f"Our grade for {row.student} will be sent to the LMS, "
                                      "replacing the grade set there.")
        return back
    return render(request, "lms/replace_grade.html", {
        "assignment": assignment, "row": row, "form": form,
        "lms_name": selectors.lms_name(assignment.section.district.lms_type),
    })
