"""The engine's record types: plain dataclasses the Django side fills from its models."""

from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum


class Role(StrEnum):
    STUDENT = "student"
    TEACHER = "teacher"
    STAFF = "staff"
    DISTRICT_ADMIN = "district_admin"
    CONTACT = "contact"


@dataclass(frozen=True, slots=True)
class PersonRecord:
    """One person on either side (a product user or a Clever user), raw values as stored.

    ``key`` is the caller's identifier (product user pk or Clever id) and is never compared.
    Identifiers are the role's own: for a Clever student ``sis_id`` is ``student_sis_id``,
    ``number`` is ``student_number`` and ``state_id`` is ``student_state_id``; for a teacher the
    ``teacher_*`` fields; for staff ``staff_id``. ``schools`` holds keys both sides share
    (Clever school ids after school matching). Missing values are empty strings / ``None``.
    """

    key: str
    roles: frozenset[Role] = frozenset()
    first_name: str = ""
    middle_name: str = ""
    last_name: str = ""
    preferred_name: str = ""
    email: str = ""
    dob: date | None = None
    grade: str = ""
    sis_id: str = ""
    number: str = ""
    state_id: str = ""
    staff_id: str = ""
    legacy_id: str = ""
    schools: frozenset[str] = field(default_factory=frozenset)


@dataclass(frozen=True, slots=True)
class SchoolRecord:
    """A school on either side; ``nces_id`` is the 12-digit NCES school id."""

    key: str
    name: str = ""
    nces_id: str = ""
    state_id: str = ""
    school_number: str = ""
