"""The health endpoints: ``/health/`` (every check, JSON with ``?format=json``, HTTP 500 when one
fails) and ``/health/live/``; the project's own checks (the nightly ran, no district failing
night after night) red when they should be; the Celery checks skipped, explicitly, in eager mode.

A real worker answering per queue (``CeleryWorkers`` green, a queue without a worker named) is
left to the production-topology tests, which run Redis and workers: here the worker check is
either skipped (eager) or red because nothing answers the ping.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from districts.models import District
from operations.health import expected_queues
from operations.models import Heartbeat
from rostering import tasks as rostering_tasks
from rostering.models import SyncRun
from tests.conftest import sync

pytestmark = pytest.mark.django_db

WORKERS, BROKER = "CeleryWorkers()", "CeleryBroker()"
NIGHTLY, FAILING = "NightlyDispatch()", "FailingDistricts()"


@pytest.fixture
def eager(settings):
    """Eager Celery (no REDIS_URL), as in the demo, whatever the environment says."""
    settings.CELERY_TASK_ALWAYS_EAGER = True
    settings.REDIS_URL = ""


@pytest.fixture
def with_celery(settings):
    """A deployment that runs Celery workers and beat (the checks apply); the broker of the test
    run (in-memory without REDIS_URL), where no worker listens."""
    settings.CELERY_TASK_ALWAYS_EAGER = False


def health(client, expected_status: int = 200) -> dict:
    response = client.get(reverse("health"), {"format": "json"})
    assert response.status_code == expected_status, response.content
    assert response["Cache-Control"].startswith("max-age=0")
    return response.json()


def failed_nights(district: District, nights: int, *, status: str = SyncRun.Status.FAILED) -> None:
    """Nightly runs of ``district`` on the ``nights`` last nights (with a retry on each)."""
    now = timezone.now()
    for night in range(1, nights + 1):
        started = now - timedelta(days=night)
        for minutes in (0, 5):
            SyncRun.objects.create(
                district=district,
                kind=SyncRun.Kind.FULL,
                trigger=SyncRun.Trigger.NIGHTLY,
                status=status,
                started_at=started + timedelta(minutes=minutes),
                finished_at=started + timedelta(minutes=minutes + 1),
            )


def test_live_says_the_process_answers_and_nothing_else(client, django_assert_num_queries):
    with django_assert_num_queries(0):
        response = client.get(reverse("health-live"))
    assert response.status_code == 200 and response.json() == {"status": "ok"}
    assert response["Cache-Control"].startswith("max-age=0")


def test_health_is_green_on_a_normal_state(client, eager, roster):
    _sandbox, district = roster
    assert sync(district).status == SyncRun.Status.SUCCEEDED

    checks = health(client)

    assert checks["Database(alias='default')"] == "OK"
    assert checks["Cache(alias='default')"] == "OK"
    assert checks["Migrations()"] == "OK"
    assert checks[FAILING] == "OK"
    assert all(status == "OK" or status.startswith("Skipped: ") for status in checks.values())


def test_celery_checks_are_skipped_explicitly_in_eager_mode(client, eager):
    checks = health(client)

    for name in (BROKER, WORKERS, NIGHTLY):
        assert checks[name].startswith("Skipped: eager mode (CELERY_TASK_ALWAYS_EAGER, no REDIS_URL)"), name
    page = client.get(reverse("health"), HTTP_ACCEPT="text/html")
    assert page.status_code == 200 and "Skipped: eager mode" in page.content.decode()


def test_the_worker_check_is_red_when_no_worker_answers(client, with_celery):
    """No mock: the ping goes through the test run's broker, and no worker is there to answer."""
    checks = health(client, 500)

    assert checks[WORKERS] == "Unavailable: Celery workers unavailable"
    assert checks[BROKER] == "OK"


def test_every_routed_queue_is_expected_to_have_a_worker(settings):
    from celery import current_app

    routes = current_app.conf.task_routes
    try:
        current_app.conf.task_routes = {
            "rostering.tasks.*": {"queue": "sync"},
            "lms.tasks.*": {"queue": "lms"},
            "operations.tasks.*": "default",
        }
        assert {"sync", "lms", "default"} <= expected_queues(current_app)
        settings.HEALTH_CELERY_QUEUES = ["sync"]
        assert expected_queues(current_app) == {"sync"}
    finally:
        current_app.conf.task_routes = routes


def test_the_nightly_check_is_red_when_the_dispatcher_did_not_run_for_26_hours(client, with_celery, roster):
    _sandbox, district = roster
    District.objects.filter(pk=district.pk).update(discovered_at=timezone.now() - timedelta(hours=30))
    assert health(client, 500)[NIGHTLY] == (
        "Unavailable: no nightly sync has run since the first district was found, 30 hours ago"
    )

    Heartbeat.objects.create(name="nightly_dispatch", at=timezone.now() - timedelta(hours=27))
    assert (
        health(client, 500)[NIGHTLY]
        == "Unavailable: the last nightly sync started 27 hours ago (more than 26)"
    )


def test_the_nightly_check_is_green_after_the_dispatcher_ran(client, with_celery, roster, committed):
    _sandbox, district = roster
    District.objects.filter(pk=district.pk).update(discovered_at=timezone.now() - timedelta(days=3))

    with committed():
        assert rostering_tasks.nightly_sync.delay().get() == 1

    assert Heartbeat.objects.get(name="nightly_dispatch").details == {"requested": 1}
    assert health(client, 500)[NIGHTLY] == "OK"  # 500: no worker answers the ping here


def test_a_new_installation_is_not_late_before_its_first_night(client, with_celery, roster):
    assert health(client, 500)[NIGHTLY] == "OK"


def test_failing_districts_turn_red_after_more_than_n_failed_nights_in_a_row(client, eager, settings):
    district = District.objects.create(clever_id="a" * 24, name="Lakeside Unified")
    failed_nights(district, 3)
    assert health(client)[FAILING] == "OK"  # 3 nights (each with a retry): not more than 3

    failed_nights(district, 4)
    response = client.get(reverse("health"), {"format": "json"})
    assert response.status_code == 500
    assert response.json()[FAILING] == "Unavailable: 1 district failed more than 3 nights in a row"
    assert "Lakeside" not in response.content.decode()  # counts, never names

    settings.HEALTH_MAX_FAILED_NIGHTS = 5
    assert health(client)[FAILING] == "OK"


def test_a_sync_that_worked_ends_the_streak(client, eager):
    district = District.objects.create(clever_id="b" * 24, name="Hillside")
    failed_nights(district, 5)
    SyncRun.objects.create(
        district=district,
        kind=SyncRun.Kind.FULL,
        trigger=SyncRun.Trigger.MANUAL,
        status=SyncRun.Status.SUCCEEDED,
        started_at=timezone.now() - timedelta(hours=2),
    )
    assert health(client)[FAILING] == "OK"


def test_a_district_not_expected_to_sync_does_not_count(client, eager):
    district = District.objects.create(clever_id="c" * 24, name="Paused", sync_enabled=False)
    failed_nights(district, 6)
    assert health(client)[FAILING] == "OK"


def test_the_text_format_lists_every_check(client, eager):
    response = client.get(reverse("health"), {"format": "text"})
    assert response.status_code == 200
    assert "Database(alias='default'): OK" in response.content.decode()
    assert "CeleryWorkers(): Skipped: eager mode" in response.content.decode()


def test_the_public_page_names_no_service_address(client, eager, settings):
    """The Redis check is named by its kind, not by the library's repr (host, port, database)."""
    settings.REDIS_URL = "redis://127.0.0.1:1/13"  # nothing listens on port 1: refused at once

    checks = health(client, 500)

    assert "Redis()" in checks and not checks["Redis()"].startswith("OK")
    page = client.get(reverse("health"), HTTP_ACCEPT="text/html").content.decode()
    text = client.get(reverse("health"), {"format": "text"}).content.decode()
    for output in (str(checks), page, text):
        assert "127.0.0.1" not in output and ":1/" not in output and "db=13" not in output
