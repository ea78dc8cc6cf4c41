import pytest

from clever.errors import AuthError, ConnectionFailed, RateLimited, ServerError
from districts import services, tasks
from districts.models import District

pytestmark = pytest.mark.django_db


def test_the_task_runs_discovery(make_sandbox_district):
    remote = make_sandbox_district("Springfield Unified")

    result = tasks.discover_districts_task.delay().get()

    assert result["created"] == [remote.id]
    assert District.objects.get(clever_id=remote.id).name == "Springfield Unified"


def test_the_task_is_late_acked_time_limited_and_retries_only_retryable_errors():
    task = tasks.discover_districts_task
    assert task.acks_late is True
    assert task.max_retries == 3
    assert task.retry_jitter is True and task.retry_backoff
    assert set(task.autoretry_for) == {ServerError, RateLimited, ConnectionFailed}
    assert 0 < task.soft_time_limit < task.time_limit


@pytest.fixture
def eager_retries():
    """Eager tasks raise a retry to the caller when errors propagate; let them run instead."""
    from config.celery import app

    app.conf.task_eager_propagates = False
    yield
    app.conf.task_eager_propagates = True


def test_a_server_error_is_retried(monkeypatch, eager_retries):
    calls = []

    def flaky(**kwargs):
        calls.append(kwargs)
        if len(calls) < 3:
            raise ServerError("GET /oauth/tokens: HTTP 503", status=503)
        return {"created": [], "total": 0}

    monkeypatch.setattr(services, "discover_districts", flaky)

    assert tasks.discover_districts_task.delay().get() == {"created": [], "total": 0}
    assert len(calls) == 3


def test_refused_credentials_are_not_retried(monkeypatch, eager_retries):
    calls = []

    def refused(**kwargs):
        calls.append(kwargs)
        raise AuthError("GET /oauth/tokens: HTTP 401", status=401)

    monkeypatch.setattr(services, "discover_districts", refused)

    result = tasks.discover_districts_task.delay()

    assert result.failed() and isinstance(result.result, AuthError)
    assert len(calls) == 1


def test_retries_stop_after_three(monkeypatch, eager_retries):
    calls = []

    def down(**kwargs):
        calls.append(kwargs)
        raise ConnectionFailed("GET /oauth/tokens: no response")

    monkeypatch.setattr(services, "discover_districts", down)

    result = tasks.discover_districts_task.delay()

    assert result.failed() and isinstance(result.result, ConnectionFailed)
    assert len(calls) == 4  # the first try and three retries
