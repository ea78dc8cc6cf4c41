"""The sandbox control page and the sandbox admin: each control changes the sandbox's state."""

import json
from html import escape

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import reverse

from sandbox import roster, services
from sandbox.generator.districts import generate_district, load_district
from sandbox.knobs import DEFAULT_RATE_LIMIT
from sandbox.models import RecordType, SandboxEvent, SandboxRecord, SandboxToken

pytestmark = pytest.mark.django_db


@pytest.fixture
def district():
    generated = generate_district(seed=77, students=500, name="Fairview School District", state="OR")
    return load_district(generated)


@pytest.fixture
def sections(district):
    return list(
        SandboxRecord.objects.filter(district=district, record_type=RecordType.SECTIONS).order_by("clever_id")
    )


def body(clever_id):
    return json.loads(SandboxRecord.objects.get(clever_id=clever_id).body)


def event_types(district):
    return list(SandboxEvent.objects.filter(district=district).order_by("id").values_list("type", flat=True))


def post(client, name, data=None, **kwargs):
    return client.post(reverse(name, kwargs=kwargs), data or {})


# --- pages -------------------------------------------------------------------------------------


def test_home_renders_districts_app_and_knobs(client, district, sandbox_app):
    token = services.district_token(district).access_token
    response = client.get(reverse("sandbox:home"))
    assert response.status_code == 200
    html = response.content.decode()
    assert reverse("sandbox:home") == "/sandbox/"
    assert "Fairview School District" in html and district.id in html
    assert "500 students" in html
    assert sandbox_app.client_id in html and sandbox_app.client_secret in html
    assert "/sandbox/portal/" in html
    assert f"{token[:4]}••••••••{token[-4:]}" in html  # masked...
    assert html.count(token) == 2  # ...with the full token only in the reveal/copy control
    assert "csrfmiddlewaretoken" in html
    assert f"{DEFAULT_RATE_LIMIT}" in html


def test_district_page_renders_records_and_events(client, district, sections):
    roster.rename_user(
        district=district, user_id=body(sections[0].clever_id)["students"][0], first="Renée", last="O'Neil"
    )
    response = client.get(reverse("sandbox:control-district", args=[district.id]))
    assert response.status_code == 200
    html = response.content.decode()
    assert sections[0].clever_id in html
    assert escape(body(sections[0].clever_id)["name"]) in html  # records by name, not only ID
    assert "users.updated" in html
    assert client.get(reverse("sandbox:control-district", args=["0" * 24])).status_code == 404


def test_posts_need_the_csrf_token(district):
    strict = Client(enforce_csrf_checks=True)
    response = strict.post(
        reverse("sandbox:control-district-action", args=[district.id]), {"action": "disconnect"}
    )
    assert response.status_code == 403
    district.refresh_from_db()
    assert district.connected
    assert strict.get(reverse("sandbox:control-rate-limit")).status_code == 405


# --- district switches ------------------------------------------------------------------------------


def test_revoke_token(client, district):
    token = services.district_token(district)
    response = post(
        client, "sandbox:control-district-action", {"action": "revoke_token"}, district_id=district.id
    )
    assert response.status_code == 302
    token.refresh_from_db()
    assert token.revoked_at is not None
    assert services.district_token(district) is None


def test_rotate_token(client, district):
    old = services.district_token(district)
    post(client, "sandbox:control-district-action", {"action": "rotate_token"}, district_id=district.id)
    old.refresh_from_db()
    new = services.district_token(district)
    assert old.revoked_at is not None
    assert new is not None and new.access_token != old.access_token


def test_disconnect_and_reconnect(client, district):
    post(client, "sandbox:control-district-action", {"action": "disconnect"}, district_id=district.id)
    district.refresh_from_db()
    assert not district.connected
    assert not SandboxToken.objects.filter(district=district, revoked_at__isnull=True).exists()
    response = post(
        client,
        "sandbox:control-district-action",
        {"action": "reconnect", "back": "district"},
        district_id=district.id,
    )
    assert response["Location"] == reverse("sandbox:control-district", args=[district.id])
    district.refresh_from_db()
    assert district.connected and services.district_token(district) is not None


def test_events_switch(client, district):
    post(client, "sandbox:control-district-action", {"action": "events_off"}, district_id=district.id)
    district.refresh_from_db()
    assert not district.events_enabled
    post(client, "sandbox:control-district-action", {"action": "events_on"}, district_id=district.id)
    district.refresh_from_db()
    assert district.events_enabled


def test_unknown_action_is_refused(client, district):
    response = post(client, "sandbox:control-district-action", {"action": "explode"}, district_id=district.id)
    assert response.status_code == 400


def test_set_lms_emits_a_district_event(client, district):
    response = post(
        client,
        "sandbox:control-district-lms",
        {f"{district.id}-lms_type": "google_classroom", f"{district.id}-lms_state": ""},
        district_id=district.id,
    )
    assert response.status_code == 302
    district.refresh_from_db()
    assert (district.lms_type, district.lms_state) == ("google_classroom", "success")
    event = SandboxEvent.objects.get(district=district)
    assert event.type == "districts.updated"
    payload = json.loads(event.body)
    assert payload["object"]["lms_type"] == "google_classroom"
    assert payload["previous_attributes"]["lms_type"] == ""
    post(
        client,
        "sandbox:control-district-lms",
        {f"{district.id}-lms_type": "canvas", f"{district.id}-lms_state": "error"},
        district_id=district.id,
    )
    district.refresh_from_db()
    assert (district.lms_type, district.lms_state) == ("canvas", "error")
    bad = post(
        client, "sandbox:control-district-lms", {f"{district.id}-lms_type": "moodle"}, district_id=district.id
    )
    assert bad.status_code == 400


# --- knobs ------------------------------------------------------------------------------------------


def test_rate_limit(client, sandbox_knobs):
    response = post(client, "sandbox:control-rate-limit", {"rate_limit_per_minute": "7"})
    assert response.status_code == 302
    assert sandbox_knobs.rate_limit_per_minute == 7
    assert "<strong>7</strong>" in client.get(reverse("sandbox:home")).content.decode()
    assert post(client, "sandbox:control-rate-limit", {"rate_limit_per_minute": "0"}).status_code == 400
    assert sandbox_knobs.rate_limit_per_minute == 7


def test_add_and_clear_faults(client, sandbox_knobs):
    response = post(
        client,
        "sandbox:control-add-fault",
        {
            "kind": "status",
            "on_request": "3",
            "count": "2",
            "status": "502",
            "delay": "",
            "path_contains": "/users",
        },
    )
    assert response.status_code == 302
    (fault,) = sandbox_knobs.faults
    assert (fault.kind, fault.on_request, fault.count, fault.status, fault.path_contains) == (
        "status",
        3,
        2,
        502,
        "/users",
    )
    post(
        client, "sandbox:control-add-fault", {"kind": "slow", "on_request": "1", "count": "1", "delay": "2.5"}
    )
    assert sandbox_knobs.faults[1].kind == "slow" and sandbox_knobs.faults[1].delay == 2.5
    html = client.get(reverse("sandbox:home")).content.decode()
    assert html.count('class="fault"') == 2
    assert (
        post(
            client, "sandbox:control-add-fault", {"kind": "explode", "on_request": "1", "count": "1"}
        ).status_code
        == 400
    )
    post(client, "sandbox:control-clear-faults")
    assert sandbox_knobs.faults == []


def test_a_fault_added_on_the_page_hits_the_api(client, district, sandbox_knobs):
    post(
        client,
        "sandbox:control-add-fault",
        {"kind": "status", "on_request": "1", "count": "1", "status": "503"},
    )
    token = services.district_token(district).access_token
    api = Client(HTTP_AUTHORIZATION=f"Bearer {token}")
    assert api.get("/sandbox/v3.1/schools").status_code == 503
    assert api.get("/sandbox/v3.1/schools").status_code == 200


# --- roster changes ---------------------------------------------------------------------------------


def test_add_student_to_section_emits_events(client, district, sections):
    section_id = sections[0].clever_id
    before = body(section_id)["students"]
    response = post(
        client,
        "sandbox:control-roster",
        {"section_id": section_id, "first": "Zoë", "last": "O'Brien"},
        district_id=district.id,
        op="add_student",
    )
    assert response.status_code == 302
    student = SandboxRecord.objects.get(district=district, display_name="Zoë O'Brien")
    assert student.is_student
    assert body(student.clever_id)["roles"]["student"]["school"] == body(section_id)["school"]
    assert body(section_id)["students"] == [*before, student.clever_id]
    assert event_types(district) == ["users.created", "sections.updated"]
    updated = json.loads(SandboxEvent.objects.get(type="sections.updated").body)
    assert updated["previous_attributes"]["students"] == before


def test_rename_user_emits_users_updated(client, district, sections):
    user_id = body(sections[0].clever_id)["students"][0]
    old_name = body(user_id)["name"]
    post(
        client,
        "sandbox:control-roster",
        {"user_id": user_id, "first": "Łucja", "last": "Smith-Jones"},
        district_id=district.id,
        op="rename_user",
    )
    assert body(user_id)["name"]["first"] == "Łucja"
    assert body(user_id)["name"]["last"] == "Smith-Jones"
    event = SandboxEvent.objects.get(district=district)
    assert event.type == "users.updated" and event.record_id == user_id
    assert json.loads(event.body)["previous_attributes"]["name"] == old_name


def test_remove_user_updates_their_sections_then_deletes(client, district, sections):
    user_id = body(sections[0].clever_id)["students"][0]
    holding = [s.clever_id for s in sections if user_id in body(s.clever_id)["students"]]
    post(client, "sandbox:control-roster", {"user_id": user_id}, district_id=district.id, op="remove_user")
    assert not SandboxRecord.objects.filter(clever_id=user_id).exists()
    for section_id in holding:
        assert user_id not in body(section_id)["students"]
    types = event_types(district)
    assert types[-1] == "users.deleted"
    assert types.count("sections.updated") == len(holding)


def test_add_and_remove_a_section(client, district):
    post(
        client,
        "sandbox:control-roster",
        {"school_id": "", "name": "Robotics Club", "students": "3"},
        district_id=district.id,
        op="add_section",
    )
    section = SandboxRecord.objects.get(
        district=district, record_type=RecordType.SECTIONS, body__contains="Robotics Club"
    )
    data = body(section.clever_id)
    assert len(data["students"]) == 3 and data["teacher"] == data["teachers"][0]
    post(
        client,
        "sandbox:control-roster",
        {"section_id": section.clever_id},
        district_id=district.id,
        op="remove_section",
    )
    assert not SandboxRecord.objects.filter(clever_id=section.clever_id).exists()
    assert event_types(district) == ["sections.created", "sections.deleted"]


def test_roster_change_on_an_unknown_record_changes_nothing(client, district):
    response = client.post(
        reverse("sandbox:control-roster", kwargs={"district_id": district.id, "op": "remove_user"}),
        {"user_id": "f" * 24},
        follow=True,
    )
    assert response.status_code == 200
    assert "no user" in response.content.decode()
    assert event_types(district) == []
    bad = post(client, "sandbox:control-roster", {}, district_id=district.id, op="rename_user")
    assert bad.status_code == 400
    assert (
        post(client, "sandbox:control-roster", {}, district_id=district.id, op="drop_tables").status_code
        == 400
    )


def test_roster_change_with_events_off_emits_none(client, district, sections):
    services.set_events_enabled(district=district, enabled=False)
    post(
        client,
        "sandbox:control-roster",
        {"section_id": sections[0].clever_id},
        district_id=district.id,
        op="add_student",
    )
    assert SandboxRecord.objects.filter(district=district, is_student=True).count() == 501
    assert event_types(district) == []


# --- admin ------------------------------------------------------------------------------------------


@pytest.fixture
def staff_client(client):
    user = get_user_model().objects.create_superuser(
        username="support", password="pw-12345678", email="support@example.org"
    )
    client.force_login(user)
    return client


def test_admin_lists_never_show_full_tokens(staff_client, district):
    token = services.district_token(district).access_token
    for name in ("sandbox_sandboxtoken_changelist", "sandbox_sandboxdistrict_changelist"):
        response = staff_client.get(reverse(f"admin:{name}"))
        assert response.status_code == 200
        html = response.content.decode()
        assert token not in html
        assert f"{token[:4]}…" in html
    response = staff_client.get(reverse("admin:sandbox_sandboxdistrict_change", args=[district.id]))
    assert response.status_code == 200 and token not in response.content.decode()


def test_admin_is_read_only(staff_client, district):
    assert staff_client.get(reverse("admin:sandbox_sandboxdistrict_add")).status_code == 403
    record = SandboxRecord.objects.filter(district=district).first()
    # Whole districts may be deleted (tests/sandbox/test_delete_district.py), records not.
    response = staff_client.post(reverse("admin:sandbox_sandboxrecord_delete", args=[record.clever_id]))
    assert response.status_code == 403
    assert SandboxRecord.objects.filter(clever_id=record.clever_id).exists()
    page = staff_client.get(reverse("admin:sandbox_sandboxrecord_change", args=[record.clever_id]))
    assert page.status_code == 200 and record.clever_id in page.content.decode()


@pytest.mark.parametrize(
    ("action", "check"),
    [
        ("revoke_token", lambda d: services.district_token(d) is None),
        ("disconnect", lambda d: not d.connected and services.district_token(d) is None),
        ("disable_events", lambda d: not d.events_enabled),
    ],
)
def test_admin_actions_call_the_services(staff_client, district, action, check):
    response = staff_client.post(
        reverse("admin:sandbox_sandboxdistrict_changelist"),
        {"action": action, "_selected_action": [district.id], "index": "0"},
    )
    assert response.status_code == 302
    district.refresh_from_db()
    assert check(district)


def test_admin_rotate_and_reconnect(staff_client, district):
    old = services.district_token(district).access_token
    url = reverse("admin:sandbox_sandboxdistrict_changelist")
    staff_client.post(url, {"action": "rotate_token", "_selected_action": [district.id]})
    assert services.district_token(district).access_token != old
    services.disconnect_district(district=district)
    staff_client.post(url, {"action": "reconnect", "_selected_action": [district.id]})
    district.refresh_from_db()
    assert district.connected and services.district_token(district) is not None
    staff_client.post(url, {"action": "disable_events", "_selected_action": [district.id]})
    staff_client.post(url, {"action": "enable_events", "_selected_action": [district.id]})
    district.refresh_from_db()
    assert district.events_enabled
