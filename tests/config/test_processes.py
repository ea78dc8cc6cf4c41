"""The processes of a deployment (Procfile, README "Deployment"): Celery's queues by kind of work,
one worker command per queue and exactly one beat, and the web server's access log, which never
holds a query string (Clever's OAuth callback carries a single-use code)."""

import re
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

from config.celery import app
from tests.config.test_settings import PRODUCTION_ENV, ROOT, environment

QUEUES = {"default", "sync", "lms"}
# Where each task runs; a task missing here makes the test fail until it is placed.
EXPECTED_QUEUE = {
    "rostering.tasks.sync_district": "sync",
    "rostering.tasks.purge_expired_rosters": "sync",
    # A poll applies what it finds: a sync.
    "rostering.tasks.poll_district_events": "sync",
    "rostering.tasks.poll_events": "default",
    "lms.tasks.push_assignment": "lms",
    "lms.tasks.pull_district": "lms",
    # Short work: dispatchers that only enqueue, and the sweep that finds dead sync workers
    # (it must never wait behind the syncs it watches).
    "rostering.tasks.recover_syncs": "default",
    "rostering.tasks.nightly_sync": "default",
    "lms.tasks.nightly_pull": "default",
    "districts.tasks.discover_districts_task": "default",
    "matching.tasks.refresh_district_candidates_task": "default",
    "sandbox.tasks.purge_expired_events": "default",
}


def app_tasks() -> list[str]:
    app.loader.import_default_modules()
    return sorted(name for name in app.tasks if not name.startswith("celery."))


def queue_of(name: str) -> str:
    return app.amqp.router.route({}, name)["queue"].name


def test_each_kind_of_work_has_its_queue():
    placed = {name: queue_of(name) for name in app_tasks()}
    for name, queue in EXPECTED_QUEUE.items():
        assert placed.get(name) == queue, name
    # Everything else (alerts, what comes next) goes to the default queue.
    assert {queue for name, queue in placed.items() if name not in EXPECTED_QUEUE} <= {"default"}
    assert set(placed.values()) == QUEUES


def test_a_worker_without_q_consumes_every_queue():
    # `celery -A config worker` (one worker for a small install, the e2e tests) takes all three.
    assert set(app.amqp.queues) == QUEUES
    for name in QUEUES:
        queue = app.amqp.queues[name]
        # Each queue has its own exchange and key: a message for one is never copied to another.
        assert queue.exchange.name == queue.routing_key == name


def procfile() -> dict[str, str]:
    lines = (ROOT / "Procfile").read_text().splitlines()
    return dict(line.split(": ", 1) for line in lines if line.strip() and not line.startswith("#"))


def test_the_procfile_runs_one_worker_per_queue_and_one_beat():
    processes = procfile()
    assert processes["release"] == "python manage.py migrate --noinput"
    assert processes["web"] == "gunicorn -c config/gunicorn.conf.py config.wsgi"
    assert (ROOT / "config" / "gunicorn.conf.py").is_file()
    workers = {name: command for name, command in processes.items() if " worker " in f"{command} "}
    consumed = [re.search(r" -Q (\S+)", command).group(1) for command in workers.values()]
    assert sorted(consumed) == sorted(QUEUES)  # each queue exactly once
    assert all(command.startswith("celery -A config worker ") for command in workers.values())
    beats = [command for command in processes.values() if " beat" in command]
    assert len(beats) == 1 and beats[0].startswith("celery -A config beat")
    # Distinct node names, so that `celery inspect` tells the workers apart on one host.
    hostnames = [re.search(r"--hostname (\S+)", command).group(1) for command in workers.values()]
    assert len(set(hostnames)) == len(hostnames)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_the_web_server_serves_and_logs_paths_without_query_strings():
    port = free_port()
    env = environment({**PRODUCTION_ENV, "PORT": str(port), "WEB_CONCURRENCY": "1"})
    command = [sys.executable, "-m", "gunicorn", "-c", "config/gunicorn.conf.py", "config.wsgi"]
    server = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        url = f"http://127.0.0.1:{port}/no-such-page/?code=SECRET-OAUTH-CODE&state=abc"
        request = urllib.request.Request(
            url, headers={"Host": "bridge.example.org", "X-Forwarded-Proto": "https"}
        )
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(request, timeout=10)
            except urllib.error.HTTPError as exc:
                assert exc.code == 404
                request_id = exc.headers["X-Request-ID"]
                break
            except (urllib.error.URLError, ConnectionError):
                assert server.poll() is None and time.monotonic() < deadline, "gunicorn did not start"
                time.sleep(0.3)
    finally:
        server.terminate()
        output = server.communicate(timeout=60)[0].decode()
    assert f"Listening at: http://0.0.0.0:{port}" in output
    access = [line for line in output.splitlines() if '"GET /no-such-page/ HTTP/1.1" 404' in line]
    assert len(access) == 1, output
    assert access[0].endswith(f"request_id={request_id}")
    assert "SECRET-OAUTH-CODE" not in output and "state=abc" not in output
