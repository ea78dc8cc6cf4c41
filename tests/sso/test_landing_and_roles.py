"""The landing page (/account/) and the role chooser, as each kind of person sees them: their
name (never a username such as ``clever-<Clever ID>``), what each role means, and, in every
role, something to do or what comes next."""

from __future__ import annotations

from accounts.models import User
from rostering.models import Person
from rostering.services.sync import run_sync
from tests.sso.conftest import path_of


def launch(browser, portal_launch, record) -> str:
    response = portal_launch(browser, record["id"])
    assert response.status_code == 200, browser.hops
    return response.content.decode()


def signed_in_user(browser) -> User:
    return User.objects.get(pk=browser.user_id())


def test_the_name_shown_is_never_the_username(world, browser, portal_launch):
    launch(browser, portal_launch, world.student)
    user = signed_in_user(browser)
    assert user.username.startswith("clever-")
    # An account without a name of its own (as some are made, or after an edit).
    User.objects.filter(pk=user.pk).update(first_name="", last_name="", email="")

    page = browser.client.get("/account/").content.decode()

    assert '<h1 id="account-name">Bo Peep</h1>' in page  # Clever's name at the last sign-in
    assert "Signed in as <strong>Bo Peep</strong>" in page
    assert user.username not in page


def test_the_roster_mirror_names_an_account_that_has_no_name(world, browser, portal_launch):
    assert run_sync(district=world.district, kind="full").status == "succeeded"
    launch(browser, portal_launch, world.student)
    user = signed_in_user(browser)
    User.objects.filter(pk=user.pk).update(first_name="", last_name="")
    Person.objects.filter(user=user).update(first_name="Bonnie")  # the roster renamed her

    page = browser.client.get("/account/").content.decode()

    assert '<h1 id="account-name">Bonnie Peep</h1>' in page
    assert "Signed in as <strong>Bonnie Peep</strong>" in page and user.username not in page


def test_the_role_chooser_says_who_is_signed_in_and_what_each_role_means(world, browser, portal_launch):
    page = launch(browser, portal_launch, world.admin)

    assert path_of(browser.url) == "/account/role/"
    assert ("You are signed in as <strong>Eve Chief</strong>, of Springfield Unified.") in page
    for label, meaning in [
        (
            "Teacher",
            "Your classes: create assignments, enter grades and send them to your district&#x27;s LMS.",
        ),
        ("School staff", "For school staff who do not teach here: nothing in this app needs you yet."),
        (
            "District administrator",
            "Your district in this app: how it is linked, and how its rosters sync from Clever.",
        ),
    ]:
        button = page.index(f">{label}</button>")
        assert meaning in page[button : button + 400], label
    # A refused choice is shown on the same page, still saying who and what.
    refused = browser.client.post("/account/role/", {"role": "student", "next": "/account/"})
    assert refused.status_code == 400
    assert b"You are signed in as <strong>Eve Chief</strong>" in refused.content


def test_a_student_without_classes_is_told_what_comes_next(world, browser, portal_launch):
    page = launch(browser, portal_launch, world.student)
    assert 'id="landing-nothing-yet"' in page
    assert "You are not in any class here yet." in page
    assert "Open this site from Clever to start your apps" not in page


def test_a_teacher_without_classes_is_told_what_comes_next(world, browser, portal_launch):
    page = launch(browser, portal_launch, world.teacher)
    assert "You have no classes here yet." in page


def test_a_district_admin_lands_on_their_district_by_name(world, browser, portal_launch):
    # What comes next for them is the district's link and sync (matching's landing panel).
    page = launch(browser, portal_launch, world.district_admin_only)
    assert path_of(browser.url) == "/account/"
    assert 'id="account-district">Springfield Unified</td>' in page
    assert world.district.clever_id not in page and 'id="landing-nothing-yet"' not in page


def test_school_staff_are_told_what_comes_next_and_may_switch_role(world, browser, portal_launch):
    launch(browser, portal_launch, world.admin)
    page = browser.go(
        "/account/role/", method="post", data={"role": "staff", "next": "/account/"}
    ).content.decode()
    assert "There is nothing for school staff to do here" in page
    assert (
        'You have other roles here: <a href="/account/role/?next=/account/">switch role</a> to '
        "use this app as one of them."
    ) in page
