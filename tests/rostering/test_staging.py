"""How a full sync stages a page: streamed rows, a record listed twice, staged rows and their run."""

from __future__ import annotations

from django.utils import timezone

from rostering.models import Person, StagedRecord, SyncRun
from rostering.services import sync
from rostering.services.sync import run_sync
from tests.rostering.conftest import truth


def test_a_record_listed_twice_on_a_page_counts_once_as_last_listed(generated, client, monkeypatch):
    sandbox_district, district = generated
    real_first_page = sync._first_page
    doubled = []

    def first_page(client, path, params=None):
        page = real_first_page(client, path, params)
        if not doubled and page.records and "users" in path:
            again = {**page.records[0], "name": {"first": "Twice", "last": "Listed"}}
            page.records.append(again)
            doubled.append(again["id"])
        return page

    monkeypatch.setattr(sync, "_first_page", first_page)
    run = run_sync(district=district, client=client)

    assert run.status == SyncRun.Status.SUCCEEDED, run.error
    assert doubled
    served = truth(sandbox_district)
    assert run.counts["created"]["users"] == len(served["users"])
    assert Person.objects.filter(district=district).count() == len(served["users"])
    assert Person.objects.get(district=district, clever_id=doubled[0]).first_name == "Twice"


def test_a_page_of_new_changed_and_missing_records_is_streamed_into_staging(generated, client, monkeypatch):
    """The rows of a page are generated while they are written: what is staged is what the
    diff needs (new and changed records, deletions of missing ones), nothing else."""
    from sandbox import services as sandbox_services

    sandbox_district, district = generated
    run_sync(district=district, client=client)
    served = truth(sandbox_district)
    students = sorted(i for i, u in served["users"].items() if "student" in u["roles"])
    gone = sandbox_services.delete_record(clever_id=students[1])
    changed = dict(served["users"][students[2]], email="changed@example.org")
    sandbox_services.put_record(district=sandbox_district, record_type="users", data=changed)
    staged = []
    real_insert = sync.staging.insert_staged

    def insert_staged(rows):
        rows = list(rows)
        staged.extend(
            (record_type, clever_id, action) for _run, record_type, clever_id, _hash, _data, action in rows
        )
        real_insert(rows)

    monkeypatch.setattr(sync.staging, "insert_staged", insert_staged)
    run = run_sync(district=district, kind="full", client=client)

    assert run.status == SyncRun.Status.SUCCEEDED, run.error
    users = sorted((clever_id, action) for record_type, clever_id, action in staged if record_type == "users")
    assert (gone["id"], StagedRecord.Action.DELETE) in users
    assert (students[2], StagedRecord.Action.UPSERT) in users
    assert run.counts["archived"]["users"] == 1
    assert Person.objects.get(district=district, clever_id=students[2]).email == "changed@example.org"
    assert not StagedRecord.objects.filter(run=run).exists()


def test_deleting_a_run_deletes_its_staged_rows(generated):
    _, district = generated
    now = timezone.now()
    run = SyncRun.objects.create(
        district=district,
        kind=SyncRun.Kind.FULL,
        status=SyncRun.Status.FAILED,
        started_at=now,
        heartbeat_at=now,
    )
    other = SyncRun.objects.create(
        district=district,
        kind=SyncRun.Kind.FULL,
        status=SyncRun.Status.FAILED,
        started_at=now,
        heartbeat_at=now,
    )
    for owner in (run, other):
        StagedRecord.objects.create(
            run=owner, record_type="users", clever_id="a" * 24, content_hash="h", data=[]
        )

    run.delete()

    assert not StagedRecord.objects.filter(run_id=run.pk).exists()
    assert StagedRecord.objects.filter(run=other).count() == 1
