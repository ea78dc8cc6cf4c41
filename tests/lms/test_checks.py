"""lms/checks.py: the LMS task time limits checked against Redis's visibility timeout."""

from django.core.checks import run_checks

from lms import tasks
from lms.checks import lms_time_limits_below_visibility_timeout


def test_the_default_settings_pass():
    assert lms_time_limits_below_visibility_timeout(None) == []
    assert not [m for m in run_checks(tags=["celery"]) if m.id == "lms.E001"]


def test_a_visibility_timeout_shorter_than_an_lms_task_is_reported(settings):
    settings.CELERY_VISIBILITY_TIMEOUT = tasks.LMS_TASK_TIME_LIMIT + tasks.LMS_RETRY_BACKOFF_MAX

    errors = run_checks(tags=["celery"])

    [error] = [m for m in errors if m.id == "lms.E001"]
    assert "CELERY_VISIBILITY_TIMEOUT" in error.msg
