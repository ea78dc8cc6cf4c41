"""Blocking: which (product, Clever) pairs get compared at all.

Clever records are indexed under equi-join keys (splink-style) and each product record looks
up its own keys; a pair is compared when they share one. Each rule covers a failure of others:

- an identifier or the email agrees exactly (or the email's local part, for a changed domain);
- the date of birth with the first or the last name's initial (a typo or nickname in one name,
  or the names swapped), also with day and month swapped;
- nickname-canonical first name, last name and birth year (a typo in the date of birth);
- name-only keys: canonical first name with the last name or its Soundex code (a typo in the
  last name), the last name with the first initial (a typo in the first name), the two names
  as an unordered pair (swapped). A product record with a date of birth looks these up only
  among Clever records without one: everywhere else a date key already covers it, and name-only
  blocks are the large ones (many a "James Smith" in a big district).

Keys shared by more than ``max_block_size`` Clever records are skipped: such a key separates
nothing, and the other rules still cover those records.
"""

from collections import defaultdict
from collections.abc import Iterator, Sequence

from .normalize import dob_key, email_local_part, soundex
from .scoring import IDENTIFIER_FIELDS, PreparedPerson

MIN_LOCAL_PART_LENGTH = 4
UNDATED = "undated"

Key = tuple[str, ...]


def _exact_keys(person: PreparedPerson) -> set[Key]:
    keys: set[Key] = {(name, value) for name in IDENTIFIER_FIELDS if (value := person.identifiers[name])}
    if person.email:
        keys.add(("email", person.email))
        local = email_local_part(person.email)
        if len(local) >= MIN_LOCAL_PART_LENGTH:
            keys.add(("email_local", local))
    return keys


def _dated_keys(person: PreparedPerson) -> set[Key]:
    dob = person.record.dob
    if not dob:
        return set()
    dates = {person.dob_digits}
    if dob.day <= 12 and dob.day != dob.month:
        dates.add(dob_key(dob.replace(month=dob.day, day=dob.month)))
    initials = {initial for initial in (person.first[:1], person.last[:1]) if initial}
    keys: set[Key] = {("dob_initial", date, initial) for date in dates for initial in initials}
    if person.last:
        year = str(dob.year)
        keys.update(("names_year", canonical, person.last, year) for canonical in person.first_canonicals)
    return keys


def _name_keys(person: PreparedPerson, scope: str) -> set[Key]:
    if not person.last:
        return set()
    last_sound = soundex(person.last)
    keys: set[Key] = set()
    for canonical in person.first_canonicals:
        keys.add(("names", scope, canonical, person.last))
        keys.add(("names_soundex", scope, canonical, last_sound))
    if person.first:
        keys.add(("last_initial", scope, person.last, person.first[:1]))
        keys.add(("unordered_names", scope, *sorted((person.first, person.last))))
    return keys


def index_keys(clever: PreparedPerson) -> set[Key]:
    """The keys a Clever record is found under."""
    keys = _exact_keys(clever) | _dated_keys(clever) | _name_keys(clever, "")
    if not clever.record.dob:
        keys |= _name_keys(clever, UNDATED)
    return keys


def query_keys(product: PreparedPerson) -> set[Key]:
    """The keys a product record looks up."""
    keys = _exact_keys(product) | _dated_keys(product)
    return keys | _name_keys(product, UNDATED if product.record.dob else "")


def candidate_pairs(
    product: Sequence[PreparedPerson],
    clever: Sequence[PreparedPerson],
    *,
    max_block_size: int = 200,
) -> Iterator[tuple[int, list[int]]]:
    """Per product record (by index), the Clever indexes sharing a usable key with it."""
    clever_blocks: dict[Key, list[int]] = defaultdict(list)
    for index, person in enumerate(clever):
        for key in index_keys(person):
            clever_blocks[key].append(index)
    for product_index, person in enumerate(product):
        found: set[int] = set()
        for key in query_keys(person):
            block = clever_blocks.get(key)
            if block and len(block) <= max_block_size:
                found.update(block)
        yield product_index, list(found)
