"""A review item's candidate in plain words (matching.explain): sentences from the stored
contributions and the values the reader may see; no numbers, no engine words."""

import re

import pytest

from matching.explain import explain, likelihood


def contributions(*triples):
    return [{"field": field, "level": level, "weight": weight} for field, level, weight in triples]


JES = contributions(
    ("sis_id", "null", 0.0),
    ("state_id", "null", 0.0),
    ("number", "null", 0.0),
    ("legacy_id", "null", 0.0),
    ("dob", "exact", 9.3),
    ("last_name", "exact", 7.4),
    ("first_name", "else", -5.0),
    ("email", "null", 0.0),
    ("grade", "adjacent", 0.8),
    ("school", "null", 0.0),
)
PRODUCT = {
    "first_name": "Jes",
    "last_name": "Russell",
    "email": "",
    "dob": "Oct. 18, 2017",
    "grade": "1",
    "sis_id": "",
    "number": "",
    "state_id": "",
    "staff_id": "",
    "legacy_id": "",
    "school": "",
}
CLEVER = {
    "first_name": "Jessica",
    "last_name": "Russell",
    "email": "",
    "dob": "Oct. 18, 2017",
    "grade": "2",
    "sis_id": "745351792",
    "number": "745351792",
    "state_id": "1667638152",
    "staff_id": "",
    "legacy_id": "",
    "school": "Oxford Community School",
}


def test_the_issue_example_reads_as_plain_sentences():
    assert explain(JES, PRODUCT, CLEVER, role="student") == [
        "Same date of birth and last name.",
        "Grade one apart (a new school year?): 1 / 2.",
        "First name differs: Jes / Jessica.",
        "Not compared, only Clever has it: SIS ID, state ID, student number and school.",
    ]


def test_no_engine_words_and_no_numbers_reach_the_sentences():
    text = " ".join(explain(JES, PRODUCT, CLEVER, role="student"))
    for word in ("else", "null", "exact", "adjacent", "first_name", "bits", "-5.0", "9.3", "P ="):
        assert word not in text
    assert not re.search(r"\d\.\d", text)


def test_values_the_reader_may_not_see_are_never_in_a_sentence():
    product = {k: v for k, v in PRODUCT.items() if k != "dob"}
    clever = {k: v for k, v in CLEVER.items() if k != "dob"}
    off_by_days = contributions(
        ("dob", "within_month", -1.0), ("last_name", "exact", 7.0), ("number", "null", 0.0)
    )

    assert explain(off_by_days, product, clever) == [
        "Same last name.",
        "Dates of birth less than a month apart.",
        "Not compared, only Clever has it: student or teacher number.",
    ]
    shown = explain(off_by_days, {**product, "dob": "May 2, 2010"}, {**clever, "dob": "May 20, 2010"})
    assert "Dates of birth less than a month apart: May 2, 2010 / May 20, 2010." in shown
    missing = explain(contributions(("dob", "null", 0.0)), product, clever)
    assert missing == ["Not compared, missing on one side: date of birth."]


def test_agreements_come_strongest_first_then_close_then_different():
    found = explain(
        contributions(
            ("email", "exact", 3.0),
            ("first_name", "nickname", 4.0),
            ("last_name", "exact", 8.0),
            ("sis_id", "one_edit", 2.0),
            ("school", "else", -1.0),
            ("grade", "else", -2.0),
        ),
        {"first_name": "Bill", "sis_id": "12345", "grade": "3", "school": "Elm"},
        {"first_name": "William", "sis_id": "12354", "grade": "5", "school": "Oak"},
        role="teacher",
    )
    assert found == [
        "Same last name and email.",
        "First name: one is a nickname of the other (Bill / William).",
        "SIS ID one character apart (a typo?): 12345 / 12354.",
        "Different schools.",
        "Grade differs: 3 / 5.",
    ]


def test_swapped_names_are_said_once_and_vetoes_first():
    found = explain(
        contributions(
            ("first_name", "names_swapped", 2.0), ("last_name", "names_swapped", 2.0), ("dob", "else", -9.0)
        ),
        {},
        {},
        vetoes=["dob_years_apart"],
    )
    assert found == [
        "The dates of birth are more than a year apart: never linked automatically.",
        "First and last names are swapped.",
        "Date of birth differs.",
    ]


def test_the_number_is_named_after_the_role():
    one = contributions(("number", "exact", 6.0))
    assert explain(one, {}, {}, role="student") == ["Same student number."]
    assert explain(one, {}, {}, role="teacher") == ["Same teacher number."]


@pytest.mark.parametrize(
    ("probability", "words"),
    [
        (0.999, "almost certainly the same person"),
        (0.95, "very likely the same person"),
        (0.8766, "likely the same person"),
        (0.6, "possibly the same person"),
        (0.3, "unlikely to be the same person"),
        (0.01, "almost certainly not the same person"),
    ],
)
def test_how_sure_in_words(probability, words):
    assert likelihood(probability) == words
