"""``manage.py matchmaker_import FILE --district CLEVER_DISTRICT_ID [--json]``.

Reads Matchmaker's output for the district, all or nothing: any problem (encoding, columns,
unknown results, duplicate IDs, IDs not in the organization or the synced district) is listed
with line numbers, nothing is applied and the exit code is 1. JSON:
``{"district", "linked", "review_items", "errors": [...]}``.
"""

import json
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from matching.matchmaker import MatchmakerFileError
from matching.services import import_matchmaker_results

from ._district import district_named


class Command(BaseCommand):
    help = "Apply Clever Matchmaker's results CSV to a district (all or nothing)."

    def add_arguments(self, parser):
        parser.add_argument("file", metavar="FILE")
        parser.add_argument("--district", required=True, metavar="CLEVER_DISTRICT_ID")
        parser.add_argument("--json", action="store_true", help="print one JSON object")

    def handle(self, *args, **options):
        district = district_named(options["district"])
        try:
            data = Path(options["file"]).read_bytes()
        except OSError as exc:
            raise CommandError(f"cannot read {options['file']}: {exc.strerror}") from None
        try:
            summary = import_matchmaker_results(district=district, data=data).as_dict()
        except MatchmakerFileError as exc:
            if options["json"]:
                self.stdout.write(
                    json.dumps(
                        {
                            "district": district.clever_id,
                            "linked": 0,
                            "review_items": 0,
                            "errors": exc.problems,
                        }
                    )
                )
            raise CommandError(str(exc)) from None
        if options["json"]:
            self.stdout.write(json.dumps({"district": district.clever_id, **summary, "errors": []}))
        else:
            self.stdout.write(f"{summary['linked']} linked, {summary['review_items']} sent to review")
