"""Where a sign-in that came with launch claims lands (LMS Connect LTI 1.3 launches).

sso validates Clever's identity token and keeps its launch claims for the rest of the sign-in
(never a name or an email: see ``identity_token.PERSONAL_CLAIMS``); the app that knows classes
reads them. It registers one router in its ``AppConfig.ready``::

    from sso import launches

    def route(request, claims) -> launches.LaunchRoute | None:
        ...  # None: these claims are not a launch this router understands

    launches.register_router(route)

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
_routers: list[Router] = []


def register_router(router: Router) -> Router:
    """Register ``router`` (once): it is asked, in registration order, where a launch lands."""
    if router not in _routers:
        _routers.append(router)
    return router


def route(request: HttpRequest, claims: Mapping[str, Any]) -> LaunchRoute | None:
    """The first registered router's answer for these (validated) claims, or None."""
    for router in _routers:
        found = router(request, claims)
        if found is not None:
            return found
    return None
