"""District -> organization linking on a seeded synthetic market of 500 organizations and 500 districts.

    .venv/bin/python bench/district_match_bench.py [--seed 7]

The truth: 450 districts belong to one organization each; 50 districts and 50 organizations have
no counterpart. Names come from Faker cities, with a share of towns whose name recurs in other
states and in the same state (a city and a county district), and with the organization's name
written differently ("Springfield Public Schools" vs "Springfield R-XII School District").

| trait | rate |
|---|---|
| Clever district carries its NCES LEAID | 60% |
| Clever district carries its MDR number | 40% |
| organization recorded its NCES LEAID | 40% |
| organization recorded its MDR number | 30% |
| organization's recorded LEAID has a typo (one digit) | 2% |
| district staff mostly on a district domain (else free mail) | 70% |
| organization registered that domain | 80% |
| organization's people logged in from the district (1-20 people) | 30% |
| a stray login from another organization's person (moved teacher) | 5% |
| verified "Log in with Clever" round trip | 10% |
| organization named unlike its district (a rename, a network) | 10% |
| same-named district in another state | 15% |
| a second same-named district in the same state | 5% |

Prints one JSON line: ``{"districts", "organizations", "auto_links", "wrong_auto_links",
"top1_accuracy", "top3_accuracy", "seconds"}``; accuracies are over districts that have an
organization. Never part of the test run.
"""

import argparse
import json
import random
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from faker import Faker  # noqa: E402

from matching.engine.districts import (  # noqa: E402
    STATE_FIPS,
    DistrictRecord,
    OrganizationRecord,
    rank_organizations,
)

DISTRICT_SUFFIXES = (
    "School District",
    "Unified School District",
    "Public Schools",
    "ISD",
    "R-XII School District",
)
ORGANIZATION_SUFFIXES = ("Public Schools", "Schools", "School District", "USD", "District")
STATES = sorted(set(STATE_FIPS) - {"AS", "GU", "MP", "PR", "VI"})


def synthetic_market(seed: int, districts: int = 500, organizations: int = 500, shared: int = 450):
    rng = random.Random(seed)
    faker = Faker("en_US")
    faker.seed_instance(seed)
    towns: list[tuple[str, str]] = []
    while len(towns) < districts:
        city, state = faker.unique.city(), rng.choice(STATES)
        towns.append((city, state))
        if rng.random() < 0.15 and len(towns) < districts:
            towns.append((city, rng.choice([other for other in STATES if other != state])))
        if rng.random() < 0.05 and len(towns) < districts:
            towns.append((f"{city} County", state))
    leaids = rng.sample(range(10_000, 99_999), districts)
    mdrs = rng.sample(range(1_000_000, 9_999_999), districts)
    district_records, organization_records, truth = [], [], {}
    sso_logins: dict[tuple[str, str], int] = {}
    round_trips = set()
    for index, (town, state) in enumerate(towns):
        leaid = f"{STATE_FIPS[state]}{leaids[index]:05d}"
        mdr = str(mdrs[index])
        domain = f"{town.lower().replace(' ', '')}{rng.choice(['k12', 'schools', 'sd', ''])}.org"
        on_domain = rng.random() < 0.7
        staff_domains = (
            {domain: rng.randint(20, 400), "gmail.com": rng.randint(0, 30)}
            if on_domain
            else {"gmail.com": rng.randint(20, 200), "yahoo.com": rng.randint(0, 40)}
        )
        district_key = f"d{index}"
        district_records.append(
            DistrictRecord(
                key=district_key,
                name=f"{town} {rng.choice(DISTRICT_SUFFIXES)}",
                state=state,
                nces_id=leaid if rng.random() < 0.6 else "",
                mdr_number=mdr if rng.random() < 0.4 else "",
                staff_email_domains=staff_domains,
            )
        )
        if index >= shared:
            continue
        organization_key = f"o{index}"
        truth[district_key] = organization_key
        recorded_leaid = ""
        if rng.random() < 0.4:
            recorded_leaid = leaid
            if rng.random() < 0.02:
                position = rng.randrange(2, 7)
                recorded_leaid = (
                    leaid[:position] + str((int(leaid[position]) + 1) % 10) + leaid[position + 1 :]
                )
        organization_records.append(
            OrganizationRecord(
                key=organization_key,
                name=faker.company() if rng.random() < 0.1 else f"{town} {rng.choice(ORGANIZATION_SUFFIXES)}",
                state=state,
                nces_leaid=recorded_leaid,
                mdr_number=mdr if rng.random() < 0.3 else "",
                email_domains=frozenset({domain}) if on_domain and rng.random() < 0.8 else frozenset(),
            )
        )
        if rng.random() < 0.3:
            sso_logins[(district_key, organization_key)] = rng.randint(1, 20)
        if rng.random() < 0.1:
            round_trips.add((district_key, organization_key))
    for index in range(shared, organizations):
        town, state = faker.unique.city(), rng.choice(STATES)
        organization_records.append(
            OrganizationRecord(
                key=f"o{index}", name=f"{town} {rng.choice(ORGANIZATION_SUFFIXES)}", state=state
            )
        )
    for district in district_records:
        if rng.random() < 0.05:
            stray = rng.choice(organization_records).key
            sso_logins.setdefault((district.key, stray), 1)
    return district_records, organization_records, truth, sso_logins, round_trips


def run(seed: int) -> dict:
    districts, organizations, truth, sso_logins, round_trips = synthetic_market(seed)
    started = time.perf_counter()
    matches = rank_organizations(
        districts, organizations, sso_logins=sso_logins, verified_round_trips=round_trips
    )
    seconds = time.perf_counter() - started
    auto = {
        match.district_key: match.linked_organization_key
        for match in matches
        if match.linked_organization_key
    }
    wrong = sum(1 for district, organization in auto.items() if truth.get(district) != organization)
    ranked = {match.district_key: [c.organization_key for c in match.candidates] for match in matches}
    top1 = sum(1 for district, organization in truth.items() if ranked[district][:1] == [organization])
    top3 = sum(1 for district, organization in truth.items() if organization in ranked[district][:3])
    return {
        "districts": len(districts),
        "organizations": len(organizations),
        "auto_links": len(auto),
        "wrong_auto_links": wrong,
        "top1_accuracy": round(top1 / len(truth), 4),
        "top3_accuracy": round(top3 / len(truth), 4),
        "seconds": round(seconds, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seed", type=int, default=7)
    print(json.dumps(run(parser.parse_args().seed)), flush=True)


if __name__ == "__main__":
    main()
