"""The rostering admin for support staff: sync actions, run history, the hold queue, the mirror.

Syncs run for real (eagerly) against generated sandbox districts; holds come from a real guarded
run (the sandbox loses a fifth of its students between two syncs).
"""

import json
import logging

import pytest
from django.contrib.auth.models import Group, Permission
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts.factories import UserFactory
from clever.sensitive import DATE_OF_BIRTH
from core.admin import SUPPORT_GROUP
from districts.models import District, DistrictStatus
from rostering.admin import SENSITIVE_PERMISSION
from rostering.models import ChangeHold, Course, Person, School, Section, SyncRun, Term
from rostering.selectors import decrypted_fields
from tests.conftest import sync
from tests.rostering.conftest import connected_district

pytestmark = pytest.mark.django_db

DISTRICTS = "admin:districts_district_changelist"
DOB = DATE_OF_BIRTH.path


@pytest.fixture
def district(sandbox_app):
    return connected_district(811, store_sensitive_fields=True)


# --- the district list and page: sync actions ----------------------------------------------------


def test_the_district_list_shows_the_last_sync_and_the_last_success(support, held_changes):
    # A held run after a successful one: both times show (this list answered 500 once a district
    # had a run: format_html turned the dates into text before formatting them).
    page = support.get(reverse(DISTRICTS))
    assert page.status_code == 200
    text = page.content.decode()
    assert "last success" in text
    finished = timezone.localtime(SyncRun.objects.filter(status=SyncRun.Status.SUCCEEDED).get().finished_at)
    assert f"{finished:%d %b %H:%M}" in text


def test_sync_now_action_queues_a_sync_that_runs(support, district, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = support.post(
            reverse(DISTRICTS), {"action": "sync_selected", "_selected_action": [district.pk]}, follow=True
        )

    assert "Sync requested for 1 district(s)" in response.content.decode()
    run = SyncRun.objects.get(district=district)
    assert run.trigger == SyncRun.Trigger.MANUAL and run.status == SyncRun.Status.SUCCEEDED
    assert Person.objects.filter(district=district, is_student=True).count() == 40


def test_full_resync_button_on_the_district_page(
    support, synced_district, django_capture_on_commit_callbacks
):
    url = reverse("admin:districts_district_button", args=[synced_district.pk, "full_sync"])
    with django_capture_on_commit_callbacks(execute=True):
        support.post(url)

    newest = SyncRun.objects.filter(district=synced_district).first()
    assert SyncRun.objects.filter(district=synced_district).count() == 2
    assert newest.kind == SyncRun.Kind.FULL and newest.trigger == SyncRun.Trigger.MANUAL


def test_sync_actions_skip_districts_that_are_not_connected(
    support, district, support_user, django_capture_on_commit_callbacks
):
    District.objects.filter(pk=district.pk).update(status=DistrictStatus.DISCONNECTED)
    with django_capture_on_commit_callbacks(execute=True):
        response = support.post(
            reverse(DISTRICTS),
            {"action": "full_resync_selected", "_selected_action": [district.pk]},
            follow=True,
        )

    assert "1 district(s) skipped: not connected, or syncs switched off" in response.content.decode()
    assert not SyncRun.objects.filter(district=district).exists()
    page = support.get(reverse("admin:districts_district_change", args=[district.pk])).content.decode()
    assert "Sync now" not in page and "Full resync" not in page


def test_district_page_shows_live_counts_and_sync_history(support, synced_district):
    running = SyncRun.objects.create(
        district=synced_district, kind="incremental", progress=0.25, current_collection="sections"
    )

    page = support.get(reverse("admin:districts_district_change", args=[synced_district.pk])).content.decode()

    assert 'id="live-totals"' in page and "<td>40</td>" in page  # 40 live students
    assert 'id="sync-history"' in page
    assert reverse("admin:rostering_syncrun_change", args=[running.pk]) in page
    assert '<progress value="25"' in page and "25% · sections" in page


# --- sync runs -----------------------------------------------------------------------------------


def test_sync_run_list_filters_and_shows_duration_counts_and_errors(support, synced_district):
    SyncRun.objects.create(
        district=synced_district,
        kind="incremental",
        status="failed",
        finished_at=timezone.now(),
        duration_seconds=75,
        cause="server_error",
        error="GET /v3.1/events: HTTP 503: unavailable",
    )
    url = reverse("admin:rostering_syncrun_changelist")

    everything = support.get(url).content.decode()
    failed = support.get(url, {"status__exact": "failed"}).content.decode()
    full = support.get(url, {"kind__exact": "full", "district__id__exact": synced_district.pk})

    assert ">succeeded</span>" in everything and ">failed</span>" in everything
    assert ">succeeded</span>" not in failed and "1m 15s" in failed and "server error" in failed
    created = sum(
        SyncRun.objects.get(district=synced_district, status="succeeded").counts["created"].values()
    )
    # In words (the finding: "~57 -30" is not what a person says).
    assert full.status_code == 200
    assert f'<td class="field-changes">{created} new</td>' in full.content.decode()
    assert "server error" not in full.content.decode()  # the failed run was incremental


def test_a_running_run_page_refreshes_itself_and_a_finished_one_does_not(support, synced_district):
    running = SyncRun.objects.create(
        district=synced_district, kind="incremental", progress=0.6, current_collection="users"
    )
    finished = SyncRun.objects.filter(district=synced_district, status="succeeded").get()

    live = support.get(reverse("admin:rostering_syncrun_change", args=[running.pk])).content.decode()
    done = support.get(reverse("admin:rostering_syncrun_change", args=[finished.pk])).content.decode()

    assert '<meta http-equiv="refresh" content="5">' in live and '<progress value="60"' in live
    assert "http-equiv" not in done
    assert 'name="_save"' not in done  # read-only
    assert support.post(reverse("admin:rostering_syncrun_change", args=[finished.pk]), {}).status_code == 403
    assert support.get(reverse("admin:rostering_syncrun_add")).status_code == 403


# --- the hold queue ------------------------------------------------------------------------------


def test_hold_page_shows_reasons_counts_and_samples_readably(support, held_changes):
    page = support.get(reverse("admin:rostering_changehold_change", args=[held_changes.pk])).content.decode()

    assert "users: 10 of" in page and "would be archived" in page and "limit 10%" in page
    archived = held_changes.samples["archived"]["users"]
    assert f"({archived[0]['clever_id']})" in page and archived[0]["name"] in page
    assert "Approve and apply" in page and "Reject (discard)" in page


def test_approving_a_hold_asks_for_confirmation_then_applies_it(
    support, support_user, held_changes, synced_district
):
    url = reverse("admin:rostering_changehold_approve", args=[held_changes.pk])

    confirm = support.get(url)
    assert confirm.status_code == 200 and "Yes, approve this hold" in confirm.content.decode()
    assert ChangeHold.objects.get(pk=held_changes.pk).status == ChangeHold.Status.PENDING
    assert (
        Person.objects.filter(district=synced_district, is_student=True, archived_at__isnull=True).count()
        == 40
    )

    # The finding: a hold was approved with no reason recorded. Without one, nothing happens.
    again = support.post(url, {"confirm": "yes", "reason": ""})
    assert again.status_code == 200 and "This field is required" in again.content.decode()
    assert ChangeHold.objects.get(pk=held_changes.pk).status == ChangeHold.Status.PENDING

    support.post(url, {"confirm": "yes", "reason": "the district moved 10 students (ticket 4411)"})

    hold = ChangeHold.objects.get(pk=held_changes.pk)
    assert hold.status == ChangeHold.Status.APPROVED and hold.decided_by == support_user
    assert hold.decision_reason == "the district moved 10 students (ticket 4411)"
    decided = support.get(
        reverse("admin:rostering_changehold_change", args=[held_changes.pk])
    ).content.decode()
    assert "ticket 4411" in decided
    # Its samples say what happened, no longer what would.
    assert "<strong>would be archived</strong>" not in decided and "<strong>archived</strong>" in decided
    assert (
        Person.objects.filter(district=synced_district, is_student=True, archived_at__isnull=True).count()
        == 30
    )
    assert (
        Person.objects.filter(district=synced_district, is_student=True, archived_at__isnull=False).count()
        == 10
    )


def test_a_hold_cannot_be_approved_while_a_sync_of_the_district_runs(support, held_changes, synced_district):
    SyncRun.objects.create(district=synced_district, kind="incremental")

    response = support.post(
        reverse("admin:rostering_changehold_approve", args=[held_changes.pk]),
        {"confirm": "yes", "reason": "checked with the district"},
        follow=True,
    )

    assert "a sync of this district is running" in response.content.decode()
    assert ChangeHold.objects.get(pk=held_changes.pk).status == ChangeHold.Status.PENDING


def test_rejecting_holds_through_the_bulk_action(support, support_user, held_changes, synced_district):
    url = reverse("admin:rostering_changehold_changelist")
    data = {"action": "reject_selected", "_selected_action": [held_changes.pk]}

    confirm = support.post(url, data)
    assert confirm.status_code == 200 and "Yes, reject this hold" in confirm.content.decode()
    assert ChangeHold.objects.get(pk=held_changes.pk).status == ChangeHold.Status.PENDING

    support.post(url, {**data, "confirm": "yes", "reason": "the SIS upload was broken"})

    hold = ChangeHold.objects.get(pk=held_changes.pk)
    assert hold.status == ChangeHold.Status.REJECTED and hold.decided_by == support_user
    assert hold.decision_reason == "the SIS upload was broken"
    assert (
        Person.objects.filter(district=synced_district, is_student=True, archived_at__isnull=True).count()
        == 40
    )


def test_hold_queue_lists_pending_holds_first(support, held_changes, synced_district):
    older = SyncRun.objects.create(
        district=synced_district, kind="full", status="rejected", started_at=timezone.now()
    )
    decided = ChangeHold.objects.create(run=older, status="rejected", reasons=[], created_at=timezone.now())

    page = support.get(reverse("admin:rostering_changehold_changelist")).content.decode()

    pending_at = page.index(reverse("admin:rostering_changehold_change", args=[held_changes.pk]))
    decided_at = page.index(reverse("admin:rostering_changehold_change", args=[decided.pk]))
    assert pending_at < decided_at  # the newer, decided hold comes after the pending one
    assert "users: 10 of" in page


# --- browsing the mirror -------------------------------------------------------------------------


def test_roster_lists_search_and_filter(support, synced_district):
    student = Person.objects.filter(district=synced_district, is_student=True).exclude(email="").first()
    teacher = Person.objects.filter(district=synced_district, is_teacher=True).first()
    url = reverse("admin:rostering_person_changelist")

    def names(**params):
        page = support.get(url, params).content.decode()
        return page

    assert student.clever_id in names(q=student.clever_id)
    assert student.clever_id in names(q=student.student_sis_id)
    assert student.clever_id in names(q=student.email)
    assert student.clever_id in names(q=student.last_name)
    teachers = names(role="teacher")
    assert teacher.clever_id in teachers and student.clever_id not in teachers
    Person.objects.filter(pk=student.pk).update(archived_at=timezone.now())
    assert student.clever_id in names(archived="yes")
    assert student.clever_id not in names(archived="no", role="student")

    for model in (School, Term, Course, Section):
        row = model.objects.filter(district=synced_district).first()
        meta = model._meta
        listing = support.get(reverse(f"admin:rostering_{meta.model_name}_changelist"), {"q": row.clever_id})
        assert listing.status_code == 200 and row.clever_id in listing.content.decode()
        detail = support.get(reverse(f"admin:rostering_{meta.model_name}_change", args=[row.pk]))
        assert detail.status_code == 200 and "Clever record (raw)" in detail.content.decode()
        assert support.get(reverse(f"admin:rostering_{meta.model_name}_add")).status_code == 403
        assert (
            support.post(reverse(f"admin:rostering_{meta.model_name}_delete", args=[row.pk])).status_code
            == 403
        )


def _student_with_sensitive_fields(district) -> Person:
    person = (
        Person.objects.filter(district=district, is_student=True).exclude(sensitive_ciphertext="").first()
    )
    assert person is not None, "the generated district carries sensitive student fields"
    return person


def test_sensitive_fields_are_hidden_without_the_extra_permission(support, synced_district):
    person = _student_with_sensitive_fields(synced_district)

    page = support.get(reverse("admin:rostering_person_change", args=[person.pk])).content.decode()

    assert "hidden: needs the" in page
    assert person.sensitive_ciphertext not in page
    assert "iep_status" not in page and "frl_status" not in page
    assert person.clever_id in page  # the raw record is there


def test_sensitive_fields_are_decrypted_for_users_with_the_permission(synced_district, caplog):
    person = _student_with_sensitive_fields(synced_district)
    user = UserFactory(username="counselor", is_staff=True)
    user.groups.add(Group.objects.get(name=SUPPORT_GROUP))
    user.user_permissions.add(Permission.objects.get(codename=SENSITIVE_PERMISSION.split(".")[1]))
    assert Permission.objects.filter(codename=SENSITIVE_PERMISSION.split(".")[1]).count() == 1
    browser = Client()
    browser.force_login(user)

    with caplog.at_level(logging.INFO, logger="rostering.admin"):
        page = browser.get(reverse("admin:rostering_person_change", args=[person.pk])).content.decode()

    assert "hidden: needs the" not in page
    assert "IEP status" in page and "Date of birth" in page  # labelled in plain words
    assert person.sensitive_ciphertext not in page
    assert f"sensitive fields of person {person.pk} viewed by user {user.pk}" in caplog.text
    # The raw record never carried them.
    assert "iep_status" not in json.dumps(person.raw)


def settings_url(district) -> str:
    return reverse("admin:districts_district_settings", args=[district.pk])


def test_sync_settings_page_changes_thresholds_and_events_audited(support, support_user, district):
    page = support.get(settings_url(district))
    assert page.status_code == 200 and "Hold when more than this share is archived" in page.content.decode()

    response = support.post(
        settings_url(district),
        {
            "sync_enabled": "on",
            "guard_max_deleted_fraction": "0.25",
            "guard_max_changed_fraction": "",
            "store_sensitive_fields": "on",
            "reason": "district merges two schools",
        },
    )

    assert response.status_code == 302
    district.refresh_from_db()
    assert district.guard_max_deleted_fraction == 0.25 and district.events_enabled is False
    audit = district.audits.get(action="settings_changed")
    assert audit.actor == support_user and audit.details["reason"] == "district merges two schools"
    assert audit.details["events_enabled"] == {"from": True, "to": False}


def test_sync_settings_page_refuses_a_fraction_out_of_range(support, district):
    response = support.post(
        settings_url(district),
        {"sync_enabled": "on", "events_enabled": "on", "guard_max_deleted_fraction": "1.5"},
    )

    assert response.status_code == 200 and "less than or equal to 1" in response.content.decode()
    district.refresh_from_db()
    assert district.guard_max_deleted_fraction is None and not district.audits.exists()


def test_sync_settings_page_is_for_support_staff_only(district):
    staff = UserFactory(username="sales", is_staff=True)
    browser = Client()
    browser.force_login(staff)

    assert browser.post(settings_url(district), {"guard_max_deleted_fraction": "1"}).status_code == 403
    assert not district.audits.exists()


def test_switching_sensitive_fields_off_erases_the_stored_values_at_once(support, synced_district):
    """Only the date of birth (matching needs it) stays, and the next sync changes nobody."""
    stored = Person.objects.filter(district=synced_district).exclude(sensitive_ciphertext="")
    beyond_dob = [p.pk for p in stored if set(decrypted_fields(p.sensitive_ciphertext)) - {DOB}]
    assert beyond_dob

    support.post(settings_url(synced_district), {"sync_enabled": "on", "events_enabled": "on"})

    for ciphertext in stored.values_list("sensitive_ciphertext", flat=True):
        assert set(decrypted_fields(ciphertext)) == {DOB}
    audit = synced_district.audits.get(action="settings_changed")
    assert audit.details["store_sensitive_fields"] == {"from": True, "to": False}
    assert audit.details["sensitive_values_erased"] == len(beyond_dob)
    run = sync(synced_district)
    assert run.status == SyncRun.Status.SUCCEEDED and run.counts["updated"]["users"] == 0


def test_the_district_list_says_the_next_step_of_each_district(support, held_changes, synced_district):
    """The finding: the list had no sign of what to do about a district."""
    District.objects.create(clever_id="c" * 24, name="Refusing USD", status=DistrictStatus.REVOKED)
    District.objects.create(clever_id="d" * 24, name="Unlinked USD")

    page = support.get(reverse(DISTRICTS)).content.decode()

    assert "Approve or reject the held sync" in page
    assert "Ask the district to authorize the app again in Clever" in page
    assert "Link it to its organization" in page
    # Sortable by its columns: the list answers every order.
    for column in range(1, 6):
        assert support.get(reverse(DISTRICTS), {"o": str(column)}).status_code == 200
