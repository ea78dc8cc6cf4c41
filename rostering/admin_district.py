"""The District admin's rostering part (``districts.admin.DistrictAdminExtension``): "Sync now"
and "Full resync" (buttons and bulk actions), the last sync, roster counts and pending holds in
the list, the roster counts and sync history on the district's page."""

from __future__ import annotations

import json

from django.contrib import admin, messages
from django.db.models import Count, OuterRef, Subquery, Value
from django.db.models.functions import Coalesce
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe

from core.admin import badge
from districts.admin import DistrictAdminExtension, Panel, extend_district_admin

from . import tasks
from .admin import (
    HOLD_COLORS,
    LIST_TOTALS,
    changes_text,
    district_history_chart,
    progress_bar,
    run_badge,
    run_duration,
    run_progress,
)
from .models import ChangeHold, SyncRun
from .presentation import failure_summary
from .selectors import live_totals

SYNC_KINDS = {"sync": "auto", "full_sync": "full"}


def _request_syncs(request, queryset, *, kind: str, label: str) -> None:
    syncable = queryset.syncable()
    count = 0
    for district in syncable:
        tasks.request_sync(district=district, kind=kind, trigger=SyncRun.Trigger.MANUAL)
        count += 1
    messages.success(request, f"{label} requested for {count} district(s).")
    if skipped := queryset.count() - count:
        messages.warning(request, f"{skipped} district(s) skipped: not connected, or syncs switched off.")


@admin.action(description="Sync now (incremental when possible)", permissions=["support"])
def sync_selected(modeladmin, request, queryset):
    _request_syncs(request, queryset, kind="auto", label="Sync")


@admin.action(description="Full resync", permissions=["support"])
def full_resync_selected(modeladmin, request, queryset):
    _request_syncs(request, queryset, kind="full", label="Full resync")


class RosteringDistrictAdmin(DistrictAdminExtension):
    buttons = {"sync": "Sync now", "full_sync": "Full resync"}
    columns = ("last_sync", "roster_counts", "holds")
    actions = (sync_selected, full_resync_selected)

    def shows(self, request, district, name):
        # The engine skips other districts anyway (with the reason): no button for them.
        return district.syncable

    def press(self, request, district, name, reason=""):
        tasks.request_sync(district=district, kind=SYNC_KINDS[name], trigger=SyncRun.Trigger.MANUAL)
        if name == "full_sync":
            return f"{district}: full resync requested."
        return f"{district}: sync requested (incremental when the event cursor allows, else full)."

    def annotate(self, queryset):
        # A skipped run (another one was running) says nothing about the district: left out.
        runs = (
            SyncRun.objects.filter(district=OuterRef("pk"))
            .exclude(status=SyncRun.Status.SKIPPED)
            .order_by("-started_at", "-id")
        )
        succeeded = runs.filter(status=SyncRun.Status.SUCCEEDED)
        pending = (
            ChangeHold.objects.filter(run__district=OuterRef("pk"), status=ChangeHold.Status.PENDING)
            .order_by()
            .values("run__district")
            .annotate(n=Count("pk"))
            .values("n")
        )
        return queryset.annotate(
            last_run_status=Subquery(runs.values("status")[:1]),
            last_run_started=Subquery(runs.values("started_at")[:1]),
            last_run_finished=Subquery(runs.values("finished_at")[:1]),
            last_run_progress=Subquery(runs.values("progress")[:1]),
            last_run_collection=Subquery(runs.values("current_collection")[:1]),
            last_success_finished=Subquery(succeeded.values("finished_at")[:1]),
            last_success_totals=Subquery(succeeded.values("totals")[:1]),
            pending_holds=Coalesce(Subquery(pending), Value(0)),
        )

    @admin.display(description="last sync", ordering="last_run_started")
    def last_sync(self, obj):
        status = getattr(obj, "last_run_status", None)
        if not status:
            return "never"
        when = timezone.localtime(obj.last_run_finished or obj.last_run_started)
        if status == SyncRun.Status.RUNNING:
            return format_html(
                "{} {}", run_badge(status), progress_bar(obj.last_run_progress, obj.last_run_collection)
            )
        ok = ""
        if status != SyncRun.Status.SUCCEEDED and obj.last_success_finished:
            ok = format_html(
                "<br><small>last success {}</small>",
                f"{timezone.localtime(obj.last_success_finished):%d %b %H:%M}",
            )
        # format_html escapes its arguments into text first: dates are formatted before.
        return format_html("{}<br>{}{}", run_badge(status), f"{when:%d %b %H:%M}", ok)

    @admin.display(description="roster")
    def roster_counts(self, obj):
        """The counts of the last successful sync, one per line."""
        totals = getattr(obj, "last_success_totals", None)
        if isinstance(totals, str):  # a JSON column read through a subquery on some backends
            totals = json.loads(totals)
        if not totals:
            return "-"
        return format_html_join(mark_safe("<br>"), "{}&nbsp;{}", ((totals.get(k, 0), k) for k in LIST_TOTALS))

    @admin.display(description="holds", ordering="pending_holds")
    def holds(self, obj):
        n = getattr(obj, "pending_holds", 0)
        if not n:
            return "-"
        url = (
            reverse("admin:rostering_changehold_changelist")
            + f"?status__exact=pending&run__district__id__exact={obj.pk}"
        )
        return format_html('<a href="{}">{}</a>', url, badge(f"{n} pending", HOLD_COLORS["pending"]))

    def next_action(self, district):
        if getattr(district, "pending_holds", 0):
            return "Approve or reject the held sync"
        if getattr(district, "last_run_status", None) == SyncRun.Status.FAILED:
            return "Look at the failed sync: its page says what happens next"
        if district.organization_id and not getattr(district, "last_run_status", None):
            return "Run its first sync"
        return ""

    def panels(self, request, district):
        runs = list(district.sync_runs.select_related("hold")[:20])
        return [
            Panel(
                "admin/rostering/district_sync_panel.html",
                {
                    "chart": district_history_chart(district),
                    # Column headings in words ("district admins"), the keys being identifiers.
                    "live_totals": [(key.replace("_", " "), n) for key, n in live_totals(district).items()],
                    "runs": [
                        {
                            "run": run,
                            "url": reverse("admin:rostering_syncrun_change", args=[run.pk]),
                            "status": run_badge(run.status),
                            "duration": run_duration(run),
                            "progress": run_progress(run),
                            "changes": changes_text(run.counts),
                            # The cause in words, never the raw error (that is on the run's page).
                            "outcome": failure_summary(run)[0],
                            "hold_url": (
                                reverse("admin:rostering_changehold_change", args=[run.hold.pk])
                                if hasattr(run, "hold")
                                else ""
                            ),
                        }
                        for run in runs
                    ],
                    "runs_url": reverse("admin:rostering_syncrun_changelist")
                    + f"?district__id__exact={district.pk}",
                    "holds_url": reverse("admin:rostering_changehold_changelist")
                    + f"?run__district__id__exact={district.pk}",
                },
                position=20,
            )
        ]


extend_district_admin(RosteringDistrictAdmin())
