"""A sign-in that came from an LMS launch lands where the launch routes (``sso.launches``, the
router lms registers), in the role the launch names, on every path a sign-in finishes by."""

from __future__ import annotations

import pytest

from sandbox.lms import launch as sandbox_launch
from sandbox.models import LmsType
from sandbox.views.lms_launch import launch_path
from sso import launches, selectors
from sso.models import CleverLogin, LoginOutcome

from .conftest import path_of


@pytest.fixture
def canvas_world(world):
    world.sandbox_district.lms_type = LmsType.CANVAS
    world.sandbox_district.save(update_fields=["lms_type"])
    return world


def homeroom(world, *, teacher, students=()):
    return sandbox_launch.create_lms_course(
        district=world.sandbox_district,
        title="Homeroom (made in Canvas)",
        teacher_id=teacher["id"],
        student_ids=[student["id"] for student in students],
    )


def test_a_multi_role_person_launched_as_a_teacher_acts_as_one(browser, canvas_world):
    # Eve is a teacher, school staff and a district admin: a Portal launch asks which role;
    # a launch from a course she teaches in Canvas makes her a teacher for this session.
    course = homeroom(canvas_world, teacher=canvas_world.admin)
    response = browser.go(launch_path(user_id=canvas_world.admin["id"], context_id=course.context_id))
    assert response.status_code == 200
    assert selectors.active_role(browser.client) == "teacher"
    assert "/account/role/" not in browser.paths()
    assert path_of(browser.url) == f"/lms/launch/courses/{_course_pk()}/not-set-up/"
    assert CleverLogin.objects.get().outcome == LoginOutcome.LOGGED_IN


def test_without_a_launch_the_same_person_chooses_a_role(browser, canvas_world, portal_launch):
    portal_launch(browser, canvas_world.admin["id"])
    assert path_of(browser.url) == "/account/role/"
    assert selectors.active_role(browser.client) is None


def test_a_student_launch_lands_in_the_students_role(browser, canvas_world):
    course = homeroom(canvas_world, teacher=canvas_world.teacher, students=[canvas_world.student])
    browser.go(launch_path(user_id=canvas_world.student["id"], context_id=course.context_id))
    assert selectors.active_role(browser.client) == "student"
    assert path_of(browser.url) == f"/lms/launch/courses/{_course_pk()}/not-set-up/"


def _course_pk() -> int:
    from lms.models import LmsCourse

    return LmsCourse.objects.get().pk


def test_a_sign_in_keeps_only_the_launch_claims_the_router_reads():
    lti = "https://purl.imsglobal.org/spec/lti/claim/"
    claims = {
        "sub": "5f0c0a1b2c3d4e5f60718293",
        "email": "kid@example.org",
        "middle_name": "Ann",
        f"{lti}message_type": "LtiResourceLinkRequest",
        f"{lti}lis": {"person_sourcedid": "SIS-42"},
        f"{lti}custom": {"clever_section_id": "5f0c0a1b2c3d4e5f60718299", "canvas_user_login_id": "kid"},
    }
    assert launches.kept_claims(claims) == {
        f"{lti}message_type": "LtiResourceLinkRequest",
        f"{lti}custom": {"clever_section_id": "5f0c0a1b2c3d4e5f60718299"},
    }
