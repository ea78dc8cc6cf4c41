"""Fault trial: real Celery workers sync sandbox districts while faults are injected; then the
mirror is compared with the sandbox's truth.

    .venv/bin/python bench/fault_trial.py                      # 6 districts x ~1,000 students
    .venv/bin/python bench/fault_trial.py --quick              # 5 x ~300, page size 25
    .venv/bin/python bench/fault_trial.py --districts 4 --students 1500 --seed 7 --page-size 50
    .venv/bin/python bench/fault_trial.py --restart-exited     # systemd-like restarts of workers
    .venv/bin/python bench/fault_trial.py --quick --scenarios pg_stop_staging,slow_page

Run as root on a machine with PostgreSQL 15 (``pg_createcluster``/``pg_ctlcluster``) and
``redis-server``. Never part of the test run. The full configuration takes 3-4 minutes on a
2-core machine when the system recovers from every fault quickly, up to about 14 when it does
not (``--fault-budget`` and ``--recovery-timeout`` bound the two long phases);
the last line on stdout is the summary JSON (also written, indented, to
``/tmp/fault_trial/summary.json``); progress goes to stderr; worker, beat, Redis and approval
logs to ``/tmp/fault_trial/``. Exit status 0 when the trial ran (whatever it found), 1 when it
could not (the JSON line then has ``error``).

**Isolation.** Everything runs on services of its own, so stopping them never touches the
PostgreSQL (5432) and Redis (6379) a test run may be using: a PostgreSQL cluster
``15/faulttrial`` on port 5433 (created if missing; role ``clever``/``clever``, superuser;
database ``fault_trial`` dropped and created again, then migrated, at the start of every trial),
and ``redis-server`` on port 6380 (``--dir /tmp/fault_trial_redis``, wiped at the start,
``--appendonly yes``). Both are stopped at the end (``--keep-services`` leaves them up).
``--src DIR`` runs another checkout of the project (e.g. ``git archive HEAD``), default: the
one holding this file.

**Processes.** The script serves the Django app (which mounts the sandbox, the local Clever, at
``/sandbox/``) over real HTTP from a thread of its own process, because the sandbox's fault
knobs (``sandbox.knobs.KNOBS``) live in process memory. ``--workers`` (2) Celery worker nodes
(``--pool=prefork --concurrency=2``, every queue the settings route to) and one ``celery beat``
run as subprocesses with ``CLEVER_HTTP_ADAPTER=""`` (real HTTP), ``CLEVER_OAUTH_BASE`` and
``CLEVER_API_BASE`` pointing at that server, and small timings: ``CLEVER_PAGE_SIZE``
(``--page-size``, 50: many pages, so faults land between pages), ``SYNC_STALE_AFTER_SECONDS``
(``--stale-after``, 30), ``SYNC_RECOVERY_INTERVAL_SECONDS`` (``--recovery-interval``, 10; beat
runs ``rostering.tasks.recover_syncs`` that often when the settings schedule it),
``SYNC_RECOVERY_GRACE_SECONDS`` (``--recovery-grace``, 30; settings a checkout does not have are
ignored), ``SYNC_STAGGER_SECONDS=1``, ``CLEVER_TIMEOUT=8``, ``CLEVER_MAX_RETRIES=3``,
``CLEVER_BACKOFF_BASE=0.5``, ``CLEVER_BACKOFF_CAP=4``, ``CLEVER_RATE_LIMIT_MAX_WAIT=15``. A
supervisor thread restarts a worker node only when the trial itself killed it (as systemd would
restart a killed service); a worker or beat that exits on its own is a finding
(``workers_exited_unexpectedly``, ``beat_exited_unexpectedly``) and is left dead until the
final phase (which needs workers, and restarts them), unless ``--restart-exited`` (restarted
after ``--restart-delay`` s, still counted). With no live worker left, the remaining scenarios
are skipped (``missed_scenarios``).

**Phases.** (1) set-up: services, migrations, ``--districts`` generated sandbox districts
(``sandbox.generator``, ``--students`` students each, seeds from ``--seed``), discovery, a
first sync of every district through ``rostering.tasks.nightly_sync`` on the workers, and a
baseline comparison. (2) faults, below, one scenario after another (the order of the list
below; ``--scenarios`` picks some). A scenario needs a *settled* district: nothing running, no
pending hold, its last run (skipped ones aside) ``succeeded`` and the trial's last enqueued sync
taken; the one with the fewest faults so far is used, so a district gets its next fault only
once the system recovered it from the previous one. A district the system left *stuck* (the
definition under Metrics) for ``grace`` = ``max(60, 3 * recovery_interval + 30)`` seconds may be
used again: that is a *stuck episode* (``stuck_episodes``), counted in ``districts_stuck``,
since the trial's new sync would hide it. The scenario waits for the moment it targets by
watching the district's ``SyncRun`` (status, ``current_collection``, the checkpoint's
``fetched``/``max_id``) or ``pg_stat_activity``, injects, and moves on without waiting for the
recovery. A scenario whose moment never comes (the sync ended first) is tried once more on
another district and otherwise listed in ``missed_scenarios``, as are scenarios left when the
phase's budget (``--fault-budget``) ran out or no worker is alive; only faults actually injected
are counted. (3) recovery: knobs cleared, PostgreSQL and Redis up, every sandbox district
connected; the system is left alone (retries, redeliveries, beat's recovery sweep) for at most
``--recovery-timeout`` seconds (default ``stale_after + 210``); it ends early once every
district is settled, or once the only ones not settled have been stuck for ``grace`` seconds.
Then ``districts_stuck`` is measured. (4) final: dead workers restarted, discovery, one final
sync per district through the workers (``--final-kind``, ``auto`` by default: what the next
nightly would do), pending holds approved when they are real removals the trial made (else
rejected and counted in ``unexpected_holds``), then the mirror is compared with the sandbox.

**Faults** (``fault_kinds`` in the summary counts each; ``mid-users`` means while the sync
streams pages of ``/users``, the last and longest collection, a third of the way in):

- ``duplicate_enqueue``: the same full sync asked for twice at once (one must be ``skipped``).
  Syncs are asked for as the application does: ``rostering.tasks.request_sync`` when the
  checkout has it, else ``sync_district.apply_async``.
- ``redelivered_same_task_id``: the same message (same task id) published twice, as a broker
  redelivery would.
- ``worker_child_kill_staging``: ``kill -9`` of the prefork child running the sync, mid-users
  (the child is found with ``celery inspect active``); the worker's main process survives
  (``task_reject_on_worker_lost`` requeues the message).
- ``worker_node_kill_staging``: ``kill -9`` of a whole worker node (main process and children),
  mid-users, like an OOM kill or a lost machine: its unacked messages stay in Redis until the
  visibility timeout (hours). The supervisor restarts the node.
- ``worker_child_kill_apply``: the sync's apply is caught mid-way (the trial renames one student
  in the sandbox, holds ``SELECT .. FOR UPDATE`` on that student's mirror row on a connection of
  its own, enqueues an ``auto`` sync and waits until the worker's backend is blocked on that row
  inside the apply transaction, after the other types were applied), then the child is killed
  with ``kill -9`` and the lock released.
- ``pg_terminate_staging``: ``pg_terminate_backend`` on the sync's backend(s) (found from the
  child's TCP ports in ``pg_stat_activity``), mid-users.
- ``pg_terminate_apply``: the same, on the backend blocked mid-apply (lock as above).
- ``pg_stop_staging``: ``pg_ctlcluster stop -m fast`` mid-users, 5 s down, start again.
- ``pg_crash_staging``: the same with ``-m immediate`` (a crash: recovery from WAL on start;
  page transactions committed with ``synchronous_commit=off`` may be lost).
- ``redis_kill_restart_aof``: ``kill -9`` of Redis mid-users, restarted 3 s later from its
  append-only file.
- ``http_5xx_storm_exhausting_retries`` + ``redis_restored_from_older_snapshot``: a copy of
  Redis's data directory is taken; later a 503 storm on ``/users`` outlasts the client's
  retries, the run fails (retryable) and the task waits for its Celery retry countdown; Redis
  is then killed and restarted from the older copy (messages published after it are gone,
  older ones come back).
- ``http_5xx_storm_exhausting_retries`` + ``redis_kill_no_persistence``: the same storm, then
  Redis killed and restarted empty (``--appendonly no --save ''``) while the retry waits.
- ``http_5xx_storm_exhausting_retries`` + ``worker_node_kill_retry_waiting``: the same storm,
  then ``kill -9`` of the worker node that holds the task's retry in its countdown
  (``celery inspect scheduled``); the supervisor restarts the node.
- ``http_5xx_short``: three 503s on ``/users`` (within the client's retries).
- ``http_502_html``: two 502s with an HTML body.
- ``http_429_storm``: the sandbox's rate limit set to 0 requests per 2 s window for 5 s (every
  request answered 429 with ``X-Ratelimit-Reset``; a limit above 0 never yields a 429 to a
  client that waits when ``X-Ratelimit-Remaining`` reaches 0, as this one does).
- ``malformed_json_page``: one ``/users`` page cut off mid-JSON.
- ``slow_page``: one ``/users`` page answered after ``CLEVER_TIMEOUT + 4`` s (a read timeout).
- ``token_rotated_mid_sync``: ``sandbox.services.rotate_district_token`` mid-users.
- ``district_disconnected_mid_sync``: ``disconnect_district`` mid-users; once the run ended,
  ``reconnect_district`` and discovery (``districts.tasks.discover_districts_task`` on a worker).
- ``records_removed_and_restored_mid_sync``: 4 students ahead of the read position and 2 behind
  it deleted mid-users (``delete_record``), put back 1.5 s later (``put_record``).
- ``mass_removal_during_full_sync``: 15% of the students, spread over the whole ID range,
  deleted (one transaction) when the full sync has read half of them: a real removal that
  should end in a hold (and is approved only then).
- ``mass_removal_between_syncs``: 15% of the contacts deleted, then an ``auto`` sync (events):
  must be held.
- ``hold_approval_killed_mid_apply``: ``approve_hold`` of that hold (checked first: every staged
  deletion is a record the trial removed and the sandbox no longer has) in a subprocess, blocked
  mid-apply by a row lock and killed with ``kill -9``; then approved again in a subprocess.
- ``events_for_unseen_objects``: between two syncs, a user created, updated and deleted;
  another created and updated; a section created; two users loaded without events (as records
  shared before the app connected are), one then updated (its first event is ``updated``), one
  then deleted (its only event is ``deleted``); then an ``auto`` (incremental) sync.
- ``stale_event_cursor_old``: ``District.event_cursor_at`` set 40 days back, then ``auto``.
- ``stale_event_cursor_unknown``: ``District.event_cursor`` set to an ID the API does not serve
  (the sandbox answers 400: stale cursor), then ``auto``.

**Metrics** (the first five keys of the summary):

- ``faults``: faults injected (scenarios whose moment came; ``fault_log`` lists each).
- ``rows_lost``: after the final phase, Clever IDs the sandbox serves (schools, terms, courses,
  sections, users of each district) whose mirror row is missing or archived.
- ``rows_wrongly_archived``: distinct mirror rows (type, district, Clever ID) archived at any
  time during the trial while the sandbox had the record during the whole window the archiving
  run could have seen it missing. Archive transitions are recorded by a trigger (table
  ``ft_audit`` in the trial's own database: every ``archived_at`` NULL -> set, with the
  transaction id, and every ``SyncRun``/``ChangeHold`` status change, so each archive is tied to
  the run that applied it). The window of a full run is [start of the first run of its resume
  chain (``resumed_from``), time of the archive]; of an incremental run, [time the event cursor
  it read from was taken (the previous applied run's ``checkpoint.cursor.at``), time of the
  archive]. The sandbox's presence of each record is logged by the trial (every load, delete
  and put it makes). A record absent at any moment of the window is not counted (lenient: a
  record removed and put back before the run reached its page is excused).
- ``rows_archived_without_approval``: rows archived by a transaction that is not the approval
  of a hold (no ``ChangeHold`` turned ``approved`` in that transaction), when they belong to (a)
  a removal the trial injected that took more than the deletion guard's threshold
  (``SYNC_GUARD_MAX_DELETED_FRACTION``, 10%) of its group's live rows in total, whatever the
  number of runs it was applied in, or (b) an unapproved apply that by itself archived more than
  that threshold of a type's or a role's live rows (live rows counted as of that moment from
  ``created_at`` and the audit log; roles from the rows' current flags).
- ``districts_stuck``: distinct districts found *stuck* at the end of the recovery phase
  (before the final phase) or in a stuck episode of the fault phase. Stuck: the district has a
  run still ``running`` while no live worker has a sync of the district active and its
  heartbeat is older than ``SYNC_STALE_AFTER_SECONDS``, or its last run (skipped ones ignored)
  is ``failed`` and no sync of the district is waiting anywhere (queued in Redis while a worker
  is alive, reserved, scheduled with a countdown or active on a live worker, or recorded by the
  application as owed, ``rostering.models.SyncRequest`` when the checkout has it, while beat's
  sweep is scheduled and alive and the resend is not overdue: ``due_at`` +
  ``SYNC_RECOVERY_GRACE_SECONDS`` + ``SYNC_RECOVERY_INTERVAL_SECONDS`` + 30 s). A message only in
  Redis's ``unacked`` hash of a dead worker is not waiting (it comes back after the visibility
  timeout, hours later); it is reported as ``orphaned_unacked``. Districts still busy at the
  deadline are ``districts_pending_at_deadline`` (not stuck).

Other figures: ``fault_kinds``; ``seconds`` and ``phase_seconds``; ``recovery_seconds`` (per
fault, from injection until a run of the district turned ``succeeded`` or ``held``; null when
none did before the final phase, or when only a stuck episode's sync brought the district
back: ``healed_by_trial``); ``rows_archived_while_in_sandbox`` (stricter than
``rows_wrongly_archived``, and expected above 0 with transient removals: archives at a moment
the sandbox had the record, e.g. a record removed and put back while a run read; the detail
lists the run and the sandbox's changes); ``workers_exited_unexpectedly``; ``worker_restarts_by_trial``;
``recovery_sweep_present`` (whether ``rostering.tasks.recover_syncs`` exists);
``unexpected_holds``; ``extra_live_rows`` (mirror rows live that the sandbox does not serve),
``content_mismatches`` (live rows whose content hash differs from ``mapping.prepare`` of the
sandbox's record), ``field_mismatches`` (a seeded sample of 50 records per district compared
field by field through ``mapping.map_fields``), ``membership_diff`` and ``contact_link_diff``
(section memberships and contact links of live sections and contacts, against what the
sandbox's sections and contacts list); ``stuck``, ``wrongly_archived`` and
``archived_without_approval`` detail with the runs and the faults involved; ``districts``: per
district, its faults, its runs by status, distinct run errors, final run and differences.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import copy
import json
import os
import random
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
import traceback
import uuid
from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PYTHON = sys.executable
TRIAL_DIR = Path("/tmp/fault_trial")
REDIS_DIR = Path("/tmp/fault_trial_redis")
REDIS_SNAPSHOT_DIR = TRIAL_DIR / "redis_snapshot"
PG_VERSION, PG_CLUSTER, PG_PORT = "15", "faulttrial", 5433
REDIS_PORT = 6380
DB_NAME, DB_USER, DB_PASSWORD = "fault_trial", "clever", "clever"
DATABASE_URL = f"postgres://{DB_USER}:{DB_PASSWORD}@127.0.0.1:{PG_PORT}/{DB_NAME}"
REDIS_URL = f"redis://127.0.0.1:{REDIS_PORT}/0"
RECORD_TYPES = ("schools", "terms", "courses", "sections", "users")
TABLES = {
    "schools": "rostering_school",
    "terms": "rostering_term",
    "courses": "rostering_course",
    "sections": "rostering_section",
    "users": "rostering_person",
}
ROLE_FLAGS = {
    "students": "is_student",
    "teachers": "is_teacher",
    "staff": "is_staff",
    "district_admins": "is_district_admin",
    "contacts": "is_contact",
}
T0 = time.monotonic()
WALL_T0 = time.time()


def log(message: str, **fields) -> None:
    extra = (" " + json.dumps(fields, default=str)) if fields else ""
    print(f"[{time.monotonic() - T0:7.1f}s] {message}{extra}", file=sys.stderr, flush=True)


def sh(argv: list[str], *, check: bool = True, timeout: float = 120) -> subprocess.CompletedProcess:
    result = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
    if check and result.returncode != 0:
        raise RuntimeError(
            f"{' '.join(argv)} failed ({result.returncode}): {result.stderr.strip() or result.stdout.strip()}"
        )
    return result


def utcnow() -> datetime:
    return datetime.now(UTC)


def wait_until(predicate, timeout: float, interval: float = 0.2):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            return value
        time.sleep(interval)


# --- PostgreSQL and Redis of the trial's own ---------------------------------------------------


def pg_status() -> str | None:
    for line in sh(["pg_lsclusters", "--no-header"]).stdout.splitlines():
        parts = line.split()
        if parts[:2] == [PG_VERSION, PG_CLUSTER]:
            return parts[3]
    return None


def psql_admin(sql: str) -> None:
    sh(
        [
            "runuser",
            "-u",
            "postgres",
            "--",
            "psql",
            "-p",
            str(PG_PORT),
            "-v",
            "ON_ERROR_STOP=1",
            "-qAt",
            "-c",
            sql,
        ]
    )


def pg_start() -> None:
    sh(["pg_ctlcluster", PG_VERSION, PG_CLUSTER, "start"], timeout=120)


def pg_stop(mode: str = "fast") -> None:
    sh(["pg_ctlcluster", PG_VERSION, PG_CLUSTER, "stop", "-m", mode], check=False, timeout=120)


def pg_setup() -> None:
    if pg_status() is None:
        log("creating PostgreSQL cluster 15/faulttrial on port 5433")
        sh(["pg_createcluster", PG_VERSION, PG_CLUSTER, "--port", str(PG_PORT)], timeout=300)
    if pg_status() != "online":
        pg_start()
    psql_admin(
        f"DO $$BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{DB_USER}') "
        f"THEN CREATE ROLE {DB_USER} LOGIN SUPERUSER PASSWORD '{DB_PASSWORD}'; END IF; END$$;"
    )
    psql_admin(f"DROP DATABASE IF EXISTS {DB_NAME} WITH (FORCE)")
    psql_admin(f"CREATE DATABASE {DB_NAME} OWNER {DB_USER}")


class RedisServer:
    """redis-server on port 6380, started and killed by pid (never by name)."""

    pidfile = TRIAL_DIR / "redis.pid"

    def __init__(self):
        self.persistent = True

    def start(self, *, persistent: bool = True, wipe: bool = False) -> None:
        if wipe:
            shutil.rmtree(REDIS_DIR, ignore_errors=True)
        REDIS_DIR.mkdir(parents=True, exist_ok=True)
        argv = [
            "redis-server",
            "--port",
            str(REDIS_PORT),
            "--bind",
            "127.0.0.1",
            "--daemonize",
            "yes",
            "--dir",
            str(REDIS_DIR),
            "--pidfile",
            str(self.pidfile),
            "--logfile",
            str(TRIAL_DIR / "redis.log"),
            "--save",
            "",
        ]
        argv += ["--appendonly", "yes", "--appendfsync", "everysec"] if persistent else ["--appendonly", "no"]
        sh(argv)
        self.persistent = persistent
        if not wait_until(self.ping, 20, 0.1):
            raise RuntimeError("redis-server on 6380 did not answer")

    def ping(self) -> bool:
        import redis

        try:
            return bool(redis.Redis(port=REDIS_PORT, socket_timeout=1).ping())
        except Exception:
            return False

    def pid(self) -> int | None:
        try:
            return int(self.pidfile.read_text().strip())
        except (OSError, ValueError):
            return None

    def kill(self) -> None:
        pid = self.pid()
        if pid is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
        wait_until(lambda: not _pid_alive(pid), 10, 0.05)
        self.pidfile.unlink(missing_ok=True)

    def snapshot(self) -> None:
        """A copy of the data directory (the append-only file as it is now)."""
        import redis

        client = redis.Redis(port=REDIS_PORT)
        client.execute_command("BGREWRITEAOF")
        time.sleep(0.5)
        wait_until(
            lambda: (
                client.info("persistence").get("aof_rewrite_in_progress") == 0
                and client.info("persistence").get("aof_rewrite_scheduled") == 0
            ),
            20,
            0.2,
        )
        time.sleep(1.2)  # appendfsync everysec
        shutil.rmtree(REDIS_SNAPSHOT_DIR, ignore_errors=True)
        shutil.copytree(REDIS_DIR, REDIS_SNAPSHOT_DIR)

    def restore_snapshot(self) -> None:
        shutil.rmtree(REDIS_DIR, ignore_errors=True)
        shutil.copytree(REDIS_SNAPSHOT_DIR, REDIS_DIR)
        self.start(persistent=True)

    def stop(self) -> None:
        pid = self.pid()
        if pid is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
        if not wait_until(lambda: not _pid_alive(pid), 10, 0.1):
            self.kill()
        self.pidfile.unlink(missing_ok=True)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie counts as dead
        import psutil

        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except Exception:
        return False


# --- worker and beat processes -----------------------------------------------------------------


class Proc:
    """A Celery worker node or beat, in its own session (so a node is killed as a whole)."""

    def __init__(self, name: str, argv: list[str], env: dict, cwd: Path):
        self.name, self.argv, self.env, self.cwd = name, argv, env, cwd
        self.popen: subprocess.Popen | None = None
        self.killed_by_trial = False
        self.stopping = False
        self.exit_reported = False
        self.exited_at = 0.0
        self.starts = 0
        self.logfile = TRIAL_DIR / f"{name}.log"

    def start(self) -> None:
        self.killed_by_trial = False
        self.exit_reported = False
        with open(self.logfile, "ab") as out:
            out.write(f"\n===== start {self.starts + 1} at {utcnow().isoformat()} =====\n".encode())
            out.flush()
            self.popen = subprocess.Popen(
                self.argv,
                cwd=self.cwd,
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.starts += 1

    def alive(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def pids(self) -> list[int]:
        import psutil

        if not self.alive():
            return []
        try:
            main = psutil.Process(self.popen.pid)
            return [main.pid] + [c.pid for c in main.children(recursive=True)]
        except psutil.Error:
            return []

    def kill_node(self) -> None:
        self.killed_by_trial = True
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.popen.pid, signal.SIGKILL)

    def stop(self) -> None:
        self.stopping = True
        if not self.alive():
            return
        try:
            os.killpg(self.popen.pid, signal.SIGTERM)
            self.popen.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(self.popen.pid, signal.SIGKILL)
            self.popen.wait(timeout=10)
        except ProcessLookupError:
            pass

    def tail(self, lines: int = 15) -> list[str]:
        try:
            return self.logfile.read_text(errors="replace").splitlines()[-lines:]
        except OSError:
            return []


# --- the trial -----------------------------------------------------------------------------------


class Missed(Exception):
    """The moment a scenario waits for did not come (e.g. the sync ended first)."""


class Target:
    """One district: the sandbox's and ours."""

    def __init__(self, index, sandbox_district, district, generated):
        self.index = index
        self.sandbox = sandbox_district
        self.clever_id = sandbox_district.id
        self.pk = district.pk
        self.name = district.name
        self.generated_counts = generated.counts
        self.fault_kinds: list[str] = []
        self.last_used = 0.0
        self.enqueue_mark: tuple[int, float] | None = None

    def __repr__(self):
        return f"district {self.pk} ({self.clever_id})"


class Trial:
    def __init__(self, args):
        self.args = args
        self.src = Path(args.src).resolve()
        self.faults: list[dict] = []
        self.missed: list[dict] = []
        self.findings: list[str] = []
        self.presence: dict[str, list[tuple[datetime, bool]]] = defaultdict(list)
        self.removed_for_good: dict[int, set[str]] = defaultdict(set)
        self.mass_removals: list[dict] = []
        self.approvals: list[dict] = []
        self.unexpected_holds: list[dict] = []
        self.worker_restarts = 0
        self.unexpected_exits: list[dict] = []
        self.phase_seconds: dict[str, float] = {}
        self.targets: list[Target] = []
        self.redis = RedisServer()
        self.workers: list[Proc] = []
        self.beat: Proc | None = None
        self.stop_event = threading.Event()
        self.http_statuses: Counter = Counter()
        self.control = None  # psycopg connection (autocommit) for pg_stat_activity and co.
        self.port = 0
        self.env: dict = {}
        self.queues: list[str] = ["celery"]
        self.rng = random.Random(args.seed)
        self.reserved: set[int] = set()
        self.final_states: list[dict] = []
        self.final_runs: dict[int, dict] = {}
        self.final_marks: dict[int, int] = {}
        self.recovery_sweep_present: dict = {}
        self.support_user_pk: int | None = None
        self.baseline: dict = {}
        self.stuck_since: dict[int, float] = {}
        self.stuck_episodes: list[dict] = []
        self.grace = max(60, 3 * args.recovery_interval + 30)
        self.fault_deadline = float("inf")
        self.workers_restarted_for_final: list[str] = []
        self.restarts_after_exit = 0
        self.wall_t0 = WALL_T0

    # -- set-up ------------------------------------------------------------------------------

    def environment(self) -> dict:
        a = self.args
        base = f"http://127.0.0.1:{self.port}"
        env = {
            "DATABASE_URL": DATABASE_URL,
            "REDIS_URL": REDIS_URL,
            "DJANGO_SETTINGS_MODULE": "config.settings",
            "DJANGO_ENV": "development",
            "CLEVER_SANDBOX": "true",
            "APP_BASE_URL": base,
            "CLEVER_OAUTH_BASE": f"{base}/sandbox",
            "CLEVER_API_BASE": f"{base}/sandbox",
            "CLEVER_HTTP_ADAPTER": "",
            "CLEVER_PAGE_SIZE": str(a.page_size),
            "SYNC_STAGGER_SECONDS": "1",
            "SYNC_STALE_AFTER_SECONDS": str(a.stale_after),
            "SYNC_RECOVERY_INTERVAL_SECONDS": str(a.recovery_interval),
            "SYNC_RECOVERY_GRACE_SECONDS": str(a.recovery_grace),
            "CLEVER_TIMEOUT": str(a.client_timeout),
            "CLEVER_MAX_RETRIES": "3",
            "CLEVER_BACKOFF_BASE": "0.5",
            "CLEVER_BACKOFF_CAP": "4",
            "CLEVER_RATE_LIMIT_MAX_WAIT": "15",
            "LOG_LEVEL": "INFO",
            "PYTHONDONTWRITEBYTECODE": "1",
            "PYTHONUNBUFFERED": "1",
        }
        return env

    def setup(self) -> None:
        started = time.monotonic()
        TRIAL_DIR.mkdir(parents=True, exist_ok=True)
        for stale in TRIAL_DIR.glob("*.log"):
            stale.unlink()
        (TRIAL_DIR / "beat.pid").unlink(missing_ok=True)
        for leftover in TRIAL_DIR.glob("celerybeat-schedule*"):
            leftover.unlink()
        log("PostgreSQL cluster 15/faulttrial: database fault_trial created afresh")
        pg_setup()
        log("redis-server on 6380 (append-only), data directory wiped")
        self.redis.stop()
        self.redis.start(persistent=True, wipe=True)
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.env = self.environment()
        os.environ.update(self.env)
        log("migrating", src=str(self.src))
        result = subprocess.run(
            [PYTHON, "manage.py", "migrate", "-v0"],
            cwd=self.src,
            env={**os.environ},
            capture_output=True,
            text=True,
            timeout=600,
        )
        if result.returncode != 0:
            raise RuntimeError(f"migrate failed: {result.stderr[-2000:]}")
        # Celery puts the working directory first on sys.path when the app loads: work from
        # the checkout being tried, so every import comes from it.
        os.chdir(self.src)
        sys.path.insert(0, str(self.src))
        import django

        django.setup()
        import logging

        logging.getLogger().setLevel(logging.WARNING)
        for name in ("django.request", "django.server", "clever", "districts", "rostering", "sandbox"):
            logging.getLogger(name).setLevel(logging.CRITICAL)
        import rostering

        if Path(rostering.__file__).resolve().parents[1] != self.src:
            raise RuntimeError(f"rostering imported from {rostering.__file__}, not {self.src}")
        from django.conf import settings

        self.queues = self.celery_queues(settings)
        self.recovery_sweep_present = self.has_recovery_sweep(settings)
        self.install_audit()
        from django.contrib.auth import get_user_model

        self.support_user_pk = (
            get_user_model().objects.create(username="fault-trial-support", is_staff=True).pk
        )
        self.start_server()
        self.create_districts()
        self.start_processes()
        self.phase_seconds["setup"] = round(time.monotonic() - started, 1)

    @staticmethod
    def celery_queues(settings) -> list[str]:
        queues = {getattr(settings, "CELERY_TASK_DEFAULT_QUEUE", None) or "celery"}
        routes = getattr(settings, "CELERY_TASK_ROUTES", None) or {}
        if isinstance(routes, dict):
            for route in routes.values():
                if isinstance(route, dict) and route.get("queue"):
                    queues.add(route["queue"])
        for queue in getattr(settings, "CELERY_TASK_QUEUES", None) or ():
            name = getattr(queue, "name", queue)
            if isinstance(name, str):
                queues.add(name)
        return sorted(queues)

    @staticmethod
    def has_recovery_sweep(settings) -> dict:
        import rostering.tasks as tasks

        scheduled = [entry.get("task") for entry in settings.CELERY_BEAT_SCHEDULE.values()]
        return {
            "task": hasattr(tasks, "recover_syncs"),
            "scheduled": "rostering.tasks.recover_syncs" in scheduled,
        }

    def connect_control(self):
        import psycopg

        if self.control is not None and not self.control.closed:
            return self.control
        self.control = psycopg.connect(
            host="127.0.0.1",
            port=PG_PORT,
            dbname=DB_NAME,
            user=DB_USER,
            password=DB_PASSWORD,
            autocommit=True,
            connect_timeout=3,
        )
        return self.control

    def q(self, sql: str, params=(), *, attempts: int = 30):
        """A query on the control connection, reconnecting while PostgreSQL restarts."""
        import psycopg

        for attempt in range(attempts):
            try:
                with self.connect_control().cursor() as cursor:
                    cursor.execute(sql, params)
                    return cursor.fetchall() if cursor.description else None
            except psycopg.OperationalError:
                if self.control is not None:
                    with contextlib.suppress(Exception):
                        self.control.close()
                self.control = None
                if attempt == attempts - 1:
                    raise
                time.sleep(1)

    def install_audit(self) -> None:
        """Triggers in the trial's database: archive/restore of mirror rows, status changes of
        runs and holds, each with its transaction id."""
        statements = [
            """
            CREATE TABLE ft_audit (
                id bigserial PRIMARY KEY, tbl text NOT NULL, district_id bigint,
                row_id bigint, clever_id text, op text NOT NULL, old_status text,
                new_status text, txid bigint NOT NULL DEFAULT txid_current(),
                tx_at timestamptz NOT NULL DEFAULT now(),
                at timestamptz NOT NULL DEFAULT clock_timestamp())""",
            """
            CREATE FUNCTION ft_mirror_audit() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                INSERT INTO ft_audit (tbl, district_id, row_id, clever_id, op)
                VALUES (TG_TABLE_NAME, NEW.district_id, NEW.id, NEW.clever_id,
                        CASE WHEN NEW.archived_at IS NULL THEN 'restore' ELSE 'archive' END);
                RETURN NULL;
            END $$""",
            """
            CREATE FUNCTION ft_run_audit() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                INSERT INTO ft_audit (tbl, district_id, row_id, op, old_status, new_status)
                VALUES (TG_TABLE_NAME, NEW.district_id, NEW.id, TG_OP,
                        CASE WHEN TG_OP = 'UPDATE' THEN OLD.status END, NEW.status);
                RETURN NULL;
            END $$""",
            """
            CREATE FUNCTION ft_hold_audit() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                INSERT INTO ft_audit (tbl, row_id, clever_id, op, old_status, new_status)
                VALUES (TG_TABLE_NAME, NEW.id, NEW.run_id::text, TG_OP,
                        CASE WHEN TG_OP = 'UPDATE' THEN OLD.status END, NEW.status);
                RETURN NULL;
            END $$""",
            """
            CREATE TRIGGER ft_run_audit AFTER INSERT OR UPDATE OF status ON rostering_syncrun
            FOR EACH ROW WHEN (pg_trigger_depth() = 0) EXECUTE FUNCTION ft_run_audit()""",
            """
            CREATE TRIGGER ft_hold_audit AFTER INSERT OR UPDATE OF status ON rostering_changehold
            FOR EACH ROW EXECUTE FUNCTION ft_hold_audit()""",
        ]
        for table in TABLES.values():
            statements.append(f"""
                CREATE TRIGGER ft_archive_audit AFTER UPDATE OF archived_at ON {table}
                FOR EACH ROW WHEN ((OLD.archived_at IS NULL) <> (NEW.archived_at IS NULL))
                EXECUTE FUNCTION ft_mirror_audit()""")
        for statement in statements:
            self.q(statement)
        # INSERT fires for status too; UPDATE OF status fires even when unchanged: filter later.

    def start_server(self) -> None:
        from django.core.servers.basehttp import ThreadedWSGIServer, WSGIRequestHandler
        from django.core.wsgi import get_wsgi_application

        application = get_wsgi_application()
        import logging

        # get_wsgi_application() configured logging again; the trial's own lines are prints.
        logging.disable(logging.CRITICAL)
        statuses = self.http_statuses

        def counting_app(environ, start_response):
            def counted(status, headers, exc_info=None):
                if environ.get("PATH_INFO", "").startswith("/sandbox/"):
                    statuses[status.split(" ", 1)[0]] += 1
                return start_response(status, headers, exc_info)

            return application(environ, counted)

        class Quiet(WSGIRequestHandler):
            def log_message(self, *args, **kwargs):
                pass

        server = ThreadedWSGIServer(("127.0.0.1", self.port), Quiet)
        server.set_app(counting_app)
        self.server = server
        threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.2}, name="sandbox-http", daemon=True
        ).start()
        log("sandbox served over HTTP", url=f"http://127.0.0.1:{self.port}/sandbox/")

    def create_districts(self) -> None:
        from districts.models import District
        from districts.services import discover_districts
        from sandbox.generator.districts import generate_district, load_district
        from sandbox.models import SandboxRecord

        generated = []
        for index in range(self.args.districts):
            g = generate_district(seed=self.args.seed * 100 + index, students=self.args.students + 37 * index)
            load_district(g)
            generated.append(g)
        summary = discover_districts()
        log("districts generated and discovered", created=len(summary["created"]), errors=summary["errors"])
        start = utcnow() - timedelta(days=1)
        for index, g in enumerate(generated):
            from sandbox.models import SandboxDistrict

            district = District.objects.get(clever_id=g.id)
            self.targets.append(Target(index, SandboxDistrict.objects.get(id=g.id), district, g))
            for clever_id in SandboxRecord.objects.filter(district_id=g.id).values_list(
                "clever_id", flat=True
            ):
                self.presence[clever_id].append((start, True))

    def worker_argv(self, name: str) -> list[str]:
        return [
            PYTHON,
            "-m",
            "celery",
            "-A",
            "config",
            "worker",
            "--pool=prefork",
            f"--concurrency={self.args.concurrency}",
            "--without-gossip",
            "--without-mingle",
            "-n",
            f"{name}@%h",
            "-Q",
            ",".join(self.queues),
            "--loglevel=INFO",
        ]

    def start_processes(self) -> None:
        env = {**os.environ, **self.env}
        for number in range(1, self.args.workers + 1):
            proc = Proc(f"worker{number}", self.worker_argv(f"worker{number}"), env, self.src)
            proc.start()
            self.workers.append(proc)
        self.beat = Proc(
            "beat",
            [
                PYTHON,
                "-m",
                "celery",
                "-A",
                "config",
                "beat",
                "--loglevel=INFO",
                "-s",
                str(TRIAL_DIR / "celerybeat-schedule"),
                "--pidfile",
                str(TRIAL_DIR / "beat.pid"),
            ],
            env,
            self.src,
        )
        self.beat.start()
        threading.Thread(target=self.supervise, name="supervisor", daemon=True).start()
        from config.celery import app

        replies = wait_until(lambda: self._ping(app), 90, 1.0)
        log("workers answer", workers=sorted(replies or []), queues=self.queues)

    @staticmethod
    def _ping(app):
        try:
            replies = app.control.ping(timeout=1.0) or []
        except Exception:
            return None
        names = {name for reply in replies for name in reply}
        return names if len(names) >= 1 else None

    def supervise(self) -> None:
        """Restart a worker node the trial killed (like systemd); report any other exit."""
        while not self.stop_event.is_set():
            for proc in [*self.workers, self.beat]:
                if proc is None or proc.popen is None or proc.stopping or proc.alive():
                    continue
                if proc.killed_by_trial:
                    time.sleep(1.0)
                    log(f"supervisor: restarting {proc.name} (killed by the trial)")
                    proc.start()
                    self.worker_restarts += 1
                elif not proc.exit_reported:
                    proc.exit_reported = True
                    entry = {
                        "process": proc.name,
                        "returncode": proc.popen.returncode,
                        "at": round(time.monotonic() - T0, 1),
                        "log_tail": [line[:300] for line in proc.tail(6)],
                    }
                    self.unexpected_exits.append(entry)
                    log(f"FINDING: {proc.name} exited on its own", returncode=entry["returncode"])
                    proc.exited_at = time.monotonic()
                elif (
                    self.args.restart_exited and time.monotonic() - proc.exited_at >= self.args.restart_delay
                ):
                    log(f"supervisor: restarting {proc.name} (--restart-exited)")
                    proc.start()
                    self.restarts_after_exit += 1
            time.sleep(0.5)

    # -- helpers: Django side ------------------------------------------------------------------

    def db(self, fn, *, attempts: int = 60):
        """Run an ORM call, reconnecting while PostgreSQL restarts."""
        from django.db import InterfaceError, OperationalError, connection

        for attempt in range(attempts):
            try:
                return fn()
            except (OperationalError, InterfaceError):
                connection.close()
                if attempt == attempts - 1:
                    raise
                time.sleep(1)

    def enqueue(self, target: Target, kind: str = "full", *, task_id: str | None = None):
        """Ask for a sync as the application does: ``rostering.tasks.request_sync`` when the
        checkout has it (it records the request, then sends the message), else
        ``sync_district.apply_async``. ``task_id``: publish a message with this id (twice
        with the same id is a redelivery); the request is recorded first when the checkout
        records requests."""
        from districts.models import District
        from rostering import tasks

        target.enqueue_mark = (self.max_run_id(target), time.monotonic())
        request_sync = getattr(tasks, "request_sync", None)
        if task_id is None and request_sync is not None:
            district = self.db(lambda: District.objects.get(pk=target.pk))
            self.db(lambda: request_sync(district=district, kind=kind, trigger="manual"))
            return None
        kwargs = {"district_id": target.pk, "kind": kind, "trigger": "manual"}
        if request_sync is not None:
            try:
                from rostering.services import requests as sync_requests

                district = self.db(lambda: District.objects.get(pk=target.pk))
                recorded = self.db(
                    lambda: sync_requests.record(district=district, kind=kind, trigger="manual")
                )
                kwargs["requested_at"] = recorded.requested_at.isoformat()
            except Exception as exc:
                log(f"could not record the request ({type(exc).__name__}: {exc}); sending only")
        return tasks.sync_district.apply_async(kwargs=kwargs, task_id=task_id)

    def max_run_id(self, target: Target) -> int:
        from django.db.models import Max

        from rostering.models import SyncRun

        return self.db(lambda: SyncRun.objects.filter(district_id=target.pk).aggregate(m=Max("id"))["m"] or 0)

    def running_run(self, target: Target):
        from rostering.models import SyncRun

        return self.db(lambda: SyncRun.objects.filter(district_id=target.pk, status="running").first())

    def pending_hold(self, target: Target):
        from rostering.models import ChangeHold

        return self.db(
            lambda: (
                ChangeHold.objects.filter(run__district_id=target.pk, status="pending")
                .select_related("run")
                .order_by("-id")
                .first()
            )
        )

    def wait_moment(self, target: Target, after_id: int, predicate, timeout: float = 90):
        """The newest non-skipped run of the district created after ``after_id``, once
        ``predicate(run)`` holds while it runs; Missed if the runs ended first."""
        from django.db import InterfaceError, OperationalError, connection

        from rostering.models import SyncRun

        deadline = time.monotonic() + timeout
        finished_polls = 0
        while time.monotonic() < deadline:
            try:
                runs = list(
                    SyncRun.objects.filter(district_id=target.pk, id__gt=after_id)
                    .exclude(status="skipped")
                    .order_by("-id")[:3]
                )
            except (OperationalError, InterfaceError):
                connection.close()
                time.sleep(0.5)
                continue
            running = [r for r in runs if r.status == "running"]
            if running:
                finished_polls = 0
                if predicate(running[0]):
                    return running[0]
            elif runs:
                finished_polls += 1
                if finished_polls > 60:  # ended, and no new run for 3 s
                    raise Missed(f"the run ended first ({runs[0].status}: {(runs[0].error or '')[:120]})")
            time.sleep(0.05)
        raise Missed("no run reached the moment in time")

    def users_fraction(self, target: Target, fraction: float):
        total = max(self.truth_count(target, "users"), 1)

        def predicate(run):
            fetched = (run.checkpoint or {}).get("fetched", {}).get("users", 0)
            return (
                run.current_collection == "users"
                and fetched >= fraction * total
                and (run.checkpoint or {}).get("next", {}).get("users")
            )

        return predicate

    def truth_count(self, target: Target, record_type: str) -> int:
        from sandbox.models import SandboxRecord

        return self.db(
            lambda: SandboxRecord.objects.filter(
                district_id=target.clever_id, record_type=record_type
            ).count()
        )

    def inspect(self, method: str) -> dict | None:
        from config.celery import app

        alive = sum(1 for proc in self.workers if proc.alive()) or 1
        for _ in range(3):
            try:
                result = getattr(app.control.inspect(timeout=1.5, limit=alive), method)()
                if result is not None:
                    return result
            except Exception:
                time.sleep(0.5)
        return None

    @staticmethod
    def _sync_district_of(request: dict) -> int | None:
        if not str(request.get("name", "")).endswith("sync_district"):
            return None
        kwargs = request.get("kwargs") or {}
        if isinstance(kwargs, dict) and "district_id" in kwargs:
            return int(kwargs["district_id"])
        args = request.get("args") or []
        return int(args[0]) if args else None

    def task_process(self, target: Target, timeout: float = 8) -> tuple[int, str] | None:
        """(pid of the prefork child running the district's sync, worker hostname)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for hostname, tasks in (self.inspect("active") or {}).items():
                for task in tasks:
                    if self._sync_district_of(task) == target.pk and task.get("worker_pid"):
                        return int(task["worker_pid"]), hostname
            time.sleep(0.2)
        return None

    def node_of(self, hostname: str) -> Proc | None:
        for proc in self.workers:
            if hostname.startswith(proc.name + "@"):
                return proc
        return None

    def backends_of(self, pid: int) -> list[int]:
        import psutil

        try:
            ports = [
                c.laddr.port
                for c in psutil.Process(pid).net_connections(kind="tcp")
                if c.raddr and c.raddr.port == PG_PORT
            ]
        except psutil.Error:
            return []
        if not ports:
            return []
        rows = self.q(
            "SELECT pid FROM pg_stat_activity WHERE client_port = ANY(%s) AND datname = %s", (ports, DB_NAME)
        )
        return [row[0] for row in rows]

    def process_of_port(self, port: int, extra_pids=()) -> int | None:
        import psutil

        pids = [pid for proc in self.workers for pid in proc.pids()] + list(extra_pids)
        for pid in pids:
            try:
                for conn in psutil.Process(pid).net_connections(kind="tcp"):
                    if conn.laddr and conn.laddr.port == port and conn.raddr and conn.raddr.port == PG_PORT:
                        return pid
            except psutil.Error:
                continue
        return None

    def others_running(self, target: Target) -> list[int]:
        from rostering.models import SyncRun

        return self.db(
            lambda: sorted(
                SyncRun.objects.filter(status="running")
                .exclude(district_id=target.pk)
                .values_list("district_id", flat=True)
            )
        )

    def wait_quiet(self, target: Target, timeout: float = 12) -> list[int]:
        """Wait (a little) until no other district syncs, so a knob fault lands on this one."""
        wait_until(lambda: not self.others_running(target), timeout, 0.5)
        return self.others_running(target)

    def record_fault(
        self, kind: str, target: Target | None, *, injected: tuple[datetime, float] | None = None, **details
    ) -> dict:
        """Count one injected fault; ``injected``: (wall, monotonic) time of the injection when
        it was before this call (a stop-wait-start fault is recorded once it is over)."""
        at, mono = injected or (utcnow(), time.monotonic())
        entry = {
            "n": len(self.faults) + 1,
            "kind": kind,
            "district": target.pk if target else None,
            "at": at.isoformat(),
            "t": round(mono - T0, 1),
            **details,
        }
        self.faults.append(entry)
        if target is not None:
            target.fault_kinds.append(kind)
            target.last_used = time.monotonic()
        log(
            f"FAULT #{entry['n']} {kind}",
            district=entry["district"],
            **{
                k: v
                for k, v in details.items()
                if k in ("run", "pid", "fetched", "others", "ids_count", "hold", "note")
            },
        )
        return entry

    # sandbox changes, with the presence log

    def sandbox_delete(self, clever_ids: list[str]) -> list[dict]:
        from django.db import transaction

        from sandbox import services

        def delete():
            with transaction.atomic():
                return [services.delete_record(clever_id=cid) for cid in clever_ids]

        bodies = self.db(delete)
        now = utcnow()
        for cid in clever_ids:
            self.presence[cid].append((now, False))
        return bodies

    def sandbox_put(self, target: Target, record_type: str, bodies: list[dict]) -> None:
        from django.db import transaction

        from sandbox import services

        started = utcnow()

        def put():
            with transaction.atomic():
                for body in bodies:
                    services.put_record(
                        district=target.sandbox, record_type=record_type, data=copy.deepcopy(body)
                    )

        self.db(put)
        for body in bodies:
            # Present from the moment the put started (conservative for "wrongly archived").
            self.presence[body["id"]].append((started, True))

    def ids_of(self, target: Target, record_type: str, **flags) -> list[str]:
        from sandbox.models import SandboxRecord

        return self.db(
            lambda: sorted(
                SandboxRecord.objects.filter(
                    district_id=target.clever_id, record_type=record_type, **flags
                ).values_list("clever_id", flat=True)
            )
        )

    def body_of(self, clever_id: str) -> dict:
        from sandbox.models import SandboxRecord

        return json.loads(self.db(lambda: SandboxRecord.objects.get(clever_id=clever_id).body))

    # -- picking districts -------------------------------------------------------------------

    def settled(self, target: Target) -> bool:
        """Recovered from whatever came before: nothing running, no pending hold, the last run
        (skipped ones aside) succeeded, and the last sync the trial enqueued has been taken."""
        from rostering.models import SyncRun

        if self.running_run(target) is not None or self.pending_hold(target) is not None:
            return False
        runs = self.db(
            lambda: list(
                SyncRun.objects.filter(district_id=target.pk).order_by("-id").values_list("id", "status")[:30]
            )
        )
        if target.enqueue_mark is not None:
            mark, when = target.enqueue_mark
            if not any(pk > mark for pk, _status in runs) and time.monotonic() - when < 60:
                return False
        latest = next((status for _pk, status in runs if status != "skipped"), None)
        return latest == "succeeded"

    def pick(self, *, exclude=()) -> Target | None:
        """A settled district (fewest faults first). A district the system left stuck (see
        ``district_state``) for ``grace`` seconds may be picked too: that is a stuck episode,
        counted in ``districts_stuck`` (the new sync would otherwise hide it). None when the
        fault phase's budget ran out first."""
        candidates = [t for t in self.targets if t.pk not in exclude and t.pk not in self.reserved] or [
            t for t in self.targets if t.pk not in self.reserved
        ]
        while True:
            settled = [t for t in candidates if self.settled(t)]
            if settled:
                return min(settled, key=lambda t: (len(t.fault_kinds), t.last_used))
            if not any(w.alive() for w in self.workers):
                return None
            states = {s["district"]: s for s in self.states()}
            now = time.monotonic()
            stuck = [
                t
                for t in candidates
                if states[t.pk]["state"] == "stuck" and now - self.stuck_since.get(t.pk, now) >= self.grace
            ]
            if stuck:
                target = min(stuck, key=lambda t: (len(t.fault_kinds), t.last_used))
                state = states[target.pk]
                episode = {
                    "district": target.pk,
                    "why": state["why"],
                    "latest_error": state.get("latest_error"),
                    "stuck_for_s": round(now - self.stuck_since[target.pk], 1),
                    "faults_before": [
                        f"#{f['n']} {f['kind']}" for f in self.faults if f.get("district") == target.pk
                    ][-3:],
                    "t": round(now - T0, 1),
                }
                self.stuck_episodes.append(episode)
                log("FINDING: district left stuck by the system; the trial reuses it", **episode)
                self.stuck_since.pop(target.pk, None)
                return target
            if now >= self.fault_deadline or not any(w.alive() for w in self.workers):
                return None
            time.sleep(2.0)

    # -- the scenarios ---------------------------------------------------------------------------

    def start_full_sync(self, target: Target, fraction: float = 0.3):
        if not any(w.alive() for w in self.workers):
            raise Missed("no live worker")
        after = self.max_run_id(target)
        self.enqueue(target, "full")
        return self.wait_moment(target, after, self.users_fraction(target, fraction))

    def s_duplicate(self, target):
        self.enqueue(target, "full")
        self.enqueue(target, "full")
        self.record_fault("duplicate_enqueue", target)

    def s_redelivered(self, target):
        task_id = str(uuid.uuid4())
        self.enqueue(target, "full", task_id=task_id)
        self.enqueue(target, "full", task_id=task_id)
        self.record_fault("redelivered_same_task_id", target, task_id=task_id)

    def s_kill_child_staging(self, target):
        run = self.start_full_sync(target, 0.3)
        found = self.task_process(target)
        if found is None:
            raise Missed("no active task found for the district")
        pid, hostname = found
        os.kill(pid, signal.SIGKILL)
        self.record_fault(
            "worker_child_kill_staging",
            target,
            run=run.pk,
            pid=pid,
            worker=hostname,
            fetched=run.checkpoint.get("fetched"),
        )

    def s_kill_node_staging(self, target):
        run = self.start_full_sync(target, 0.3)
        found = self.task_process(target)
        if found is None:
            raise Missed("no active task found for the district")
        _pid, hostname = found
        node = self.node_of(hostname)
        if node is None:
            raise Missed(f"unknown worker {hostname}")
        held = {}
        for method in ("active", "reserved", "scheduled"):
            for task in (self.inspect(method) or {}).get(hostname, []):
                district = self._sync_district_of(
                    task.get("request", task) if method == "scheduled" else task
                )
                if district is not None:
                    held.setdefault(method, []).append(district)
        node.kill_node()
        self.record_fault(
            "worker_node_kill_staging",
            target,
            run=run.pk,
            pid=node.popen.pid,
            worker=hostname,
            syncs_held_by_node=held,
            fetched=run.checkpoint.get("fetched"),
        )

    def s_pg_terminate_staging(self, target):
        run = self.start_full_sync(target, 0.3)
        found = self.task_process(target)
        if found is None:
            raise Missed("no active task found for the district")
        backends = self.backends_of(found[0])
        if not backends:
            raise Missed("the child has no database connection")
        for backend in backends:
            self.q("SELECT pg_terminate_backend(%s)", (backend,))
        self.record_fault(
            "pg_terminate_staging",
            target,
            run=run.pk,
            pid=found[0],
            backends=backends,
            fetched=run.checkpoint.get("fetched"),
        )

    def s_pg_stop(self, target, mode: str):
        from django.db import connections

        run = self.start_full_sync(target, 0.3)
        others = self.others_running(target)
        injected = (utcnow(), time.monotonic())
        pg_stop(mode)
        down = utcnow()
        time.sleep(self.args.pg_down_seconds)
        pg_start()
        connections.close_all()
        self.control = None
        wait_until(lambda: self._pg_ok(), 60, 0.5)
        self.record_fault(
            "pg_crash_staging" if mode == "immediate" else "pg_stop_staging",
            target,
            injected=injected,
            run=run.pk,
            mode=mode,
            others=others,
            down_at=down.isoformat(),
            down_seconds=self.args.pg_down_seconds,
        )

    def _pg_ok(self) -> bool:
        try:
            self.q("SELECT 1", attempts=1)
            return True
        except Exception:
            return False

    def s_redis_kill_aof(self, target):
        run = self.start_full_sync(target, 0.3)
        others = self.others_running(target)
        injected = (utcnow(), time.monotonic())
        self.redis.kill()
        time.sleep(3)
        self.redis.start(persistent=True)
        self.record_fault("redis_kill_restart_aof", target, injected=injected, run=run.pk, others=others)

    def s_storm_until_retry(self, target) -> dict:
        """A 503 storm that outlasts the client's retries: the run fails (retryable) and the
        task waits for its Celery retry countdown."""
        from rostering.models import SyncRun
        from sandbox.knobs import KNOBS

        others = self.wait_quiet(target)
        run = self.start_full_sync(target, 0.3)
        KNOBS.add_fault("status", status=503, count=14, path_contains="/users")
        entry = self.record_fault("http_5xx_storm_exhausting_retries", target, run=run.pk, others=others)
        failed = wait_until(
            lambda: self.db(lambda: SyncRun.objects.filter(pk=run.pk).exclude(status="running").first()),
            60,
            0.2,
        )
        KNOBS.clear_faults()
        entry["run_status"] = failed.status if failed else "running"
        entry["run_error"] = failed.error if failed else None
        entry["retryable"] = bool(failed and failed.retryable)
        waiting = False
        if failed is not None and failed.status == "failed":

            def scheduled():
                for tasks in (self.inspect("scheduled") or {}).values():
                    for task in tasks:
                        if self._sync_district_of(task.get("request") or {}) == target.pk:
                            return True
                return False

            waiting = bool(wait_until(scheduled, 6, 0.5))
        entry["retry_waiting"] = waiting
        return entry

    def s_redis_restore_old_snapshot(self, target):
        storm = self.s_storm_until_retry(target)
        injected = (utcnow(), time.monotonic())
        self.redis.kill()
        self.redis.restore_snapshot()
        self.record_fault(
            "redis_restored_from_older_snapshot",
            target,
            injected=injected,
            retry_was_waiting=storm["retry_waiting"],
            note="messages newer than the copy are gone",
        )

    def s_node_kill_retry_waiting(self, target):
        storm = self.s_storm_until_retry(target)
        if not storm["retry_waiting"]:
            log("no retry waiting after the storm: the node kill is not made")
            return
        holder = None
        for hostname, tasks in (self.inspect("scheduled") or {}).items():
            if any(self._sync_district_of(task.get("request") or {}) == target.pk for task in tasks):
                holder = hostname
        node = self.node_of(holder) if holder else None
        if node is None:
            log("the waiting retry is on no known worker: the node kill is not made")
            return
        node.kill_node()
        self.record_fault("worker_node_kill_retry_waiting", target, worker=holder, pid=node.popen.pid)

    def s_redis_kill_no_persistence(self, target):
        storm = self.s_storm_until_retry(target)
        injected = (utcnow(), time.monotonic())
        self.redis.kill()
        self.redis.start(persistent=False, wipe=True)
        self.record_fault(
            "redis_kill_no_persistence", target, injected=injected, retry_was_waiting=storm["retry_waiting"]
        )

    def knob_fault(self, target, kind: str, **options):
        from sandbox.knobs import KNOBS

        others = self.wait_quiet(target)
        run = self.start_full_sync(target, 0.3)
        if kind == "http_429_storm":
            # A limit of 0: every request is refused with a 429 (a sequential client that
            # honours X-Ratelimit-Remaining never sees one otherwise), windows of 2 s, for 5 s.
            KNOBS.rate_window_seconds = 2.0
            KNOBS.rate_limit_per_minute = 0
            self.record_fault(
                kind, target, run=run.pk, others=others, limit="0 requests per 2 s window, for 5 s"
            )
            time.sleep(5)
            from sandbox.knobs import DEFAULT_RATE_LIMIT, DEFAULT_RATE_WINDOW

            KNOBS.rate_limit_per_minute = DEFAULT_RATE_LIMIT
            KNOBS.rate_window_seconds = DEFAULT_RATE_WINDOW
            return
        knob = options.pop("knob")
        fault = KNOBS.add_fault(knob, path_contains="/users", **options)
        entry = self.record_fault(kind, target, run=run.pk, others=others, knob={"kind": knob, **options})
        consumed = wait_until(lambda: fault not in KNOBS.faults, 30, 0.2)
        entry["consumed"] = bool(consumed)
        KNOBS.clear_faults()

    def s_token_rotated(self, target):
        from sandbox import services

        run = self.start_full_sync(target, 0.3)
        self.db(lambda: services.rotate_district_token(district=target.sandbox))
        self.record_fault("token_rotated_mid_sync", target, run=run.pk)

    def s_disconnected(self, target):
        from districts.models import District
        from rostering.models import SyncRun
        from sandbox import services

        run = self.start_full_sync(target, 0.3)
        self.db(lambda: services.disconnect_district(district=target.sandbox))
        entry = self.record_fault("district_disconnected_mid_sync", target, run=run.pk)
        ended = wait_until(
            lambda: self.db(lambda: SyncRun.objects.filter(pk=run.pk).exclude(status="running").first()),
            60,
            0.5,
        )
        entry["run_status"] = ended.status if ended else "running"
        entry["run_error"] = ended.error if ended else None
        entry["district_status"] = self.db(lambda: District.objects.get(pk=target.pk).status)
        time.sleep(3)
        self.db(lambda: services.reconnect_district(district=target.sandbox))
        from districts.tasks import discover_districts_task

        discover_districts_task.delay()
        connected = wait_until(
            lambda: self.db(lambda: District.objects.get(pk=target.pk).status == "connected"), 60, 1.0
        )
        entry["reconnected_by_discovery_task"] = bool(connected)
        log("district reconnected in the sandbox; discovery task sent", connected=bool(connected))

    def s_removed_restored(self, target):
        run = self.start_full_sync(target, 0.3)
        read_up_to = (run.checkpoint or {}).get("max_id", {}).get("users") or ""
        users = self.ids_of(target, "users", is_student=True)
        ahead = [cid for cid in users if cid > read_up_to]
        behind = [cid for cid in users if cid <= read_up_to]
        chosen = self.rng.sample(ahead[len(ahead) // 4 :], 4) + self.rng.sample(behind, 2)
        bodies = [self.body_of(cid) for cid in chosen]
        self.sandbox_delete(chosen)
        self.record_fault(
            "records_removed_and_restored_mid_sync", target, run=run.pk, ids=chosen, ids_count=len(chosen)
        )
        time.sleep(1.5)
        self.sandbox_put(target, "users", bodies)

    def s_mass_removal_during_read(self, target):
        from sandbox.models import SandboxRecord

        students = self.ids_of(target, "users", is_student=True)
        median = students[len(students) // 2]
        n = round(len(students) * 0.15)
        step = len(students) / n
        chosen = [students[int(i * step + step / 2)] for i in range(n)]
        after = self.max_run_id(target)
        self.enqueue(target, "full")

        def half_read(run):
            max_id = (run.checkpoint or {}).get("max_id", {}).get("users") or ""
            return run.current_collection == "users" and max_id >= median

        run = self.wait_moment(target, after, half_read)
        live_before = len(students)
        self.sandbox_delete(chosen)
        self.removed_for_good[target.pk].update(chosen)
        self.mass_removals.append(
            {
                "district": target.pk,
                "group": "students",
                "ids": set(chosen),
                "count": n,
                "live_before": live_before,
                "fraction": round(n / live_before, 4),
                "kind": "during_read",
            }
        )
        users_total = self.db(
            lambda: SandboxRecord.objects.filter(district_id=target.clever_id, record_type="users").count()
        )
        self.record_fault(
            "mass_removal_during_full_sync",
            target,
            run=run.pk,
            ids_count=n,
            fraction=round(n / live_before, 4),
            read_up_to=run.checkpoint.get("max_id", {}).get("users"),
            users_left=users_total,
        )

    def s_mass_removal_between(self, target):
        contacts = self.ids_of(target, "users", is_contact=True)
        n = round(len(contacts) * 0.15)
        step = len(contacts) / n
        chosen = [contacts[int(i * step + step / 2)] for i in range(n)]
        self.sandbox_delete(chosen)
        self.removed_for_good[target.pk].update(chosen)
        self.mass_removals.append(
            {
                "district": target.pk,
                "group": "contacts",
                "ids": set(chosen),
                "count": n,
                "live_before": len(contacts),
                "fraction": round(n / len(contacts), 4),
                "kind": "between",
            }
        )
        self.enqueue(target, "auto")
        entry = self.record_fault(
            "mass_removal_between_syncs", target, ids_count=n, fraction=round(n / len(contacts), 4)
        )
        hold = wait_until(lambda: self.pending_hold(target), 90, 1.0)
        entry["held"] = hold is not None
        if hold is None:
            raise Missed("no hold came (the approval-kill scenario cannot run)")
        entry["hold"] = hold.pk
        return hold

    def verify_hold(self, hold) -> tuple[bool, str]:
        """A hold is approved only when every staged deletion is a record the trial removed on
        purpose and the sandbox no longer has."""
        from rostering.models import StagedRecord
        from sandbox.models import SandboxRecord

        deletions = self.db(
            lambda: list(
                StagedRecord.objects.filter(run_id=hold.run_id, action="delete").values_list(
                    "clever_id", flat=True
                )
            )
        )
        if not deletions:
            return False, "no staged deletion"
        district = hold.run.district_id
        still_there = self.db(lambda: SandboxRecord.objects.filter(clever_id__in=deletions).count())
        unknown = [cid for cid in deletions if cid not in self.removed_for_good[district]]
        reasons = {(r.get("type"), r.get("rule")) for r in hold.reasons or []}
        if still_there:
            return False, f"{still_there} staged deletions are records the sandbox still has"
        if unknown:
            return False, f"{len(unknown)} staged deletions are records the trial did not remove"
        return True, f"{len(deletions)} deletions, all removed on purpose; reasons {sorted(reasons)}"

    def approve_in_subprocess(self, hold_pk: int, *, kill_mid_apply: bool) -> dict:
        from rostering.models import StagedRecord

        code = (
            "import json, sys\n"
            "import django\n"
            "django.setup()\n"
            "from django.contrib.auth import get_user_model\n"
            "from rostering.models import ChangeHold\n"
            "from rostering.services.sync import approve_hold\n"
            "hold = ChangeHold.objects.get(pk=int(sys.argv[1]))\n"
            "user = get_user_model().objects.get(pk=int(sys.argv[2]))\n"
            "run = approve_hold(hold=hold, user=user)\n"
            "print(json.dumps({'run': run.pk, 'status': run.status}))\n"
        )
        env = {**os.environ, **self.env}
        logfile = open(TRIAL_DIR / "approvals.log", "ab")  # noqa: SIM115 (closed in finally)
        locker = None
        result: dict = {"hold": hold_pk, "killed": False}
        if kill_mid_apply:
            import psycopg

            from rostering.models import ChangeHold

            hold = self.db(lambda: ChangeHold.objects.select_related("run").get(pk=hold_pk))
            victim = self.db(
                lambda: (
                    StagedRecord.objects.filter(run_id=hold.run_id, action="delete", record_type="users")
                    .values_list("clever_id", flat=True)
                    .first()
                )
            )
            locker = psycopg.connect(
                host="127.0.0.1", port=PG_PORT, dbname=DB_NAME, user=DB_USER, password=DB_PASSWORD
            )
            locker.execute(
                "SELECT 1 FROM rostering_person WHERE district_id = %s AND clever_id = %s FOR UPDATE",
                (hold.run.district_id, victim),
            )
            lock_pid = locker.info.backend_pid
        started = utcnow()
        proc = subprocess.Popen(
            [PYTHON, "-c", code, str(hold_pk), str(self.support_user_pk)],
            cwd=self.src,
            env=env,
            stdout=subprocess.PIPE,
            stderr=logfile,
        )
        try:
            if kill_mid_apply:
                blocked = wait_until(
                    lambda: self.q(
                        "SELECT pid, client_port FROM pg_stat_activity WHERE %s = ANY(pg_blocking_pids(pid))",
                        (lock_pid,),
                    ),
                    60,
                    0.2,
                )
                if not blocked:
                    proc.kill()
                    raise Missed("the approval never reached the locked row")
                owner = self.process_of_port(blocked[0][1], extra_pids=[proc.pid])
                os.kill(proc.pid, signal.SIGKILL)
                result.update(
                    killed=True, blocked_backend=blocked[0][0], backend_owner_is_approval=owner == proc.pid
                )
                proc.wait(timeout=10)
                locker.rollback()
                # The backend notices its client is gone at its next write, then rolls back.
                wait_until(
                    lambda: not self.q("SELECT 1 FROM pg_stat_activity WHERE pid = %s", (blocked[0][0],)),
                    30,
                    0.2,
                )
            else:
                out, _ = proc.communicate(timeout=300)
                result["returncode"] = proc.returncode
                result["output"] = out.decode(errors="replace").strip()[-300:]
        finally:
            if locker is not None:
                locker.close()
            logfile.close()
        result["started"] = started.isoformat()
        result["finished"] = utcnow().isoformat()
        return result

    def s_approval_killed(self, target):
        from rostering.models import ChangeHold

        hold = self.pending_hold(target)
        if hold is None:
            hold = self.s_mass_removal_between(target)
        ok, why = self.verify_hold(hold)
        if not ok:
            self.unexpected_holds.append({"district": target.pk, "hold": hold.pk, "why": why})
            raise Missed(f"the hold is not a real removal: {why}")
        killed = self.approve_in_subprocess(hold.pk, kill_mid_apply=True)
        killed.pop("hold", None)
        entry = self.record_fault("hold_approval_killed_mid_apply", target, hold=hold.pk, **killed)
        time.sleep(1.0)
        state = self.db(lambda: ChangeHold.objects.select_related("run").get(pk=hold.pk))
        entry["after_kill"] = {"hold": state.status, "run": state.run.status}
        log("after the killed approval", **entry["after_kill"])
        if state.status == "pending" and state.run.status == "held":
            ok, why = self.verify_hold(state)
            if ok:
                approved = self.approve_in_subprocess(hold.pk, kill_mid_apply=False)
                self.approvals.append(
                    {"district": target.pk, "hold": hold.pk, "phase": "faults", "why": why, **approved}
                )
                log(
                    "hold approved again after the kill",
                    returncode=approved.get("returncode"),
                    output=approved.get("output"),
                )

    def lock_mid_apply(self, target, action: str):
        """Change one person in the sandbox, lock their mirror row, let a sync's apply block on
        it, then kill the worker child or terminate its backend."""
        import psycopg

        from rostering.models import Person
        from sandbox import services

        candidates = self.db(
            lambda: list(
                Person.objects.filter(
                    district_id=target.pk, archived_at__isnull=True, is_student=True
                ).values_list("clever_id", flat=True)[:200]
            )
        )
        victim = self.rng.choice([c for c in candidates if c not in self.removed_for_good[target.pk]])
        body = self.body_of(victim)
        name = dict(body.get("name") or {})
        name["first"] = f"{name.get('first', '')}-renamed"
        self.db(lambda: services.update_record(clever_id=victim, changes={"name": name}))
        locker = psycopg.connect(
            host="127.0.0.1", port=PG_PORT, dbname=DB_NAME, user=DB_USER, password=DB_PASSWORD
        )
        try:
            locker.execute(
                "SELECT 1 FROM rostering_person WHERE district_id = %s AND clever_id = %s FOR UPDATE",
                (target.pk, victim),
            )
            lock_pid = locker.info.backend_pid
            after = self.max_run_id(target)
            self.enqueue(target, "auto")
            blocked = wait_until(
                lambda: self.q(
                    "SELECT pid, client_port FROM pg_stat_activity WHERE %s = ANY(pg_blocking_pids(pid))",
                    (lock_pid,),
                ),
                90,
                0.2,
            )
            if not blocked:
                raise Missed("the sync's apply never reached the locked row")
            backend, port = blocked[0]
            child = self.process_of_port(port)
            from rostering.models import SyncRun

            run = self.db(
                lambda: SyncRun.objects.filter(district_id=target.pk, id__gt=after, status="running").first()
            )
            if action == "kill":
                if child is None:
                    raise Missed("no worker process owns the blocked backend")
                os.kill(child, signal.SIGKILL)
                kind = "worker_child_kill_apply"
            else:
                self.q("SELECT pg_terminate_backend(%s)", (backend,))
                kind = "pg_terminate_apply"
            self.record_fault(
                kind, target, run=run.pk if run else None, pid=child, backend=backend, locked_person=victim
            )
        finally:
            time.sleep(0.3)
            locker.rollback()
            locker.close()

    def s_events_unseen(self, target):
        from sandbox import services
        from sandbox.ids import new_id

        template = self.body_of(self.ids_of(target, "users", is_student=True)[3])
        section_template = self.body_of(self.ids_of(target, "sections")[0])
        gone, kept, section = new_id(), new_id(), new_id()
        for cid, first in ((gone, "Transient"), (kept, "Newcomer")):
            body = copy.deepcopy(template)
            body.update(id=cid, name={**(body.get("name") or {}), "first": first})
            for key in ("created", "last_modified"):
                body.pop(key, None)
            self.sandbox_put(target, "users", [body])
            renamed = {**body["name"], "first": first + "2"}
            self.db(
                lambda cid=cid, renamed=renamed: services.update_record(
                    clever_id=cid, changes={"name": renamed}
                )
            )
        self.sandbox_delete([gone])
        # Two users the API never announced (loaded without events, as records shared before
        # the app connected are): one then updated (its first event is "updated"), one then
        # deleted (its only event is "deleted").
        ghost_updated, ghost_deleted = new_id(), new_id()
        ghosts = []
        for cid, first in ((ghost_updated, "Ghost"), (ghost_deleted, "Phantom")):
            body = copy.deepcopy(template)
            body.update(id=cid, name={**(body.get("name") or {}), "first": first})
            for key in ("created", "last_modified"):
                body.pop(key, None)
            ghosts.append(("users", body))
        loaded_at = utcnow()
        self.db(lambda: services.bulk_load(district=target.sandbox, items=copy.deepcopy(ghosts)))
        for cid in (ghost_updated, ghost_deleted):
            self.presence[cid].append((loaded_at, True))
        renamed = {**ghosts[0][1]["name"], "first": "Ghost2"}
        self.db(lambda: services.update_record(clever_id=ghost_updated, changes={"name": renamed}))
        self.sandbox_delete([ghost_deleted])
        section_body = copy.deepcopy(section_template)
        section_body.update(id=section, name="Trial Section", students=[kept])
        for key in ("created", "last_modified"):
            section_body.pop(key, None)
        self.sandbox_put(target, "sections", [section_body])
        self.enqueue(target, "auto")
        self.record_fault(
            "events_for_unseen_objects",
            target,
            ids={
                "created_updated_deleted": gone,
                "created_updated": kept,
                "section_created": section,
                "unannounced_updated": ghost_updated,
                "unannounced_deleted": ghost_deleted,
            },
        )

    def s_stale_cursor_old(self, target):
        from districts.models import District

        self.db(
            lambda: District.objects.filter(pk=target.pk).update(
                event_cursor_at=utcnow() - timedelta(days=40)
            )
        )
        self.enqueue(target, "auto")
        self.record_fault("stale_event_cursor_old", target, note="event_cursor_at 40 days back")

    def s_stale_cursor_unknown(self, target):
        from districts.models import District
        from sandbox.ids import new_id

        bogus = new_id(time.time() - 45 * 86400)
        self.db(
            lambda: District.objects.filter(pk=target.pk).update(
                event_cursor=bogus, event_cursor_at=utcnow() - timedelta(hours=1)
            )
        )
        self.enqueue(target, "auto")
        self.record_fault("stale_event_cursor_unknown", target, cursor=bogus)

    def scenarios(self) -> list[tuple[str, object, dict]]:
        """(name, function, options) in the order they run: heavy faults (kills, database)
        between light ones, so districts recover in parallel; Redis last (a worker that dies of
        a Redis restart leaves the others without workers unless --restart-exited)."""
        timeout = self.args.client_timeout
        return [
            ("duplicate_enqueue", self.s_duplicate, {}),
            ("redelivered_same_task_id", self.s_redelivered, {}),
            ("worker_child_kill_staging", self.s_kill_child_staging, {}),
            (
                "http_5xx_short",
                lambda t: self.knob_fault(t, "http_5xx_short", knob="status", status=503, count=3),
                {},
            ),
            ("pg_terminate_staging", self.s_pg_terminate_staging, {}),
            ("token_rotated_mid_sync", self.s_token_rotated, {}),
            ("redis_snapshot", None, {}),
            ("worker_node_kill_staging", self.s_kill_node_staging, {}),
            (
                "malformed_json_page",
                lambda t: self.knob_fault(t, "malformed_json_page", knob="malformed_json", count=1),
                {},
            ),
            ("records_removed_and_restored_mid_sync", self.s_removed_restored, {}),
            ("pg_stop_staging", lambda t: self.s_pg_stop(t, "fast"), {}),
            ("events_for_unseen_objects", self.s_events_unseen, {}),
            ("stale_event_cursor_old", self.s_stale_cursor_old, {}),
            ("mass_removal_during_full_sync", self.s_mass_removal_during_read, {"reserve": True}),
            (
                "slow_page",
                lambda t: self.knob_fault(t, "slow_page", knob="slow", count=1, delay=timeout + 4),
                {},
            ),
            ("pg_terminate_apply", lambda t: self.lock_mid_apply(t, "terminate"), {}),
            ("http_429_storm", lambda t: self.knob_fault(t, "http_429_storm"), {}),
            ("stale_event_cursor_unknown", self.s_stale_cursor_unknown, {}),
            ("worker_child_kill_apply", lambda t: self.lock_mid_apply(t, "kill"), {}),
            (
                "http_502_html",
                lambda t: self.knob_fault(t, "http_502_html", knob="html", status=502, count=2),
                {},
            ),
            ("district_disconnected_mid_sync", self.s_disconnected, {}),
            (
                "mass_removal_between_syncs+hold_approval_killed_mid_apply",
                self.s_mass_removal_and_approval,
                {"reserve": True, "attempts": 1},
            ),
            ("worker_child_kill_staging", self.s_kill_child_staging, {}),
            ("pg_crash_staging", lambda t: self.s_pg_stop(t, "immediate"), {}),
            ("pg_terminate_staging", self.s_pg_terminate_staging, {}),
            (
                "http_5xx_storm_exhausting_retries+worker_node_kill_retry_waiting",
                self.s_node_kill_retry_waiting,
                {},
            ),
            ("redis_kill_restart_aof", self.s_redis_kill_aof, {}),
            (
                "http_5xx_storm_exhausting_retries+redis_restored_from_older_snapshot",
                self.s_redis_restore_old_snapshot,
                {},
            ),
            (
                "http_5xx_storm_exhausting_retries+redis_kill_no_persistence",
                self.s_redis_kill_no_persistence,
                {},
            ),
        ]

    def s_mass_removal_and_approval(self, target):
        self.s_mass_removal_between(target)
        self.s_approval_killed(target)

    def run_faults(self) -> None:
        started = time.monotonic()
        self.fault_deadline = started + self.args.fault_budget
        wanted = set(self.args.scenarios.split(",")) if self.args.scenarios else None
        for name, function, options in self.scenarios():
            if function is None:
                self.redis.snapshot()
                log("Redis data directory copied (the older snapshot)")
                continue
            if wanted is not None and not wanted & set(name.split("+")):
                continue
            tried: list[int] = []
            for attempt in range(options.get("attempts", 2)):
                target = self.pick(exclude=tried)
                if target is None:
                    why = (
                        "no live worker"
                        if not any(w.alive() for w in self.workers)
                        else "no district recovered before the fault phase's budget ran out"
                    )
                    log(f"scenario {name} skipped: {why}")
                    self.missed.append(
                        {"scenario": name, "district": None, "attempt": attempt + 1, "why": why}
                    )
                    break
                tried.append(target.pk)
                log(f"scenario {name}", district=target.pk, attempt=attempt + 1)
                try:
                    function(target)
                    if options.get("reserve"):
                        # A district with a real mass removal gets no other fault.
                        self.reserved.add(target.pk)
                    break
                except Missed as exc:
                    log(f"scenario {name} missed its moment: {exc}", district=target.pk)
                    self.missed.append(
                        {"scenario": name, "district": target.pk, "attempt": attempt + 1, "why": str(exc)}
                    )
                except Exception as exc:  # a scenario's own failure must not end the trial
                    log(f"scenario {name} crashed: {type(exc).__name__}: {exc}")
                    self.missed.append(
                        {
                            "scenario": name,
                            "district": target.pk,
                            "attempt": attempt + 1,
                            "why": f"{type(exc).__name__}: {exc}"[:300],
                            "trace": traceback.format_exc()[-1200:],
                        }
                    )
                    break
                finally:
                    from sandbox.knobs import KNOBS

                    if name not in ("http_5xx_short", "malformed_json_page", "slow_page", "http_502_html"):
                        KNOBS.clear_faults()
        self.phase_seconds["faults"] = round(time.monotonic() - started, 1)

    # -- initial sync and the end states --------------------------------------------------------

    def initial_sync(self) -> None:
        from rostering.models import SyncRun
        from rostering.tasks import nightly_sync

        started = time.monotonic()
        nightly_sync.delay()
        pks = [t.pk for t in self.targets]

        def done():
            succeeded = set(
                self.db(
                    lambda: SyncRun.objects.filter(district_id__in=pks, status="succeeded").values_list(
                        "district_id", flat=True
                    )
                )
            )
            return len(succeeded) == len(pks)

        if not wait_until(done, 300, 1.0):
            runs = self.db(lambda: list(SyncRun.objects.values_list("district_id", "status", "error")))
            raise RuntimeError(f"the first syncs did not all succeed: {runs}")
        self.phase_seconds["initial_sync"] = round(time.monotonic() - started, 1)
        durations = self.db(
            lambda: list(
                SyncRun.objects.filter(status="succeeded").values_list("duration_seconds", flat=True)
            )
        )
        log("first syncs succeeded", seconds=self.phase_seconds["initial_sync"], run_seconds=durations)
        self.baseline = {t.pk: self.compare(t, sample=10)["summary"] for t in self.targets}
        bad = {pk: b for pk, b in self.baseline.items() if any(b.values())}
        if bad:
            self.findings.append(f"baseline mismatch after the first syncs: {bad}")
        log("baseline comparison", mismatches=bad or None)

    def pending_tasks(self) -> tuple[dict[int, list[str]], dict[int, int]]:
        """Syncs waiting anywhere, per district; and orphaned unacked messages per district."""
        import redis

        waiting: dict[int, list[str]] = defaultdict(list)
        orphaned: dict[int, int] = defaultdict(int)
        workers_alive = any(w.alive() for w in self.workers)
        try:
            r = redis.Redis(port=REDIS_PORT, socket_timeout=2)
            # A queued message waits for a worker only while one is alive to take it.
            for queue in self.queues if workers_alive else ():
                for raw in r.lrange(queue, 0, -1):
                    district = self._district_of_message(raw)
                    if district is not None:
                        waiting[district].append("queued")
            unacked = r.hgetall("unacked")
        except Exception:
            unacked = {}
        held_by_live: set[str] = set()
        for method in ("active", "reserved", "scheduled") if workers_alive else ():
            for tasks in (self.inspect(method) or {}).values():
                for task in tasks:
                    request = task.get("request", task) if method == "scheduled" else task
                    held_by_live.add(request.get("id"))
                    district = self._sync_district_of(request)
                    if district is not None:
                        waiting[district].append(method)
        for district, why in self.sync_requests_waiting().items():
            waiting[district].append(why)
        for raw in unacked.values():
            try:
                message = json.loads(raw)[0]
            except Exception:
                continue
            task_id = (message.get("headers") or {}).get("id")
            district = self._district_of_message(json.dumps(message))
            if district is not None and task_id not in held_by_live:
                orphaned[district] += 1
        return waiting, orphaned

    def sync_requests_waiting(self) -> dict[int, str]:
        """Syncs the application itself recorded as owed (``rostering.models.SyncRequest``,
        when the checkout has it) that beat's recovery sweep will resend: waiting while the
        resend is not overdue (``due_at`` + ``SYNC_RECOVERY_GRACE_SECONDS`` + one sweep interval
        + 30 s) and beat and a worker are alive."""
        from django.conf import settings

        try:
            from rostering.models import SyncRequest
        except ImportError:
            return {}
        if not (
            self.recovery_sweep_present.get("scheduled")
            and self.beat is not None
            and self.beat.alive()
            and any(w.alive() for w in self.workers)
        ):
            return {}
        slack = (
            getattr(settings, "SYNC_RECOVERY_GRACE_SECONDS", 0)
            + getattr(settings, "SYNC_RECOVERY_INTERVAL_SECONDS", 0)
            + 30
        )
        now = utcnow()
        out = {}
        try:
            rows = self.db(lambda: list(SyncRequest.objects.values_list("district_id", "due_at")))
        except Exception:
            return {}
        for district, due_at in rows:
            resend_by = due_at + timedelta(seconds=slack)
            if resend_by > now:
                out[district] = f"sync_request (resent by {resend_by.strftime('%H:%M:%S')})"
        return out

    @staticmethod
    def _district_of_message(raw) -> int | None:
        try:
            message = json.loads(raw)
            headers = message.get("headers") or {}
            if not str(headers.get("task", "")).endswith("sync_district"):
                return None
            body = json.loads(base64.b64decode(message["body"]))
            args, kwargs = body[0], body[1]
            return int(kwargs.get("district_id", args[0] if args else None))
        except Exception:
            return None

    def district_state(self, target: Target, waiting, active_on_live) -> dict:
        from django.conf import settings

        from rostering.models import SyncRun

        running = self.running_run(target)
        latest = self.db(
            lambda: (
                SyncRun.objects.filter(district_id=target.pk)
                .exclude(status="skipped")
                .order_by("-id")
                .first()
            )
        )
        stale_cutoff = utcnow() - timedelta(seconds=settings.SYNC_STALE_AFTER_SECONDS)
        state = {
            "district": target.pk,
            "latest_run": latest.pk if latest else None,
            "latest_status": latest.status if latest else None,
            "latest_error": (latest.error or None) if latest else None,
            "waiting": sorted(set(waiting.get(target.pk, []))),
        }
        if running is not None:
            dead = target.pk not in active_on_live and running.heartbeat_at < stale_cutoff
            state["state"] = "stuck" if dead else "pending"
            state["why"] = (
                (
                    f"run {running.pk} still running, no live worker has it, heartbeat "
                    f"{running.heartbeat_at.isoformat()}"
                )
                if dead
                else "running"
            )
            if dead and state["waiting"]:
                state["state"] = "pending"  # a queued sync will take the stale lock over
            state["running_run"] = running.pk
        elif latest is not None and latest.status == "failed":
            if state["waiting"]:
                state["state"] = "pending"
                state["why"] = "failed, a retry is waiting"
            else:
                state["state"] = "stuck"
                state["why"] = f"last run {latest.pk} failed and no sync is waiting"
        else:
            state["state"] = "settled" if not state["waiting"] else "pending"
            state["why"] = latest.status if latest else "no run"
        return state

    def states(self) -> list[dict]:
        waiting, orphaned = self.pending_tasks()
        active_on_live = {d for d, where in waiting.items() if "active" in where}
        out = []
        now = time.monotonic()
        for target in self.targets:
            state = self.district_state(target, waiting, active_on_live)
            state["orphaned_unacked"] = orphaned.get(target.pk, 0)
            if state["state"] == "stuck":
                self.stuck_since.setdefault(target.pk, now)
            else:
                self.stuck_since.pop(target.pk, None)
            out.append(state)
        return out

    def recover(self) -> None:
        from districts.models import District
        from sandbox import services
        from sandbox.knobs import KNOBS

        started = time.monotonic()
        KNOBS.reset()
        if pg_status() != "online":
            pg_start()
        if not self.redis.ping():
            self.redis.start(persistent=self.redis.persistent)
        for target in self.targets:
            self.db(target.sandbox.refresh_from_db)
            if not target.sandbox.connected:
                self.db(lambda t=target: services.reconnect_district(district=t.sandbox))
        timeout = self.args.recovery_timeout
        grace = self.grace
        deadline = time.monotonic() + timeout
        stuck_since = self.stuck_since
        log("recovery: the system is on its own", timeout=timeout, grace=grace)
        last_log = 0.0
        while True:
            states = self.states()
            now = time.monotonic()
            unsettled = [s for s in states if s["state"] != "settled"]
            if now - last_log > 20:
                log("recovery", **{str(s["district"]): f"{s['state']}: {s['why']}" for s in states})
                last_log = now
            if not unsettled:
                break
            if all(s["state"] == "stuck" and now - stuck_since[s["district"]] >= grace for s in unsettled):
                break
            if now >= deadline:
                break
            time.sleep(5)
        self.final_states = states
        self.recovery_seconds_total = round(time.monotonic() - started, 1)
        self.phase_seconds["recovery"] = self.recovery_seconds_total
        statuses = {t.pk: self.db(lambda t=t: District.objects.get(pk=t.pk).status) for t in self.targets}
        for state in self.final_states:
            state["district_status"] = statuses[state["district"]]
        log("recovery phase over", **{str(s["district"]): f"{s['state']}: {s['why']}" for s in states})

    def final(self) -> None:
        from django.contrib.auth import get_user_model

        from districts.services import discover_districts
        from rostering.models import ChangeHold, SyncRun
        from rostering.services.sync import approve_hold, reject_hold

        started = time.monotonic()
        for proc in self.workers:
            if not proc.alive():
                log(f"final phase: starting {proc.name} again (it was dead)")
                proc.start()
                self.workers_restarted_for_final.append(proc.name)
        if self.beat is not None and not self.beat.alive():
            self.beat.start()
        wait_until(lambda: self._ping(__import__("config.celery", fromlist=["app"]).app), 60, 1)
        try:
            self.final_discovery = discover_districts()
            self.final_discovery = {
                k: v
                for k, v in self.final_discovery.items()
                if v and k not in ("unchanged", "requests", "total")
            }
        except Exception as exc:
            self.final_discovery = {"error": f"{type(exc).__name__}: {exc}"}
        self.final_runs = {}
        marks = {t.pk: self.max_run_id(t) for t in self.targets}
        self.final_marks = dict(marks)
        for target in self.targets:
            self.enqueue(target, self.args.final_kind)
        deadline = time.monotonic() + 240
        remaining = {t.pk: t for t in self.targets}
        retried: Counter = Counter()
        while remaining and time.monotonic() < deadline:
            for pk, target in list(remaining.items()):
                runs = self.db(
                    lambda pk=pk: list(
                        SyncRun.objects.filter(district_id=pk, id__gt=marks[pk]).order_by("id")
                    )
                )
                final = [r for r in runs if r.status not in ("running", "skipped")]
                skipped = [r for r in runs if r.status == "skipped"]
                if final:
                    run = final[-1]
                    self.final_runs[pk] = {
                        "run": run.pk,
                        "status": run.status,
                        "kind": run.kind,
                        "error": run.error or None,
                        "resumed_from": run.resumed_from_id,
                    }
                    del remaining[pk]
                elif (
                    skipped
                    and not any(r.status == "running" for r in runs)
                    and self.running_run(target) is None
                    and retried[pk] < 3
                ):
                    retried[pk] += 1
                    marks[pk] = max(r.pk for r in runs)
                    self.enqueue(target, self.args.final_kind)
                elif skipped and retried[pk] >= 3:
                    self.final_runs[pk] = {
                        "run": skipped[-1].pk,
                        "status": "skipped",
                        "error": skipped[-1].error,
                    }
                    del remaining[pk]
            time.sleep(1.0)
        for pk in remaining:
            self.final_runs[pk] = {"status": "no final run within 240 s"}
        support, _ = get_user_model().objects.get_or_create(
            username="fault-trial-support", defaults={"is_staff": True}
        )
        for target in self.targets:
            for hold in self.db(
                lambda t=target: list(
                    ChangeHold.objects.filter(run__district_id=t.pk, status="pending").select_related("run")
                )
            ):
                ok, why = self.verify_hold(hold)
                entry = {
                    "district": target.pk,
                    "hold": hold.pk,
                    "run": hold.run_id,
                    "phase": "final",
                    "why": why,
                    "reasons": [f"{r.get('type')} {r.get('rule')}" for r in hold.reasons],
                }
                if ok:
                    entry["started"] = utcnow().isoformat()
                    run = approve_hold(hold=hold, user=support)
                    entry.update(status=run.status, finished=utcnow().isoformat())
                    self.approvals.append(entry)
                else:
                    reject_hold(hold=hold, user=support)
                    self.unexpected_holds.append(entry)
                log("final phase: hold decided", **entry)
        self.phase_seconds["final"] = round(time.monotonic() - started, 1)

    # -- comparison and metrics -------------------------------------------------------------------

    def compare(self, target: Target, *, sample: int = 50) -> dict:
        from districts.models import District
        from rostering.models import ContactLink, SectionMembership
        from rostering.services import mapping
        from sandbox.models import SandboxRecord

        district = self.db(lambda: District.objects.get(pk=target.pk))
        keep = district.store_sensitive_fields
        truth: dict[str, dict[str, dict]] = {rt: {} for rt in RECORD_TYPES}
        for record_type, clever_id, body in self.db(
            lambda: list(
                SandboxRecord.objects.filter(district_id=target.clever_id).values_list(
                    "record_type", "clever_id", "body"
                )
            )
        ):
            truth[record_type][clever_id] = json.loads(body)
        lost: dict[str, list[str]] = {}
        extra: dict[str, list[str]] = {}
        content: dict[str, list[str]] = {}
        fields_bad: list[dict] = []
        counts = {}
        expected_memberships: set[tuple] = set()
        expected_links: set[tuple] = set()
        rng = random.Random(self.args.seed + target.pk)
        for record_type in RECORD_TYPES:
            model = mapping.MODELS[record_type]
            names = [f for f in mapping.FIELDS[record_type]]
            rows = {
                r["clever_id"]: r
                for r in self.db(
                    lambda m=model, n=names: list(
                        m.objects.filter(district_id=target.pk).values(
                            "clever_id", "archived_at", "content_hash", *n
                        )
                    )
                )
            }
            live = {cid for cid, r in rows.items() if r["archived_at"] is None}
            wanted = set(truth[record_type])
            lost[record_type] = sorted(wanted - live)
            extra[record_type] = sorted(live - wanted)
            counts[record_type] = {"sandbox": len(wanted), "mirror_live": len(live)}
            both = sorted(wanted & live)
            sampled = set(
                rng.sample(
                    both,
                    min(len(both), max(sample // len(RECORD_TYPES), 1) if record_type != "users" else sample),
                )
            )
            content[record_type] = []
            for cid in both:
                prepared = mapping.prepare(
                    record_type, copy.deepcopy(truth[record_type][cid]), keep_sensitive=keep
                )
                if prepared.content_hash != rows[cid]["content_hash"]:
                    content[record_type].append(cid)
                if cid in sampled:
                    mapped = mapping.map_fields(record_type, prepared.record)
                    for name in names:
                        want, have = mapped.get(name), rows[cid].get(name)
                        if hasattr(have, "isoformat"):
                            have = have.isoformat()
                        if (want or None) != (have or None):
                            fields_bad.append({"type": record_type, "id": cid, "field": name})
            for cid, body in truth[record_type].items():
                if record_type == "sections":
                    students, teachers = mapping.section_members(body)
                    expected_memberships.update((cid, s, "student") for s in students)
                    expected_memberships.update((cid, t, "teacher") for t in teachers)
                elif record_type == "users":
                    contact = (body.get("roles") or {}).get("contact")
                    if isinstance(contact, dict):
                        expected_links.update((cid, link[0]) for link in mapping.contact_links(contact))
        memberships = set(
            self.db(
                lambda: list(
                    SectionMembership.objects.filter(
                        district_id=target.pk, section__archived_at__isnull=True
                    ).values_list("section__clever_id", "person_clever_id", "role")
                )
            )
        )
        links = set(
            self.db(
                lambda: list(
                    ContactLink.objects.filter(
                        district_id=target.pk, contact__archived_at__isnull=True
                    ).values_list("contact__clever_id", "student_clever_id")
                )
            )
        )
        membership_diff = {
            "missing": len(expected_memberships - memberships),
            "extra": len(memberships - expected_memberships),
        }
        link_diff = {"missing": len(expected_links - links), "extra": len(links - expected_links)}
        summary = {
            "rows_lost": sum(len(v) for v in lost.values()),
            "extra_live_rows": sum(len(v) for v in extra.values()),
            "content_mismatches": sum(len(v) for v in content.values()),
            "field_mismatches": len(fields_bad),
            "membership_diff": membership_diff["missing"] + membership_diff["extra"],
            "contact_link_diff": link_diff["missing"] + link_diff["extra"],
        }
        return {
            "summary": summary,
            "lost": lost,
            "extra": extra,
            "content": content,
            "fields": fields_bad[:20],
            "counts": counts,
            "membership_diff": membership_diff,
            "contact_link_diff": link_diff,
        }

    def audit_rows(self) -> list[dict]:
        rows = self.q(
            "SELECT id, tbl, district_id, row_id, clever_id, op, old_status, "
            "new_status, txid, tx_at, at FROM ft_audit ORDER BY id"
        )
        keys = (
            "id",
            "tbl",
            "district_id",
            "row_id",
            "clever_id",
            "op",
            "old_status",
            "new_status",
            "txid",
            "tx_at",
            "at",
        )
        return [dict(zip(keys, row, strict=True)) for row in rows]

    def absent_during(self, clever_id: str, start: datetime, end: datetime) -> bool:
        """Whether the sandbox lacked the record at any moment of [start, end]."""
        events = sorted(self.presence.get(clever_id, []))
        if not events:
            return True  # never in the sandbox
        state = None
        for at, present in events:
            if at <= start:
                state = present
        if state is not True:
            return True
        return any(not present for at, present in events if start < at <= end)

    def archive_analysis(self) -> dict:
        from django.conf import settings

        from rostering.models import Person, SyncRun

        audit = self.audit
        runs = {r.pk: r for r in self.db(lambda: list(SyncRun.objects.all()))}
        applied_by_tx: dict[int, int] = {}
        approval_tx: set[int] = set()
        for row in audit:
            if (
                row["tbl"] == "rostering_syncrun"
                and row["new_status"] == "succeeded"
                and row["old_status"] != "succeeded"
            ):
                applied_by_tx[row["txid"]] = row["row_id"]
            if (
                row["tbl"] == "rostering_changehold"
                and row["new_status"] == "approved"
                and row["old_status"] == "pending"
            ):
                approval_tx.add(row["txid"])
        applied_runs = sorted(
            (r.finished_at, r.pk) for r in runs.values() if r.status == "succeeded" and r.finished_at
        )

        def window_start(run) -> datetime:
            if run.kind == "full":
                first, seen = run, set()
                while first.resumed_from_id and first.resumed_from_id in runs and first.pk not in seen:
                    seen.add(first.pk)
                    first = runs[first.resumed_from_id]
                return first.started_at
            previous = [
                pk
                for finished, pk in applied_runs
                if runs[pk].district_id == run.district_id and pk != run.pk and finished < run.started_at
            ]
            if previous:
                prev = runs[previous[-1]]
                cursor = (prev.checkpoint or {}).get("cursor") or {}
                if cursor.get("at"):
                    return datetime.fromisoformat(cursor["at"])
                return prev.started_at
            return datetime(2000, 1, 1, tzinfo=UTC)

        type_of = {table: rt for rt, table in TABLES.items()}
        archives = [r for r in audit if r["op"] == "archive"]
        wrongly: dict[tuple, dict] = {}
        unapproved: dict[tuple, dict] = {}
        threshold = float(settings.SYNC_GUARD_MAX_DELETED_FRACTION)
        # (a) injected removals over the threshold, whatever the runs they went through
        removal_of: dict[tuple[int, str], dict] = {}
        for removal in self.mass_removals:
            if removal["fraction"] > threshold:
                for cid in removal["ids"]:
                    removal_of[(removal["district"], cid)] = removal
        by_tx: dict[int, list[dict]] = defaultdict(list)
        for row in archives:
            by_tx[row["txid"]].append(row)
        for row in archives:
            key = (type_of[row["tbl"]], row["district_id"], row["clever_id"])
            run_pk = applied_by_tx.get(row["txid"])
            run = runs.get(run_pk)
            if run is not None:
                start = window_start(run)
                if not self.absent_during(row["clever_id"], start, row["at"]):
                    wrongly.setdefault(
                        key,
                        {
                            "type": key[0],
                            "district": key[1],
                            "clever_id": key[2],
                            "run": run.pk,
                            "run_kind": run.kind,
                            "resumed_from": run.resumed_from_id,
                            "window_start": start.isoformat(),
                            "archived_at": row["at"].isoformat(),
                        },
                    )
            else:
                wrongly_key = {
                    "type": key[0],
                    "district": key[1],
                    "clever_id": key[2],
                    "run": None,
                    "archived_at": row["at"].isoformat(),
                    "note": "archived by a transaction that applied no run",
                }
                if not self.absent_during(row["clever_id"], datetime(2000, 1, 1, tzinfo=UTC), row["at"]):
                    wrongly.setdefault(key, wrongly_key)
            if row["txid"] not in approval_tx and (row["district_id"], row["clever_id"]) in removal_of:
                removal = removal_of[(row["district_id"], row["clever_id"])]
                unapproved.setdefault(
                    key,
                    {
                        "type": key[0],
                        "district": key[1],
                        "clever_id": key[2],
                        "run": run_pk,
                        "run_kind": run.kind if run else None,
                        "cause": f"injected removal ({removal['kind']}, "
                        f"{removal['group']} "
                        f"{removal['fraction']:.0%})",
                    },
                )
        # (b) one unapproved apply over the threshold of a type or a role
        flags = {}
        for pk, cid, *roles in self.db(
            lambda: list(Person.objects.values_list("district_id", "clever_id", *ROLE_FLAGS.values()))
        ):
            flags[(pk, cid)] = dict(zip(ROLE_FLAGS, roles, strict=True))
        over_threshold_tx = []
        for txid, rows in by_tx.items():
            if txid in approval_tx:
                continue
            district = rows[0]["district_id"]
            when = min(r["tx_at"] for r in rows)
            groups: dict[str, list[dict]] = defaultdict(list)
            for r in rows:
                rt = type_of[r["tbl"]]
                groups[rt].append(r)
                if rt == "users":
                    for role, on in flags.get((district, r["clever_id"]), {}).items():
                        if on:
                            groups[role].append(r)
            for group, members in groups.items():
                live = self.live_at(group, district, when, audit)
                if live and len(members) / live > threshold:
                    over_threshold_tx.append(
                        {
                            "txid": txid,
                            "district": district,
                            "group": group,
                            "archived": len(members),
                            "live": live,
                            "run": applied_by_tx.get(txid),
                        }
                    )
                    for r in members:
                        key = (type_of[r["tbl"]], district, r["clever_id"])
                        unapproved.setdefault(
                            key,
                            {
                                "type": key[0],
                                "district": district,
                                "clever_id": key[2],
                                "run": applied_by_tx.get(txid),
                                "cause": f"one apply archived {len(members)} of {live} live {group}",
                            },
                        )
        present_at_archive = []
        for row in archives:
            events = [
                present
                for when, present in sorted(self.presence.get(row["clever_id"], []))
                if when <= row["at"]
            ]
            if events and events[-1]:
                run = runs.get(applied_by_tx.get(row["txid"]))
                transitions = sorted(self.presence.get(row["clever_id"], []))
                present_at_archive.append(
                    {
                        "type": type_of[row["tbl"]],
                        "district": row["district_id"],
                        "clever_id": row["clever_id"],
                        "run": run.pk if run else None,
                        "run_kind": run.kind if run else None,
                        "run_started": run.started_at.isoformat() if run else None,
                        "archived_at": row["at"].isoformat(),
                        "sandbox_changes": [
                            f"{'put' if present else 'deleted'} {when.isoformat()}"
                            for when, present in transitions[1:]
                        ][-4:],
                    }
                )
        return {
            "wrongly": list(wrongly.values()),
            "unapproved": list(unapproved.values()),
            "present_at_archive": present_at_archive,
            "over_threshold_applies": over_threshold_tx,
            "archived_total": len({(r["tbl"], r["district_id"], r["clever_id"]) for r in archives}),
            "approval_transactions": len(approval_tx),
        }

    def live_at(self, group: str, district: int, when: datetime, audit: list[dict]) -> int:
        """Live rows of a type (or people of a role) of a district just before ``when``."""
        table = TABLES.get(group, "rostering_person")
        role_flag = ROLE_FLAGS.get(group)
        where = f" AND {role_flag}" if role_flag else ""
        rows = self.q(
            f"SELECT clever_id FROM {table} WHERE district_id = %s AND created_at < %s{where}",
            (district, when),
        )
        last: dict[str, str] = {}
        for row in audit:
            if (
                row["tbl"] == table
                and row["district_id"] == district
                and row["tx_at"] < when
                and row["op"] in ("archive", "restore")
            ):
                last[row["clever_id"]] = row["op"]
        return sum(1 for (cid,) in rows if last.get(cid) != "archive")

    def recovery_times(self, audit: list[dict]) -> list[dict]:
        """Per fault: seconds until a run of the district (one the system started before the
        final phase) turned ``succeeded`` or ``held``."""
        ends = [
            (row["at"], row["district_id"], row["row_id"])
            for row in audit
            if row["tbl"] == "rostering_syncrun"
            and row["new_status"] in ("succeeded", "held")
            and row["old_status"] != row["new_status"]
        ]
        out = []
        for fault in self.faults:
            district = fault.get("district")
            if district is None:
                continue
            at = datetime.fromisoformat(fault["at"])
            mark = self.final_marks.get(district, 1 << 62)
            first = min(
                ((when, run) for when, d, run in ends if d == district and when > at and run <= mark),
                default=None,
            )
            healed = first is not None and any(
                e["district"] == district and fault["t"] < e["t"] <= first[0].timestamp() - self.wall_t0
                for e in self.stuck_episodes
            )
            out.append(
                {
                    "n": fault["n"],
                    "kind": fault["kind"],
                    "district": district,
                    "recovery_s": round((first[0] - at).total_seconds(), 1) if first and not healed else None,
                    "by_run": first[1] if first else None,
                    **({"healed_by_trial": True} if healed else {}),
                }
            )
        return out

    def district_detail(self, target: Target, comparison: dict, stuck_state: dict) -> dict:
        from rostering.models import SyncRun

        runs = self.db(lambda: list(SyncRun.objects.filter(district_id=target.pk).order_by("id")))
        errors = Counter(f"{r.status}: {r.error[:160]}" for r in runs if r.error and r.status != "succeeded")
        return {
            "district": target.pk,
            "clever_id": target.clever_id,
            "users": comparison["counts"]["users"]["sandbox"],
            "faults": target.fault_kinds,
            "runs": dict(Counter(r.status for r in runs)),
            "run_errors": dict(errors.most_common(12)),
            "after_recovery": {
                k: stuck_state.get(k)
                for k in (
                    "state",
                    "why",
                    "latest_status",
                    "latest_error",
                    "waiting",
                    "orphaned_unacked",
                    "district_status",
                )
            },
            "final_run": self.final_runs.get(target.pk),
            **comparison["summary"],
            "membership_detail": comparison["membership_diff"],
            "contact_link_detail": comparison["contact_link_diff"],
            "lost_by_type": {k: len(v) for k, v in comparison["lost"].items() if v},
            "lost_sample": {k: v[:5] for k, v in comparison["lost"].items() if v},
            "extra_live_sample": {k: v[:5] for k, v in comparison["extra"].items() if v},
            "content_mismatch_sample": {k: v[:5] for k, v in comparison["content"].items() if v},
            "field_mismatch_sample": comparison["fields"][:5],
        }

    def summarize(self, total_seconds: float) -> dict:
        from rostering.models import SyncRun

        comparisons = {t.pk: self.compare(t) for t in self.targets}
        self.audit = self.audit_rows()
        archives = self.archive_analysis()
        stuck_states = {s["district"]: s for s in self.final_states}
        stuck = [s for s in self.final_states if s["state"] == "stuck"]
        pending = [s for s in self.final_states if s["state"] == "pending"]
        recovery = self.recovery_times(self.audit)
        known = [r["recovery_s"] for r in recovery if r["recovery_s"] is not None]
        faults_by_district = defaultdict(list)
        for fault in self.faults:
            if fault.get("district") is not None:
                faults_by_district[fault["district"]].append(f"#{fault['n']} {fault['kind']}")
        for entry in stuck:
            entry["faults"] = faults_by_district.get(entry["district"], [])
        totals = {
            key: sum(c["summary"][key] for c in comparisons.values())
            for key in (
                "rows_lost",
                "extra_live_rows",
                "content_mismatches",
                "field_mismatches",
                "membership_diff",
                "contact_link_diff",
            )
        }

        def attach(rows):
            grouped: dict[tuple, dict] = {}
            for row in rows:
                key = (row["district"], row.get("run"), row.get("cause") or row.get("note"))
                entry = grouped.setdefault(
                    key,
                    {
                        "district": row["district"],
                        "run": row.get("run"),
                        "run_kind": row.get("run_kind"),
                        "cause": key[2],
                        "rows": 0,
                        "sample": [],
                        "faults": faults_by_district.get(row["district"], []),
                    },
                )
                entry["rows"] += 1
                if len(entry["sample"]) < 4:
                    entry["sample"].append(f"{row['type']}/{row['clever_id']}")
            for entry in grouped.values():
                run = (
                    self.db(lambda r=entry["run"]: SyncRun.objects.filter(pk=r).first())
                    if entry["run"]
                    else None
                )
                if run is not None:
                    entry["run_detail"] = {
                        "status": run.status,
                        "kind": run.kind,
                        "resumed_from": run.resumed_from_id,
                        "started": run.started_at.isoformat(),
                        "counts_archived": (run.counts or {}).get("archived"),
                        "error": run.error or None,
                    }
            return list(grouped.values())

        summary = {
            "faults": len(self.faults),
            "rows_lost": totals["rows_lost"],
            "rows_wrongly_archived": len(archives["wrongly"]),
            "rows_archived_without_approval": len(archives["unapproved"]),
            "districts_stuck": len(
                {s["district"] for s in stuck} | {e["district"] for e in self.stuck_episodes}
            ),
            "districts_pending_at_deadline": len(pending),
            "fault_kinds": dict(Counter(f["kind"] for f in self.faults)),
            "seconds": round(total_seconds, 1),
            "phase_seconds": self.phase_seconds,
            "workers_exited_unexpectedly": sum(
                1 for e in self.unexpected_exits if e["process"].startswith("worker")
            ),
            "beat_exited_unexpectedly": sum(1 for e in self.unexpected_exits if e["process"] == "beat"),
            "worker_restarts_by_trial": self.worker_restarts,
            "worker_restarts_after_exit": self.restarts_after_exit,
            "workers_restarted_for_final": self.workers_restarted_for_final,
            "districts_stuck_after_recovery": len(stuck),
            "stuck_episodes": self.stuck_episodes,
            "recovery_sweep_present": self.recovery_sweep_present,
            "recovery_seconds": {
                "median": round(statistics.median(known), 1) if known else None,
                "max": max(known) if known else None,
                "not_recovered_before_final": sum(1 for r in recovery if r["recovery_s"] is None),
                "per_fault": recovery,
            },
            **{key: value for key, value in totals.items() if key != "rows_lost"},
            "rows_archived_total": archives["archived_total"],
            "rows_archived_while_in_sandbox": len(archives["present_at_archive"]),
            "archived_while_in_sandbox": archives["present_at_archive"][:20],
            "approvals": self.approvals,
            "unexpected_holds": self.unexpected_holds,
            "mass_removals": [{k: v for k, v in m.items() if k != "ids"} for m in self.mass_removals],
            "stuck": stuck,
            "pending_at_deadline": pending,
            "wrongly_archived": attach(archives["wrongly"]),
            "archived_without_approval": attach(archives["unapproved"]),
            "over_threshold_applies": archives["over_threshold_applies"],
            "unexpected_exits": self.unexpected_exits,
            "missed_scenarios": [{k: v for k, v in m.items() if k != "trace"} for m in self.missed],
            "findings": self.findings,
            "sandbox_http": dict(self.http_statuses),
            "final_discovery": getattr(self, "final_discovery", None),
            "fault_log": [{k: v for k, v in f.items() if k not in ("at",)} for f in self.faults],
            "districts": [
                self.district_detail(t, comparisons[t.pk], stuck_states[t.pk]) for t in self.targets
            ],
            "config": {
                "districts": self.args.districts,
                "students": self.args.students,
                "seed": self.args.seed,
                "page_size": self.args.page_size,
                "stale_after": self.args.stale_after,
                "recovery_interval": self.args.recovery_interval,
                "recovery_grace": self.args.recovery_grace,
                "recovery_timeout": self.args.recovery_timeout,
                "final_kind": self.args.final_kind,
                "workers": self.args.workers,
                "restart_exited": self.args.restart_exited,
                "fault_budget": self.args.fault_budget,
                "concurrency": self.args.concurrency,
                "src": str(self.src),
            },
        }
        return summary

    # -- teardown ------------------------------------------------------------------------------

    def teardown(self) -> None:
        self.stop_event.set()
        for proc in [*self.workers, self.beat]:
            if proc is not None:
                with contextlib.suppress(Exception):
                    proc.stop()
        server = getattr(self, "server", None)
        if server is not None:
            server.shutdown()
            server.server_close()
        try:
            from django.db import connections

            connections.close_all()
        except Exception:
            pass
        if self.control is not None:
            with contextlib.suppress(Exception):
                self.control.close()
        if not self.args.keep_services:
            self.redis.stop()
            pg_stop("fast")
            log("stopped redis-server 6380 and PostgreSQL cluster 15/faulttrial")


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--districts", type=int, default=None, help="4-6 (default 6; quick 5)")
    parser.add_argument(
        "--students", type=int, default=None, help="students per district (default 1000; quick 300)"
    )
    parser.add_argument("--seed", type=int, default=20260)
    parser.add_argument(
        "--quick", action="store_true", help="small districts, page size 25, shorter recovery wait"
    )
    parser.add_argument("--page-size", type=int, default=None, help="default 50; quick 25")
    parser.add_argument("--stale-after", type=int, default=30, help="SYNC_STALE_AFTER_SECONDS")
    parser.add_argument("--recovery-interval", type=int, default=10, help="SYNC_RECOVERY_INTERVAL_SECONDS")
    parser.add_argument(
        "--recovery-grace",
        type=int,
        default=30,
        help="SYNC_RECOVERY_GRACE_SECONDS (how late a recorded sync may be "
        "before the sweep resends it; ignored by checkouts without it)",
    )
    parser.add_argument(
        "--recovery-timeout",
        type=int,
        default=None,
        help="seconds the system gets to recover (default stale_after + 210; quick stale_after + 150)",
    )
    parser.add_argument(
        "--fault-budget",
        type=int,
        default=None,
        help="seconds the fault phase may take (default 480; quick 420): "
        "scenarios left when it runs out are listed as missed",
    )
    parser.add_argument(
        "--restart-exited",
        action="store_true",
        help="restart a worker or beat that exited on its own after "
        "--restart-delay s, as systemd's Restart=always would (still "
        "counted in workers_exited_unexpectedly); off by default",
    )
    parser.add_argument("--restart-delay", type=float, default=5.0)
    parser.add_argument("--scenarios", default="", help="comma-separated fault kinds to run (default: all)")
    parser.add_argument("--client-timeout", type=float, default=8.0, help="CLEVER_TIMEOUT")
    parser.add_argument("--pg-down-seconds", type=float, default=5.0)
    parser.add_argument("--workers", type=int, default=2, help="worker nodes")
    parser.add_argument("--concurrency", type=int, default=2, help="prefork children per node")
    parser.add_argument("--final-kind", choices=("auto", "full"), default="auto")
    parser.add_argument("--src", default=str(REPO), help="the project checkout to run")
    parser.add_argument(
        "--keep-services", action="store_true", help="leave PostgreSQL 15/faulttrial and Redis 6380 running"
    )
    args = parser.parse_args(argv)
    args.districts = args.districts or (5 if args.quick else 6)
    args.students = args.students or (300 if args.quick else 1000)
    args.page_size = args.page_size or (25 if args.quick else 50)
    if args.recovery_timeout is None:
        args.recovery_timeout = args.stale_after + (150 if args.quick else 210)
    if args.fault_budget is None:
        args.fault_budget = 420 if args.quick else 480
    if not 1 <= args.districts <= 12:
        parser.error("--districts must be between 1 and 12")
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    if os.geteuid() != 0:
        print("run as root (it creates a PostgreSQL cluster and starts redis-server)", file=sys.stderr)
        return 2
    trial = Trial(args)
    started = time.monotonic()
    code = 0
    try:
        trial.setup()
        trial.initial_sync()
        trial.run_faults()
        trial.recover()
        trial.final()
        summary = trial.summarize(time.monotonic() - started)
    except BaseException as exc:  # still end with a JSON line saying what happened
        traceback.print_exc()
        summary = {
            "error": f"{type(exc).__name__}: {exc}"[:500],
            "faults": len(trial.faults),
            "rows_lost": None,
            "rows_wrongly_archived": None,
            "rows_archived_without_approval": None,
            "districts_stuck": None,
            "fault_log": trial.faults,
            "missed_scenarios": trial.missed,
            "seconds": round(time.monotonic() - started, 1),
        }
        code = 1
    finally:
        trial.teardown()
    TRIAL_DIR.mkdir(parents=True, exist_ok=True)
    (TRIAL_DIR / "summary.json").write_text(json.dumps(summary, indent=2, default=str))
    print(json.dumps(summary, default=str), flush=True)
    return code


if __name__ == "__main__":
    sys.exit(main())
