"""In Debian's Chromium: an organization admin signs in, finds an unmatched Clever district on
the self-serve linking page (ranked, with evidence chips, searched by name), chooses it, presses
"Verify with Clever", signs in at the sandbox's Clever as the district's administrator, and comes
back to "District linked". Real HTTP between the browser, the live server and the sandbox
mounted in it; the app's own calls to the sandbox stay in-process.
"""

import pytest

from accounts.factories import OrganizationEmailDomainFactory, OrganizationFactory, UserFactory
from districts.models import District, DistrictAudit, LinkMethod
from matching.linking.refresh import refresh_district_candidates
from matching.models import DistrictVerification
from rostering.models import Person
from sandbox import services
from sandbox.ids import new_id

from .conftest import CALLBACK_PATH

PASSWORD = "correct horse battery staple"

pytestmark = pytest.mark.browser


@pytest.fixture
def world(clever_on_live_server):
    sandbox_district = services.create_district(name="Juniper Flats Unified")
    admin_record = services.put_record(
        district=sandbox_district,
        record_type="users",
        data={
            "id": new_id(),
            "name": {"first": "Dana", "last": "Steward"},
            "email": "dana.steward@juniper.k12.example.us",
            "roles": {"district_admin": {}},
        },
    )
    district = District.objects.create(
        clever_id=sandbox_district.id, name=sandbox_district.name, sync_enabled=False
    )
    for n in range(3):  # the district's staff, as its roster sync mirrored them
        Person.objects.create(
            district=district,
            clever_id=new_id(),
            content_hash="x",
            raw={},
            is_staff=True,
            email=f"staff{n}@juniper.k12.example.us",
        )
    for n in range(12):
        District.objects.create(clever_id=f"{n + 1:024x}", name=f"Other District {n}")
    organization = OrganizationFactory(name="Juniper Flats Schools", nces_leaid="", mdr_number="")
    OrganizationEmailDomainFactory(organization=organization, domain="juniper.k12.example.us")
    admin = UserFactory(
        username="juniper-admin", organization=organization, is_organization_admin=True, password=PASSWORD
    )
    refresh_district_candidates(queue=False)
    return district, organization, admin, admin_record


def test_an_org_admin_links_a_district_through_the_page_and_clever(world, page, live_server):
    district, organization, admin, admin_record = world

    page.goto(f"{live_server.url}/organization/districts/")
    page.fill('input[name="login"]', admin.username)
    page.fill('input[name="password"]', PASSWORD)
    with page.expect_navigation(url="**/organization/districts/"):
        page.get_by_role("button", name="Sign in").click()
    assert "Juniper Flats Schools" in page.locator("#organization h1").inner_text()
    assert page.locator("#unmatched-districts tbody tr").count() == 13

    page.fill('#district-search input[name="q"]', "juniper")
    with page.expect_navigation():
        page.get_by_role("button", name="Search").click()
    row = page.locator(f'tr[data-clever-id="{district.clever_id}"]')
    assert page.locator("#unmatched-districts tbody tr").count() == 1
    assert "Juniper Flats Unified" in row.locator(".district-name").inner_text()
    assert "100% of staff emails on your domains" in row.locator(".chips").inner_text()

    with page.expect_navigation():
        row.get_by_role("link", name="Choose").click()
    with page.expect_navigation(url="**/sandbox/oauth/authorize**"):
        page.get_by_role("button", name="Verify with Clever").click()
    clever_row = page.locator("tr", has_text="Dana Steward").first
    with page.expect_navigation(url=f"**{CALLBACK_PATH}**"):
        clever_row.get_by_role("button", name="Log in as").click()

    assert page.locator("#link-result").inner_text() == "District linked"
    district.refresh_from_db()
    assert district.organization == organization and district.link_method == LinkMethod.CLEVER_LOGIN
    audit = DistrictAudit.objects.get(district=district, action=DistrictAudit.Action.LINKED)
    assert audit.actor == admin and audit.details["evidence"]["verified_by_clever_user"] == admin_record["id"]
    assert DistrictVerification.objects.get().clever_user_id == admin_record["id"]

    with page.expect_navigation(url="**/organization/districts/"):
        page.get_by_role("link", name="Back to your districts").click()
    assert "Juniper Flats Unified" in page.locator("#linked-districts").inner_text()
    assert page.locator(f'tr[data-clever-id="{district.clever_id}"]').count() == 0
