"""Removing a person's data from records that must stay (audits, admin history) while keeping
what they prove: IDs, counts, decisions (docs/data-lifecycle.md)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

REDACTED = "(removed)"
# Keys whose text values are identifiers or fixed vocabulary, never a person's words or name.
_KEPT_KEYS = frozenset({
    "action", "asked_because", "authorized_by", "clever_id", "clever_district_id", "decision",
    "district", "entry", "field", "fields", "from", "kind", "level", "method", "outcome",
    "record_type", "role", "roles", "source", "status", "to", "type", "uid", "zone",
})


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
    Returns the number of rows changed."""
    changed = 0
    batch = []
    model = queryset.model
    for row in queryset.only("pk", field).iterator(chunk_size=chunk):
        value = getattr(row, field)
        cleaned = transform(value)
        if cleaned != value:
            setattr(row, field, cleaned)
            batch.append(row)
        if len(batch) >= chunk:
            changed += model.objects.bulk_update(batch, [field])
            batch = []
    if batch:
        changed += model.objects.bulk_update(batch, [field])
    return changed
