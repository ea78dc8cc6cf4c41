"""Clever Matchmaker CSVs through the management commands: export, import (each kind of error
applies nothing), and our explained results."""

import csv
import io
import json

import pytest
from django.core.management import CommandError, call_command

from matching.models import MatchSource, MatchStatus, PersonMatch
from rostering.models import Person

from .conftest import product_copy, students

pytestmark = pytest.mark.django_db

HEADER = "app.id,app.first_name,app.last_name,clever.id,clever.first_name,matchmaker_results\r\n"


def run(*args) -> dict:
    out = io.StringIO()
    call_command(*args, "--json", stdout=out)
    return json.loads(out.getvalue())


def write(tmp_path, text: str, encoding: str = "utf-8"):
    path = tmp_path / "results.csv"
    path.write_bytes(text.encode(encoding))
    return str(path)


@pytest.fixture
def people(synced):
    clever = students(synced)[:4]
    return clever, [product_copy(p, sis_id="", student_number="", date_of_birth=None) for p in clever]


def test_export_writes_one_rfc4180_row_per_product_person(synced, people, tmp_path):
    _, users = people
    users[0].last_name = 'O"Brien, Jr.'
    users[0].save()
    path = tmp_path / "matchmaker.csv"

    summary = run("matchmaker_export", synced.clever_id, "--output", str(path))

    assert summary == {"district": synced.clever_id, "file": str(path), "rows": 4, "kind": "matchmaker_input"}
    data = path.read_bytes()
    assert data.count(b"\r\n") == 5 and b'"O""Brien, Jr."' in data
    rows = list(csv.DictReader(io.StringIO(data.decode(), newline="")))
    assert sorted(r["app.id"] for r in rows) == sorted(str(u.pk) for u in users)
    assert rows[0]["app.role"] == "student" and "app.school_nces_id" in rows[0]


def test_import_links_match_rows_and_queues_the_rest(synced, people, tmp_path):
    clever, users = people
    spare = (
        Person.objects.filter(district=synced, is_student=True).exclude(pk__in=[p.pk for p in clever]).first()
    )
    text = HEADER + "".join(
        [
            f"{users[0].pk},A,B,{clever[0].clever_id},A,match\r\n",
            f'{users[1].pk},A,B,,,"from app, no match"\r\n',
            f'{users[2].pk},A,B,{clever[2].clever_id},A,"From App, Duplicate"\r\n',
            f',,,{spare.clever_id},C,"from Clever, no match"\r\n',
        ]
    )

    summary = run("matchmaker_import", write(tmp_path, text), "--district", synced.clever_id)

    assert summary == {"district": synced.clever_id, "linked": 1, "review_items": 3, "errors": []}
    clever[0].refresh_from_db()
    assert clever[0].user == users[0]
    linked = PersonMatch.objects.get(user=users[0])
    assert linked.status == MatchStatus.ACCEPTED and linked.source == MatchSource.MATCHMAKER
    assert PersonMatch.objects.get(user=users[1]).zone == "no_match"
    assert PersonMatch.objects.get(user=users[2]).zone == "duplicate"
    clever_side = PersonMatch.objects.get(user=None, person=spare)
    assert clever_side.status == MatchStatus.PENDING and clever_side.zone == "no_match"


@pytest.mark.parametrize(
    "make_text, encoding, expected",
    [
        (lambda u, c: "app.id,clever.id\r\n1,2\r\n", "utf-8", "line 1: missing column(s) matchmaker_results"),
        (
            lambda u, c: HEADER + f"{u[0].pk},Zoë,B,{c[0].clever_id},A,match\r\n",
            "latin-1",
            "line 2: the file is not UTF-8",
        ),
        (
            lambda u, c: HEADER + f"{u[0].pk},A,B,{c[0].clever_id},A,maybe\r\n",
            "utf-8",
            "line 2: unknown matchmaker_results",
        ),
        (
            lambda u, c: HEADER + f"{u[0].pk},A,B,{c[0].clever_id},match\r\n",
            "utf-8",
            "line 2: 5 fields, the header has 6",
        ),
        (
            lambda u, c: (
                HEADER
                + f"{u[0].pk},A,B,{c[0].clever_id},A,match\r\n{u[0].pk},A,B,{c[1].clever_id},A,match\r\n"
            ),
            "utf-8",
            "lines 2, 3: app.id",
        ),
        (
            lambda u, c: (
                HEADER
                + f"{u[0].pk},A,B,{c[0].clever_id},A,match\r\n{u[1].pk},A,B,{c[0].clever_id},A,match\r\n"
            ),
            "utf-8",
            "is matched more than once",
        ),
        (
            lambda u, c: HEADER + f"{u[0].pk},A,B,{'f' * 24},A,match\r\n",
            "utf-8",
            "is not a live person of the synced",
        ),
        (
            lambda u, c: HEADER + f"999999,A,B,{c[0].clever_id},A,match\r\n",
            "utf-8",
            "line 2: app.id 999999 is not a person",
        ),
        (
            lambda u, c: HEADER + f",A,B,{c[0].clever_id},A,match\r\n",
            "utf-8",
            "line 2: 'match' without an app.id",
        ),
    ],
)
def test_a_bad_file_is_refused_with_line_numbers_and_applies_nothing(
    synced, people, tmp_path, make_text, encoding, expected
):
    clever, users = people
    # A good row first: it must not be applied either.
    path = write(tmp_path, make_text(users, clever), encoding)

    with pytest.raises(CommandError) as refused:
        run("matchmaker_import", path, "--district", synced.clever_id)

    assert expected in str(refused.value) and "nothing changed" in str(refused.value)
    assert not PersonMatch.objects.exists()
    assert not Person.objects.filter(pk__in=[p.pk for p in clever], user__in=users).exists()


def test_explained_export_gives_probability_weight_and_top_contributions(synced, people, tmp_path):
    run("match_records", synced.clever_id)
    path = tmp_path / "explained.csv"

    summary = run("matchmaker_export", synced.clever_id, "--explained", "--output", str(path))

    rows = list(csv.DictReader(io.StringIO(path.read_text(), newline="")))
    assert summary["rows"] == len(rows) == PersonMatch.objects.count() >= 4
    row = rows[0]
    assert 0 <= float(row["match_probability"]) <= 1 and row["status"] in set(MatchStatus.values)
    assert row["top_contributions"].count(":") == 2 * len(row["top_contributions"].split("; "))


def test_match_records_prints_a_json_summary(synced, people):
    summary = run("match_records", synced.clever_id)
    assert summary["district"] == synced.clever_id
    assert sum(summary["people"].values()) == 4 + summary["people"].get("kept", 0)
    assert summary["review_queue"] == PersonMatch.objects.filter(status="pending").count()


def test_commands_refuse_an_unknown_district():
    with pytest.raises(CommandError, match="no district with Clever ID nope"):
        run("match_records", "nope")
