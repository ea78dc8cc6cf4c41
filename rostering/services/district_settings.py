"""Support staff changing a district's sync settings, with what the mirror must do about it."""

from __future__ import annotations

from typing import Any

from django.db import transaction

from districts.models import District
from districts.services import update_sync_settings

from ..models import Person


@transaction.atomic
def update_district_sync_settings(*, district: District, actor, reason: str = "", **changes: Any) -> District:
    """``districts.services.update_sync_settings``, and when the district stops storing
    sensitive fields, its stored values are erased at once (not at the next sync): switching
    it off is a promise that the data is gone. The audit row records how many were erased.

    Switching it on or off changes the content hash of every student with sensitive fields, so
    the next sync updates them; when that is more than the change guard allows, the run is held
    for approval like any other large change.
    """
    details = {}
    if changes.get("store_sensitive_fields") is False and district.store_sensitive_fields:
        details["sensitive_values_erased"] = (
            Person.objects.filter(district=district).exclude(sensitive_ciphertext="")
            .update(sensitive_ciphertext="")
        )
    return update_sync_settings(district=district, actor=actor, reason=reason, details=details, **changes)
