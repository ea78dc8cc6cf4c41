"""The ``state`` of a Clever login: allauth's session-bound, single-use states (``statekit``: a
random ID sent to Clever, the content kept in the session, gone once used or after 10 minutes),
carrying a signed *purpose*.

The purpose says what the login is for: ``"login"`` (sign the person in) or a name another app
registered with :func:`register_purpose` (e.g. district linking), with that app's data and the
product user who started it. It is signed (``django.core.signing``, salted), so even a session
store that could be written to cannot turn a login into something else. See docs/sso.md.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from allauth.socialaccount.internal import statekit
from django.core import signing

LOGIN = "login"
PURPOSE_SALT = "sso.clever-login-purpose"
STATE_KEY = "sso"

# name -> handler(request, *, identity, data, actor) -> HttpResponse
_HANDLERS: dict[str, Callable[..., Any]] = {}


class BadState(Exception):
    """A state whose purpose is missing, tampered with or too old."""


@dataclass(frozen=True)
class Purpose:
    name: str = LOGIN
    data: dict = field(default_factory=dict)
    # The product user who started the login (None when nobody was signed in).
    actor_id: int | None = None
    # Started by a Clever-initiated launch (Portal, Instant Login, Library, LMS) we bounced.
    bounced: bool = False
    district_id: str = ""
    # OpenID Connect: sent to Clever with the login; its identity token must carry it back.
    nonce: str = ""


def register_purpose(name: str, handler: Callable[..., Any]) -> None:
    """Let another app start Clever logins for its own purpose (see docs/sso.md)."""
    if not name or name == LOGIN:
        raise ValueError(f"{name!r} cannot be registered as a purpose")
    _HANDLERS[name] = handler


def handler_for(name: str) -> Callable[..., Any] | None:
    return _HANDLERS.get(name)


def stash(request, *, provider_id: str, purpose: Purpose, next_url: str | None = None) -> str:
    """Store a new state in the session; returns the state ID to send to Clever."""
    if purpose.name != LOGIN and purpose.name not in _HANDLERS:
        raise ValueError(f"no handler is registered for the purpose {purpose.name!r}")
    signed = signing.dumps(
        {
            "name": purpose.name,
            "data": purpose.data,
            "actor": purpose.actor_id,
            "bounced": purpose.bounced,
            "district": purpose.district_id,
            "nonce": purpose.nonce,
        },
        salt=PURPOSE_SALT,
        compress=True,
    )
    state: dict[str, Any] = {"process": "login", "data": None, STATE_KEY: signed}
    if next_url:
        state["next"] = next_url
    return statekit.stash_state(request, provider_id=provider_id, state=state)


def unstash(request, *, provider_id: str, state_id: str) -> dict | None:
    """The state for ``state_id`` if this session issued it and it is fresh; it is used up."""
    return statekit.unstash_state(request, provider_id=provider_id, state_id=state_id)


def read(state: dict) -> Purpose:
    try:
        payload = signing.loads(state.get(STATE_KEY) or "", salt=PURPOSE_SALT, max_age=statekit.STATE_TTL)
    except signing.BadSignature as exc:
        raise BadState("the login state's purpose is missing or not ours") from exc
    return Purpose(
        name=str(payload.get("name") or LOGIN),
        data=payload.get("data") or {},
        actor_id=payload.get("actor"),
        bounced=bool(payload.get("bounced")),
        district_id=str(payload.get("district") or ""),
        nonce=str(payload.get("nonce") or ""),
    )
