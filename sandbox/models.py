"""State of the local Clever.

Records are kept as Clever would serve them: the v3.1 JSON body, pre-serialized (``body``), and
the v3.0 body beside it (``body_v30``), so a page of 10,000 records is spliced together from
stored text without parsing a thing. ``SandboxEdge`` indexes the relations the nested list
endpoints need (a section's students, a user's schools, a contact's students...).

Write through ``sandbox.services`` only: it keeps bodies, edges and events consistent.
"""

from django.db import models
from django.utils import timezone


class RecordType(models.TextChoices):
    SCHOOLS = "schools"
    TERMS = "terms"
    COURSES = "courses"
    SECTIONS = "sections"
    USERS = "users"


class TokenKind(models.TextChoices):
    # A district-app token (Secure Sync): sees the whole district it was shared for.
    DISTRICT = "district"
    # A token from a login: /me, the user's own record and district, nothing else.
    SSO = "sso"
    # A token from a Library (teacher-authorized) login: the teacher, their sections and
    # those sections' students.
    TEACHER = "teacher"


class Sharing(models.TextChoices):
    DISTRICT = "district", "District-shared (Secure Sync)"
    LIBRARY = "library", "Clever Library (teacher-authorized)"


class LmsType(models.TextChoices):
    NONE = "", "No LMS"
    CANVAS = "canvas"
    SCHOOLOGY = "schoology"
    GOOGLE_CLASSROOM = "google_classroom"


class SandboxApplication(models.Model):
    """The app as registered in Clever's dashboard: credentials and redirect URIs."""

    client_id = models.CharField(max_length=64, unique=True)
    client_secret = models.CharField(max_length=128)
    name = models.CharField(max_length=255, default="Clever bridge (sandbox)")
    # The first URI is the primary one: Portal and Instant Login launches go there.
    redirect_uris = models.JSONField(default=list)
    # "Configured for OIDC" in Clever's dashboard: code exchanges answer an identity token too.
    oidc = models.BooleanField(default=True)

    def __str__(self):
        return self.name


class SandboxDistrict(models.Model):
    id = models.CharField(primary_key=True, max_length=24)
    name = models.CharField(max_length=255)
    # The district object as Clever serves it (v3.1 fields; lms_* come from the columns).
    data = models.JSONField(default=dict)
    sharing = models.CharField(max_length=16, choices=Sharing.choices, default=Sharing.DISTRICT)
    events_enabled = models.BooleanField(default=True)
    lms_type = models.CharField(max_length=32, choices=LmsType.choices, blank=True, default="")
    # Clever's lms_state: "" when there is no LMS, else success/error/... (see the v3.1 spec).
    lms_state = models.CharField(max_length=32, blank=True, default="")
    # False once the district disconnected the app: its token is revoked and gone from
    # /oauth/tokens, and its data is unreachable.
    connected = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["id"]

    def __str__(self):
        return f"{self.name} ({self.id})"


class SandboxRecord(models.Model):
    clever_id = models.CharField(primary_key=True, max_length=24)
    district = models.ForeignKey(SandboxDistrict, on_delete=models.CASCADE, related_name="records")
    record_type = models.CharField(max_length=16, choices=RecordType.choices)
    # Role flags (users only) for the ?role= filter; a user may hold several.
    is_student = models.BooleanField(default=False)
    is_teacher = models.BooleanField(default=False)
    is_staff = models.BooleanField(default=False)
    is_district_admin = models.BooleanField(default=False)
    is_contact = models.BooleanField(default=False)
    # Display helpers for the portal and login pages (users only).
    display_name = models.CharField(max_length=255, blank=True, default="")
    body = models.TextField(help_text="The v3.1 JSON record, serialized.")
    body_v30 = models.TextField(help_text="The v3.0 JSON record, serialized.")

    class Meta:
        indexes = [
            models.Index(fields=["district", "record_type", "clever_id"], name="sbx_rec_list"),
        ]

    def __str__(self):
        return f"{self.record_type}/{self.clever_id}"


class SandboxEdge(models.Model):
    """One relation of a record: ``src`` --rel--> ``dst`` (e.g. section --students--> user)."""

    district = models.ForeignKey(SandboxDistrict, on_delete=models.CASCADE, related_name="+")
    src_id = models.CharField(max_length=24)
    rel = models.CharField(max_length=16)
    dst_id = models.CharField(max_length=24)

    class Meta:
        indexes = [
            models.Index(fields=["src_id", "rel", "dst_id"], name="sbx_edge_src"),
            models.Index(fields=["dst_id", "rel", "src_id"], name="sbx_edge_dst"),
        ]


class SandboxEvent(models.Model):
    id = models.CharField(primary_key=True, max_length=24)
    district = models.ForeignKey(SandboxDistrict, on_delete=models.CASCADE, related_name="events")
    # e.g. "users.updated"
    type = models.CharField(max_length=32)
    record_type = models.CharField(max_length=16)
    record_id = models.CharField(max_length=24)
    # Space-separated school IDs the record belongs to, for the ?school= filter.
    schools = models.TextField(blank=True, default="")
    # {"object": {...}, "previous_attributes": {...}} serialized (v3.1 object).
    body = models.TextField()
    body_v30 = models.TextField()
    created = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["district", "id"], name="sbx_event_list")]


class SandboxToken(models.Model):
    access_token = models.CharField(primary_key=True, max_length=64)
    kind = models.CharField(max_length=16, choices=TokenKind.choices)
    district = models.ForeignKey(SandboxDistrict, on_delete=models.CASCADE, related_name="tokens")
    # The user an SSO or teacher token belongs to.
    user_id = models.CharField(max_length=24, blank=True, default="")
    scopes = models.JSONField(default=list)
    created = models.DateTimeField(default=timezone.now)
    revoked_at = models.DateTimeField(null=True, blank=True)

    def __str__(self):
        # Never the token itself.
        return f"{self.kind} token for {self.district_id} ({self.access_token[:4]}…)"


class SandboxAuthCode(models.Model):
    code = models.CharField(primary_key=True, max_length=64)
    application = models.ForeignKey(SandboxApplication, on_delete=models.CASCADE)
    user_id = models.CharField(max_length=24)
    district = models.ForeignKey(SandboxDistrict, on_delete=models.CASCADE)
    redirect_uri = models.CharField(max_length=1000)
    # The authorize request's OIDC nonce, copied into the identity token ("" when none was sent).
    nonce = models.TextField(blank=True, default="")
    # The LTI 1.3 claims of the LMS launch this login came from ({} when none): they go into
    # the identity token beside the person's.
    launch = models.JSONField(default=dict, blank=True)
    created = models.DateTimeField(default=timezone.now)
    redeemed_at = models.DateTimeField(null=True, blank=True)

    def __str__(self):
        # Never the whole code: it is a credential for a minute.
        return f"code for {self.user_id} ({self.code[:4]}…)"


class SandboxLmsAssignment(models.Model):
    id = models.UUIDField(primary_key=True)
    district = models.ForeignKey(SandboxDistrict, on_delete=models.CASCADE)
    section_id = models.CharField(max_length=24, db_index=True)
    data = models.JSONField(default=dict)
    created = models.DateTimeField(default=timezone.now)


class SandboxLmsSubmission(models.Model):
    assignment = models.ForeignKey(SandboxLmsAssignment, on_delete=models.CASCADE, related_name="submissions")
    user_id = models.CharField(max_length=24)
    data = models.JSONField(default=dict)

    class Meta:
        ordering = ["user_id"]
        constraints = [models.UniqueConstraint(fields=["assignment", "user_id"], name="sbx_one_submission")]


class SandboxLmsCourse(models.Model):
    """A course made in the district's LMS itself, unknown to Clever (a homeroom, a club):
    the LMS launch page lists it beside the person's Clever sections."""

    district = models.ForeignKey(SandboxDistrict, on_delete=models.CASCADE, related_name="lms_courses")
    # The LTI context id the LMS sends for it.
    context_id = models.CharField(max_length=64)
    title = models.CharField(max_length=255)
    label = models.CharField(max_length=255, blank=True, default="")
    teacher_id = models.CharField(max_length=24)
    student_ids = models.JSONField(default=list)
    created = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["title", "id"]
        constraints = [
            models.UniqueConstraint(fields=["district", "context_id"], name="sbx_one_lms_course_context")
        ]


class SandboxSigningKey(models.Model):
    """An RSA key the local Clever signs identity tokens with (``sandbox.oidc``).

    The newest key not retired signs; every key not retired is published at ``/oauth/certs``.
    """

    kid = models.CharField(max_length=64, unique=True)
    private_key_pem = models.TextField()
    created = models.DateTimeField(default=timezone.now)
    retired_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created", "-id"]

    def __str__(self):
        return f"signing key {self.kid}"
