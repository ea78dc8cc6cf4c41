"""Staged rows and the live hashes a page is compared with: plain SQL, in batches.

Writes skip the ORM (building model instances and compiling SQL costs more than the database
spends inserting): SQLite gets ``executemany`` of one prepared statement, PostgreSQL ``COPY``,
any other database multi-row ``VALUES``. Identifiers come from model metadata; every value is
a bound parameter.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence
from typing import Any, cast

from django.db import connection

from ..models import StagedRecord
from .mapping import MODELS

STAGED_FIELDS = ("run", "record_type", "clever_id", "content_hash", "data", "action")
_ROWS_PER_INSERT = 500
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


def insert_staged(rows: Iterable[tuple]) -> None:
    """Insert staged rows, each ``(run_id, record_type, clever_id, content_hash, data_json,
    action)``. ``rows`` may be a generator: SQLite and PostgreSQL consume it as they write (the
    server parses and indexes a page's first rows while the caller maps the next ones)."""
    columns = _columns(StagedRecord, STAGED_FIELDS)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            sql = f"COPY {table(StagedRecord)} ({columns}) FROM STDIN"
            rows = iter(rows)
            first = next(rows, None)
            if first is None:
                return
            with cursor.cursor.copy(sql) as copy:
                write = copy.write_row
                write(first)
                for row in rows:
                    write(row)
            return
        one = "(" + ", ".join(["%s"] * len(STAGED_FIELDS)) + ")"
        if connection.vendor == "sqlite":
            # django-stubs asks for a Sequence; sqlite3 takes any iterable (a generator keeps memory
            # flat).
            cursor.executemany(
                f"INSERT INTO {table(StagedRecord)} ({columns}) VALUES {one}",  # noqa: S608
                cast(Any, rows),
            )
            return
        rows = list(rows)
        per = _ROWS_PER_INSERT
        if connection.features.max_query_params:
            per = max(1, min(per, connection.features.max_query_params // len(STAGED_FIELDS)))
        for start in range(0, len(rows), per):
            chunk = rows[start : start + per]
            values = ", ".join([one] * len(chunk))
            cursor.execute(
                f"INSERT INTO {table(StagedRecord)} ({columns}) VALUES {values}",  # noqa: S608
                [value for row in chunk for value in row],
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
        yield values[start : start + size]


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
        return {clever_id: (content, fingerprint) for clever_id, content, fingerprint in cursor.fetchall()}


def delete_run_rows(run_id: int) -> int:
    with connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {table(StagedRecord)} WHERE run_id = %s", [run_id])  # noqa: S608
        return cursor.rowcount


def move_rows(from_run_id: int, to_run_id: int) -> int:
    """Hand a killed or failed run's staged rows to the run that resumes it."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table(StagedRecord)} SET run_id = %s WHERE run_id = %s",  # noqa: S608
            [to_run_id, from_run_id],
        )
        return cursor.rowcount
