"""Support staff changing a district's sync settings, with what the mirror must do about it."""

from __future__ import annotations

from typing import Any

from django.db import transaction

from districts.models import District
from districts.services import update_sync_settings

from ..models import Person
from .sensitive import reshape_people


@transaction.atomic
def update_district_sync_settings(*, district: District, actor, reason: str = "", **changes: Any) -> District:
    """``districts.services.update_sync_settings``, and when the district stops storing
    sensitive fields, their stored values are erased at once (not at the next sync): switching
    it off is a promise that the data is gone. What a feature needs stays (the date of birth,
    for matching: ``clever.sensitive``), re-encrypted alone, and the content hashes are
    recomputed as the sync would (``sensitive.reshape_people``), so the next sync finds nothing
    changed. The audit row records how many people's values were erased.

    Switching it on changes the content hash of every student with sensitive fields, so the
    next sync updates them; when that is more than the change guard allows, the run is held for
    approval like any other large change.
    """
    details = {}
    if changes.get("store_sensitive_fields") is False and district.store_sensitive_fields:
        details["sensitive_values_erased"] = reshape_people(
            Person.objects.filter(district=district).exclude(sensitive_ciphertext=""),
            keep_sensitive=False,
        )
    return update_sync_settings(district=district, actor=actor, reason=reason, details=details, **changes)
