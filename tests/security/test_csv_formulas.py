"""Issue #12, CSV formula injection: every CSV the project writes neutralizes formula cells
(``clever.csvsafe``) and its import reads them back as the values that were written.

The hostile names come from Clever for real: they are put in the sandbox district's records,
synced, copied into product accounts (as the product's own roster import would have them), then
exported and imported through the management commands.
"""

import csv
import io
import json
import re

import pytest
from django.core.management import call_command
from hypothesis import example, given
from hypothesis import strategies as st

from accounts.factories import OrganizationFactory, UserFactory
from clever import csvsafe
from districts.models import District
from matching import matchmaker
from matching.models import PersonMatch, Zone
from rostering.models import Person
from sandbox import services as sandbox
from sandbox.generator.districts import generate_district, load_district
from sandbox.models import SandboxRecord

HOSTILE_FIRST_NAMES = ['=HYPERLINK("http://evil.example","x")', "+1+1", "-2+3", "@SUM(A1)", "\tcmd", "\rcmd"]
# (value, as written): values that already look escaped, or only nearly like formulas.
TRICKY_LAST_NAMES = [
    ("'=1+1", "''=1+1"),
    ("''@x", "'''@x"),
    ("\uff1dSUM(A1)", "'\uff1dSUM(A1)"),
    ("\n=1+1", "'\n'=1+1"),  # the trigger after the line feed too
    ("O'Brien", "O'Brien"),
    ("'quoted'", "'quoted'"),
]


def cells(data: bytes) -> list[list[str]]:
    """The file's cells as a spreadsheet sees them (nothing un-escaped)."""
    return list(csv.reader(io.StringIO(data.decode(), newline="")))


def read_back(data: bytes) -> list[dict[str, str]]:
    """The file's rows as the project's import reads them."""
    header, *rows = csvsafe.Reader(io.StringIO(data.decode(), newline=""))
    return [dict(zip(header, row, strict=True)) for row in rows]


def no_formula_cell(data: bytes) -> bool:
    return all(cell[:1] not in csvsafe.TRIGGERS for row in cells(data) for cell in row)


def run(*args) -> dict:
    out = io.StringIO()
    call_command(*args, "--json", stdout=out)
    return json.loads(out.getvalue())


@pytest.fixture
def hostile(db, sandbox_app):
    """A district synced from a sandbox district whose first six students have hostile names,
    each copied into a plain product account (as the product's roster import had them; no
    password, so a Matchmaker ``match`` links it at once): ``(district, [(person, user), ...])``."""
    generated = load_district(generate_district(seed=12, students=40))
    ids = list(
        SandboxRecord.objects.filter(district_id=generated.id, record_type="users", is_student=True)
        .order_by("clever_id")
        .values_list("clever_id", flat=True)[:6]
    )
    for clever_id, first, (last, _) in zip(ids, HOSTILE_FIRST_NAMES, TRICKY_LAST_NAMES, strict=True):
        sandbox.update_record(clever_id=clever_id, changes={"name": {"first": first, "last": last}})
    organization = OrganizationFactory(name="Hostile USD")
    district = District.objects.create(clever_id=generated.id, name=generated.name, organization=organization)
    assert run("clever_sync", district.clever_id, "--full")["runs"][0]["status"] == "succeeded"
    people = sorted(Person.objects.filter(district=district, clever_id__in=ids), key=lambda p: p.clever_id)
    assert [p.first_name for p in people] == HOSTILE_FIRST_NAMES  # as Clever sent them
    pairs = []
    for person in people:
        user = UserFactory(
            username=f"product-{person.clever_id}",
            first_name=person.first_name,
            last_name=person.last_name,
            email="",
            organization=organization,
            role="student",
        )
        user.set_unusable_password()
        user.save(update_fields=["password"])
        pairs.append((person, user))
    return district, pairs


def export(district, tmp_path, *options) -> bytes:
    path = tmp_path / "export.csv"
    run("matchmaker_export", district.clever_id, *options, "--output", str(path))
    return path.read_bytes()


@pytest.mark.django_db
def test_the_matchmaker_export_neutralizes_every_formula_cell(hostile, tmp_path):
    district, pairs = hostile

    data = export(district, tmp_path)

    assert no_formula_cell(data)
    header, *rows = cells(data)
    written = {row[0]: dict(zip(header, row, strict=True)) for row in rows}
    for (_, user), first, (_, last) in zip(pairs, HOSTILE_FIRST_NAMES, TRICKY_LAST_NAMES, strict=True):
        assert written[str(user.pk)]["app.first_name"] == csvsafe.neutralize(first)
        assert written[str(user.pk)]["app.first_name"].startswith("'")
        assert written[str(user.pk)]["app.last_name"] == last
    # Read the project's way, every cell is the value that was exported.
    read = {row["app.id"]: row for row in read_back(data)}
    for _, user in pairs:
        assert (read[str(user.pk)]["app.first_name"], read[str(user.pk)]["app.last_name"]) == (
            user.first_name,
            user.last_name,
        )


@pytest.mark.django_db
def test_matchmaker_results_made_from_the_export_import_back(hostile, tmp_path):
    district, pairs = hostile
    header, *rows = cells(export(district, tmp_path))
    clever_ids = {str(user.pk): person.clever_id for person, user in pairs}
    # Matchmaker sends our app.* cells back as they were, beside the Clever record it chose.
    results = io.StringIO()
    writer = csv.writer(results, lineterminator="\r\n")
    writer.writerow([*header, "clever.id", "clever.first_name", "matchmaker_results"])
    writer.writerows([*row, clever_ids[row[0]], row[header.index("app.first_name")], "match"] for row in rows)
    path = tmp_path / "results.csv"
    path.write_text(results.getvalue(), encoding="utf-8", newline="")

    summary = run("matchmaker_import", str(path), "--district", district.clever_id)

    assert summary == {"district": district.clever_id, "linked": 6, "review_items": 0, "errors": []}
    for person, user in pairs:
        person.refresh_from_db()
        assert person.user == user


def test_the_import_reads_neutralized_id_and_result_cells_back():
    written = [
        {"app.id": "-7", "clever.id": "=c1", "matchmaker_results": "match"},
        {"app.id": "'+8", "clever.id": "@c2", "matchmaker_results": "from app, duplicate"},
    ]
    stream = io.StringIO()
    matchmaker.write_csv(written, stream, matchmaker.REQUIRED_COLUMNS)
    data = stream.getvalue().encode()
    assert no_formula_cell(data) and b"'-7,'=c1" in data

    rows = matchmaker.read_results(data)

    assert [(r.app_id, r.clever_id, r.result) for r in rows] == [
        ("-7", "=c1", matchmaker.MATCH),
        ("'+8", "@c2", matchmaker.APP_DUPLICATE),
    ]


@pytest.mark.django_db
def test_the_explained_export_neutralizes_negative_numbers_too(hostile, tmp_path):
    district, pairs = hostile
    person, user = pairs[0]
    contribution = {"field": "last_name", "level": "different", "weight": -4.25}
    PersonMatch.objects.create(
        district=district,
        user=user,
        person=person,
        zone=Zone.REVIEW,
        probability=0.0125,
        weight=-4.25,
        candidates=[{"clever_id": person.clever_id, "contributions": [contribution], "vetoes": ["-dob"]}],
    )

    data = export(district, tmp_path, "--explained")

    assert no_formula_cell(data)
    header, written = cells(data)
    assert written[header.index("match_weight")] == "'-4.250"
    (row,) = read_back(data)
    assert (row["match_weight"], row["reasons"], row["clever.id"]) == ("-4.250", "-dob", person.clever_id)


# --- the rule itself, for any text --------------------------------------------------------------


@given(st.text())
@example("-5")
@example("'")
@example("'=")
@example("''\t")
@example("Ann Smith;=HYPERLINK(CHAR(104)&A1)")
@example("a|'-1\t@x")
def test_neutralize_then_restore_gives_the_value_back(value):
    written = csvsafe.neutralize(value)
    assert csvsafe.restore(written) == value
    # No piece an importer could split off starts with a trigger (the security review of issue
    # #16: a semicolon inside a name made a second, formula, cell).
    for piece in re.split(r"[,;|\t\r\n]", written):
        assert piece[:1] not in csvsafe.TRIGGERS
    assert written[:1] not in csvsafe.TRIGGERS


@given(st.text().filter(lambda value: not value.startswith("'") and not re.search(r"[,;|\t\r\n]'", value)))
def test_a_cell_without_a_leading_apostrophe_is_read_as_it_is(value):
    # What Clever's own tool writes unescaped (a negative number, a date) is data as it stands.
    assert csvsafe.restore(value) == value


@given(st.lists(st.lists(st.text(), min_size=3, max_size=3), max_size=5))
def test_a_csv_written_and_read_by_the_project_round_trips_exactly(rows):
    stream = io.StringIO(newline="")
    writer = csvsafe.DictWriter(stream, fieldnames=["=a", "b", "c"], lineterminator="\r\n")
    writer.writeheader()
    writer.writerows(dict(zip(["=a", "b", "c"], row, strict=True)) for row in rows)
    data = stream.getvalue().encode()

    assert no_formula_cell(data)
    assert list(csvsafe.Reader(io.StringIO(data.decode(), newline=""))) == [["=a", "b", "c"], *rows]
