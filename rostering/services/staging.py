"""Staged rows and the live hashes a page is compared with: plain SQL, in batches.

Writes skip the ORM (building model instances and compiling SQL costs more than the database
spends inserting): a page's staged rows are one JSON array the database expands itself
(``json_each`` on SQLite, ``jsonb_array_elements`` on PostgreSQL). Identifiers come from model
metadata; every value is a bound parameter.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence
from json.encoder import encode_basestring_ascii as _json_string

from django.db import connection

from ..models import StagedRecord
from .mapping import MODELS

STAGED_FIELDS = ("run", "record_type", "clever_id", "content_hash", "data", "action")
# Stay under every SQLite build's bound-parameter limit.
IN_CHUNK = 900


def quote(name: str) -> str:
    return connection.ops.quote_name(name)


@functools.cache
def table(model) -> str:
    return quote(model._meta.db_table)


@functools.cache
def _columns(model, fields: tuple[str, ...]) -> str:
    return ", ".join(quote(model._meta.get_field(name).column) for name in fields)


def staged_row(record_type: str, clever_id: str, content_hash: str, action: str,
               data_json: str) -> str:
    """One staged row as the JSON array ``insert_staged`` reads (``data_json`` is spliced in
    as it is: it is JSON already)."""
    return (f"[{_json_string(record_type)},{_json_string(clever_id)},"
            f"{_json_string(content_hash)},{_json_string(action)},{data_json}]")


def payload(rows: Iterable[str]) -> str | None:
    """A page's staged rows as one JSON array text, or None when there are none."""
    text = ",".join(rows)
    return f"[{text}]" if text else None


def insert_staged(run_id: int, rows_json: str | None) -> None:
    """Insert a page's staged rows (``payload``) for a run in one statement.

    One statement, not one per row: the database parses the array itself, so the whole insert
    runs without Python (SQLite releases the GIL for a statement's whole run, PostgreSQL works
    in its own process); the engine's page writer thread relies on that to write a page while
    the next one is mapped (a per-row ``executemany`` takes the GIL back for every row and,
    beside a busy thread, waits a switch interval each time)."""
    if rows_json is None:
        return
    columns = _columns(StagedRecord, STAGED_FIELDS)
    if connection.vendor == "postgresql":
        source, item = "jsonb_array_elements(%s::jsonb) AS e", "e->>{}".format
        data = "e->4"
    else:
        source, item = "json_each(%s)", "json_extract(value, '$[{}]')".format
        data = item(4)
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table(StagedRecord)} ({columns}) "  # noqa: S608
            f"SELECT %s, {item(0)}, {item(1)}, {item(2)}, {data}, {item(3)} FROM {source}",
            [run_id, rows_json],
        )


def relax_durability() -> None:
    """PostgreSQL: the current transaction's commit does not wait for its WAL to reach disk
    (``SET LOCAL synchronous_commit = off``). Only for staging: a page lost to a server crash
    loses its checkpoint with it (same transaction), and the run re-fetches it on resume."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL synchronous_commit = off")


def chunks(values: Sequence, size: int = IN_CHUNK) -> Iterable[Sequence]:
    for start in range(0, len(values), size):
        yield values[start:start + size]


def discard(run_id: int, record_type: str, clever_ids: Sequence[str]) -> None:
    """Forget what the run staged for these records (they are being staged again)."""
    with connection.cursor() as cursor:
        for chunk in chunks(list(clever_ids)):
            marks = ", ".join(["%s"] * len(chunk))
            cursor.execute(
                f"DELETE FROM {table(StagedRecord)} WHERE run_id = %s AND record_type = %s "  # noqa: S608
                f"AND clever_id IN ({marks})",
                [run_id, record_type, *chunk],
            )


def live_hashes(
    record_type: str,
    district_id: int,
    *,
    above: str | None = None,
    at_least: str | None = None,
    at_most: str | None = None,
) -> dict[str, tuple[str, str]]:
    """{clever_id: (content_hash, fingerprint)} of the district's mirror rows of a type in an
    ID range; archived rows have "" for both (they equal nothing: a returning record is
    restored)."""
    model = MODELS[record_type]
    sql = [
        f"SELECT clever_id, CASE WHEN archived_at IS NULL THEN content_hash ELSE '' END, "  # noqa: S608
        f"CASE WHEN archived_at IS NULL THEN fingerprint ELSE '' END "
        f"FROM {table(model)} WHERE district_id = %s"
    ]
    params: list = [district_id]
    if above is not None:
        sql.append("AND clever_id > %s")
        params.append(above)
    if at_least is not None:
        sql.append("AND clever_id >= %s")
        params.append(at_least)
    if at_most is not None:
        sql.append("AND clever_id <= %s")
        params.append(at_most)
    with connection.cursor() as cursor:
        cursor.execute(" ".join(sql), params)
        return {clever_id: (content, fingerprint)
                for clever_id, content, fingerprint in cursor.fetchall()}


def delete_run_rows(run_id: int) -> int:
    with connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {table(StagedRecord)} WHERE run_id = %s", [run_id])  # noqa: S608
        return cursor.rowcount


def move_rows(from_run_id: int, to_run_id: int) -> int:
    """Hand a killed or failed run's staged rows to the run that resumes it."""
    with connection.cursor() as cursor:
        cursor.execute(f"UPDATE {table(StagedRecord)} SET run_id = %s WHERE run_id = %s",  # noqa: S608
                       [to_run_id, from_run_id])
        return cursor.rowcount
