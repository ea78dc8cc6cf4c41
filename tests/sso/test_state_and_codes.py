"""The callback's guards, over real redirects: forged, missing and replayed states; replayed and
doubly delivered codes; a Clever launch into a browser signed in as someone else."""

from allauth.socialaccount.models import SocialAccount

from accounts.factories import UserFactory
from sandbox.models import SandboxAuthCode, SandboxToken
from sso import services
from sso.models import AccountLink, CleverLogin
from tests.sso.conftest import (
    CALLBACK_PATH,
    build_world,
    path_of,
    query_of,
    to_callback,
    to_clever_authorize,
)


def callback_url(browser, login_with_clever, clever_id):
    """Log in with Clever up to (not into) the app's callback: its URL with code and state."""
    login_with_clever(browser, clever_id, stop=to_callback)
    assert to_callback(browser.url)
    return browser.url


def test_a_forged_state_is_refused_and_the_code_is_not_exchanged(world, browser, login_with_clever):
    url = callback_url(browser, login_with_clever, world.teacher["id"])
    code = query_of(url)["code"][0]
    forged = f"{CALLBACK_PATH}?code={code}&state=forged-state-123456"

    response = browser.client.get(forged)

    assert response.status_code == 400
    assert "did not start in this browser" in response.content.decode()
    assert browser.user_id() is None
    assert SandboxAuthCode.objects.get(code=code).redeemed_at is None
    assert not SocialAccount.objects.exists() and not CleverLogin.objects.exists()


def test_a_state_from_another_browser_is_refused(world, browser, other_browser, login_with_clever):
    """Login CSRF: an attacker's callback URL (their code, their state) opened in a victim's
    browser signs nobody in."""
    victim = UserFactory(username="victim")
    other_browser.client.force_login(victim)
    attacker_url = callback_url(browser, login_with_clever, world.teacher["id"])

    response = other_browser.client.get(attacker_url)

    assert response.status_code == 400
    assert other_browser.user_id() == str(victim.pk)  # still the victim, nothing merged
    assert not SocialAccount.objects.exists()
    assert SandboxAuthCode.objects.get(code=query_of(attacker_url)["code"][0]).redeemed_at is None


def test_a_replayed_state_is_refused(world, browser, login_with_clever):
    url = callback_url(browser, login_with_clever, world.teacher["id"])
    state = query_of(url)["state"][0]
    browser.go(url)
    assert browser.user_id() is not None
    teacher_user_id = browser.user_id()
    # Clever hands out a new code for the same (used) state: the app refuses the state.
    browser.go(
        f"/sandbox/oauth/authorize?response_type=code&client_id=sandbox-client-id"
        f"&redirect_uri=http%3A%2F%2F127.0.0.1%3A8000%2Faccounts%2Fclever%2Flogin%2Fcallback%2F"
        f"&state={state}",
        stop=to_callback,
    )
    new_code = query_of(browser.url)["code"][0]
    response = browser.client.get(browser.url)
    assert response.status_code == 400
    assert SandboxAuthCode.objects.get(code=new_code).redeemed_at is None
    assert browser.user_id() == teacher_user_id  # a refused callback changes no session


def test_clever_coming_back_without_state_twice_is_an_error(world, browser, portal_launch):
    # The first launch is bounced to Clever for a state...
    portal_launch(browser, world.teacher["id"], stop=to_clever_authorize)
    assert query_of(browser.url)["state"]
    # ...but Clever sends another state-less code instead of the one we asked for.
    response = portal_launch(browser, world.teacher["id"])

    assert response.status_code == 400
    assert "without the security check" in response.content.decode()
    assert browser.user_id() is None
    assert not SocialAccount.objects.exists()
    assert not SandboxAuthCode.objects.filter(redeemed_at__isnull=False).exists()

    # The error forgets the pending bounce: launching again works.
    again = portal_launch(browser, world.teacher["id"])
    assert again.status_code == 200 and path_of(browser.url) == "/account/"


def test_the_same_state_less_launch_delivered_twice_is_bounced_again(world, browser):
    browser.go(f"/sandbox/portal/launch?user={world.teacher['id']}", stop=to_callback)
    launch = browser.url
    browser.go(launch, stop=to_clever_authorize)
    response = browser.go(launch)  # the same code again (a refresh): bounced, then signed in
    assert response.status_code == 200
    assert path_of(browser.url) == "/account/"
    assert browser.user_id() is not None


def test_a_replayed_code_is_never_exchanged_twice(world, browser, other_browser, login_with_clever):
    url = callback_url(browser, login_with_clever, world.teacher["id"])
    first = browser.go(url)
    assert first.status_code == 200 and path_of(browser.url) == "/account/"
    user_id = browser.user_id()

    # Delivered again to the browser it signed in (iOS Safari does): no error page.
    again = browser.go(url)
    assert again.status_code == 200 and path_of(browser.url) == "/account/"
    assert browser.user_id() == user_id

    # Replayed anywhere else: refused, nobody signed in.
    replayed = other_browser.go(url)
    assert replayed.status_code == 400
    assert "already used" in replayed.content.decode()
    assert other_browser.user_id() is None

    # Exactly one exchange reached Clever.
    assert SandboxToken.objects.filter(user_id=world.teacher["id"]).count() == 1
    assert CleverLogin.objects.count() == 1


def test_a_delivery_while_the_first_is_still_being_finished_waits(world, browser, login_with_clever):
    url = callback_url(browser, login_with_clever, world.teacher["id"])
    code = query_of(url)["code"][0]
    assert services.claim_code(code=code)  # the first delivery is mid-exchange

    response = browser.client.get(url)

    assert response.status_code == 202
    assert "Signing you in" in response.content.decode()
    assert SandboxAuthCode.objects.get(code=code).redeemed_at is None


def test_a_portal_launch_into_a_browser_signed_in_as_someone_else(
    world, browser, login_with_clever, portal_launch
):
    login_with_clever(browser, world.admin["id"])
    admin_id = browser.user_id()
    assert admin_id

    # The launch's first stop: bounced to Clever; the session is still the admin's.
    portal_launch(browser, world.student["id"], stop=to_clever_authorize)
    assert browser.user_id() == admin_id
    assert not SocialAccount.objects.filter(uid=world.student["id"]).exists()

    response = browser.go(browser.url)  # the round trip completes

    assert response.status_code == 200 and path_of(browser.url) == "/account/"
    student_account = SocialAccount.objects.get(uid=world.student["id"])
    assert browser.user_id() == str(student_account.user_id) != admin_id
    # No link between the two: each Clever user has their own account, one audit row each.
    admin_account = SocialAccount.objects.get(uid=world.admin["id"])
    assert admin_account.user_id != student_account.user_id
    assert SocialAccount.objects.filter(user_id=admin_account.user_id).count() == 1
    assert list(AccountLink.objects.order_by("pk").values_list("clever_id", "user_id")) == [
        (world.admin["id"], admin_account.user_id),
        (world.student["id"], student_account.user_id),
    ]
    # The session is the student's only: the admin's role is gone.
    assert "Student" in response.content.decode()
    assert browser.client.session.get("sso.active_role") == "student"


def test_clever_refusing_the_sign_in_shows_an_error(world, browser):
    response = browser.client.get(f"{CALLBACK_PATH}?error=access_denied")
    assert response.status_code == 401
    assert browser.user_id() is None
    response = browser.client.get(CALLBACK_PATH)
    assert response.status_code == 400


def test_logout_ends_the_session(world, browser, login_with_clever):
    login_with_clever(browser, world.teacher["id"])
    assert browser.user_id() is not None
    response = browser.go("/accounts/logout/", method="post")
    assert response.status_code == 200 and path_of(browser.url) == "/"
    assert browser.user_id() is None
    assert "sso.clever" not in browser.client.session
    assert browser.client.get("/account/").status_code == 302


def test_an_expired_code_signs_nobody_in(world, browser, login_with_clever, fake_clock):
    url = callback_url(browser, login_with_clever, world.teacher["id"])
    fake_clock.now += 61  # Clever's codes live 60 seconds

    response = browser.client.get(url)

    assert response.status_code == 400
    assert "could not confirm this sign-in" in response.content.decode()
    assert browser.user_id() is None
    assert not SocialAccount.objects.exists()
    # Delivered again: still refused, and Clever is not asked a second time.
    assert browser.client.get(url).status_code == 400
    assert not SandboxToken.objects.filter(user_id=world.teacher["id"]).exists()


def test_a_launch_that_names_its_district_is_bounced_with_it(world, browser):
    browser.go(f"/sandbox/portal/launch?user={world.teacher['id']}", stop=to_callback)
    code = query_of(browser.url)["code"][0]
    response = browser.go(
        f"{CALLBACK_PATH}?code={code}&district_id={world.district.clever_id}", stop=to_clever_authorize
    )
    assert query_of(response["Location"])["district_id"] == [world.district.clever_id]


def test_the_next_person_on_a_shared_device_is_not_sent_to_the_previous_district(
    db, sandbox_app, browser, portal_launch
):
    first = build_world(name="Capital City")
    second = build_world(name="North Haverbrook")
    portal_launch(browser, first.teacher["id"])
    portal_launch(browser, second.student["id"], stop=to_clever_authorize)
    assert "district_id" not in query_of(browser.url)
    response = browser.go(browser.url)
    assert response.status_code == 200 and path_of(browser.url) == "/account/"
    assert browser.user_id() == str(SocialAccount.objects.get(uid=second.student["id"]).user_id)
