"""What a signed-in person can do next: the panels of their landing page (``/account/``).

The apps that know what a person can do (their classes and assignments, the districts to
link) say so here, so the landing page owns none of their logic and nothing below them
imports them. Each app registers a provider in its ``AppConfig.ready``::

    from accounts import landing

    @landing.provider
    def classes(request) -> landing.Panel | None:
        if not teaches(request.user):
            return None
        return landing.Panel("lms/_landing_classes.html", {"sections": ...}, order=20)

A provider returns ``None`` when it has nothing for this person; the page shows the panels by
``order`` (lowest first), and says what comes next when there are none.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from django.http import HttpRequest


@dataclass(frozen=True)
class Panel:
    """One panel: a template included with ``panel`` (this object) in its context."""

    template: str
    context: dict = field(default_factory=dict)
    order: int = 100


Provider = Callable[[HttpRequest], "Panel | None"]
_providers: list[Provider] = []


def provider(function: Provider) -> Provider:
    """Register ``function`` (once) as a provider of landing panels."""
    if function not in _providers:
        _providers.append(function)
    return function


def panels(request: HttpRequest) -> list[Panel]:
    """The signed-in person's panels, in order."""
    found = [panel for panel in (give(request) for give in _providers) if panel is not None]
    return sorted(found, key=lambda panel: panel.order)
