"""Clever record -> stored representation, hash, fingerprint and columns (no database)."""

from __future__ import annotations

import json
from datetime import date

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from clever.sensitive import DATE_OF_BIRTH, pop_listed, put_back
from rostering.selectors import birth_date
from rostering.services import mapping
from rostering.services.mapping import RECORD_TYPES

STUDENT = {
    "id": "5a25ffb0c1bc2a00360003ed",
    "district": "5a0c91b95c7cc000010d417c",
    "email": "z.steve@example.net",
    "name": {"first": "Steve", "middle": "G", "last": "Ziemann"},
    "roles": {
        "student": {
            "dob": "2/11/2007",
            "grade": "Kindergarten",
            "graduation_year": "2038",
            "school": "5a25ff950a5f621109000005",
            "schools": ["5a25ff950a5f621109000005"],
            "sis_id": "100095233",
            "state_id": "231786324",
            "student_number": "100095233",
            "credentials": {"district_username": "stevez33"},
            "legacy_id": "abc",
            "iep_status": "Y",
            "ell_status": "N",
            "disability": {"disability_status": "Y"},
            "gender": "M",
            "race": "Black or African American",
            "hispanic_ethnicity": "Y",
            "location": {"address": "", "city": "", "state": "", "zip": "10459"},
            "ext": {"birth_country": "Mexico"},
        }
    },
}
LISTED = {
    "roles.student.iep_status": "Y",
    "roles.student.disability": {"disability_status": "Y"},
    "roles.student.ell_status": "N",
    "roles.student.dob": "2/11/2007",
    "roles.student.gender": "M",
    "roles.student.race": "Black or African American",
    "roles.student.hispanic_ethnicity": "Y",
    "roles.student.ext": {"birth_country": "Mexico"},
    "roles.student.location": {"address": "", "city": "", "state": "", "zip": "10459"},
}
CONTACT = {
    "id": "5a25ffb0c1bc2a00360003ee",
    "name": {"first": "Ann", "last": "Ziemann"},
    "roles": {
        "contact": {
            "phone": "(212) 555-0101",
            "phone_type": "Cell",
            "sis_id": "c1",
            "student_relationships": [{"student": STUDENT["id"]}],
        }
    },
}


def copied(record: dict) -> dict:
    return json.loads(json.dumps(record))


def test_every_mirror_column_is_mapped():
    for record_type in RECORD_TYPES:
        names = [name for name, _kind in mapping.layout(record_type)]
        assert names[-1] == "raw"
        assert "fingerprint" in names


def test_listed_fields_are_popped_by_path_and_put_back():
    record = copied(STUDENT)
    assert pop_listed(record) == LISTED
    assert not set(record["roles"]["student"]) & {path.split(".")[2] for path in LISTED}
    assert put_back(record, LISTED) == STUDENT
    contact = copied(CONTACT)
    assert pop_listed(contact) == {
        "roles.contact.phone": "(212) 555-0101",
        "roles.contact.phone_type": "Cell",
    }
    assert pop_listed({"id": "t", "roles": {"teacher": {"sis_id": "1"}}}) is None


def test_prepare_keeps_the_date_of_birth_always_and_the_rest_only_when_allowed():
    default = mapping.prepare("users", copied(STUDENT), keep_sensitive=False)
    allowed = mapping.prepare("users", copied(STUDENT), keep_sensitive=True)
    assert default.sensitive == {DATE_OF_BIRTH.path: "2/11/2007"}
    assert allowed.sensitive == LISTED
    for prepared in (default, allowed):
        for value in ("iep_status", "2/11/2007", "Black or African American", "10459", "Mexico"):
            assert value not in prepared.raw_json
    assert default.raw_json == allowed.raw_json
    # The kept part changes the hash (keyed) without showing in it.
    assert default.content_hash != allowed.content_hash
    # A parent's phone: no feature needs it.
    assert mapping.prepare("users", copied(CONTACT), keep_sensitive=False).sensitive is None
    assert "555-0101" not in mapping.prepare("users", copied(CONTACT), keep_sensitive=True).raw_json


@pytest.mark.parametrize("keep_sensitive", [False, True])
def test_reshape_of_a_stored_row_is_what_prepare_makes_of_the_record(keep_sensitive):
    prepared = mapping.prepare("users", copied(STUDENT), keep_sensitive=keep_sensitive)
    again = mapping.reshape(json.loads(prepared.raw_json), prepared.sensitive, keep_sensitive=keep_sensitive)
    assert (again.raw_json, again.content_hash) == (prepared.raw_json, prepared.content_hash)
    assert again.sensitive == prepared.sensitive
    # A row stored by a mapping that left listed fields in ``raw`` loses them.
    legacy = mapping.reshape(copied(STUDENT), None, keep_sensitive=keep_sensitive)
    assert (legacy.raw_json, legacy.content_hash) == (prepared.raw_json, prepared.content_hash)


def test_the_content_hash_ignores_key_order_the_fingerprint_does_not():
    reordered = json.loads(json.dumps(STUDENT, sort_keys=True))
    a = mapping.prepare("users", copied(STUDENT), keep_sensitive=False)
    b = mapping.prepare("users", reordered, keep_sensitive=False)
    assert a.content_hash == b.content_hash
    assert a.fingerprint != b.fingerprint
    again = mapping.prepare("users", copied(STUDENT), keep_sensitive=False)
    assert again.fingerprint == a.fingerprint  # same record, same bytes
    changed = copied(STUDENT)
    changed["name"]["first"] = "Stephen"
    c = mapping.prepare("users", changed, keep_sensitive=False)
    assert c.content_hash != a.content_hash and c.fingerprint != a.fingerprint


def test_user_columns():
    fields = mapping.map_fields(
        "users", mapping.prepare("users", copied(STUDENT), keep_sensitive=True).record
    )
    assert fields["first_name"] == "Steve" and fields["last_name"] == "Ziemann"
    assert fields["is_student"] and not fields["is_teacher"]
    assert "dob" not in fields  # a sensitive field: never a column
    assert fields["district_username"] == "stevez33"
    assert fields["legacy_ids"] == {"student": "abc"}
    assert fields["school_clever_ids"] == ["5a25ff950a5f621109000005"]
    assert fields["_links"] == []


def test_messy_values_never_raise():
    record = {
        "id": "x1",
        "name": "not an object",
        "email": 42,
        "roles": {
            "student": {"dob": "13/45/2001", "grade": None, "schools": "oops"},
            "contact": {
                "student_relationships": [None, {"student": 3}, {"student": "s1"}, {"student": "s1"}]
            },
        },
    }
    prepared = mapping.prepare("users", record, keep_sensitive=False)
    fields = mapping.map_fields("users", prepared.record)
    assert fields["email"] == "42" and fields["first_name"] == ""
    assert birth_date(prepared.sensitive) is None and fields["grade"] == ""
    assert fields["_links"] == [["s1", "", ""]]
    for roles in ({"student": "oops", "contact": None}, "oops"):
        assert mapping.prepare("users", {"id": "x3", "roles": roles}, keep_sensitive=True).sensitive is None
    long = {"id": "x2", "name": "N" * 1000}
    assert len(mapping.map_fields("courses", long)["name"]) == 255


def test_sections_members_include_the_primary_teacher_once():
    section = {"id": "s", "teacher": "t0", "teachers": ["t1", "t1"], "students": ["a", "b", "a"]}
    assert mapping.section_members(section) == (["a", "b"], ["t0", "t1"])
    assert mapping.map_fields("sections", section)["primary_teacher_clever_id"] == "t0"
    assert mapping.primary_teacher({"teachers": ["t9"]}) == "t9"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2/11/2007", date(2007, 2, 11)),
        ("2025-08-18", date(2025, 8, 18)),
        ("2025-08-18T00:00:00.000Z", date(2025, 8, 18)),
        ("", None),
        ("2/30/2007", None),
        (None, None),
        ("soon", None),
    ],
)
def test_dates(text, expected):
    assert mapping.parse_date(text) == (expected.isoformat() if expected else None)


@pytest.mark.parametrize("record", [None, [], {"id": ""}, {"id": 5}, {"id": "x" * 25}, {}])
def test_records_without_a_usable_id_are_refused(record):
    with pytest.raises(mapping.InvalidRecord):
        mapping.prepare("users", record, keep_sensitive=False)


def test_nul_characters_are_dropped():
    prepared = mapping.prepare("courses", {"id": "c1", "name": "Ma\x00th"}, keep_sensitive=False)
    data = json.loads(mapping.staged_data(prepared))
    assert data[0] == "Math" and data[-1]["name"] == "Math"


def _stdlib_canonical(value) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=True)


# Clever's roster records hold no numbers with a fraction (see ``canonical_json`` for floats).
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)


@settings(max_examples=400, deadline=None)
@given(JSON_VALUES)
def test_canonical_json_is_the_standard_librarys_text(value):
    # Stored ``raw`` and content hashes were written by the standard library's encoder: the
    # faster one must give the same text, or every record would count as changed once.
    assert mapping.canonical_json(value) == _stdlib_canonical(value)


@pytest.mark.parametrize(
    "value",
    [
        {"name": "N\u00fa\u00f1ez", "b": 1},
        "\x7f",
        "\u2028",
        "\ud800",
        2**70,
        -(2**64),
        1e-7,
        1e16,
        0.5,
        "Anne-Marie",
        {"z": {"\u00e9": [1e-300, "\x00\x1f"]}, "a": None},
    ],
)
def test_canonical_json_falls_back_where_orjson_would_differ(value):
    assert mapping.canonical_json(value) == _stdlib_canonical(value)


@given(st.lists(st.floats(allow_nan=False, allow_infinity=False), max_size=6))
def test_floats_keep_their_value_and_always_get_the_same_text(values):
    text = mapping.canonical_json({"b": values, "a": 1})
    assert text.isascii() and text.startswith('{"a":1,"b":[')
    assert json.loads(text)["b"] == values
    assert mapping.canonical_json({"a": 1, "b": list(values)}) == text


@given(JSON_VALUES)
def test_staged_arrays_read_back_as_written(value):
    assert json.loads(mapping._compact([value, "Ma\u00eftre", "\ud800"])) == [value, "Ma\u00eftre", "\ud800"]
