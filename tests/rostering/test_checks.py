"""rostering/checks.py: the sync time limits checked against Redis's visibility timeout."""

from django.core.checks import run_checks

from rostering import tasks
from rostering.checks import sync_time_limits_below_visibility_timeout


def test_the_default_settings_pass():
    assert sync_time_limits_below_visibility_timeout(None) == []
    assert not [m for m in run_checks(tags=["celery"]) if m.id == "rostering.E001"]


def test_a_visibility_timeout_shorter_than_a_sync_is_reported(settings):
    settings.CELERY_VISIBILITY_TIMEOUT = settings.CELERY_TASK_TIME_LIMIT + tasks.SYNC_RETRY_BACKOFF_MAX

    errors = run_checks(tags=["celery"])

    [error] = [m for m in errors if m.id == "rostering.E001"]
    assert "CELERY_VISIBILITY_TIMEOUT" in error.msg


def test_a_soft_limit_above_the_hard_limit_is_reported(settings):
    settings.CELERY_TASK_SOFT_TIME_LIMIT = settings.CELERY_TASK_TIME_LIMIT + 1

    [error] = sync_time_limits_below_visibility_timeout(None)
    assert error.id == "rostering.E001"
