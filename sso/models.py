"""What the SSO app records: every Clever login (evidence for district matching), every link of a
Clever user to a product account (audit), and the codes already exchanged (replay guard).

None of these holds a token, a code, an email address or a name: a login keeps the email's
domain only, a code is kept as its SHA-256.
"""

from django.conf import settings
from django.db import models
from django.utils import timezone

from core.models import AuditEntry


class LoginOutcome(models.TextChoices):
    LOGGED_IN = "logged_in", "Logged in"
    # A verified Clever login waiting for "is this your account?" (an account of the organization
    # has the same email, or the linked account is protected and not proven yet).
    PENDING_LINK = "pending_link", "Asked whether an existing account is theirs"
    # The linked account is a staff or superuser account: never entered through Clever.
    ACCOUNT_REFUSED = "account_refused", "Linked account may not be opened with Clever"
    DISTRICT_UNKNOWN = "district_unknown", "District unknown to the app"
    DISTRICT_NOT_CONNECTED = "district_not_connected", "District not connected"
    LIBRARY_NOT_TEACHER = "library_not_teacher", "Library sign-in by someone who is not a teacher"
    # The person's product account is switched off (allauth shows the "inactive" page).
    ACCOUNT_INACTIVE = "account_inactive", "Account inactive"
    # The login was started by another app (e.g. district linking) and handed to its hook.
    PURPOSE = "purpose", "Handled by another app's purpose hook"
    # Clever's identity token (OpenID Connect) failed a check: nobody was signed in.
    IDENTITY_TOKEN_REFUSED = "identity_token_refused", "Identity token refused"
    FAILED = "failed", "Failed"


class LoginEntry(models.TextChoices):
    # "Log in with Clever" from this app: the state was ours from the start.
    LOG_IN_WITH_CLEVER = "log_in_with_clever", "Log in with Clever"
    # Portal, Instant Login, Library or LMS launches: no state, bounced once to get one.
    CLEVER_INITIATED = "clever_initiated", "Started in Clever (Portal, Instant Login, Library, LMS)"


class IdentityTokenProblem(models.TextChoices):
    """Why an identity token (or, for Library sign-ins, ``/userinfo``) signed nobody in: what
    support reads on a refused login (sso/identity_token.py)."""

    MISSING = "missing", "No identity token, though this app is set up for OpenID Connect"
    MALFORMED = "malformed", "Not a readable identity token"
    ALGORITHM = "algorithm", "Signed with an algorithm we do not accept"
    UNKNOWN_KEY = "unknown_key", "Signed with a key Clever does not publish"
    KEYS_UNAVAILABLE = "keys_unavailable", "Clever's signing keys could not be fetched"
    BAD_SIGNATURE = "bad_signature", "Signature does not match Clever's key"
    ISSUER = "issuer", "Not issued by Clever"
    AUDIENCE = "audience", "Issued for another app"
    EXPIRED = "expired", "Expired"
    NOT_YET_VALID = "not_yet_valid", "Issued in the future"
    MISSING_CLAIM = "missing_claim", "A required claim is missing"
    NONCE_MISMATCH = "nonce_mismatch", "Not for the sign-in this browser started"
    NONCE_REPLAYED = "nonce_replayed", "Already used for a sign-in"
    SUBJECT_MISMATCH = "subject_mismatch", "About another person than the one Clever signed in"


class CleverLogin(models.Model):
    """One Clever login attempt whose identity Clever confirmed: evidence for district matching
    (the district-matching issue counts these per organization)."""

    clever_district_id = models.CharField("Clever district ID", max_length=24, blank=True, db_index=True)
    district = models.ForeignKey(
        "districts.District", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # Clever role names: student, teacher, staff, district_admin, contact.
    roles = models.JSONField(default=list, blank=True)
    # Only the domain of the (unverified) Clever email, lower case; never the address.
    email_domain = models.CharField(max_length=255, blank=True, db_index=True)
    # "district" (district-shared) or "teacher" (Clever Library).
    authorized_by = models.CharField(max_length=16, blank=True)
    entry = models.CharField(max_length=32, choices=LoginEntry.choices, blank=True)
    outcome = models.CharField(max_length=32, choices=LoginOutcome.choices)
    # Why an identity token was refused (outcome identity_token_refused); empty otherwise.
    problem = models.CharField(max_length=32, choices=IdentityTokenProblem.choices, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self):
        where = self.clever_district_id or "no district"
        return f"{self.outcome} login in {where} at {self.created_at:%Y-%m-%d %H:%M}"


class AccountLink(AuditEntry):
    """Audit of every link (and unlink) of a Clever user to a product account. ``actor_label``
    names the rule when no person decided ("sso: first Clever login", ...); ``details`` holds what
    the decision rested on (IDs, roles, yes/no facts; never an email, a name or a token)."""

    class Action(models.TextChoices):
        LINKED = "linked"
        UNLINKED = "unlinked"

    class Method(models.TextChoices):
        # A new product account was created for the Clever user at their first login.
        NEW_ACCOUNT = "new_account", "New account created at login"
        # The roster sync (or matching) had already given the person an account.
        MIRROR_ACCOUNT = "mirror_account", "Account the roster already had for this Clever ID"
        # The person signed in to an existing account and confirmed the link.
        CONFIRMED_SIGN_IN = "confirmed_sign_in", "Confirmed after signing in to the account"
        # Support staff decided this pair by hand (the admin, the matching review queue).
        STAFF = "staff", "Support staff"
        # An automatic rule: the matching engine or a Matchmaker file (never a protected account).
        MATCHED = "matched", "Matched automatically"

    action = models.CharField(max_length=16, choices=Action.choices)
    method = models.CharField(max_length=32, choices=Method.choices)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="clever_link_audits"
    )
    clever_id = models.CharField("Clever user ID", max_length=24, db_index=True)
    clever_district_id = models.CharField("Clever district ID", max_length=24, blank=True)
    person = models.ForeignKey(
        "rostering.Person", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta(AuditEntry.Meta):
        pass

    def __str__(self):
        return f"{self.action} {self.clever_id} ({self.method}) at {self.created_at:%Y-%m-%d %H:%M}"


class CodeRedemption(models.Model):
    """An authorization code this app exchanged (or is exchanging): its SHA-256, so the same code
    is never exchanged twice, and a second delivery finds who it logged in."""

    code_digest = models.CharField(max_length=64, unique=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    # Where the first delivery sent the browser once it was done.
    landing = models.CharField(max_length=500, blank=True)
    finished = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    def __str__(self):
        return f"code {self.code_digest[:8]}… at {self.created_at:%Y-%m-%d %H:%M}"
