"""Charts drawn on the server as inline SVG (no library, nothing from a CDN): every text is
escaped, every shape has a <title> in words, and a legend in text says what the colors mean."""

from __future__ import annotations

from django.utils.html import escape, format_html, format_html_join
from django.utils.safestring import SafeString, mark_safe

COLORS = {"succeeded": "#1a7f37", "held": "#9a6700", "failed": "#cf222e"}
LABELS = {"succeeded": "succeeded", "held": "held for approval", "failed": "failed"}


def _n(value: float) -> str:
    # Numbers are formatted before format_html, which escapes its arguments into text first.
    return f"{value:.1f}"


def _stacked_bar(day: dict, label: str, *, x: float, bar_w: float, baseline: float, plot_h: float, top: int):
    """One day's bar: a segment per status with runs (succeeded at the bottom), each titled."""
    segments = []
    y = baseline
    for status in ("succeeded", "held", "failed"):
        n = day[status]
        if not n:
            continue
        h = plot_h * n / top
        y -= h
        segments.append(
            format_html(
                '<rect x="{}" y="{}" width="{}" height="{}" fill="{}"><title>{}: {} {}</title></rect>',
                _n(x),
                _n(y),
                _n(bar_w),
                _n(h),
                COLORS[status],
                label,
                n,
                LABELS[status],
            )
        )
    return segments


def runs_per_day_svg(days: list[dict], *, width: int = 640, height: int = 160) -> SafeString:
    """Stacked bars of syncs per day (``console.selectors.runs_per_day``): succeeded, held,
    failed; the day under each bar, the scale's top at the left."""
    if not days:
        return mark_safe("")
    top = max(1, max(d["succeeded"] + d["held"] + d["failed"] for d in days))
    left, bottom, gap = 28, 22, 4
    plot_h = height - bottom - 8
    bar_w = (width - left) / len(days) - gap
    shapes = []
    for i, day in enumerate(days):
        x = left + i * (bar_w + gap)
        label = day["day"].strftime("%d %b")
        shapes += _stacked_bar(day, label, x=x, bar_w=bar_w, baseline=height - bottom, plot_h=plot_h, top=top)
        if i % max(1, len(days) // 7) == 0:
            shapes.append(
                format_html(
                    '<text x="{}" y="{}" font-size="10" fill="#57606a">{}</text>', _n(x), height - 6, label
                )
            )
    legend = format_html_join(
        " ",
        '<span style="color:{}">■</span> {}',
        ((COLORS[s], LABELS[s]) for s in ("succeeded", "held", "failed")),
    )
    return format_html(
        '<figure class="chart"><svg role="img" aria-label="{}" viewBox="0 0 {} {}" width="100%" '
        'preserveAspectRatio="none" style="max-width:{}px;height:{}px">'
        '<text x="0" y="12" font-size="10" fill="#57606a">{}</text>'
        '<line x1="{}" y1="{}" x2="{}" y2="{}" stroke="#d0d7de"/>{}</svg>'
        "<figcaption>{}</figcaption></figure>",
        f"Syncs per day over the last {len(days)} days",
        width,
        height,
        width,
        height,
        top,
        left - 2,
        height - bottom,
        width,
        height - bottom,
        mark_safe("".join(shapes)),  # noqa: S308 - each shape built by format_html
        legend,
    )


def status_strip_svg(runs, *, width: int = 150, height: int = 18) -> SafeString:
    """One small bar per run (oldest left), its height the run's duration relative to the
    longest, its color its status: a district's recent history at a glance."""
    if not runs:
        return mark_safe('<span class="muted">no syncs yet</span>')
    longest = max((run.duration_seconds or 0) for run in runs) or 1
    step = width / max(len(runs), 1)
    bars = []
    for i, run in enumerate(runs):
        h = max(3.0, (height - 2) * (run.duration_seconds or 0) / longest)
        when = run.started_at.strftime("%d %b %H:%M") if run.started_at else ""
        bars.append(
            format_html(
                '<rect x="{}" y="{}" width="{}" height="{}" fill="{}"><title>{} · {} · {}s</title></rect>',
                _n(i * step),
                _n(height - h),
                _n(max(step - 1, 1)),
                _n(h),
                COLORS.get(run.status, "#6e7781"),
                when,
                LABELS.get(run.status, escape(run.status)),
                round(run.duration_seconds or 0, 1),
            )
        )
    return format_html(
        '<svg role="img" aria-label="{}" width="{}" height="{}">{}</svg>',
        f"last {len(runs)} syncs",
        width,
        height,
        mark_safe("".join(bars)),  # noqa: S308 - each bar built by format_html
    )
