"""Celery tasks: pushes enqueued after the commit (once), the nightly pull, the beat entry."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from lms import tasks
from lms.factories import AssignmentFactory, ResultFactory
from lms.models import CleverAssignment, SubmissionSync
from lms.services.pull import pull_district
from lms.services.push import push_assignment
from lms.services.sessions import write_timeout
from lms.services.writes import create_assignment, record_result, request_sync
from sandbox.lms import gradebook as sandbox_lms


def test_the_nightly_pull_is_in_celery_beat():
    entry = settings.CELERY_BEAT_SCHEDULE["lms-nightly-pull"]
    assert entry["task"] == "lms.tasks.nightly_pull"
    assert tasks.nightly_pull.name == "lms.tasks.nightly_pull"
    assert 15 <= write_timeout() <= 60


def test_creating_with_push_on_creation_pushes_after_the_commit(world, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        assignment = create_assignment(
            section=world.section,
            title="Warm-up",
            description="Five questions",
            due_at=world.days(2),
            points_possible=5,
        )
    assert len(callbacks) == 1
    link = CleverAssignment.objects.get(assignment=assignment)
    assert link.state == "linked" and link.push_requested_at is None
    assert world.sandbox_assignments().get().data["title"] == "Warm-up"


def test_manual_policy_waits_for_the_button(world, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        assignment = create_assignment(
            section=world.section,
            title="Project",
            description="Poster",
            due_at=world.days(9),
            sync_policy="manual",
        )
        record_result(assignment=assignment, student=world.students[0], points=3, source="auto")
    assert callbacks == []
    assert world.sandbox_assignments().count() == 0
    with django_capture_on_commit_callbacks(execute=True):
        request_sync(assignment=assignment)
    assert world.sandbox_assignments().count() == 1
    sync = SubmissionSync.objects.get(assignment=assignment)
    assert sync.status == "pushed" and sync.pushed["grade_points"] == 3.0


def test_many_approvals_enqueue_one_push(world, django_capture_on_commit_callbacks):
    assignment = AssignmentFactory(section=world.section, due_at=world.days(3), sync_policy="on_create")
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        for student in world.students:
            record_result(assignment=assignment, student=student, points=4, source="auto")
    assert len(callbacks) == 1  # one push for the whole batch of grades
    for callback in callbacks:
        callback()
    pushed = SubmissionSync.objects.filter(assignment=assignment, status="pushed")
    assert pushed.count() == len(world.students)


def test_nightly_pull_reads_teacher_edits_of_recent_assignments(
    world, api, django_capture_on_commit_callbacks
):
    recent = AssignmentFactory(section=world.section, due_at=world.days(2))
    ResultFactory(assignment=recent, student=world.students[0], points=5)
    push_assignment(assignment_id=recent.pk, client=api)
    uuid = CleverAssignment.objects.get(assignment=recent).clever_id
    sandbox_lms.teacher_edit_submission(
        assignment_id=uuid, user_id=world.students[0].clever_id, grade_points=6
    )
    # A push whose message was lost long ago is enqueued again too.
    lost = AssignmentFactory(section=world.section, due_at=world.days(5))
    CleverAssignment.objects.filter(assignment=lost).update(
        push_requested_at=timezone.now() - timedelta(hours=2)
    )

    with django_capture_on_commit_callbacks(execute=True):
        summary = tasks.nightly_pull()

    assert summary == {"districts": 1, "pushes": 1}
    sync = SubmissionSync.objects.get(assignment=recent)
    assert sync.status == "lms_edited" and sync.lms_value["grade_points"] == 6.0
    assert CleverAssignment.objects.get(assignment=lost).state == "linked"
    assert world.sandbox_assignments().count() == 2


def test_pull_skips_assignments_due_long_ago(world, api, settings):
    old = AssignmentFactory(section=world.section, due_at=world.days(3))
    push_assignment(assignment_id=old.pk, client=api)
    type(old).objects.filter(pk=old.pk).update(due_at=timezone.now() - timedelta(days=90))
    reports = pull_district(district=world.district, client=api)
    assert reports == []


def test_nightly_retries_a_push_that_was_blocked_once_the_lms_is_ready(
    lms_world, api, django_capture_on_commit_callbacks
):
    from districts.models import District

    world = lms_world(lms_type="schoology", lms_state="matching_in_progress")
    assignment = AssignmentFactory(section=world.section, due_at=world.days(3), sync_policy="on_create")
    assert push_assignment(assignment_id=assignment.pk, client=api).outcome == "blocked"
    with django_capture_on_commit_callbacks(execute=True):
        assert tasks.nightly_pull()["pushes"] == 0  # still blocked: nothing to retry

    # Clever finished matching; district discovery reads the new state.
    from districts.services import discover_districts
    from sandbox import services as sbx

    sbx.set_lms(district=world.sandbox_district, lms_type="schoology", lms_state="success")
    discover_districts(client=api)
    assert District.objects.get(pk=world.district.pk).lms_state == "success"
    with django_capture_on_commit_callbacks(execute=True):
        assert tasks.nightly_pull()["pushes"] == 1
    assert CleverAssignment.objects.get(assignment=assignment).state == "linked"
    assert world.sandbox_assignments().count() == 1
