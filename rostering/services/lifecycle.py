"""A district's data through its life with the app (docs/data-lifecycle.md), in one place:

- **connected -> paused**: nothing here; syncs stop (``run_sync`` skips) while sign-in and the
  product keep working.
- **departure** (disconnected or revoked; ``districts.events.DistrictStatusChanged``, in the
  status change's transaction): every live row of the district's mirror is archived with the
  departure's moment as ``archived_at`` (memberships stay with their archived sections, so a
  return restores whole classes), and the accounts of its people are deactivated (kept when a
  live person of another district uses one). Sessions that began with a Clever sign-in in the
  district end at their next request (``sso.middleware``) and an inactive account signs in no
  other way either.
- **return** within the retention window (connected again): the rows archived by the departure
  (``archived_at`` at or after it) are restored, the same rows, and their accounts reactivated;
  the sync that follows a reconnection (``recover_syncs``) brings in what changed meanwhile.
- **purge** after ``ROSTER_RETENTION_DAYS`` from the departure (revoked and disconnected alike),
  or from the last Library sign-in of a Library-only district: ``purge_district_roster``; also
  the first step of deleting a district (``districts.events.DistrictDeleting``).
"""

from __future__ import annotations

import logging
from typing import Any

from django.db import connection, transaction
from django.utils import timezone

from core import events
from core.deletion import delete_cascading
from core.errors import AppError
from core.redaction import forget_admin_history, redact, redact_json_column
from districts.events import DEPARTED, DistrictDeleting, DistrictStatusChanged
from districts.models import District, DistrictAudit

from ..events import RosterPurging
from ..models import (
    ChangeHold,
    ContactLink,
    Course,
    Person,
    School,
    Section,
    SectionMembership,
    StagedRecord,
    SyncRun,
    Term,
)
from . import liveness, provisioning

logger = logging.getLogger(__name__)

MIRRORED = (School, Term, Course, Section, Person)


class DistrictDeparted(AppError):
    """The district stopped sharing while a change to its mirror was on its way."""


class SyncInProgress(AppError):
    """The district has a sync running: its roster cannot be purged now."""


# --- departure and return ------------------------------------------------------------------------


@events.subscribe(DistrictStatusChanged, atomic=True)
def follow_district_status(event: DistrictStatusChanged) -> dict | None:
    if event.departed:
        return archive_departed_district(district_id=event.district_id, at=event.departed_at)
    if event.returned and event.departed_at is not None:
        return restore_returned_district(district_id=event.district_id, departed_at=event.departed_at)
    return None


@transaction.atomic
def archive_departed_district(*, district_id: int, at) -> dict:
    """Archive the district's live mirror at ``at`` and deactivate its people's accounts."""
    archived = {
        model._meta.model_name: model.objects.filter(
            district_id=district_id, archived_at__isnull=True
        ).update(archived_at=at)
        for model in MIRRORED
    }
    archived["accounts_deactivated"] = provisioning.deactivate_archived(district_id)
    logger.info("district %s departed: %s", district_id, archived)
    return archived


@transaction.atomic
def restore_returned_district(*, district_id: int, departed_at) -> dict:
    """Restore what the departure archived (the same rows) and reactivate their accounts."""
    restored = {
        model._meta.model_name: model.objects.filter(
            district_id=district_id, archived_at__gte=departed_at
        ).update(archived_at=None)
        for model in MIRRORED
    }
    returned = Person.objects.filter(district_id=district_id, archived_at__isnull=True)
    restored["accounts_reactivated"] = provisioning.reactivate(returned)
    logger.info("district %s returned: %s", district_id, restored)
    return restored


def refuse_unless_sharing(district: District) -> None:
    """Raise ``DistrictDeparted`` when the district no longer shares (a sync or an approved hold
    must not restore what a departure archived). Call inside the transaction that writes the
    mirror: on PostgreSQL the district's row is locked ``FOR KEY SHARE`` until it commits, so a
    departure (``set_status`` locks the row ``FOR UPDATE``) waits for it and then archives what
    it wrote, while the apply's own update of the row (its event cursor) is not blocked by it.
    SQLite has one writer at a time anyway."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT status FROM {District._meta.db_table} WHERE id = %s "  # noqa: S608
                f"FOR KEY SHARE",
                [district.pk],
            )
            status = cursor.fetchone()[0]
    else:
        status = District.objects.values_list("status", flat=True).get(pk=district.pk)
    if status in DEPARTED:
        raise DistrictDeparted(
            f"the district stopped sharing with the app ({status}) during the run: nothing was applied"
        )


# --- purge -------------------------------------------------------------------------------------


@events.subscribe(DistrictDeleting, atomic=True)
def purge_deleted_district(event: DistrictDeleting) -> dict:
    """A district being deleted is purged first, so nothing about its people outlives it (their
    accounts stay, emptied; sign-in data and matches go); its rows go with it afterwards."""
    district = District.objects.get(pk=event.district_id)
    return purge_district_roster(district=district, actor_label="deletion of the district")


def _refuse_while_syncing(district: District, now) -> None:
    """Raise SyncInProgress while a sync of the district is alive; a dead one is marked failed."""
    running = SyncRun.objects.filter(district=district, status=SyncRun.Status.RUNNING).first()
    if running is None:
        return
    if liveness.is_alive(running, now=now):
        raise SyncInProgress(f"sync run {running.pk} of the district is running")
    SyncRun.objects.filter(pk=running.pk).update(
        status=SyncRun.Status.FAILED, finished_at=now, error="interrupted; then purged"
    )


def _erase_held_elsewhere(district: District) -> dict[str, Any]:
    """What other apps hold about the district's people (their ``RosterPurging`` subscribers)
    and the admin's change history of those people and their accounts."""
    erased: dict[str, Any] = {}
    for answer in events.publish(
        RosterPurging(district_id=district.pk, clever_district_id=district.clever_id)
    ).values():
        erased.update(answer or {})
    people = Person.objects.filter(district=district)
    erased["admin_history"] = forget_admin_history(Person, people.values_list("pk", flat=True).iterator())
    accounts = provisioning.accounts_made_for_people(district.pk)
    erased["admin_history"] += forget_admin_history(
        accounts.model, accounts.values_list("pk", flat=True).iterator()
    )
    return erased


def _discard_holds_and_checkpoints(district: District, now) -> int:
    """Reject pending holds (and their runs), clear hold samples and resume checkpoints; the
    number of holds discarded."""
    holds = ChangeHold.objects.filter(run__district=district, status=ChangeHold.Status.PENDING)
    held_runs = list(holds.values_list("run_id", flat=True))
    discarded = holds.update(status=ChangeHold.Status.REJECTED, decided_at=now)
    SyncRun.objects.filter(pk__in=held_runs).update(
        status=SyncRun.Status.REJECTED, error="discarded: the district's roster was purged"
    )
    ChangeHold.objects.filter(run__district=district).update(samples={})
    # Nothing staged survives, so no failed run may be resumed against the emptied mirror.
    SyncRun.objects.filter(district=district).exclude(checkpoint={}).update(checkpoint={})
    return discarded


def _delete_mirror(district: District) -> dict[str, int]:
    """Delete the district's staged rows and mirror, set-based (``core.deletion``: what other
    apps keep about these rows goes or is unlinked as their ``on_delete`` says, e.g. LMS results
    with their students and sections); the number of rows of each kind."""
    return {
        key: delete_cascading(queryset).get(queryset.model._meta.label, 0)
        for key, queryset in (
            ("staged", StagedRecord.objects.filter(run__district=district)),
            ("memberships", SectionMembership.objects.filter(district=district)),
            ("contact_links", ContactLink.objects.filter(district=district)),
            ("users", Person.objects.filter(district=district)),
            ("sections", Section.objects.filter(district=district)),
            ("schools", School.objects.filter(district=district)),
            ("terms", Term.objects.filter(district=district)),
            ("courses", Course.objects.filter(district=district)),
        )
    }


@transaction.atomic
def purge_district_roster(*, district: District, actor_label: str = "retention", actor=None) -> dict:
    """Delete the district's mirror (people, sections, memberships, contact links, schools,
    terms, courses, staged rows; LMS assignments and results go with their sections and
    students) and remove its people's personal data from everywhere else: accounts made for them
    emptied (``provisioning.anonymize_accounts``), every account of theirs deactivated, what
    other apps hold erased by their ``RosterPurging`` subscribers (Clever sign-in data, login
    records, matches), the admin's change history and the district's audits reduced to IDs
    and counts. Pending holds are rejected, hold samples cleared, the event cursor reset (the
    next sync is full). Sync history is kept. Audited as ``DistrictAudit.Action.PURGED``.
    Raises SyncInProgress while a sync of the district is running. Set-based throughout."""
    district = District.objects.select_for_update().get(pk=district.pk)
    now = timezone.now()
    _refuse_while_syncing(district, now)
    erased = _erase_held_elsewhere(district)
    deactivated = provisioning.deactivate_people(district.pk)
    erased["accounts_anonymized"] = provisioning.anonymize_accounts(district.pk)
    discarded = _discard_holds_and_checkpoints(district, now)
    deleted = _delete_mirror(district)
    erased["audits_redacted"] = redact_json_column(DistrictAudit.objects.filter(district=district), "details")
    District.objects.filter(pk=district.pk).update(
        event_cursor="", event_cursor_at=None, link_evidence=redact(district.link_evidence)
    )
    result = {**deleted, "accounts_deactivated": deactivated, "holds_discarded": discarded, "erased": erased}
    DistrictAudit.objects.create(
        district=district,
        action=DistrictAudit.Action.PURGED,
        actor=actor,
        actor_label=actor_label,
        details={"deleted": result},
    )
    logger.info("roster of district %s purged (%s)", district.clever_id, actor_label)
    return result
