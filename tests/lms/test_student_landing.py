"""A student's landing page: their classes, each class's assignments with due dates, and their
own grades (approved ones only; never another student's). A teacher's: their classes."""

from __future__ import annotations

import pytest
from django.urls import reverse

from accounts.factories import UserFactory
from lms.factories import AssignmentFactory, ResultFactory
from lms.services.pull import pull_assignment
from lms.services.push import push_assignment
from rostering.models import Person, Section
from sandbox.lms import gradebook as sandbox_lms
from tests.lms.conftest import assignment_row, graded_work


@pytest.fixture
def student_user(world):
    clever_id = world.students[0].clever_id
    user = UserFactory(
        username=f"clever-{clever_id}", made_for_clever_id=clever_id, first_name="", last_name="", email=""
    )
    Person.objects.filter(pk=world.students[0].pk).update(user=user)
    return user


def panel(client) -> str:
    page = client.get(reverse("sso_account")).content.decode()
    assert 'id="landing-student"' in page, page
    return page[page.index('id="landing-student"') :]


def test_a_student_lands_on_their_classes_assignments_and_own_grades(world, client, student_user, api):
    work = graded_work(world)
    quiz, essay, journal = work.quiz, work.essay, work.journal
    client.force_login(student_user)

    page = panel(client)

    assert "Algebra 1" in page and "Tess Cher" in page  # the class and its teacher
    assert page.index("Fractions quiz") < page.index("Journal") < page.index("Essay")  # by due date
    assert "8 / 10" in assignment_row(page, quiz)
    assert "A- (91 / 100)" in assignment_row(page, essay)
    assert "Not graded yet" in assignment_row(page, journal)  # a draft is not shown
    assert "Deleted one" not in page
    assert "3 / 10" not in page  # the classmate's grade
    assert "You hand in your work in Canvas." in page
    # The header and the page name the student, never their username.
    full = client.get(reverse("sso_account")).content.decode()
    assert "Signed in as <strong>Stu0 Dent</strong>" in full and student_user.username not in full


def test_a_grade_changed_in_the_lms_is_the_one_the_student_sees(world, client, student_user, api):
    me = world.students[0]
    quiz = AssignmentFactory(section=world.section, due_at=world.days(3), points_possible=10)
    ResultFactory(assignment=quiz, student=me, points=6)
    push_assignment(assignment_id=quiz.pk, client=api)
    sandbox_lms.teacher_edit_submission(
        assignment_id=world.link(quiz).clever_id, user_id=me.clever_id, grade_points=9
    )
    pull_assignment(assignment_id=quiz.pk, client=api)
    client.force_login(student_user)

    assert "9 / 10" in assignment_row(panel(client), quiz)


def test_a_student_sees_only_live_classes_they_are_in_and_names_are_escaped(world, client, student_user):
    Section.objects.filter(pk=world.section.pk).update(name="<script>alert(1)</script>")
    AssignmentFactory(section=world.section, title="<img src=x onerror=alert(1)>", due_at=world.days(3))
    client.force_login(student_user)
    page = panel(client)
    assert "<script>alert(1)</script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<img src=x" not in page

    Section.objects.filter(pk=world.section.pk).update(archived_at=world.days(0))
    page = client.get(reverse("sso_account")).content.decode()
    assert 'id="landing-student"' not in page


def test_a_teacher_lands_on_their_classes(world, client, teacher_user):
    client.force_login(teacher_user)
    page = client.get(reverse("sso_account")).content.decode()
    assert 'id="landing-classes"' in page and 'id="landing-student"' not in page
    assert f'href="{reverse("lms:section", args=[world.section.pk])}">Algebra 1</a>' in page
