"""Purging a district's roster and deleting a district are set-based (``core.deletion``): a few
statements, whatever the district's size, none binding a parameter per row.

The large district has more people and memberships than SQLite binds parameters in one
statement (32,766 on Debian's SQLite 3.40): a delete that sent their IDs back as parameters, as
Django's collector does, would fail on it, and one that went row by row would show in the
statement count, which must equal a small district's.
"""

from __future__ import annotations

import pytest
from django.db import models
from django.db.models.signals import pre_delete
from django.test import Client
from django.test.utils import isolate_apps
from django.urls import reverse

from accounts.factories import UserFactory
from accounts.models import User
from core.deletion import UnsupportedDeletion, delete_cascading, plan
from districts.models import District, DistrictAudit, DistrictStatus
from districts.services import delete_district
from lms.factories import AssignmentFactory, ResultFactory
from lms.models import Assignment, LmsCourse, Result
from rostering.models import (
    ChangeHold,
    ContactLink,
    Course,
    Person,
    School,
    Section,
    SectionMembership,
    StagedRecord,
    SyncRun,
    Term,
)
from rostering.services.lifecycle import purge_district_roster
from sso.models import AccountLink
from tests.rostering.conftest import held_by_another_process
from tests.set_based import insert_numbered, measured

pytestmark = pytest.mark.django_db

LARGE = {"people": 35_000, "memberships": 40_000}
SMALL = {"people": 30, "memberships": 40}
PER_SECTION = 25
# The most statements a purge, a deletion (a purge first) and the admin's "are you sure?" page
# (a COUNT per kind of row) may send, and the most parameters any may bind.
MAX_PURGE_STATEMENTS = 70
MAX_DELETE_STATEMENTS = 130
MAX_CONFIRMATION_STATEMENTS = 40
MAX_PARAMETERS = 100


def build_district(clever_id: str, *, people: int, memberships: int) -> District:
    """A district that stopped sharing, with a mirror of ``people`` students in sections of 25
    (``memberships`` in all), a contact, a held run with staged rows, an audit, and what other
    apps keep about its people: an account made for one, an LMS assignment with a result, a
    sign-in link audit, an LMS course."""
    district = District.objects.create(
        clever_id=clever_id, name=f"District {clever_id}", status=DistrictStatus.DISCONNECTED
    )
    School.objects.create(district=district, clever_id=f"{clever_id}-school", name="High")
    Term.objects.create(district=district, clever_id=f"{clever_id}-term", name="Fall")
    Course.objects.create(district=district, clever_id=f"{clever_id}-course", name="Algebra")
    sections = -(-memberships // PER_SECTION)
    insert_numbered(Section, sections, {"clever_id": f"'{clever_id}-s' || n"}, district=district.pk)
    insert_numbered(
        Person,
        people,
        {"clever_id": f"'{clever_id}-p' || n"},
        district=district.pk,
        first_name="Ada",
        is_student=True,
    )
    section = (
        f"(SELECT id FROM {Section._meta.db_table} WHERE district_id = {district.pk} "
        f"AND clever_id = '{clever_id}-s' || (n / {PER_SECTION}))"
    )
    insert_numbered(
        SectionMembership,
        memberships,
        {"section": section, "person_clever_id": f"'{clever_id}-p' || (n - {people} * (n / {people}))"},
        district=district.pk,
        role=SectionMembership.Role.STUDENT,
    )
    first_section = Section.objects.get(district=district, clever_id=f"{clever_id}-s0")
    teacher = Person.objects.get(district=district, clever_id=f"{clever_id}-p0")
    student = Person.objects.get(district=district, clever_id=f"{clever_id}-p1")
    ContactLink.objects.create(district=district, contact=teacher, student_clever_id=student.clever_id)
    student.user = UserFactory(
        username=f"clever-{student.clever_id}", made_for_clever_id=student.clever_id, organization=None
    )
    student.save(update_fields=["user"])
    run = SyncRun.objects.create(district=district, kind="full", status=SyncRun.Status.HELD)
    ChangeHold.objects.create(run=run, samples={"users": ["Ada"]})
    StagedRecord.objects.bulk_create(
        StagedRecord(run=run, record_type="users", clever_id=f"{clever_id}-p{n}", data={}) for n in range(3)
    )
    DistrictAudit.objects.create(district=district, action=DistrictAudit.Action.STATUS_CHANGED)
    ResultFactory(assignment=AssignmentFactory(section=first_section), student=student)
    AccountLink.objects.create(action="linked", method="staff", clever_id=student.clever_id, person=student)
    course = LmsCourse.objects.create(
        district=district, deployment_id="1", context_id=clever_id, section=first_section, linked_by=teacher
    )
    course.teachers_seen.add(teacher)
    return district


def rows_of(district: District) -> dict[str, int]:
    """How many rows of each kind refer to ``district`` (directly or through its mirror)."""
    mirror = {
        model.__name__: model.objects.filter(district=district).count()
        for model in (
            Person,
            Section,
            SectionMembership,
            ContactLink,
            School,
            Term,
            Course,
            SyncRun,
            DistrictAudit,
        )
    }
    return {
        **mirror,
        "StagedRecord": StagedRecord.objects.filter(run__district=district).count(),
        "Assignment": Assignment.objects.filter(section__district=district).count(),
        "Result": Result.objects.filter(student__district=district).count(),
        "LmsCourse": LmsCourse.objects.filter(district=district).count(),
        "linked AccountLink": AccountLink.objects.filter(person__district=district).count(),
    }


def assert_set_based(large: tuple, small: tuple, *, at_most: int) -> None:
    """The large district's statements: as many as the small one's, at most ``at_most``, none
    with many parameters."""
    (large_statements, large_bound), (small_statements, _) = large, small
    assert len(large_statements) == len(small_statements) <= at_most
    assert max(large_bound) <= MAX_PARAMETERS


@pytest.fixture
def districts():
    """(large, small): the small one is built to compare with, and must be left untouched."""
    return build_district("large", **LARGE), build_district("small", **SMALL)


def test_purge_deletes_a_district_larger_than_sqlites_variable_limit_set_based(districts):
    large, small = districts
    small_rows = rows_of(small)
    account = User.objects.get(username="clever-large-p1")

    with measured() as large_measure:
        result = purge_district_roster(district=large, actor_label="retention: 60 days")

    assert result["users"] == LARGE["people"] and result["memberships"] == LARGE["memberships"]
    assert result["sections"] == LARGE["memberships"] // PER_SECTION
    assert (result["contact_links"], result["schools"], result["terms"], result["courses"]) == (1, 1, 1, 1)
    assert result["staged"] == 3 and result["holds_discarded"] == 1
    assert result["accounts_deactivated"] == 1 and result["erased"]["accounts_anonymized"] == 1
    audit = DistrictAudit.objects.get(district=large, action=DistrictAudit.Action.PURGED)
    assert audit.details["deleted"]["users"] == LARGE["people"]
    assert audit.details["deleted"]["memberships"] == LARGE["memberships"]
    # Gone with the people and sections: the LMS assignment and result; the sign-in link audit
    # stays, unlinked from the person. Sync history and audits stay (a purge keeps them).
    gone = rows_of(large)
    assert gone == {**dict.fromkeys(gone, 0), "SyncRun": 1, "DistrictAudit": 2}
    assert AccountLink.objects.filter(clever_id="large-p1", person=None).exists()
    account.refresh_from_db()
    assert (account.first_name, account.email, account.is_active) == ("", "", False)
    assert rows_of(small) == small_rows

    with measured() as small_measure:
        purge_district_roster(district=small, actor_label="retention: 60 days")
    assert_set_based(large_measure, small_measure, at_most=MAX_PURGE_STATEMENTS)


def test_deleting_a_district_larger_than_sqlites_variable_limit_is_set_based(districts):
    large, small = districts
    small_rows = rows_of(small)

    with measured() as large_measure:
        result = delete_district(district=large)

    assert not District.objects.filter(pk=large.pk).exists()
    assert result["deleted"]["districts.District"] == 1
    assert result["deleted"]["rostering.SyncRun"] == 1
    purged = result["erased"]["rostering.services.lifecycle.purge_deleted_district"]
    assert purged["users"] == LARGE["people"] and purged["memberships"] == LARGE["memberships"]
    for model in (Person, Section, SectionMembership, ContactLink, School, Term, Course):
        assert not model.objects.filter(district_id=large.pk).exists()
    assert not StagedRecord.objects.filter(run__district_id=large.pk).exists()
    assert not ChangeHold.objects.filter(run__district_id=large.pk).exists()
    assert not LmsCourse.objects.filter(district_id=large.pk).exists()
    # The account made for a person stays, emptied and inactive, as after a purge.
    account = User.objects.get(username="clever-large-p1")
    assert (account.first_name, account.email, account.is_active) == ("", "", False)
    assert AccountLink.objects.filter(clever_id="large-p1", person=None).exists()
    assert rows_of(small) == small_rows

    with measured() as small_measure:
        delete_district(district=small)
    assert_set_based(large_measure, small_measure, at_most=MAX_DELETE_STATEMENTS)


def test_the_admin_deletes_a_large_district_through_the_service(districts):
    large, small = districts
    small_rows = rows_of(small)
    client = Client()
    client.force_login(UserFactory(is_staff=True, is_superuser=True, organization=None))
    url = reverse("admin:districts_district_delete", args=[large.pk])

    with measured() as (asking, _):
        page = client.get(url)
    # "Are you sure?" counts rows per kind instead of listing them (memberships, reached through
    # their section and their person, once each) and says what else happens.
    assert page.status_code == 200
    counts = dict(page.context["model_count"])
    assert counts["people"] == LARGE["people"] and counts["section memberships"] == LARGE["memberships"]
    assert counts["districts"] == 1
    assert "large-p1" not in page.content.decode()
    assert "roster is purged first" in page.content.decode()
    assert len(asking) <= MAX_CONFIRMATION_STATEMENTS

    with measured() as large_measure:
        response = client.post(url, {"post": "yes"})
    assert response.status_code == 302
    assert not District.objects.filter(pk=large.pk).exists()
    assert not Person.objects.filter(district_id=large.pk).exists()
    assert not SectionMembership.objects.filter(district_id=large.pk).exists()
    assert rows_of(small) == small_rows

    with measured() as small_measure:
        client.post(reverse("admin:districts_district_delete", args=[small.pk]), {"post": "yes"})
    assert not District.objects.filter(pk=small.pk).exists()
    assert_set_based(large_measure, small_measure, at_most=MAX_DELETE_STATEMENTS)


def test_the_admin_deletes_only_departed_districts_and_only_for_superusers(support_user):
    departed = build_district("departed", **SMALL)
    sharing = build_district("sharing", **SMALL)
    District.objects.filter(pk=sharing.pk).update(status=DistrictStatus.CONNECTED)
    superuser = UserFactory(is_staff=True, is_superuser=True, organization=None)
    client = Client()
    client.force_login(support_user)
    assert client.get(reverse("admin:districts_district_delete", args=[departed.pk])).status_code == 403
    client.force_login(superuser)
    response = client.post(reverse("admin:districts_district_delete", args=[sharing.pk]), {"post": "yes"})
    assert response.status_code == 403
    assert District.objects.filter(pk=sharing.pk).exists()
    # No bulk deletion: one district at a time, from its page.
    changelist = client.get(reverse("admin:districts_district_changelist"))
    assert "delete_selected" not in changelist.content.decode()


def test_the_admin_keeps_a_district_whose_sync_still_runs():
    """A sync begun before the district departed may still run: the deletion is refused, with
    a message, and nothing is deleted."""
    district = build_district("syncing", **SMALL)
    running = SyncRun.objects.create(district=district, kind="full", status=SyncRun.Status.RUNNING)
    client = Client()
    client.force_login(UserFactory(is_staff=True, is_superuser=True, organization=None))

    with held_by_another_process(running):
        response = client.post(
            reverse("admin:districts_district_delete", args=[district.pk]), {"post": "yes"}, follow=True
        )

    assert "The district was not deleted" in response.content.decode()
    assert response.redirect_chain[0][0] == reverse("admin:districts_district_change", args=[district.pk])
    assert rows_of(district)["Person"] == SMALL["people"]


# --- the plan ----------------------------------------------------------------------------------


def relations_reaching(model: type[models.Model]) -> set[tuple[str, str, str]]:
    """Every (model, foreign key, on_delete) that refers to ``model``'s rows, directly or through
    rows a cascade deletes, read from ``_meta`` (hidden relations, ``related_name="+"``, too)."""
    found = set()
    for relation in model._meta.get_fields(include_hidden=True):
        if relation.auto_created and not relation.concrete and (relation.one_to_many or relation.one_to_one):
            key = relation.field
            found.add((key.model._meta.label, key.name, relation.on_delete.__name__))
            if relation.on_delete is models.CASCADE:
                found |= relations_reaching(key.model)
    return found


def planned(model: type[models.Model]) -> set[tuple[str, str, str]]:
    return {
        (step.path[0].model._meta.label, step.path[0].name, "SET_NULL" if step.set_null else "CASCADE")
        for step in plan(model)
        if step.path
    }


@pytest.mark.parametrize(
    "model", [District, Person, Section, SectionMembership, ContactLink, School, Term, Course, StagedRecord]
)
def test_the_plan_handles_every_relation_to_the_rows_it_deletes(model):
    """A model added later with a foreign key to a district's rows is deleted or unlinked with
    them; one the set-based delete cannot honour (``PROTECT``...) makes ``plan`` raise."""
    assert planned(model) == relations_reaching(model)


def test_the_plan_reaches_what_other_apps_keep_about_a_districts_people():
    relations = planned(District)
    for relation in [
        ("lms.Result", "student", "CASCADE"),
        ("lms.Result", "assignment", "CASCADE"),
        ("lms.LmsCourse_teachers_seen", "person", "CASCADE"),
        ("lms.LmsCourse", "section", "SET_NULL"),
        ("sso.AccountLink", "person", "SET_NULL"),
        ("matching.PersonMatch", "person", "SET_NULL"),
        ("rostering.StagedRecord", "run", "CASCADE"),
    ]:
        assert relation in relations
    steps = plan(District)
    order = [step.model for step in steps if not step.set_null]
    assert order.index(Result) < order.index(Assignment) < order.index(Section) < order.index(District)
    assert order.index(SectionMembership) < order.index(Section) and order[-1] is District


@isolate_apps("core")
def test_relations_a_set_based_delete_cannot_honour_are_refused():
    class Parent(models.Model):  # noqa: DJ008 - never shown
        class Meta:
            app_label = "core"

    class Child(models.Model):  # noqa: DJ008 - never shown
        parent = models.ForeignKey(Parent, on_delete=models.CASCADE)

        class Meta:
            app_label = "core"

    class Guarded(models.Model):  # noqa: DJ008 - never shown
        child = models.ForeignKey(Child, on_delete=models.PROTECT)

        class Meta:
            app_label = "core"

    with pytest.raises(UnsupportedDeletion, match=r"core\.Guarded\.child is PROTECT"):
        plan(Parent)
    with pytest.raises(UnsupportedDeletion, match=r"core\.Guarded\.child is PROTECT"):
        delete_cascading(Parent.objects.all())

    def receiver(**kwargs):
        pass

    pre_delete.connect(receiver, sender=Guarded)
    try:
        with pytest.raises(UnsupportedDeletion, match="signal receivers"):
            plan(Guarded)
    finally:
        pre_delete.disconnect(receiver, sender=Guarded)
