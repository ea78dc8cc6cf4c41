"""Every door Clever has, over the real redirect chain: app -> sandbox -> app callback.

"Log in with Clever" carries our state from the start; Portal, Instant Login, Library and LMS
launches arrive with a code and no state, are bounced once to Clever's authorize URL with a
fresh state, and finish there. The state-less code is never exchanged.
"""

from allauth.socialaccount.models import SocialAccount, SocialToken

from accounts.models import User
from districts.models import District
from rostering.models import Person, Section, SectionMembership
from sandbox import services as sandbox
from sandbox.models import SandboxAuthCode, SandboxToken
from sandbox.selectors import get_user
from sso.models import AccountLink, CleverLogin, LoginEntry, LoginOutcome
from tests.sso.conftest import CALLBACK_PATH, path_of, query_of, to_callback

EXTRA_DATA_KEYS = {"id", "district", "authorized_by", "name", "email", "roles", "legacy_ids"}


def assert_signed_in_as(browser, clever_id: str) -> User:
    account = SocialAccount.objects.get(provider="clever", uid=clever_id)
    assert str(account.user.pk) == browser.user_id()
    return account.user


def test_log_in_with_clever_starts_with_a_state_and_signs_the_teacher_in(world, browser, login_with_clever):
    start = browser.go("/accounts/clever/login/", stop=lambda url: True)
    authorize = start["Location"]
    assert path_of(authorize) == "/sandbox/oauth/authorize"
    params = query_of(authorize)
    assert params["response_type"] == ["code"]
    assert params["client_id"] == ["sandbox-client-id"]
    assert params["redirect_uri"] == ["http://127.0.0.1:8000" + CALLBACK_PATH]
    assert len(params["state"][0]) >= 16
    assert "district_id" not in params

    response = login_with_clever(browser, world.teacher["id"])

    assert response.status_code == 200
    assert browser.paths()[-2:] == [CALLBACK_PATH, "/account/"]
    user = assert_signed_in_as(browser, world.teacher["id"])
    assert user.username == f"clever-{world.teacher['id']}"
    assert user.organization == world.organization
    assert not user.has_usable_password()
    page = response.content.decode()
    assert "Ada Lovelace" in page and "Teacher" in page
    assert "Springfield Unified Org" in page and "Springfield Unified" in page

    person = Person.objects.get(district=world.district, clever_id=world.teacher["id"])
    assert person.user == user
    assert person.legacy_ids == {"teacher": "legacy-t-1"}
    account = SocialAccount.objects.get(uid=world.teacher["id"])
    assert set(account.extra_data) == EXTRA_DATA_KEYS
    assert account.extra_data["roles"] == ["teacher"]
    assert account.extra_data["legacy_ids"] == {"teacher": "legacy-t-1"}
    assert not SocialToken.objects.exists()  # SSO bearer tokens are not stored

    login = CleverLogin.objects.get()
    assert (
        login.district,
        login.clever_district_id,
        login.roles,
        login.email_domain,
        login.entry,
        login.outcome,
    ) == (
        world.district,
        world.district.clever_id,
        ["teacher"],
        "springfield.k12.example.us",
        LoginEntry.LOG_IN_WITH_CLEVER,
        LoginOutcome.LOGGED_IN,
    )
    audit = AccountLink.objects.get()
    assert (audit.action, audit.method, audit.user, audit.clever_id, audit.person) == (
        AccountLink.Action.LINKED,
        AccountLink.Method.NEW_ACCOUNT,
        user,
        world.teacher["id"],
        person,
    )


def test_log_in_with_clever_passes_the_district_id_to_clever(world, browser, login_with_clever):
    district_id = world.district.clever_id
    start = browser.go(f"/accounts/clever/login/?district_id={district_id}", stop=lambda url: True)
    assert query_of(start["Location"])["district_id"] == [district_id]
    # A malformed district ID is dropped, not passed on.
    start = browser.go("/accounts/clever/login/?district_id=x%26state%3Devil", stop=lambda url: True)
    assert "district_id" not in query_of(start["Location"])
    response = login_with_clever(
        browser, world.student["id"], start=f"/accounts/clever/login/?district_id={district_id}"
    )
    assert response.status_code == 200
    assert_signed_in_as(browser, world.student["id"])


def test_the_home_page_offers_log_in_with_clever_and_its_form_starts_it(world, browser):
    page = browser.client.get("/").content.decode()
    assert "Log in with Clever" in page and 'action="/accounts/clever/login/"' in page
    response = browser.go("/accounts/clever/login/", method="post", stop=lambda url: True)
    assert path_of(response["Location"]) == "/sandbox/oauth/authorize"
    assert "state" in query_of(response["Location"])


def test_portal_launch_bounces_once_for_a_state_and_signs_in(world, browser, portal_launch):
    response = portal_launch(browser, world.teacher["id"])

    assert response.status_code == 200
    paths = browser.paths()
    assert paths == [
        "/sandbox/portal/launch",
        CALLBACK_PATH,
        "/sandbox/oauth/authorize",
        CALLBACK_PATH,
        "/account/",
    ]
    first_code = query_of(browser.hops[1][0])["code"][0]
    assert "state" not in query_of(browser.hops[1][0])
    bounce_state = query_of(browser.hops[2][0])["state"][0]
    assert query_of(browser.hops[3][0])["state"] == [bounce_state]
    # The state-less code was never exchanged; the bounced one exactly once.
    assert SandboxAuthCode.objects.get(code=first_code).redeemed_at is None
    second_code = query_of(browser.hops[3][0])["code"][0]
    assert SandboxAuthCode.objects.get(code=second_code).redeemed_at is not None
    assert_signed_in_as(browser, world.teacher["id"])
    assert CleverLogin.objects.get().entry == LoginEntry.CLEVER_INITIATED
    assert "Ada Lovelace" in response.content.decode()


def test_instant_login_link_signs_in_after_one_bounce(world, browser):
    link = f"/sandbox/oauth/instant-login?client_id=sandbox-client-id&district_id={world.district.clever_id}"
    login_page = browser.go(link)
    assert login_page.status_code == 200  # not logged in to Clever yet: Clever's own login page
    response = browser.sign_in_at_clever(browser.url, world.student2["id"])

    assert response.status_code == 200
    assert browser.paths() == [
        "/sandbox/oauth/instant-login",
        CALLBACK_PATH,
        "/sandbox/oauth/authorize",
        CALLBACK_PATH,
        "/account/",
    ]
    assert "state" not in query_of(browser.hops[1][0])
    assert_signed_in_as(browser, world.student2["id"])


def test_a_state_less_launch_from_an_lms_signs_in_like_the_portal(world, browser):
    """LMS Connect's LTI 1.3 launches reach the app as Clever-initiated logins: a code at the
    primary redirect URI, no state (docs/sso.md). Clever issues that code; we bounce it."""
    code = sandbox.issue_auth_code(
        application=sandbox.get_application(),
        user=get_user(world.admin["id"]),
        redirect_uri=sandbox.get_application().redirect_uris[0],
    )
    # Clever's login cookie, as after any Clever sign-in.
    browser.go(f"/sandbox/portal/launch?user={world.admin['id']}", stop=to_callback)
    response = browser.go(f"{CALLBACK_PATH}?code={code.code}")
    assert browser.paths()[:3] == [CALLBACK_PATH, "/sandbox/oauth/authorize", CALLBACK_PATH]
    assert response.status_code == 200  # the role chooser: three roles
    assert_signed_in_as(browser, world.admin["id"])
    assert SandboxAuthCode.objects.get(code=code.code).redeemed_at is None


def test_library_teacher_brings_their_sections_and_students_at_once(library, browser, portal_launch):
    response = portal_launch(browser, library.teacher["id"])

    assert response.status_code == 200
    teacher_user = assert_signed_in_as(browser, library.teacher["id"])
    district = District.objects.get(clever_id=library.sandbox_district.id)
    assert district.sync_enabled is False
    assert district.name == "Shelbyville Schools"
    section = Section.objects.get(district=district)
    assert section.clever_id == library.section["id"]
    assert set(SectionMembership.objects.filter(section=section).values_list("person_clever_id", "role")) == {
        (library.teacher["id"], "teacher"),
        (library.student["id"], "student"),
        (library.student2["id"], "student"),
    }
    people = {p.clever_id: p for p in Person.objects.filter(district=district)}
    # The teacher and the section's students; nobody else in the district.
    assert set(people) == {library.teacher["id"], library.student["id"], library.student2["id"]}
    assert people[library.teacher["id"]].user == teacher_user
    for student in (library.student, library.student2):
        assert people[student["id"]].user.username == f"clever-{student['id']}"
    login = CleverLogin.objects.get()
    assert (login.authorized_by, login.outcome) == ("teacher", LoginOutcome.LOGGED_IN)
    assert "Clever Library" in response.content.decode()
    # The teacher's token was used, never stored.
    assert SandboxToken.objects.filter(user_id=library.teacher["id"], kind="teacher").count() == 1
    assert not SocialToken.objects.exists()


def test_library_sign_in_by_a_district_admin_says_it_is_for_teachers(library, browser, portal_launch):
    response = portal_launch(browser, library.district_admin_only["id"])

    assert response.status_code == 403
    assert "Clever Library sign-in is for teachers" in response.content.decode()
    assert browser.user_id() is None
    assert not SocialAccount.objects.exists()
    assert not Person.objects.exists()
    login = CleverLogin.objects.get()
    assert (login.outcome, login.roles, login.authorized_by) == (
        LoginOutcome.LIBRARY_NOT_TEACHER,
        ["district_admin"],
        "teacher",
    )


def test_a_library_login_offers_only_the_roles_library_allows(library, browser, portal_launch):
    """Eve is a teacher, staff and a district administrator in her district; through Clever
    Library she is a teacher and nothing else: no role to choose, no administrator."""
    response = portal_launch(browser, library.admin["id"])

    assert response.status_code == 200
    assert_signed_in_as(browser, library.admin["id"])
    assert "/account/role/" not in browser.paths()
    account = browser.go("/account/").content.decode()
    assert 'id="account-role">Teacher' in account
    assert "District administrator" not in account and "switch role" not in account
    login = CleverLogin.objects.get()
    assert login.roles == ["teacher", "staff", "district_admin"]  # the evidence keeps them all


def test_library_student_signs_in_after_their_teacher(library, browser, other_browser, portal_launch):
    portal_launch(browser, library.teacher["id"])
    response = portal_launch(other_browser, library.student2["id"])
    assert response.status_code == 200
    user = assert_signed_in_as(other_browser, library.student2["id"])
    # The account made when the teacher signed in is the one the student gets.
    assert user.username == f"clever-{library.student2['id']}"
    assert User.objects.filter(username=user.username).count() == 1
    assert to_callback(other_browser.hops[1][0])


def test_clever_failing_during_a_library_sign_in_leaves_nothing_half_done(
    library, browser, portal_launch, sandbox_knobs, settings
):
    settings.CLEVER_BACKOFF_BASE = 0.0  # the one retry does not wait
    sandbox_knobs.add_fault("status", status=500, count=10, path_contains="/sections")

    response = portal_launch(browser, library.teacher["id"])

    assert response.status_code == 502
    assert "Nobody was signed in" in response.content.decode()
    assert browser.user_id() is None
    assert not Person.objects.exists() and not Section.objects.exists()
    assert not SocialAccount.objects.exists()

    sandbox_knobs.clear_faults()
    response = portal_launch(browser, library.teacher["id"])  # trying again works
    assert response.status_code == 200, (browser.hops, response.content.decode()[-900:])
    assert Section.objects.count() == 1
