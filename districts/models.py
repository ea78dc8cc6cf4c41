"""Clever district connections: every district that shared data with the app.

A district is known by its Clever ID. By default the token is not stored: it is fetched from
``GET /oauth/tokens?district=ID`` when a sync needs it (Clever's advice, so token rotations just
work). Support staff may paste a token instead; it is stored encrypted (districts/crypto.py).
"""

from django.conf import settings
from django.db import models
from django.utils import timezone

from core.models import AuditEntry


class DistrictStatus(models.TextChoices):
    CONNECTED = "connected", "Connected"
    # Syncs stopped on purpose (support staff, or Clever's pause window).
    PAUSED = "paused", "Paused"
    # Clever answered 401 with the current token: it was revoked.
    REVOKED = "revoked", "Revoked"
    # The district's token is gone from /oauth/tokens: it stopped sharing with the app.
    DISCONNECTED = "disconnected", "Disconnected"


class LinkMethod(models.TextChoices):
    NCES = "nces", "NCES LEAID match"
    MDR = "mdr", "MDR number match"
    CLEVER_LOGIN = "clever_login", "Verified Log in with Clever"
    VERIFICATION_LINK = "verification_link", "Signed verification link"
    STAFF = "staff", "Chosen by support staff"
    REQUEST_APPROVED = "request_approved", "Request approved by support staff"


class DistrictQuerySet(models.QuerySet):
    """The two district sets other apps ask about, each defined here only."""

    def syncable(self) -> "DistrictQuerySet":
        """Districts a sync may run for: connected, with syncs switched on (the engine answers
        any other with a ``skipped`` run and its reason)."""
        return self.filter(status=DistrictStatus.CONNECTED, sync_enabled=True)

    def unlinked(self) -> "DistrictQuerySet":
        """Districts waiting to be linked to a customer organization: no organization yet and
        still listed by Clever (a disconnected one has nothing to link)."""
        return self.filter(organization__isnull=True).exclude(status=DistrictStatus.DISCONNECTED)


class District(models.Model):
    clever_id = models.CharField("Clever ID", max_length=24, unique=True)
    name = models.CharField(max_length=255, blank=True)
    # The US state, when known (from NCES data, the organization, or support staff).
    us_state = models.CharField("US state", max_length=2, blank=True)
    nces_id = models.CharField("NCES LEAID", max_length=16, blank=True, db_index=True)
    mdr_number = models.CharField("MDR number", max_length=16, blank=True, db_index=True)
    sis_type = models.CharField("SIS type", max_length=64, blank=True)
    portal_url = models.URLField(max_length=500, blank=True)
    login_methods = models.JSONField(default=list, blank=True)
    # Clever's own sync state for the district (running, pending, error, paused, success).
    clever_state = models.CharField("Clever sync state", max_length=16, blank=True)
    clever_last_sync = models.DateTimeField(null=True, blank=True)
    pause_start = models.DateField(null=True, blank=True)
    pause_end = models.DateField(null=True, blank=True)
    lms_type = models.CharField("LMS type", max_length=32, blank=True)
    lms_state = models.CharField("LMS state", max_length=32, blank=True)
    launch_date = models.DateField(null=True, blank=True)

    status = models.CharField(max_length=16, choices=DistrictStatus.choices, default=DistrictStatus.CONNECTED)
    status_reason = models.CharField(max_length=500, blank=True)
    status_changed_at = models.DateTimeField(default=timezone.now)
    discovered_at = models.DateTimeField(default=timezone.now)
    # The last time /oauth/tokens listed this district, or a teacher of it signed in through
    # Clever Library (a Library-only district's retention clock).
    last_seen_at = models.DateTimeField(null=True, blank=True)
    # When the district stopped sharing with the app (disconnected or revoked; cleared when it
    # is connected again): the retention clock of docs/data-lifecycle.md runs from here.
    departed_at = models.DateTimeField("stopped sharing at", null=True, blank=True)
    # Support staff disconnected the district on purpose: discovery leaves it disconnected even
    # while Clever still lists its token; only a staff reconnect clears this.
    staff_disconnected = models.BooleanField(
        default=False,
        help_text="Disconnected by support staff: discovery does not reconnect it.",
    )

    sync_enabled = models.BooleanField(default=True)
    # Known only through Clever Library teacher sign-ins: the district shares no district token,
    # so discovery does not disconnect it and the retention purge leaves its teachers' rosters.
    # Discovery clears it (and switches syncs on) the day Clever lists a token for the district.
    library_only = models.BooleanField(default=False)
    # Use Clever's Events API for incremental syncs (the district must have enabled events).
    events_enabled = models.BooleanField(default=True)
    # The newest event already applied, and when the cursor was last good (freshness).
    event_cursor = models.CharField(max_length=24, blank=True)
    event_cursor_at = models.DateTimeField(null=True, blank=True)
    # Polling /events every few minutes (rostering.services.polling): when the poll under way
    # began (its lease, taken and released with conditional updates so two polls of a district
    # never overlap; empty when none runs), and when Clever last answered one (if nothing had
    # arrived, the mirror was current then).
    events_poll_started_at = models.DateTimeField(null=True, blank=True, editable=False)
    events_polled_at = models.DateTimeField(
        "last checked Clever for changes", null=True, blank=True, editable=False
    )
    # Guard thresholds (fractions 0..1); null uses the settings' defaults.
    guard_max_deleted_fraction = models.FloatField(null=True, blank=True)
    guard_max_changed_fraction = models.FloatField(null=True, blank=True)
    # Sensitive student fields (IEP, 504, FRL, ELL, home language, disability, gifted) are stored
    # only when the district's agreement allows it: off by default.
    store_sensitive_fields = models.BooleanField(default=False)

    # An optional token pasted by support staff, encrypted at rest; empty: fetch from Clever.
    token_ciphertext = models.TextField(blank=True, editable=False)
    token_set_at = models.DateTimeField(null=True, blank=True, editable=False)

    organization = models.ForeignKey(
        "accounts.Organization",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="districts",
    )
    linked_at = models.DateTimeField(null=True, blank=True)
    linked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    link_method = models.CharField(max_length=32, choices=LinkMethod.choices, blank=True)
    link_evidence = models.JSONField(default=dict, blank=True)

    objects = DistrictQuerySet.as_manager()

    class Meta:
        ordering = ["name", "clever_id"]
        # The linking page lists unlinked districts by name (matching: 10,000 of them stay fast).
        indexes = [
            models.Index(fields=["organization", "name", "id", "status"], name="district_unlinked_by_name")
        ]
        permissions = [
            ("support_district", "Support staff: see Clever districts, syncs and rosters, and act on them"),
        ]

    def __str__(self):
        return f"{self.name or 'Unnamed district'} ({self.clever_id})"

    @property
    def syncable(self) -> bool:
        """This district is one of ``District.objects.syncable()``."""
        return self.status == DistrictStatus.CONNECTED and self.sync_enabled

    @property
    def has_stored_token(self) -> bool:
        return bool(self.token_ciphertext)


class DistrictAudit(AuditEntry):
    """Every decision about a district: links and unlinks, status changes, tokens, purges.
    ``actor_label`` names the rule when no person decided ("discovery", "sync: 401", ...);
    ``details`` is a snapshot of the evidence or the change (never a token, never a child's data)."""

    class Action(models.TextChoices):
        # Discovery met the district for the first time in GET /oauth/tokens.
        DISCOVERED = "discovered"
        LINKED = "linked"
        UNLINKED = "unlinked"
        RELINKED = "relinked"
        STATUS_CHANGED = "status_changed"
        TOKEN_SET = "token_set"
        TOKEN_CLEARED = "token_cleared"
        # A sync setting changed (sync_enabled, ...): details hold {"field": {"from", "to"}}.
        SETTINGS_CHANGED = "settings_changed"
        PURGED = "purged"

    district = models.ForeignKey(District, on_delete=models.CASCADE, related_name="audits")
    action = models.CharField(max_length=32, choices=Action.choices)
    organization_before = models.ForeignKey(
        "accounts.Organization", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    organization_after = models.ForeignKey(
        "accounts.Organization", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    method = models.CharField(max_length=32, blank=True)

    class Meta(AuditEntry.Meta):
        pass

    def __str__(self):
        return f"{self.action} {self.district_id} at {self.created_at:%Y-%m-%d %H:%M}"
