"""The product side: the customer organizations, their people and their schools.

These are the "existing records" that Clever districts, schools and people get matched to.
"""

from django.contrib.auth.models import AbstractUser
from django.db import models


class Organization(models.Model):
    """A customer account: usually a school district, sometimes a school or a network."""

    name = models.CharField(max_length=255)
    # Two-letter US state or territory code.
    state = models.CharField(max_length=2, blank=True)
    # NCES Local Education Agency ID (7 digits) and MDR number: the strongest district evidence.
    nces_leaid = models.CharField("NCES LEAID", max_length=7, blank=True, db_index=True)
    mdr_number = models.CharField("MDR number", max_length=16, blank=True, db_index=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return f"{self.name} ({self.state})" if self.state else self.name


class EmailDomainField(models.CharField):
    """An email domain. Domains compare case-insensitively, so the value is trimmed and
    lowercased on every way to the database (``save``, ``bulk_create``, ``update``, lookups)."""

    def get_prep_value(self, value):
        value = super().get_prep_value(value)
        return value.strip().lower() if isinstance(value, str) else value


class OrganizationEmailDomain(models.Model):
    """An email domain the organization's staff use (evidence for district matching)."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="email_domains")
    domain = EmailDomainField(max_length=255, unique=True)

    class Meta:
        ordering = ["domain"]

    def __str__(self):
        return self.domain


class User(AbstractUser):
    """Every person who uses the product: support staff, organization admins, teachers, students.

    The identifiers below are what the product knew about a person before Clever (its own
    roster import): matching weighs them against the Clever records. Accounts created from
    Clever leave them blank (their Clever record is the truth, in ``rostering.Person``).
    """

    class Role(models.TextChoices):
        STUDENT = "student"
        TEACHER = "teacher"
        STAFF = "staff"

    organization = models.ForeignKey(
        Organization, null=True, blank=True, on_delete=models.SET_NULL, related_name="users"
    )
    is_organization_admin = models.BooleanField(
        default=False, help_text="May link Clever districts to the organization."
    )
    role = models.CharField(
        max_length=16,
        choices=Role.choices,
        blank=True,
        help_text="The product's own role for the person, when it had one.",
    )
    school = models.ForeignKey(
        "School", null=True, blank=True, on_delete=models.SET_NULL, related_name="people"
    )
    sis_id = models.CharField("SIS ID", max_length=255, blank=True)
    student_number = models.CharField(max_length=255, blank=True)
    state_id = models.CharField("state ID", max_length=255, blank=True)
    teacher_number = models.CharField(max_length=255, blank=True)
    staff_id = models.CharField("staff ID", max_length=255, blank=True)
    date_of_birth = models.DateField(null=True, blank=True)
    grade = models.CharField(max_length=32, blank=True)
    # Where the account came from: the Clever user it was made for (by the roster sync or a
    # first Clever sign-in), blank for accounts made in the product. Set when the account is
    # made and never changed: it is what lets the sync refresh the account from Clever and the
    # purge empty it, and what tells a person's own account from one matching linked them to.
    made_for_clever_id = models.CharField(
        "made for Clever user",
        max_length=64,
        blank=True,
        default="",
        editable=False,
        # A plain index as well as the partial unique one: the sync's set-based joins on
        # ``made_for_clever_id = clever_id`` cannot use a partial index.
        db_index=True,
        help_text="The Clever user this account was created for; blank when it was made in the product.",
    )

    class Meta:
        ordering = ["username"]
        constraints = [
            models.UniqueConstraint(
                fields=["made_for_clever_id"],
                condition=~models.Q(made_for_clever_id=""),
                name="one_account_made_per_clever_user",
            )
        ]

    @property
    def made_by_clever(self) -> bool:
        """The account was made for a Clever user (not in the product)."""
        return bool(self.made_for_clever_id)


class School(models.Model):
    """A school as the product knows it, before (or after) it meets its Clever record."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="schools")
    name = models.CharField(max_length=255)
    # NCES school ID (12 digits), the state's school ID and the district's own school number.
    nces_id = models.CharField("NCES ID", max_length=12, blank=True, db_index=True)
    state_id = models.CharField("state ID", max_length=64, blank=True)
    school_number = models.CharField(max_length=64, blank=True)

    class Meta:
        ordering = ["organization", "name"]
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "nces_id"],
                condition=~models.Q(nces_id=""),
                name="school_unique_nces_per_organization",
            )
        ]

    def __str__(self):
        return self.name
