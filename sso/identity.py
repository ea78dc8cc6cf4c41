"""Who a Clever login is, as read from ``GET /me`` and ``GET /users/{id}`` (pure, no I/O).

Roles: every key of the user's ``roles`` that is a Clever role becomes a role, never just the
first (a teacher may also be staff and a district admin). Email: kept as Clever sent it (not
verified by Clever; never used to find an account); only its domain is evidence.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

# The allauth provider id of Clever sign-ins (``SocialAccount.provider``), spelled once. The
# settings' ``SOCIALACCOUNT_PROVIDERS`` key must be the same (settings cannot import apps).
PROVIDER = "clever"
ROLE_NAMES = ("student", "teacher", "staff", "district_admin", "contact")
ROLE_LABELS = {
    "student": "Student",
    "teacher": "Teacher",
    "staff": "School staff",
    "district_admin": "District administrator",
    "contact": "Family contact",
}
# What each role means here, for someone choosing how to use the app today.
ROLE_DESCRIPTIONS = {
    "student": "See your classes, your assignments and when they are due, and your grades.",
    "teacher": "Your classes: create assignments, enter grades and send them to your district's LMS.",
    "staff": "For school staff who do not teach here: nothing in this app needs you yet.",
    "district_admin": "Your district in this app: how it is linked, and how its rosters sync from Clever.",
    "contact": "For a parent or guardian: nothing here for families yet.",
}
LIBRARY = "teacher"  # ``authorized_by`` of a Clever Library (teacher-authorized) login
LIBRARY_ROLES = ("teacher", "student")


def _text(value: Any, limit: int = 255) -> str:
    return value.strip()[:limit] if isinstance(value, str) else ""


def roles_of(record: dict) -> tuple[str, ...]:
    roles = record.get("roles")
    if not isinstance(roles, dict):
        return ()
    return tuple(role for role in ROLE_NAMES if role in roles)


def legacy_ids_of(record: dict) -> dict[str, str]:
    roles = record.get("roles")
    out: dict[str, str] = {}
    if isinstance(roles, dict):
        for role in ROLE_NAMES:
            legacy = roles.get(role, {}).get("legacy_id") if isinstance(roles.get(role), dict) else None
            if isinstance(legacy, str) and legacy:
                out[role] = legacy[:64]
    return out


def email_domain(email: str) -> str:
    """The part after the last "@", lower case; "" for an address without one."""
    if "@" not in email:
        return ""
    return email.rsplit("@", 1)[1].strip().lower()[:255]


@dataclass(frozen=True)
class CleverIdentity:
    clever_id: str
    district_id: str
    authorized_by: str
    roles: tuple[str, ...]
    first_name: str = field(default="", repr=False)
    last_name: str = field(default="", repr=False)
    email: str = field(default="", repr=False)
    legacy_ids: dict = field(default_factory=dict)

    @property
    def is_library(self) -> bool:
        return self.authorized_by == LIBRARY

    @property
    def acting_roles(self) -> tuple[str, ...]:
        """The roles the person may act in here: all their Clever roles, except that a Library
        (teacher-authorized) login is only ever a teacher or a student, whatever else the
        person is in their district (Clever Library has no admin or staff users)."""
        if self.is_library:
            return tuple(role for role in self.roles if role in LIBRARY_ROLES)
        return self.roles

    @property
    def email_domain(self) -> str:
        return email_domain(self.email)

    @property
    def usable_email(self) -> str:
        """The email when it looks like one (Clever's may lack the "@"), else ""."""
        return self.email if "@" in self.email else ""

    @property
    def display_name(self) -> str:
        return " ".join(part for part in (self.first_name, self.last_name) if part)

    def without_personal_data(self) -> CleverIdentity:
        """The same identity with no name and no email: what a session or a purged district's
        Clever link keeps (IDs and role names only)."""
        return replace(self, first_name="", last_name="", email="")

    def extra_data(self) -> dict:
        """What ``SocialAccount.extra_data`` keeps: IDs, district, name, email and role names."""
        return {
            "id": self.clever_id,
            "district": self.district_id,
            "authorized_by": self.authorized_by,
            "name": {"first": self.first_name, "last": self.last_name},
            "email": self.email,
            "roles": list(self.roles),
            "legacy_ids": dict(self.legacy_ids),
        }

    @classmethod
    def from_extra_data(cls, data: dict) -> CleverIdentity:
        name = data.get("name") if isinstance(data.get("name"), dict) else {}
        return cls(
            clever_id=_text(data.get("id"), 24),
            district_id=_text(data.get("district"), 24),
            authorized_by=_text(data.get("authorized_by"), 16),
            roles=tuple(role for role in ROLE_NAMES if role in (data.get("roles") or [])),
            first_name=_text(name.get("first")),
            last_name=_text(name.get("last")),
            email=_text(data.get("email")),
            legacy_ids={
                k: v
                for k, v in (data.get("legacy_ids") or {}).items()
                if k in ROLE_NAMES and isinstance(v, str)
            },
        )


def identity_from(*, me: dict, record: dict) -> CleverIdentity:
    """``me``: the ``data`` of ``GET /me`` (id, district, authorized_by); ``record``: the user."""
    name = record.get("name") if isinstance(record.get("name"), dict) else {}
    return CleverIdentity(
        clever_id=_text(record.get("id"), 24),
        district_id=_text(me.get("district") or record.get("district"), 24),
        authorized_by=_text(me.get("authorized_by"), 16) or "district",
        roles=roles_of(record),
        first_name=_text(name.get("first")),
        last_name=_text(name.get("last")),
        email=_text(record.get("email")),
        legacy_ids=legacy_ids_of(record),
    )
