"""Matching on the database: automatic links, the review queue, sticky decisions, schools,
provisioning's seam. The Clever side is a real sync of a generated sandbox district."""

import pytest
from allauth.socialaccount.models import SocialAccount
from django.contrib.auth import get_user_model

from accounts.factories import SchoolFactory, UserFactory
from matching import selectors, services
from matching.models import MatchAudit, MatchSource, MatchStatus, PersonMatch, SchoolMatch
from rostering.models import Person
from rostering.models import School as CleverSchool
from sso import policy as sso_policy
from sso.models import AccountLink
from tests.conftest import sync

from .conftest import date_of_birth, product_copy, students

pytestmark = pytest.mark.django_db
User = get_user_model()


def test_exact_copies_link_automatically_and_replace_the_accounts_the_sync_made(synced):
    people = students(synced)[:10]
    placeholders = {p.pk: p.user for p in people}
    assert all(u is not None and u.username.startswith("clever-") for u in placeholders.values())
    SocialAccount.objects.create(user=placeholders[people[0].pk], provider="clever", uid=people[0].clever_id)
    copies = [product_copy(p) for p in people]

    summary = services.match_district(district=synced)

    assert summary["people"][MatchStatus.AUTO_LINKED] == 10 and summary["review_queue"] == 0
    for person, user in zip(people, copies, strict=True):
        person.refresh_from_db()
        assert person.user == user
        match = PersonMatch.objects.get(district=synced, user=user)
        assert match.status == MatchStatus.AUTO_LINKED and match.probability >= 0.99
        assert {c["field"] for c in match.candidates[0]["contributions"]} >= {"sis_id", "dob", "last_name"}
        placeholder = placeholders[person.pk]
        placeholder.refresh_from_db()
        assert placeholder.is_active is False  # deactivated, never deleted
    # The Clever login follows the person to the product account.
    assert SocialAccount.objects.get(uid=people[0].clever_id).user == copies[0]
    audits = MatchAudit.objects.filter(district=synced, action="linked", kind="person")
    assert audits.count() == 10 and all(a.details["contributions"] for a in audits)


def vague_copy(person: Person):
    """A shortened first name, no IDs, no date of birth: plausible, not certain."""
    return product_copy(
        person, first_name=person.first_name[:3], sis_id="", student_number="", date_of_birth=None
    )


def test_uncertain_people_go_to_review_and_strangers_to_no_match(synced):
    person = students(synced)[0]
    vague = vague_copy(person)
    stranger = UserFactory(
        username="new-kid",
        first_name="Zebulon",
        last_name="Quartermaine",
        organization=synced.organization,
        role="student",
        sis_id="999999999",
    )

    services.match_district(district=synced)

    assert PersonMatch.objects.get(user=stranger).status == MatchStatus.NO_MATCH
    match = PersonMatch.objects.get(user=vague)
    assert match.status == MatchStatus.PENDING and match.zone == "review"
    assert match.person == person and 0.5 <= match.probability < 0.99
    assert list(selectors.review_queue(synced)) == [match]
    person.refresh_from_db()
    assert person.user != vague  # nothing linked without a decision


def test_a_reviewed_decision_is_sticky_until_a_compared_field_changes(synced):
    person = students(synced)[0]
    user = vague_copy(person)
    services.match_district(district=synced)
    services.reject_match(match=PersonMatch.objects.get(user=user), actor=None)

    summary = services.match_district(district=synced)

    assert summary["people"]["kept"] == 1 and summary["review_queue"] == 0
    match = PersonMatch.objects.get(user=user)
    assert match.status == MatchStatus.NO_MATCH and match.source == MatchSource.STAFF

    # The product record changes: the pair is compared again.
    user.date_of_birth = date_of_birth(person)
    user.save()
    services.match_district(district=synced)
    match.refresh_from_db()
    assert match.source == MatchSource.ENGINE and match.status != MatchStatus.NO_MATCH


def test_no_match_on_a_linked_record_undoes_the_link(synced):
    person = students(synced)[0]
    user = product_copy(person)
    services.match_district(district=synced)
    person.refresh_from_db()
    assert person.user == user

    services.reject_match(match=PersonMatch.objects.get(user=user), actor=None)

    person.refresh_from_db()
    assert person.user.username == f"clever-{person.clever_id}" and person.user.is_active
    assert MatchAudit.objects.filter(action="unlinked", clever_id=person.clever_id).exists()


def test_matchings_links_and_unlinks_reach_the_account_link_audit(synced):
    """The Clever-account link has one owner (sso): a link matching makes or undoes is written
    in the account-link audit too, with the account it moved to and from."""
    person = students(synced)[0]
    own = person.user
    user = product_copy(person)
    services.match_district(district=synced)
    linked = AccountLink.objects.get(clever_id=person.clever_id, action=AccountLink.Action.LINKED)
    assert (linked.user, linked.method, linked.actor_label) == (
        user,
        AccountLink.Method.MATCHED,
        "matching: engine",
    )
    assert AccountLink.objects.filter(clever_id=person.clever_id, action="unlinked", user=own).exists()

    services.reject_match(match=PersonMatch.objects.get(user=user), actor=None)

    undone = AccountLink.objects.filter(clever_id=person.clever_id, action="unlinked").latest("created_at")
    assert undone.user == user
    assert (
        AccountLink.objects.filter(clever_id=person.clever_id, action="linked").latest("created_at").user
        == own
    )


def test_an_account_named_like_a_clever_one_is_not_taken_for_it(synced):
    """Where an account came from is a field, not its name: a product account someone named
    "clever-<Clever ID>" by hand is not that Clever person's own account."""
    person = students(synced)[0]
    own = person.user
    assert own.made_for_clever_id == person.clever_id and sso_policy.made_for(own, person.clever_id)
    own.username = "renamed-by-support"
    own.save(update_fields=["username"])
    namesake = UserFactory(username=f"clever-{person.clever_id}", organization=synced.organization)

    assert not namesake.made_by_clever and not sso_policy.made_for(namesake, person.clever_id)
    assert sso_policy.made_for(own, person.clever_id)  # renaming does not change where it came from


def test_accept_choose_another_and_duplicate(synced):
    first, second = students(synced)[:2]
    user = product_copy(first, sis_id="", student_number="")
    twin = product_copy(first, username="twin", sis_id="", student_number="")
    services.match_district(district=synced)
    match = PersonMatch.objects.get(user=user)
    staff = UserFactory(username="helpdesk", is_staff=True)

    services.accept_match(match=match, actor=staff, clever_id=second.clever_id)  # choose another

    second.refresh_from_db()
    match.refresh_from_db()
    assert second.user == user and match.status == MatchStatus.ACCEPTED and match.decided_by == staff
    with pytest.raises(services.MatchError, match="already linked"):
        services.link_person(person=first, user=user, source=MatchSource.STAFF)
    twin_match = PersonMatch.objects.get(user=twin)
    services.mark_duplicate(match=twin_match, duplicate_of=user, actor=staff)
    twin_match.refresh_from_db()
    assert twin_match.status == MatchStatus.DUPLICATE and twin_match.duplicate_of == user
    assert MatchAudit.objects.filter(action="duplicate", product_id=twin.pk).exists()
    with pytest.raises(services.MatchError, match="not on the district's roster"):
        services.accept_match(match=twin_match, actor=staff, clever_id="ffffffffffffffffffffffff")


def test_bulk_accept_takes_only_pending_items_above_the_threshold(synced):
    people = students(synced)[:4]
    users = [vague_copy(p) for p in people]
    services.match_district(district=synced)
    pending = list(PersonMatch.objects.filter(user__in=users, status=MatchStatus.PENDING))
    assert len(pending) >= 2
    threshold = max(m.probability for m in pending)  # only the most likely one(s)
    above = [m for m in pending if m.probability >= threshold]

    counts = services.bulk_accept(matches=PersonMatch.objects.all(), min_probability=threshold, actor=None)

    assert counts == {"accepted": len(above)}
    assert PersonMatch.objects.filter(status=MatchStatus.PENDING).count() == len(pending) - len(above)
    for match in PersonMatch.objects.filter(status=MatchStatus.ACCEPTED):
        assert match.person.user == match.user


def test_schools_link_on_nces_id_within_the_district(synced):
    clever_school = CleverSchool.objects.filter(district=synced).exclude(nces_id="").first()
    assert clever_school is not None
    same = SchoolFactory(
        organization=synced.organization,
        name="whatever it is called here",
        nces_id=clever_school.nces_id,
        state_id="",
    )
    unknown = SchoolFactory(
        organization=synced.organization, name="Annex Learning Center", nces_id="", state_id=""
    )

    services.match_district(district=synced)

    clever_school.refresh_from_db()
    assert clever_school.product_school == same
    assert SchoolMatch.objects.get(school=same).status == MatchStatus.AUTO_LINKED
    assert SchoolMatch.objects.get(school=unknown).status in (MatchStatus.PENDING, MatchStatus.NO_MATCH)
    assert MatchAudit.objects.filter(kind="school", product_id=same.pk).exists()


def test_provisioning_gives_a_linked_person_the_product_account_not_a_new_one(synced):
    person = students(synced)[0]
    user = product_copy(person)
    services.match_district(district=synced)
    person.refresh_from_db()
    assert person.user == user

    sync(synced)  # a resync keeps the link and creates nothing

    person.refresh_from_db()
    assert person.user == user
    assert selectors.existing_users_for([person]) == {person.pk: user}
    assert not User.objects.filter(username=f"clever-{person.clever_id}", is_active=True).exists()


def test_a_district_without_an_organization_has_nobody_to_match(synced):
    synced.organization = None
    synced.save()
    with pytest.raises(services.MatchError, match="not linked to an organization"):
        services.match_district(district=synced)


def test_onboarding_checklist_names_what_blocks_the_next_step(synced):
    vague_copy(students(synced)[0])
    services.match_district(district=synced)

    steps = {step["key"]: step for step in selectors.onboarding_checklist(synced)}

    assert all(steps[key]["done"] for key in ("discovered", "linked", "first_sync", "schools_matched"))
    people = steps["people_matched"]
    assert not people["done"] and people["blocking"] == "1 person(s) wait in the review queue."
    assert not steps["live"]["done"] and steps["live"]["blocking"] == ""  # blocked by the step before


def test_onboarding_checklist_shows_a_first_sync_done_before_the_district_was_linked(synced):
    """The finding: "First sync done" showed not done after a successful first sync, because an
    earlier step (the link) was not done."""
    synced.organization = None
    synced.save()

    steps = {step["key"]: step for step in selectors.onboarding_checklist(synced)}

    assert steps["first_sync"]["done"] and steps["first_sync"]["blocking"] == ""
    assert not steps["linked"]["done"] and steps["linked"]["blocking"].startswith("Link the district")
    # Nothing can be matched before the link: those steps are not done either.
    assert not steps["schools_matched"]["done"] and not steps["people_matched"]["done"]
    assert not steps["live"]["done"]


def test_a_rebuilt_person_gets_the_product_account_matching_chose_not_the_old_one(synced):
    person = students(synced)[0]
    user = product_copy(person)
    services.match_district(district=synced)
    # The person lost their account (e.g. the mirror was purged and rebuilt): the next sync asks
    # matching before it reaches for the old clever-* account.
    Person.objects.filter(pk=person.pk).update(user=None)

    sync(synced)

    person.refresh_from_db()
    assert person.user == user
    assert not User.objects.get(username=f"clever-{person.clever_id}").is_active
