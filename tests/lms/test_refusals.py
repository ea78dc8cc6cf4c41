"""Writes that cannot happen: refused before a request with a plain reason, or refused by
Clever with its message kept for the teacher and support."""

from __future__ import annotations

import pytest

from lms import selectors, tasks
from lms.errors import LmsInputError
from lms.factories import AssignmentFactory, ResultFactory
from lms.models import CleverAssignment
from lms.services.payloads import clever_time
from lms.services.push import push_assignment
from lms.services.writes import create_assignment, record_result, update_assignment
from sandbox import services as sbx
from sandbox.knobs import KNOBS


def test_a_district_without_an_lms_is_refused_with_a_reason(lms_world, api):
    world = lms_world(lms_type="")
    assert world.district.lms_type == "" and world.district.lms_state == ""
    assignment = AssignmentFactory(section=world.section, due_at=world.days(3))
    ResultFactory(assignment=assignment, student=world.students[0])
    before = KNOBS.api_requests

    report = push_assignment(assignment_id=assignment.pk, client=api)

    assert report.outcome == "blocked" and not report.retryable
    assert KNOBS.api_requests == before  # nothing was sent
    link = world.link(assignment)
    assert link.state == "not_pushed" and link.problem == "blocked"
    assert link.problem_message == (
        "This district has no LMS connected through Clever, so nothing can be sent to an LMS."
    )
    assert selectors.lms_status_text(assignment).startswith("Not sent: This district has no LMS")
    assert world.sandbox_assignments().count() == 0


def test_an_lms_connection_that_is_not_ready_is_refused(lms_world, api):
    world = lms_world(lms_type="schoology", lms_state="matching_in_progress")
    assignment = AssignmentFactory(section=world.section, due_at=world.days(3))
    report = push_assignment(assignment_id=assignment.pk, client=api)
    assert report.outcome == "blocked"
    assert "Schoology connection is not ready yet (Clever reports “matching_in_progress”)" in report.message


def test_a_section_not_synced_in_the_lms_is_refused_with_a_reason(lms_world, api):
    world = lms_world(section_synced=False)
    assert world.section.synced_in_lms is False  # mirrored from Clever's lms_status
    assignment = AssignmentFactory(section=world.section, due_at=world.days(3))
    before = KNOBS.api_requests

    report = push_assignment(assignment_id=assignment.pk, client=api)

    assert report.outcome == "blocked" and KNOBS.api_requests == before
    assert "This class is not synced with the district's Canvas yet" in world.link(assignment).problem_message
    assert world.sandbox_assignments().count() == 0


def test_clever_refusing_an_unmirrored_lms_change_is_the_backstop(world, api):
    # The district's LMS broke after discovery last read it: Clever refuses the write itself.
    sbx.set_lms(district=world.sandbox_district, lms_type="canvas", lms_state="error")
    assignment = AssignmentFactory(section=world.section, due_at=world.days(3))
    report = push_assignment(assignment_id=assignment.pk, client=api)
    assert report.outcome == "refused" and not report.retryable
    link = world.link(assignment)
    assert link.state == "not_pushed"
    assert link.problem_message.startswith("The district's LMS connection is not available right now.")
    assert "lms_state: error" in link.problem_message


def test_a_due_date_in_the_past_shows_clevers_message(world, api):
    assignment = AssignmentFactory(section=world.section, due_at=world.days(-1))
    ResultFactory(assignment=assignment, student=world.students[0])
    report = push_assignment(assignment_id=assignment.pk, client=api)

    assert report.outcome == "refused" and not report.retryable
    link = world.link(assignment)
    assert link.state == "not_pushed" and link.problem == "refused"
    assert link.problem_message == (
        "The due date is in the past. Choose a later due date, then sync "
        "again. (Clever: “due_date must be in the future”)"
    )
    assert "HTTP 400" in link.problem_detail and "due_date must be in the future" in link.problem_detail
    assert world.sandbox_assignments().count() == 0
    # The task stops: no retry for a validation error.
    result = tasks.push_assignment(assignment.pk)
    assert result["outcome"] == "refused"

    # Fixed by the teacher: the next push creates it and clears the problem.
    update_assignment(assignment=assignment, due_at=world.days(2))
    report = push_assignment(assignment_id=assignment.pk, client=api)
    assert report.created and report.sent == 1
    link.refresh_from_db()
    assert link.problem == "" and link.problem_message == ""


def test_product_values_the_lms_could_never_take_are_refused_up_front(world):
    with pytest.raises(LmsInputError, match="description"):
        create_assignment(section=world.section, title="Quiz", description=" ", due_at=world.days(2))
    with pytest.raises(LmsInputError, match="submission type"):
        create_assignment(
            section=world.section,
            title="Quiz",
            description="d",
            due_at=world.days(2),
            submission_types=["video"],
        )
    assignment = AssignmentFactory(section=world.section, due_at=world.days(3))
    with pytest.raises(LmsInputError, match="flag"):
        record_result(assignment=assignment, student=world.students[0], points=1, flags=["absent"])
    with pytest.raises(LmsInputError, match="not in this class"):
        record_result(assignment=assignment, student=world.teacher, points=1)
    assert CleverAssignment.objects.filter(assignment__title="Quiz").count() == 0


def test_a_refused_assignment_change_still_lets_grades_through(world, api):
    assignment = AssignmentFactory(section=world.section, due_at=world.days(3))
    push_assignment(assignment_id=assignment.pk, client=api)
    update_assignment(assignment=assignment, due_at=world.days(-1))
    ResultFactory(assignment=assignment, student=world.students[0], points=4)

    report = push_assignment(assignment_id=assignment.pk, client=api)

    assert report.outcome == "refused" and report.sent == 1
    link = world.link(assignment)
    assert link.state == "linked" and "The due date is in the past" in link.problem_message
    assert world.sandbox_assignments().get().data["due_date"] == clever_time(world.days(3))
    assert world.lms_submission(link.clever_id, world.students[0])["grade_points"] == 4
