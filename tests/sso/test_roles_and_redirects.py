"""Multi-role users choose a role after login (one account; the role lives in the session and
decides permissions); ``next`` never leaves the site."""

import pytest
from allauth.socialaccount.models import SocialAccount
from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse
from django.test import RequestFactory

from accounts.factories import UserFactory
from accounts.models import User
from sso.permissions import has_role, role_required
from tests.sso.conftest import path_of, query_of

EVIL = [
    "//evil.example",
    "https://evil.example",
    "/\\evil.example",
    "http://evil.example/account/",
    "\\\\evil.example",
    "/%2F%2Fevil.example",
    "javascript:alert(1)",
]


@role_required("district_admin")
def admin_only(request):
    return HttpResponse("admin tools")


def call(view, browser):
    """Run a view with the browser's session and user (as middleware would set them)."""
    request = RequestFactory().get("/tools/")
    request.session = browser.client.session
    user_id = browser.user_id()
    request.user = User.objects.get(pk=user_id) if user_id else AnonymousUser()
    return view(request)


def test_a_multi_role_user_has_one_account_and_chooses_a_role(world, browser, portal_launch):
    response = portal_launch(browser, world.admin["id"])

    assert response.status_code == 200
    assert path_of(browser.url) == "/account/role/" and query_of(browser.url)["next"] == ["/account/"]
    page = response.content.decode()
    for label in ("Teacher", "School staff", "District administrator"):
        assert label in page
    account = SocialAccount.objects.get(uid=world.admin["id"])
    assert account.extra_data["roles"] == ["teacher", "staff", "district_admin"]
    assert SocialAccount.objects.filter(user=account.user).count() == 1
    # Nothing is allowed before a role is chosen: the chooser comes first.
    assert call(admin_only, browser).status_code == 302
    assert "Not chosen yet" in browser.client.get("/account/").content.decode()

    # A role that is not theirs is refused.
    refused = browser.client.post("/account/role/", {"role": "student", "next": "/account/"})
    assert refused.status_code == 400
    assert browser.client.session.get("sso.active_role") is None

    chosen = browser.go("/account/role/", method="post", data={"role": "teacher", "next": "/account/"})
    assert path_of(browser.url) == "/account/"
    assert "Teacher" in chosen.content.decode() and "switch role" in chosen.content.decode()
    with pytest.raises(PermissionDenied):
        call(admin_only, browser)

    browser.client.post("/account/role/", {"role": "district_admin"})
    assert call(admin_only, browser).content == b"admin tools"
    assert "District administrator" in browser.client.get("/account/").content.decode()


def test_a_single_role_needs_no_chooser(world, browser, portal_launch):
    portal_launch(browser, world.teacher["id"])
    assert path_of(browser.url) == "/account/"
    assert browser.client.session["sso.active_role"] == "teacher"
    with pytest.raises(PermissionDenied):
        call(admin_only, browser)


def test_people_signed_in_without_clever_have_no_clever_role(world, browser):
    browser.client.force_login(UserFactory(username="support"))
    with pytest.raises(PermissionDenied):
        call(admin_only, browser)
    request = RequestFactory().get("/")
    request.session = browser.client.session
    request.user = UserFactory(username="support")
    assert not has_role(request, "teacher")


@pytest.mark.parametrize("evil", EVIL)
def test_log_in_with_clever_never_redirects_off_site(world, browser, login_with_clever, evil):
    response = login_with_clever(browser, world.teacher["id"], start=f"/accounts/clever/login/?next={evil}")
    assert response.status_code == 200
    assert path_of(browser.url) == "/account/"  # the Browser asserts every hop stayed on site
    assert browser.user_id() is not None


def test_a_safe_next_is_honoured(world, browser, login_with_clever):
    login_with_clever(browser, world.teacher["id"], start="/accounts/clever/login/?next=/account/%3Ftab%3D1")
    assert browser.url == "/account/?tab=1"


@pytest.mark.parametrize("evil", EVIL)
def test_role_chooser_login_and_logout_never_redirect_off_site(world, browser, portal_launch, evil):
    portal_launch(browser, world.admin["id"])
    browser.go("/account/role/", method="post", data={"role": "teacher", "next": evil})
    assert path_of(browser.url) == "/account/"
    browser.go("/accounts/logout/", method="post", data={"next": evil})
    assert path_of(browser.url) == "/"
    UserFactory(username="ada", password="correct horse battery staple")
    browser.go(
        "/accounts/login/",
        method="post",
        data={"login": "ada", "password": "correct horse battery staple", "next": evil},
    )
    assert path_of(browser.url) == "/account/"
