"""``manage.py matchmaker_export CLEVER_DISTRICT_ID [--output FILE] [--explained] [--json]``.

Without ``--explained``: the Matchmaker input CSV of the district's organization (one row per
product person, ``app.*`` columns, RFC 4180). With it: our own results, explained
(probability, weight, top contributions, status). Writes to FILE or stdout; ``--json`` (with
``--output``) prints ``{"district", "file", "rows", "kind"}``.
"""

import json
import sys

from django.core.management.base import BaseCommand, CommandError

from matching import matchmaker, selectors

from ._district import district_named


class Command(BaseCommand):
    help = "Write Clever Matchmaker's input CSV (or our explained results) for a district."

    def add_arguments(self, parser):
        parser.add_argument("district_id", metavar="CLEVER_DISTRICT_ID")
        parser.add_argument("--output", metavar="FILE", help="write here instead of stdout")
        parser.add_argument("--explained", action="store_true", help="our results with their reasons")
        parser.add_argument("--json", action="store_true", help="print one JSON summary (needs --output)")

    def handle(self, *args, **options):
        if options["json"] and not options["output"]:
            raise CommandError("--json needs --output (the CSV would mix with the JSON on stdout)")
        district = district_named(options["district_id"])
        if options["output"]:
            with open(options["output"], "w", newline="", encoding="utf-8") as stream:
                rows = self.write(district, stream, explained=options["explained"])
        else:
            rows = self.write(district, sys.stdout, explained=options["explained"])
        if options["json"]:
            kind = "explained" if options["explained"] else "matchmaker_input"
            self.stdout.write(
                json.dumps(
                    {"district": district.clever_id, "file": options["output"], "rows": rows, "kind": kind}
                )
            )

    @staticmethod
    def write(district, stream, *, explained: bool) -> int:
        if explained:
            return matchmaker.write_csv(
                selectors.explained_rows(district), stream, selectors.EXPLAINED_COLUMNS
            )
        return matchmaker.write_csv(
            selectors.matchmaker_export_rows(district), stream, matchmaker.EXPORT_COLUMNS
        )
