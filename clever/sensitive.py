"""Clever's sensitive and demographic fields about people: the one list (docs/privacy.md, "The list").

Every field of a Clever user record that says something sensitive about a child or a family is
an entry of ``SENSITIVE_FIELDS``: the record path where Clever puts it (field names from
Clever's v3.0/v3.1 ``Student`` and ``Contact`` schemas, ``sandbox/spec/``), a label in plain
words for support staff, its category, and the feature that needs it (empty when none does).
Nothing else in the product names these fields: what the roster mirror strips from the records
it stores, what it encrypts, what the admin hides and shows with the "view sensitive fields"
permission, are all read from this list (docs/privacy.md says where each one is kept and who
sees it).

- A field a feature needs is kept whatever the district chose, encrypted: the date of birth,
  which matching compares with the product's.
- Every other field is kept only when the district allows it (``District.store_sensitive_fields``),
  encrypted; otherwise it is dropped as the record is read.

``ext`` (district-defined extension fields) is listed as a whole: Clever passes through whatever
the district's SIS sends there, and districts commonly use it for demographics, so nothing in it
is assumed harmless. A contact's phone number is a parent's: no feature needs it.

Pure Python, no Django: any app may use it (``clever`` is a leaf).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any


class Category(StrEnum):
    PROGRAM = "sensitive program status"
    DEMOGRAPHIC = "demographic"
    CONTACT = "contact details"


@dataclass(frozen=True)
class SensitiveField:
    # Where Clever puts it in a user record: "roles.<role>.<field>".
    path: str
    # What support staff read.
    label: str
    category: Category
    # The feature that needs it; "" when none does (then it is kept only with the district's
    # consent).
    needed_by: str = ""

    @property
    def role(self) -> str:
        return self.path.split(".")[1]

    @property
    def name(self) -> str:
        return self.path.split(".")[2]


DATE_OF_BIRTH = SensitiveField(
    "roles.student.dob",
    "Date of birth",
    Category.DEMOGRAPHIC,
    needed_by="matching: compared with the product's date of birth to find a student's account",
)

SENSITIVE_FIELDS: tuple[SensitiveField, ...] = (
    SensitiveField("roles.student.iep_status", "IEP status (special education plan)", Category.PROGRAM),
    SensitiveField("roles.student.section_504_status", "Section 504 plan status", Category.PROGRAM),
    SensitiveField("roles.student.disability", "Disability", Category.PROGRAM),
    SensitiveField("roles.student.gifted_status", "Gifted and talented status", Category.PROGRAM),
    SensitiveField("roles.student.ell_status", "English learner status", Category.PROGRAM),
    SensitiveField("roles.student.frl_status", "Free or reduced-price lunch status", Category.PROGRAM),
    DATE_OF_BIRTH,
    SensitiveField("roles.student.gender", "Gender", Category.DEMOGRAPHIC),
    SensitiveField("roles.student.race", "Race", Category.DEMOGRAPHIC),
    SensitiveField("roles.student.hispanic_ethnicity", "Hispanic or Latino ethnicity", Category.DEMOGRAPHIC),
    SensitiveField("roles.student.home_language", "Home language", Category.DEMOGRAPHIC),
    SensitiveField("roles.student.home_language_code", "Home language code", Category.DEMOGRAPHIC),
    SensitiveField("roles.student.ext", "District-defined fields", Category.DEMOGRAPHIC),
    SensitiveField("roles.student.location", "Home address", Category.CONTACT),
    SensitiveField("roles.contact.phone", "Phone number (parent or guardian)", Category.CONTACT),
    SensitiveField("roles.contact.phone_type", "Phone type (parent or guardian)", Category.CONTACT),
)
BY_PATH: dict[str, SensitiveField] = {field.path: field for field in SENSITIVE_FIELDS}

# Per role: the listed names (to test a role's fields at once) and (name, path) pairs.
_BY_ROLE: tuple[tuple[str, frozenset[str], tuple[tuple[str, str], ...]], ...] = tuple(
    (
        role,
        frozenset(f.name for f in SENSITIVE_FIELDS if f.role == role),
        tuple((f.name, f.path) for f in SENSITIVE_FIELDS if f.role == role),
    )
    for role in dict.fromkeys(f.role for f in SENSITIVE_FIELDS)
)


def pop_listed(record: dict) -> dict[str, Any] | None:
    """Remove every listed field from a Clever user record *in place*; returns those it held as
    ``{path: value}`` in the list's order, or None. Runs for every user of every sync: a record
    with nothing listed costs a set test per role."""
    roles = record.get("roles")
    if type(roles) is not dict:
        return None
    found: dict[str, Any] | None = None
    for role, names, pairs in _BY_ROLE:
        fields = roles.get(role)
        if type(fields) is not dict or names.isdisjoint(fields):
            continue
        if found is None:
            found = {}
        for name, path in pairs:
            if name in fields:
                found[path] = fields.pop(name)
    return found


def put_back(record: dict, values: dict[str, Any]) -> dict:
    """The inverse of ``pop_listed``: ``values`` (``{path: value}``) into ``record``, in place."""
    for path, value in values.items():
        _, role, name = path.split(".")
        record.setdefault("roles", {}).setdefault(role, {})[name] = value
    return record
