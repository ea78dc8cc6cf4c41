"""Issue #12, children's sensitive and demographic fields: one list (``clever.sensitive``), never
in ``raw``, in a column or in clear anywhere else the app stores Clever users, encrypted where
kept, shown in the admin only with the "view sensitive fields" permission, each view logged.

The values are real sandbox values: a generated district (which serves dates of birth, gender,
race, ethnicity, home addresses, district ``ext`` fields, the v3.1 program fields and parents'
phones, as Clever does) synced for real into a district that stores sensitive fields, linked to
an organization whose product roster has a vague copy of one student, so the review queue puts
the two side by side.
"""

from __future__ import annotations

import copy
import hashlib
import json
import logging
from dataclasses import asdict
from datetime import date
from pathlib import Path

import pytest
from allauth.socialaccount.models import SocialAccount
from django.contrib.auth.models import Group, Permission
from django.test import Client
from django.urls import reverse
from django.utils import formats

from accounts.factories import OrganizationFactory, UserFactory
from clever.sensitive import BY_PATH, DATE_OF_BIRTH, SENSITIVE_FIELDS, pop_listed
from core.admin import SUPPORT_GROUP
from districts.models import District
from matching import services as matching
from matching.models import PersonMatch
from matching.selectors import clever_record, compared_digest, product_record
from rostering import tasks
from rostering.models import Person, StagedRecord, SyncRun
from rostering.selectors import decrypted_fields
from sandbox.generator.districts import generate_district, load_district
from sandbox.models import SandboxRecord
from sso.models import CleverLogin
from tests.matching.conftest import product_copy
from tests.sandbox.swagger import load_spec
from tests.sso.conftest import user_record

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[2]

SENSITIVE_CODENAME = "view_sensitive_fields"


@pytest.fixture
def district(sandbox_app):
    generated = load_district(generate_district(seed=1212, students=80))
    district = District.objects.create(
        clever_id=generated.id,
        name=generated.name,
        store_sensitive_fields=True,
        organization=OrganizationFactory(name="Cedar Grove Schools"),
    )
    result = tasks.sync_district.delay(district_id=district.pk, kind="full", trigger="manual").get()
    assert SyncRun.objects.get(pk=result["run"]).status == SyncRun.Status.SUCCEEDED
    return district


def served_users(district) -> dict[str, dict]:
    return {
        clever_id: json.loads(body)
        for clever_id, body in SandboxRecord.objects.filter(
            district_id=district.clever_id, record_type="users"
        ).values_list("clever_id", "body")
    }


def listed_of(record: dict) -> dict:
    return pop_listed(copy.deepcopy(record)) or {}


@pytest.fixture
def student(district) -> tuple[Person, dict]:
    """A student whose record carries the listed fields with values worth looking for, and
    those values as Clever sent them ({path: value})."""
    served = served_users(district)
    for clever_id, record in sorted(served.items()):
        listed = listed_of(record)
        fields = record["roles"].get("student", {})
        if (
            fields.get("location", {}).get("address")
            and fields.get("race")
            and fields.get("dob")
            and fields.get("gender") in ("M", "F")
            and fields.get("ext")
            and fields.get("iep_status") == "Y"
            and fields.get("disability", {}).get("disability_type")
        ):
            return Person.objects.get(district=district, clever_id=clever_id), listed
    raise AssertionError("the generated district has no student with every listed field")


def needles(listed: dict) -> dict[str, str]:
    """The values of a student that must never be on a page without the permission: as Clever
    sent them (what the person page shows), and the date of birth as a date is written or
    shown (the review queue)."""
    student = {path.split(".")[2]: value for path, value in listed.items()}
    month, day, year = (int(part) for part in student["dob"].split("/"))
    born = date(year, month, day)
    return {
        "dob": student["dob"],
        "race": student["race"],
        "address": student["location"]["address"],
        "disability": student["disability"]["disability_type"],
        "ext": student["ext"]["birth_country"],
        "dob_iso": born.isoformat(),
        "dob_shown": formats.date_format(born),
    }


def support_browser(*, sensitive: bool) -> tuple[Client, object]:
    user = UserFactory(username="counselor" if sensitive else "helpdesk", is_staff=True)
    user.groups.add(Group.objects.get(name=SUPPORT_GROUP))
    if sensitive:
        user.user_permissions.add(Permission.objects.get(codename=SENSITIVE_CODENAME))
    browser = Client()
    browser.force_login(user)
    return browser, user


@pytest.fixture
def review_item(district, student) -> PersonMatch:
    """The product's own record of the student (a short first name, no IDs, the same date of
    birth), matched: a review item with the Clever student as its candidate."""
    person = student[0]
    product_copy(person, first_name=person.first_name[:3], sis_id="", student_number="")
    matching.match_district(district=district)
    match = PersonMatch.objects.get(district=district, user__username=f"product-{person.clever_id}")
    assert person.clever_id in [c["clever_id"] for c in match.candidates]
    return match


def pages(person: Person, match: PersonMatch) -> dict[str, str]:
    return {
        "person page": reverse("admin:rostering_person_change", args=[person.pk]),
        "review queue page": reverse("admin:matching_personmatch_change", args=[match.pk]),
    }


def test_the_list_names_real_clever_fields_in_plain_words():
    definitions = load_spec("v3.1.yml")["definitions"]
    schemas = {"student": "Student", "contact": "Contact"}
    for field in SENSITIVE_FIELDS:
        assert field.path == f"roles.{field.role}.{field.name}"
        assert field.name in definitions[schemas[field.role]]["properties"], field.path
        assert field.label and "_" not in field.label
    paths = {field.path for field in SENSITIVE_FIELDS}
    for name in (
        "ell_status",
        "frl_status",
        "iep_status",
        "section_504_status",
        "gifted_status",
        "home_language",
        "home_language_code",
        "disability",
        "race",
        "hispanic_ethnicity",
        "gender",
        "dob",
        "location",
        "ext",
    ):
        assert f"roles.student.{name}" in paths
    assert [f.path for f in SENSITIVE_FIELDS if f.needed_by] == [DATE_OF_BIRTH.path]


def test_the_privacy_page_lists_exactly_the_fields_of_the_list():
    rows = [
        line.split("|")[1:5]
        for line in (ROOT / "docs" / "privacy.md").read_text().splitlines()
        if line.startswith("| `roles.")
    ]
    documented = [
        (path.strip().strip("`"), label.strip(), category.strip(), bool(needed.strip()))
        for path, label, category, needed in rows
    ]
    assert documented == [(f.path, f.label, str(f.category), bool(f.needed_by)) for f in SENSITIVE_FIELDS]


def test_nothing_listed_is_stored_in_clear_and_the_ciphertext_holds_what_clever_sent(district, student):
    person, listed = student
    served = served_users(district)
    columns = [f.name for f in Person._meta.concrete_fields if f.name != "sensitive_ciphertext"]
    assert not {field.name for field in SENSITIVE_FIELDS} & set(columns)
    for row in Person.objects.filter(district=district):
        assert pop_listed(copy.deepcopy(row.raw)) is None, row.clever_id
        expected = listed_of(served[row.clever_id])
        assert (decrypted_fields(row.sensitive_ciphertext) if expected else {}) == expected
        assert bool(row.sensitive_ciphertext) == bool(expected)
    in_clear = json.dumps(list(Person.objects.filter(pk=person.pk).values(*columns)), default=str)
    for value in needles(listed).values():
        assert value not in in_clear
    assert not StagedRecord.objects.exists()


def test_support_without_the_permission_sees_none_of_the_values(district, student, review_item):
    person, listed = student
    browser, _ = support_browser(sensitive=False)

    for where, url in pages(person, review_item).items():
        response = browser.get(url)
        assert response.status_code == 200, where
        page = response.content.decode()
        for value in needles(listed).values():
            assert value not in page, (where, value)
        assert "hidden: needs the “view sensitive fields” permission" in page, where
        for field in SENSITIVE_FIELDS:
            if field is not DATE_OF_BIRTH:
                assert field.label not in page, (where, field.label)
            assert f"&quot;{field.name}&quot;" not in page, (where, field.name)
    assert person.sensitive_ciphertext not in page


def test_support_with_the_permission_sees_them_and_the_view_is_logged(district, student, review_item, caplog):
    person, listed = student
    browser, user = support_browser(sensitive=True)

    with caplog.at_level(logging.INFO, logger="rostering.admin"):
        person_page = browser.get(pages(person, review_item)["person page"]).content.decode()
        review_page = browser.get(pages(person, review_item)["review queue page"]).content.decode()

    values = needles(listed)
    for key in ("dob", "race", "address", "disability", "ext"):
        assert values[key] in person_page, key
    for path in listed:
        assert BY_PATH[path].label in person_page
    assert review_page.count(values["dob_shown"]) == 2  # the product's and Clever's, side by side
    assert "hidden: needs the" not in person_page + review_page
    viewed = [r.getMessage() for r in caplog.records if "viewed by user" in r.getMessage()]
    assert f"sensitive fields of person {person.pk} viewed by user {user.pk} on the person page" in viewed
    assert any(
        f"viewed by user {user.pk} on review item {review_item.pk}" in m
        and str(person.pk) in m.split(" viewed")[0]
        for m in viewed
    )
    log_text = "\n".join(r.getMessage() for r in caplog.records)
    for value in values.values():
        assert value not in log_text


def test_a_clever_login_keeps_no_listed_field_in_clear(world, browser, portal_launch):
    """SSO writes the person from ``/users/{id}`` (the district never synced) and keeps an
    identity on the social account and the login: none holds a listed field."""
    school = world.school["id"]
    record = user_record(
        world.sandbox_district,
        first="Gil",
        last="Rowe",
        roles={
            "student": {
                "school": school,
                "schools": [school],
                "sis_id": "S-9",
                "grade": "1",
                "dob": "5/6/2017",
                "gender": "M",
                "race": "Hawaiian or Other Pacific Islander",
                "hispanic_ethnicity": "N",
                "location": {"address": "12 Quarry Lane", "city": "Springfield", "zip": "62704"},
                "ext": {"birth_country": "Vietnam"},
            }
        },
    )

    portal_launch(browser, record["id"])

    person = Person.objects.get(clever_id=record["id"])
    assert pop_listed(copy.deepcopy(person.raw)) is None
    assert decrypted_fields(person.sensitive_ciphertext) == {DATE_OF_BIRTH.path: "5/6/2017"}
    stored = json.dumps(
        [
            list(SocialAccount.objects.filter(uid=record["id"]).values_list("extra_data", flat=True)),
            list(CleverLogin.objects.values()),
            list(
                Person.objects.filter(pk=person.pk).values(
                    *[f.name for f in Person._meta.concrete_fields if f.name != "sensitive_ciphertext"]
                )
            ),
        ],
        default=str,
    )
    assert SocialAccount.objects.filter(uid=record["id"]).exists()
    for value in ("5/6/2017", "2017-05-06", "Hawaiian", "12 Quarry Lane", "Vietnam", "62704"):
        assert value not in stored


def test_decisions_keep_no_unkeyed_digest_of_a_date_of_birth(district, student, review_item):
    # The compared fields hold the date of birth beside names in clear: a bare SHA-256 of them
    # would give the date away to anyone trying a few thousand dates.
    product, clever = product_record(review_item.user), clever_record(student[0])
    stored = compared_digest(product, clever)
    payload = [
        {k: sorted(v) if isinstance(v, frozenset) else v for k, v in asdict(record).items() if k != "key"}
        for record in (product, clever)
    ]
    bare = hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()
    assert stored != bare and len(stored) == 64
    assert stored == compared_digest(product, clever)  # still the same for the same values
