"""Pushing assignments and grades to the sandbox's LMS, per LMS type and grading type."""

from __future__ import annotations

import pytest

from lms.factories import AssignmentFactory, ResultFactory
from lms.models import CleverAssignment, GradingType, Result, SubmissionSync
from lms.services.payloads import clever_time
from lms.services.pull import pull_assignment
from lms.services.push import push_assignment
from lms.services.writes import (
    approve_results,
    create_assignment,
    delete_assignment,
    record_result,
    update_assignment,
)
from sandbox.knobs import KNOBS


def grade_section(world, assignment, points=None):
    for n, student in enumerate(world.students):
        ResultFactory(assignment=assignment, student=student, points=(points[n] if points else 6.0 + n))


def test_create_and_push_grades_for_a_whole_section(world, api):
    assignment = create_assignment(
        section=world.section,
        title="Chapter 3 quiz",
        description="Linear equations",
        due_at=world.days(7),
        points_possible=10,
        submission_types=["text"],
    )
    for n, student in enumerate(world.students):
        record_result(
            assignment=assignment,
            student=student,
            points=5.5 + n,
            comment=f"Good work {n}" if n % 2 else "",
            source="auto",
        )
    before = KNOBS.api_requests

    report = push_assignment(assignment_id=assignment.pk, client=api)

    assert report.outcome == "ok" and report.created
    assert report.sent == len(world.students)
    # One POST, then one PATCH per student: nothing else.
    assert KNOBS.api_requests - before == 1 + len(world.students) == report.requests
    link = CleverAssignment.objects.get(assignment=assignment)
    assert link.state == "linked" and link.clever_id
    (lms_assignment,) = world.sandbox_assignments()
    assert str(lms_assignment.id) == link.clever_id
    assert lms_assignment.data["title"] == "Chapter 3 quiz"
    assert lms_assignment.data["points_possible"] == 10
    assert lms_assignment.data["submission_types"] == ["text"]
    for n, student in enumerate(world.students):
        submission = world.lms_submission(link.clever_id, student)
        assert submission["grade_points"] == 5.5 + n
        assert (submission["grade_comment"] or "") == (f"Good work {n}" if n % 2 else "")
        sync = SubmissionSync.objects.get(assignment=assignment, student_clever_id=student.clever_id)
        assert sync.status == "pushed"
        assert sync.pushed["grade_points"] == 5.5 + n
        assert sync.lms_value["grade_points"] == 5.5 + n


def test_pushing_the_same_grades_again_sends_nothing(world, api):
    assignment = AssignmentFactory(section=world.section, due_at=world.days(3))
    grade_section(world, assignment)
    push_assignment(assignment_id=assignment.pk, client=api)
    before = KNOBS.api_requests

    again = push_assignment(assignment_id=assignment.pk, client=api)

    assert KNOBS.api_requests == before and again.requests == 0
    assert again.unchanged == len(world.students) and again.sent == 0

    # One grade changes: the submissions are read first (one page), then one PATCH.
    changed = Result.objects.get(assignment=assignment, student=world.students[2])
    record_result(assignment=assignment, student=world.students[2], points=9.0, approve=True)
    third = push_assignment(assignment_id=assignment.pk, client=api)
    assert third.sent == 1 and third.unchanged == len(world.students) - 1
    assert KNOBS.api_requests - before == 2
    uuid = world.link(assignment).clever_id
    assert world.lms_submission(uuid, world.students[2])["grade_points"] == 9.0
    assert changed.pk == Result.objects.get(assignment=assignment, student=world.students[2]).pk


def test_draft_results_are_not_pushed_until_approved(world, api, django_user_model):
    teacher_user = django_user_model.objects.create(username="tess")
    assignment = AssignmentFactory(section=world.section, due_at=world.days(3), auto_approve_autograded=False)
    record_result(assignment=assignment, student=world.students[0], points=7, source="auto")
    assert Result.objects.get(assignment=assignment).status == "draft"
    report = push_assignment(assignment_id=assignment.pk, client=api)
    assert report.created and report.sent == 0

    assert approve_results(assignment=assignment, actor=teacher_user) == 1
    report = push_assignment(assignment_id=assignment.pk, client=api)
    assert report.sent == 1
    assert world.lms_submission(world.link(assignment).clever_id, world.students[0])["grade_points"] == 7


def test_assignment_changes_are_patched_only_when_content_changed(world, api):
    assignment = AssignmentFactory(section=world.section, due_at=world.days(3))
    push_assignment(assignment_id=assignment.pk, client=api)
    before = KNOBS.api_requests
    push_assignment(assignment_id=assignment.pk, client=api)
    assert KNOBS.api_requests == before

    update_assignment(assignment=assignment, title="Chapter 3 quiz (retake)", due_at=world.days(5))
    report = push_assignment(assignment_id=assignment.pk, client=api)
    assert report.updated and KNOBS.api_requests - before == 1
    (lms_assignment,) = world.sandbox_assignments()
    assert lms_assignment.data["title"] == "Chapter 3 quiz (retake)"
    assert lms_assignment.data["due_date"] == clever_time(world.days(5))


@pytest.mark.parametrize(
    ("grading_type", "points", "grade", "expected"),
    [
        (GradingType.POINTS, 8.0, "", {"grade": None, "grade_points": 8.0}),
        (GradingType.PERCENT, 7.5, "", {"grade": None, "grade_points": 7.5}),
        (GradingType.PASS_FAIL, None, "Pass", {"grade": "pass"}),
        (GradingType.LETTER_GRADE, 8.7, "B+", {"grade": "B+", "grade_points": 8.7}),
    ],
)
def test_grades_take_the_form_the_grading_type_needs(lms_world, api, grading_type, points, grade, expected):
    world = lms_world(lms_type="schoology", students=1)
    assignment = AssignmentFactory(section=world.section, due_at=world.days(3), grading_type=grading_type)
    ResultFactory(
        assignment=assignment,
        student=world.students[0],
        points=points,
        grade=grade,
        flags=["late"] if grading_type == GradingType.PASS_FAIL else [],
    )
    report = push_assignment(assignment_id=assignment.pk, client=api)
    assert report.sent == 1
    submission = world.lms_submission(world.link(assignment).clever_id, world.students[0])
    for key, value in expected.items():
        assert submission.get(key) == value, key
    assert world.sandbox_assignments().get().data["grading_type"] == grading_type


def test_flags_and_excused_without_points(world, api):
    assignment = AssignmentFactory(section=world.section, due_at=world.days(3))
    ResultFactory(assignment=assignment, student=world.students[0], points=None, flags=["excused"])
    push_assignment(assignment_id=assignment.pk, client=api)
    submission = world.lms_submission(world.link(assignment).clever_id, world.students[0])
    assert submission["flags"] == ["excused"]
    assert not submission.get("grade_points")


def test_canvas_gets_display_date_and_others_start_date(lms_world, api):
    for lms_type, key, absent in (
        ("canvas", "display_date", "start_date"),
        ("google_classroom", "start_date", "display_date"),
    ):
        world = lms_world(lms_type=lms_type, name=f"{lms_type} district")
        assignment = AssignmentFactory(section=world.section, due_at=world.days(7), start_at=world.days(1))
        report = push_assignment(assignment_id=assignment.pk, client=api)
        assert report.created, report.message
        data = world.sandbox_assignments().get().data
        assert data[key] == clever_time(world.days(1))
        assert data[absent] is None
        assert "state" not in world.link(assignment).pushed_content
        assert data["state"] == "scheduled"


def test_google_classroom_submissions_have_no_id(lms_world, api):
    world = lms_world(lms_type="google_classroom", students=3)
    assignment = AssignmentFactory(section=world.section, due_at=world.days(3))
    grade_section(world, assignment)
    report = push_assignment(assignment_id=assignment.pk, client=api)
    assert report.sent == 3
    syncs = SubmissionSync.objects.filter(assignment=assignment)
    assert {s.lms_submission_id for s in syncs} == {""}
    assert all(s.status == "pushed" for s in syncs)
    pulled = pull_assignment(assignment_id=assignment.pk, client=api)
    assert pulled.outcome == "ok" and pulled.lms_edits_found == 0


def test_students_not_matched_in_the_lms_are_marked_not_skipped_silently(lms_world, api):
    world = lms_world(students=4, unmatched_students=1)
    assignment = AssignmentFactory(section=world.section, due_at=world.days(3))
    grade_section(world, assignment)
    report = push_assignment(assignment_id=assignment.pk, client=api)
    assert report.sent == 3 and report.not_in_lms == 1
    statuses = sorted(SubmissionSync.objects.filter(assignment=assignment).values_list("status", flat=True))
    assert statuses == ["not_in_lms", "pushed", "pushed", "pushed"]


def test_deleting_an_assignment_deletes_it_in_the_lms(world, api):
    assignment = AssignmentFactory(section=world.section, due_at=world.days(3))
    push_assignment(assignment_id=assignment.pk, client=api)
    assert world.sandbox_assignments().count() == 1
    delete_assignment(assignment=assignment)
    report = push_assignment(assignment_id=assignment.pk, client=api)
    assert report.deleted
    assert world.sandbox_assignments().count() == 0
    assert world.link(assignment).state == "deleted"


def test_logs_carry_no_token_grade_comment_or_name(world, api, caplog):
    from sandbox import services as sbx

    caplog.set_level("DEBUG")
    assignment = AssignmentFactory(section=world.section, due_at=world.days(3))
    for student in world.students:
        ResultFactory(
            assignment=assignment, student=student, points=7.3125, comment="Remarkable-essay-comment"
        )
    KNOBS.add_fault("status", status=503, on_request=2, count=1, path_contains="/submissions/")
    push_assignment(assignment_id=assignment.pk, client=api)
    pull_assignment(assignment_id=assignment.pk, client=api)

    token = sbx.district_token(world.sandbox_district).access_token
    assert "lms: push of assignment" in caplog.text
    for secret in (token, "7.3125", "Remarkable-essay-comment", "Stu0", "Dent"):
        assert secret not in caplog.text
