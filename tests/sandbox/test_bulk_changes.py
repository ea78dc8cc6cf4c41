"""The control page's bulk changes: remove or add N students, move N students between two
sections, change the district's NCES LEAID or MDR number.

Each is checked where it matters: what the sandbox's Clever API answers a district token
afterwards, the events it appended, and what the app's next sync or discovery makes of it
(a removal of more than 10% of the students holds the sync). Bad input comes back as form
errors on the page (200) and changes nothing.
"""

import json
import random

import jsonschema
import pytest
from django.test import Client
from django.urls import reverse

from clever.client import CleverClient
from districts import services as district_services
from districts.models import District
from rostering.models import ChangeHold, SyncRun
from rostering.services.sync import run_sync
from sandbox import roster, services
from sandbox.generator.districts import generate_district, load_district
from sandbox.generator.plan import SECTIONS_PER_STUDENT
from sandbox.models import RecordType, SandboxEvent, SandboxRecord

from .swagger import definitions

pytestmark = pytest.mark.django_db

STUDENTS = 1000  # two schools


@pytest.fixture
def district(sandbox_app):
    generated = generate_district(
        seed=77,
        students=STUDENTS,
        name="Fairview School District",
        state="OR",
        with_nces=True,
        with_mdr=False,
    )
    return load_district(generated)


@pytest.fixture
def api(district):
    """The sandbox's Data API, as the app reads it: with the district's token."""
    token = services.district_token(district).access_token
    return Client(HTTP_AUTHORIZATION=f"Bearer {token}")


@pytest.fixture
def clever():
    client = CleverClient(sleep=lambda seconds: None, rng=random.Random(7), page_size=1000)
    yield client
    client.close()


@pytest.fixture
def synced(district, clever):
    """Our District for the sandbox district, after a first (full) sync."""
    ours = District.objects.create(clever_id=district.id, name=district.name)
    first = run_sync(district=ours, client=clever)
    assert first.status == SyncRun.Status.SUCCEEDED, first.error
    return ours


def bulk(client, district, op, data, follow=False):
    url = reverse("sandbox:control-bulk", kwargs={"district_id": district.id, "op": op})
    return client.post(url, {f"{op}-{key}": value for key, value in data.items()}, follow=follow)


def listed(api, path):
    path, _, query = path.partition("?")
    params = dict(pair.split("=") for pair in query.split("&") if pair)
    response = api.get(f"/sandbox/v3.1/{path}", {"limit": 10000, **params})
    assert response.status_code == 200, response.content
    return [item["data"] for item in response.json()["data"]]


def students_in_api(api):
    return {user["id"]: user for user in listed(api, "users?role=student")}


def sections_in_api(api):
    return {section["id"]: section for section in listed(api, "sections")}


def events(district, **filters):
    return list(SandboxEvent.objects.filter(district=district, **filters).order_by("id"))


def messages_of(response):
    return [str(message) for message in response.context["card_messages"]["bulk"]]


def same_school_sections(district, minimum=3):
    """Two sections of one school, the first with ``minimum`` students not in the second."""
    bodies = [
        json.loads(body)
        for body in SandboxRecord.objects.filter(district=district, record_type=RecordType.SECTIONS)
        .order_by("clever_id")
        .values_list("body", flat=True)
    ]
    for first in bodies:
        for second in bodies:
            if (
                first["id"] != second["id"]
                and first["school"] == second["school"]
                and len(set(first["students"]) - set(second["students"])) >= minimum
            ):
                return first, second
    raise AssertionError("no two sections of one school")


# --- the page ------------------------------------------------------------------------------------


def test_the_district_page_shows_the_bulk_changes(client, district):
    response = client.get(reverse("sandbox:control-district", args=[district.id]))
    assert response.status_code == 200
    html = response.content.decode()
    assert 'id="bulk"' in html
    for op in ("remove_students", "add_students", "move_students", "district_ids"):
        assert reverse("sandbox:control-bulk", args=[district.id, op]) in html
    assert (
        "More than 10% makes the next sync wait for approval (here 101 or more of 1,000), "
        "and so does changing more than 75% of the sections" in html
    )
    # Sections are chosen by name, grouped by school.
    section = json.loads(
        SandboxRecord.objects.filter(district=district, record_type=RecordType.SECTIONS).first().body
    )
    school = json.loads(SandboxRecord.objects.get(clever_id=section["school"]).body)
    assert f'<optgroup label="{school["name"]}">' in html
    assert section["name"].replace("'", "&#x27;") in html
    assert f'value="{district.data["nces_id"]}"' in html  # the form starts from today's values
    # The home page leads there.
    home = client.get(reverse("sandbox:home")).content.decode()
    assert f"{reverse('sandbox:control-district', args=[district.id])}#bulk" in home


# --- remove N students -----------------------------------------------------------------------------


def test_removing_students_takes_them_out_of_the_api_and_their_sections(client, district, api):
    before = students_in_api(api)
    holding = {sid: set(s["students"]) for sid, s in sections_in_api(api).items()}

    response = bulk(client, district, "remove_students", {"count": "40"}, follow=True)

    assert response.status_code == 200
    assert response.redirect_chain[-1][0].endswith("#bulk")
    (message,) = messages_of(response)
    sections = len(holding)
    touched = {sid for sid, members in holding.items() if members & set(before) - set(students_in_api(api))}
    assert message == (
        "Removed 40 students from Fairview School District (4% of 1,000): the next sync will "
        f"ask support to approve ({len(touched)} of the {sections} sections changed, more "
        "than 75%)."
    )
    after = students_in_api(api)
    gone = set(before) - set(after)
    assert len(after) == STUDENTS - 40 and len(gone) == 40 and set(after) <= set(before)
    for clever_id in gone:
        assert api.get(f"/sandbox/v3.1/users/{clever_id}").status_code == 404
    sections = sections_in_api(api)
    for sid, section in sections.items():
        assert not set(section["students"]) & gone
        assert set(section["students"]) == holding[sid] - gone
    # Their contacts no longer name them either.
    for contact in listed(api, "users?role=contact"):
        for relationship in contact["roles"]["contact"]["student_relationships"]:
            assert relationship["student"] not in gone

    deleted = events(district, type="users.deleted")
    assert {event.record_id for event in deleted} == gone
    updated = events(district, type="sections.updated")
    assert {event.record_id for event in updated} == touched  # one event per section
    assert max(e.id for e in updated) < min(e.id for e in deleted)  # sections first
    payload = json.loads(updated[0].body)
    assert set(payload["previous_attributes"]["students"]) == holding[updated[0].record_id]
    # The Events API serves them to the app.
    feed = [event["type"] for event in listed(api, "events")]
    assert feed.count("users.deleted") == 40


def test_removing_more_than_10_percent_holds_the_next_sync(client, district, synced, clever):
    response = bulk(client, district, "remove_students", {"count": "150"}, follow=True)

    (message,) = messages_of(response)
    assert message.startswith(
        "Removed 150 students from Fairview School District (15% of 1,000): the next sync will "
        "ask support to approve (more than 10% of the students are gone; "
    )
    run = run_sync(district=synced, client=clever)
    assert (run.kind, run.status) == (SyncRun.Kind.INCREMENTAL, SyncRun.Status.HELD)
    hold = run.hold
    assert hold.status == ChangeHold.Status.PENDING
    reason = next(r for r in hold.reasons if r["type"] == "students" and r["rule"] == "deleted")
    assert reason["count"] == 150 and reason["live"] == STUDENTS


def test_a_held_removal_holds_a_full_sync_too(client, district, synced, clever):
    """A district without events gets full syncs: they see the students gone as well."""
    services.set_events_enabled(district=district, enabled=False)
    bulk(client, district, "remove_students", {"count": "150"})
    run = run_sync(district=synced, kind="full", client=clever)
    assert run.status == SyncRun.Status.HELD
    assert {"type": "students", "rule": "deleted"}.items() <= next(
        r for r in run.hold.reasons if r["type"] == "students"
    ).items()


def test_a_small_removal_is_applied_by_the_next_sync(client, district, synced, clever):
    response = bulk(client, district, "remove_students", {"count": "2"}, follow=True)
    assert messages_of(response)[0].endswith("(0.2% of 1,000): the next sync applies it without asking.")

    run = run_sync(district=synced, client=clever)

    assert run.status == SyncRun.Status.SUCCEEDED, run.error
    assert run.counts["archived"]["users"] == 2
    assert run.totals["students"] == STUDENTS - 2


def test_removing_with_a_seed_picks_the_same_students(district):
    ids = roster.student_ids(district)
    expected = sorted(random.Random(5).sample(ids, 3))
    removed = roster.remove_students(district=district, count=3, seed=5)
    assert removed.students == expected
    assert removed.changed["students"] == (3, STUDENTS)
    with pytest.raises(roster.RosterError):
        roster.remove_students(district=district, count=STUDENTS)  # only 997 left


def test_removing_with_events_off_emits_none(client, district, api):
    services.set_events_enabled(district=district, enabled=False)
    response = bulk(client, district, "remove_students", {"count": "5"}, follow=True)
    assert "Events are off: none emitted." in messages_of(response)[0]
    assert len(students_in_api(api)) == STUDENTS - 5
    assert events(district) == []


# --- add N students --------------------------------------------------------------------------------


def test_adding_students_enrols_realistic_students_in_existing_sections(client, district, api):
    before = students_in_api(api)
    sections_before = sections_in_api(api)
    schools = {school["id"]: school for school in listed(api, "schools")}

    response = bulk(client, district, "add_students", {"count": "30"}, follow=True)

    (message,) = messages_of(response)
    assert message.startswith("Added 30 students to Fairview School District, in ")
    assert "existing sections: the next sync " in message
    after = students_in_api(api)
    new = {cid: user for cid, user in after.items() if cid not in before}
    assert len(new) == 30 and len(after) == STUDENTS + 30
    sections = sections_in_api(api)
    assert set(sections) == set(sections_before)  # no new section
    for clever_id, user in new.items():
        role = user["roles"]["student"]
        assert user["name"]["first"] and user["name"]["last"]
        assert role["school"] in schools and role["schools"] == [role["school"]]
        assert role["dob"].count("/") == 2 and role["sis_id"] and role["grade"]
        assert role["location"]["city"] == schools[role["school"]]["location"]["city"]
        enrolled = [s for s in sections.values() if clever_id in s["students"]]
        assert 1 <= len(enrolled) <= SECTIONS_PER_STUDENT
        assert {s["school"] for s in enrolled} == {role["school"]}
        nested = listed(api, f"users/{clever_id}/sections")
        assert {s["id"] for s in nested} == {s["id"] for s in enrolled}
    grown = {
        sid for sid, s in sections.items() if set(s["students"]) != set(sections_before[sid]["students"])
    }
    for sid in grown:  # only additions: nobody left a section
        assert set(sections_before[sid]["students"]) < set(sections[sid]["students"])
    created = events(district, type="users.created")
    updated = events(district, type="sections.updated")
    assert {e.record_id for e in created} == set(new)
    assert {e.record_id for e in updated} == grown
    assert max(e.id for e in created) < min(e.id for e in updated)  # students first
    assert f"in {len(grown)} existing sections" in message


def test_a_few_added_students_reach_the_app_at_the_next_sync(client, district, synced, clever):
    response = bulk(client, district, "add_students", {"count": "2"}, follow=True)
    assert messages_of(response)[0].endswith("the next sync applies it without asking.")
    run = run_sync(district=synced, client=clever)
    assert run.status == SyncRun.Status.SUCCEEDED, run.error
    assert run.counts["created"]["users"] == 2
    assert run.totals["students"] == STUDENTS + 2


def test_adding_many_students_is_a_mass_change_that_holds(client, district, synced, clever):
    response = bulk(client, district, "add_students", {"count": "100"}, follow=True)
    (message,) = messages_of(response)
    assert "the next sync will ask support to approve (" in message
    sections = SandboxRecord.objects.filter(district=district, record_type=RecordType.SECTIONS).count()
    assert f"of the {sections} sections changed, more than 75%)." in message
    run = run_sync(district=synced, client=clever)
    assert run.status == SyncRun.Status.HELD
    assert [(r["type"], r["rule"]) for r in run.hold.reasons] == [("sections", "changed")]


def test_added_students_and_changed_records_match_clevers_v31_swagger(client, district, api):
    """Every field of what the bulk changes write is one the v3.1 spec defines."""
    spec = definitions("v3.1.yml")
    validators = {
        record_type: jsonschema.Draft4Validator({"$ref": f"#/definitions/{name}", "definitions": spec})
        for record_type, name in (("users", "User"), ("sections", "Section"), ("districts", "District"))
    }
    bulk(client, district, "add_students", {"count": "50"})
    bulk(client, district, "district_ids", {"nces_id": "4100099", "mdr_number": "X1"})
    for event in events(district):
        validators[event.record_type].validate(json.loads(event.body)["object"])
    grades = {u["roles"]["student"]["grade"] for u in students_in_api(api).values()}
    assert len(grades) > 3


# --- move N students -------------------------------------------------------------------------------


def test_moving_students_updates_both_sections(client, district, api):
    first, second = same_school_sections(district)
    movable = [s for s in first["students"] if s not in second["students"]]

    response = bulk(
        client,
        district,
        "move_students",
        {"from_section": first["id"], "to_section": second["id"], "count": "3"},
        follow=True,
    )

    (message,) = messages_of(response)
    assert message == (
        f"Moved 3 students of Fairview School District from {first['name']} "
        f"to {second['name']}: the next sync applies it without asking."
    )
    sections = sections_in_api(api)
    left = set(first["students"]) - set(sections[first["id"]]["students"])
    assert len(left) == 3 and left <= set(movable)
    assert set(sections[first["id"]]["students"]) == set(first["students"]) - left
    assert set(sections[second["id"]]["students"]) == set(second["students"]) | left
    for student in left:
        ids = {s["id"] for s in listed(api, f"users/{student}/sections")}
        assert second["id"] in ids and first["id"] not in ids
    updated = events(district)
    assert [(e.type, e.record_id) for e in updated] == [
        ("sections.updated", first["id"]),
        ("sections.updated", second["id"]),
    ]
    previous = json.loads(updated[0].body)["previous_attributes"]
    assert previous["students"] == first["students"]
    assert len(students_in_api(api)) == STUDENTS  # nobody came or went


# --- NCES LEAID and MDR number ---------------------------------------------------------------------


def test_changing_the_nces_and_mdr_numbers(client, district, api, clever):
    old_nces = district.data["nces_id"]
    assert old_nces and not district.data["mdr_number"]
    ours = District.objects.create(clever_id=district.id, name=district.name)
    district_services.discover_districts(client=clever)
    ours.refresh_from_db()
    assert ours.nces_id == old_nces

    response = bulk(
        client, district, "district_ids", {"nces_id": " 4100099 ", "mdr_number": "AB1234567"}, follow=True
    )

    assert messages_of(response) == [
        f"Fairview School District: NCES LEAID changed from {old_nces} to 4100099 and MDR "
        "number changed from none to AB1234567. The app reads them at its next district "
        "discovery, and can match the district by them."
    ]
    for version in ("v3.0", "v3.1"):
        record = api.get(f"/sandbox/{version}/districts/{district.id}").json()["data"]
        assert (record["nces_id"], record["mdr_number"]) == ("4100099", "AB1234567")
    (event,) = events(district)
    assert event.type == "districts.updated"
    payload = json.loads(event.body)
    assert payload["previous_attributes"] == {"mdr_number": "", "nces_id": old_nces}
    district_services.discover_districts(client=clever)
    ours.refresh_from_db()
    assert (ours.nces_id, ours.mdr_number) == ("4100099", "AB1234567")

    # Blank clears one; the same values again change nothing and emit nothing.
    response = bulk(client, district, "district_ids", {"nces_id": "4100099", "mdr_number": ""}, follow=True)
    assert "MDR number changed from AB1234567 to none" in messages_of(response)[0]
    response = bulk(client, district, "district_ids", {"nces_id": "4100099", "mdr_number": ""}, follow=True)
    assert "nothing changed" in messages_of(response)[0]
    assert len(events(district)) == 2


# --- bad input -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("op", "data", "error"),
    [
        ("remove_students", {"count": "-3"}, "Enter 1 or more."),
        ("remove_students", {"count": "0"}, "Enter 1 or more."),
        ("remove_students", {"count": "1001"}, "The district has 1,000 students: enter 1 to 1,000."),
        ("remove_students", {"count": "lots"}, "Enter a whole number."),
        ("remove_students", {}, "This field is required."),
        ("add_students", {"count": "0"}, "Enter 1 or more."),
        ("add_students", {"count": "10001"}, "Enter 10,000 or fewer: that is the most at a time."),
        ("move_students", {"count": "1", "to_section": "SAME"}, "Choose a different section"),
        ("move_students", {"count": "1", "to_section": "OTHER_SCHOOL"}, "in another school"),
        (
            "move_students",
            {"count": "100000", "to_section": "SAME_SCHOOL"},
            "students of the first section are not already in the second",
        ),
        ("move_students", {"count": "-1", "to_section": "SAME_SCHOOL"}, "Enter 1 or more."),
        (
            "move_students",
            {"count": "1", "from_section": "f" * 24, "to_section": "SAME_SCHOOL"},
            "Choose a section from the list: that one is gone.",
        ),
        (
            "move_students",
            {"count": "1", "from_section": "", "to_section": "SAME_SCHOOL"},
            "Choose a section.",
        ),
        ("district_ids", {"nces_id": "12345", "mdr_number": ""}, "exactly 7 digits"),
        ("district_ids", {"nces_id": "41000991", "mdr_number": ""}, "exactly 7 digits"),
        ("district_ids", {"nces_id": "41OO099", "mdr_number": ""}, "exactly 7 digits"),
        ("district_ids", {"nces_id": "", "mdr_number": "A" * 17}, "1 to 16 letters or digits"),
        ("district_ids", {"nces_id": "", "mdr_number": "AB-12"}, "1 to 16 letters or digits"),
    ],
)
def test_bad_input_gives_form_errors_and_changes_nothing(client, district, api, op, data, error):
    if op == "move_students":
        first, second = same_school_sections(district)
        other = next(
            json.loads(body)
            for body in SandboxRecord.objects.filter(
                district=district, record_type=RecordType.SECTIONS
            ).values_list("body", flat=True)
            if json.loads(body)["school"] != first["school"]
        )
        data = {"from_section": first["id"], **data}
        data["to_section"] = {"SAME": first["id"], "OTHER_SCHOOL": other["id"], "SAME_SCHOOL": second["id"]}[
            data["to_section"]
        ]
    before = (students_in_api(api), sections_in_api(api), dict(district.data))

    response = bulk(client, district, op, data)

    assert response.status_code == 200
    html = response.content.decode()
    assert error.replace("'", "&#x27;") in html
    assert response.context["bulk"][op].errors
    district.refresh_from_db()
    assert (students_in_api(api), sections_in_api(api), dict(district.data)) == before
    assert events(district) == []


def test_a_roster_that_changed_under_the_form_gives_a_form_error(client, district, monkeypatch):
    def stale(**kwargs):
        raise roster.RosterError("choose two different sections")

    monkeypatch.setattr(roster, "move_students", stale)
    first, second = same_school_sections(district)
    response = bulk(
        client,
        district,
        "move_students",
        {"from_section": first["id"], "to_section": second["id"], "count": "1"},
    )
    assert response.status_code == 200
    assert "Choose two different sections." in response.content.decode()


def test_a_district_without_students_or_sections(client, sandbox_app):
    empty = services.create_district(name="Empty Valley Schools")
    page = client.get(reverse("sandbox:control-district", args=[empty.id]))
    assert page.status_code == 200
    html = page.content.decode()
    assert "The district has no students left to remove." in html
    assert "No sections to enrol new students in." in html
    response = bulk(client, empty, "remove_students", {"count": "1"})
    assert response.status_code == 200
    assert response.context["bulk"]["remove_students"].errors
    # The form alone cannot know there are no sections: the roster change says so.
    response = bulk(client, empty, "add_students", {"count": "1"})
    assert response.status_code == 200
    assert "Empty Valley Schools has no sections to enrol new students in." in (response.content.decode())
    assert events(empty) == []


def test_unknown_bulk_change_and_get_are_refused(client, district):
    assert bulk(client, district, "drop_tables", {}).status_code == 400
    url = reverse("sandbox:control-bulk", args=[district.id, "remove_students"])
    assert client.get(url).status_code == 405
    missing = reverse("sandbox:control-bulk", args=["0" * 24, "remove_students"])
    assert client.post(missing, {"remove_students-count": "1"}).status_code == 404


# --- the set-based services ------------------------------------------------------------------------


def test_set_based_writes_match_the_one_record_writes(district):
    sections = [
        json.loads(body)
        for body in SandboxRecord.objects.filter(district=district, record_type=RecordType.SECTIONS)
        .order_by("clever_id")
        .values_list("body", flat=True)[:2]
    ]
    updated = services.update_records(
        changes={
            sections[0]["id"]: {"name": "Renamed"},
            sections[1]["id"]: {"name": sections[1]["name"]},  # no change: no event
        }
    )
    assert [body["id"] for body in updated] == [sections[0]["id"]]
    (event,) = events(district)
    assert json.loads(event.body)["previous_attributes"] == {"name": sections[0]["name"]}
    with pytest.raises(SandboxRecord.DoesNotExist):
        services.delete_records(clever_ids=["f" * 24])
    with pytest.raises(ValueError, match="only creates"):
        services.put_records(district=district, record_type=RecordType.SECTIONS, items=[sections[0]])
