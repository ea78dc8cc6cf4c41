"""``manage.py purge_district CLEVER_DISTRICT_ID --reason TEXT [--json]``: purge now.

For a district's written request to delete its data before the retention window ends
(docs/data-lifecycle.md). The district must have stopped sharing first (disconnected or
revoked; support disconnects it in the admin): a connected district's next sync would bring
everything back. Runs ``rostering.services.lifecycle.purge_district_roster`` with the reason in
the audit's actor label. Exit code 1, and nothing removed, for an unknown or still-sharing
district or a running sync. ``--json`` prints exactly one JSON object: the purge's counts.
"""

from __future__ import annotations

import json

from django.core.management.base import BaseCommand, CommandError

from districts.events import DEPARTED
from districts.models import District
from rostering.services.lifecycle import SyncInProgress, purge_district_roster


class Command(BaseCommand):
    help = "Purge a district that stopped sharing, now (its written request), instead of after the window."

    def add_arguments(self, parser):
        parser.add_argument("district_id", metavar="CLEVER_DISTRICT_ID")
        parser.add_argument(
            "--reason", required=True, help="why, for the audit (e.g. 'written request of 2026-12-01')"
        )
        parser.add_argument("--json", action="store_true", help="print one JSON object")

    def handle(self, *args, **options):
        district = District.objects.filter(clever_id=options["district_id"]).first()
        if district is None:
            raise CommandError(f"no district with Clever ID {options['district_id']}")
        if district.status not in DEPARTED:
            raise CommandError(
                f"{district} is {district.status}: disconnect it first (its next "
                f"sync would bring the roster back)"
            )
        reason = options["reason"].strip()
        if not reason:
            raise CommandError("--reason must say why")
        try:
            result = purge_district_roster(district=district, actor_label=f"command: {reason}"[:255])
        except SyncInProgress as exc:
            raise CommandError(f"{exc}; try again when it ends") from None
        if options["json"]:
            self.stdout.write(json.dumps(result))
        else:
            self.stdout.write(
                f"{district}: purged ({result['users']} people, {result['sections']} sections deleted)"
            )
