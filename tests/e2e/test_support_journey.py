"""In Debian's Chromium, at 1280 px: a support person's day in the admin, end to end.

Signed in through the real login page, they read the dashboard (the review queue's count, the
districts), open a district, press "Sync now" and read the run in the sync history; decide a
review item explained in plain words; remove 15% of the district's students with the sandbox's
bulk knob, sync again and find the held sync from the dashboard; approve it on its confirmation
page and see the run applied; then revoke the district's token in the sandbox, sync, and read the
failed run's cause and next step, the raw error only under a disclosure.

Set-up goes through the real paths, kept small: a generated sandbox district of 200 students,
discovered, linked to an organization and synced; a product account the matcher is unsure about,
matched. Tasks run eagerly, so "Sync now" runs inline in the live server's request.

A full-page screenshot of every step goes to ``artifacts/screenshots/`` (git-ignored); after each
navigation the page must not be wider than the 1280 px window.
"""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group, Permission
from django.core.cache import cache

from accounts.factories import OrganizationFactory, UserFactory
from districts.models import District
from districts.services import discover_districts, link_district
from matching.models import MatchStatus, PersonMatch
from matching.services import match_district
from rostering import tasks
from rostering.models import ChangeHold, Person, SyncRun
from sandbox import services as sandbox_services
from sandbox.generator.districts import generate_district, load_district
from tests.e2e.conftest import Screenshots
from tests.matching.conftest import product_copy, students

PASSWORD = "correct horse battery staple"
STUDENTS = 200
REMOVED = 30  # 15% of the students: over the guard's 10%, so the next sync is held

pytestmark = pytest.mark.browser


@pytest.fixture
def world(transactional_db, live_server, settings):
    settings.STAFF_MFA_REQUIRED = False
    sandbox_services.get_application()
    sandbox_district = load_district(generate_district(seed=21, students=STUDENTS))
    discover_districts()
    district = District.objects.get(clever_id=sandbox_district.id)
    organization = OrganizationFactory(name="Maple Valley Schools")
    district = link_district(
        district=district,
        organization=organization,
        method="staff",
        evidence={"journey": True},
        actor_label="journey set-up",
    )
    result = tasks.sync_district.delay(district_id=district.pk, kind="full", trigger="manual").get()
    assert SyncRun.objects.get(pk=result["run"]).status == SyncRun.Status.SUCCEEDED
    # A product account the matcher is unsure about: a short first name, no IDs, no birth date.
    person = students(district)[0]
    product_copy(person, first_name=person.first_name[:3], sis_id="", student_number="", date_of_birth=None)
    match_district(district=district)
    assert PersonMatch.objects.filter(status=MatchStatus.PENDING).count() == 1

    # The "Support" group (its data migration's rows are gone after an earlier flush).
    group, _ = Group.objects.get_or_create(name="Support")
    group.permissions.add(
        Permission.objects.get(codename="support_district", content_type__app_label="districts")
    )
    support = UserFactory(
        username="sam.support",
        first_name="Sam",
        last_name="Support",
        email="sam@support.example.org",
        is_staff=True,
        password=PASSWORD,
    )
    support.groups.add(group)
    cache.clear()
    return sandbox_district, district, support


def text(page, selector: str) -> str:
    return page.locator(selector).inner_text()


def test_a_support_person_works_through_the_day(world, page, live_server):
    sandbox_district, district, support = world
    base = live_server.url
    shot = Screenshots("support_journey")

    # Sign in through the real login page.
    page.goto(f"{base}/accounts/login/?next=/admin/")
    shot(page, "sign-in")
    page.fill('input[name="login"]', support.username)
    page.fill('input[name="password"]', PASSWORD)
    with page.expect_navigation(url=f"{base}/admin/"):
        page.get_by_role("button", name="Sign in").click()

    # The dashboard: one person waits in the review queue; the district is in the table.
    review_card = text(page, "#attention-review")
    assert review_card.startswith("1") and "people wait in the review queue" in review_card
    assert "#attention-holds" not in page.content()
    fleet = page.locator("#fleet")
    assert district.name in fleet.inner_text() and "Maple Valley Schools" in fleet.inner_text()
    shot(page, "dashboard")

    # The district's page, then "Sync now": the run is in the sync history.
    with page.expect_navigation():
        fleet.get_by_role("link", name=district.name).click()
    assert district.name in text(page, "#content > h2")
    assert page.locator("#sync-history tbody tr").count() == 1
    shot(page, "district")
    with page.expect_navigation():
        page.get_by_role("button", name="Sync now").click()
    assert "sync requested" in text(page, "ul.messagelist")
    history = page.locator("#sync-history tbody tr")
    assert history.count() == 2
    newest = history.first.inner_text()
    assert "succeeded" in newest and "manual" in newest and "incremental" in newest
    shot(page, "synced")

    # The run's own page: what it did, and how long it took.
    with page.expect_navigation():
        history.first.get_by_role("link").first.click()
    run_page = text(page, "#content")
    assert "Incremental sync of" in run_page and district.name in run_page
    assert "succeeded" in run_page
    shot(page, "run")

    # The review queue, from the dashboard; the item explained in plain words, then decided
    # (before the mass removal below, which picks students at random: a proposed person who left
    # cannot be linked, tests/matching/test_admin.py).
    page.goto(f"{base}/admin/")
    with page.expect_navigation():
        page.locator("#attention-review").click()
    assert page.locator("#result_list tbody tr").count() == 1
    shot(page, "review-queue")
    with page.expect_navigation():
        page.locator("#result_list tbody tr").first.locator("th a").click()
    why = text(page, ".review-why")
    assert "Same" in why or "differs" in why, why
    assert "bits" not in why and "P =" not in why
    assert not page.locator(".review-numbers p").is_visible()  # the numbers only on demand
    shot(page, "review-item")
    with page.expect_navigation():
        page.get_by_role("button", name="Accept").click()
    assert "linked to" in text(page, "ul.messagelist")
    shot(page, "review-decided")
    assert PersonMatch.objects.get().status == MatchStatus.ACCEPTED

    # The sandbox's bulk knob: 30 of 200 students leave the district.
    page.goto(f"{base}/sandbox/control/districts/{sandbox_district.id}/")
    shot(page, "sandbox-control")
    bulk = page.locator("form.bulk-form").filter(has=page.get_by_role("button", name="Remove students"))
    bulk.get_by_label("How many students").fill(str(REMOVED))
    with page.expect_navigation():
        bulk.get_by_role("button", name="Remove students").click()
    done = text(page, "#bulk .done")
    assert f"Removed {REMOVED} students" in done and "the next sync will ask support to approve" in done
    shot(page, "students-removed")

    # Sync again: held.
    page.goto(f"{base}/admin/districts/district/{district.pk}/change/")
    with page.expect_navigation():
        page.get_by_role("button", name="Sync now").click()
    newest = page.locator("#sync-history tbody tr").first
    assert "held" in newest.inner_text()
    assert newest.get_by_role("link", name="hold").is_visible()
    shot(page, "held")

    # The dashboard says a held sync waits; it leads to the hold.
    page.goto(f"{base}/admin/")
    holds_card = page.locator("#attention-holds")
    held_text = holds_card.inner_text()
    assert held_text.startswith("1") and "held syncs wait for approval" in held_text
    shot(page, "dashboard-held")
    with page.expect_navigation():
        holds_card.click()
    assert page.locator("#result_list tbody tr").count() == 1
    assert "pending" in text(page, "#result_list")
    shot(page, "holds")
    with page.expect_navigation():
        page.locator("#result_list tbody tr").first.locator("th a").click()
    hold_page = text(page, "#content")
    assert "students" in hold_page and "pending" in hold_page
    shot(page, "hold")

    # Approve: a confirmation page first, with the reason support records.
    with page.expect_navigation():
        page.get_by_role("link", name="Approve and apply…").click()
    confirm = text(page, "#content")
    assert "Approving applies these changes to the live roster now" in confirm
    page.fill("#content form textarea[name=reason]", "The district confirmed 30 students left (ticket 88)")
    shot(page, "approve-confirm")
    with page.expect_navigation():
        page.get_by_role("button", name="Yes, approve this hold").click()
    assert "1 hold(s) approved and applied." in text(page, "ul.messagelist")
    hold_page = text(page, "#content")
    assert "approved" in hold_page and "Sam Support" in hold_page and "ticket 88" in hold_page
    shot(page, "approved")
    hold = ChangeHold.objects.get()
    assert hold.status == ChangeHold.Status.APPROVED and hold.decided_by == support

    # The run shows as applied.
    with page.expect_navigation():
        page.locator(".field-run_link a").click()
    run_page = text(page, "#content")
    assert "succeeded" in text(page, ".field-status_badge")
    assert "The hold on this sync approved" in text(page, ".field-hold_link")
    shot(page, "run-applied")
    archived = Person.objects.filter(district=district, is_student=True, archived_at__isnull=False)
    assert archived.count() >= REMOVED

    # A failing sync: the district's token revoked in the sandbox, then "Sync now".
    page.goto(f"{base}/sandbox/control/districts/{sandbox_district.id}/")
    with page.expect_navigation():
        page.get_by_role("button", name="Revoke token").click()
    assert "District token revoked" in text(page, "body")
    shot(page, "token-revoked")
    page.goto(f"{base}/admin/districts/district/{district.pk}/change/")
    with page.expect_navigation():
        page.get_by_role("button", name="Sync now").click()
    newest = page.locator("#sync-history tbody tr").first
    assert "failed" in newest.inner_text()
    shot(page, "failed")
    with page.expect_navigation():
        newest.get_by_role("link").first.click()
    outcome = page.locator(".sync-outcome")
    assert "Clever refused the district's access token" in outcome.inner_text()
    assert "re-authorize the app in Clever" in outcome.inner_text()
    raw = outcome.locator("details pre")
    assert not raw.is_visible()
    shot(page, "failed-run")
    outcome.locator("details summary").click()
    assert "401" in raw.inner_text()
    shot(page, "failed-run-details")

    # Back on the dashboard: the district is flagged; it stopped sharing (Clever lists no token).
    page.goto(f"{base}/admin/")
    assert "last sync failed" in text(page, "#fleet")
    assert "districts stopped sharing" in text(page, "#attention")
    shot(page, "dashboard-after-failure")
