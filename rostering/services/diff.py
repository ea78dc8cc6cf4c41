"""The diff of a run's staged rows against the live mirror (set-based SQL), and the guard.

Each staged row is classified by one ``LEFT JOIN`` of staging to the type's table on
(district, Clever ID), grouped and counted in the database:

======== ======================================= ==========
action   mirror row                              counted as
======== ======================================= ==========
upsert   none                                    created
upsert   archived                                restored
upsert   live, same content hash                 unchanged
upsert   live, other content hash                updated
delete   live                                    archived
delete   none or already archived                (nothing: a no-op)
======== ======================================= ==========

A full sync does not stage records whose hash equals their live row (see ``sync``): they are
counted while the pages are read and added to ``unchanged`` here.

**Guard** (``evaluate_guard``), per record type (schools, terms, courses, sections, users) and
per role of the people (students, teachers, staff, district admins, contacts: Clever's own
thresholds are per data type, and removing 15% of the students is only 7% of the users when
contacts are as many), against the group's live (not archived) rows; a group with no live
rows is never held, so the first sync of an empty mirror never is. A person counts in a role
group by the roles of their live row:

- ``deleted``: archived / live > the deletion threshold (``District.guard_max_deleted_fraction``
  or ``SYNC_GUARD_MAX_DELETED_FRACTION``, 10% by default; Clever's own safety threshold);
- ``changed``: (updated + archived) / live > the change threshold
  (``District.guard_max_changed_fraction`` or ``SYNC_GUARD_MAX_CHANGED_FRACTION``, 75%).
  Created and restored records do not count: a district adding a school is not a risk, a
  mass rename or a mass removal is. Archived ones do, since a removal is a change;
- ``emptied``: every live record of the type would be archived (a district that comes back
  empty, whatever the thresholds say: a per-district threshold of 1.0 cannot let a 401 or an
  unsharing empty a roster).

A rule fires on strictly more than its threshold, so a threshold of 1.0 switches it off.

**Deletions are counted across runs** (``recent_losses``). A removal can reach the mirror in
pieces: a nightly full sync of a district without events archives what is missing on the
night it runs, and the next night the rest; a burst of incremental runs each carries a slice.
Judged one run at a time, every piece stays under the threshold. So the ``deleted`` rule
weighs what the group lost in the *guard window*: the net rows (archived minus restored) that
the district's applied runs took away since the window began, plus this run's archived rows,
against the group's rows at the window's start (live now plus what was lost since):

    (earlier losses + archived by this run) / (live + earlier losses) > threshold

The window begins at the latest of: ``SYNC_GUARD_WINDOW_SECONDS`` ago (36 hours by default: the
previous night's run and every incremental since), the last hold support staff approved (an
approval accepts the roster as it then was), and the last purge of the district's roster. A
run archiving nothing in a group is never held for that group's earlier losses (they were
applied under the threshold, or approved). ``changed`` and ``emptied`` stay per run. Each
applied run records its net losses per group in ``SyncRun.losses``.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import connection
from django.db.models import Count, Exists, OuterRef, Q
from django.utils import timezone

from districts.models import District, DistrictAudit

from ..models import ChangeHold, Person, StagedRecord, SyncRun
from .mapping import MODELS, RECORD_TYPES, display_name, layout
from .staging import table

KINDS = ("created", "updated", "archived", "restored", "unchanged")
SAMPLE_SIZE = 5


def empty_counts() -> dict[str, dict[str, int]]:
    return {kind: dict.fromkeys(RECORD_TYPES, 0) for kind in KINDS}


ROLE_GROUPS = {
    "students": "is_student",
    "teachers": "is_teacher",
    "staff": "is_staff",
    "district_admins": "is_district_admin",
    "contacts": "is_contact",
}


def staged_counts(run_id: int, district_id: int, *, unchanged: dict | None = None) -> dict:
    """``{"created": {type: n}, "updated", "archived", "restored", "unchanged"}`` of a run;
    ``unchanged`` adds the records a full sync counted without staging them. People also get
    ``"roles": {"updated": {role: n}, "archived": {role: n}, "restored": {role: n}}``, counted
    by the roles their mirror row holds (what the guard weighs per role)."""
    counts: dict[str, Any] = empty_counts()
    roles = {kind: dict.fromkeys(ROLE_GROUPS, 0) for kind in ("updated", "archived", "restored")}
    staged = table(StagedRecord)
    with connection.cursor() as cursor:
        for record_type in RECORD_TYPES:
            people = record_type == "users"
            role_sums = (
                "".join(f", SUM(CASE WHEN t.{flag} THEN 1 ELSE 0 END)" for flag in ROLE_GROUPS.values())
                if people
                else ""
            )
            # Identifiers come from model metadata; every value is a bound parameter.
            sql = (
                "SELECT s.action, "  # noqa: S608
                "CASE WHEN t.id IS NULL THEN 'none' "
                "WHEN t.archived_at IS NOT NULL THEN 'archived' "
                "WHEN t.content_hash = s.content_hash THEN 'same' "
                f"ELSE 'differs' END, COUNT(*){role_sums} "
                f"FROM {staged} s LEFT JOIN {table(MODELS[record_type])} t "
                "ON t.district_id = %s AND t.clever_id = s.clever_id "
                "WHERE s.run_id = %s AND s.record_type = %s GROUP BY 1, 2"
            )
            cursor.execute(
                sql,
                [district_id, run_id, record_type],
            )
            for action, state, n, *by_role in cursor.fetchall():
                if action == StagedRecord.Action.DELETE:
                    if state in ("same", "differs"):
                        counts["archived"][record_type] += n
                        kind = "archived"
                    else:
                        continue
                else:
                    kind = {
                        "none": "created",
                        "archived": "restored",
                        "same": "unchanged",
                        "differs": "updated",
                    }[state]
                    counts[kind][record_type] += n
                if people and kind in roles:
                    for role, value in zip(ROLE_GROUPS, by_role, strict=True):
                        roles[kind][role] += int(value or 0)
    for record_type, n in (unchanged or {}).items():
        if record_type in counts["unchanged"]:
            counts["unchanged"][record_type] += int(n)
    counts["roles"] = roles
    return counts


def record_counts(counts: dict) -> dict:
    """The per-record-type part of ``staged_counts`` (what ``SyncRun.counts`` keeps)."""
    return {kind: dict(counts[kind]) for kind in KINDS}


def live_counts(district_id: int) -> dict[str, int]:
    """Live rows per record type, and live people per role."""
    live = {
        record_type: MODELS[record_type]
        .objects.filter(district_id=district_id, archived_at__isnull=True)
        .count()
        for record_type in RECORD_TYPES
    }
    people = Person.objects.filter(district_id=district_id, archived_at__isnull=True).aggregate(
        **{role: Count("pk", filter=Q(**{flag: True})) for role, flag in ROLE_GROUPS.items()}
    )
    live.update({role: int(n or 0) for role, n in people.items()})
    return live


def thresholds(district) -> tuple[float, float]:
    deleted = district.guard_max_deleted_fraction
    changed = district.guard_max_changed_fraction
    return (
        float(settings.SYNC_GUARD_MAX_DELETED_FRACTION if deleted is None else deleted),
        float(settings.SYNC_GUARD_MAX_CHANGED_FRACTION if changed is None else changed),
    )


def _groups(counts: dict) -> dict[str, dict[str, int]]:
    """``{group: {"archived", "updated", "restored"}}`` for every record type and role group."""
    groups = {
        record_type: {kind: counts[kind][record_type] for kind in ("archived", "updated", "restored")}
        for record_type in RECORD_TYPES
    }
    roles = counts.get("roles") or {}
    for role in ROLE_GROUPS:
        groups[role] = {
            kind: (roles.get(kind) or {}).get(role, 0) for kind in ("archived", "updated", "restored")
        }
    return groups


def net_losses(counts: dict) -> dict[str, int]:
    """What an applied run took away per guard group: archived minus restored rows (only the
    groups it changed; what ``SyncRun.losses`` keeps)."""
    losses = {group: kinds["archived"] - kinds["restored"] for group, kinds in _groups(counts).items()}
    return {group: n for group, n in losses.items() if n}


def guard_window_start(district: District, *, now: datetime | None = None) -> datetime:
    """Where the guard window of the district begins (see the module's docstring)."""
    now = now or timezone.now()
    start = now - timedelta(seconds=settings.SYNC_GUARD_WINDOW_SECONDS)
    approved = (
        ChangeHold.objects.filter(run__district=district, status=ChangeHold.Status.APPROVED)
        .order_by("-decided_at")
        .values_list("decided_at", flat=True)
        .first()
    )
    purged = (
        DistrictAudit.objects.filter(district=district, action=DistrictAudit.Action.PURGED)
        .order_by("-created_at")
        .values_list("created_at", flat=True)
        .first()
    )
    return max(moment for moment in (start, approved, purged) if moment is not None)


def recent_losses(
    district: District, *, exclude_run_id: int | None = None, now: datetime | None = None
) -> tuple[dict[str, int], datetime]:
    """Net rows per guard group that the district's applied runs took away in the guard window
    (never negative), and where the window begins. An approved run finishes after its hold's
    decision, so the approval itself falls outside the window it opens."""
    start = guard_window_start(district, now=now)
    runs = (
        SyncRun.objects.filter(district=district, status=SyncRun.Status.SUCCEEDED, finished_at__gt=start)
        .exclude(losses={})
        .exclude(hold__status=ChangeHold.Status.APPROVED)
    )
    if exclude_run_id is not None:
        runs = runs.exclude(pk=exclude_run_id)
    totals: dict[str, int] = {}
    for losses in runs.values_list("losses", flat=True):
        for group, n in (losses or {}).items():
            totals[group] = totals.get(group, 0) + int(n)
    return {group: n for group, n in totals.items() if n > 0}, start


def evaluate_guard(
    counts: dict,
    live: dict[str, int],
    district,
    *,
    earlier: dict[str, int] | None = None,
    since: datetime | None = None,
) -> list[dict]:
    """Why the run must be held (empty: it may be applied). ``earlier``: the group's losses in
    the guard window before this run (``recent_losses``), which began at ``since``."""
    max_deleted, max_changed = thresholds(district)
    earlier = earlier or {}
    reasons: list[dict] = []
    for group, kinds in _groups(counts).items():
        n_live = live.get(group, 0)
        if n_live <= 0:
            continue
        archived, updated = kinds["archived"], kinds["updated"]
        changed = updated + archived
        if archived >= n_live:
            reasons.append(
                {
                    "type": group,
                    "rule": "emptied",
                    "count": archived,
                    "live": n_live,
                    "fraction": 1.0,
                    "threshold": None,
                }
            )
        before = earlier.get(group, 0) if archived else 0
        lost, baseline = before + archived, n_live + before
        if lost / baseline > max_deleted:
            reason = {
                "type": group,
                "rule": "deleted",
                "count": lost,
                "live": baseline,
                "fraction": round(lost / baseline, 4),
                "threshold": max_deleted,
            }
            if before:
                reason.update(earlier=before, since=since.isoformat() if since else None)
            reasons.append(reason)
        if changed / n_live > max_changed:
            reasons.append(
                {
                    "type": group,
                    "rule": "changed",
                    "count": changed,
                    "live": n_live,
                    "fraction": round(changed / n_live, 4),
                    "threshold": max_changed,
                }
            )
    return reasons


def _name_fields(record_type: str) -> list[str]:
    return ["first_name", "last_name"] if record_type == "users" else ["name"]


def samples(run_id: int, district_id: int, counts: dict) -> dict:
    """A few records per type that would be archived, updated or created: Clever ID and name
    only (no email, no date of birth, nothing sensitive)."""
    out: dict[str, dict[str, list]] = {"archived": {}, "updated": {}, "created": {}}
    for record_type in RECORD_TYPES:
        model = MODELS[record_type]
        staged = StagedRecord.objects.filter(run_id=run_id, record_type=record_type)
        names = _name_fields(record_type)
        if counts["archived"][record_type]:
            rows = (
                model.objects.filter(
                    district_id=district_id,
                    archived_at__isnull=True,
                    clever_id__in=staged.filter(action=StagedRecord.Action.DELETE).values("clever_id"),
                )
                .order_by("clever_id")
                .values("clever_id", *names)[:SAMPLE_SIZE]
            )
            out["archived"][record_type] = [
                {"clever_id": r["clever_id"], "name": display_name(record_type, r)} for r in rows
            ]
        if counts["updated"][record_type]:
            differs = staged.filter(
                action=StagedRecord.Action.UPSERT, clever_id=OuterRef("clever_id")
            ).exclude(content_hash=OuterRef("content_hash"))
            rows = (
                model.objects.filter(Exists(differs), district_id=district_id, archived_at__isnull=True)
                .order_by("clever_id")
                .values("clever_id", *names)[:SAMPLE_SIZE]
            )
            out["updated"][record_type] = [
                {"clever_id": r["clever_id"], "name": display_name(record_type, r)} for r in rows
            ]
        if counts["created"][record_type]:
            existing = model.objects.filter(district_id=district_id, clever_id=OuterRef("clever_id"))
            rows = (
                staged.filter(action=StagedRecord.Action.UPSERT)
                .exclude(Exists(existing))
                .order_by("clever_id")
                .values_list("clever_id", "data")[:SAMPLE_SIZE]
            )
            names = [name for name, _kind in layout(record_type)]
            out["created"][record_type] = [
                {
                    "clever_id": cid,
                    "name": display_name(record_type, dict(zip(names, data or [], strict=False))),
                }
                for cid, data in rows
            ]
    return {kind: value for kind, value in out.items() if value}
