"""The health checks behind ``/health/`` (django-health-check 4.x checks; ``views.HealthView``).

Infrastructure: the database (``SELECT 1``), the cache (set and get; Redis when ``REDIS_URL`` is
set, plus a Redis ping), pending migrations, the Celery broker (a connection) and the Celery
workers (a ping, then every expected queue must have a worker consuming it: the check names
the queues that have none). The expected queues are ``HEALTH_CELERY_QUEUES`` when set, otherwise
Celery's default queue, its ``task_queues`` and every queue ``CELERY_TASK_ROUTES`` routes to.

The project's own: ``NightlyDispatch`` (the nightly dispatcher ran within
``HEALTH_NIGHTLY_MAX_AGE_HOURS``, 26) and ``FailingDistricts`` (no district expected to sync failed
more than ``HEALTH_MAX_FAILED_NIGHTS`` nights in a row), the rules of ``operations.selectors``.

What the output says: check names, "OK", counts and the cause of a failure in words; never a
district's name, a token, a URL with credentials or a person (a broker error gives its type only).

**Eager mode** (``CELERY_TASK_ALWAYS_EAGER``, no ``REDIS_URL``: the demo and the test suite).
Tasks run inside the web process; there is no broker to reach, no worker to answer a ping and no
Celery beat (the in-memory broker cannot carry beat's messages to another process), so the
nightly dispatch never runs there by construction. The broker, worker and nightly checks are then
reported as skipped ("Skipped: eager mode ..."), explicitly, instead of failing: the demo's
health page is green when what it does have (database, cache, migrations, district failures) is
healthy, and a production setting can never be eager by mistake without the page saying so. A
real worker answering per queue is tested by the production-topology tests, not here.
"""

from __future__ import annotations

import dataclasses
import datetime

import celery
from asgiref.sync import sync_to_async
from celery.app import app_or_default
from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections
from django.db.migrations.executor import MigrationExecutor
from health_check.base import HealthCheck
from health_check.checks import Cache, Database
from health_check.contrib.celery import Ping
from health_check.exceptions import ServiceUnavailable

from . import selectors

EAGER = (
    "eager mode (CELERY_TASK_ALWAYS_EAGER, no REDIS_URL): tasks run in the web process, "
    "with no broker, workers or Celery beat to check"
)


def eager_skip_reason() -> str:
    """Why the Celery checks do not apply here ("" when they do)."""
    return EAGER if settings.CELERY_TASK_ALWAYS_EAGER else ""


def _queue_names(value) -> set[str]:
    """Queue names in a route's target: "sync", {"queue": "sync"}, or a kombu ``Queue``."""
    if isinstance(value, str):
        return {value}
    if isinstance(value, dict):
        return _queue_names(value.get("queue"))
    name = getattr(value, "name", None)
    return {name} if isinstance(name, str) and name else set()


def expected_queues(app: celery.Celery) -> set[str]:
    """The queues a worker must consume (see the module's docstring)."""
    configured = getattr(settings, "HEALTH_CELERY_QUEUES", None)
    if configured:
        return set(configured)
    queues = {app.conf.task_default_queue}
    for queue in app.conf.task_queues or ():
        queues |= _queue_names(queue)
    routes = app.conf.task_routes or ()
    for route in routes if isinstance(routes, list | tuple) else [routes]:
        if isinstance(route, dict):
            for target in route.values():
                queues |= _queue_names(target)
    return queues


class Skippable:
    """A check that may not apply here: ``skipped`` says why (the view shows it)."""

    skipped = ""


@dataclasses.dataclass
class CeleryBroker(Skippable, HealthCheck):
    """The Celery broker accepts a connection."""

    app: celery.Celery = dataclasses.field(default_factory=app_or_default, repr=False)
    timeout: datetime.timedelta = dataclasses.field(default=datetime.timedelta(seconds=3), repr=False)

    def run(self) -> None:
        self.skipped = eager_skip_reason()
        if self.skipped:
            return
        try:
            with self.app.connection_for_write() as connection:
                connection.ensure_connection(max_retries=1, timeout=max(1, int(self.timeout.total_seconds())))
        except Exception as exc:  # kombu's OperationalError, OSError...: the type only, no URL
            raise ServiceUnavailable(f"the broker cannot be reached ({type(exc).__name__})") from exc


@dataclasses.dataclass
class CeleryWorkers(Skippable, Ping):
    """Workers answer a ping, and every expected queue has a worker consuming it."""

    app: celery.Celery = dataclasses.field(default_factory=app_or_default, repr=False)
    timeout: datetime.timedelta = dataclasses.field(default=datetime.timedelta(seconds=1), repr=False)

    def run(self) -> None:
        self.skipped = eager_skip_reason()
        if self.skipped:
            return
        super().run()

    def check_active_queues(self, *active_workers) -> None:
        replies = (
            self.app.control.inspect(
                list(active_workers), timeout=self.timeout.total_seconds()
            ).active_queues()
            or {}
        )
        active = {queue.get("name") for queues in replies.values() for queue in queues or ()}
        missing = sorted(expected_queues(self.app) - active)
        if missing:
            raise ServiceUnavailable(
                f"no worker consumes the queue{'s' if len(missing) > 1 else ''} {', '.join(missing)}"
            )


_migrations_applied = False


@dataclasses.dataclass
class Migrations(HealthCheck):
    """Every migration of the code is applied (once true, it stays true for this process)."""

    async def run(self) -> None:
        await sync_to_async(self.check)()

    def check(self) -> None:
        global _migrations_applied
        if _migrations_applied:
            return
        executor = MigrationExecutor(connections[DEFAULT_DB_ALIAS])
        plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
        if plan:
            raise ServiceUnavailable(f"{len(plan)} migration{'s' if len(plan) > 1 else ''} not applied")
        _migrations_applied = True


@dataclasses.dataclass
class NightlyDispatch(Skippable, HealthCheck):
    """The nightly dispatcher ran within ``HEALTH_NIGHTLY_MAX_AGE_HOURS``."""

    async def run(self) -> None:
        await sync_to_async(self.check)()

    def check(self) -> None:
        self.skipped = eager_skip_reason()
        if self.skipped:
            return
        late = selectors.nightly_late()
        if late:
            raise ServiceUnavailable(late)


@dataclasses.dataclass
class FailingDistricts(HealthCheck):
    """No district expected to sync failed more than ``HEALTH_MAX_FAILED_NIGHTS`` nights in a row."""

    async def run(self) -> None:
        await sync_to_async(self.check)()

    def check(self) -> None:
        limit = settings.HEALTH_MAX_FAILED_NIGHTS
        count = selectors.districts_failing_nights(more_than=limit)
        if count:
            raise ServiceUnavailable(
                f"{count} district{'s' if count > 1 else ''} failed more than {limit} night"
                f"{'s' if limit != 1 else ''} in a row"
            )


def public_name(check: HealthCheck) -> str:
    """The check's name on the public page: its kind and alias ("Cache(alias='default')"),
    never the host, port or database number of a service (the library's repr shows them)."""
    alias = getattr(check, "alias", None)
    return f"{type(check).__name__}(alias={alias!r})" if alias else f"{type(check).__name__}()"


def checks() -> list[HealthCheck]:
    """The checks of ``/health/``, in the order the page lists them."""
    found: list[HealthCheck] = [Database(), Cache()]
    if settings.REDIS_URL:
        from health_check.contrib.redis import Redis
        from redis.asyncio import Redis as RedisClient

        url = settings.REDIS_URL
        found.append(Redis(client_factory=lambda: RedisClient.from_url(url, socket_timeout=3)))
    found += [Migrations(), CeleryBroker(), CeleryWorkers(), NightlyDispatch(), FailingDistricts()]
    return found
