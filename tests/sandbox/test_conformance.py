"""Every sandbox endpoint in Clever's Swagger files answers in the shape the files define.

A generated district (every kind of mess on) is served through each GET operation of
v3.0.yml and v3.1.yml, the Events files and the seven LMS Connect operations; each answer is
validated with tests/sandbox/swagger.py (records strictly, envelopes as Swagger does). The
recorded demo district is checked too, loosely, since Clever's own data has a field the spec
lacks. Documented exceptions: the per-item ``uri`` in list envelopes and ``previous_attributes``
inside an event's ``data``.
"""

import json
import re
from datetime import UTC, datetime, timedelta

import pytest
from django.test import Client

from sandbox import services
from sandbox.demo import load_demo
from sandbox.generator.districts import generate_district, load_district
from sandbox.models import SandboxDistrict, SandboxEdge, SandboxRecord

from .swagger import load_spec, response_schema, validate

SPECS = ["v3.0.yml", "v3.1.yml"]
EVENT_SPECS = {"v3.0": "v3.0-events.yml", "v3.1": "v3.1-events.yml"}


@pytest.fixture(scope="module")
def served(django_db_setup, django_db_blocker):
    """A generated Canvas district with events, loaded once for the module."""
    with django_db_blocker.unblock():
        generated = generate_district(seed=7, students=600, lms_type="canvas")
        district = load_district(generated)
        token = services.district_token(district).access_token
        ids = _pick_ids(district)
        _make_events(ids)
        yield {"district": district, "token": token, "ids": ids}
        SandboxDistrict.objects.filter(pk=district.pk).delete()


def _pick_ids(district) -> dict:
    contact_edge = (
        SandboxEdge.objects.filter(district=district, rel="students")
        .filter(
            src_id__in=SandboxRecord.objects.filter(district=district, is_contact=True).values("clever_id")
        )
        .first()
    )
    section = next(
        body
        for body in (
            json.loads(row.body)
            for row in SandboxRecord.objects.filter(district=district, record_type="sections").order_by(
                "clever_id"
            )
        )
        if body.get("lms_status", {}).get("synced_in_lms", True) and body.get("students")
    )
    return {
        "districts": district.id,
        "schools": section["school"],
        "terms": section["term_id"],
        "courses": section["course"],
        "sections": section["id"],
        "students": contact_edge.dst_id,
        "teachers": section["teacher"],
        "contacts": contact_edge.src_id,
    }


def _make_events(ids):
    services.update_record(clever_id=ids["students"], changes={"email": "renamed@example.org"})
    created = services.put_record(
        district=SandboxDistrict.objects.get(pk=ids["districts"]),
        record_type="courses",
        data={"name": "Conformance course", "number": "C-1"},
    )
    services.delete_record(clever_id=created["id"])


def _user_id_for(path: str, ids: dict) -> str:
    if "/mystudents" in path:
        return ids["teachers"]
    if "/mycontacts" in path or "/myteachers" in path:
        return ids["students"]
    return ids["teachers"]


def _concrete(path: str, ids: dict) -> str:
    collection = path.strip("/").split("/")[0]
    if "{id}" not in path:
        return path
    if collection == "users":
        return path.replace("{id}", _user_id_for(path, ids))
    if collection == "resources":
        return path.replace("{id}", "5f0000000000000000000000")  # the sandbox has no resources
    return path.replace("{id}", ids[collection])


def _get_operations(spec_name):
    for path, operations in load_spec(spec_name)["paths"].items():
        if "get" in operations:
            yield path


@pytest.mark.parametrize("spec_name", SPECS)
def test_every_data_api_operation_answers_in_the_spec_shape(served, spec_name):
    client = Client(HTTP_AUTHORIZATION=f"Bearer {served['token']}")
    version = "v3.0" if spec_name.startswith("v3.0") else "v3.1"
    checked = 0
    for path in _get_operations(spec_name):
        url = f"/sandbox/{version}{_concrete(path, served['ids'])}"
        response = client.get(url)
        expected = 404 if path.startswith("/resources/{id}") else 200
        assert response.status_code == expected, (url, response.content[:300])
        schema = response_schema(spec_name, path, "get", expected)
        body = response.json()
        validate(body, schema, spec_name)
        if expected == 200 and isinstance(body.get("data"), list) and "resources" not in path:
            assert body["data"], f"{url} served an empty list: the check would prove nothing"
            assert all(
                re.fullmatch(rf"/{version}/\w+/[0-9a-f]{{24}}", item["uri"]) for item in body["data"]
            ), url
        checked += 1
    assert checked == 42


@pytest.mark.parametrize("version", ["v3.0", "v3.1"])
def test_events_answer_in_the_spec_shape(served, version):
    spec_name = EVENT_SPECS[version]
    client = Client(HTTP_AUTHORIZATION=f"Bearer {served['token']}")
    listing = client.get(f"/sandbox/{version}/events")
    assert listing.status_code == 200
    body = listing.json()
    assert [item["data"]["type"] for item in body["data"]] == [
        "users.updated",
        "courses.created",
        "courses.deleted",
    ]
    validate(body, response_schema(spec_name, "/events", "get", 200), spec_name)
    first = body["data"][0]["data"]
    assert "previous_attributes" in first["data"], "the documented real-traffic placement"
    single = client.get(f"/sandbox/{version}/events/{first['id']}")
    validate(single.json(), response_schema(spec_name, "/events/{id}", "get", 200), spec_name)


def test_not_found_answers_in_the_spec_shape(served):
    client = Client(HTTP_AUTHORIZATION=f"Bearer {served['token']}")
    response = client.get("/sandbox/v3.0/users/5f0000000000000000000000")
    assert response.status_code == 404
    validate(response.json(), response_schema("v3.0.yml", "/users/{id}", "get", 404), "v3.0.yml")


def test_lms_connect_operations_answer_in_the_spec_shape(served):
    spec_name = "v3.1-lms.yml"
    client = Client(HTTP_AUTHORIZATION=f"Bearer {served['token']}")
    base = f"/sandbox/v3.1/sections/{served['ids']['sections']}/assignments"
    due = (datetime.now(UTC) + timedelta(days=7)).strftime("%Y-%m-%dT%H:%M:%SZ")
    created = client.post(
        base,
        json.dumps(
            {
                "title": "Fractions quiz",
                "description": "Ten questions",
                "due_date": due,
                "points_possible": 10,
                "grading_type": "points",
                "submission_types": ["text"],
                "max_attempts": 1,
            }
        ),
        content_type="application/json",
    )
    assert created.status_code == 200, created.content
    validate(
        created.json(),
        response_schema(spec_name, "/sections/{section_id}/assignments", "post", 200),
        spec_name,
    )
    assignment = f"{base}/{created.json()['data']['id']}"
    one = "/sections/{section_id}/assignments/{assignment_id}"
    validate(client.get(assignment).json(), response_schema(spec_name, one, "get", 200), spec_name)
    patched = client.patch(
        assignment, json.dumps({"title": "Fractions quiz (v2)"}), content_type="application/json"
    )
    validate(patched.json(), response_schema(spec_name, one, "patch", 200), spec_name)

    submissions = client.get(f"{assignment}/submissions?limit=2")
    assert submissions.status_code == 200
    validate(submissions.json(), response_schema(spec_name, f"{one}/submissions", "get", 200), spec_name)
    student = submissions.json()["data"][0]["user_id"]
    single = f"{one}/submissions/{{user_id}}"
    validate(
        client.get(f"{assignment}/submissions/{student}").json(),
        response_schema(spec_name, single, "get", 200),
        spec_name,
    )
    graded = client.patch(
        f"{assignment}/submissions/{student}",
        json.dumps({"grade_points": 9.5, "grade_comment": "Well done"}),
        content_type="application/json",
    )
    assert graded.status_code == 200, graded.content
    validate(graded.json(), response_schema(spec_name, single, "patch", 200), spec_name)

    invalid = client.post(base, json.dumps({"title": "No due date"}), content_type="application/json")
    assert invalid.status_code == 400
    validate(
        invalid.json(),
        response_schema(spec_name, "/sections/{section_id}/assignments", "post", 400),
        spec_name,
    )
    assert client.delete(assignment).status_code == 200


def test_the_recorded_demo_district_answers_in_the_spec_shape_loosely(db):
    """Clever's recording puts ``email`` inside ``roles.student``: valid Swagger, not strict."""
    district, _ = load_demo()
    client = Client(HTTP_AUTHORIZATION=f"Bearer {services.district_token(district).access_token}")
    for path in ("/users", "/sections", "/schools", "/terms", "/courses", "/districts"):
        body = client.get(f"/sandbox/v3.0{path}?limit=10000").json()
        validate(body, response_schema("v3.0.yml", path, "get", 200), "v3.0.yml", strict_records=False)
        assert body["data"]
