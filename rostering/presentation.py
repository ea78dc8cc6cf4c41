"""How sync runs read to people: titles, what went wrong and what happens next, what a running
sync is waiting for, and a chart of a district's sync history.

Pure functions of the rows they are given (no queries, except ``failure_summary`` reading the
district's pending ``SyncRequest`` when the caller does not pass ``retry_at``). The admin
(``rostering/admin.py``) uses them on the sync run and hold pages; the District page can show
the same chart::

    from rostering.presentation import HISTORY_LENGTH, sync_history_svg
    runs = district.sync_runs.exclude(status="skipped")[:HISTORY_LENGTH]
    chart = sync_history_svg(runs)  # safe, escaped SVG: {{ chart }} in a template

**Failures in words.** The engine records why a run failed, was skipped or read the whole
district (``SyncRun.cause``, from the exception's type or the district's state), whether waiting
can help (``SyncRun.retryable``) and a short error text for support (``SyncRun.error``, shown
under a disclosure, never parsed). ``failure_summary`` says the cause in words and the next
step: a temporary cause retries at the time of the district's pending sync request (the task
postpones the request to when its retry is due), or at the next nightly sync when none is owed.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from django.conf import settings
from django.core.exceptions import ObjectDoesNotExist
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

from districts.models import DistrictStatus

from .models import SyncRequest, SyncRun

# Plain words for record types, roles and count kinds (keys of SyncRun.counts/totals and of a
# hold's counts and reasons).
LABELS = {
    "schools": "schools",
    "terms": "terms",
    "courses": "courses",
    "sections": "sections",
    "users": "users",
    "students": "students",
    "teachers": "teachers",
    "staff": "staff",
    "district_admins": "district admins",
    "contacts": "contacts",
    "enrollments": "enrollments",
}
RECORD_TYPES = ("schools", "terms", "courses", "sections", "users")
ROLES = ("students", "teachers", "staff", "district_admins", "contacts")
KINDS = ("created", "updated", "archived", "restored", "unchanged")

STATUS_WORDS = {
    SyncRun.Status.RUNNING: "running",
    SyncRun.Status.SUCCEEDED: "succeeded",
    SyncRun.Status.HELD: "held for review",
    SyncRun.Status.FAILED: "failed",
    SyncRun.Status.SKIPPED: "skipped",
    SyncRun.Status.REJECTED: "rejected",
}
TRIGGER_WORDS = {
    SyncRun.Trigger.MANUAL: "asked for by support staff",
    SyncRun.Trigger.NIGHTLY: "nightly",
    SyncRun.Trigger.COMMAND: "from the command line",
    SyncRun.Trigger.LOGIN: "after a sign-in",
    SyncRun.Trigger.RESUME: "resuming an interrupted sync",
    SyncRun.Trigger.CONNECTED: "after the district connected",
    SyncRun.Trigger.POLL: "after checking Clever for changes",
}
STATUS_COLORS = {
    SyncRun.Status.RUNNING: "#0969da",
    SyncRun.Status.SUCCEEDED: "#1a7f37",
    SyncRun.Status.HELD: "#9a6700",
    SyncRun.Status.FAILED: "#cf222e",
    SyncRun.Status.SKIPPED: "#6e7781",
    SyncRun.Status.REJECTED: "#57606a",
}
# How many runs the history chart shows.
HISTORY_LENGTH = 30

_UNKNOWN = object()


def label(key: str) -> str:
    return LABELS.get(key, str(key).replace("_", " "))


def number(value) -> str:
    """A count with thousands separators ("12,345"); anything else as it is."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return str(value)
    return f"{value:,}" if isinstance(value, int) or value.is_integer() else f"{value:,.1f}"


# --- times ---------------------------------------------------------------------------------


def moment_text(moment: datetime, *, now: datetime | None = None, seconds: bool = False) -> str:
    """ "3 Dec 02:00" in the site's time zone ("3 Dec 2025 02:00" in another year than now's)."""
    local = timezone.localtime(moment)
    year = timezone.localtime(now or timezone.now()).year
    clock = local.strftime("%H:%M:%S" if seconds else "%H:%M")
    when = f"{local.day} {local:%b}" + (f" {local.year}" if local.year != year else "")
    return f"{when} {clock}"


def at_text(moment: datetime, *, now: datetime | None = None, seconds: bool = False) -> str:
    """ "at 14:05" today, "tomorrow at 02:00", else "on 5 Dec at 02:00"."""
    now = now or timezone.now()
    local, today = timezone.localtime(moment), timezone.localtime(now).date()
    clock = local.strftime("%H:%M:%S" if seconds else "%H:%M")
    if local.date() == today:
        return f"at {clock}"
    if local.date() == today + timedelta(days=1):
        return f"tomorrow at {clock}"
    return f"on {moment_text(moment, now=now).rsplit(' ', 1)[0]} at {clock}"


def next_nightly_sync(now: datetime | None = None) -> datetime:
    """When Celery beat next dispatches the nightly syncs (``SYNC_NIGHTLY_HOUR``/``MINUTE``, in
    the site's time zone, which is Celery's)."""
    local = timezone.localtime(now or timezone.now())
    moment = local.replace(
        hour=settings.SYNC_NIGHTLY_HOUR, minute=settings.SYNC_NIGHTLY_MINUTE, second=0, microsecond=0
    )
    return moment if moment > local else moment + timedelta(days=1)


def duration_text(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    seconds = round(seconds)
    if seconds < 60:
        return f"{seconds}s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes}m {seconds:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h {minutes:02d}m"


def run_seconds(run: SyncRun) -> float | None:
    if run.duration_seconds is not None:
        return run.duration_seconds
    if run.finished_at and run.started_at:
        return (run.finished_at - run.started_at).total_seconds()
    return None


# --- titles --------------------------------------------------------------------------------


def run_district(run: SyncRun):
    """The run's district (None when it has none, e.g. an unsaved run without one)."""
    try:
        return run.district
    except ObjectDoesNotExist:
        return None


def district_name(district) -> str:
    return (getattr(district, "name", "") or "an unnamed district") if district else "a district"


def run_title(run: SyncRun, *, now: datetime | None = None) -> str:
    """ "Incremental sync of Oxford Community Schools, 3 Dec 02:00": the district's name and
    when the run started, never a database ID."""
    kind = (run.kind or "sync").capitalize()
    when = f", {moment_text(run.started_at, now=now)}" if run.started_at else ""
    return f"{kind} sync of {district_name(run_district(run))}{when}"


def hold_title(hold, *, now: datetime | None = None) -> str:
    """ "Hold on the full sync of Oxford Community Schools, 3 Dec 02:00"."""
    title = run_title(hold.run, now=now)
    return f"Hold on the {title[0].lower()}{title[1:]}"


def changed_total(counts: dict | None) -> int:
    """Records a run created, updated, archived or restored (all types together)."""
    total = 0
    for kind in ("created", "updated", "archived", "restored"):
        per_type = (counts or {}).get(kind) or {}
        if isinstance(per_type, dict):
            total += sum(
                int(n) for t, n in per_type.items() if t in RECORD_TYPES and isinstance(n, int | float)
            )
    return total


# --- what went wrong, and what happens next ------------------------------------------------

Cause = SyncRun.Cause


def _pending_retry(run: SyncRun) -> datetime | None:
    """When the district's owed sync is due, if one is owed since this run started."""
    district = run_district(run)
    if district is None or district.pk is None:
        return None
    try:
        request = district.sync_request
    except SyncRequest.DoesNotExist:
        return None
    if request is None or (run.started_at and request.due_at < run.started_at):
        return None
    return request.due_at


def _syncable(run: SyncRun) -> bool:
    district = run_district(run)
    return district is None or district.syncable


def _retry_step(run: SyncRun, retry_at: datetime | None, now: datetime) -> str:
    if not _syncable(run):
        return "It is not synced again until the district is connected and its syncs are on."
    if retry_at is not None and retry_at > now:
        return f"Nothing to do: it will retry {at_text(retry_at, now=now)}."
    if retry_at is not None:
        return (
            f"Nothing to do: a retry was due {at_text(retry_at, now=now)}; the recovery "
            "sweep sends it again within a few minutes."
        )
    return f"Nothing to do: the next nightly sync, {at_text(next_nightly_sync(now), now=now)}, tries again."


SUPPORT = "Support should look at the details: waiting will not fix it."
REAUTHORIZE = (
    "The district must re-authorize the app in Clever (its Clever administrator "
    "reconnects it); syncs resume once it is connected again."
)


def _departed_step() -> str:
    return (
        "Nothing to fix on our side: syncs resume if the district shares its data again "
        "(it re-authorizes the app in Clever). Its roster is archived now and purged after "
        f"{settings.ROSTER_RETENTION_DAYS} days."
    )


def _failed(run: SyncRun, retry_at: datetime | None, now: datetime) -> tuple[str, str]:
    cause = run.cause
    retry = _retry_step(run, retry_at, now)
    if cause == Cause.INTERRUPTED:
        when = f", {at_text(retry_at, now=now)}" if retry_at is not None and retry_at > now else ""
        return (
            "The process running this sync stopped before it finished (it was killed, lost "
            "its database connection, or went silent).",
            f"Nothing to do: the next run resumes it from where it stopped{when}.",
        )
    if cause == Cause.TOKEN_REFUSED:
        district = run_district(run)
        marked = (
            f" The district is now marked {district.get_status_display().lower()}."
            if district is not None and district.status != DistrictStatus.CONNECTED
            else ""
        )
        return (
            "Clever refused the district's access token (401): the district revoked the "
            f"app's access, or the token is no longer valid.{marked}",
            REAUTHORIZE,
        )
    if cause in _FAILURES:
        words, waiting_helps = _FAILURES[cause]
        if waiting_helps:
            return words, retry
        if cause in (Cause.NO_TOKEN, Cause.DEPARTED):
            return words, _departed_step()
        return words, _NEXT_STEP.get(cause, SUPPORT)
    if run.retryable:
        return ("A temporary problem stopped the sync; nothing was applied.", retry)
    if not cause:
        return (
            "This sync failed before the cause of failures was recorded.",
            "Support should look at the details below.",
        )
    return (
        "An unexpected error stopped the sync; nothing was applied.",
        "Support should look at the details below.",
    )


# What each failure was, in words, and whether waiting can help (then the step says when the
# sync tries again); the next step of the others when it is not "support should look" (or,
# for a district that stopped sharing, ``_departed_step``).
_FAILURES = {
    Cause.NO_TOKEN: (
        "The district stopped sharing its data with the app: Clever lists no token for it.",
        False,
    ),
    Cause.DEPARTED: (
        "The district stopped sharing its data with the app while this sync was "
        "running; nothing was applied.",
        False,
    ),
    Cause.APP_CREDENTIALS: (
        "Clever refused the app's own credentials (401) when asked for the district's token.",
        False,
    ),
    Cause.RATE_LIMITED: (
        "Clever's rate limit: it kept answering \u201ctoo many requests\u201d even after the sync waited.",
        True,
    ),
    Cause.SERVER_ERROR: ("Clever had a server error on every try.", True),
    Cause.NO_ANSWER: ("Clever did not answer (the connection failed or timed out) on every try.", True),
    Cause.UNREADABLE: (
        "Clever's answer was cut short or was not JSON on every try (usually a dropped connection).",
        True,
    ),
    Cause.DATABASE: ("The connection to our database dropped during the sync.", True),
    Cause.REDIS: ("Redis (the task queue and cache) could not be reached.", True),
    Cause.TIME_LIMIT: ("The sync ran past its time limit.", True),
    Cause.BAD_RECORD: (
        "Clever sent a malformed record (no usable ID, or not a JSON object), so nothing was applied.",
        False,
    ),
    Cause.BAD_ANSWER: ("Clever's answer was not in the shape the sync expects.", False),
    Cause.BAD_REQUEST: ("Clever refused a request of the sync as invalid (HTTP 400).", False),
    Cause.FORBIDDEN: ("Clever refused access to data the sync asked for (HTTP 403).", False),
    Cause.NOT_FOUND: ("Clever could not find something the sync asked for (HTTP 404).", False),
    Cause.TOO_LARGE: ("The sync asked Clever for pages larger than it allows (HTTP 413).", False),
    Cause.UNSUPPORTED: ("Clever does not support a request the sync made (HTTP 501).", False),
}
_NEXT_STEP = {
    Cause.APP_CREDENTIALS: (
        "Support should look at the details: the app's Clever client ID and secret need checking."
    ),
    Cause.BAD_RECORD: (
        "Support should look at the details: the district's data may need fixing "
        "in Clever. Waiting will not fix it."
    ),
    Cause.FORBIDDEN: ("Support should look at the details: the district may have limited what it shares."),
    Cause.TOO_LARGE: ("Support should look at the details: CLEVER_PAGE_SIZE must be at most 10,000."),
}


def _skipped(run: SyncRun) -> tuple[str, str]:
    cause = run.cause
    if cause == Cause.BUSY:
        return (
            "Not run: another sync of this district was already running.",
            "Nothing to do: that sync does the work.",
        )
    if cause == Cause.SYNCS_OFF:
        return (
            "Not run: syncs are switched off for this district.",
            "Switch them back on in the district's sync settings to sync it.",
        )
    if cause == Cause.PAUSED:
        return ("Not run: the district is paused.", "Syncs resume when it is unpaused.")
    if cause == Cause.NOT_CONNECTED:
        return ("Not run: the district was not connected (it stopped sharing its data).", REAUTHORIZE)
    return (f"Not run: {run.error}" if run.error else "Not run.", "")


def _fallback(run: SyncRun) -> tuple[str, str]:
    if run.cause == Cause.EVENTS_STALE:
        return (
            "The event cursor was older than Clever keeps events "
            f"({settings.CLEVER_EVENT_RETENTION_DAYS} days), so this sync read the whole "
            "district instead of the changes.",
            "Nothing to do: the next syncs read only the changes again.",
        )
    if run.cause == Cause.EVENTS_OFF:
        return (
            "Events are switched off for the district in Clever, so this sync read the whole district.",
            "Nothing to do: syncs read the whole district until events are back on.",
        )
    return ("", "")


# Failures the district fixes (it re-authorizes, or chose to stop sharing): not support's job.
_DISTRICTS_OWN = frozenset({Cause.TOKEN_REFUSED, Cause.NO_TOKEN, Cause.DEPARTED})


def support_must_act(run: SyncRun) -> bool:
    """Whether only support can fix ``run``'s failure: waiting will not, nor the district."""
    return run.status == SyncRun.Status.FAILED and not run.retryable and run.cause not in _DISTRICTS_OWN


def failure_summary(run: SyncRun, *, retry_at=_UNKNOWN, now: datetime | None = None) -> tuple[str, str]:
    """What went wrong with ``run``, in words, and the next step: ``(cause, next_step)``;
    ``("", "")`` when there is nothing to explain (it succeeded plainly, or is running).

    Covers every cause the engine records (``SyncRun.cause``) and the runs that did not fail
    but did not do what was asked: skipped, held, rejected, and an incremental sync that fell
    back to a full one (a stale event cursor, events switched off). ``retry_at``: when the
    district's pending sync request (``SyncRequest.due_at``) is due, or None when none is owed;
    left out, it is read from ``run.district.sync_request``."""
    now = now or timezone.now()
    status = run.status
    if status == SyncRun.Status.FAILED:
        if retry_at is _UNKNOWN:
            retry_at = _pending_retry(run)
        return _failed(run, retry_at, now)
    if status == SyncRun.Status.SKIPPED:
        return _skipped(run)
    if status == SyncRun.Status.HELD:
        return (
            "Held for review: it would change more of the roster than the guard allows; "
            "nothing is applied yet.",
            "Support staff approve or reject the hold (on the hold's page).",
        )
    if status == SyncRun.Status.REJECTED:
        if run.cause == Cause.SUPERSEDED:
            return (
                "A newer sync of the district replaced this held one before anyone decided "
                "it; nothing was applied.",
                "Nothing to do: the newer sync has the district's current changes.",
            )
        return (
            "Support staff rejected the held changes; nothing was applied.",
            "Nothing to do: the next sync reads the district again (and is held again if "
            "Clever still shows the same changes).",
        )
    if status == SyncRun.Status.SUCCEEDED:
        return _fallback(run)
    return ("", "")


# --- a running sync ------------------------------------------------------------------------

WAIT_WORDS = {
    "rate_limit": "Waiting for Clever's rate limit",
    "server_error": "Clever answered with a server error; waiting to try again",
    "no_answer": "Clever did not answer; waiting to try again",
    "unreadable": "Clever's answer was cut short; waiting to fetch it again",
}


def waiting_until(run: SyncRun, *, now: datetime | None = None) -> datetime | None:
    """When a running sync's current wait (a rate limit, a backoff) ends, if it is waiting."""
    if run.status != SyncRun.Status.RUNNING or not isinstance(run.waiting, dict):
        return None
    until = parse_datetime(str(run.waiting.get("until") or ""))
    if until is None or until <= (now or timezone.now()):
        return None
    return until


def waiting_text(run: SyncRun, *, now: datetime | None = None) -> str:
    """ "Waiting for Clever's rate limit (resumes at 14:03:07), 3 retries so far", or "" when
    the run is not waiting (``SyncRun.waiting``, written by the engine before each wait)."""
    now = now or timezone.now()
    until = waiting_until(run, now=now)
    if until is None:
        return ""
    words = WAIT_WORDS.get(str(run.waiting.get("reason")), "Waiting to try Clever again")
    retries = run.retries or 0
    so_far = f", {retries} retr{'y' if retries == 1 else 'ies'} so far" if retries else ""
    return f"{words} (resumes {at_text(until, now=now, seconds=True)}){so_far}"


# --- the history chart ---------------------------------------------------------------------

_W, _LEFT, _RIGHT = 640, 64, 12
_DURATION_TOP, _DURATION_H = 30, 90
_CHANGES_TOP, _CHANGES_H = 150, 60
_H = 262
_CHANGES_COLOR = "#0969da"
_LEGEND = (
    (SyncRun.Status.SUCCEEDED, "succeeded"),
    (SyncRun.Status.HELD, "held"),
    (SyncRun.Status.FAILED, "failed (\u2715)"),
    (SyncRun.Status.REJECTED, "rejected or other"),
)


def _attr(value) -> str:
    return escape(str(value))


def _text(
    x: float,
    y: float,
    text: str,
    *,
    anchor: str = "start",
    size: int = 11,
    color: str = "#57606a",
    weight: str = "normal",
) -> str:
    return (
        f'<text x="{x:.1f}" y="{y:.1f}" font-size="{size}" fill="{color}" '
        f'text-anchor="{anchor}" font-weight="{weight}">{escape(text)}</text>'
    )


def _run_tooltip(run: SyncRun, now: datetime) -> str:
    status = STATUS_WORDS.get(run.status, run.status)
    took = run_seconds(run)
    parts = [f"{run_title(run, now=now)}: {status}"]
    if took is not None:
        parts.append(f"took {duration_text(took)}")
    changed = changed_total(run.counts)
    parts.append(f"{number(changed)} record{'' if changed == 1 else 's'} changed")
    text = ", ".join(parts)
    if run.status == SyncRun.Status.FAILED:
        cause, _step = failure_summary(run, retry_at=None, now=now)
        text += f". {cause}"
    return text


def _panel_frames(longest: float, most: int) -> list[str]:
    """The two panels' headings, axes and top values."""
    parts = []
    for top, height, heading, top_label in (
        (_DURATION_TOP, _DURATION_H, "Duration", duration_text(longest)),
        (_CHANGES_TOP, _CHANGES_H, "Records changed", number(most)),
    ):
        parts.append(_text(_LEFT, top - 8, heading, size=12, color="#24292f", weight="bold"))
        parts.append(_text(_LEFT - 6, top + 9, top_label, anchor="end"))
        parts.append(_text(_LEFT - 6, top + height, "0", anchor="end"))
        parts.append(
            f'<line x1="{_LEFT}" y1="{top + height}" x2="{_W - _RIGHT}" '
            f'y2="{top + height}" stroke="#d0d7de"/>'
        )
        parts.append(
            f'<line x1="{_LEFT}" y1="{top}" x2="{_W - _RIGHT}" y2="{top}" '
            'stroke="#eaeef2" stroke-dasharray="3 3"/>'
        )
    return parts


def _run_bars(
    run: SyncRun, *, slot_x: float, slot: float, bar: float, longest: float, most: int, now: datetime
) -> list[str]:
    """One run's group: its duration bar (a cross under a failure), its changes bar, its tooltip."""
    x = slot_x + (slot - bar) / 2
    color = STATUS_COLORS.get(run.status, "#57606a")
    took = run_seconds(run) or 0.0
    height = max(_DURATION_H * took / longest, 1.5)
    changed = changed_total(run.counts)
    changes_h = _CHANGES_H * changed / most if changed else 0.0
    parts = [
        f'<g class="run run-{_attr(run.status)}"><title>{escape(_run_tooltip(run, now))}</title>',
        # The whole slot takes the pointer, so a tiny bar's tooltip is easy to reach.
        f'<rect x="{slot_x:.1f}" y="{_DURATION_TOP}" '
        f'width="{slot:.1f}" height="{_CHANGES_TOP + _CHANGES_H - _DURATION_TOP}" '
        'fill="transparent"/>',
        f'<rect x="{x:.1f}" y="{_DURATION_TOP + _DURATION_H - height:.1f}" '
        f'width="{bar:.1f}" height="{height:.1f}" fill="{color}"/>',
    ]
    if run.status == SyncRun.Status.FAILED:
        parts.append(
            _text(
                x + bar / 2,
                _DURATION_TOP + _DURATION_H + 14,
                "\u2715",
                anchor="middle",
                size=12,
                color=color,
                weight="bold",
            )
        )
    if changes_h:
        parts.append(
            f'<rect x="{x:.1f}" y="{_CHANGES_TOP + _CHANGES_H - changes_h:.1f}" '
            f'width="{bar:.1f}" height="{changes_h:.1f}" '
            f'fill="{_CHANGES_COLOR}"/>'
        )
    parts.append("</g>")
    return parts


def _time_axis(runs: list[SyncRun], now: datetime) -> list[str]:
    """When: the first and the last run."""
    axis_y = _CHANGES_TOP + _CHANGES_H + 16
    first, last = runs[0], runs[-1]
    parts = []
    if first.started_at:
        parts.append(_text(_LEFT, axis_y, moment_text(first.started_at, now=now)))
    if last is not first and last.started_at:
        parts.append(_text(_W - _RIGHT, axis_y, moment_text(last.started_at, now=now), anchor="end"))
    return parts


def _legend() -> list[str]:
    """The colors, in words."""
    parts = []
    x, legend_y = float(_LEFT), _H - 8
    for status, words in _LEGEND:
        parts.append(
            f'<rect x="{x:.1f}" y="{legend_y - 9}" width="10" height="10" fill="{STATUS_COLORS[status]}"/>'
        )
        parts.append(_text(x + 14, legend_y, words))
        x += 14 + 6.2 * len(words) + 16
    parts.append(f'<rect x="{x:.1f}" y="{legend_y - 9}" width="10" height="10" fill="{_CHANGES_COLOR}"/>')
    parts.append(_text(x + 14, legend_y, "records changed"))
    return parts


def sync_history_svg(runs: Iterable[SyncRun], *, now: datetime | None = None) -> SafeString:
    """A chart of a district's last ``HISTORY_LENGTH`` runs (oldest on the left), drawn as
    inline SVG: how long each took (bars in the run's status color, failures red and marked
    with a cross) and how many records it changed; a legend in words, and each run's title,
    outcome and cause (for a failure) as its tooltip. Every text is escaped; no script, no
    external asset. Renders for any number of runs (none: a chart that says so)."""
    now = now or timezone.now()
    runs = sorted(runs, key=lambda r: (r.started_at or now, r.pk or 0))[-HISTORY_LENGTH:]
    failures = sum(1 for r in runs if r.status == SyncRun.Status.FAILED)
    summary = (
        f"Sync history: the last {len(runs)} sync{'' if len(runs) == 1 else 's'}, {failures} failed"
        if runs
        else "Sync history: no syncs yet"
    )
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {_W} {_H}" width="{_W}" '
        f'height="{_H}" role="img" aria-label="{_attr(summary)}" class="sync-history" '
        'style="max-width:100%;height:auto;font-family:sans-serif">',
        f"<title>{escape(summary)}</title>",
    ]
    if not runs:
        parts.append(_text(_W / 2, _H / 2, "No syncs yet", anchor="middle", size=13))
        parts.append("</svg>")
        return mark_safe("".join(parts))  # noqa: S308 - every text above is escaped

    longest = max((run_seconds(r) or 0.0) for r in runs) or 1.0
    most = max(changed_total(r.counts) for r in runs) or 1
    parts += _panel_frames(longest, most)
    slot = (_W - _LEFT - _RIGHT) / max(len(runs), 1)
    bar = max(min(slot * 0.7, 28.0), 2.0)
    for index, run in enumerate(runs):
        parts += _run_bars(
            run, slot_x=_LEFT + index * slot, slot=slot, bar=bar, longest=longest, most=most, now=now
        )
    parts += _time_axis(runs, now)
    parts += _legend()
    parts.append("</svg>")
    return mark_safe("".join(parts))  # noqa: S308 - every text above is escaped
