"""Apply a run's staged rows to the mirror: set-based SQL, called inside one transaction.

Per record type, three statements do the whole work (no row is read into Python):

1. ``UPDATE``: soft archive (``archived_at``) of live rows the run staged as deleted;
2. ``UPDATE .. FROM staging``: rows whose hash differs, and archived rows that came back
   (restored: ``archived_at`` cleared on the *same* row, so its primary key and everything
   attached to it survive);
3. ``INSERT .. SELECT .. ON CONFLICT DO NOTHING``: staged records with no mirror row.

Then memberships of every staged section and contact links of every staged person are rebuilt
(deleted, and inserted again from ``_students``/``_teachers``/``_links`` of the staged data;
an archived section or contact keeps none). Columns are read out of the staged JSON with
``json_extract`` (SQLite) or ``->``/``->>`` (PostgreSQL); those are the two databases the
engine speaks. The statements are idempotent: applying a run twice changes nothing more.

PostgreSQL plans each statement with the statistics it finds, and a new run (or a district's
first sync, in tables that already hold other districts) looks to them like one row: a join
planned for one row and run for 20,000 scans the district once per row (measured: 80 s instead
of 3). So the staging table's key columns are analyzed before the diff
(``refresh_staging_stats``) and a mirror table's after an insert of 1,000 rows or more; the
insert itself uses ``ON CONFLICT DO NOTHING`` rather than an anti-join against the table it
fills.
"""

from __future__ import annotations

from django.db import connection, models, transaction

from ..models import ContactLink, Person, Section, SectionMembership, StagedRecord
from .mapping import MODELS, RECORD_TYPES, columns, extra_index
from .staging import quote, table

# PostgreSQL: refresh a table's statistics after a statement inserted at least this many rows.
ANALYZE_MIN_ROWS = 1_000
STATS_FIELDS: dict[type[models.Model], tuple[str, ...]] = {
    StagedRecord: ("run", "record_type", "action"),
    **{model: ("district", "clever_id", "archived_at") for model in MODELS.values()},
    SectionMembership: ("district", "section", "role"),
    ContactLink: ("district", "contact"),
}


class UnsupportedDatabase(RuntimeError):
    pass


def _vendor() -> str:
    if connection.vendor not in ("sqlite", "postgresql"):
        raise UnsupportedDatabase(
            f"the sync engine's set-based SQL supports SQLite and PostgreSQL, not {connection.vendor}"
        )
    return connection.vendor


def extract(source: str, index: int, kind: str) -> str:
    """SQL reading element ``index`` of the JSON array ``source`` as a column of ``kind``."""
    if _vendor() == "postgresql":
        if kind == "json":
            return f"{source}->{index}"
        if kind == "bool":
            return f"({source}->>{index})::boolean"
        if kind == "date":
            return f"({source}->>{index})::date"
        return f"{source}->>{index}"
    return f"json_extract({source}, '$[{index}]')"


def _item(source: str, index: int, kind: str = "str") -> str:
    """SQL reading element ``index`` of a JSON array value (a member or a link)."""
    if _vendor() == "postgresql":
        if kind == "bool":
            return f"({source}->>{index})::boolean"
        return f"{source}->>{index}"
    return f"json_extract({source}, '$[{index}]')"


def _elements(source: str, index: int, *, strings: bool = False) -> str:
    """A FROM item ``j`` whose ``j.value`` are the elements of the array at ``index`` (as text
    when they are ``strings``; SQLite's json_each gives strings as text anyway)."""
    if _vendor() == "postgresql":
        function = "jsonb_array_elements_text" if strings else "jsonb_array_elements"
        return f"CROSS JOIN LATERAL {function}({source}->{index}) AS j(value)"
    return f"JOIN json_each({source}, '$[{index}]') AS j"


def _staged_where(alias: str = "s") -> str:
    return f"{alias}.run_id = %s AND {alias}.record_type = %s AND {alias}.action = %s"


def restored_person_ids(run_id: int, district_id: int) -> list[int]:
    """Archived people the run brings back (their accounts are reactivated)."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT t.id FROM {table(Person)} t JOIN {table(StagedRecord)} s "  # noqa: S608
            f"ON t.district_id = %s AND t.clever_id = s.clever_id "
            f"WHERE {_staged_where()} AND t.archived_at IS NOT NULL",
            [district_id, run_id, "users", StagedRecord.Action.UPSERT],
        )
        return [row[0] for row in cursor.fetchall()]


def _refresh_stats(cursor, model, changed: int) -> None:
    """PostgreSQL plans each statement with the statistics it has; a table that just gained
    many rows in this transaction (a district's first sync) still looks as it was, and a join
    against it can turn into a scan of the whole district per row. ``ANALYZE`` it (it sees
    this transaction's own rows) after a large insert."""
    if connection.vendor != "postgresql" or changed < ANALYZE_MIN_ROWS:
        return
    _analyze(cursor, model)


def _analyze(cursor, model) -> None:
    """Statistics of the columns joins and filters use (those of ``raw`` cost seconds), from a
    small sample: ``default_statistics_target`` 10 reads 3,000 rows instead of 30,000, each a
    random page of the table (measured: 0.7 s for the people of a 20,000-student district with
    the full sample). The planner needs the row counts and the few values of ``district``,
    ``run``, ``role`` or ``record_type`` it filters on, which a small sample tells it. Call
    inside a transaction (``SET LOCAL`` lasts until its end)."""
    names = ", ".join(quote(model._meta.get_field(name).column) for name in STATS_FIELDS[model])
    cursor.execute("SET LOCAL default_statistics_target = 10")
    cursor.execute(f"ANALYZE {table(model)} ({names})")


def refresh_staging_stats() -> None:
    """Before the diff (PostgreSQL): a new run's ``run_id`` is unknown to the statistics, which
    then guess one staged row and plan the joins to the mirror for one."""
    if connection.vendor == "postgresql":
        with transaction.atomic(), connection.cursor() as cursor:
            _analyze(cursor, StagedRecord)


def _apply_type(
    cursor, run_id: int, district_id: int, record_type: str, now, *, archive: bool, upsert: bool
) -> None:
    model = MODELS[record_type]
    target = table(model)
    if archive:
        # Archive first: it only concerns rows that existed before this run.
        cursor.execute(
            f"UPDATE {target} SET archived_at = %s, updated_at = %s "  # noqa: S608
            f"WHERE district_id = %s AND archived_at IS NULL AND clever_id IN ("
            f"SELECT s.clever_id FROM {table(StagedRecord)} s WHERE {_staged_where()})",
            [now, now, district_id, run_id, record_type, StagedRecord.Action.DELETE],
        )
    if not upsert:
        return
    cols = columns(record_type)
    upsert_params = [run_id, record_type, StagedRecord.Action.UPSERT]
    assignments = ", ".join(f"{quote(col)} = {extract('s.data', index, kind)}" for col, index, kind in cols)
    fingerprint = next(extract("s.data", index, kind) for col, index, kind in cols if col == "fingerprint")
    # Rows whose content changed, archived rows that came back, and rows whose fingerprint is
    # out of date (same content, keys in another order: counted unchanged, refreshed here).
    cursor.execute(
        f"UPDATE {target} AS t SET {assignments}, content_hash = s.content_hash, "  # noqa: S608
        f"archived_at = NULL, updated_at = %s "
        f"FROM {table(StagedRecord)} AS s "
        f"WHERE {_staged_where()} AND t.district_id = %s AND t.clever_id = s.clever_id "
        f"AND (t.content_hash <> s.content_hash OR t.archived_at IS NOT NULL "
        f"OR t.fingerprint <> {fingerprint})",
        [now, *upsert_params, district_id],
    )
    names = ", ".join(quote(col) for col, _, _ in cols)
    values = ", ".join(extract("s.data", index, kind) for col, index, kind in cols)
    cursor.execute(
        f"INSERT INTO {target} (district_id, clever_id, content_hash, created_at, updated_at, "  # noqa: S608
        f"archived_at, {names}) "
        f"SELECT %s, s.clever_id, s.content_hash, %s, %s, NULL, {values} "
        f"FROM {table(StagedRecord)} s WHERE {_staged_where()} "
        # Rows that exist were updated just above. (An anti-join here is a trap: a planner
        # that believes the table empty scans it once per inserted row.)
        f"ON CONFLICT (district_id, clever_id) DO NOTHING",
        [district_id, now, now, *upsert_params],
    )
    _refresh_stats(cursor, model, cursor.rowcount)


def _forget_memberships(cursor, run_id: int, district_id: int) -> None:
    """Drop the memberships of existing sections the run staged (changed or archived)."""
    cursor.execute(
        f"DELETE FROM {table(SectionMembership)} WHERE section_id IN ("  # noqa: S608
        f"SELECT t.id FROM {table(Section)} t JOIN {table(StagedRecord)} s "
        f"ON t.district_id = %s AND t.clever_id = s.clever_id "
        f"WHERE s.run_id = %s AND s.record_type = %s)",
        [district_id, run_id, "sections"],
    )


def _insert_memberships(cursor, run_id: int, district_id: int) -> None:
    primary_index = next(
        index for col, index, _kind in columns("sections") if col == "primary_teacher_clever_id"
    )
    for role, name in (("student", "_students"), ("teacher", "_teachers")):
        is_primary = f"j.value = {extract('s.data', primary_index, 'str')}" if role == "teacher" else "%s"
        params = [district_id, role] + ([] if role == "teacher" else [False])
        cursor.execute(
            f"INSERT INTO {table(SectionMembership)} "  # noqa: S608
            f"(district_id, section_id, person_clever_id, role, is_primary) "
            f"SELECT %s, t.id, j.value, %s, {is_primary} "
            f"FROM {table(StagedRecord)} s "
            f"JOIN {table(Section)} t ON t.district_id = %s AND t.clever_id = s.clever_id "
            f"{_elements('s.data', extra_index('sections', name), strings=True)} "
            f"WHERE {_staged_where()}",
            [*params, district_id, run_id, "sections", StagedRecord.Action.UPSERT],
        )
        _refresh_stats(cursor, SectionMembership, cursor.rowcount)


def _forget_links(cursor, run_id: int, district_id: int) -> None:
    """Drop the contact links of existing people the run staged (changed or archived)."""
    cursor.execute(
        f"DELETE FROM {table(ContactLink)} WHERE contact_id IN ("  # noqa: S608
        f"SELECT t.id FROM {table(Person)} t JOIN {table(StagedRecord)} s "
        f"ON t.district_id = %s AND t.clever_id = s.clever_id "
        f"WHERE s.run_id = %s AND s.record_type = %s AND t.is_contact = %s)",
        [district_id, run_id, "users", True],
    )


def _insert_links(cursor, run_id: int, district_id: int) -> None:
    cursor.execute(
        f"INSERT INTO {table(ContactLink)} "  # noqa: S608
        f"(district_id, contact_id, student_clever_id, relationship, type) "
        f"SELECT %s, t.id, {_item('j.value', 0)}, {_item('j.value', 1)}, {_item('j.value', 2)} "
        f"FROM {table(StagedRecord)} s "
        f"JOIN {table(Person)} t ON t.district_id = %s AND t.clever_id = s.clever_id "
        f"{_elements('s.data', extra_index('users', '_links'))} "
        # Only contacts have links (``_links`` is empty otherwise): the others' staged data is
        # not even opened.
        f"WHERE {_staged_where()} AND t.is_contact = %s",
        [district_id, district_id, run_id, "users", StagedRecord.Action.UPSERT, True],
    )
    _refresh_stats(cursor, ContactLink, cursor.rowcount)


def staged_kinds(cursor, run_id: int) -> set[tuple[str, str]]:
    """(record_type, action) pairs the run staged anything for."""
    cursor.execute(
        f"SELECT DISTINCT record_type, action FROM {table(StagedRecord)} WHERE run_id = %s",  # noqa: S608
        [run_id],
    )
    return {(record_type, action) for record_type, action in cursor.fetchall()}


def apply_run(run_id: int, district_id: int, now) -> None:
    """Write the run's staged diff into the mirror. Call inside ``transaction.atomic``.

    Statements run only for what the run staged (a resync that found nothing to change writes
    nothing). Memberships and links of rows that existed are dropped before the rows change
    (so the deletes never scan what this run inserts), and rebuilt once every row is in place."""
    _vendor()
    upsert, delete = StagedRecord.Action.UPSERT, StagedRecord.Action.DELETE
    with connection.cursor() as cursor:
        kinds = staged_kinds(cursor, run_id)
        for record_type in RECORD_TYPES:
            staged = {action for kind, action in kinds if kind == record_type}
            if not staged:
                continue
            if record_type == "sections":
                _forget_memberships(cursor, run_id, district_id)
            elif record_type == "users":
                _forget_links(cursor, run_id, district_id)
            _apply_type(
                cursor,
                run_id,
                district_id,
                record_type,
                now,
                archive=delete in staged,
                upsert=upsert in staged,
            )
        if ("sections", upsert) in kinds:
            _insert_memberships(cursor, run_id, district_id)
        if ("users", upsert) in kinds:
            _insert_links(cursor, run_id, district_id)
