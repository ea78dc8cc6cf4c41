"""The review queue and the district's onboarding checklist in the admin, for support staff."""

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts.factories import UserFactory
from matching import services
from matching.models import MatchAudit, MatchStatus, PersonMatch
from rostering.models import Person

from .conftest import product_copy, students

pytestmark = pytest.mark.django_db


@pytest.fixture
def queued(synced):
    """Two review items: vague copies of two Clever students, matched."""
    people = students(synced)[:2]
    for person in people:
        product_copy(
            person, first_name=person.first_name[:3], sis_id="", student_number="", date_of_birth=None
        )
    services.match_district(district=synced)
    matches = list(PersonMatch.objects.filter(status=MatchStatus.PENDING).order_by("pk"))
    assert len(matches) >= 1
    return matches


def test_review_page_shows_the_records_side_by_side_with_a_bar_per_field(support, queued):
    match = queued[0]

    page = support.get(reverse("admin:matching_personmatch_change", args=[match.pk])).content.decode()

    assert match.person.clever_id in page and match.person.last_name in page
    assert match.user.first_name in page
    for contribution in match.candidates[0]["contributions"]:
        assert f'title="{contribution["field"]}: {contribution["level"]}' in page
    assert 'value="accept"' in page and 'value="no_match"' in page and 'value="duplicate"' in page


def test_accepting_from_the_review_page_links_and_moves_to_the_next_item(support, queued):
    match = queued[0]

    response = support.post(
        reverse("admin:matching_personmatch_decide", args=[match.pk]),
        {"decision": "accept", "clever_id": match.person.clever_id},
    )

    match.refresh_from_db()
    assert match.status == MatchStatus.ACCEPTED and match.decided_by == support.user
    assert match.person.user == match.user
    assert MatchAudit.objects.filter(action="linked", product_id=match.user_id, actor=support.user).exists()
    following = PersonMatch.objects.filter(status=MatchStatus.PENDING).order_by("pk").first()
    expected = (
        reverse("admin:matching_personmatch_change", args=[following.pk])
        if following
        else reverse("admin:matching_personmatch_changelist")
    )
    assert response.status_code == 302 and response["Location"] == expected


def test_an_impossible_choice_is_refused_in_plain_words(support, queued):
    match = queued[0]
    url = reverse("admin:matching_personmatch_decide", args=[match.pk])

    response = support.post(url, {"decision": "accept", "clever_id": "f" * 24}, follow=True)

    assert "That person is not on the district&#x27;s roster in Clever" in response.content.decode()
    match.refresh_from_db()
    assert match.status == MatchStatus.PENDING
    assert support.get(url).status_code == 405


def test_a_proposed_person_who_left_the_roster_is_marked_and_refused_by_name(support, queued):
    """The support journey found it: the proposed Clever person left the district (a mass
    removal) after the matcher proposed them; "Accept" answered with two Clever IDs."""
    match = queued[0]
    Person.objects.filter(pk=match.person_id).update(archived_at=timezone.now())
    page = support.get(reverse("admin:matching_personmatch_change", args=[match.pk])).content.decode()
    assert "Left the district's roster on" in page and "cannot be linked" in page

    response = support.post(
        reverse("admin:matching_personmatch_decide", args=[match.pk]), {"decision": "accept"}
    )

    text = response.content.decode()
    name = f"{match.person.first_name} {match.person.last_name}"
    assert response.status_code == 200
    assert f"{name} left the district&#x27;s roster in Clever on" in text
    assert match.person.clever_id not in text.split('id="review-errors"')[1].split("</div>")[0]
    match.refresh_from_db()
    assert match.status == MatchStatus.PENDING


def test_bulk_accept_asks_for_a_threshold_then_accepts(support, queued):
    url = reverse("admin:matching_personmatch_changelist")
    selected = [m.pk for m in queued]

    form = support.post(url, {"action": "bulk_accept", "_selected_action": selected})
    assert "Accept items whose proposed candidate is at least this likely" in form.content.decode()

    support.post(url, {"action": "bulk_accept", "_selected_action": selected, "min_probability": "0.5"})

    assert not PersonMatch.objects.filter(pk__in=selected, status=MatchStatus.PENDING).exists()


def test_people_outside_support_cannot_see_or_decide(queued):
    browser = Client()
    browser.force_login(UserFactory(username="sales", is_staff=True))
    match = queued[0]

    assert browser.get(reverse("admin:matching_personmatch_change", args=[match.pk])).status_code == 403
    response = browser.post(
        reverse("admin:matching_personmatch_decide", args=[match.pk]), {"decision": "accept"}
    )
    assert response.status_code == 403
    match.refresh_from_db()
    assert match.status == MatchStatus.PENDING


def test_district_page_shows_the_onboarding_checklist_and_runs_matching(support, synced):
    product_copy(students(synced)[0])
    page = support.get(reverse("admin:districts_district_change", args=[synced.pk])).content.decode()
    assert "Onboarding" in page and "People matched (review queue empty)" in page and "Run matching" in page

    support.post(reverse("admin:districts_district_button", args=[synced.pk, "match"]))

    assert PersonMatch.objects.filter(district=synced, status=MatchStatus.AUTO_LINKED).count() == 1
