"""What operations follows (``core.events``, after commit: a failing alert is logged and changes
nothing for the code that published): each event raises an alert (sent once per change of
state, ``operations.alerts``) or resolves one.

| event | alert |
|---|---|
| ``rostering.events.SyncHeld`` | "a sync waits for approval" (and "failing" resolves: it synced) |
| ``rostering.events.HoldDecided`` | the district's held state resolves when no hold of it is pending |
| ``rostering.events.SyncFailedFinally`` | "syncs keep failing" (not when the district stopped sharing) |
| ``rostering.events.RosterSynced`` | the district's failing and held states resolve |
| ``districts.events.DistrictStatusChanged`` | "revoked the app" / "stopped sharing"; resolved on return |
| ``rostering.events.NightlyDispatched`` | the nightly heartbeat; "the nightly did not run" resolves |
| ``lms.events.AssignmentStateUnknown`` | "an LMS assignment needs checking" |
"""

from __future__ import annotations

from django.utils import timezone

from core import events
from districts.events import DEPARTED, DistrictStatusChanged
from lms.events import AssignmentStateUnknown
from rostering.events import HoldDecided, NightlyDispatched, RosterSynced, SyncFailedFinally, SyncHeld
from rostering.models import ChangeHold

from . import alerts, notices
from .models import AlertKind, Heartbeat
from .selectors import NIGHTLY_HEARTBEAT


def _send(notice: alerts.Notice | None) -> None:
    if notice is not None:
        alerts.notify(notice)


def resolve_hold_unless_pending(district_id: int) -> None:
    pending = ChangeHold.objects.filter(run__district_id=district_id, status=ChangeHold.Status.PENDING)
    if not pending.exists():
        alerts.resolve(AlertKind.SYNC_HELD, notices.district_subject(district_id))


@events.subscribe(SyncHeld)
def on_sync_held(event: SyncHeld) -> None:
    alerts.resolve(AlertKind.SYNC_FAILED, notices.district_subject(event.district_id))
    _send(notices.sync_held(event.run_id))


@events.subscribe(HoldDecided)
def on_hold_decided(event: HoldDecided) -> None:
    resolve_hold_unless_pending(event.district_id)


@events.subscribe(SyncFailedFinally)
def on_sync_failed_finally(event: SyncFailedFinally) -> None:
    _send(notices.sync_failed(event.run_id))


@events.subscribe(RosterSynced)
def on_roster_synced(event: RosterSynced) -> None:
    alerts.resolve(AlertKind.SYNC_FAILED, notices.district_subject(event.district_id))
    resolve_hold_unless_pending(event.district_id)


@events.subscribe(DistrictStatusChanged)
def on_district_status_changed(event: DistrictStatusChanged) -> None:
    if event.after in DEPARTED:
        _send(notices.district_access(event.district_id, event.after))
    else:
        alerts.resolve(AlertKind.DISTRICT_ACCESS, notices.district_subject(event.district_id))


@events.subscribe(NightlyDispatched)
def on_nightly_dispatched(event: NightlyDispatched) -> None:
    Heartbeat.objects.update_or_create(
        name=NIGHTLY_HEARTBEAT, defaults={"at": timezone.now(), "details": {"requested": event.requested}}
    )
    alerts.resolve(AlertKind.NIGHTLY, notices.NIGHTLY_SUBJECT)


@events.subscribe(AssignmentStateUnknown)
def on_assignment_state_unknown(event: AssignmentStateUnknown) -> None:
    _send(notices.lms_unknown(event.assignment_id))
