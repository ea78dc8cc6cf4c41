"""Reading the LMS back: the submissions of linked assignments, and the conflict rule applied
to them (a grade changed in the LMS by a teacher is recorded as ``lms_edited`` and kept).
Reads need no LMS write access, only the district's token."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime

from django.core.cache import cache
from django.db import transaction
from django.utils import timezone

from clever.client import CleverClient
from clever.errors import AuthError, BadRequest, CleverError
from districts.models import District
from districts.services import CACHE_ERRORS, NoToken
from districts.session import DistrictSession

from .. import selectors
from ..models import Assignment, CleverAssignment, SubmissionSync
from .outcomes import Report, classify, count_requests, failure_detail
from .payloads import is_blank, is_lms_edit, lms_fields
from .sessions import district_sessions
from .writes import clever_link

logger = logging.getLogger(__name__)

State = CleverAssignment.State
SyncStatus = SubmissionSync.Status

# Starting a submissions listing over after its next link expired (valid 2 hours).
MAX_LISTING_RESTARTS = 2
SUBMISSIONS_PAGE_SIZE = 100  # Clever's maximum for submissions
# A teacher's "Check the LMS for changes" reads Clever at most this often per assignment: the
# district's Clever request budget is shared with its roster syncs.
CHECK_COOLDOWN_SECONDS = 60


def submission_syncs(assignment: Assignment) -> dict[str, SubmissionSync]:
    """The assignment's submission records by student Clever ID."""
    return {s.student_clever_id: s for s in SubmissionSync.objects.filter(assignment=assignment)}


def note_lms_submission(sync: SubmissionSync, submission: dict, seen: dict, now: datetime) -> None:
    """Record what the LMS holds for the student (``seen``: its ``lms_fields``); not saved."""
    sync.lms_value = seen
    sync.lms_seen_at = now
    sync.lms_last_modified = str(submission.get("last_modified") or "")[:40]
    sync.lms_state = str(submission.get("state") or "")[:16]
    sync.lms_submission_id = str(submission.get("id") or "")[:40]  # "" on Google Classroom


def _observe(sync: SubmissionSync, submission: dict, now: datetime, report: Report) -> None:
    """Record what the LMS holds for one student and apply the conflict rule."""
    seen = lms_fields(submission)
    changed_in_lms = sync.lms_value is not None and seen != sync.lms_value
    note_lms_submission(sync, submission, seen, now)
    if sync.status == SyncStatus.LMS_EDITED:
        if changed_in_lms:
            sync.lms_edited_at = now  # edited again in the LMS: still the LMS's
            report.lms_edits_found += 1
    elif is_lms_edit(seen, sync.pushed):
        sync.status = SyncStatus.LMS_EDITED
        sync.lms_edited_at = now
        sync.error = ""
        report.lms_edits_found += 1
    elif sync.status == SyncStatus.NOT_IN_LMS:
        sync.status = SyncStatus.PUSHED if sync.pushed is not None else SyncStatus.PENDING
    sync.updated_at = now


def _apply_page(
    assignment: Assignment, records: list[dict], syncs: dict[str, SubmissionSync], report: Report
) -> None:
    now = timezone.now()
    with transaction.atomic():
        for submission in records:
            user_id = submission.get("user_id")
            if not isinstance(user_id, str) or not user_id:
                continue
            sync = syncs.get(user_id)
            if sync is None:
                if is_blank(lms_fields(submission)):
                    continue  # nothing to record for an untouched submission
                sync = SubmissionSync(assignment=assignment, student_clever_id=user_id[:24])
                syncs[user_id] = sync
            _observe(sync, submission, now, report)
            sync.save()


def read_submissions(
    assignment: Assignment,
    link: CleverAssignment,
    api: CleverClient,
    syncs: dict[str, SubmissionSync],
    report: Report,
) -> set[str]:
    """Every submission of the assignment (cursor pages), each page recorded as it comes; the
    user IDs that have one. A next link expires two hours after it was issued: a 400 on a
    later page starts the listing over (recording is idempotent)."""
    section_id = assignment.section.clever_id
    for attempt in range(MAX_LISTING_RESTARTS + 1):
        seen: set[str] = set()
        pages = 0
        try:
            for page in api.iter_submission_pages(
                section_id, link.clever_id, page_size=SUBMISSIONS_PAGE_SIZE
            ):
                pages += 1
                report.pages += 1
                _apply_page(assignment, page.records, syncs, report)
                seen.update(s.get("user_id") for s in page.records if isinstance(s.get("user_id"), str))
            return seen
        except BadRequest as exc:
            if pages == 0 or attempt == MAX_LISTING_RESTARTS:
                raise
            report.restarts += 1
            logger.info(
                "lms: assignment %s: submissions link refused after %s page(s) (%s); starting over",
                assignment.pk,
                pages,
                exc.message,
            )
    raise AssertionError("unreachable")


def _pull_failed(assignment: Assignment, report: Report, exc: Exception, session: DistrictSession) -> None:
    """Say on the report why the read failed; worth trying again after a rotated token."""
    _problem, retryable, message = classify(exc)
    if isinstance(exc, AuthError) and session.recheck_token():
        retryable = True
    report.outcome = "temporary" if retryable else "refused"
    report.retryable, report.message = retryable, message
    logger.warning("lms: pull of assignment %s failed: %s", assignment.pk, failure_detail(exc))


def _pull_one(assignment: Assignment, session: DistrictSession) -> Report:
    report = Report(assignment=assignment.pk)
    link = clever_link(assignment)
    if link.state != State.LINKED or assignment.deleted_at is not None:
        report.outcome = "skipped"
        return report
    before = session.stats(token_lookups=False)
    try:
        read_submissions(assignment, link, session.open(), submission_syncs(assignment), report)
    except (CleverError, NoToken) as exc:
        _pull_failed(assignment, report, exc, session)
    else:
        link.last_pull_at = timezone.now()
        link.save(update_fields=["last_pull_at"])
    count_requests(report, session, since=before)
    return report


def pull_assignments(*, assignment_ids: Iterable[int], client: CleverClient | None = None) -> list[Report]:
    """Read the submissions of linked assignments back and apply the conflict rule (teacher
    edits in the LMS are recorded and kept)."""
    assignments = (
        Assignment.objects.filter(pk__in=list(assignment_ids))
        .select_related("section__district", "clever")
        .order_by("section__district_id", "pk")
    )
    with district_sessions(client) as session_for:
        return [_pull_one(assignment, session_for(assignment.section.district)) for assignment in assignments]


def pull_assignment(*, assignment_id: int, client: CleverClient | None = None) -> Report:
    reports = pull_assignments(assignment_ids=[assignment_id], client=client)
    if not reports:
        raise Assignment.DoesNotExist(f"no assignment {assignment_id}")
    return reports[0]


def check_lms_now(*, assignment: Assignment, client: CleverClient | None = None) -> Report | None:
    """A teacher's "check for changes": the pull, or None when the assignment was checked less
    than ``CHECK_COOLDOWN_SECONDS`` ago (or the cache cannot say: then it is checked)."""
    try:
        first = cache.add(f"lms:check:{assignment.pk}", 1, timeout=CHECK_COOLDOWN_SECONDS)
    except CACHE_ERRORS:
        first = True
    return pull_assignment(assignment_id=assignment.pk, client=client) if first else None


def pull_district(*, district: District, client: CleverClient | None = None) -> list[Report]:
    ids = list(selectors.assignments_to_pull(district).values_list("pk", flat=True))
    return pull_assignments(assignment_ids=ids, client=client)
