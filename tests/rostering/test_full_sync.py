"""Full syncs against the sandbox: the mirror equals what Clever serves, field by field."""

from __future__ import annotations

import copy
from datetime import date

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from clever.sensitive import DATE_OF_BIRTH, pop_listed
from rostering.models import (
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
from rostering.selectors import dates_of_birth, decrypted_fields, live_totals
from rostering.services.sync import run_sync
from sandbox import roster
from sandbox import services as sandbox_services
from sandbox.demo import load_demo
from tests.rostering.conftest import connect, truth

MIRROR_TABLES = (
    "rostering_person",
    "rostering_section",
    "rostering_school",
    "rostering_term",
    "rostering_course",
    "rostering_sectionmembership",
    "rostering_contactlink",
)


def split_listed(user: dict) -> tuple[dict, dict]:
    """(the record without the sensitive and demographic fields, those fields by path)."""
    user = copy.deepcopy(user)
    return user, pop_listed(user) or {}


def mdy(text: str | None) -> date | None:
    if not text:
        return None
    month, day, year = (int(p) for p in text.split("/"))
    return date(year, month, day)


def iso_date(text: str | None) -> date | None:
    """Term dates: "2025-08-18" or "2025-08-18T00:00:00.000Z"."""
    return date.fromisoformat(text[:10]) if text else None


def assert_mirror_matches(district, sandbox_district) -> None:
    """Every record Clever serves is a live row with the right fields; nothing else is live;
    memberships and contact links are exactly the records' relations."""
    served = truth(sandbox_district)

    schools = {s.clever_id: s for s in School.objects.filter(district=district, archived_at=None)}
    assert set(schools) == set(served.get("schools", {}))
    for clever_id, record in served.get("schools", {}).items():
        school = schools[clever_id]
        assert school.name == record.get("name", "")
        assert school.nces_id == record.get("nces_id", "")
        assert school.sis_id == record.get("sis_id", "")
        assert school.city == (record.get("location") or {}).get("city", "")
        assert school.us_state == (record.get("location") or {}).get("state", "")
        assert school.principal_name == (record.get("principal") or {}).get("name", "")
        assert school.raw == record

    terms = {t.clever_id: t for t in Term.objects.filter(district=district, archived_at=None)}
    assert set(terms) == set(served.get("terms", {}))
    for clever_id, record in served.get("terms", {}).items():
        assert terms[clever_id].name == record.get("name", "")
        assert terms[clever_id].start_date == iso_date(record.get("start_date"))
        assert terms[clever_id].end_date == iso_date(record.get("end_date"))

    courses = {c.clever_id: c for c in Course.objects.filter(district=district, archived_at=None)}
    assert set(courses) == set(served.get("courses", {}))
    for clever_id, record in served.get("courses", {}).items():
        assert (courses[clever_id].name, courses[clever_id].number) == (
            record.get("name", ""),
            record.get("number", ""),
        )

    sections = {s.clever_id: s for s in Section.objects.filter(district=district, archived_at=None)}
    assert set(sections) == set(served.get("sections", {}))
    expected_members = set()
    for clever_id, record in served.get("sections", {}).items():
        section = sections[clever_id]
        primary = record.get("teacher") or (record.get("teachers") or [""])[0]
        assert section.name == record.get("name", "")
        assert section.school_clever_id == record.get("school", "")
        assert section.term_clever_id == record.get("term_id", "")
        assert section.course_clever_id == record.get("course", "")
        assert section.primary_teacher_clever_id == primary
        assert section.grade == record.get("grade", "")
        assert section.raw == record
        expected_members |= {(clever_id, s, "student", False) for s in record.get("students", [])}
        expected_members |= {(clever_id, t, "teacher", t == primary) for t in record.get("teachers", [])}
    members = set(
        SectionMembership.objects.filter(district=district, section__archived_at=None).values_list(
            "section__clever_id", "person_clever_id", "role", "is_primary"
        )
    )
    assert members == expected_members

    people = {p.clever_id: p for p in Person.objects.filter(district=district, archived_at=None)}
    assert set(people) == set(served.get("users", {}))
    born = dates_of_birth(list(people.values()))
    expected_links = set()
    for clever_id, record in served.get("users", {}).items():
        person = people[clever_id]
        roles = record.get("roles", {})
        name = record.get("name", {})
        student = roles.get("student", {})
        teacher = roles.get("teacher", {})
        assert person.first_name == name.get("first", "")
        assert person.middle_name == name.get("middle", "")
        assert person.last_name == name.get("last", "")
        assert person.email == record.get("email", "")
        assert set(person.roles) == set(roles)
        assert person.student_sis_id == student.get("sis_id", "")
        assert person.student_number == student.get("student_number", "")
        assert person.student_state_id == student.get("state_id", "")
        assert born[person.pk] == mdy(student.get("dob"))
        assert person.grade == student.get("grade", "")
        assert person.teacher_sis_id == teacher.get("sis_id", "")
        assert person.teacher_number == teacher.get("teacher_number", "")
        assert person.staff_id == roles.get("staff", {}).get("staff_id", "")
        assert person.contact_sis_id == roles.get("contact", {}).get("sis_id", "")
        schools = {
            s
            for role in ("student", "teacher", "staff")
            for s in [roles.get(role, {}).get("school"), *roles.get(role, {}).get("schools", [])]
            if s
        }
        assert set(person.school_clever_ids) == schools
        assert person.legacy_ids == {
            role: body["legacy_id"] for role, body in roles.items() if body.get("legacy_id")
        }
        # The stored representation is Clever's record without the sensitive and demographic
        # fields; of those, the district keeps only the date of birth (encrypted).
        stored, listed = split_listed(record)
        assert person.raw == stored
        kept = {path: value for path, value in listed.items() if path == DATE_OF_BIRTH.path}
        assert (decrypted_fields(person.sensitive_ciphertext) if kept else {}) == kept
        assert bool(person.sensitive_ciphertext) == bool(kept)
        for relation in roles.get("contact", {}).get("student_relationships", []):
            expected_links.add(
                (clever_id, relation["student"], relation.get("relationship", ""), relation.get("type", ""))
            )
    links = set(
        ContactLink.objects.filter(district=district, contact__archived_at=None).values_list(
            "contact__clever_id", "student_clever_id", "relationship", "type"
        )
    )
    assert links == expected_links


def test_generated_district_synced_equals_the_sandbox(generated, client):
    sandbox_district, district = generated
    run = run_sync(district=district, client=client)

    assert run.status == SyncRun.Status.SUCCEEDED, run.error
    assert run.kind == SyncRun.Kind.FULL
    assert_mirror_matches(district, sandbox_district)
    served = truth(sandbox_district)
    assert run.counts["created"] == {
        t: len(served[t]) for t in ("schools", "terms", "courses", "sections", "users")
    }
    assert run.totals == live_totals(district)
    assert run.totals["students"] == 300
    assert run.totals["users"] == len(served["users"])
    assert run.totals["enrollments"] == sum(len(s.get("students", [])) for s in served["sections"].values())
    # Page by page (page size 100): a count and several pages per big collection.
    assert run.pages >= 10 and run.requests >= run.pages
    assert run.bytes_received > 0
    assert run.progress == 1.0 and run.duration_seconds > 0
    assert not StagedRecord.objects.filter(run=run).exists()
    district.refresh_from_db()
    assert district.event_cursor_at is not None  # the (empty) event feed was read first


def test_a_no_change_resync_reports_everything_unchanged_and_writes_nothing(generated, client):
    _, district = generated
    first = run_sync(district=district, client=client)
    stamps = dict(Person.objects.filter(district=district).values_list("clever_id", "updated_at"))

    with CaptureQueriesContext(connection) as queries:
        second = run_sync(district=district, kind="full", client=client)

    assert second.status == SyncRun.Status.SUCCEEDED, second.error
    assert second.kind == SyncRun.Kind.FULL
    assert second.counts["unchanged"] == first.counts["created"]
    for kind in ("created", "updated", "archived", "restored"):
        assert sum(second.counts[kind].values()) == 0, kind
    writes = [
        q["sql"]
        for q in queries.captured_queries
        if q["sql"].lstrip().upper().startswith(("INSERT", "UPDATE", "DELETE"))
        and any(f'"{t}"' in q["sql"].split("WHERE")[0] for t in MIRROR_TABLES)
    ]
    assert writes == []
    assert dict(Person.objects.filter(district=district).values_list("clever_id", "updated_at")) == stamps
    assert not StagedRecord.objects.exists()


def test_adds_updates_and_removals_are_applied(generated, client):
    sandbox_district, district = generated
    run_sync(district=district, client=client)
    served = truth(sandbox_district)
    section_id = sorted(served["sections"])[0]
    student_id = sorted(i for i, u in served["users"].items() if "student" in u["roles"])[5]
    teacher_id = sorted(i for i, u in served["users"].items() if "teacher" in u["roles"])[0]
    removed_section = sorted(served["sections"])[-1]

    new_student = roster.add_student_to_section(
        district=sandbox_district, section_id=section_id, first="Zed", last="Newcomer", seed=1
    )
    roster.rename_user(district=sandbox_district, user_id=teacher_id, first="Renamed", last="Teacher")
    roster.remove_user(district=sandbox_district, user_id=student_id)
    roster.remove_section(district=sandbox_district, section_id=removed_section)

    run = run_sync(district=district, kind="full", client=client)

    assert run.status == SyncRun.Status.SUCCEEDED, run.error
    assert run.counts["created"]["users"] == 1
    assert run.counts["archived"]["users"] == 1
    assert run.counts["archived"]["sections"] == 1
    assert run.counts["updated"]["users"] >= 1  # the teacher (and the removed student's contacts)
    assert run.counts["updated"]["sections"] >= 1
    assert_mirror_matches(district, sandbox_district)
    assert Person.objects.get(district=district, clever_id=new_student["id"]).first_name == "Zed"
    assert Person.objects.get(district=district, clever_id=teacher_id).first_name == "Renamed"
    removed = Person.objects.get(district=district, clever_id=student_id)
    assert removed.archived_at is not None  # soft: the row is kept
    gone = Section.objects.get(district=district, clever_id=removed_section)
    assert gone.archived_at is not None and not gone.memberships.exists()


def test_a_returning_clever_id_restores_the_same_row(generated, client):
    sandbox_district, district = generated
    run_sync(district=district, client=client)
    served = truth(sandbox_district)
    student_id = sorted(i for i, u in served["users"].items() if "student" in u["roles"])[3]
    before = Person.objects.get(district=district, clever_id=student_id)

    record = sandbox_services.delete_record(clever_id=student_id)
    archived = run_sync(district=district, kind="full", client=client)
    assert archived.counts["archived"]["users"] == 1
    assert Person.objects.get(pk=before.pk).archived_at is not None

    sandbox_services.put_record(district=sandbox_district, record_type="users", data=record)
    restored = run_sync(district=district, kind="full", client=client)

    assert restored.status == SyncRun.Status.SUCCEEDED, restored.error
    assert restored.counts["restored"]["users"] == 1
    again = Person.objects.get(district=district, clever_id=student_id)
    assert again.pk == before.pk and again.archived_at is None
    assert again.created_at == before.created_at
    assert Person.objects.filter(district=district, clever_id=student_id).count() == 1


def test_clevers_demo_recording_syncs_to_its_known_totals(db, sandbox_app, make_client):
    sandbox_district, _ = load_demo()
    district = connect(sandbox_district)

    run = run_sync(district=district, client=make_client())

    assert run.status == SyncRun.Status.SUCCEEDED, run.error
    totals = run.totals
    assert (
        totals["students"],
        totals["teachers"],
        totals["district_admins"],
        totals["contacts"],
        totals["sections"],
    ) == (1004, 89, 3, 1002, 378)
    assert totals["users"] == 2098
    assert_mirror_matches(district, sandbox_district)


@pytest.mark.parametrize("page_size", [1, 7])
def test_tiny_pages_give_the_same_mirror(db, sandbox_app, make_client, page_size):
    sandbox_district = sandbox_services.create_district(name="Tiny pages")
    school = {"id": "5a0000000000000000000001", "name": "Only School"}
    users = [
        {
            "id": f"5a00000000000000000001{n:02d}",
            "name": {"first": f"S{n}", "last": "P"},
            "roles": {"student": {"school": school["id"], "schools": [school["id"]], "sis_id": str(n)}},
        }
        for n in range(15)
    ]
    sandbox_services.bulk_load(
        district=sandbox_district, items=[("schools", school), *[("users", u) for u in users]]
    )
    district = connect(sandbox_district)

    run = run_sync(district=district, client=make_client(page_size=page_size))

    assert run.status == SyncRun.Status.SUCCEEDED, run.error
    assert run.pages >= 15 // page_size
    assert_mirror_matches(district, sandbox_district)


def test_unchanged_pages_are_skipped_but_never_trusted_blindly(generated, client, monkeypatch):
    from rostering.services import mapping

    sandbox_district, district = generated
    run_sync(district=district, client=client)
    prepared = []
    real_prepare = mapping.prepare
    monkeypatch.setattr(mapping, "prepare", lambda *a, **k: prepared.append(a[0]) or real_prepare(*a, **k))

    same = run_sync(district=district, kind="full", client=client)

    assert same.status == SyncRun.Status.SUCCEEDED
    assert prepared == []  # every page was byte for byte the one applied last time
    assert sum(same.counts["unchanged"].values()) == sum(len(v) for v in truth(sandbox_district).values())
    # Someone removed a row behind the engine's back: that page is read record by record.
    victim = Person.objects.filter(district=district, is_student=True).order_by("clever_id")[7]
    Person.objects.filter(pk=victim.pk).delete()

    repaired = run_sync(district=district, kind="full", client=client)

    assert repaired.counts["created"]["users"] == 1
    assert 0 < prepared.count("users") <= 100  # only the page the row belonged to
    assert_mirror_matches(district, sandbox_district)
