"""Finding 2 (medium): /admin/login/ had no throttling (40 wrong passwords, then the right one,
signed in). The admin now signs in through allauth's page: its rate limits count failures per
username and per address, and staff need a second factor (an authenticator app, with recovery
codes) in production mode."""

import time

from allauth.mfa.models import Authenticator
from allauth.mfa.totp.internal.auth import format_hotp_value, hotp_value
from django.test import Client

from accounts.factories import UserFactory
from tests.sso.conftest import Browser, path_of

PASSWORD = "correct horse battery staple"


def totp_now(secret: str) -> str:
    return format_hotp_value(hotp_value(secret, int(time.time()) // 30))


def sign_in(browser, username: str, password: str, next_url: str = "/admin/"):
    return browser.go(
        "/accounts/login/", method="post", data={"login": username, "password": password, "next": next_url}
    )


def set_up_authenticator(browser) -> str:
    """Signed in with the password alone: the set-up asks for the password once more (allauth's
    reauthentication), then for a code of the new app. Returns the app's secret."""
    assert browser.paths()[-2:] == ["/accounts/2fa/totp/activate/", "/accounts/reauthenticate/"]
    browser.go(browser.url, method="post", data={"password": PASSWORD})
    assert path_of(browser.url) == "/accounts/2fa/totp/activate/"
    secret = browser.client.session["mfa.totp.secret"]
    wrong = browser.go("/accounts/2fa/totp/activate/", method="post", data={"code": "000000"})
    assert wrong.status_code == 200 and not Authenticator.objects.exists()  # a wrong code activates nothing
    browser.go("/accounts/2fa/totp/activate/", method="post", data={"code": totp_now(secret)})
    return secret


def test_the_admin_sends_people_to_the_rate_limited_sign_in_page(browser):
    page = browser.go("/admin/")
    assert browser.paths() == ["/admin/", "/admin/login/", "/accounts/login/"]
    assert page.status_code == 200 and b'name="password"' in page.content
    # The admin's own form is never served, even asked for directly with a POST.
    direct = browser.client.post("/admin/login/", {"username": "x", "password": "y"})
    assert direct.status_code == 302 and path_of(direct["Location"]) == "/accounts/login/"


def test_forty_wrong_passwords_then_the_right_one_does_not_sign_in(browser):
    UserFactory(username="support", is_staff=True, is_superuser=True, password=PASSWORD)

    refused = [sign_in(browser, "support", f"guess-{n}") for n in range(40)]
    right = sign_in(browser, "support", PASSWORD)

    # Refused with a form error after 5 failures for the username (429 past 30 tries a minute).
    assert {r.status_code for r in refused} <= {200, 429} and browser.user_id() is None
    assert b"Too many failed sign-ins" in refused[5].content
    assert right.status_code in (200, 429) and browser.user_id() is None
    assert browser.client.get("/admin/").status_code == 302  # still outside


def test_the_limit_is_per_username_and_per_address(browser):
    UserFactory(username="support", is_staff=True, password=PASSWORD)
    UserFactory(username="other", is_staff=True, password=PASSWORD)
    for n in range(5):
        sign_in(browser, "support", f"guess-{n}")
    # Another username from the same address is still let in (the address allows 10 a minute).
    colleague = Browser()
    sign_in(colleague, "other", PASSWORD)
    assert colleague.user_id() is not None
    # The same username from another address is not: an attacker may have many addresses.
    elsewhere = Browser(client=Client(REMOTE_ADDR="203.0.113.9"))
    blocked = sign_in(elsewhere, "support", PASSWORD)
    assert b"Too many failed sign-ins" in blocked.content and elsewhere.user_id() is None
    # And one address cannot try username after username: 10 failures a minute, then nothing.
    spray = Browser(client=Client(REMOTE_ADDR="198.51.100.7"))
    for n in range(10):
        sign_in(spray, f"someone-{n}", "guess")
    assert b"Too many failed sign-ins" in sign_in(spray, "other", PASSWORD).content


def test_staff_must_set_up_an_authenticator_app_in_production_mode(browser, settings):
    settings.STAFF_MFA_REQUIRED = True
    settings.MFA_TOTP_TOLERANCE = 1
    staff = UserFactory(username="support", is_staff=True, is_superuser=True, password=PASSWORD)

    sign_in(browser, "support", PASSWORD)
    # Signed in with the password alone: every page leads to the authenticator set-up.
    for path in ("/admin/", "/admin/rostering/person/", "/account/"):
        response = browser.client.get(path)
        assert response.status_code == 302 and response["Location"] == "/accounts/2fa/totp/activate/"
    secret = set_up_authenticator(browser)
    totp = Authenticator.objects.get(user=staff, type=Authenticator.Type.TOTP)
    assert secret not in str(totp.data)  # encrypted at rest with FIELD_ENCRYPTION_KEYS
    assert browser.client.get("/admin/").status_code == 200
    # It cannot be removed while required.
    browser.client.post("/accounts/2fa/totp/deactivate/", {})
    assert Authenticator.objects.filter(user=staff, type=Authenticator.Type.TOTP).exists()

    # Next time: the password, then the code; the password alone opens nothing.
    browser.go("/accounts/logout/", method="post")
    sign_in(browser, "support", PASSWORD)
    assert path_of(browser.url) == "/accounts/2fa/authenticate/" and browser.user_id() is None
    browser.go("/accounts/2fa/authenticate/", method="post", data={"code": "123456"})
    assert browser.user_id() is None
    browser.go("/accounts/2fa/authenticate/", method="post", data={"code": totp_now(secret)})
    assert browser.user_id() == str(staff.pk) and path_of(browser.url) == "/admin/"


def test_a_recovery_code_stands_in_for_a_lost_phone(browser, settings):
    settings.STAFF_MFA_REQUIRED = True
    staff = UserFactory(username="support", is_staff=True, password=PASSWORD)
    sign_in(browser, "support", PASSWORD)
    set_up_authenticator(browser)
    codes = browser.client.get("/accounts/2fa/recovery-codes/")
    code = codes.context["unused_codes"][0]
    browser.go("/accounts/logout/", method="post")

    sign_in(browser, "support", PASSWORD)
    browser.go("/accounts/2fa/authenticate/", method="post", data={"code": code})

    assert browser.user_id() == str(staff.pk)


def test_in_the_demo_the_second_factor_is_optional(browser, settings):
    settings.STAFF_MFA_REQUIRED = False
    UserFactory(username="support", is_staff=True, is_superuser=True, password=PASSWORD)
    sign_in(browser, "support", PASSWORD)
    assert path_of(browser.url) == "/admin/" and browser.client.get("/admin/").status_code == 200
