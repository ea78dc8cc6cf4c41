"""Findings 3 and 6 (sessions), and the choices the issue left open (docs/sso.md "Decisions"):

- an account that signs in through Clever gets no password page and no email page, so nothing
  it sets survives the district's revocation (finding 3);
- revoking or disconnecting a district ends its people's sessions at their next request, and a
  Clever session lasts ``SSO_SESSION_SECONDS`` from sign-in (finding 6);
- a cross-site GET cannot swap a password session for the browser's own Clever identity;
- a Library sign-in into a district that revoked or disconnected the app is refused.
"""

import time

import pytest
from allauth.mfa.totp.internal.auth import TOTP, format_hotp_value, hotp_value
from allauth.socialaccount.models import SocialAccount
from django.core import mail

from accounts.factories import UserFactory
from districts import services as districts
from districts.models import District, DistrictStatus
from sso import services as sso_services
from sso.models import CleverLogin, LoginOutcome
from sso.selectors import SESSION_SIGNED_IN_AT
from tests.sso.conftest import Browser, path_of, query_of, to_callback, to_clever_authorize

PASSWORD = "correct horse battery staple"
SECRET = "JBSWY3DPEHPK3PXP"
PASSWORD_PAGES = [
    "/accounts/password/set/",
    "/accounts/password/change/",
    "/accounts/email/",
    "/accounts/2fa/",
    "/accounts/2fa/totp/activate/",
]


@pytest.mark.parametrize("path", PASSWORD_PAGES)
def test_a_clever_account_cannot_give_itself_a_password_or_an_email(world, browser, portal_launch, path):
    portal_launch(browser, world.teacher["id"])
    user_id = browser.user_id()
    assert user_id is not None

    page = browser.client.get(path)
    attempt = browser.client.post(
        path,
        {
            "password1": "a new password 123",
            "password2": "a new password 123",
            "email": "attacker@evil.example",
            "action_add": "1",
        },
    )

    assert page.status_code == attempt.status_code == 403
    assert b"signs in with Clever" in page.content
    account = world.organization.users.get(pk=user_id)
    assert not account.has_usable_password()
    assert not account.emailaddress_set.filter(email="attacker@evil.example").exists()


def test_a_password_tried_during_a_clever_session_opens_nothing_after_revocation(
    world, browser, portal_launch
):
    # The finding: a password set during a brief Clever session kept working once the district
    # was revoked. The set is refused, so after revocation the password opens nothing.
    portal_launch(browser, world.teacher["id"])
    username = f"clever-{world.teacher['id']}"
    browser.client.post(
        "/accounts/password/set/", {"password1": "my own password 123", "password2": "my own password 123"}
    )
    districts.set_status(district=world.district, status=DistrictStatus.REVOKED, actor_label="sync: 401")
    assert browser.client.get("/account/").status_code == 401

    browser.go("/accounts/login/", method="post", data={"login": username, "password": "my own password 123"})

    assert browser.user_id() is None
    portal_launch(browser, world.teacher["id"])
    assert browser.user_id() is None  # and Clever refuses too: the district left


def test_a_password_account_keeps_its_pages(world, browser):
    UserFactory(
        username="org-admin", organization=world.organization, is_organization_admin=True, password=PASSWORD
    )
    browser.go("/accounts/login/", method="post", data={"login": "org-admin", "password": PASSWORD})
    assert browser.client.get("/accounts/password/change/").status_code == 200
    assert browser.client.get("/accounts/email/").status_code == 200


def test_password_reset_never_reaches_a_clever_account(world, browser, portal_launch):
    # Clever does not verify emails: a reset link to the address the district's SIS gave would
    # hand the account to whoever reads that mailbox.
    portal_launch(browser, world.teacher["id"])
    browser.go("/accounts/logout/", method="post")
    mail.outbox.clear()

    page = browser.go("/accounts/password/reset/", method="post", data={"email": world.teacher["email"]})

    assert page.status_code == 200 and path_of(browser.url) == "/accounts/password/reset/done/"
    assert all("/password/reset/key/" not in message.body for message in mail.outbox)
    # An account with a password still gets its link.
    UserFactory(username="org-admin", email="boss@springfield.example", password=PASSWORD)
    browser.go("/accounts/password/reset/", method="post", data={"email": "boss@springfield.example"})
    assert any("/password/reset/key/" in message.body for message in mail.outbox)


@pytest.mark.parametrize("end", ["revoked", "disconnected by Clever", "disconnected by support"])
def test_ending_the_district_ends_its_sessions_at_the_next_request(world, browser, portal_launch, end):
    portal_launch(browser, world.teacher["id"])
    assert browser.client.get("/account/").status_code == 200
    helpdesk = UserFactory(username="helpdesk", is_staff=True)

    if end == "revoked":
        districts.set_status(district=world.district, status=DistrictStatus.REVOKED, actor_label="sync: 401")
    elif end == "disconnected by Clever":
        districts.set_status(
            district=world.district, status=DistrictStatus.DISCONNECTED, actor_label="discovery"
        )
    else:
        districts.disconnect_district(district=world.district, actor=helpdesk, reason="contract ended")

    page = browser.client.get("/account/")
    assert page.status_code == 401 and b"no longer shares" in page.content
    assert browser.user_id() is None
    assert browser.client.get("/account/").status_code == 302  # and stays signed out


def test_a_clever_session_lasts_the_configured_time_from_sign_in(world, browser, portal_launch, settings):
    settings.SSO_SESSION_SECONDS = 7200
    portal_launch(browser, world.student["id"])
    session = browser.client.session
    assert session.get_expiry_age() <= 7200  # the cookie ends too
    session[SESSION_SIGNED_IN_AT] = time.time() - 7201
    session.save()

    page = browser.client.get("/account/")

    assert page.status_code == 401 and b"end after a while" in page.content
    assert browser.user_id() is None


@pytest.mark.parametrize(
    "entry",
    ["/accounts/clever/login/?next=/account/", "/accounts/clever/login/callback/?code=cross-site-code"],
)
def test_a_cross_site_link_cannot_swap_a_password_session(world, browser, entry):
    # An attacker's page links (GET) to the login start or to the callback with a code of its
    # own: for a browser signed in with a password, that would replace the session by whoever
    # is signed in to Clever in this browser. It asks instead, with a form.
    admin = UserFactory(
        username="org-admin", organization=world.organization, is_organization_admin=True, password=PASSWORD
    )
    browser.go("/accounts/login/", method="post", data={"login": "org-admin", "password": PASSWORD})

    page = browser.go(entry)

    assert page.status_code == 409 and b"Switch to your Clever account?" in page.content
    assert browser.user_id() == str(admin.pk)
    assert not [hop for hop in browser.paths() if hop.startswith("/sandbox/")]
    # The form is this site's own (CSRF token), so only the person can continue.
    assert b"csrfmiddlewaretoken" in page.content
    strict = browser.client.__class__(enforce_csrf_checks=True)
    strict.cookies = browser.client.cookies
    assert strict.post("/accounts/clever/login/", {"next": "/account/"}).status_code == 403


def test_continuing_from_the_switch_page_signs_in_with_clever(world, browser):
    UserFactory(username="org-admin", organization=world.organization, password=PASSWORD)
    browser.go("/accounts/login/", method="post", data={"login": "org-admin", "password": PASSWORD})

    browser.go(
        "/accounts/clever/login/",
        method="post",
        data={"next": "/account/"},
        stop=lambda url: path_of(url) == "/sandbox/oauth/authorize",
    )
    browser.go(browser.url)
    browser.sign_in_at_clever(browser.url, world.teacher["id"])

    assert path_of(browser.url) == "/account/"
    assert browser.user_id() == str(world.organization.users.get(username=f"clever-{world.teacher['id']}").pk)


@pytest.mark.parametrize("status", [DistrictStatus.REVOKED, DistrictStatus.DISCONNECTED])
def test_a_library_sign_in_into_a_district_that_left_is_refused(library, browser, portal_launch, status):
    # The district once shared its data with the app and then revoked or disconnected it: a
    # teacher's own Library authorization does not bring the app back into that district.
    District.objects.create(
        clever_id=library.sandbox_district.id,
        name=library.sandbox_district.name,
        status=status,
        library_only=False,
    )

    page = portal_launch(browser, library.teacher["id"])

    assert page.status_code == 403 and browser.user_id() is None
    assert CleverLogin.objects.get().outcome == LoginOutcome.DISTRICT_NOT_CONNECTED


def test_a_library_only_district_still_signs_teachers_in(library, browser, portal_launch):
    District.objects.create(
        clever_id=library.sandbox_district.id,
        name=library.sandbox_district.name,
        library_only=True,
        sync_enabled=False,
    )
    portal_launch(browser, library.teacher["id"])
    assert browser.user_id() is not None


def totp_now(secret: str, ahead: int = 0) -> str:
    """The authenticator app's code (``ahead``: the next period's, as a used code is refused)."""
    return format_hotp_value(hotp_value(secret, int(time.time()) // 30 + ahead))


def code_for(clever_id: str) -> str:
    """A code for ``clever_id`` got in the attacker's own browser and not delivered."""
    attacker = Browser()
    attacker.go("/accounts/clever/login/", stop=to_clever_authorize)
    attacker.go(attacker.url)
    attacker.sign_in_at_clever(attacker.url, clever_id, stop=to_callback)
    return query_of(attacker.url)["code"][0]


def test_a_state_left_in_the_browser_cannot_swap_a_later_password_session(world, browser):
    # Someone starts "Log in with Clever" on a shared machine and walks away; an administrator
    # signs in with a password; the leftover state plus a code of the attacker's own arrives.
    admin = UserFactory(
        username="org-admin", organization=world.organization, is_organization_admin=True, password=PASSWORD
    )
    browser.go("/accounts/clever/login/", stop=to_clever_authorize)
    state = query_of(browser.url)["state"][0]
    browser.go("/accounts/login/", method="post", data={"login": "org-admin", "password": PASSWORD})

    page = browser.go(f"/accounts/clever/login/callback/?code={code_for(world.student['id'])}&state={state}")

    assert page.status_code == 409 and browser.user_id() == str(admin.pk)


def test_a_waiting_link_does_not_attach_itself_to_the_next_password_sign_in(world, browser, portal_launch):
    admin = UserFactory(
        username="boss",
        email="boss@springfield.example",
        password=PASSWORD,
        organization=world.organization,
        is_organization_admin=True,
    )
    UserFactory(
        username="ada", email=world.teacher["email"], password=PASSWORD, organization=world.organization
    )
    portal_launch(browser, world.teacher["id"])  # "is this your account?" about ada's account, left open
    browser.go("/accounts/login/", method="post", data={"login": "boss", "password": PASSWORD})

    refused = browser.go("/account/link/clever/", method="post")

    assert refused.status_code == 409 and not SocialAccount.objects.filter(user=admin).exists()
    launch = Browser()
    portal_launch(launch, world.teacher["id"])
    assert launch.user_id() != str(admin.pk)


def test_answering_after_the_district_left_links_nothing(world, browser, portal_launch):
    UserFactory(
        username="ada", email=world.teacher["email"], password=PASSWORD, organization=world.organization
    )
    portal_launch(browser, world.teacher["id"])
    districts.set_status(district=world.district, status=DistrictStatus.REVOKED, actor_label="sync: 401")

    declined = browser.go("/account/link/clever/new/", method="post")

    assert declined.status_code == 400 and browser.user_id() is None
    assert not SocialAccount.objects.filter(uid=world.teacher["id"]).exists()


def test_a_session_ends_when_support_unlinks_the_clever_sign_in(world, browser, portal_launch):
    portal_launch(browser, world.teacher["id"])
    assert browser.client.get("/account/").status_code == 200

    sso_services.unlink_clever_account(
        account=SocialAccount.objects.get(uid=world.teacher["id"]),
        actor=UserFactory(username="helpdesk", is_staff=True),
    )

    assert browser.client.get("/account/").status_code == 401 and browser.user_id() is None


def test_a_clever_sign_in_with_a_second_factor_is_still_a_clever_session(
    world, browser, portal_launch, settings
):
    # allauth stores the login while it asks for the code: the session must still learn it is a
    # Clever one (so it ends with the district and after SSO_SESSION_SECONDS).
    settings.MFA_TOTP_TOLERANCE = 1
    owner = UserFactory(
        username="boss",
        email=world.teacher["email"],
        password=PASSWORD,
        organization=world.organization,
        is_organization_admin=True,
    )
    TOTP.activate(owner, SECRET)
    portal_launch(browser, world.teacher["id"])  # "is this your account?": prove it with the password
    browser.go("/account/link/clever/")
    browser.go(
        "/accounts/login/",
        method="post",
        data={"login": "boss", "password": PASSWORD, "next": "/account/link/clever/"},
    )
    browser.go("/accounts/2fa/authenticate/", method="post", data={"code": totp_now(SECRET)})
    browser.go("/account/link/clever/", method="post")
    browser.go("/accounts/logout/", method="post")

    portal_launch(browser, world.teacher["id"])
    assert path_of(browser.url) == "/accounts/2fa/authenticate/"
    browser.go("/accounts/2fa/authenticate/", method="post", data={"code": totp_now(SECRET, ahead=1)})
    assert browser.user_id() == str(owner.pk)
    assert browser.client.session.get(SESSION_SIGNED_IN_AT) is not None
    districts.set_status(district=world.district, status=DistrictStatus.REVOKED, actor_label="sync: 401")
    assert browser.client.get("/account/").status_code == 401
