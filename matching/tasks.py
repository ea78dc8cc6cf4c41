"""Celery tasks of matching's district linking: thin, they call one service.

``refresh_district_candidates_task(district_ids=None, clever_ids=None)``
    Recomputes the district -> organization evidence (``matching.linking.
    refresh_district_candidates``): all unlinked districts, or the given ones. Idempotent
    (the table is rewritten; automatic links never repeat: linked districts are skipped).

When it runs (the subscriptions below, made when the app loads; they only enqueue, on commit):

- after district discovery (``districts.events.DistrictsDiscovered``): the districts it
  created, updated or reconnected;
- after a district's roster was applied (``rostering.events.RosterSynced``: a nightly or
  on-demand sync, ``manage.py clever_sync``, an approved hold): that district (its staff email
  domains may have changed);
- after a Clever login from a known district (``sso.events.CleverLoginRecorded``): that
  district, at most once per ``LOGIN_REFRESH_DEBOUNCE`` seconds per district;
- after an organization or one of its email domains is saved: everything, once, a minute later;
- nightly (Celery beat, config/settings.py), from the admin's "Refresh evidence" button and the
  ``refresh_district_candidates`` management command.
"""

from __future__ import annotations

from celery import shared_task
from django.core.cache import cache
from django.db import transaction
from django.db.models.signals import post_save

from accounts.models import Organization, OrganizationEmailDomain
from core import events
from districts.events import DistrictsDiscovered
from rostering.events import RosterSynced
from sso.events import CleverLoginRecorded

REFRESH_SOFT_TIME_LIMIT = 10 * 60
REFRESH_TIME_LIMIT = 12 * 60
LOGIN_REFRESH_DEBOUNCE = 300
ORGANIZATION_REFRESH_DELAY = 60


@shared_task(acks_late=True, soft_time_limit=REFRESH_SOFT_TIME_LIMIT, time_limit=REFRESH_TIME_LIMIT)
def refresh_district_candidates_task(
    district_ids: list[int] | None = None, clever_ids: list[str] | None = None
) -> dict:
    from .linking.refresh import refresh_district_candidates

    return refresh_district_candidates(district_ids=district_ids, clever_ids=clever_ids)


@events.subscribe(DistrictsDiscovered)
def refresh_after_discovery(event: DistrictsDiscovered) -> None:
    refresh_district_candidates_task.delay_on_commit(clever_ids=list(event.changed))


@events.subscribe(RosterSynced)
def refresh_after_sync(event: RosterSynced) -> None:
    refresh_district_candidates_task.delay_on_commit(district_ids=[event.district_id])


@events.subscribe(CleverLoginRecorded)
def refresh_after_login(event: CleverLoginRecorded) -> None:
    if event.district_id is None:
        return
    if cache.add(f"matching:district-refresh:{event.district_id}", 1, LOGIN_REFRESH_DEBOUNCE):
        refresh_district_candidates_task.delay_on_commit(district_ids=[event.district_id])


def _after_organization_change(sender, instance, raw=False, **_ignored) -> None:
    """An organization's ids, name, state or domains changed: every district's evidence may have.
    One full refresh a minute later collects the edits made meanwhile."""
    if raw or not cache.add("matching:district-refresh:all", 1, ORGANIZATION_REFRESH_DELAY):
        return
    transaction.on_commit(
        lambda: refresh_district_candidates_task.apply_async(countdown=ORGANIZATION_REFRESH_DELAY)
    )


def connect_triggers() -> None:
    """Organization edits are model saves in ``accounts`` (the admin's forms), not a service's
    announcement, so they are followed with Django's ``post_save``."""
    for model in (Organization, OrganizationEmailDomain):
        post_save.connect(
            _after_organization_change,
            sender=model,
            weak=False,
            dispatch_uid=f"matching.refresh_after_{model._meta.model_name}",
        )
