"""The support admin: assignments with LMS state and problems, and reconciling a lost create."""

from __future__ import annotations

from django.test import Client
from django.urls import reverse

from accounts.factories import UserFactory
from lms.factories import AssignmentFactory, ResultFactory
from lms.models import CleverAssignment, LmsAudit
from lms.services.push import push_assignment
from sandbox.knobs import KNOBS


def test_support_sees_assignments_with_their_lms_state_and_problem(world, api, support):
    ok = AssignmentFactory(section=world.section, title="Fractions", due_at=world.days(3))
    ResultFactory(assignment=ok, student=world.students[0], points=8.25)
    push_assignment(assignment_id=ok.pk, client=api)
    bad = AssignmentFactory(section=world.section, title="Past", due_at=world.days(-3))
    push_assignment(assignment_id=bad.pk, client=api)

    listing = support.get(reverse("admin:lms_assignment_changelist")).content.decode()
    assert "Fractions" in listing and "In the LMS" in listing
    assert "The due date is in the past." in listing

    page = support.get(reverse("admin:lms_assignment_change", args=[ok.pk])).content.decode()
    assert "pushed" in page and world.students[0].clever_id in page
    assert "8.25" not in page  # no grades on support pages
    detail = support.get(reverse("admin:lms_assignment_change", args=[bad.pk])).content.decode()
    assert "due_date must be in the future" in detail and "HTTP 400" in detail


def test_support_reconciles_a_lost_create_by_linking_the_uuid(world, support):
    assignment = AssignmentFactory(section=world.section, due_at=world.days(3))
    KNOBS.add_fault("malformed_json", on_request=1, count=1, path_contains="/assignments")
    assert push_assignment(assignment_id=assignment.pk).outcome == "unknown"
    link = CleverAssignment.objects.get(assignment=assignment)

    queue = support.get(reverse("admin:lms_cleverassignment_changelist") + "?state=unknown")
    assert "Creation unconfirmed" in queue.content.decode()
    change = support.get(reverse("admin:lms_cleverassignment_change", args=[link.pk])).content.decode()
    assert "Link Clever assignment ID" in change and "Confirm not created" in change

    url = reverse("admin:lms_cleverassignment_link", args=[link.pk])
    wrong = support.post(url, {"clever_id": "00000000-0000-4000-8000-000000000000"})
    assert "Clever has no such assignment in this class." in wrong.content.decode()
    existing = str(world.sandbox_assignments().get().id)
    response = support.post(url, {"clever_id": existing})
    assert response.status_code == 302
    link.refresh_from_db()
    assert link.state == "linked" and link.clever_id == existing
    audit = LmsAudit.objects.get(assignment=assignment)
    assert (audit.actor.username, audit.actor_label) == ("helpdesk", "staff: helpdesk")


def test_confirming_a_lost_create_made_nothing_asks_for_a_reason(world, support):
    assignment = AssignmentFactory(section=world.section, title="Decimals", due_at=world.days(3))
    KNOBS.add_fault("malformed_json", on_request=1, count=1, path_contains="/assignments")
    assert push_assignment(assignment_id=assignment.pk).outcome == "unknown"
    link = CleverAssignment.objects.get(assignment=assignment)
    url = reverse("admin:lms_cleverassignment_not_created", args=[link.pk])

    asked = support.get(url).content.decode()
    assert "the class gets it twice" in asked and 'name="reason"' in asked
    bare = support.post(url, {})  # the finding: one click, nothing recorded
    assert bare.status_code == 200 and "This field is required." in bare.content.decode()
    link.refresh_from_db()
    assert link.state == "unknown" and not LmsAudit.objects.filter(assignment=assignment).exists()

    done = support.post(url, {"reason": "Checked Canvas: not there (ticket 12)"})

    assert done.status_code == 302
    link.refresh_from_db()
    assert link.state == "not_pushed"  # the push it requested runs after the commit
    audit = LmsAudit.objects.get(assignment=assignment)
    assert audit.action == "confirmed_not_created"
    assert audit.details["reason"] == "Checked Canvas: not there (ticket 12)"
    history = support.get(reverse("admin:lms_assignment_change", args=[assignment.pk]))
    assert "Reason: Checked Canvas: not there (ticket 12)" in history.content.decode()
    assert "Was: " in history.content.decode() and "{&#x27;" not in history.content.decode()


def test_people_who_are_not_support_cannot_use_it(world):
    browser = Client()
    browser.force_login(UserFactory(username="staffer", is_staff=True))
    assert browser.get(reverse("admin:lms_assignment_changelist")).status_code == 403
    assignment = AssignmentFactory(section=world.section, due_at=world.days(3))
    link = CleverAssignment.objects.get(assignment=assignment)
    response = browser.post(reverse("admin:lms_cleverassignment_not_created", args=[link.pk]))
    assert response.status_code == 403
