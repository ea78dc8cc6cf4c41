"""The roster sync against the cost of just downloading the data, side by side in one run.

    .venv/bin/python bench/sync_bench.py --students 50000 [--baseline-students 10000]
                                         [--skip-naive] [--page-size 10000] [--repeat 1]

Generates a sandbox district (sandbox.generator: 50,000 students come with ~2,000 sections and
~250,000 enrollments, teachers, staff and contacts) and times, each phase in a fresh process
so its peak RSS is its own:

- ``fetch_only``: the client downloads and parses every page of every collection, storing
  nothing: the floor any sync pays (measured twice, before and after the syncs; the faster
  counts, so noise does not flatter the ratios);
- ``full_sync``: ``run_sync(kind="full")`` into an empty mirror;
- ``resync``: the same again with nothing changed;
- with ``--repeat N``, the pair again N-1 times, the mirror purged before each full sync
  (``purge_district_roster``); the fastest of each counts, as for ``fetch_only`` (on a machine
  shared with other work, one slow phase would otherwise decide the ratio);
- ``naive``: the mirror emptied, then a per-record ``update_or_create`` sync of the same data
  (each school, term, course, section, person and membership one ORM call), the way a first
  attempt at a sync is usually written;
- the full sync again on a district of ``--baseline-students`` (default 10,000), for how peak
  RSS grows with district size.

The district is not linked to an organization, so no product accounts are provisioned: the
figures are the mirror's. Uses a temporary SQLite file, or ``DATABASE_URL`` (then the bench's
districts are deleted afterwards). Prints a JSON line per phase, then one last line:
``{"students", "fetch_only_s", "full_sync_s", "resync_s", "naive_s", "peak_rss_mb",
"peak_rss_mb_baseline", "rss_growth", "full_vs_fetch", "resync_vs_fetch", "naive_vs_full"}``
and the CPU figures below.

**CPU seconds beside wall seconds.** Each timed phase also reports ``cpu_s``, the CPU time of
its process (user + system), and on a PostgreSQL server on the same machine ``db_cpu_s``, the
CPU time of the server process serving the phase's connection (``/proc/<pg_backend_pid>/stat``;
None when the server is elsewhere or on SQLite, whose work is in ``cpu_s`` already). The sandbox
answers in-process over the same connection, so both phases pay for serving the pages alike.
The summary adds ``full_vs_fetch_cpu``: the full sync's CPU seconds (process + server) over
fetch-only's. Wall-clock ratios move with the load of a shared machine; the CPU ratio is the
amount of work, and on a machine with C cores a sync can never take less wall time than its
CPU seconds divided by C.
Never part of the test run.
"""

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchdb import ROOT, setup_django

COLLECTIONS = ("schools", "terms", "courses", "sections", "users")


def peak_rss_mb() -> float:
    # ru_maxrss is in kilobytes on Linux.
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def server_cpu_seconds() -> float | None:
    """CPU seconds of the PostgreSQL server process behind Django's connection, when it runs
    on this machine (None otherwise, and on SQLite)."""
    from django.db import connection

    if connection.vendor != "postgresql":
        return None
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        pid = cursor.fetchone()[0]
    try:
        # Fields after the command name: state is field 3, utime 14, stime 15 (proc(5)).
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Timed:
    """Wall seconds, process CPU seconds and database-server CPU seconds of a block."""

    def __enter__(self):
        self._server = server_cpu_seconds()
        self._cpu = time.process_time()
        self._wall = time.perf_counter()
        return self

    def __exit__(self, *exc_info):
        self.seconds = round(time.perf_counter() - self._wall, 3)
        self.cpu_s = round(time.process_time() - self._cpu, 3)
        server = server_cpu_seconds() if self._server is not None else None
        self.db_cpu_s = round(server - self._server, 3) if server is not None else None

    def figures(self) -> dict:
        return {"seconds": self.seconds, "cpu_s": self.cpu_s, "db_cpu_s": self.db_cpu_s}


def emit(phase: str, **figures) -> None:
    print(json.dumps({"phase": phase, **figures, "peak_rss_mb": peak_rss_mb()}), flush=True)


def our_district(clever_id: str):
    from districts.models import District

    return District.objects.get(clever_id=clever_id)


def phase_seed(args) -> None:
    from districts.models import District
    from sandbox.generator.districts import generate_district, load_district

    started = time.perf_counter()
    generated = generate_district(seed=args.seed, students=args.students)
    district = load_district(generated)
    District.objects.create(clever_id=district.id, name=district.name)
    emit(
        "seed", district=district.id, counts=generated.counts, seconds=round(time.perf_counter() - started, 2)
    )


def phase_fetch(args) -> None:
    from clever.client import CleverClient
    from districts.services import district_token

    district = our_district(args.district)
    records = 0
    with CleverClient(district_token(district), page_size=args.page_size) as client, Timed() as timed:
        for collection in COLLECTIONS:
            for page in client.iter_pages(collection):
                records += len(page.records)
                del page  # one page in memory at a time, as the sync holds them
    emit("fetch_only", **timed.figures(), records=records, requests=client.stats.requests)


def phase_sync(args) -> None:
    from clever.client import CleverClient
    from rostering.services.sync import run_sync

    district = our_district(args.district)
    with CleverClient(page_size=args.page_size) as client, Timed() as timed:
        run = run_sync(district=district, kind="full", client=client)
    if run.status != "succeeded":
        raise SystemExit(f"{args.phase}: the sync ended {run.status}: {run.error}")
    emit(args.phase, **timed.figures(), counts=run.counts, totals=run.totals)


def phase_purge(args) -> None:
    from rostering.services.lifecycle import purge_district_roster

    started = time.perf_counter()
    result = purge_district_roster(district=our_district(args.district), actor_label="bench")
    emit("purge", seconds=round(time.perf_counter() - started, 3), users=result.get("users", 0))


def phase_naive(args) -> None:
    """Per-record update_or_create, as a first sync is usually written."""
    from django.db import transaction
    from django.utils import timezone

    from clever.client import CleverClient
    from districts.services import district_token
    from rostering.models import ContactLink, Course, Person, School, Section, SectionMembership, Term
    from rostering.services.mapping import map_fields

    models = {"schools": School, "terms": Term, "courses": Course, "sections": Section, "users": Person}
    district = our_district(args.district)
    for model in (SectionMembership, ContactLink, *models.values()):
        model.objects.filter(district=district).delete()

    with (
        Timed() as timed,
        CleverClient(district_token(district), page_size=args.page_size) as client,
        transaction.atomic(),
    ):
        seen = {name: [] for name in models}
        for collection, model in models.items():
            for record in client.iter_records(collection):
                fields = {k: v for k, v in map_fields(collection, record).items() if not k.startswith("_")}
                row, _ = model.objects.update_or_create(
                    district=district,
                    clever_id=record["id"],
                    defaults={**fields, "raw": record, "content_hash": "", "archived_at": None},
                )
                seen[collection].append(record["id"])
                if collection == "sections":
                    for role, key in (("student", "students"), ("teacher", "teachers")):
                        for person in record.get(key) or []:
                            SectionMembership.objects.update_or_create(
                                district=district,
                                section=row,
                                person_clever_id=person,
                                role=role,
                                defaults={"is_primary": person == record.get("teacher")},
                            )
                contact = (record.get("roles") or {}).get("contact") if collection == "users" else None
                for link in (contact or {}).get("student_relationships") or []:
                    ContactLink.objects.update_or_create(
                        district=district,
                        contact=row,
                        student_clever_id=link.get("student", ""),
                        defaults={"relationship": link.get("relationship", ""), "type": link.get("type", "")},
                    )
        for collection, model in models.items():
            model.objects.filter(district=district).exclude(clever_id__in=seen[collection]).update(
                archived_at=timezone.now()
            )
    emit("naive", **timed.figures())


def _floor_tables() -> list[str]:
    from rostering.models import ContactLink, SectionMembership
    from rostering.services.mapping import MODELS

    return [model._meta.db_table for model in (*MODELS.values(), SectionMembership, ContactLink)]


def _create_empty_copy(cursor, vendor: str, table: str, copy: str) -> None:
    """An empty table ``copy`` with ``table``'s columns and indexes (no foreign keys)."""
    if vendor == "postgresql":
        cursor.execute(f'CREATE TABLE "{copy}" (LIKE "{table}" INCLUDING ALL)')
        return
    cursor.execute(
        "SELECT type, name, sql FROM sqlite_master WHERE tbl_name = %s AND sql IS NOT NULL", [table]
    )
    for kind, name, sql in sorted(cursor.fetchall(), key=lambda row: row[0] != "table"):
        sql = sql.replace(f'"{table}"', f'"{copy}"', 1) if kind == "table" else sql
        if kind == "index":
            sql = sql.replace(f'"{name}"', f'"floor_{name}"', 1).replace(f'ON "{table}"', f'ON "{copy}"', 1)
        cursor.execute(sql)


def phase_floor(args) -> None:
    """The floor's writing half: the district's finished mirror rows (after a full sync)
    copied once, in one transaction, into empty copies of their tables with their indexes,
    with ``INSERT ... SELECT`` (no JSON, no Python per row). The copies are dropped after."""
    from django.db import connection, transaction

    district = our_district(args.district)
    copies = {table: f"floor_copy_{table}" for table in _floor_tables()}
    with connection.cursor() as cursor:
        for table, copy in copies.items():
            cursor.execute(f'DROP TABLE IF EXISTS "{copy}"')
            _create_empty_copy(cursor, connection.vendor, table, copy)
    rows = 0
    try:
        with Timed() as timed, transaction.atomic(), connection.cursor() as cursor:
            for table, copy in copies.items():
                cursor.execute(
                    f'INSERT INTO "{copy}" SELECT * FROM "{table}" WHERE district_id = %s', [district.pk]
                )
                rows += cursor.rowcount
    finally:
        with connection.cursor() as cursor:
            for copy in copies.values():
                cursor.execute(f'DROP TABLE IF EXISTS "{copy}"')
    emit("floor_write", **timed.figures(), rows=rows)


PHASES = {
    "seed": phase_seed,
    "floor_write": phase_floor,
    "fetch_only": phase_fetch,
    "full_sync": phase_sync,
    "resync": phase_sync,
    "naive": phase_naive,
    "purge": phase_purge,
}


def run_phase(phase: str, args, env: dict, *, script: str = __file__, **extra) -> dict:
    """Run ``script --phase phase`` (this file, or another bench reusing it) in a fresh process
    with the seed, page size and ``extra`` options; returns the JSON of its last line."""
    command = [
        sys.executable,
        script,
        "--phase",
        phase,
        "--seed",
        str(args.seed),
        "--page-size",
        str(args.page_size),
    ]
    for key, value in extra.items():
        command += [f"--{key.replace('_', '-')}", str(value)]
    result = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise SystemExit(f"phase {phase} failed:\n{result.stderr[-3000:]}")
    line = result.stdout.strip().splitlines()[-1]
    print(line, flush=True)
    return json.loads(line)


def run_phases(parser: argparse.ArgumentParser, phases: dict, orchestrate) -> None:
    """The end of a phased bench's ``main``: adds ``--phase`` and ``--district`` (what
    ``run_phase`` passes to the fresh process) to ``parser``; with ``--phase``, sets Django up on
    the orchestrator's database (already migrated) and runs that phase, else ``orchestrate(args)``."""
    parser.add_argument("--phase", choices=sorted(phases))
    parser.add_argument("--district", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.phase:
        setup_django(migrate=False)
        phases[args.phase](args)
    else:
        orchestrate(args)


def work_seconds(phase: dict) -> float:
    """CPU seconds of a phase's process and of its database server process."""
    return phase["cpu_s"] + (phase["db_cpu_s"] or 0)


def cpu_figures(fetch: dict, full: dict, resync: dict) -> dict:
    return {
        "fetch_only_cpu_s": fetch["cpu_s"],
        "fetch_only_db_cpu_s": fetch["db_cpu_s"],
        "full_sync_cpu_s": full["cpu_s"],
        "full_sync_db_cpu_s": full["db_cpu_s"],
        "resync_cpu_s": resync["cpu_s"],
        "resync_db_cpu_s": resync["db_cpu_s"],
        "full_vs_fetch_cpu": round(work_seconds(full) / work_seconds(fetch), 2),
        "resync_vs_fetch_cpu": round(work_seconds(resync) / work_seconds(fetch), 2),
    }


def orchestrate(args) -> None:
    tmpdir = None
    env = dict(os.environ)
    if not env.get("DATABASE_URL"):
        tmpdir = tempfile.mkdtemp(prefix="sync-bench-")
        env["DATABASE_URL"] = f"sqlite:///{tmpdir}/bench.sqlite3"
    env.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    bench_ids: list[str] = []
    try:
        subprocess.run([sys.executable, str(ROOT / "manage.py"), "migrate", "-v0"], env=env, check=True)
        district = run_phase("seed", args, env, students=args.students)["district"]
        bench_ids.append(district)
        fetch_before = run_phase("fetch_only", args, env, district=district)
        fulls, resyncs = [], []
        for attempt in range(max(1, args.repeat)):
            if attempt:
                run_phase("purge", args, env, district=district)
            fulls.append(run_phase("full_sync", args, env, district=district))
            resyncs.append(run_phase("resync", args, env, district=district))
        full = min(fulls, key=lambda phase: phase["seconds"])
        resync = min(resyncs, key=lambda phase: phase["seconds"])
        fetch_after = run_phase("fetch_only", args, env, district=district)
        floor_write = run_phase("floor_write", args, env, district=district)
        naive = None if args.skip_naive else run_phase("naive", args, env, district=district)
        baseline_district = run_phase("seed", args, env, students=args.baseline_students, seed=args.seed + 1)[
            "district"
        ]
        bench_ids.append(baseline_district)
        baseline = run_phase("full_sync", args, env, district=baseline_district)

        fetch = min(fetch_before, fetch_after, key=lambda phase: phase["seconds"])
        fetch_s = fetch["seconds"]
        peak = max(phase["peak_rss_mb"] for phase in fulls + resyncs)
        summary = {
            "students": args.students,
            "database": "postgresql" if "postgres" in env["DATABASE_URL"] else "sqlite",
            "fetch_only_s": fetch_s,
            "full_sync_s": full["seconds"],
            "resync_s": resync["seconds"],
            "naive_s": naive["seconds"] if naive else None,
            "peak_rss_mb": peak,
            "peak_rss_mb_baseline": baseline["peak_rss_mb"],
            "baseline_students": args.baseline_students,
            "rss_growth": round(peak / baseline["peak_rss_mb"] - 1, 3),
            "full_vs_fetch": round(full["seconds"] / fetch_s, 2),
            "resync_vs_fetch": round(resync["seconds"] / fetch_s, 2),
            "naive_vs_full": round(naive["seconds"] / full["seconds"], 1) if naive else None,
            "full_sync_all_s": [phase["seconds"] for phase in fulls],
            "resync_all_s": [phase["seconds"] for phase in resyncs],
            "fetch_only_all_s": [fetch_before["seconds"], fetch_after["seconds"]],
            **cpu_figures(fetch, full, resync),
            "floor_write_cpu_s": round(work_seconds(floor_write), 3),
            "work_vs_floor": round(work_seconds(full) / (work_seconds(fetch) + work_seconds(floor_write)), 2),
        }
        print(json.dumps(summary), flush=True)
    finally:
        if tmpdir:
            shutil.rmtree(tmpdir, ignore_errors=True)
        elif bench_ids:
            cleanup = (
                "from districts.models import District; "
                "from districts.services import delete_district; "
                "from sandbox import services as sandbox_services; "
                "from sandbox.models import SandboxDistrict; "
                "[delete_district(district=d) "
                f"for d in District.objects.filter(clever_id__in={bench_ids!r})]; "
                "[sandbox_services.delete_district(district=d) "
                f"for d in SandboxDistrict.objects.filter(id__in={bench_ids!r})]"
            )
            subprocess.run(
                [sys.executable, str(ROOT / "manage.py"), "shell", "--no-imports", "-c", cleanup],
                env=env,
                check=False,
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=50_000)
    parser.add_argument("--baseline-students", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--page-size", type=int, default=10_000)
    parser.add_argument("--skip-naive", action="store_true")
    parser.add_argument(
        "--repeat",
        type=int,
        default=1,
        help="run the full sync and the resync this many times; the fastest counts",
    )
    run_phases(parser, PHASES, orchestrate)


if __name__ == "__main__":
    main()
