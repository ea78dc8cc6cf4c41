"""In Debian's Chromium, at 1280 px: a teacher replaces a grade someone changed in the LMS.

The assignment was sent to the LMS through the local Clever, a grade was then changed in the
LMS and read back: the teacher's page says it was kept. Replacing it asks first: the page shows
both grades, will not go without a reason, and records the reason given. Full-page screenshots go to
``artifacts/screenshots/teacher_grades/`` (git-ignored).
"""

from __future__ import annotations

import random
import time
from pathlib import Path

import pytest
from django.core.cache import cache
from django.db import connections

from accounts.factories import UserFactory
from clever.client import CleverClient
from lms import services
from lms.factories import AssignmentFactory, ResultFactory
from lms.models import CleverAssignment, LmsAudit, SubmissionSync
from rostering.models import Person
from sandbox import lms as sandbox_lms
from tests.lms.conftest import build_world

SCREENSHOTS = Path(__file__).resolve().parents[2] / "artifacts" / "screenshots" / "teacher_grades"
PASSWORD = "correct horse battery staple"
WIDTH = 1280

pytestmark = pytest.mark.browser


@pytest.fixture
def edited(transactional_db, live_server, sandbox_app, fake_clock, settings):
    """A pushed assignment whose first student's grade was changed in the LMS, and the teacher."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    cache.clear()
    fake_clock.now = float(int(time.time()))
    client = CleverClient(clock=fake_clock, sleep=fake_clock.sleep, rng=random.Random(3))

    def make_client(**_options):
        return client

    world = build_world(make_client=make_client, clock=fake_clock, students=3)
    assignment = AssignmentFactory(section=world.section, title="Fractions quiz",
                                   due_at=world.days(3), points_possible=10)
    student = world.students[0]
    ResultFactory(assignment=assignment, student=student, points=6)
    services.push_assignment(assignment_id=assignment.pk, client=client)
    uuid = CleverAssignment.objects.get(assignment=assignment).clever_id
    sandbox_lms.teacher_edit_submission(assignment_id=uuid, user_id=student.clever_id,
                                        grade_points=9)
    services.pull_assignment(assignment_id=assignment.pk, client=client)
    teacher = UserFactory(username="tess.cher", first_name="Tess", last_name="Cher",
                          password=PASSWORD)
    Person.objects.filter(pk=world.teacher.pk).update(user=teacher)
    yield assignment, student, teacher
    client.close()


@pytest.fixture
def page(browser_page):
    browser_page.set_viewport_size({"width": WIDTH, "height": 800})
    yield browser_page
    connections.close_all()


def shot(page, name: str) -> None:
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= WIDTH, f"{page.url} is {width} px wide"
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def test_a_teacher_replaces_a_grade_changed_in_the_lms_with_a_reason(edited, page, live_server):
    assignment, student, teacher = edited
    base = live_server.url
    page.goto(f"{base}/accounts/login/?next=/lms/assignments/{assignment.pk}/")
    page.fill('input[name="login"]', teacher.username)
    page.fill('input[name="password"]', PASSWORD)
    with page.expect_navigation(url=f"{base}/lms/assignments/{assignment.pk}/"):
        page.get_by_role("button", name="Sign in").click()

    row = page.locator(f"#student-{student.clever_id}")
    assert "Changed in the LMS (kept)" in row.inner_text() and "9.0" in row.inner_text()
    shot(page, "01-assignment")
    with page.expect_navigation():
        row.get_by_role("link", name="Send our grade instead…").click()
    heading = page.locator("h1").inner_text()
    assert heading == f"Replace {student}'s grade in Canvas?"
    grades = page.locator("#grades").inner_text()
    assert "9.0 points" in grades and "6" in grades
    shot(page, "02-confirm")

    # No reason: the browser does not send the form (the server refuses one too: test_views).
    page.get_by_role("button", name="Replace the grade in Canvas").click()
    reason = page.locator('textarea[name="reason"]')
    assert reason.evaluate("field => field.validity.valueMissing")
    assert page.url.endswith("/use-ours/")
    assert SubmissionSync.objects.get(student_clever_id=student.clever_id).status == "lms_edited"

    page.fill('textarea[name="reason"]', "Regraded after the retake")
    with page.expect_navigation(url=f"{base}/lms/assignments/{assignment.pk}/"):
        page.get_by_role("button", name="Replace the grade in Canvas").click()
    assert f"Our grade for {student} will be sent to the LMS" in page.locator("body").inner_text()
    shot(page, "03-replaced")
    audit = LmsAudit.objects.get(assignment=assignment)
    assert audit.actor == teacher and audit.details["reason"] == "Regraded after the retake"
