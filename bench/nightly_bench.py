"""A thousand districts a night: the nightly dispatcher over many districts of mixed sizes, two
Celery worker processes, PostgreSQL and Redis, the sandbox over real HTTP (issue #20).

    .venv/bin/python bench/nightly_bench.py                      # 1,000 districts, ~1,000,000 students
    .venv/bin/python bench/nightly_bench.py --quick              # 30 districts, ~30,000 students
    .venv/bin/python bench/nightly_bench.py --districts 200 --total-students 200000 --seed 7
    .venv/bin/python bench/nightly_bench.py --nights 2 --without-events   # the second night largest first

Needs PostgreSQL on 127.0.0.1:5432 (role ``clever``/``clever`` allowed to create databases) and
Redis on 127.0.0.1:6379. Never part of the test run. Progress goes to stderr; stdout has a JSON
line for the size plan, then the summary as the last line. Takes the whole machine: run it when
nothing else does (the full size: seeding ~3-5 minutes, then the night).

**Set-up.** The database ``nightly_bench`` (``--database``) is dropped and created afresh, then
migrated; Redis database 13 (``--redis-db``) is flushed (no other database is touched). The
size plan is drawn from ``--seed``: a few large districts (3, or one per 10 districts below 30,
each 10-15% of ``--total-students``: 100,000-150,000 at the default), most small ones
(100-1,000 students, log-uniform), and as many medium ones (2,000-30,000, log-uniform) as it
takes to reach the total; the last medium one takes what is left. ``--districts`` sandbox
districts are generated and loaded (``sandbox.generator.districts.generate_district`` /
``load_district``) by ``--seed-procs`` processes in parallel (each district in one process,
shared out by size), then the sandbox's tables are analyzed.

**Processes.** The app, which mounts the sandbox (the local Clever), served by gunicorn in its
own process (``scale_bench.sandbox_server``: one worker process, here with ``--server-threads``
threads (2: one per Celery worker, as Clever answers its clients side by side), gunicorn's
access log on, and persistent database connections named ``nightly-bench-sandbox``
(``conn_max_age``/``application_name`` in its ``DATABASE_URL``) so that the database work of
the emulated Clever can be told apart from the product's). Two Celery worker nodes
(``--workers``; ``celery -A config worker``, ``--pool=prefork --concurrency=1`` or ``--pool
solo``, each consuming every queue the settings name: ``fault_trial.Trial.celery_queues``),
started as subprocesses (``fault_trial.Proc``).
Every process gets ``DATABASE_URL`` (the bench database), ``REDIS_URL`` (db 13),
``CLEVER_HTTP_ADAPTER=""`` (real HTTP), ``CLEVER_OAUTH_BASE``/``CLEVER_API_BASE`` (the server's
``/sandbox``), ``LOG_LEVEL=WARNING`` and ``SYNC_STAGGER_SECONDS=0`` (the default, set so that
a deployment's ``.env`` cannot spread the night out). No Celery beat: no recovery sweep, no event
polls; a failed run is retried only by the task's own retries. The sandbox's rate limit is its
default, Clever's 1,200 requests a minute per token.

**The night.** This process calls ``rostering.tasks.nightly_sync`` in-process (as beat's task
would run on a worker): discovery through the sandbox's ``/oauth/tokens`` (every district
created), then one ``request_sync`` per district, each sent to Redis as it is recorded. The
*dispatch* is the moment the first ``SyncRequest`` is saved (a ``post_save`` receiver in this
process); CPU counters are read then and again when the night ends: no ``SyncRequest`` left
(each is settled by the run that answers it, and kept while a retry is owed) and no run
``running``, polled every ``--poll`` seconds, or ``--timeout`` seconds after the dispatch
(``timed_out``).

**Figures** (the summary, from the database after the night unless said otherwise):

- ``succeeded``, ``failed``, ``held``, ``skipped``: ``SyncRun`` rows by status (every attempt,
  retries included); ``districts_not_succeeded``: districts whose last run that was not
  skipped is not ``succeeded`` (or that have none), with a few ``examples``.
- ``max_concurrent_per_district``: per district, the largest number of its non-skipped runs
  whose ``[started_at, finished_at]`` intervals overlap (must be 1); ``max_concurrent_runs``:
  the same over all districts (at most the number of worker processes).
- ``rate_limit_violations``: answers with status 429 in the sandbox server's access log, over its
  whole life (discovery included); ``requests_served``: every request in that log;
  ``requests``, ``retries``, ``seconds_waited``: sums over ``SyncRun`` (the client's requests,
  its retries of a request, and seconds it waited for the rate limit or a backoff).
- ``wall_s``: from the dispatch to the end of the last run (``finished_at``).
- Fairness: ``wait_s`` per size class (``small``, ``medium``, ``large``): p50, p95 (nearest
  rank) and max of the time from the dispatch to the start of the district's first non-skipped
  run; ``<class>_done_by_s``: from the dispatch to the end of the last run of the class's last
  district to finish (``small_done_by_s``: the last small district done).
- ``cpu_s``: CPU seconds (user + system) during the night, per process: each worker node
  (``worker1``...: the node's main process, its live children and the children it reaped),
  ``postgres`` (the whole cluster: the postmaster, its live children and those it reaped, minus
  ``postgres_other_databases``: what backends connected to other databases used, sampled every
  0.5 s, so a lower bound; other sessions use the cluster; ``postgres_for_sandbox`` is the part
  of ``postgres`` the sandbox server's backends used, sampled alike: the emulated Clever's
  queries, which the real Clever runs elsewhere; ``postgres_maintenance`` the part the
  cluster's own processes used: checkpointer, writers, autovacuum of this database),
  ``sandbox`` (the gunicorn master and worker), ``dispatcher`` (this process: the fan-out, then
  polling) and ``redis_server`` (the whole server, shared with others); the last two are not in
  ``packing``.
- ``machine``: over the same window, the whole machine's CPU (``/proc/stat``): ``busy_share``
  (every process, ours and others'), ``iowait_share`` and ``ours_share`` (what ``packing``
  counts): on a shared machine, ``busy_share - ours_share`` is what other work took, and
  ``ours_of_available`` = ``ours_share / (1 - (busy_share - ours_share))`` is the packing
  figure with that work's share taken out of the denominator.
- ``packing`` = (workers' + ``postgres`` + ``sandbox`` CPU seconds) / (``wall_s`` x
  ``os.cpu_count()``): how full the machine was kept by the night's work, the server sides
  included (target at least 0.7); ``packing_workers_only``: the workers' CPU alone over the
  same denominator (what the sync code itself used).
- Also ``discovery_s`` (the call of ``nightly_sync`` to the dispatch), ``dispatch_s`` (first to
  last ``SyncRequest`` saved), ``seeding_s``, ``tasks_per_worker`` (``celery inspect stats``),
  the load average before and after, and the size plan (``sizes``).

**Several nights** (``--nights N``): the same workers, server and districts, one night after the
other; each night's figures count only its own runs and its own part of the access log. The
last line holds the last night's figures in full and, under ``nights``, the main ones of every
night. The first night's sizes are unknown to the dispatcher (nothing mirrored yet); from the
second it sends the largest districts first. ``--without-events`` switches every district's
events off before each later night, so each reads its district whole (a district with events
off or a cursor past Clever's retention); without it, later nights are incremental.

At the end, whatever happened: the workers and the server are stopped (by process group and
pid), the database dropped and Redis db 13 flushed; logs are kept in the printed directory
only when the run failed (``--keep-logs`` keeps them always).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import re
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from contextlib import ExitStack
from datetime import UTC, datetime
from pathlib import Path

from benchdb import ROOT, setup_django
from fault_trial import Proc, Trial, wait_until
from scale_bench import sandbox_server

PG = {"host": "127.0.0.1", "port": 5432, "user": "clever", "password": "clever"}
REDIS = "redis://127.0.0.1:6379"
SMALL = (100, 1_000)
MEDIUM = (2_000, 30_000)
LARGE_SHARE = (0.10, 0.15)
ACCESS_FORMAT = '%(s)s "%(r)s" %(L)s'
SANDBOX_APP = "nightly-bench-sandbox"
MAINTENANCE = "(maintenance)"  # checkpointer, writers, autovacuum: the cluster's own processes


def log(message: str, **fields) -> None:
    extra = (" " + json.dumps(fields, default=str)) if fields else ""
    print(f"[{time.strftime('%H:%M:%S')}] {message}{extra}", file=sys.stderr, flush=True)


# --- the size plan ---------------------------------------------------------------------------


def plan_sizes(districts: int, total: int, seed: int) -> list[dict]:
    """Each district's size and class, drawn from ``seed`` (see the module's docstring)."""
    rng = random.Random(seed)
    n_large = 3 if districts >= 30 else max(1, districts // 10)
    n_large = min(n_large, districts)
    plan = [{"class": "large", "students": round(rng.uniform(*LARGE_SHARE) * total)} for _ in range(n_large)]
    rest = [
        {"class": "small", "students": round(math.exp(rng.uniform(math.log(SMALL[0]), math.log(SMALL[1]))))}
        for _ in range(districts - n_large)
    ]
    budget = total - sum(item["students"] for item in plan + rest)
    if budget < 0 and rest:
        # More districts than the total allows at these sizes: the small ones shrink alike.
        factor = max(0.0, 1 + budget / sum(item["students"] for item in rest))
        for item in rest:
            item["students"] = max(1, round(item["students"] * factor))
    # Medium ones stay below the large ones (with a small total, the large ones are small too).
    ceiling = min([MEDIUM[1], *(item["students"] - 1 for item in plan)])
    for item in rest:
        if budget <= 0:
            break
        size = round(math.exp(rng.uniform(math.log(MEDIUM[0]), math.log(max(MEDIUM[0], ceiling)))))
        extra = min(size - item["students"], budget)
        item.update({"class": "medium", "students": item["students"] + extra})
        budget -= extra
    plan += rest
    rng.shuffle(plan)
    for index, item in enumerate(plan):
        item.update(index=index, seed=seed * 10_000 + index)
    return plan


def size_summary(plan: list[dict]) -> dict:
    summary = {"districts": len(plan), "students": sum(item["students"] for item in plan)}
    for name in ("small", "medium", "large"):
        sizes = sorted(item["students"] for item in plan if item["class"] == name)
        summary[name] = {
            "count": len(sizes),
            "students": sum(sizes),
            "min": sizes[0] if sizes else None,
            "median": sizes[len(sizes) // 2] if sizes else None,
            "max": sizes[-1] if sizes else None,
        }
    return summary


def phase_seed(args) -> None:
    """One seeding process: its share of the plan (``--plan``, ``--part``), one line per district."""
    setup_django(migrate=False)
    from sandbox.generator.districts import generate_district, load_district

    plan = json.loads(Path(args.plan).read_text())
    for item in plan:
        if item["part"] != args.part:
            continue
        started = time.perf_counter()
        generated = generate_district(seed=item["seed"], students=item["students"])
        load_district(generated)
        print(
            json.dumps(
                {
                    "index": item["index"],
                    "clever_id": generated.id,
                    "seconds": round(time.perf_counter() - started, 2),
                }
            ),
            flush=True,
        )


def seed_all(plan: list[dict], procs: int, env: dict, tmpdir: str) -> dict[str, dict]:
    """Load the plan with ``procs`` processes (districts shared out largest first to the least
    loaded); returns {clever id: plan item}."""
    loads = [0] * procs
    for item in sorted(plan, key=lambda entry: -entry["students"]):
        part = loads.index(min(loads))
        item["part"] = part
        loads[part] += item["students"]
    plan_file = Path(tmpdir) / "plan.json"
    plan_file.write_text(json.dumps(plan))
    logs = [open(Path(tmpdir) / f"seed{part}.log", "w") for part in range(procs)]  # noqa: SIM115
    children = [
        subprocess.Popen(
            [sys.executable, __file__, "--phase", "seed", "--plan", str(plan_file), "--part", str(part)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=logs[part],
            text=True,
        )
        for part in range(procs)
    ]
    by_index = {item["index"]: item for item in plan}
    seeded: dict[str, dict] = {}
    lock = threading.Lock()

    def collect(child: subprocess.Popen) -> None:
        for line in child.stdout:
            row = json.loads(line)
            with lock:
                seeded[row["clever_id"]] = {**by_index[row["index"]], "clever_id": row["clever_id"]}
                if len(seeded) % 100 == 0:
                    log(f"seeded {len(seeded)} of {len(plan)} districts")

    readers = [threading.Thread(target=collect, args=(child,), daemon=True) for child in children]
    try:
        for reader in readers:
            reader.start()
        for child, reader in zip(children, readers, strict=True):
            if child.wait() != 0:
                raise SystemExit(f"a seeding process failed; see {tmpdir}/seed*.log")
            reader.join()
    finally:
        for child in children:
            if child.poll() is None:
                child.kill()
                child.wait()
        for file in logs:
            file.close()
    return seeded


# --- CPU of process trees --------------------------------------------------------------------


def tree_cpu(pid: int) -> float:
    """CPU seconds of a process, its live descendants and the children it reaped."""
    import psutil

    try:
        main = psutil.Process(pid)
        times = main.cpu_times()
        total = times.user + times.system + times.children_user + times.children_system
        children = main.children(recursive=True)
    except psutil.Error:
        return 0.0
    for child in children:
        try:
            times = child.cpu_times()
        except psutil.Error:
            continue
        total += times.user + times.system
    return total


def backend_database(title: str) -> str | None:
    """The database of a PostgreSQL backend from its process title (None: not a backend)."""
    parts = title.split("postgres:", 1)[-1].split()
    if parts and re.fullmatch(r"\d+/\S+:", parts[0]):
        parts = parts[1:]
    if parts[:2] == ["autovacuum", "worker"] and len(parts) >= 3:
        return parts[2]
    if len(parts) >= 3 and (parts[2].startswith("[local]") or re.match(r"[\d.:a-f]+\(\d+\)", parts[2])):
        return parts[1]
    return None


class PgSampler(threading.Thread):
    """Samples the CPU of the cluster's backends every ``interval`` seconds: those connected to
    other databases, and the sandbox server's (``application_name`` ``SANDBOX_APP``, persistent
    connections, so sampled whole). A short-lived backend's last moments before it exits are
    missed: the figures are lower bounds."""

    def __init__(self, postmaster: int, ours: str, interval: float = 0.5):
        super().__init__(name="pg-sampler", daemon=True)
        self.postmaster, self.ours, self.interval = postmaster, ours, interval
        # pid: [cpu at first sight (0 if born since), last cpu, database, application name]
        self.seen: dict[int, list] = {}
        self.stop = threading.Event()
        self.first = True
        self.conn = None

    def application_names(self) -> dict[int, str]:
        import psycopg

        try:
            if self.conn is None or self.conn.closed:
                self.conn = psycopg.connect(dbname=self.ours, autocommit=True, connect_timeout=3, **PG)
            rows = self.conn.execute(
                "SELECT pid, application_name FROM pg_stat_activity WHERE datname = %s", [self.ours]
            ).fetchall()
        except Exception:
            return {}
        return dict(rows)

    def sample(self) -> None:
        import psutil

        try:
            children = psutil.Process(self.postmaster).children()
        except psutil.Error:
            return
        names = self.application_names()
        for child in children:
            try:
                title = " ".join(child.cmdline())
                times = child.cpu_times()
            except psutil.Error:
                continue
            cpu = times.user + times.system
            entry = self.seen.setdefault(child.pid, [cpu if self.first else 0.0, cpu, None, None])
            entry[1] = cpu
            entry[2] = entry[2] or backend_database(title)
            entry[3] = entry[3] or names.get(child.pid) or None
            if "autovacuum" in title or backend_database(title) is None:
                entry[3] = MAINTENANCE
        self.first = False

    def run(self) -> None:
        while not self.stop.is_set():
            self.sample()
            self.stop.wait(self.interval)
        self.sample()
        if self.conn is not None:
            self.conn.close()

    def other_databases(self) -> float:
        return sum(last - first for first, last, db, _ in self.seen.values() if db and db != self.ours)

    def used_by(self, app: str) -> float:
        """CPU of our database's backends named ``app`` (or of the cluster's own processes)."""
        return sum(
            last - first
            for first, last, db, name in self.seen.values()
            if name == app and db in (None, self.ours)
        )


class Meters:
    """CPU counters of the night's processes, read at the dispatch and at the end."""

    def __init__(self, workers: list[Proc], postmaster: int, sandbox_pid: int, database: str):
        self.workers, self.postmaster, self.sandbox_pid = workers, postmaster, sandbox_pid
        self.others = PgSampler(postmaster, database)
        self.start: dict | None = None
        self.redis_pids = redis_server_pids()

    def read(self) -> dict:
        import psutil

        values = {proc.name: tree_cpu(proc.popen.pid) for proc in self.workers}
        values["postgres_cluster"] = tree_cpu(self.postmaster)
        values["sandbox"] = tree_cpu(self.sandbox_pid)
        values["dispatcher"] = time.process_time()
        values["redis_server"] = sum(tree_cpu(pid) for pid in self.redis_pids)
        machine = psutil.cpu_times()
        values["machine_total"] = sum(machine)
        values["machine_idle"] = machine.idle
        values["machine_iowait"] = getattr(machine, "iowait", 0.0)
        return values

    def begin(self) -> None:
        self.start = self.read()
        self.others.start()

    def end(self) -> dict:
        finish = self.read()
        self.others.stop.set()
        self.others.join(timeout=5)
        used = {name: finish[name] - self.start[name] for name in finish}
        other = self.others.other_databases()
        cpu = {proc.name: round(used[proc.name], 2) for proc in self.workers}
        cpu["postgres"] = round(max(0.0, used["postgres_cluster"] - other), 2)
        cpu["postgres_for_sandbox"] = round(self.others.used_by(SANDBOX_APP), 2)
        cpu["postgres_maintenance"] = round(self.others.used_by(MAINTENANCE), 2)
        cpu["postgres_other_databases"] = round(other, 2)
        cpu["sandbox"] = round(used["sandbox"], 2)
        cpu["dispatcher"] = round(used["dispatcher"], 2)
        cpu["redis_server"] = round(used["redis_server"], 2)
        total = used["machine_total"] or float("nan")
        ours = sum(cpu[proc.name] for proc in self.workers) + cpu["postgres"] + cpu["sandbox"]
        machine = {
            "busy_share": round(1 - (used["machine_idle"] + used["machine_iowait"]) / total, 3),
            "iowait_share": round(used["machine_iowait"] / total, 3),
            "ours_share": round(ours / total, 3),
        }
        # What the night used of the CPU other work left it (1.0: it never left a core idle).
        others = machine["busy_share"] - machine["ours_share"]
        machine["ours_of_available"] = round(machine["ours_share"] / max(1e-9, 1 - others), 3)
        return cpu, machine


def redis_server_pids() -> list[int]:
    """The Redis server(s) on port 6379 (shared with others: reported, never in ``packing``)."""
    import psutil

    return [
        proc.info["pid"]
        for proc in psutil.process_iter(["pid", "name", "cmdline"])
        if proc.info["name"] == "redis-server" and ":6379" in " ".join(proc.info["cmdline"] or [])
    ]


def gunicorn_master(port: int) -> int:
    import psutil

    for proc in psutil.process_iter(["pid", "ppid", "cmdline"]):
        cmdline = " ".join(proc.info["cmdline"] or [])
        if "gunicorn" in cmdline and f"127.0.0.1:{port}" in cmdline:
            try:
                parent = " ".join(psutil.Process(proc.info["ppid"]).cmdline())
            except psutil.Error:
                parent = ""
            if f"127.0.0.1:{port}" not in parent:
                return proc.info["pid"]
    raise SystemExit(f"no gunicorn process serving port {port}")


# --- services --------------------------------------------------------------------------------


def admin_sql(*statements: str) -> None:
    import psycopg

    with psycopg.connect(dbname="postgres", autocommit=True, connect_timeout=5, **PG) as conn:
        for statement in statements:
            conn.execute(statement)


def flush_redis(url: str) -> None:
    import redis

    redis.Redis.from_url(url).flushdb()


def worker_argv(name: str, queues: list[str], pool: str) -> list[str]:
    pool_args = ["--pool=solo"] if pool == "solo" else ["--pool=prefork", "--concurrency=1"]
    return [
        sys.executable,
        "-m",
        "celery",
        "-A",
        "config",
        "worker",
        *pool_args,
        "--without-gossip",
        "--without-mingle",
        "-n",
        f"{name}@%h",
        "-Q",
        ",".join(queues),
        "--loglevel=WARNING",
    ]


def access_log_size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def count_access_log(path: Path, since: int = 0) -> dict:
    """Answers in the server's access log after byte ``since`` (a night's, discovery included)."""
    served = rejected = api = 0
    try:
        with path.open("rb") as log_file:
            log_file.seek(since)
            lines = log_file.read().decode(errors="replace").splitlines()
    except OSError:
        lines = []
    for line in lines:
        status, _, rest = line.partition(" ")
        if not status.isdigit():
            continue
        served += 1
        api += "/v3." in rest
        rejected += status == "429"
    return {"served": served, "api": api, "429": rejected}


# --- the night -------------------------------------------------------------------------------


def percentiles(values: list[float]) -> dict:
    if not values:
        return {"count": 0, "p50": None, "p95": None, "max": None}
    values = sorted(values)

    def rank(p: float) -> float:
        return round(values[max(0, math.ceil(p * len(values)) - 1)], 1)

    return {"count": len(values), "p50": rank(0.50), "p95": rank(0.95), "max": round(values[-1], 1)}


def max_overlap(intervals: list[tuple[float, float]]) -> int:
    """The largest number of intervals open at once (an end before a start at the same time)."""
    edges = sorted([(start, 1) for start, _ in intervals] + [(end, -1) for _, end in intervals])
    best = current = 0
    for _, step in edges:
        current += step
        best = max(best, current)
    return best


def run_night(args, meters: Meters) -> dict:
    from django.db.models.signals import post_save

    from rostering.models import SyncRequest, SyncRun
    from rostering.tasks import nightly_sync

    saved: list[float] = []

    def on_request(sender, instance, **kwargs):
        if not saved:
            meters.begin()
        saved.append(time.time())

    post_save.connect(on_request, sender=SyncRequest, weak=False, dispatch_uid="nightly-bench")
    called = time.time()
    requested = nightly_sync()
    post_save.disconnect(sender=SyncRequest, dispatch_uid="nightly-bench")
    if not saved:
        raise SystemExit("nightly_sync requested no sync")
    dispatch = saved[0]
    log(f"nightly_sync requested {requested} syncs", discovery_s=round(dispatch - called, 1))
    deadline = dispatch + args.timeout
    last_report = 0.0
    timed_out = False
    while True:
        pending = SyncRequest.objects.count()
        running = SyncRun.objects.filter(status=SyncRun.Status.RUNNING).count()
        if not pending and not running:
            break
        now = time.time()
        if now >= deadline:
            timed_out = True
            break
        if now - last_report >= 30:
            last_report = now
            done = SyncRun.objects.exclude(status=SyncRun.Status.RUNNING).count()
            log(f"{now - dispatch:6.0f}s: {pending} owed, {running} running, {done} runs ended")
        time.sleep(args.poll)
    cpu, machine = meters.end()
    return {
        "machine": machine,
        "called": called,
        "dispatch": dispatch,
        "discovery_s": round(dispatch - called, 2),
        "dispatch_s": round(saved[-1] - dispatch, 2),
        "requested": requested,
        "timed_out": timed_out,
        "cpu_s": cpu,
    }


def figures(night: dict, seeded: dict[str, dict]) -> dict:
    """The night's figures from its runs (those started after its ``nightly_sync`` call)."""
    from districts.models import District
    from rostering.models import SyncRun

    dispatch = night["dispatch"]
    now = time.time()
    runs = list(
        SyncRun.objects.filter(started_at__gte=datetime.fromtimestamp(night["called"], UTC))
        .order_by("started_at", "pk")
        .values(
            "district_id",
            "status",
            "started_at",
            "finished_at",
            "requests",
            "retries",
            "seconds_waited",
            "cause",
            "error",
            "kind",
        )
    )
    clever_ids = dict(District.objects.values_list("pk", "clever_id"))
    by_status: dict[str, int] = {}
    per_district: dict[int, list[dict]] = {}
    for run in runs:
        by_status[run["status"]] = by_status.get(run["status"], 0) + 1
        if run["status"] != SyncRun.Status.SKIPPED:
            per_district.setdefault(run["district_id"], []).append(run)

    def interval(run: dict) -> tuple[float, float]:
        end = run["finished_at"].timestamp() if run["finished_at"] else now
        return run["started_at"].timestamp(), end

    not_succeeded = []
    waits: dict[str, list[float]] = {"small": [], "medium": [], "large": []}
    done_by: dict[str, float] = {}
    per_district_overlap = 0
    for pk, clever_id in clever_ids.items():
        district_runs = per_district.get(pk, [])
        item = seeded.get(clever_id)
        last = district_runs[-1] if district_runs else None
        if last is None or last["status"] != SyncRun.Status.SUCCEEDED:
            not_succeeded.append(
                {
                    "district": clever_id,
                    "students": item["students"] if item else None,
                    "status": last["status"] if last else None,
                    "cause": last["cause"] if last else None,
                    "error": (last["error"] or "")[:200] if last else None,
                }
            )
        if not district_runs:
            continue
        per_district_overlap = max(
            per_district_overlap, max_overlap([interval(run) for run in district_runs])
        )
        if item is None:
            continue
        waits[item["class"]].append(district_runs[0]["started_at"].timestamp() - dispatch)
        finished = interval(last)[1] - dispatch
        done_by[item["class"]] = max(done_by.get(item["class"], 0.0), finished)
    ended = [run["finished_at"].timestamp() for run in runs if run["finished_at"]]
    all_intervals = [interval(run) for runs_ in per_district.values() for run in runs_]
    return {
        "kinds": dict(Counter(run["kind"] for run in runs)),
        "wall_s": round(max(ended) - dispatch, 1) if ended else None,
        "succeeded": by_status.get(SyncRun.Status.SUCCEEDED, 0),
        "failed": by_status.get(SyncRun.Status.FAILED, 0),
        "held": by_status.get(SyncRun.Status.HELD, 0),
        "skipped": by_status.get(SyncRun.Status.SKIPPED, 0),
        "running_at_end": by_status.get(SyncRun.Status.RUNNING, 0),
        "runs_by_status": by_status,
        "districts_synced": len(clever_ids) - len(not_succeeded),
        "districts_not_succeeded": len(not_succeeded),
        "not_succeeded_examples": not_succeeded[:10],
        "max_concurrent_per_district": per_district_overlap,
        "max_concurrent_runs": max_overlap(all_intervals) if all_intervals else 0,
        "requests": sum(run["requests"] for run in runs),
        "retries": sum(run["retries"] for run in runs),
        "seconds_waited": round(sum(run["seconds_waited"] for run in runs), 1),
        "wait_s": {name: percentiles(values) for name, values in waits.items()},
        **{f"{name}_done_by_s": round(done_by[name], 1) if name in done_by else None for name in waits},
    }


def tasks_per_worker(app) -> dict:
    try:
        stats = app.control.inspect(timeout=3.0).stats() or {}
    except Exception as error:  # an answer is a nicety, not a figure the bench depends on
        return {"error": str(error)}
    return {name.split("@")[0]: reply.get("total") or {} for name, reply in stats.items()}


# --- orchestration ---------------------------------------------------------------------------


# What the summary keeps of each night when there are several (the last night's are in full).
NIGHT_KEYS = (
    "kinds",
    "wall_s",
    "succeeded",
    "failed",
    "max_concurrent_per_district",
    "rate_limit_violations",
    "packing",
    "wait_s",
    "small_done_by_s",
    "large_done_by_s",
)


def night_summary(night: dict, result: dict, access: dict, workers: list[Proc]) -> dict:
    cpu = night["cpu_s"]
    cores = os.cpu_count() or 1
    worker_cpu = sum(cpu[proc.name] for proc in workers)
    wall = result["wall_s"] or float("nan")
    return {
        **result,
        "rate_limit_violations": access["429"],
        "requests_served": access["served"],
        "api_requests_served": access["api"],
        "cpu_s": cpu,
        "packing": round((worker_cpu + cpu["postgres"] + cpu["sandbox"]) / (wall * cores), 3),
        "packing_workers_only": round(worker_cpu / (wall * cores), 3),
        "machine": night["machine"],
        "timed_out": night["timed_out"],
        "requested": night["requested"],
        "discovery_s": night["discovery_s"],
        "dispatch_s": night["dispatch_s"],
    }


def base_env(args, database_url: str, redis_url: str) -> dict:
    env = {key: value for key, value in os.environ.items() if key not in ("CI", "DJANGO_ENV")}
    env.update(
        DJANGO_SETTINGS_MODULE="config.settings",
        DATABASE_URL=database_url,
        REDIS_URL=redis_url,
        CLEVER_SANDBOX="true",
        LOG_LEVEL="WARNING",
        SYNC_STAGGER_SECONDS="0",
        PYTHONUNBUFFERED="1",
        PYTHONDONTWRITEBYTECODE="1",
    )
    return env


def orchestrate(args) -> int:
    tmpdir = tempfile.mkdtemp(prefix="nightly-bench-")
    database_url = "postgres://{user}:{password}@{host}:{port}/".format(**PG) + args.database
    redis_url = f"{REDIS}/{args.redis_db}"
    env = base_env(args, database_url, redis_url)
    workers: list[Proc] = []
    ok = False
    load_before = os.getloadavg()
    log(f"logs in {tmpdir}", load_average=[round(x, 2) for x in load_before])
    try:
        admin_sql(
            f'DROP DATABASE IF EXISTS "{args.database}" WITH (FORCE)', f'CREATE DATABASE "{args.database}"'
        )
        flush_redis(redis_url)
        log(f"database {args.database} created, Redis db {args.redis_db} flushed; migrating")
        subprocess.run([sys.executable, str(ROOT / "manage.py"), "migrate", "-v0"], env=env, check=True)

        plan = plan_sizes(args.districts, args.total_students, args.seed)
        print(json.dumps({"phase": "sizes", "seed": args.seed, **size_summary(plan)}), flush=True)
        started = time.perf_counter()
        seeded = seed_all(plan, args.seed_procs, env, tmpdir)
        admin_sql_db(args.database, "ANALYZE")
        seeding_s = round(time.perf_counter() - started, 1)
        log(f"seeded {len(seeded)} districts in {seeding_s} s")

        access_log = Path(tmpdir) / "access.log"
        server_env = {
            **env,
            # Persistent and named connections: the sandbox's database work is told apart.
            "DATABASE_URL": f"{database_url}?conn_max_age=600&application_name={SANDBOX_APP}",
            "GUNICORN_CMD_ARGS": " ".join(
                [
                    f"--access-logfile {shlex.quote(str(access_log))}",
                    f"--access-logformat {shlex.quote(ACCESS_FORMAT)}",
                    f"--threads {args.server_threads}",
                ]
            ),
        }
        with ExitStack() as stack:
            base = stack.enter_context(sandbox_server(server_env, tmpdir))
            env.update(CLEVER_OAUTH_BASE=base, CLEVER_API_BASE=base, CLEVER_HTTP_ADAPTER="")
            os.environ.update(env)
            os.environ.pop("CI", None)
            os.environ.pop("DJANGO_ENV", None)
            setup_django(migrate=False)
            from django.conf import settings
            from django.db import connection

            from config.celery import app

            queues = Trial.celery_queues(settings)
            for number in range(1, args.workers + 1):
                proc = Proc(f"worker{number}", worker_argv(f"worker{number}", queues, args.pool), env, ROOT)
                proc.logfile = Path(tmpdir) / f"{proc.name}.log"
                proc.start()
                workers.append(proc)
            stack.callback(lambda: [proc.stop() for proc in workers])
            answered = wait_until(
                lambda: (names := Trial._ping(app)) and len(names) >= args.workers and names, 120, 1.0
            )
            if not answered:
                raise SystemExit(f"the workers did not answer; see {tmpdir}/worker*.log")
            log("workers answer", workers=sorted(answered), queues=queues, pool=args.pool)
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_backend_pid()")
                import psutil

                postmaster = psutil.Process(cursor.fetchone()[0]).ppid()
            port = int(base.rsplit(":", 1)[1].split("/")[0])
            sandbox_pid = gunicorn_master(port)
            nights = []
            for number in range(1, args.nights + 1):
                if number > 1 and args.without_events:
                    # The scenario, not a service's write: every district reads whole tonight,
                    # as one with events off (or a cursor past Clever's retention) does.
                    from districts.models import District

                    District.objects.update(events_enabled=False)
                log(f"night {number} of {args.nights}")
                since = access_log_size(access_log)
                night = run_night(args, Meters(workers, postmaster, sandbox_pid, args.database))
                nights.append(
                    night_summary(night, figures(night, seeded), count_access_log(access_log, since), workers)
                )
            per_worker = tasks_per_worker(app)
            exited = [proc.name for proc in workers if not proc.alive()]
        summary = {
            "districts": len(seeded),
            "students": sum(item["students"] for item in seeded.values()),
            "workers": args.workers,
            "pool": args.pool,
            "cores": os.cpu_count() or 1,
            **nights[-1],
            "seeding_s": seeding_s,
            "tasks_per_worker": per_worker,
            "workers_exited": exited,
            "load_average_before": [round(x, 2) for x in load_before],
            "load_average_after": [round(x, 2) for x in os.getloadavg()],
            "seed": args.seed,
            "sizes": size_summary(list(seeded.values())),
        }
        if args.nights > 1:
            summary["nights"] = [{key: night[key] for key in NIGHT_KEYS} for night in nights]
        print(json.dumps(summary), flush=True)
        ok = True
        return 0
    finally:
        for proc in workers:  # already stopped unless something failed on the way
            proc.stop()
        try:
            from django.db import connections

            connections.close_all()
        except Exception:
            pass
        try:
            admin_sql(f'DROP DATABASE IF EXISTS "{args.database}" WITH (FORCE)')
            flush_redis(redis_url)
        except Exception as error:
            log(f"clean-up failed: {error}")
        if ok and not args.keep_logs:
            shutil.rmtree(tmpdir, ignore_errors=True)
        else:
            log(f"logs kept in {tmpdir}")


def admin_sql_db(database: str, statement: str) -> None:
    import psycopg

    with psycopg.connect(dbname=database, autocommit=True, connect_timeout=5, **PG) as conn:
        conn.execute(statement)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--districts", type=int, default=None, help="default 1000 (30 with --quick)")
    parser.add_argument(
        "--total-students", type=int, default=None, help="default 1,000,000 (30,000 with --quick)"
    )
    parser.add_argument("--quick", action="store_true", help="30 districts, 30,000 students")
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--pool", choices=("prefork", "solo"), default="prefork")
    parser.add_argument("--server-threads", type=int, default=2)
    parser.add_argument("--seed-procs", type=int, default=2)
    parser.add_argument("--timeout", type=float, default=3600.0, help="seconds after the dispatch")
    parser.add_argument("--poll", type=float, default=2.0)
    parser.add_argument("--database", default="nightly_bench")
    parser.add_argument("--redis-db", type=int, default=13)
    parser.add_argument("--keep-logs", action="store_true")
    parser.add_argument("--nights", type=int, default=1, help="nights in a row on the same districts")
    parser.add_argument(
        "--without-events",
        action="store_true",
        help="after the first night, every district's events off: each later night reads them whole",
    )
    parser.add_argument("--phase", choices=("seed",), help=argparse.SUPPRESS)
    parser.add_argument("--plan", help=argparse.SUPPRESS)
    parser.add_argument("--part", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.districts is None:
        args.districts = 30 if args.quick else 1000
    if args.total_students is None:
        args.total_students = 30_000 if args.quick else 1_000_000
    return args


def main() -> int:
    args = parse_args()
    if args.phase == "seed":
        phase_seed(args)
        return 0

    def terminate(signum, frame):
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, terminate)
    return orchestrate(args)


if __name__ == "__main__":
    sys.exit(main())
