"""Support staff see login evidence and link audits, and unlink through an audited action."""

from allauth.socialaccount.models import SocialAccount

from accounts.factories import UserFactory
from rostering.models import Person
from sso.models import AccountLink


def test_support_staff_read_evidence_and_unlink_with_an_audit(world, browser, other_browser, portal_launch):
    portal_launch(browser, world.teacher["id"])
    account = SocialAccount.objects.get(uid=world.teacher["id"])
    support = UserFactory(username="support", is_staff=True, is_superuser=True)
    other_browser.client.force_login(support)

    for url in ("/admin/sso/cleverlogin/", "/admin/sso/accountlink/", "/admin/socialaccount/socialaccount/"):
        response = other_browser.client.get(url)
        assert response.status_code == 200, url
    assert world.district.clever_id in other_browser.client.get("/admin/sso/cleverlogin/").content.decode()
    # No edit form and no delete for Clever links: only the audited action.
    delete_page = f"/admin/socialaccount/socialaccount/{account.pk}/delete/"
    assert other_browser.client.get(delete_page).status_code == 403

    response = other_browser.client.post(
        "/admin/socialaccount/socialaccount/", {"action": "unlink", "_selected_action": [account.pk]}
    )
    assert response.status_code == 302

    assert not SocialAccount.objects.exists()
    assert Person.objects.get(clever_id=world.teacher["id"]).user is None
    unlink = AccountLink.objects.get(action=AccountLink.Action.UNLINKED)
    assert (unlink.method, unlink.actor, unlink.clever_id) == (
        AccountLink.Method.STAFF,
        support,
        world.teacher["id"],
    )


def test_people_who_are_not_support_staff_see_nothing(world, browser):
    browser.client.force_login(UserFactory(username="teacher", is_staff=True))
    assert browser.client.get("/admin/sso/cleverlogin/").status_code == 403
