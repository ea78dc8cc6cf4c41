"""What support staff were told: the alerts sent (or waiting for the daily digest), read-only.
The subjects' states behind them are bookkeeping and have no page."""

from __future__ import annotations

from django.contrib import admin
from django.utils.html import format_html

from core.admin import SupportAdminMixin

from .models import Alert


@admin.register(Alert)
class AlertAdmin(SupportAdminMixin, admin.ModelAdmin):
    list_display = ("created_at", "title", "kind", "delivered", "resolve_link")
    list_filter = ("kind",)
    search_fields = ("title",)
    date_hierarchy = "created_at"
    fields = ("created_at", "kind", "title", "body", "resolve_link", "delivered")
    readonly_fields = fields

    @admin.display(description="sent")
    def delivered(self, alert: Alert) -> str:
        if alert.sent_at is None:
            return "waiting for the daily digest"
        delivery = alert.delivery or {}
        webhook = {"sent": ", webhook", "failed": ", webhook failed"}.get(delivery.get("webhook", ""), "")
        emails = delivery.get("emails", 0)
        to = f"{emails} email(s)" if emails else "no email (no recipient: see ALERT_EMAILS)"
        return f"{alert.sent_at:%Y-%m-%d %H:%M}: {to}{webhook}"

    @admin.display(description="where to resolve it")
    def resolve_link(self, alert: Alert):
        return format_html('<a href="{}">Open</a>', alert.url) if alert.url else "-"
