"""Helpers for the district-linking tests (test_linking*.py): Clever districts with a district
admin, organizations with an admin, rows of the mirror, a browser signed in as someone, and the
organization admin's districts page. The ``maple``/``maple_org`` fixtures built from them are in
conftest.py."""

from __future__ import annotations

from types import SimpleNamespace

from accounts.factories import OrganizationEmailDomainFactory, OrganizationFactory, UserFactory
from districts.models import District
from rostering.models import Person
from rostering.models import School as CleverSchool
from sandbox import services as sandbox
from sandbox.ids import new_id
from tests.sso.conftest import Browser, user_record

PAGE = "/organization/districts/"


def clever_district(name: str, *, nces_id: str = "", mdr_number: str = "", us_state: str = ""):
    """A sandbox district with a district admin, a teacher and a school; our unlinked District."""
    sd = sandbox.create_district(name=name)
    school = sandbox.put_record(
        district=sd, record_type="schools", data={"id": new_id(), "name": f"{name} High"}
    )
    sid = school["id"]
    slug = name.split()[0].lower()
    admin = user_record(
        sd, first="Dana", last="Admin", email=f"dana@{slug}.k12.example.us", roles={"district_admin": {}}
    )
    teacher = user_record(
        sd,
        first="Tom",
        last="Teacher",
        email=f"tom@{slug}.k12.example.us",
        roles={"teacher": {"school": sid, "schools": [sid]}},
    )
    district = District.objects.create(
        clever_id=sd.id,
        name=name,
        nces_id=nces_id,
        mdr_number=mdr_number,
        us_state=us_state,
        sync_enabled=False,
    )
    return SimpleNamespace(sandbox=sd, district=district, admin=admin, teacher=teacher, school=school)


def organization_with_admin(
    name: str, *, username: str, state: str = "", nces_leaid: str = "", mdr_number: str = "", domains=()
):
    organization = OrganizationFactory(name=name, state=state, nces_leaid=nces_leaid, mdr_number=mdr_number)
    for domain in domains:
        OrganizationEmailDomainFactory(organization=organization, domain=domain)
    admin = UserFactory(username=username, organization=organization, is_organization_admin=True)
    return organization, admin


def mirror_school(district: District, *, name: str, city: str = "", us_state: str = "") -> CleverSchool:
    return CleverSchool.objects.create(
        district=district,
        clever_id=new_id(),
        content_hash="x",
        raw={},
        name=name,
        city=city,
        us_state=us_state,
    )


def mirror_person(district: District, *, email: str = "", user=None, **roles) -> Person:
    return Person.objects.create(
        district=district,
        clever_id=new_id(),
        content_hash="x",
        raw={},
        first_name="P",
        last_name="Q",
        email=email,
        user=user,
        **roles,
    )


def signed_in(user) -> Browser:
    browser = Browser()
    browser.client.force_login(user)
    return browser
