"""An LMS assignment whose creation is unconfirmed (Clever's answer lost) is told to support
once, with a link to the page where it is reconciled; never its title or a student's data."""

from __future__ import annotations

import pytest
from django.core import mail
from django.urls import reverse

from lms.factories import AssignmentFactory, ResultFactory
from lms.models import CleverAssignment
from lms.services.push import push_assignment
from operations import tasks as operations_tasks
from operations.models import AlertKind, AlertState
from sandbox.knobs import KNOBS

pytestmark = pytest.mark.django_db


def test_an_assignment_in_an_unknown_state_is_told_once(world, api, alerting, webhook, committed):
    assignment = AssignmentFactory(section=world.section, title="Fractions quiz", due_at=world.days(3))
    ResultFactory(assignment=assignment, student=world.students[0], points=8.25)
    KNOBS.add_fault("malformed_json", on_request=1, count=1, path_contains="/assignments")

    with committed():
        assert push_assignment(assignment_id=assignment.pk, client=api).outcome == "unknown"

    link = CleverAssignment.objects.get(assignment=assignment)
    assert len(mail.outbox) == 1 and len(webhook) == 1
    email = mail.outbox[0]
    assert email.subject == f"[Clever bridge] An assignment in {world.district.name}'s LMS needs checking"
    assert (
        "https://bridge.example.org" + reverse("admin:lms_cleverassignment_change", args=[link.pk])
        in email.body
    )
    assert f"assignment #{assignment.pk}" in email.body and "canvas" in email.body
    for text in (email.subject, email.body, webhook[0]["json"]["text"]):
        assert "Fractions" not in text and "8.25" not in text
        for person in [world.teacher, *world.students]:
            assert person.last_name not in text and person.clever_id not in text

    with committed():  # pushed again: still unknown, nothing new to tell
        assert push_assignment(assignment_id=assignment.pk, client=api).outcome == "unknown"
    assert len(mail.outbox) == 1

    # Support reconciles it (the assignment is no longer unknown): the hourly check resets it.
    CleverAssignment.objects.filter(pk=link.pk).update(state=CleverAssignment.State.NOT_PUSHED)
    assert operations_tasks.hourly_checks.delay().get()["resolved"] == 1
    assert AlertState.objects.get(kind=AlertKind.LMS_UNKNOWN).state == "ok"
