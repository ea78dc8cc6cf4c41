"""A real Celery worker on Redis runs the sandbox's nightly purge against PostgreSQL."""

from sandbox.models import SandboxEvent
from sandbox.tasks import purge_expired_events


def test_worker_purges_events_older_than_thirty_days(celery_worker, expired_event):
    result = purge_expired_events.delay()

    assert result.get(timeout=60) == 1
    assert list(SandboxEvent.objects.values_list("type", flat=True)) == ["schools.updated"]
