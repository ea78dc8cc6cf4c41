"""What the districts app announces (``core.events``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from .models import DistrictStatus

# The statuses in which a district no longer shares its data with the app.
DEPARTED = frozenset({DistrictStatus.DISCONNECTED, DistrictStatus.REVOKED})


@dataclass(frozen=True)
class DistrictStatusChanged:
    """A district's status changed (published inside the change's transaction)."""

    district_id: int
    before: str
    after: str
    # The moment the district stopped sharing: the new one when it just departed, the one it
    # returns from when it just returned; None otherwise.
    departed_at: datetime | None = None

    @property
    def departed(self) -> bool:
        """The district just stopped sharing (it was sharing before)."""
        return self.after in DEPARTED and self.before not in DEPARTED

    @property
    def returned(self) -> bool:
        """The district shares again after it had stopped."""
        return self.before in DEPARTED and self.after not in DEPARTED


@dataclass(frozen=True)
class SyncSettingsChanged:
    """Support changed some of a district's sync settings (published inside the change's
    transaction, before its audit row: what subscribers return is added to the audit)."""

    district_id: int
    # {setting: {"from": old, "to": new}} for each setting that changed.
    changed: dict


@dataclass(frozen=True)
class DistrictsDiscovered:
    """District discovery (``GET /oauth/tokens``) ran: ``changed`` are the Clever IDs of the
    districts it met for the first time, whose record changed, or that came back."""

    changed: tuple[str, ...]


@dataclass(frozen=True)
class DistrictDeleting:
    """A district is about to be deleted with every row that refers to it (published inside the
    deletion's transaction, while those rows still exist): apps that hold personal data about its
    people erase it now, as a purge does; what they return is logged with the deletion."""

    district_id: int
