"""System checks of rostering's settings (``manage.py check``; registered in ``apps.py``).

A sync must end (soft limit, then hard limit, then its longest retry backoff) before Redis's
visibility timeout hands its unacknowledged message to a second worker (``acks_late``).
"""

from django.conf import settings
from django.core.checks import Error, register

CELERY = "celery"  # the tag of the checks about Celery's settings (``manage.py check --tag celery``)


@register(CELERY)
def sync_time_limits_below_visibility_timeout(app_configs, **kwargs):
    from .tasks import SYNC_RETRY_BACKOFF_MAX

    soft, hard = settings.CELERY_TASK_SOFT_TIME_LIMIT, settings.CELERY_TASK_TIME_LIMIT
    visibility = settings.CELERY_VISIBILITY_TIMEOUT
    if soft < hard < visibility - SYNC_RETRY_BACKOFF_MAX:
        return []
    return [
        Error(
            f"CELERY_TASK_SOFT_TIME_LIMIT ({soft}) < CELERY_TASK_TIME_LIMIT ({hard}) < "
            f"CELERY_VISIBILITY_TIMEOUT ({visibility}) - {SYNC_RETRY_BACKOFF_MAX}s does not hold: "
            "Redis would hand a running sync to a second worker.",
            hint="Lower the time limits or raise CELERY_VISIBILITY_TIMEOUT.",
            id="rostering.E001",
        )
    ]
