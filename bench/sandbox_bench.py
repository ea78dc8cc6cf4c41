"""How fast the local Clever serves big pages: a district of N users read at limit=10,000.

    .venv/bin/python bench/sandbox_bench.py --users 50000 [--version v3.1] [--rounds 1]

Sets Django up itself (``config.settings``) on a temporary SQLite file, or on ``DATABASE_URL``
when given (the bench district is deleted afterwards), creates the tables with ``migrate``,
bulk-loads one district of realistic users (shaped like Clever's recorded demo district: ~90%
students with demographics, teachers, staff, contacts), then follows every ``next`` link at
``limit=10000`` twice: through ``sandbox.transport.InProcessAdapter`` mounted on a
``requests.Session`` (how the app talks to the sandbox) and through Django's test ``Client``.

Fetch time and parse time are measured apart, side by side: ``serve_vs_parse`` is the time
the sandbox took to serve the pages over the time ``json.loads`` took to parse them, the least
work any client does with a page; below 1.0 the sandbox is not what limits a sync.
Prints one JSON line per transport and round (the rounds alternate transports), then a last
line with the best round's figures of the in-process transport (and of the test client):
``{"records", "pages", "pages_per_second", "records_per_second", "mb_per_second",
"serve_vs_parse", ...}``.
Never part of the test run.
"""

import argparse
import json
import os
import random
import time

from benchdb import run_on_django

PAGE_SIZE = 10_000
FIRST = [
    "Ada",
    "Ben",
    "Cy",
    "Dot",
    "Eve",
    "Fay",
    "Gus",
    "Hal",
    "Ida",
    "Jo",
    "Kai",
    "Lee",
    "Mia",
    "Ned",
    "Oli",
    "Pam",
    "Quin",
    "Rae",
    "Sam",
    "Tia",
    "Uma",
    "Vic",
    "Wes",
    "Zoe",
]
LAST = [
    "Ziemann",
    "Wisoky",
    "Lakin",
    "Greene",
    "Hopper",
    "Lovelace",
    "Turing",
    "Okafor",
    "Nguyen",
    "Garcia",
    "Smith",
    "Kowalski",
    "Haddad",
    "Ito",
    "Moreau",
    "Silva",
]
GRADES = ["Kindergarten", *[str(n) for n in range(1, 13)]]
RACES = [
    "Caucasian",
    "Asian",
    "Black or African American",
    "American Indian",
    "Hawaiian or Other Pacific Islander",
    "Two or More Races",
    "Unknown",
    "",
]


def user_records(count: int, *, district_id: str, school_ids: list[str], seed: int):
    """(record type, body) pairs of realistic v3.1 users, ids ascending."""
    from sandbox.ids import SeededIds

    rng = random.Random(seed)
    ids = SeededIds(seed, start=int(time.time()) - 86400)
    stamp = "2021-03-02T22:24:53.347Z"
    students: list[str] = []
    for n in range(count):
        uid = ids.next()
        first, last = rng.choice(FIRST), rng.choice(LAST)
        username = f"{first.lower()}{last[0].lower()}{n}"
        schools = rng.sample(school_ids, k=rng.choice((1, 1, 1, 2)))
        kind = rng.random()
        if kind < 0.90 or not students:
            role_name = "student"
            role = {
                "credentials": {"district_username": username},
                "dob": f"{rng.randint(1, 12)}/{rng.randint(1, 28)}/{rng.randint(2006, 2019)}",
                "enrollments": [],
                "gender": rng.choice("MFX"),
                "grade": rng.choice(GRADES),
                "graduation_year": "",
                "hispanic_ethnicity": rng.choice("YN"),
                "location": {"address": "", "city": "", "state": "", "zip": f"{rng.randint(10000, 99999)}"},
                "race": rng.choice(RACES),
                "school": schools[0],
                "schools": schools,
                "sis_id": str(100_000_000 + n),
                "state_id": str(rng.randint(100_000_000, 999_999_999)),
                "student_number": str(100_000_000 + n),
                "ell_status": rng.choice("YN"),
                "frl_status": rng.choice(["Free", "Reduced", "Paid", ""]),
                "iep_status": rng.choice(["Y", "N", ""]),
                "home_language": "English",
                "home_language_code": "eng",
                "gifted_status": "N",
                "section_504_status": "N",
            }
            students.append(uid)
        elif kind < 0.95:
            role_name = "teacher"
            role = {
                "credentials": {"district_username": username},
                "school": schools[0],
                "schools": schools,
                "sis_id": str(n),
                "state_id": str(rng.randint(100_000_000, 999_999_999)),
                "teacher_number": str(200_000 + n),
                "title": "Teacher",
                "legacy_id": ids.next(),
            }
        elif kind < 0.96:
            role_name = "staff"
            role = {
                "credentials": {"district_username": username},
                "schools": schools,
                "staff_id": str(n),
                "title": "Counselor",
                "department": "Guidance",
                "roles": [],
                "legacy_id": ids.next(),
            }
        else:
            role_name = "contact"
            role = {
                "phone": "",
                "phone_type": "Cell",
                "sis_id": "",
                "legacy_id": ids.next(),
                "student_relationships": [
                    {"student": rng.choice(students), "relationship": "Parent", "type": "Parent/Guardian"}
                ],
            }
        yield (
            "users",
            {
                "id": uid,
                "district": district_id,
                "created": stamp,
                "last_modified": stamp,
                "email": f"{username}@example.net",
                "name": {"first": first, "last": last, "middle": rng.choice(FIRST)[0]},
                "lms_status": {"synced_in_lms": rng.random() < 0.5},
                "roles": {role_name: role},
            },
        )


def fetch_all(get, version: str) -> dict:
    """Follow every next link from the first page; ``get(uri)`` returns (status, body bytes)."""
    uri = f"/{version}/users?limit={PAGE_SIZE}"
    pages = records = size = 0
    seconds = parse_seconds = 0.0
    last_id = ""
    while uri:
        started = time.perf_counter()
        status, content = get(uri)
        seconds += time.perf_counter() - started
        if status != 200:
            raise SystemExit(f"GET {uri} answered {status}: {content[:200]!r}")
        started = time.perf_counter()
        body = json.loads(content)
        parse_seconds += time.perf_counter() - started
        pages += 1
        records += len(body["data"])
        size += len(content)
        ids = [item["data"]["id"] for item in body["data"]]
        if ids and (ids[0] <= last_id or ids != sorted(ids)):
            raise SystemExit("records are not in ascending id order")
        last_id = ids[-1] if ids else last_id
        uri = next((link["uri"] for link in body["links"] if link["rel"] == "next"), None)
    return {
        "records": records,
        "pages": pages,
        "seconds": round(seconds, 3),
        # The least any client does with a page: parse it. Serving should cost no more.
        "parse_seconds": round(parse_seconds, 3),
        "serve_vs_parse": round(seconds / parse_seconds, 2),
        "pages_per_second": round(pages / seconds, 2),
        "records_per_second": round(records / seconds),
        "mb_per_second": round(size / 1e6 / seconds, 1),
        "mb": round(size / 1e6, 1),
    }


def best(runs: list[dict]) -> dict:
    return max(runs, key=lambda run: run["records_per_second"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=50_000)
    parser.add_argument("--version", choices=["v3.0", "v3.1"], default="v3.1")
    parser.add_argument(
        "--rounds",
        type=int,
        default=3,
        help="full passes per transport; the best one is reported (the first "
        "also pays for a cold database cache)",
    )
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()

    os.environ.setdefault("DJANGO_DEBUG", "false")
    os.environ["CLEVER_SANDBOX"] = "true"
    # A temporary database goes away whole; on a given one, the bench district is deleted.
    args.keep_nothing = bool(os.environ.get("DATABASE_URL"))
    run_on_django("sandbox-bench", run, args)


def run(args) -> dict:
    import requests
    from django.test import Client

    from sandbox import services
    from sandbox.ids import new_id
    from sandbox.transport import InProcessAdapter

    district = services.create_district(name=f"Bench district {args.users}")
    try:
        school_ids = [new_id() for _ in range(12)]
        started = time.perf_counter()
        services.bulk_load(
            district=district,
            items=[
                ("schools", {"id": sid, "district": district.id, "name": f"School {n}"})
                for n, sid in enumerate(school_ids)
            ],
        )
        loaded = services.bulk_load(
            district=district,
            items=user_records(args.users, district_id=district.id, school_ids=school_ids, seed=args.seed),
        )
        load_seconds = time.perf_counter() - started
        token = services.district_token(district).access_token
        print(json.dumps({"loaded_users": loaded, "load_seconds": round(load_seconds, 2)}), flush=True)

        session = requests.Session()
        session.mount("http://testserver", InProcessAdapter())
        session.headers["Authorization"] = f"Bearer {token}"

        def via_adapter(uri):
            response = session.get(f"http://testserver/sandbox{uri}")
            return response.status_code, response.content

        client = Client(HTTP_AUTHORIZATION=f"Bearer {token}")

        def via_client(uri):
            response = client.get(f"/sandbox{uri}")
            return response.status_code, response.content

        results = {}
        for round_number in range(1, args.rounds + 1):
            for name, get in (("in-process", via_adapter), ("test-client", via_client)):
                figures = fetch_all(get, args.version)
                if figures["records"] != args.users:
                    raise SystemExit(f"{name}: read {figures['records']} of {args.users} users")
                print(json.dumps({"transport": name, "round": round_number, **figures}), flush=True)
                results.setdefault(name, []).append(figures)
        results = {name: best(runs) for name, runs in results.items()}

        keys = (
            "records",
            "pages",
            "pages_per_second",
            "records_per_second",
            "mb_per_second",
            "serve_vs_parse",
        )
        final = {key: results["in-process"][key] for key in keys}
        final.update(
            transport="in-process",
            version=args.version,
            test_client={key: results["test-client"][key] for key in keys},
        )
        return final
    finally:
        if args.keep_nothing:
            services.delete_district(district=district)


if __name__ == "__main__":
    main()
