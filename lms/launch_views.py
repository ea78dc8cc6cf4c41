"""The pages a launch from the LMS may land on when the course is not a class here yet: its
teacher chooses which of their classes it is (``course_setup``); anyone else is told it is not
set up yet, and whom to ask (``course_not_set_up``).

Only a teacher seen launching from the course reaches its set-up page, and only people of the
course's district (by their mirrored people, or their Clever session) its "not set up" page;
anyone else gets 404, so course numbers reveal nothing.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_http_methods

from . import forms, selectors
from .errors import LmsInputError
from .launch import SESSION_LAUNCH_COURSE
from .models import LmsCourse
from .services import courses


def _course(course_id: int) -> LmsCourse:
    return get_object_or_404(
        LmsCourse.objects.select_related("district", "section", "linked_by"), pk=course_id
    )


@login_required
@require_http_methods(["GET", "POST"])
def course_setup(request, course_id: int):
    course = _course(course_id)
    teachers = selectors.course_teachers(request.user, course)
    if not teachers:
        raise Http404("No such course")
    form = forms.CourseSetupForm(
        request.POST if request.method == "POST" else None,
        choices=selectors.setup_choices(teachers),
        initial={"section": course.section_id},
    )
    lms = selectors.course_lms_name(course)
    if form.is_valid():
        section = form.cleaned_data["section"]
        # The one of the user's people who teaches the chosen class decides (usually their only one).
        teacher = next((t for t in teachers if selectors.teaches([t], section)), teachers[0])
        try:
            courses.link_course(course=course, section=section, teacher=teacher)
        except LmsInputError as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(
                request,
                f"“{course}” in {lms} is set up as this class: you and your students land here "
                f"when you open this app from it in {lms}.",
            )
            return redirect("lms:section", section_id=section.pk)
    return render(
        request,
        "lms/course_setup.html",
        {
            "course": course,
            "form": form,
            "lms_name": lms,
            "may_change": selectors.may_change_link(course, teachers),
        },
        status=400 if form.is_bound else 200,
    )


@login_required
@require_GET
def course_not_set_up(request, course_id: int):
    course = _course(course_id)
    # Only who just launched from it (this session's launch course) or its own teachers: the
    # course's title and its teachers are not for everyone of the district to walk through.
    its_teachers = selectors.course_teachers(request.user, course)
    if not its_teachers and request.session.get(SESSION_LAUNCH_COURSE) != course.pk:
        raise Http404("No such course")
    # Its own teacher is led to the set-up (or told why there is nothing to choose from yet);
    # anyone else is told whom to ask.
    return render(
        request,
        "lms/course_not_set_up.html",
        {
            "course": course,
            "lms_name": selectors.course_lms_name(course),
            "is_its_teacher": bool(its_teachers),
            "has_classes": selectors.teaches_in_district(its_teachers),
            "teachers": selectors.seen_teacher_names(course),
        },
    )
