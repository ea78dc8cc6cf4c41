"""Recompute the district -> organization evidence now, in this process.

manage.py refresh_district_candidates [CLEVER_DISTRICT_ID ...] [--no-queue] [--json]
"""

import json

from django.core.management.base import BaseCommand, CommandError

from districts.models import District
from matching.linking.refresh import refresh_district_candidates


class Command(BaseCommand):
    help = "Recompute the evidence linking unlinked Clever districts to organizations (and auto-link)."

    def add_arguments(self, parser):
        parser.add_argument("clever_ids", nargs="*", help="Clever district IDs (default: every unlinked one)")
        parser.add_argument(
            "--no-queue",
            action="store_true",
            help="Only rank; put nothing in support's queue (nothing is ever linked here)",
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
        summary = refresh_district_candidates(district_ids=district_ids, queue=not options["no_queue"])
        if options["json"]:
            self.stdout.write(json.dumps(summary, sort_keys=True))
        else:
            self.stdout.write(
                f"{summary['districts']} districts x {summary['organizations']} organizations: "
                f"{summary['candidates']} candidates, "
                f"{summary['queued']} queued for support."
            )
