"""What the rostering app announces (``core.events``)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class RosterPurging:
    """A district's roster is about to be purged (published inside the purge's transaction,
    while the mirror still exists): every app that holds personal data about the district's
    people empties or anonymizes it now, and returns counts for the purge's audit."""

    district_id: int
    clever_district_id: str


@dataclass(frozen=True)
class RosterSynced:
    """A sync applied Clever's roster of a district to the mirror: a run succeeded (a nightly
    or on-demand sync, ``manage.py clever_sync``, an incremental pass) or support approved a
    held run. Published after the run's end is written; subscribers run after commit."""

    district_id: int
    run_id: int


@dataclass(frozen=True)
class HoldDecided:
    """Support decided a held sync run: applied it (``approved``) or discarded it."""

    hold_id: int
    district_id: int
    run_id: int
    approved: bool


@dataclass(frozen=True)
class SyncHeld:
    """A sync run of a district was held by the guard (``ChangeHold``): nothing applied, it
    waits for support to approve or reject it. Published by the engine with the run's end."""

    district_id: int
    run_id: int


@dataclass(frozen=True)
class SyncFailedFinally:
    """A district's sync failed and no retry follows (a cause waiting cannot fix, the task's
    retries spent, eager mode, or a sync that keeps killing its worker): the failed run stands
    until the next nightly sync. Published by ``rostering.tasks``, not once per retry."""

    district_id: int
    run_id: int


@dataclass(frozen=True)
class NightlyDispatched:
    """The nightly dispatcher (``rostering.tasks.nightly_sync``) ran and requested
    ``requested`` district syncs (zero when no district needs one)."""

    requested: int
