from celery import shared_task

from . import services


@shared_task(acks_late=True, ignore_result=False)
def purge_expired_events() -> int:
    """Clever keeps events 30 days; so does the sandbox (nightly on Celery beat)."""
    return services.purge_expired_events()
