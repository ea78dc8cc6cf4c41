"""The production topology (issue #18): every process of the ``Procfile`` as its own OS process,
on PostgreSQL and Redis, talking to a Clever served by a second gunicorn over real HTTP.

- "Clever": gunicorn serving this project in development mode with ``CLEVER_SANDBOX=true`` (its
  own database, seeded with five generated districts that share data with the app). Its
  registered application gets a secret of its own (production refuses the published one) and
  the app's redirect URI.
- The app: ``release`` (migrate), ``web`` (gunicorn, ``DJANGO_ENV=production``), the ``sync``,
  ``lms`` and ``default`` workers and ``beat``, with the Procfile's commands, one environment,
  ``CLEVER_OAUTH_BASE``/``CLEVER_API_BASE`` at the Clever server (no in-process transport), mail
  to files (``EMAIL_URL=filemail://``) and alerts to a webhook served by this test.

What is shown: discovery and a nightly dispatch through Celery sync every district; a Portal
launch signs a teacher in through the app's gunicorn; an LMS push runs on the LMS worker and
lands in Clever's LMS data; ``/health/`` is green, and red naming the queue once the sync worker
stops; a held sync is told once by email and webhook, a second identical hold not at all.

The databases ``topo_app`` and ``topo_clever`` and Redis database 11 are this module's (dropped
and emptied first). Everything waits on a deadline; every process is stopped at the end.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import signal
import socket
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import quote, urljoin, urlsplit

import psycopg
import pytest
import requests
from django.conf import settings

from tests.config.test_settings import environment
from tests.conftest import require_service

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.topology]

ROOT = Path(__file__).resolve().parents[2]
APP_DB, CLEVER_DB = "topo_app", "topo_clever"
REDIS_DB = 11
DISTRICTS = 5
STUDENTS = 40
CLIENT_ID = "sandbox-client-id"  # the sandbox's registered application (settings.SANDBOX_CLIENT_ID)
CLIENT_SECRET = "topology-client-secret-not-the-published-one"
CALLBACK_PATH = "/accounts/clever/login/callback/"
STARTUP_SECONDS = 90
SYNC_SECONDS = 120


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def ran(task: str, log: str) -> bool:
    """A worker's log says it ran ``task`` (its banner lists every task it knows)."""
    return re.search(rf"Task {re.escape(task)}\[\S+\] succeeded", log) is not None


def wait_for(what: str, probe, timeout: float, interval: float = 0.3):
    """``probe()``'s first truthy value, or a failure naming ``what`` after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = probe()
        if last:
            return last
        time.sleep(interval)
    pytest.fail(f"timed out after {timeout} s waiting for {what} (last: {last!r})")


class Webhook(BaseHTTPRequestHandler):
    """A Slack-compatible receiver: records every POST's JSON body."""

    posts: list[dict] = []

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        Webhook.posts.append({"path": self.path, "json": json.loads(body or b"null")})
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args):
        pass


class Topology:
    """The processes, their environments and where they log."""

    def __init__(self, logs: Path):
        self.logs = logs
        self.processes: dict[str, subprocess.Popen] = {}
        db = settings.DATABASES["default"]
        self.pg = {
            "host": db["HOST"] or "127.0.0.1",
            "port": int(db["PORT"] or 5432),
            "user": db["USER"],
            "password": db["PASSWORD"],
        }
        auth = f"{quote(db['USER'])}:{quote(db['PASSWORD'] or '')}@" if db["USER"] else ""
        server = f"postgres://{auth}{self.pg['host']}:{self.pg['port']}"
        redis = urlsplit(settings.REDIS_URL)
        self.redis_url = redis._replace(path=f"/{REDIS_DB}").geturl()
        self.clever_port, self.app_port = free_port(), free_port()
        self.clever = f"http://127.0.0.1:{self.clever_port}"
        self.app = f"http://127.0.0.1:{self.app_port}"
        self.mail_dir = logs / "mail"
        self.mail_dir.mkdir()
        self.webhook = ThreadingHTTPServer(("127.0.0.1", 0), Webhook)
        Webhook.posts = []
        base = {**environment({}), "DJANGO_ENV_FILE": "", "PYTHONUNBUFFERED": "1"}
        self.clever_env = {
            **base,
            "DJANGO_ENV": "development",
            "CLEVER_SANDBOX": "true",
            "DATABASE_URL": f"{server}/{CLEVER_DB}",
            "APP_BASE_URL": self.clever,
            "PORT": str(self.clever_port),
            "WEB_CONCURRENCY": "2",
            "PGAPPNAME": "topology-clever",
        }
        self.app_env = {
            **base,
            "DJANGO_ENV": "production",
            "DJANGO_SECRET_KEY": "topology-" + "s" * 60,
            "DJANGO_ALLOWED_HOSTS": "127.0.0.1",
            "FIELD_ENCRYPTION_KEYS": "dG9wb2xvZ3ktdGVzdC1rZXktMzItYnl0ZXMtbG9uZyE=",
            "DATABASE_URL": f"{server}/{APP_DB}",
            "REDIS_URL": self.redis_url,
            "CLEVER_OAUTH_BASE": f"{self.clever}/sandbox",
            "CLEVER_API_BASE": f"{self.clever}/sandbox",
            "CLEVER_CLIENT_ID": CLIENT_ID,
            "CLEVER_CLIENT_SECRET": CLIENT_SECRET,
            "SECURE_SSL_REDIRECT": "false",
            "APP_BASE_URL": self.app,
            "EMAIL_URL": f"filemail:///{self.mail_dir}",
            "ALERT_EMAILS": "support@example.org",
            "ALERT_WEBHOOK_URL": f"http://127.0.0.1:{self.webhook.server_port}/services/T0/B0/secret",
            "SYNC_STAGGER_SECONDS": "1",
            "PORT": str(self.app_port),
            "WEB_CONCURRENCY": "2",
            "PGAPPNAME": "topology-app",
        }

    # --- databases ---------------------------------------------------------------------------

    def connect(self, dbname: str) -> psycopg.Connection:
        return psycopg.connect(dbname=dbname, autocommit=True, **self.pg)

    def query(self, dbname: str, sql: str, params=()) -> list[tuple]:
        with self.connect(dbname) as conn:
            return conn.execute(sql, params).fetchall()

    def recreate_databases(self) -> None:
        with self.connect("postgres") as conn:
            for name in (APP_DB, CLEVER_DB):
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
                conn.execute(f'CREATE DATABASE "{name}"')
        import redis

        client = redis.Redis.from_url(self.redis_url)
        try:
            client.flushdb()
        finally:
            client.close()

    # --- processes ---------------------------------------------------------------------------

    def start(self, name: str, command: list[str], env: dict) -> subprocess.Popen:
        log = open(self.logs / f"{name}.log", "w")  # noqa: SIM115 (closed with the process)
        process = subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        process.log_file = log
        self.processes[name] = process
        return process

    def log(self, name: str) -> str:
        return (self.logs / f"{name}.log").read_text(errors="replace")

    def run(self, name: str, command: list[str], env: dict, timeout: float = 120) -> str:
        """Run a one-off command to its end; its output (it must succeed)."""
        process = self.start(name, command, env)
        try:
            code = process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.stop(name)
            pytest.fail(f"{name} did not finish within {timeout} s:\n{self.log(name)[-3000:]}")
        self.processes.pop(name).log_file.close()
        output = self.log(name)
        assert code == 0, f"{name} exited {code}:\n{output[-5000:]}"
        return output

    def manage(self, name: str, *args: str, env: dict, timeout: float = 120) -> str:
        return self.run(name, [sys.executable, "manage.py", *args], env, timeout)

    def app_shell(self, name: str, code: str, timeout: float = 120):
        """Run ``code`` in the app's environment; it prints one JSON value last, returned."""
        output = self.manage(name, "shell", "-c", code, env=self.app_env, timeout=timeout)
        return json.loads(output.strip().splitlines()[-1])

    def stop(self, name: str, timeout: float = 20) -> int | None:
        process = self.processes.pop(name, None)
        if process is None:
            return None
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)
        process.log_file.close()
        return process.returncode

    def stop_all(self) -> None:
        for name in list(self.processes):
            self.stop(name)
        self.webhook.shutdown()
        self.webhook.server_close()

    def procfile(self) -> dict[str, list[str]]:
        """The Procfile's commands, run by this interpreter; beat's schedule file in the logs."""
        commands = {}
        for line in (ROOT / "Procfile").read_text().splitlines():
            if not line.strip() or line.startswith("#"):
                continue
            name, command = line.split(": ", 1)
            argv = shlex.split(command)
            if argv[0] in ("celery", "gunicorn"):
                argv = [sys.executable, "-m", *argv]
            elif argv[0] == "python":
                argv[0] = sys.executable
            argv = [
                str(self.logs / "celerybeat-schedule") if a == "/tmp/celerybeat-schedule" else a for a in argv
            ]
            commands[name] = argv
        return commands

    def health(self) -> tuple[int, dict]:
        response = requests.get(f"{self.app}/health/", params={"format": "json"}, timeout=30)
        return response.status_code, response.json()

    def answers(self, base: str) -> bool:
        try:
            return requests.get(f"{base}/health/live/", timeout=30).status_code == 200
        except (requests.ConnectionError, requests.Timeout):
            return False

    def alive(self, *names: str) -> None:
        for name in names:
            process = self.processes[name]
            if process.poll() is not None:
                pytest.fail(f"{name} exited with {process.returncode}:\n{self.log(name)[-5000:]}")

    def mails(self) -> list[str]:
        return sorted(path.read_text(errors="replace") for path in self.mail_dir.iterdir())


SEED_CLEVER = f"""
import json
from django.core.management import call_command
from sandbox import services
from sandbox.models import SandboxApplication, SandboxDistrict
call_command("sandbox_seed", districts={DISTRICTS}, students={STUDENTS}, seed=18, lms="canvas",
             messiness=0, verbosity=0, json=True)
services.get_application()
SandboxApplication.objects.filter(client_id={CLIENT_ID!r}).update(
    client_secret={CLIENT_SECRET!r}, redirect_uris=[__import__("os").environ["TOPOLOGY_CALLBACK"]])
print()
print(json.dumps(sorted(SandboxDistrict.objects.values_list("id", flat=True))))
"""


@pytest.fixture(scope="module")
def topology(tmp_path_factory):
    require_service(
        "PostgreSQL",
        settings.DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql",
        "set DATABASE_URL to a PostgreSQL database",
    )
    require_service("Redis", bool(settings.REDIS_URL), "set REDIS_URL")
    topo = Topology(tmp_path_factory.mktemp("topology"))
    threading.Thread(target=topo.webhook.serve_forever, daemon=True).start()
    try:
        topo.recreate_databases()
        procfile = topo.procfile()
        # The release step of each side, the app's static files (production serves the
        # collected, hashed files), all at once.
        release = procfile["release"]
        topo.start("clever-migrate", release, topo.clever_env)
        topo.start("app-migrate", release, topo.app_env)
        topo.start(
            "app-collectstatic", [sys.executable, "manage.py", "collectstatic", "--noinput"], topo.app_env
        )
        for name in ("clever-migrate", "app-migrate", "app-collectstatic"):
            code = topo.processes[name].wait(timeout=240)
            topo.processes.pop(name).log_file.close()
            assert code == 0, f"{name} exited {code}:\n{topo.log(name)[-5000:]}"
        # Clever's districts, and its registered application: a secret of its own, the app's URI.
        output = topo.manage(
            "clever-seed",
            "shell",
            "-c",
            SEED_CLEVER,
            env={**topo.clever_env, "TOPOLOGY_CALLBACK": f"{topo.app}{CALLBACK_PATH}"},
        )
        topo.sandbox_districts = json.loads(output.strip().splitlines()[-1])
        assert len(topo.sandbox_districts) == DISTRICTS

        topo.start("clever-web", procfile["web"], topo.clever_env)
        topo.start("web", procfile["web"], topo.app_env)
        for name in ("worker_sync", "worker_lms", "worker", "beat"):
            topo.start(name, procfile[name], topo.app_env)

        def up() -> bool:
            topo.alive("clever-web", "web", "worker_sync", "worker_lms", "worker", "beat")
            return topo.answers(topo.clever) and topo.answers(topo.app)

        wait_for("both web servers", up, STARTUP_SECONDS)
        # Every queue has its worker once /health/'s worker check is green.
        wait_for(
            "a worker on every queue",
            lambda: (
                topo.alive("worker_sync", "worker_lms", "worker")
                or topo.health()[1].get("CeleryWorkers()") == "OK"
            ),
            STARTUP_SECONDS,
            interval=1.0,
        )
        yield topo
    finally:
        topo.stop_all()


@pytest.fixture(scope="module")
def synced(topology):
    """Discovery, then the nightly dispatch through Celery, every district's run finished."""
    topo = topology
    discovered = json.loads(
        topo.manage("clever-districts", "clever_districts", "--json", env=topo.app_env)
        .strip()
        .splitlines()[-1]
    )
    topo.run(
        "nightly-call",
        [sys.executable, "-m", "celery", "-A", "config", "call", "rostering.tasks.nightly_sync"],
        topo.app_env,
    )

    def finished():
        topo.alive("worker_sync", "worker")
        rows = topo.query(
            APP_DB,
            "SELECT d.clever_id, r.status, r.trigger FROM rostering_syncrun r "
            "JOIN districts_district d ON d.id = r.district_id WHERE r.trigger = 'nightly'",
        )
        done = [row for row in rows if row[1] != "running"]
        return done if len({row[0] for row in done}) >= DISTRICTS else None

    runs = wait_for("every district's nightly run", finished, SYNC_SECONDS, interval=0.5)
    return {"discovered": discovered, "runs": runs}


def test_discovery_and_the_nightly_dispatch_sync_every_district(topology, synced):
    assert len(topology.query(APP_DB, "SELECT id FROM districts_district")) >= DISTRICTS
    discovered = synced["discovered"]["districts"]
    assert len(discovered) >= DISTRICTS
    assert {d["clever_id"] for d in discovered} == set(topology.sandbox_districts)
    assert {d["status"] for d in discovered} == {"connected"}
    statuses = {clever_id: status for clever_id, status, _ in synced["runs"]}
    assert set(statuses) == set(topology.sandbox_districts)
    assert set(statuses.values()) == {"succeeded"}, synced["runs"]
    # The syncs ran on the sync worker, the dispatcher on the default worker.
    assert ran("rostering.tasks.sync_district", topology.log("worker_sync"))
    assert ran("rostering.tasks.nightly_sync", topology.log("worker"))
    assert not ran("rostering.tasks.sync_district", topology.log("worker_lms"))


def test_a_portal_launch_signs_a_teacher_in_through_the_apps_gunicorn(topology, synced):
    topo = topology
    clever_id, name = topo.query(
        CLEVER_DB,
        "SELECT clever_id, display_name FROM sandbox_sandboxrecord WHERE is_teacher "
        "AND district_id = %s ORDER BY clever_id LIMIT 1",
        (topo.sandbox_districts[0],),
    )[0]
    # A browser, by hand: one cookie jar per server (Clever and the app have domains of their
    # own in production; here both are 127.0.0.1, on two ports, which cookies do not tell apart).
    sessions: dict[str, requests.Session] = {}
    url = f"{topo.clever}/sandbox/portal/launch?user={clever_id}"
    visited = []
    for _hop in range(12):
        host = urlsplit(url).netloc
        session = sessions.setdefault(host, requests.Session())
        response = session.get(url, allow_redirects=False, timeout=30)
        visited.append((host, urlsplit(url).path, response.status_code))
        # The app's cookies are Secure (production, behind a TLS proxy): this test, on plain
        # HTTP, plays the proxy and keeps sending them.
        for cookie in session.cookies:
            cookie.secure = False
        if not response.is_redirect:
            break
        url = urljoin(url, response.headers["Location"])
    assert response.status_code == 200, (visited, response.text[:2000])
    app_host = f"127.0.0.1:{topo.app_port}"
    # Clever -> the app's callback (no state) -> Clever's authorize -> the callback -> /account/.
    assert (app_host, CALLBACK_PATH) in [(host, path) for host, path, _ in visited]
    assert visited[-1][:2] == (app_host, "/account/"), visited
    match = re.search(r'<h1 id="account-name">([^<]*)</h1>', response.text)
    assert match and match.group(1).strip() == name, response.text[:2000]


PUSH_ASSIGNMENT = """
import json
from datetime import timedelta
from django.utils import timezone
from lms.services.writes import create_assignment
from rostering.models import Section
section = (Section.objects.filter(district__clever_id={district!r}).exclude(primary_teacher_clever_id="")
           .order_by("clever_id").first())
due = timezone.now() + timedelta(days=7)
assignment = create_assignment(section=section, title="Topology essay", due_at=due, points_possible=10)
print()
print(json.dumps({{"assignment": assignment.pk, "section": section.clever_id}}))
"""


def test_an_lms_push_runs_on_the_lms_worker_and_reaches_clever(topology, synced):
    topo = topology
    created = topo.app_shell("lms-create", PUSH_ASSIGNMENT.format(district=topo.sandbox_districts[1]))

    def linked():
        topo.alive("worker_lms")
        rows = topo.query(
            APP_DB,
            "SELECT state, clever_id FROM lms_cleverassignment WHERE assignment_id = %s",
            (created["assignment"],),
        )
        return rows[0] if rows and rows[0][0] == "linked" and rows[0][1] else None

    _state, clever_assignment = wait_for("the assignment linked in the LMS", linked, 60)
    in_clever = topo.query(
        CLEVER_DB,
        "SELECT section_id, data FROM sandbox_sandboxlmsassignment WHERE id::text = %s",
        (clever_assignment,),
    )
    assert len(in_clever) == 1 and in_clever[0][0] == created["section"]
    assert "Topology essay" in json.dumps(in_clever[0][1])
    wait_for(
        "the push in the LMS worker's log",
        lambda: ran("lms.tasks.push_assignment", topo.log("worker_lms")),
        30,
    )
    assert not ran("lms.tasks.push_assignment", topo.log("worker_sync"))


HOLD_STUDENTS = """
import json
from sandbox import roster
from sandbox.models import SandboxDistrict
district = SandboxDistrict.objects.get(pk={district!r})
change = roster.remove_students(district=district, count={count}, seed=18)
print()
print(json.dumps(len(change.students)))
"""

SYNC_NOW = """
import json
from districts.models import District
from rostering.tasks import sync_district
district = District.objects.get(clever_id={district!r})
result = sync_district.delay(district_id=district.pk, kind="full", trigger="manual").get(timeout=110)
print()
print(json.dumps(result))
"""


def test_a_held_sync_is_told_once_by_email_and_webhook(topology, synced):
    topo = topology
    district = topo.sandbox_districts[2]
    students = topo.query(
        CLEVER_DB,
        "SELECT count(*) FROM sandbox_sandboxrecord WHERE district_id = %s AND is_student",
        (district,),
    )[0][0]
    removed = students // 4  # 25%: over the guard's 10%
    assert (
        topo.manage(
            "clever-remove-students",
            "shell",
            "-c",
            HOLD_STUDENTS.format(district=district, count=removed),
            env=topo.clever_env,
        )
        .strip()
        .endswith(str(removed))
    )
    assert topo.mails() == [] and Webhook.posts == []

    # Through the sync worker; the task's result arrives once the run and its alert are done.
    first = topo.app_shell("sync-held-1", SYNC_NOW.format(district=district))
    assert first["status"] == "held", first
    assert len(topo.mails()) == 1 and len(Webhook.posts) == 1
    mail = topo.mails()[0]
    assert "To: support@example.org" in mail
    assert re.search(r"^Subject: \[Clever bridge\] A sync of .+ waits for approval$", mail, re.MULTILINE), (
        mail
    )
    assert f"students: {removed} of {students} would be archived" in mail
    post = Webhook.posts[0]
    assert post["path"] == "/services/T0/B0/secret"
    assert "waits for approval" in post["json"]["text"]
    assert f"{topo.app}/admin/rostering/changehold/" in post["json"]["text"]
    assert f"{topo.app}/admin/rostering/changehold/" in mail

    # The same removal found by the next sync, while the first hold is still pending: held
    # again (the first hold superseded), and nothing more is sent.
    second = topo.app_shell("sync-held-2", SYNC_NOW.format(district=district))
    assert second["status"] == "held" and second["run"] != first["run"], second
    holds = topo.query(
        APP_DB,
        "SELECT h.status FROM rostering_changehold h JOIN rostering_syncrun r ON r.id = h.run_id "
        "WHERE r.id IN (%s, %s) ORDER BY r.id",
        (first["run"], second["run"]),
    )
    assert [status for (status,) in holds] == ["rejected", "pending"]
    assert len(topo.mails()) == 1 and len(Webhook.posts) == 1
    assert topo.query(APP_DB, "SELECT count(*) FROM operations_alert WHERE kind = 'sync_held'")[0][0] == 1


def test_health_is_green_then_red_naming_the_sync_queue_when_its_worker_stops(topology, synced):
    """Last in this module: it stops the sync worker."""
    topo = topology
    status, checks = wait_for("a green /health/", lambda: (result := topo.health())[0] == 200 and result, 60)
    assert status == 200 and set(checks.values()) == {"OK"}, checks

    assert topo.stop("worker_sync") is not None

    status, checks = wait_for("a red /health/", lambda: (result := topo.health())[0] == 500 and result, 60)
    assert status == 500
    assert re.fullmatch(r"Unavailable: no worker consumes the queue sync", checks["CeleryWorkers()"]), checks
    assert all(value == "OK" for name, value in checks.items() if name != "CeleryWorkers()"), checks
