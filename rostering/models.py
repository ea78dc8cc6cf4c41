"""The mirror of each district's Clever roster, and the history of the syncs that keep it.

Every mirrored row is keyed on (district, Clever ID), never on email or sis_id. Rows are never
deleted by a sync: a record Clever no longer shares is archived (``archived_at``) and the same
row comes back if its Clever ID returns. ``content_hash`` is the hash of the record as stored
(with a keyed digest of the kept sensitive fields), so a resync finds what changed without
comparing field by field. ``raw`` keeps Clever's record minus every sensitive and demographic
field of ``clever.sensitive.SENSITIVE_FIELDS``; no column holds one either. Those kept (the date
of birth always, the others only when the district allows it) live encrypted in
``Person.sensitive_ciphertext`` (see ``rostering.services.mapping`` and docs/privacy.md).
"""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone


class RecordType(models.TextChoices):
    SCHOOLS = "schools"
    TERMS = "terms"
    COURSES = "courses"
    SECTIONS = "sections"
    USERS = "users"


class MirroredRecord(models.Model):
    # No index of its own: the (district, Clever ID) unique constraint starts with it.
    district = models.ForeignKey(
        "districts.District", on_delete=models.CASCADE, related_name="+", db_index=False
    )
    clever_id = models.CharField("Clever ID", max_length=24)
    content_hash = models.CharField(max_length=32)
    # A cheap digest of the record as Clever sent it (key order included), used by the sync to
    # skip unchanged records without serializing them; never trusted on its own: when it
    # differs, ``content_hash`` decides (see rostering.services.mapping).
    fingerprint = models.CharField(max_length=32, blank=True, editable=False)
    raw = models.JSONField(default=dict)
    archived_at = models.DateTimeField(null=True, blank=True, db_index=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        abstract = True


def _unique_per_district(name: str) -> list:
    return [models.UniqueConstraint(fields=["district", "clever_id"], name=f"{name}_unique_clever_id")]


class School(MirroredRecord):
    name = models.CharField(max_length=255, blank=True)
    sis_id = models.CharField(max_length=255, blank=True)
    state_id = models.CharField(max_length=255, blank=True)
    nces_id = models.CharField("NCES ID", max_length=32, blank=True, db_index=True)
    mdr_number = models.CharField("MDR number", max_length=32, blank=True)
    school_number = models.CharField(max_length=255, blank=True)
    low_grade = models.CharField(max_length=32, blank=True)
    high_grade = models.CharField(max_length=32, blank=True)
    phone = models.CharField(max_length=64, blank=True)
    principal_name = models.CharField(max_length=255, blank=True)
    principal_email = models.CharField(max_length=255, blank=True)
    city = models.CharField(max_length=255, blank=True)
    us_state = models.CharField(max_length=32, blank=True)
    zip = models.CharField(max_length=32, blank=True)
    # The product's school this Clever school is (decided by matching; later issue).
    product_school = models.ForeignKey(
        "accounts.School", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["name"]
        constraints = _unique_per_district("school")

    def __str__(self):
        return self.name or self.clever_id


class Term(MirroredRecord):
    name = models.CharField(max_length=255, blank=True)
    start_date = models.DateField(null=True, blank=True)
    end_date = models.DateField(null=True, blank=True)

    class Meta:
        ordering = ["start_date", "name"]
        constraints = _unique_per_district("term")

    def __str__(self):
        return self.name or self.clever_id


class Course(MirroredRecord):
    name = models.CharField(max_length=255, blank=True)
    number = models.CharField(max_length=255, blank=True)

    class Meta:
        ordering = ["name"]
        constraints = _unique_per_district("course")

    def __str__(self):
        return self.name or self.clever_id


class Section(MirroredRecord):
    # Clever IDs of related records (they may arrive in any order, or be unshared).
    school_clever_id = models.CharField(max_length=24, blank=True)
    term_clever_id = models.CharField(max_length=24, blank=True)
    course_clever_id = models.CharField(max_length=24, blank=True)
    primary_teacher_clever_id = models.CharField(max_length=24, blank=True)
    name = models.CharField(max_length=255, blank=True)
    sis_id = models.CharField(max_length=255, blank=True)
    section_number = models.CharField(max_length=255, blank=True)
    period = models.CharField(max_length=255, blank=True)
    subject = models.CharField(max_length=64, blank=True)
    grade = models.CharField(max_length=32, blank=True)
    synced_in_lms = models.BooleanField(null=True, blank=True)

    class Meta:
        ordering = ["name"]
        constraints = _unique_per_district("section")

    def __str__(self):
        return self.name or self.clever_id


class Person(MirroredRecord):
    """One Clever user, with all their roles (a teacher may also be staff and district admin)."""

    first_name = models.CharField(max_length=255, blank=True)
    middle_name = models.CharField(max_length=255, blank=True)
    last_name = models.CharField(max_length=255, blank=True)
    # Clever does not verify emails, and some have no "@": stored as given, never a key.
    email = models.CharField(max_length=255, blank=True)
    is_student = models.BooleanField(default=False)
    is_teacher = models.BooleanField(default=False)
    is_staff = models.BooleanField(default=False)
    is_district_admin = models.BooleanField(default=False)
    is_contact = models.BooleanField(default=False)
    # The fields matching needs, per role (Clever lists them most to least reliable); the date
    # of birth, which it needs too, is in ``sensitive_ciphertext``.
    student_sis_id = models.CharField(max_length=255, blank=True)
    student_number = models.CharField(max_length=255, blank=True)
    student_state_id = models.CharField(max_length=255, blank=True)
    grade = models.CharField(max_length=32, blank=True)
    graduation_year = models.CharField(max_length=8, blank=True)
    teacher_sis_id = models.CharField(max_length=255, blank=True)
    teacher_number = models.CharField(max_length=255, blank=True)
    teacher_state_id = models.CharField(max_length=255, blank=True)
    staff_id = models.CharField(max_length=255, blank=True)
    contact_sis_id = models.CharField(max_length=255, blank=True)
    title = models.CharField(max_length=255, blank=True)
    district_username = models.CharField(max_length=255, blank=True)
    # {"student": "<legacy id>", "teacher": ...}: recorded, never used as a key.
    legacy_ids = models.JSONField(default=dict, blank=True)
    school_clever_ids = models.JSONField(default=list, blank=True)
    # Encrypted JSON of the kept sensitive and demographic fields, {path: value} (paths of
    # clever.sensitive): the date of birth always, the others when the district stores them.
    # Read through rostering.selectors, shown through rostering.admin.reveal_sensitive.
    sensitive_ciphertext = models.TextField(blank=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="clever_people",
    )

    class Meta:
        verbose_name_plural = "people"
        ordering = ["last_name", "first_name"]
        constraints = _unique_per_district("person")
        indexes = [models.Index(fields=["district", "student_sis_id"], name="person_student_sis")]
        permissions = [("view_sensitive_fields", "Can view students' sensitive fields (decrypted)")]

    def __str__(self):
        return " ".join(p for p in (self.first_name, self.last_name) if p) or self.clever_id

    @property
    def roles(self) -> list[str]:
        return [
            role
            for role in ("student", "teacher", "staff", "district_admin", "contact")
            if getattr(self, f"is_{role}")
        ]


class SectionMembership(models.Model):
    """A student or teacher in a section (derived from the section record)."""

    class Role(models.TextChoices):
        STUDENT = "student"
        TEACHER = "teacher"

    # No database constraints on the derived rows (memberships and contact links): only the
    # sync's apply writes them, in the transaction and from a join with the sections (people)
    # it has just written, and deletes go through the ORM (Django cascades itself, never the
    # database). A constraint would cost PostgreSQL two lookups per row at commit: half a
    # million for a district of 50,000 students, a third of a first sync's commit.
    district = models.ForeignKey(
        "districts.District", on_delete=models.CASCADE, related_name="+", db_constraint=False
    )
    # Indexed by ``membership_unique`` (it starts with the section) and ``membership_person``
    # (a plain index: lookups are by equality, PostgreSQL needs no ``LIKE`` index beside it).
    # Every index costs the sync's insert of a district's memberships (250,000 for 50,000
    # students) one more write per row.
    section = models.ForeignKey(
        Section, on_delete=models.CASCADE, related_name="memberships", db_index=False, db_constraint=False
    )
    person_clever_id = models.CharField(max_length=24)
    role = models.CharField(max_length=16, choices=Role.choices)
    is_primary = models.BooleanField(default=False)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["section", "person_clever_id", "role"], name="membership_unique")
        ]
        indexes = [models.Index(fields=["person_clever_id"], name="membership_person")]

    def __str__(self):
        return f"{self.role} {self.person_clever_id} in {self.section_id}"


class ContactLink(models.Model):
    """A contact (parent, guardian...) and one of their students (derived from the contact)."""

    # No database constraints: see ``SectionMembership``.
    district = models.ForeignKey(
        "districts.District", on_delete=models.CASCADE, related_name="+", db_constraint=False
    )
    # Indexed by ``contact_link_unique`` (it starts with the contact) and ``contact_link_student``
    # (plain: equality lookups only).
    contact = models.ForeignKey(
        Person, on_delete=models.CASCADE, related_name="student_links", db_index=False, db_constraint=False
    )
    student_clever_id = models.CharField(max_length=24)
    relationship = models.CharField(max_length=64, blank=True)
    type = models.CharField(max_length=64, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["contact", "student_clever_id"], name="contact_link_unique")
        ]
        indexes = [models.Index(fields=["student_clever_id"], name="contact_link_student")]

    def __str__(self):
        return f"{self.contact_id} -> {self.student_clever_id}"


class SyncRun(models.Model):
    class Status(models.TextChoices):
        RUNNING = "running"
        SUCCEEDED = "succeeded"
        # Guarded: staged, nothing applied, waiting for support staff.
        HELD = "held"
        FAILED = "failed"
        # Another sync of the district was running.
        SKIPPED = "skipped"
        # A held run support staff rejected: its staged changes were discarded.
        REJECTED = "rejected"

    class Kind(models.TextChoices):
        FULL = "full"
        INCREMENTAL = "incremental"

    class Trigger(models.TextChoices):
        MANUAL = "manual"
        NIGHTLY = "nightly"
        COMMAND = "command"
        LOGIN = "login"
        RESUME = "resume"
        # The district was connected (discovered, reconnected, unpaused) after its last sync.
        CONNECTED = "connected"
        # The event poll (rostering.services.polling) found changes, or found the cursor unusable.
        POLL = "poll"

    class Cause(models.TextChoices):
        """Why a run failed, was skipped, or read the whole district instead of the changes:
        set by the engine from what happened (an exception's type, the district's state), so
        the pages say it in words (``rostering.presentation``) without reading ``error``."""

        # failed, and trying again later can help (``retryable``)
        INTERRUPTED = "interrupted", "the process running it stopped"
        RATE_LIMITED = "rate_limited", "Clever's rate limit"
        SERVER_ERROR = "server_error", "a server error at Clever"
        NO_ANSWER = "no_answer", "no answer from Clever"
        UNREADABLE = "unreadable", "an answer cut short"
        DATABASE = "database", "our database connection dropped"
        REDIS = "redis", "Redis out of reach"
        TIME_LIMIT = "time_limit", "the time limit"
        # failed, and waiting will not fix it
        TOKEN_REFUSED = "token_refused", "the district's token was refused"
        NO_TOKEN = "no_token", "the district stopped sharing"
        DEPARTED = "departed", "the district stopped sharing during the sync"
        APP_CREDENTIALS = "app_credentials", "the app's credentials were refused"
        BAD_RECORD = "bad_record", "a malformed record"
        BAD_ANSWER = "bad_answer", "an answer in the wrong shape"
        BAD_REQUEST = "bad_request", "a request refused as invalid"
        FORBIDDEN = "forbidden", "access refused"
        NOT_FOUND = "not_found", "not found at Clever"
        TOO_LARGE = "too_large", "pages too large"
        UNSUPPORTED = "unsupported", "a request Clever does not support"
        OTHER = "other", "an unexpected error"
        # skipped
        BUSY = "busy", "another sync was running"
        SYNCS_OFF = "syncs_off", "syncs switched off"
        PAUSED = "paused", "the district is paused"
        NOT_CONNECTED = "not_connected", "the district is not connected"
        # rejected: a newer sync of the district replaced the held one
        SUPERSEDED = "superseded", "a newer sync replaced it"
        # succeeded, reading the whole district
        EVENTS_STALE = "events_stale", "the event cursor was too old"
        EVENTS_OFF = "events_off", "events switched off"

    district = models.ForeignKey("districts.District", on_delete=models.CASCADE, related_name="sync_runs")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    trigger = models.CharField(max_length=16, choices=Trigger.choices, default=Trigger.MANUAL)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.RUNNING)
    started_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)
    # Updated as pages arrive: a running run whose heartbeat is old was killed, and a new run
    # resumes from its checkpoint.
    heartbeat_at = models.DateTimeField(default=timezone.now)
    progress = models.FloatField(default=0.0, help_text="0..1")
    current_collection = models.CharField(max_length=32, blank=True)
    # {"done": [collections fetched to the end], "next": {collection: next link}}
    checkpoint = models.JSONField(default=dict, blank=True)
    # The newest event ID before a full pass began (events continue from there).
    event_cursor_before = models.CharField(max_length=24, blank=True)
    # {"created": {type: n}, "updated": {...}, "archived": {...}, "restored": {...},
    #  "unchanged": {...}}
    counts = models.JSONField(default=dict, blank=True)
    # What an applied run took away per guard group (record types and roles of people): rows
    # archived minus rows restored; the guard weighs these across runs (services/diff.py).
    losses = models.JSONField(default=dict, blank=True)
    totals = models.JSONField(default=dict, blank=True)
    requests = models.PositiveIntegerField(default=0)
    retries = models.PositiveIntegerField(default=0)
    pages = models.PositiveIntegerField(default=0)
    bytes_received = models.PositiveBigIntegerField(default=0)
    seconds_waited = models.FloatField(default=0.0)
    # While a running sync waits before asking Clever again (its rate limit, or a backoff after
    # an error): {"until": ISO time, "reason": "rate_limit" | "server_error" | "no_answer" |
    # "unreadable"}; written by the engine before each wait, emptied with the next page.
    waiting = models.JSONField(default=dict, blank=True)
    duration_seconds = models.FloatField(null=True, blank=True)
    error = models.TextField(blank=True)
    # Set by the engine from the failure's type: whether trying again later can help (429, 5xx,
    # no answer, a dropped database connection, the soft time limit). Tasks retry only these.
    retryable = models.BooleanField(default=False)
    cause = models.CharField(max_length=16, choices=Cause.choices, blank=True)
    resumed_from = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="resumed_by"
    )

    class Meta:
        ordering = ["-started_at", "-id"]
        constraints = [
            # One sync per district at a time, enforced by the database across processes.
            models.UniqueConstraint(
                fields=["district"], condition=Q(status="running"), name="one_running_sync_per_district"
            )
        ]

    def __str__(self):
        # "Incremental sync of Oxford Community Schools, 3 Dec 02:00 (failed)": names, never IDs.
        from .presentation import STATUS_WORDS, run_title

        return f"{run_title(self)} ({STATUS_WORDS.get(self.status, self.status)})"


class StagedRecord(models.Model):
    """A record fetched by a run, waiting for the diff (deleted when the run ends).

    ``action`` says what the run wants: ``upsert`` (``data`` holds the mapped columns and the
    stored representation, see ``rostering.services.mapping``) or ``delete`` (a live record
    Clever no longer lists, or a ``*.deleted`` event; ``data`` is empty). A full sync stages
    only what differs from the mirror: records whose hash equals their live row are counted in
    the run's checkpoint, not staged.
    """

    class Action(models.TextChoices):
        UPSERT = "upsert"
        DELETE = "delete"

    # No database constraint: checking every staged row against its run costs PostgreSQL one
    # lookup per row at commit (a second per 10,000-row page), for rows only the engine writes,
    # for a run it has just created. Deleting a run still deletes its staged rows (Django's
    # cascade), and the engine deletes them itself when the run ends. No index of its own
    # either: ``staged_unique`` starts with ``run`` and serves every query by run.
    run = models.ForeignKey(
        SyncRun, on_delete=models.CASCADE, related_name="staged", db_constraint=False, db_index=False
    )
    record_type = models.CharField(max_length=16, choices=RecordType.choices)
    clever_id = models.CharField(max_length=24)
    content_hash = models.CharField(max_length=32)
    data = models.JSONField()
    action = models.CharField(max_length=8, choices=Action.choices, default=Action.UPSERT)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["run", "record_type", "clever_id"], name="staged_unique")
        ]

    def __str__(self):
        return f"{self.record_type}/{self.clever_id} in run {self.run_id}"


class ChangeHold(models.Model):
    """A guarded run: what it would change, for support staff to approve or reject."""

    class Status(models.TextChoices):
        PENDING = "pending"
        APPROVED = "approved"
        REJECTED = "rejected"

    run = models.OneToOneField(SyncRun, on_delete=models.CASCADE, related_name="hold")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    # Why it was held, e.g. [{"type": "users", "rule": "deleted", "fraction": 0.15, ...}]
    reasons = models.JSONField(default=list)
    # The diff's counts per type and kind, and a few sample records (names and IDs only).
    counts = models.JSONField(default=dict)
    samples = models.JSONField(default=dict)
    created_at = models.DateTimeField(default=timezone.now)
    decided_at = models.DateTimeField(null=True, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # Why support approved or rejected it, in their words (required by the admin).
    decision_reason = models.CharField("reason", max_length=500, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self):
        # "Hold on the full sync of Oxford Community Schools, 3 Dec 02:00 (pending)".
        from .presentation import hold_title

        return f"{hold_title(self)} ({self.status})"


class SyncRequest(models.Model):
    """A sync of the district that was asked for (nightly, by support, by a login, by a retry)
    and is owed until a run that started after the asking concludes.

    Kept in the database, not only as a Celery message: a message can be lost with a Redis
    that crashed without persistence, or held by a worker that died, and a retry waiting for
    its countdown lives only in the worker that holds it. The recovery sweep
    (``rostering.tasks.recover_syncs``) sends the sync again for a request whose ``due_at``
    (when it should have started) passed long enough ago with no run since.
    """

    district = models.OneToOneField(
        "districts.District", on_delete=models.CASCADE, related_name="sync_request"
    )
    kind = models.CharField(max_length=16, default="auto")
    trigger = models.CharField(
        max_length=16, choices=SyncRun.Trigger.choices, default=SyncRun.Trigger.NIGHTLY
    )
    requested_at = models.DateTimeField(default=timezone.now)
    # When a run should have started by: the request plus its countdown (the nightly stagger,
    # or a retry's longest backoff).
    due_at = models.DateTimeField(default=timezone.now, db_index=True)
    # Times the sweep had to send it again.
    resent = models.PositiveIntegerField(default=0)

    def __str__(self):
        return f"{self.kind} sync of {self.district_id} due {self.due_at:%Y-%m-%d %H:%M}"
