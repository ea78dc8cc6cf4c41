"""A student's own pages: one of their classes (school, teachers, assignments by due date, their
own released grades) and one assignment of it (instructions, due date, points possible, their own
grade and the teacher's comment once released); linked from their landing panel.

Only a student of the class reaches them: another class's student, a teacher (even of the
class), a stranger get 404; a visitor not signed in is sent to sign in."""

from __future__ import annotations

import pytest
from django.urls import reverse

from accounts.factories import UserFactory
from lms.factories import AssignmentFactory, ResultFactory
from lms.models import GradingType
from lms.services.pull import pull_assignment
from lms.services.push import push_assignment
from lms.services.writes import delete_assignment
from rostering.models import Person, Section
from sandbox.lms import gradebook as sandbox_lms
from tests.lms.conftest import assignment_row, graded_work


def account_for(person: Person, username: str):
    user = UserFactory(username=username, first_name="", last_name="", email="")
    Person.objects.filter(pk=person.pk).update(user=user)
    return user


@pytest.fixture
def me(world):
    return account_for(world.students[0], "me")


@pytest.fixture
def classmate(world):
    return account_for(world.students[1], "classmate")


def class_url(world) -> str:
    return reverse("lms:student-class", args=[world.section.pk])


def assignment_url(world, assignment) -> str:
    return reverse("lms:student-assignment", args=[world.section.pk, assignment.pk])


def main(response) -> str:
    page = response.content.decode()
    return page[page.index("<main>") :]


def test_the_class_page_shows_the_class_and_only_my_released_grades(world, client, me):
    work = graded_work(world)
    quiz, essay, journal = work.quiz, work.essay, work.journal
    client.force_login(me)

    page = main(client.get(class_url(world)))

    assert "<h1>Algebra 1</h1>" in page
    assert "North Middle · Teacher: Tess Cher" in page
    assert page.index("Fractions quiz") < page.index("Journal") < page.index("Essay")  # by due date
    assert "8 / 10" in assignment_row(page, quiz)
    assert "A- (91 / 100)" in assignment_row(page, essay)
    assert "Not graded yet" in assignment_row(page, journal)  # a draft is not released
    assert "Deleted one" not in page and "3 / 10" not in page
    assert f'href="{assignment_url(world, quiz)}"' in assignment_row(page, quiz)
    assert "You hand in your work in Canvas." in page


def test_the_assignment_page_shows_what_to_do_and_my_grade_with_its_comment(world, client, me):
    quiz = AssignmentFactory(
        section=world.section,
        title="Fractions quiz",
        description="Do problems 1 to 10.\nShow your work.",
        due_at=world.days(3),
        points_possible=10,
    )
    ResultFactory(assignment=quiz, student=world.students[0], points=8, comment="Good work on #4!")
    ResultFactory(assignment=quiz, student=world.students[1], points=3, comment="See me.")
    client.force_login(me)

    page = main(client.get(assignment_url(world, quiz)))

    assert "<h1>Fractions quiz</h1>" in page
    assert "Do problems 1 to 10.<br>Show your work." in page
    assert "Points possible</th><td>10</td>" in page
    assert "8 / 10" in page and "Good work on #4!" in page
    assert "3 / 10" not in page and "See me." not in page
    assert "You hand in your work in Canvas." in page


def test_a_draft_grade_and_its_comment_stay_hidden(world, client, me):
    quiz = AssignmentFactory(section=world.section, due_at=world.days(3), grading_type=GradingType.PASS_FAIL)
    ResultFactory(assignment=quiz, student=world.students[0], grade="pass", comment="Nice", status="draft")
    client.force_login(me)

    page = main(client.get(assignment_url(world, quiz)))

    assert "Not graded yet" in page and "Nice" not in page
    assert "Points possible" not in page  # pass/fail: points say nothing


def test_a_grade_changed_in_the_lms_is_the_one_shown_with_its_comment(world, client, me, api):
    quiz = AssignmentFactory(section=world.section, due_at=world.days(3), points_possible=10)
    ResultFactory(assignment=quiz, student=world.students[0], points=6, comment="Ours")
    push_assignment(assignment_id=quiz.pk, client=api)
    sandbox_lms.teacher_edit_submission(
        assignment_id=world.link(quiz).clever_id,
        user_id=world.students[0].clever_id,
        grade_points=9,
        grade_comment="Regraded in Canvas",
    )
    pull_assignment(assignment_id=quiz.pk, client=api)
    client.force_login(me)

    class_page = main(client.get(class_url(world)))
    page = main(client.get(assignment_url(world, quiz)))

    assert "9 / 10" in assignment_row(class_page, quiz)
    assert "9 / 10" in page and "Regraded in Canvas" in page and "Ours" not in page


def test_names_from_clever_are_escaped(world, client, me):
    Section.objects.filter(pk=world.section.pk).update(name="<script>alert(1)</script>")
    quiz = AssignmentFactory(
        section=world.section, title="<img src=x onerror=alert(1)>", due_at=world.days(3)
    )
    client.force_login(me)

    for url in (class_url(world), assignment_url(world, quiz)):
        page = client.get(url).content.decode()
        assert "<script>alert(1)</script>" not in page and "<img src=x" not in page


def test_only_a_student_of_the_class_sees_its_pages(world, client, me, classmate):
    quiz = AssignmentFactory(section=world.section, due_at=world.days(3))
    teacher = account_for(world.teacher, "tess")
    urls = [class_url(world), assignment_url(world, quiz)]

    client.force_login(classmate)
    assert all(client.get(url).status_code == 200 for url in urls)
    for user in (teacher, UserFactory(username="stranger")):
        client.force_login(user)
        assert [client.get(url).status_code for url in urls] == [404, 404]
    client.logout()
    assert all(client.get(url).status_code == 302 for url in urls)  # to sign in


def test_a_student_of_another_district_or_a_former_student_gets_404(world, lms_world, client, me):
    quiz = AssignmentFactory(section=world.section, due_at=world.days(3))
    elsewhere = lms_world(name="Hillside")
    urls = [class_url(world), assignment_url(world, quiz)]

    client.force_login(account_for(elsewhere.students[0], "hillside"))
    assert [client.get(url).status_code for url in urls] == [404, 404]

    client.force_login(me)
    Person.objects.filter(pk=world.students[0].pk).update(archived_at=world.days(0))  # left the district
    assert [client.get(url).status_code for url in urls] == [404, 404]


def test_an_archived_class_or_a_deleted_or_foreign_assignment_is_not_found(world, lms_world, client, me):
    gone = AssignmentFactory(section=world.section, due_at=world.days(3))
    delete_assignment(assignment=gone)
    elsewhere = lms_world(name="Hillside")
    theirs = AssignmentFactory(section=elsewhere.section, due_at=world.days(3))
    client.force_login(me)

    assert client.get(assignment_url(world, gone)).status_code == 404
    # Another class's assignment under my class's address.
    assert (
        client.get(reverse("lms:student-assignment", args=[world.section.pk, theirs.pk])).status_code == 404
    )

    Section.objects.filter(pk=world.section.pk).update(archived_at=world.days(0))
    assert client.get(class_url(world)).status_code == 404


def test_the_landing_panel_links_to_my_class_and_assignment_pages(world, client, me):
    quiz = AssignmentFactory(section=world.section, title="Fractions quiz", due_at=world.days(3))
    client.force_login(me)

    page = client.get(reverse("sso_account")).content.decode()

    assert f'href="{class_url(world)}">Algebra 1</a>' in page
    assert f'href="{assignment_url(world, quiz)}">Fractions quiz</a>' in page
