import logging
import os
import threading
import time
from datetime import datetime

from celery import Celery, Task, states
from celery.contrib.django.task import DjangoTask
from celery.result import EagerResult
from celery.utils import uuid

from config import broker

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

logger = logging.getLogger(__name__)

# Before the app connects: a worker holding a countdown when Redis dies must not exit or lose
# it (kombu 5.7.0; see config/broker.py).
broker.install()


class BackgroundResult(EagerResult):
    """A task running on a thread of its own (``BackgroundWhenEager``): ready once the thread
    has finished; ``get`` waits for it and returns the task's value (None if it failed)."""

    def __init__(self, task_id: str, thread: threading.Thread, outcome: dict):
        super().__init__(task_id, None, states.PENDING)
        self._thread, self._outcome = thread, outcome

    def ready(self) -> bool:
        return not self._thread.is_alive()

    def get(self, timeout=None, **kwargs):
        self._thread.join(timeout)
        if self._thread.is_alive():
            raise TimeoutError(f"task {self.id} is still running")
        return self._outcome.get("value")


def _run_later(task: Task, args, kwargs, task_id: str, options: dict, outcome: dict) -> None:
    from django.db import connections

    eta = options.get("eta")
    delay = options.get("countdown") or (
        (eta - datetime.now(eta.tzinfo)).total_seconds() if isinstance(eta, datetime) else 0
    )
    try:
        if delay and delay > 0:
            time.sleep(delay)
        outcome["value"] = task.apply(args, kwargs, task_id=task_id).get()
    except Exception:
        logger.exception("task %s (%s) failed in the background", task.name, task_id)
    finally:
        connections.close_all()


class BackgroundWhenEager(DjangoTask):
    """Without Redis (the embedded demo) tasks run eagerly, in this process. With
    ``EAGER_TASKS_IN_BACKGROUND`` (set for ``make demo``'s web server) they run on a thread of
    their own after their countdown, as a worker would: a click that starts a sync returns at
    once and the run's page shows its progress. Off elsewhere: a command that exits would lose
    them, and tests read what a task did as soon as the call returns."""

    def apply_async(self, args=None, kwargs=None, task_id=None, **options):
        from django.conf import settings

        if not (self.app.conf.task_always_eager and settings.EAGER_TASKS_IN_BACKGROUND):
            return super().apply_async(args, kwargs, task_id=task_id, **options)
        task_id, outcome = task_id or uuid(), {}
        thread = threading.Thread(
            target=_run_later,
            args=(self, args, kwargs, task_id, options, outcome),
            name=f"task-{self.name}",
            daemon=True,
        )
        thread.start()
        return BackgroundResult(task_id, thread, outcome)


app = Celery("clever_bridge", task_cls=BackgroundWhenEager)
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
