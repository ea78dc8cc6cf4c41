"""Which account a Clever login opens: by Clever user ID only, never by email; districts must be
connected; people new to the mirror are written from /users/{id} and their district synced."""

import logging

import pytest
from allauth.socialaccount.models import SocialAccount

from accounts.factories import OrganizationFactory, UserFactory
from accounts.models import User
from districts import services as district_services
from districts.models import District, DistrictAudit, DistrictStatus
from rostering.models import Person, SyncRun
from rostering.services.sync import run_sync
from sandbox import services as sandbox_services
from sandbox.models import SandboxToken
from sandbox.transport import InProcessAdapter
from sso.models import AccountLink, CleverLogin, LoginOutcome
from tests.sso.conftest import build_world, path_of, query_of, to_callback


def test_an_account_with_the_same_email_is_offered_not_taken(world, browser, portal_launch):
    owner = UserFactory(
        username="ada",
        email="Ada.Lovelace@springfield.k12.example.us",
        password="correct horse battery staple",
        organization=world.organization,
    )
    portal_launch(browser, world.student["id"])  # someone else's Clever session on a shared device
    assert browser.user_id() is not None
    teacher = {"uid": world.teacher["id"]}

    response = portal_launch(browser, world.teacher["id"])

    assert response.status_code == 200
    page = response.content.decode()
    assert "Is this your account?" in page and "never connect accounts by email alone" in page
    assert browser.user_id() is None  # the previous session is gone, and nobody is signed in
    assert not SocialAccount.objects.filter(**teacher).exists()
    assert not AccountLink.objects.filter(clever_id=world.teacher["id"]).exists()
    assert CleverLogin.objects.order_by("-id").first().outcome == LoginOutcome.PENDING_LINK

    # "Yes": sign in to that account with its own password, then confirm.
    browser.go("/account/link/clever/", stop=lambda url: path_of(url) == "/accounts/login/")
    assert path_of(browser.url) == "/accounts/login/"
    login = browser.go(browser.url)
    assert login.status_code == 200
    confirm = browser.go(
        "/accounts/login/",
        method="post",
        data={
            "login": "ada",
            "password": "correct horse battery staple",
            "next": query_of(browser.url)["next"][0],
        },
    )
    assert path_of(browser.url) == "/account/link/clever/" and confirm.status_code == 200
    assert not SocialAccount.objects.filter(**teacher).exists()  # signing in alone links nothing
    done = browser.go("/account/link/clever/", method="post")

    assert done.status_code == 200 and path_of(browser.url) == "/account/"
    account = SocialAccount.objects.get(uid=world.teacher["id"])
    assert account.user == owner
    audit = AccountLink.objects.get(clever_id=world.teacher["id"])
    assert (audit.method, audit.actor, audit.user) == (AccountLink.Method.CONFIRMED_SIGN_IN, owner, owner)
    assert audit.details == {"roles": ["teacher"], "authorized_by": "district", "asked_because": "email"}
    assert Person.objects.get(clever_id=world.teacher["id"]).user == owner

    # From now on Clever opens that account directly.
    browser.go("/accounts/logout/", method="post")
    portal_launch(browser, world.teacher["id"])
    assert browser.user_id() == str(owner.pk)


def test_declining_the_offer_makes_a_new_account(world, browser, portal_launch):
    owner = UserFactory(
        username="ada",
        email="ada.lovelace@springfield.k12.example.us",
        password="correct horse battery staple",
        organization=world.organization,
    )
    portal_launch(browser, world.teacher["id"])

    response = browser.go("/account/link/clever/new/", method="post")

    assert response.status_code == 200 and path_of(browser.url) == "/account/"
    user = SocialAccount.objects.get(uid=world.teacher["id"]).user
    assert user != owner and user.username == f"clever-{world.teacher['id']}"
    assert browser.user_id() == str(user.pk)
    assert AccountLink.objects.get().details["email_collision_declined"] is True


@pytest.mark.parametrize("other", ["another organization", "no password", "staff"])
def test_only_an_account_the_person_could_prove_is_asked_about(world, browser, portal_launch, other):
    # Asking reveals that the address has an account: only accounts of the district's own
    # organization, with a password to prove them by, that Clever may open at all, are asked about.
    fields = {
        "another organization": {
            "organization": OrganizationFactory(),
            "password": "correct horse battery staple",
        },
        "no password": {"organization": world.organization, "password": None},
        "staff": {
            "organization": world.organization,
            "is_staff": True,
            "password": "correct horse battery staple",
        },
    }[other]
    UserFactory(username="ada", email="ada.lovelace@springfield.k12.example.us", **fields)

    response = portal_launch(browser, world.teacher["id"])

    assert "Is this your account?" not in response.content.decode()
    assert browser.user_id() == str(User.objects.get(username=f"clever-{world.teacher['id']}").pk)


def test_the_link_page_needs_a_waiting_clever_login(world, browser):
    browser.client.force_login(UserFactory(username="ada"))
    response = browser.client.post("/account/link/clever/")
    assert response.status_code == 400
    assert not SocialAccount.objects.exists()


def test_a_student_without_email_goes_straight_in(world, browser, portal_launch):
    UserFactory(username="blank", email="")  # an account without email must not match either
    response = portal_launch(browser, world.student["id"])

    assert response.status_code == 200
    assert browser.paths()[-1] == "/account/"
    assert not any("signup" in path or "link" in path for path in browser.paths())
    user = SocialAccount.objects.get(uid=world.student["id"]).user
    assert user.email == "" and user.username == f"clever-{world.student['id']}"


def test_the_account_the_roster_gave_the_person_is_the_one_used(world, browser, portal_launch):
    run = run_sync(district=world.district, kind="full", trigger=SyncRun.Trigger.MANUAL)
    assert run.status == SyncRun.Status.SUCCEEDED
    provisioned = Person.objects.get(district=world.district, clever_id=world.student2["id"]).user
    assert provisioned.username == f"clever-{world.student2['id']}"

    portal_launch(browser, world.student2["id"])

    assert browser.user_id() == str(provisioned.pk)
    audit = AccountLink.objects.get()
    assert (audit.method, audit.user) == (AccountLink.Method.MIRROR_ACCOUNT, provisioned)


@pytest.mark.parametrize("status", [DistrictStatus.REVOKED, DistrictStatus.DISCONNECTED])
def test_a_district_that_is_not_connected_signs_nobody_in(world, browser, portal_launch, status):
    world.district.status = status
    world.district.save()

    response = portal_launch(browser, world.admin["id"])

    assert response.status_code == 403
    page = response.content.decode()
    assert "Your district is not connected to this app" in page and "Springfield Unified" in page
    assert browser.user_id() is None
    assert not SocialAccount.objects.exists() and not Person.objects.exists()
    login = CleverLogin.objects.get()
    assert (login.outcome, login.district, login.clever_district_id, login.roles, login.email_domain) == (
        LoginOutcome.DISTRICT_NOT_CONNECTED,
        world.district,
        world.district.clever_id,
        ["teacher", "staff", "district_admin"],
        "springfield.k12.example.us",
    )


def test_a_paused_district_still_signs_its_people_in(world, browser, portal_launch):
    """Sign-in follows Clever's authorization, not our sync switch."""
    district_services.pause_district(district=world.district, actor=None, reason="test")

    portal_launch(browser, world.teacher["id"])

    assert browser.user_id() is not None
    assert CleverLogin.objects.get().outcome == LoginOutcome.LOGGED_IN


def test_a_district_that_shared_the_app_before_discovery_saw_it_signs_in_after_one_check(
    db, sandbox_app, browser, portal_launch
):
    newcomer = build_world(name="Shelbyville", connect=False)  # Clever lists its token

    portal_launch(browser, newcomer.teacher["id"])

    assert browser.user_id() is not None
    district = District.objects.get(clever_id=newcomer.sandbox_district.id)
    assert district.status == DistrictStatus.CONNECTED and district.name == "Shelbyville"
    audit = district.audits.get(action=DistrictAudit.Action.DISCOVERED)
    assert audit.actor_label == "discovered at a sign-in"
    assert CleverLogin.objects.get().outcome == LoginOutcome.LOGGED_IN


class UnsharingTransport(InProcessAdapter):
    """The local Clever, where the district stops sharing the app just before the app asks
    whether it does (between the person's Clever login and the app's one check)."""

    district = None

    def send(self, request, **kwargs):
        if "/oauth/tokens" in request.url and request.method == "GET":
            sandbox_services.disconnect_district(district=type(self).district)
        return super().send(request, **kwargs)


def test_an_unknown_district_is_recorded_as_evidence(
    db, sandbox_app, browser, portal_launch, settings, monkeypatch
):
    unknown = build_world(name="Ogdenville", connect=False)
    monkeypatch.setattr(UnsharingTransport, "district", unknown.sandbox_district)
    settings.CLEVER_HTTP_ADAPTER = f"{__name__}.UnsharingTransport"

    response = portal_launch(browser, unknown.district_admin_only["id"])

    assert response.status_code == 403
    assert "has not connected this app" in response.content.decode()
    assert browser.user_id() is None
    login = CleverLogin.objects.get()
    assert (login.outcome, login.district, login.clever_district_id, login.roles, login.email_domain) == (
        LoginOutcome.DISTRICT_UNKNOWN,
        None,
        unknown.sandbox_district.id,
        ["district_admin"],
        "springfield.k12.example.us",
    )
    assert "flo" not in str(CleverLogin.objects.values().get()).lower()  # no address, no name
    assert not District.objects.filter(clever_id=unknown.sandbox_district.id).exists()


def test_a_person_new_to_the_mirror_is_written_and_their_district_synced(
    world, browser, portal_launch, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        portal_launch(browser, world.teacher["id"])

    run = SyncRun.objects.get(district=world.district)
    assert run.trigger == SyncRun.Trigger.LOGIN and run.status == SyncRun.Status.SUCCEEDED
    # The sync agrees with what the login wrote: the same row, and everyone else now mirrored.
    teacher = Person.objects.get(district=world.district, clever_id=world.teacher["id"])
    assert teacher.user.username == f"clever-{world.teacher['id']}"
    assert Person.objects.filter(district=world.district).count() == 6
    assert (run.counts["created"]["users"], run.counts["unchanged"]["users"]) == (5, 1), run.counts


def test_usernames_are_unique_across_districts(db, sandbox_app, browser, other_browser, portal_launch):
    first = build_world(name="Capital City")
    second = build_world(name="North Haverbrook")
    portal_launch(browser, first.teacher["id"])
    portal_launch(other_browser, second.teacher["id"])
    usernames = set(User.objects.values_list("username", flat=True))
    assert usernames == {f"clever-{first.teacher['id']}", f"clever-{second.teacher['id']}"}
    assert browser.user_id() != other_browser.user_id()


def test_nothing_secret_or_personal_reaches_the_logs(world, browser, login_with_clever, caplog):
    caplog.set_level(logging.DEBUG)
    login_with_clever(browser, world.teacher["id"], stop=to_callback)
    code = query_of(browser.url)["code"][0]
    browser.go(browser.url)
    token = SandboxToken.objects.get(user_id=world.teacher["id"]).access_token
    text = caplog.text
    for secret in (code, token, "ada.lovelace@", "Lovelace", "sandbox-client-secret"):
        assert secret not in text


def test_a_switched_off_account_is_not_signed_in(world, browser, portal_launch):
    portal_launch(browser, world.teacher["id"])
    browser.go("/accounts/logout/", method="post")
    user = SocialAccount.objects.get(uid=world.teacher["id"]).user
    user.is_active = False
    user.save()

    response = portal_launch(browser, world.teacher["id"])

    assert "This account is inactive" in response.content.decode()
    assert browser.user_id() is None
    assert CleverLogin.objects.order_by("pk").last().outcome == LoginOutcome.ACCOUNT_INACTIVE
    assert User.objects.get(pk=user.pk).is_active is False  # a login does not undo that decision
