"""System checks of LMS Connect's settings (``manage.py check``; registered in ``apps.py``).

An LMS task must end (soft limit, then hard limit, then its longest retry backoff) before
Redis's visibility timeout hands its unacknowledged message to a second worker (``acks_late``).
"""

from django.conf import settings
from django.core.checks import Error, register

CELERY = "celery"  # the tag of the checks about Celery's settings (``manage.py check --tag celery``)


@register(CELERY)
def lms_time_limits_below_visibility_timeout(app_configs, **kwargs):
    from .tasks import LMS_RETRY_BACKOFF_MAX, LMS_TASK_SOFT_TIME_LIMIT, LMS_TASK_TIME_LIMIT

    ceiling = settings.CELERY_VISIBILITY_TIMEOUT - LMS_RETRY_BACKOFF_MAX
    if LMS_TASK_SOFT_TIME_LIMIT < LMS_TASK_TIME_LIMIT < ceiling:
        return []
    return [
        Error(
            f"LMS task time limits ({LMS_TASK_SOFT_TIME_LIMIT}s soft, {LMS_TASK_TIME_LIMIT}s hard) must "
            f"stay below CELERY_VISIBILITY_TIMEOUT ({settings.CELERY_VISIBILITY_TIMEOUT}) - "
            f"{LMS_RETRY_BACKOFF_MAX}s, or Redis hands a running LMS task to a second worker.",
            hint="Raise CELERY_VISIBILITY_TIMEOUT.",
            id="lms.E001",
        )
    ]
