"""Freshness: how long a change made in Clever takes to reach the mirror and the product account.

    .venv/bin/python bench/freshness_bench.py                 # poll every 60 s, 24 changes
    .venv/bin/python bench/freshness_bench.py --interval 300 --changes 12 --spread 900

Needs PostgreSQL on 127.0.0.1:5432 (role clever/clever; the bench creates and drops its own
database, ``freshness_bench``) and Redis on 127.0.0.1:6379 (its db 12 is flushed). Never part of
the test run.

A district of ``--students`` is generated into the sandbox (the local Clever), linked to an
organization (so its people get product accounts) and synced once in full. The sandbox then
serves over real HTTP from its own process (gunicorn); one Celery worker (every queue) and
Celery beat run as subprocesses with ``SYNC_EVENTS_POLL_SECONDS=--interval``: beat's
``rostering-poll-events`` entry sends one poll per district that often, as in production.

**Idle poll.** Before the worker starts, ``rostering.services.polling.poll_events`` is called
``--idle-polls`` times on the district with nothing new: ``idle_poll_cpu_ms`` is the median CPU
time (``time.process_time``) of one call in this process: the lease, the checks, the one
request and its answer, over HTTP to the sandbox's own process (whose CPU is not counted: it
stands in for Clever). ``idle_poll_requests`` is what one such poll sent.

**Changes.** ``--changes`` changes, cycling through four kinds, are made in the sandbox at
random moments spread over ``--spread`` seconds: a new student added to a section, a student
removed from a section, a student renamed, a section's teacher replaced by another teacher
(a teacher moved). Each is timed from the moment its sandbox transaction committed (its events
exist from then) to the moment the mirror shows it (the membership there or gone, the name,
the primary teacher); for a rename also to the moment the student's product account has the new
name (``account_delay_s``). The database is read every 0.25 s.

The last line is the summary: ``p50_delay_s``, ``p95_delay_s``, ``max_delay_s`` (to the
mirror), ``account_p95_delay_s``, ``poll_interval_s``, ``target_p95_s`` (the interval + 30 s),
``idle_poll_cpu_ms``, ``idle_poll_requests``, ``poll_runs`` (sync runs the polls started),
``poll_runs_succeeded``, ``poll_run_seconds`` (their durations' percentiles), ``missed``
(changes not seen within the interval x 3 + 60 s after the last change) and ``timeline`` (each
change's kind, its moment after the first and its delay).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

from benchdb import ROOT, setup_django
from fault_trial import Proc, Trial, wait_until
from nightly_bench import PG, REDIS, admin_sql, base_env, flush_redis, percentiles, worker_argv
from scale_bench import sandbox_server

KINDS = ("added", "removed", "renamed", "teacher_moved")


@dataclass
class Change:
    kind: str
    made_at: float  # when the sandbox transaction committed
    check: object  # () -> bool: the mirror shows it
    account_check: object = None  # () -> bool: the product account shows it (renames)
    seen_at: float | None = None
    account_seen_at: float | None = None
    detail: dict = field(default_factory=dict)


class Changer:
    """Makes the four kinds of change in the sandbox and says how to see each in the mirror."""

    def __init__(self, sandbox_district, district, seed: int):
        from sandbox.models import RecordType, SandboxRecord

        self.sandbox_district = sandbox_district
        self.district = district
        self.rng = random.Random(seed)
        records = SandboxRecord.objects.filter(district=sandbox_district)
        self.sections = list(
            records.filter(record_type=RecordType.SECTIONS).values_list("clever_id", flat=True)
        )
        self.teachers = list(
            records.filter(record_type=RecordType.USERS, is_teacher=True).values_list("clever_id", flat=True)
        )
        self.used: set[str] = set()

    def _section(self) -> dict:
        from sandbox.models import SandboxRecord
        from sandbox.services import rec_loads

        while True:
            section_id = self.rng.choice(self.sections)
            body = rec_loads(SandboxRecord.objects.get(clever_id=section_id))
            if section_id not in self.used and len(body.get("students") or []) > 1:
                self.used.add(section_id)
                return body

    def _membership(self, section_id: str, person_id: str, role: str = "student"):
        from rostering.models import SectionMembership

        return SectionMembership.objects.filter(
            district=self.district, section__clever_id=section_id, person_clever_id=person_id, role=role
        )

    def make(self, kind: str, number: int) -> Change:
        from accounts.models import User
        from rostering.models import Person, SectionMembership
        from sandbox import roster
        from sandbox.services import update_record

        section = self._section()
        if kind == "added":
            student = roster.add_student_to_section(
                district=self.sandbox_district, section_id=section["id"], seed=number
            )
            made_at = time.time()
            return Change(kind, made_at, lambda: self._membership(section["id"], student["id"]).exists())
        if kind == "removed":
            leaving = section["students"][0]
            update_record(clever_id=section["id"], changes={"students": section["students"][1:]})
            made_at = time.time()
            return Change(kind, made_at, lambda: not self._membership(section["id"], leaving).exists())
        if kind == "renamed":
            student_id = section["students"][-1]
            first, last = f"Fresh{number}", "Name"
            roster.rename_user(district=self.sandbox_district, user_id=student_id, first=first, last=last)
            made_at = time.time()
            person = Person.objects.filter(district=self.district, clever_id=student_id)
            return Change(
                kind,
                made_at,
                lambda: person.filter(first_name=first).exists(),
                account_check=lambda: User.objects.filter(
                    clever_people__in=person, first_name=first
                ).exists(),
            )
        others = [teacher for teacher in self.teachers if teacher != section.get("teacher")]
        teacher = self.rng.choice(others)
        update_record(clever_id=section["id"], changes={"teacher": teacher, "teachers": [teacher]})
        made_at = time.time()
        primary = SectionMembership.objects.filter(
            district=self.district,
            section__clever_id=section["id"],
            person_clever_id=teacher,
            role="teacher",
            is_primary=True,
        )
        return Change(kind, made_at, primary.exists)


def watch(changes: list[Change], stop: threading.Event) -> None:
    """Read the database every 0.25 s; stamp each change when the mirror (and the account)
    first shows it. Its own database connection (Django's are per thread)."""
    from django.db import connection

    try:
        while not stop.is_set():
            now = time.time()
            for change in list(changes):
                if change.seen_at is None and change.check():
                    change.seen_at = now
                if change.account_check and change.account_seen_at is None and change.account_check():
                    change.account_seen_at = now
            stop.wait(0.25)
    finally:
        connection.close()


def idle_polls(district, count: int) -> tuple[float, int]:
    """Median CPU milliseconds of one poll that finds nothing, and the requests it sent."""
    from rostering.services.polling import PollOutcome, poll_events

    poll_events(district=district)  # the token looked up and cached, the connection warm
    cpu, requests = [], []
    for _ in range(count):
        started = time.process_time()
        result = poll_events(district=district)
        cpu.append((time.process_time() - started) * 1000)
        if result.outcome != PollOutcome.NOTHING:
            raise SystemExit(f"an idle poll answered {result.outcome}: {result.error}")
        requests.append(result.requests)
    return round(statistics.median(cpu), 2), max(requests)


def run(args, env: dict, tmpdir: str) -> dict:
    from django.conf import settings

    from accounts.models import Organization
    from clever.client import CleverClient
    from config.celery import app
    from districts.models import District, LinkMethod
    from districts.services import link_district
    from rostering.models import SyncRun
    from rostering.services.sync import run_sync
    from sandbox.generator.districts import generate_district, load_district

    sandbox_district = load_district(generate_district(seed=args.seed, students=args.students))
    district = District.objects.create(clever_id=sandbox_district.id, name=sandbox_district.name)
    organization = Organization.objects.create(name=sandbox_district.name)
    link_district(district=district, organization=organization, method=LinkMethod.STAFF, evidence={})
    with CleverClient() as client:
        first = run_sync(district=district, kind="full", client=client)
    if first.status != SyncRun.Status.SUCCEEDED:
        raise SystemExit(f"the first sync ended {first.status}: {first.error}")
    district.refresh_from_db()
    idle_cpu_ms, idle_requests = idle_polls(district, args.idle_polls)

    with ExitStack() as stack:
        queues = Trial.celery_queues(settings)
        worker = Proc("worker", worker_argv("worker", queues, "prefork"), env, ROOT)
        worker.logfile = Path(tmpdir) / "worker.log"
        beat = Proc(
            "beat",
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "config",
                "beat",
                "-s",
                f"{tmpdir}/beat-schedule",
                "-l",
                "WARNING",
            ],
            env,
            ROOT,
        )
        beat.logfile = Path(tmpdir) / "beat.log"
        for proc in (worker, beat):
            proc.start()
            stack.callback(proc.stop)
        if not wait_until(lambda: Trial._ping(app), 120, 1.0):
            raise SystemExit(f"the worker did not answer; see {tmpdir}/worker.log")

        changer = Changer(sandbox_district, district, args.seed)
        clock_rng = random.Random(args.seed)
        moments = sorted(clock_rng.uniform(0, args.spread) for _ in range(args.changes))
        changes: list[Change] = []
        stop = threading.Event()
        watcher = threading.Thread(target=watch, args=(changes, stop), daemon=True)
        watcher.start()
        stack.callback(stop.set)
        started = time.time()
        for number, moment in enumerate(moments):
            time.sleep(max(0.0, started + moment - time.time()))
            changes.append(changer.make(KINDS[number % len(KINDS)], number))
        deadline = time.time() + args.interval * 3 + 60
        while time.time() < deadline and any(
            change.seen_at is None or (change.account_check and change.account_seen_at is None)
            for change in changes
        ):
            time.sleep(0.5)
        stop.set()
        watcher.join(timeout=5)

    delays = percentiles([change.seen_at - change.made_at for change in changes if change.seen_at])
    account_delays = percentiles(
        [change.account_seen_at - change.made_at for change in changes if change.account_seen_at]
    )
    by_kind = {
        kind: percentiles([c.seen_at - c.made_at for c in changes if c.kind == kind and c.seen_at])["p50"]
        for kind in KINDS
    }
    runs = SyncRun.objects.filter(district=district, trigger=SyncRun.Trigger.POLL)
    return {
        "students": args.students,
        "changes": len(changes),
        "poll_interval_s": args.interval,
        "target_p95_s": args.interval + 30,
        "p50_delay_s": delays["p50"],
        "p95_delay_s": delays["p95"],
        "max_delay_s": delays["max"],
        "p50_delay_by_kind_s": by_kind,
        "account_p95_delay_s": account_delays["p95"],
        "missed": sum(1 for change in changes if change.seen_at is None),
        "timeline": [
            [change.kind, round(change.made_at - started, 1), round(change.seen_at - change.made_at, 1)]
            for change in changes
            if change.seen_at
        ],
        "idle_poll_cpu_ms": idle_cpu_ms,
        "idle_poll_requests": idle_requests,
        "poll_runs": runs.count(),
        "poll_runs_succeeded": runs.filter(status=SyncRun.Status.SUCCEEDED).count(),
        "poll_run_seconds": percentiles(list(runs.values_list("duration_seconds", flat=True))),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=2_000)
    parser.add_argument("--interval", type=int, default=60, help="SYNC_EVENTS_POLL_SECONDS")
    parser.add_argument("--changes", type=int, default=24)
    parser.add_argument("--spread", type=float, default=240.0, help="seconds over which changes are made")
    parser.add_argument("--idle-polls", type=int, default=30)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--database", default="freshness_bench")
    parser.add_argument("--redis-db", type=int, default=12)
    args = parser.parse_args()

    tmpdir = tempfile.mkdtemp(prefix="freshness-bench-")
    database_url = "postgres://{user}:{password}@{host}:{port}/".format(**PG) + args.database
    redis_url = f"{REDIS}/{args.redis_db}"
    env = base_env(args, database_url, redis_url)
    env["SYNC_EVENTS_POLL_SECONDS"] = str(args.interval)
    ok = False
    try:
        admin_sql(
            f'DROP DATABASE IF EXISTS "{args.database}" WITH (FORCE)', f'CREATE DATABASE "{args.database}"'
        )
        flush_redis(redis_url)
        subprocess.run([sys.executable, str(ROOT / "manage.py"), "migrate", "-v0"], env=env, check=True)
        with sandbox_server(env, tmpdir) as base:
            env.update(CLEVER_OAUTH_BASE=base, CLEVER_API_BASE=base, CLEVER_HTTP_ADAPTER="")
            os.environ.update(env)
            os.environ.pop("CI", None)
            setup_django(migrate=False)
            summary = run(args, env, tmpdir)
        print(json.dumps(summary), flush=True)
        ok = True
    finally:
        from django.db import connections

        connections.close_all()
        admin_sql(f'DROP DATABASE IF EXISTS "{args.database}" WITH (FORCE)')
        flush_redis(redis_url)
        if ok:
            shutil.rmtree(tmpdir, ignore_errors=True)
        else:
            print(f"logs kept in {tmpdir}", file=sys.stderr)


if __name__ == "__main__":
    main()
