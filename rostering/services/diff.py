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
"""

from __future__ import annotations

from django.conf import settings
from django.db import connection
from django.db.models import Count, Exists, OuterRef, Q

from ..models import Person, StagedRecord
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
    ``"roles": {"updated": {role: n}, "archived": {role: n}}``, counted by the roles their live
    row holds (what the guard weighs per role)."""
    counts = empty_counts()
    roles = {"updated": dict.fromkeys(ROLE_GROUPS, 0), "archived": dict.fromkeys(ROLE_GROUPS, 0)}
    staged = table(StagedRecord)
    with connection.cursor() as cursor:
        for record_type in RECORD_TYPES:
            people = record_type == "users"
            role_sums = "".join(
                f", SUM(CASE WHEN t.{flag} THEN 1 ELSE 0 END)" for flag in ROLE_GROUPS.values()
            ) if people else ""
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
                    kind = {"none": "created", "archived": "restored", "same": "unchanged",
                            "differs": "updated"}[state]
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
        record_type: MODELS[record_type].objects.filter(
            district_id=district_id, archived_at__isnull=True
        ).count()
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


def evaluate_guard(counts: dict, live: dict[str, int], district) -> list[dict]:
    """Why the run must be held (empty: it may be applied)."""
    max_deleted, max_changed = thresholds(district)
    groups = [(record_type, counts["archived"][record_type], counts["updated"][record_type])
              for record_type in RECORD_TYPES]
    roles = counts.get("roles") or {}
    groups += [(role, (roles.get("archived") or {}).get(role, 0),
                (roles.get("updated") or {}).get(role, 0)) for role in ROLE_GROUPS]
    reasons: list[dict] = []
    for group, archived, updated in groups:
        n_live = live.get(group, 0)
        if n_live <= 0:
            continue
        changed = updated + archived
        if archived >= n_live:
            reasons.append({"type": group, "rule": "emptied", "count": archived,
                            "live": n_live, "fraction": 1.0, "threshold": None})
        if archived / n_live > max_deleted:
            reasons.append({"type": group, "rule": "deleted", "count": archived,
                            "live": n_live, "fraction": round(archived / n_live, 4),
                            "threshold": max_deleted})
        if changed / n_live > max_changed:
            reasons.append({"type": group, "rule": "changed", "count": changed,
                            "live": n_live, "fraction": round(changed / n_live, 4),
                            "threshold": max_changed})
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
            rows = model.objects.filter(
                district_id=district_id, archived_at__isnull=True,
                clever_id__in=staged.filter(action=StagedRecord.Action.DELETE).values("clever_id"),
            ).order_by("clever_id").values("clever_id", *names)[:SAMPLE_SIZE]
            out["archived"][record_type] = [
                {"clever_id": r["clever_id"], "name": display_name(record_type, r)} for r in rows
            ]
        if counts["updated"][record_type]:
            differs = staged.filter(action=StagedRecord.Action.UPSERT,
                                    clever_id=OuterRef("clever_id")).exclude(
                content_hash=OuterRef("content_hash"))
            rows = model.objects.filter(
                Exists(differs), district_id=district_id, archived_at__isnull=True
            ).order_by("clever_id").values("clever_id", *names)[:SAMPLE_SIZE]
            out["updated"][record_type] = [
                {"clever_id": r["clever_id"], "name": display_name(record_type, r)} for r in rows
            ]
        if counts["created"][record_type]:
            existing = model.objects.filter(district_id=district_id, clever_id=OuterRef("clever_id"))
            rows = (staged.filter(action=StagedRecord.Action.UPSERT)
                    .exclude(Exists(existing)).order_by("clever_id")
                    .values_list("clever_id", "data")[:SAMPLE_SIZE])
            names = [name for name, _kind in layout(record_type)]
            out["created"][record_type] = [
                {"clever_id": cid,
                 "name": display_name(record_type, dict(zip(names, data or [], strict=False)))}
                for cid, data in rows
            ]
    return {kind: value for kind, value in out.items() if value}
