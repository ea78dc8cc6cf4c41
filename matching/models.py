"""What matching decided, why, and who decided it.

- ``PersonMatch``/``SchoolMatch``: one row per product record and Clever district: the status
  (automatic link, waiting for review, accepted, no match, duplicate), the best candidate and up
  to three candidates with their per-field contributions (the engine's explanation), and a
  digest of the compared fields: a decision is sticky until one of them changes.
- ``MatchAudit``: every link and unlink of a product record to a Clever record, with the
  evidence snapshot in ``details`` (DESIGN: who or what decided, evidence, when; the columns
  every audit shares come from ``core.models.AuditEntry``).
- ``DistrictLinkRequest``: a request to link a Clever district to an organization that needs a
  person's decision (an organization admin asking support or sending a verification link, a
  Clever district admin asking an organization, or ambiguous evidence), with its history.

Reviewed decisions are the engine's labels: ``m`` probabilities are estimated from them.
"""

from django.conf import settings
from django.db import models
from django.utils import timezone

from core.models import AuditEntry


class Zone(models.TextChoices):
    AUTO = "auto"
    REVIEW = "review"
    NO_MATCH = "no_match"
    DUPLICATE = "duplicate"


class MatchStatus(models.TextChoices):
    # The engine linked it (AUTO zone).
    AUTO_LINKED = "auto_linked"
    # Waiting in the review queue.
    PENDING = "pending"
    # A person accepted a candidate (or chose another one).
    ACCEPTED = "accepted"
    # Decided: no Clever record is this product record.
    NO_MATCH = "no_match"
    # Decided: the product record duplicates another product record.
    DUPLICATE = "duplicate"


class MatchSource(models.TextChoices):
    ENGINE = "engine"
    MATCHMAKER = "matchmaker"
    STAFF = "staff"


DECIDED = (MatchStatus.ACCEPTED, MatchStatus.NO_MATCH, MatchStatus.DUPLICATE)


class MatchBase(models.Model):
    district = models.ForeignKey("districts.District", on_delete=models.CASCADE, related_name="+")
    status = models.CharField(max_length=16, choices=MatchStatus.choices, default=MatchStatus.PENDING)
    zone = models.CharField(max_length=16, choices=Zone.choices)
    source = models.CharField(max_length=16, choices=MatchSource.choices, default=MatchSource.ENGINE)
    probability = models.FloatField(default=0.0)
    weight = models.FloatField(default=0.0)
    # [{"clever_id", "probability", "weight", "contributions": [{"field", "level", "weight"}]}],
    # best first, at most three. No values: field names, levels and weights only.
    candidates = models.JSONField(default=list, blank=True)
    # A digest of the compared fields of both sides when decided: a decision stays until it changes.
    compared_digest = models.CharField(max_length=64, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        abstract = True


class PersonMatch(MatchBase):
    """One product user's match in a district; or, with no user, a Clever person nobody in the
    product matched (Matchmaker's "from Clever, no match/duplicate") waiting for a decision."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="clever_matches",
    )
    # The linked Clever person (AUTO_LINKED/ACCEPTED), or the best candidate while pending.
    person = models.ForeignKey(
        "rostering.Person", null=True, blank=True, on_delete=models.SET_NULL, related_name="matches"
    )
    # DUPLICATE: the product user this one duplicates.
    duplicate_of = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        verbose_name_plural = "person matches"
        ordering = ["-updated_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["district", "user"],
                condition=models.Q(user__isnull=False),
                name="one_person_match_per_user",
            ),
            models.UniqueConstraint(
                fields=["district", "person"],
                condition=models.Q(user__isnull=True),
                name="one_clever_side_match_per_person",
            ),
        ]
        indexes = [models.Index(fields=["district", "status"], name="personmatch_queue")]

    def __str__(self):
        return f"user {self.user_id} in district {self.district_id}: {self.status}"


class SchoolMatch(MatchBase):
    school = models.ForeignKey("accounts.School", on_delete=models.CASCADE, related_name="clever_matches")
    clever_school = models.ForeignKey(
        "rostering.School", null=True, blank=True, on_delete=models.SET_NULL, related_name="matches"
    )

    class Meta:
        verbose_name_plural = "school matches"
        ordering = ["-updated_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["district", "school"], name="one_school_match_per_district")
        ]

    def __str__(self):
        return f"school {self.school_id} in district {self.district_id}: {self.status}"


class MatchAudit(AuditEntry):
    """Every link and unlink of a product record to a Clever record (and every "no match" or
    "duplicate" decided); ``details`` holds the probability, weight and contributions when
    decided (never field values)."""

    class Action(models.TextChoices):
        LINKED = "linked"
        UNLINKED = "unlinked"
        NO_MATCH = "no_match"
        DUPLICATE = "duplicate"

    class Kind(models.TextChoices):
        PERSON = "person"
        SCHOOL = "school"

    district = models.ForeignKey("districts.District", on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    action = models.CharField(max_length=16, choices=Action.choices)
    # The product record (user or school pk) and the Clever record it met.
    product_id = models.PositiveBigIntegerField()
    clever_id = models.CharField(max_length=24, blank=True)
    source = models.CharField(max_length=16, choices=MatchSource.choices)

    class Meta(AuditEntry.Meta):
        pass

    def __str__(self):
        return f"{self.action} {self.kind} {self.product_id} -> {self.clever_id or '-'}"


class DistrictLinkRequest(models.Model):
    """A district-to-organization link waiting for a decision (``matching.linking``).

    Support staff may decide every pending request (the admin's queue); who else may, and so
    whom the request waits for, follows from two facts kept here: a Clever district admin of the
    district asked (``district_admin_clever_id``: the organization's admin confirms or declines)
    and an organization admin asked support (``support_asked_at``); with neither, it waits for
    the district's Clever admin to open the verification link named in ``evidence``.
    """

    class Status(models.TextChoices):
        PENDING = "pending"
        APPROVED = "approved"
        REJECTED = "rejected"
        # Another decision made it moot (the district got linked some other way), or the
        # district admin who asked took it back.
        WITHDRAWN = "withdrawn"

    district = models.ForeignKey("districts.District", on_delete=models.CASCADE, related_name="link_requests")
    organization = models.ForeignKey(
        "accounts.Organization", on_delete=models.CASCADE, related_name="district_link_requests"
    )
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # Where it came from (``matching.linking.selectors.ORIGIN_CHOICES``): "self_serve" (an organization
    # admin asked support), "verification_link", "evidence" (ambiguous automatic evidence),
    # "district_admin" (a Clever district admin of the district asked).
    origin = models.CharField(max_length=32)
    # The evidence chips at request time (scores and counts; never a token or a child's data),
    # and the live verification link's nonce and issue time.
    evidence = models.JSONField(default=dict, blank=True)
    # When an organization admin asked support to decide (or the evidence refresh queued it).
    support_asked_at = models.DateTimeField(null=True, blank=True)
    # The Clever user ID of the district admin who asked (verified by Clever at their sign-in).
    district_admin_clever_id = models.CharField(max_length=24, blank=True)
    # Every step, oldest first: [{"at", "step", "by" (user pk or None), "clever_user", "note"}].
    history = models.JSONField(default=list, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    note = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["district", "organization"],
                condition=models.Q(status="pending"),
                name="one_pending_link_request_per_pair",
            ),
            # A district admin asks one organization at a time (no spraying requests).
            models.UniqueConstraint(
                fields=["district"],
                condition=models.Q(status="pending") & ~models.Q(district_admin_clever_id=""),
                name="one_pending_district_admin_request",
            ),
        ]

    def __str__(self):
        return f"link {self.district_id} -> {self.organization_id} ({self.status})"


# --- District linking (issue #5): precomputed evidence and proof of control --------------------


class DistrictCandidate(models.Model):
    """The evidence that a Clever district belongs to an organization, precomputed by
    ``matching.linking.refresh.refresh_district_candidates`` (the engine's ``rank_organizations``) so the
    linking pages order 10,000 unmatched districts with one indexed join. Derived data: a refresh
    rewrites it; nothing here is a decision."""

    district = models.ForeignKey("districts.District", on_delete=models.CASCADE, related_name="candidates")
    organization = models.ForeignKey(
        "accounts.Organization", on_delete=models.CASCADE, related_name="district_candidates"
    )
    # The engine's total in bits (higher is stronger).
    score = models.FloatField()
    # [{"kind", "weight", "detail", "label"}]: the engine's evidence, with a label for people.
    evidence = models.JSONField(default=list, blank=True)
    computed_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = "suggested organization"
        ordering = ["-score", "district_id"]
        constraints = [
            models.UniqueConstraint(fields=["district", "organization"], name="one_candidate_per_pair")
        ]
        indexes = [models.Index(fields=["organization", "-score"], name="candidate_by_organization")]

    def __str__(self):
        return f"district {self.district_id} -> organization {self.organization_id}: {self.score:.1f}"


class DistrictVerification(models.Model):
    """Proof that a district administrator of the Clever district (verified by Clever a moment
    ago) and an administrator of the organization agreed on the link: a "Log in with Clever" round
    trip whose signed state named both. Evidence for ranking; revoked when a person unlinks it."""

    class Method(models.TextChoices):
        # The organization admin is the Clever district admin ("Verify with Clever").
        ROUND_TRIP = "round_trip", "Verified with Clever by the organization admin"
        # The Clever district admin opened the signed verification link the organization admin sent.
        VERIFICATION_LINK = "verification_link", "Verified with Clever through a signed link"
        # A Clever district admin of the district asked for the link from their side and an
        # administrator of the organization confirmed it.
        DISTRICT_ADMIN_REQUEST = (
            "district_admin_request",
            "Asked by the district's Clever administrator, confirmed by the organization",
        )

    district = models.ForeignKey("districts.District", on_delete=models.CASCADE, related_name="+")
    organization = models.ForeignKey("accounts.Organization", on_delete=models.CASCADE, related_name="+")
    method = models.CharField(max_length=32, choices=Method.choices)
    # The Clever user (a district admin of the district) who signed in; an ID, never a name.
    clever_user_id = models.CharField(max_length=24)
    # The organization admin who asked for (or confirmed) the link.
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    # A person unlinked or moved the district afterwards: no longer evidence.
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["district", "organization"], name="verification_pair")]

    def __str__(self):
        return f"{self.method}: district {self.district_id} -> organization {self.organization_id}"
