"""What the rostering app announces (``core.events``)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class RosterPurging:
    """A district's roster is about to be purged (published inside the purge's transaction,
    while the mirror still exists): every app that holds personal data about the district's
    people empties or anonymizes it now, and returns counts for the purge's audit."""

    district_id: int
    clever_district_id: str
