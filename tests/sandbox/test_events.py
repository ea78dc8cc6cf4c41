"""The sandbox's Events API (v3.0, v3.1): feed shape, filters, paging, retention, opt-in."""

from datetime import UTC, datetime, timedelta

import jsonschema
import pytest

from sandbox import services
from sandbox.ids import new_id
from sandbox.models import RecordType, SandboxEvent, TokenKind
from tests.sandbox.swagger import definitions, response_schema, validate

BASE = "/sandbox"
NOW = 1_750_000_000.0  # the sandbox clock in these tests


def auth(token):
    return {"HTTP_AUTHORIZATION": f"Bearer {token}"}


def get(client, token, uri, params=None):
    return client.get(BASE + uri, params or {}, **auth(token))


def ok(client, token, uri, params=None):
    response = get(client, token, uri, params)
    assert response.status_code == 200, (uri, response.status_code, response.content[:300])
    return response.json()


def validate_events(body, spec, path):
    """The envelope against the operation's schema; each event strictly against the definition
    its ``type`` names (the base ``Event`` definition alone does not list ``data``)."""
    validate(body, response_schema(spec, path, "get", 200), spec, strict_records=False)
    defs = definitions(spec)
    items = body["data"] if isinstance(body["data"], list) else [body]
    for item in items:
        event = item["data"]
        jsonschema.validate(
            event, {**defs[event["type"]], "definitions": defs}, cls=jsonschema.Draft4Validator
        )


def events_of(body):
    return [item["data"] for item in body["data"]]


def link(body, rel):
    found = [entry["uri"] for entry in body["links"] if entry["rel"] == rel]
    return found[0] if found else None


def at(seconds_ago: float) -> datetime:
    return datetime.fromtimestamp(NOW - seconds_ago, tz=UTC)


def student(name, school, **extra):
    return {
        "name": {"first": name, "last": "Pupil"},
        "email": f"{name.lower()}@example.net",
        "roles": {
            "student": {
                "school": school,
                "schools": [school],
                "sis_id": name,
                "grade": "3",
                "frl_status": "Reduced",
                **extra,
            }
        },
    }


@pytest.fixture
def feed(db, fake_clock):
    """A district with two schools (bulk loaded: no events) and a day of roster changes."""
    fake_clock.now = NOW
    district = services.create_district(name="Springfield USD")
    school1, school2 = new_id(), new_id()
    services.bulk_load(
        district=district,
        items=[
            ("schools", {"id": school1, "name": "Evergreen"}),
            ("schools", {"id": school2, "name": "Oakwood"}),
        ],
    )
    ada = services.put_record(
        district=district, record_type=RecordType.USERS, data=student("Ada", school1), now=at(3600 * 5)
    )
    ben = services.put_record(
        district=district, record_type=RecordType.USERS, data=student("Ben", school2), now=at(3600 * 4)
    )
    services.update_record(
        clever_id=ada["id"], now=at(3600 * 3), changes={"name": {"first": "Adaline", "last": "Pupil"}}
    )
    section = services.put_record(
        district=district,
        record_type=RecordType.SECTIONS,
        data={"name": "Math", "school": school2, "students": [ben["id"]]},
        now=at(3600 * 2),
    )
    services.delete_record(clever_id=ben["id"], now=at(3600))
    return {
        "district": district,
        "token": services.district_token(district).access_token,
        "school1": school1,
        "school2": school2,
        "ada": ada["id"],
        "ben": ben["id"],
        "section": section["id"],
    }


def test_the_feed_lists_created_updated_deleted_events_oldest_first(client, feed):
    body = ok(client, feed["token"], "/v3.0/events")
    events = events_of(body)

    assert [e["type"] for e in events] == [
        "users.created",
        "users.created",
        "users.updated",
        "sections.created",
        "users.deleted",
    ]
    ids = [e["id"] for e in events]
    assert ids == sorted(ids)
    assert [item["uri"] for item in body["data"]] == [f"/v3.0/events/{i}" for i in ids]
    assert body["links"] == [{"rel": "self", "uri": "/v3.0/events"}]
    created, _, updated, _, deleted = events
    assert created["created"] == "2025-06-15T10:06:40.000Z"  # NOW - 5 h
    assert created["data"]["object"]["id"] == feed["ada"]
    assert "previous_attributes" not in created["data"]
    # previous_attributes sits inside data, beside the object, as in Clever's recordings.
    assert set(updated) == {"id", "created", "type", "data"}
    assert updated["data"]["object"]["name"] == {"first": "Adaline", "last": "Pupil"}
    assert updated["data"]["previous_attributes"] == {"name": {"first": "Ada", "last": "Pupil"}}
    assert deleted["data"]["object"]["id"] == feed["ben"]
    assert deleted["data"]["object"]["name"]["first"] == "Ben"
    validate_events(body, "v3.0-events.yml", "/events")


def test_v30_events_omit_v31_only_fields(client, feed):
    v30 = events_of(ok(client, feed["token"], "/v3.0/events"))[0]
    v31 = events_of(ok(client, feed["token"], "/v3.1/events"))[0]

    assert v30["id"] == v31["id"]
    assert "frl_status" not in v30["data"]["object"]["roles"]["student"]
    assert v31["data"]["object"]["roles"]["student"]["frl_status"] == "Reduced"
    body = ok(client, feed["token"], "/v3.1/events")
    assert body["data"][0]["uri"] == f"/v3.1/events/{v31['id']}"
    validate_events(body, "v3.1-events.yml", "/events")


def test_one_event_by_id(client, feed):
    event_id = events_of(ok(client, feed["token"], "/v3.0/events"))[2]["id"]

    body = ok(client, feed["token"], f"/v3.0/events/{event_id}")

    assert body["links"] == [{"rel": "self", "uri": f"/v3.0/events/{event_id}"}]
    assert body["data"]["type"] == "users.updated"
    assert body["data"]["data"]["previous_attributes"]["name"]["first"] == "Ada"
    missing = get(client, feed["token"], "/v3.0/events/" + "0" * 24)
    assert missing.status_code == 404
    assert missing.json() == {"message": "Resource not found"}
    validate_events(body, "v3.0-events.yml", "/events/{id}")


def test_record_type_filter_is_repeatable(client, feed):
    users = events_of(ok(client, feed["token"], "/v3.0/events", {"record_type": "users"}))
    sections = events_of(ok(client, feed["token"], "/v3.0/events", {"record_type": "sections"}))
    both = ok(client, feed["token"], "/v3.0/events?record_type=sections&record_type=users")

    assert [e["type"] for e in users] == ["users.created", "users.created", "users.updated", "users.deleted"]
    assert [e["data"]["object"]["id"] for e in sections] == [feed["section"]]
    assert len(both["data"]) == 5
    assert events_of(ok(client, feed["token"], "/v3.0/events", {"record_type": "terms"})) == []
    bad = get(client, feed["token"], "/v3.0/events", {"record_type": "students"})
    assert bad.status_code == 400
    assert "students" in bad.json()["message"]


def test_school_filter(client, feed):
    school1 = events_of(ok(client, feed["token"], "/v3.0/events", {"school": feed["school1"]}))
    school2 = events_of(ok(client, feed["token"], "/v3.0/events", {"school": feed["school2"]}))
    sections2 = events_of(
        ok(client, feed["token"], "/v3.0/events", {"school": feed["school2"], "record_type": "sections"})
    )

    assert [(e["type"], e["data"]["object"]["id"]) for e in school1] == [
        ("users.created", feed["ada"]),
        ("users.updated", feed["ada"]),
    ]
    assert [(e["type"], e["data"]["object"]["id"]) for e in school2] == [
        ("users.created", feed["ben"]),
        ("sections.created", feed["section"]),
        ("users.deleted", feed["ben"]),
    ]
    assert [e["type"] for e in sections2] == ["sections.created"]


def test_paging_with_limit_and_starting_after(client, feed):
    everything = [e["id"] for e in events_of(ok(client, feed["token"], "/v3.0/events"))]
    uri, pages, seen = "/v3.0/events?limit=2", 0, []
    while uri:
        body = ok(client, feed["token"], uri)
        seen += [e["id"] for e in events_of(body)]
        pages += 1
        uri = link(body, "next")

    assert pages == 3
    assert seen == everything
    after = ok(client, feed["token"], "/v3.0/events", {"starting_after": everything[2]})
    assert [e["id"] for e in events_of(after)] == everything[3:]
    assert link(after, "prev") == f"/v3.0/events?ending_before={everything[3]}"
    # Polling from the newest event: an empty page, no next link.
    caught_up = ok(client, feed["token"], "/v3.0/events", {"starting_after": everything[-1]})
    assert caught_up["data"] == []
    assert link(caught_up, "next") is None


def test_paging_keeps_the_filters(client, feed):
    first = ok(client, feed["token"], "/v3.0/events", {"record_type": "users", "limit": 3})
    second = ok(client, feed["token"], link(first, "next"))

    assert link(first, "next").startswith("/v3.0/events?record_type=users&limit=3&starting_after=")
    assert [e["type"] for e in events_of(second)] == ["users.deleted"]


def test_ending_before_and_the_last_sentinel(client, feed):
    everything = [e["id"] for e in events_of(ok(client, feed["token"], "/v3.0/events"))]

    before = ok(client, feed["token"], "/v3.0/events", {"ending_before": everything[3], "limit": 2})
    newest = ok(client, feed["token"], "/v3.0/events", {"ending_before": "last", "limit": 1})

    assert [e["id"] for e in events_of(before)] == everything[1:3]
    assert link(before, "prev") == f"/v3.0/events?limit=2&ending_before={everything[1]}"
    assert link(before, "next") == f"/v3.0/events?limit=2&starting_after={everything[2]}"
    assert [e["id"] for e in events_of(newest)] == [everything[-1]]


def test_events_older_than_30_days_are_never_served(client, feed):
    old = services.put_record(
        district=feed["district"],
        record_type=RecordType.USERS,
        data=student("Old", feed["school1"]),
        now=at(31 * 86400),
    )
    old_event = SandboxEvent.objects.get(record_id=old["id"])
    recent = services.update_record(
        clever_id=old["id"], changes={"email": "x@example.net"}, now=at(29 * 86400)
    )

    served = events_of(ok(client, feed["token"], "/v3.0/events"))

    assert old_event.id not in [e["id"] for e in served]
    assert [e["data"]["object"]["id"] for e in served].count(recent["id"]) == 1
    assert get(client, feed["token"], f"/v3.0/events/{old_event.id}").status_code == 404
    stale = get(client, feed["token"], "/v3.0/events", {"starting_after": old_event.id})
    assert stale.status_code == 400
    assert "full sync" in stale.json()["message"]


def test_an_event_expires_as_the_sandbox_clock_moves(client, feed, fake_clock):
    first = events_of(ok(client, feed["token"], "/v3.0/events"))[0]
    cursor = ok(client, feed["token"], "/v3.0/events", {"starting_after": first["id"]})
    assert len(cursor["data"]) == 4

    fake_clock.now = NOW - 3600 * 5 + 30 * 86400 + 1  # the first event is now 30 days + 1 s old

    assert first["id"] not in [e["id"] for e in events_of(ok(client, feed["token"], "/v3.0/events"))]
    assert get(client, feed["token"], "/v3.0/events", {"starting_after": first["id"]}).status_code == 400


def test_an_unknown_starting_after_is_a_stale_cursor(client, feed):
    response = get(client, feed["token"], "/v3.0/events", {"starting_after": "f" * 24})

    assert response.status_code == 400
    assert set(response.json()) == {"message"}


def test_events_disabled_is_403(client, feed):
    services.set_events_enabled(district=feed["district"], enabled=False)
    event_id = SandboxEvent.objects.filter(district=feed["district"]).values_list("id", flat=True).first()

    for uri in ("/v3.0/events", "/v3.1/events", f"/v3.0/events/{event_id}"):
        response = get(client, feed["token"], uri)
        assert response.status_code == 403
        assert response.json() == {"message": "Events are not enabled for this district"}


def test_a_district_without_events_enabled_records_none(client, db, fake_clock):
    fake_clock.now = NOW
    district = services.create_district(name="Quiet", events_enabled=False)
    services.put_record(
        district=district, record_type=RecordType.USERS, data=student("Ann", new_id()), now=at(60)
    )
    services.set_events_enabled(district=district, enabled=True)

    body = ok(client, services.district_token(district).access_token, "/v3.0/events")

    assert body["data"] == []


def test_only_district_tokens_read_events(client, feed):
    for kind in (TokenKind.SSO, TokenKind.TEACHER):
        token = services.issue_token(district=feed["district"], kind=kind, user_id=feed["ada"]).access_token
        response = get(client, token, "/v3.0/events")
        assert response.status_code == 404
        assert response.json() == {"message": "Resource not found"}


def test_another_districts_events_are_not_served(client, feed):
    other = services.create_district(name="Shelbyville USD")
    other_token = services.district_token(other).access_token
    services.put_record(
        district=other, record_type=RecordType.USERS, data=student("Bart", new_id()), now=at(10)
    )
    mine = events_of(ok(client, feed["token"], "/v3.0/events"))

    theirs = events_of(ok(client, other_token, "/v3.0/events"))

    assert len(theirs) == 1
    assert theirs[0]["id"] not in [e["id"] for e in mine]
    assert get(client, other_token, f"/v3.0/events/{mine[0]['id']}").status_code == 404


def test_event_limit_is_validated(client, feed):
    assert get(client, feed["token"], "/v3.0/events", {"limit": "10001"}).status_code == 413
    assert get(client, feed["token"], "/v3.0/events", {"limit": "x"}).status_code == 400
    assert len(ok(client, feed["token"], "/v3.0/events", {"limit": "1"})["data"]) == 1


def test_events_of_thirty_days_ago_exactly_are_still_served(client, feed):
    services.put_record(
        district=feed["district"],
        record_type=RecordType.USERS,
        data=student("Edge", feed["school1"]),
        now=at(timedelta(days=30).total_seconds()),
    )

    served = events_of(ok(client, feed["token"], "/v3.0/events"))

    # Ids follow creation order, so the late-recorded event comes last.
    assert served[-1]["data"]["object"]["name"]["first"] == "Edge"
    assert len(served) == 6
