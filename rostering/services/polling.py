"""Polling a district's ``/events`` every few minutes, so a change made in Clever reaches the
mirror and the product accounts within the polling interval plus the time to apply it (the
decisions, and what a poll costs: docs/sync.md, "Polling for events").

``poll_events(district=...)`` is one poll of one district (``rostering.tasks.poll_district_events``
runs it; ``tasks.poll_events``, on Celery beat, sends one per district that can be polled):

1. **Only a district with usable events**: syncable (``sync.not_syncable_reason``) and with an
   event cursor an incremental sync may read from (``sync.events_usable``). The others wait for
   the nightly sync, which reads them whole.
2. **One poll of a district at a time**, in any process, on any database, without Redis: a
   lease on the district's row (``District.events_poll_started_at``), taken with one
   conditional ``UPDATE`` (a lease older than ``SYNC_STALE_AFTER_SECONDS`` is abandoned: its
   process died) and released at the end with another that clears only this poll's lease.
   A poll that finds the lease taken answers ``busy`` at once. The lease is committed when
   taken (the task runs outside a transaction), so other processes see it.
3. **Nothing the engine is about to do anyway**: a running sync of the district (it reads the
   events) answers ``running``; a sync asked for and not answered yet (``SyncRequest``: it reads
   them too, and a failed full run waiting for its retry keeps its staged rows) ``owed``; a
   last run that failed for a reason waiting cannot fix ``stopped`` (polling would fail every
   few minutes; the nightly sync, or support, tries again), as does a held run whose event
   cursor is unknown.
4. **One request**: ``GET /events?starting_after=<cursor>&limit=1`` with the district's token
   (``DistrictSession``: a 401 re-checks the token as a sync does), on a client that does not
   retry (the next poll is the retry; a poll never sleeps). While a hold is pending, the cursor
   is where the held run's events ended: events the hold already weighs are not news, and
   polling them would hold the same changes again every few minutes. No event: the poll time is
   written with the lease's release and the answer is ``nothing``; no ``SyncRun`` is written.
   400 (a stale cursor) or 403 (events off): ``events_unusable``, and the task asks for a
   sync (which falls back to a full one). Any other failure (no answer, 5xx, 429, a refused
   token): ``failed``, logged; the next poll tries again.
5. **Events arrived**: ``run_sync(kind="auto", trigger=poll)`` in this process, under the lease,
   so the engine's lock, diff, guard and apply decide as for any sync: ``applied``, ``held``
   (a held run waits for support like any other), ``failed`` or ``skipped``. "auto" rather than
   "incremental": it resumes a failed full run's checkpoint instead of discarding its staged
   rows, and otherwise reads the events.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from clever.client import CleverClient
from clever.errors import BadRequest, CleverError, Forbidden
from core.errors import safe_summary
from districts.models import District
from districts.services import NoToken
from districts.session import DistrictSession, TokenRefused

from .. import selectors
from ..models import SyncRun
from .sync import KIND_AUTO, events_usable, not_syncable_reason, run_sync

logger = logging.getLogger(__name__)


class PollOutcome(StrEnum):
    NOT_POLLABLE = "not_pollable"  # not syncable now, or no usable event cursor
    BUSY = "busy"  # another poll of the district holds the lease
    RUNNING = "running"  # a sync of the district is running
    OWED = "owed"  # a sync of the district was asked for and has not run yet
    # The last run failed for a reason waiting cannot fix, or is held without a known event
    # cursor: polling waits for support, or for the nightly sync.
    STOPPED = "stopped"
    NOTHING = "nothing"  # no event since the cursor
    EVENTS_UNUSABLE = "events_unusable"  # 400 (stale cursor) or 403 (events off): sync needed
    FAILED = "failed"  # the poll's request failed, or the run it started failed
    APPLIED = "applied"
    HELD = "held"
    SKIPPED = "skipped"  # the run it started was skipped (a sync began meanwhile)


RUN_OUTCOMES: dict[str, PollOutcome] = {
    SyncRun.Status.SUCCEEDED: PollOutcome.APPLIED,
    SyncRun.Status.HELD: PollOutcome.HELD,
    SyncRun.Status.FAILED: PollOutcome.FAILED,
    SyncRun.Status.SKIPPED: PollOutcome.SKIPPED,
}


@dataclass(frozen=True)
class PollResult:
    outcome: PollOutcome
    run: SyncRun | None = None  # the run a poll that found events started
    requests: int = 0  # HTTP requests the poll itself sent (token look-up included)
    error: str = ""


def _take_lease(district: District, now: datetime) -> bool:
    abandoned = now - timedelta(seconds=settings.SYNC_STALE_AFTER_SECONDS)
    free = Q(events_poll_started_at__isnull=True) | Q(events_poll_started_at__lt=abandoned)
    return bool(District.objects.filter(free, pk=district.pk).update(events_poll_started_at=now))


def _release_lease(district: District, taken_at: datetime, polled_at: datetime | None) -> None:
    # Only this poll's lease: a poll that outlived it may find another poll's in its place.
    fields: dict = {"events_poll_started_at": None}
    if polled_at is not None:
        fields["events_polled_at"] = polled_at
    District.objects.filter(pk=district.pk, events_poll_started_at=taken_at).update(**fields)


def _poll_cursor(district: District, last: Mapping[str, Any] | None) -> str | None:
    """Where to read from: the district's cursor, or where a held run's events ended (None:
    the held run's cursor is unknown, so nothing tells news from what it holds)."""
    if last is None or last["status"] != SyncRun.Status.HELD:
        return district.event_cursor
    cursor = last["cursor"] or {}
    return (cursor.get("id") or "") if cursor.get("known") else None


def poll_events(*, district: District, client: CleverClient | None = None) -> PollResult:
    """Poll one district's ``/events`` and apply what arrived (see the module docstring).
    ``client``: the ``CleverClient`` to use for the poll and its run (tests inject one); by
    default one that never retries. Never raises for Clever's or the network's problems."""
    if not_syncable_reason(district)[0] or not events_usable(district):
        return PollResult(PollOutcome.NOT_POLLABLE)
    taken_at = timezone.now()
    if not _take_lease(district, taken_at):
        return PollResult(PollOutcome.BUSY)
    poll = _Poll(district, client)
    try:
        return poll.run()
    finally:
        _release_lease(district, taken_at, poll.answered_at)


class _Poll:
    def __init__(self, district: District, client: CleverClient | None):
        self.district = district
        self.client = client
        self.answered_at: datetime | None = None  # when Clever answered the poll's request
        self.requests = 0

    def run(self) -> PollResult:
        district = self.district
        if selectors.running_sync(district) is not None:
            return PollResult(PollOutcome.RUNNING)
        if selectors.sync_owed(district):
            return PollResult(PollOutcome.OWED)
        last = selectors.last_run_state(district)
        if last is not None and last["status"] == SyncRun.Status.FAILED and not last["retryable"]:
            return PollResult(PollOutcome.STOPPED)
        cursor = _poll_cursor(district, last)
        if cursor is None:
            return PollResult(PollOutcome.STOPPED)
        try:
            has_events = self._ask(cursor)
        except (BadRequest, Forbidden) as exc:
            # The engine falls back to a full sync on these too: the task asks for one.
            logger.info("event poll of district %s: %s", district.clever_id, safe_summary(exc))
            return PollResult(PollOutcome.EVENTS_UNUSABLE, requests=self.requests, error=safe_summary(exc))
        except (CleverError, NoToken, TokenRefused) as exc:
            logger.warning("event poll of district %s failed: %s", district.clever_id, safe_summary(exc))
            return PollResult(PollOutcome.FAILED, requests=self.requests, error=safe_summary(exc))
        if not has_events:
            return PollResult(PollOutcome.NOTHING, requests=self.requests)
        run = run_sync(district=district, kind=KIND_AUTO, trigger=SyncRun.Trigger.POLL, client=self.client)
        logger.info("event poll of district %s: run %s %s", district.clever_id, run.pk, run.status)
        return PollResult(RUN_OUTCOMES[run.status], run=run, requests=self.requests, error=run.error)

    def _ask(self, cursor: str) -> bool:
        """The poll's one request: is there an event after ``cursor``?"""
        base = self.client or CleverClient(max_retries=0)
        session = DistrictSession(self.district, base)
        try:
            page = session.call(lambda api: next(api.iter_event_pages(starting_after=cursor, page_size=1)))
        finally:
            self.requests = session.stats().requests
            if self.client is None:
                base.close()
        self.answered_at = timezone.now()
        return bool(page.records)
