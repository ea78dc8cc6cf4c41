"""Product accounts for the people of a district linked to an organization."""

from __future__ import annotations

import pytest
from django.contrib.auth.hashers import is_password_usable

from accounts.models import Organization, User
from rostering.models import Person, SyncRun
from rostering.services import provisioning
from rostering.services.sync import run_sync
from sandbox import services as sandbox_services
from tests.rostering.conftest import connect

SCHOOL = "5b0000000000000000000001"


def user(clever_id: str, first: str, last: str, roles: dict, email: str | None = None) -> dict:
    record = {"id": clever_id, "name": {"first": first, "last": last}, "roles": roles}
    if email is not None:
        record["email"] = email
    return record


PEOPLE = [
    user(
        "5b0000000000000000000101",
        "Ada",
        "Pupil",
        {"student": {"school": SCHOOL, "schools": [SCHOOL], "sis_id": "1"}},
        "ada@example.org",
    ),
    user(
        "5b0000000000000000000102",
        "Ben",
        "Pupil",
        {"student": {"school": SCHOOL, "schools": [SCHOOL], "sis_id": "2"}},
        "ben-at-example",
    ),
    user(
        "5b0000000000000000000103",
        "Cy",
        "Boss",
        {
            "teacher": {"school": SCHOOL, "schools": [SCHOOL], "sis_id": "T1"},
            "staff": {"schools": [SCHOOL], "staff_id": "E1"},
            "district_admin": {"title": "Superintendent"},
        },
        "cy@example.org",
    ),
    user(
        "5b0000000000000000000104",
        "Dee",
        "Parent",
        {
            "contact": {
                "student_relationships": [
                    {"student": "5b0000000000000000000101", "relationship": "Parent", "type": "Primary"}
                ]
            }
        },
    ),
]


@pytest.fixture
def linked(db, sandbox_app):
    sandbox_district = sandbox_services.create_district(name="Accounts USD")
    sandbox_services.bulk_load(
        district=sandbox_district,
        items=[
            ("schools", {"id": SCHOOL, "name": "Accounts School"}),
            *[("users", person) for person in PEOPLE],
        ],
    )
    organization = Organization.objects.create(name="Accounts USD (customer)")
    district = connect(
        sandbox_district,
        organization=organization,
        guard_max_deleted_fraction=1.0,
        guard_max_changed_fraction=1.0,
    )
    return sandbox_district, district, organization


def test_every_live_person_gets_exactly_one_account(linked, client):
    _, district, organization = linked

    run = run_sync(district=district, client=client)

    assert run.status == SyncRun.Status.SUCCEEDED, run.error
    people = Person.objects.filter(district=district).select_related("user")
    assert people.count() == 4
    assert User.objects.filter(organization=organization).count() == 4
    for person in people:
        account = person.user
        assert account.username == f"clever-{person.clever_id}"
        assert (account.first_name, account.last_name) == (person.first_name, person.last_name)
        assert account.organization == organization and account.is_active
        assert not is_password_usable(account.password)
        assert not account.is_staff and not account.is_superuser
    by_id = {p.clever_id: p.user for p in people}
    assert by_id["5b0000000000000000000101"].email == "ada@example.org"
    assert by_id["5b0000000000000000000102"].email == ""  # no "@": not an email
    # The teacher who is also staff and district admin has one account.
    boss = Person.objects.get(clever_id="5b0000000000000000000103")
    assert set(boss.roles) == {"teacher", "staff", "district_admin"}
    assert User.objects.filter(username="clever-5b0000000000000000000103").count() == 1

    # A resync creates nobody new.
    run_sync(district=district, kind="full", client=client)
    assert User.objects.filter(organization=organization).count() == 4


def test_archiving_deactivates_and_restoring_reactivates_the_same_account(linked, client):
    sandbox_district, district, _ = linked
    run_sync(district=district, client=client)
    person = Person.objects.get(clever_id="5b0000000000000000000101")
    account_id = person.user_id

    record = sandbox_services.delete_record(clever_id=person.clever_id)
    run_sync(district=district, kind="full", client=client)

    account = User.objects.get(pk=account_id)
    assert not account.is_active  # deactivated, never deleted
    assert Person.objects.get(pk=person.pk).archived_at is not None

    sandbox_services.put_record(district=sandbox_district, record_type="users", data=record)
    run = run_sync(district=district, kind="full", client=client)

    assert run.counts["restored"]["users"] == 1
    again = Person.objects.get(pk=person.pk)
    assert again.archived_at is None and again.user_id == account_id
    assert User.objects.get(pk=account_id).is_active
    assert User.objects.filter(username=f"clever-{person.clever_id}").count() == 1


def test_a_renamed_person_renames_the_account(linked, client):
    _, district, _ = linked
    run_sync(district=district, client=client)
    sandbox_services.update_record(
        clever_id="5b0000000000000000000102",
        changes={"name": {"first": "Benjamin", "last": "Pupil"}, "email": "ben@example.org"},
    )

    run_sync(district=district, kind="full", client=client)

    account = User.objects.get(username="clever-5b0000000000000000000102")
    assert (account.first_name, account.email) == ("Benjamin", "ben@example.org")


def test_an_unlinked_district_provisions_nobody(linked, client):
    _, district, _ = linked
    district.organization = None
    district.save()

    run_sync(district=district, client=client)

    assert Person.objects.filter(district=district).count() == 4
    assert not Person.objects.filter(district=district, user__isnull=False).exists()
    assert not User.objects.filter(username__startswith="clever-").exists()


def test_linking_later_provisions_everyone_on_the_next_sync(linked, client):
    _, district, organization = linked
    district.organization = None
    district.save()
    run_sync(district=district, client=client)

    district.organization = organization
    district.save()
    run_sync(district=district, client=client)

    assert not Person.objects.filter(district=district, user__isnull=True).exists()


# What ``found_by_the_seam`` answers (set by the test that names it in settings).
SEAM = {"asked": [], "existing": None}


def found_by_the_seam(people):
    SEAM["asked"].extend(person.clever_id for person in people)
    return {
        person.pk: SEAM["existing"] for person in people if person.clever_id == "5b0000000000000000000101"
    }


def test_an_existing_account_found_by_matching_is_linked_not_duplicated(linked, client, settings):
    _, district, organization = linked
    existing = User.objects.create_user("ada.existing", organization=organization)
    SEAM.update(asked=[], existing=existing)
    asked = SEAM["asked"]
    settings.ROSTERING_EXISTING_USERS = f"{__name__}.found_by_the_seam"

    run_sync(district=district, client=client)

    assert sorted(asked) == sorted(p["id"] for p in PEOPLE)  # asked before creating
    assert Person.objects.get(clever_id="5b0000000000000000000101").user == existing
    assert not User.objects.filter(username="clever-5b0000000000000000000101").exists()
    assert User.objects.filter(organization=organization).count() == 4
    # Names of a matched account are its owner's business.
    sandbox_services.update_record(
        clever_id="5b0000000000000000000101", changes={"name": {"first": "Adele", "last": "Pupil"}}
    )
    run_sync(district=district, kind="full", client=client)
    existing.refresh_from_db()
    assert existing.first_name == ""


def test_without_a_seam_nobody_has_an_account_yet(linked, settings):
    settings.ROSTERING_EXISTING_USERS = ""
    person = Person(pk=1, clever_id="5b0000000000000000000101", first_name="Ada")
    assert provisioning.find_existing_users([person]) == {}
