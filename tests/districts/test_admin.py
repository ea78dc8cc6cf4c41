"""The District admin for support staff: who gets in, what the pages show, what the buttons do.

The districts here are real sandbox districts discovered through the app's own client (so the
token, discovery and reconnect flows talk to the local Clever in-process).
"""

from datetime import timedelta

import pytest
from django.contrib.auth.models import Group, Permission
from django.contrib.contenttypes.models import ContentType
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from accounts.factories import OrganizationFactory, UserFactory
from core.admin import SUPPORT_GROUP, is_support
from districts import crypto, services
from districts.models import District, DistrictAudit, DistrictStatus
from rostering.models import ChangeHold, SyncRun
from sandbox import services as sandbox

pytestmark = pytest.mark.django_db

CHANGELIST = "admin:districts_district_changelist"


@pytest.fixture
def other_staff(db):
    """Staff with every model permission on districts, but not the support permission."""
    user = UserFactory(username="marketing", is_staff=True)
    district_type = ContentType.objects.get_for_model(District)
    user.user_permissions.set(
        Permission.objects.filter(content_type=district_type).exclude(codename="support_district")
    )
    browser = Client()
    browser.force_login(user)
    return browser


def change_url(district):
    return reverse("admin:districts_district_change", args=[district.pk])


def button_url(district, name):
    return reverse("admin:districts_district_button", args=[district.pk, name])


def make_district(name, clever_id, **fields):
    return District.objects.create(name=name, clever_id=clever_id, **fields)


def test_migrate_creates_the_support_permission_and_group():
    permission = Permission.objects.get(codename="support_district")
    assert permission.content_type.app_label == "districts"
    group = Group.objects.get(name=SUPPORT_GROUP)
    assert group.name == SUPPORT_GROUP
    assert list(group.permissions.all()) == [permission]
    assert Permission.objects.filter(codename="support_district").count() == 1


def test_who_is_support_staff(support_user):
    assert is_support(support_user)
    assert is_support(UserFactory(username="root", is_staff=True, is_superuser=True))
    assert not is_support(UserFactory(username="plain-staff", is_staff=True))
    not_staff = UserFactory(username="not-staff", is_staff=False)
    not_staff.groups.add(Group.objects.get(name=SUPPORT_GROUP))
    assert not is_support(not_staff)


def test_changelist_shows_badges_last_sync_counts_and_holds_without_n_plus_one(support):
    org = OrganizationFactory(name="Springfield Public Schools")

    def populate(start, count):
        for i in range(start, start + count):
            district = make_district(f"District {i}", f"{i:024x}", organization=org)
            SyncRun.objects.create(
                district=district,
                kind="full",
                status="succeeded",
                finished_at=timezone.now(),
                totals={"schools": 2, "students": 40 + i, "teachers": 3, "sections": 9},
            )
            running = SyncRun.objects.create(
                district=district, kind="incremental", progress=0.42, current_collection="users"
            )
            held = SyncRun.objects.create(
                district=district, kind="full", status="held", started_at=timezone.now() - timedelta(days=1)
            )
            ChangeHold.objects.create(run=held, reasons=[{"type": "users", "rule": "deleted"}])
            assert running.status == "running"

    populate(1, 2)
    with CaptureQueriesContext(connection) as few:
        response = support.get(reverse(CHANGELIST))
    assert response.status_code == 200
    populate(3, 4)
    with CaptureQueriesContext(connection) as many:
        response = support.get(reverse(CHANGELIST))

    assert response.status_code == 200
    assert len(many.captured_queries) == len(few.captured_queries)  # no query per row
    page = response.content.decode()
    assert page.count(">Connected</span>") == 6  # the status badges
    assert "Springfield Public Schools" in page
    assert page.count('<progress value="42"') == 6 and "42% · users" in page
    assert "2&nbsp;schools<br>46&nbsp;students<br>3&nbsp;teachers<br>9&nbsp;sections" in page
    assert page.count("1 pending") == 6
    assert "Discover districts" in page


def test_non_support_staff_are_refused_every_page(other_staff, pair):
    _, district = pair
    urls = [
        reverse(CHANGELIST),
        change_url(district),
        reverse("admin:districts_district_token", args=[district.pk]),
        reverse("admin:districts_districtaudit_changelist"),
        reverse("admin:rostering_syncrun_changelist"),
        reverse("admin:rostering_changehold_changelist"),
        reverse("admin:rostering_person_changelist"),
    ]
    for url in urls:
        assert other_staff.get(url).status_code == 403, url
    assert other_staff.post(button_url(district, "disconnect")).status_code == 403
    assert other_staff.post(reverse("admin:districts_district_discover")).status_code == 403
    assert District.objects.get(pk=district.pk).status == DistrictStatus.CONNECTED
    index = other_staff.get(reverse("admin:index")).content.decode()
    assert "/admin/districts/district/" not in index


def test_change_page_shows_token_fingerprint_history_and_audits_never_the_token(support, support_user, pair):
    _, district = pair
    secret = "pasted-token-0123456789abcdef"
    district = services.set_pasted_token(district=district, token=secret, actor=support_user, verify=False)
    SyncRun.objects.create(
        district=district,
        kind="full",
        status="failed",
        finished_at=timezone.now(),
        cause="server_error",
        error="ServerError: GET /v3.1/users: HTTP 503",
    )

    page = support.get(change_url(district)).content.decode()

    assert secret not in page
    assert district.token_ciphertext not in page
    assert "Stored: yes" in page and services.token_fingerprint(secret) in page
    # The sync history says what happened in words; the raw error is on the run's own page.
    from django.utils.html import escape

    from rostering.presentation import failure_summary

    cause = failure_summary(SyncRun.objects.get(district=district, status="failed"))[0]
    assert cause and escape(cause) in page and "ServerError: GET" not in page
    assert 'id="audit-log"' in page
    assert "token set" in page.lower() and "discovered" in page.lower()
    assert "Paste a token" in page and "Clear the pasted token" in page


def test_pasting_a_token_checks_it_with_clever_and_stores_it_encrypted(support, pair):
    remote, district = pair
    url = reverse("admin:districts_district_token", args=[district.pk])
    token = sandbox.district_token(remote).access_token

    form = support.get(url)
    assert form.status_code == 200 and "Stored: no" in form.content.decode()

    refused = support.post(url, {"token": "not-a-real-token-at-all"})
    assert refused.status_code == 200  # the form again, with Clever's refusal
    assert "refused" in refused.content.decode()
    assert "not-a-real-token-at-all" not in refused.content.decode()
    assert not District.objects.get(pk=district.pk).token_ciphertext

    response = support.post(url, {"token": token})

    assert response.status_code == 302 and response.url == change_url(district)
    district.refresh_from_db()
    assert crypto.decrypt(district.token_ciphertext) == token
    audit = district.audits.filter(action=DistrictAudit.Action.TOKEN_SET).get()
    assert audit.actor.username == "helpdesk"
    assert audit.details["fingerprint"] == services.token_fingerprint(token)
    assert token not in support.get(change_url(district)).content.decode()


def test_clear_token_button(support, support_user, pair):
    _, district = pair
    services.set_pasted_token(
        district=district, token="a-pasted-token-value", actor=support_user, verify=False
    )

    response = support.post(button_url(district, "clear_token"))

    assert response.status_code == 302
    district.refresh_from_db()
    assert not district.token_ciphertext
    assert district.audits.filter(action=DistrictAudit.Action.TOKEN_CLEARED, actor=support_user).exists()


def test_buttons_are_post_only(support, pair):
    _, district = pair
    assert support.get(button_url(district, "pause")).status_code == 405
    assert support.get(reverse("admin:districts_district_discover")).status_code == 405
    assert District.objects.get(pk=district.pk).status == DistrictStatus.CONNECTED


def test_disconnect_asks_for_a_reason_first(support, pair):
    """The finding: Disconnect acted on one click, with no confirmation and no reason."""
    _, district = pair
    page = support.get(button_url(district, "disconnect"))
    assert page.status_code == 200
    text = page.content.decode()
    assert "archives its roster" in text and 'name="reason"' in text
    # A click without a reason is a form error on the same page, never a disconnection.
    again = support.post(button_url(district, "disconnect"), {"reason": ""})
    assert again.status_code == 200 and "This field is required" in again.content.decode()
    assert District.objects.get(pk=district.pk).status == DistrictStatus.CONNECTED
    # The district's page links to that confirmation rather than posting at once.
    assert f'<a class="button" href="{button_url(district, "disconnect")}">Disconnect…</a>' in (
        support.get(change_url(district)).content.decode()
    )


def test_disconnect_and_reconnect_buttons(support, support_user, pair):
    _, district = pair

    support.post(button_url(district, "disconnect"), {"reason": "contract ended (ticket 881)"})

    district.refresh_from_db()
    assert district.status == DistrictStatus.DISCONNECTED and district.staff_disconnected
    audit = district.audits.filter(action=DistrictAudit.Action.STATUS_CHANGED).first()
    assert audit.actor == support_user and audit.details["to"] == "disconnected"
    assert audit.details["reason"] == "contract ended (ticket 881)"
    page = support.get(change_url(district)).content.decode()
    assert "Reconnect" in page and ">Disconnect…<" not in page

    support.post(button_url(district, "reconnect"))

    district.refresh_from_db()
    assert district.status == DistrictStatus.CONNECTED and not district.staff_disconnected


def test_a_button_that_does_not_apply_changes_nothing(support, pair):
    _, district = pair
    response = support.post(button_url(district, "resume"), follow=True)
    assert "does not apply" in response.content.decode()
    assert District.objects.get(pk=district.pk).status == DistrictStatus.CONNECTED


def test_bulk_pause_resume_and_disconnect_actions(support, support_user, pair, make_sandbox_district, clever):
    _, first = pair
    make_sandbox_district("Shelbyville Unified")
    services.discover_districts(client=clever)
    second = District.objects.exclude(pk=first.pk).get()
    both = [first.pk, second.pk]
    url = reverse(CHANGELIST)

    support.post(url, {"action": "pause_selected", "_selected_action": both})
    assert set(District.objects.values_list("status", flat=True)) == {DistrictStatus.PAUSED}

    support.post(url, {"action": "resume_selected", "_selected_action": both})
    assert set(District.objects.values_list("status", flat=True)) == {DistrictStatus.CONNECTED}

    confirm = support.post(url, {"action": "disconnect_selected", "_selected_action": [second.pk]})
    assert confirm.status_code == 200 and str(second) in confirm.content.decode()
    assert District.objects.get(pk=second.pk).status == DistrictStatus.CONNECTED  # asked first
    support.post(
        url,
        {
            "action": "disconnect_selected",
            "_selected_action": [second.pk],
            "confirmed": "1",
            "reason": "the district's written request",
        },
    )
    assert District.objects.get(pk=second.pk).status == DistrictStatus.DISCONNECTED
    assert District.objects.get(pk=first.pk).status == DistrictStatus.CONNECTED
    assert DistrictAudit.objects.filter(
        actor=support_user, district=second, details__to="disconnected"
    ).exists()

    again = support.post(url, {"action": "disconnect_selected", "_selected_action": [second.pk]})
    assert "None of the selected districts can be disconnected." in again.content.decode()


def test_switching_syncs_off_and_on(support, support_user, pair):
    _, district = pair

    support.post(button_url(district, "disable_sync"))
    district.refresh_from_db()
    assert not district.sync_enabled
    assert district.audits.filter(action=DistrictAudit.Action.SETTINGS_CHANGED, actor=support_user).exists()

    support.post(button_url(district, "enable_sync"))
    district.refresh_from_db()
    assert district.sync_enabled


def test_discover_button_creates_the_districts_clever_lists(support, make_sandbox_district):
    make_sandbox_district("Springfield Unified")
    make_sandbox_district("Shelbyville Unified")

    response = support.post(reverse("admin:districts_district_discover"), follow=True)

    assert response.status_code == 200
    assert sorted(District.objects.values_list("name", flat=True)) == [
        "Shelbyville Unified",
        "Springfield Unified",
    ]
    assert "2 listed by Clever; 2 new" in response.content.decode()
    assert (
        DistrictAudit.objects.filter(
            action=DistrictAudit.Action.DISCOVERED, actor_label="discovery (task)"
        ).count()
        == 2
    )


def test_districts_and_audits_cannot_be_added_edited_or_deleted_here(support, pair):
    _, district = pair
    assert support.get(reverse("admin:districts_district_add")).status_code == 403
    assert support.post(reverse("admin:districts_district_delete", args=[district.pk])).status_code == 403
    audit = district.audits.first()
    assert support.get(reverse("admin:districts_districtaudit_add")).status_code == 403
    page = support.get(reverse("admin:districts_districtaudit_change", args=[audit.pk])).content.decode()
    assert 'name="_save"' not in page  # view only
    assert support.post(change_url(district), {"name": "Renamed"}).status_code == 403
    assert District.objects.get(pk=district.pk).name == "Springfield Unified"
