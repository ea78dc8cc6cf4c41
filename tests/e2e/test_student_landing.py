"""In Debian's Chromium, at 1280 px: a student launches the app from the local Clever's Portal
and lands on their classes and assignments, with their own grades and nobody else's.

The student's class is mirrored by a real sync; the launch goes through the live server (a
Portal launch without a state, bounced once to Clever's authorize URL). Full-page screenshots
go to ``artifacts/screenshots/student/`` (git-ignored).
"""

from __future__ import annotations

import random
import time
from urllib.parse import urlsplit

import pytest

from clever.client import CleverClient
from lms.factories import AssignmentFactory, ResultFactory
from lms.models import GradingType
from tests.e2e.conftest import Screenshots
from tests.lms.conftest import build_world

pytestmark = pytest.mark.browser


@pytest.fixture
def classroom(clever_on_live_server, sandbox_app, fake_clock):
    """A class of three with assignments: the first student's grades approved on one, a draft
    on another; a classmate's approved grade."""
    fake_clock.now = float(int(time.time()))
    client = CleverClient(clock=fake_clock, sleep=fake_clock.sleep, rng=random.Random(5))

    def make_client(**_options):
        return client

    world = build_world(make_client=make_client, clock=fake_clock, students=3)
    me, classmate, _ = world.students
    quiz = AssignmentFactory(
        section=world.section, title="Fractions quiz", due_at=world.days(2), points_possible=10
    )
    essay = AssignmentFactory(
        section=world.section,
        title="Book report",
        due_at=world.days(9),
        grading_type=GradingType.LETTER_GRADE,
        points_possible=100,
    )
    journal = AssignmentFactory(section=world.section, title="Weekly journal", due_at=world.days(5))
    ResultFactory(assignment=quiz, student=me, points=8)
    ResultFactory(assignment=quiz, student=classmate, points=3)
    ResultFactory(assignment=essay, student=me, points=91, grade="A-")
    ResultFactory(assignment=journal, student=me, points=2, status="draft")
    yield world, quiz, essay, journal
    client.close()


def test_a_student_signs_in_from_clever_and_lands_on_their_classes_and_assignments(
    classroom, page, live_server
):
    world, quiz, essay, journal = classroom
    me = world.students[0]
    shot = Screenshots("student")
    page.goto(f"{live_server.url}/sandbox/portal/?q=Stu0")
    with page.expect_navigation(url="**/account/"):
        page.locator("tr", has_text="Stu0 Dent").first.get_by_role("link", name="Launch app").click()

    assert urlsplit(page.url).path == "/account/"
    header = page.locator("header .signed-in").inner_text()
    assert header == "Signed in as Stu0 Dent · Student" and "clever-" not in header
    assert page.locator("#account-name").inner_text() == "Stu0 Dent"
    landing = page.locator("#landing-student")
    assert landing.locator("h3").inner_text() == "Algebra 1 · Tess Cher"
    titles = landing.locator("tbody tr td:first-child").all_inner_texts()
    assert titles == ["Fractions quiz", "Weekly journal", "Book report"]  # by due date
    assert landing.locator(f"#student-assignment-{quiz.pk} td").last.inner_text() == "8 / 10"
    assert landing.locator(f"#student-assignment-{essay.pk} td").last.inner_text() == "A- (91 / 100)"
    assert landing.locator(f"#student-assignment-{journal.pk} td").last.inner_text() == "Not graded yet"
    assert "3 / 10" not in landing.inner_text()  # a classmate's grade
    assert "You hand in your work in Canvas." in landing.inner_text()
    assert world.section.clever_id not in page.content() and me.clever_id not in page.content()
    shot(page, "landing")
