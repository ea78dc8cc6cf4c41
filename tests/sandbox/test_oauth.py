"""The clever.com side of the sandbox: logins, codes and /oauth/tokens, as Clever behaves."""

import base64
import json
import re
import threading
from urllib.parse import parse_qs, urlsplit

import pytest
from django.db import connection
from django.test import Client

from sandbox import services
from sandbox.models import (
    RecordType,
    SandboxAuthCode,
    SandboxRecord,
    SandboxToken,
    Sharing,
    TokenKind,
)
from sandbox.views.oauth import LOGIN_COOKIE

PRIMARY = "https://app.example.com/clever/callback"
SECONDARY = "https://app.example.com/clever/other-callback"
AUTHORIZE = "/sandbox/oauth/authorize"
INSTANT_LOGIN = "/sandbox/oauth/instant-login"
TOKENS = "/sandbox/oauth/tokens"


@pytest.fixture
def app(sandbox_app):
    return services.set_redirect_uris(uris=[PRIMARY, SECONDARY])


@pytest.fixture
def district(db):
    return services.create_district(name="Springfield USD")


def make_user(district, first, last, *roles):
    data = {"name": {"first": first, "last": last}, "roles": {role: {} for role in roles}}
    return services.put_record(district=district, record_type=RecordType.USERS, data=data)["id"]


def issue_code(app, clever_id):
    user = SandboxRecord.objects.get(clever_id=clever_id)
    return services.issue_auth_code(application=app, user=user, redirect_uri=PRIMARY).code


def basic(client_id, secret):
    return "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()


def app_auth(app):
    return {"HTTP_AUTHORIZATION": basic(app.client_id, app.client_secret)}


def authorize_params(app, **extra):
    return {"response_type": "code", "client_id": app.client_id, "redirect_uri": PRIMARY, **extra}


def landed(response, uri=PRIMARY):
    """The query the app's redirect URI receives, after checking it is that URI."""
    assert response.status_code == 302
    location = urlsplit(response["Location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == uri
    return {name: values[0] for name, values in parse_qs(location.query).items()}


def exchange(client, app, code, redirect_uri=PRIMARY, as_json=True):
    body = {"code": code, "grant_type": "authorization_code", "redirect_uri": redirect_uri}
    if as_json:
        return client.post(TOKENS, json.dumps(body), content_type="application/json", **app_auth(app))
    return client.post(TOKENS, body, **app_auth(app))


def listed_names(response):
    return re.findall(r'<td class="user-name">([^<]+)</td>', response.content.decode())


# --- /oauth/authorize ---------------------------------------------------------------------------


def test_authorize_round_trip_echoes_state_and_gives_an_sso_token(client, app, district):
    student = make_user(district, "Ada", "Lovelace", "student")

    page = client.get(AUTHORIZE, authorize_params(app, state="xyz 1/2"))
    assert page.status_code == 200
    assert "Ada Lovelace" in page.content.decode()

    query = landed(client.post(AUTHORIZE, {**authorize_params(app, state="xyz 1/2"), "user": student}))
    assert query["state"] == "xyz 1/2"
    response = exchange(client, app, query["code"])

    assert response.status_code == 200
    body = response.json()
    assert body["token_type"] == "bearer"
    token = SandboxToken.objects.get(access_token=body["access_token"])
    assert (token.kind, token.user_id, token.district_id) == (TokenKind.SSO, student, district.id)
    assert response["Cache-Control"] == "no-store"


def test_authorize_without_state_sends_none_and_defaults_to_the_primary_uri(client, app, district):
    teacher = make_user(district, "Grace", "Hopper", "teacher")
    params = {"response_type": "code", "client_id": app.client_id, "user": teacher}

    query = landed(client.post(AUTHORIZE, params), uri=PRIMARY)

    assert set(query) == {"code"}
    assert SandboxAuthCode.objects.get(code=query["code"]).redirect_uri == PRIMARY


def test_authorize_goes_to_a_second_registered_uri_when_asked(client, app, district):
    teacher = make_user(district, "Grace", "Hopper", "teacher")

    response = client.post(AUTHORIZE, {**authorize_params(app, redirect_uri=SECONDARY), "user": teacher})

    assert "code" in landed(response, uri=SECONDARY)


def test_a_registered_uri_keeps_its_own_query(client, app, district):
    with_query = "https://app.example.com/clever/callback?tenant=7"
    services.set_redirect_uris(uris=[with_query])
    student = make_user(district, "Ada", "Lovelace", "student")

    response = client.get("/sandbox/portal/launch", {"user": student})

    query = landed(response, uri="https://app.example.com/clever/callback")
    assert query["tenant"] == "7"
    assert SandboxAuthCode.objects.get(code=query["code"]).redirect_uri == with_query


@pytest.mark.parametrize("method", ["get", "post"])
@pytest.mark.parametrize(
    ("override", "message"),
    [
        ({"redirect_uri": "https://evil.example.com/steal"}, "redirect_uri is not registered"),
        ({"redirect_uri": PRIMARY + "/"}, "redirect_uri is not registered"),
        ({"client_id": "someone-else"}, "Unknown client_id"),
        ({"response_type": "token"}, "response_type must be"),
        ({"district_id": "0" * 24}, "No district"),
    ],
)
def test_invalid_authorize_requests_get_an_error_page_never_a_redirect(
    client, app, district, method, override, message
):
    student = make_user(district, "Ada", "Lovelace", "student")
    params = {**authorize_params(app, state="s"), **override, "user": student}

    response = getattr(client, method)(AUTHORIZE, params)

    assert response.status_code == 400
    assert "Location" not in response
    assert message in response.content.decode()
    assert not SandboxAuthCode.objects.exists()


def test_the_login_page_searches_filters_and_pages(client, app, district):
    other = services.create_district(name="Shelbyville USD")
    make_user(district, "Ada", "Lovelace", "student")
    make_user(district, "Grace", "Hopper", "teacher", "staff")
    make_user(district, "Alan", "Turing", "district_admin")
    make_user(other, "Ada", "Byron", "teacher")
    for n in range(30):
        make_user(other, "Pupil", f"Number{n:02d}", "student")
    params = authorize_params(app)

    assert listed_names(client.get(AUTHORIZE, {**params, "q": "ada"})) == ["Ada Byron", "Ada Lovelace"]
    assert listed_names(client.get(AUTHORIZE, {**params, "q": "hop gra"})) == ["Grace Hopper"]
    assert listed_names(client.get(AUTHORIZE, {**params, "role": "staff"})) == ["Grace Hopper"]
    assert listed_names(client.get(AUTHORIZE, {**params, "q": "ada", "district": other.id})) == ["Ada Byron"]
    # district_id restricts the page to that district, whatever the filters say.
    restricted = client.get(AUTHORIZE, {**params, "district_id": district.id, "district": other.id})
    assert listed_names(restricted) == ["Ada Lovelace", "Alan Turing", "Grace Hopper"]

    pupils = {**params, "role": "student", "district": other.id}
    first = client.get(AUTHORIZE, pupils)
    second = client.get(AUTHORIZE, {**pupils, "page": 2})
    assert len(listed_names(first)) == 25
    assert listed_names(second) == [f"Pupil Number{n:02d}" for n in range(25, 30)]
    # The next-page link keeps the OAuth parameters and the filters.
    assert "redirect_uri=" in first.content.decode()
    assert "role=student" in first.content.decode()


def test_the_login_form_carries_the_oauth_params_and_a_csrf_token(app, district):
    make_user(district, "Ada", "Lovelace", "student")
    client = Client(enforce_csrf_checks=True)
    page = client.get(AUTHORIZE, authorize_params(app, state="abc", district_id=district.id))
    html = page.content.decode()

    assert 'name="csrfmiddlewaretoken"' in html
    for name, value in [("state", "abc"), ("district_id", district.id), ("redirect_uri", PRIMARY)]:
        assert f'name="{name}" value="{value}"' in html
    forged = client.post(AUTHORIZE, {**authorize_params(app), "user": "x"})
    assert forged.status_code == 403


def test_a_clever_login_cookie_completes_the_next_authorize_without_a_form(client, app, district):
    student = make_user(district, "Ada", "Lovelace", "student")
    first = landed(client.post(AUTHORIZE, {**authorize_params(app), "user": student}))

    again = landed(client.get(AUTHORIZE, authorize_params(app, state="second")))

    assert again["state"] == "second"
    assert again["code"] != first["code"]
    assert SandboxAuthCode.objects.get(code=again["code"]).user_id == student


def test_a_cookie_user_of_another_district_sees_that_districts_login_page(client, app, district):
    other = services.create_district(name="Shelbyville USD")
    student = make_user(district, "Ada", "Lovelace", "student")
    make_user(other, "Bart", "Simpson", "student")
    landed(client.post(AUTHORIZE, {**authorize_params(app), "user": student}))

    page = client.get(AUTHORIZE, authorize_params(app, district_id=other.id))

    assert page.status_code == 200
    assert listed_names(page) == ["Bart Simpson"]
    refused = client.post(AUTHORIZE, {**authorize_params(app, district_id=other.id), "user": student})
    assert refused.status_code == 400


def test_a_forged_cookie_is_ignored(client, app, district):
    student = make_user(district, "Ada", "Lovelace", "student")
    client.cookies[LOGIN_COOKIE] = student

    response = client.get(AUTHORIZE, authorize_params(app))

    assert response.status_code == 200
    assert "Log in to Clever" in response.content.decode()


def test_users_of_a_disconnected_district_cannot_log_in(client, app, district):
    student = make_user(district, "Ada", "Lovelace", "student")
    services.disconnect_district(district=district)

    picked = client.post(AUTHORIZE, {**authorize_params(app), "user": student})
    by_district = client.get(AUTHORIZE, authorize_params(app, district_id=district.id))

    for response in (picked, by_district):
        assert response.status_code == 400
        assert "not available for Springfield USD" in response.content.decode()
    assert not SandboxAuthCode.objects.exists()
    assert LOGIN_COOKIE not in picked.cookies


# --- /oauth/instant-login and the Portal ------------------------------------------------------


def test_instant_login_shows_the_districts_login_page_then_goes_to_the_primary_uri(client, app, district):
    other = services.create_district(name="Shelbyville USD")
    student = make_user(district, "Ada", "Lovelace", "student")
    make_user(other, "Bart", "Simpson", "student")
    params = {"client_id": app.client_id, "district_id": district.id}

    page = client.get(INSTANT_LOGIN, params)
    assert listed_names(page) == ["Ada Lovelace"]
    query = landed(client.post(INSTANT_LOGIN, {**params, "user": student}), uri=PRIMARY)

    assert set(query) == {"code"}
    again = landed(client.get(INSTANT_LOGIN, {**params, "state": "ignored"}), uri=PRIMARY)
    assert set(again) == {"code"}
    assert exchange(client, app, again["code"]).status_code == 200


def test_instant_login_refuses_unknown_clients_and_library_districts(client, app):
    library = services.create_district(name="Library District", sharing=Sharing.LIBRARY)

    unknown = client.get(INSTANT_LOGIN, {"client_id": "nope", "district_id": library.id})
    for_library = client.get(INSTANT_LOGIN, {"client_id": app.client_id, "district_id": library.id})

    assert unknown.status_code == 400
    assert for_library.status_code == 400
    assert "Clever Library" in for_library.content.decode()


def test_the_portal_lists_users_and_launches_the_app_at_the_primary_uri(client, app, district):
    student = make_user(district, "Ada", "Lovelace", "student")
    make_user(district, "Grace", "Hopper", "teacher")

    portal = client.get("/sandbox/portal/", {"role": "teacher"})
    assert listed_names(portal) == ["Grace Hopper"]
    assert "Not logged in to Clever" in portal.content.decode()

    query = landed(client.get("/sandbox/portal/launch", {"user": student}), uri=PRIMARY)
    assert set(query) == {"code"}
    assert SandboxAuthCode.objects.get(code=query["code"]).user_id == student
    # Launching logged the user in to Clever: a "Log in with Clever" completes at once.
    assert "Logged in to Clever as" in client.get("/sandbox/portal/").content.decode()
    assert "code" in landed(client.get(AUTHORIZE, authorize_params(app)))


def test_portal_launch_of_an_unknown_user_is_a_404(client, app):
    response = client.get("/sandbox/portal/launch", {"user": "0" * 24})

    assert response.status_code == 404
    assert "Location" not in response


def test_logging_out_of_clever_brings_the_login_page_back(client, app, district):
    student = make_user(district, "Ada", "Lovelace", "student")
    landed(client.get("/sandbox/portal/launch", {"user": student}))

    logout = client.get("/sandbox/portal/logout")

    assert logout.status_code == 302
    assert client.get(AUTHORIZE, authorize_params(app)).status_code == 200


# --- POST /oauth/tokens -------------------------------------------------------------------------


@pytest.fixture
def issued_code(app, district):
    """A fresh code for a student, issued for the primary redirect URI."""
    student = make_user(district, "Ada", "Lovelace", "student")
    return issue_code(app, student)


@pytest.mark.parametrize("as_json", [True, False], ids=["json", "form"])
def test_a_code_is_exchanged_from_json_or_a_form(client, app, issued_code, as_json):
    response = exchange(client, app, issued_code, as_json=as_json)

    assert response.status_code == 200
    assert SandboxToken.objects.filter(
        access_token=response.json()["access_token"], kind=TokenKind.SSO
    ).exists()


@pytest.mark.parametrize(
    "authorization",
    [
        None,
        basic("sandbox-client-id", "wrong"),
        basic("other", "sandbox-client-secret"),
        "Basic !!!not-base64",
        "Bearer something",
    ],
)
def test_bad_client_credentials_are_invalid_client(client, app, issued_code, authorization):
    headers = {"HTTP_AUTHORIZATION": authorization} if authorization else {}
    body = {"code": issued_code, "grant_type": "authorization_code", "redirect_uri": PRIMARY}

    response = client.post(TOKENS, body, **headers)

    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"
    assert response["WWW-Authenticate"].startswith("Basic")
    assert SandboxAuthCode.objects.get(code=issued_code).redeemed_at is None


def test_a_code_is_single_use(client, app, issued_code):
    assert exchange(client, app, issued_code).status_code == 200

    again = exchange(client, app, issued_code)

    assert again.status_code == 400
    assert again.json()["error"] == "invalid_grant"
    assert SandboxToken.objects.filter(kind=TokenKind.SSO).count() == 1


def test_a_code_expires_after_sixty_seconds_of_sandbox_time(client, app, district, fake_clock):
    student = make_user(district, "Ada", "Lovelace", "student")
    fresh, stale = issue_code(app, student), issue_code(app, student)

    fake_clock.now += 59
    assert exchange(client, app, fresh).status_code == 200
    fake_clock.now += 2
    expired = exchange(client, app, stale)

    assert expired.status_code == 400
    assert expired.json() == {"error": "invalid_grant", "error_description": "Invalid grant: code expired"}


def test_a_redirect_uri_mismatch_is_invalid_grant_and_keeps_the_code(client, app, issued_code):
    mismatch = exchange(client, app, issued_code, redirect_uri=SECONDARY)

    assert mismatch.status_code == 400
    assert mismatch.json()["error"] == "invalid_grant"
    assert exchange(client, app, issued_code).status_code == 200


@pytest.mark.parametrize(
    ("body", "status", "error"),
    [
        ({"grant_type": "client_credentials"}, 400, "unsupported_grant_type"),
        ({"grant_type": "authorization_code"}, 400, "invalid_request"),
        ({"grant_type": "authorization_code", "code": "no-such-code"}, 400, "invalid_grant"),
    ],
)
def test_malformed_exchanges(client, app, body, status, error):
    response = client.post(TOKENS, {"redirect_uri": PRIMARY, **body}, **app_auth(app))

    assert response.status_code == status
    assert response.json()["error"] == error


def test_a_library_district_login_gives_a_teacher_token(client, app):
    library = services.create_district(name="Library District", sharing=Sharing.LIBRARY)
    teacher = make_user(library, "Maria", "Montessori", "teacher")

    query = landed(client.post(AUTHORIZE, {**authorize_params(app), "user": teacher}))
    response = exchange(client, app, query["code"])

    token = SandboxToken.objects.get(access_token=response.json()["access_token"])
    assert (token.kind, token.user_id) == (TokenKind.TEACHER, teacher)


def test_a_code_from_a_district_that_disconnected_since_is_refused(client, app, district, issued_code):
    services.disconnect_district(district=district)

    response = exchange(client, app, issued_code)

    assert response.status_code == 400
    assert response.json()["error"] == "invalid_grant"


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_exchanges_of_one_code_give_one_token(postgres, app, district):
    code = issue_code(app, make_user(district, "Ada", "Lovelace", "student"))
    barrier = threading.Barrier(8)
    statuses = []

    def attempt():
        barrier.wait()
        try:
            statuses.append(exchange(Client(), app, code).status_code)
        finally:
            connection.close()

    threads = [threading.Thread(target=attempt) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(statuses) == [200] + [400] * 7
    assert SandboxToken.objects.filter(kind=TokenKind.SSO).count() == 1


# --- GET /oauth/tokens ----------------------------------------------------------------------------


def test_district_tokens_list_live_tokens_of_connected_districts(client, app, district):
    rotated = services.create_district(name="Rotated USD")
    new_token = services.rotate_district_token(district=rotated)
    gone = services.create_district(name="Gone USD")
    services.disconnect_district(district=gone)
    services.create_district(name="Library District", sharing=Sharing.LIBRARY)
    expected = {
        district.id: services.district_token(district).access_token,
        rotated.id: new_token.access_token,
    }

    response = client.get(TOKENS, {"owner_type": "district"}, **app_auth(app))

    assert response.status_code == 200
    body = response.json()
    assert body["links"] == [{"rel": "self", "uri": "/oauth/tokens?owner_type=district"}]
    assert {item["owner"]["id"]: item["access_token"] for item in body["data"]} == expected
    for item in body["data"]:
        assert re.fullmatch(r"[0-9a-f]{24}", item["id"])
        assert item["owner"]["type"] == "district"
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", item["created"])
        assert item["scopes"] == services.DISTRICT_SCOPES
    # The id belongs to the token: the same on every call.
    assert client.get(TOKENS, {"owner_type": "district"}, **app_auth(app)).json() == body


def test_district_tokens_for_one_district(client, app, district):
    services.create_district(name="Other USD")
    gone = services.create_district(name="Gone USD")
    services.disconnect_district(district=gone)

    one = client.get(TOKENS, {"owner_type": "district", "district": district.id}, **app_auth(app))
    none = client.get(TOKENS, {"owner_type": "district", "district": gone.id}, **app_auth(app))

    assert [item["owner"]["id"] for item in one.json()["data"]] == [district.id]
    assert none.json()["data"] == []


@pytest.mark.parametrize("query", [{}, {"owner_type": "user"}])
def test_district_tokens_need_owner_type_district(client, app, query):
    response = client.get(TOKENS, query, **app_auth(app))

    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"


def test_district_tokens_need_client_credentials(client, app, district):
    response = client.get(
        TOKENS, {"owner_type": "district"}, HTTP_AUTHORIZATION=basic(app.client_id, "wrong")
    )

    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"
    assert services.district_token(district).access_token not in response.content.decode()
