"""What the tests of set-based deletes share (tests/rostering/test_set_based_delete.py,
tests/sandbox/test_delete_district.py): building tables larger than SQLite binds parameters in
one statement (32,766 on Debian's SQLite 3.40) in a blink, and measuring the statements a delete
sends and the parameters each binds."""

from __future__ import annotations

from contextlib import contextmanager

from django.contrib.contenttypes.models import ContentType
from django.db import connection, models
from django.test.utils import CaptureQueriesContext


def insert_numbered(model: type[models.Model], count: int, numbered: dict[str, str], **values) -> None:
    """Insert ``count`` rows of ``model`` in one ``INSERT ... SELECT`` over a recursive count
    (``bulk_create`` would spend seconds building objects): a field named in ``numbered`` takes
    that SQL expression of the row's number ``n``, the others ``values`` or their default (a
    primary key not numbered is left to the database)."""
    columns, expressions, parameters = [], [], []
    for field in model._meta.concrete_fields:
        if field.primary_key and field.name not in numbered:
            continue
        columns.append(connection.ops.quote_name(field.column))
        if field.name in numbered:
            expressions.append(numbered[field.name])
        else:
            expressions.append("%s")
            value = values[field.name] if field.name in values else field.get_default()
            parameters.append(field.get_db_prep_save(value, connection))
    with connection.cursor() as cursor:
        cursor.execute(
            "WITH RECURSIVE numbers(n) AS (SELECT 0 UNION ALL SELECT n + 1 FROM numbers WHERE n < %s) "
            f"INSERT INTO {connection.ops.quote_name(model._meta.db_table)} ({', '.join(columns)}) "
            f"SELECT {', '.join(expressions)} FROM numbers",
            [count - 1, *parameters],
        )


@contextmanager
def measured():
    """The statements sent inside (``captured``) and the parameters each bound (``bound``)."""
    bound: list[int] = []
    # Each measure looks content types up afresh, as a new process would.
    ContentType.objects.clear_cache()

    def count_parameters(execute, sql, params, many, context):
        rows = params if many else [params]
        bound.append(max((len(row or ()) for row in rows), default=0))
        return execute(sql, params, many, context)

    with CaptureQueriesContext(connection) as captured, connection.execute_wrapper(count_parameters):
        yield captured, bound
