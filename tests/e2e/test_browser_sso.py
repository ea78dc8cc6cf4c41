"""In Debian's Chromium: a teacher launches the app from the sandbox's Clever Portal and lands
on /account/, signed in, with their name shown.

The launch arrives without a state; the app bounces once to Clever's authorize URL for a code
with a fresh state, and finishes the login there (real HTTP between the browser and the live
server; the app's own calls to the sandbox stay in-process).
"""

from urllib.parse import urlsplit

import pytest

from accounts.factories import OrganizationFactory
from districts.models import District
from sandbox import services
from sandbox.ids import new_id

pytestmark = pytest.mark.browser


@pytest.fixture
def teacher(clever_on_live_server):
    sandbox_district = services.create_district(name="Cypress Creek Unified")
    school = services.put_record(
        district=sandbox_district,
        record_type="schools",
        data={"id": new_id(), "name": "Cypress Creek Elementary"},
    )
    record = services.put_record(
        district=sandbox_district,
        record_type="users",
        data={
            "id": new_id(),
            "name": {"first": "Grace", "last": "Hopper"},
            "email": "grace.hopper@cypress.k12.example.us",
            "roles": {"teacher": {"school": school["id"], "schools": [school["id"]]}},
        },
    )
    District.objects.create(
        clever_id=sandbox_district.id,
        name=sandbox_district.name,
        organization=OrganizationFactory(name="Cypress Creek Org"),
    )
    return record


def test_a_portal_launch_lands_on_the_account_page_signed_in(teacher, browser_page, live_server):
    # ``teacher`` first: fixtures tear down in reverse, so the browser closes (and the server
    # threads drop their database sessions) before the test database is flushed.
    page = browser_page
    page.goto(f"{live_server.url}/sandbox/portal/?q=Hopper")
    row = page.locator("tr", has_text="Grace Hopper").first
    with page.expect_navigation(url="**/account/"):
        row.get_by_role("link", name="Launch app").click()

    assert urlsplit(page.url).path == "/account/"
    assert page.locator("#account-name").inner_text() == "Grace Hopper"
    assert page.locator("#account-role").inner_text().strip().startswith("Teacher")
    assert "Cypress Creek Org" in page.locator("#account-organization").inner_text()
    assert "Cypress Creek Unified" in page.locator("#account-district").inner_text()

    # Every page's header says who is signed in, in which role; logging out ends it.
    page.goto(f"{live_server.url}/")
    assert page.locator("header .signed-in").inner_text() == "Signed in as Grace Hopper · Teacher"
    with page.expect_navigation(url=f"{live_server.url}/"):
        page.get_by_role("button", name="Log out").click()
    assert page.locator("#log-in-with-clever").is_visible()
