"""In Debian's Chromium, at 1280 px: LMS Connect launches (LTI 1.3) from the local Clever's
Canvas land in the right class.

A Canvas district's class is mirrored by a real sync, and its teacher has an assignment pushed
through LMS Connect. From the sandbox's Canvas page, each person clicks "Open": the launch
reaches the app as a code without a state, the app bounces once to Clever for a code with its
state and nonce, and the identity token it validates carries the launch (the course, the role,
the assignment). Then:

- the teacher, from the Canvas course of their Clever section, lands on that section's page;
- a student, from the pushed assignment, lands on that assignment's page;
- the teacher, from a course made in Canvas (no Clever section), is asked which of their
  classes it is; a student opening it meanwhile is told it is not set up yet, and by whom;
- once the teacher has chosen, the next student launch from it lands on the class.

Full-page screenshots go to ``artifacts/screenshots/lms_launch/`` (git-ignored).
"""

from __future__ import annotations

import random
import time

import pytest

from clever.client import CleverClient
from lms.models import CleverAssignment, LmsCourse
from lms.services.writes import create_assignment
from sandbox.lms import launch as sandbox_launch
from tests.e2e.conftest import Screenshots
from tests.lms.conftest import build_world

pytestmark = pytest.mark.browser


@pytest.fixture
def canvas_class(clever_on_live_server, sandbox_app, fake_clock):
    """A Canvas district's class of three (mirrored by a real sync), an assignment pushed to
    Canvas through LMS Connect, and a homeroom made in Canvas by the same teacher."""
    fake_clock.now = float(int(time.time()))
    client = CleverClient(clock=fake_clock, sleep=fake_clock.sleep, rng=random.Random(5))
    world = build_world(make_client=lambda **_: client, clock=fake_clock, students=3)
    assignment = create_assignment(
        section=world.section, title="Fractions quiz", due_at=world.days(3), points_possible=10
    )
    pushed = CleverAssignment.objects.get(assignment=assignment)
    assert pushed.clever_id, pushed.problem_message  # created in Canvas on commit (eager tasks)
    homeroom = sandbox_launch.create_lms_course(
        district=world.sandbox_district,
        title="Homeroom (made in Canvas)",
        teacher_id=world.teacher.clever_id,
        student_ids=[student.clever_id for student in world.students],
    )
    yield world, assignment, homeroom
    client.close()


def open_from_canvas(browser, live_server, clever_id: str, *, course: str, item: str):
    """A new browser: the person's Canvas page, then "Open" on ``item`` of ``course``; returns
    the page where the launch landed."""
    page = browser.new_context(viewport={"width": 1280, "height": 800}).new_page()
    page.set_default_timeout(20_000)
    page.goto(f"{live_server.url}/sandbox/lms/people/{clever_id}/")
    card = page.locator("section.lms-course", has_text=course)
    with page.expect_navigation(url=lambda url: "/sandbox/" not in url and "/callback/" not in url):
        card.get_by_role("link", name=f"Open {item}").click()
    page.wait_for_load_state()
    return page


def test_launches_from_canvas_land_in_the_right_class(canvas_class, chromium_browser, live_server):
    world, assignment, homeroom = canvas_class
    shots = Screenshots("lms_launch")
    teacher, first, second = world.teacher, world.students[0], world.students[1]
    app_link = "Clever bridge (sandbox)"

    # The teacher, from their Clever section's course: that class's page.
    page = open_from_canvas(
        chromium_browser, live_server, teacher.clever_id, course="Algebra 1", item=app_link
    )
    assert page.url.endswith(f"/lms/sections/{world.section.pk}/")
    assert "Algebra 1" in page.locator("h1").inner_text()
    assert "Fractions quiz" in page.locator("main").inner_text()
    shots(page, "teacher-lands-on-section")

    # A student, from the pushed assignment: that assignment, as a student sees it.
    page = open_from_canvas(
        chromium_browser, live_server, first.clever_id, course="Algebra 1", item="Fractions quiz"
    )
    assert page.url.endswith(f"/lms/classes/{world.section.pk}/assignments/{assignment.pk}/")
    assert "Fractions quiz" in page.locator("h1").inner_text()
    shots(page, "student-lands-on-assignment")

    # The teacher, from the homeroom made in Canvas: which of their classes is it?
    setup = open_from_canvas(
        chromium_browser, live_server, teacher.clever_id, course="Homeroom (made in Canvas)", item=app_link
    )
    assert "/lms/launch/courses/" in setup.url and setup.url.endswith("/setup/")
    assert "Homeroom (made in Canvas)" in setup.locator("main").inner_text()
    shots(setup, "teacher-asked-which-class")

    # Meanwhile a student opens it: not set up yet, ask Tess Cher.
    page = open_from_canvas(
        chromium_browser, live_server, second.clever_id, course="Homeroom (made in Canvas)", item=app_link
    )
    text = page.locator("main").inner_text()
    assert "not set up" in text and "Tess Cher" in text
    shots(page, "student-course-not-set-up")

    # The teacher answers: Algebra 1. Remembered for everyone in the course.
    setup.get_by_label("Algebra 1").check()
    with setup.expect_navigation():
        setup.get_by_role("button", name="Use this class").click()
    assert setup.url.endswith(f"/lms/sections/{world.section.pk}/")
    assert LmsCourse.objects.get(context_id=homeroom.context_id).section == world.section
    shots(setup, "teacher-course-set-up")

    # The next student launch from the homeroom lands on the class.
    page = open_from_canvas(
        chromium_browser, live_server, second.clever_id, course="Homeroom (made in Canvas)", item=app_link
    )
    assert page.url.endswith(f"/lms/classes/{world.section.pk}/")
    assert "Algebra 1" in page.locator("h1").inner_text()
    assert "Fractions quiz" in page.locator("main").inner_text()
    shots(page, "student-lands-on-class")
