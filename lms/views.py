"""The teacher's LMS pages: their classes; a class's assignments with their state in the LMS
and the grades' states in words; a new assignment; an assignment's page with the class's grades
on one form, a grades CSV to download and import, "Sync to LMS", "Check <LMS> for changes" and
"Send our grade instead" (asked first, with a reason).

Only a signed-in teacher of the section in the mirror may see any of it (``Person.user`` is the
signed-in user and a teacher ``SectionMembership`` links them to the section); anyone else gets
404, so the pages do not reveal which sections exist. Views are thin: a form, then one service
or selector; messages say what is true once the request's work committed (with eager tasks a
push has run by then; with a worker it may still be waiting, and the message says so).
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.text import slugify
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from clever import csvsafe
from rostering.models import Section

from . import forms, selectors
from .errors import GradesRefused, LmsInputError
from .launch import SESSION_LAUNCH_COURSE
from .models import Assignment, Result, SubmissionSync, SyncPolicy
from .services import grades, pull, reconcile, writes


def _section_for_teacher(request, section_id: int) -> Section:
    section = get_object_or_404(Section.objects.select_related("district"), pk=section_id, archived_at=None)
    if selectors.teacher_person(request.user, section) is None:
        raise Http404("No such section")
    return section


def _assignment_for_teacher(request, assignment_id: int) -> Assignment:
    assignment = get_object_or_404(
        Assignment.objects.select_related("section__district", "clever"),
        pk=assignment_id,
        deleted_at=None,
    )
    _section_for_teacher(request, assignment.section_id)
    return assignment


@login_required
@require_GET
def sections_page(request):
    return render(
        request,
        "lms/sections.html",
        {
            "sections": selectors.sections_taught_by(request.user).order_by("name"),
        },
    )


@login_required
@require_GET
def section_page(request, section_id: int):
    section = _section_for_teacher(request, section_id)
    lms = selectors.lms_name(section.district.lms_type)
    rows = [
        {
            "assignment": a,
            "status": selectors.lms_status_text(a),
            "grades": selectors.grades_text(a),
            "pushed": selectors.push_counts_text(a, lms),
        }
        for a in selectors.section_assignments(section)
    ]
    # Opened from a course in the LMS set up as this class: "not the right class?" leads back.
    launched_from = selectors.launch_course_of_section(
        request.session.get(SESSION_LAUNCH_COURSE), section, request.user
    )
    return render(
        request,
        "lms/section.html",
        {
            "section": section,
            "rows": rows,
            "blocker": selectors.section_blocker(section),
            "lms_name": lms,
            "launched_from": launched_from,
            "launched_from_lms": selectors.course_lms_name(launched_from) if launched_from else "",
        },
    )


MESSAGE_LEVELS = {"success": messages.SUCCESS, "info": messages.INFO, "error": messages.ERROR}


def _report_push(request, assignment: Assignment, since, *, done: str = "") -> None:
    """Say what was ``done`` (a sentence), then what became of the push asked for at ``since``
    (sent, failed and why, or waiting), in one message."""
    level, text = selectors.push_outcome(assignment, since, subject="It" if done else "")
    messages.add_message(request, MESSAGE_LEVELS[level], f"{done} {text}".strip())


@login_required
@require_http_methods(["GET", "POST"])
def new_assignment(request, section_id: int):
    section = _section_for_teacher(request, section_id)
    form = forms.AssignmentForm(request.POST if request.method == "POST" else None)
    if form.is_valid():
        since = timezone.now()
        try:
            assignment = writes.create_assignment(
                section=section, created_by=request.user, **form.cleaned_data
            )
        except LmsInputError as exc:
            form.add_error(None, str(exc))
        else:
            created = f"“{assignment.title}” was created."
            if assignment.sync_policy == SyncPolicy.ON_CREATE:
                _report_push(request, assignment, since, done=created)
            else:
                messages.success(request, created)
            return redirect("lms:assignment", assignment_id=assignment.pk)
    return render(
        request,
        "lms/new_assignment.html",
        {
            "section": section,
            "form": form,
            "lms_name": selectors.lms_name(section.district.lms_type),
        },
        status=400 if form.is_bound else 200,
    )


def _assignment_page(request, assignment: Assignment, *, grades_form=None, csv_form=None, status: int = 200):
    rows = selectors.student_rows(assignment)
    return render(
        request,
        "lms/assignment.html",
        {
            "assignment": assignment,
            "section": assignment.section,
            "status": selectors.lms_status_text(assignment),
            "grades_form": grades_form or forms.ClassGradesForm(assignment=assignment, rows=rows),
            "csv_form": csv_form or forms.GradesCsvForm(assignment=assignment),
            "drafts": sum(1 for row in rows if row.result and row.result.status == Result.Status.DRAFT),
            "points_possible": (
                f"{assignment.points_possible:g}" if assignment.points_possible is not None else ""
            ),
            "lms_name": selectors.lms_name(assignment.section.district.lms_type),
        },
        status=status,
    )


@login_required
@require_GET
def assignment_page(request, assignment_id: int):
    return _assignment_page(request, _assignment_for_teacher(request, assignment_id))


def _report_saved(
    request, assignment: Assignment, saved: grades.GradesSaved, since, *, source: str = ""
) -> None:
    if not saved.saved and not saved.approved:
        messages.info(request, f"Nothing changed{source}: every grade was already saved as it is.")
        return
    if saved.approved:
        approved = f"{_grades(saved.approved)} approved{source}."
        if assignment.sync_policy == SyncPolicy.ON_CREATE:
            _report_push(request, assignment, since, done=approved)
        else:
            messages.success(request, f"{approved} Click “Sync to LMS” to send them.")
    else:
        lms = selectors.lms_name(assignment.section.district.lms_type)
        messages.success(
            request, f"{_grades(saved.saved)} saved as drafts{source}: approve them to send them to {lms}."
        )


def _grades(n: int) -> str:
    return f"{n} grade" + ("" if n == 1 else "s")


@login_required
@require_POST
def save_grades(request, assignment_id: int):
    assignment = _assignment_for_teacher(request, assignment_id)
    form = forms.ClassGradesForm(request.POST, assignment=assignment, rows=selectors.student_rows(assignment))
    if form.is_valid():
        since = timezone.now()
        try:
            saved = grades.record_grades(
                assignment=assignment, grades=form.grades(), approve=form.approve, actor=request.user
            )
        except GradesRefused as refused:
            form.add_problems(refused.problems)
        else:
            _report_saved(request, assignment, saved, since)
            return redirect("lms:assignment", assignment_id=assignment.pk)
    messages.error(request, "Nothing was saved: see the grades marked below.")
    return _assignment_page(request, assignment, grades_form=form, status=400)


@login_required
@require_POST
def import_grades(request, assignment_id: int):
    assignment = _assignment_for_teacher(request, assignment_id)
    form = forms.GradesCsvForm(request.POST, request.FILES, assignment=assignment)
    if form.is_valid():
        since = timezone.now()
        try:
            saved = grades.import_grades(
                assignment=assignment,
                lines=form.cleaned_data["file"],
                approve=form.cleaned_data["approve"],
                actor=request.user,
            )
        except GradesRefused as refused:
            form.add_error("file", [f"Line {line}: {problem}" for line, problem in refused.problems.items()])
        else:
            _report_saved(request, assignment, saved, since, source=f" from {form.file_name[:80]}")
            return redirect("lms:assignment", assignment_id=assignment.pk)
    messages.error(request, "Nothing was imported: see the problems with the file below.")
    return _assignment_page(request, assignment, csv_form=form, status=400)


@login_required
@require_GET
def grades_csv(request, assignment_id: int):
    """The class list as a CSV to fill in and import (formula cells neutralized: names come
    from the district's SIS)."""
    assignment = _assignment_for_teacher(request, assignment_id)
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    name = slugify(f"{assignment.section.name} {assignment.title}")[:80] or "grades"
    response["Content-Disposition"] = f'attachment; filename="{name}.csv"'
    response.write("\ufeff")  # Excel reads UTF-8 only after a byte order mark
    writer = csvsafe.DictWriter(
        response, fieldnames=selectors.grades_csv_columns(assignment), lineterminator="\r\n"
    )
    writer.writeheader()
    writer.writerows(selectors.grades_csv_rows(assignment))
    return response


@login_required
@require_POST
def sync_to_lms(request, assignment_id: int):
    assignment = _assignment_for_teacher(request, assignment_id)
    form = forms.SyncForm(request.POST)
    back = form.cleaned_data["back"] if form.is_valid() else ""
    blocker = selectors.section_blocker(assignment.section)
    if blocker:
        messages.error(request, blocker)
    else:
        since = timezone.now()
        writes.request_sync(assignment=assignment, actor=request.user)
        _report_push(request, assignment, since)
    if back == "assignment":
        return redirect("lms:assignment", assignment_id=assignment.pk)
    return redirect("lms:section", section_id=assignment.section_id)


@login_required
@require_POST
def check_lms(request, assignment_id: int):
    """Read the assignment's grades back from the LMS now, on the teacher's click: a few
    requests to Clever (one per 100 students), never on a page load."""
    assignment = _assignment_for_teacher(request, assignment_id)
    report = pull.check_lms_now(assignment=assignment)
    if report is None:
        lms = selectors.lms_name(assignment.section.district.lms_type)
        messages.info(request, f"{lms} was checked less than a minute ago: try again in a moment.")
    else:
        level, text = selectors.pull_outcome(assignment, report)
        messages.add_message(request, MESSAGE_LEVELS[level], text)
    return redirect("lms:assignment", assignment_id=assignment.pk)


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
        messages.info(request, f"{row.student}'s grade was not changed in the LMS: nothing to replace.")
        return back
    form = forms.ReplaceGradeForm(request.POST if request.method == "POST" else None)
    if form.is_valid():
        since = timezone.now()
        try:
            reconcile.override_lms_edit(
                assignment=assignment,
                student_clever_id=student_clever_id,
                actor=request.user,
                reason=form.cleaned_data["reason"],
            )
        except LmsInputError as exc:
            messages.error(request, str(exc))
        else:
            level, text = selectors.replacement_outcome(assignment, row.student, since)
            messages.add_message(request, MESSAGE_LEVELS[level], text)
        return back
    return render(
        request,
        "lms/replace_grade.html",
        {
            "assignment": assignment,
            "row": row,
            "form": form,
            "lms_name": selectors.lms_name(assignment.section.district.lms_type),
        },
    )
