"""The LMS launch page: a district's Canvas or Schoology as its people see it, opening the app.

``/lms/`` picks a person (the Portal's user search, kept to districts whose LMS is Canvas or
Schoology); ``/lms/people/<id>/`` is that person's dashboard in their district's LMS: their
courses (``sandbox.lms.launch``), each with a link that opens the app and, in a Clever
section's course, one per LMS Connect assignment the app created there.

A link (``/lms/launch?user=&course=[&assignment=]``, ``launch_path``) launches the app as
LMS Connect's LTI 1.3 launches reach it: logged in to Clever, a code at the app's primary
redirect URI without a state, the launch's claims in that code and in a pending-launch cookie
(``sandbox.views.oauth.launch_from_lms``). Someone who is not a member of the course, an unknown
person, course or assignment get Clever's error page, never a redirect.
"""

from urllib.parse import urlencode

from django.shortcuts import render
from django.urls import path, reverse
from django.views.decorators.http import require_GET

from .. import selectors, services
from ..lms import launch
from ..models import SandboxRecord
from ..records import ROLE_NAMES
from .oauth import PageError, error_page, launch_from_lms, primary_uri, user_page


def launch_path(*, user_id: str, context_id: str, assignment_id: str = "") -> str:
    """The LMS link that opens the app as ``user_id`` from a course (or one of its
    assignments)."""
    query = {"user": user_id, "course": context_id}
    if assignment_id:
        query["assignment"] = assignment_id
    return f"{reverse('sandbox:lms-launch')}?{urlencode(query)}"


@require_GET
def people(request):
    page, filters = user_page(request, district=None, lms_types=launch.LAUNCH_LMS_TYPES)
    context = {
        "page": page,
        "filters": filters,
        "page_query": urlencode(filters),
        "districts": selectors.district_choices(lms_types=launch.LAUNCH_LMS_TYPES),
        "roles": ROLE_NAMES,
    }
    return render(request, "sandbox/lms_people.html", context)


@require_GET
def dashboard(request, user_id: str):
    try:
        user = _person(user_id)
    except PageError as exc:
        return error_page(request, exc)
    app = services.get_application()
    courses = [
        {
            "course": course,
            "open_app": launch_path(user_id=user.clever_id, context_id=course.context_id),
            "assignments": [
                (
                    link,
                    launch_path(user_id=user.clever_id, context_id=course.context_id, assignment_id=link.id),
                )
                for link in course.assignments
            ],
        }
        for course in launch.courses_of(user)
    ]
    context = {"person": user, "district": user.district, "app": app, "courses": courses}
    return render(request, "sandbox/lms_dashboard.html", context)


@require_GET
def lms_launch(request):
    """The person clicks a link in a course: the app opens, with the launch's claims."""
    try:
        user = _person(request.GET.get("user", ""))
        course = launch.find_course(user, request.GET.get("course", ""))
        if course is None:
            raise PageError(f"{user.display_name or user.clever_id} is not a member of this course.", 403)
        app = services.get_application()
        link = _clicked(course, request.GET.get("assignment", ""), app.name)
        claims = launch.launch_claims(user=user, course=course, link=link, target_link_uri=primary_uri(app))
        return launch_from_lms(request, user, claims)
    except PageError as exc:
        return error_page(request, exc)


def _clicked(course: launch.Course, assignment_id: str, app_name: str) -> launch.ResourceLink:
    """The link the person clicked: an assignment of the course, else the course's own."""
    if not assignment_id:
        return course.app_link(app_name)
    link = course.assignment(assignment_id)
    if link is None:
        raise PageError("This course has no such assignment.", 404)
    return link


def _person(user_id: str) -> SandboxRecord:
    user = selectors.get_user(user_id)
    if user is None:
        raise PageError("No Clever user has this ID.", 404)
    if not launch.has_launches(user.district):
        raise PageError(f"{user.district.name} has no Canvas or Schoology to launch the app from.", 404)
    return user


urlpatterns = [
    path("lms/", people, name="lms-home"),
    path("lms/people/<str:user_id>/", dashboard, name="lms-dashboard"),
    path("lms/launch", lms_launch, name="lms-launch"),
]
