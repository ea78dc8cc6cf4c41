"""``manage.py clever_sync [CLEVER_DISTRICT_ID ...] [--all] [--full] [--json]``: sync now.

Runs each district's sync in this process (``rostering.services.sync.run_sync``, trigger
``command``), one after the other. ``--all`` syncs every district that is connected and has
syncing on; named districts are synced whatever their state (a disconnected one reports
``skipped`` with the reason). An unknown Clever district ID is an error before anything runs
(exit code 1). The exit code is 0 when every run ended (succeeded, held, failed or skipped: the
report says which); ``--json`` prints exactly one JSON object:
``{"runs": [{"district", "status", "kind", "created", "updated", "archived", "unchanged",
"totals", "requests", "seconds", "error"}]}``.
"""

from __future__ import annotations

import json

from django.core.management.base import BaseCommand, CommandError

from districts.models import District
from rostering.models import SyncRun
from rostering.services import diff
from rostering.services.sync import KIND_AUTO, run_sync

COUNT_KINDS = ("created", "updated", "archived", "unchanged")


def run_report(run: SyncRun) -> dict:
    counts = run.counts or {}
    empty = diff.empty_counts()
    report = {"district": run.district.clever_id, "status": run.status, "kind": run.kind}
    for kind in COUNT_KINDS:
        report[kind] = {**empty[kind], **(counts.get(kind) or {})}
    report.update(
        totals=run.totals or {},
        requests=run.requests,
        seconds=round(run.duration_seconds or 0.0, 3),
        error=run.error or None,
    )
    return report


class Command(BaseCommand):
    help = "Sync Clever districts now, in this process (full, or incremental through events)."

    def add_arguments(self, parser):
        parser.add_argument(
            "district_ids",
            nargs="*",
            metavar="CLEVER_DISTRICT_ID",
            help="Clever IDs of the districts to sync",
        )
        parser.add_argument(
            "--all", action="store_true", help="sync every connected district that has syncing on"
        )
        parser.add_argument("--full", action="store_true", help="read every collection instead of the events")
        parser.add_argument("--json", action="store_true", help="print one JSON object")

    def handle(self, *args, **options):
        ids = list(dict.fromkeys(options["district_ids"]))
        if not ids and not options["all"]:
            raise CommandError("name Clever district IDs, or pass --all")
        districts = []
        if ids:
            found = {d.clever_id: d for d in District.objects.filter(clever_id__in=ids)}
            unknown = [cid for cid in ids if cid not in found]
            if unknown:
                raise CommandError(
                    f"unknown Clever district ID(s): {', '.join(unknown)} "
                    "(run clever_districts to discover districts)"
                )
            districts = [found[cid] for cid in ids]
        if options["all"]:
            named = {d.pk for d in districts}
            districts += list(District.objects.syncable().exclude(pk__in=named).order_by("clever_id"))
        kind = SyncRun.Kind.FULL if options["full"] else KIND_AUTO
        reports = []
        for district in districts:
            run = run_sync(district=district, kind=kind, trigger=SyncRun.Trigger.COMMAND)
            report = run_report(run)
            reports.append(report)
            if not options["json"]:
                self._print(district, report)
        if options["json"]:
            self.stdout.write(json.dumps({"runs": reports}))
        elif not reports:
            self.stdout.write("No district to sync.")

    def _print(self, district: District, report: dict) -> None:
        style = {"succeeded": self.style.SUCCESS, "held": self.style.WARNING, "failed": self.style.ERROR}.get(
            report["status"], str
        )
        name = district.name or "Unnamed district"
        self.stdout.write(
            style(
                f"{name} ({report['district']}): {report['status']}, "
                f"{report['kind']} sync in {report['seconds']:.1f}s, "
                f"{report['requests']} requests"
            )
        )

        def line(kind: str) -> str:
            parts = [f"{n} {t}" for t, n in report[kind].items() if n]
            return ", ".join(parts) or "none"

        for kind in COUNT_KINDS:
            self.stdout.write(f"  {kind:<9} {line(kind)}")
        totals = report["totals"]
        if totals:
            self.stdout.write("  live      " + ", ".join(f"{n} {k}" for k, n in totals.items()))
        if report["error"]:
            self.stdout.write(f"  error     {report['error']}")
