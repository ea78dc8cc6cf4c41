"""Normalizers: turn raw values into the comparable forms every comparator and blocking key uses."""

import re
import unicodedata
from datetime import date
from functools import lru_cache

_NON_LETTERS = re.compile(r"[^a-z ]+")
_NON_ALNUM = re.compile(r"[^0-9A-Z]+")
_SPACES = re.compile(r"\s+")
# Generational suffixes say nothing about identity and are often dropped by one side.
_NAME_SUFFIXES = frozenset({"jr", "sr", "ii", "iii", "iv"})

_GRADE_WORDS = {
    "infanttoddler": -3,
    "preschool": -2,
    "prekindergarten": -1,
    "pk": -1,
    "transitionalkindergarten": 0,
    "tk": 0,
    "kindergarten": 0,
    "k": 0,
    "kg": 0,
    "postgraduate": 13,
}


def _ascii_lower(value: str) -> str:
    decomposed = unicodedata.normalize("NFKD", value)
    return "".join(char for char in decomposed if not unicodedata.combining(char)).lower()


def name_tokens(value: str) -> list[str]:
    """Lowercase ASCII letter runs, apostrophes dropped: "O'Brien-Smith Jr." -> obrien, smith, jr."""
    text = _ascii_lower(value or "").replace("'", "").replace("\u2019", "")
    return _NON_LETTERS.sub(" ", text).split()


# Names repeat a lot within a district; normalizing each distinct one once halves preparation time.
@lru_cache(maxsize=65_536)
def normalize_name(value: str) -> str:
    """A person's name as space-separated tokens without generational suffixes:
    "O'Brien-Smith Jr." -> "obrien smith"."""
    return " ".join(token for token in name_tokens(value) if token not in _NAME_SUFFIXES)


def normalize_email(value: str) -> str:
    """Lowercased and trimmed; Clever passes emails through unvalidated, some lack an "@"."""
    return _SPACES.sub("", (value or "").strip().lower())


def email_local_part(email: str) -> str:
    return email.split("@", 1)[0] if "@" in email else email


def normalize_identifier(value: str) -> str:
    """Uppercase alphanumerics without leading zeros, which spreadsheets often drop."""
    if not value:
        return ""
    return _NON_ALNUM.sub("", (value or "").upper()).lstrip("0")


def parse_grade(value: str) -> int | None:
    """Clever grade names and numbers as an ordinal (Kindergarten = 0); ``None`` when unknown."""
    text = _NON_LETTERS.sub("", _ascii_lower(value or "")) if not (value or "").strip().isdigit() else ""
    if text:
        return _GRADE_WORDS.get(text)
    digits = (value or "").strip()
    return int(digits) if digits.isdigit() else None


_SOUNDEX_CODES = {
    **dict.fromkeys("bfpv", "1"),
    **dict.fromkeys("cgjkqsxz", "2"),
    **dict.fromkeys("dt", "3"),
    "l": "4",
    **dict.fromkeys("mn", "5"),
    "r": "6",
}


def soundex(name: str) -> str:
    """American Soundex of a normalized name (spaces ignored): a blocking key that survives typos."""
    letters = name.replace(" ", "")
    if not letters:
        return ""
    code = letters[0].upper()
    previous = _SOUNDEX_CODES.get(letters[0], "")
    for char in letters[1:]:
        digit = _SOUNDEX_CODES.get(char, "")
        if digit and digit != previous:
            code += digit
            if len(code) == 4:
                break
        if char not in "hw":
            previous = digit
    return code.ljust(4, "0")


def dob_key(value: date | None) -> str:
    """YYYYMMDD, the form the one-edit date comparison works on."""
    return f"{value.year:04d}{value.month:02d}{value.day:02d}" if value else ""
