"""Roster syncs and the mirror in the Django admin, for support staff.

Access is the districts admin's: superusers and staff holding ``districts.support_district``
(the "Support" group); everyone else is refused. Children's sensitive and demographic fields
(``clever.sensitive``: IEP, 504, lunch status..., date of birth, gender, race, home address, a
parent's phone) are never in ``raw`` or a column; they are decrypted and shown only to users
who also hold ``rostering.view_sensitive_fields`` (declared in ``Person.Meta.permissions``;
superusers have it implicitly), through ``reveal_sensitive``, the one helper every admin page
that shows them uses (this one's Person page, matching's review queue), which logs each view
(user and row IDs only). Others read that values are stored and hidden.
``sensitive_ciphertext`` is never shown.

- ``District``: its rostering part is ``rostering/admin_district.py``, an extension of the one
  ``districts.admin.DistrictAdmin`` (``rostering`` may import ``districts``, not the reverse):
  the last sync (status, time, progress), the counts of the last successful sync (from that
  run's ``totals``: one subquery, so the list stays fast however big the districts are; the
  change page shows exact live counts from ``rostering.selectors.live_totals``), pending holds,
  and "sync now" / "full resync" (``rostering.tasks.request_sync``).
- ``SyncRun``: read-only history with filters. Runs are named by kind, district and time
  ("Incremental sync of Oxford Community Schools, 3 Dec 02:00"), never by ID; what went wrong
  is said in words with the next step (``presentation.failure_summary``), the error as
  recorded under a disclosure; a running run shows its progress and what it waits for
  (Clever's rate limit, a backoff), and its page refreshes itself every few seconds
  (``<meta http-equiv=refresh>``). Filtered by a district, the list opens with a chart of
  the district's last syncs (``presentation.sync_history_svg``, inline SVG;
  ``district_history_chart`` gives it to the District page). The lists keep to five columns
  so they fit 1280 px beside the navigation and the filters.
- ``ChangeHold``: the hold queue, pending first, with reasons in words, counts as a table
  (record types and roles by created/updated/archived/restored/unchanged, and the live rows
  before) and samples; approve (after a confirmation page) and reject through
  ``approve_hold`` / ``reject_hold`` with the acting user, as bulk actions or buttons on the
  hold's page.
- ``School``, ``Term``, ``Course``, ``Section``, ``Person``: read-only browsing with search and
  filters; Clever's raw JSON shown read-only.
"""

from __future__ import annotations

import logging

from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.db.models import Case, IntegerField, Value, When
from django.http import Http404, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.dateparse import parse_datetime
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe

from clever.sensitive import SENSITIVE_FIELDS
from core.admin import SupportAdminMixin, badge, is_support, pretty_json
from core.forms import ReasonForm
from districts import crypto
from districts.models import District

from .models import (
    ChangeHold,
    ContactLink,
    Course,
    Person,
    RecordType,
    School,
    Section,
    SectionMembership,
    SyncRun,
    Term,
)
from .presentation import (
    HISTORY_LENGTH,
    KINDS,
    RECORD_TYPES,
    ROLES,
    STATUS_COLORS,
    TRIGGER_WORDS,
    district_name,
    duration_text,
    failure_summary,
    hold_title,
    label,
    moment_text,
    number,
    run_seconds,
    run_title,
    sync_history_svg,
    waiting_text,
)
from .selectors import sensitive_values
from .services.mapping import FIELDS
from .services.sync import HoldError, approve_hold, reject_hold

logger = logging.getLogger(__name__)

SENSITIVE_PERMISSION = "rostering.view_sensitive_fields"
# What users without it read where a sensitive value would be, and when the keys cannot read one.
HIDDEN = "hidden: needs the “view sensitive fields” permission"
UNREADABLE = "Stored, but cannot be decrypted with the configured keys"
# Seconds between reloads of a running run's page.
RUNNING_REFRESH_SECONDS = 5

HOLD_COLORS = {
    ChangeHold.Status.PENDING: "#9a6700",
    ChangeHold.Status.APPROVED: "#1a7f37",
    ChangeHold.Status.REJECTED: "#57606a",
}
# The totals columns of the district list (keys of SyncRun.totals / live_totals).
LIST_TOTALS = ("schools", "students", "teachers", "sections")


def can_see_sensitive(user) -> bool:
    return is_support(user) and user.has_perm(SENSITIVE_PERMISSION)


def reveal_sensitive(user, people, *, page: str) -> dict[int, dict | None] | None:
    """The one way an admin page gets decrypted sensitive and demographic fields to show:
    ``{pk: {path: value}}`` for those of ``people`` with stored values, or None when ``user``
    may not see them (``can_see_sensitive``: then nothing is even decrypted). A person's value
    None: stored, but unreadable with the configured keys. Every call that decrypts something
    is logged: the user's ID, the rows' IDs and the page, never a value."""
    if not can_see_sensitive(user):
        return None
    try:
        shown: dict[int, dict | None] = dict(sensitive_values(people))
    except crypto.DecryptionError:
        return {person.pk: None for person in people if person.sensitive_ciphertext}
    if shown:
        logger.info(
            "sensitive fields of person %s viewed by user %s on %s",
            ",".join(str(pk) for pk in shown),
            user.pk,
            page,
        )
    return shown


def plain_value(value) -> str:
    """A decrypted value in plain text: strings as they are, objects as "key: value" pairs."""
    if value is None or value == "":
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, dict):
        return ", ".join(f"{key}: {plain_value(item)}" for key, item in value.items()) or "—"
    if isinstance(value, list):
        return ", ".join(plain_value(item) for item in value) or "—"
    return str(value)


def sensitive_table(values: dict):
    """A person's decrypted fields, labelled in plain words, in the order of the list."""
    return format_html(
        "<table>{}</table>",
        format_html_join(
            "",
            "<tr><th>{}</th><td>{}</td></tr>",
            (
                (field.label, plain_value(values[field.path]))
                for field in SENSITIVE_FIELDS
                if field.path in values
            ),
        ),
    )


# --- display helpers -----------------------------------------------------------------------------


def person_name(user) -> str:
    """A staff member by name (their username only when they have none)."""
    return user.get_full_name() or user.get_username()


def run_badge(status: str):
    return badge(status, STATUS_COLORS.get(status, "#6e7781"))


def progress_bar(progress: float | None, collection: str = ""):
    fraction = min(max(progress or 0.0, 0.0), 1.0)
    percent = round(fraction * 100)
    return format_html(
        '<progress value="{}" max="100" style="width:6em;vertical-align:middle"></progress> {}%{}',
        percent,
        percent,
        f" · {collection}" if collection else "",
    )


def run_progress(run: SyncRun):
    """A running run's progress bar, and what it is waiting for when it waits (Clever's rate
    limit, a backoff): "-" for a run that is not running."""
    if run.status != SyncRun.Status.RUNNING:
        return "-"
    bar = progress_bar(run.progress, run.current_collection)
    waiting = waiting_text(run)
    if not waiting:
        return bar
    return format_html('{}<br><span class="sync-waiting">{}</span>', bar, waiting)


def run_duration(run: SyncRun) -> str:
    seconds = run_seconds(run)
    if seconds is not None:
        return duration_text(seconds)
    return "running" if run.status == SyncRun.Status.RUNNING else "-"


def _total(counts: dict, kind: str) -> int:
    value = (counts or {}).get(kind) or {}
    if isinstance(value, dict):
        return sum(n for n in value.values() if isinstance(n, int | float))
    return value if isinstance(value, int) else 0


def changes_text(counts: dict) -> str:
    """ "343 new, 12 changed, 160 archived, 2 back" summed over types ("-" before any count)."""
    if not counts:
        return "-"
    parts = [
        f"{number(_total(counts, kind))} {word}"
        for kind, word in (
            ("created", "new"),
            ("updated", "changed"),
            ("archived", "archived"),
            ("restored", "back"),
        )
        if _total(counts, kind)
    ]
    return ", ".join(parts) or "no changes"


def _cell(value) -> str:
    return number(value) if value is not None else "—"


def counts_table(counts: dict, *, table_id: str = ""):
    """A run's or a hold's counts as a table: a row per record type (and, when the counts have
    them, per role of the people: a hold's), a column per kind (created, updated, archived,
    restored, unchanged); for a hold also "live before" (the live rows the guard weighed) and,
    when the district's earlier runs in the guard window archived some, "archived earlier"."""
    if not counts:
        return "-"
    kinds = [kind for kind in KINDS if isinstance(counts.get(kind), dict)]
    if not kinds:
        return pretty_json(counts)
    live = counts.get("live") if isinstance(counts.get("live"), dict) else None
    earlier = counts.get("earlier") if isinstance(counts.get("earlier"), dict) else {}
    roles = counts.get("roles") if isinstance(counts.get("roles"), dict) else {}
    types = [t for t in RECORD_TYPES] + sorted(
        {t for kind in kinds for t in counts[kind] if t not in RECORD_TYPES}
    )
    headings = [
        "",
        *(["live before"] if live is not None else []),
        *kinds,
        *(["archived earlier (guard window)"] if earlier else []),
    ]

    def row(key: str, values: dict, *, role: bool = False):
        cells = [values.get(kind) for kind in kinds]
        if live is not None:
            cells.insert(0, live.get(key, 0))
        if earlier:
            cells.append(earlier.get(key, 0))
        name = format_html('<span style="padding-left:1.2em">{}</span>', label(key)) if role else label(key)
        return format_html(
            '<tr><th scope="row">{}</th>{}</tr>',
            name,
            format_html_join("", "<td>{}</td>", ((_cell(value),) for value in cells)),
        )

    rows = [row(t, {kind: counts[kind].get(t, 0) for kind in kinds}) for t in types]
    if roles or (live and any(role in live for role in ROLES)):
        for role in ROLES:
            per_role = {kind: (roles.get(kind) or {}).get(role) for kind in kinds}
            if not (live or {}).get(role) and not any(per_role.values()):
                continue
            rows.append(row(role, per_role, role=True))
    return format_html(
        "<table{}><thead><tr>{}</tr></thead><tbody>{}</tbody></table>{}",
        format_html(' id="{}"', table_id) if table_id else "",
        format_html_join("", '<th scope="col">{}</th>', ((h,) for h in headings)),
        format_html_join("", "{}", ((r,) for r in rows)),
        mark_safe(
            '<p class="help">Indented: the people of each role among the users (a person '
            'may hold several roles); "—": not counted per role.</p>'
        )
        if len(rows) > len(types)
        else "",
    )


def flat_table(values: dict):
    """{name: n} as boxes that wrap (a number over its name in words): a row of a dozen columns
    would be cut off at 1280 px."""
    if not values:
        return "-"
    return format_html(
        '<div class="sync-totals" style="display:flex;flex-wrap:wrap;gap:6px 18px">{}</div>',
        format_html_join(
            "",
            '<div><strong>{}</strong><br><span class="quiet">{}</span></div>',
            ((number(v), label(k)) for k, v in values.items()),
        ),
    )


def _sample_label(item) -> str:
    if isinstance(item, dict):
        name = item.get("name") or " ".join(str(item[k]) for k in ("first_name", "last_name") if item.get(k))
        ident = item.get("clever_id") or item.get("id") or ""
        extra = {
            k: v for k, v in item.items() if k not in {"name", "first_name", "last_name", "clever_id", "id"}
        }
        text = f"{name} ({ident})" if name and ident else str(name or ident)
        if extra:
            text += " " + ", ".join(f"{k}: {v}" for k, v in extra.items())
        return text.strip()
    return str(item)


# What the samples of a hold say, by what became of the hold: pending and rejected changes
# never happened ("would"); approved ones did.
SAMPLE_KINDS = {"archived": "would be archived", "updated": "would be updated", "created": "would be created"}
APPLIED_SAMPLE_KINDS = {"archived": "archived", "updated": "updated", "created": "created"}


def samples_html(samples, *, applied: bool = False):
    """Samples as nested lists: kind -> type -> "Name (clever id)" items."""
    if not samples:
        return "-"
    if isinstance(samples, list):
        return format_html(
            "<ul>{}</ul>", format_html_join("", "<li>{}</li>", ((_sample_label(item),) for item in samples))
        )
    if isinstance(samples, dict):
        kinds = APPLIED_SAMPLE_KINDS if applied else SAMPLE_KINDS
        return format_html(
            '<dl style="margin:0">{}</dl>',
            format_html_join(
                "",
                "<dt><strong>{}</strong></dt><dd>{}</dd>",
                (
                    (kinds.get(key) or label(key), samples_html(value, applied=applied))
                    for key, value in samples.items()
                ),
            ),
        )
    return str(samples)


def reasons_html(reasons):
    if not reasons:
        return "-"
    if not isinstance(reasons, list):
        return pretty_json(reasons)
    return format_html(
        "<ul style='margin:0'>{}</ul>",
        format_html_join("", "<li>{}</li>", ((reason_text(r),) for r in reasons)),
    )


def _percent(value) -> str:
    """A share in words: "25%", or "10.4%" when rounding to a whole percent would hide it."""
    if not isinstance(value, int | float):
        return "?"
    whole = f"{value:.0%}"
    return whole if abs(value * 100 - round(value * 100)) < 0.05 else f"{value:.1%}"


def reason_text(reason) -> str:
    """A guard reason ({"type", "rule", "count", "live", "fraction", "threshold"}) in words."""
    if not isinstance(reason, dict):
        return str(reason)
    if reason.get("message"):
        return str(reason["message"])
    kind, rule = label(reason.get("type", "records")), reason.get("rule")
    count, live = reason.get("count"), reason.get("live")
    fraction, threshold = reason.get("fraction"), reason.get("threshold")
    if rule == "emptied":
        return f"{kind}: all {number(live)} live rows would be archived (Clever sent none)"
    if rule == "deleted" and reason.get("earlier"):
        since = parse_datetime(reason.get("since") or "")
        when = f" since {moment_text(since)}" if since else ""
        return (
            f"{kind}: {number(count)} of {number(live)} removed{when} ({_percent(fraction)}, "
            f"limit {_percent(threshold)}): {number(reason['earlier'])} already archived by "
            f"earlier syncs, {number(count - reason['earlier'])} more would be now"
        )
    if rule == "deleted":
        return (
            f"{kind}: {number(count)} of {number(live)} would be archived "
            f"({_percent(fraction)}, limit {_percent(threshold)})"
        )
    if rule == "changed":
        return (
            f"{kind}: {number(count)} of {number(live)} would change ({_percent(fraction)}, "
            f"limit {_percent(threshold)})"
        )
    return ", ".join(f"{key} {value}" for key, value in reason.items())


def outcome_html(run: SyncRun, *, short: bool = False):
    """What went wrong (or why nothing was applied) and the next step, in words
    (``presentation.failure_summary``), with the error as recorded under a disclosure; ``short``:
    the cause alone, for a list ("" when there is nothing to say)."""
    cause, step = failure_summary(run)
    if short:
        return cause
    if not cause and not run.error:
        return "-"
    details = (
        format_html(
            "<details><summary>Details (the error as recorded)</summary>"
            '<pre style="white-space:pre-wrap;margin:4px 0 0">{}</pre></details>',
            run.error,
        )
        if run.error
        else ""
    )
    return format_html(
        '<div class="sync-outcome"><p style="margin:0 0 4px"><strong>{}</strong></p>{}{}</div>',
        cause or run.error,
        format_html('<p style="margin:0 0 4px">{}</p>', step) if step else "",
        details,
    )


def district_history_chart(district):
    """The district's sync history as inline SVG (``presentation.sync_history_svg``) over its
    last runs that ran (skipped ones are left out): for this list filtered by a district, and
    for the District page."""
    runs = (
        SyncRun.objects.filter(district=district)
        .exclude(status=SyncRun.Status.SKIPPED)
        .select_related("district")
        .order_by("-started_at", "-id")[:HISTORY_LENGTH]
    )
    return sync_history_svg(runs)


class DistrictNameFilter(admin.RelatedFieldListFilter):
    """Filter by district, listed by name (not the district's Clever ID)."""

    def field_choices(self, field, request, model_admin):
        return [
            (pk, name or "Unnamed district")
            for pk, name in District.objects.order_by("name", "pk").values_list("pk", "name")
        ]


# --- SyncRun -------------------------------------------------------------------------------------


@admin.register(SyncRun)
class SyncRunAdmin(SupportAdminMixin, admin.ModelAdmin):
    change_form_template = "admin/rostering/syncrun/change_form.html"
    change_list_template = "admin/rostering/syncrun/change_list.html"
    # Five columns, the status with the progress of a running run: they fit 1280 px beside the
    # navigation and the filters. Numbers (requests, pages...) are on the run's page.
    list_display = ["title", "status_badge", "duration", "changes", "outcome_short"]
    list_display_links = ["title"]
    list_filter = ["status", "kind", "trigger", ("district", DistrictNameFilter)]
    search_fields = ["=district__clever_id", "district__name", "error"]
    list_select_related = ["district", "district__sync_request"]
    date_hierarchy = "started_at"
    show_full_result_count = False
    readonly_fields = [
        "district_link",
        "kind_text",
        "trigger_text",
        "status_badge",
        "progress_bar",
        "outcome",
        "started_at",
        "finished_at",
        "duration",
        "hold_link",
        "resumed_link",
        "counts_table",
        "totals_after",
        "totals_unchanged",
        "totals_held",
        "requests",
        "pages",
        "retries",
        "bytes_received",
        "seconds_waited",
        "heartbeat_at",
        "event_cursor_before",
        "checkpoint_json",
    ]

    def get_fieldsets(self, request, obj=None):
        status = getattr(obj, "status", None)
        # A running run's status carries its progress and what it waits for.
        main = ["district_link", "kind_text", "trigger_text", "status_badge"]
        if status != SyncRun.Status.RUNNING and obj is not None and (obj.error or failure_summary(obj)[0]):
            main.append("outcome")
        main += ["started_at", "finished_at", "duration", "hold_link", "resumed_link"]
        changes = ["counts_table"]
        if status == SyncRun.Status.SUCCEEDED:
            changes.append("totals_after")
        elif status in (SyncRun.Status.HELD, SyncRun.Status.REJECTED):
            changes.append("totals_held")
        elif status != SyncRun.Status.RUNNING:
            changes.append("totals_unchanged")
        return [
            (None, {"fields": main}),
            ("Changes", {"fields": changes}),
            (
                "Traffic with Clever",
                {
                    "fields": [
                        "requests",
                        "pages",
                        "retries",
                        "bytes_received",
                        "seconds_waited",
                        "heartbeat_at",
                    ]
                },
            ),
            ("Checkpoint", {"classes": ["collapse"], "fields": ["event_cursor_before", "checkpoint_json"]}),
        ]

    def get_readonly_fields(self, request, obj=None):
        return self.readonly_fields

    @admin.display(description="sync", ordering="started_at")
    def title(self, obj):
        trigger = TRIGGER_WORDS.get(obj.trigger, obj.trigger)
        return format_html('{}<br><span class="quiet">{}</span>', run_title(obj), trigger)

    @admin.display(description="district")
    def district_link(self, obj):
        url = reverse("admin:districts_district_change", args=[obj.district_id])
        return format_html('<a href="{}">{}</a>', url, district_name(obj.district))

    @admin.display(description="kind")
    def kind_text(self, obj):
        return {
            SyncRun.Kind.FULL: "Full: every record of the district",
            SyncRun.Kind.INCREMENTAL: "Incremental: the changes since the last sync (Clever's events)",
        }.get(obj.kind, obj.kind)

    @admin.display(description="why it ran")
    def trigger_text(self, obj):
        return TRIGGER_WORDS.get(obj.trigger, obj.trigger).capitalize()

    @admin.display(description="status", ordering="status")
    def status_badge(self, obj):
        if obj.status != SyncRun.Status.RUNNING:
            return run_badge(obj.status)
        return format_html("{}<br>{}", run_badge(obj.status), run_progress(obj))

    @admin.display(description="progress")
    def progress_bar(self, obj):
        return run_progress(obj)

    @admin.display(description="took", ordering="duration_seconds")
    def duration(self, obj):
        return run_duration(obj)

    @admin.display(description="changes")
    def changes(self, obj):
        return changes_text(obj.counts)

    @admin.display(description="what happened")
    def outcome_short(self, obj):
        return outcome_html(obj, short=True) or "-"

    @admin.display(description="what happened")
    def outcome(self, obj):
        return outcome_html(obj)

    @admin.display(description="counts")
    def counts_table(self, obj):
        if not obj.counts and obj.status in (SyncRun.Status.FAILED, SyncRun.Status.SKIPPED):
            return "None: nothing was applied."
        return counts_table(obj.counts, table_id="run-counts")

    @admin.display(description="live totals after the run")
    def totals_after(self, obj):
        return flat_table(obj.totals)

    @admin.display(description="live totals (not changed by this run)")
    def totals_unchanged(self, obj):
        if not obj.totals:
            return "-"
        why = (
            "A failed run applies nothing"
            if obj.status == SyncRun.Status.FAILED
            else "A skipped run does nothing"
        )
        return format_html(
            '<p class="help" style="margin:0 0 4px">The mirror as it stood when this '
            "run ended. {}: these are not its results.</p>{}",
            why,
            flat_table(obj.totals),
        )

    @admin.display(description="live totals (the held changes not applied)")
    def totals_held(self, obj):
        if not obj.totals:
            return "-"
        return format_html(
            '<p class="help" style="margin:0 0 4px">The mirror as it stood when this '
            "run was held, without its changes.</p>{}",
            flat_table(obj.totals),
        )

    @admin.display(description="checkpoint")
    def checkpoint_json(self, obj):
        return pretty_json(obj.checkpoint)

    @admin.display(description="resumed from")
    def resumed_link(self, obj):
        if obj.resumed_from_id is None:
            return "-"
        url = reverse("admin:rostering_syncrun_change", args=[obj.resumed_from_id])
        return format_html('<a href="{}">{}</a>', url, str(obj.resumed_from))

    @admin.display(description="hold")
    def hold_link(self, obj):
        hold = ChangeHold.objects.filter(run=obj).first()
        if hold is None:
            return "-"
        url = reverse("admin:rostering_changehold_change", args=[hold.pk])
        return format_html(
            '<a href="{}">{}</a> {}',
            url,
            "The hold on this sync",
            badge(hold.status, HOLD_COLORS.get(hold.status, "#6e7781")),
        )

    def change_view(self, request, object_id, form_url="", extra_context=None):
        extra_context = dict(extra_context or {})
        run = self.get_object(request, unquote(object_id)) if is_support(request.user) else None
        if run is not None and run.status == SyncRun.Status.RUNNING:
            extra_context["refresh_seconds"] = RUNNING_REFRESH_SECONDS
        return super().change_view(request, object_id, form_url, extra_context=extra_context)

    def changelist_view(self, request, extra_context=None):
        extra_context = dict(extra_context or {})
        district_id = request.GET.get("district__id__exact", "")
        district = (
            District.objects.filter(pk=district_id).first()
            if district_id.isdigit() and is_support(request.user)
            else None
        )
        if district is not None:
            extra_context["title"] = f"Syncs of {district_name(district)}"
        response = super().changelist_view(request, extra_context=extra_context)
        changelist = (getattr(response, "context_data", None) or {}).get("cl")
        if district is not None and changelist is not None:
            # The runs the list shows (its other filters and search apply), newest first; skipped
            # runs did nothing and are left out unless asked for.
            runs = changelist.queryset.order_by("-started_at", "-id")
            if request.GET.get("status__exact") != SyncRun.Status.SKIPPED:
                runs = runs.exclude(status=SyncRun.Status.SKIPPED)
            response.context_data["history_chart"] = sync_history_svg(runs[:HISTORY_LENGTH])
            response.context_data["history_district"] = district_name(district)
        return response


# --- ChangeHold ----------------------------------------------------------------------------------


@admin.register(ChangeHold)
class ChangeHoldAdmin(SupportAdminMixin, admin.ModelAdmin):
    change_form_template = "admin/rostering/changehold/change_form.html"
    change_list_template = "admin/rostering/changehold/change_list.html"
    confirm_template = "admin/rostering/changehold/confirm.html"
    list_display = ["title", "status_badge", "reasons_summary", "counts_summary", "decided"]
    list_display_links = ["title"]
    list_filter = ["status", ("run__district", DistrictNameFilter)]
    search_fields = ["=run__district__clever_id", "run__district__name"]
    list_select_related = ["run__district", "decided_by"]
    # Pending holds first, newest first within each status.
    ordering = [
        Case(
            When(status=ChangeHold.Status.PENDING, then=Value(0)),
            default=Value(1),
            output_field=IntegerField(),
        ).asc(),
        "-created_at",
    ]
    actions = ["approve_selected", "reject_selected"]
    fields = [
        "district",
        "status_badge",
        "run_link",
        "created_at",
        "decided_at",
        "decided_by_name",
        "decision_reason",
        "reasons_list",
        "counts_table",
        "samples_list",
    ]

    def get_readonly_fields(self, request, obj=None):
        return self.fields

    @admin.display(description="held sync", ordering="created_at")
    def title(self, obj):
        return format_html(
            '{}<br><span class="quiet">held {}</span>', run_title(obj.run), moment_text(obj.created_at)
        )

    @admin.display(description="district", ordering="run__district__name")
    def district(self, obj):
        url = reverse("admin:districts_district_change", args=[obj.run.district_id])
        return format_html('<a href="{}">{}</a>', url, district_name(obj.run.district))

    @admin.display(description="status", ordering="status")
    def status_badge(self, obj):
        return badge(obj.status, HOLD_COLORS.get(obj.status, "#6e7781"))

    @admin.display(description="sync")
    def run_link(self, obj):
        url = reverse("admin:rostering_syncrun_change", args=[obj.run_id])
        return format_html('<a href="{}">{}</a>', url, run_title(obj.run))

    @admin.display(description="why")
    def reasons_summary(self, obj):
        reasons = obj.reasons if isinstance(obj.reasons, list) else []
        shown = "; ".join(reason_text(r) for r in reasons[:2]) or "-"
        more = len(reasons) - 2
        return f"{shown}; and {more} more" if more > 0 else shown

    @admin.display(description="would change")
    def counts_summary(self, obj):
        return changes_text(obj.counts)

    @admin.display(description="decided", ordering="decided_at")
    def decided(self, obj):
        if obj.decided_at is None:
            return "-"
        who = person_name(obj.decided_by) if obj.decided_by else "automatically"
        return format_html("{}<br>{}", who, moment_text(obj.decided_at))

    @admin.display(description="decided by")
    def decided_by_name(self, obj):
        return person_name(obj.decided_by) if obj.decided_by else "-"

    @admin.display(description="reasons")
    def reasons_list(self, obj):
        return reasons_html(obj.reasons)

    @admin.display(description="counts")
    def counts_table(self, obj):
        return counts_table(obj.counts, table_id="hold-counts")

    @admin.display(description="samples")
    def samples_list(self, obj):
        return samples_html(obj.samples, applied=obj.status == ChangeHold.Status.APPROVED)

    # --- deciding -------------------------------------------------------------------------------

    def get_urls(self):
        wrap = self.admin_site.admin_view
        return [
            path(
                "<path:object_id>/approve/",
                wrap(self.decide_view),
                {"decision": "approve"},
                name="rostering_changehold_approve",
            ),
            path(
                "<path:object_id>/reject/",
                wrap(self.decide_view),
                {"decision": "reject"},
                name="rostering_changehold_reject",
            ),
            *super().get_urls(),
        ]

    def change_view(self, request, object_id, form_url="", extra_context=None):
        extra_context = dict(extra_context or {})
        hold = self.get_object(request, unquote(object_id)) if is_support(request.user) else None
        if hold is not None and hold.status == ChangeHold.Status.PENDING:
            extra_context["approve_url"] = reverse("admin:rostering_changehold_approve", args=[hold.pk])
            extra_context["reject_url"] = reverse("admin:rostering_changehold_reject", args=[hold.pk])
        return super().change_view(request, object_id, form_url, extra_context=extra_context)

    def _decide(self, request, holds, decision: str, reason: str) -> None:
        call = approve_hold if decision == "approve" else reject_hold
        done, failed = [], []
        for hold in holds:
            if hold.status != ChangeHold.Status.PENDING:
                failed.append(f"{hold_title(hold)}: already {hold.status}")
                continue
            try:
                call(hold=hold, user=request.user, reason=reason)
            except HoldError as exc:  # decided meanwhile, or a sync of the district is running
                failed.append(f"{hold_title(hold)}: {exc}")
            else:
                done.append(hold)
        verb = "approved and applied" if decision == "approve" else "rejected"
        if done:
            self.message_user(request, f"{len(done)} hold(s) {verb}.", messages.SUCCESS)
        for message in failed[:10]:
            self.message_user(request, message, messages.ERROR)

    def _confirm_page(self, request, holds, decision: str, *, action_name: str = "", form=None):
        context = {
            "form": form or ReasonForm(),
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": f"{decision.capitalize()} {len(holds)} hold(s)?",
            "holds": [
                {
                    "hold": hold,
                    "title": hold_title(hold),
                    "reasons": reasons_html(hold.reasons),
                    "counts": counts_table(hold.counts),
                    "run_url": reverse("admin:rostering_syncrun_change", args=[hold.run_id]),
                }
                for hold in holds
            ],
            "decision": decision,
            "action_name": action_name,
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
        }
        return TemplateResponse(request, self.confirm_template, context)

    def decide_view(self, request, object_id, decision):
        if not is_support(request.user):
            raise PermissionDenied
        hold = self.get_object(request, unquote(object_id))
        if hold is None:
            raise Http404("No such hold")
        change_url = reverse("admin:rostering_changehold_change", args=[hold.pk])
        form = None
        if request.method == "POST" and request.POST.get("confirm") == "yes":
            form = ReasonForm(request.POST)
            if form.is_valid():
                self._decide(request, [hold], decision, form.cleaned_data["reason"])
                return HttpResponseRedirect(change_url)
        if hold.status != ChangeHold.Status.PENDING:
            self.message_user(request, f"{hold_title(hold)}: already {hold.status}.", messages.WARNING)
            return HttpResponseRedirect(change_url)
        return self._confirm_page(request, [hold], decision, form=form)

    def _bulk(self, request, queryset, decision: str, action_name: str):
        holds = list(queryset.select_related("run__district"))
        form = None
        if request.POST.get("confirm") == "yes":
            form = ReasonForm(request.POST)
            if form.is_valid():
                self._decide(request, holds, decision, form.cleaned_data["reason"])
                return None
        return self._confirm_page(request, holds, decision, action_name=action_name, form=form)

    @admin.action(description="Approve the selected holds (apply their changes)…", permissions=["support"])
    def approve_selected(self, request, queryset):
        return self._bulk(request, queryset, "approve", "approve_selected")

    @admin.action(description="Reject the selected holds (discard their changes)…", permissions=["support"])
    def reject_selected(self, request, queryset):
        return self._bulk(request, queryset, "reject", "reject_selected")


# --- the mirror (read-only) ----------------------------------------------------------------------


class ArchivedFilter(admin.SimpleListFilter):
    title = "archived"
    parameter_name = "archived"

    def lookups(self, request, model_admin):
        return [("no", "Live"), ("yes", "Archived")]

    def queryset(self, request, queryset):
        if self.value() == "no":
            return queryset.filter(archived_at__isnull=True)
        if self.value() == "yes":
            return queryset.filter(archived_at__isnull=False)
        return queryset


class RoleFilter(admin.SimpleListFilter):
    title = "role"
    parameter_name = "role"
    ROLES = [
        ("student", "Student"),
        ("teacher", "Teacher"),
        ("staff", "Staff"),
        ("district_admin", "District admin"),
        ("contact", "Contact"),
    ]

    def lookups(self, request, model_admin):
        return self.ROLES

    def queryset(self, request, queryset):
        if self.value() in dict(self.ROLES):
            return queryset.filter(**{f"is_{self.value()}": True})
        return queryset


class MirrorAdmin(SupportAdminMixin, admin.ModelAdmin):
    """Read-only: rows are written by the sync engine only."""

    list_filter = ["district", ArchivedFilter]
    list_select_related = ["district"]
    show_full_result_count = False
    list_per_page = 50
    mirror_fields: list[str] = []

    def get_fields(self, request, obj=None):
        return [
            *self.mirror_fields,
            "district",
            "clever_id",
            "archived_at",
            "created_at",
            "updated_at",
            "content_hash",
            "raw_json",
        ]

    def get_readonly_fields(self, request, obj=None):
        return self.get_fields(request, obj)

    @admin.display(description="Clever record (raw)")
    def raw_json(self, obj):
        return pretty_json(obj.raw)

    @admin.display(description="archived", boolean=True, ordering="archived_at")
    def archived(self, obj):
        return obj.archived_at is not None


@admin.register(School)
class SchoolAdmin(MirrorAdmin):
    list_display = ["name", "clever_id", "sis_id", "nces_id", "district", "archived"]
    search_fields = ["name", "=clever_id", "=sis_id", "=nces_id", "=state_id"]
    mirror_fields = [*FIELDS[RecordType.SCHOOLS], "product_school"]


@admin.register(Term)
class TermAdmin(MirrorAdmin):
    list_display = ["name", "clever_id", "start_date", "end_date", "district", "archived"]
    search_fields = ["name", "=clever_id"]
    mirror_fields = ["name", "start_date", "end_date"]


@admin.register(Course)
class CourseAdmin(MirrorAdmin):
    list_display = ["name", "number", "clever_id", "district", "archived"]
    search_fields = ["name", "=clever_id", "=number"]
    mirror_fields = ["name", "number"]


class MembershipInline(admin.TabularInline):
    model = SectionMembership
    fields = ["person_clever_id", "role", "is_primary"]
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_view_permission(self, request, obj=None):
        return is_support(request.user)


@admin.register(Section)
class SectionAdmin(MirrorAdmin):
    list_display = ["name", "clever_id", "sis_id", "subject", "grade", "period", "district", "archived"]
    list_filter = ["district", ArchivedFilter, "subject"]
    search_fields = ["name", "=clever_id", "=sis_id", "=section_number"]
    mirror_fields = [
        "name",
        "sis_id",
        "section_number",
        "period",
        "subject",
        "grade",
        "school_clever_id",
        "term_clever_id",
        "course_clever_id",
        "primary_teacher_clever_id",
        "synced_in_lms",
    ]
    inlines = [MembershipInline]


class ContactLinkInline(MembershipInline):
    model = ContactLink
    fk_name = "contact"
    fields = ["student_clever_id", "relationship", "type"]
    readonly_fields = fields


@admin.register(Person)
class PersonAdmin(MirrorAdmin):
    list_display = ["__str__", "clever_id", "roles_text", "email", "grade", "district", "archived"]
    list_filter = [
        "district",
        ArchivedFilter,
        RoleFilter,
        "is_student",
        "is_teacher",
        "is_staff",
        "is_district_admin",
        "is_contact",
    ]
    search_fields = [
        "first_name",
        "last_name",
        "=clever_id",
        "=student_sis_id",
        "=teacher_sis_id",
        "=contact_sis_id",
        "=staff_id",
        "=student_number",
        "=teacher_number",
        "email",
    ]
    # sensitive_ciphertext is never listed here; see sensitive_fields.
    mirror_fields = [
        "first_name",
        "middle_name",
        "last_name",
        "email",
        "roles_text",
        "grade",
        "graduation_year",
        "student_sis_id",
        "student_number",
        "student_state_id",
        "teacher_sis_id",
        "teacher_number",
        "teacher_state_id",
        "staff_id",
        "contact_sis_id",
        "title",
        "district_username",
        "legacy_ids",
        "school_clever_ids",
        "account",
    ]
    inlines = [ContactLinkInline]

    def get_fields(self, request, obj=None):
        fields = super().get_fields(request, obj)
        fields.insert(fields.index("raw_json"), "sensitive_fields")
        return fields

    @admin.display(description="roles")
    def roles_text(self, obj):
        return ", ".join(obj.roles)

    @admin.display(description="product account")
    def account(self, obj):
        # By name: the account's username is "clever-<Clever ID>" or the product's own.
        return person_name(obj.user) if obj.user_id else "-"

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        if obj is not None:
            # Decrypted, and the view logged, only for those allowed; ``sensitive_fields`` reads
            # it from the instance the page shows (a ModelAdmin is shared by every request).
            obj.shown_sensitive = reveal_sensitive(request.user, [obj], page="the person page")
        return super().render_change_form(
            request, context, add=add, change=change, form_url=form_url, obj=obj
        )

    @admin.display(description="sensitive and demographic fields")
    def sensitive_fields(self, obj):
        if not obj.sensitive_ciphertext:
            return "None stored"
        shown = getattr(obj, "shown_sensitive", None)
        if shown is None:
            return f"Stored, encrypted ({HIDDEN})"
        values = shown.get(obj.pk)
        return UNREADABLE if values is None else sensitive_table(values)


# The District admin's rostering half (sync buttons, history, roster counts).
from . import admin_district  # noqa: E402,F401
