"""The district generator: determinism, sizes, the mess of real districts, Clever's enums, loading,
and ``manage.py sandbox_seed``."""

import hashlib
import json
import os
import re
import subprocess
import sys
from collections import Counter, defaultdict
from io import StringIO
from pathlib import Path

import jsonschema
import pytest
from django.core.management import call_command

from sandbox import services
from sandbox.generator.districts import DistrictExists, district_counts, generate_district, load_district
from sandbox.generator.tables import NICKNAMES, STATES
from sandbox.ids import is_clever_id
from sandbox.models import SandboxDistrict, SandboxEdge, SandboxRecord, Sharing
from tests.sandbox.swagger import definitions

REPO = Path(__file__).resolve().parents[2]
DOB = re.compile(r"^(?:[0-9]{1,2})/([0-9]{1,2})/([0-9]{4})$")
YOUNG = {"PreKindergarten", "Kindergarten", "1", "2"}


def digest(generated) -> str:
    text = json.dumps([generated.data, list(generated.records())], ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()


@pytest.fixture(scope="module")
def district():
    return generate_district(seed=2026, students=2_000, messiness=1.0)


@pytest.fixture(scope="module")
def users(district):
    return district.users


@pytest.fixture(scope="module")
def students(users):
    return [u for u in users if "student" in u["roles"]]


# --- determinism and IDs ------------------------------------------------------------------------


def test_same_seed_and_options_give_identical_records():
    first = generate_district(seed=42, students=600, messiness=1.5, lms_type="canvas")
    second = generate_district(seed=42, students=600, messiness=1.5, lms_type="canvas")
    assert first.id == second.id
    assert first.counts == second.counts
    assert digest(first) == digest(second)
    # Rendering twice from the same plan gives the same bodies too.
    assert first.users == first.users
    assert digest(generate_district(seed=43, students=600, messiness=1.5)) != digest(first)
    assert digest(generate_district(seed=42, students=600, messiness=0.5)) != digest(first)


def test_output_does_not_depend_on_the_process_hash_seed():
    code = (
        "import django, hashlib, json; django.setup();"
        "from sandbox.generator.districts import generate_district;"
        "g = generate_district(seed=42, students=600, messiness=1.5, lms_type='canvas');"
        "print(hashlib.sha256(json.dumps([g.data, list(g.records())], ensure_ascii=False)"
        ".encode()).hexdigest())"
    )
    expected = digest(generate_district(seed=42, students=600, messiness=1.5, lms_type="canvas"))
    for hash_seed in ("1", "987"):
        env = {**os.environ, "PYTHONHASHSEED": hash_seed, "DJANGO_SETTINGS_MODULE": "config.settings"}
        out = subprocess.run(
            [sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True, check=True
        )
        assert out.stdout.strip() == expected


def test_ids_are_clever_ids_ascending_in_creation_order(district):
    records = list(district.records())
    ids = [body["id"] for _, body in records]
    assert all(is_clever_id(i) for i in ids)
    assert len(set(ids)) == len(ids)
    assert ids == sorted(ids), "IDs ascend in creation (load) order"
    assert district.id < ids[0]
    by_type = defaultdict(list)
    for record_type, body in records:
        by_type[record_type].append(body["id"])
    for record_type, type_ids in by_type.items():
        assert type_ids == sorted(type_ids), record_type
    assert all(body["district"] == district.id for _, body in records)


# --- sizes --------------------------------------------------------------------------------------


def test_2000_student_district_sizes(district, users):
    counts = district.counts
    assert counts["students"] == 2_000
    assert 3 <= counts["schools"] <= 4
    assert 2_000 / 25 <= counts["teachers"] <= 2_000 / 20
    assert 70 <= counts["sections"] <= 95
    assert 4.5 * 2_000 <= counts["enrollments"] <= 5.3 * 2_000
    assert counts["terms"] == 2
    assert counts["courses"] > 30
    assert 1 <= counts["district_admins"] <= 3
    assert 0.6 * 2_000 <= counts["contacts"] <= 1.1 * 2_000
    # The counts describe the rendered records.
    roles = Counter(role for u in users for role in u["roles"])
    assert len(users) == counts["users"]
    assert roles["student"] == counts["students"]
    assert roles["teacher"] == counts["teachers"]
    assert roles["staff"] == counts["staff"]
    assert roles["district_admin"] == counts["district_admins"]
    assert roles["contact"] == counts["contacts"]
    sections = district.sections
    assert len(sections) == counts["sections"]
    assert sum(len(s["students"]) for s in sections) == counts["enrollments"]
    assert len(district.schools) == counts["schools"]
    assert len(district.terms) == 2 and len(district.courses) == counts["courses"]


@pytest.mark.parametrize("students", [500, 10_000, 50_000])
def test_sizes_scale_with_students(students):
    counts = generate_district(seed=3, students=students).counts
    assert counts["students"] == students
    assert students / 700 - 1 <= counts["schools"] <= students / 500 + 1
    assert students / 26 <= counts["teachers"] <= students / 20 + 3
    assert 0.85 * students / 25 <= counts["sections"] <= 1.2 * students / 25 + 3
    assert 4.5 * students <= counts["enrollments"] <= 5.3 * students


def test_size_and_option_bounds():
    with pytest.raises(ValueError):
        generate_district(seed=1, students=0)
    with pytest.raises(ValueError):
        generate_district(seed=1, students=1_000_001)
    with pytest.raises(ValueError):
        generate_district(seed=1, students=500, state="ZZ")
    with pytest.raises(ValueError):
        generate_district(seed=1, students=500, lms_type="moodle")


# --- the mess of real districts -----------------------------------------------------------------


def test_multi_role_adults(users):
    role_sets = [set(u["roles"]) for u in users]
    assert {"teacher", "staff", "district_admin"} in role_sets
    assert {"teacher", "staff"} in role_sets
    assert {"district_admin", "staff"} in role_sets
    # Students hold only the student role; contacts only the contact role.
    assert all(r == {"student"} for r in role_sets if "student" in r)
    assert all(r == {"contact"} for r in role_sets if "contact" in r)


def test_twins_same_last_name_dob_and_school(students):
    groups = defaultdict(list)
    for s in students:
        role = s["roles"]["student"]
        if role.get("dob"):
            groups[(s["name"]["last"], role["dob"], role["school"])].append(s["name"]["first"])
    twins = [firsts for firsts in groups.values() if len(firsts) >= 2]
    assert twins
    assert all(len(set(firsts)) == len(firsts) for firsts in twins), "twins have different first names"


def test_common_surnames_are_common(students):
    lasts = Counter(s["name"]["last"] for s in students)
    _top, count = lasts.most_common(1)[0]
    assert count >= 0.01 * len(students)
    assert sum(lasts[n] for n in ("Smith", "Johnson", "Garcia", "Nguyen")) >= 0.02 * len(students)


def test_names_with_apostrophes_hyphens_and_non_ascii(users):
    lasts = [u["name"].get("last", "") for u in users]
    firsts = [u["name"].get("first", "") for u in users]
    assert any("'" in n for n in lasts)
    assert any("-" in n for n in lasts)
    assert any(not n.isascii() for n in lasts)
    assert any(not n.isascii() for n in firsts)
    assert any(" " in n for n in lasts)


def test_nicknames_in_email_or_preferred_name(users):
    nick_email = nick_preferred = 0
    for u in users:
        first = u["name"].get("first", "")
        if first not in NICKNAMES:
            continue
        nicks = {n.lower() for n in NICKNAMES[first]}
        local = u.get("email", "").split("@")[0].lower()
        if any(re.search(rf"(^|\.){re.escape(n)}(\.|\d|$)", local) for n in nicks):
            nick_email += 1
        preferred = u["roles"].get("student", {}).get("preferred_name", {}).get("first", "")
        if preferred.lower() in nicks:
            nick_preferred += 1
    assert nick_email > 0
    assert nick_preferred > 0


def test_young_students_mostly_without_email(students):
    young = [s for s in students if s["roles"]["student"]["grade"] in YOUNG]
    older = [s for s in students if s["roles"]["student"]["grade"] not in YOUNG]
    young_without = sum("email" not in s for s in young) / len(young)
    older_without = sum("email" not in s for s in older) / len(older)
    assert young_without > 0.7
    assert older_without < 0.15


def test_some_emails_lack_the_at_sign(users):
    emails = [u["email"] for u in users if "email" in u]
    without_at = [e for e in emails if "@" not in e]
    assert without_at
    assert len(without_at) < 0.05 * len(emails)


def test_contacts_link_one_to_three_students_with_valid_enums(users):
    ids = {u["id"]: u for u in users}
    contacts = [u for u in users if "contact" in u["roles"]]
    assert contacts
    spec = definitions("v3.1.yml", strict_records=False)
    phone_types = set(spec["Contact"]["properties"]["phone_type"]["enum"])
    relationship = spec["StudentRelationship"]["properties"]
    for contact in contacts:
        role = contact["roles"]["contact"]
        links = role["student_relationships"]
        assert 1 <= len(links) <= 3
        assert role["phone_type"] in phone_types
        for link in links:
            assert "student" in ids[link["student"]]["roles"]
            assert link["relationship"] in relationship["relationship"]["enum"]
            assert link["type"] in relationship["type"]["enum"]
    assert max(len(c["roles"]["contact"]["student_relationships"]) for c in contacts) >= 2
    # Clever's own demo district names some contacts in name.last only.
    assert any("first" not in c["name"] and " " in c["name"]["last"] for c in contacts)
    # A parent who also teaches in the district: same name and email as a teacher's user.
    teachers = {
        (u["name"]["first"], u["name"]["last"], u.get("email"))
        for u in users
        if "teacher" in u["roles"] and u.get("email")
    }
    assert any((c["name"].get("first"), c["name"]["last"], c.get("email")) in teachers for c in contacts)


def test_co_taught_sections_have_the_primary_teacher_first(district, users):
    teachers = {u["id"] for u in users if "teacher" in u["roles"]}
    students = {u["id"] for u in users if "student" in u["roles"]}
    sections = district.sections
    co_taught = [s for s in sections if len(s["teachers"]) >= 2]
    assert co_taught
    for section in sections:
        if section["teachers"]:
            assert section["teacher"] == section["teachers"][0]
        assert set(section["teachers"]) <= teachers
        assert set(section["students"]) <= students
        assert section["students"] == sorted(section["students"])
        assert isinstance(section["lms_status"]["synced_in_lms"], bool)


def test_students_in_two_schools(students, district):
    multi = [s for s in students if len(s["roles"]["student"]["schools"]) >= 2]
    assert multi
    school_ids = {s["id"] for s in district.schools}
    for student in multi:
        role = student["roles"]["student"]
        assert role["school"] in role["schools"]
        assert set(role["schools"]) <= school_ids
        assert {e["school"] for e in role["enrollments"]} == set(role["schools"])


def test_identifiers_legacy_ids_and_dob(users, students):
    dobs = [s["roles"]["student"].get("dob") for s in students]
    assert all(DOB.match(d) for d in dobs if d is not None)
    assert 0 < dobs.count(None) < 0.02 * len(students), "a few students have no dob"
    assert all(s["roles"]["student"]["sis_id"] for s in students)
    sis_ids = [s["roles"]["student"]["sis_id"] for s in students]
    assert len(set(sis_ids)) == len(sis_ids)
    assert any(s["roles"]["student"]["state_id"] for s in students)
    assert any(not s["roles"]["student"]["state_id"] for s in students)
    assert any(s["roles"]["student"]["student_number"] for s in students)
    teachers = [u["roles"]["teacher"] for u in users if "teacher" in u["roles"]]
    assert all(t["teacher_number"] and t["sis_id"] for t in teachers)
    assert any("legacy_id" in t for t in teachers) and any("legacy_id" not in t for t in teachers)
    staff = [u["roles"]["staff"] for u in users if "staff" in u["roles"]]
    assert all(s["staff_id"] for s in staff)
    assert all(
        is_clever_id(u["roles"]["district_admin"]["legacy_id"])
        for u in users
        if "district_admin" in u["roles"]
    )


def test_v31_sensitive_fields_at_realistic_rates(students):
    n = len(students)
    roles = [s["roles"]["student"] for s in students]
    for key in (
        "ell_status",
        "frl_status",
        "iep_status",
        "home_language",
        "gifted_status",
        "section_504_status",
        "disability",
    ):
        present = sum(key in r for r in roles)
        assert 0.9 * n <= present < n, key
    rate = lambda key, value: sum(r.get(key) == value for r in roles) / n  # noqa: E731
    assert 0.02 <= rate("ell_status", "Y") <= 0.3
    assert 0.25 <= rate("frl_status", "Free") <= 0.5
    assert 0.08 <= rate("iep_status", "Y") <= 0.2
    assert 0.01 <= rate("section_504_status", "Y") <= 0.08
    assert 0.6 <= rate("home_language", "English") <= 0.85
    assert any(r.get("disability", {}).get("disability_status") == "Y" for r in roles)
    assert all(isinstance(s["lms_status"]["synced_in_lms"], bool) for s in students)


def test_messiness_zero_is_clean():
    clean = generate_district(seed=2026, students=2_000, messiness=0)
    users = clean.users
    assert all(u["name"].get("first", "").isascii() and u["name"]["last"].isascii() for u in users)
    assert not any("'" in u["name"]["last"] for u in users)
    assert all("@" in u["email"] and u["email"].strip() == u["email"] for u in users if "email" in u)
    # Every student and adult has an email; only contacts may not.
    assert all("email" in u for u in users if "contact" not in u["roles"])
    assert all(len(u["roles"]) == 1 for u in users)
    assert all(len(s["teachers"]) == 1 for s in clean.sections)
    assert all(len(u["roles"]["student"]["schools"]) == 1 for u in users if "student" in u["roles"])


def test_messiness_scales_the_rates():
    def non_ascii_share(messiness):
        users = generate_district(seed=9, students=2_000, messiness=messiness).users
        return sum(not u["name"]["last"].isascii() for u in users) / len(users)

    assert non_ascii_share(0) == 0
    assert non_ascii_share(2) > non_ascii_share(1) > 0


# --- district records ------------------------------------------------------------------------------


def test_nces_and_mdr_with_and_without():
    with_ids = generate_district(seed=5, students=1_300, state="TX", with_nces=True, with_mdr=True)
    nces = with_ids.data["nces_id"]
    assert re.fullmatch(r"48\d{5}", nces), "7-digit LEAID starting with Texas' FIPS code"
    assert re.fullmatch(r"\d{8}", with_ids.data["mdr_number"])
    for school in with_ids.schools:
        assert re.fullmatch(rf"{nces}\d{{5}}", school["nces_id"])
        assert school["location"]["state"] == "TX"
    without = generate_district(seed=5, students=1_300, with_nces=False, with_mdr=False)
    assert without.data["nces_id"] == "" and without.data["mdr_number"] == ""
    assert all(s["nces_id"] == "" and s["mdr_number"] == "" for s in without.schools)
    # Left to the seed, both kinds appear across districts.
    seen = {
        (bool(g.data["nces_id"]), bool(g.data["mdr_number"]))
        for g in (generate_district(seed=s, students=50) for s in range(12))
    }
    assert {True, False} == {n for n, _ in seen} == {m for _, m in seen}


def test_same_name_in_two_states():
    one = generate_district(
        seed=11, students=500, name="Springfield Public Schools", state="IL", with_nces=True
    )
    other = generate_district(
        seed=12, students=500, name="Springfield Public Schools", state="MO", with_nces=True
    )
    assert one.name == other.name == one.data["name"] == other.data["name"]
    assert one.id != other.id
    assert one.data["nces_id"].startswith(STATES["IL"][0])
    assert other.data["nces_id"].startswith(STATES["MO"][0])
    assert {s["location"]["state"] for s in other.schools} == {"MO"}
    emails = {u.get("email", "") for u in one.users} & {u.get("email", "") for u in other.users}
    assert emails <= {""}, "the two districts' email domains differ"


def test_single_school_district():
    single = generate_district(seed=4, students=3_000, single_school=True)
    (school,) = single.schools
    assert school["low_grade"] == "PreKindergarten" and school["high_grade"] == "12"
    assert {u["roles"]["student"]["school"] for u in single.users if "student" in u["roles"]} == {
        school["id"]
    }
    assert {s["school"] for s in single.sections} == {school["id"]}


def test_records_validate_against_clevers_v31_swagger(district):
    """Every field is one the v3.1 spec defines (strict), every enum value is in its enum."""
    spec = definitions("v3.1.yml")
    validators = {
        name: jsonschema.Draft4Validator({"$ref": f"#/definitions/{name}", "definitions": spec})
        for name in ("School", "Term", "Course", "Section", "User", "District")
    }
    kinds = {
        "schools": "School",
        "terms": "Term",
        "courses": "Course",
        "sections": "Section",
        "users": "User",
    }
    for record_type, body in district.records():
        validators[kinds[record_type]].validate(body)
    body = {**district.data, "id": district.id, "lms_type": "canvas", "lms_state": "success"}
    validators["District"].validate(body)
    # The values the enums constrain are really varied, not one constant.
    users = district.users
    grades = {u["roles"]["student"]["grade"] for u in users if "student" in u["roles"]}
    assert {"PreKindergarten", "Kindergarten", "1", "12"} <= grades
    races = {u["roles"]["student"]["race"] for u in users if "student" in u["roles"]}
    assert len(races) >= 6
    genders = {u["roles"]["student"]["gender"] for u in users if "student" in u["roles"]}
    assert {"M", "F"} <= genders
    subjects = {s["subject"] for s in district.sections}
    assert len(subjects) >= 6


# --- loading and the command ----------------------------------------------------------------------


@pytest.mark.django_db
def test_load_district_writes_every_record_and_refuses_a_second_load(district):
    loaded = load_district(district, events_enabled=False)
    assert loaded.id == district.id and loaded.name == district.name
    assert not loaded.events_enabled
    assert district_counts(loaded) == district.counts
    assert services.district_token(loaded) is not None
    section = district.sections[0]
    stored = SandboxEdge.objects.filter(src_id=section["id"], rel="students")
    assert sorted(stored.values_list("dst_id", flat=True)) == section["students"]
    user = district.users[0]
    row = SandboxRecord.objects.get(clever_id=user["id"])
    assert json.loads(row.body) == user and row.is_student
    with pytest.raises(DistrictExists):
        load_district(district)


@pytest.mark.django_db
def test_sandbox_seed_json_reports_districts_and_counts():
    out = StringIO()
    call_command(
        "sandbox_seed",
        "--districts",
        "2",
        "--students",
        "500",
        "--seed",
        "5",
        "--library",
        "--same-name-other-state",
        "--json",
        stdout=out,
    )
    report = json.loads(out.getvalue())
    districts = report["districts"]
    assert len(districts) == 4 == SandboxDistrict.objects.count()
    for entry in districts:
        assert entry["status"] == "created"
        assert entry["counts"]["students"] == 500
        assert entry["counts"]["sections"] > 0 and entry["counts"]["contacts"] > 0
    first, second, same_name, library = districts
    assert first["lms_type"] == "canvas" and second["lms_type"] == "schoology"
    assert first["nces_id"] and not second["nces_id"]
    assert same_name["name"] == first["name"] and same_name["us_state"] != first["us_state"]
    assert library["sharing"] == Sharing.LIBRARY and library["district_token"] is None
    assert (
        first["district_token"]
        == services.district_token(SandboxDistrict.objects.get(id=first["id"])).access_token
    )
    assert report["application"]["client_id"] == services.get_application().client_id
    assert report["login"]["control"].endswith("/sandbox/")
    assert report["login"]["portal"].endswith("/sandbox/portal/")

    # Seeding again with the same seed adds nothing; --reset starts over.
    again = StringIO()
    call_command(
        "sandbox_seed", "--districts", "2", "--students", "500", "--seed", "5", "--json", stdout=again
    )
    assert [d["status"] for d in json.loads(again.getvalue())["districts"]] == ["existing"] * 2
    assert SandboxDistrict.objects.count() == 4
    reset = StringIO()
    call_command(
        "sandbox_seed",
        "--students",
        "500",
        "--seed",
        "6",
        "--no-events",
        "--lms",
        "none",
        "--single-school",
        "--reset",
        "--json",
        stdout=reset,
    )
    (only,) = json.loads(reset.getvalue())["districts"]
    assert SandboxDistrict.objects.count() == 1
    assert only["events_enabled"] is False and only["lms_type"] == ""
    assert only["counts"]["schools"] == 1


@pytest.mark.django_db
def test_sandbox_seed_readable_summary_and_bad_options():
    out = StringIO()
    call_command("sandbox_seed", "--students", "300", "--seed", "8", stdout=out)
    text = out.getvalue()
    assert "Created:" in text and "300 students" in text and "client ID" in text
    token = services.district_token(SandboxDistrict.objects.get()).access_token
    assert token not in text, "the summary masks the district token"
    from django.core.management.base import CommandError

    with pytest.raises(CommandError):
        call_command("sandbox_seed", "--students", "0", stdout=StringIO())
