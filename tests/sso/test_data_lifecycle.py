"""A district's data through its life (docs/data-lifecycle.md): departure archives and
deactivates at once, a return restores the same rows and accounts, and the purge leaves a child's
name in no row of any table.

Everything runs through the real paths: the local Clever, a roster sync, a Portal sign-in, the
matching engine, district discovery and the purge task.
"""

from __future__ import annotations

import json
from datetime import timedelta
from io import StringIO

import pytest
from allauth.account.models import EmailAddress
from allauth.socialaccount.models import SocialAccount
from django.contrib.admin.models import CHANGE, LogEntry
from django.contrib.contenttypes.models import ContentType
from django.contrib.sessions.models import Session
from django.core.management import CommandError, call_command
from django.db import connection
from django.utils import timezone

from accounts.models import User
from districts import services as district_services
from districts.models import District, DistrictAudit, DistrictStatus
from lms.launch import parse_launch
from lms.models import Assignment, Result
from lms.services.courses import record_launch
from matching.models import MatchAudit, PersonMatch
from matching.services import link_person, match_district, unlink_person
from rostering import tasks as rostering_tasks
from rostering.models import Person, Section, SyncRun
from rostering.services.lifecycle import purge_district_roster
from rostering.services.sync import run_sync
from sandbox import services as sandbox
from sandbox.ids import new_id
from sso.models import AccountLink, CleverLogin
from sso.services import unlink_clever_account
from tests.sso.conftest import build_world, user_record

# Nobody else in any fixture is called this: finding either string anywhere means a leak.
FIRST, LAST = "Zebulonia", "Quixwhistle"
EMAIL = "zebulonia.quixwhistle@springfield.k12.example.us"


def _planted_world():
    world = build_world()
    sid = world.school["id"]
    world.child = user_record(
        world.sandbox_district,
        first=FIRST,
        last=LAST,
        email=EMAIL,
        roles={"student": {"school": sid, "schools": [sid], "sis_id": "S-Z", "grade": "1"}},
    )
    sandbox.update_record(
        clever_id=world.section["id"],
        changes={"students": [world.student["id"], world.student2["id"], world.child["id"]]},
    )
    # A second district keeps Clever's token listing non-empty when the first one leaves (an
    # empty listing is taken for an outage, never for every district leaving).
    world.other = sandbox.create_district(name="Shelbyville Unified")
    district_services.discover_districts()
    return world


def _sync(district) -> SyncRun:
    run = run_sync(district=district, kind="full", trigger=SyncRun.Trigger.MANUAL)
    assert run.status == SyncRun.Status.SUCCEEDED, run.error
    return run


def _leave(world):
    sandbox.disconnect_district(district=world.sandbox_district)
    summary = district_services.discover_districts()
    assert summary["disconnected"] == [world.sandbox_district.id]


def _rows_containing(*needles: str) -> list[tuple[str, str]]:
    """(table, column) of every text or JSON cell of the app's tables holding one of the
    needles, case-insensitively; the sandbox's tables are Clever's side and not searched."""
    found = []
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names():
            if table.startswith("sandbox_"):
                continue
            for column in connection.introspection.get_table_description(cursor, table):
                for needle in needles:
                    cursor.execute(
                        f'SELECT COUNT(*) FROM "{table}" WHERE LOWER(CAST("{column.name}" AS TEXT)) LIKE %s',
                        [f"%{needle.lower()}%"],
                    )
                    if cursor.fetchone()[0]:
                        found.append((table, column.name))
    return found


def _sessions_containing(*needles: str) -> int:
    return sum(
        1
        for session in Session.objects.all()
        if any(n.lower() in str(session.get_decoded()).lower() for n in needles)
    )


def _plant_everywhere(world, browser, portal_launch, staff_user):
    """The child's name and email wherever the app can hold them."""
    district = world.district
    _sync(district)
    child = Person.objects.get(district=district, clever_id=world.child["id"])
    assert child.user is not None and child.user.first_name == FIRST  # the account made for them
    # A Portal sign-in: the Clever link, the login record, the account-link audit, a session.
    portal_launch(browser, world.child["id"])
    assert str(browser.user_id()) == str(child.user_id)
    link = SocialAccount.objects.get(uid=world.child["id"])
    assert link.extra_data["name"]["first"] == FIRST
    EmailAddress.objects.create(user=child.user, email=EMAIL, primary=True)
    # Matching: the product knew her before Clever (its own record); the engine compares them,
    # support pairs them by hand with a note naming her, then undoes it with a reason that does.
    own_record = User.objects.create(
        username="zq-2019",
        first_name="Zeb",
        last_name="Q.",
        organization=world.organization,
        role="student",
        sis_id="S-Z",
    )
    match_district(district=district)
    assert PersonMatch.objects.filter(district=district, user=own_record).exists()
    link_person(
        person=child,
        user=own_record,
        source="staff",
        actor=staff_user,
        evidence={"note": f"{FIRST} {LAST} is the same girl"},
    )
    unlink_person(person=child, source="staff", actor=staff_user, reason=f"{FIRST}'s mother called")
    unlink_clever_account(
        account=SocialAccount.objects.get(uid=world.child["id"]),
        actor=staff_user,
        reason=f"asked by {FIRST} {LAST}'s family",
    )
    assert browser.go("/account/").status_code == 401  # the link is gone: her session ended
    portal_launch(browser, world.child["id"])  # she signs in again: a fresh link, with her name
    child.refresh_from_db()
    assert SocialAccount.objects.get(uid=world.child["id"]).user_id == child.user_id
    # LMS: a result with a comment naming her.
    section = Section.objects.get(district=district, clever_id=world.section["id"])
    assignment = Assignment.objects.create(
        section=section, title="Fractions", description="Quiz", due_at=timezone.now() + timedelta(days=3)
    )
    Result.objects.create(assignment=assignment, student=child, points=9, comment=f"Great work, {FIRST}!")
    # A course made in the LMS, named after her, that someone opened the app from.
    P = "https://purl.imsglobal.org/spec/lti/claim/"
    tutoring = parse_launch(
        {
            f"{P}message_type": "LtiResourceLinkRequest",
            f"{P}deployment_id": "deployment-1",
            f"{P}context": {"id": "tutoring-1", "title": f"Tutoring with {FIRST} {LAST}"},
        }
    )
    assert tutoring is not None and record_launch(district=district, launch=tutoring, people=[]) is not None
    # Support's history in the admin, and a district audit that quotes her.
    for obj in (child, child.user):
        LogEntry.objects.create(
            user=staff_user,
            content_type=ContentType.objects.get_for_model(obj),
            object_id=str(obj.pk),
            object_repr=str(obj) or f"{FIRST} {LAST}",
            action_flag=CHANGE,
            change_message=f"Changed {FIRST}'s grade",
        )
    district_services.set_status(
        district=district,
        status=DistrictStatus.PAUSED,
        actor=staff_user,
        reason=f"paused while {FIRST} {LAST}'s record is checked",
    )
    district_services.set_status(district=district, status=DistrictStatus.CONNECTED, actor=staff_user)
    assert {table for table, _ in _rows_containing(FIRST)} >= {
        "rostering_person",
        "accounts_user",
        "socialaccount_socialaccount",
        "sso_accountlink",
        "matching_matchaudit",
        "lms_result",
        "lms_lmscourse",
        "django_admin_log",
        "districts_districtaudit",
        "account_emailaddress",
    }
    return child


def test_the_purge_leaves_the_childs_name_in_no_row_of_any_table(
    sandbox_app, browser, portal_launch, staff_user, settings
):
    world = _planted_world()
    child = _plant_everywhere(world, browser, portal_launch, staff_user)
    district, account_id = world.district, child.user_id
    logins_before = CleverLogin.objects.filter(clever_district_id=district.clever_id).count()
    assert logins_before >= 2

    _leave(world)
    District.objects.filter(pk=district.pk).update(
        departed_at=timezone.now() - timedelta(days=settings.ROSTER_RETENTION_DAYS + 1)
    )
    result = rostering_tasks.purge_expired_rosters.delay().get()

    assert result == {"purged": [district.pk], "failed": []}
    assert _rows_containing(FIRST, LAST, EMAIL) == []
    assert _sessions_containing(FIRST, LAST, EMAIL) == 0
    account = User.objects.get(pk=account_id)  # kept, so what refers to it still does
    assert not account.is_active and account.username == f"clever-{world.child['id']}"
    assert not User.objects.filter(pk__in=[account_id], first_name__gt="").exists()
    assert not Person.objects.filter(district=district).exists()
    assert not Result.objects.exists() and not PersonMatch.objects.filter(district=district).exists()
    assert not CleverLogin.objects.filter(clever_district_id=district.clever_id).exists()
    # The Clever link keeps IDs and roles: the same account comes back if she does.
    link = SocialAccount.objects.get(uid=world.child["id"])
    assert link.user_id == account_id and link.extra_data["roles"] == ["student"]
    # Audits keep IDs and counts, not words.
    assert AccountLink.objects.filter(clever_id=world.child["id"]).count() >= 2
    assert MatchAudit.objects.filter(clever_id=world.child["id"]).exists()
    audit = DistrictAudit.objects.get(district=district, action=DistrictAudit.Action.PURGED)
    erased = audit.details["deleted"]["erased"]
    assert erased["login_records"] == logins_before and erased["accounts_anonymized"] >= 1
    assert audit.details["deleted"]["accounts_deactivated"] == 0  # the departure had done it
    assert LogEntry.objects.filter(object_id=str(child.pk)).get().object_repr == "(removed)"


def test_departure_archives_and_deactivates_at_once_and_a_return_restores_the_same_rows(
    sandbox_app, browser, portal_launch
):
    world = _planted_world()
    district = world.district
    _sync(district)
    people = dict(Person.objects.filter(district=district).values_list("clever_id", "pk"))
    accounts = dict(Person.objects.filter(district=district).values_list("clever_id", "user_id"))
    portal_launch(browser, world.child["id"])
    assert browser.user_id() is not None

    _leave(world)

    assert not Person.objects.filter(district=district, archived_at__isnull=True).exists()
    assert not Section.objects.filter(district=district, archived_at__isnull=True).exists()
    assert not User.objects.filter(pk__in=accounts.values(), is_active=True).exists()
    page = browser.go("/account/")  # her session ended, and she is told why
    assert page.status_code == 401 and b"no longer shares" in page.content
    assert browser.user_id() is None
    # Nobody of the district signs in while it does not share (Clever itself refuses too).
    assert portal_launch(browser, world.teacher["id"]).status_code == 400
    assert browser.user_id() is None

    sandbox.reconnect_district(district=world.sandbox_district)
    assert district_services.discover_districts()["reconnected"] == [world.sandbox_district.id]

    assert (
        dict(
            Person.objects.filter(district=district, archived_at__isnull=True).values_list("clever_id", "pk")
        )
        == people
    )
    assert not User.objects.filter(pk__in=accounts.values(), is_active=False).exists()
    section = Section.objects.get(district=district, clever_id=world.section["id"])
    assert section.archived_at is None and section.memberships.count() == 4  # whole class
    portal_launch(browser, world.child["id"])
    assert str(browser.user_id()) == str(accounts[world.child["id"]])
    again = _sync(district)
    assert again.counts["created"].get("users", 0) == 0
    assert again.totals["students"] == 4


def test_a_revoked_district_is_archived_at_once_and_purged_on_the_same_clock(sandbox_app, settings):
    world = _planted_world()
    district = world.district
    _sync(district)
    district_services.set_status(
        district=district,
        status=DistrictStatus.REVOKED,
        actor_label="sync: 401",
        reason="Clever refused the token",
    )
    district.refresh_from_db()
    assert district.departed_at is not None
    assert not Person.objects.filter(district=district, archived_at__isnull=True).exists()
    assert not User.objects.filter(clever_people__district=district, is_active=True).exists()

    assert rostering_tasks.purge_expired_rosters.delay().get()["purged"] == []
    District.objects.filter(pk=district.pk).update(
        departed_at=timezone.now() - timedelta(days=settings.ROSTER_RETENTION_DAYS + 1)
    )
    assert rostering_tasks.purge_expired_rosters.delay().get()["purged"] == [district.pk]
    assert not Person.objects.filter(district=district).exists()


def test_a_library_only_district_is_purged_when_no_teacher_signed_in_for_the_window(sandbox_app, settings):
    quiet = District.objects.create(
        clever_id=new_id(), name="Quiet Library", library_only=True, sync_enabled=False
    )
    busy = District.objects.create(
        clever_id=new_id(), name="Busy Library", library_only=True, sync_enabled=False
    )
    long_ago = timezone.now() - timedelta(days=settings.ROSTER_RETENTION_DAYS + 1)
    District.objects.filter(pk=quiet.pk).update(last_seen_at=long_ago, discovered_at=long_ago)
    District.objects.filter(pk=busy.pk).update(last_seen_at=timezone.now(), discovered_at=long_ago)

    assert rostering_tasks.purge_expired_rosters.delay().get()["purged"] == [quiet.pk]
    assert rostering_tasks.purge_expired_rosters.delay().get()["purged"] == []  # once per clock


def test_a_sync_finishing_after_the_district_left_applies_nothing(sandbox_app, monkeypatch):
    world = _planted_world()
    district = world.district
    _sync(district)
    sandbox.update_record(clever_id=world.child["id"], changes={"name": {"first": "Renamed", "last": LAST}})
    from rostering.services import sync as sync_module

    original = sync_module.apply_sql.refresh_staging_stats

    def leave_then_continue():
        district_services.set_status(
            district=district,
            status=DistrictStatus.DISCONNECTED,
            actor_label="test",
            reason="left during the run",
        )
        original()

    monkeypatch.setattr(sync_module.apply_sql, "refresh_staging_stats", leave_then_continue)
    run = run_sync(district=district, kind="full", trigger=SyncRun.Trigger.MANUAL)

    assert run.status == SyncRun.Status.FAILED and "stopped sharing" in run.error
    child = Person.objects.get(district=district, clever_id=world.child["id"])
    assert child.archived_at is not None and child.first_name == FIRST


def test_purging_twice_is_harmless_and_the_district_can_come_back(sandbox_app, browser, portal_launch):
    world = _planted_world()
    district = world.district
    _sync(district)
    portal_launch(browser, world.child["id"])
    account_id = Person.objects.get(district=district, clever_id=world.child["id"]).user_id
    _leave(world)
    purge_district_roster(district=district, actor_label="test")
    purge_district_roster(district=district, actor_label="test")

    sandbox.reconnect_district(district=world.sandbox_district)
    district_services.discover_districts()
    _sync(district)
    child = Person.objects.get(district=district, clever_id=world.child["id"])
    assert child.user_id == account_id  # the same account, filled again from Clever
    assert User.objects.get(pk=account_id).first_name == FIRST
    assert User.objects.get(pk=account_id).is_active


def test_the_purge_command_refuses_a_sharing_district_and_purges_a_departed_one(sandbox_app):
    world = _planted_world()
    district = world.district
    _sync(district)
    with pytest.raises(CommandError, match="disconnect it first"):
        call_command("purge_district", district.clever_id, "--reason", "written request")
    _leave(world)
    out = StringIO()
    call_command("purge_district", district.clever_id, "--reason", "written request", "--json", stdout=out)

    assert json.loads(out.getvalue())["users"] == 7
    audit = DistrictAudit.objects.get(district=district, action=DistrictAudit.Action.PURGED)
    assert audit.actor_label == "command: written request"
    with pytest.raises(CommandError, match="no district"):
        call_command("purge_district", "000000000000000000000000", "--reason", "x")


def test_a_library_sign_in_restarts_the_library_districts_clock(
    library, browser, other_browser, portal_launch, settings
):
    portal_launch(browser, library.teacher["id"])
    district = District.objects.get(clever_id=library.sandbox_district.id)
    assert district.library_only and district.last_seen_at is not None
    long_ago = timezone.now() - timedelta(days=settings.ROSTER_RETENTION_DAYS + 1)
    District.objects.filter(pk=district.pk).update(last_seen_at=long_ago, discovered_at=long_ago)

    portal_launch(other_browser, library.teacher["id"])  # signs in again, two months later

    district.refresh_from_db()
    assert district.last_seen_at > long_ago
    assert rostering_tasks.purge_expired_rosters.delay().get()["purged"] == []
