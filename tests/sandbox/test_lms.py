"""LMS Connect in the local Clever: /v3.1/sections/{id}/assignments and submissions."""

import json
import re
import uuid
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import pytest

from sandbox import services as sbx
from sandbox.ids import new_id
from sandbox.lms import gradebook
from sandbox.lms.lookups import MSG_NO_LMS
from sandbox.lms.submissions import MSG_EXPIRED_CURSOR
from sandbox.models import SandboxLmsAssignment, SandboxLmsSubmission, TokenKind

BASE = "/sandbox"


def iso_at(clock, **delta) -> str:
    moment = datetime.fromtimestamp(clock.now, UTC) + timedelta(**delta)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.000Z")


class World:
    """A district with one school, a teacher, N students and a section holding them."""

    def __init__(
        self,
        client,
        clock,
        *,
        lms_type="canvas",
        lms_state=None,
        students=5,
        section_lms_status=True,
        name="Test USD",
        unmatched_students=0,
    ):
        self.client = client
        self.clock = clock
        self.district = sbx.create_district(name=name, lms_type=lms_type, lms_state=lms_state)
        self.token = sbx.district_token(self.district).access_token
        self.school_id = new_id()
        self.teacher_id = new_id()
        self.student_ids = [new_id() for _ in range(students)]
        self.section_id = new_id()
        section = {
            "id": self.section_id,
            "district": self.district.id,
            "name": "Algebra 1",
            "school": self.school_id,
            "students": list(reversed(self.student_ids)),  # stored order is not served order
            "teachers": [self.teacher_id],
            "subject": "math",
        }
        if section_lms_status is not None:
            section["lms_status"] = {"synced_in_lms": section_lms_status}
        items = [
            ("schools", {"id": self.school_id, "name": "North High"}),
            (
                "users",
                {
                    "id": self.teacher_id,
                    "name": {"first": "Tess", "last": "Cher"},
                    "roles": {"teacher": {"school": self.school_id, "schools": [self.school_id]}},
                },
            ),
        ]
        for n, student_id in enumerate(self.student_ids):
            user = {
                "id": student_id,
                "name": {"first": f"Stu{n}", "last": "Dent"},
                "roles": {"student": {"school": self.school_id, "schools": [self.school_id]}},
            }
            if n < unmatched_students:
                user["lms_status"] = {"synced_in_lms": False}
            items.append(("users", user))
        items.append(("sections", section))
        sbx.bulk_load(district=self.district, items=items)

    # -- HTTP helpers --
    def call(self, method, path, body=None, raw=None, token=None):
        headers = {"Authorization": f"Bearer {token or self.token}"}
        data = raw if raw is not None else (b"" if body is None else json.dumps(body))
        return self.client.generic(
            method, BASE + path, data=data, content_type="application/json", headers=headers
        )

    def assignments_path(self, section_id=None):
        return f"/v3.1/sections/{section_id or self.section_id}/assignments"

    def assignment_path(self, assignment_id, section_id=None):
        return f"{self.assignments_path(section_id)}/{assignment_id}"

    def valid_request(self, **extra):
        body = {
            "title": "Chapter 3 quiz",
            "description": "Linear equations",
            "due_date": iso_at(self.clock, days=7),
            "points_possible": 10,
            "grading_type": "points",
            "submission_types": ["text"],
            "max_attempts": 1,
        }
        body.update(extra)
        return body

    def create(self, **extra):
        response = self.call("POST", self.assignments_path(), self.valid_request(**extra))
        assert response.status_code == 200, response.content
        return response.json()["data"]


@pytest.fixture
def world(db, client, fake_clock):
    return World(client, fake_clock)


def make_world(client, clock, **options):
    return World(client, clock, **options)


# --- lifecycle -------------------------------------------------------------------------------


def test_create_get_patch_delete(world):
    created = world.create()
    assert uuid.UUID(created["id"])
    assert created["title"] == "Chapter 3 quiz"
    assert created["description"] == "Linear equations"
    assert created["due_date"] == iso_at(world.clock, days=7)
    assert created["points_possible"] == 10
    assert created["state"] == "open"
    assert created["assignee_mode"] == "all"
    assert created["created"] == created["last_modified"] == iso_at(world.clock)
    assert created["display_date"] is None  # x-nullable: present, null
    assert "assignee_ids" not in created  # x-omitempty: absent when empty

    path = world.assignment_path(created["id"])
    got = world.call("GET", path)
    assert got.status_code == 200
    assert got.json() == {"data": created}

    world.clock.now += 60
    patched = world.call("PATCH", path, {"title": "Chapter 3 quiz (v2)", "points_possible": 20})
    assert patched.status_code == 200, patched.content
    data = patched.json()["data"]
    assert data["title"] == "Chapter 3 quiz (v2)"
    assert data["points_possible"] == 20
    assert data["description"] == "Linear equations"  # untouched fields stay
    assert data["last_modified"] == iso_at(world.clock)
    assert data["created"] == created["created"]
    assert world.call("GET", path).json()["data"]["title"] == "Chapter 3 quiz (v2)"

    deleted = world.call("DELETE", path)
    assert deleted.status_code == 200
    assert deleted.content == b""
    assert world.call("GET", path).status_code == 404
    assert world.call("GET", f"{path}/submissions").status_code == 404
    assert not SandboxLmsSubmission.objects.filter(assignment_id=created["id"]).exists()


def test_unknown_assignment_and_foreign_section_are_404(world, client, fake_clock):
    created = world.create()
    for bad in ("not-a-uuid", str(uuid.uuid4())):
        response = world.call("GET", world.assignment_path(bad))
        assert response.status_code == 404
        assert response.json() == {"message": "assignment not found"}
    other = make_world(client, fake_clock, name="Other USD")
    # Another district's section, with this district's token: not found.
    response = world.call("POST", world.assignments_path(other.section_id), world.valid_request())
    assert response.status_code == 404
    assert response.json() == {"message": "section not found"}
    # This district's assignment, with the other district's token: not found either.
    response = other.call("GET", world.assignment_path(created["id"]))
    assert response.status_code == 404


def test_needs_a_live_district_token(world):
    assert (
        world.call("POST", world.assignments_path(), world.valid_request(), token="nope").status_code == 401
    )
    user_token = sbx.issue_token(district=world.district, kind=TokenKind.SSO, user_id=world.teacher_id)
    response = world.call(
        "POST", world.assignments_path(), world.valid_request(), token=user_token.access_token
    )
    assert response.status_code == 404
    assert not SandboxLmsAssignment.objects.exists()


def test_list_endpoint_does_not_exist(world):
    response = world.call("GET", world.assignments_path())
    assert response.status_code == 405
    assert response["Allow"] == "POST"


def test_v30_paths_do_not_exist(world):
    created = world.create()
    v30 = world.assignments_path().replace("/v3.1/", "/v3.0/")
    assert world.call("POST", v30, world.valid_request()).status_code == 404
    assert world.call("GET", f"{v30}/{created['id']}").status_code == 404
    assert world.call("GET", f"{v30}/{created['id']}/submissions").status_code == 404
    assert SandboxLmsAssignment.objects.count() == 1


def test_lms_requests_count_against_the_rate_limit(world, sandbox_knobs):
    sandbox_knobs.rate_limit_per_minute = 2
    assert world.call("POST", world.assignments_path(), world.valid_request()).status_code == 200
    assert world.call("POST", world.assignments_path(), world.valid_request()).status_code == 200
    third = world.call("POST", world.assignments_path(), world.valid_request())
    assert third.status_code == 429
    assert third["X-Ratelimit-Remaining"] == "0"
    assert SandboxLmsAssignment.objects.count() == 2


# --- submissions -------------------------------------------------------------------------------


def test_a_submission_for_every_student_in_user_id_order(world):
    created = world.create()
    response = world.call("GET", world.assignment_path(created["id"]) + "/submissions")
    assert response.status_code == 200
    body = response.json()
    assert "links" not in body  # one page: no links at all
    items = body["data"]
    assert [s["user_id"] for s in items] == sorted(world.student_ids)
    for item in items:
        assert "data" not in item  # items are not wrapped
        assert item["assignment_id"] == created["id"]
        assert item["state"] == "created"
        assert item["grade"] is None
        assert "grade_points" not in item
        assert re.fullmatch(r"[0-9a-f]{24}", item["id"])  # Canvas keeps submission ids
    assert world.teacher_id not in {s["user_id"] for s in items}


def test_students_who_join_later_get_no_submission(world):
    created = world.create()
    late = new_id()
    sbx.put_record(
        district=world.district,
        record_type="users",
        data={"id": late, "roles": {"student": {"school": world.school_id}}},
    )
    sbx.update_record(clever_id=world.section_id, changes={"students": [*world.student_ids, late]})
    users = {s.user_id for s in SandboxLmsSubmission.objects.filter(assignment_id=created["id"])}
    assert users == set(world.student_ids)


def test_students_not_matched_in_the_lms_get_no_submission(client, db, fake_clock):
    world = make_world(client, fake_clock, unmatched_students=1)
    created = world.create()
    items = world.call("GET", world.assignment_path(created["id"]) + "/submissions").json()
    assert [s["user_id"] for s in items["data"]] == sorted(world.student_ids[1:])


def test_individual_assignees(world):
    chosen = sorted(world.student_ids)[:2]
    created = world.create(assignee_mode="individuals", assignee_ids=chosen)
    assert created["assignee_ids"] == chosen
    items = world.call("GET", world.assignment_path(created["id"]) + "/submissions").json()
    assert [s["user_id"] for s in items["data"]] == chosen

    missing = world.call("POST", world.assignments_path(), world.valid_request(assignee_mode="individuals"))
    assert missing.json() == {"message": "assignee_ids is required when assignee_mode is individuals"}
    stranger = world.call(
        "POST",
        world.assignments_path(),
        world.valid_request(assignee_mode="individuals", assignee_ids=[world.teacher_id]),
    )
    assert stranger.status_code == 400
    assert world.teacher_id in stranger.json()["message"]


def test_paging_with_cursor_over_three_pages(client, db, fake_clock):
    world = make_world(client, fake_clock, students=7)
    created = world.create()
    path = world.assignment_path(created["id"]) + "/submissions?limit=3"
    seen, pages = [], 0
    while path:
        response = world.call("GET", path)
        assert response.status_code == 200, response.content
        body = response.json()
        pages += 1
        seen += [s["user_id"] for s in body["data"]]
        links = body.get("links")
        if links is None:
            path = None
        else:
            assert [link["rel"] for link in links] == ["next"]
            uri = links[0]["uri"]
            assert uri.startswith(
                f"/v3.1/sections/{world.section_id}/assignments/{created['id']}/submissions?"
            )
            assert parse_qs(urlsplit(uri).query)["limit"] == ["3"]
            path = uri
    assert pages == 3
    assert seen == sorted(world.student_ids)

    everything = world.call("GET", world.assignment_path(created["id"]) + "/submissions")
    assert len(everything.json()["data"]) == 7  # default limit: 100

    one = world.call("GET", world.assignment_path(created["id"]) + "/submissions?limit=1")
    assert len(one.json()["data"]) == 1
    hundred = world.call("GET", world.assignment_path(created["id"]) + "/submissions?limit=100")
    assert hundred.status_code == 200


@pytest.mark.parametrize(
    ("limit", "message"),
    [
        ("0", "limit in query should be greater than or equal to 1"),
        ("101", "limit in query should be less than or equal to 100"),
        ("ten", 'strconv.ParseInt: parsing "ten": invalid syntax'),
    ],
)
def test_limit_out_of_range(world, limit, message):
    created = world.create()
    response = world.call("GET", world.assignment_path(created["id"]) + f"/submissions?limit={limit}")
    assert response.status_code == 400
    assert response.json() == {"message": message}


def _next_uri(world, assignment_id, limit=2):
    body = world.call("GET", world.assignment_path(assignment_id) + f"/submissions?limit={limit}").json()
    return body["links"][0]["uri"]


def test_cursor_expires_after_two_hours(world):
    created = world.create()
    uri = _next_uri(world, created["id"])
    world.clock.now += 2 * 60 * 60 - 1
    assert world.call("GET", uri).status_code == 200
    world.clock.now += 2
    response = world.call("GET", uri)
    assert response.status_code == 400
    assert response.json() == {"message": MSG_EXPIRED_CURSOR}


def test_forged_cursor_is_refused(world):
    created = world.create()
    uri = _next_uri(world, created["id"])
    cursor = parse_qs(urlsplit(uri).query)["cursor"][0]
    forged = cursor[:-2] + ("AA" if not cursor.endswith("AA") else "BB")
    base = world.assignment_path(created["id"]) + "/submissions"
    for bad in (forged, "garbage", cursor.replace(":", "")):
        response = world.call("GET", f"{base}?cursor={bad}&limit=2")
        assert response.status_code == 400
        assert response.json() == {"message": "invalid cursor"}
    # A genuine cursor of another assignment is no good here either.
    other = world.create(title="Other")
    response = world.call("GET", world.assignment_path(other["id"]) + f"/submissions?cursor={cursor}&limit=2")
    assert response.json() == {"message": "invalid cursor"}


def test_patch_submission_grades_it(world):
    created = world.create()
    student = sorted(world.student_ids)[0]
    path = world.assignment_path(created["id"]) + f"/submissions/{student}"
    world.clock.now += 30
    response = world.call(
        "PATCH",
        path,
        {
            "grade": "9/10",
            "grade_points": 9.5,
            "grade_comment": "Nice work",
            "flags": ["late"],
            "state": "returned",
            "grader_id": world.teacher_id,
        },
    )
    assert response.status_code == 200, response.content
    data = response.json()["data"]
    assert data["grade"] == "9/10"
    assert data["grade_points"] == 9.5
    assert data["grade_comment"] == "Nice work"
    assert data["flags"] == ["late"]
    assert data["state"] == "returned"
    assert data["grader_id"] == world.teacher_id
    assert data["last_modified"] == iso_at(world.clock)
    assert world.call("GET", path).json()["data"] == data

    # A zero is dropped from the JSON, as Clever's x-omitempty grade_points is.
    zero = world.call("PATCH", path, {"grade_points": 0, "grade": "0"}).json()["data"]
    assert "grade_points" not in zero
    assert zero["grade"] == "0"
    assert zero["grade_comment"] == "Nice work"  # absent fields stay

    assert (
        world.call(
            "GET", world.assignment_path(created["id"]) + f"/submissions/{world.teacher_id}"
        ).status_code
        == 404
    )


def test_teacher_edit_in_the_lms_reads_back(world):
    created = world.create()
    student = sorted(world.student_ids)[1]
    world.call(
        "PATCH",
        world.assignment_path(created["id"]) + f"/submissions/{student}",
        {"grade": "7", "grade_points": 7},
    )
    world.clock.now += 3600
    gradebook.teacher_edit_submission(
        assignment_id=created["id"], user_id=student, grade="8", grade_points=8.5, grade_comment="Regraded"
    )
    got = world.call("GET", world.assignment_path(created["id"]) + f"/submissions/{student}")
    data = got.json()["data"]
    assert (data["grade"], data["grade_points"], data["grade_comment"]) == ("8", 8.5, "Regraded")
    assert data["last_modified"] == iso_at(world.clock)
    listed = world.call("GET", world.assignment_path(created["id"]) + "/submissions").json()
    assert {s["user_id"]: s.get("grade") for s in listed["data"]}[student] == "8"


def test_student_submit_marks_late_after_due_date(world):
    created = world.create()
    student = sorted(world.student_ids)[0]
    world.clock.now += 8 * 24 * 3600
    gradebook.student_submit(assignment_id=created["id"], user_id=student)
    data = world.call("GET", world.assignment_path(created["id"]) + f"/submissions/{student}").json()["data"]
    assert data["state"] == "submitted"
    assert data["flags"] == ["late"]


# --- validation (Clever's messages) -------------------------------------------------------------


def _post_raw(world, raw):
    return world.call("POST", world.assignments_path(), raw=raw)


def test_empty_body(world):
    response = _post_raw(world, b"")
    assert response.status_code == 400
    assert response.json() == {"message": "request body is required, but was empty"}


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b',{"title": "x"}', "invalid character ',' looking for beginning of value"),
        (b'{"title": "x",}', "invalid character '}' looking for beginning of object key string"),
        (b'{"title" "x"}', "invalid character '\"' after object key"),
        (b'{"title": tru}', "invalid character '}' in literal true (expecting 'e')"),
        (b'{"title": "x"', "unexpected EOF"),
        (b"  ", "EOF"),
        (
            b'{"title": 5}',
            "json: cannot unmarshal number into Go struct field AssignmentRequest.title of type string",
        ),
        (b"[]", "json: cannot unmarshal array into Go value of type models.AssignmentRequest"),
        (
            b'{"due_date": "next week"}',
            'parsing time "next week" as "2006-01-02T15:04:05Z07:00": cannot parse "next week" as "2006"',
        ),
    ],
)
def test_invalid_json_uses_go_messages(world, raw, message):
    response = _post_raw(world, raw)
    assert response.status_code == 400
    assert response.json() == {"message": message}
    assert not SandboxLmsAssignment.objects.exists()


@pytest.mark.parametrize(
    ("drop", "missing"),
    [
        (("title", "description", "due_date"), "title, description, due_date"),
        (("description",), "description"),
        (("title", "due_date"), "title, due_date"),
    ],
)
def test_missing_required_fields(world, drop, missing):
    body = world.valid_request()
    for key in drop:
        del body[key]
    response = world.call("POST", world.assignments_path(), body)
    assert response.status_code == 400
    assert response.json() == {"message": f"missing required field(s): {missing}"}


def test_null_body_misses_everything(world):
    response = _post_raw(world, b"null")
    assert response.json() == {"message": "missing required field(s): title, description, due_date"}


def test_due_date_must_be_in_the_future(world):
    response = world.call(
        "POST", world.assignments_path(), world.valid_request(due_date=iso_at(world.clock, seconds=-1))
    )
    assert response.status_code == 400
    assert response.json() == {"message": "due_date must be in the future"}
    created = world.create()
    patch = world.call(
        "PATCH", world.assignment_path(created["id"]), {"due_date": iso_at(world.clock, days=-1)}
    )
    assert patch.json() == {"message": "due_date must be in the future"}
    # Once the due date passed, other fields can still be edited.
    world.clock.now += 30 * 24 * 3600
    later = world.call("PATCH", world.assignment_path(created["id"]), {"title": "Renamed"})
    assert later.status_code == 200


@pytest.mark.parametrize(
    ("extra", "line"),
    [
        (
            {"submission_types": ["paper"]},
            "submission_types.0 in body should be one of [link file text discussion]",
        ),
        (
            {"grading_type": "stars"},
            "grading_type in body should be one of [points percent pass_fail letter_grade]",
        ),
        ({"state": "published"}, "state in body should be one of [draft scheduled open locked]"),
        ({"assignee_mode": "some"}, "assignee_mode in body should be one of [all individuals]"),
    ],
)
def test_assignment_enum_validation(world, extra, line):
    response = world.call("POST", world.assignments_path(), world.valid_request(**extra))
    assert response.status_code == 400
    assert response.json() == {"message": f"validation failure list:\n{line}"}


def test_several_enum_failures_are_listed_in_property_order(world):
    response = world.call(
        "POST",
        world.assignments_path(),
        world.valid_request(submission_types=["text", "video"], grading_type="stars"),
    )
    assert response.json() == {
        "message": (
            "validation failure list:\n"
            "grading_type in body should be one of [points percent pass_fail letter_grade]\n"
            "submission_types.1 in body should be one of [link file text discussion]"
        )
    }


@pytest.mark.parametrize(
    ("body", "line"),
    [
        ({"state": "graded"}, "state in body should be one of [created submitted returned reclaimed]"),
        ({"flags": ["late", "absent"]}, "flags.1 in body should be one of [excused late missing]"),
    ],
)
def test_submission_enum_validation(world, body, line):
    created = world.create()
    student = world.student_ids[0]
    response = world.call("PATCH", world.assignment_path(created["id"]) + f"/submissions/{student}", body)
    assert response.status_code == 400
    assert response.json() == {"message": f"validation failure list:\n{line}"}


def test_patch_submission_with_empty_body(world):
    created = world.create()
    response = world.call(
        "PATCH", world.assignment_path(created["id"]) + f"/submissions/{world.student_ids[0]}", raw=b""
    )
    assert response.json() == {"message": "request body is required, but was empty"}


# --- the district's LMS --------------------------------------------------------------------------


def test_district_without_lms_is_refused(client, db, fake_clock):
    world = make_world(client, fake_clock, lms_type="", section_lms_status=None)
    response = world.call("POST", world.assignments_path(), world.valid_request())
    assert response.status_code == 400
    assert response.json() == {"message": MSG_NO_LMS}
    assert not SandboxLmsAssignment.objects.exists()


def test_lms_not_ready_is_refused(client, db, fake_clock):
    world = make_world(client, fake_clock, lms_state="matching_in_progress")
    response = world.call("POST", world.assignments_path(), world.valid_request())
    assert response.status_code == 400
    assert "matching_in_progress" in response.json()["message"]


def test_lms_disconnected_after_create_blocks_writes_not_reads(world):
    created = world.create()
    world.district.lms_state = "disconnected"
    world.district.save()
    path = world.assignment_path(created["id"])
    assert world.call("GET", path).status_code == 200
    assert world.call("PATCH", path, {"title": "x"}).status_code == 400
    assert world.call("DELETE", path).status_code == 400
    assert (
        world.call("PATCH", f"{path}/submissions/{world.student_ids[0]}", {"grade": "A"}).status_code == 400
    )


def test_section_not_synced_in_lms_is_refused(client, db, fake_clock):
    world = make_world(client, fake_clock, section_lms_status=False)
    response = world.call("POST", world.assignments_path(), world.valid_request())
    assert response.status_code == 400
    assert response.json() == {"message": f"section {world.section_id} is not synced in the LMS"}


def test_section_without_lms_status_counts_as_synced(client, db, fake_clock):
    world = make_world(client, fake_clock, section_lms_status=None)
    assert world.create()["title"] == "Chapter 3 quiz"


# --- per-LMS behaviour -------------------------------------------------------------------------


def test_google_classroom_submission_ids_are_empty(client, db, fake_clock):
    world = make_world(client, fake_clock, lms_type="google_classroom")
    created = world.create()
    items = world.call("GET", world.assignment_path(created["id"]) + "/submissions").json()
    assert len(items["data"]) == 5
    assert {s["id"] for s in items["data"]} == {""}
    one = world.call(
        "GET", world.assignment_path(created["id"]) + f"/submissions/{world.student_ids[0]}"
    ).json()["data"]
    assert one["id"] == ""


def test_canvas_ignores_state_and_derives_it(world):
    created = world.create(state="draft")
    assert created["state"] == "open"
    scheduled = world.create(state="open", display_date=iso_at(world.clock, days=1))
    assert scheduled["state"] == "scheduled"
    patched = world.call("PATCH", world.assignment_path(created["id"]), {"state": "locked"})
    assert patched.json()["data"]["state"] == "open"
    world.clock.now += 2 * 24 * 3600  # the display date passed: Canvas shows it open
    got = world.call("GET", world.assignment_path(scheduled["id"])).json()["data"]
    assert got["state"] == "open"


@pytest.mark.parametrize(
    ("extra", "fields"),
    [
        ({"start_date": "START"}, "start_date"),
        ({"term_id": "t1"}, "term_id"),
        ({"start_date": "START", "term_id": "t1"}, "start_date, term_id"),
    ],
)
def test_canvas_refuses_start_date_and_term_id(world, extra, fields):
    if extra.get("start_date") == "START":
        extra = {**extra, "start_date": iso_at(world.clock, days=1)}
    response = world.call("POST", world.assignments_path(), world.valid_request(**extra))
    assert response.status_code == 400
    assert response.json() == {"message": f"unsupported field(s) for Canvas: {fields}"}


def test_schoology_honours_state_start_date_and_term(client, db, fake_clock):
    world = make_world(client, fake_clock, lms_type="schoology")
    created = world.create(state="draft", start_date=iso_at(fake_clock, days=1), term_id="t1")
    assert created["state"] == "draft"
    assert created["term_id"] == "t1"
    assert created["start_date"] == iso_at(fake_clock, days=1)
    patched = world.call("PATCH", world.assignment_path(created["id"]), {"state": "open"})
    assert patched.json()["data"]["state"] == "open"
    items = world.call("GET", world.assignment_path(created["id"]) + "/submissions").json()
    assert all(re.fullmatch(r"[0-9a-f]{24}", s["id"]) for s in items["data"])
    link = world.call(
        "PATCH",
        world.assignment_path(created["id"]) + f"/submissions/{world.student_ids[0]}",
        {"attachments": [{"type": "link", "url": "https://example.com"}]},
    )
    assert link.json() == {"message": "Schoology does not support submission type of link"}
    text = world.call(
        "PATCH",
        world.assignment_path(created["id"]) + f"/submissions/{world.student_ids[0]}",
        {"attachments": [{"type": "text", "text": "https://example.com"}]},
    )
    assert text.status_code == 200
    assert text.json()["data"]["attachments"][0]["text"] == "https://example.com"


def test_patch_cannot_empty_a_required_field(world):
    created = world.create()
    path = world.assignment_path(created["id"])
    response = world.call("PATCH", path, {"title": "", "description": None})
    assert response.status_code == 400
    assert response.json() == {"message": "missing required field(s): title"}
    # null means "unchanged" (Go cannot tell it from absent): the description survived.
    assert world.call("GET", path).json()["data"]["description"] == "Linear equations"
