"""Recompute the district -> organization evidence now, in this process.

manage.py refresh_district_candidates [CLEVER_DISTRICT_ID ...] [--no-auto-link] [--json]
"""

import json

from django.core.management.base import BaseCommand, CommandError

from districts.models import District
from matching import linking


class Command(BaseCommand):
    help = "Recompute the evidence linking unlinked Clever districts to organizations (and auto-link)."

    def add_arguments(self, parser):
        parser.add_argument("clever_ids", nargs="*", help="Clever district IDs (default: every unlinked one)")
        parser.add_argument(
            "--no-auto-link",
            action="store_true",
            help="Only rank; link nothing (not even an uncontested NCES/MDR match)",
        )
        parser.add_argument("--json", action="store_true", help="Print one JSON object")

    def handle(self, *args, **options):
        clever_ids = options["clever_ids"]
        district_ids = None
        if clever_ids:
            found = dict(District.objects.filter(clever_id__in=clever_ids).values_list("clever_id", "pk"))
            missing = sorted(set(clever_ids) - set(found))
            if missing:
                raise CommandError(f"unknown Clever district IDs: {', '.join(missing)}")
            district_ids = list(found.values())
        summary = linking.refresh_district_candidates(
            district_ids=district_ids, auto_link=not options["no_auto_link"]
        )
        if options["json"]:
            self.stdout.write(json.dumps(summary, sort_keys=True))
        else:
            self.stdout.write(
                f"{summary['districts']} districts x {summary['organizations']} organizations: "
                f"{summary['candidates']} candidates, {len(summary['auto_linked'])} linked automatically, "
                f"{summary['queued']} queued for support."
            )
