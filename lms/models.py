"""LMS Connect: the product's assignments and results, and their state in the district's LMS.

- ``Assignment``: what a teacher (or the product) set for a mirrored ``rostering.Section``.
- ``Result``: one student's grade for an assignment, ``draft`` until approved; only approved
  results go to the LMS (auto-graded ones are approved at once when the assignment says so).
- ``CleverAssignment``: the link to the assignment Clever created in the LMS. Clever cannot
  list assignments, so the intent is recorded *before* the POST (``state=creating``) and the
  UUID is stored (committed) the moment Clever returns it; ``pushed_content`` is what was last
  sent, so an unchanged assignment costs no request.
- ``SubmissionSync``: per student, what we last pushed, what we last saw in the LMS, and
  whether a teacher changed the grade in the LMS (then the LMS wins and we stop writing it).
- ``LmsCourse``: a class in the LMS that someone opened the app from (an LMS Connect launch),
  the teachers seen doing so, and the section a teacher said it is (``lms/launch.py``).

See docs/lms.md for the rules.
"""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from core.models import AuditEntry


class GradingType(models.TextChoices):
    POINTS = "points", "Points"
    PERCENT = "percent", "Percent"
    PASS_FAIL = "pass_fail", "Pass/fail"
    LETTER_GRADE = "letter_grade", "Letter grade"


SUBMISSION_TYPES = ("link", "file", "text", "discussion")
FLAGS = ("excused", "late", "missing")


class SyncPolicy(models.TextChoices):
    # In the teacher's words: when the assignment and its approved grades go to the LMS.
    ON_CREATE = "on_create", "Sent to the LMS automatically, and its grades as they are approved"
    MANUAL = "manual", "Sent to the LMS when the teacher clicks “Sync to LMS”"


class Assignment(models.Model):
    section = models.ForeignKey("rostering.Section", on_delete=models.CASCADE, related_name="lms_assignments")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    title = models.CharField(max_length=255)
    description = models.TextField()
    due_at = models.DateTimeField("due date")
    # When students may start. Sent as start_date (Canvas has none: display_date there).
    start_at = models.DateTimeField("start date", null=True, blank=True)
    points_possible = models.FloatField(null=True, blank=True)
    grading_type = models.CharField(max_length=16, choices=GradingType.choices, default=GradingType.POINTS)
    submission_types = models.JSONField(default=list, blank=True)
    max_attempts = models.PositiveIntegerField(default=1)
    sync_policy = models.CharField(max_length=16, choices=SyncPolicy.choices, default=SyncPolicy.ON_CREATE)
    # Auto-graded results are approved (and so pushed) without a teacher looking at them.
    auto_approve_autograded = models.BooleanField(default=True)
    # Deleted in the product; the LMS copy is deleted through Clever (see CleverAssignment).
    deleted_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["due_at", "id"]

    def __str__(self):
        return self.title


class Result(models.Model):
    class Status(models.TextChoices):
        DRAFT = "draft"
        APPROVED = "approved"

    class Source(models.TextChoices):
        TEACHER = "teacher"
        AUTO = "auto", "Auto-graded"

    assignment = models.ForeignKey(Assignment, on_delete=models.CASCADE, related_name="results")
    student = models.ForeignKey("rostering.Person", on_delete=models.CASCADE, related_name="+")
    points = models.FloatField(null=True, blank=True)
    # A letter ("B+") or "pass"/"fail", for those grading types.
    grade = models.CharField(max_length=32, blank=True)
    comment = models.TextField(blank=True)
    flags = models.JSONField(default=list, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.DRAFT)
    source = models.CharField(max_length=16, choices=Source.choices, default=Source.TEACHER)
    approved_at = models.DateTimeField(null=True, blank=True)
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["assignment", "student"], name="lms_result_unique")]

    def __str__(self):
        return f"result {self.pk} of assignment {self.assignment_id}"


class Problem(models.TextChoices):
    """Why the last push or pull did not go through (shown in plain words, see selectors)."""

    NONE = "", "None"
    # Nothing was sent: no LMS, LMS not ready, section not synced, district not connected.
    BLOCKED = "blocked", "Not possible now"
    # Clever refused the request (400 and similar): fixing it takes a person.
    REFUSED = "refused", "Refused by Clever"
    # 429 / 5xx / no answer: retried automatically.
    TEMPORARY = "temporary", "Temporary, retrying"
    # The create was sent but its answer was lost: support reconciles before sending again.
    UNKNOWN_OUTCOME = "unknown_outcome", "Outcome unknown"
    # The district token was refused or is gone.
    TOKEN = "token", "Token refused"


class CleverAssignment(models.Model):
    class State(models.TextChoices):
        NOT_PUSHED = "not_pushed", "Not in the LMS"
        # Intent recorded, POST under way (or the worker died during it).
        CREATING = "creating", "Being created"
        # POST sent, answer lost: it may or may not exist in the LMS.
        UNKNOWN = "unknown", "Creation unconfirmed"
        LINKED = "linked", "In the LMS"
        DELETED = "deleted", "Deleted from the LMS"

    assignment = models.OneToOneField(Assignment, on_delete=models.CASCADE, related_name="clever")
    state = models.CharField(max_length=16, choices=State.choices, default=State.NOT_PUSHED)
    # Clever's assignment UUID (the API cannot list assignments: this is the only copy).
    clever_id = models.CharField("Clever assignment ID", max_length=36, blank=True)
    section_clever_id = models.CharField(max_length=24, blank=True)
    lms_type = models.CharField("LMS type", max_length=32, blank=True)
    create_started_at = models.DateTimeField(null=True, blank=True)
    create_attempts = models.PositiveIntegerField(default=0)
    created_in_lms_at = models.DateTimeField(null=True, blank=True)
    # The AssignmentRequest fields as last accepted by Clever (merged over PATCHes).
    pushed_content = models.JSONField(null=True, blank=True)
    # What Clever last said about it: its state (draft/scheduled/open/locked), last_modified.
    lms_state = models.CharField(max_length=16, blank=True)
    lms_last_modified = models.CharField(max_length=40, blank=True)
    # A push was asked for and not started yet (dedupes enqueued tasks).
    push_requested_at = models.DateTimeField(null=True, blank=True)
    last_push_at = models.DateTimeField(null=True, blank=True)
    last_pull_at = models.DateTimeField(null=True, blank=True)
    problem = models.CharField(max_length=16, choices=Problem.choices, blank=True, default="")
    # Plain words for the teacher; Clever's own message and code for support.
    problem_message = models.CharField(max_length=500, blank=True)
    problem_detail = models.CharField(max_length=500, blank=True)
    problem_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["clever_id"], condition=~Q(clever_id=""), name="lms_clever_assignment_id_unique"
            ),
        ]

    def __str__(self):
        return f"{self.assignment_id}: {self.state} {self.clever_id}".strip()


class SubmissionSync(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", "Waiting to be sent"
        PUSHED = "pushed", "In the LMS"
        # A teacher changed the grade in the LMS: kept, never overwritten.
        LMS_EDITED = "lms_edited", "Changed in the LMS (kept)"
        # Clever has no submission for the student (not matched in the LMS).
        NOT_IN_LMS = "not_in_lms", "Not in the LMS class"
        ERROR = "error", "Refused"

    assignment = models.ForeignKey(Assignment, on_delete=models.CASCADE, related_name="submission_syncs")
    student_clever_id = models.CharField(max_length=24)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    # The grade fields we last sent (and Clever accepted), e.g. {"grade_points": 8.0,
    # "grade_comment": "", "flags": []}; null: never pushed.
    pushed = models.JSONField(null=True, blank=True)
    pushed_at = models.DateTimeField(null=True, blank=True)
    # The grade fields last seen in the LMS ({"grade", "grade_points", "grade_comment",
    # "flags"}), Clever's last_modified and state of the submission.
    lms_value = models.JSONField(null=True, blank=True)
    lms_seen_at = models.DateTimeField(null=True, blank=True)
    lms_last_modified = models.CharField(max_length=40, blank=True)
    lms_state = models.CharField(max_length=16, blank=True)
    # Deprecated by Clever and always "" on Google Classroom: recorded, never used as a key.
    lms_submission_id = models.CharField(max_length=40, blank=True)
    lms_edited_at = models.DateTimeField(null=True, blank=True)
    error = models.CharField(max_length=500, blank=True)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["assignment_id", "student_clever_id"]
        constraints = [
            models.UniqueConstraint(
                fields=["assignment", "student_clever_id"], name="lms_submission_sync_unique"
            )
        ]

    def __str__(self):
        return f"{self.student_clever_id} on assignment {self.assignment_id}: {self.status}"


class LmsCourse(models.Model):
    """A class in the district's LMS that someone opened the app from (an LMS Connect launch).

    Identified as LTI 1.3 identifies a course: the LMS (``platform_guid``), the district's
    installation of the app in it (``deployment_id``) and the course's id there
    (``context_id``). ``section`` is the class in the roster a teacher said it is (launches
    from it land there for everyone); a course Clever knows names its section itself at each
    launch (``clever_section_id``), so most courses never need one."""

    district = models.ForeignKey("districts.District", on_delete=models.CASCADE, related_name="+")
    platform_guid = models.CharField("LMS installation", max_length=255, blank=True)
    platform_name = models.CharField("LMS name", max_length=64, blank=True)
    product_family = models.CharField("LMS product", max_length=64, blank=True)
    deployment_id = models.CharField(max_length=255)
    context_id = models.CharField("course ID in the LMS", max_length=255)
    title = models.CharField(max_length=255, blank=True)
    label = models.CharField(max_length=255, blank=True)
    # The Clever section the last launch named ("" when none): shown to support, never trusted
    # over the roster (the router looks the section up in the district at every launch).
    clever_section_id = models.CharField("Clever section ID", max_length=24, blank=True)
    section = models.ForeignKey(
        "rostering.Section", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    linked_by = models.ForeignKey(
        "rostering.Person", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    linked_at = models.DateTimeField(null=True, blank=True)
    # Teachers who opened the app from the course: they may set it up, and a student is told
    # to ask them.
    teachers_seen = models.ManyToManyField("rostering.Person", blank=True, related_name="+")
    first_seen_at = models.DateTimeField(default=timezone.now)
    last_launch_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = "LMS course"
        ordering = ["title", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["district", "platform_guid", "deployment_id", "context_id"],
                name="lms_course_unique",
            )
        ]

    def __str__(self):
        # Never its id in the LMS: people read this name on their pages.
        return self.title or self.label or "Course without a name"


class LmsAudit(AuditEntry):
    """Decisions support staff take about an assignment's link to Clever (linking a UUID found
    in the LMS, confirming a create never happened), a teacher's choice to send the
    product's grade over an LMS edit, and which section an LMS course opens (a teacher's
    choice, support clearing it): who, what, evidence, when. ``details`` holds IDs and
    states, and the reason the person gave in their own words: never a grade or a name copied
    from the data.

    A row is about an assignment or an LMS course, never both: one audit table per app
    (docs/architecture.md), rather than a second one for course links."""

    class Action(models.TextChoices):
        LINKED = "linked", "Linked to a Clever assignment"
        CONFIRMED_NOT_CREATED = "confirmed_not_created", "Confirmed not created in the LMS"
        OVERRIDE_LMS_EDIT = "override_lms_edit", "Product grade sent over an LMS edit"
        COURSE_LINKED = "course_linked", "LMS course set up as a section"
        COURSE_LINK_CLEARED = "course_link_cleared", "LMS course's section cleared"

    assignment = models.ForeignKey(
        Assignment, null=True, blank=True, on_delete=models.CASCADE, related_name="audits"
    )
    course = models.ForeignKey(
        LmsCourse, null=True, blank=True, on_delete=models.CASCADE, related_name="audits"
    )
    action = models.CharField(max_length=32, choices=Action.choices)

    class Meta(AuditEntry.Meta):
        constraints = [
            models.CheckConstraint(
                condition=Q(assignment__isnull=False, course__isnull=True)
                | Q(assignment__isnull=True, course__isnull=False),
                name="lms_audit_about_one_thing",
            )
        ]

    def __str__(self):
        if self.course_id is not None:
            return f"{self.action} on LMS course {self.course_id}"
        return f"{self.action} on assignment {self.assignment_id}"
