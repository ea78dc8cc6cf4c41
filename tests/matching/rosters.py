"""Small seeded rosters for the engine's tests (no database: the engine is plain Python)."""

import random
from dataclasses import replace
from datetime import date, timedelta

from matching.engine import PersonRecord, Role

FIRST_NAMES = (
    "ava",
    "liam",
    "noah",
    "emma",
    "olivia",
    "mia",
    "lucas",
    "amara",
    "kenji",
    "zainab",
    "ines",
    "mateo",
    "priya",
    "tomasz",
    "freya",
    "darius",
    "leilani",
    "oskar",
    "yusuf",
    "beatrix",
)
LAST_NAMES = (
    "okafor",
    "lindqvist",
    "nakamura",
    "haddad",
    "brennan",
    "castillo",
    "novak",
    "abernathy",
    "quispe",
    "thorsen",
    "kowalczyk",
    "mbeki",
    "fairweather",
    "delacroix",
    "vasquez",
    "oyelaran",
)


def student(key: str, **values) -> PersonRecord:
    return PersonRecord(key=key, roles=frozenset({Role.STUDENT}), **values)


def roster(size: int, seed: int = 1) -> list[PersonRecord]:
    """Distinct students: every one has its own date of birth, SIS id and student number."""
    rng = random.Random(seed)
    days = rng.sample(range(13 * 365), size)
    return [
        student(
            f"c{index}",
            first_name=rng.choice(FIRST_NAMES).title(),
            last_name=rng.choice(LAST_NAMES).title(),
            dob=date(2010, 1, 1) + timedelta(days=days[index]),
            grade=str(rng.randint(1, 12)),
            sis_id=str(100_000 + index),
            number=str(900_000 + index * 7),
            schools=frozenset({f"school-{index % 3}"}),
        )
        for index in range(size)
    ]


def product_copy(record: PersonRecord, key: str, **changes) -> PersonRecord:
    return replace(record, key=key, **changes)
