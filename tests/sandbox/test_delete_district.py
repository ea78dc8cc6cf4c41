"""Deleting a sandbox district is set-based (``sandbox.services.delete_district``): a few
statements whatever its size, none binding a parameter per row, from the service, the admin
(one district or several) and ``reset_sandbox``."""

from __future__ import annotations

import uuid

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.test import Client
from django.urls import reverse

from sandbox import services
from sandbox.models import (
    SandboxAuthCode,
    SandboxDistrict,
    SandboxEdge,
    SandboxEvent,
    SandboxLmsAssignment,
    SandboxLmsCourse,
    SandboxLmsSubmission,
    SandboxRecord,
    SandboxToken,
)
from tests.set_based import insert_numbered, measured

pytestmark = pytest.mark.django_db

# More records and edges than SQLite binds parameters in one statement (32,766).
LARGE = {"records": 35_000, "edges": 40_000}
SMALL = {"records": 30, "edges": 40}
MAX_STATEMENTS = 30
MAX_PARAMETERS = 20


def build_district(district_id: str, *, records: int, edges: int) -> SandboxDistrict:
    """A district-shared sandbox district (with its token) holding ``records`` users, ``edges``
    section edges, events, an authorization code and LMS data."""
    district = services.create_district(name=f"District {district_id}", district_id=district_id)
    insert_numbered(
        SandboxRecord,
        records,
        {"clever_id": f"'{district_id}-u' || n"},
        district=district.pk,
        record_type="users",
        is_student=True,
        body="{}",
        body_v30="{}",
    )
    insert_numbered(
        SandboxEdge,
        edges,
        {
            "src_id": f"'{district_id}-s' || (n / 25)",
            "dst_id": f"'{district_id}-u' || (n - {records} * (n / {records}))",
        },
        district=district.pk,
        rel="students",
    )
    insert_numbered(
        SandboxEvent,
        100,
        {"id": f"'{district_id}-e' || n", "record_id": f"'{district_id}-u' || n"},
        district=district.pk,
        type="users.updated",
        record_type="users",
        body="{}",
        body_v30="{}",
    )
    SandboxAuthCode.objects.create(
        code=f"{district_id}-code",
        application=services.get_application(),
        user_id=f"{district_id}-u1",
        district=district,
        redirect_uri="http://localhost/callback",
    )
    assignment = SandboxLmsAssignment.objects.create(
        id=uuid.uuid4(), district=district, section_id=f"{district_id}-s0"
    )
    SandboxLmsSubmission.objects.create(assignment=assignment, user_id=f"{district_id}-u1")
    SandboxLmsCourse.objects.create(
        district=district, context_id="homeroom", title="Homeroom", teacher_id="t"
    )
    return district


def rows_of(district: SandboxDistrict) -> dict[str, int]:
    found = {
        model.__name__: model.objects.filter(district=district).count()
        for model in (
            SandboxRecord,
            SandboxEdge,
            SandboxEvent,
            SandboxToken,
            SandboxAuthCode,
            SandboxLmsCourse,
        )
    }
    found["SandboxLmsSubmission"] = SandboxLmsSubmission.objects.filter(assignment__district=district).count()
    return found


def assert_set_based(large: tuple, small: tuple) -> None:
    (large_statements, large_bound), (small_statements, _) = large, small
    assert len(large_statements) == len(small_statements) <= MAX_STATEMENTS
    assert max(large_bound) <= MAX_PARAMETERS


@pytest.fixture
def districts(sandbox_app):
    """(large, small, other): ``other`` must be left untouched."""
    return (
        build_district("large", **LARGE),
        build_district("small", **SMALL),
        build_district("other", **SMALL),
    )


@pytest.fixture
def staff_client():
    """A sandbox operator (active staff, not a superuser), signed in to the admin."""
    user = get_user_model().objects.create_user(username="operator", is_staff=True)
    user.user_permissions.add(Permission.objects.get(codename="view_sandboxdistrict"))
    client = Client()
    client.force_login(user)
    return client


def test_deleting_a_district_larger_than_sqlites_variable_limit_is_set_based(districts):
    large, small, other = districts
    other_rows = rows_of(other)

    with measured() as large_measure:
        deleted = services.delete_district(district=large)

    assert deleted["sandbox.SandboxRecord"] == LARGE["records"]
    assert deleted["sandbox.SandboxEdge"] == LARGE["edges"]
    assert deleted["sandbox.SandboxEvent"] == 100 and deleted["sandbox.SandboxDistrict"] == 1
    assert not SandboxDistrict.objects.filter(pk=large.pk).exists()
    assert set(rows_of(large).values()) == {0}
    assert rows_of(other) == other_rows

    with measured() as small_measure:
        services.delete_district(district=small)
    assert_set_based(large_measure, small_measure)


def test_the_admin_deletes_a_large_district_through_the_service(districts, staff_client):
    large, small, other = districts
    other_rows = rows_of(other)
    url = reverse("admin:sandbox_sandboxdistrict_delete", args=[large.pk])

    with measured() as (asking, _):
        page = staff_client.get(url)
    # "Are you sure?" counts rows per kind instead of listing them.
    assert page.status_code == 200
    counts = dict(page.context["model_count"])
    assert counts["sandbox records"] == LARGE["records"] and counts["sandbox edges"] == LARGE["edges"]
    assert "large-u1" not in page.content.decode()
    assert len(asking) <= MAX_STATEMENTS

    with measured() as large_measure:
        response = staff_client.post(url, {"post": "yes"})
    assert response.status_code == 302
    assert not SandboxDistrict.objects.filter(pk=large.pk).exists()
    assert set(rows_of(large).values()) == {0}
    assert rows_of(other) == other_rows

    with measured() as small_measure:
        staff_client.post(reverse("admin:sandbox_sandboxdistrict_delete", args=[small.pk]), {"post": "yes"})
    assert not SandboxDistrict.objects.filter(pk=small.pk).exists()
    assert_set_based(large_measure, small_measure)


def test_the_admins_bulk_action_and_the_reset_delete_through_the_service(sandbox_app, staff_client):
    chosen = [build_district(f"chosen{n}", **SMALL) for n in range(2)]
    kept = build_district("kept", **SMALL)
    selected = {"action": "delete_selected", "_selected_action": [d.pk for d in chosen]}
    changelist = reverse("admin:sandbox_sandboxdistrict_changelist")

    asked = staff_client.post(changelist, {**selected, "index": "0"})
    assert asked.status_code == 200 and dict(asked.context["model_count"])["sandbox districts"] == 2
    assert staff_client.post(changelist, {**selected, "post": "yes"}).status_code == 302
    assert list(SandboxDistrict.objects.values_list("pk", flat=True)) == [kept.pk]
    assert SandboxRecord.objects.filter(district_id__in=[d.pk for d in chosen]).count() == 0

    assert services.reset_sandbox() == 1
    assert not SandboxDistrict.objects.exists() and not SandboxRecord.objects.exists()
