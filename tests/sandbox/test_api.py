"""The sandbox's Data API (v3.0, v3.1) and /me, as api.clever.com answers them."""

import json
from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from sandbox import services
from sandbox.ids import new_id
from sandbox.knobs import KNOBS
from sandbox.models import RecordType, Sharing, TokenKind
from sandbox.transport import InProcessAdapter
from tests.sandbox.swagger import response_schema, validate

BASE = "/sandbox"


# --- a small district ---------------------------------------------------------------------------


@dataclass
class World:
    district: object
    token: str
    ids: dict[str, str]

    def __getitem__(self, name):
        return self.ids[name]


def _student(sid, name, schools, **v31):
    return {
        "id": sid,
        "email": f"{name.lower()}@example.net",
        "name": {"first": name, "last": "Pupil", "middle": ""},
        "created": "2021-03-02T22:24:53.347Z",
        "last_modified": "2021-03-02T22:24:53.347Z",
        "lms_status": {"synced_in_lms": True},
        "roles": {
            "student": {
                "credentials": {"district_username": name.lower()},
                "dob": "2/11/2012",
                "enrollments": [],
                "gender": "F",
                "grade": "5",
                "school": schools[0],
                "schools": schools,
                "sis_id": f"s-{name}",
                "student_number": f"n-{name}",
                "frl_status": "Free",
                "iep_status": "Y",
                "home_language": "Spanish",
                **v31,
            }
        },
    }


def _teacher(tid, name, schools, *extra_roles):
    roles = {
        "teacher": {
            "sis_id": f"t-{name}",
            "school": schools[0],
            "schools": schools,
            "credentials": {"district_username": name.lower()},
        }
    }
    if "staff" in extra_roles:
        roles["staff"] = {"staff_id": f"st-{name}", "schools": schools, "roles": []}
    return {
        "id": tid,
        "email": f"{name.lower()}@school.example",
        "roles": roles,
        "name": {"first": name, "last": "Teach"},
    }


def build_world(name="Springfield USD") -> World:
    """2 schools, 1 term, 2 courses, 3 teachers (one also staff), a district admin, 6 students,
    a contact, 3 sections. Ids ascend in the order they are listed here."""
    district = services.create_district(name=name, lms_type="canvas")
    names = [
        "school1",
        "school2",
        "term1",
        "course1",
        "course2",
        "teacherA",
        "teacherB",
        "teacherC",
        "admin",
        "st1",
        "st2",
        "st3",
        "st4",
        "st5",
        "st6",
        "contact",
        "sec1",
        "sec2",
        "sec3",
    ]
    ids = {n: new_id() for n in names}
    s1, s2 = ids["school1"], ids["school2"]
    items = [
        ("schools", {"id": s1, "name": "Evergreen Elementary", "sis_id": "1"}),
        ("schools", {"id": s2, "name": "Springfield Middle", "sis_id": "2"}),
        (
            "terms",
            {"id": ids["term1"], "name": "2025-26", "start_date": "2025-08-25", "end_date": "2026-06-15"},
        ),
        ("courses", {"id": ids["course1"], "name": "Math 5", "number": "M5"}),
        ("courses", {"id": ids["course2"], "name": "Science 6", "number": "S6"}),
        ("users", _teacher(ids["teacherA"], "Ann", [s1])),
        ("users", _teacher(ids["teacherB"], "Bob", [s1, s2], "staff")),
        ("users", _teacher(ids["teacherC"], "Cat", [s2])),
        (
            "users",
            {
                "id": ids["admin"],
                "name": {"first": "Dee", "last": "Admin"},
                "roles": {"district_admin": {"title": "Superintendent"}},
            },
        ),
        ("users", _student(ids["st1"], "Ada", [s1])),
        ("users", _student(ids["st2"], "Ben", [s1])),
        ("users", _student(ids["st3"], "Cy", [s1, s2])),
        ("users", _student(ids["st4"], "Dot", [s2])),
        ("users", _student(ids["st5"], "Eve", [s2])),
        ("users", _student(ids["st6"], "Fay", [s1])),
        (
            "users",
            {
                "id": ids["contact"],
                "name": {"last": "Parent Pupil"},
                "roles": {
                    "contact": {
                        "phone": "",
                        "phone_type": "Cell",
                        "student_relationships": [
                            {"student": ids["st1"], "relationship": "Parent", "type": "Parent/Guardian"},
                            {"student": ids["st2"], "relationship": "Parent", "type": "Parent/Guardian"},
                        ],
                    }
                },
            },
        ),
        (
            "sections",
            {
                "id": ids["sec1"],
                "name": "Math 5 - Ann",
                "school": s1,
                "term_id": ids["term1"],
                "course": ids["course1"],
                "teacher": ids["teacherA"],
                "teachers": [ids["teacherA"]],
                "students": [ids["st1"], ids["st2"], ids["st3"]],
                "lms_status": {"synced_in_lms": False},
            },
        ),
        (
            "sections",
            {
                "id": ids["sec2"],
                "name": "Science 6 - Bob",
                "school": s2,
                "term_id": ids["term1"],
                "course": ids["course2"],
                "teacher": ids["teacherB"],
                "teachers": [ids["teacherB"], ids["teacherA"]],
                "students": [ids["st4"], ids["st5"]],
            },
        ),
        (
            "sections",
            {
                "id": ids["sec3"],
                "name": "Math 5 - Bob",
                "school": s1,
                "term_id": ids["term1"],
                "course": ids["course1"],
                "teacher": ids["teacherB"],
                "teachers": [ids["teacherB"]],
                "students": [ids["st6"]],
            },
        ),
    ]
    services.bulk_load(district=district, items=items)
    return World(district=district, token=services.district_token(district).access_token, ids=ids)


@pytest.fixture
def world(db):
    return build_world()


def auth(token):
    return {"HTTP_AUTHORIZATION": f"Bearer {token}"}


def get(client, token, uri, **params):
    return client.get(BASE + uri, params, **auth(token))


def ok(client, token, uri, **params):
    response = get(client, token, uri, **params)
    assert response.status_code == 200, (uri, response.status_code, response.content[:300])
    assert response["Content-Type"] == "application/json; charset=utf-8"
    return response.json()


def ids_of(body):
    return [item["data"]["id"] for item in body["data"]]


def link(body, rel):
    found = [entry["uri"] for entry in body["links"] if entry["rel"] == rel]
    assert len(found) <= 1
    return found[0] if found else None


def assert_not_found(response):
    assert response.status_code == 404
    assert response.json() == {"message": "Resource not found"}


# --- envelopes ----------------------------------------------------------------------------------


def test_a_list_has_clevers_envelope_with_a_uri_per_item(client, world):
    body = ok(client, world.token, "/v3.0/users", limit=10000)

    assert set(body) == {"data", "links"}
    assert body["links"] == [{"rel": "self", "uri": "/v3.0/users?limit=10000"}]
    assert len(body["data"]) == 11
    for item in body["data"]:
        assert set(item) == {"data", "uri"}
        assert item["uri"] == f"/v3.0/users/{item['data']['id']}"
        assert item["data"]["district"] == world.district.id
    assert ids_of(body) == sorted(ids_of(body))
    validate(body, response_schema("v3.0.yml", "/users", "get", 200), "v3.0.yml")


def test_every_collection_lists_its_records_in_id_order(client, world):
    expected = {
        "schools": ["school1", "school2"],
        "terms": ["term1"],
        "courses": ["course1", "course2"],
        "sections": ["sec1", "sec2", "sec3"],
    }
    for collection, names in expected.items():
        for version, spec in (("v3.0", "v3.0.yml"), ("v3.1", "v3.1.yml")):
            body = ok(client, world.token, f"/{version}/{collection}")
            assert ids_of(body) == [world[n] for n in names]
            assert body["data"][0]["uri"] == f"/{version}/{collection}/{world[names[0]]}"
            validate(body, response_schema(spec, f"/{collection}", "get", 200), spec)


def test_a_single_record_has_data_and_a_self_link(client, world):
    body = ok(client, world.token, f"/v3.1/sections/{world['sec1']}")

    assert body["links"] == [{"rel": "self", "uri": f"/v3.1/sections/{world['sec1']}"}]
    assert body["data"]["id"] == world["sec1"]
    assert body["data"]["students"] == [world["st1"], world["st2"], world["st3"]]
    validate(body, response_schema("v3.1.yml", "/sections/{id}", "get", 200), "v3.1.yml")


def test_unknown_and_other_districts_records_are_404(client, world):
    other = build_world("Shelbyville USD")

    assert_not_found(get(client, world.token, "/v3.0/users/" + "0" * 24))
    assert_not_found(get(client, world.token, f"/v3.0/users/{other['st1']}"))
    assert_not_found(get(client, world.token, f"/v3.0/sections/{world['st1']}"))  # wrong type
    assert_not_found(get(client, world.token, f"/v3.0/districts/{other.district.id}"))
    assert_not_found(get(client, world.token, f"/v3.0/sections/{other['sec1']}/users"))
    assert world["st1"] not in ids_of(ok(client, other.token, "/v3.0/users"))


def test_districts_list_only_the_tokens_district_in_either_version(client, world):
    build_world("Shelbyville USD")
    v30 = ok(client, world.token, "/v3.0/districts")
    v31 = ok(client, world.token, "/v3.1/districts")
    single = ok(client, world.token, f"/v3.0/districts/{world.district.id}")

    assert ids_of(v30) == ids_of(v31) == [world.district.id]
    assert v30["data"][0]["uri"] == f"/v3.0/districts/{world.district.id}"
    assert v30["links"] == [{"rel": "self", "uri": "/v3.0/districts"}]
    assert v30["data"][0]["data"]["name"] == "Springfield USD"
    assert "lms_type" not in v30["data"][0]["data"]
    assert v31["data"][0]["data"]["lms_type"] == "canvas"
    assert v31["data"][0]["data"]["lms_state"] == "success"
    assert single["data"] == v30["data"][0]["data"]
    validate(v30, response_schema("v3.0.yml", "/districts", "get", 200), "v3.0.yml")
    validate(v31, response_schema("v3.1.yml", "/districts", "get", 200), "v3.1.yml")


def test_v30_omits_v31_only_fields_and_v31_serves_them(client, world):
    v30 = ok(client, world.token, f"/v3.0/users/{world['st1']}")["data"]
    v31 = ok(client, world.token, f"/v3.1/users/{world['st1']}")["data"]
    sec30 = ok(client, world.token, "/v3.0/sections")["data"][0]["data"]
    sec31 = ok(client, world.token, "/v3.1/sections")["data"][0]["data"]

    for field in ("frl_status", "iep_status", "home_language"):
        assert field not in v30["roles"]["student"]
    assert "lms_status" not in v30
    assert "lms_status" not in sec30
    assert v31["roles"]["student"]["frl_status"] == "Free"
    assert v31["roles"]["student"]["iep_status"] == "Y"
    assert v31["lms_status"] == {"synced_in_lms": True}
    assert sec31["lms_status"] == {"synced_in_lms": False}
    assert v30["roles"]["student"]["grade"] == v31["roles"]["student"]["grade"] == "5"


def test_resources_are_an_empty_well_formed_list(client, world):
    body = ok(client, world.token, "/v3.0/resources")
    nested = ok(client, world.token, f"/v3.0/users/{world['st1']}/resources")

    assert body == {"data": [], "links": [{"rel": "self", "uri": "/v3.0/resources"}]}
    assert nested["data"] == []
    assert_not_found(get(client, world.token, "/v3.0/resources/" + "1" * 24))
    validate(body, response_schema("v3.0.yml", "/resources", "get", 200), "v3.0.yml")


# --- paging -------------------------------------------------------------------------------------


@pytest.fixture
def many_users(world):
    """250 more students, on top of the world's 11 users."""
    made = [new_id() for _ in range(250)]
    services.bulk_load(
        district=world.district,
        items=[("users", _student(uid, f"P{n}", [world["school1"]])) for n, uid in enumerate(made)],
    )
    return made


def test_following_next_links_collects_every_id_once_in_order(client, world, many_users):
    expected = sorted(
        [*many_users, *(world[n] for n in world.ids if n.startswith(("st", "teacher", "admin", "contact")))]
    )
    uri, pages, seen = "/v3.0/users?limit=100", [], []
    while uri:
        body = ok(client, world.token, uri)
        pages.append(body)
        seen += ids_of(body)
        uri = link(body, "next")

    assert len(pages) == 3
    assert seen == expected
    assert len(set(seen)) == len(seen) == 261
    # The cursor is the last id; limit is kept.
    assert link(pages[0], "next") == f"/v3.0/users?limit=100&starting_after={seen[99]}"
    assert link(pages[0], "prev") is None
    assert link(pages[1], "prev") == f"/v3.0/users?limit=100&ending_before={seen[100]}"
    assert link(pages[2], "next") is None
    assert len(pages[2]["data"]) == 61


def test_default_limit_is_100(client, world, many_users):
    body = ok(client, world.token, "/v3.1/users")

    assert len(body["data"]) == 100
    assert link(body, "next") == f"/v3.1/users?starting_after={ids_of(body)[-1]}"


def test_ending_before_returns_the_records_just_before_in_ascending_order(client, world, many_users):
    everything = ids_of(ok(client, world.token, "/v3.0/users", limit=1000))
    pivot = everything[150]

    body = ok(client, world.token, "/v3.0/users", limit=50, ending_before=pivot)

    assert ids_of(body) == everything[100:150]
    assert link(body, "prev") == f"/v3.0/users?limit=50&ending_before={everything[100]}"
    assert link(body, "next") == f"/v3.0/users?limit=50&starting_after={everything[149]}"
    # Following prev all the way back reaches the first record.
    uri, before = link(body, "prev"), []
    while uri:
        page = ok(client, world.token, uri)
        before = ids_of(page) + before
        uri = link(page, "prev")
    assert before == everything[:100]


def test_the_next_link_keeps_the_role_filter(client, world, many_users):
    first = ok(client, world.token, "/v3.0/users", role="student", limit=200)
    second = ok(client, world.token, link(first, "next"))

    assert link(first, "next") == f"/v3.0/users?role=student&limit=200&starting_after={ids_of(first)[-1]}"
    assert len(first["data"]) + len(second["data"]) == 256
    assert link(second, "next") is None


@pytest.mark.parametrize(
    ("limit", "status"), [("10001", 413), ("abc", 400), ("0", 400), ("-5", 400), ("2.5", 400)]
)
def test_bad_limits_are_refused_with_a_message(client, world, limit, status):
    response = get(client, world.token, "/v3.0/users", limit=limit)

    assert response.status_code == status
    assert set(response.json()) == {"message"}


def test_the_largest_limit_is_accepted(client, world):
    assert len(ok(client, world.token, "/v3.0/users", limit=10000)["data"]) == 11


def test_count(client, world, many_users):
    body = ok(client, world.token, "/v3.0/users", count="true")
    students = ok(client, world.token, "/v3.0/users", count="true", role="student")
    districts = ok(client, world.token, "/v3.0/districts", count="true")

    assert body == {"count": 261, "links": [{"rel": "self", "uri": "/v3.0/users?count=true"}]}
    assert students["count"] == 256
    assert districts["count"] == 1
    assert ok(client, world.token, "/v3.0/sections", count="true")["count"] == 3


# --- filters and nested endpoints ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("role", "expected"),
    [
        ("student", ["st1", "st2", "st3", "st4", "st5", "st6"]),
        ("teacher", ["teacherA", "teacherB", "teacherC"]),
        ("staff", ["teacherB"]),
        ("district_admin", ["admin"]),
        ("contact", ["contact"]),
    ],
)
def test_users_role_filter(client, world, role, expected):
    body = ok(client, world.token, "/v3.1/users", role=role)

    assert ids_of(body) == [world[n] for n in expected]
    for item in body["data"]:
        assert role in item["data"]["roles"]


def test_an_unknown_role_is_a_400(client, world):
    response = get(client, world.token, "/v3.0/users", role="principal")

    assert response.status_code == 400
    assert "role" in response.json()["message"]


NESTED_LISTS = [
    ("/users/{st1}/sections", "sections", ["sec1"]),
    ("/users/{teacherA}/sections", "sections", ["sec1", "sec2"]),
    ("/users/{teacherB}/schools", "schools", ["school1", "school2"]),
    ("/users/{st3}/schools", "schools", ["school1", "school2"]),
    ("/users/{teacherA}/mystudents", "users", ["st1", "st2", "st3", "st4", "st5"]),
    ("/users/{contact}/mystudents", "users", ["st1", "st2"]),
    ("/users/{st4}/myteachers", "users", ["teacherA", "teacherB"]),
    ("/users/{st1}/mycontacts", "users", ["contact"]),
    ("/users/{st3}/mycontacts", "users", []),
    ("/sections/{sec2}/users", "users", ["teacherA", "teacherB", "st4", "st5"]),
    ("/sections/{sec2}/users?role=student", "users", ["st4", "st5"]),
    ("/sections/{sec2}/users?role=teacher", "users", ["teacherA", "teacherB"]),
    ("/schools/{school1}/users", "users", ["teacherA", "teacherB", "st1", "st2", "st3", "st6"]),
    ("/schools/{school2}/users?role=student", "users", ["st3", "st4", "st5"]),
    ("/schools/{school2}/users?role=teacher", "users", ["teacherB", "teacherC"]),
    ("/schools/{school1}/users?role=staff", "users", ["teacherB"]),
    ("/schools/{school1}/sections", "sections", ["sec1", "sec3"]),
    ("/schools/{school1}/terms", "terms", ["term1"]),
    ("/schools/{school1}/courses", "courses", ["course1"]),
    ("/schools/{school2}/courses", "courses", ["course2"]),
    ("/terms/{term1}/sections", "sections", ["sec1", "sec2", "sec3"]),
    ("/terms/{term1}/schools", "schools", ["school1", "school2"]),
    ("/courses/{course1}/sections", "sections", ["sec1", "sec3"]),
    ("/courses/{course2}/schools", "schools", ["school2"]),
]


@pytest.mark.parametrize(("template", "item_type", "expected"), NESTED_LISTS)
def test_nested_lists(client, world, template, item_type, expected):
    uri = "/v3.0" + template.format(**world.ids)

    body = ok(client, world.token, uri)

    assert ids_of(body) == [world[n] for n in expected]
    for item in body["data"]:
        assert item["uri"] == f"/v3.0/{item_type}/{item['data']['id']}"
    assert link(body, "self") == uri
    swagger_path = "/" + "/".join(
        "{id}" if n == 2 else part for n, part in enumerate(template.split("?")[0].split("/")[1:], 1)
    )
    validate(body, response_schema("v3.0.yml", swagger_path, "get", 200), "v3.0.yml")


def test_nested_lists_page_too(client, world):
    first = ok(client, world.token, f"/v3.0/schools/{world['school1']}/users", limit=4)
    second = ok(client, world.token, link(first, "next"))

    assert ids_of(first) + ids_of(second) == [
        world[n] for n in ["teacherA", "teacherB", "st1", "st2", "st3", "st6"]
    ]
    assert link(second, "prev") == (
        f"/v3.0/schools/{world['school1']}/users?limit=4&ending_before={world['st3']}"
    )
    assert ok(client, world.token, f"/v3.0/sections/{world['sec1']}/users", count="true")["count"] == 4


def test_nested_lists_of_an_unknown_parent_or_relation_are_404(client, world):
    assert_not_found(get(client, world.token, "/v3.0/users/" + "0" * 24 + "/sections"))
    assert_not_found(get(client, world.token, f"/v3.0/users/{world['st1']}/friends"))
    assert_not_found(get(client, world.token, f"/v3.0/sections/{world['st1']}/users"))
    bad_role = get(client, world.token, f"/v3.0/sections/{world['sec1']}/users", role="staff")
    assert bad_role.status_code == 400


SINGLE_RELATIONS = [
    ("/sections/{sec2}/school", "school2"),
    ("/sections/{sec2}/term", "term1"),
    ("/sections/{sec2}/course", "course2"),
]


@pytest.mark.parametrize(("template", "expected"), SINGLE_RELATIONS)
def test_single_related_records(client, world, template, expected):
    uri = "/v3.1" + template.format(**world.ids)

    body = ok(client, world.token, uri)

    assert body["data"]["id"] == world[expected]
    assert body["links"] == [{"rel": "self", "uri": uri}]


@pytest.mark.parametrize("parent", ["sec1", "school1", "st1", "term1", "course1"])
def test_a_records_district(client, world, parent):
    collection = {"sec": "sections", "sch": "schools", "st1": "users", "ter": "terms", "cou": "courses"}[
        parent[:3] if parent != "st1" else "st1"
    ]
    v30 = ok(client, world.token, f"/v3.0/{collection}/{world[parent]}/district")
    v31 = ok(client, world.token, f"/v3.1/{collection}/{world[parent]}/district")

    assert v30["data"]["id"] == v31["data"]["id"] == world.district.id
    assert "lms_type" not in v30["data"]
    assert v31["data"]["lms_type"] == "canvas"
    assert_not_found(get(client, world.token, f"/v3.0/{collection}/{'0' * 24}/district"))


def test_a_section_without_a_term_has_no_term(client, world):
    sid = new_id()
    services.put_record(
        district=world.district,
        record_type=RecordType.SECTIONS,
        data={"id": sid, "name": "No term", "school": world["school1"]},
    )

    assert_not_found(get(client, world.token, f"/v3.0/sections/{sid}/term"))
    assert ok(client, world.token, f"/v3.0/sections/{sid}/school")["data"]["id"] == world["school1"]


# --- token kinds --------------------------------------------------------------------------------


def sso_token(world, user):
    return services.issue_token(district=world.district, kind=TokenKind.SSO, user_id=world[user]).access_token


def teacher_token(world, user):
    return services.issue_token(
        district=world.district, kind=TokenKind.TEACHER, user_id=world[user]
    ).access_token


def test_an_sso_token_sees_only_the_user_their_district_and_their_schools(client, world):
    token = sso_token(world, "st3")

    assert ok(client, token, f"/v3.0/users/{world['st3']}")["data"]["id"] == world["st3"]
    assert ok(client, token, f"/v3.0/districts/{world.district.id}")["data"]["id"] == world.district.id
    assert ok(client, token, f"/v3.1/schools/{world['school2']}")["data"]["id"] == world["school2"]
    for uri in [
        f"/v3.0/users/{world['st1']}",
        "/v3.0/users",
        "/v3.0/users?limit=1",
        "/v3.0/schools",
        "/v3.0/districts",
        "/v3.0/sections",
        f"/v3.0/sections/{world['sec1']}",
        f"/v3.0/users/{world['st3']}/sections",
        f"/v3.0/users/{world['st3']}/district",
        f"/v3.0/schools/{world['school2']}/users",
        "/v3.0/events",
    ]:
        assert_not_found(get(client, token, uri))


def test_an_sso_token_cannot_read_a_school_that_is_not_theirs(client, world):
    token = sso_token(world, "st1")

    assert_not_found(get(client, token, f"/v3.0/schools/{world['school2']}"))
    assert ok(client, token, f"/v3.0/schools/{world['school1']}")["data"]["id"] == world["school1"]


def test_a_teacher_token_sees_their_sections_and_those_students(client, world):
    token = teacher_token(world, "teacherB")

    assert ids_of(ok(client, token, "/v3.0/sections")) == [world["sec2"], world["sec3"]]
    assert ids_of(ok(client, token, f"/v3.0/users/{world['teacherB']}/sections")) == [
        world["sec2"],
        world["sec3"],
    ]
    assert ids_of(ok(client, token, "/v3.0/users", role="student")) == [
        world["st4"],
        world["st5"],
        world["st6"],
    ]
    assert ids_of(ok(client, token, "/v3.0/users")) == [
        world["teacherB"],
        world["st4"],
        world["st5"],
        world["st6"],
    ]
    # A co-teacher of sec2 is not one of the token's students.
    assert ids_of(ok(client, token, f"/v3.0/sections/{world['sec2']}/users")) == [
        world["teacherB"],
        world["st4"],
        world["st5"],
    ]
    assert ok(client, token, f"/v3.1/users/{world['st6']}")["data"]["id"] == world["st6"]
    assert ok(client, token, f"/v3.1/users/{world['teacherB']}")["data"]["id"] == world["teacherB"]
    assert ok(client, token, f"/v3.0/sections/{world['sec3']}")["data"]["id"] == world["sec3"]
    assert ok(client, token, f"/v3.0/districts/{world.district.id}")["data"]["id"] == (world.district.id)
    assert ok(client, token, "/v3.0/users", count="true")["count"] == 4


def test_a_teacher_token_sees_nothing_else(client, world):
    token = teacher_token(world, "teacherB")

    for uri in [
        f"/v3.0/users/{world['st1']}",  # a student of another teacher
        f"/v3.0/users/{world['teacherA']}",
        f"/v3.0/sections/{world['sec1']}",
        f"/v3.0/sections/{world['sec1']}/users",
        f"/v3.0/schools/{world['school1']}",
        "/v3.0/schools",
        "/v3.0/terms",
        "/v3.0/courses",
        "/v3.0/districts",
        f"/v3.0/sections/{world['sec3']}/school",
        f"/v3.0/users/{world['teacherB']}/mystudents",
        f"/v3.0/users/{world['teacherB']}/schools",
        "/v3.0/events",
    ]:
        assert_not_found(get(client, token, uri))


def test_me_for_a_district_token(client, world):
    for uri in ("/me", "/v3.0/me"):
        body = ok(client, world.token, uri)
        assert body == {
            "type": "district",
            "data": {
                "id": world.district.id,
                "district": world.district.id,
                "type": "district",
                "authorized_by": "district",
            },
            "links": [
                {"rel": "self", "uri": "/me"},
                {"rel": "canonical", "uri": f"/v3.0/districts/{world.district.id}"},
                {"rel": "district", "uri": f"/v3.0/districts/{world.district.id}"},
            ],
        }


def test_me_for_an_sso_token(client, world):
    token = sso_token(world, "st2")

    for uri in ("/me", "/v3.0/me"):
        body = ok(client, token, uri)
        assert body == {
            "type": "user",
            "data": {
                "id": world["st2"],
                "district": world.district.id,
                "type": "user",
                "authorized_by": "district",
            },
            "links": [
                {"rel": "self", "uri": "/me"},
                {"rel": "canonical", "uri": f"/v3.0/users/{world['st2']}"},
                {"rel": "district", "uri": f"/v3.0/districts/{world.district.id}"},
            ],
        }
    v31 = ok(client, token, "/v3.1/me")
    assert link(v31, "canonical") == f"/v3.1/users/{world['st2']}"
    # The canonical link leads to the user's record with the same token.
    assert ok(client, token, link(body, "canonical"))["data"]["id"] == world["st2"]


def test_me_for_a_teacher_token_is_authorized_by_the_teacher(client, world):
    body = ok(client, teacher_token(world, "teacherA"), "/v3.0/me")

    assert body["type"] == "user"
    assert body["data"] == {
        "id": world["teacherA"],
        "district": world.district.id,
        "type": "user",
        "authorized_by": "teacher",
    }


def test_me_in_a_library_district_is_authorized_by_the_teacher(client, db):
    library = services.create_district(name="Library", sharing=Sharing.LIBRARY)
    token = services.issue_token(district=library, kind=TokenKind.SSO, user_id=new_id())

    assert ok(client, token.access_token, "/me")["data"]["authorized_by"] == "teacher"


# --- auth, rate limit, faults -------------------------------------------------------------------


def test_missing_unknown_and_revoked_tokens_are_401(client, world):
    assert client.get(BASE + "/v3.0/users").status_code == 401
    assert get(client, "not-a-token", "/v3.0/users").status_code == 401
    services.revoke_token(access_token=world.token)

    response = get(client, world.token, "/v3.0/users")

    assert response.status_code == 401
    assert "message" in response.json()


def test_a_disconnected_districts_token_is_401(client, world):
    sso = sso_token(world, "st1")
    services.disconnect_district(district=world.district)

    assert get(client, world.token, "/v3.0/users").status_code == 401
    assert get(client, sso, "/me").status_code == 401


def test_rate_limit_gives_429_with_headers_and_resets_next_minute(client, world, fake_clock):
    fake_clock.now = 1_700_000_080.0  # 20 s before the minute turns
    KNOBS.rate_limit_per_minute = 3

    statuses = [get(client, world.token, "/v3.0/schools").status_code for _ in range(3)]
    limited = get(client, world.token, "/v3.0/schools")

    assert statuses == [200, 200, 200]
    assert limited.status_code == 429
    assert limited.json() == {"message": "Rate limit exceeded"}
    assert limited["X-Ratelimit-Limit"] == "3"
    assert limited["X-Ratelimit-Remaining"] == "0"
    assert limited["X-Ratelimit-Reset"] == "1700000100"
    assert limited["X-Ratelimit-Bucket"]
    # Another token has its own window.
    assert get(client, sso_token(world, "st1"), "/me").status_code == 200
    fake_clock.now = 1_700_000_100.0
    again = get(client, world.token, "/v3.0/schools")
    assert again.status_code == 200
    assert again["X-Ratelimit-Remaining"] == "2"


def test_successful_answers_carry_rate_limit_headers(client, world):
    response = get(client, world.token, "/v3.0/users")

    assert response["X-Ratelimit-Limit"] == "1200"
    assert response["X-Ratelimit-Remaining"] == "1199"


def test_an_injected_status_fault_hits_only_the_chosen_request(client, world):
    KNOBS.add_fault("status", on_request=2, status=503)

    first = get(client, world.token, "/v3.0/users")
    second = get(client, world.token, "/v3.0/users")
    third = get(client, world.token, "/v3.0/users")

    assert [first.status_code, second.status_code, third.status_code] == [200, 503, 200]
    assert set(second.json()) == {"message"}
    assert first.json() == third.json()


def test_html_and_malformed_json_faults(client, world):
    KNOBS.add_fault("html", status=502)
    html = get(client, world.token, "/v3.0/users")
    KNOBS.add_fault("malformed_json")
    broken = get(client, world.token, "/v3.0/users")

    assert html.status_code == 502
    assert html["Content-Type"].startswith("text/html")
    assert b"<html" in html.content
    assert broken.status_code == 200
    with pytest.raises(json.JSONDecodeError):
        json.loads(broken.content)
    assert get(client, world.token, "/v3.0/users").status_code == 200


def test_writes_are_not_allowed(client, world):
    response = client.post(BASE + "/v3.0/users", {}, **auth(world.token))

    assert response.status_code == 405


def test_the_in_process_transport_serves_the_same_pages(world):
    session = requests.Session()
    session.mount("http://testserver", InProcessAdapter())
    session.headers["Authorization"] = f"Bearer {world.token}"

    response = session.get("http://testserver/sandbox/v3.0/users", params={"limit": 5, "role": "student"})
    body = response.json()
    following = session.get("http://testserver/sandbox" + link(body, "next")).json()

    assert response.status_code == 200
    assert ids_of(body) + ids_of(following) == [world[f"st{n}"] for n in range(1, 7)]
    query = parse_qs(urlsplit(link(body, "next")).query)
    assert query == {"limit": ["5"], "role": ["student"], "starting_after": [world["st5"]]}
