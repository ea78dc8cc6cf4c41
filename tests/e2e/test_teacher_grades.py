"""In Debian's Chromium, at 1280 px: a teacher's whole journey with an assignment's grades.

The teacher creates an assignment for their class, enters grades on the class's form (a typo
is refused, nothing saved), imports one from a CSV file (a wrong file first: every problem by
line, nothing imported), approves the drafts and sends it all to Canvas through the local
Clever. Grades are then changed in Canvas; the teacher checks Canvas, sees both read back and
kept, replaces one with ours (asked first, with a reason) and keeps the other. Full-page
screenshots go to ``artifacts/screenshots/teacher_grades/`` (git-ignored).
"""

from __future__ import annotations

import random
import time

import pytest

from accounts.factories import UserFactory
from clever.client import CleverClient
from lms.models import Assignment, CleverAssignment, LmsAudit, Result, SubmissionSync
from rostering.models import Person
from sandbox.lms import gradebook as sandbox_lms
from tests.e2e.conftest import Screenshots
from tests.lms.conftest import build_world

PASSWORD = "correct horse battery staple"

pytestmark = pytest.mark.browser


@pytest.fixture
def classroom(transactional_db, live_server, sandbox_app, fake_clock):
    """A Canvas district's class of three, mirrored by a real sync, and its teacher's account."""
    fake_clock.now = float(int(time.time()))
    client = CleverClient(clock=fake_clock, sleep=fake_clock.sleep, rng=random.Random(3))

    def make_client(**_options):
        return client

    world = build_world(make_client=make_client, clock=fake_clock, students=3)
    teacher = UserFactory(username="tess.cher", first_name="Tess", last_name="Cher", password=PASSWORD)
    Person.objects.filter(pk=world.teacher.pk).update(user=teacher)
    yield world, teacher
    client.close()


def messages(page) -> str:
    return " ".join(page.locator('main [role="status"]').all_inner_texts())


def submit(page, button: str, *, url: str | None = None) -> None:
    with page.expect_navigation(url=url):
        page.get_by_role("button", name=button).click()


def test_a_teacher_creates_an_assignment_grades_it_sends_it_and_reads_changes_back(
    classroom, page, live_server
):
    world, teacher = classroom
    first, second, third = world.students
    shot = Screenshots("teacher_grades")
    base = live_server.url
    section_url = f"{base}/lms/sections/{world.section.pk}/"
    page.goto(f"{base}/accounts/login/?next=/lms/sections/{world.section.pk}/")
    page.fill('input[name="login"]', teacher.username)
    page.fill('input[name="password"]', PASSWORD)
    submit(page, "Sign in", url=section_url)
    assert "No assignments yet" in page.locator("main").inner_text()
    shot(page, "section-empty")

    # A new assignment: title, due date (a week ahead by default), points; sent on a click.
    with page.expect_navigation():
        page.get_by_role("link", name="New assignment").click()
    assert page.locator("h1").inner_text() == "New assignment for Algebra 1"
    page.fill('input[name="title"]', "Fractions quiz")
    page.get_by_label("Only when you click “Sync to LMS”").check()
    shot(page, "new-assignment")
    submit(page, "Create the assignment")
    assignment = Assignment.objects.get()
    assignment_url = f"{base}/lms/assignments/{assignment.pk}/"
    assert page.url == assignment_url and page.locator("h1").inner_text() == "Fractions quiz"
    assert "“Fractions quiz” was created." in messages(page)
    assert "Not sent yet: click “Sync to LMS” to send it." in page.locator("#lms-status").inner_text()

    # The class's grades on one form: a typo is refused and nothing is saved.
    page.get_by_label(f"Grade for {first}").fill("6")
    page.get_by_label(f"Grade for {second}").fill("8")
    page.get_by_label(f"Comment for {second}").fill("Great improvement")
    page.get_by_label(f"Grade for {third}").fill("nine")
    submit(page, "Save as drafts")
    assert "Nothing was saved" in messages(page)
    assert "“nine” is not a number." in page.locator(f"#student-{third.clever_id}").inner_text()
    assert not Result.objects.exists()
    shot(page, "grade-refused")
    page.get_by_label(f"Grade for {third}").fill("")
    submit(page, "Save as drafts")
    assert "2 grades saved as drafts" in messages(page)

    # The third grade from a CSV file: a wrong file first (nothing imported), then the right one.
    page.locator("#import summary").click()
    page.set_input_files(
        'input[name="file"]',
        files=[
            {
                "name": "grades.csv",
                "mimeType": "text/csv",
                "buffer": b"student_number,points\n1003,9\n9999,5\n1001,11\n",
            }
        ],
    )
    submit(page, "Import grades")
    problems = page.locator("#import-problems").inner_text()
    assert "Line 3: No student in this class has the student number “9999”." in problems
    assert "Line 4: 11 is more than the 10 points possible." in problems
    assert Result.objects.count() == 2
    shot(page, "import-problems")
    page.set_input_files(
        'input[name="file"]',
        files=[{"name": "grades.csv", "mimeType": "text/csv", "buffer": b"student_number,points\n1003,9\n"}],
    )
    submit(page, "Import grades")
    assert "1 grade saved as drafts from grades.csv" in messages(page)
    assert page.locator("#drafts").inner_text() == "3 drafts"

    submit(page, "Save and approve")
    assert "3 grades approved. Click “Sync to LMS” to send them." in messages(page)
    shot(page, "approved")

    # Sent: the message says it is there (the push ran), with its grades in words.
    submit(page, "Sync to LMS", url=assignment_url)
    assert "“Fractions quiz” is in Canvas. Grades: 3 sent to Canvas." in messages(page)
    assert "being sent" not in messages(page)
    uuid = CleverAssignment.objects.get(assignment=assignment).clever_id
    assert world.lms_submission(uuid, first)["grade_points"] == 6
    shot(page, "sent")

    # Grades changed in Canvas, read back on the teacher's click: kept, and said so.
    sandbox_lms.teacher_edit_submission(assignment_id=uuid, user_id=first.clever_id, grade_points=9)
    sandbox_lms.teacher_edit_submission(assignment_id=uuid, user_id=second.clever_id, grade_points=10)
    submit(page, "Check Canvas for changes", url=assignment_url)
    assert "Checked Canvas: 2 grades were changed there." in messages(page)
    for student, in_canvas in ((first, "9"), (second, "10")):
        row = page.locator(f"#student-{student.clever_id}").inner_text()
        assert "Changed in Canvas (kept)" in row and in_canvas in row
    shot(page, "read-back")

    # The first: our grade instead, asked first with a reason.
    with page.expect_navigation():
        page.locator(f"#student-{first.clever_id}").get_by_role(
            "link", name="Send our grade instead…"
        ).click()
    assert page.locator("h1").inner_text() == f"Replace {first}'s grade in Canvas?"
    grades = page.locator("#grades").inner_text()
    assert "9 points" in grades and "6 points" in grades
    shot(page, "confirm-replace")
    page.get_by_role("button", name="Replace the grade in Canvas").click()
    assert page.locator('textarea[name="reason"]').evaluate("field => field.validity.valueMissing")
    assert SubmissionSync.objects.get(student_clever_id=first.clever_id).status == "lms_edited"
    page.fill('textarea[name="reason"]', "Regraded after the retake")
    submit(page, "Replace the grade in Canvas", url=assignment_url)
    assert f"Our grade for {first} is in Canvas now, in place of the grade set there." in messages(page)
    assert world.lms_submission(uuid, first)["grade_points"] == 6
    audit = LmsAudit.objects.get(assignment=assignment)
    assert audit.actor == teacher and audit.details["reason"] == "Regraded after the retake"
    shot(page, "replaced")

    # The second: kept as it is in Canvas.
    with page.expect_navigation():
        page.locator(f"#student-{second.clever_id}").get_by_role(
            "link", name="Send our grade instead…"
        ).click()
    with page.expect_navigation(url=assignment_url):
        page.get_by_role("link", name="Keep the Canvas grade").click()
    row = page.locator(f"#student-{second.clever_id}").inner_text()
    assert "Changed in Canvas (kept)" in row and "10" in row
    assert "Sent to Canvas" in page.locator(f"#student-{first.clever_id}").inner_text()
    assert world.lms_submission(uuid, second)["grade_points"] == 10
    assert LmsAudit.objects.count() == 1
    shot(page, "kept")

    with page.expect_navigation(url=section_url):
        page.get_by_role("link", name="← Algebra 1").click()
    grades_cell = page.locator(f"#assignment-{assignment.pk}").inner_text()
    assert "3 of 3 students graded" in grades_cell
    assert "2 sent to Canvas, 1 changed in Canvas (kept)" in grades_cell
    shot(page, "section")
