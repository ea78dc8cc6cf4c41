"""What the sso app announces (``core.events``)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class CleverLoginRecorded:
    """A Clever sign-in attempt was recorded as evidence (``sso.models.CleverLogin``)."""

    login_id: int
    # The product's district the login came from; None for a district not (yet) known.
    district_id: int | None


@dataclass(frozen=True)
class AccountLinked:
    """A Clever identity now enters a product account (``sso.services.link_clever_account``):
    the first time, or moved from another account. Published inside the transaction that wrote
    the link and its audit row; subscribers run after commit."""

    user_id: int
    clever_id: str
    # The account the identity entered before, when it moved; None for a new link.
    previous_user_id: int | None
    method: str
