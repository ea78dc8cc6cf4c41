"""Celery beat's operations tasks (thin: they call ``alerts`` and ``selectors``).

``hourly_checks``
    Every hour: the nightly rule of the health page (``selectors.nightly_late``, 26 hours) raises
    "the nightly did not run" once, and resolves it when the nightly ran again. It also puts back
    to ``ok`` the alert states whose problem was solved without an event saying so (a hold
    decided, an LMS assignment reconciled by support), so the next such problem is news again.

``send_digest``
    Once a day (``ALERT_DIGEST_HOUR``): with ``ALERT_MODE=digest``, the alerts collected since
    the last digest in one email and one webhook post (nothing when none waited).
"""

from __future__ import annotations

import logging

from celery import shared_task

from lms.models import CleverAssignment
from rostering.models import ChangeHold

from . import alerts, notices, selectors
from .models import OK, AlertKind, AlertState

logger = logging.getLogger(__name__)


def _subject_pk(subject: str) -> int | None:
    _, _, pk = subject.partition(":")
    return int(pk) if pk.isdigit() else None


def resolve_solved() -> int:
    """Alert states still raised whose problem is gone (no pending hold, the assignment no longer
    unknown); returns how many were put back to ok."""
    solved = 0
    for state in AlertState.objects.filter(kind=AlertKind.SYNC_HELD).exclude(state=OK):
        district_id = _subject_pk(state.subject)
        if district_id is None:
            continue
        pending = ChangeHold.objects.filter(run__district_id=district_id, status=ChangeHold.Status.PENDING)
        if not pending.exists():
            solved += alerts.resolve(state.kind, state.subject)
    for state in AlertState.objects.filter(kind=AlertKind.LMS_UNKNOWN).exclude(state=OK):
        assignment_id = _subject_pk(state.subject)
        if assignment_id is None:
            continue
        unknown = CleverAssignment.objects.filter(
            assignment_id=assignment_id, state=CleverAssignment.State.UNKNOWN
        )
        if not unknown.exists():
            solved += alerts.resolve(state.kind, state.subject)
    return solved


@shared_task(soft_time_limit=240, time_limit=300)
def hourly_checks() -> dict:
    """Alert when the nightly did not run; resolve alerts whose problem is gone.
    Returns ``{"nightly": "late" | "ok", "alerted": bool, "resolved": n}``."""
    late = selectors.nightly_late()
    alerted = False
    if late:
        alert = alerts.notify(notices.nightly_late(late, selectors.last_nightly_dispatch()))
        alerted = alert is not None
        logger.warning("hourly_checks: the nightly sync did not run: %s", late)
    else:
        alerts.resolve(AlertKind.NIGHTLY, notices.NIGHTLY_SUBJECT)
    return {"nightly": "late" if late else "ok", "alerted": alerted, "resolved": resolve_solved()}


@shared_task(soft_time_limit=240, time_limit=300)
def send_digest() -> int:
    """Send the alerts collected for the daily digest; returns how many it held."""
    digest = alerts.send_digest()
    return digest["count"] if digest else 0
