"""Without Redis, ``EAGER_TASKS_IN_BACKGROUND`` runs a task on a thread of its own (config/celery.py):
the call returns before the task has run, and the task still runs, after its countdown."""

from __future__ import annotations

import threading

import pytest

from config.celery import app

started = threading.Event()
release = threading.Event()
done: list[str] = []


@app.task(name="tests.config.wait_then_record")
def wait_then_record(label: str) -> str:
    started.set()
    release.wait(timeout=10)
    done.append(label)
    return label


@pytest.fixture
def background(settings):
    settings.EAGER_TASKS_IN_BACKGROUND = True
    started.clear()
    release.clear()
    done.clear()
    yield
    release.set()


def test_the_call_returns_before_the_task_has_run_and_the_task_still_runs(background):
    result = wait_then_record.apply_async(args=["first"])

    assert not result.ready() and done == []  # returned while the task waits
    assert started.wait(timeout=10)
    release.set()
    assert result.get(timeout=10) == "first" and result.ready() and done == ["first"]


def test_a_countdown_is_waited_out_on_the_thread(background):
    release.set()
    result = wait_then_record.apply_async(args=["later"], countdown=0.2)

    assert done == []
    assert result.get(timeout=10) == "later" and done == ["later"]


def test_off_the_task_runs_in_the_calling_thread(settings):
    settings.EAGER_TASKS_IN_BACKGROUND = False
    release.set()
    done.clear()
    assert wait_then_record.delay("now").get() == "now" and done == ["now"]
