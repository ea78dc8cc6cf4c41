"""The sync engine: fetch, stage, diff, guard, apply (how it behaves under faults: docs/sync.md).

Entry points (keyword-only): ``run_sync``, ``approve_hold``, ``reject_hold``,
``interrupt_abandoned_runs`` (the recovery sweep's). Decisions
worth knowing, in the order a run meets them:

**Who is synced.** A district whose status is not ``connected``, or whose ``sync_enabled`` is
off, gets a run with status ``skipped`` and the reason in ``error`` (nothing is attempted, so
it is not a failure; a task may retry a skipped run later without alarm).

**One run per district.** Creating the ``running`` row is the lock (the partial unique
constraint ``one_running_sync_per_district``); an ``IntegrityError`` gives a ``skipped`` run
naming the run that holds the lock. A running run whose process is gone (``liveness``: on
PostgreSQL a session lock the database releases with the process's connection; everywhere, a
heartbeat, written with every page, older than ``SYNC_STALE_AFTER_SECONDS``) is marked
``failed`` ("interrupted", retryable) and the new run takes the lock and resumes it.

**Which kind.** ``kind="full"`` always reads every collection. ``"auto"`` and
``"incremental"`` read ``/events`` when the district has ``events_enabled`` and a cursor whose
``event_cursor_at`` is within ``CLEVER_EVENT_RETENTION_DAYS``; otherwise (and when ``/events``
answers 400, a stale cursor, or 403, events off) the same call runs a full sync instead
(``SyncRun.kind`` says what ran; ``checkpoint["fallback"]`` why). ``"auto"`` (and ``"full"``)
first resume the district's last run when it is a failed full run with a checkpoint, younger
than ``SYNC_RESUME_MAX_AGE_SECONDS`` (default a day) and followed by no other run: its staged
rows are handed over and ``resumed_from`` is set. An explicit ``"incremental"`` never resumes.

**Event cursor.** Before a full pass the newest event id is read (``ending_before=last``) into
``event_cursor_before``; errors there are tolerated (the cursor is then unknown and the next
sync is full again). When the district has events on but the feed is empty, the cursor is ""
with ``event_cursor_at`` set: the next incremental run reads the feed from its start. A run
that applies sets ``District.event_cursor``/``event_cursor_at`` (the time the cursor was
read); a full run with an unknown cursor clears both.

**Full fetch.** Collections are read in order (schools, terms, courses, sections, users), page
by page following ``next`` links (page size ``CLEVER_PAGE_SIZE``; a collection that has more
than one page is counted with ``count=true``, for progress). Each record is stripped of
the sensitive and demographic fields of ``clever.sensitive`` (those kept are encrypted when the
record is staged) and fingerprinted (``mapping``: a cheap digest of the record as received).
The page's IDs are compared with the live rows of the
same ID range (one indexed range query): a record whose fingerprint equals its live row's is
counted as unchanged and not staged; any other is serialized once to canonical JSON, hashed,
and staged with its mapped columns (the diff then decides by content hash, so a record that
only changed key order counts as unchanged and just gets its fingerprint refreshed); live
rows in the range the page
skipped are staged as deletions (pages come in ascending ID order, as Clever documents; an ID
at or below one already seen cancels whatever was staged for it, so a page out of order never
archives a record that is there). A page whose request and bytes equal those the district's
last successful full run applied (``checkpoint["pages"]``, blake2b of the body) is skipped as a
whole, but only when the mirror's ID range it answers for still holds exactly that many live
rows, none written after that run finished (one ``COUNT``/``MAX(updated_at)`` query): then
every record of it is unchanged and nothing in its range is missing, so a nightly full sync
of a quiet district costs little more than downloading it. Setting ``SYNC_PAGE_DIGESTS`` to
False switches this off. Every page's rows, the checkpoint
(``{"done", "next", "fetched", "unchanged", "max_id", "count", "cursor"}``), heartbeat, progress
and request counters are written in one transaction: a crash loses at most the page in flight.
Before the client waits (Clever's rate limit, or a backoff after an error: ``on_wait``), the
run records why and until when (``SyncRun.waiting``, emptied with the next page), with the
counters so far and a heartbeat, so its page says what it is waiting for.
A page's staged rows are generated while they are written (``executemany`` on SQLite, ``COPY``
on PostgreSQL, whose server parses and indexes a page's first rows while the next ones are
mapped), and a record listed twice on a page counts once, as last listed. On PostgreSQL those
page transactions commit with ``synchronous_commit = off``: a page lost to a server crash takes
its checkpoint with it (same transaction) and is fetched again, so nothing else is at risk.

**Catch-up.** When the cursor taken before a full pass is known, the events that arrived while
the pages were read are then staged over the pages (``_catch_up``: each record's last event
wins, as in an incremental run) and the cursor moves past them. The run so ends as Clever is
at its end, and a removal made during the pass, in pages read before it as well as after, is
weighed by the guard in this one run instead of being split with the next incremental.

**Diff, guard, apply.** Only when every collection reached its last page: the diff is counted
in SQL (``diff``), the guard decides (``diff.evaluate_guard``: deletions over 10%, changes over
75%, or a type emptied, per record type and per role of the people: students, teachers...;
thresholds per district or from settings; deletions weighed with what the district's runs
already archived in the guard window, ``diff.recent_losses``), and either
the run is ``held`` (a ``ChangeHold`` with reasons, counts and samples; staged rows kept;
nothing applied) or everything is applied in one transaction (``apply``, ``provisioning``, the
cursor, deletion of the staged rows). Any newer run that reaches this point supersedes an older
pending hold of the district (rejected, "superseded by run N"): approving a stale snapshot
would undo what happened since.

**Incremental.** Events after the cursor are read in order; per page they are folded to the
last state of each record (the last event carries the whole record, so this equals applying
them one by one) and staged: ``created``/``updated`` as upserts, ``deleted`` as deletions
(a deletion of a record the mirror never had is a no-op; ``districts``/``resources`` events are
skipped but advance the cursor). The same diff, guard and apply follow; a held incremental run
keeps its staged rows and the cursor moves only when it is approved.

**Memory and speed.** One page is in memory at a time (the last one is released before the
next is fetched, and the client's list keeps nothing of it: peak memory follows the page size,
not the number of pages); sections, which list their enrollments, come in pages of
``CLEVER_SECTIONS_PAGE_SIZE`` (1,000), so a page of them weighs about what a page of 10,000
users does (1,000,000 students in 209 MB: docs/performance.md); Python's cyclic garbage collector is
paused during a run (parsed JSON has no cycles; see ``_gc_paused``); the diff and the apply are
set-based SQL over staging (``diff``, ``apply``), never a row at a time.

**Errors.** A ``CleverError`` or any other exception ends the run ``failed`` with a short error
(``CleverError`` texts never hold a token; other exceptions give their type and first line),
written on a fresh database connection when the run's own was dropped (``_fail``);
nothing is applied and staged rows are kept so the next run resumes. A 401 asks
``recheck_after_unauthorized`` once: a rotated token is used for the same request, otherwise
the run fails and the district is revoked or disconnected; nothing is archived. A district with
no token listed at all is marked disconnected.
"""

from __future__ import annotations

import gc
import hashlib
import logging
import time
import traceback
from collections import defaultdict
from collections.abc import Callable, Iterable
from contextlib import contextmanager
from datetime import datetime, timedelta

from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.db import (
    DatabaseError,
    IntegrityError,
    InterfaceError,
    OperationalError,
    connection,
    transaction,
)
from django.db.models import Count, Max
from django.utils import timezone
from redis.exceptions import RedisError

from clever.client import CleverClient
from clever.errors import (
    AuthError,
    BadRequest,
    BadResponse,
    CleverError,
    ConnectionFailed,
    Forbidden,
    NotFound,
    PayloadTooLarge,
    RateLimited,
    ServerError,
    UnreadableAnswer,
    Unsupported,
)
from core import events
from core.errors import AppError, safe_summary
from districts.models import District, DistrictStatus
from districts.services import NoToken, set_status
from districts.session import DistrictSession, TokenRefused

from .. import selectors
from ..events import HoldDecided, RosterSynced, SyncHeld
from ..models import (
    ChangeHold,
    StagedRecord,
    SyncRun,
)
from . import apply as apply_sql
from . import diff, liveness, mapping, provisioning, staging
from .lifecycle import DistrictDeparted, refuse_unless_sharing

logger = logging.getLogger(__name__)

KIND_AUTO = "auto"
KINDS = (KIND_AUTO, SyncRun.Kind.FULL, SyncRun.Kind.INCREMENTAL)
# Bump when staged rows of older runs no longer fit (their runs are then never resumed).
# 2: staged people lost the ``dob`` column (rostering migration 0006).
CHECKPOINT_VERSION = 2
# Share of the progress bar the fetch takes; the diff and the apply take the rest.
FETCH_SHARE = 0.9
INTERRUPTED = (
    "interrupted: the process running it stopped (it was killed, or lost its database "
    "connection, or was not heard from for {seconds}s); the next run resumes it"
)
UPSERT, DELETE = StagedRecord.Action.UPSERT, StagedRecord.Action.DELETE
EVENT_ACTIONS = ("created", "updated", "deleted")


class SyncError(AppError):
    """A sync problem whose message is safe to store: no token, no personal data."""


class RunLost(SyncError):
    """Another process declared this run interrupted (its heartbeat looked stale)."""


class HoldError(AppError):
    """A hold cannot be decided now (already decided, or a sync of the district is running)."""


def _resume_max_age() -> timedelta:
    return timedelta(seconds=getattr(settings, "SYNC_RESUME_MAX_AGE_SECONDS", 24 * 3600))


def failure_is_temporary(exc: BaseException) -> bool:
    """Whether trying the sync again later can help: Clever's 429 and 5xx (except 501), a page
    that is not valid JSON, or no answer at all (``CleverError.retryable``), a dropped database
    connection, Redis out of reach, the soft time limit (the retry resumes from the
    checkpoint). A 400/401/403/404/413/501, an answer of the wrong shape, a refused token or a
    bug fails the same way on every try."""
    return getattr(exc, "retryable", False) or isinstance(
        exc, (OperationalError, InterfaceError, RedisError, SoftTimeLimitExceeded)
    )


Cause = SyncRun.Cause
# Most specific first: ConnectionFailed is a ServerError, UnreadableAnswer a BadResponse.
_CAUSES: tuple[tuple[type[BaseException] | tuple, str], ...] = (
    (TokenRefused, Cause.TOKEN_REFUSED),
    (NoToken, Cause.NO_TOKEN),
    (DistrictDeparted, Cause.DEPARTED),
    (mapping.InvalidRecord, Cause.BAD_RECORD),
    # A 401 that escapes the district session's token re-check: asking /oauth/tokens for the token.
    (AuthError, Cause.APP_CREDENTIALS),
    (RateLimited, Cause.RATE_LIMITED),
    (ConnectionFailed, Cause.NO_ANSWER),
    (Unsupported, Cause.UNSUPPORTED),
    (ServerError, Cause.SERVER_ERROR),
    (UnreadableAnswer, Cause.UNREADABLE),
    (BadRequest, Cause.BAD_REQUEST),
    (Forbidden, Cause.FORBIDDEN),
    (NotFound, Cause.NOT_FOUND),
    (PayloadTooLarge, Cause.TOO_LARGE),
    (CleverError, Cause.BAD_ANSWER),
    ((OperationalError, InterfaceError), Cause.DATABASE),
    (RedisError, Cause.REDIS),
    (SoftTimeLimitExceeded, Cause.TIME_LIMIT),
)


def failure_cause(exc: BaseException) -> str:
    """Why a run failed, from the exception that ended it: a ``SyncRun.Cause``."""
    for types, cause in _CAUSES:
        if isinstance(exc, types):
            return cause
    return Cause.OTHER


def events_usable(district: District, *, now: datetime | None = None) -> bool:
    """Whether an incremental sync may read ``/events`` from the district's cursor."""
    if not district.events_enabled or district.event_cursor_at is None:
        return False
    now = now or timezone.now()
    retention = timedelta(days=settings.CLEVER_EVENT_RETENTION_DAYS)
    return district.event_cursor_at >= now - retention


def not_syncable_reason(district: District) -> tuple[str, str]:
    """Why the district is not synced now, ``(SyncRun.Cause, words)``, or ``("", "")``."""
    if district.status != DistrictStatus.CONNECTED:
        reason = f"not synced: the district is {district.status}"
        reason = f"{reason} ({district.status_reason})" if district.status_reason else reason
        paused = district.status == DistrictStatus.PAUSED
        return (Cause.PAUSED if paused else Cause.NOT_CONNECTED), reason
    if not district.sync_enabled:
        return Cause.SYNCS_OFF, "not synced: syncing is switched off for this district"
    return "", ""


def _replace_broken_connection() -> None:
    """Close the database connection if it no longer answers (the server ended the session, or
    went away), so the run's end is written on a fresh one. Django replaces a broken connection
    only between requests or tasks, and a statement that failed outside a transaction leaves it
    broken in place. If the database is still down, writing the end raises: the task retries,
    and the next attempt finds the run abandoned (``liveness``)."""
    if not connection.in_atomic_block and connection.connection is not None and not connection.is_usable():
        connection.close()


@contextmanager
def _gc_paused():
    """Pause Python's cyclic garbage collector while a run parses and stages pages.

    A page of 10,000 users is a few hundred thousand dicts, lists and strings; every one that
    survives an allocation burst makes the collector walk all of them again, which costs
    about as much as parsing the page. Parsed JSON holds no reference cycles, so reference
    counting frees it as soon as a page is done; the collector is switched back on (if it was
    on) when the run ends, and collects whatever cycles other code made meanwhile."""
    enabled = gc.isenabled()
    if enabled:
        gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


class _BodyTap:
    """A ``requests`` response hook keeping the digest of the last body received (the page
    just fetched: the client sends nothing between receiving a page and returning it)."""

    def __init__(self):
        self.digest = ""

    def __call__(self, response, *args, **kwargs):
        self.digest = hashlib.blake2b(response.content or b"", digest_size=16).hexdigest()
        return response


def _live_in_range(record_type: str, district_id: int, *, above: str | None, at_most: str | None):
    """Live rows of a type in the ID range (above, at_most]."""
    rows = mapping.MODELS[record_type].objects.filter(district_id=district_id, archived_at__isnull=True)
    if above is not None:
        rows = rows.filter(clever_id__gt=above)
    if at_most is not None:
        rows = rows.filter(clever_id__lte=at_most)
    return rows


def _first_page(client: CleverClient, path: str, params: dict | None = None):
    """One request: the page at ``path`` (a collection, or a ``next`` link)."""
    for page in client.iter_pages(path, params):
        return page
    raise BadResponse("the list answered no page", method="GET", url=path)  # pragma: no cover


# --- one run ---------------------------------------------------------------------------------


class _Run:
    def __init__(self, run: SyncRun, district: District, client: CleverClient | None, started: float):
        self.run = run
        self.district = district
        self._owns_client = client is None
        self.base = client or CleverClient()
        self.conn = DistrictSession(district, self.base)
        self.started = started
        # Page digests of this run ({collection: {link: digest}}), and the reference run's.
        self.pages: dict[str, dict[str, str]] = {}
        self.reference: SyncRun | None = None
        self.tap = _BodyTap()

    # bookkeeping

    def _traffic(self) -> dict:
        """The run's traffic fields (``SyncRun.requests``...), token look-ups included."""
        stats = self.conn.stats()
        return {
            "requests": stats.requests,
            "retries": stats.retries,
            "pages": stats.pages,
            "bytes_received": stats.bytes_received,
            "seconds_waited": round(float(stats.seconds_waited), 3),
        }

    def _save(self, **fields) -> None:
        """Write progress to the run (with a heartbeat), unless another process took it."""
        fields["heartbeat_at"] = timezone.now()
        fields["waiting"] = {}
        fields.update(self._traffic())
        updated = SyncRun.objects.filter(pk=self.run.pk, status=SyncRun.Status.RUNNING).update(**fields)
        if not updated:
            raise RunLost("the run was declared interrupted by another process")
        for name, value in fields.items():
            setattr(self.run, name, value)

    def _finish(
        self,
        status: str,
        *,
        counts: dict | None = None,
        losses: dict | None = None,
        error: str = "",
        cause: str = "",
        retryable: bool = False,
    ) -> SyncRun:
        now = timezone.now()
        fields = {
            "status": status,
            "finished_at": now,
            "heartbeat_at": now,
            "duration_seconds": round(time.monotonic() - self.started, 3),
            "totals": selectors.live_totals(self.district),
            "current_collection": "",
            "error": error,
            # A run that read the whole district instead of the changes keeps saying why.
            "cause": cause or self.run.cause,
            "retryable": retryable,
            "waiting": {},
            **self._traffic(),
        }
        if counts is not None:
            fields["counts"] = counts
        if losses is not None:
            fields["losses"] = losses
        if status in (SyncRun.Status.SUCCEEDED, SyncRun.Status.HELD):
            fields["progress"] = 1.0
        updated = SyncRun.objects.filter(pk=self.run.pk, status=SyncRun.Status.RUNNING).update(**fields)
        if not updated:
            raise RunLost("the run was declared interrupted by another process")
        self.run.refresh_from_db()
        logger.info(
            "sync run %s (%s) of district %s: %s in %.1fs",
            self.run.pk,
            self.run.kind,
            self.district.clever_id,
            status,
            fields["duration_seconds"],
        )
        if status == SyncRun.Status.SUCCEEDED:
            events.publish(RosterSynced(district_id=self.district.pk, run_id=self.run.pk))
        elif status == SyncRun.Status.HELD:
            events.publish(SyncHeld(district_id=self.district.pk, run_id=self.run.pk))
        return self.run

    def _fail(self, error: str, *, cause: str, retryable: bool = False) -> SyncRun:
        logger.warning("sync run %s of district %s failed: %s", self.run.pk, self.district.clever_id, error)
        _replace_broken_connection()
        try:
            return self._finish(
                SyncRun.Status.FAILED, error=error or "failed", cause=cause, retryable=retryable
            )
        except RunLost:
            self.run.refresh_from_db()
            return self.run

    # the run

    def _note_wait(self, seconds: float, reason: str) -> None:
        """The client is about to wait (Clever's rate limit, or a backoff after an error): say
        so on the run, until when and why, with the traffic so far and a heartbeat (each wait
        is capped, ``CLEVER_RATE_LIMIT_MAX_WAIT``, well under ``SYNC_STALE_AFTER_SECONDS``).
        Best effort: a database that cannot be written now fails the next page's write."""
        now = timezone.now()
        waiting = {"until": (now + timedelta(seconds=seconds)).isoformat(), "reason": reason}
        try:
            SyncRun.objects.filter(pk=self.run.pk, status=SyncRun.Status.RUNNING).update(
                heartbeat_at=now, waiting=waiting, **self._traffic()
            )
        except DatabaseError as exc:
            if connection.in_atomic_block:
                raise
            logger.warning(
                "sync run %s: its wait (%s) was not recorded: %s", self.run.pk, reason, type(exc).__name__
            )

    def execute(self, requested: str) -> SyncRun:
        hooks = self.base.session.hooks.setdefault("response", [])
        hooks.append(self.tap)
        on_wait, self.base.on_wait = self.base.on_wait, self._note_wait
        try:
            with _gc_paused():
                return self._execute(requested)
        finally:
            hooks.remove(self.tap)
            self.base.on_wait = on_wait

    def _execute(self, requested: str) -> SyncRun:  # noqa: C901 - one run's phases and how each failure ends it
        try:
            candidate = None if requested == SyncRun.Kind.INCREMENTAL else self._resume_candidate()
            self._cleanup_staged(keep=candidate)
            if candidate is not None or requested == SyncRun.Kind.FULL:
                kind = SyncRun.Kind.FULL
            else:
                kind = SyncRun.Kind.INCREMENTAL if events_usable(self.district) else SyncRun.Kind.FULL
            if kind != self.run.kind:
                self._save(kind=kind)
            self.conn.open()
            fallback = ""
            if kind == SyncRun.Kind.INCREMENTAL:
                fallback_cause, fallback = self._incremental()
                if fallback_cause:
                    logger.info(
                        "district %s: %s; running a full sync instead", self.district.clever_id, fallback
                    )
                    staging.delete_run_rows(self.run.pk)
                    self._save(kind=SyncRun.Kind.FULL, checkpoint={}, cause=fallback_cause)
            if self.run.kind == SyncRun.Kind.FULL:
                self._fetch_full(candidate, fallback=fallback)
                self._catch_up(self.run.checkpoint)
            return self._conclude()
        except NoToken:
            set_status(
                district=self.district,
                status=DistrictStatus.DISCONNECTED,
                actor_label="sync",
                reason="Clever lists no token for the district (it stopped sharing data)",
            )
            return self._fail(
                "Clever lists no token for the district: it no longer shares data with the app",
                cause=Cause.NO_TOKEN,
            )
        except RunLost:
            self.run.refresh_from_db()
            return self.run
        except Exception as exc:  # every failure ends the run, with nothing applied
            if not isinstance(
                exc, (CleverError, SyncError, TokenRefused, DistrictDeparted, mapping.InvalidRecord)
            ):
                # The stack, not the message: a database error may quote a row (a child's name).
                logger.error(
                    "sync run %s of district %s crashed: %s\n%s",
                    self.run.pk,
                    self.district.clever_id,
                    type(exc).__name__,
                    "".join(traceback.format_tb(exc.__traceback__)),
                )
            return self._fail(
                safe_summary(exc), cause=failure_cause(exc), retryable=failure_is_temporary(exc)
            )
        finally:
            if self._owns_client:
                self.base.close()

    def _resume_candidate(self) -> SyncRun | None:
        last = (
            SyncRun.objects.filter(district=self.district)
            .exclude(pk=self.run.pk)
            .exclude(status=SyncRun.Status.SKIPPED)
            .order_by("-id")
            .first()
        )
        if last is None or last.status != SyncRun.Status.FAILED or last.kind != SyncRun.Kind.FULL:
            return None
        checkpoint = last.checkpoint or {}
        if checkpoint.get("v") != CHECKPOINT_VERSION or not (
            checkpoint.get("done") or checkpoint.get("next")
        ):
            return None
        if last.started_at < timezone.now() - _resume_max_age():
            return None
        return last

    def _cleanup_staged(self, *, keep: SyncRun | None) -> None:
        """Staged rows of the district's finished runs are dead weight (held runs excepted)."""
        keep_ids = [self.run.pk] + ([keep.pk] if keep else [])
        finished = list(
            SyncRun.objects.filter(district=self.district, staged__isnull=False)
            .exclude(pk__in=keep_ids)
            .exclude(status=SyncRun.Status.HELD)
            .values_list("pk", flat=True)
            .distinct()
        )
        for run_id in finished:
            staging.delete_run_rows(run_id)

    # full

    def _fetch_full(self, candidate: SyncRun | None, *, fallback: str = "") -> None:
        if candidate is not None:
            moved = staging.move_rows(candidate.pk, self.run.pk)
            checkpoint = dict(candidate.checkpoint)
            logger.info(
                "sync run %s resumes run %s (%d staged rows, done: %s)",
                self.run.pk,
                candidate.pk,
                moved,
                ", ".join(checkpoint.get("done", [])) or "nothing",
            )
            self._save(
                checkpoint=checkpoint,
                resumed_from=candidate,
                event_cursor_before=candidate.event_cursor_before,
            )
        else:
            checkpoint = self._new_checkpoint(fallback)
        keep_sensitive = self.district.store_sensitive_fields
        self.reference = self._page_reference()
        for index, record_type in enumerate(mapping.RECORD_TYPES):
            if record_type not in checkpoint["done"]:
                self._fetch_collection(record_type, index, checkpoint, keep_sensitive)

    def _pages_key(self) -> str:
        """What page digests depend on besides the bytes: the mapping and what is kept."""
        return (
            f"{mapping.MAPPING_VERSION}:{int(self.district.store_sensitive_fields)}:{self.base.api_version}"
        )

    def _page_reference(self) -> SyncRun | None:
        """The district's last successful full run, if its page digests apply to this run."""
        if not getattr(settings, "SYNC_PAGE_DIGESTS", True):
            return None
        last = (
            SyncRun.objects.filter(
                district=self.district,
                kind=SyncRun.Kind.FULL,
                status=SyncRun.Status.SUCCEEDED,
                finished_at__isnull=False,
            )
            .order_by("-finished_at", "-id")
            .first()
        )
        if last is None or (last.checkpoint or {}).get("pages_key") != self._pages_key():
            return None
        return last

    def _page_unchanged(self, record_type: str, link: str, page, checkpoint: dict) -> bool:
        """Whether a page is, as a whole, what the reference run applied: the same request,
        the same bytes, and the mirror's ID range it answers for still holds exactly its
        records as live rows, none written since (so nothing was archived, restored or
        changed by anyone in between). Then its records need not even be looked at."""
        reference = self.reference
        if reference is None or not self.tap.digest:
            return False
        if reference.checkpoint["pages"].get(record_type, {}).get(link) != self.tap.digest:
            return False
        ids = [record.get("id") if type(record) is dict else None for record in page.records]
        if not all(type(i) is str and i for i in ids) or len(set(ids)) != len(ids):
            return False
        prev_max = checkpoint["max_id"].get(record_type)
        if ids and prev_max is not None and min(ids) <= prev_max:
            return False
        rows = _live_in_range(
            record_type,
            self.district.pk,
            above=prev_max,
            at_most=None if page.next_link is None else max(ids),
        )
        found = rows.aggregate(n=Count("pk"), latest=Max("updated_at"))
        return found["n"] == len(ids) and (
            found["latest"] is None or found["latest"] <= reference.finished_at
        )

    def _new_checkpoint(self, fallback: str) -> dict:
        checkpoint = {
            "v": CHECKPOINT_VERSION,
            "done": [],
            "next": {},
            "fetched": {},
            "unchanged": {},
            "max_id": {},
            "count": {},
        }
        if fallback:
            checkpoint["fallback"] = fallback
        cursor: dict = {"known": False, "id": "", "at": None}
        if self.district.events_enabled:
            now = timezone.now()
            try:
                latest = self.conn.call(lambda client: client.latest_event_id())
            except CleverError as exc:
                cursor["error"] = safe_summary(exc)
            else:
                cursor = {"known": True, "id": latest or "", "at": now.isoformat()}
        checkpoint["cursor"] = cursor
        self._save(checkpoint=checkpoint, event_cursor_before=cursor["id"])
        return checkpoint

    def _fetch_collection(self, record_type: str, index: int, checkpoint: dict, keep_sensitive: bool) -> None:
        self._save(current_collection=record_type, checkpoint=checkpoint)
        link = checkpoint["next"].get(record_type) or record_type
        seen: set[str] = set()
        while True:
            if link in seen:
                raise BadResponse(
                    "the next link repeats a page already fetched (a paging loop)",
                    method="GET",
                    url=record_type,
                )
            seen.add(link)
            page = self.conn.call(lambda client, link=link: _first_page(client, link))
            self.pages.setdefault(record_type, {})[link] = self.tap.digest
            if page.next_link is not None and record_type not in checkpoint["count"]:
                # More than one page: worth a count=true, for progress within the collection.
                checkpoint["count"][record_type] = self._count(record_type)
            if self._page_unchanged(record_type, link, page, checkpoint):
                ids = [record["id"] for record in page.records]
                self._record_page(
                    record_type, index, page, checkpoint, ids=ids, rows=(), unchanged=ids.__len__
                )
            else:
                self._stage_page(record_type, index, page, checkpoint, keep_sensitive)
            link = page.next_link
            # One page in memory at a time: this one goes before the next one is fetched.
            page = None
            if link is None:
                return

    def _count(self, record_type: str) -> int | None:
        """``GET /{collection}?count=true`` (only for progress: a failure is no reason to stop;
        the page's digest was taken before, so the tap is unaffected)."""
        digest = self.tap.digest
        try:
            return self.conn.call(lambda client: client.count(record_type))
        except CleverError:
            return None
        finally:
            self.tap.digest = digest

    def _stage_page(self, record_type: str, index: int, page, checkpoint: dict, keep_sensitive: bool) -> None:
        run_id = self.run.pk
        records = page.records
        # Keys first (an unusable one fails the page before anything is written); a record
        # listed twice on a page counts once, as it was last listed.
        ids = [mapping.record_id(record, record_type) for record in records]
        last = {clever_id: position for position, clever_id in enumerate(ids)}
        prev_max = checkpoint["max_id"].get(record_type)
        last_page = page.next_link is None
        # The ID range this page answers for: from past the last ID seen (or its own lowest, if
        # it reaches back) to its highest (or the end of the collection on the last page).
        lowest = min(last) if last else None
        highest = max(last) if last else None
        reaches_back = prev_max is not None and lowest is not None and lowest <= prev_max
        live = staging.live_hashes(
            record_type,
            self.district.pk,
            above=None if reaches_back else prev_max,
            at_least=lowest if reaches_back else None,
            at_most=None if last_page else highest,
        )
        unchanged = [0]

        def rows():
            # Generated while the rows are written (PostgreSQL's COPY digests a page's first
            # rows while the next ones are being mapped); one staged row in memory at a time.
            prepare, staged_data = mapping.prepare, mapping.staged_data
            for position, record in enumerate(records):
                clever_id = ids[position]
                if last[clever_id] != position:
                    continue
                item = prepare(record_type, record, keep_sensitive=keep_sensitive)
                known = live.get(clever_id)
                if known is not None and known[0] and known[1] == item.fingerprint:
                    unchanged[0] += 1  # the same record, byte for byte: nothing to stage
                    continue
                # New, changed, restored, or the same content whose fingerprint is out of date
                # (the diff counts that one unchanged; the apply refreshes its fingerprint).
                yield (run_id, record_type, clever_id, item.content_hash, staged_data(item), UPSERT)
            for clever_id, (live_hash, _fingerprint) in live.items():
                if live_hash and clever_id not in last and (prev_max is None or clever_id > prev_max):
                    yield (run_id, record_type, clever_id, "", "{}", DELETE)

        self._record_page(
            record_type, index, page, checkpoint, ids=list(last), rows=rows(), unchanged=lambda: unchanged[0]
        )

    def _record_page(
        self,
        record_type: str,
        index: int,
        page,
        checkpoint: dict,
        *,
        ids: list[str],
        rows: Iterable[tuple],
        unchanged: Callable[[], int],
    ) -> None:
        """Stage a page's rows and move the checkpoint past it, in one transaction (``rows``
        may be a generator: it is consumed inside it, and ``unchanged`` asked afterwards)."""
        run_id = self.run.pk
        prev_max = checkpoint["max_id"].get(record_type)
        highest = max(ids) if ids else None
        last_page = page.next_link is None
        earlier = [cid for cid in ids if prev_max is not None and cid <= prev_max]
        with transaction.atomic():
            staging.relax_durability()
            if earlier:
                staging.discard(run_id, record_type, earlier)
            staging.insert_staged(rows)
            fetched = checkpoint["fetched"].get(record_type, 0) + len(ids)
            checkpoint["fetched"][record_type] = fetched
            checkpoint["unchanged"][record_type] = checkpoint["unchanged"].get(record_type, 0) + unchanged()
            if highest is not None and (prev_max is None or highest > prev_max):
                checkpoint["max_id"][record_type] = highest
            if last_page:
                checkpoint["next"].pop(record_type, None)
                checkpoint["done"].append(record_type)
            else:
                checkpoint["next"][record_type] = page.next_link
            count = checkpoint["count"].get(record_type)
            within = 1.0 if last_page else (min(fetched / count, 0.99) if count else 0.5)
            progress = FETCH_SHARE * (index + within) / len(mapping.RECORD_TYPES)
            self._save(checkpoint=checkpoint, progress=round(progress, 4))

    # incremental

    def _incremental(self) -> tuple[str, str]:
        """Stage the events after the cursor; returns why a full sync is needed instead
        (``SyncRun.Cause``, words), or ``("", "")`` when the events were read to the end."""
        cursor = self.district.event_cursor or ""
        checkpoint = {
            "v": CHECKPOINT_VERSION,
            "events": 0,
            "cursor": {"known": True, "id": cursor, "at": self.run.started_at.isoformat()},
        }
        self._save(checkpoint=checkpoint, current_collection="events", progress=0.1)
        return self._read_events(checkpoint, overlay=False)

    def _catch_up(self, checkpoint: dict) -> None:
        """After a full pass: stage the events that arrived while the pages were read (after
        the cursor taken before the pass) over what the pages gave, so the run ends as Clever
        is now and the guard weighs, in this one run, a removal that landed during the pass
        (in pages already read as well as in pages read after it). The cursor moves past them.
        Events unreadable now (off, or the cursor refused) leave the cursor unknown: the next
        sync is full."""
        cursor = checkpoint.get("cursor") or {}
        if not cursor.get("known") or checkpoint.get("caught_up"):
            return
        checkpoint.setdefault("events", 0)
        self._save(checkpoint=checkpoint, current_collection="events")
        _cause, problem = self._read_events(checkpoint, overlay=True)
        if problem:
            checkpoint["cursor"] = {"known": False, "id": "", "at": None, "error": problem}
        checkpoint["caught_up"] = True
        self._save(checkpoint=checkpoint)

    def _read_events(self, checkpoint: dict, *, overlay: bool) -> tuple[str, str]:
        """Stage the events after ``checkpoint["cursor"]["id"]`` page by page; returns why
        they cannot be read (a stale cursor, events off: ``(SyncRun.Cause, words)``), or
        ``("", "")`` once read to the end."""
        keep_sensitive = self.district.store_sensitive_fields
        staged: set[tuple[str, str]] = set()
        cursor = checkpoint["cursor"]["id"]
        link, params = "events", ({"starting_after": cursor} if cursor else None)
        seen: set[str] = set()
        while True:
            if link in seen:
                raise BadResponse(
                    "the next link repeats a page already fetched (a paging loop)", method="GET", url="events"
                )
            seen.add(link)
            try:
                page = self.conn.call(
                    lambda client, link=link, params=params: _first_page(client, link, params)
                )
            except BadRequest as exc:
                return Cause.EVENTS_STALE, f"the event cursor is stale ({exc})"
            except Forbidden as exc:
                return Cause.EVENTS_OFF, f"events are switched off for the district ({exc})"
            self._stage_events(page, checkpoint, staged, keep_sensitive, overlay=overlay)
            if page.next_link is None:
                return "", ""
            link, params = page.next_link, None

    def _stage_events(
        self, page, checkpoint: dict, staged: set, keep_sensitive: bool, *, overlay: bool
    ) -> None:
        """Fold a page of events to each record's last state and stage it; ``overlay``: over
        the rows a full pass staged for the same records (those are discarded first)."""
        run_id = self.run.pk
        final: dict[tuple[str, str], tuple[str, dict]] = {}
        last_id = checkpoint["cursor"]["id"]
        for event in page.records:
            event_id, event_type = event.get("id"), event.get("type")
            if not isinstance(event_id, str) or not event_id or not isinstance(event_type, str):
                raise BadResponse("an event has no id or type", method="GET", url="events")
            last_id = event_id
            record_type, _, action = event_type.partition(".")
            if record_type not in mapping.RECORD_TYPES or action not in EVENT_ACTIONS:
                continue
            data = event.get("data")
            record = data.get("object") if isinstance(data, dict) else None
            clever_id = mapping.record_id(record, record_type)
            # The last event of a record wins (it carries the whole record).
            final.pop((record_type, clever_id), None)
            final[(record_type, clever_id)] = (action, record)
        rows = []
        again: dict[str, list[str]] = defaultdict(list)
        for (record_type, clever_id), (action, record) in final.items():
            if overlay or (record_type, clever_id) in staged:
                again[record_type].append(clever_id)
            staged.add((record_type, clever_id))
            if action == "deleted":
                rows.append((run_id, record_type, clever_id, "", "{}", DELETE))
            else:
                item = mapping.prepare(record_type, record, keep_sensitive=keep_sensitive)
                rows.append(
                    (run_id, record_type, clever_id, item.content_hash, mapping.staged_data(item), UPSERT)
                )
        if overlay:
            # The mirror now differs from these pages' bytes: the next full run reads them.
            for record_type in again:
                self.pages.pop(record_type, None)
        checkpoint["events"] += len(page.records)
        checkpoint["cursor"]["id"] = last_id
        with transaction.atomic():
            staging.relax_durability()
            for record_type, ids in again.items():
                staging.discard(run_id, record_type, ids)
            staging.insert_staged(rows)
            self._save(checkpoint=checkpoint, progress=FETCH_SHARE if overlay else 0.5)

    # diff, guard, apply

    def _conclude(self) -> SyncRun:
        run = self.run
        fields: dict = {"current_collection": "", "progress": FETCH_SHARE}
        if run.kind == SyncRun.Kind.FULL:
            # The next full run compares its pages with these (see ``_page_unchanged``).
            fields["checkpoint"] = {**run.checkpoint, "pages": self.pages, "pages_key": self._pages_key()}
        self._save(**fields)
        apply_sql.refresh_staging_stats()
        unchanged = run.checkpoint.get("unchanged") if run.kind == SyncRun.Kind.FULL else None
        counts = diff.staged_counts(run.pk, self.district.pk, unchanged=unchanged)
        live = diff.live_counts(self.district.pk)
        earlier, since = diff.recent_losses(self.district, exclude_run_id=run.pk)
        reasons = diff.evaluate_guard(counts, live, self.district, earlier=earlier, since=since)
        if reasons:
            with transaction.atomic():
                ChangeHold.objects.create(
                    run=run,
                    reasons=reasons,
                    counts={**counts, "live": live, "earlier": earlier},
                    samples=diff.samples(run.pk, self.district.pk, counts),
                )
                counts = diff.record_counts(counts)
                _supersede_holds(self.district, run)
                logger.warning(
                    "sync run %s of district %s held: %s",
                    run.pk,
                    self.district.clever_id,
                    "; ".join(f"{r['type']} {r['rule']}" for r in reasons),
                )
                return self._finish(SyncRun.Status.HELD, counts=counts)
        with transaction.atomic():
            locked = SyncRun.objects.select_for_update().get(pk=run.pk)
            if locked.status != SyncRun.Status.RUNNING:
                raise RunLost("the run was declared interrupted by another process")
            refuse_unless_sharing(self.district)
            _apply_staged(run, self.district, timezone.now())
            return self._finish(
                SyncRun.Status.SUCCEEDED, counts=diff.record_counts(counts), losses=diff.net_losses(counts)
            )


def _apply_staged(run: SyncRun, district: District, now: datetime) -> dict:
    """Mirror, accounts, cursor, staged rows: call inside ``transaction.atomic``."""
    restored = apply_sql.restored_person_ids(run.pk, district.pk)
    apply_sql.apply_run(run.pk, district.pk, now)
    accounts = provisioning.provision_district(
        district=district, run_id=run.pk, restored_ids=restored, now=now
    )
    cursor = (run.checkpoint or {}).get("cursor") or {}
    if cursor.get("known"):
        District.objects.filter(pk=district.pk).update(
            event_cursor=cursor.get("id") or "",
            event_cursor_at=datetime.fromisoformat(cursor["at"]) if cursor.get("at") else now,
        )
    elif run.kind == SyncRun.Kind.FULL:
        District.objects.filter(pk=district.pk).update(event_cursor="", event_cursor_at=None)
    staging.delete_run_rows(run.pk)
    _supersede_holds(district, run)
    return accounts


def _supersede_holds(district: District, run: SyncRun) -> None:
    now = timezone.now()
    for hold in (
        ChangeHold.objects.select_related("run")
        .filter(run__district=district, status=ChangeHold.Status.PENDING)
        .exclude(run=run)
    ):
        ChangeHold.objects.filter(pk=hold.pk).update(status=ChangeHold.Status.REJECTED, decided_at=now)
        SyncRun.objects.filter(pk=hold.run_id, status=SyncRun.Status.HELD).update(
            status=SyncRun.Status.REJECTED, cause=Cause.SUPERSEDED, error=f"superseded by run {run.pk}"
        )
        staging.delete_run_rows(hold.run_id)


def _skipped(district: District, kind: str, trigger: str, cause: str, reason: str) -> SyncRun:
    now = timezone.now()
    run = SyncRun.objects.create(
        district=district,
        kind=kind,
        trigger=trigger,
        status=SyncRun.Status.SKIPPED,
        started_at=now,
        heartbeat_at=now,
        finished_at=now,
        duration_seconds=0.0,
        error=reason,
        cause=cause,
        counts=diff.empty_counts(),
        totals=selectors.live_totals(district),
    )
    logger.info("sync of district %s skipped: %s", district.clever_id, reason)
    return run


def _acquire(district: District, kind: str, trigger: str) -> tuple[SyncRun | None, str]:
    """The district's running-sync lock: (the new running run, "") or (None, why not). A
    running run whose process is gone (``liveness``) is marked interrupted and taken over."""
    for attempt in range(2):
        now = timezone.now()
        try:
            with transaction.atomic():
                run = SyncRun.objects.create(
                    district=district,
                    kind=kind,
                    trigger=trigger,
                    status=SyncRun.Status.RUNNING,
                    started_at=now,
                    heartbeat_at=now,
                )
                liveness.hold(run.pk)
            return run, ""
        except IntegrityError:
            holder = SyncRun.objects.filter(district=district, status=SyncRun.Status.RUNNING).first()
            if holder is None:
                continue  # it just finished
            if attempt or liveness.is_alive(holder, now=now):
                return None, f"another sync of this district is running (run {holder.pk})"
            _mark_interrupted(holder, now)
    return None, "another sync of this district is running"


def _mark_interrupted(run: SyncRun, now: datetime) -> bool:
    """End a running run whose process is gone; False when it ended meanwhile on its own."""
    taken = SyncRun.objects.filter(pk=run.pk, status=SyncRun.Status.RUNNING).update(
        status=SyncRun.Status.FAILED,
        finished_at=now,
        retryable=True,
        cause=Cause.INTERRUPTED,
        error=INTERRUPTED.format(seconds=settings.SYNC_STALE_AFTER_SECONDS),
    )
    if taken:
        logger.warning(
            "sync run %s of district %s was abandoned (last heartbeat %s): interrupted",
            run.pk,
            run.district_id,
            run.heartbeat_at.isoformat(),
        )
    return bool(taken)


def interrupt_abandoned_runs() -> list[SyncRun]:
    """Mark every running run whose process is gone (``liveness``) interrupted; returns them
    (their districts are owed a sync that resumes them)."""
    now = timezone.now()
    return [
        run
        for run in SyncRun.objects.filter(status=SyncRun.Status.RUNNING).order_by("pk")
        if not liveness.is_alive(run, now=now) and _mark_interrupted(run, now)
    ]


def run_sync(
    *,
    district: District,
    kind: str = KIND_AUTO,
    trigger: str = SyncRun.Trigger.MANUAL,
    client: CleverClient | None = None,
) -> SyncRun:
    """Sync one district now, in this process; returns its ``SyncRun``.

    ``kind``: "auto" (incremental when the event cursor allows, resuming a failed full run
    first), "full" or "incremental". ``client``: a ``CleverClient`` to use (its clock, sleep,
    page size and transport; tests inject one); the district's token is put on a copy of it.
    Never raises for Clever or network problems: the run ends ``failed`` with the error. A
    district with another sync running gets a ``skipped`` run.
    """
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {', '.join(KINDS)}, not {kind!r}")
    started = time.monotonic()
    district = District.objects.get(pk=district.pk)
    planned = (
        SyncRun.Kind.INCREMENTAL
        if kind != SyncRun.Kind.FULL and events_usable(district)
        else SyncRun.Kind.FULL
    )
    cause, reason = not_syncable_reason(district)
    if cause:
        return _skipped(district, planned, trigger, cause, reason)
    run, why_not = _acquire(district, planned, trigger)
    if run is None:
        return _skipped(district, planned, trigger, Cause.BUSY, why_not)
    try:
        return _Run(run, district, client, started).execute(kind)
    finally:
        liveness.release(run.pk)


# --- holds -------------------------------------------------------------------------------------


def _lock_pending(hold: ChangeHold) -> ChangeHold:
    hold = ChangeHold.objects.select_for_update().select_related("run", "run__district").get(pk=hold.pk)
    if hold.status != ChangeHold.Status.PENDING:
        raise HoldError(f"this hold was already {hold.status}")
    if hold.run.status != SyncRun.Status.HELD:
        raise HoldError(f"the held run is {hold.run.status}")
    return hold


def approve_hold(*, hold: ChangeHold, user, reason: str = "") -> SyncRun:
    """Apply a held run's staged changes (the diff is counted again against the mirror as it is
    now) and mark the hold approved by ``user``, with their ``reason``. Raises HoldError when
    the hold was already decided or a sync of the district is running."""
    started = time.monotonic()
    with transaction.atomic():
        hold = _lock_pending(hold)
        run, district = hold.run, hold.run.district
        try:
            refuse_unless_sharing(district)
        except DistrictDeparted as exc:
            raise HoldError(str(exc)) from None
        now = timezone.now()
        try:
            with transaction.atomic():
                SyncRun.objects.filter(pk=run.pk).update(status=SyncRun.Status.RUNNING, heartbeat_at=now)
        except IntegrityError:
            raise HoldError("a sync of this district is running; decide the hold when it ends") from None
        apply_sql.refresh_staging_stats()
        unchanged = run.checkpoint.get("unchanged") if run.kind == SyncRun.Kind.FULL else None
        counts = diff.staged_counts(run.pk, district.pk, unchanged=unchanged)
        _apply_staged(run, district, now)
        ChangeHold.objects.filter(pk=hold.pk).update(
            status=ChangeHold.Status.APPROVED, decided_at=now, decided_by=user, decision_reason=reason[:500]
        )
        SyncRun.objects.filter(pk=run.pk).update(
            status=SyncRun.Status.SUCCEEDED,
            counts=diff.record_counts(counts),
            losses=diff.net_losses(counts),
            totals=selectors.live_totals(district),
            finished_at=timezone.now(),
            heartbeat_at=timezone.now(),
            progress=1.0,
            error="",
            duration_seconds=(run.duration_seconds or 0.0) + round(time.monotonic() - started, 3),
        )
        events.publish(HoldDecided(hold_id=hold.pk, district_id=district.pk, run_id=run.pk, approved=True))
        events.publish(RosterSynced(district_id=district.pk, run_id=run.pk))
    logger.info("hold %s of district %s approved; run %s applied", hold.pk, district.clever_id, run.pk)
    run.refresh_from_db()
    return run


def reject_hold(*, hold: ChangeHold, user, reason: str = "") -> SyncRun:
    """Discard a held run's staged changes (``user`` decided, for ``reason``); the mirror stays
    as it is."""
    with transaction.atomic():
        hold = _lock_pending(hold)
        run = hold.run
        now = timezone.now()
        ChangeHold.objects.filter(pk=hold.pk).update(
            status=ChangeHold.Status.REJECTED, decided_at=now, decided_by=user, decision_reason=reason[:500]
        )
        SyncRun.objects.filter(pk=run.pk).update(status=SyncRun.Status.REJECTED)
        staging.delete_run_rows(run.pk)
        events.publish(
            HoldDecided(hold_id=hold.pk, district_id=run.district_id, run_id=run.pk, approved=False)
        )
    logger.info("hold %s of district %s rejected", hold.pk, run.district.clever_id)
    run.refresh_from_db()
    return run
