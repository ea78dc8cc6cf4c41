"""A Clever Library teacher's "I already have an account": right after the sign-in that made them a
new account, they may sign in once to the account they already had here (its username or email
and its password); their Clever sign-in and their Library person move to it, proven
(``confirmed_sign_in``), and the new account is switched off, audited. Refused, with a form error
or 403 and never a 500: a wrong password (one message whether or not the account exists), too
many attempts, staff, inactive accounts, accounts tied to another Clever user, and any session
that did not just make a Library teacher's account.
"""

from __future__ import annotations

import pytest
from allauth.mfa.models import Authenticator
from allauth.socialaccount.models import SocialAccount
from django.test import Client

from accounts.factories import OrganizationFactory, UserFactory
from accounts.models import User
from rostering.models import Person
from sso.models import AccountLink, CleverLogin, LoginOutcome
from tests.sso.conftest import Browser, path_of

PAGE = "/account/library/existing/"
PASSWORD = "correct horse battery staple"
WRONG = "That username or email and password do not match an account we can connect."


@pytest.fixture
def owner(db):
    """The account Ada had before her school used Clever: another email, a password."""
    return UserFactory(
        username="ada.teaches",
        email="ada@home.example.org",
        password=PASSWORD,
        first_name="Ada",
        last_name="Lovelace",
        organization=OrganizationFactory(),
    )


def first_library_sign_in(browser, portal_launch, clever_id):
    response = portal_launch(browser, clever_id)
    assert response.status_code == 200, browser.hops
    return response


def connect(browser, *, login, password=PASSWORD):
    return browser.go(PAGE, method="post", data={"login": login, "password": password, "next": "/account/"})


def made_for(clever_id) -> User:
    return User.objects.get(username=f"clever-{clever_id}")


def assert_nothing_linked(library, made):
    account = SocialAccount.objects.get(provider="clever", uid=library.teacher["id"])
    assert account.user == made
    assert Person.objects.get(clever_id=library.teacher["id"]).user == made
    made.refresh_from_db()
    assert made.is_active
    audits = AccountLink.objects.filter(clever_id=library.teacher["id"])
    assert list(audits.values_list("method", flat=True)) == [AccountLink.Method.NEW_ACCOUNT]


def test_a_library_teacher_connects_the_account_they_already_had(library, browser, portal_launch, owner):
    teacher_id = library.teacher["id"]
    offer = first_library_sign_in(browser, portal_launch, teacher_id)

    # Her first Library sign-in made her an account, signed her in, and offers the choice.
    assert path_of(browser.url) == PAGE
    made = made_for(teacher_id)
    assert browser.user_id() == str(made.pk)
    page = offer.content.decode()
    assert "I already have an account" in page and "Continue with the new account" in page
    assert teacher_id not in page and made.username not in page  # no internal names or IDs
    assert 'name="csrfmiddlewaretoken"' in page and 'method="post"' in page

    done = connect(browser, login="ada.teaches")

    assert done.status_code == 200 and path_of(browser.url) == "/account/"
    assert "Your Clever sign-in is now connected to this account" in done.content.decode()
    assert browser.user_id() == str(owner.pk)
    assert SocialAccount.objects.get(provider="clever", uid=teacher_id).user == owner
    person = Person.objects.get(clever_id=teacher_id)
    assert person.user == owner
    made.refresh_from_db()
    assert not made.is_active  # left unused, switched off, never deleted
    owner.refresh_from_db()
    assert owner.is_active and owner.has_usable_password()
    # Audit: the new account at the first sign-in, its unlink (switched off), the proven link.
    audits = list(AccountLink.objects.filter(clever_id=teacher_id).order_by("id"))
    assert [(a.action, a.method, a.user) for a in audits] == [
        (AccountLink.Action.LINKED, AccountLink.Method.NEW_ACCOUNT, made),
        (AccountLink.Action.UNLINKED, AccountLink.Method.CONFIRMED_SIGN_IN, made),
        (AccountLink.Action.LINKED, AccountLink.Method.CONFIRMED_SIGN_IN, owner),
    ]
    assert audits[1].actor == owner and audits[1].details["account_deactivated"] is True
    assert audits[2].actor == owner and audits[2].person == person
    assert audits[2].details == {
        "roles": ["teacher"],
        "authorized_by": "teacher",
        "asked_because": "library_existing_account",
        "account_made_at_sign_in": made.pk,
    }
    # The session goes on as a Clever session of her own account; the offer is gone.
    assert browser.go("/account/").status_code == 200
    assert browser.client.get(PAGE).status_code == 403
    # Her students keep the accounts her sign-in made for them.
    student = Person.objects.get(clever_id=library.student["id"])
    assert student.user.username == f"clever-{library.student['id']}"

    # Later Clever sign-ins open her own account directly, with no offer.
    browser.go("/accounts/logout/", method="post")
    again = portal_launch(browser, teacher_id)
    assert again.status_code == 200 and path_of(browser.url) == "/account/"
    assert browser.user_id() == str(owner.pk)
    assert CleverLogin.objects.order_by("-id").first().outcome == LoginOutcome.LOGGED_IN
    assert AccountLink.objects.filter(clever_id=teacher_id).count() == 3


def test_the_account_may_be_named_by_its_email(library, browser, portal_launch, owner):
    first_library_sign_in(browser, portal_launch, library.teacher["id"])
    done = connect(browser, login="ADA@home.example.org")
    assert done.status_code == 200 and browser.user_id() == str(owner.pk)


def test_continuing_with_the_new_account_keeps_it(library, browser, portal_launch):
    offer = first_library_sign_in(browser, portal_launch, library.teacher["id"])
    assert 'href="/account/"' in offer.content.decode()
    account = browser.go("/account/")
    assert account.status_code == 200
    assert "Connect it instead of this new one" in account.content.decode()  # for a few minutes
    assert browser.user_id() == str(made_for(library.teacher["id"]).pk)


def test_a_wrong_password_or_an_unknown_account_gets_the_same_answer(library, browser, portal_launch, owner):
    first_library_sign_in(browser, portal_launch, library.teacher["id"])
    made = made_for(library.teacher["id"])

    wrong = connect(browser, login="ada.teaches", password="not it")
    unknown = connect(browser, login="nobody.here", password="not it")
    no_password = connect(browser, login=f"clever-{library.student['id']}", password="")

    for response in (wrong, unknown):
        assert response.status_code == 400
        assert WRONG in response.content.decode()
        assert 'value="not it"' not in response.content.decode()  # the password is not echoed back
    assert no_password.status_code == 400  # the form wants a password
    assert browser.user_id() == str(made.pk)
    assert_nothing_linked(library, made)


def test_password_attempts_are_rate_limited_like_the_sign_in_page(library, browser, portal_launch, owner):
    first_library_sign_in(browser, portal_launch, library.teacher["id"])
    for _ in range(5):
        assert connect(browser, login="ada.teaches", password="guess").status_code == 400

    limited = connect(browser, login="ada.teaches")  # even the right password, now

    assert limited.status_code == 429
    assert "Too many failed sign-ins" in limited.content.decode()
    assert_nothing_linked(library, made_for(library.teacher["id"]))
    # The sign-in page counts the same failures: its limit is reached for this account too.
    other = Client()
    page = other.post("/accounts/login/", {"login": "ada.teaches", "password": PASSWORD})
    assert page.status_code == 200 and "Too many failed sign-ins" in page.content.decode()


@pytest.mark.parametrize(
    "kind", ["staff", "superuser", "inactive", "second_factor", "other_clever_user", "other_roster_person"]
)
def test_accounts_clever_may_not_open_are_refused(library, world, browser, portal_launch, owner, kind):
    if kind == "staff":
        owner.is_staff = True
    elif kind == "superuser":
        owner.is_superuser = True
    elif kind == "inactive":
        owner.is_active = False
    elif kind == "second_factor":
        Authenticator.objects.create(user=owner, type=Authenticator.Type.TOTP, data={"secret": "x"})
    elif kind == "other_clever_user":
        SocialAccount.objects.create(user=owner, provider="clever", uid=world.teacher["id"])
    elif kind == "other_roster_person":
        Person.objects.create(
            district=world.district, clever_id=world.student["id"], content_hash="x", user=owner
        )
    owner.save()
    first_library_sign_in(browser, portal_launch, library.teacher["id"])
    made = made_for(library.teacher["id"])

    refused = connect(browser, login="ada.teaches")

    assert refused.status_code == 400
    page = refused.content.decode()
    assert "nothing was connected" in page.lower()
    assert WRONG not in page  # the password was right: the page says why instead
    assert browser.user_id() == str(made.pk)
    assert_nothing_linked(library, made)


def test_the_page_is_only_for_a_session_that_just_made_a_library_teachers_account(
    library, world, browser, portal_launch, owner
):
    # Nobody signed in: GET and POST alike.
    assert browser.client.get(PAGE).status_code == 403
    assert connect(browser, login="ada.teaches").status_code == 403
    # A district (not Library) teacher's first sign-in: no offer.
    portal_launch(browser, world.teacher["id"])
    assert path_of(browser.url) == "/account/"
    assert connect(browser, login="ada.teaches").status_code == 403
    # A password session.
    password_browser = Browser()
    password_browser.client.force_login(owner)
    assert password_browser.client.get(PAGE).status_code == 403
    # A Library student (their account was made by their teacher's sign-in).
    portal_launch(browser, library.teacher["id"])
    student = Browser()
    portal_launch(student, library.student["id"])
    assert path_of(student.url) == "/account/"
    assert connect(student, login="ada.teaches").status_code == 403
    assert SocialAccount.objects.get(provider="clever", uid=library.student["id"]).user.username.startswith(
        "clever-"
    )
    assert not AccountLink.objects.filter(method=AccountLink.Method.CONFIRMED_SIGN_IN).exists()


def test_a_session_tampered_to_point_at_another_account_is_refused(library, browser, portal_launch, owner):
    first_library_sign_in(browser, portal_launch, library.teacher["id"])
    session = browser.client.session
    session["sso.library_offer"] = {**session["sso.library_offer"], "account": owner.pk}
    session.save()

    assert browser.client.get(PAGE).status_code == 403
    assert connect(browser, login="ada.teaches").status_code == 403
    assert_nothing_linked(library, made_for(library.teacher["id"]))


def test_the_offer_lasts_a_few_minutes(library, browser, portal_launch, owner, settings):
    first_library_sign_in(browser, portal_launch, library.teacher["id"])
    settings.SSO_PENDING_LINK_SECONDS = -1
    assert connect(browser, login="ada.teaches").status_code == 403
    assert_nothing_linked(library, made_for(library.teacher["id"]))


def test_the_form_is_csrf_protected_and_post_only(library, portal_launch, owner):
    browser = Browser(client=Client(enforce_csrf_checks=True))
    first_library_sign_in(browser, portal_launch, library.teacher["id"])
    made = made_for(library.teacher["id"])

    forged = browser.client.post(PAGE, {"login": "ada.teaches", "password": PASSWORD})
    as_get = browser.client.get(PAGE, {"login": "ada.teaches", "password": PASSWORD})

    assert forged.status_code == 403
    assert as_get.status_code == 200  # the page with its form; a GET links nothing
    assert_nothing_linked(library, made)
