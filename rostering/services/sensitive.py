"""Writes of the kept sensitive and demographic fields (the list: ``clever.sensitive``) that
happen without Clever sending anything: stored people mapped again when what is kept changes.

- ``district_settings``: a district stops storing sensitive fields; their values are erased at
  once, the date of birth (which matching needs) stays.
- The migration that took the demographic fields out of ``raw`` and dropped the ``dob`` column
  (``rostering/migrations/0006_sensitive_fields_out_of_raw.py``).

Both leave the rows exactly as a sync of the same Clever records would write them (content hash
included), so the next sync of an unchanged district counts them unchanged: no mass update, no
"changed" hold.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.db.models import QuerySet

from ..selectors import decrypted_fields
from .mapping import reshape

BATCH = 1000


def reshape_people(
    people: QuerySet, *, keep_sensitive: bool, read_kept: Callable[[str], dict[str, Any]] = decrypted_fields
) -> int:
    """Map stored people again (``mapping.reshape``) with the district's choice
    ``keep_sensitive``: listed fields out of ``raw``, the kept ones encrypted in
    ``sensitive_ciphertext``, ``content_hash`` and ``fingerprint`` as the sync computes them.
    ``people`` may be a historical model's queryset (migrations); ``read_kept`` turns a stored
    ciphertext into ``{path: value}``. Rows whose content hash stays the same are not written
    (nor re-encrypted); ``updated_at`` is left alone (the roster did not change). Returns how
    many rows were rewritten. Values are never logged."""
    fields = ["raw", "content_hash", "fingerprint", "sensitive_ciphertext"]
    total, last = 0, 0
    while True:
        # Keyset pages: never a cursor open on the table being written.
        page = list(people.filter(pk__gt=last).order_by("pk").only("pk", *fields)[:BATCH])
        if not page:
            return total
        last = page[-1].pk
        rewritten = []
        for person in page:
            kept = read_kept(person.sensitive_ciphertext) if person.sensitive_ciphertext else None
            prepared = reshape(person.raw, kept, keep_sensitive=keep_sensitive)
            if prepared.content_hash == person.content_hash:
                continue
            person.raw = prepared.record  # as cleaned for the hash
            person.content_hash = prepared.content_hash
            person.fingerprint = prepared.fingerprint
            person.sensitive_ciphertext = prepared.ciphertext()
            rewritten.append(person)
        if rewritten:
            total += people.model.objects.bulk_update(rewritten, fields)
