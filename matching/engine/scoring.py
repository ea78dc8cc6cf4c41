"""Prepared records and the comparison of one pair: field levels and vetoes.

Records are normalized once (``prepare``); comparing a pair is then a few dictionary lookups and,
for names, rapidfuzz calls cached per distinct name pair, so large districts stay cheap.
"""

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

from .comparators import (
    Level,
    compare_dob,
    compare_email,
    compare_first_name,
    compare_grade,
    compare_identifier,
    compare_last_name,
    compare_schools,
    names_swapped,
)
from .nicknames import canonical_names
from .normalize import dob_key, normalize_email, normalize_identifier, normalize_name, parse_grade
from .records import PersonRecord, Role

IDENTIFIER_FIELDS = ("sis_id", "number", "state_id", "staff_id", "legacy_id")
# Per role, the fields Clever documents for it, most reliable first (dev.clever.com/docs/users).
ROLE_FIELDS: dict[Role | None, tuple[str, ...]] = {
    Role.STUDENT: (
        "sis_id",
        "state_id",
        "number",
        "legacy_id",
        "dob",
        "last_name",
        "first_name",
        "email",
        "grade",
        "school",
    ),
    Role.TEACHER: ("sis_id", "state_id", "number", "legacy_id", "email", "last_name", "first_name", "school"),
    Role.STAFF: ("staff_id", "legacy_id", "email", "last_name", "first_name", "school"),
    Role.DISTRICT_ADMIN: ("staff_id", "legacy_id", "email", "last_name", "first_name"),
    Role.CONTACT: ("legacy_id", "email", "last_name", "first_name"),
    None: (
        "sis_id",
        "state_id",
        "number",
        "staff_id",
        "legacy_id",
        "dob",
        "last_name",
        "first_name",
        "email",
        "grade",
        "school",
    ),
}
ALL_FIELDS = ROLE_FIELDS[None]
_ROLE_PRECEDENCE = (Role.STUDENT, Role.TEACHER, Role.STAFF, Role.DISTRICT_ADMIN, Role.CONTACT)

VETO_DOB_YEARS_APART = "dob_years_apart"
VETO_ROLE_MISMATCH = "role_mismatch"
VETO_NAMES_CONFLICT = "identifier_agrees_names_conflict"


def primary_role(roles: frozenset[Role]) -> Role | None:
    return next((role for role in _ROLE_PRECEDENCE if role in roles), None)


@dataclass(slots=True)
class PreparedPerson:
    record: PersonRecord
    role: Role | None
    first: str
    first_canonicals: frozenset[str]
    alternates: frozenset[str]
    last: str
    email: str
    dob_digits: str
    grade: int | None
    identifiers: dict[str, str]
    # Fields this record has a value for: the others compare as NULL and weigh nothing.
    present: frozenset[str]


def prepare(record: PersonRecord) -> PreparedPerson:
    first = normalize_name(record.first_name)
    alternates = {normalize_name(record.middle_name), normalize_name(record.preferred_name)}
    # "Mary Ann" on one side is often "Mary" on the other: every token is an alternate name.
    if " " in first:
        alternates.update(first.split())
    alternates.discard("")
    alternates.discard(first)
    last, email, grade = (
        normalize_name(record.last_name),
        normalize_email(record.email),
        parse_grade(record.grade),
    )
    identifiers = {name: normalize_identifier(getattr(record, name)) for name in IDENTIFIER_FIELDS}
    values = {
        "first_name": first,
        "last_name": last,
        "dob": record.dob,
        "email": email,
        "grade": grade,
        "school": record.schools,
        **identifiers,
    }
    return PreparedPerson(
        record=record,
        role=primary_role(record.roles),
        first=first,
        first_canonicals=canonical_names(first),
        alternates=frozenset(alternates) if alternates else _NO_NAMES,
        last=last,
        email=email,
        dob_digits=dob_key(record.dob),
        grade=grade,
        identifiers=identifiers,
        # Kindergarten is grade 0: a value too.
        present=_shared(frozenset(name for name, value in values.items() if value or value == 0)),
    )


_NO_NAMES: frozenset[str] = frozenset()
# At most 2^11 sets of field names: each is kept once and shared by every record that has it.
_SHARED_FIELD_SETS: dict[frozenset[str], frozenset[str]] = {}


def _shared(fields: frozenset[str]) -> frozenset[str]:
    return _SHARED_FIELD_SETS.setdefault(fields, fields)


Comparison = Callable[[PreparedPerson, PreparedPerson], Level]


class PairComparer:
    """Compares prepared pairs, caching name comparisons (names repeat across a district)."""

    def __init__(self) -> None:
        self._first_names: dict[tuple[str, str], Level] = {}
        self._last_names: dict[tuple[str, str], Level] = {}
        by_field: dict[str, Comparison] = {
            "first_name": self._first_name,
            "last_name": self._last_name,
            "dob": lambda a, b: compare_dob(a.record.dob, b.record.dob, a.dob_digits, b.dob_digits),
            "email": lambda a, b: compare_email(a.email, b.email),
            "grade": lambda a, b: compare_grade(a.grade, b.grade),
            "school": lambda a, b: compare_schools(a.record.schools, b.record.schools),
        }
        for name in IDENTIFIER_FIELDS:
            by_field[name] = partial(_compare_identifiers, name)
        self._comparisons = {
            role: tuple((name, by_field[name]) for name in fields) for role, fields in ROLE_FIELDS.items()
        }

    def fields_for(self, product: PreparedPerson, clever: PreparedPerson) -> tuple[str, ...]:
        """The fields compared for this pair, most reliable first (the product record's role)."""
        return ROLE_FIELDS[product.role if product.role is not None else clever.role]

    def levels(self, product: PreparedPerson, clever: PreparedPerson) -> dict[str, Level]:
        """The level of every field both records have, in the role's reliability order."""
        role = product.role if product.role is not None else clever.role
        both = product.present & clever.present
        levels = {name: compare(product, clever) for name, compare in self._comparisons[role] if name in both}
        first_level, last_level = levels.get("first_name"), levels.get("last_name")
        if (
            first_level is not None
            and first_level not in _NAMES_AGREE
            and last_level is not Level.EXACT
            and names_swapped(product.first, product.last, clever.first, clever.last)
        ):
            levels["first_name"] = levels["last_name"] = Level.NAMES_SWAPPED
        return levels

    def _last_name(self, product: PreparedPerson, clever: PreparedPerson) -> Level:
        key = (product.last, clever.last)
        level = self._last_names.get(key)
        if level is None:
            level = self._last_names[key] = compare_last_name(product.last, clever.last)
        return level

    def _first_name(self, product: PreparedPerson, clever: PreparedPerson) -> Level:
        key = (product.first, clever.first)
        level = self._first_names.get(key)
        if level is None:
            level = self._first_names[key] = compare_first_name(
                product.first, clever.first, product.first_canonicals, clever.first_canonicals
            )
        # Alternates belong to the records, not the names, so they are checked outside the cache.
        if level in _NAMES_AGREE:
            return level
        if product.first in clever.alternates or clever.first in product.alternates:
            return Level.ALTERNATE_NAME
        return level


_NAMES_AGREE = frozenset((Level.EXACT, Level.NICKNAME, Level.NULL))


def _compare_identifiers(name: str, product: PreparedPerson, clever: PreparedPerson) -> Level:
    return compare_identifier(product.identifiers[name], clever.identifiers[name])


def vetoes(product: PreparedPerson, clever: PreparedPerson, levels: dict[str, Level]) -> tuple[str, ...]:
    """Facts that forbid an automatic link whatever the score."""
    found = ()
    if levels.get("dob") is Level.ELSE:
        found += (VETO_DOB_YEARS_APART,)
    product_roles, clever_roles = product.record.roles, clever.record.roles
    if product_roles and clever_roles and product_roles.isdisjoint(clever_roles):
        found += (VETO_ROLE_MISMATCH,)
    if (
        levels.get("first_name") is Level.ELSE
        and levels.get("last_name") is Level.ELSE
        and any(levels.get(field) is Level.EXACT for field in IDENTIFIER_FIELDS)
    ):
        found += (VETO_NAMES_CONFLICT,)
    return found
