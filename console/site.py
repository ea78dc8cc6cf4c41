"""The admin site support staff work in: its index is a dashboard of what needs attention."""

from __future__ import annotations

from django.contrib import admin


class SupportAdminSite(admin.AdminSite):
    site_header = "Clever bridge support"
    site_title = "Clever bridge support"
    index_title = "Support dashboard"
    index_template = "admin/console_index.html"

    def index(self, request, extra_context=None):
        # Not at import time: the site is built while the apps' admin modules register with it.
        from core.admin import is_support
        from districts.admin import status_badge

        from . import charts, selectors

        extra_context = dict(extra_context or {})
        if is_support(request.user):
            districts = selectors.fleet()
            runs = selectors.recent_runs([d.pk for d in districts])
            extra_context.update(
                attention=selectors.attention(),
                fleet=[
                    {
                        "district": d,
                        "status": status_badge(d),
                        "history": charts.status_strip_svg(runs.get(d.pk, [])),
                        "last_failed": d.last_status == "failed",
                    }
                    for d in districts
                ],
                runs_chart=charts.runs_per_day_svg(selectors.runs_per_day()),
                support=True,
            )
        return super().index(request, extra_context)
