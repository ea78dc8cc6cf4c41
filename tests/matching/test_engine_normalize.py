"""Normalizers and the nickname table: the forms every comparator and blocking key relies on."""

from datetime import date

from matching.engine.nicknames import are_nicknames, canonical_names
from matching.engine.normalize import (
    dob_key,
    email_local_part,
    normalize_email,
    normalize_identifier,
    normalize_name,
    parse_grade,
    soundex,
)


def test_names_lose_case_accents_punctuation_and_suffixes():
    assert normalize_name("  O'Brien-Smith Jr. ") == "obrien smith"
    assert normalize_name("José") == "jose"
    assert normalize_name("") == ""


def test_emails_are_trimmed_and_lowercased_even_without_an_at_sign():
    assert normalize_email(" Ann.Lee@District.ORG ") == "ann.lee@district.org"
    assert normalize_email("annlee") == "annlee"
    assert email_local_part("ann.lee@district.org") == "ann.lee"
    assert email_local_part("annlee") == "annlee"


def test_identifiers_ignore_punctuation_case_and_leading_zeros():
    assert normalize_identifier(" 00-123a ") == "123A"
    assert normalize_identifier("000") == ""


def test_grades_read_clever_names_and_numbers():
    assert parse_grade("Kindergarten") == 0
    assert parse_grade("PreKindergarten") == -1
    assert parse_grade("10") == 10
    assert parse_grade("Other") is None
    assert parse_grade("") is None


def test_soundex_codes_sound_alike_names_alike():
    assert soundex("robert") == soundex("rupert") == "R163"
    assert soundex("tymczak") == "T522"
    assert soundex("") == ""


def test_dob_key_is_yyyymmdd():
    assert dob_key(date(2012, 3, 4)) == "20120304"
    assert dob_key(None) == ""


def test_nicknames_share_a_canonical_name_in_either_direction():
    assert are_nicknames("bill", "william")
    assert are_nicknames("william", "bill")
    assert are_nicknames("billy", "bill")
    assert not are_nicknames("bill", "mary")
    assert canonical_names("zyxw") == frozenset({"zyxw"})
    assert canonical_names("") == frozenset()
