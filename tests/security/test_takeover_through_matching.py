"""Finding 1 (high): a Clever record that shares only a product account's names and email was
linked to it by the matcher, and a Portal launch of that record landed in the account, /admin/
included. The rule now (sso/policy.py, docs/sso.md): a Clever sign-in enters an account with a
password or any privilege only after its owner proved it or support linked it by hand; staff and
superusers never sign in through Clever; names and an email never make an automatic link."""

import pytest
from allauth.socialaccount.models import SocialAccount

from accounts.factories import UserFactory
from matching import services as matching
from matching.models import MatchStatus, PersonMatch
from rostering.models import Person, SyncRun
from rostering.services.sync import run_sync
from sso import services as sso_services
from sso.models import AccountLink, CleverLogin, LoginOutcome
from tests.sso.conftest import Browser, path_of, user_record

PASSWORD = "correct horse battery staple"
VICTIMS = {
    "staff": {"is_staff": True},
    "superuser": {"is_staff": True, "is_superuser": True},
    "organization admin": {"is_organization_admin": True},
    "plain password account": {},
}


def victim_and_impostor(world, kind: str, *, staff_id: str = ""):
    """A product account, and a Clever record the district's SIS made with its names and email
    (and, if given, its staff ID), synced into the mirror."""
    victim = UserFactory(
        username=f"victim-{kind.replace(' ', '-')}",
        first_name="Grace",
        last_name="Hopper",
        email="grace.hopper@springfield.k12.example.us",
        organization=world.organization,
        role="staff",
        staff_id=staff_id,
        password=PASSWORD,
        **VICTIMS[kind],
    )
    staff_role = {"schools": [world.school["id"]], **({"staff_id": staff_id} if staff_id else {})}
    impostor = user_record(
        world.sandbox_district,
        first="Grace",
        last="Hopper",
        email="grace.hopper@springfield.k12.example.us",
        roles={"staff": staff_role},
    )
    assert run_sync(district=world.district, kind="full").status == SyncRun.Status.SUCCEEDED
    return victim, Person.objects.get(district=world.district, clever_id=impostor["id"])


def assert_not_inside(browser, victim):
    assert browser.user_id() != str(victim.pk)
    admin = browser.client.get("/admin/", follow=True)
    # Anonymous: sent to the password page; signed in to some other (non-staff) account: refused.
    final = path_of(admin.redirect_chain[-1][0])
    assert (final, admin.status_code) in (("/accounts/login/", 200), ("/admin/login/", 403))


@pytest.mark.parametrize("kind", VICTIMS)
@pytest.mark.parametrize("staff_id", ["", "S-77"], ids=["names and email", "names, email and staff ID"])
def test_matching_only_proposes_and_the_launch_does_not_enter(world, browser, portal_launch, kind, staff_id):
    victim, impostor = victim_and_impostor(world, kind, staff_id=staff_id)

    matching.match_district(district=world.district)

    match = PersonMatch.objects.get(district=world.district, user=victim)
    assert match.person == impostor and match.status == MatchStatus.PENDING  # proposed, not linked
    assert Person.objects.get(pk=impostor.pk).user != victim
    page = portal_launch(browser, impostor.clever_id)
    assert page.status_code == 200
    assert_not_inside(browser, victim)
    assert not AccountLink.objects.filter(user=victim).exists()


@pytest.fixture
def plain_and_namesake(world):
    """A plain account (no password, no privilege: matching may link it on its own), and a
    Clever record with only its names and email, synced into the mirror and matched:
    ``(account, Clever record)``."""
    plain = UserFactory(
        username="plain",
        first_name="Grace",
        last_name="Hopper",
        password=None,
        email="grace.hopper@springfield.k12.example.us",
        organization=world.organization,
        role="staff",
    )
    namesake = user_record(
        world.sandbox_district,
        first="Grace",
        last="Hopper",
        email="grace.hopper@springfield.k12.example.us",
        roles={"staff": {}},
    )
    assert run_sync(district=world.district, kind="full").status == SyncRun.Status.SUCCEEDED
    matching.match_district(district=world.district)
    return plain, namesake


def test_names_and_email_alone_do_not_link_even_a_plain_account(world, plain_and_namesake):
    # No password, no privilege: matching may link it on its own, but not on names and an email.
    plain, _namesake = plain_and_namesake

    match = PersonMatch.objects.get(district=world.district, user=plain)
    assert match.status == MatchStatus.PENDING and match.probability >= 0.99


@pytest.mark.parametrize("kind", ["staff", "superuser"])
def test_staff_accounts_never_open_with_clever_however_linked(world, browser, portal_launch, kind):
    victim, impostor = victim_and_impostor(world, kind, staff_id="S-77")
    matching.match_district(district=world.district)
    match = PersonMatch.objects.get(district=world.district, user=victim)

    # Support cannot link it by hand either...
    with pytest.raises(matching.MatchError, match="never sign in through Clever"):
        matching.accept_match(match=match, actor=UserFactory(username="helpdesk", is_staff=True))
    # ...and a link made before this rule (or by hand in the database) opens nothing.
    SocialAccount.objects.create(
        user=victim,
        provider="clever",
        uid=impostor.clever_id,
        extra_data={"id": impostor.clever_id, "district": world.district.clever_id},
    )

    page = portal_launch(browser, impostor.clever_id)

    assert page.status_code == 403 and b"does not open with Clever" in page.content
    assert_not_inside(browser, victim)
    assert CleverLogin.objects.filter(outcome=LoginOutcome.ACCOUNT_REFUSED).count() == 1


@pytest.mark.parametrize("kind", ["organization admin", "plain password account"])
def test_an_old_automatic_link_asks_for_the_owners_password(world, browser, portal_launch, kind):
    victim, impostor = victim_and_impostor(world, kind, staff_id="S-77")
    # A link as the matcher made them before this rule: the roster points the person at the account.
    Person.objects.filter(pk=impostor.pk).update(user=victim)

    page = portal_launch(browser, impostor.clever_id)

    assert page.status_code == 200 and b"Is this your account?" in page.content
    assert b"sso-link-new" not in page.content  # no way around it by asking for a new account
    assert_not_inside(browser, victim)
    assert not SocialAccount.objects.filter(user=victim).exists()
    # Without the password, "yes" leads to the password page and nowhere else.
    browser.go("/account/link/clever/")
    assert path_of(browser.url) == "/accounts/login/" and browser.user_id() is None
    wrong = browser.client.post("/accounts/login/", {"login": victim.username, "password": "guess"})
    assert wrong.status_code == 200 and browser.user_id() is None


def test_the_owner_proves_the_account_once_then_clever_opens_it(world, browser, portal_launch):
    owner, person = victim_and_impostor(world, "organization admin", staff_id="S-77")
    Person.objects.filter(pk=person.pk).update(user=owner)
    portal_launch(browser, person.clever_id)

    browser.go("/account/link/clever/", stop=lambda url: path_of(url) == "/accounts/login/")
    browser.go(browser.url)
    browser.go(
        "/accounts/login/",
        method="post",
        data={"login": owner.username, "password": PASSWORD, "next": "/account/link/clever/"},
    )
    done = browser.go("/account/link/clever/", method="post")

    assert done.status_code == 200 and browser.user_id() == str(owner.pk)
    audit = AccountLink.objects.get(user=owner)
    assert (audit.method, audit.actor) == (AccountLink.Method.CONFIRMED_SIGN_IN, owner)
    browser.go("/accounts/logout/", method="post")
    portal_launch(browser, person.clever_id)
    assert browser.user_id() == str(owner.pk)


def test_a_by_hand_decision_of_support_lets_clever_open_an_organization_admin(world, browser, portal_launch):
    owner, person = victim_and_impostor(world, "organization admin", staff_id="S-77")
    matching.match_district(district=world.district)
    match = PersonMatch.objects.get(district=world.district, user=owner)
    helpdesk = UserFactory(username="helpdesk", is_staff=True)

    matching.accept_match(match=match, actor=helpdesk)
    portal_launch(browser, person.clever_id)

    assert browser.user_id() == str(owner.pk)
    assert AccountLink.objects.filter(user=owner, method=AccountLink.Method.STAFF, actor=helpdesk).exists()
    # A bulk acceptance is not a decision about this pair: it skips protected accounts.
    matching.reject_match(match=PersonMatch.objects.get(pk=match.pk), actor=helpdesk)
    pending = PersonMatch.objects.filter(pk=match.pk)
    pending.update(status=MatchStatus.PENDING, person=person, probability=1.0)
    counts = matching.bulk_accept(matches=pending, min_probability=0.9, actor=helpdesk)
    assert counts == {"protected": 1}


def test_the_review_item_says_why_a_sure_match_waits(world, client):
    victim, _impostor = victim_and_impostor(world, "organization admin", staff_id="S-77")
    matching.match_district(district=world.district)
    match = PersonMatch.objects.get(district=world.district, user=victim)
    client.force_login(UserFactory(username="helpdesk", is_staff=True, is_superuser=True))

    page = client.get(f"/admin/matching/personmatch/{match.pk}/change/")

    assert page.status_code == 200 and b'id="review-protected"' in page.content
    assert b"never links such an account by itself" in page.content


def test_moving_a_clever_person_to_another_account_takes_the_proof_away(world, browser, portal_launch):
    # Support accepts X for the organization admin U, then decides X is really V's. U's proof
    # must not survive: once X's link to V is removed too, X's launch must not reopen U.
    owner, person = victim_and_impostor(world, "organization admin", staff_id="S-77")
    matching.match_district(district=world.district)
    helpdesk = UserFactory(username="helpdesk", is_staff=True)
    matching.accept_match(match=PersonMatch.objects.get(district=world.district, user=owner), actor=helpdesk)
    other = UserFactory(username="v", password=None, organization=world.organization, role="staff")
    item = PersonMatch.objects.create(district=world.district, user=other, person=person)
    matching.accept_match(match=item, actor=helpdesk, clever_id=person.clever_id)
    assert PersonMatch.objects.get(user=owner).status == MatchStatus.PENDING  # U's decision is open again
    portal_launch(Browser(), person.clever_id)
    link = SocialAccount.objects.get(uid=person.clever_id)
    sso_services.unlink_clever_account(account=link, actor=helpdesk)

    portal_launch(browser, person.clever_id)

    assert browser.user_id() != str(owner.pk)


def test_accepting_a_plain_account_is_no_proof_once_it_gains_privileges(
    world, browser, portal_launch, plain_and_namesake
):
    plain, impostor = plain_and_namesake
    matching.bulk_accept(
        matches=PersonMatch.objects.filter(user=plain),
        min_probability=0.9,
        actor=UserFactory(username="helpdesk", is_staff=True),
    )
    assert Person.objects.get(clever_id=impostor["id"]).user == plain

    type(plain).objects.filter(pk=plain.pk).update(is_organization_admin=True)
    page = portal_launch(browser, impostor["id"])

    assert browser.user_id() != str(plain.pk) and b"Is this your account?" in page.content
