"""Celery tasks of matching's district linking: thin, they call one service.

``refresh_district_candidates_task(district_ids=None, clever_ids=None)``
    Recomputes the district -> organization evidence (``matching.linking.
    refresh_district_candidates``): all unlinked districts, or the given ones. Idempotent
    (the table is rewritten; automatic links never repeat: linked districts are skipped).

When it runs (``connect_triggers``, called from ``MatchingConfig.ready``; the receivers only
enqueue, on commit):

- after district discovery (``districts.tasks.discover_districts_task``): the districts it
  created, updated or reconnected;
- after a district's successful sync (``rostering.tasks.sync_district``): that district (its
  staff email domains may have changed);
- after a Clever login from a known district (``sso.models.CleverLogin`` created): that
  district, at most once per ``LOGIN_REFRESH_DEBOUNCE`` seconds per district;
- after an organization or one of its email domains is saved: everything, once, a minute later;
- nightly (Celery beat, config/settings.py), from the admin's "Refresh evidence" button and the
  ``refresh_district_candidates`` management command.
"""

from __future__ import annotations

from celery import shared_task
from celery.signals import task_postrun
from django.core.cache import cache
from django.db import transaction
from django.db.models.signals import post_save

REFRESH_SOFT_TIME_LIMIT = 10 * 60
REFRESH_TIME_LIMIT = 12 * 60
LOGIN_REFRESH_DEBOUNCE = 300
ORGANIZATION_REFRESH_DELAY = 60
_DISCOVERY_TASK = "districts.tasks.discover_districts_task"
_SYNC_TASK = "rostering.tasks.sync_district"


@shared_task(acks_late=True, soft_time_limit=REFRESH_SOFT_TIME_LIMIT, time_limit=REFRESH_TIME_LIMIT)
def refresh_district_candidates_task(
    district_ids: list[int] | None = None, clever_ids: list[str] | None = None
) -> dict:
    from . import linking

    return linking.refresh_district_candidates(district_ids=district_ids, clever_ids=clever_ids)


def _after_task(sender=None, args=None, kwargs=None, retval=None, state=None, **_ignored) -> None:
    name = getattr(sender, "name", "")
    if state != "SUCCESS" or name not in (_DISCOVERY_TASK, _SYNC_TASK):
        return
    if name == _DISCOVERY_TASK:
        # Districts discovery met for the first time, changed (ids, name) or saw come back.
        changed = sorted(
            {
                clever_id
                for key in ("created", "updated", "reconnected")
                for clever_id in (retval or {}).get(key, ())
            }
            if isinstance(retval, dict)
            else ()
        )
        if changed:
            refresh_district_candidates_task.delay_on_commit(clever_ids=changed)
        return
    district_id = (kwargs or {}).get("district_id") or (args[0] if args else None)
    if district_id and isinstance(retval, dict) and retval.get("status") == "succeeded":
        refresh_district_candidates_task.delay_on_commit(district_ids=[district_id])


def _after_login(sender, instance, created, raw=False, **_ignored) -> None:
    if not created or raw or not instance.district_id:
        return
    if cache.add(f"matching:district-refresh:{instance.district_id}", 1, LOGIN_REFRESH_DEBOUNCE):
        refresh_district_candidates_task.delay_on_commit(district_ids=[instance.district_id])


def _after_organization_change(sender, instance, raw=False, **_ignored) -> None:
    """An organization's ids, name, state or domains changed: every district's evidence may have.
    One full refresh a minute later collects the edits made meanwhile."""
    if raw or not cache.add("matching:district-refresh:all", 1, ORGANIZATION_REFRESH_DELAY):
        return
    transaction.on_commit(
        lambda: refresh_district_candidates_task.apply_async(countdown=ORGANIZATION_REFRESH_DELAY)
    )


def connect_triggers() -> None:
    from accounts.models import Organization, OrganizationEmailDomain
    from sso.models import CleverLogin

    for model in (Organization, OrganizationEmailDomain):
        post_save.connect(
            _after_organization_change,
            sender=model,
            weak=False,
            dispatch_uid=f"matching.refresh_after_{model._meta.model_name}",
        )

    task_postrun.connect(_after_task, weak=False, dispatch_uid="matching.refresh_after_task")
    post_save.connect(
        _after_login, sender=CleverLogin, weak=False, dispatch_uid="matching.refresh_after_login"
    )
