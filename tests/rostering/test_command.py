"""``manage.py clever_sync``: runs syncs in this process and reports them."""

from __future__ import annotations

import json
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from districts.models import DistrictStatus
from rostering.models import SyncRun
from sandbox import services as sandbox_services
from tests.rostering.conftest import connect, load_generated

TYPES = {"schools", "terms", "courses", "sections", "users"}
TOTALS = {
    "schools",
    "users",
    "students",
    "teachers",
    "staff",
    "district_admins",
    "contacts",
    "sections",
    "enrollments",
    "terms",
    "courses",
}


def sync_command(*args) -> str:
    out = StringIO()
    call_command("clever_sync", *args, stdout=out)
    return out.getvalue()


@pytest.fixture
def two_districts(db, sandbox_app):
    first = load_generated(seed=21, students=60)
    second = sandbox_services.create_district(name="Quiet USD")
    return connect(first), connect(second)


def test_json_output_has_exactly_the_documented_shape(two_districts):
    first, second = two_districts

    report = json.loads(sync_command(first.clever_id, second.clever_id, "--json"))

    assert list(report) == ["runs"]
    assert [run["district"] for run in report["runs"]] == [first.clever_id, second.clever_id]
    for run in report["runs"]:
        assert set(run) == {
            "district",
            "status",
            "kind",
            "created",
            "updated",
            "archived",
            "unchanged",
            "totals",
            "requests",
            "seconds",
            "error",
        }
        assert run["status"] == "succeeded" and run["kind"] == "full" and run["error"] is None
        for kind in ("created", "updated", "archived", "unchanged"):
            assert set(run[kind]) == TYPES
        assert set(run["totals"]) == TOTALS
        assert isinstance(run["requests"], int) and run["requests"] > 0
        assert isinstance(run["seconds"], float)
    assert report["runs"][0]["totals"]["students"] == 60
    assert report["runs"][0]["created"]["users"] == report["runs"][0]["totals"]["users"]
    assert report["runs"][1]["totals"]["users"] == 0
    assert SyncRun.objects.filter(trigger=SyncRun.Trigger.COMMAND).count() == 2


def test_all_syncs_every_connected_district_and_full_forces_full(two_districts):
    first, second = two_districts
    second.status = DistrictStatus.DISCONNECTED
    second.save()
    sync_command("--all", "--json")

    report = json.loads(sync_command("--all", "--json"))
    assert [run["district"] for run in report["runs"]] == [first.clever_id]
    assert report["runs"][0]["kind"] == "incremental"
    assert sum(report["runs"][0]["unchanged"].values()) == 0

    forced = json.loads(sync_command(first.clever_id, "--full", "--json"))["runs"][0]
    assert forced["kind"] == "full"
    assert sum(forced["unchanged"].values()) == forced["totals"]["users"] + sum(
        forced["totals"][t] for t in ("schools", "terms", "courses", "sections")
    )


def test_a_named_district_that_cannot_sync_is_reported_skipped(two_districts):
    _, second = two_districts
    second.sync_enabled = False
    second.save()

    run = json.loads(sync_command(second.clever_id, "--json"))["runs"][0]

    assert run["status"] == "skipped" and "switched off" in run["error"]


def test_an_unknown_district_is_an_error(two_districts):
    first, _ = two_districts
    with pytest.raises(CommandError, match="unknown Clever district ID"):
        sync_command(first.clever_id, "000000000000000000000000")
    assert not SyncRun.objects.exists()  # nothing ran
    with pytest.raises(CommandError):
        sync_command()


def test_the_readable_summary(two_districts):
    first, _ = two_districts
    text = sync_command(first.clever_id)
    assert f"({first.clever_id}): succeeded, full sync" in text
    assert "created" in text and "60 students" in text
