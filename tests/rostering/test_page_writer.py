"""The page writer: pages written in order on a thread of their own, errors handed back, and a
full sync through it (PostgreSQL, outside a test transaction, where the thread is used)."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from rostering.models import StagedRecord, SyncRun
from rostering.services import page_writer, sync
from rostering.services.page_writer import PageWriter, background_writes_possible
from rostering.services.sync import run_sync
from tests.conftest import require_service
from tests.rostering.conftest import connect, load_generated
from tests.rostering.test_failures import Hooked, Killed, change_roster
from tests.rostering.test_full_sync import assert_mirror_matches


class Broken(Exception):
    pass


def test_jobs_run_in_order_on_the_writer_thread():
    ran = []
    writer = PageWriter(threaded=True)
    for number in range(5):
        writer.submit(lambda number=number: ran.append((number, threading.current_thread().name)))
    writer.flush()
    assert [number for number, _ in ran] == [0, 1, 2, 3, 4]
    assert {name for _, name in ran} == {"sync-page-writer"}
    writer.close()


def test_a_failed_job_is_raised_in_the_caller_and_the_later_jobs_are_dropped():
    ran = []
    writer = PageWriter(threaded=True)

    def fail():
        raise Broken("page 2")

    writer.submit(lambda: ran.append(1))
    writer.submit(fail)
    with pytest.raises(Broken, match="page 2"):
        writer.flush()
    with pytest.raises(Broken):
        writer.submit(lambda: ran.append(3))
    writer.close(quietly=True)  # the caller is failing already: no second exception
    assert ran == [1]


def test_close_runs_what_is_queued_and_raises_a_late_failure():
    ran = []
    writer = PageWriter(threaded=True)
    writer.submit(lambda: ran.append(1))

    def fail():
        raise Broken("last page")

    writer.submit(fail)
    with pytest.raises(Broken, match="last page"):
        writer.close()
    assert ran == [1]


def test_inline_writer_runs_each_job_at_once():
    ran = []
    writer = PageWriter(threaded=False)
    writer.submit(lambda: ran.append(threading.current_thread().name))
    assert ran == [threading.current_thread().name]
    writer.close()


@pytest.mark.django_db
def test_no_thread_inside_a_transaction_or_when_switched_off(settings):
    # A test's transaction: a second connection would not see its rows.
    assert connection.in_atomic_block
    assert not background_writes_possible()
    settings.SYNC_PAGE_WRITER_THREAD = False
    assert not background_writes_possible()


@pytest.fixture
def threaded_writers(monkeypatch):
    """Records whether each run's page writer used a thread."""
    used = []

    class Recording(PageWriter):
        def __init__(self, *, threaded):
            used.append(threaded)
            super().__init__(threaded=threaded)

    monkeypatch.setattr(sync, "PageWriter", Recording)
    return used


@pytest.mark.django_db(transaction=True)
def test_a_full_sync_written_by_the_thread_matches_clever(sandbox_app, make_client,
                                                          threaded_writers):
    require_service("PostgreSQL", connection.vendor == "postgresql",
                    "set DATABASE_URL to a PostgreSQL database")
    assert page_writer.background_writes_possible()
    sandbox_district = load_generated(seed=5, students=300)
    district = connect(sandbox_district)

    run = run_sync(district=district, client=make_client(page_size=100))

    assert run.status == SyncRun.Status.SUCCEEDED, run.error
    assert threaded_writers == [True]
    assert run.progress == 1.0 and run.pages > 5
    assert_mirror_matches(district, sandbox_district)
    assert not StagedRecord.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_a_run_killed_while_the_thread_writes_resumes_from_what_it_committed(
        sandbox_app, make_client, threaded_writers):
    require_service("PostgreSQL", connection.vendor == "postgresql",
                    "set DATABASE_URL to a PostgreSQL database")
    sandbox_district = load_generated(seed=6, students=300)
    district = connect(sandbox_district)
    assert run_sync(district=district, client=make_client(page_size=100)).status == \
        SyncRun.Status.SUCCEEDED
    change_roster(sandbox_district)
    calls = {"users": 0}

    def kill_on_third_user_page(request):
        if "/v3.1/users" in request.url and "count=true" not in request.url:
            calls["users"] += 1
            if calls["users"] == 3:
                raise Killed

    with pytest.raises(Killed):
        run_sync(district=district, kind="full",
                 client=make_client(page_size=100, http_adapter=Hooked(kill_on_third_user_page)))

    killed = SyncRun.objects.get(district=district, status=SyncRun.Status.RUNNING)
    # Every page handed to the writer before the kill was committed with its checkpoint: the
    # two user pages fetched are staged and the checkpoint points past them.
    checkpoint = killed.checkpoint
    assert checkpoint["done"] == ["schools", "terms", "courses", "sections"]
    assert checkpoint["fetched"]["users"] == 200
    assert "starting_after=" in checkpoint["next"]["users"]
    staged_users = StagedRecord.objects.filter(run=killed, record_type="users")
    assert staged_users.exists()
    assert max(staged_users.values_list("clever_id", flat=True)) <= checkpoint["max_id"]["users"]
    SyncRun.objects.filter(pk=killed.pk).update(heartbeat_at=timezone.now() - timedelta(hours=1))

    resumed = run_sync(district=district, client=make_client(page_size=100))

    assert resumed.status == SyncRun.Status.SUCCEEDED, resumed.error
    assert resumed.resumed_from_id == killed.pk
    assert resumed.counts["archived"]["users"] == 5
    assert threaded_writers == [True, True, True]
    assert_mirror_matches(district, sandbox_district)
