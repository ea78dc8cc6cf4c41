"""A real Celery worker on Redis runs the nightly dispatcher against PostgreSQL.

Celery beat would send ``rostering.tasks.nightly_sync`` at night; here the test sends it. The
worker discovers the three sandbox districts (GET /oauth/tokens through the in-process
sandbox), fans out one staggered ``sync_district`` per district, and runs each sync; the test
waits for three succeeded runs and checks the mirrored rows against what was generated.
"""

import time

import pytest

from districts.models import District
from districts.services import forget_cached_token
from rostering.models import Person, School, Section, SectionMembership, SyncRun
from rostering.tasks import nightly_sync
from sandbox.generator.districts import generate_district, load_district

SEEDS = (9101, 9102, 9103)


@pytest.fixture
def quick_stagger(monkeypatch):
    """Read by the worker process at start (it must come before ``celery_worker``)."""
    monkeypatch.setenv("SYNC_STAGGER_SECONDS", "1")


def test_nightly_dispatcher_syncs_three_districts_on_a_real_worker(quick_stagger, sandbox_app, celery_worker):
    generated = [generate_district(seed=seed, students=50 + 10 * i) for i, seed in enumerate(SEEDS)]
    for district in generated:
        load_district(district)  # only in the sandbox: the dispatcher's discovery finds them
        forget_cached_token(District(clever_id=district.id))  # no token from an earlier run

    enqueued = nightly_sync.delay().get(timeout=120)

    assert enqueued == 3
    deadline = time.monotonic() + 180
    runs = SyncRun.objects.none()
    while time.monotonic() < deadline:
        runs = SyncRun.objects.exclude(status=SyncRun.Status.RUNNING)
        if runs.count() >= 3:
            break
        time.sleep(0.5)
    summary = list(runs.values_list("district__clever_id", "status", "trigger", "error"))
    assert len(summary) == 3, summary
    assert {status for _, status, _, _ in summary} == {SyncRun.Status.SUCCEEDED}, summary
    assert {trigger for _, _, trigger, _ in summary} == {SyncRun.Trigger.NIGHTLY}
    for expected in generated:
        district = District.objects.get(clever_id=expected.id)
        assert district.name == expected.name  # filled by discovery
        run = SyncRun.objects.get(district=district)
        counts = expected.counts
        assert Person.objects.filter(district=district, archived_at__isnull=True).count() == counts["users"]
        assert Person.objects.filter(district=district, is_student=True).count() == counts["students"]
        assert Section.objects.filter(district=district).count() == counts["sections"]
        assert School.objects.filter(district=district).count() == counts["schools"]
        assert (
            SectionMembership.objects.filter(district=district, role=SectionMembership.Role.STUDENT).count()
            == counts["enrollments"]
        )
        assert run.totals["students"] == counts["students"]
        assert run.totals["enrollments"] == counts["enrollments"]
