"""Whether the process running a sync is still alive.

A ``running`` SyncRun row is the district's lock, but a row cannot tell whether its process
died: a killed worker, or one whose database connection was dropped, leaves it ``running``.
On PostgreSQL the process running a sync also holds a session advisory lock named after the
run (taken with the row, in the same transaction). PostgreSQL releases it the moment that
session ends, whether the process exited, was killed, or lost its connection, so the next
attempt knows at once that the run is abandoned and takes it over. Elsewhere (SQLite: the demo
and tests, one process) and as a backstop for a process that hangs while its session lives,
the heartbeat decides: a run not heard from for ``SYNC_STALE_AFTER_SECONDS`` is abandoned.

Session locks need a session that stays with the process: in production the workers connect
to PostgreSQL directly, or through a pooler in session mode (a transaction-mode pooler would
hand the lock's session to other clients; see docs/sync.md).
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.db import DatabaseError, connection
from django.utils import timezone

logger = logging.getLogger(__name__)

# The first key of every sync lock ("SYNC"); the second is the run's id.
LOCK_NAMESPACE = 0x53594E43
# Runs whose lock this process holds: a session re-acquires its own advisory locks, so asking
# PostgreSQL from the holding process would say "free".
_held_here: set[int] = set()


def _supported() -> bool:
    return connection.vendor == "postgresql"


def _key(run_id: int) -> tuple[int, int]:
    return LOCK_NAMESPACE, run_id % 2**31


def hold(run_id: int) -> None:
    """Take the run's lock for this process (call where the running row is created)."""
    _held_here.add(run_id)
    if _supported():
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_lock(%s, %s)", _key(run_id))


def release(run_id: int) -> None:
    """Give the run's lock back (the run ended). A lost connection already released it."""
    _held_here.discard(run_id)
    if not _supported() or connection.connection is None:
        return
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock(%s, %s)", _key(run_id))
    except DatabaseError:
        logger.info("sync run %s: its lock went with the database connection", run_id)


def is_alive(run, *, now: datetime | None = None) -> bool:
    """Whether the process running ``run`` (a ``running`` SyncRun) is still at it."""
    now = now or timezone.now()
    if run.heartbeat_at < now - timedelta(seconds=settings.SYNC_STALE_AFTER_SECONDS):
        return False
    if run.pk in _held_here or not _supported():
        return True
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s, %s)", _key(run.pk))
        (acquired,) = cursor.fetchone()
        if acquired:
            cursor.execute("SELECT pg_advisory_unlock(%s, %s)", _key(run.pk))
    return not acquired
