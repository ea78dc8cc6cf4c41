"""Fixtures for matching's Django side: a generated sandbox district synced for real into a
district linked to an organization, and product people made from some of its Clever people
(exact copies, copies with a nickname and no IDs, people Clever does not have); for the
district-linking tests, ``maple`` (an unlinked Clever district) and ``maple_org`` (an
organization and its admin), made with helpers.py. ``support`` is tests/conftest.py's."""

from __future__ import annotations

import pytest

from accounts.factories import OrganizationFactory, UserFactory
from districts.models import District
from rostering.models import Person, SyncRun
from rostering.selectors import dates_of_birth
from sandbox.generator.districts import generate_district, load_district
from tests.conftest import sync

from .helpers import clever_district, organization_with_admin


@pytest.fixture
def synced(db, sandbox_app):
    """A synced 120-student district linked to an organization (the sync provisioned
    ``clever-*`` accounts for everyone)."""
    generated = load_district(generate_district(seed=21, students=120))
    organization = OrganizationFactory(name="Maple Valley Schools")
    district = District.objects.create(clever_id=generated.id, name=generated.name, organization=organization)
    assert sync(district).status == SyncRun.Status.SUCCEEDED
    return district


@pytest.fixture
def maple(db, sandbox_app):
    """Maple Valley Unified: a Clever district (admin, teacher, school), not linked yet."""
    return clever_district("Maple Valley Unified", nces_id="0612345", us_state="CA")


@pytest.fixture
def maple_org(db):
    """Maple Valley Schools and its organization admin: ``(organization, admin)``."""
    return organization_with_admin("Maple Valley Schools", username="maple-admin", state="CA")


def students(district: District) -> list[Person]:
    """Live students with a SIS ID and a date of birth."""
    people = list(
        Person.objects.filter(district=district, is_student=True, archived_at__isnull=True)
        .exclude(student_sis_id="")
        .order_by("clever_id")
    )
    born = dates_of_birth(people)
    return [person for person in people if born[person.pk]]


def date_of_birth(person: Person):
    """The Clever date of birth (kept encrypted by the mirror)."""
    return dates_of_birth([person])[person.pk]


def product_copy(person: Person, **overrides):
    """The product's own record of a Clever student, as its roster import had it: no password
    and no permissions, so matching may link it on its own (tests/security covers the others)."""
    values = dict(
        username=f"product-{person.clever_id}",
        first_name=person.first_name,
        last_name=person.last_name,
        password=None,
        email="",
        organization=person.district.organization,
        role="student",
        sis_id=person.student_sis_id,
        student_number=person.student_number,
        date_of_birth=date_of_birth(person),
        grade=person.grade,
    )
    values.update(overrides)
    return UserFactory(**values)
