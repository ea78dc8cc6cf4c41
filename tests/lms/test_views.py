"""The teacher's LMS page: only the section's teachers, statuses and errors in plain words."""

from __future__ import annotations

from django.urls import reverse

from accounts.factories import UserFactory
from lms.factories import AssignmentFactory, ResultFactory
from lms.models import CleverAssignment, SubmissionSync
from lms.services.pull import pull_assignment
from lms.services.push import push_assignment
from lms.services.writes import record_result
from rostering.models import Person
from sandbox.lms import gradebook as sandbox_lms


def row(page: str, student) -> str:
    start = page.index(f'id="student-{student.clever_id}"')
    return page[start : page.index("</tr>", start)]


def section_url(world):
    return reverse("lms:section", args=[world.section.pk])


def test_the_page_needs_a_login(world, client):
    response = client.get(section_url(world))
    assert response.status_code == 302 and "/login/" in response["Location"]


def test_someone_who_does_not_teach_the_section_gets_404(world, client):
    client.force_login(UserFactory(username="stranger"))
    assert client.get(section_url(world)).status_code == 404
    # Linked to a student of the section: still not a teacher of it.
    student_user = UserFactory(username="kid")
    Person.objects.filter(pk=world.students[0].pk).update(user=student_user)
    client.force_login(student_user)
    assert client.get(section_url(world)).status_code == 404
    assignment = AssignmentFactory(section=world.section, due_at=world.days(2))
    assert client.post(reverse("lms:sync", args=[assignment.pk])).status_code == 404
    assert client.get(reverse("lms:assignment", args=[assignment.pk])).status_code == 404


def test_the_teacher_sees_assignments_statuses_and_syncs(
    world, client, teacher_user, api, django_capture_on_commit_callbacks
):
    pushed = AssignmentFactory(section=world.section, title="Fractions", due_at=world.days(3))
    ResultFactory(assignment=pushed, student=world.students[0], points=8)
    push_assignment(assignment_id=pushed.pk, client=api)
    refused = AssignmentFactory(section=world.section, title="Late one", due_at=world.days(-2))
    push_assignment(assignment_id=refused.pk, client=api)
    waiting = AssignmentFactory(section=world.section, title="Decimals", due_at=world.days(4))
    client.force_login(teacher_user)

    page = client.get(section_url(world)).content.decode()

    assert "Fractions" in page and "In Canvas (open)." in page
    assert "The due date is in the past. Choose a later due date, then sync again." in page
    assert "due_date must be in the future" in page
    assert "Not sent yet: click “Sync to LMS” to send it." in page
    assert page.count("Sync to LMS</button>") == 3

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = client.post(reverse("lms:sync", args=[waiting.pk]), follow=True)
    # The push runs after the request's commit (here, when the capture ends): the page says it
    # is waiting, not that it is being sent (test_messages: what it says once it ran).
    assert response.status_code == 200 and len(callbacks) == 1
    assert "“Decimals” is waiting to be sent to Canvas." in response.content.decode()
    link = CleverAssignment.objects.get(assignment=waiting)
    assert link.state == "linked" and link.push_requested_at is None
    assert world.sandbox_assignments().count() == 2


def test_the_assignment_page_shows_each_students_push_status(world, client, teacher_user, api):
    assignment = AssignmentFactory(section=world.section, due_at=world.days(3))
    for student in world.students[:3]:
        ResultFactory(assignment=assignment, student=student, points=6)
    record_result(assignment=assignment, student=world.students[3], points=2, source="teacher")  # a draft
    push_assignment(assignment_id=assignment.pk, client=api)
    uuid = CleverAssignment.objects.get(assignment=assignment).clever_id
    sandbox_lms.teacher_edit_submission(
        assignment_id=uuid, user_id=world.students[0].clever_id, grade_points=9
    )
    pull_assignment(assignment_id=assignment.pk, client=api)
    client.force_login(teacher_user)

    page = client.get(reverse("lms:assignment", args=[assignment.pk])).content.decode()

    rows = {student.clever_id: row(page, student) for student in world.students}
    edited, pushed, _, draft, ungraded = world.students
    assert "Changed in Canvas (kept)" in rows[edited.clever_id]
    assert "<td>9\n" in rows[edited.clever_id] and "Send our grade instead" in rows[edited.clever_id]
    assert ">Sent to Canvas<" in rows[pushed.clever_id] and "Send our grade" not in rows[pushed.clever_id]
    assert "Draft (not approved)" in rows[draft.clever_id]
    assert "No grade yet" in rows[ungraded.clever_id]
    assert "Stu0 Dent" in rows[edited.clever_id]  # the teacher sees the names
    # Replacing a grade set in the LMS asks first, with a reason (the finding: one click
    # overwrote a teacher's grade in the LMS, with no confirmation and nothing recorded).
    url = reverse("lms:use-product-grade", args=[assignment.pk, edited.clever_id])
    assert f'href="{url}"' in rows[edited.clever_id]
    confirm = client.get(url).content.decode()
    assert "Replace Stu0 Dent" in confirm and "9 points" in confirm and "6 points" in confirm
    assert "the grade set there is overwritten" in confirm and 'name="reason"' in confirm
    refused = client.post(url, {"reason": ""})
    assert refused.status_code == 200 and "This field is required." in refused.content.decode()
    sync = SubmissionSync.objects.get(assignment=assignment, student_clever_id=edited.clever_id)
    assert sync.status == "lms_edited" and not assignment.audits.exists()

    done = client.post(url, {"reason": "Regraded after the retake"}, follow=True)

    # The push runs after the commit (not here: test_messages has it sent).
    assert (
        "Our grade for Stu0 Dent replaces the grade set in Canvas when it is sent." in done.content.decode()
    )
    sync.refresh_from_db()
    assert sync.status == "pending"
    audit = assignment.audits.get()
    assert audit.action == "override_lms_edit" and audit.actor == teacher_user
    assert audit.details == {"student": edited.clever_id, "reason": "Regraded after the retake"}
    # Nothing to replace any more: back to the assignment, nothing recorded twice.
    again = client.post(url, {"reason": "again"}, follow=True).content.decode()
    assert "was not changed in the LMS: nothing to replace" in again
    assert assignment.audits.count() == 1


def test_replacing_a_grade_is_only_for_a_student_of_the_teachers_class(world, client, teacher_user):
    assignment = AssignmentFactory(section=world.section, due_at=world.days(3))
    client.force_login(teacher_user)
    assert (
        client.get(reverse("lms:use-product-grade", args=[assignment.pk, "not-a-student"])).status_code == 404
    )
    client.force_login(UserFactory(username="stranger"))
    assert (
        client.get(
            reverse("lms:use-product-grade", args=[assignment.pk, world.students[0].clever_id])
        ).status_code
        == 404
    )


def test_a_district_without_an_lms_says_so_on_the_page(lms_world, client):
    world = lms_world(lms_type="", name="No LMS district")
    user = UserFactory(username="tess2")
    Person.objects.filter(pk=world.teacher.pk).update(user=user)
    AssignmentFactory(section=world.section, due_at=world.days(2))
    client.force_login(user)
    page = client.get(section_url(world)).content.decode()
    assert "Nothing can be sent to the LMS now." in page
    assert "This district has no LMS connected through Clever" in page
    assert "disabled" in page


def test_the_teacher_lists_their_classes(world, client, teacher_user):
    client.force_login(teacher_user)
    page = client.get(reverse("lms:sections")).content.decode()
    assert "Algebra 1" in page and section_url(world) in page
    client.force_login(UserFactory(username="nobody"))
    assert "No classes" in client.get(reverse("lms:sections")).content.decode()


def signed_in_pages(world, assignment) -> list[str]:
    return [
        reverse("lms:sections"),
        section_url(world),
        reverse("lms:assignment", args=[assignment.pk]),
        reverse("sso_account"),
    ]


def test_every_signed_in_page_says_who_is_signed_in_and_offers_log_out(world, client, teacher_user):
    teacher_user.first_name, teacher_user.last_name = "Tess", "Okafor"
    teacher_user.save()
    assignment = AssignmentFactory(section=world.section, due_at=world.days(2))
    client.force_login(teacher_user)

    for url in signed_in_pages(world, assignment):
        response = client.get(url)
        page = response.content.decode()
        assert response.status_code == 200, url
        assert "Signed in as <strong>Tess Okafor</strong>" in page, url
        assert f'action="{reverse("account_logout")}"' in page and ">Log out</button>" in page, url
        assert "tess" not in page.split("</header>")[0].lower().replace("tess okafor", "")


def test_anonymous_visitors_to_teacher_pages_land_on_the_clever_sign_in_page(world, client):
    assignment = AssignmentFactory(section=world.section, due_at=world.days(2))

    for url in signed_in_pages(world, assignment):
        response = client.get(url, follow=True)
        page = response.content.decode()
        landed = response.redirect_chain[-1][0] if response.redirect_chain else url
        assert response.redirect_chain and response.status_code == 200, url
        assert "/admin/" not in landed and "Log in with Clever" in page, url
        assert "Signed in as" not in page
