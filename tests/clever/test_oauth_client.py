"""The client's OAuth side against the local Clever: authorize URLs, code exchange, district
tokens; and Events after a cursor."""

import json
import logging
from urllib.parse import parse_qs, urlsplit

import pytest
from django.conf import settings
from django.test import Client

from clever import errors
from clever.oauth import DistrictToken
from sandbox import services
from sandbox.models import RecordType

from .conftest import load_students


def _query(url: str) -> dict[str, list[str]]:
    return parse_qs(urlsplit(url).query, keep_blank_values=True)


def _login(authorize_url: str, user_id: str) -> dict[str, str]:
    """Log in at the sandbox through ``authorize_url`` as ``user_id``; the query the app's
    redirect URI receives."""
    parts = urlsplit(authorize_url)
    params = {name: values[0] for name, values in parse_qs(parts.query).items()}
    response = Client().post(parts.path, {**params, "user": user_id})
    assert response.status_code == 302, response.content[:300]
    location = urlsplit(response["Location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == settings.CLEVER_REDIRECT_URI
    return {name: values[0] for name, values in parse_qs(location.query).items()}


@pytest.fixture
def user_id(district) -> str:
    return services.put_record(
        district=district,
        record_type=RecordType.USERS,
        data={
            "name": {"first": "Lisa", "last": "Simpson"},
            "roles": {"student": {"sis_id": "42", "grade": "2"}},
        },
    )["id"]


@pytest.fixture
def oauth_client(make_client):
    return make_client(None)


# --- authorize URL -------------------------------------------------------------------------------


def test_the_authorize_url_carries_what_clever_needs(oauth_client):
    url = oauth_client.authorize_url(state="s-123", district_id="5a0c91b95c7cc000010d417c")
    parts = urlsplit(url)
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == (f"{settings.CLEVER_OAUTH_BASE}/oauth/authorize")
    assert _query(url) == {
        "response_type": ["code"],
        "client_id": [settings.CLEVER_CLIENT_ID],
        "redirect_uri": [settings.CLEVER_REDIRECT_URI],
        "state": ["s-123"],
        "district_id": ["5a0c91b95c7cc000010d417c"],
    }


def test_the_authorize_url_leaves_out_what_was_not_given(make_client):
    client = make_client(
        None,
        oauth_base="https://client.com",
        client_id="abc",
        redirect_uri="https://app.example.com/cb?x=1&y=2",
    )
    url = client.authorize_url()
    assert url.startswith("https://client.com/oauth/authorize?")
    assert _query(url) == {
        "response_type": ["code"],
        "client_id": ["abc"],
        "redirect_uri": ["https://app.example.com/cb?x=1&y=2"],
    }
    other = client.authorize_url(redirect_uri="https://app.example.com/other", state="z")
    assert _query(other)["redirect_uri"] == ["https://app.example.com/other"]
    assert _query(other)["state"] == ["z"]


def test_the_instant_login_url(oauth_client, district):
    url = oauth_client.instant_login_url(district_id=district.id)
    assert url.startswith(f"{settings.CLEVER_OAUTH_BASE}/oauth/instant-login?")
    assert _query(url) == {"client_id": [settings.CLEVER_CLIENT_ID], "district_id": [district.id]}


# --- code exchange -------------------------------------------------------------------------------


def test_a_login_round_trip_ends_with_the_users_token(oauth_client, user_id, district):
    landed = _login(oauth_client.authorize_url(state="csrf-1"), user_id)
    assert landed["state"] == "csrf-1"

    token = oauth_client.exchange_code(landed["code"])

    assert token.access_token
    assert token.token_type == "bearer"
    assert token.raw["access_token"] == token.access_token
    assert token.access_token not in repr(token)
    me = oauth_client.with_token(token.access_token).me()
    assert (me.type, me.id, me.district, me.authorized_by) == ("user", user_id, district.id, "district")
    user = oauth_client.with_token(token.access_token).get_record("users", user_id)
    assert user["name"]["first"] == "Lisa"


def test_a_code_exchanged_twice_is_refused(oauth_client, user_id, caplog):
    caplog.set_level(logging.DEBUG)
    code = _login(oauth_client.authorize_url(), user_id)["code"]
    first = oauth_client.exchange_code(code)
    oauth_client.stats.reset()

    with pytest.raises(errors.InvalidGrant) as caught:
        oauth_client.exchange_code(code)

    error = caught.value
    assert isinstance(error, errors.OAuthError)
    assert (error.status, error.error) == (400, "invalid_grant")
    assert "Invalid grant" in error.message
    assert error.url == urlsplit(settings.CLEVER_OAUTH_BASE).path + "/oauth/tokens"
    assert code not in str(error)
    assert oauth_client.stats.requests == 1  # not retried
    assert code not in caplog.text
    assert first.access_token not in caplog.text


def test_an_expired_code_is_refused(oauth_client, user_id, fake_clock):
    code = _login(oauth_client.authorize_url(), user_id)["code"]
    fake_clock.now += 61
    with pytest.raises(errors.InvalidGrant, match="expired"):
        oauth_client.exchange_code(code)


def test_a_code_for_another_redirect_uri_is_refused(oauth_client, user_id):
    code = _login(oauth_client.authorize_url(), user_id)["code"]
    with pytest.raises(errors.InvalidGrant):
        oauth_client.exchange_code(code, redirect_uri="https://elsewhere.example.com/cb")


def test_wrong_client_credentials_are_an_auth_error(make_client, user_id):
    client = make_client(None, client_secret="not-the-secret")
    with pytest.raises(errors.InvalidClient) as caught:
        client.exchange_code("whatever")
    assert isinstance(caught.value, errors.AuthError)
    assert caught.value.status == 401
    assert caught.value.error == "invalid_client"
    assert client.stats.requests == 1
    with pytest.raises(errors.AuthError):
        client.list_district_tokens()


def test_missing_credentials_or_code_fail_before_any_request(make_client):
    client = make_client(None, client_id="", client_secret="")
    with pytest.raises(ValueError, match="client ID and secret"):
        client.list_district_tokens()
    with pytest.raises(ValueError):
        client.exchange_code("")
    assert client.stats.requests == 0


# --- district tokens -----------------------------------------------------------------------------


def test_district_tokens_are_listed(oauth_client, district):
    other = services.create_district(name="Shelbyville")
    library = services.create_district(name="Library", sharing="library")

    tokens = oauth_client.list_district_tokens()

    by_district = {t.district_id: t for t in tokens}
    assert set(by_district) == {district.id, other.id}
    assert library.id not in by_district
    token = by_district[district.id]
    assert isinstance(token, DistrictToken)
    assert token.access_token == services.district_token(district).access_token
    assert "read:students" in token.scopes
    assert token.created is not None and token.created.tzinfo is not None
    assert token.id
    assert token.access_token not in repr(token)
    assert oauth_client.stats.pages == 1


def test_one_districts_token_follows_rotation_and_disconnection(oauth_client, district):
    services.create_district(name="Shelbyville")
    old = services.district_token(district).access_token
    assert oauth_client.get_district_token(district.id).access_token == old
    assert [t.district_id for t in oauth_client.list_district_tokens(district_id=district.id)] == [
        district.id
    ]

    new = services.rotate_district_token(district=district).access_token
    assert oauth_client.get_district_token(district.id).access_token == new
    with pytest.raises(errors.AuthError):
        oauth_client.with_token(old).get("users")

    services.disconnect_district(district=district)
    assert oauth_client.get_district_token(district.id) is None


# --- events --------------------------------------------------------------------------------------


def test_events_after_a_cursor(district_client, district):
    school = services.put_record(
        district=district, record_type=RecordType.SCHOOLS, data={"name": "Springfield Elementary"}
    )
    ids = load_students(district, 2, school_id=school["id"])
    cursor = district_client.latest_event_id()
    assert cursor is not None  # the school's creation

    services.update_record(clever_id=ids[0], changes={"email": "new@example.org"})
    section = services.put_record(
        district=district,
        record_type=RecordType.SECTIONS,
        data={"name": "Math", "school": school["id"], "students": ids, "teachers": []},
    )
    services.delete_record(clever_id=ids[1])

    pages = list(district_client.iter_event_pages(starting_after=cursor, page_size=2))

    events = [event for page in pages for event in page.records]
    assert [len(page) for page in pages] == [2, 1]
    assert [e["type"] for e in events] == ["users.updated", "sections.created", "users.deleted"]
    assert [e["data"]["object"]["id"] for e in events] == [ids[0], section["id"], ids[1]]
    assert events[0]["data"]["previous_attributes"]["email"] == "student0@example.org"
    assert [e["id"] for e in events] == sorted(e["id"] for e in events)
    assert all(e["id"] > cursor for e in events)
    assert district_client.latest_event_id() == events[-1]["id"]

    users_only = list(district_client.iter_events(starting_after=cursor, record_types=["users"]))
    assert [e["type"] for e in users_only] == ["users.updated", "users.deleted"]
    both = list(district_client.iter_events(starting_after=cursor, record_types=["users", "sections"]))
    assert len(both) == 3
    in_school = list(district_client.iter_events(starting_after=cursor, school=school["id"]))
    assert {e["data"]["object"]["id"] for e in in_school} >= {section["id"]}
    assert district_client.get_event(events[1]["id"])["type"] == "sections.created"
    # Nothing after the newest event.
    assert list(district_client.iter_events(starting_after=events[-1]["id"])) == []


def test_no_events_yet(district_client, district):
    load_students(district, 3)  # a bulk load is the state before connecting: no events
    assert district_client.latest_event_id() is None
    assert list(district_client.iter_events()) == []


def test_a_stale_event_cursor_is_a_bad_request(district_client, district):
    services.put_record(district=district, record_type=RecordType.SCHOOLS, data={"name": "S"})
    with pytest.raises(errors.BadRequest) as caught:
        list(district_client.iter_events(starting_after="0" * 24))
    assert caught.value.status == 400
    assert "full sync" in caught.value.message
    assert district_client.stats.requests == 1


def test_events_switched_off_are_forbidden(district_client, district):
    services.set_events_enabled(district=district, enabled=False)
    with pytest.raises(errors.Forbidden) as caught:
        district_client.latest_event_id()
    assert caught.value.status == 403
    assert not caught.value.retryable
    assert district_client.stats.requests == 1


# --- OAuth answers the sandbox never gives (a scripted transport) -------------------------------


def test_the_code_exchange_is_retried_after_a_5xx(stub_client):
    client, adapter = stub_client(
        [
            (503, '{"message": "down"}', {}),
            (200, '{"access_token": "tok-abc", "token_type": "bearer", "id_token": "jwt"}', {}),
        ],
        client_id="cid",
        client_secret="secret",
    )
    token = client.exchange_code("code-1", redirect_uri="https://app.example.com/cb")
    assert (token.access_token, token.id_token) == ("tok-abc", "jwt")
    assert len(adapter.sent) == 2
    assert all(
        method == "POST" and url == "https://clever.test/oauth/tokens" for method, url, _ in adapter.sent
    )


def test_a_token_answer_without_a_token_is_a_bad_response(stub_client):
    client, _ = stub_client([(200, '{"token_type": "bearer"}', {})], client_id="cid", client_secret="secret")
    with pytest.raises(errors.BadResponse, match='no "access_token"'):
        client.exchange_code("code-1")


def test_token_listing_follows_next_links_and_keeps_districts_only(stub_client):
    def item(owner_type, owner_id, token):
        return {
            "id": f"id-{token}",
            "created": "2016-05-02T22:42:10.533Z",
            "owner": {"type": owner_type, "id": owner_id},
            "access_token": token,
            "scopes": ["read:students"],
        }

    first = {
        "data": [item("district", "d1", "t1"), item("user", "u1", "t2")],
        "links": [{"rel": "next", "uri": "/oauth/tokens?owner_type=district&page=2"}],
    }
    second = {"data": [item("district", "d2", "t3")], "links": []}
    client, adapter = stub_client(
        [(200, json.dumps(first), {}), (200, json.dumps(second), {})], client_id="cid", client_secret="secret"
    )

    tokens = client.list_district_tokens()

    assert [(t.district_id, t.access_token) for t in tokens] == [("d1", "t1"), ("d2", "t3")]
    assert tokens[0].created.year == 2016
    assert adapter.sent[1][1] == "https://clever.test/oauth/tokens?owner_type=district&page=2"
    assert client.stats.pages == 2


def test_a_token_entry_without_a_token_is_a_bad_response(stub_client):
    body = '{"data": [{"id": "x", "owner": {"type": "district", "id": "d1"}}]}'
    client, _ = stub_client([(200, body, {})], client_id="cid", client_secret="secret")
    with pytest.raises(errors.BadResponse, match='token 0 has no "access_token"'):
        client.list_district_tokens()
