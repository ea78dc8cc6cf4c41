"""``manage.py sandbox_seed``: fill the local Clever with districts.

Generated districts (``sandbox.generator``), Clever's recorded demo district (``--demo``), a
Clever Library district (``--library``). The work is ``sandbox.generator.seeding.seed_sandbox``;
this command parses options and prints the report (``--json``: one JSON object on stdout).
"""

import json

from django.core.management.base import BaseCommand, CommandError

from sandbox.generator.districts import MAX_STUDENTS, MIN_STUDENTS
from sandbox.generator.seeding import seed_sandbox
from sandbox.models import LmsType

LMS_CHOICES = {
    "canvas": LmsType.CANVAS,
    "schoology": LmsType.SCHOOLOGY,
    "google_classroom": LmsType.GOOGLE_CLASSROOM,
    "none": LmsType.NONE,
}


def _mask(token: str | None) -> str:
    return f"{token[:4]}…{token[-4:]}" if token else "(none)"


class Command(BaseCommand):
    help = (
        "Generate sandbox districts (and optionally load Clever's recorded demo district). "
        "The same --seed and options always give the same districts."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--districts",
            type=int,
            default=None,
            help="generated districts to create (default 1, or 0 with --demo)",
        )
        parser.add_argument(
            "--students",
            type=int,
            default=2_000,
            help="students per generated district, 1 to 1,000,000 (default 2,000)",
        )
        parser.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
        parser.add_argument(
            "--messiness",
            type=float,
            default=1.0,
            help="scale of real-district mess: 0 clean, 1 realistic (default), 2 double",
        )
        parser.add_argument(
            "--demo", action="store_true", help="load Clever's recorded #DEMO_DISTRICT (skipped when present)"
        )
        parser.add_argument(
            "--library",
            action="store_true",
            help="also create one Clever Library (teacher-authorized) district",
        )
        parser.add_argument(
            "--lms",
            choices=sorted(LMS_CHOICES),
            default=None,
            help="LMS of every generated district (default: a mix)",
        )
        parser.add_argument(
            "--no-events", action="store_true", help="create the districts with events disabled"
        )
        parser.add_argument(
            "--same-name-other-state",
            action="store_true",
            help="also create a district with the first one's name in another state",
        )
        parser.add_argument("--single-school", action="store_true", help="generate one-school districts")
        parser.add_argument("--reset", action="store_true", help="delete every sandbox district first")
        parser.add_argument("--json", action="store_true", help="print one JSON object")

    def handle(self, *args, **options):
        districts = options["districts"]
        if districts is None:
            districts = 0 if options["demo"] else 1
        if districts < 0:
            raise CommandError("--districts must be 0 or more")
        if not MIN_STUDENTS <= options["students"] <= MAX_STUDENTS:
            raise CommandError(f"--students must be between {MIN_STUDENTS} and {MAX_STUDENTS}")
        if options["messiness"] < 0:
            raise CommandError("--messiness must be 0 or more")
        lms = LMS_CHOICES[options["lms"]] if options["lms"] else None
        report = seed_sandbox(
            districts=districts,
            students=options["students"],
            seed=options["seed"],
            messiness=options["messiness"],
            demo=options["demo"],
            library=options["library"],
            lms=lms,
            events=not options["no_events"],
            same_name_other_state=options["same_name_other_state"],
            single_school=options["single_school"],
            reset=options["reset"],
        )
        if options["json"]:
            self.stdout.write(json.dumps(report, ensure_ascii=False))
            return
        self._summary(report)

    def _summary(self, report: dict) -> None:
        write = self.stdout.write
        if report["reset"]:
            write("Deleted every sandbox district first.")
        for d in report["districts"]:
            c = d["counts"]
            state = f", {d['us_state']}" if d.get("us_state") else ""
            write(self.style.SUCCESS(f"{d['status'].capitalize()}: {d['name']}{state} ({d['id']})"))
            write(
                f"  {d['source']}, sharing={d['sharing']}, LMS={d['lms_type'] or 'none'}, "
                f"events={'on' if d['events_enabled'] else 'off'}, "
                f"NCES={d['nces_id'] or '-'}, MDR={d['mdr_number'] or '-'}, "
                f"token {_mask(d['district_token'])}"
            )
            write(
                f"  {c['schools']} schools, {c['sections']} sections, {c['enrollments']} "
                f"enrollments, {c['users']} users: {c['students']} students, {c['teachers']} "
                f"teachers, {c['staff']} staff, {c['district_admins']} district admins, "
                f"{c['contacts']} contacts" + (f" ({d['seconds']} s)" if d.get("seconds") is not None else "")
            )
        app, login = report["application"], report["login"]
        write(f"Sandbox app: client ID {app['client_id']}, client secret {app['client_secret']}")
        write(f"Control page: {login['control']}   Portal: {login['portal']}")
        write(f"Done in {report['seconds']} s.")
