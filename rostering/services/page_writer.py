"""Writes a sync's pages in order, on a thread of its own when it can, while the run maps the next page.

A full sync alternates Python work (parsing and mapping a page) with database work (inserting
the page's staged rows and committing them with the checkpoint). The database work of one
page needs no Python once its statement runs (``staging.insert_staged``: one statement per
page; SQLite releases the GIL for the statement's whole run, PostgreSQL works in its own
process), so handing it to a writer thread lets the two overlap on a second core.

The order of the writes is the order of ``submit``: a page's checkpoint never reaches the
database before the rows it vouches for, and a crash loses at most the pages still queued (the
checkpoint then points at the first of them, and a resumed run fetches them again). At most
one page waits in the queue, so memory holds the page being mapped, one waiting and one being
written.

A thread is used only when the caller's connection is in autocommit mode and the database is a
file or a server: inside a caller's transaction (an outer ``atomic`` block, a test's) the pages
must be written on that connection, and an in-memory SQLite database is private to its
connection. ``SYNC_PAGE_WRITER_THREAD = False`` writes inline always.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable

from django.conf import settings
from django.db import connection, connections


def background_writes_possible() -> bool:
    """Whether a writer thread (with a connection of its own) sees and may write what the
    caller's connection would."""
    if not getattr(settings, "SYNC_PAGE_WRITER_THREAD", True) or connection.in_atomic_block:
        return False
    return not (connection.vendor == "sqlite" and connection.is_in_memory_db())


class PageWriter:
    """``submit`` jobs (callables doing one transaction each), ``flush`` to wait for them,
    ``close`` at the end. A job's exception is raised in the caller at its next ``submit``,
    ``flush`` or ``close``; the jobs after a failed one are dropped."""

    def __init__(self, *, threaded: bool):
        self._error: BaseException | None = None
        self._queue: queue.Queue | None = None
        self._thread: threading.Thread | None = None
        if threaded:
            self._queue = queue.Queue(maxsize=1)
            self._thread = threading.Thread(target=self._work, name="sync-page-writer",
                                            daemon=True)
            self._thread.start()

    @property
    def threaded(self) -> bool:
        return self._thread is not None

    def submit(self, job: Callable[[], None]) -> None:
        self._raise()
        if self._queue is None:
            job()
        else:
            self._queue.put(job)

    def flush(self) -> None:
        """Wait until every submitted job has run."""
        if self._queue is not None:
            self._queue.join()
        self._raise()

    def close(self, *, quietly: bool = False) -> None:
        """Run what is queued and stop the thread; ``quietly`` when the caller is already
        failing (its own exception matters more than the writer's)."""
        if self._thread is not None and self._thread.is_alive():
            self._queue.put(None)
            self._thread.join()
        if not quietly:
            self._raise()

    def _raise(self) -> None:
        if self._error is not None:
            raise self._error

    def _work(self) -> None:
        try:
            while True:
                job = self._queue.get()
                try:
                    if job is None:
                        return
                    if self._error is None:
                        job()
                except BaseException as exc:  # handed to the caller; the thread goes on draining
                    self._error = exc
                finally:
                    self._queue.task_done()
        finally:
            # This thread's own connection (Django's connections are per thread).
            connections.close_all()
