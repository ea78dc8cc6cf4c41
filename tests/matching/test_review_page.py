"""The review queue's pages for support staff (issue #15): "duplicate of" is a choice of the
organization's accounts validated by a form (bad input is an error on the page, never a 500),
each candidate is explained in plain words with the numbers on demand (the date of birth only for
those allowed to see it), and items are named by people's names, never a username or an ID."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.contrib.auth.models import Group, Permission
from django.test import Client
from django.urls import reverse
from django.utils import formats
from django.utils.html import escape

from accounts.factories import OrganizationFactory, UserFactory
from core.admin import SUPPORT_GROUP
from matching import services
from matching.models import MatchAudit, MatchStatus, PersonMatch
from rostering.models import Person

from .conftest import date_of_birth, product_copy, students

pytestmark = pytest.mark.django_db

SENSITIVE = "view_sensitive_fields"
DETAILS = re.compile(r"<details\b.*?</details>", re.S)


def support_client(*, sensitive: bool = False, **client_options) -> Client:
    user = UserFactory(
        username="counselor" if sensitive else "helpdesk",
        first_name="Robin",
        last_name="Helper",
        email="robin@support.example.org",
        is_staff=True,
    )
    user.groups.add(Group.objects.get(name=SUPPORT_GROUP))
    if sensitive:
        user.user_permissions.add(Permission.objects.get(codename=SENSITIVE))
    browser = Client(**client_options)
    browser.force_login(user)
    browser.user = user
    return browser


@pytest.fixture
def support(db):
    return support_client()


@pytest.fixture
def counselor(db):
    return support_client(sensitive=True)


def queued_item(district, person: Person, **overrides) -> PersonMatch:
    user = product_copy(person, sis_id="", student_number="", **overrides)
    services.match_district(district=district)
    match = PersonMatch.objects.select_related("user", "person").get(district=district, user=user)
    assert match.status == MatchStatus.PENDING, match.candidates
    assert match.candidates and match.candidates[0]["clever_id"] == person.clever_id
    return match


def level(match: PersonMatch, field: str) -> str:
    return next(c["level"] for c in match.candidates[0]["contributions"] if c["field"] == field)


@pytest.fixture
def item(synced) -> PersonMatch:
    """A student's own product record with another first name (no IDs; the same date of birth,
    last name and grade): the matcher is not sure, the Clever student is the candidate."""
    person = next(p for p in students(synced) if not p.first_name.lower().startswith("q"))
    match = queued_item(synced, person, first_name="Quill")
    assert level(match, "first_name") == "else" and level(match, "dob") == "exact"
    return match


@pytest.fixture
def others(item):
    """Accounts "duplicate of" might name: one of the organization with the same last name
    (plausible), one with another (found by a search), one of another organization, and the
    account the sync made for a Clever person (not a product account)."""
    organization = item.user.organization
    made_by_sync = Person.objects.filter(district=item.district, user__username__startswith="clever-").first()
    return {
        "twin": UserFactory(
            username="twin-account",
            first_name="Quilla",
            last_name=item.user.last_name,
            email="",
            role="student",
            grade="3",
            organization=organization,
            password=None,
        ),
        "far": UserFactory(
            username="far-account",
            first_name="Marta",
            last_name="Faraway",
            email="",
            role="student",
            organization=organization,
            password=None,
        ),
        "foreign": UserFactory(
            username="foreign-account",
            first_name="Quilla",
            last_name=item.user.last_name,
            email="",
            role="student",
            organization=OrganizationFactory(),
            password=None,
        ),
        "made_by_sync": made_by_sync.user,
    }


def name(user) -> str:
    return f"{user.first_name} {user.last_name}"


def page_of(browser: Client, match: PersonMatch, query: str = "") -> str:
    response = browser.get(reverse("admin:matching_personmatch_change", args=[match.pk]) + query)
    assert response.status_code == 200
    return response.content.decode()


def decide(browser: Client, match: PersonMatch, **data):
    return browser.post(reverse("admin:matching_personmatch_decide", args=[match.pk]), data)


def options_of(page: str, select: str) -> str:
    found = re.search(rf'<select name="{select}".*?</select>', page, re.S)
    assert found, f"no <select name={select}>"
    return found.group(0)


# --- 1. "Duplicate of": a choice, validated ------------------------------------------------------


def test_duplicate_of_is_a_choice_of_the_organizations_accounts_by_name(support, item, others):
    page = page_of(support, item)

    assert not re.search(r'<input[^>]*name="duplicate_of"', page), "free text for an ID"
    offered = options_of(page, "duplicate_of")
    assert escape(name(others["twin"])) in offered
    assert f'value="{others["twin"].pk}"' in offered
    for absent in ("far", "foreign", "made_by_sync"):
        assert f'value="{others[absent].pk}"' not in offered, absent

    found = options_of(page_of(support, item, "?find=Faraway"), "duplicate_of")
    assert escape(name(others["far"])) in found and f'value="{others["twin"].pk}"' not in found


@pytest.mark.parametrize("chosen", ["abc", "999999", "", "foreign", "made_by_sync", "itself", "1 OR 1=1"])
def test_free_text_or_an_account_not_offered_is_a_form_error_on_the_same_page(support, item, others, chosen):
    value = {
        "foreign": others["foreign"].pk,
        "made_by_sync": others["made_by_sync"].pk,
        "itself": item.user_id,
    }.get(chosen, chosen)

    response = decide(support, item, decision="duplicate", duplicate_of=value)

    assert response.status_code == 200
    page = response.content.decode()
    assert "Choose the account this one repeats." in page or "Choose one of the organization" in page
    assert "marked as a duplicate" not in page
    item.refresh_from_db()
    assert item.status == MatchStatus.PENDING and item.duplicate_of is None
    assert not MatchAudit.objects.filter(action=MatchAudit.Action.DUPLICATE).exists()


def test_a_chosen_account_is_stored_and_said_by_name(support, item, others):
    response = decide(support, item, decision="duplicate", duplicate_of=others["twin"].pk)

    item.refresh_from_db()
    assert item.status == MatchStatus.DUPLICATE and item.duplicate_of == others["twin"]
    audit = MatchAudit.objects.get(action=MatchAudit.Action.DUPLICATE, product_id=item.user_id)
    assert audit.details == {"duplicate_of": others["twin"].pk} and audit.actor == support.user
    assert response.status_code == 302
    said = support.get(response["Location"]).content.decode()
    assert escape(f"{name(item.user)}: marked as a duplicate of {name(others['twin'])}") in said


def test_an_account_found_by_a_search_may_be_chosen(support, item, others):
    decide(support, item, decision="duplicate", duplicate_of=others["far"].pk)

    item.refresh_from_db()
    assert item.status == MatchStatus.DUPLICATE and item.duplicate_of == others["far"]


def test_an_unknown_decision_is_an_error_on_the_page(support, item):
    response = decide(support, item, decision="merge")

    assert response.status_code == 200
    assert "Choose a decision" in response.content.decode()
    item.refresh_from_db()
    assert item.status == MatchStatus.PENDING


def test_every_decision_is_a_form_posted_with_a_csrf_token(item):
    browser = support_client(enforce_csrf_checks=True)
    page = page_of(browser, item)

    posts = re.findall(r'<form method="post".*?</form>', page, re.S)
    assert {re.search(r'name="decision" value="(\w+)"', form).group(1) for form in posts} == {
        "accept",
        "no_match",
        "duplicate",
    }
    assert all("csrfmiddlewaretoken" in form for form in posts)
    assert decide(browser, item, decision="no_match").status_code == 403
    item.refresh_from_db()
    assert item.status == MatchStatus.PENDING


# --- 2. Plain words, numbers on demand ---------------------------------------------------------------


def test_each_candidate_is_explained_in_plain_words_with_the_numbers_on_demand(counselor, item):
    page = page_of(counselor, item)
    candidate = item.candidates[0]
    shown = DETAILS.sub("", page)

    assert escape(f"First name differs: Quill / {item.person.first_name}.") in shown
    assert re.search(r"<li>Same [^<]*date of birth[^<]*\.</li>", shown)
    for numbers in ("bits", f"{candidate['probability']:.4f}", f"{candidate['probability']:.3f}", "p = "):
        assert numbers not in shown, numbers
    assert not re.search(r"first_name|last_name|\belse\b", shown)
    on_demand = "".join(DETAILS.findall(page))
    assert f"{candidate['probability']:.4f}" in on_demand and "bits" in on_demand
    for contribution in candidate["contributions"]:
        assert f'title="{contribution["field"]}: {contribution["level"]}' in on_demand


@pytest.fixture
def born_apart(synced) -> tuple[PersonMatch, object, object]:
    """The product record of a student with a date of birth 40 days off (names the same)."""
    person = students(synced)[1]
    theirs = date_of_birth(person)
    ours = theirs + timedelta(days=40)
    match = queued_item(synced, person, date_of_birth=ours)
    assert level(match, "dob") not in ("exact", "null")
    return match, ours, theirs


def test_the_date_of_birth_is_explained_with_its_values_only_to_those_allowed(support, counselor, born_apart):
    match, ours, theirs = born_apart
    values = escape(f"{formats.date_format(ours)} / {formats.date_format(theirs)}")

    allowed = page_of(counselor, match)
    assert re.search(rf"<li>[^<]*(date of birth|Dates of birth)[^<]*{re.escape(values)}\.</li>", allowed)

    page = page_of(support, match)
    assert re.search(r"<li>[^<]*(date of birth|Dates of birth)[^<]*\.</li>", page)
    for born in (ours, theirs):
        for written in (formats.date_format(born), born.isoformat(), born.strftime("%m/%d/%Y")):
            assert escape(written) not in page, written


# --- 3. Names, never usernames or IDs ---------------------------------------------------------------


def test_the_list_names_people_never_usernames_or_ids(support, item):
    url = reverse("admin:matching_personmatch_changelist") + "?status__exact=pending"
    page = support.get(url).content.decode()

    assert escape(name(item.user)) in page and escape(str(item.person)) in page
    assert item.user.username not in page
    assert item.person.clever_id not in page and item.district.clever_id not in page
    assert "<title>Review queue" in page and "person matchs" not in page.split('id="content"')[1].lower()


def test_an_item_is_titled_by_both_names_never_a_username_or_id(support, item):
    page = page_of(support, item)

    title = re.search(r"<title>(.*?)</title>", page, re.S).group(1)
    heading = re.search(r"<h1>(.*?)</h1>", page, re.S).group(1)
    crumbs = re.search(r'<div class="breadcrumbs">(.*?)</div>', page, re.S).group(1)
    for where in (title, heading, crumbs):
        assert escape(name(item.user)) in where and escape(str(item.person)) in where, where
    visible = DETAILS.sub("", page)
    assert item.user.username not in page
    assert f"#{item.user_id}" not in visible
    assert not re.search(rf">[^<]*{item.person.clever_id}[^<]*<", visible, re.I), "a Clever ID shown"


def test_after_a_decision_the_message_names_the_person(support, item):
    response = decide(support, item, decision="no_match")

    page = support.get(response["Location"]).content.decode()
    assert escape(f"{name(item.user)}: marked as no match.") in page
    assert item.user.username not in page


def test_the_list_filters_by_district_named_by_its_name(support, item):
    url = reverse("admin:matching_personmatch_changelist")
    other = type(item.district).objects.create(clever_id="f" * 24, name="Elsewhere Unified")

    page = support.get(url, {"status__exact": "pending", "district__id__exact": item.district.pk})
    page = page.content.decode()
    assert escape(name(item.user)) in page and escape(item.district.name) in page
    assert "Elsewhere Unified" not in page, "only districts with items are offered"
    empty = support.get(url, {"status__exact": "pending", "district__id__exact": other.pk}).content.decode()
    assert escape(name(item.user)) not in empty
