"""A real Celery worker on Redis runs the sandbox's nightly purge against PostgreSQL."""

from datetime import timedelta

from django.utils import timezone

from sandbox import services
from sandbox.models import RecordType, SandboxEvent
from sandbox.tasks import purge_expired_events


def test_worker_purges_events_older_than_thirty_days(celery_worker):
    district = services.create_district(name="Worker District")
    now = timezone.now()
    old = services.put_record(
        district=district,
        record_type=RecordType.SCHOOLS,
        data={"name": "Old School"},
        now=now - timedelta(days=31),
    )
    services.update_record(clever_id=old["id"], changes={"name": "Renamed"}, now=now)

    result = purge_expired_events.delay()

    assert result.get(timeout=60) == 1
    assert list(SandboxEvent.objects.values_list("type", flat=True)) == ["schools.updated"]
