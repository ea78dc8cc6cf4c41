"""What the mirror does when support changes a district's sync settings
(``districts.services.update_sync_settings`` announces it: ``SyncSettingsChanged``)."""

from __future__ import annotations

from core import events
from districts.events import SyncSettingsChanged

from ..models import Person
from .sensitive import reshape_people


@events.subscribe(SyncSettingsChanged, atomic=True)
def erase_sensitive_values_no_longer_stored(event: SyncSettingsChanged) -> dict:
    """When the district stops storing sensitive fields, their stored values are erased at once
    (not at the next sync): switching it off is a promise that the data is gone. What a feature
    needs stays (the date of birth, for matching: ``clever.sensitive``), re-encrypted alone, and
    the content hashes are recomputed as the sync would (``sensitive.reshape_people``), so the
    next sync finds nothing changed. The audit row records how many people's values were erased.

    Switching it on changes the content hash of every student with sensitive fields, so the
    next sync updates them; when that is more than the change guard allows, the run is held for
    approval like any other large change."""
    change = event.changed.get("store_sensitive_fields")
    if not change or change["to"] is not False:
        return {}
    return {
        "sensitive_values_erased": reshape_people(
            Person.objects.filter(district_id=event.district_id).exclude(sensitive_ciphertext=""),
            keep_sensitive=False,
        )
    }
