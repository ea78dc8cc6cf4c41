"""Redis, the broker, is killed (SIGKILL) and restarted while a real Celery worker holds a task
waiting for its countdown: the worker stays up and the task still runs, once, at its ETA.

The worker holds such a task unacknowledged (prefetched) until it is due. With kombu 5.7.0 as is,
the worker exited at the first kill (``AttributeError: 'NoneType' object has no attribute
'hostname'`` in ``QoS.restore_unacked_once``) and the task was lost; ``config/broker.py`` explains
the workaround. The test needs a broker of its own to kill: a private ``redis-server`` on a free
port (skipped locally without one, fatal under ``CI=true``), beside this test's PostgreSQL
database. Redis is killed twice: first restarted with its data (append-only file, fsync always:
the unacked hash survives and the worker restores the task from it), then restarted empty (the
worker's own copy is all that is left).
"""

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import redis

from config.celery import app as celery_app
from sandbox.models import SandboxEvent
from sandbox.tasks import purge_expired_events
from tests.conftest import require_service
from tests.e2e.conftest import _test_database_url, stop_process

ROOT = Path(__file__).resolve().parents[2]
COUNTDOWN = 20  # seconds: long enough for both kills and restarts to happen before it is due


class PrivateRedis:
    """A ``redis-server`` of the test's own on a free port, which the test may kill and restart."""

    def __init__(self, directory: Path):
        self.directory = directory
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.client = redis.Redis(port=self.port, socket_timeout=2)
        self.process: subprocess.Popen | None = None

    def start(self, *, persistent: bool) -> None:
        """``persistent``: every write fsynced to an append-only file, so a SIGKILL loses nothing;
        else no persistence, a fresh directory: a restart after a kill starts empty."""
        data = self.directory / ("aof" if persistent else f"empty-{time.monotonic_ns()}")
        data.mkdir(exist_ok=True)
        persistence = (
            ["--appendonly", "yes", "--appendfsync", "always"] if persistent else ["--appendonly", "no"]
        )
        self.process = subprocess.Popen(
            [
                "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--dir",
                str(data),
                *persistence,
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while True:
            try:
                self.client.ping()
                return
            except redis.ConnectionError:
                if time.monotonic() > deadline or self.process.poll() is not None:
                    raise RuntimeError(f"redis-server did not start on port {self.port}") from None
                time.sleep(0.05)

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()
        self.client.connection_pool.disconnect()

    def held(self) -> int:
        """Messages delivered to a worker and not acknowledged (kombu's ``unacked`` hash)."""
        return self.client.hlen("unacked")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)
        self.client.close()


@pytest.fixture
def private_redis(tmp_path):
    require_service("redis-server", shutil.which("redis-server") is not None, "apt-get install redis-server")
    server = PrivateRedis(tmp_path)
    server.start(persistent=True)
    try:
        yield server
    finally:
        server.stop()


class Worker:
    def __init__(self, process: subprocess.Popen, log: Path):
        self.process, self.log = process, log

    def output(self) -> str:
        return self.log.read_text()

    def tail(self) -> str:
        return "\n".join(self.output().splitlines()[-60:])


@pytest.fixture
def broker_worker(postgres, transactional_db, private_redis, tmp_path):
    """A real Celery worker (solo pool) on the private Redis and this test's database; stopped
    at the end. Returned once it is ready (its log says so: ``control.ping`` only answers on the
    app's own broker)."""
    log = tmp_path / "worker.log"
    env = {
        **os.environ,
        "DATABASE_URL": _test_database_url(),
        "REDIS_URL": private_redis.url,
        "PGAPPNAME": "broker-fault-worker",
    }
    celery_app.conf.task_always_eager = False
    with log.open("w") as out:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "config",
                "worker",
                "--pool=solo",
                "--concurrency=1",
                "--without-gossip",
                "--without-mingle",
                "--hostname=broker-fault@%h",
                "--loglevel=INFO",
            ],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    worker = Worker(process, log)
    try:
        deadline = time.monotonic() + 60
        while " ready." not in worker.output():
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"the Celery worker did not start:\n{worker.tail()}")
            time.sleep(0.2)
        yield worker
    finally:
        celery_app.conf.task_always_eager = True
        stop_process(process)


def _wait_until_held(
    private_redis: PrivateRedis, worker: Worker, task_id: str, deliveries: int, what: str
) -> None:
    """Until the worker has received the task ``deliveries`` times and holds it unacknowledged."""
    deadline = time.monotonic() + 15
    while worker.output().count(f"[{task_id}] received") < deliveries or private_redis.held() != 1:
        if worker.process.poll() is not None:
            pytest.fail(f"the worker exited (code {worker.process.returncode}) {what}:\n{worker.tail()}")
        if time.monotonic() > deadline:
            pytest.fail(f"the worker does not hold the task {what}: it is lost\n{worker.tail()}")
        time.sleep(0.1)


def test_worker_keeps_a_countdown_task_across_redis_kills(private_redis, broker_worker, expired_event):
    with celery_app.connection_for_write(private_redis.url) as connection:
        result = purge_expired_events.apply_async(countdown=COUNTDOWN, connection=connection)
    due = time.monotonic() + COUNTDOWN
    _wait_until_held(private_redis, broker_worker, result.id, 1, "after it was sent")

    for deliveries, persistent in enumerate((True, False), start=2):
        private_redis.kill()
        time.sleep(1)
        private_redis.start(persistent=persistent)
        # The worker restores the task to its queue once it reconnects, and receives it again.
        _wait_until_held(
            private_redis,
            broker_worker,
            result.id,
            deliveries,
            f"after Redis restarted {'with' if persistent else 'without'} its data",
        )

    assert time.monotonic() < due - 2, "the kills took too long: the test proves nothing"
    assert SandboxEvent.objects.filter(type="schools.created").exists()  # not run before its ETA
    deadline = due + 20
    while SandboxEvent.objects.filter(type="schools.created").exists():
        assert broker_worker.process.poll() is None, f"the worker exited:\n{broker_worker.tail()}"
        assert time.monotonic() < deadline, f"the task never ran:\n{broker_worker.tail()}"
        time.sleep(0.5)

    assert time.monotonic() > due - 1  # at its ETA, not before
    assert list(SandboxEvent.objects.values_list("type", flat=True)) == ["schools.updated"]
    time.sleep(1)
    assert broker_worker.process.poll() is None
    assert broker_worker.output().count(f"[{result.id}] succeeded") == 1, broker_worker.tail()
    assert private_redis.held() == 0
