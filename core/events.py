"""Domain events: an app announces what happened; the apps that care subscribe.

Dependencies point one way (``accounts <- districts <- rostering <- sso <- matching``, ``lms``
beside matching), so an app never calls the apps above it. When something they must follow
happens below (a district stopped sharing, a roster is being purged), the app below publishes an
event, a frozen dataclass defined in its own ``events.py``, and the apps above subscribe to it in
their ``AppConfig.ready()``.

Two kinds of subscriber:

- **after commit** (the default): called once the publisher's transaction committed (at once
  outside one). A failing subscriber is logged and neither undoes what happened nor stops the
  others. For news: refresh a cache, enqueue a task.
- **in the transaction** (``atomic=True``): called at once, inside the publisher's
  transaction; its failure rolls the whole change back. For duties that must hold together
  with the change or not at all: a purge that leaves no child's data anywhere, a departure that
  archives and deactivates in the same commit as the status change. ``publish`` returns what
  these subscribers return, so the publisher can audit it.

Nothing matches task names or strings: the event's type is the contract.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

from django.db import transaction

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class _Subscriber:
    handler: Callable[[Any], Any]
    atomic: bool

    @property
    def name(self) -> str:
        return f"{self.handler.__module__}.{self.handler.__qualname__}"


_subscribers: dict[type, list[_Subscriber]] = defaultdict(list)


def subscribe(event_type: type, *, atomic: bool = False) -> Callable:
    """Decorator: call the function with every published ``event_type`` (see the module's
    docstring for ``atomic``). Subscribing the same function twice has no effect (``ready()``
    may run more than once in tests)."""

    def register(handler: Callable) -> Callable:
        subscriber = _Subscriber(handler=handler, atomic=atomic)
        if subscriber not in _subscribers[event_type]:
            _subscribers[event_type].append(subscriber)
        return handler

    return register


def subscribers(event_type: type) -> list[str]:
    """The dotted names of the functions subscribed to ``event_type`` (for docs and tests)."""
    return [subscriber.name for subscriber in _subscribers.get(event_type, [])]


def _deliver(subscriber: _Subscriber, event: object) -> None:
    try:
        subscriber.handler(event)
    except Exception:
        logger.exception("subscriber %s failed on %s", subscriber.name, type(event).__name__)


def publish(event: object) -> dict[str, Any]:
    """Announce ``event``: in-transaction subscribers now (an exception propagates), the others
    after commit. Returns ``{subscriber name: its return value}`` of the in-transaction ones."""
    answers: dict[str, Any] = {}
    for subscriber in list(_subscribers.get(type(event), [])):
        if subscriber.atomic:
            answers[subscriber.name] = subscriber.handler(event)
        else:
            transaction.on_commit(partial(_deliver, subscriber, event))
    return answers
