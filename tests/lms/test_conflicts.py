"""Teacher edits made in the LMS are read back and kept; cursor pages that expire start over."""

from __future__ import annotations

from lms.factories import AssignmentFactory, ResultFactory
from lms.models import Result, SubmissionSync
from lms.services.pull import pull_assignment
from lms.services.push import push_assignment
from lms.services.reconcile import override_lms_edit
from lms.services.writes import record_result
from sandbox.knobs import KNOBS
from sandbox.lms import gradebook as sandbox_lms


def pushed_assignment(world, api, points=None):
    assignment = AssignmentFactory(section=world.section, due_at=world.days(5))
    for n, student in enumerate(world.students):
        ResultFactory(assignment=assignment, student=student, points=points[n] if points else 5.0 + n)
    report = push_assignment(assignment_id=assignment.pk, client=api)
    assert report.sent == len(world.students)
    return assignment, world.link(assignment).clever_id


def sync_of(assignment, student) -> SubmissionSync:
    return SubmissionSync.objects.get(assignment=assignment, student_clever_id=student.clever_id)


def test_a_teacher_edit_in_the_lms_is_read_back_and_kept(world, api, clock):
    assignment, uuid = pushed_assignment(world, api)
    edited = world.students[1]
    clock.now += 3600
    sandbox_lms.teacher_edit_submission(
        assignment_id=uuid, user_id=edited.clever_id, grade_points=9.5, grade_comment="Regraded by hand"
    )

    pulled = pull_assignment(assignment_id=assignment.pk, client=api)

    assert pulled.outcome == "ok" and pulled.lms_edits_found == 1 and pulled.pages == 1
    sync = sync_of(assignment, edited)
    assert sync.status == "lms_edited" and sync.lms_edited_at is not None
    assert sync.lms_value["grade_points"] == 9.5
    assert sync.lms_value["grade_comment"] == "Regraded by hand"
    assert sync.pushed["grade_points"] == 6.0  # what we had sent, kept for the record
    assert {sync_of(assignment, s).status for s in world.students if s != edited} == {"pushed"}

    # The product's grades change for everyone: the edited student is not overwritten.
    for student in world.students:
        record_result(assignment=assignment, student=student, points=1.0, approve=True)
    report = push_assignment(assignment_id=assignment.pk, client=api)
    assert report.sent == len(world.students) - 1 and report.kept_lms_edits == 1
    assert world.lms_submission(uuid, edited)["grade_points"] == 9.5
    assert world.lms_submission(uuid, edited)["grade_comment"] == "Regraded by hand"
    assert world.lms_submission(uuid, world.students[0])["grade_points"] == 1.0
    # The product's own result is untouched; the LMS value is recorded beside it.
    assert Result.objects.get(assignment=assignment, student=edited).points == 1.0


def test_an_edit_made_between_pulls_is_caught_by_the_read_before_writing(world, api, clock):
    assignment, uuid = pushed_assignment(world, api)
    edited = world.students[0]
    sandbox_lms.teacher_edit_submission(assignment_id=uuid, user_id=edited.clever_id, grade_points=2.0)
    record_result(assignment=assignment, student=edited, points=7.0, approve=True)

    report = push_assignment(assignment_id=assignment.pk, client=api)

    assert report.lms_edits_found == 1 and report.sent == 0 and report.kept_lms_edits == 1
    assert world.lms_submission(uuid, edited)["grade_points"] == 2.0
    assert sync_of(assignment, edited).status == "lms_edited"


def test_a_grade_entered_in_the_lms_before_ours_is_not_overwritten(world, api):
    assignment = AssignmentFactory(section=world.section, due_at=world.days(5))
    push_assignment(assignment_id=assignment.pk, client=api)  # created, no grades yet
    uuid = world.link(assignment).clever_id
    first = world.students[0]
    sandbox_lms.teacher_edit_submission(assignment_id=uuid, user_id=first.clever_id, grade_points=4.0)
    for student in world.students:
        ResultFactory(assignment=assignment, student=student, points=8.0)

    report = push_assignment(assignment_id=assignment.pk, client=api)

    assert report.sent == len(world.students) - 1 and report.kept_lms_edits == 1
    assert world.lms_submission(uuid, first)["grade_points"] == 4.0
    sync = sync_of(assignment, first)
    assert sync.status == "lms_edited" and sync.pushed is None


def test_the_teacher_can_send_the_product_grade_over_an_lms_edit(world, api, django_user_model):
    teacher_user = django_user_model.objects.create(username="tess")
    assignment, uuid = pushed_assignment(world, api)
    edited = world.students[0]
    sandbox_lms.teacher_edit_submission(assignment_id=uuid, user_id=edited.clever_id, grade_points=3.0)
    pull_assignment(assignment_id=assignment.pk, client=api)
    assert sync_of(assignment, edited).status == "lms_edited"

    override_lms_edit(
        assignment=assignment, student_clever_id=edited.clever_id, actor=teacher_user, reason="regraded"
    )
    report = push_assignment(assignment_id=assignment.pk, client=api)

    assert report.sent == 1
    assert world.lms_submission(uuid, edited)["grade_points"] == 5.0
    assert sync_of(assignment, edited).status == "pushed"
    assert assignment.audits.get().action == "override_lms_edit"


def test_state_changes_and_late_flags_from_the_lms_are_not_grade_edits(world, api):
    assignment, uuid = pushed_assignment(world, api)
    student = world.students[0]
    sandbox_lms.student_submit(
        assignment_id=uuid, user_id=student.clever_id, now=world.days(9)
    )  # after the due date: flagged late
    pulled = pull_assignment(assignment_id=assignment.pk, client=api)
    assert pulled.lms_edits_found == 0
    sync = sync_of(assignment, student)
    assert sync.status == "pushed" and sync.lms_state == "submitted"
    assert sync.lms_value["flags"] == ["late"]

    # A later grade push keeps the LMS's own "late" flag.
    record_result(assignment=assignment, student=student, points=9.0, approve=True)
    push_assignment(assignment_id=assignment.pk, client=api)
    submission = world.lms_submission(uuid, student)
    assert submission["grade_points"] == 9.0 and submission["flags"] == ["late"]


def test_an_expired_next_link_starts_the_listing_over(world, api, monkeypatch):
    monkeypatch.setattr("lms.services.pull.SUBMISSIONS_PAGE_SIZE", 2)
    assignment, uuid = pushed_assignment(world, api)
    last = world.students[-1]
    sandbox_lms.teacher_edit_submission(assignment_id=uuid, user_id=last.clever_id, grade_points=1.5)
    # The second page is asked for more than two hours after the first was served.
    KNOBS.add_fault("slow", on_request=2, delay=2 * 3600 + 60, path_contains="/submissions")

    pulled = pull_assignment(assignment_id=assignment.pk, client=api)

    assert pulled.outcome == "ok"
    assert pulled.restarts == 1
    assert pulled.pages == 1 + 3  # one page before the refusal, then all three again
    assert sync_of(assignment, last).status == "lms_edited"
    assert sync_of(assignment, last).lms_value["grade_points"] == 1.5
