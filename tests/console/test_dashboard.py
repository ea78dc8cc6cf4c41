"""The support dashboard (the admin's index): what needs attention, each count linking to a list
that answers, the fleet worst first, charts drawn in escaped inline SVG."""

from __future__ import annotations

from datetime import timedelta

from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts.factories import UserFactory
from console import charts, selectors
from districts.models import District, DistrictStatus
from rostering.models import ChangeHold, SyncRun


def _district(name, status=DistrictStatus.CONNECTED, **fields):
    return District.objects.create(
        clever_id=f"{abs(hash(name)) % 10**24:024d}", name=name, status=status, **fields
    )


def _run(district, status, *, hours_ago=1, trigger=SyncRun.Trigger.MANUAL, seconds=12.0):
    started = timezone.now() - timedelta(hours=hours_ago)
    return SyncRun.objects.create(
        district=district,
        kind="full",
        status=status,
        trigger=trigger,
        started_at=started,
        finished_at=started + timedelta(seconds=seconds),
        duration_seconds=seconds,
    )


def test_all_well_says_so(support):
    page = support.get(reverse("admin:index")).content.decode()
    assert 'id="all-well"' in page and "Support dashboard" in page


def test_each_thing_that_needs_attention_is_counted_and_links_to_a_list_that_answers(support):
    failing = _district("Failing USD")
    _run(failing, SyncRun.Status.SUCCEEDED, hours_ago=30)
    _run(failing, SyncRun.Status.FAILED, hours_ago=2)
    held = _district("Held USD")
    ChangeHold.objects.create(run=_run(held, SyncRun.Status.HELD), reasons=[], counts={})
    _district("Revoked USD", status=DistrictStatus.REVOKED)
    _district("Gone USD", status=DistrictStatus.DISCONNECTED, departed_at=timezone.now() - timedelta(days=30))
    _district(
        "Just gone USD", status=DistrictStatus.DISCONNECTED, departed_at=timezone.now() - timedelta(days=1)
    )

    items = {item.key: item for item in selectors.attention()}

    keys = ("holds", "failing", "revoked", "departed_recently", "disconnected")
    assert {key: items[key].count for key in keys} == {
        "holds": 1,
        "failing": 1,
        "revoked": 1,
        "departed_recently": 1,
        "disconnected": 1,
    }
    # A district that stopped sharing this week is news (its people cannot sign in); earlier, a
    # known state.
    assert items["departed_recently"].level == "alert" and items["disconnected"].level == "info"
    recent = support.get(items["departed_recently"].url).content.decode()
    assert "Just gone USD" in recent and "Gone USD" not in recent  # names are case-sensitive
    page = support.get(reverse("admin:index")).content.decode()
    for key, item in items.items():
        assert f'id="attention-{key}"' in page
        listed = support.get(item.url)
        assert listed.status_code == 200, (key, item.url)
        assert "?e=1" not in listed.get("Location", "")  # a filter Django accepts
    # The fleet lists the failing district first, by name, with its recent syncs drawn.
    fleet = page[page.index('id="fleet"') :]
    assert fleet.index("Failing USD") < fleet.index("Held USD") and "last sync failed" in fleet
    assert "<svg" in fleet


def test_a_nightly_that_did_not_run_is_the_first_thing_said(support):
    district = _district("Sleepy USD", discovered_at=timezone.now() - timedelta(days=5))
    _run(district, SyncRun.Status.SUCCEEDED, hours_ago=50, trigger=SyncRun.Trigger.NIGHTLY)

    items = selectors.attention()

    assert items[0].key == "nightly" and "did not run" in items[0].label
    _run(district, SyncRun.Status.SUCCEEDED, hours_ago=3, trigger=SyncRun.Trigger.NIGHTLY)
    assert "nightly" not in {item.key for item in selectors.attention()}


def test_a_new_installation_is_not_late_before_its_first_night(db):
    _district("Fresh USD")
    assert selectors.nightly_overdue() == ""


def test_charts_escape_what_they_are_given_and_explain_their_colors(db):
    district = _district('<script>alert("x")</script> USD')
    runs = [
        _run(district, status, hours_ago=h)
        for h, status in (
            (30, SyncRun.Status.SUCCEEDED),
            (20, SyncRun.Status.HELD),
            (2, SyncRun.Status.FAILED),
        )
    ]

    strip = str(charts.status_strip_svg(runs))
    days = str(charts.runs_per_day_svg(selectors.runs_per_day()))

    assert strip.count("<rect") == 3 and "failed" in strip and "#cf222e" in strip
    assert "held for approval" in days and "<script" not in days + strip
    assert str(charts.status_strip_svg([])) == '<span class="muted">no syncs yet</span>'


def test_staff_outside_support_see_no_dashboard(db):
    user = UserFactory(username="marketing", is_staff=True)
    browser = Client()
    browser.force_login(user)
    page = browser.get(reverse("admin:index")).content.decode()
    assert 'id="dashboard"' not in page
