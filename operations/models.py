"""What operations remembers: the state each alert subject is in (so a message goes out once per
change of state, not once per retry), the alerts themselves (sent, or waiting for the daily
digest) and the heartbeats of scheduled work (the nightly dispatch).

Nothing here holds a child's data: subjects are keys ("district:12"), alert texts hold district
names, counts, IDs, statuses and links only (``operations.alerts``).
"""

from __future__ import annotations

from django.db import models
from django.utils import timezone


class AlertKind(models.TextChoices):
    SYNC_HELD = "sync_held", "Sync waiting for approval"
    SYNC_FAILED = "sync_failed", "Syncs keep failing"
    DISTRICT_ACCESS = "district_access", "District stopped sharing"
    NIGHTLY = "nightly", "Nightly sync did not run"
    LMS_UNKNOWN = "lms_unknown", "LMS assignment unconfirmed"


# The state of a subject when nothing is wrong (a recovery resets to it, silently).
OK = "ok"


class AlertState(models.Model):
    """The last known state of one subject for one kind of alert ("district:12" is "held").
    An alert is sent only when the state changes to a state other than ``ok``."""

    kind = models.CharField(max_length=32, choices=AlertKind.choices)
    # "district:<pk>", "assignment:<pk>", "nightly".
    subject = models.CharField(max_length=64)
    state = models.CharField(max_length=32, default=OK)
    changed_at = models.DateTimeField(default=timezone.now)
    last_sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-changed_at"]
        constraints = [
            models.UniqueConstraint(fields=["kind", "subject"], name="operations_alert_state_unique")
        ]

    def __str__(self):
        return f"{self.get_kind_display()}: {self.subject} is {self.state}"


class Alert(models.Model):
    """One message to support staff: sent at once (``ALERT_MODE=immediate``) or collected for
    the daily digest (``sent_at`` empty until then)."""

    kind = models.CharField(max_length=32, choices=AlertKind.choices)
    subject = models.CharField(max_length=64)
    state = models.CharField(max_length=32)
    title = models.CharField(max_length=200)
    body = models.TextField()
    # The admin page where it is resolved (absolute).
    url = models.URLField(max_length=500, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    # What delivery did: {"emails": n, "webhook": "sent" | "failed" | "off", "digest": bool}.
    delivery = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self):
        return self.title


class Heartbeat(models.Model):
    """When a piece of scheduled work last ran ("nightly_dispatch")."""

    name = models.CharField(max_length=64, unique=True)
    at = models.DateTimeField()
    details = models.JSONField(default=dict, blank=True)

    def __str__(self):
        return f"{self.name} at {self.at:%Y-%m-%d %H:%M}"
