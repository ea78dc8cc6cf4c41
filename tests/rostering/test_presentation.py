"""How sync runs read to people (rostering.presentation): titles, failures in words with the
next step, what a running sync waits for, and the history chart.

The first part builds runs by hand (no database); the second makes the engine fail for real
(401, no token, 5xx, pages never whole, a record without an ID, a killed run) and checks the
cause it records, which is what the pages put in words (the error text is never parsed).
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta

import pytest

from districts.models import District, DistrictStatus
from rostering.models import ChangeHold, SyncRun
from rostering.presentation import (
    HISTORY_LENGTH,
    at_text,
    failure_summary,
    hold_title,
    next_nightly_sync,
    run_title,
    sync_history_svg,
    waiting_text,
)
from rostering.services import liveness
from rostering.services.sync import run_sync
from sandbox import services as sandbox_services
from tests.rostering.conftest import sandbox_token

NOW = datetime(2026, 12, 3, 14, 0, tzinfo=UTC)
SVG = "{http://www.w3.org/2000/svg}"


@pytest.fixture(autouse=True)
def utc_and_nightly_at_two(settings):
    settings.TIME_ZONE = "UTC"
    settings.SYNC_NIGHTLY_HOUR, settings.SYNC_NIGHTLY_MINUTE = 2, 0


def district(**fields) -> District:
    return District(
        **{
            "name": "Oxford Community Schools",
            "clever_id": "d1",
            "status": DistrictStatus.CONNECTED,
            "sync_enabled": True,
            **fields,
        }
    )


def run(
    *, status="failed", cause="", error="", retryable=False, kind="full", started=None, on=None, **fields
) -> SyncRun:
    return SyncRun(
        district=on or district(),
        kind=kind,
        status=status,
        cause=cause,
        error=error,
        retryable=retryable,
        started_at=started or NOW - timedelta(minutes=5),
        finished_at=NOW - timedelta(minutes=4),
        **fields,
    )


# --- titles --------------------------------------------------------------------------------


def test_a_run_is_titled_by_kind_district_and_time_never_an_id():
    incremental = run(kind="incremental", status="succeeded", started=datetime(2026, 12, 3, 2, 0, tzinfo=UTC))

    assert run_title(incremental, now=NOW) == "Incremental sync of Oxford Community Schools, 3 Dec 02:00"
    assert (
        run_title(run(started=datetime(2025, 12, 3, 2, 0, tzinfo=UTC)), now=NOW)
        == "Full sync of Oxford Community Schools, 3 Dec 2025 02:00"
    )
    hold = ChangeHold(run=incremental, status="pending")
    assert (
        hold_title(hold, now=NOW) == "Hold on the incremental sync of Oxford Community Schools, 3 Dec 02:00"
    )


# --- failures in words ---------------------------------------------------------------------


def test_a_temporary_failure_retries_at_the_pending_requests_due_time():
    failed = run(cause="server_error", error="GET /v3.1/users: HTTP 503: unavailable", retryable=True)

    cause, step = failure_summary(failed, retry_at=NOW + timedelta(minutes=4), now=NOW)

    assert cause == "Clever had a server error on every try."
    assert step == "Nothing to do: it will retry at 14:04."


def test_a_temporary_failure_with_no_retry_owed_waits_for_the_nightly_sync():
    failed = run(cause="rate_limited", retryable=True)

    cause, step = failure_summary(failed, retry_at=None, now=NOW)

    assert "rate limit" in cause
    assert step == "Nothing to do: the next nightly sync, tomorrow at 02:00, tries again."
    assert next_nightly_sync(NOW) == datetime(2026, 12, 4, 2, 0, tzinfo=UTC)
    assert next_nightly_sync(datetime(2026, 12, 3, 1, 0, tzinfo=UTC)) == datetime(
        2026, 12, 3, 2, 0, tzinfo=UTC
    )


def test_an_overdue_retry_says_the_sweep_sends_it():
    failed = run(cause="no_answer", retryable=True)

    cause, step = failure_summary(failed, retry_at=NOW - timedelta(minutes=1), now=NOW)

    assert cause.startswith("Clever did not answer")
    assert "recovery sweep" in step and "at 13:59" in step


@pytest.mark.parametrize(
    ("kind", "cause", "step"),
    [
        ("token_refused", "refused the district's access token", "must re-authorize the app in Clever"),
        ("no_token", "stopped sharing its data", "syncs resume if the district shares its data again"),
        ("departed", "while this sync was running", "syncs resume if the district shares"),
        ("app_credentials", "app's own credentials", "client ID and secret"),
        ("bad_record", "malformed record", "Waiting will not fix it"),
        ("bad_answer", "not in the shape", "Support should look at the details"),
        ("bad_request", "HTTP 400", "Support should look"),
        ("forbidden", "HTTP 403", "limited what it shares"),
        ("not_found", "HTTP 404", "Support should look"),
        ("too_large", "HTTP 413", "CLEVER_PAGE_SIZE"),
        ("unsupported", "HTTP 501", "Support should look"),
        ("other", "An unexpected error stopped the sync", "Support should look at the details below."),
        ("", "before the cause of failures was recorded", "Support should look at the details below."),
    ],
)
def test_failures_that_waiting_cannot_fix_name_the_cause_and_who_acts(kind, cause, step):
    got_cause, got_step = failure_summary(run(cause=kind, error="raw"), retry_at=None, now=NOW)

    assert cause in got_cause and step in got_step
    assert "retry" not in got_step and "nightly" not in got_step


def test_a_refused_token_says_what_the_district_is_marked_now():
    failed = run(cause="token_refused", on=district(status=DistrictStatus.REVOKED))

    assert "The district is now marked revoked." in failure_summary(failed, now=NOW)[0]


@pytest.mark.parametrize(
    ("kind", "cause"),
    [
        ("unreadable", "cut short or was not JSON"),
        ("server_error", "server error"),
        ("rate_limited", "rate limit"),
        ("no_answer", "did not answer"),
        ("database", "database"),
        ("redis", "Redis"),
        ("time_limit", "time limit"),
    ],
)
def test_temporary_failures_say_when_the_sync_tries_again(kind, cause):
    failed = run(cause=kind, retryable=True)

    got_cause, step = failure_summary(failed, retry_at=NOW + timedelta(hours=1), now=NOW)
    assert cause in got_cause and step == "Nothing to do: it will retry at 15:00."


def test_an_interrupted_run_is_resumed_by_the_next_one():
    failed = run(cause="interrupted", retryable=True)

    cause, step = failure_summary(failed, retry_at=NOW + timedelta(minutes=2), now=NOW)

    assert "stopped before it finished" in cause
    assert step == "Nothing to do: the next run resumes it from where it stopped, at 14:02."


def test_a_temporary_failure_of_a_district_that_no_longer_syncs_says_so():
    failed = run(cause="server_error", retryable=True, on=district(status=DistrictStatus.PAUSED))

    _cause, step = failure_summary(failed, retry_at=None, now=NOW)

    assert "not synced again until the district is connected" in step


def test_runs_that_did_not_fail_but_did_not_apply_are_explained():
    assert failure_summary(run(status="succeeded"), now=NOW) == ("", "")
    assert failure_summary(run(status="running"), now=NOW) == ("", "")
    stale = run(status="succeeded", cause="events_stale")
    assert "older than Clever keeps events (30 days)" in failure_summary(stale, now=NOW)[0]
    assert (
        "until events are back on" in failure_summary(run(status="succeeded", cause="events_off"), now=NOW)[1]
    )
    busy = run(status="skipped", cause="busy")
    assert failure_summary(busy, now=NOW) == (
        "Not run: another sync of this district was already running.",
        "Nothing to do: that sync does the work.",
    )
    paused = run(status="skipped", cause="paused")
    assert failure_summary(paused, now=NOW)[1] == "Syncs resume when it is unpaused."
    assert "re-authorize" in failure_summary(run(status="skipped", cause="not_connected"), now=NOW)[1]
    assert "switched off" in failure_summary(run(status="skipped", cause="syncs_off"), now=NOW)[0]
    superseded = run(status="rejected", cause="superseded")
    assert "newer sync" in failure_summary(superseded, now=NOW)[0]
    assert "approve or reject" in failure_summary(run(status="held"), now=NOW)[1]


# --- a running sync ------------------------------------------------------------------------


def test_a_run_waiting_for_the_rate_limit_says_until_when_and_how_many_retries():
    until = NOW + timedelta(seconds=47)
    waiting = run(status="running", retries=3, waiting={"until": until.isoformat(), "reason": "rate_limit"})

    assert (
        waiting_text(waiting, now=NOW)
        == "Waiting for Clever's rate limit (resumes at 14:00:47), 3 retries so far"
    )
    assert waiting_text(waiting, now=until + timedelta(seconds=1)) == ""  # the wait is over
    assert waiting_text(run(status="running"), now=NOW) == ""
    assert at_text(NOW + timedelta(days=2), now=NOW) == "on 5 Dec at 14:00"


# --- the history chart ---------------------------------------------------------------------


def history(count: int, *, failed_every: int = 0) -> list[SyncRun]:
    on = district(name="Oxford <script>alert(1)</script> & Sons")
    runs = []
    for index in range(count):
        failed = failed_every and index % failed_every == failed_every - 1
        runs.append(
            run(
                on=on,
                status="failed" if failed else "succeeded",
                kind="incremental",
                started=NOW - timedelta(days=count - index),
                cause="server_error" if failed else "",
                retryable=bool(failed),
                duration_seconds=30.0 + index,
                counts={}
                if failed
                else {
                    "created": {"users": index},
                    "updated": {"users": 1},
                    "archived": {},
                    "restored": {},
                    "unchanged": {},
                },
            )
        )
    return runs


def parse(svg: str) -> ET.Element:
    return ET.fromstring(svg)  # well-formed, or this raises


def test_the_chart_renders_with_no_runs():
    root = parse(sync_history_svg([], now=NOW))

    assert root.tag == f"{SVG}svg"
    assert "No syncs yet" in "".join(root.itertext())


def test_the_chart_renders_one_run_with_its_tooltip_in_words():
    root = parse(sync_history_svg(history(1), now=NOW))

    tooltips = [g.find(f"{SVG}title").text for g in root.iter(f"{SVG}g")]
    assert tooltips == [
        "Incremental sync of Oxford <script>alert(1)</script> & Sons, 2 Dec 14:00: "
        "succeeded, took 30s, 1 record changed"
    ]


def test_the_chart_of_many_runs_keeps_the_last_thirty_and_marks_failures_in_red_with_a_legend():
    runs = history(40, failed_every=7)
    svg = sync_history_svg(runs, now=NOW)
    root = parse(svg)

    groups = list(root.iter(f"{SVG}g"))
    assert len(groups) == HISTORY_LENGTH
    failed = [g for g in groups if "run-failed" in g.get("class")]
    kept = runs[-HISTORY_LENGTH:]
    assert len(failed) == sum(1 for r in kept if r.status == "failed") > 0
    for group in failed:
        bars = [r for r in group.iter(f"{SVG}rect") if r.get("fill") != "transparent"]
        assert bars[0].get("fill") == "#cf222e"
        assert "\u2715" in "".join(group.itertext())
        assert "Clever had a server error" in group.find(f"{SVG}title").text
    succeeded = [g for g in groups if "run-succeeded" in g.get("class")]
    assert all(r.get("fill") != "#cf222e" for g in succeeded for r in g.iter(f"{SVG}rect"))
    text = "".join(root.itertext())
    assert "failed (\u2715)" in text and "succeeded" in text and "records changed" in text
    assert root.get("aria-label") == f"Sync history: the last 30 syncs, {len(failed)} failed"
    # Escaped once, never raw markup; no script, no external reference.
    assert "<script>" not in svg and "&lt;script&gt;" in svg
    assert "href" not in svg and "http://" not in svg.replace('xmlns="http://www.w3.org/2000/svg"', "")


# --- the engine's real failures are recognized -------------------------------------------------


def kind_of(failed: SyncRun) -> str:
    assert failed.status == SyncRun.Status.FAILED
    return failed.cause


def test_a_revoked_token_is_read_as_the_district_stopping_to_share(generated, client):
    sandbox_district, ours = generated
    sandbox_services.revoke_token(access_token=sandbox_token(sandbox_district))

    failed = run_sync(district=ours, client=client)

    assert kind_of(failed) in ("token_refused", "no_token")
    assert (
        "re-authorize" in failure_summary(failed)[1] or "shares its data again" in failure_summary(failed)[1]
    )


def test_a_district_without_a_token_is_read_as_no_longer_sharing(generated, client):
    sandbox_district, ours = generated
    sandbox_services.disconnect_district(district=sandbox_district)

    assert kind_of(run_sync(district=ours, client=client)) == "no_token"


def test_server_errors_and_broken_pages_are_read_as_temporary(generated, client, sandbox_knobs):
    _sandbox_district, ours = generated
    sandbox_knobs.add_fault("status", status=503, on_request=1, count=1000, path_contains="/schools")
    failed = run_sync(district=ours, kind="full", client=client)
    assert kind_of(failed) == "server_error" and failed.retryable

    sandbox_knobs.reset()
    sandbox_knobs.add_fault("malformed_json", on_request=1, count=1000, path_contains="/schools")
    failed = run_sync(district=ours, kind="full", client=client)
    assert kind_of(failed) == "unreadable" and failed.retryable
    cause, step = failure_summary(failed)
    assert "cut short" in cause and "nightly sync" in step


def test_a_record_without_an_id_is_read_as_a_malformed_record(generated, client, monkeypatch):
    from clever.pagination import Page
    from rostering.services import sync

    _sandbox_district, ours = generated
    real = sync._first_page

    def first_page(client, path, params=None):
        page = real(client, path, params)
        if path.startswith("schools"):
            return Page(records=[{"name": "no id"}], link=page.link, next_link=None, number=1)
        return page

    monkeypatch.setattr(sync, "_first_page", first_page)
    failed = run_sync(district=ours, kind="full", client=client)

    assert kind_of(failed) == "bad_record"
    assert failure_summary(failed)[0].startswith("Clever sent a malformed record")


def test_an_interrupted_run_is_read_as_interrupted(generated, client, settings):
    _sandbox_district, ours = generated
    settings.SYNC_STALE_AFTER_SECONDS = 60
    stale = datetime.now(UTC) - timedelta(minutes=5)
    SyncRun.objects.create(district=ours, kind="full", started_at=stale, heartbeat_at=stale)

    run_sync(district=ours, client=client)

    abandoned = SyncRun.objects.filter(district=ours).order_by("pk").first()
    assert kind_of(abandoned) == "interrupted"
    assert "resumes it" in failure_summary(abandoned)[1]


def test_clevers_rate_limit_and_silence_are_read_as_temporary(generated, client, sandbox_knobs):
    _sandbox_district, ours = generated
    sandbox_knobs.add_fault("status", status=429, on_request=1, count=1000, path_contains="/schools")
    failed = run_sync(district=ours, kind="full", client=client)
    assert kind_of(failed) == "rate_limited" and failed.retryable

    sandbox_knobs.reset()
    sandbox_knobs.add_fault("status", status=404, on_request=1, count=1000, path_contains="/schools")
    failed = run_sync(district=ours, kind="full", client=client)
    assert kind_of(failed) == "not_found" and not failed.retryable


def test_runs_not_attempted_record_why(generated, client, monkeypatch):
    _sandbox_district, ours = generated
    District.objects.filter(pk=ours.pk).update(sync_enabled=False)
    assert run_sync(district=ours, client=client).cause == "syncs_off"

    District.objects.filter(pk=ours.pk).update(sync_enabled=True, status=DistrictStatus.PAUSED)
    skipped = run_sync(district=ours, client=client)
    assert skipped.status == SyncRun.Status.SKIPPED and skipped.cause == "paused"
    assert failure_summary(skipped)[1] == "Syncs resume when it is unpaused."

    District.objects.filter(pk=ours.pk).update(status=DistrictStatus.CONNECTED)
    now = datetime.now(UTC)
    SyncRun.objects.create(district=ours, kind="full", started_at=now, heartbeat_at=now)
    # Its process is alive (on PostgreSQL liveness is a session lock this test cannot hold
    # apart from the sync's own session).
    monkeypatch.setattr(liveness, "is_alive", lambda run, *, now=None: True)
    with_running = run_sync(district=ours, client=client)
    assert with_running.status == SyncRun.Status.SKIPPED and with_running.cause == "busy"
