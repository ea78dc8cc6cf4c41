"""Pushing to the district's LMS through Clever: create, update or delete the assignment, then
send its changed approved grades.

Not one transaction: each step commits on its own, because the order matters more than
atomicity. The intent to create is committed *before* the POST, and Clever's UUID the moment it
answers, so a retried push (a Celery retry, a redelivered message, a second click) never
creates a second assignment:

- ``not_pushed`` -> ``creating`` (committed) -> POST -> ``linked`` (UUID committed at once);
- the POST failed in a way that proves Clever did nothing (4xx, 429, a connect timeout,
  Clever's own JSON 5xx answer) -> back to ``not_pushed``; a retry may POST again;
- the answer was lost (read timeout, a reset connection, a gateway's HTML 5xx, a 2xx that
  could not be read), or a worker died after recording the intent -> ``unknown``: nothing is
  POSTed again until support links the UUID found in the LMS or confirms it does not exist
  (``reconcile``). Clever has no way to list assignments, so this cannot be reconciled
  automatically.

Grades: one PATCH per student whose approved grade differs from what was last pushed; none
for unchanged ones. Before writing grades to an assignment that existed before this push, its
submissions are read (one request per 100 students) and the conflict rule applied: a grade in
the LMS that is not the one we last pushed was put there by a teacher; it is recorded and kept
(``lms_edited``), never overwritten.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from clever.client import CleverClient
from clever.errors import BadRequest, CleverError, NotFound
from core import events
from districts.services import NoToken
from districts.session import DistrictSession

from .. import selectors
from ..events import AssignmentStateUnknown
from ..models import Assignment, CleverAssignment, Problem, SubmissionSync
from .outcomes import (
    Report,
    clear_problem,
    count_requests,
    create_surely_not_done,
    fail,
    failure_detail,
    plain_refusal,
    save_problem,
)
from .payloads import assignment_content, grade_fields, lms_fields, submission_body
from .pull import note_lms_submission, read_submissions, submission_syncs
from .sessions import district_sessions
from .writes import clever_link

logger = logging.getLogger(__name__)

State = CleverAssignment.State
SyncStatus = SubmissionSync.Status

# A create whose intent is younger than this may still be waiting for Clever's answer in
# another worker; older, the worker died mid-POST and the outcome is unknown.
CREATE_IN_FLIGHT = timedelta(minutes=3)


class _Stop(Exception):
    """End this assignment's push; the report says why."""


# --- creating and updating the assignment ----------------------------------------------------


def _claim_create(link_pk: int, lms_type: str, section_clever_id: str) -> CleverAssignment | None:
    """Record the intent to POST (committed before the request); None when the link is not
    ``not_pushed`` any more (another worker claimed it, or it exists)."""
    with transaction.atomic():
        link = CleverAssignment.objects.select_for_update().get(pk=link_pk)
        if link.state != State.NOT_PUSHED:
            return None
        link.state = State.CREATING
        link.create_started_at = timezone.now()
        link.create_attempts += 1
        link.lms_type = lms_type
        link.section_clever_id = section_clever_id
        link.save(
            update_fields=["state", "create_started_at", "create_attempts", "lms_type", "section_clever_id"]
        )
        return link


def _record_created(link: CleverAssignment, body: dict, content: dict) -> None:
    with transaction.atomic():
        link.state = State.LINKED
        link.clever_id = str(body.get("id") or "")
        link.created_in_lms_at = timezone.now()
        link.pushed_content = content
        link.lms_state = str(body.get("state") or "")
        link.lms_last_modified = str(body.get("last_modified") or "")
        clear_problem(link)
        link.save()


def _mark_unknown(link: CleverAssignment, report: Report, detail: str) -> None:
    message = (
        "Clever may have created this assignment in the LMS, but its answer was lost. "
        "It will not be sent again until support checks the LMS and links it (or confirms "
        "it is not there)."
    )
    CleverAssignment.objects.filter(pk=link.pk).update(state=State.UNKNOWN)
    link.state = State.UNKNOWN
    save_problem(link, Problem.UNKNOWN_OUTCOME, message, detail)
    report.outcome, report.message, report.retryable = "unknown", message, False
    logger.error("lms: assignment %s: create outcome unknown (%s)", link.assignment_id, detail)
    events.publish(AssignmentStateUnknown(assignment_id=link.assignment_id))


def _update_in_lms(
    assignment: Assignment,
    link: CleverAssignment,
    api: CleverClient,
    content: dict,
    report: Report,
    session: DistrictSession,
) -> None:
    """PATCH what changed since the last push."""
    pushed = link.pushed_content or {}
    changes = {key: value for key, value in content.items() if pushed.get(key) != value}
    if not changes:
        return
    try:
        body = api.update_assignment(assignment.section.clever_id, link.clever_id, changes)
    except CleverError as exc:
        fail(link, report, exc, session)
        if report.retryable or report.outcome != "refused" or isinstance(exc, NotFound):
            raise _Stop from exc
        # Clever refused the change (e.g. a due date moved into the past): the teacher sees
        # why; the assignment still exists, so its grades still go.
        return
    link.pushed_content = {**pushed, **changes}
    link.lms_state = str(body.get("state") or "")
    link.lms_last_modified = str(body.get("last_modified") or "")
    link.save(update_fields=["pushed_content", "lms_state", "lms_last_modified"])
    report.updated = True


def _stop_unless_creatable(link: CleverAssignment, report: Report) -> None:
    """Stop the push when the link's state forbids a POST now (being created, outcome
    unknown, deleted from the LMS)."""
    if link.state == State.CREATING:
        if link.create_started_at and timezone.now() - link.create_started_at < CREATE_IN_FLIGHT:
            report.outcome, report.message = "busy", "Another push is creating this assignment."
            raise _Stop
        _mark_unknown(link, report, "the push creating it stopped before Clever's answer was recorded")
        raise _Stop
    if link.state == State.UNKNOWN:
        report.outcome, report.message = "unknown", link.problem_message
        raise _Stop
    if link.state == State.DELETED:
        report.outcome, report.message = "deleted", "The assignment was deleted from the LMS."
        raise _Stop


def _create_in_lms(
    assignment: Assignment,
    link: CleverAssignment,
    api: CleverClient,
    content: dict,
    report: Report,
    session: DistrictSession,
) -> None:
    """Claim the create, POST, and commit Clever's UUID (or what is known of the outcome)."""
    section_id = assignment.section.clever_id
    if _claim_create(link.pk, assignment.section.district.lms_type, section_id) is None:
        report.outcome, report.message = "busy", "Another push is creating this assignment."
        raise _Stop
    link.refresh_from_db()
    try:
        body = api.create_assignment(section_id, content)
    except CleverError as exc:
        if create_surely_not_done(exc):
            CleverAssignment.objects.filter(pk=link.pk, state=State.CREATING).update(state=State.NOT_PUSHED)
            link.state = State.NOT_PUSHED
            fail(link, report, exc, session)
        else:
            _mark_unknown(link, report, failure_detail(exc))
        raise _Stop from exc
    if not body.get("id"):
        _mark_unknown(link, report, "Clever's answer had no assignment id")
        raise _Stop
    _record_created(link, body, content)
    report.created = True
    logger.info("lms: assignment %s created in the LMS as %s", assignment.pk, link.clever_id)


def _ensure_in_lms(
    assignment: Assignment,
    link: CleverAssignment,
    api: CleverClient,
    report: Report,
    session: DistrictSession,
) -> bool:
    """Create the assignment in the LMS, or PATCH what changed; True when created now."""
    content = assignment_content(assignment, assignment.section.district.lms_type)
    if link.state == State.LINKED:
        _update_in_lms(assignment, link, api, content, report, session)
        return False
    _stop_unless_creatable(link, report)
    _create_in_lms(assignment, link, api, content, report, session)
    return True


# --- grades ----------------------------------------------------------------------------------


def _grades_to_send(
    assignment: Assignment, syncs: dict[str, SubmissionSync], report: Report
) -> list[tuple[str, dict]]:
    """(student Clever ID, grade fields) of each approved grade not in the LMS yet; LMS edits
    are kept and unchanged grades skipped (both counted)."""
    wanted: list[tuple[str, dict]] = []
    for result in selectors.approved_results(assignment):
        student_id = result.student.clever_id
        fields = grade_fields(assignment, result)
        sync = syncs.get(student_id)
        if sync is not None and sync.status == SyncStatus.LMS_EDITED:
            report.kept_lms_edits += 1
        elif sync is not None and sync.status == SyncStatus.PUSHED and sync.pushed == fields:
            report.unchanged += 1
        else:
            wanted.append((student_id, fields))
    return wanted


def _not_in_lms(sync: SubmissionSync, now: datetime, report: Report) -> None:
    sync.status = SyncStatus.NOT_IN_LMS
    sync.error = (
        "The LMS has no submission for this student (not matched in the LMS yet); sent again on a later sync."
    )
    sync.updated_at = now
    sync.save()
    report.not_in_lms += 1


def _send_grade(
    assignment: Assignment,
    link: CleverAssignment,
    api: CleverClient,
    sync: SubmissionSync,
    fields: dict,
    report: Report,
    session: DistrictSession,
) -> None:
    """PATCH one student's grade; a refusal of this grade alone is recorded on the student."""
    now = timezone.now()
    try:
        submission = api.update_submission(
            assignment.section.clever_id,
            link.clever_id,
            sync.student_clever_id,
            submission_body(fields, sync.lms_value),
        )
    except NotFound:
        _not_in_lms(sync, now, report)
        return
    except BadRequest as exc:
        sync.status, sync.error, sync.updated_at = SyncStatus.ERROR, plain_refusal(exc), now
        sync.save()
        report.errors += 1
        return
    except CleverError as exc:
        fail(link, report, exc, session)
        raise _Stop from exc
    sync.pushed, sync.pushed_at, sync.status, sync.error = fields, now, SyncStatus.PUSHED, ""
    note_lms_submission(sync, submission, lms_fields(submission), now)
    sync.updated_at = now
    sync.save()
    report.sent += 1


def _push_grades(
    assignment: Assignment,
    link: CleverAssignment,
    api: CleverClient,
    report: Report,
    session: DistrictSession,
    *,
    created_now: bool,
) -> None:
    syncs = submission_syncs(assignment)
    wanted = _grades_to_send(assignment, syncs, report)
    if not wanted:
        return
    in_lms: set[str] | None = None
    if not created_now:
        # The assignment existed before this push: a teacher may have graded in the LMS since
        # we last looked. Read first (one request per 100 students), then write only ours.
        try:
            in_lms = read_submissions(assignment, link, api, syncs, report)
        except CleverError as exc:
            fail(link, report, exc, session)
            raise _Stop from exc
    for student_id, fields in wanted:
        sync = syncs.get(student_id) or SubmissionSync(assignment=assignment, student_clever_id=student_id)
        syncs[student_id] = sync
        if sync.status == SyncStatus.LMS_EDITED:  # found by the read just now
            report.kept_lms_edits += 1
        elif in_lms is not None and student_id not in in_lms:
            _not_in_lms(sync, timezone.now(), report)
        else:
            _send_grade(assignment, link, api, sync, fields, report, session)


# --- the push --------------------------------------------------------------------------------


def _delete_from_lms(
    assignment: Assignment, link: CleverAssignment, report: Report, session: DistrictSession
) -> None:
    if link.state == State.LINKED:
        try:
            session.open().delete_assignment(assignment.section.clever_id, link.clever_id)
        except NotFound:
            pass  # already gone from the LMS
        except CleverError as exc:
            fail(link, report, exc, session)
            return
    elif link.state in (State.UNKNOWN, State.CREATING):
        report.outcome, report.message = "unknown", link.problem_message
        return
    link.state = State.DELETED
    link.save(update_fields=["state"])
    save_problem(link, Problem.NONE, "")
    report.deleted, report.outcome = True, "deleted"


def _push_one(assignment: Assignment, session: DistrictSession) -> Report:
    report = _push_once(assignment, session)
    if report.outcome == "token_rotated":
        # Clever refused the cached token (401) and /oauth/tokens lists a new one: once more.
        report = _push_once(assignment, session)
    return report


def _push_once(assignment: Assignment, session: DistrictSession) -> Report:
    report = Report(assignment=assignment.pk)
    link = clever_link(assignment)
    CleverAssignment.objects.filter(pk=link.pk).update(push_requested_at=None)
    blocker = selectors.section_blocker(assignment.section)
    if blocker:
        if assignment.deleted_at is not None and link.state != State.LINKED:
            _delete_from_lms(assignment, link, report, session)
            return report
        save_problem(link, Problem.BLOCKED, blocker)
        report.outcome, report.message = "blocked", blocker
        return report
    try:
        api = session.open()
    except (NoToken, CleverError) as exc:
        fail(link, report, exc, session)
        return report
    if assignment.deleted_at is not None:
        _delete_from_lms(assignment, link, report, session)
        return report
    try:
        created_now = _ensure_in_lms(assignment, link, api, report, session)
        _push_grades(assignment, link, api, report, session, created_now=created_now)
    except _Stop:
        return report
    link.last_push_at = timezone.now()
    link.save(update_fields=["last_push_at"])
    if report.errors and report.outcome == "ok":
        report.outcome = "partial"
        save_problem(
            link,
            Problem.REFUSED,
            f"The LMS refused {report.errors} grade(s); see the students marked “Refused”.",
        )
    elif link.problem and report.outcome == "ok":
        save_problem(link, Problem.NONE, "")
    return report


def push_assignments(*, assignment_ids: Iterable[int], client: CleverClient | None = None) -> list[Report]:
    """Push each assignment (create/update/delete it in the LMS, then its changed approved
    grades), one Clever session per district so requests are paced against the token's rate
    limit across assignments. Never raises for Clever's problems: each report says what
    happened (``retryable`` when waiting can help)."""
    assignments = (
        Assignment.objects.filter(pk__in=list(assignment_ids))
        .select_related("section__district")
        .order_by("section__district_id", "pk")
    )
    reports: list[Report] = []
    with district_sessions(client) as session_for:
        for assignment in assignments:
            session = session_for(assignment.section.district)
            before = session.stats(token_lookups=False)
            report = _push_one(assignment, session)
            count_requests(report, session, since=before)
            logger.info(
                "lms: push of assignment %s: %s, created=%s sent=%s unchanged=%s kept=%s "
                "not_in_lms=%s errors=%s requests=%s",
                assignment.pk,
                report.outcome,
                report.created,
                report.sent,
                report.unchanged,
                report.kept_lms_edits,
                report.not_in_lms,
                report.errors,
                report.requests,
            )
            reports.append(report)
    return reports


def push_assignment(*, assignment_id: int, client: CleverClient | None = None) -> Report:
    reports = push_assignments(assignment_ids=[assignment_id], client=client)
    if not reports:
        raise Assignment.DoesNotExist(f"no assignment {assignment_id}")
    return reports[0]
