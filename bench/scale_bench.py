"""The largest districts: memory and time of a sync from 50,000 to 1,000,000 students.

    DATABASE_URL=postgres://... .venv/bin/python bench/scale_bench.py --students 1000000
    .venv/bin/python bench/scale_bench.py --students 200000 --sizes 50000   # SQLite, quicker

For each size (``--sizes``, default 50,000 and 200,000, then ``--students``) a district is
generated into the sandbox (``sandbox.generator``: multi-role adults, contacts, co-teachers,
about 5 enrollments per student), then each phase runs in a fresh process, so that its peak
RSS is its own:

- ``fetch_only``: every page of every collection downloaded and parsed, nothing stored;
- ``full_sync``: ``run_sync(kind="full")`` into an empty mirror;
- ``resync``: the same again, nothing changed;
- ``burst`` (not timed): changes made in the sandbox, each one event: 1% of the students
  renamed, and in 0.5% of the sections one student moved to another section;
- ``events``: ``run_sync(kind="incremental")`` applies that burst through the guard;
- ``purge``: ``purge_district_roster`` (set-based), then the sandbox district is deleted.

The sandbox (the local Clever) serves over real HTTP from its own process (gunicorn, one
worker), so a phase's RSS and CPU are the sync's, not the server's, as with the real Clever.
The district is not linked to an organization (no product accounts): the figures are the
mirror's, as in ``sync_bench``. The last line is the summary: ``full_sync_s``, ``resync_s``,
``events_apply_s`` at the largest size; ``peak_rss_mb_<size>`` (the largest of any phase at
that size, fetch included); ``rss_growth_50k_to_1m`` (largest size over the smallest);
``per_student_ratio_1m_vs_50k`` (full-sync seconds per student, largest over smallest).
Targets (issue #20): peak RSS under 250 MB at every size, growth under 10%, the 1,000,000
full sync under 15 minutes, the per-student ratio at most 1.3. Never part of the test run.
"""

import argparse
import json
import os
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from contextlib import contextmanager

from benchdb import ROOT
from sync_bench import PHASES as SYNC_PHASES
from sync_bench import Timed, emit, our_district, run_phase, run_phases

RENAMED_SHARE = 0.01
MOVED_SECTIONS_SHARE = 0.005


def phase_burst(args) -> None:
    """Changes in the sandbox, one event each (what a busy morning in a big district sends)."""
    from sandbox.models import RecordType, SandboxRecord
    from sandbox.services import rec_loads, update_records

    rng = random.Random(args.seed)
    records = SandboxRecord.objects.filter(district_id=args.district)
    students = list(
        records.filter(record_type=RecordType.USERS, is_student=True).values_list("clever_id", flat=True)
    )
    renamed = rng.sample(students, max(1, int(len(students) * RENAMED_SHARE)))
    started = time.perf_counter()
    changes = {
        clever_id: {"name": {"first": f"Renamed{n}", "last": "Student"}}
        for n, clever_id in enumerate(renamed)
    }
    section_ids = list(records.filter(record_type=RecordType.SECTIONS).values_list("clever_id", flat=True))
    moved = rng.sample(section_ids, max(2, int(len(section_ids) * MOVED_SECTIONS_SHARE)) // 2 * 2)
    sections = {row.clever_id: rec_loads(row) for row in records.filter(clever_id__in=moved)}
    for source, target in zip(moved[::2], moved[1::2], strict=True):
        leaving = sections[source]["students"][0]
        changes[source] = {"students": sections[source]["students"][1:]}
        changes[target] = {"students": [*sections[target]["students"], leaving]}
    updated = update_records(changes=changes)
    emit("burst", seconds=round(time.perf_counter() - started, 2), events=len(updated))


def phase_events(args) -> None:
    from clever.client import CleverClient
    from rostering.services.sync import run_sync

    district = our_district(args.district)
    with CleverClient() as client, Timed() as timed:
        run = run_sync(district=district, kind="incremental", client=client)
    if run.status != "succeeded" or run.kind != "incremental":
        raise SystemExit(f"events: the run ended {run.status} ({run.kind}): {run.error}")
    emit("events", **timed.figures(), counts=run.counts, events=run.checkpoint.get("events"))


def phase_purge(args) -> None:
    """The district's mirror purged (set-based, timed), then the district itself deleted
    (``districts.services.delete_district``), then its sandbox copy."""
    from districts.services import delete_district
    from rostering.services.lifecycle import purge_district_roster
    from sandbox import services as sandbox_services
    from sandbox.models import SandboxDistrict

    district = our_district(args.district)
    with Timed() as timed:
        result = purge_district_roster(district=district, actor_label="bench")
    started = time.perf_counter()
    delete_district(district=district)
    deleted_s = round(time.perf_counter() - started, 2)
    started = time.perf_counter()
    sandbox_services.delete_district(district=SandboxDistrict.objects.get(id=args.district))
    emit(
        "purge",
        **timed.figures(),
        deleted={key: value for key, value in result.items() if isinstance(value, int)},
        district_delete_s=deleted_s,
        sandbox_delete_s=round(time.perf_counter() - started, 2),
    )


PHASES = {
    "seed": SYNC_PHASES["seed"],
    "fetch_only": SYNC_PHASES["fetch_only"],
    "full_sync": SYNC_PHASES["full_sync"],
    "resync": SYNC_PHASES["resync"],
    "burst": phase_burst,
    "events": phase_events,
    "purge": phase_purge,
}
MEASURED = ("fetch_only", "full_sync", "resync", "events", "purge")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def sandbox_server(env: dict, log_dir: str):
    """The app (which mounts the sandbox at ``/sandbox``) served by gunicorn in its own process;
    yields the sandbox's base URL."""
    port = free_port()
    log = open(os.path.join(log_dir, "sandbox-server.log"), "w")  # noqa: SIM115 - closed below
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "config.wsgi:application",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            "1",
            "--timeout",
            "900",
        ],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}/sandbox"
    try:
        for _ in range(300):
            try:
                urllib.request.urlopen(f"{base}/oauth/certs", timeout=2).read()
                break
            except OSError:
                if server.poll() is not None:
                    raise SystemExit(f"the sandbox server exited; see {log.name}") from None
                time.sleep(0.2)
        yield base
    finally:
        server.terminate()
        server.wait(timeout=30)
        log.close()


def label(size: int) -> str:
    return f"{size // 1_000_000}m" if size % 1_000_000 == 0 else f"{size // 1000}k"


def measure_size(args, env: dict, size: int, seed: int) -> dict:
    def phase(name: str, **extra) -> dict:
        return run_phase(name, args, env, script=__file__, seed=seed, **extra)

    district = phase("seed", students=size)["district"]
    phases = {name: phase(name, district=district) for name in ("fetch_only", "full_sync", "resync")}
    phase("burst", district=district)
    phases["events"] = phase("events", district=district)
    phases["purge"] = phase("purge", district=district)
    return {
        "students": size,
        "peak_rss_mb": max(phases[phase]["peak_rss_mb"] for phase in MEASURED),
        **{f"{phase}_s": phases[phase]["seconds"] for phase in MEASURED},
        **{f"{phase}_cpu_s": phases[phase]["cpu_s"] for phase in MEASURED},
        **{f"{phase}_db_cpu_s": phases[phase]["db_cpu_s"] for phase in MEASURED},
        **{f"{phase}_rss_mb": phases[phase]["peak_rss_mb"] for phase in MEASURED},
        "events": phases["events"].get("events"),
    }


def seconds_per_student(result: dict) -> float:
    return result["full_sync_s"] / result["students"]


def orchestrate(args) -> None:
    tmpdir = tempfile.mkdtemp(prefix="scale-bench-")
    env = dict(os.environ)
    env.setdefault("DATABASE_URL", f"sqlite:///{tmpdir}/bench.sqlite3")
    env.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    env.setdefault("LOG_LEVEL", "WARNING")
    env["CLEVER_SANDBOX"] = "true"
    sizes = sorted({*args.sizes, args.students})
    try:
        subprocess.run([sys.executable, str(ROOT / "manage.py"), "migrate", "-v0"], env=env, check=True)
        with sandbox_server(env, tmpdir) as base:
            env.update(CLEVER_OAUTH_BASE=base, CLEVER_API_BASE=base, CLEVER_HTTP_ADAPTER="")
            results = [measure_size(args, env, size, args.seed + n) for n, size in enumerate(sizes)]
        for result in results:
            print(json.dumps({"phase": "size", **result}), flush=True)
        smallest, largest = results[0], results[-1]
        summary = {
            "database": "postgresql" if "postgres" in env["DATABASE_URL"] else "sqlite",
            "students": largest["students"],
            "full_sync_s": largest["full_sync_s"],
            "resync_s": largest["resync_s"],
            "events_apply_s": largest["events_s"],
            "events": largest["events"],
            "fetch_only_s": largest["fetch_only_s"],
            "purge_s": largest["purge_s"],
            **{f"peak_rss_mb_{label(result['students'])}": result["peak_rss_mb"] for result in results},
            f"rss_growth_{label(smallest['students'])}_to_{label(largest['students'])}": round(
                largest["peak_rss_mb"] / smallest["peak_rss_mb"] - 1, 3
            ),
            f"per_student_ratio_{label(largest['students'])}_vs_{label(smallest['students'])}": round(
                (largest["full_sync_s"] / largest["students"])
                / (smallest["full_sync_s"] / smallest["students"]),
                2,
            ),
            "full_vs_fetch": round(largest["full_sync_s"] / largest["fetch_only_s"], 2),
            "sizes": results,
        }
        print(json.dumps(summary), flush=True)
    finally:
        shutil.rmtree(tmpdir, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=1_000_000)
    parser.add_argument("--sizes", type=int, nargs="*", default=[50_000, 200_000])
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--page-size", type=int, default=10_000)
    run_phases(parser, PHASES, orchestrate)


if __name__ == "__main__":
    main()
