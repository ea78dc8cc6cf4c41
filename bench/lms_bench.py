"""LMS Connect push under a small rate limit: how close to the limit's floor the push runs.

    .venv/bin/python bench/lms_bench.py [--students 30] [--assignments 40]
                                        [--limit 60] [--window 6]

Seeds a Canvas district in the local Clever (one section of ``--students`` students), runs
district discovery and a roster sync, creates ``--assignments`` assignments in the product with
an approved auto-graded result for every student, then sets the sandbox's rate limit to
``--limit`` requests per ``--window`` seconds (``sandbox.knobs``: a window shrunk from Clever's
minute, so the bench runs in about two minutes instead of twenty) and times
``lms.services.push.push_assignments`` pushing everything: one POST per assignment and one PATCH
per grade, paced by the client against the ``X-Ratelimit-*`` headers (it waits for the window
to reset rather than earning 429s). The floor is ``requests / limit * window``: no client can
send that many requests faster. Then pushes again with nothing changed (it must send nothing).

Uses a temporary SQLite file (or ``DATABASE_URL``, whose bench rows are left behind: use a
scratch database). Prints a few progress lines, then one JSON line last:
``{"requests", "seconds", "floor_seconds", "vs_floor", ...}``. Never part of the test run.
"""

from __future__ import annotations

import argparse
import json
import time

from benchdb import run_on_django


def seed(students: int, assignments: int):
    from datetime import timedelta

    from django.utils import timezone

    from clever.client import CleverClient
    from districts.models import District
    from districts.services import discover_districts
    from lms.factories import AssignmentFactory, ResultFactory
    from rostering.models import Person, Section
    from rostering.services.sync import run_sync
    from sandbox import services as sbx
    from sandbox.ids import new_id

    sbx.get_application()
    sandbox_district = sbx.create_district(name="LMS bench district", lms_type="canvas")
    school_id, teacher_id, section_id = new_id(), new_id(), new_id()
    student_ids = [new_id() for _ in range(students)]
    items = [
        ("schools", {"id": school_id, "name": "Bench Middle"}),
        (
            "users",
            {
                "id": teacher_id,
                "name": {"first": "Bench", "last": "Teacher"},
                "roles": {"teacher": {"school": school_id, "schools": [school_id]}},
            },
        ),
    ]
    items += [
        (
            "users",
            {
                "id": sid,
                "name": {"first": f"S{n}", "last": "Bench"},
                "roles": {"student": {"school": school_id, "schools": [school_id]}},
            },
        )
        for n, sid in enumerate(student_ids)
    ]
    items.append(
        (
            "sections",
            {
                "id": section_id,
                "name": "Bench section",
                "school": school_id,
                "students": student_ids,
                "teachers": [teacher_id],
                "lms_status": {"synced_in_lms": True},
            },
        )
    )
    sbx.bulk_load(district=sandbox_district, items=items)
    with CleverClient() as client:
        discover_districts(client=client)
        district = District.objects.get(clever_id=sandbox_district.id)
        run = run_sync(district=district, kind="full", client=client)
    if run.status != "succeeded":
        raise SystemExit(f"roster sync failed: {run.error}")
    section = Section.objects.get(district=district, clever_id=section_id)
    people = list(Person.objects.filter(district=district, is_student=True).order_by("clever_id"))
    ids = []
    for a in range(assignments):
        assignment = AssignmentFactory(
            section=section, title=f"Bench quiz {a + 1}", due_at=timezone.now() + timedelta(days=7 + a)
        )
        for n, person in enumerate(people):
            ResultFactory(assignment=assignment, student=person, points=float((a + n) % 11))
        ids.append(assignment.pk)
    return ids, len(people)


def run(args) -> dict:
    from lms.services.push import push_assignments
    from sandbox.knobs import KNOBS

    started = time.perf_counter()
    assignment_ids, students = seed(args.students, args.assignments)
    print(
        json.dumps(
            {
                "phase": "seed",
                "assignments": len(assignment_ids),
                "students": students,
                "seconds": round(time.perf_counter() - started, 2),
            }
        ),
        flush=True,
    )

    KNOBS.reset()  # forget the setup's requests in the current window
    KNOBS.rate_limit_per_minute = args.limit
    KNOBS.rate_window_seconds = args.window
    served_before = KNOBS.api_requests
    started = time.perf_counter()
    reports = push_assignments(assignment_ids=assignment_ids)
    seconds = time.perf_counter() - started
    requests = sum(r.requests for r in reports)
    outcomes = sorted({r.outcome for r in reports})
    sent = sum(r.sent for r in reports)
    print(
        json.dumps(
            {
                "phase": "push",
                "requests": requests,
                "served": KNOBS.api_requests - served_before,
                "created": sum(r.created for r in reports),
                "grades_sent": sent,
                "rate_limited": sum(r.rate_limited for r in reports),
                "outcomes": outcomes,
                "seconds": round(seconds, 2),
            }
        ),
        flush=True,
    )

    again = push_assignments(assignment_ids=assignment_ids)
    floor = requests / args.limit * args.window
    return {
        "requests": requests,
        "seconds": round(seconds, 2),
        "floor_seconds": round(floor, 2),
        "vs_floor": round(seconds / floor, 3),
        "limit": args.limit,
        "window_seconds": args.window,
        "assignments": len(assignment_ids),
        "students": students,
        "grades_sent": sent,
        "rate_limited": sum(r.rate_limited for r in reports),
        "repush_requests": sum(r.requests for r in again),
        "ok": outcomes == ["ok"] and sent == len(assignment_ids) * students,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=30)
    parser.add_argument("--assignments", type=int, default=40)
    parser.add_argument("--limit", type=int, default=60, help="requests per window")
    parser.add_argument("--window", type=float, default=6.0, help="rate-limit window, seconds")
    args = parser.parse_args()
    run_on_django("lms-bench", run, args)


if __name__ == "__main__":
    main()
