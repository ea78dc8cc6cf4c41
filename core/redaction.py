"""Removing a person's data from records that must stay (audits, admin history) while keeping
what they prove: IDs, counts, decisions (docs/data-lifecycle.md)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.db import connection

REDACTED = "(removed)"
# Keys whose text values are identifiers or fixed vocabulary, never a person's words or name.
_KEPT_KEYS = frozenset(
    {
        "action",
        "asked_because",
        "authorized_by",
        "clever_id",
        "clever_district_id",
        "decision",
        "district",
        "entry",
        "field",
        "fields",
        "from",
        "kind",
        "level",
        "method",
        "outcome",
        "record_type",
        "role",
        "roles",
        "source",
        "status",
        "to",
        "type",
        "uid",
        "zone",
    }
)


def _kept(key: str) -> bool:
    return key in _KEPT_KEYS or key == "id" or key.endswith(("_id", "_ids"))


def redact(value: Any, *, key: str = "") -> Any:
    """``value`` (JSON) with every string replaced by ``REDACTED`` except under identifier and
    vocabulary keys; numbers, booleans, nulls and the structure stay."""
    if isinstance(value, dict):
        return {k: redact(v, key=str(k)) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [redact(item, key=key) for item in value]
    if isinstance(value, str) and value and not _kept(key):
        return REDACTED
    return value


def forget_admin_history(model, pks: Iterable[int], *, chunk: int = 2000) -> int:
    """Blank the Django admin's change history of these rows (``LogEntry.object_repr`` is the
    row's name when support changed it, ``change_message`` may quote it); the entries stay, so
    who changed what and when is still known. Returns the number of entries touched."""
    from django.contrib.admin.models import LogEntry
    from django.contrib.contenttypes.models import ContentType

    content_type = ContentType.objects.get_for_model(model, for_concrete_model=False)
    entries = LogEntry.objects.filter(content_type=content_type)
    if not entries.exists():
        return 0
    touched, batch = 0, []
    for pk in pks:
        batch.append(str(pk))
        if len(batch) >= chunk:
            touched += entries.filter(object_id__in=batch).update(object_repr=REDACTED, change_message="")
            batch = []
    if batch:
        touched += entries.filter(object_id__in=batch).update(object_repr=REDACTED, change_message="")
    return touched


def redact_json_column(queryset, field: str, *, transform=redact, chunk: int = 1000) -> int:
    """Replace ``field`` (a JSONField) of every row of ``queryset`` with ``transform(value)``
    (by default ``redact``), a chunk of rows at a time: memory stays flat whatever the count.
    One plain ``UPDATE .. WHERE id = ..`` per changed row, sent with ``executemany`` (Django's
    ``bulk_update`` builds a CASE branch per row in Python: 20 times slower here). Returns the
    number of rows changed."""
    model = queryset.model
    column = model._meta.get_field(field)
    sql = (
        f"UPDATE {connection.ops.quote_name(model._meta.db_table)} "  # noqa: S608
        f"SET {connection.ops.quote_name(column.column)} = %s "
        f"WHERE {connection.ops.quote_name(model._meta.pk.column)} = %s"
    )
    changed = 0
    batch: list[tuple] = []
    with connection.cursor() as cursor:
        for pk, value in queryset.values_list("pk", field).iterator(chunk_size=chunk):
            cleaned = transform(value)
            if cleaned != value:
                batch.append((column.get_db_prep_value(cleaned, connection), pk))
            if len(batch) >= chunk:
                cursor.executemany(sql, batch)
                changed += len(batch)
                batch = []
        if batch:
            cursor.executemany(sql, batch)
            changed += len(batch)
    return changed
