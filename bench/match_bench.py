"""The matching engine against a Matchmaker-like cascade on a seeded synthetic district.

    .venv/bin/python bench/match_bench.py [--students 5000 50000] [--seed 7]
                                          [--product-sis-id-share 0.25]
                                          [--product-teacher-school-share 1.0]

For each size, a district of N students is generated with Faker's weighted US name lists
(so "Smith" is common and "hot blocks" exist), and a product-side copy of it is corrupted at
these rates (each drawn independently per product record unless said otherwise):

| corruption | rate | how |
|---|---|---|
| nickname first name | 8% | a nickname from the ``nicknames`` table (william -> bill) |
| one-letter typo | 3% | one letter substituted, dropped, doubled or transposed in the first or last name |
| dob missing | 10% | on the product side |
| student email missing | 60% | on each side independently (young students often have none) |
| sis_id changed | 2% | of product records carrying one: an old id the new SIS no longer knows |
| duplicates in the product | 2% | a second product account for the same student, corrupted on its own |
| product-only | 8% | students who left: only in the product |
| Clever-only | 8% | new students: only in Clever |
| grade rollover | 20% | the product still shows last year's grade |
| first and last name swapped | 0.5% | on the product side |

Added to the issue's table, because they are what makes automatic links wrong in real districts:

| trait | rate | how |
|---|---|---|
| twins | 1.5% | same last name, date of birth, grade and school as the student before; another first name |
| wrong sis_id | 0.5% | of product records carrying one: another student's id (a typing error) |

Teachers come along, one per 15 students (no date of birth or grade; a district email in
Clever; in the product the same email 75%, a personal one 15%, none 10%), with the same name
corruptions, duplicates and product-only / Clever-only rates; they are matched in the same run
and measured separately.

Not in the issue's table, so a flag: ``--product-sis-id-share`` (default 25%) is the share of
product accounts that carry the SIS id at all (accounts created from an earlier roster upload;
self-signups have none). When every product account carries a valid SIS id, an exact SIS id
cascade already links almost everything and there is nothing left to beat.
``--product-teacher-school-share`` (default 100%) is the share of product teacher accounts that
know their school: a teacher account without one, no SIS id and no date of birth agrees with
Clever on names and the email alone, which never makes an automatic link (issue #12), and
``review_name_email_only`` counts the REVIEW items held for that reason.

Measured per size: precision and recall of the engine's AUTO links (recall over people
present on both sides; a link from either of a person's duplicate accounts counts), the same
recall for the baseline (exact sis_id, then exact email, then exact first + last + dob, each
only when it picks a single Clever record, case and spaces ignored), the review queue (REVIEW
and DUPLICATE results) as a share of product records, and the engine's wall time from raw
records to results (model estimation included; also its CPU time, which other work on a shared
machine does not inflate). Prints a JSON line per size, then the district
benchmark's line (bench/district_match_bench.py, run in this process), then one last line:
``{"precision_auto", "recall_auto", "baseline_recall_auto", "review_share", "seconds_5k",
"seconds_50k", "peak_rss_mb", ...}`` (figures of the largest size; precision and recall are the
students', the teachers' carry a ``teacher_`` prefix). Never part of the test run.
"""

import argparse
import json
import random
import resource
import sys
import time
from collections import Counter
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from district_match_bench import run as run_district_bench  # noqa: E402
from faker import Faker  # noqa: E402
from faker.providers.person.en_US import Provider as UsNames  # noqa: E402
from nicknames import NickNamer  # noqa: E402

from matching.engine import Decision, MatchParams, PersonRecord, Role, match_people  # noqa: E402
from matching.engine.people import REASON_NAME_EMAIL_ONLY  # noqa: E402

RATES = {
    "nickname": 0.08,
    "typo": 0.03,
    "dob_missing": 0.10,
    "student_email_missing": 0.60,
    "sis_id_changed": 0.02,
    "product_duplicate": 0.02,
    "product_only": 0.08,
    "clever_only": 0.08,
    "grade_rollover": 0.20,
    "names_swapped": 0.005,
    "twin": 0.015,
    "wrong_sis_id": 0.005,
}
STUDENTS_PER_SCHOOL = 600
STUDENTS_PER_TEACHER = 15
# Where the product's teacher accounts got their email (the rest have none).
TEACHER_EMAIL = {"district": 0.75, "personal": 0.15}
TEACHER_PERSON_OFFSET = 10_000_000
SCHOOL_YEAR_END = 2026


def peak_rss_mb() -> float:
    # ru_maxrss is in kilobytes on Linux.
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


class District:
    """The truth: students, their Clever records and their (corrupted) product accounts."""

    def __init__(
        self, students: int, seed: int, product_sis_id_share: float, product_teacher_school_share: float = 1.0
    ) -> None:
        self.rng = random.Random(seed)
        self.product_teacher_school_share = product_teacher_school_share
        self.faker = Faker("en_US")
        self.faker.seed_instance(seed)
        self.product_sis_id_share = product_sis_id_share
        self.nicknames = {name: sorted(nicks) for name, nicks in NickNamer().nickname_lookup.items()}
        self.clever: list[PersonRecord] = []
        self.product: list[PersonRecord] = []
        self.person_of: dict[str, int] = {}
        self.teacher_keys: set[str] = set()
        self._generate(students)

    def _names(self, pool: dict[str, float], count: int) -> list[str]:
        return self.rng.choices(list(pool), weights=list(pool.values()), k=count)

    def _generate(self, students: int) -> None:
        rng = self.rng
        total = round(students / (1 - RATES["product_only"]))
        firsts = self._names(UsNames.first_names_female, total // 2) + self._names(
            UsNames.first_names_male, total - total // 2
        )
        rng.shuffle(firsts)
        lasts = self._names(UsNames.last_names, total)
        sis_ids = rng.sample(range(100_000, 10_000_000), 2 * total)
        numbers = rng.sample(range(1_000_000, 99_999_999), total)
        schools = max(1, students // STUDENTS_PER_SCHOOL)
        domain = self.faker.domain_name()
        truth: dict = {}
        for person in range(total):
            grade = rng.randint(0, 12)
            dob = date(SCHOOL_YEAR_END - 7 - grade, 9, 1) + timedelta(days=rng.randint(0, 364))
            school = f"school-{(grade * schools // 13 + rng.randrange(max(1, schools // 3))) % schools}"
            last = lasts[person]
            # Parents do not give twins the same first name.
            if truth and firsts[person] != truth["first"] and rng.random() < RATES["twin"]:
                last, dob, grade, school = truth["last"], truth["dob"], truth["grade"], truth["school"]
            truth = {
                "first": firsts[person],
                "last": last,
                "dob": dob,
                "grade": grade,
                "sis_id": str(sis_ids[person]),
                "number": str(numbers[person]),
                "email": f"{firsts[person]}.{last}{person}@{domain}".lower(),
                "school": school,
            }
            where = rng.random()
            if where >= RATES["product_only"]:
                self._add_clever(person, truth)
            if where < RATES["product_only"] or rng.random() >= RATES["clever_only"]:
                self._add_product(person, truth, old_sis_id=str(sis_ids[total + person]))
                if rng.random() < RATES["product_duplicate"]:
                    self._add_product(person, truth, old_sis_id=str(sis_ids[total + person]))
        self._generate_teachers(students // STUDENTS_PER_TEACHER, schools, domain)

    def _add_clever(self, person: int, truth: dict) -> None:
        key = f"c{person}"
        self.person_of[key] = person
        self.clever.append(
            PersonRecord(
                key=key,
                roles=frozenset({Role.STUDENT}),
                first_name=truth["first"],
                last_name=truth["last"],
                email="" if self.rng.random() < RATES["student_email_missing"] else truth["email"],
                dob=truth["dob"],
                grade=str(truth["grade"]) if truth["grade"] else "Kindergarten",
                sis_id=truth["sis_id"],
                number=truth["number"],
                schools=frozenset({truth["school"]}),
            )
        )

    def _add_product(self, person: int, truth: dict, *, old_sis_id: str) -> None:
        rng = self.rng
        key = f"p{len(self.product)}"
        self.person_of[key] = person
        first, last = self._corrupted_names(truth)
        sis_id = ""
        if rng.random() < self.product_sis_id_share:
            sis_id = old_sis_id if rng.random() < RATES["sis_id_changed"] else truth["sis_id"]
            if rng.random() < RATES["wrong_sis_id"]:
                sis_id = rng.choice(self.clever).sis_id if self.clever else sis_id
        grade = truth["grade"] - 1 if rng.random() < RATES["grade_rollover"] else truth["grade"]
        self.product.append(
            PersonRecord(
                key=key,
                roles=frozenset({Role.STUDENT}),
                first_name=first,
                last_name=last,
                email="" if rng.random() < RATES["student_email_missing"] else truth["email"],
                dob=None if rng.random() < RATES["dob_missing"] else truth["dob"],
                grade="PreKindergarten" if grade < 0 else str(grade),
                sis_id=sis_id,
                schools=frozenset({truth["school"]}),
            )
        )

    def _corrupted_names(self, truth: dict) -> tuple[str, str]:
        rng = self.rng
        first, last = truth["first"], truth["last"]
        nicknames = self.nicknames.get(first.lower())
        if nicknames and rng.random() < RATES["nickname"]:
            first = rng.choice(nicknames).title()
        if rng.random() < RATES["typo"]:
            if rng.random() < 0.5:
                first = self._typo(first)
            else:
                last = self._typo(last)
        if rng.random() < RATES["names_swapped"]:
            first, last = last, first
        return first, last

    def _generate_teachers(self, count: int, schools: int, domain: str) -> None:
        """Teachers: no date of birth or grade; a district email in Clever, in the product the
        same one, a personal one or none."""
        rng = self.rng
        total = round(count / (1 - RATES["product_only"]))
        firsts = self._names({**UsNames.first_names_female, **UsNames.first_names_male}, total)
        lasts = self._names(UsNames.last_names, total)
        ids = rng.sample(range(10_000, 999_999), 2 * total)
        for index in range(total):
            person = TEACHER_PERSON_OFFSET + index
            first, last = firsts[index], lasts[index]
            truth = {
                "first": first,
                "last": last,
                "sis_id": f"T{ids[index]}",
                "email": f"{first}.{last}{index}@{domain}".lower(),
                "school": f"school-{rng.randrange(schools)}",
            }
            where = rng.random()
            if where >= RATES["product_only"]:
                self._add_clever_teacher(person, truth)
            if where < RATES["product_only"] or rng.random() >= RATES["clever_only"]:
                for _copy in range(2 if rng.random() < RATES["product_duplicate"] else 1):
                    self._add_product_teacher(person, truth, old_sis_id=f"T{ids[total + index]}")

    def _add_clever_teacher(self, person: int, truth: dict) -> None:
        key = f"ct{person}"
        self.person_of[key] = person
        self.teacher_keys.add(key)
        self.clever.append(
            PersonRecord(
                key=key,
                roles=frozenset({Role.TEACHER}),
                first_name=truth["first"],
                last_name=truth["last"],
                email=truth["email"],
                sis_id=truth["sis_id"],
                schools=frozenset({truth["school"]}),
            )
        )

    def _add_product_teacher(self, person: int, truth: dict, *, old_sis_id: str) -> None:
        rng = self.rng
        key = f"pt{len(self.product)}"
        self.person_of[key] = person
        self.teacher_keys.add(key)
        first, last = self._corrupted_names(truth)
        sis_id = ""
        if rng.random() < self.product_sis_id_share:
            sis_id = old_sis_id if rng.random() < RATES["sis_id_changed"] else truth["sis_id"]
        email_kind = rng.random()
        email = truth["email"]
        if email_kind >= TEACHER_EMAIL["district"]:
            personal = email_kind < TEACHER_EMAIL["district"] + TEACHER_EMAIL["personal"]
            email = (
                f"{truth['first']}{truth['last']}{rng.randrange(100)}@gmail.com".lower() if personal else ""
            )
        self.product.append(
            PersonRecord(
                key=key,
                roles=frozenset({Role.TEACHER}),
                first_name=first,
                last_name=last,
                email=email,
                sis_id=sis_id,
                schools=frozenset({truth["school"]}) if self._teacher_has_school() else frozenset(),
            )
        )

    def _teacher_has_school(self) -> bool:
        # No draw at the default share, so the default district is the same as before the flag.
        share = self.product_teacher_school_share
        return share >= 1.0 or self.rng.random() < share

    def _typo(self, name: str) -> str:
        rng = self.rng
        if len(name) < 3:
            return name + "e"
        at = rng.randrange(1, len(name) - 1)
        kind = rng.randrange(4)
        if kind == 0:
            return name[:at] + rng.choice("aeiourstnl") + name[at + 1 :]
        if kind == 1:
            return name[:at] + name[at + 1 :]
        if kind == 2:
            return name[:at] + name[at] + name[at:]
        return name[:at] + name[at + 1] + name[at] + name[at + 2 :]


def baseline_links(product: list[PersonRecord], clever: list[PersonRecord]) -> dict[str, str]:
    """Matchmaker-like: exact sis_id, then exact email, then exact first + last + dob."""

    def clean(value: str) -> str:
        return " ".join(value.lower().split())

    def unique_index(key_of) -> dict:
        index: dict = {}
        for record in clever:
            key = key_of(record)
            if key:
                index[key] = None if key in index else record.key
        return index

    rules = [
        lambda record: clean(record.sis_id),
        lambda record: clean(record.email),
        lambda record: (
            (clean(record.first_name), clean(record.last_name), record.dob) if record.dob else None
        ),
    ]
    indexes = [unique_index(rule) for rule in rules]
    links: dict[str, str] = {}
    for record in product:
        for rule, index in zip(rules, indexes, strict=True):
            key = rule(record)
            if key and index.get(key):
                links[record.key] = index[key]
                break
    return links


def evaluate(district: District, links: dict[str, str], *, teachers: bool) -> tuple[float, float, int]:
    """Precision, recall and wrong links among the students' (or the teachers') product records."""
    person_of = district.person_of

    def counted(key: str) -> bool:
        return (key in district.teacher_keys) == teachers

    both_sides = {person_of[record.key] for record in district.clever if counted(record.key)} & {
        person_of[record.key] for record in district.product if counted(record.key)
    }
    links = {product: clever for product, clever in links.items() if counted(product)}
    correct = [product for product, clever in links.items() if person_of[product] == person_of[clever]]
    precision = len(correct) / len(links) if links else 1.0
    recall = len({person_of[product] for product in correct}) / len(both_sides)
    return precision, recall, len(links) - len(correct)


def run_size(
    students: int, seed: int, product_sis_id_share: float, product_teacher_school_share: float = 1.0
) -> dict:
    district = District(students, seed, product_sis_id_share, product_teacher_school_share)
    started, cpu_started = time.perf_counter(), time.process_time()
    results = match_people(district.product, district.clever, params=MatchParams(seed=seed))
    seconds, cpu_seconds = time.perf_counter() - started, time.process_time() - cpu_started
    product_results = [result for result in results if result.product_key is not None]
    decisions = Counter(result.decision for result in product_results)
    auto = {
        result.product_key: result.clever_key
        for result in product_results
        if result.decision is Decision.AUTO
    }
    baseline = baseline_links(district.product, district.clever)
    precision, recall, wrong = evaluate(district, auto, teachers=False)
    baseline_precision, baseline_recall, baseline_wrong = evaluate(district, baseline, teachers=False)
    teacher_precision, teacher_recall, teacher_wrong = evaluate(district, auto, teachers=True)
    _precision, teacher_baseline_recall, _wrong = evaluate(district, baseline, teachers=True)
    figures = {
        "students": students,
        "teachers": len({district.person_of[key] for key in district.teacher_keys}),
        "product_records": len(district.product),
        "clever_records": len(district.clever),
        "precision_auto": round(precision, 5),
        "wrong_auto": wrong,
        "recall_auto": round(recall, 4),
        "baseline_precision": round(baseline_precision, 5),
        "baseline_wrong": baseline_wrong,
        "baseline_recall_auto": round(baseline_recall, 4),
        "teacher_precision_auto": round(teacher_precision, 5),
        "teacher_wrong_auto": teacher_wrong,
        "teacher_recall_auto": round(teacher_recall, 4),
        "teacher_baseline_recall_auto": round(teacher_baseline_recall, 4),
        "review_share": round(
            (decisions[Decision.REVIEW] + decisions[Decision.DUPLICATE]) / len(product_results), 4
        ),
        "decisions": {decision.value: decisions[decision] for decision in Decision},
        # REVIEW items held because only names and the email agreed (no automatic link on those).
        "review_name_email_only": sum(REASON_NAME_EMAIL_ONLY in result.reasons for result in product_results),
        "seconds": round(seconds, 2),
        "cpu_seconds": round(cpu_seconds, 2),
        "peak_rss_mb": peak_rss_mb(),
    }
    print(json.dumps(figures), flush=True)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--students", type=int, nargs="+", default=[5000, 50000])
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--product-sis-id-share", type=float, default=0.25)
    parser.add_argument("--product-teacher-school-share", type=float, default=1.0)
    args = parser.parse_args()
    by_size = {
        size: run_size(size, args.seed, args.product_sis_id_share, args.product_teacher_school_share)
        for size in args.students
    }
    districts = run_district_bench(args.seed)
    print(json.dumps({"district_bench": districts}), flush=True)
    largest = by_size[max(by_size)]
    summary = {
        key: largest[key]
        for key in (
            "precision_auto",
            "recall_auto",
            "baseline_recall_auto",
            "review_share",
            "teacher_precision_auto",
            "teacher_recall_auto",
            "review_name_email_only",
        )
    }
    for size, label in ((5000, "seconds_5k"), (50000, "seconds_50k")):
        if size in by_size:
            summary[label] = by_size[size]["seconds"]
    summary.update(
        students=max(by_size),
        product_sis_id_share=args.product_sis_id_share,
        product_teacher_school_share=args.product_teacher_school_share,
        seed=args.seed,
        district_auto_links=districts["auto_links"],
        district_wrong_auto_links=districts["wrong_auto_links"],
        district_top3_accuracy=districts["top3_accuracy"],
        peak_rss_mb=peak_rss_mb(),
    )
    print(json.dumps(summary), flush=True)


if __name__ == "__main__":
    main()
