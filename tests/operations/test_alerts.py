"""Alerts to support staff: one message per change of state (email to the Support group and a
webhook POST), for held syncs, final failures, districts that stopped sharing, the nightly that
did not run; the daily digest; and no child's or teacher's name in any of them."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from celery.exceptions import Retry
from django.core import mail
from django.urls import reverse
from django.utils import timezone

from core import events
from districts import services as district_services
from districts.events import DistrictStatusChanged
from districts.models import District, DistrictStatus
from lms.events import AssignmentStateUnknown
from operations import tasks as operations_tasks
from operations.models import Alert, AlertKind, AlertState, Heartbeat
from rostering import tasks as rostering_tasks
from rostering.events import HoldDecided, NightlyDispatched, RosterSynced, SyncFailedFinally, SyncHeld
from rostering.models import SyncRun
from rostering.services.sync import approve_hold, reject_hold
from sandbox import services as sandbox_services
from tests.conftest import sync
from tests.rostering.conftest import remove_students, truth

pytestmark = pytest.mark.django_db

BASE = "https://bridge.example.org"


@pytest.fixture(autouse=True)
def quick_clever_client(settings):
    """The sync's own client retries 5xx with real sleeps: keep that short."""
    settings.CLEVER_MAX_RETRIES = 1
    settings.CLEVER_BACKOFF_BASE = 0.0
    settings.CLEVER_BACKOFF_CAP = 0.0


def texts() -> list[str]:
    """Every alert text sent so far: email subjects and bodies."""
    return [text for message in mail.outbox for text in (message.subject, message.body)]


def test_operations_follows_the_events_of_the_apps_below():
    assert "operations.subscribers.on_sync_held" in events.subscribers(SyncHeld)
    assert "operations.subscribers.on_sync_failed_finally" in events.subscribers(SyncFailedFinally)
    assert "operations.subscribers.on_district_status_changed" in events.subscribers(DistrictStatusChanged)
    assert "operations.subscribers.on_assignment_state_unknown" in events.subscribers(AssignmentStateUnknown)
    assert "operations.subscribers.on_nightly_dispatched" in events.subscribers(NightlyDispatched)
    assert "operations.subscribers.on_roster_synced" in events.subscribers(RosterSynced)
    assert "operations.subscribers.on_hold_decided" in events.subscribers(HoldDecided)


def test_a_held_sync_is_told_once_by_email_and_webhook_until_it_is_decided(
    roster, alerting, webhook, committed, staff_user, support
):
    _sandbox, district = roster
    with committed():
        assert sync(district).status == SyncRun.Status.SUCCEEDED
    assert mail.outbox == [] and webhook == []

    remove_students(district, 10)
    with committed():
        held = sync(district)
    assert held.status == SyncRun.Status.HELD

    assert len(mail.outbox) == 1 and len(webhook) == 1
    email = mail.outbox[0]
    hold_url = (
        BASE
        + reverse("admin:rostering_changehold_changelist")
        + f"?run__district__id__exact={district.pk}&status__exact=pending"
    )
    assert email.to == ["helpdesk@example.org"]
    assert email.subject == f"[Clever bridge] A sync of {district.name} waits for approval"
    assert hold_url in email.body
    assert "approve" in email.body and "reject" in email.body
    assert "students: 10 of 40 would be archived (25%, limit 10%)" in email.body
    post = webhook[0]
    assert post["path"] == "/services/T000/B000/secret"
    assert post["content_type"] == "application/json"
    assert set(post["json"]) == {"text"}
    assert post["json"]["text"].startswith(f"A sync of {district.name} waits for approval\n")
    assert hold_url.replace("&", "&amp;") in post["json"]["text"]  # Slack's escaping; it shows "&"
    alert = Alert.objects.get()
    assert alert.sent_at is not None and alert.delivery == {"emails": 1, "webhook": "sent"}

    # The same changes found again by the next sync: held again (the first hold is superseded),
    # but the district was already held: no second message.
    with committed():
        again = sync(district)
    assert again.status == SyncRun.Status.HELD and again.hold.pk != held.hold.pk
    assert len(mail.outbox) == 1 and len(webhook) == 1
    # The first message's link still leads to the hold to decide (the district's pending ones).
    listed = support.get(hold_url.removeprefix(BASE))
    assert listed.status_code == 200
    assert reverse("admin:rostering_changehold_change", args=[again.hold.pk]) in listed.content.decode()
    assert reverse("admin:rostering_changehold_change", args=[held.hold.pk]) not in listed.content.decode()
    assert AlertState.objects.get(kind=AlertKind.SYNC_HELD).state == "held"

    # Support approves: the state resets silently; the next hold is news again.
    with committed():
        approve_hold(hold=again.hold, user=staff_user, reason="end of year")
    assert AlertState.objects.get(kind=AlertKind.SYNC_HELD).state == "ok"
    assert len(mail.outbox) == 1
    remove_students(district, 10)
    with committed():
        assert sync(district).status == SyncRun.Status.HELD
    assert len(mail.outbox) == 2 and len(webhook) == 2


def test_a_final_failure_is_told_once_not_per_retry_nor_per_night(roster, alerting, committed, sandbox_knobs):
    _sandbox, district = roster
    with committed():
        assert sync(district).status == SyncRun.Status.SUCCEEDED
    # 404 on users: waiting cannot help, so no retry follows (a final failure).
    sandbox_knobs.add_fault("status", status=404, count=10_000, path_contains="/users")

    with committed():
        failed = sync(district)
    assert failed.status == SyncRun.Status.FAILED
    assert len(mail.outbox) == 1
    body = mail.outbox[0].body
    assert mail.outbox[0].subject == f"[Clever bridge] Syncs of {district.name} keep failing"
    assert "Clever could not find something the sync asked for (HTTP 404)." in body
    assert BASE + reverse("admin:rostering_syncrun_change", args=[failed.pk]) in body
    assert BASE + reverse("admin:districts_district_change", args=[district.pk]) in body

    with committed():
        assert sync(district).status == SyncRun.Status.FAILED  # the next night: still failing
    assert len(mail.outbox) == 1

    sandbox_knobs.clear_faults()
    with committed():
        assert sync(district).status == SyncRun.Status.SUCCEEDED  # recovered: reset, no message
    assert AlertState.objects.get(kind=AlertKind.SYNC_FAILED).state == "ok" and len(mail.outbox) == 1


def test_temporary_failures_are_told_after_the_last_retry_only(
    roster, alerting, committed, sandbox_knobs, monkeypatch
):
    _sandbox, district = roster
    sandbox_knobs.add_fault("status", status=503, count=10_000, path_contains="/v3")
    task = rostering_tasks.sync_district
    monkeypatch.setattr(task, "retry", lambda exc=None, countdown=None, **kw: Retry(exc=exc, when=countdown))

    def attempt(retries: int) -> dict:
        task.push_request(retries=retries, is_eager=False, delivery_info={"redelivered": False})
        try:
            return task.run(district_id=district.pk, kind="full")
        finally:
            task.pop_request()

    for retries in range(rostering_tasks.SYNC_TASK_MAX_RETRIES):
        with committed(), pytest.raises(Retry):
            attempt(retries)
        assert mail.outbox == []  # a retry follows: nothing to tell yet
    with committed():
        assert attempt(rostering_tasks.SYNC_TASK_MAX_RETRIES)["status"] == SyncRun.Status.FAILED

    assert len(mail.outbox) == 1
    assert "Clever had a server error on every try." in mail.outbox[0].body
    assert "4 failed attempts since the last one that worked" in mail.outbox[0].body


def test_a_revoked_district_is_told_once(roster, alerting, webhook, committed):
    _sandbox, district = roster
    with committed():
        district_services.set_status(
            district=district, status=DistrictStatus.REVOKED, actor_label="sync: 401", reason="refused"
        )
    assert len(mail.outbox) == 1 and len(webhook) == 1
    email = mail.outbox[0]
    assert email.subject == f"[Clever bridge] {district.name} revoked the app's access in Clever"
    assert BASE + reverse("admin:districts_district_change", args=[district.pk]) in email.body
    assert "authorizes the app again in Clever" in email.body

    with committed():
        assert sync(district).status == SyncRun.Status.SKIPPED  # not connected: nothing new
    assert len(mail.outbox) == 1

    with committed():  # it comes back: reset, silently
        district_services.set_status(district=district, status=DistrictStatus.CONNECTED, actor_label="test")
    assert len(mail.outbox) == 1
    assert AlertState.objects.get(kind=AlertKind.DISTRICT_ACCESS).state == "ok"


def test_a_district_support_disconnected_is_told_as_their_decision(roster, alerting, committed, staff_user):
    _sandbox, district = roster
    with committed():
        district_services.disconnect_district(
            district=district, actor=staff_user, reason="the district asked"
        )
    assert len(mail.outbox) == 1
    email = mail.outbox[0]
    assert email.subject == f"[Clever bridge] {district.name} was disconnected by support staff"
    assert f"staff: {staff_user.username}" in email.body and '"Reconnect"' in email.body
    assert "stopped sharing" not in email.body and "revoked" not in email.body


def test_a_district_that_stops_sharing_during_a_sync_is_told_once_not_twice(roster, alerting, committed):
    sandbox_district, district = roster
    with committed():
        assert sync(district).status == SyncRun.Status.SUCCEEDED
    sandbox_services.disconnect_district(district=sandbox_district)

    with committed():
        run = sync(district)

    district.refresh_from_db()
    assert run.status == SyncRun.Status.FAILED and district.status == DistrictStatus.DISCONNECTED
    # One alert: the district stopped sharing (the failed sync is its consequence, not news).
    assert len(mail.outbox) == 1
    assert mail.outbox[0].subject == f"[Clever bridge] {district.name} stopped sharing its data with the app"


def test_the_nightly_that_did_not_run_is_told_once_per_outage(roster, alerting, committed):
    _sandbox, district = roster
    District.objects.filter(pk=district.pk).update(discovered_at=timezone.now() - timedelta(hours=40))
    Heartbeat.objects.create(name="nightly_dispatch", at=timezone.now() - timedelta(hours=30))

    with committed():
        result = operations_tasks.hourly_checks.delay().get()
    assert result["nightly"] == "late" and result["alerted"]
    assert len(mail.outbox) == 1
    email = mail.outbox[0]
    assert email.subject == "[Clever bridge] The nightly roster sync did not run"
    assert "the last nightly sync started 30 hours ago (more than 26)" in email.body
    assert "Celery beat" in email.body
    assert BASE + reverse("admin:rostering_syncrun_changelist") + "?trigger__exact=nightly" in email.body
    assert BASE + reverse("health") in email.body

    with committed():
        assert not operations_tasks.hourly_checks.delay().get()["alerted"]  # an hour later: still late
    assert len(mail.outbox) == 1

    with committed():
        rostering_tasks.nightly_sync.delay().get()  # beat is back
    assert AlertState.objects.get(kind=AlertKind.NIGHTLY).state == "ok"
    assert operations_tasks.hourly_checks.delay().get()["nightly"] == "ok"
    assert len(mail.outbox) == 1


def test_digest_mode_sends_nothing_at_once_then_one_email_a_day(
    roster, alerting, webhook, committed, settings, staff_user
):
    settings.ALERT_MODE = "digest"
    _sandbox, district = roster
    with committed():
        assert sync(district).status == SyncRun.Status.SUCCEEDED
    remove_students(district, 10)
    with committed():
        held = sync(district)
        district_services.set_status(district=district, status=DistrictStatus.REVOKED, actor_label="test")
    assert held.status == SyncRun.Status.HELD
    assert mail.outbox == [] and webhook == []
    assert Alert.objects.filter(sent_at__isnull=True).count() == 2
    with committed():
        reject_hold(hold=held.hold, user=staff_user, reason="checked")

    assert operations_tasks.send_digest.delay().get() == 2

    assert len(mail.outbox) == 1 and len(webhook) == 1
    digest = mail.outbox[0]
    assert digest.subject == "[Clever bridge] Daily summary: 2 alerts for support"
    assert f"A sync of {district.name} waits for approval" in digest.body and "resolved since" in digest.body
    assert f"{district.name} revoked the app's access in Clever" in digest.body
    assert (
        BASE + reverse("admin:rostering_changehold_changelist") + f"?run__district__id__exact={district.pk}"
        in digest.body
    )
    assert "Daily summary: 2 alerts for support" in webhook[0]["json"]["text"]
    assert not Alert.objects.filter(sent_at__isnull=True).exists()
    assert operations_tasks.send_digest.delay().get() == 0  # nothing new: no email
    assert len(mail.outbox) == 1


def test_a_failing_webhook_is_logged_and_never_raised(roster, alerting, committed, settings, caplog):
    settings.ALERT_WEBHOOK_URL = "http://127.0.0.1:9/hooks/secret-token"  # nothing listens
    _sandbox, district = roster
    with committed():
        district_services.set_status(
            district=district, status=DistrictStatus.DISCONNECTED, actor_label="test"
        )

    assert len(mail.outbox) == 1
    assert Alert.objects.get().delivery == {"emails": 1, "webhook": "failed"}
    assert "alert webhook failed" in caplog.text and "secret-token" not in caplog.text


def test_alert_emails_override_the_support_group(roster, alerting, committed, settings):
    settings.ALERT_EMAILS = ["oncall@example.org", "lead@example.org"]
    _sandbox, district = roster
    with committed():
        district_services.set_status(
            district=district, status=DistrictStatus.DISCONNECTED, actor_label="test"
        )
    assert mail.outbox[0].to == ["oncall@example.org", "lead@example.org"]


def test_no_alert_names_a_student_or_a_teacher_of_the_synced_district(
    roster, alerting, webhook, committed, sandbox_knobs
):
    sandbox_district, district = roster
    people = [
        user
        for user in truth(sandbox_district)["users"].values()
        if {"student", "teacher"} & set(user.get("roles") or {})
    ]
    assert len(people) > 40
    with committed():
        assert sync(district).status == SyncRun.Status.SUCCEEDED
    remove_students(district, 10)  # the hold's samples name these students: never in an alert
    with committed():
        assert sync(district).status == SyncRun.Status.HELD
    sandbox_knobs.add_fault("status", status=404, count=10_000, path_contains="/users")
    with committed():
        assert sync(district, kind="full").status == SyncRun.Status.FAILED
        district_services.set_status(district=district, status=DistrictStatus.REVOKED, actor_label="test")
    sent = texts() + [post["json"]["text"] for post in webhook]
    assert len(mail.outbox) == 3 and len(webhook) == 3  # held, failing, revoked

    for user in people:
        name = user.get("name") or {}
        first, last = name.get("first") or "", name.get("last") or ""
        for text in sent:
            assert f"{first} {last}" not in text
            assert not re.search(rf"\b{re.escape(last)}\b", text), last
            if user.get("email"):
                assert user["email"] not in text


def test_beat_checks_the_nightly_every_hour_and_sends_the_digest_daily(settings):
    from celery.schedules import crontab

    from config.celery import app

    hourly = settings.CELERY_BEAT_SCHEDULE["operations-hourly-checks"]
    assert hourly["task"] == "operations.tasks.hourly_checks" and hourly["task"] in app.tasks
    assert hourly["schedule"] == crontab(minute=(settings.SYNC_NIGHTLY_MINUTE + 45) % 60)
    digest = settings.CELERY_BEAT_SCHEDULE["operations-send-digest"]
    assert digest["task"] == "operations.tasks.send_digest" and digest["task"] in app.tasks
    assert digest["schedule"] == crontab(hour=settings.ALERT_DIGEST_HOUR, minute=0)


def test_a_district_named_with_a_line_break_cannot_silence_its_alerts(roster, alerting, webhook, committed):
    """The name comes from the district's SIS: a line break in it must not make the email fail."""
    _sandbox, district = roster
    District.objects.filter(pk=district.pk).update(name="Evil USD\nBcc: attacker@example.com")
    with committed():
        district_services.set_status(
            district=district, status=DistrictStatus.REVOKED, actor_label="sync: 401", reason="refused"
        )
    assert len(mail.outbox) == 1 and len(webhook) == 1
    email = mail.outbox[0]
    assert (
        email.subject
        == "[Clever bridge] Evil USD Bcc: attacker@example.com revoked the app's access in Clever"
    )
    assert email.bcc == [] and "attacker@example.com" not in email.recipients()
