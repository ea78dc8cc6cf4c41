"""LMS Connect routes of the local Clever (v3.1 only); the logic lives in ``sandbox.lms``.

Every view goes through ``api_endpoint`` (bearer auth, rate limit, faults), so LMS requests
count against the same per-token limit as the Data API. The same paths under ``/v3.0`` answer
404 ``{"message": "Not Found"}``: LMS Connect exists only in v3.1.
"""

from django.http import HttpResponse, JsonResponse
from django.urls import path

from ..lms.assignments import create_assignment, delete_assignment, get_assignment, update_assignment
from ..lms.errors import LmsError
from ..lms.submissions import get_submission, list_submissions, update_submission
from .common import api_endpoint, error


def _answer(call, *, wrap: bool = True):
    """Run a service call; ``LmsError`` becomes Clever's ``{"message": ...}`` body."""
    try:
        result = call()
    except LmsError as refusal:
        return error(refusal.status, refusal.message)
    if result is None:
        # DELETE: 200 with an empty body, as Clever's generated handlers answer.
        return HttpResponse(b"", status=200, content_type="text/plain; charset=utf-8")
    return JsonResponse({"data": result} if wrap else result)


def _not_allowed(allowed: list[str]) -> JsonResponse:
    response = error(405, "Method Not Allowed")
    response["Allow"] = ", ".join(allowed)
    return response


@api_endpoint
def assignments(request, token, section_id):
    if request.method != "POST":
        return _not_allowed(["POST"])
    return _answer(lambda: create_assignment(token=token, section_id=section_id, body=request.body))


@api_endpoint
def assignment(request, token, section_id, assignment_id):
    ids = {"token": token, "section_id": section_id, "assignment_id": assignment_id}
    if request.method == "GET":
        return _answer(lambda: get_assignment(**ids))
    if request.method == "PATCH":
        return _answer(lambda: update_assignment(**ids, body=request.body))
    if request.method == "DELETE":
        return _answer(lambda: delete_assignment(**ids))
    return _not_allowed(["GET", "PATCH", "DELETE"])


@api_endpoint
def submissions(request, token, section_id, assignment_id):
    if request.method != "GET":
        return _not_allowed(["GET"])
    return _answer(
        lambda: list_submissions(
            token=token,
            section_id=section_id,
            assignment_id=assignment_id,
            cursor=request.GET.get("cursor"),
            limit_values=request.GET.getlist("limit"),
        ),
        wrap=False,
    )


@api_endpoint
def submission(request, token, section_id, assignment_id, user_id):
    ids = {"token": token, "section_id": section_id, "assignment_id": assignment_id, "user_id": user_id}
    if request.method == "GET":
        return _answer(lambda: get_submission(**ids))
    if request.method == "PATCH":
        return _answer(lambda: update_submission(**ids, body=request.body))
    return _not_allowed(["GET", "PATCH"])


@api_endpoint
def not_in_v30(request, token, **kwargs):
    return error(404, "Not Found")


_SECTION = "sections/<str:section_id>/assignments"

urlpatterns = [
    path(f"v3.1/{_SECTION}", assignments, name="lms-assignments"),
    path(f"v3.1/{_SECTION}/<str:assignment_id>", assignment, name="lms-assignment"),
    path(f"v3.1/{_SECTION}/<str:assignment_id>/submissions", submissions, name="lms-submissions"),
    path(f"v3.1/{_SECTION}/<str:assignment_id>/submissions/<str:user_id>", submission, name="lms-submission"),
    path(f"v3.0/{_SECTION}", not_in_v30),
    path(f"v3.0/{_SECTION}/<path:rest>", not_in_v30),
]
