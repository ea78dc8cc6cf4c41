"""A district's lifecycle at scale: departure, return and purge against the full sync, side by
side in one run (docs/data-lifecycle.md).

    .venv/bin/python bench/lifecycle_bench.py --students 50000 [--baseline-students 10000]
                                              [--signed-in 0.2] [--log-entries 300]

Generates a sandbox district (``sandbox.generator``, as ``bench/sync_bench.py`` does: 50,000
students come with about 97,000 people), links it to an organization of its own, so that the
sync provisions one product account per person, and times, each phase in a fresh process so its
peak RSS is its own:

- ``full_sync``: ``run_sync(kind="full")`` into an empty mirror, accounts included: the
  reference the other phases are measured against (``sync_bench.phase_sync``);
- ``departure``: ``districts.services.set_status(..., DISCONNECTED)``, whose transaction
  archives the mirror and deactivates the accounts;
- ``return``: ``set_status(..., CONNECTED)``, which restores the same rows and reactivates them;
- ``plant`` (not timed): what a year of sign-ins leaves, bulk-created: for ``--signed-in`` of
  the people (default 20%) a Clever sign-in link (allauth ``SocialAccount``, provider "clever",
  uid the Clever ID, ``extra_data`` as ``sso.identity.CleverIdentity.extra_data()`` with name
  and email), its ``sso.AccountLink`` audit and one ``sso.CleverLogin``; and ``--log-entries``
  rows of the Django admin's history (``LogEntry``) naming people and their accounts;
- ``departure_again``: the second departure, the same as the first;
- ``purge``: ``rostering.services.lifecycle.purge_district_roster``.

Each phase checks its outcome with a few counts once timed (live people and active accounts,
Person rows left, Clever links still holding a name or an email, admin history still naming
someone) and the bench stops with the counts when one is wrong. Then the same cycle runs on a
district of ``--baseline-students`` (default 10,000), for how peak RSS grows with the district's
size.

Uses a temporary SQLite file, or ``DATABASE_URL`` (then the bench's districts, organizations and
accounts are deleted afterwards: use a database of its own). ``DJANGO_DEBUG`` defaults to false
in the phases, as in production: with it on, Django keeps the text of the last 9,000 statements,
which a memory measurement would count. Prints a JSON line per phase (``seconds``, ``cpu_s``,
``db_cpu_s`` as in ``sync_bench``, ``peak_rss_mb``, the counts checked), then one last line:
the seconds and peak RSS of each phase, ``departure_vs_full_sync``, ``return_vs_full_sync``,
``purge_vs_full_sync`` (and their CPU counterparts, process + server), and ``rss_growth_purge``,
the purge's peak RSS over the baseline's purge, minus one.
Never part of the test run.
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

import sync_bench
from sync_bench import ROOT, Timed, emit, our_district, phase_sync, run_phases, work_seconds

BENCH_USERNAME = "lifecycle-bench-support"
CYCLE = ("full_sync", "departure", "return", "plant", "departure_again", "purge")
ROLE_FLAGS = (
    ("student", "is_student"),
    ("teacher", "is_teacher"),
    ("staff", "is_staff"),
    ("district_admin", "is_district_admin"),
    ("contact", "is_contact"),
)


def fail(phase: str, message: str, **counts) -> None:
    raise SystemExit(f"{phase}: {message}: {json.dumps(counts, default=str)}")


def census(district) -> dict:
    """Counts that say where the district stands: its people, live or archived, and the
    accounts of its people, active or not."""
    from django.contrib.auth import get_user_model

    from rostering.models import Person, Section

    people = Person.objects.filter(district=district)
    accounts = get_user_model().objects.filter(pk__in=people.filter(user__isnull=False).values("user_id"))
    return {
        "people": people.count(),
        "live_people": people.filter(archived_at__isnull=True).count(),
        "people_with_accounts": people.filter(user__isnull=False).count(),
        "active_accounts": accounts.filter(is_active=True).count(),
        "live_sections": Section.objects.filter(district=district, archived_at__isnull=True).count(),
    }


def phase_seed(args) -> None:
    """A generated district, as ``sync_bench.phase_seed`` makes it, linked to an organization."""
    from django.utils import timezone

    from accounts.models import Organization
    from districts.models import District, LinkMethod
    from sandbox.generator.districts import generate_district, load_district

    started = time.perf_counter()
    generated = generate_district(seed=args.seed, students=args.students)
    district = load_district(generated)
    organization = Organization.objects.create(name=f"Lifecycle bench {district.id}")
    District.objects.create(
        clever_id=district.id,
        name=district.name,
        organization=organization,
        linked_at=timezone.now(),
        link_method=LinkMethod.STAFF,
    )
    emit(
        "seed",
        district=district.id,
        organization=organization.pk,
        counts=generated.counts,
        seconds=round(time.perf_counter() - started, 2),
    )


def phase_departure(args) -> None:
    from districts.models import DistrictStatus
    from districts.services import set_status

    district = our_district(args.district)
    before = census(district)
    if not (
        before["live_people"]
        == before["people"]
        == before["people_with_accounts"]
        == before["active_accounts"]
        > 0
    ):
        fail(args.phase, "the district is not whole and provisioned before leaving", **before)
    with Timed() as timed:
        set_status(
            district=district,
            status=DistrictStatus.DISCONNECTED,
            actor_label="bench",
            reason="bench: the district stops sharing",
        )
    after = census(district)
    if (
        after["live_people"]
        or after["active_accounts"]
        or after["live_sections"]
        or after["people"] != before["people"]
    ):
        fail(args.phase, "people or accounts still live after the departure", before=before, after=after)
    emit(args.phase, **timed.figures(), before=before, after=after)


def phase_return(args) -> None:
    from districts.models import DistrictStatus
    from districts.services import set_status

    district = our_district(args.district)
    before = census(district)
    if before["live_people"] or before["active_accounts"] or not before["people"]:
        fail(args.phase, "expected a departed district", **before)
    with Timed() as timed:
        set_status(
            district=district,
            status=DistrictStatus.CONNECTED,
            actor_label="bench",
            reason="bench: the district shares again",
        )
    after = census(district)
    if not (
        after["live_people"]
        == after["people"]
        == before["people"]
        == after["people_with_accounts"]
        == after["active_accounts"]
    ):
        fail(args.phase, "not everyone came back", before=before, after=after)
    emit(args.phase, **timed.figures(), before=before, after=after)


def phase_plant(args) -> None:
    """What a year of sign-ins and support leaves about the district's people, bulk-created."""
    from allauth.socialaccount.models import SocialAccount
    from django.contrib.admin.models import CHANGE, LogEntry
    from django.contrib.auth import get_user_model
    from django.contrib.contenttypes.models import ContentType
    from django.db import transaction

    from rostering.models import Person
    from sso.identity import PROVIDER, CleverIdentity
    from sso.models import AccountLink, CleverLogin, LoginEntry, LoginOutcome

    started = time.perf_counter()
    district = our_district(args.district)
    User = get_user_model()
    support, _ = User.objects.get_or_create(username=BENCH_USERNAME, defaults={"is_staff": True})
    people = (
        Person.objects.filter(district=district, archived_at__isnull=True, user__isnull=False)
        .order_by("pk")
        .values_list(
            "pk",
            "clever_id",
            "user_id",
            "first_name",
            "last_name",
            "email",
            "legacy_ids",
            *(flag for _, flag in ROLE_FLAGS),
        )
    )
    evidence = {
        "person_had_account": True,
        "made_for_this_clever_user": True,
        "email_collision_declined": False,
    }
    counts = {"clever_links": 0, "account_links": 0, "logins": 0, "log_entries": 0}
    links, audits, logins, named = [], [], [], []

    def flush():
        SocialAccount.objects.bulk_create(links)
        AccountLink.objects.bulk_create(audits)
        CleverLogin.objects.bulk_create(logins)
        counts["clever_links"] += len(links)
        counts["account_links"] += len(audits)
        counts["logins"] += len(logins)
        links.clear()
        audits.clear()
        logins.clear()

    # Every person i for whom floor((i + 1) * share) steps up: the share, spread evenly.
    with transaction.atomic():
        for i, (pk, clever_id, user_id, first, last, email, legacy, *flags) in enumerate(
            people.iterator(chunk_size=2000)
        ):
            if int((i + 1) * args.signed_in) == int(i * args.signed_in):
                continue
            identity = CleverIdentity(
                clever_id=clever_id,
                district_id=district.clever_id,
                authorized_by="district",
                roles=tuple(role for (role, _), flag in zip(ROLE_FLAGS, flags, strict=True) if flag),
                first_name=first,
                last_name=last,
                email=email,
                legacy_ids={k: v for k, v in (legacy or {}).items() if isinstance(v, str)},
            )
            links.append(
                SocialAccount(
                    user_id=user_id, provider=PROVIDER, uid=clever_id, extra_data=identity.extra_data()
                )
            )
            audits.append(
                AccountLink(
                    action=AccountLink.Action.LINKED,
                    method=AccountLink.Method.MIRROR_ACCOUNT,
                    user_id=user_id,
                    clever_id=clever_id,
                    clever_district_id=district.clever_id,
                    person_id=pk,
                    actor_label="sso: first Clever login",
                    details=evidence,
                )
            )
            logins.append(
                CleverLogin(
                    clever_district_id=district.clever_id,
                    district=district,
                    roles=list(identity.roles),
                    email_domain=identity.email_domain,
                    authorized_by="district",
                    entry=LoginEntry.CLEVER_INITIATED,
                    outcome=LoginOutcome.LOGGED_IN,
                )
            )
            if len(named) < args.log_entries:
                named.append((pk, user_id, first, last))
            if len(links) >= 2000:
                flush()
        flush()
        # Support's history: half on people's rows in the admin, half on their accounts.
        person_type = ContentType.objects.get_for_model(Person)
        user_type = ContentType.objects.get_for_model(User)
        entries = []
        for n, (pk, user_id, first, last) in enumerate(named):
            content_type, object_id = (person_type, pk) if n % 2 == 0 else (user_type, user_id)
            entries.append(
                LogEntry(
                    user=support,
                    content_type=content_type,
                    object_id=str(object_id),
                    object_repr=f"{first} {last}"[:200],
                    action_flag=CHANGE,
                    change_message=f"Changed {first} {last}'s grade",
                )
            )
        counts["log_entries"] = len(LogEntry.objects.bulk_create(entries))
    emit("plant", **counts, seconds=round(time.perf_counter() - started, 2))


def named_links(district) -> int:
    """Clever links of the district's accounts that still hold a name or an email."""
    from allauth.socialaccount.models import SocialAccount

    from sso.identity import PROVIDER

    named = 0
    for data in (
        SocialAccount.objects.filter(provider=PROVIDER, user__organization=district.organization_id)
        .values_list("extra_data", flat=True)
        .iterator(chunk_size=2000)
    ):
        name = (data or {}).get("name") or {}
        if name.get("first") or name.get("last") or (data or {}).get("email"):
            named += 1
    return named


def phase_purge(args) -> None:
    from django.contrib.admin.models import LogEntry
    from django.contrib.auth import get_user_model

    from core.redaction import REDACTED
    from rostering.models import Person
    from rostering.services.lifecycle import purge_district_roster
    from sso.models import CleverLogin

    district = our_district(args.district)
    accounts = get_user_model().objects.filter(
        organization=district.organization_id, username__startswith="clever-"
    )
    history = LogEntry.objects.filter(user__username=BENCH_USERNAME)
    before = {
        **census(district),
        "named_links": named_links(district),
        "named_log_entries": history.exclude(object_repr=REDACTED).count(),
    }
    if before["live_people"] or not before["named_links"]:
        fail(args.phase, "expected a departed district with named Clever links", **before)
    with Timed() as timed:
        result = purge_district_roster(district=district, actor_label="bench")
    after = {
        "people": Person.objects.filter(district=district).count(),
        "named_links": named_links(district),
        "named_accounts": accounts.exclude(first_name="", last_name="", email="").count(),
        "active_accounts": accounts.filter(is_active=True).count(),
        "logins": CleverLogin.objects.filter(district=district).count(),
        "named_log_entries": history.exclude(object_repr=REDACTED).count(),
    }
    if any(after.values()):
        fail(args.phase, "the purge left people or their names behind", before=before, after=after)
    emit(args.phase, **timed.figures(), before=before, after=after, result=result)


PHASES = {
    "seed": phase_seed,
    "full_sync": phase_sync,
    "departure": phase_departure,
    "return": phase_return,
    "plant": phase_plant,
    "departure_again": phase_departure,
    "purge": phase_purge,
}


def run_phase(phase: str, args, env: dict, **extra) -> dict:
    """``sync_bench.run_phase`` with this file and its own options."""
    return sync_bench.run_phase(
        phase, args, env, script=__file__, signed_in=args.signed_in, log_entries=args.log_entries, **extra
    )


def cycle(args, env: dict, *, students: int, seed: int, bench_ids: list) -> dict:
    seeded = run_phase("seed", args, env, students=students, seed=seed)
    bench_ids.append(seeded["district"])
    return {phase: run_phase(phase, args, env, district=seeded["district"]) for phase in CYCLE}


def cleanup(env: dict, bench_ids: list) -> None:
    """The bench's districts, sandbox districts, organizations and accounts (on DATABASE_URL)."""
    code = (
        "from accounts.models import Organization, User; "
        "from districts.models import District; "
        "from districts.services import delete_district; "
        "from sandbox import services as sandbox_services; "
        "from sandbox.models import SandboxDistrict; "
        "from sso.models import AccountLink; "
        f"ids = {bench_ids!r}; "
        "orgs = list(District.objects.filter(clever_id__in=ids).values_list('organization', flat=True)); "
        "[delete_district(district=d) for d in District.objects.filter(clever_id__in=ids)]; "
        "[sandbox_services.delete_district(district=d) for d in SandboxDistrict.objects.filter(id__in=ids)]; "
        "AccountLink.objects.filter(clever_district_id__in=ids).delete(); "
        "User.objects.filter(organization__in=orgs).delete(); "
        f"User.objects.filter(username={BENCH_USERNAME!r}).delete(); "
        "Organization.objects.filter(pk__in=orgs).delete()"
    )
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), "shell", "--no-imports", "-c", code], env=env, check=False
    )
    print(f"cleanup: {time.perf_counter() - started:.1f} s", file=sys.stderr)


def summarize(args, env: dict, main: dict, baseline: dict) -> dict:
    full = main["full_sync"]
    timed = ("full_sync", "departure", "return", "departure_again", "purge")
    summary = {
        "students": args.students,
        "database": "postgresql" if "postgres" in env["DATABASE_URL"] else "sqlite",
        "people": main["departure"]["before"]["people"],
        "clever_links": main["plant"]["clever_links"],
        "log_entries": main["plant"]["log_entries"],
        **{f"{phase}_s": main[phase]["seconds"] for phase in timed},
        "departure_vs_full_sync": round(main["departure"]["seconds"] / full["seconds"], 3),
        "return_vs_full_sync": round(main["return"]["seconds"] / full["seconds"], 3),
        "purge_vs_full_sync": round(main["purge"]["seconds"] / full["seconds"], 3),
        "departure_vs_full_sync_cpu": round(work_seconds(main["departure"]) / work_seconds(full), 3),
        "return_vs_full_sync_cpu": round(work_seconds(main["return"]) / work_seconds(full), 3),
        "purge_vs_full_sync_cpu": round(work_seconds(main["purge"]) / work_seconds(full), 3),
        **{f"{phase}_cpu_s": main[phase]["cpu_s"] for phase in timed},
        **{f"{phase}_db_cpu_s": main[phase]["db_cpu_s"] for phase in timed},
        "peak_rss_mb": {phase: main[phase]["peak_rss_mb"] for phase in timed},
        "baseline_students": args.baseline_students,
        "baseline_s": {phase: baseline[phase]["seconds"] for phase in timed},
        "peak_rss_mb_baseline": {phase: baseline[phase]["peak_rss_mb"] for phase in timed},
        "rss_growth": {
            phase: round(main[phase]["peak_rss_mb"] / baseline[phase]["peak_rss_mb"] - 1, 3)
            for phase in timed
        },
    }
    summary["rss_growth_purge"] = summary["rss_growth"]["purge"]
    return summary


def orchestrate(args) -> None:
    tmpdir = None
    env = dict(os.environ)
    if not env.get("DATABASE_URL"):
        tmpdir = tempfile.mkdtemp(prefix="lifecycle-bench-")
        env["DATABASE_URL"] = f"sqlite:///{tmpdir}/bench.sqlite3"
    env.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    env.setdefault("DJANGO_DEBUG", "false")
    bench_ids: list[str] = []
    try:
        subprocess.run([sys.executable, str(ROOT / "manage.py"), "migrate", "-v0"], env=env, check=True)
        main = cycle(args, env, students=args.students, seed=args.seed, bench_ids=bench_ids)
        baseline = cycle(args, env, students=args.baseline_students, seed=args.seed + 1, bench_ids=bench_ids)
        print(json.dumps(summarize(args, env, main, baseline)), flush=True)
    finally:
        if tmpdir:
            shutil.rmtree(tmpdir, ignore_errors=True)
        elif bench_ids:
            cleanup(env, bench_ids)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=50_000)
    parser.add_argument("--baseline-students", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--page-size", type=int, default=10_000)
    parser.add_argument(
        "--signed-in",
        type=float,
        default=0.2,
        help="share of the people with a Clever sign-in link (default 0.2)",
    )
    parser.add_argument(
        "--log-entries",
        type=int,
        default=300,
        help="admin history rows naming people and their accounts (default 300)",
    )
    run_phases(parser, PHASES, orchestrate)


if __name__ == "__main__":
    main()
