"""The one definition every audit table shares (``AuditEntry``): an abstract model, so ``core``
owns no table and needs no place in ``INSTALLED_APPS``.

Each app keeps its own audit table (``sso.AccountLink``, ``matching.MatchAudit``,
``districts.DistrictAudit``, ``lms.LmsAudit``) with the facts only it knows; who decided, what
the decision rested on and when are the same four columns everywhere, defined here once.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone


def person_label(actor, role: str = "staff") -> str:
    """``actor_label`` for a decision a person took: their role and username ("staff: ana");
    "" when no account acted (the caller names its automatic rule instead)."""
    return f"{role}: {actor.get_username()}" if getattr(actor, "pk", None) else ""


class AuditEntry(models.Model):
    """One decision: who took it, what it rested on, when. Newest first."""

    # Who decided: a person (``actor``, kept only while their account exists), or a named
    # automatic rule ("sso: first Clever login", "sync: 401", ...) in ``actor_label``.
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    actor_label = models.CharField(max_length=255, blank=True)
    # What the decision rested on: IDs, states, scores, yes/no facts, a reason typed by a person.
    # Never a token, an email address or a child's data (an audit row outlives all of them).
    details = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        abstract = True
        ordering = ["-created_at", "-id"]
