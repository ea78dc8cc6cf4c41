"""Identity tokens in the whole sign-in: the local Clever mints them for an app set up for OIDC,
the callback checks them before anything else, and a token that fails signs nobody in, with a
plain page for the person and the check named for support (docs/sso.md, "Identity tokens")."""

from __future__ import annotations

import pytest

from sandbox import services as sandbox
from sandbox.knobs import KNOBS
from sso.models import CleverLogin, IdentityTokenProblem, LoginOutcome

from .conftest import query_of, to_clever_authorize

REFUSALS = {
    "bad_signature": IdentityTokenProblem.BAD_SIGNATURE,
    "wrong_audience": IdentityTokenProblem.AUDIENCE,
    "wrong_issuer": IdentityTokenProblem.ISSUER,
    "expired": IdentityTokenProblem.EXPIRED,
    "wrong_subject": IdentityTokenProblem.SUBJECT_MISMATCH,
    "unpublished_key": IdentityTokenProblem.UNKNOWN_KEY,
}


@pytest.fixture(autouse=True)
def sound_tokens():
    yield
    KNOBS.set_identity_token_fault("")


def test_every_login_sends_a_fresh_nonce(browser, world):
    browser.go("/accounts/clever/login/", stop=to_clever_authorize)
    first = query_of(browser.url)["nonce"][0]
    browser.go("/accounts/clever/login/", stop=to_clever_authorize)
    second = query_of(browser.url)["nonce"][0]
    assert len(first) >= 24 and first != second


def test_a_sound_token_signs_the_person_in(browser, world, login_with_clever):
    response = login_with_clever(browser, world.teacher["id"])
    assert response.status_code == 200 and browser.user_id() is not None
    login = CleverLogin.objects.get()
    assert (login.outcome, login.problem) == (LoginOutcome.LOGGED_IN, "")


@pytest.mark.parametrize("fault", sorted(REFUSALS))
def test_a_token_that_fails_a_check_signs_nobody_in(browser, world, login_with_clever, fault):
    KNOBS.set_identity_token_fault(fault)
    response = login_with_clever(browser, world.teacher["id"])
    assert response.status_code == 403
    assert b"did not pass our security checks" in response.content
    assert browser.user_id() is None
    login = CleverLogin.objects.get()
    assert (login.outcome, login.problem) == (LoginOutcome.IDENTITY_TOKEN_REFUSED, REFUSALS[fault])
    assert login.clever_district_id == world.sandbox_district.id and login.district == world.district


def test_a_refused_token_leaves_the_signed_in_person_signed_in(browser, world, login_with_clever):
    login_with_clever(browser, world.teacher["id"])
    signed_in = browser.user_id()
    KNOBS.set_identity_token_fault("wrong_subject")
    # Still logged in to Clever: the login completes there at once.
    response = browser.go("/accounts/clever/login/")
    assert response.status_code == 403 and browser.user_id() == signed_in


def test_a_portal_launch_is_checked_too(browser, world, portal_launch):
    KNOBS.set_identity_token_fault("expired")
    response = portal_launch(browser, world.teacher["id"])
    assert response.status_code == 403 and browser.user_id() is None
    assert CleverLogin.objects.get().problem == IdentityTokenProblem.EXPIRED


def test_an_app_not_set_up_for_oidc_signs_in_as_before(browser, world, login_with_clever):
    sandbox.set_application_oidc(enabled=False)
    KNOBS.set_identity_token_fault("bad_signature")  # no token is minted at all
    response = login_with_clever(browser, world.teacher["id"])
    assert response.status_code == 200 and browser.user_id() is not None


def test_where_tokens_are_required_a_district_login_without_one_is_refused(
    browser, world, login_with_clever, settings
):
    settings.CLEVER_ID_TOKEN_REQUIRED = True
    sandbox.set_application_oidc(enabled=False)
    response = login_with_clever(browser, world.teacher["id"])
    assert response.status_code == 403 and browser.user_id() is None
    assert CleverLogin.objects.get().problem == IdentityTokenProblem.MISSING


def test_where_tokens_are_required_a_library_login_is_checked_with_userinfo(
    browser, library, login_with_clever, settings
):
    # Clever gives Library logins no identity token; /userinfo must name the /me user.
    settings.CLEVER_ID_TOKEN_REQUIRED = True
    response = login_with_clever(browser, library.teacher["id"])
    assert response.status_code == 200 and browser.user_id() is not None
    assert CleverLogin.objects.get().outcome == LoginOutcome.LOGGED_IN


def test_when_clevers_keys_cannot_be_fetched_the_person_is_asked_to_retry(
    browser, world, login_with_clever, settings
):
    settings.CLEVER_JWKS_URL = f"{settings.CLEVER_OAUTH_BASE}/oauth/no-such-key-set"
    response = login_with_clever(browser, world.teacher["id"])
    assert response.status_code == 502 and b"try again in a minute" in response.content
    assert browser.user_id() is None
    assert CleverLogin.objects.get().problem == IdentityTokenProblem.KEYS_UNAVAILABLE
