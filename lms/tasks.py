"""Celery tasks for LMS Connect: thin, they take IDs and call one service.

``push_assignment``
    ``lms.services.push.push_assignment``: create/update/delete the assignment in the LMS and send
    its changed approved grades. ``acks_late`` and idempotent (the intent to create is recorded
    before the POST, unchanged grades send nothing), so a redelivered message is harmless. The
    service never raises for Clever's problems; a report that says ``retryable`` (429 after the
    client's own waits, 5xx, no answer, a rotated token) makes the task retry with exponential
    backoff and full jitter (``LMS_RETRY_BACKOFF`` doubling up to ``LMS_RETRY_BACKOFF_MAX``), at
    most ``LMS_TASK_MAX_RETRIES`` times. 4xx refusals (a due date in the past...) are final:
    Clever's message is stored on the assignment for the teacher and support. Inside one run
    the client paces requests against the token's rate-limit headers. Eager mode (no Redis)
    never retries: it would run again at once inside the caller.

``pull_district`` / ``nightly_pull``
    Read the submissions of a district's recent linked assignments back (teacher edits in the
    LMS are recorded and kept). Celery beat runs ``nightly_pull`` (settings, LMS section),
    which enqueues one ``pull_district`` per district, staggered, and re-enqueues pushes
    whose message was lost or whose last failure may have passed (blocked, temporary).
"""

from __future__ import annotations

import logging

from celery import shared_task
from django.db import InterfaceError, OperationalError

from core.errors import AppError
from districts.models import District

from . import selectors
from .services import pull, push
from .services.outcomes import Report

logger = logging.getLogger(__name__)

LMS_TASK_MAX_RETRIES = 5
LMS_RETRY_BACKOFF = 30
LMS_RETRY_BACKOFF_MAX = 15 * 60
LMS_TASK_SOFT_TIME_LIMIT = 30 * 60
LMS_TASK_TIME_LIMIT = 35 * 60
PULL_STAGGER_SECONDS = 20


class RetryableLmsError(AppError):
    """Clever could not take the push now (429, 5xx, no answer); Celery retries the task."""


def _retry_or_report(task, reports: list[Report], what: str) -> list[dict]:
    retryable = [r for r in reports if r.retryable]
    if retryable and not task.request.is_eager:
        raise RetryableLmsError(f"{what}: {len(retryable)} assignment(s) to retry: {retryable[0].message}")
    return [r.as_dict() for r in reports]


_RETRY = {
    "bind": True,
    "acks_late": True,
    "soft_time_limit": LMS_TASK_SOFT_TIME_LIMIT,
    "time_limit": LMS_TASK_TIME_LIMIT,
    "autoretry_for": (RetryableLmsError, OperationalError, InterfaceError),
    "max_retries": LMS_TASK_MAX_RETRIES,
    "retry_backoff": LMS_RETRY_BACKOFF,
    "retry_backoff_max": LMS_RETRY_BACKOFF_MAX,
    "retry_jitter": True,
}


@shared_task(**_RETRY)
def push_assignment(self, assignment_id: int) -> dict:
    reports = push.push_assignments(assignment_ids=[assignment_id])
    if not reports:
        logger.warning("lms push: assignment %s no longer exists", assignment_id)
        return {"assignment": assignment_id, "outcome": "missing"}
    return _retry_or_report(self, reports, f"push of assignment {assignment_id}")[0]


@shared_task(**_RETRY)
def pull_district(self, district_id: int) -> list[dict]:
    district = District.objects.filter(pk=district_id).first()
    if district is None:
        return []
    return _retry_or_report(self, pull.pull_district(district=district), f"pull of district {district_id}")


@shared_task(acks_late=True, soft_time_limit=600, time_limit=900)
def nightly_pull() -> dict:
    """Enqueue one staggered pull per district with linked assignments, and the pushes to run
    again (a lost message; a blocked or temporary failure that may have passed). Returns the
    counts."""
    district_ids = list(selectors.districts_to_pull().values_list("pk", flat=True))
    for index, district_id in enumerate(district_ids):
        pull_district.apply_async_on_commit(
            kwargs={"district_id": district_id}, countdown=index * PULL_STAGGER_SECONDS
        )
    stale = selectors.pushes_to_retry()
    for assignment_id in stale:
        push_assignment.delay_on_commit(assignment_id)
    logger.info("lms nightly pull: %s district(s), %s push(es) enqueued again", len(district_ids), len(stale))
    return {"districts": len(district_ids), "pushes": len(stale)}


# The time limits stay below the Celery visibility timeout: lms/checks.py.
