"""Polling ``/events`` every few minutes (``rostering.services.polling``, ``tasks.poll_events``
and ``tasks.poll_district_events``) against the local Clever, in-process.

Each test's district is a generated sandbox district linked to an organization, after a first
full sync (its event cursor known); changes are made in the sandbox, which records Clever's
events for them. ``http`` counts every HTTP request the app sends (token look-ups included).
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.conf import settings
from django.utils import timezone

from accounts.models import Organization, User
from districts import services as district_services
from districts.models import District
from rostering import tasks
from rostering.events import SyncFailedFinally
from rostering.models import ChangeHold, Person, SectionMembership, SyncRequest, SyncRun
from rostering.presentation import TRIGGER_WORDS
from rostering.services.polling import PollOutcome, poll_events
from rostering.services.sync import events_usable, run_sync
from sandbox import roster
from sandbox import services as sandbox_services
from sandbox.ids import new_id
from sandbox.transport import InProcessAdapter
from tests.config.test_settings import manage
from tests.rostering.conftest import connect, load_generated, remove_students, truth

pytestmark = pytest.mark.django_db


@pytest.fixture
def http(monkeypatch):
    """Every request the app sends to the local Clever, as ``(method, path)``."""
    sent: list[tuple[str, str]] = []
    real = InProcessAdapter.send

    def counted(self, request, *args, **kwargs):
        sent.append((request.method, request.path_url.split("?")[0]))
        return real(self, request, *args, **kwargs)

    monkeypatch.setattr(InProcessAdapter, "send", counted)
    return sent


@pytest.fixture
def linked(sandbox_app):
    """(sandbox district, our District linked to an organization) after a first full sync."""
    sandbox_district = load_generated(seed=41, students=40)
    organization = Organization.objects.create(name="Polling USD (customer)")
    district = connect(sandbox_district, organization=organization)
    first = run_sync(district=district)
    assert first.status == SyncRun.Status.SUCCEEDED, first.error
    district.refresh_from_db()
    assert events_usable(district)
    return sandbox_district, district


def poll(district: District):
    return poll_events(district=District.objects.get(pk=district.pk))


def served_ids(sandbox_district, role: str) -> list[str]:
    return sorted(i for i, u in truth(sandbox_district)["users"].items() if role in u["roles"])


def members(section_id: str, role: str) -> set[str]:
    return set(
        SectionMembership.objects.filter(section__clever_id=section_id, role=role).values_list(
            "person_clever_id", flat=True
        )
    )


# --- a poll applies what changed -----------------------------------------------------------------


def test_a_poll_applies_students_added_renamed_and_removed_to_the_mirror_and_their_accounts(linked):
    sandbox_district, district = linked
    section = sorted(truth(sandbox_district)["sections"])[0]
    students = served_ids(sandbox_district, "student")
    added = roster.add_student_to_section(
        district=sandbox_district, section_id=section, first="Ada", last="Polled", seed=1
    )
    roster.rename_user(district=sandbox_district, user_id=students[3], first="Grace", last="Renamed")
    roster.remove_user(district=sandbox_district, user_id=students[5])
    runs_before = SyncRun.objects.count()

    result = poll(district)

    assert result.outcome == PollOutcome.APPLIED, result.error
    run = result.run
    assert run.status == SyncRun.Status.SUCCEEDED and run.trigger == SyncRun.Trigger.POLL
    assert run.kind == SyncRun.Kind.INCREMENTAL
    assert SyncRun.objects.count() == runs_before + 1
    # The mirror...
    new = Person.objects.get(district=district, clever_id=added["id"])
    assert new.archived_at is None and added["id"] in members(section, "student")
    assert Person.objects.get(district=district, clever_id=students[3]).first_name == "Grace"
    gone = Person.objects.get(district=district, clever_id=students[5])
    assert gone.archived_at is not None
    # ... and the product accounts.
    assert new.user.organization == district.organization and new.user.is_active
    assert (new.user.first_name, new.user.last_name) == ("Ada", "Polled")
    renamed = User.objects.get(username=f"clever-{students[3]}")
    assert (renamed.first_name, renamed.last_name) == ("Grace", "Renamed")
    assert not User.objects.get(username=f"clever-{students[5]}").is_active
    # The cursor moved past the events: the next poll finds nothing.
    assert poll(district).outcome == PollOutcome.NOTHING


def test_a_poll_applies_a_teacher_moved_to_another_section(linked):
    sandbox_district, district = linked
    sections = truth(sandbox_district)["sections"]
    first, second = sorted(sections)[:2]
    teacher = sections[first]["teacher"]
    assert teacher and teacher not in sections[second]["teachers"]
    others = [t for t in sections[first]["teachers"] if t != teacher]
    sandbox_services.update_records(
        changes={
            first: {"teachers": others, "teacher": others[0] if others else ""},
            second: {"teachers": [*sections[second]["teachers"], teacher]},
        }
    )

    result = poll(district)

    assert result.outcome == PollOutcome.APPLIED, result.error
    assert teacher not in members(first, "teacher")
    assert teacher in members(second, "teacher")


# --- what a poll costs ---------------------------------------------------------------------------


def test_an_empty_poll_sends_one_request_and_writes_no_run(linked, http):
    _, district = linked
    runs_before = SyncRun.objects.count()
    before = timezone.now()

    result = poll(district)

    assert result.outcome == PollOutcome.NOTHING and result.run is None
    assert len(http) == 1 and http[0][0] == "GET" and http[0][1].endswith("/events")
    assert result.requests == 1
    assert SyncRun.objects.count() == runs_before
    district.refresh_from_db()
    assert district.events_polled_at >= before  # when Clever last answered a poll
    assert district.events_poll_started_at is None  # the lease is released


def test_a_failed_request_is_not_retried_and_waits_for_the_next_poll(linked, http, sandbox_knobs):
    sandbox_district, district = linked
    roster.rename_user(
        district=sandbox_district, user_id=served_ids(sandbox_district, "student")[0], first="A", last="B"
    )
    sandbox_knobs.add_fault("status", status=503, path_contains="/events")

    result = tasks.poll_district_events.delay(district_id=district.pk).get()

    assert result["outcome"] == PollOutcome.FAILED and result["run"] is None
    assert len(http) == 1  # no retry: the next poll is the retry
    district.refresh_from_db()
    assert district.events_polled_at is None and district.events_poll_started_at is None
    assert tasks.poll_district_events.delay(district_id=district.pk).get()["outcome"] == PollOutcome.APPLIED


# --- the guard -----------------------------------------------------------------------------------


def test_a_poll_that_would_delete_too_much_is_held_and_the_next_polls_apply_nothing(linked, http):
    sandbox_district, district = linked
    remove_students(district, 10)  # a quarter of the students: over the guard's 10%

    held = poll(district)

    assert held.outcome == PollOutcome.HELD and held.run.status == SyncRun.Status.HELD
    assert held.run.trigger == SyncRun.Trigger.POLL
    assert Person.objects.filter(district=district, is_student=True, archived_at=None).count() == 40
    hold = ChangeHold.objects.get(run=held.run, status=ChangeHold.Status.PENDING)

    # Nothing new since the held run's events: one request, no run, nothing applied.
    http.clear()
    again = poll(district)
    assert again.outcome == PollOutcome.NOTHING and len(http) == 1
    assert SyncRun.objects.filter(district=district).count() == 2

    # Something new: the engine weighs the deletions again with it, and holds them again.
    roster.rename_user(
        district=sandbox_district, user_id=served_ids(sandbox_district, "teacher")[0], first="T", last="New"
    )
    newer = poll(district)
    assert newer.outcome == PollOutcome.HELD
    assert Person.objects.filter(district=district, is_student=True, archived_at=None).count() == 40
    hold.refresh_from_db()
    assert hold.status == ChangeHold.Status.REJECTED  # superseded by the newer hold


def test_a_run_that_fails_for_good_is_announced_once_and_polling_stops(
    linked, http, sandbox_knobs, monkeypatch
):
    sandbox_district, district = linked
    roster.rename_user(
        district=sandbox_district, user_id=served_ids(sandbox_district, "student")[2], first="E", last="F"
    )
    # The poll's request is answered; the run's reading of the events is refused (404: final).
    sandbox_knobs.add_fault("status", status=404, on_request=2, path_contains="/events")
    announced = []
    monkeypatch.setattr(tasks.events, "publish", announced.append)

    result = tasks.poll_district_events.delay(district_id=district.pk).get()

    run = SyncRun.objects.get(pk=result["run"])
    assert result["outcome"] == PollOutcome.FAILED
    assert run.status == SyncRun.Status.FAILED and not run.retryable
    assert [e for e in announced if isinstance(e, SyncFailedFinally)] == [
        SyncFailedFinally(district_id=district.pk, run_id=run.pk)
    ]
    http.clear()
    assert poll(district).outcome == PollOutcome.STOPPED  # until the nightly sync or support
    assert http == []


# --- never two at once ---------------------------------------------------------------------------


def test_a_second_poll_while_the_first_is_in_its_request_is_busy(linked, http, sandbox_knobs):
    sandbox_district, district = linked
    roster.rename_user(
        district=sandbox_district, user_id=served_ids(sandbox_district, "student")[1], first="C", last="D"
    )
    inner = []

    def second_poll(_seconds):
        # Called by the local Clever while it answers the first poll's request.
        sent = len(http)
        inner.append((poll(district).outcome, len(http) - sent))

    sandbox_knobs.add_fault("slow", delay=0.0, path_contains="/events")
    sandbox_knobs.sleep = second_poll

    first = poll(district)

    assert inner == [(PollOutcome.BUSY, 0)]
    assert first.outcome == PollOutcome.APPLIED, first.error
    assert SyncRun.objects.filter(district=district, trigger=SyncRun.Trigger.POLL).count() == 1
    district.refresh_from_db()
    assert district.events_poll_started_at is None


def test_an_abandoned_lease_is_taken_over(linked):
    _, district = linked
    stale = timezone.now() - timedelta(seconds=settings.SYNC_STALE_AFTER_SECONDS + 1)
    District.objects.filter(pk=district.pk).update(events_poll_started_at=timezone.now())
    assert poll(district).outcome == PollOutcome.BUSY

    District.objects.filter(pk=district.pk).update(events_poll_started_at=stale)
    assert poll(district).outcome == PollOutcome.NOTHING


def test_a_poll_while_a_sync_runs_or_is_owed_leaves_it_to_that_sync(
    linked, http, django_capture_on_commit_callbacks
):
    _, district = linked
    running = SyncRun.objects.create(district=district, kind=SyncRun.Kind.INCREMENTAL)
    assert poll(district).outcome == PollOutcome.RUNNING
    running.delete()

    with django_capture_on_commit_callbacks(execute=False):
        tasks.request_sync(district=district, kind="full")
    assert poll(district).outcome == PollOutcome.OWED
    assert http == []


# --- events Clever will not serve ----------------------------------------------------------------


@pytest.mark.parametrize("problem", ["stale cursor", "events off"])
def test_unusable_events_ask_for_a_sync_once(linked, http, problem, django_capture_on_commit_callbacks):
    sandbox_district, district = linked
    if problem == "stale cursor":
        District.objects.filter(pk=district.pk).update(event_cursor=new_id(1_000_000_000))
    else:
        sandbox_services.set_events_enabled(district=sandbox_district, enabled=False)

    with django_capture_on_commit_callbacks(execute=False) as sent:
        result = tasks.poll_district_events.delay(district_id=district.pk).get()
        again = tasks.poll_district_events.delay(district_id=district.pk).get()

    assert result["outcome"] == PollOutcome.EVENTS_UNUSABLE and len(http) == 1
    request = SyncRequest.objects.get(district=district)
    assert (request.kind, request.trigger) == ("auto", SyncRun.Trigger.POLL)
    assert again["outcome"] == PollOutcome.OWED and len(http) == 1
    assert len(sent) == 1  # one sync asked for


# --- the dispatcher ------------------------------------------------------------------------------


def pollable(clever_id: str, **fields) -> District:
    fields.setdefault("event_cursor_at", timezone.now())
    return District.objects.create(clever_id=clever_id, name=clever_id, **fields)


def test_the_dispatcher_sends_one_poll_per_pollable_district_after_the_commit(
    db, monkeypatch, django_capture_on_commit_callbacks, django_assert_num_queries
):
    sent = []
    monkeypatch.setattr(
        tasks.poll_district_events,
        "apply_async",
        lambda kwargs=None, **options: sent.append({**kwargs, **options}),
    )
    eligible = [pollable(f"5e000000000000000000000{n}") for n in range(3)]
    pollable("5e0000000000000000000010", events_enabled=False)
    pollable("5e0000000000000000000011", event_cursor_at=None)  # cursor unknown
    old = timezone.now() - timedelta(days=settings.CLEVER_EVENT_RETENTION_DAYS + 1)
    pollable("5e0000000000000000000012", event_cursor_at=old)
    pollable("5e0000000000000000000013", sync_enabled=False)
    disconnected = pollable("5e0000000000000000000014")
    district_services.disconnect_district(district=disconnected, actor=None)

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        with django_assert_num_queries(1):  # one list, nothing per district
            assert tasks.poll_events() == 3
        assert sent == []  # nothing leaves before the commit
    for callback in callbacks:
        callback()

    assert [call["district_id"] for call in sent] == [d.pk for d in eligible]
    assert {call["expires"] for call in sent} == {settings.SYNC_EVENTS_POLL_SECONDS}


def test_beat_polls_every_few_minutes_unless_switched_off():
    entry = settings.CELERY_BEAT_SCHEDULE["rostering-poll-events"]
    assert entry["task"] == "rostering.tasks.poll_events"
    assert entry["schedule"] == settings.SYNC_EVENTS_POLL_SECONDS == 300

    listed = "from django.conf import settings; print(sorted(settings.CELERY_BEAT_SCHEDULE))"
    result = manage("shell", "-c", listed, env={"DJANGO_ENV_FILE": "", "SYNC_EVENTS_POLL_SECONDS": "0"})
    assert result.returncode == 0, result.stderr
    assert "rostering-nightly-sync" in result.stdout and "rostering-poll-events" not in result.stdout


def test_the_pages_say_why_a_poll_ran():
    assert TRIGGER_WORDS[SyncRun.Trigger.POLL] == "after checking Clever for changes"
    assert set(TRIGGER_WORDS) == set(SyncRun.Trigger)
