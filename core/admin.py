"""What every app's Django admin shares (below all apps: no models, no imports from the apps).

Who is support staff, and the admin mixin that lets only them in (read-only: services write);
the small HTML helpers of the admin pages (a coloured badge, pretty JSON).

The permission and the "Support" group holding it belong to the ``districts`` app
(``District.Meta.permissions``, migration districts/0003): they are named here, not imported.
"""

from __future__ import annotations

import json
from typing import Any

from django.utils.html import format_html
from django.utils.safestring import SafeString

SUPPORT_PERMISSION = "districts.support_district"
SUPPORT_GROUP = "Support"


def is_support(user: Any) -> bool:
    """Support staff: active staff who are superusers or hold ``districts.support_district``."""
    return bool(user.is_active and user.is_staff and (user.is_superuser or user.has_perm(SUPPORT_PERMISSION)))


def badge(text: str, color: str, title: str = "") -> SafeString:
    return format_html(
        '<span title="{}" style="display:inline-block;padding:1px 8px;border-radius:10px;'
        'color:#fff;background:{};font-size:11px;font-weight:600;white-space:nowrap">{}</span>',
        title,
        color,
        text,
    )


def pretty_json(value: Any) -> SafeString:
    return format_html(
        '<pre style="white-space:pre-wrap;margin:0">{}</pre>',
        json.dumps(value, indent=2, ensure_ascii=False, sort_keys=True, default=str),
    )


class SupportAdminMixin:
    """Support staff only; nothing is added or deleted through admin forms (services write)."""

    def has_support_permission(self, request) -> bool:
        return is_support(request.user)

    def has_module_permission(self, request):
        return is_support(request.user)

    def has_view_permission(self, request, obj=None):
        return is_support(request.user)

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
