"""Comparators: levels for names, dates of birth, identifiers, emails, grades and schools."""

from datetime import date

from hypothesis import given
from hypothesis import strategies as st

from matching.engine.comparators import (
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

names = st.text(alphabet="abcdefghijklmnopqrstuvwxyz ", max_size=12)
dates = st.dates(min_value=date(1990, 1, 1), max_value=date(2025, 12, 31))
identifiers = st.text(alphabet="0123456789AB", max_size=8)


def test_first_names_exact_nickname_alternate_typo_initial_else_null():
    assert compare_first_name("william", "william") is Level.EXACT
    assert compare_first_name("bill", "william") is Level.NICKNAME
    assert compare_first_name("jo", "mary", second_alternates=frozenset({"jo"})) is Level.ALTERNATE_NAME
    assert compare_first_name("katherine", "catherine") is Level.JARO_WINKLER_HIGH
    assert compare_first_name("k", "kimberly") is Level.INITIAL
    assert compare_first_name("mary", "zoe") is Level.ELSE
    assert compare_first_name("", "zoe") is Level.NULL


def test_last_names_exact_typo_compound_else():
    assert compare_last_name("smith", "smith") is Level.EXACT
    assert compare_last_name("smith", "smyth") is Level.JARO_WINKLER_LOW
    assert compare_last_name("johnson", "jonhson") is Level.JARO_WINKLER_HIGH
    assert compare_last_name("garcia", "lopez garcia") is Level.TOKEN_OVERLAP
    assert compare_last_name("smith", "okafor") is Level.ELSE
    assert compare_last_name("smith", "") is Level.NULL


def test_swapped_names_are_recognised():
    assert names_swapped("smith", "anna", "anna", "smith")
    assert not names_swapped("anna", "smith", "anna", "smith")
    assert not names_swapped("anna", "", "", "anna")


def test_dates_of_birth_levels():
    born = date(2012, 3, 4)
    assert compare_dob(born, born) is Level.EXACT
    assert compare_dob(born, date(2012, 4, 3)) is Level.DAY_MONTH_SWAPPED
    assert compare_dob(born, date(2012, 3, 7)) is Level.ONE_EDIT
    assert compare_dob(born, date(2012, 3, 28)) is Level.WITHIN_MONTH
    assert compare_dob(born, date(2012, 11, 20)) is Level.WITHIN_YEAR
    assert compare_dob(born, date(2009, 11, 20)) is Level.ELSE
    assert compare_dob(born, None) is Level.NULL


def test_identifiers_exact_or_one_edit_when_long_enough():
    assert compare_identifier("123456", "123456") is Level.EXACT
    assert compare_identifier("123456", "123457") is Level.ONE_EDIT
    assert compare_identifier("12", "13") is Level.ELSE
    assert compare_identifier("123456", "") is Level.NULL


def test_emails_exact_same_local_part_else():
    assert compare_email("a.lee@x.org", "a.lee@x.org") is Level.EXACT
    assert compare_email("a.lee@x.org", "a.lee@new.org") is Level.SAME_LOCAL_PART
    assert compare_email("a.lee@x.org", "b.lee@x.org") is Level.ELSE
    assert compare_email("a.lee@x.org", "annlee77@gmail.com") is Level.OTHER_DOMAIN
    assert compare_email("a.lee@x.org", "annlee") is Level.OTHER_DOMAIN
    assert compare_email("", "b.lee@x.org") is Level.NULL


def test_grades_and_schools():
    assert compare_grade(3, 3) is Level.EXACT
    assert compare_grade(3, 4) is Level.ADJACENT
    assert compare_grade(3, 6) is Level.ELSE
    assert compare_grade(None, 6) is Level.NULL
    assert compare_schools(frozenset({"s1"}), frozenset({"s1", "s2"})) is Level.SHARED
    assert compare_schools(frozenset({"s1"}), frozenset({"s2"})) is Level.ELSE
    assert compare_schools(frozenset(), frozenset({"s2"})) is Level.NULL


@given(names, names)
def test_name_comparators_are_symmetric(first, second):
    assert compare_first_name(first, second) is compare_first_name(second, first)
    assert compare_last_name(first, second) is compare_last_name(second, first)


@given(st.none() | dates, st.none() | dates)
def test_dob_comparator_is_symmetric(first, second):
    assert compare_dob(first, second) is compare_dob(second, first)


@given(identifiers, identifiers)
def test_identifier_and_email_comparators_are_symmetric(first, second):
    assert compare_identifier(first, second) is compare_identifier(second, first)
    assert compare_email(first, second) is compare_email(second, first)


@given(names)
def test_a_value_compared_with_itself_is_exact_or_null(name):
    assert compare_first_name(name, name) in (Level.EXACT, Level.NULL)
    assert compare_last_name(name, name) in (Level.EXACT, Level.NULL)
