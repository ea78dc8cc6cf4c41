"""OpenID Connect in the local Clever: the JWKS and the discovery document, identity tokens from
code exchanges (claims, nonce, when there are none, key rotation, the fault knob), /userinfo."""

import base64
import json
from urllib.parse import parse_qs, urlsplit

import jwt
import pytest
from django.urls import reverse

from sandbox import oidc, services
from sandbox.knobs import KNOBS
from sandbox.models import RecordType, SandboxApplication, SandboxSigningKey, Sharing

PRIMARY = "https://app.example.com/clever/callback"
AUTHORIZE = "/sandbox/oauth/authorize"
TOKENS = "/sandbox/oauth/tokens"
CERTS = "/sandbox/oauth/certs"
DISCOVERY = "/sandbox/.well-known/openid-configuration"
USERINFO = "/sandbox/userinfo"
PERSON_CLAIMS = {
    "iss",
    "sub",
    "user_id",
    "multi_role_user_id",
    "aud",
    "iat",
    "exp",
    "user_type",
    "district",
    "email_verified",
    "given_name",
    "family_name",
}


@pytest.fixture
def app(sandbox_app):
    return services.set_redirect_uris(uris=[PRIMARY])


@pytest.fixture
def district(db):
    return services.create_district(name="Springfield USD")


def make_user(district, first, last, *roles, **fields) -> str:
    data = {"name": {"first": first, "last": last}, "roles": {role: {} for role in roles}, **fields}
    return services.put_record(district=district, record_type=RecordType.USERS, data=data)["id"]


def landed(response, uri=PRIMARY) -> dict:
    """The query the app's redirect URI receives, after checking it is that URI."""
    assert response.status_code == 302, response.content
    location = urlsplit(response["Location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == uri
    return {name: values[0] for name, values in parse_qs(location.query).items()}


def log_in(client, app: SandboxApplication, user_id: str, **params) -> str:
    """The code "Log in with Clever" as ``user_id`` sends the app."""
    query = {"response_type": "code", "client_id": app.client_id, "redirect_uri": PRIMARY, **params}
    return landed(client.post(AUTHORIZE, {**query, "user": user_id}))["code"]


def exchange(client, app: SandboxApplication, code: str) -> dict:
    """POST /oauth/tokens for ``code``: the JSON answer."""
    body = {"code": code, "grant_type": "authorization_code", "redirect_uri": PRIMARY}
    response = client.post(
        TOKENS,
        json.dumps(body),
        content_type="application/json",
        headers={"Authorization": "Basic " + _basic(app)},
    )
    assert response.status_code == 200, response.content
    return response.json()


def _basic(app: SandboxApplication) -> str:
    return base64.b64encode(f"{app.client_id}:{app.client_secret}".encode()).decode()


def verify(client, app: SandboxApplication, id_token: str) -> dict:
    """The claims of ``id_token`` checked as an app would: signature by a key of the JWKS
    (KeyError when its kid is not published), RS256, audience, issuer, expiry."""
    keys = jwt.PyJWKSet.from_dict(client.get(CERTS).json())
    key = keys[jwt.get_unverified_header(id_token)["kid"]]
    return jwt.decode(
        id_token, key.key, algorithms=["RS256"], audience=app.client_id, issuer="https://clever.com"
    )


def identity_token(client, app, user_id, **params) -> str:
    return exchange(client, app, log_in(client, app, user_id, **params))["id_token"]


# --- the JWKS and the discovery document ------------------------------------------------------------


def test_the_jwks_publishes_the_public_part_of_an_rsa_2048_key(client, db):
    response = client.get(CERTS)

    assert response.status_code == 200
    (key,) = response.json()["keys"]
    assert set(key) == {"kty", "kid", "use", "alg", "n", "e"}
    assert (key["kty"], key["use"], key["alg"]) == ("RSA", "sig", "RS256")
    assert key["kid"] == SandboxSigningKey.objects.get().kid
    assert jwt.PyJWK(key).key.key_size == 2048
    # Made once, on first need: the same key answers again.
    assert client.get(CERTS).json() == response.json()


def test_the_discovery_document_points_at_the_sandboxs_endpoints(client, db):
    response = client.get(DISCOVERY)

    assert response.status_code == 200
    document = response.json()
    assert document["issuer"] == "https://clever.com"
    assert document["authorization_endpoint"] == "http://testserver/sandbox/oauth/authorize"
    assert document["token_endpoint"] == "http://testserver/sandbox/oauth/tokens"
    assert document["userinfo_endpoint"] == "http://testserver/sandbox/userinfo"
    assert document["jwks_uri"] == "http://testserver/sandbox/oauth/certs"
    assert document["id_token_signing_alg_values_supported"] == ["RS256"]
    assert document["response_types_supported"] == ["code"]


# --- identity tokens ----------------------------------------------------------------------------------


def test_a_code_exchange_answers_an_identity_token_the_jwks_verifies(client, app, district):
    teacher = make_user(district, "Grace", "Hopper", "teacher", email="ghopper@springfield.example")

    answer = exchange(client, app, log_in(client, app, teacher, state="s1", nonce="n-0nce/42"))

    assert answer["token_type"] == "bearer" and answer["access_token"]
    header = jwt.get_unverified_header(answer["id_token"])
    assert header == {"alg": "RS256", "kid": services.published_signing_keys()[0].kid, "typ": "JWT"}
    claims = verify(client, app, answer["id_token"])
    assert set(claims) == PERSON_CLAIMS | {"email", "nonce"}
    assert claims["iss"] == "https://clever.com"
    assert claims["sub"] == claims["user_id"] == claims["multi_role_user_id"] == teacher
    assert claims["aud"] == app.client_id
    assert claims["exp"] - claims["iat"] == 3600
    assert claims["user_type"] == "teacher"
    assert claims["district"] == district.id
    assert claims["email"] == "ghopper@springfield.example"
    assert claims["email_verified"] is False
    assert (claims["given_name"], claims["family_name"]) == ("Grace", "Hopper")
    assert claims["nonce"] == "n-0nce/42"


def test_no_nonce_no_email_no_such_claims(client, app, district):
    student = make_user(district, "Ada", "Lovelace", "student")

    claims = verify(client, app, identity_token(client, app, student))

    assert set(claims) == PERSON_CLAIMS
    assert claims["user_type"] == "student"


def test_the_login_page_carries_the_nonce_to_the_code(client, app, district):
    student = make_user(district, "Ada", "Lovelace", "student")
    params = {"response_type": "code", "client_id": app.client_id, "redirect_uri": PRIMARY, "nonce": "abc"}

    page = client.get(AUTHORIZE, params)
    assert 'name="nonce" value="abc"' in page.content.decode()
    code = landed(client.post(AUTHORIZE, {**params, "user": student}))["code"]

    assert verify(client, app, exchange(client, app, code)["id_token"])["nonce"] == "abc"


@pytest.mark.parametrize(
    ("roles", "user_type"),
    [
        (("teacher", "district_admin"), "teacher"),
        (("staff", "student"), "student"),
        (("district_admin", "staff"), "staff"),
        (("district_admin",), "district admin"),
    ],
)
def test_user_type_is_the_first_role_in_clevers_order(client, app, district, roles, user_type):
    person = make_user(district, "Pat", "Doe", *roles)

    assert verify(client, app, identity_token(client, app, person))["user_type"] == user_type


def test_no_identity_token_when_the_app_is_not_configured_for_oidc(client, app, district):
    student = make_user(district, "Ada", "Lovelace", "student")
    services.set_application_oidc(enabled=False)

    answer = exchange(client, app, log_in(client, app, student, nonce="n"))

    assert set(answer) == {"access_token", "token_type"}


def test_no_identity_token_for_a_clever_library_login(client, app):
    library = services.create_district(name="Library District", sharing=Sharing.LIBRARY)
    teacher = make_user(library, "Maria", "Montessori", "teacher")

    answer = exchange(client, app, log_in(client, app, teacher, nonce="n"))

    assert set(answer) == {"access_token", "token_type"}


def test_the_control_page_switches_oidc_off_and_on(client, app, district):
    student = make_user(district, "Ada", "Lovelace", "student")

    off = client.post(reverse("sandbox:control-oidc"), {"oidc": "off"})
    assert off.status_code == 302
    assert "id_token" not in exchange(client, app, log_in(client, app, student))
    assert "OIDC off" in client.get(reverse("sandbox:home")).content.decode()
    client.post(reverse("sandbox:control-oidc"), {"oidc": "on"})
    assert "id_token" in exchange(client, app, log_in(client, app, student))
    assert client.post(reverse("sandbox:control-oidc"), {"oidc": "maybe"}).status_code == 400


# --- key rotation ---------------------------------------------------------------------------------------


def published_kids(client) -> list[str]:
    return [key["kid"] for key in client.get(CERTS).json()["keys"]]


def test_rotation_publishes_the_new_key_and_keeps_the_old_until_retired(client, app, district):
    student = make_user(district, "Ada", "Lovelace", "student")
    before = identity_token(client, app, student)
    (first,) = published_kids(client)

    second = services.rotate_signing_key().kid
    after = identity_token(client, app, student)

    assert published_kids(client) == [second, first]
    assert jwt.get_unverified_header(after)["kid"] == second
    assert verify(client, app, before)["sub"] == verify(client, app, after)["sub"] == student
    third = services.rotate_signing_key(retire_previous=True).kid
    assert published_kids(client) == [third]
    for old in (before, after):
        with pytest.raises(KeyError):
            verify(client, app, old)
    assert jwt.get_unverified_header(identity_token(client, app, student))["kid"] == third


def test_every_rotation_makes_a_key_the_sandbox_never_had(db):
    keys = [services.rotate_signing_key().kid for _ in range(3)]

    assert len(set(keys)) == 3
    moduli = {key["n"] for key in oidc.jwks()["keys"]}
    assert len(moduli) == 3


def test_the_control_page_rotates_keys_and_shows_the_published_ones(client, app):
    (first,) = published_kids(client)

    kept = client.post(reverse("sandbox:control-rotate-key"))
    assert kept.status_code == 302
    kids = published_kids(client)
    assert len(kids) == 2 and kids[1] == first
    html = client.get(reverse("sandbox:home")).content.decode()
    assert all(kid in html for kid in kids)

    client.post(reverse("sandbox:control-rotate-key"), {"retire": "1"})
    (newest,) = published_kids(client)
    assert newest not in kids
    assert first not in client.get(reverse("sandbox:home")).content.decode()


# --- the fault knob ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fault", "refusal"),
    [
        ("bad_signature", jwt.InvalidSignatureError),
        ("wrong_audience", jwt.InvalidAudienceError),
        ("expired", jwt.ExpiredSignatureError),
        ("wrong_issuer", jwt.InvalidIssuerError),
        ("unpublished_key", KeyError),
    ],
)
def test_each_fault_gives_the_token_its_defect(client, app, district, fault, refusal):
    student = make_user(district, "Ada", "Lovelace", "student")
    sound = verify(client, app, identity_token(client, app, student, nonce="n"))
    KNOBS.set_identity_token_fault(fault)

    faulty = identity_token(client, app, student, nonce="n")

    with pytest.raises(refusal):
        verify(client, app, faulty)
    claims = jwt.decode(faulty, options={"verify_signature": False})
    changed = {name for name in claims if claims[name] != sound[name]} - {"iat", "exp"}
    expected = {"wrong_audience": {"aud"}, "wrong_issuer": {"iss"}}.get(fault, set())
    assert changed == expected


def test_an_expired_token_expired_an_hour_ago(client, app, district):
    student = make_user(district, "Ada", "Lovelace", "student")
    KNOBS.set_identity_token_fault("expired")

    claims = jwt.decode(identity_token(client, app, student), options={"verify_signature": False})

    assert claims["exp"] - claims["iat"] == 3600
    assert claims["exp"] <= KNOBS.clock() - 3600 + 5


def test_an_unpublished_key_signs_under_its_own_kid(client, app, district):
    student = make_user(district, "Ada", "Lovelace", "student")
    KNOBS.set_identity_token_fault("unpublished_key")

    header = jwt.get_unverified_header(identity_token(client, app, student))

    assert header["alg"] == "RS256"
    assert header["kid"] and header["kid"] not in published_kids(client)
    assert not SandboxSigningKey.objects.filter(kid=header["kid"]).exists()


def test_a_wrong_subject_names_another_person_and_verifies(client, app, district):
    student = make_user(district, "Ada", "Lovelace", "student")
    other = make_user(district, "Bart", "Simpson", "student")
    KNOBS.set_identity_token_fault("wrong_subject")

    claims = verify(client, app, identity_token(client, app, student))

    assert claims["sub"] == other
    assert claims["user_id"] == claims["multi_role_user_id"] == student


def test_the_control_page_sets_the_fault_and_reset_clears_it(client, app):
    response = client.post(reverse("sandbox:control-identity-fault"), {"fault": "wrong_issuer"})

    assert response.status_code == 302
    assert KNOBS.identity_token_fault == "wrong_issuer"
    assert "wrong issuer" in client.get(reverse("sandbox:home")).content.decode()
    assert client.post(reverse("sandbox:control-identity-fault"), {"fault": "nonsense"}).status_code == 400
    client.post(reverse("sandbox:control-identity-fault"), {"fault": ""})
    assert KNOBS.identity_token_fault == ""
    KNOBS.set_identity_token_fault("expired")
    KNOBS.reset()
    assert KNOBS.identity_token_fault == ""
    with pytest.raises(ValueError, match="unknown identity token fault"):
        KNOBS.set_identity_token_fault("nonsense")


# --- /userinfo ---------------------------------------------------------------------------------------------


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def test_userinfo_of_an_sso_token(client, app, district):
    school = services.put_record(district=district, record_type=RecordType.SCHOOLS, data={"name": "North"})
    student = make_user(
        district,
        "Ada",
        "Lovelace",
        "student",
        email="ada@springfield.example",
        roles={"student": {"school": school["id"], "schools": [school["id"]]}},
    )
    student_name = {"first": "Ada", "last": "Lovelace", "middle": "B"}
    services.update_record(clever_id=student, changes={"name": student_name})
    token = exchange(client, app, log_in(client, app, student))["access_token"]

    response = client.get(USERINFO, headers=bearer(token))

    assert response.status_code == 200
    assert response["X-Ratelimit-Limit"]
    assert response.json() == {
        "sub": student,
        "user_id": student,
        "multi_role_user_id": student,
        "user_type": "student",
        "district_id": district.id,
        "district": district.id,
        "email": "ada@springfield.example",
        "name": student_name,
        "schools": [school["id"]],
        "given_name": "Ada",
        "family_name": "Lovelace",
        "email_verified": False,
        "authorized_by": "district",
    }


def test_userinfo_of_a_library_teacher_token(client, app):
    library = services.create_district(name="Library District", sharing=Sharing.LIBRARY)
    teacher = make_user(library, "Maria", "Montessori", "teacher")
    token = exchange(client, app, log_in(client, app, teacher))["access_token"]

    body = client.get(USERINFO, headers=bearer(token)).json()

    assert (body["sub"], body["user_type"], body["authorized_by"]) == (teacher, "teacher", "teacher")
    assert body["name"] == {"first": "Maria", "last": "Montessori", "middle": ""}
    assert "email" not in body


def test_userinfo_refuses_district_tokens_and_bad_tokens(client, app, district):
    student = make_user(district, "Ada", "Lovelace", "student")
    revoked = exchange(client, app, log_in(client, app, student))["access_token"]
    services.revoke_token(access_token=revoked)

    for headers in (
        bearer(services.district_token(district).access_token),
        bearer("no-such-token"),
        bearer(revoked),
        {},
    ):
        response = client.get(USERINFO, headers=headers)
        assert response.status_code == 401
        assert response.json()["message"].startswith("Unauthorized")
