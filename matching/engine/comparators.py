"""Comparators: each maps two normalized values to a comparison level (best level first).

Names use Jaro-Winkler levels at 0.92 and 0.88 (splink's defaults); identifiers are exact or one
edit apart (Jaro-Winkler overweights prefixes, which identifiers do not have); dates of birth
also recognise day and month swapped and one-digit typos. Every comparator is symmetric.
"""

from datetime import date
from enum import StrEnum

from rapidfuzz.distance import OSA, JaroWinkler, Levenshtein

from .nicknames import canonical_names
from .normalize import dob_key

JARO_WINKLER_HIGH = 0.92
JARO_WINKLER_LOW = 0.88
# Below this length a one-edit identifier agreement is mostly coincidence.
MIN_FUZZY_IDENTIFIER_LENGTH = 4
MIN_LOCAL_PART_LENGTH = 3


class Level(StrEnum):
    EXACT = "exact"
    NICKNAME = "nickname"
    ALTERNATE_NAME = "alternate_name"
    NAMES_SWAPPED = "names_swapped"
    JARO_WINKLER_HIGH = "jaro_winkler_0.92"
    JARO_WINKLER_LOW = "jaro_winkler_0.88"
    TOKEN_OVERLAP = "token_overlap"
    INITIAL = "initial"
    DAY_MONTH_SWAPPED = "day_month_swapped"
    ONE_EDIT = "one_edit"
    WITHIN_MONTH = "within_month"
    WITHIN_YEAR = "within_year"
    SAME_LOCAL_PART = "same_local_part"
    OTHER_DOMAIN = "other_domain"
    ADJACENT = "adjacent"
    SHARED = "shared"
    ELSE = "else"
    NULL = "null"


def _jaro_winkler_level(first: str, second: str) -> Level | None:
    similarity = JaroWinkler.normalized_similarity(first, second, score_cutoff=JARO_WINKLER_LOW)
    if similarity >= JARO_WINKLER_HIGH:
        return Level.JARO_WINKLER_HIGH
    if similarity >= JARO_WINKLER_LOW:
        return Level.JARO_WINKLER_LOW
    return None


def compare_first_name(
    first: str,
    second: str,
    first_canonicals: frozenset[str] | None = None,
    second_canonicals: frozenset[str] | None = None,
    first_alternates: frozenset[str] = frozenset(),
    second_alternates: frozenset[str] = frozenset(),
) -> Level:
    """Exact, nickname-equivalent (shared canonical name), one side's first name is the other's
    middle or preferred name, Jaro-Winkler levels, an initial agreeing, else. Canonical names
    are looked up when not given (callers comparing many pairs pass them precomputed)."""
    if not first or not second:
        return Level.NULL
    if first == second:
        return Level.EXACT
    if first_canonicals is None:
        first_canonicals = canonical_names(first)
    if second_canonicals is None:
        second_canonicals = canonical_names(second)
    if first_canonicals & second_canonicals:
        return Level.NICKNAME
    if first in second_alternates or second in first_alternates:
        return Level.ALTERNATE_NAME
    level = _jaro_winkler_level(first, second)
    if level:
        return level
    if (len(first) == 1 or len(second) == 1) and first[0] == second[0]:
        return Level.INITIAL
    return Level.ELSE


def compare_last_name(first: str, second: str) -> Level:
    """Exact, Jaro-Winkler levels, a shared token of a compound name ("garcia lopez"), else."""
    if not first or not second:
        return Level.NULL
    if first == second:
        return Level.EXACT
    level = _jaro_winkler_level(first, second)
    if level:
        return level
    if " " in first or " " in second:
        shared = set(first.split()) & set(second.split())
        if any(len(token) > 1 for token in shared):
            return Level.TOKEN_OVERLAP
    return Level.ELSE


def names_swapped(first_a: str, last_a: str, first_b: str, last_b: str) -> bool:
    """First and last name exchanged between the two sides (each pair at least Jaro-Winkler high)."""
    if not (first_a and last_a and first_b and last_b) or first_a == last_a:
        return False
    return (
        JaroWinkler.normalized_similarity(first_a, last_b) >= JARO_WINKLER_HIGH
        and JaroWinkler.normalized_similarity(last_a, first_b) >= JARO_WINKLER_HIGH
    )


def compare_dob(
    first: date | None, second: date | None, first_digits: str = "", second_digits: str = ""
) -> Level:
    """Exact, day and month swapped, one digit typo or transposition in YYYYMMDD, within a month,
    within a year, else. The YYYYMMDD forms may be passed in precomputed."""
    if first is None or second is None:
        return Level.NULL
    if first == second:
        return Level.EXACT
    if first.year == second.year and first.month == second.day and first.day == second.month:
        return Level.DAY_MONTH_SWAPPED
    if OSA.distance(first_digits or dob_key(first), second_digits or dob_key(second), score_cutoff=1) <= 1:
        return Level.ONE_EDIT
    days_apart = abs((first - second).days)
    if days_apart <= 31:
        return Level.WITHIN_MONTH
    if days_apart <= 366:
        return Level.WITHIN_YEAR
    return Level.ELSE


def compare_identifier(first: str, second: str) -> Level:
    if not first or not second:
        return Level.NULL
    if first == second:
        return Level.EXACT
    if (
        min(len(first), len(second)) >= MIN_FUZZY_IDENTIFIER_LENGTH
        and Levenshtein.distance(first, second, score_cutoff=1) <= 1
    ):
        return Level.ONE_EDIT
    return Level.ELSE


def compare_email(first: str, second: str) -> Level:
    """Exact; same local part at another domain (the district changed its domain); another
    domain altogether (a personal address beside a district one: weak evidence); else, another
    address at the same domain (strong evidence of another person)."""
    if not first or not second:
        return Level.NULL
    if first == second:
        return Level.EXACT
    local_first, _at, domain_first = first.partition("@")
    local_second, _at, domain_second = second.partition("@")
    if len(local_first) >= MIN_LOCAL_PART_LENGTH and local_first == local_second:
        return Level.SAME_LOCAL_PART
    if domain_first != domain_second:
        return Level.OTHER_DOMAIN
    return Level.ELSE


def compare_grade(first: int | None, second: int | None) -> Level:
    """Exact or one apart (the product may lag a year-end rollover), else."""
    if first is None or second is None:
        return Level.NULL
    if first == second:
        return Level.EXACT
    return Level.ADJACENT if abs(first - second) == 1 else Level.ELSE


def compare_schools(first: frozenset[str], second: frozenset[str]) -> Level:
    if not first or not second:
        return Level.NULL
    return Level.SHARED if first & second else Level.ELSE
