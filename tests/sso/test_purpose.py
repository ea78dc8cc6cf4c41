"""Another app (district linking, later) starts "Log in with Clever" with its own signed purpose
and gets the verified Clever identity back through its hook; nobody is signed in by it."""

import pytest
from allauth.socialaccount.models import SocialAccount
from django.contrib.auth.models import AnonymousUser
from django.core import signing
from django.http import HttpResponse
from django.test import RequestFactory

from accounts.factories import UserFactory
from sso import services
from sso import state as login_state
from sso.models import CleverLogin, LoginOutcome
from tests.sso.conftest import query_of, to_clever_authorize

received = []


def link_hook(request, *, identity, data, actor):
    received.append((identity, data, actor))
    return HttpResponse(f"linked {identity.district_id} for organization {data['organization']}")


@pytest.fixture
def purpose():
    received.clear()
    services.register_purpose("test-district-link", link_hook)
    yield "test-district-link"
    login_state._HANDLERS.pop("test-district-link", None)


def start(browser, *, purpose, data, user=None):
    """Run ``start_clever_login`` in the browser's session (as another app's view would)."""
    request = RequestFactory().get("/link/")
    request.session = browser.client.session
    request.user = user or AnonymousUser()
    response = services.start_clever_login(
        request, purpose=purpose, data=data, district_id=None, next_url="/linking/"
    )
    request.session.save()
    return response["Location"]


def test_a_purpose_hook_gets_the_identity_and_nobody_is_signed_in(world, browser, purpose):
    admin = UserFactory(username="org-admin")
    browser.client.force_login(admin)
    authorize = start(browser, purpose=purpose, data={"organization": 7}, user=admin)
    assert to_clever_authorize(authorize)

    browser.go(authorize)  # Clever's login page (not logged in to Clever)
    response = browser.sign_in_at_clever(browser.url, world.district_admin_only["id"])

    assert response.status_code == 200
    assert response.content.decode() == f"linked {world.district.clever_id} for organization 7"
    identity, data, actor = received[0]
    assert (identity.clever_id, identity.roles, data, actor) == (
        world.district_admin_only["id"],
        ("district_admin",),
        {"organization": 7},
        admin,
    )
    assert browser.user_id() == str(admin.pk)  # still the admin; no Clever account made or linked
    assert not SocialAccount.objects.exists()
    assert CleverLogin.objects.get().outcome == LoginOutcome.PURPOSE


def test_a_purpose_started_by_someone_else_is_refused(world, browser, purpose):
    admin = UserFactory(username="org-admin")
    browser.client.force_login(admin)
    authorize = start(browser, purpose=purpose, data={"organization": 7}, user=admin)
    # Another person signs in on this browser (Django flushes the session: the state goes too).
    browser.client.force_login(UserFactory(username="intruder"))
    browser.go(authorize)
    response = browser.sign_in_at_clever(browser.url, world.district_admin_only["id"])
    assert response.status_code in (400, 403)
    assert received == []
    assert not SocialAccount.objects.exists()


def test_an_unregistered_purpose_cannot_be_started(world, browser):
    with pytest.raises(ValueError):
        start(browser, purpose="nobody-registered-this", data={})


def test_the_purpose_in_the_state_is_signed(world, browser, purpose):
    authorize = start(browser, purpose=purpose, data={"organization": 7})
    state_id = query_of(authorize)["state"][0]
    stashed = browser.client.session["socialaccount_states"][state_id][0]
    assert login_state.read(stashed).data == {"organization": 7}
    tampered = dict(stashed, sso=signing.dumps({"name": purpose, "data": {"organization": 8}}))
    with pytest.raises(login_state.BadState):
        login_state.read(tampered)
