"""``manage.py match_records CLEVER_DISTRICT_ID [--json]``: match the organization's schools and
people to the district's Clever records (``matching.services.match_district``). JSON:
``{"district", "schools": {status: n}, "people": {status: n}, "review_queue": n}``."""

import json

from django.core.management.base import BaseCommand

from matching.services import match_district

from ._district import district_named


class Command(BaseCommand):
    help = "Match existing schools and people to a synced Clever district."

    def add_arguments(self, parser):
        parser.add_argument("district_id", metavar="CLEVER_DISTRICT_ID")
        parser.add_argument("--json", action="store_true", help="print one JSON object")

    def handle(self, *args, **options):
        summary = match_district(district=district_named(options["district_id"]))
        if options["json"]:
            self.stdout.write(json.dumps(summary))
        else:
            self.stdout.write(
                f"district {summary['district']}: schools {summary['schools']}, "
                f"people {summary['people']}; {summary['review_queue']} in the review queue"
            )
