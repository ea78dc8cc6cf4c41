"""The review queue at 1280 px in Debian's Chromium (issue #15, finding 4): the list and an item
fit the window, with no horizontal scrolling of the page and the list's table not clipped inside
its container (the status column used to be pushed off-screen)."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse

from accounts.factories import UserFactory
from matching import services
from matching.models import MatchStatus, PersonMatch

from .conftest import product_copy, students

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

WIDTH = 1280
MEASURE = """() => {
  const results = document.querySelector('#changelist .results');
  const grid = document.querySelector('.review-grid');
  return {
    page: [document.documentElement.scrollWidth, document.documentElement.clientWidth],
    results: results ? [results.scrollWidth, results.clientWidth] : null,
    grid: grid ? [grid.scrollWidth, grid.parentElement.clientWidth] : null,
    status: [...document.querySelectorAll('#result_list td.field-status_badge')]
      .map(cell => cell.getBoundingClientRect().right),
  };
}"""


@pytest.fixture
def queue(synced):
    """Three review items, one with long names and a long email (what makes columns wide)."""
    people = students(synced)[:3]
    for index, person in enumerate(people):
        long_email = f"{person.first_name}.{person.last_name}.a-very-long-address@students.example.org"
        product_copy(
            person,
            first_name=f"Quill{index}",
            sis_id="",
            student_number="",
            email="" if index else long_email.lower(),
        )
    services.match_district(district=synced)
    items = list(PersonMatch.objects.filter(district=synced, status=MatchStatus.PENDING).order_by("pk"))
    assert len(items) >= 2
    return items


@pytest.fixture
def page(signed_in_page):
    """A 1280x800 page of Chromium signed in as support staff (tests/conftest.py)."""
    user = UserFactory(username="helpdesk", first_name="Robin", last_name="Helper", is_staff=True)
    # The permissions themselves, not the "Support" group: a live-server test runs after other
    # transactional tests flushed the database, and the group comes from a data migration.
    user.user_permissions.add(
        Permission.objects.get(codename="support_district"),
        Permission.objects.get(codename="view_sensitive_fields"),
    )
    return signed_in_page(user)


def test_the_review_list_and_an_item_fit_1280_pixels(queue, page, live_server):
    page.goto(live_server.url + reverse("admin:matching_personmatch_changelist") + "?status__exact=pending")
    listed = page.evaluate(MEASURE)

    assert listed["page"][0] <= listed["page"][1] == WIDTH, listed
    assert listed["results"][0] <= listed["results"][1], f"the list is clipped: {listed}"
    assert listed["status"] and max(listed["status"]) <= WIDTH, listed

    for item in queue:
        page.goto(live_server.url + reverse("admin:matching_personmatch_change", args=[item.pk]))
        shown = page.evaluate(MEASURE)
        assert shown["page"][0] <= shown["page"][1] == WIDTH, (item.pk, shown)
        assert shown["grid"][0] <= shown["grid"][1], (item.pk, shown)
        page.locator("details.review-numbers summary").first.click()
        opened = page.evaluate(MEASURE)
        assert opened["page"][0] <= WIDTH and opened["grid"][0] <= opened["grid"][1], (item.pk, opened)
