"""In Debian's Chromium, at 1280 px: linking a Clever district to an organization, from both sides.

(a) An organization admin signs in, finds "Madison Independent School District" by searching
"Madison ISD" and then "madisn", gets a verification link (shown whole, copied with the Copy
button), asks support as well and reads the true status after each step, then verifies with
Clever as the district's administrator and reads the district's sync: the last sync in words and
the roster counts. They sign out from the header.

(b) A Clever district administrator of an unlinked district signs in from Clever, lands on a way
to link it, sees only the organization with real evidence for their district, and asks it; the
organization's admin finds the request on their landing page, reads what is known about the
district, confirms with a reason, and the district is linked; the district admin's page then says
so. Both see where the request stands along the way.

Real HTTP between the browser, the live server and the sandbox mounted in it (signing in through
the local Clever, ``clever_on_live_server``); the app's own calls to the sandbox stay in-process;
tasks run eagerly. Full-page screenshots go to ``artifacts/screenshots/linking/`` (git-ignored);
after each step the page must not be wider than the 1280 px window.
"""

from __future__ import annotations

import re

import pytest
from django.core.cache import cache

from accounts.factories import OrganizationEmailDomainFactory, OrganizationFactory, UserFactory
from districts.models import District, DistrictAudit
from districts.services import discover_districts
from matching.linking.refresh import refresh_district_candidates
from matching.linking.selectors import Waiting, waiting_for
from matching.models import DistrictLinkRequest
from rostering import tasks
from rostering.models import SyncRun
from sandbox import services as sandbox
from sandbox.generator.districts import generate_district, load_district
from sandbox.ids import new_id
from tests.e2e.conftest import WIDTH, Screenshots

from .conftest import CALLBACK_PATH

PASSWORD = "correct horse battery staple"

pytestmark = pytest.mark.browser


def district_admin_record(sandbox_district, *, first: str, last: str, email: str) -> dict:
    return sandbox.put_record(
        district=sandbox_district,
        record_type="users",
        data={
            "id": new_id(),
            "name": {"first": first, "last": last},
            "email": email,
            "roles": {"district_admin": {}},
        },
    )


def sign_in_with_password(page, base: str, user, *, next_path: str) -> None:
    page.goto(f"{base}/accounts/login/?next={next_path}")
    page.fill('input[name="login"]', user.username)
    page.fill('input[name="password"]', PASSWORD)
    with page.expect_navigation(url=f"{base}{next_path}"):
        page.get_by_role("button", name="Sign in").click()


def log_in_at_clever(page, name: str, *, lands_on: str = f"**{CALLBACK_PATH}**") -> None:
    """On the sandbox's Clever login page: find the person by name and log in as them."""
    page.fill('input[name="q"]', name)
    with page.expect_navigation():
        page.get_by_role("button", name="Search").click()
    with page.expect_navigation(url=lands_on):
        page.locator("tr", has_text=name).first.get_by_role("button", name="Log in as").click()


def text(page, selector: str) -> str:
    return page.locator(selector).inner_text()


# --- (a) the organization admin ---------------------------------------------------------------------


@pytest.fixture
def madison(clever_on_live_server, settings):
    """A generated district of 120 students named "Madison Independent School District", discovered
    and synced (not linked), its Clever administrator, look-alike districts, and an organization
    with its admin."""
    sandbox.get_application()
    sandbox.set_redirect_uris(uris=[settings.CLEVER_REDIRECT_URI])
    generated = generate_district(
        seed=31, students=120, name="Madison Independent School District", state="TX"
    )
    sandbox_district = load_district(generated)
    admin_record = district_admin_record(
        sandbox_district, first="Dana", last="Steward", email="dana.steward@madisonisd.example.org"
    )
    discover_districts()
    district = District.objects.get(clever_id=sandbox_district.id)
    result = tasks.sync_district.delay(district_id=district.pk, kind="full", trigger="manual").get()
    assert SyncRun.objects.get(pk=result["run"]).status == SyncRun.Status.SUCCEEDED
    for n, name in enumerate(
        [
            "Madison County Schools",
            "New Madison School District",
            "Madisonville Consolidated ISD",
            "Medina Valley ISD",
            "Marshall Public Schools",
        ],
        start=1,
    ):
        District.objects.create(clever_id=f"{n:024x}", name=name, us_state="TX")
    organization = OrganizationFactory(
        name="Madison Learning Partners", state="TX", nces_leaid="", mdr_number=""
    )
    admin = UserFactory(
        username="pat.admin",
        first_name="Pat",
        last_name="Rivera",
        email="pat@madisonlearning.example.org",
        organization=organization,
        is_organization_admin=True,
        password=PASSWORD,
    )
    refresh_district_candidates(queue=False)
    cache.clear()
    return district, organization, admin, admin_record


def test_an_organization_admin_finds_asks_verifies_and_sees_the_sync(madison, page, live_server):
    district, _organization, admin, _admin_record = madison
    base = live_server.url
    shot = Screenshots("linking", prefix="a")
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=base)

    sign_in_with_password(page, base, admin, next_path="/organization/districts/")
    assert text(page, "#organization h1") == "Madison Learning Partners"
    assert page.locator("#nav-home").is_visible() and page.get_by_role("button", name="Log out").is_visible()
    shot(page, "districts")

    # An abbreviation finds the full name, first.
    page.fill('#district-search input[name="q"]', "Madison ISD")
    with page.expect_navigation():
        page.get_by_role("button", name="Search").click()
    names = page.locator("#unmatched-districts .district-name").all_inner_texts()
    assert names[0].startswith("Madison Independent School District")
    assert not any(name.startswith("Medina") or name.startswith("Marshall") for name in names)
    shot(page, "search-abbreviation")

    # A typo too.
    page.fill('#district-search input[name="q"]', "madisn")
    with page.expect_navigation():
        page.get_by_role("button", name="Search").click()
    names = page.locator("#unmatched-districts .district-name").all_inner_texts()
    assert any(name.startswith("Madison Independent School District") for name in names)
    shot(page, "search-typo")

    row = page.locator(f'tr[data-clever-id="{district.clever_id}"]')
    with page.expect_navigation():
        row.get_by_role("link", name="Choose").click()
    assert text(page, "h1") == "Madison Independent School District"
    shot(page, "district")

    # A verification link, whole, and the Copy button copies it.
    with page.expect_navigation():
        page.get_by_role("button", name="Get a verification link").click()
    box = page.locator("#verification-url")
    url = box.input_value()
    assert url.startswith(f"{base}/organization/districts/verify/")
    assert box.evaluate("box => box.scrollHeight <= box.clientHeight + 1"), "the link is cut off"
    page.get_by_role("button", name="Copy the link").click()
    page.locator("#copy-result", has_text="Copied.").wait_for()
    assert page.evaluate("navigator.clipboard.readText()") == url
    shot(page, "verification-link")

    with page.expect_navigation():
        page.get_by_role("link", name="Back to your districts").click()
    waiting = text(page, "#pending-requests")
    assert "Madison Independent School District" in waiting
    assert "Waiting for the district's Clever administrator to open the verification link you sent" in waiting
    shot(page, "waiting-for-the-district")

    # Asking support as well: support's queue has it, and the page says so (the link still works).
    with page.expect_navigation():
        page.goto(f"{base}/organization/districts/{district.clever_id}/")
    assert "Waiting for the district's Clever administrator" in text(page, "#pair-status")
    with page.expect_navigation(url=f"{base}/organization/districts/"):
        page.get_by_role("button", name="Ask support to link it").click()
    assert "your request is in our support team's queue" in text(page, "#linking-message")
    waiting = text(page, "#pending-requests")
    assert "Waiting for our support team to check it" in waiting
    assert "The verification link you sent also works until" in waiting
    link_request = DistrictLinkRequest.objects.get(district=district)
    assert waiting_for(link_request) == Waiting.SUPPORT
    shot(page, "waiting-for-support")

    # Verify with Clever as the district's administrator.
    with page.expect_navigation():
        page.goto(f"{base}/organization/districts/{district.clever_id}/")
    with page.expect_navigation(url="**/sandbox/oauth/authorize**"):
        page.get_by_role("button", name="Verify with Clever").click()
    shot(page, "clever-login")
    log_in_at_clever(page, "Dana Steward")
    assert text(page, "#link-result") == "District linked"
    sync = text(page, ".sync")
    assert re.search(r"Full sync of Madison Independent School District, .*: succeeded", sync), sync
    assert "120 students" in sync
    shot(page, "linked")

    with page.expect_navigation(url="**/organization/districts/"):
        page.get_by_role("link", name="Back to your districts").click()
    linked = text(page, "#linked-districts")
    assert "Madison Independent School District" in linked and "succeeded" in linked
    assert "120 students" in linked
    assert page.locator("#pending-requests").count() == 0
    link_request.refresh_from_db()
    assert link_request.status == DistrictLinkRequest.Status.APPROVED
    shot(page, "districts-after")

    with page.expect_navigation():
        page.get_by_role("button", name="Log out").click()
    assert page.locator("#nav-home").count() == 0
    shot(page, "signed-out")


# --- (b) the Clever district admin, then the organization admin -------------------------------------


@pytest.fixture
def cedar(clever_on_live_server):
    """An unlinked district whose staff emails are on an organization's domain (real evidence),
    an organization only its name resembles, and both organizations' admins."""
    sandbox_district = sandbox.create_district(name="Cedar Ridge Independent School District")
    school = sandbox.put_record(
        district=sandbox_district,
        record_type="schools",
        data={"id": new_id(), "name": "Cedar Ridge High School", "location": {"city": "Bend", "state": "OR"}},
    )
    admin_record = district_admin_record(
        sandbox_district, first="Robin", last="Okafor", email="robin.okafor@cedarridge.k12.example.us"
    )
    for first, last in [("Ana", "Lopez"), ("Ben", "Cho"), ("Cy", "Diaz")]:
        sandbox.put_record(
            district=sandbox_district,
            record_type="users",
            data={
                "id": new_id(),
                "name": {"first": first, "last": last},
                "email": f"{first.lower()}.{last.lower()}@cedarridge.k12.example.us",
                "roles": {"teacher": {"school": school["id"], "schools": [school["id"]]}},
            },
        )
    discover_districts()
    district = District.objects.get(clever_id=sandbox_district.id)
    result = tasks.sync_district.delay(district_id=district.pk, kind="full", trigger="manual").get()
    assert SyncRun.objects.get(pk=result["run"]).status == SyncRun.Status.SUCCEEDED
    organization = OrganizationFactory(name="Cedar Ridge Schools", state="OR", nces_leaid="", mdr_number="")
    OrganizationEmailDomainFactory(organization=organization, domain="cedarridge.k12.example.us")
    org_admin = UserFactory(
        username="lee.admin",
        first_name="Lee",
        last_name="Park",
        email="lee@cedarridge.k12.example.us",
        organization=organization,
        is_organization_admin=True,
        password=PASSWORD,
    )
    lookalike = OrganizationFactory(name="Cedar Ridge Academy", state="OR", nces_leaid="", mdr_number="")
    refresh_district_candidates(queue=False)
    cache.clear()
    return district, organization, org_admin, lookalike, admin_record


def test_a_district_admin_asks_and_the_organization_admin_confirms(cedar, page, live_server):
    district, organization, org_admin, lookalike, _admin_record = cedar
    base = live_server.url
    shot = Screenshots("linking", prefix="b")

    # The district admin signs in with Clever and lands on a way to link their district.
    page.goto(f"{base}/accounts/clever/login/")
    log_in_at_clever(page, "Robin Okafor", lands_on=f"{base}/account/")
    assert "is not linked to an organization yet" in text(page, "#landing-district-link")
    shot(page, "district-admin-landing")
    with page.expect_navigation(url=f"{base}/district/link/"):
        page.get_by_role("link", name="Link your district").click()
    offers = text(page, "#offers")
    assert "Cedar Ridge Schools" in offers and "of your staff emails on its domains" in offers
    assert lookalike.name not in offers  # a name alone is no evidence
    shot(page, "offers")
    with page.expect_navigation(url=f"{base}/district/link/"):
        page.get_by_role("button", name="Ask Cedar Ridge Schools to link it").click()
    status = text(page, "#district-link-status")
    assert "Waiting: you asked on" in status
    assert "An administrator of Cedar Ridge Schools must confirm it" in status
    district.refresh_from_db()
    assert district.organization is None
    shot(page, "asked")

    # The organization admin, in another browser, finds it on their landing page and answers.
    other = page.context.browser.new_context(viewport={"width": WIDTH, "height": 800})
    try:
        admin_page = other.new_page()
        admin_page.set_default_timeout(20_000)
        sign_in_with_password(admin_page, base, org_admin, next_path="/account/")
        to_answer = text(admin_page, "#landing-requests-to-answer")
        assert "1 request from Clever district administrators waits for your answer" in to_answer
        shot(admin_page, "org-admin-landing")
        with admin_page.expect_navigation():
            admin_page.get_by_role("link", name="Cedar Ridge Independent School District").click()
        summary = text(admin_page, "#request-summary")
        assert "Robin Okafor" in summary and "robin.okafor@cedarridge.k12.example.us" in summary
        facts = text(admin_page, "#district-facts")
        assert "Bend, OR" in facts and "cedarridge.k12.example.us (4)" in facts and "3 teachers" in facts
        shot(admin_page, "answer")
        admin_page.get_by_label("Confirm: link it to Cedar Ridge Schools").check()
        admin_page.fill('textarea[name="reason"]', "Robin is our district's Clever administrator")
        with admin_page.expect_navigation(url=f"{base}/organization/districts/"):
            admin_page.get_by_role("button", name="Send my answer").click()
        assert "is linked to Cedar Ridge Schools" in text(admin_page, "#linking-message")
        linked = text(admin_page, "#linked-districts")
        assert "Cedar Ridge Independent School District" in linked and "succeeded" in linked
        shot(admin_page, "org-admin-linked")
    finally:
        other.close()

    district.refresh_from_db()
    assert district.organization == organization
    audit = DistrictAudit.objects.get(district=district, action=DistrictAudit.Action.LINKED)
    assert audit.actor == org_admin and audit.details["evidence"]["reason"].startswith("Robin is")

    # The district admin sees it too.
    page.reload()
    status = text(page, "#district-link-status")
    assert "Your district is linked to Cedar Ridge Schools" in status
    assert "3 teachers" in text(page, ".sync")
    shot(page, "district-admin-linked")
    with page.expect_navigation(url=f"{base}/account/"):
        page.locator("#nav-home").click()
    assert "is linked to Cedar Ridge Schools" in text(page, "#landing-district-link")
    shot(page, "district-admin-landing-after")
