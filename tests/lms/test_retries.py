"""Retries after 429 and 5xx, and idempotence: a retried push never makes a second assignment."""

from __future__ import annotations

from datetime import timedelta

import pytest
import requests
from django.utils import timezone
from requests.adapters import BaseAdapter

from lms import tasks
from lms.errors import LmsInputError
from lms.factories import AssignmentFactory, ResultFactory
from lms.models import CleverAssignment, LmsAudit, SubmissionSync
from lms.services.push import push_assignment
from lms.services.reconcile import confirm_not_created, link_clever_assignment
from lms.services.writes import record_result
from sandbox.knobs import KNOBS
from sandbox.transport import InProcessAdapter


def graded(world, points=7.0):
    assignment = AssignmentFactory(section=world.section, due_at=world.days(4))
    for student in world.students:
        ResultFactory(assignment=assignment, student=student, points=points)
    return assignment


def test_a_5xx_on_a_grade_is_retried_by_the_client_with_backoff(world, api, clock):
    assignment = graded(world)
    KNOBS.add_fault("status", status=503, on_request=3, count=2, path_contains="/submissions/")

    report = push_assignment(assignment_id=assignment.pk, client=api)

    assert report.outcome == "ok" and report.sent == len(world.students)
    assert report.requests == 1 + len(world.students) + 2  # two answers were 503s
    assert len(clock.slept) >= 2  # backoff waited (on the fake clock)
    uuid = world.link(assignment).clever_id
    assert {world.lms_submission(uuid, s)["grade_points"] for s in world.students} == {7.0}


def test_a_5xx_on_create_is_retried_by_the_task_and_makes_one_assignment(world, api):
    assignment = graded(world)
    KNOBS.add_fault("status", status=503, on_request=1, count=1, path_contains="/assignments")

    with pytest.raises(tasks.RetryableLmsError, match="not answering right now"):
        tasks.push_assignment(assignment.pk)  # called directly: Celery re-raises for a retry

    link = world.link(assignment)
    assert link.state == "not_pushed" and link.problem == "temporary"
    assert "Clever is not answering right now (HTTP 503)" in link.problem_message
    assert world.sandbox_assignments().count() == 0

    report = push_assignment(assignment_id=assignment.pk, client=api)  # the retry
    assert report.created and report.sent == len(world.students)
    assert world.sandbox_assignments().count() == 1
    assert world.link(assignment).create_attempts == 2


def test_grade_pushes_that_keep_failing_stop_and_resume_where_they_were(world, api):
    assignment = graded(world)
    push_assignment(assignment_id=assignment.pk, client=api)  # created + graded
    for student in world.students:
        record_result(assignment=assignment, student=student, points=3.0, approve=True)
    # From the third PATCH on, every answer is a 502: more than the client retries.
    KNOBS.add_fault("status", status=502, on_request=3, count=50, path_contains="/submissions/")
    api.max_retries = 1

    report = push_assignment(assignment_id=assignment.pk, client=api)

    assert report.outcome == "temporary" and report.retryable and report.sent == 2
    KNOBS.clear_faults()
    before = KNOBS.api_requests
    retry = push_assignment(assignment_id=assignment.pk, client=api)
    assert retry.sent == len(world.students) - 2 and retry.unchanged == 2
    assert KNOBS.api_requests - before == 1 + len(world.students) - 2  # read, then the rest


def test_rate_limit_is_paced_from_headers_without_429s(lms_world, api, clock):
    world = lms_world(students=8)
    KNOBS.rate_limit_per_minute = 4
    clock.now = (clock.now // 60 + 1) * 60  # a fresh window: the setup's requests are behind
    assignment = graded(world)

    report = push_assignment(assignment_id=assignment.pk, client=api)

    assert report.sent == 8 and report.requests == 9
    assert report.rate_limited == 0  # waited for the window instead of earning 429s
    assert any(wait > 1 for wait in clock.slept)


def test_a_429_is_waited_out_and_the_push_completes(world, api, clock):
    assignment = graded(world)
    KNOBS.rate_limit_per_minute = 3
    # Another worker used the token's window up just before this push.
    token = _token_of(world)
    for _ in range(3):
        KNOBS.rate_limit(token)
    report = push_assignment(assignment_id=assignment.pk, client=api)
    assert report.outcome == "ok" and report.sent == len(world.students)
    assert report.rate_limited >= 1


def _token_of(world):
    from sandbox import services as sbx

    return sbx.district_token(world.sandbox_district).access_token


def test_a_lost_create_answer_is_never_posted_again_until_support_reconciles(world, api, django_user_model):
    support = django_user_model.objects.create(username="support", is_staff=True)
    assignment = graded(world)
    # Clever creates the assignment, but the answer is cut off mid-JSON.
    KNOBS.add_fault("malformed_json", on_request=1, count=1, path_contains="/assignments")

    first = push_assignment(assignment_id=assignment.pk, client=api)

    assert first.outcome == "unknown" and not first.retryable
    link = world.link(assignment)
    assert link.state == "unknown" and link.clever_id == ""
    assert "its answer was lost" in link.problem_message
    assert world.sandbox_assignments().count() == 1

    before = KNOBS.api_requests
    retried = push_assignment(assignment_id=assignment.pk, client=api)
    assert retried.outcome == "unknown" and KNOBS.api_requests == before  # no second POST
    assert tasks.push_assignment(assignment.pk)["outcome"] == "unknown"
    assert world.sandbox_assignments().count() == 1

    # Support finds it in the LMS and links it (checked with a GET); the push then goes on.
    existing = str(world.sandbox_assignments().get().id)
    with pytest.raises(LmsInputError):
        link_clever_assignment(assignment=assignment, clever_id="not-a-uuid", actor=support, client=api)
    link_clever_assignment(assignment=assignment, clever_id=existing, actor=support, client=api)
    report = push_assignment(assignment_id=assignment.pk, client=api)
    assert report.sent == len(world.students)
    assert world.sandbox_assignments().count() == 1
    assert world.link(assignment).clever_id == existing
    assert LmsAudit.objects.get(assignment=assignment).action == "linked"


def test_a_lost_answer_confirmed_not_created_is_created_once(world, api, django_user_model):
    support = django_user_model.objects.create(username="support", is_staff=True)
    assignment = graded(world)
    KNOBS.add_fault("html", status=502, on_request=1, count=1, path_contains="/assignments")
    assert push_assignment(assignment_id=assignment.pk, client=api).outcome == "unknown"
    assert world.sandbox_assignments().count() == 0  # the gateway's 502: nothing made here
    confirm_not_created(assignment=assignment, actor=support, reason="Not in the LMS")
    assert push_assignment(assignment_id=assignment.pk, client=api).created
    assert world.sandbox_assignments().count() == 1


class DropsAnswerAfterSending(BaseAdapter):
    """The request reaches the sandbox (which acts on it), then the connection drops: the
    read timeout a slow LMS write causes."""

    def __init__(self):
        super().__init__()
        self.inner = InProcessAdapter()
        self.armed = True
        self.timeouts = []

    def send(self, request, **kwargs):
        self.timeouts.append((request.method, kwargs.get("timeout")))
        response = self.inner.send(request, **kwargs)
        if self.armed and request.method == "POST":
            self.armed = False
            raise requests.ReadTimeout("read timed out")
        return response

    def close(self):
        pass


def test_a_read_timeout_after_the_post_leaves_one_assignment(world, make_client):
    adapter = DropsAnswerAfterSending()
    client = make_client(http_adapter=adapter)
    assignment = graded(world)

    first = push_assignment(assignment_id=assignment.pk, client=client)
    second = push_assignment(assignment_id=assignment.pk, client=client)

    assert first.outcome == second.outcome == "unknown"
    assert world.sandbox_assignments().count() == 1
    assert [m for m, _ in adapter.timeouts].count("POST") == 1
    # LMS writes wait 15 to 60 s; reads keep the client's normal timeout.
    assert all(15 <= t <= 60 for m, t in adapter.timeouts if m in ("POST", "PATCH", "DELETE"))


def test_writes_use_the_lms_write_timeout(world, make_client, settings):
    settings.LMS_WRITE_TIMEOUT = 300  # clamped to Clever's recommended range
    adapter = DropsAnswerAfterSending()
    adapter.armed = False
    client = make_client(http_adapter=adapter)
    assignment = graded(world)
    push_assignment(assignment_id=assignment.pk, client=client)
    writes = [t for m, t in adapter.timeouts if m in ("POST", "PATCH")]
    assert writes and set(writes) == {60.0}


def test_a_redelivered_push_after_success_makes_no_second_assignment(world, api):
    assignment = graded(world)
    push_assignment(assignment_id=assignment.pk, client=api)
    before = KNOBS.api_requests
    push_assignment(assignment_id=assignment.pk, client=api)  # the same message again
    assert KNOBS.api_requests == before
    assert world.sandbox_assignments().count() == 1
    pushed = SubmissionSync.objects.filter(assignment=assignment, status="pushed")
    assert pushed.count() == len(world.students)


def test_a_worker_that_died_mid_create_is_not_retried_blindly(world, api):
    assignment = graded(world)
    CleverAssignment.objects.filter(assignment=assignment).update(
        state="creating", create_started_at=timezone.now() - timedelta(minutes=1), create_attempts=1
    )
    busy = push_assignment(assignment_id=assignment.pk, client=api)
    assert busy.outcome == "busy"  # maybe another worker is still waiting for Clever

    CleverAssignment.objects.filter(assignment=assignment).update(
        create_started_at=timezone.now() - timedelta(minutes=10)
    )
    stale = push_assignment(assignment_id=assignment.pk, client=api)
    assert stale.outcome == "unknown"
    assert world.link(assignment).state == "unknown"
    assert world.sandbox_assignments().count() == 0


def test_a_rotated_district_token_is_looked_up_again(world, api):
    from districts.models import District
    from sandbox import services as sbx

    assignment = graded(world)
    push_assignment(assignment_id=assignment.pk, client=api)  # caches the token
    sbx.rotate_district_token(district=world.sandbox_district)
    record_result(assignment=assignment, student=world.students[0], points=1.0, approve=True)

    report = push_assignment(assignment_id=assignment.pk, client=api)

    assert report.outcome == "ok" and report.sent == 1
    assert world.lms_submission(world.link(assignment).clever_id, world.students[0])["grade_points"] == 1.0
    assert world.link(assignment).problem == ""
    assert District.objects.get(pk=world.district.pk).status == "connected"


def test_a_revoked_token_stops_with_a_plain_reason(world, api):
    from districts.models import District
    from sandbox import services as sbx

    assignment = graded(world)
    push_assignment(assignment_id=assignment.pk, client=api)
    sbx.revoke_token(access_token=_token_of(world))
    record_result(assignment=assignment, student=world.students[0], points=1.0, approve=True)

    report = push_assignment(assignment_id=assignment.pk, client=api)

    assert report.outcome == "token" and not report.retryable
    assert "Clever refused the district's token (401)" in world.link(assignment).problem_message
    # /oauth/tokens lists no token any more: the districts app marks the district disconnected.
    assert District.objects.get(pk=world.district.pk).status == "disconnected"


def test_a_429_that_outlasts_the_client_is_left_to_the_task_retry(world, make_client):
    client = make_client(max_retries=0)
    assignment = graded(world)
    KNOBS.rate_limit_per_minute = 1
    for _ in range(2):
        KNOBS.rate_limit(_token_of(world))
    report = push_assignment(assignment_id=assignment.pk, client=client)
    assert report.outcome == "temporary" and report.retryable and report.rate_limited == 1
    assert world.link(assignment).state == "not_pushed"  # a 429 proves nothing was created
    assert "slow down" in world.link(assignment).problem_message


def test_the_push_task_retries_with_backoff_and_jitter():
    task = tasks.push_assignment
    assert tasks.RetryableLmsError in task.autoretry_for
    assert task.retry_jitter and task.retry_backoff == tasks.LMS_RETRY_BACKOFF
    assert task.acks_late and task.max_retries == tasks.LMS_TASK_MAX_RETRIES


def test_one_refused_grade_does_not_stop_the_others(world, api):
    assignment = graded(world)
    record_result(assignment=assignment, student=world.students[1], points=1e39, approve=True)
    report = push_assignment(assignment_id=assignment.pk, client=api)
    assert report.outcome == "partial" and report.sent == len(world.students) - 1 and report.errors == 1
    sync = SubmissionSync.objects.get(assignment=assignment, student_clever_id=world.students[1].clever_id)
    assert sync.status == "error"
    assert "cannot unmarshal number" in sync.error and "grade_points" in sync.error
    assert "The LMS refused 1 grade(s)" in world.link(assignment).problem_message


class ChecksIntentBeforePost(BaseAdapter):
    """Looks at the database when the POST leaves: the intent must already be committed."""

    def __init__(self, assignment_pk):
        super().__init__()
        self.inner = InProcessAdapter()
        self.assignment_pk = assignment_pk
        self.seen = []

    def send(self, request, **kwargs):
        if request.method == "POST":
            from django.db import connection

            state = CleverAssignment.objects.get(assignment_id=self.assignment_pk).state
            self.seen.append((state, connection.in_atomic_block))
        return self.inner.send(request, **kwargs)

    def close(self):
        pass


@pytest.mark.django_db(transaction=True)
def test_the_intent_is_committed_before_the_post_and_the_uuid_right_after(lms_world, make_client):
    world = lms_world(students=2)
    assignment = graded(world)
    adapter = ChecksIntentBeforePost(assignment.pk)
    report = push_assignment(assignment_id=assignment.pk, client=make_client(http_adapter=adapter))
    assert report.created
    assert adapter.seen == [("creating", False)]  # recorded and committed (no open transaction)
    assert world.link(assignment).state == "linked"
