"""Fixtures for the sync engine's tests: sandbox districts, our District rows, and clients
that never really sleep.

Every sync talks to the local Clever in-process (``settings.CLEVER_HTTP_ADAPTER``), so a test
creates a sandbox district, a ``districts.District`` with the same Clever ID, and syncs for
real. ``truth`` reads what the sandbox holds, to compare the mirror with.
``synced_district`` and ``held_changes`` sync the ``district`` a test module defines (through
the Celery task, ``tests.conftest.sync``), then hold a second sync that loses ten students.
"""

from __future__ import annotations

import json
import random
from contextlib import contextmanager

import psycopg
import pytest
from django.db import connection

from districts.models import District
from rostering.models import ContactLink, Person, Section, SectionMembership, SyncRun
from rostering.services import liveness
from rostering.services.sync import run_sync
from sandbox import services as sandbox_services
from sandbox.generator.districts import generate_district, load_district
from sandbox.models import SandboxRecord
from tests.conftest import sync


@pytest.fixture
def make_client(make_clever_client):
    """``make_client(**overrides)``: a client whose waits are recorded, not slept."""

    def build(**overrides):
        waits = []
        options = {"sleep": waits.append, "rng": random.Random(7)}
        options.update(overrides)
        client = make_clever_client(**options)
        client.waits = waits
        return client

    return build


@pytest.fixture
def client(make_client):
    """A client with small pages, so syncs follow many next links."""
    return make_client(page_size=100)


def connect(sandbox_district, **fields) -> District:
    """Our District for a sandbox district (same Clever ID), connected."""
    return District.objects.create(clever_id=sandbox_district.id, name=sandbox_district.name, **fields)


def load_generated(seed: int, students: int, **options):
    return load_district(generate_district(seed=seed, students=students, **options))


def connected_district(seed: int, *, students: int = 40, **fields) -> District:
    """A generated sandbox district and our District for it (same Clever ID, ``fields``)."""
    return connect(load_generated(seed, students), **fields)


@pytest.fixture
def generated(db, sandbox_app):
    """A generated district of 300 students (about 600 users, 15 sections) and our District."""
    sandbox_district = load_generated(seed=3, students=300)
    return sandbox_district, connect(sandbox_district)


@pytest.fixture
def synced(generated, client):
    """``generated`` after a first full sync that succeeded."""
    sandbox_district, district = generated
    first = run_sync(district=district, client=client)
    assert first.status == SyncRun.Status.SUCCEEDED, first.error
    return sandbox_district, district


@pytest.fixture
def synced_district(district):
    """The test module's ``district`` after a full sync (the Celery task, as support's button
    starts one) that succeeded."""
    assert sync(district).status == SyncRun.Status.SUCCEEDED
    return district


@pytest.fixture
def held_changes(synced_district):
    """A pending hold (``ChangeHold``) from a real guarded run: ten of ``synced_district``'s
    students disappear from Clever, then it syncs again."""
    remove_students(synced_district, 10)
    run = sync(synced_district)
    assert run.status == SyncRun.Status.HELD
    return run.hold


def truth(sandbox_district) -> dict[str, dict[str, dict]]:
    """{record_type: {clever_id: record}} of what the sandbox serves for a district."""
    out: dict[str, dict[str, dict]] = {}
    for record_type, clever_id, body in SandboxRecord.objects.filter(district=sandbox_district).values_list(
        "record_type", "clever_id", "body"
    ):
        out.setdefault(record_type, {})[clever_id] = json.loads(body)
    return out


def mirror(district: District) -> dict:
    """A comparable snapshot of the district's mirror: every row (live and archived) without
    primary keys or timestamps, memberships and contact links."""
    snapshot: dict = {}
    from rostering.services.mapping import MODELS

    skip = {
        "id",
        "district",
        "created_at",
        "updated_at",
        "archived_at",
        "user",
        "product_school",
        "sensitive_ciphertext",
    }
    for record_type, model in MODELS.items():
        fields = [f.name for f in model._meta.concrete_fields if f.name not in skip]
        snapshot[record_type] = {
            row["clever_id"]: {**row, "archived": row.pop("archived_at") is not None}
            for row in model.objects.filter(district=district).values(*fields, "archived_at")
        }
    snapshot["memberships"] = sorted(
        SectionMembership.objects.filter(district=district).values_list(
            "section__clever_id", "person_clever_id", "role", "is_primary"
        )
    )
    snapshot["links"] = sorted(
        ContactLink.objects.filter(district=district).values_list(
            "contact__clever_id", "student_clever_id", "relationship", "type"
        )
    )
    return snapshot


def live_only(snapshot: dict) -> dict:
    out = {}
    for key, value in snapshot.items():
        if isinstance(value, dict):
            out[key] = {cid: row for cid, row in value.items() if not row["archived"]}
        else:
            out[key] = value
    live_sections = set(out["sections"])
    live_people = set(out["users"])
    out["memberships"] = [m for m in snapshot["memberships"] if m[0] in live_sections]
    out["links"] = [link for link in snapshot["links"] if link[0] in live_people]
    return out


def sandbox_token(sandbox_district) -> str:
    return sandbox_services.district_token(sandbox_district).access_token


__all__ = [
    "Person",
    "Section",
    "connect",
    "connected_district",
    "live_only",
    "load_generated",
    "mirror",
    "sandbox_token",
    "truth",
]


@contextmanager
def held_by_another_process(run):
    """The run's liveness lock held by another database session, as a live worker holds it
    (on SQLite the fresh heartbeat alone says the run is alive)."""
    if connection.vendor != "postgresql":
        yield
        return
    with psycopg.connect(**connection.get_connection_params(), autocommit=True) as other:
        other.execute("SELECT pg_advisory_lock(%s, %s)", liveness._key(run.pk))
        yield


def remove_students(district: District, count: int) -> None:
    """Clever stops sharing ``count`` of the district's students (the sandbox deletes them)."""
    students = SandboxRecord.objects.filter(
        district_id=district.clever_id, record_type="users", is_student=True
    )
    for clever_id in list(students.order_by("clever_id").values_list("clever_id", flat=True))[:count]:
        sandbox_services.delete_record(clever_id=clever_id)
