"""Where a sign-in that came with launch claims lands (LMS Connect LTI 1.3 launches).

sso validates Clever's identity token and keeps, for the rest of the sign-in, only the claims
the registered routers say they read (``keep``: so no name, email or LMS extra rides along in
the session); the app that knows classes reads them. It registers one router in its
``AppConfig.ready``::

    from sso import launches

    def route(request, claims) -> launches.LaunchRoute | None:
        ...  # None: these claims are not a launch this router understands

    def keep(claims) -> dict:
        ...  # the part of a verified token's claims ``route`` reads

    launches.register_router(route, keep=keep)

The router runs once the person is signed in (``request.user`` is theirs and the Clever session
has begun), on every path a sign-in finishes by (straight in, "is this your account?", a
Library teacher's "I already have an account"). Which claim names it reads is its business, so a
real launch that names things differently needs one change there (docs/sso.md).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from django.http import HttpRequest


@dataclass(frozen=True)
class LaunchRoute:
    """Where the launch lands (a path on this site), and the role it names for the session."""

    url: str
    # One of sso.identity.ROLE_NAMES; it becomes the active role when the person holds it.
    role: str | None = None


Router = Callable[[HttpRequest, Mapping[str, Any]], "LaunchRoute | None"]
Keep = Callable[[Mapping[str, Any]], dict]
_routers: list[Router] = []
_keepers: list[Keep] = []


def register_router(router: Router, *, keep: Keep) -> Router:
    """Register ``router`` (once): it is asked, in registration order, where a launch lands;
    ``keep`` says which of a verified token's claims it reads."""
    if router not in _routers:
        _routers.append(router)
        _keepers.append(keep)
    return router


def kept_claims(claims: Mapping[str, Any]) -> dict:
    """What a sign-in keeps of a verified token's claims: what the routers read, nothing else."""
    kept: dict = {}
    for keep in _keepers:
        kept.update(keep(claims))
    return kept


def route(request: HttpRequest, claims: Mapping[str, Any]) -> LaunchRoute | None:
    """The first registered router's answer for these (validated) claims, or None."""
    for router in _routers:
        found = router(request, claims)
        if found is not None:
            return found
    return None
