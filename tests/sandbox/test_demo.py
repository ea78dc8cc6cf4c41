"""Clever's recorded demo district, loaded as recorded (plus synthesized schools/terms/courses)."""

import json

import pytest

from sandbox import demo, services
from sandbox.generator.districts import district_counts
from sandbox.models import RecordType, SandboxDistrict, SandboxRecord, SandboxToken

pytestmark = pytest.mark.django_db


def recorded(name):
    payload = json.loads((demo.DATA_DIR / name).read_text(encoding="utf-8"))
    return [item["data"] for item in payload["data"]]


@pytest.fixture
def loaded():
    district, created = demo.load_demo()
    assert created
    return district


def test_counts_match_the_recording(loaded):
    assert loaded.id == demo.DEMO_DISTRICT_ID == "5a0c91b95c7cc000010d417c"
    assert loaded.name == "#DEMO_DISTRICT"
    counts = district_counts(loaded)
    assert counts["users"] == 2_098
    assert counts["students"] == 1_004
    assert counts["teachers"] == 89
    assert counts["district_admins"] == 3
    assert counts["contacts"] == 1_002
    assert counts["staff"] == 0
    assert counts["sections"] == 378
    assert counts["enrollments"] == sum(len(s["students"]) for s in recorded("sections.json"))
    # The synthesized records: one per referenced school, term and course ID.
    assert (counts["schools"], counts["terms"], counts["courses"]) == (5, 5, 343)


def test_users_and_sections_are_stored_exactly_as_recorded(loaded):
    bodies = dict(SandboxRecord.objects.filter(district=loaded).values_list("clever_id", "body"))
    for record in recorded("users.json") + recorded("sections.json"):
        assert json.loads(bodies[record["id"]]) == record
    district = recorded("districts.json")[0]
    body = services.district_body(loaded)
    for key, value in district.items():
        assert body[key] == value, key


def test_every_referenced_school_term_and_course_exists_and_says_synthesized(loaded):
    rows = SandboxRecord.objects.filter(district=loaded)
    ids = {
        t: {r.clever_id: json.loads(r.body) for r in rows.filter(record_type=t)}
        for t in (RecordType.SCHOOLS, RecordType.TERMS, RecordType.COURSES)
    }
    for section in recorded("sections.json"):
        assert section["school"] in ids[RecordType.SCHOOLS]
        assert section["term_id"] in ids[RecordType.TERMS]
        assert section["course"] in ids[RecordType.COURSES]
    for user in recorded("users.json"):
        for role in user["roles"].values():
            for school in role.get("schools", []):
                assert school in ids[RecordType.SCHOOLS]
    for group in ids.values():
        assert all("(synthesized)" in body["name"] for body in group.values())
    school = ids[RecordType.SCHOOLS]["5a25ff950a5f621109000004"]
    assert school["name"] == "Demo school 5a25ff950a5f621109000004 (synthesized)"
    course = ids[RecordType.COURSES]["5a25ff963829500a3400020f"]
    assert course["name"] == "Group Guidance (synthesized)"


def test_loading_twice_skips_and_keeps_the_token(loaded):
    token = services.district_token(loaded).access_token
    again, created = demo.load_demo()
    assert not created and again.id == loaded.id
    assert SandboxDistrict.objects.count() == 1
    assert SandboxRecord.objects.filter(district=loaded).count() == 2_098 + 378 + 5 + 5 + 343
    assert services.district_token(again).access_token == token


def test_replace_reloads_with_a_new_token(loaded):
    old = services.district_token(loaded).access_token
    services.rotate_district_token(district=loaded)  # state that a replace must not keep
    district, created = demo.load_demo(replace=True)
    assert created
    assert district_counts(district)["users"] == 2_098
    assert not SandboxToken.objects.filter(access_token=old).exists()
    assert SandboxToken.objects.filter(district=district, revoked_at__isnull=True).count() == 1
