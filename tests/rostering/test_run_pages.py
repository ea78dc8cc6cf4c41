"""The sync run and hold pages support staff read (issue #15): names instead of IDs, counts as
tables, failures in words, what a running sync is waiting for, the district's history chart.

Syncs run for real against a generated sandbox district; the hold comes from a real guarded run.
"""

from __future__ import annotations

import html
import re
from datetime import timedelta
from html.parser import HTMLParser

import pytest
from django.urls import reverse
from django.utils import timezone

from clever.client import CleverClient
from districts.models import District
from rostering.models import SyncRequest, SyncRun
from rostering.presentation import waiting_text
from rostering.services.sync import run_sync
from sandbox.generator.districts import generate_district, load_district

pytestmark = pytest.mark.django_db

NAME = "Oxford Community Schools"
RUNS = "admin:rostering_syncrun_changelist"
HOLDS = "admin:rostering_changehold_changelist"


@pytest.fixture(autouse=True)
def utc(settings):
    settings.TIME_ZONE = "UTC"


def no_sleep_client() -> CleverClient:
    return CleverClient(sleep=lambda seconds: None)


def sync(district, **kwargs) -> SyncRun:
    with no_sleep_client() as client:
        return run_sync(district=district, kind="full", client=client, **kwargs)


@pytest.fixture
def district(sandbox_app):
    generated = generate_district(seed=815, students=40)
    load_district(generated)
    return District.objects.create(clever_id=generated.id, name=NAME)


@pytest.fixture
def failed(synced_district, sandbox_knobs):
    sandbox_knobs.add_fault("status", status=503, on_request=1, count=1000, path_contains="/users")
    run = sync(synced_district)
    assert run.status == SyncRun.Status.FAILED and run.retryable
    return run


def text_of(response) -> str:
    assert response.status_code == 200
    return html.unescape(response.content.decode())


def title_of(run: SyncRun) -> str:
    started = timezone.localtime(run.started_at)
    return f"{run.kind.capitalize()} sync of {NAME}, {started.day} {started:%b %H:%M}"


class Tables(HTMLParser):
    """Every <table> of a page as rows of cell texts, by the table's id (or its position)."""

    def __init__(self, page: str):
        super().__init__()
        self.tables: dict[str, list[list[str]]] = {}
        self._stack: list[tuple[str, list]] = []
        self._cell: list[str] | None = None
        self.feed(page)

    def handle_starttag(self, tag, attrs):
        if tag == "table":
            key = dict(attrs).get("id") or f"table-{len(self.tables) + len(self._stack)}"
            self._stack.append((key, []))
        elif tag == "tr" and self._stack:
            self._stack[-1][1].append([])
        elif tag in ("td", "th") and self._stack:
            self._cell = []

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._stack and self._cell is not None:
            self._stack[-1][1][-1].append(" ".join("".join(self._cell).split()))
            self._cell = None
        elif tag == "table" and self._stack:
            key, rows = self._stack.pop()
            self.tables[key] = rows

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)


# --- 1. names, never database IDs ----------------------------------------------------------


def test_runs_are_titled_with_the_district_name_and_the_time_everywhere(support, synced_district):
    run = SyncRun.objects.get(district=synced_district)
    title = title_of(run)

    listing = text_of(support.get(reverse(RUNS)))
    page = text_of(support.get(reverse("admin:rostering_syncrun_change", args=[run.pk])))

    assert str(run) == f"{title} (succeeded)"
    assert title in listing
    assert f"<title>{title} (succeeded) |" in page
    breadcrumbs = re.search(r'<div class="breadcrumbs">(.*?)</div>', page, re.S).group(1)
    assert title in breadcrumbs
    for text in (listing, page):
        assert not re.search(r"sync of \d", text)
        assert synced_district.clever_id not in text.split('id="content"')[1].split("Checkpoint")[0]


def test_hold_pages_name_the_district_and_the_run(support, held_changes):
    title = title_of(held_changes.run)
    hold_title = f"Hold on the {title[0].lower()}{title[1:]}"

    listing = text_of(support.get(reverse(HOLDS)))
    page = text_of(support.get(reverse("admin:rostering_changehold_change", args=[held_changes.pk])))
    confirm = text_of(support.get(reverse("admin:rostering_changehold_approve", args=[held_changes.pk])))

    assert str(held_changes) == f"{hold_title} (pending)"
    assert f"<title>{hold_title} (pending) |" in page
    assert title in listing and title in page and hold_title in confirm
    for text in (listing, page, confirm):
        assert not re.search(r"(?:run|hold) #?\d", text, re.I)


# --- 2. the hold's counts and reasons, readable ------------------------------------------------


def test_the_holds_counts_are_a_table_of_record_types_and_kinds(support, held_changes):
    page = text_of(support.get(reverse("admin:rostering_changehold_change", args=[held_changes.pk])))

    assert "{'" not in page and "': " not in page  # no Python dict printed
    rows = Tables(page).tables["hold-counts"]
    assert rows[0] == ["", "live before", "created", "updated", "archived", "restored", "unchanged"]
    by_name = {row[0]: row[1:] for row in rows[1:]}
    assert list(by_name)[:5] == ["schools", "terms", "courses", "sections", "users"]
    live_users = held_changes.counts["live"]["users"]
    assert by_name["users"][0] == f"{live_users:,}" and by_name["users"][3] == "10"
    assert by_name["students"][0] == "40" and by_name["students"][3] == "10"
    assert "district admins" in by_name  # in words, not "district_admins"
    assert "students: 10 of 40 would be archived (25%, limit 10%)" in page


# --- 3. the totals of a failed run ---------------------------------------------------------


def test_a_failed_runs_totals_say_they_are_the_mirror_unchanged_by_it(support, failed, synced_district):
    page = text_of(support.get(reverse("admin:rostering_syncrun_change", args=[failed.pk])))
    done = SyncRun.objects.get(district=synced_district, status=SyncRun.Status.SUCCEEDED)
    good = text_of(support.get(reverse("admin:rostering_syncrun_change", args=[done.pk])))

    assert "after the run" not in page.lower()
    assert "not changed by this run" in page
    assert "a failed run applies nothing" in page.lower()
    assert "Live totals after the run" in good


# --- 4. the cause in words and the next step -----------------------------------------------


def test_a_failed_run_says_what_went_wrong_and_what_happens_next(support, failed):
    page = text_of(support.get(reverse("admin:rostering_syncrun_change", args=[failed.pk])))
    listing = text_of(support.get(reverse(RUNS)))

    assert "Clever had a server error on every try." in page
    assert "Nothing to do: the next nightly sync" in page
    details = re.search(r"<details[^>]*>(.*?)</details>", page, re.S).group(1)
    assert failed.error in details  # the raw error, on demand
    assert "Clever had a server error on every try." in listing
    assert failed.error not in listing


def test_the_next_step_of_a_temporary_failure_is_the_pending_retry(support, failed, synced_district):
    due = timezone.now() + timedelta(minutes=4)
    SyncRequest.objects.create(district=synced_district, requested_at=failed.started_at, due_at=due)

    page = text_of(support.get(reverse("admin:rostering_syncrun_change", args=[failed.pk])))

    assert f"Nothing to do: it will retry at {timezone.localtime(due):%H:%M}." in page


# --- 5. a sync waiting out Clever's rate limit ---------------------------------------------


def test_a_run_waiting_for_the_rate_limit_says_so_and_keeps_refreshing(support, synced_district):
    until = timezone.now() + timedelta(seconds=40)
    run = SyncRun.objects.create(
        district=synced_district,
        kind="full",
        progress=0.0,
        requests=12,
        retries=3,
        waiting={"until": until.isoformat(), "reason": "rate_limit"},
    )
    expected = (
        f"Waiting for Clever's rate limit (resumes at {timezone.localtime(until):%H:%M:%S}), 3 retries so far"
    )

    page = text_of(support.get(reverse("admin:rostering_syncrun_change", args=[run.pk])))
    listing = text_of(support.get(reverse(RUNS)))

    assert expected in page and expected in listing
    assert '<meta http-equiv="refresh" content="5">' in page


def test_the_engine_records_what_it_waits_for_before_each_wait(
    generated, make_client, fake_clock, sandbox_knobs
):
    _sandbox_district, ours = generated
    sandbox_knobs.rate_limit_per_minute = 3
    seen = []

    def sleep(seconds):
        row = SyncRun.objects.get(district=ours, status=SyncRun.Status.RUNNING)
        seen.append((dict(row.waiting), row.requests, row.retries, row.heartbeat_at))
        fake_clock.sleep(seconds)

    client = make_client(page_size=100, clock=fake_clock, sleep=sleep)
    run = run_sync(district=ours, client=client)

    assert run.status == SyncRun.Status.SUCCEEDED and run.waiting == {}
    assert len(seen) >= 2 and all(waiting["reason"] == "rate_limit" for waiting, *_ in seen)
    waiting, requests, _retries, heartbeat = seen[0]
    assert requests >= 3  # the window's requests are counted before the first wait
    assert timezone.datetime.fromisoformat(waiting["until"]) > heartbeat
    assert [r for _w, r, _t, _h in seen] == sorted(r for _w, r, _t, _h in seen)


def test_a_backoff_after_a_server_error_or_a_broken_page_is_recorded_with_its_reason(
    generated, make_client, sandbox_knobs
):
    _sandbox_district, ours = generated
    sandbox_knobs.add_fault("status", status=503, on_request=1, count=2, path_contains="/schools")
    sandbox_knobs.add_fault("malformed_json", on_request=1, count=1, path_contains="/terms")
    reasons = []

    def sleep(seconds):
        row = SyncRun.objects.get(district=ours, status=SyncRun.Status.RUNNING)
        reasons.append(row.waiting["reason"])
        assert waiting_text(row).startswith(
            ("Clever answered with a server error", "Clever's answer was cut short")
        )

    run = run_sync(district=ours, client=make_client(page_size=100, sleep=sleep))

    assert run.status == SyncRun.Status.SUCCEEDED and run.waiting == {}
    assert reasons == ["server_error", "server_error", "unreadable"]


# --- 7. the district's sync history --------------------------------------------------------


def test_the_runs_list_of_one_district_shows_its_history_chart(support, failed, synced_district):
    mine = text_of(support.get(reverse(RUNS), {"district__id__exact": synced_district.pk}))
    everyone = text_of(support.get(reverse(RUNS)))

    chart = re.search(r'<svg[^>]*class="sync-history".*?</svg>', mine, re.S).group(0)
    assert "failed (\u2715)" in chart and 'class="run run-failed"' in chart
    assert "Clever had a server error" in chart  # the failure's tooltip
    assert 'class="sync-history"' not in everyone
    # The chart follows the list's other filters: full syncs only, here none failed.
    full = text_of(
        support.get(reverse(RUNS), {"district__id__exact": synced_district.pk, "status__exact": "succeeded"})
    )
    assert 'class="sync-history"' in full and 'class="run run-failed"' not in full
