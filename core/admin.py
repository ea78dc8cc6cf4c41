"""What every app's Django admin shares (below all apps: no models, no imports from the apps).

Who is support staff, and the admin mixin that lets only them in (read-only: services write);
the small HTML helpers of the admin pages (a coloured badge, pretty JSON); the "are you sure?"
page of set-based deletes (``CountedDeletionMixin``); and the one way an app adds to another
app's admin without replacing it (``AdminExtension``, ``AdminExtensions``): the
app that owns a model registers its one ``ModelAdmin`` and keeps a registry of extensions, and
the apps above register theirs in it (``districts.admin.extend_district_admin``,
``accounts.admin.extend_organization_admin``). Nobody unregisters another app's admin, so which
admin a model gets never depends on the order the apps load in.

The permission and the "Support" group holding it belong to the ``districts`` app
(``District.Meta.permissions``, migration districts/0003): they are named here, not imported.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.template.response import TemplateResponse
from django.utils.html import format_html
from django.utils.safestring import SafeString

from .deletion import count_cascading

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


def confirmation_page(
    model_admin, request, *, title: str, confirm_label: str, question: str, form, change_url: str, **extra
) -> TemplateResponse:
    """The page that asks support staff "are you sure?" with a reason (``core.forms.ReasonForm``)
    before an action that needs one; ``extra`` goes to the template as it is (``original``, the
    object the page is about; ``hidden`` fields to post back; ``listed`` and ``nothing_listed``,
    what a bulk action will act on; ``action`` and ``selected``, to repeat a bulk action)."""
    context = {
        **model_admin.admin_site.each_context(request),
        "opts": model_admin.opts,
        "title": title,
        "confirm_label": confirm_label,
        "question": question,
        "form": form,
        "change_url": change_url,
        **extra,
    }
    return TemplateResponse(request, "admin/confirm_with_reason.html", context)


class CountedDeletionMixin:
    """For a ``ModelAdmin`` whose ``delete_model`` (and ``delete_queryset``) delete set-based
    (``core.deletion``): the "are you sure?" page counts the rows of each kind that go, a
    ``COUNT`` each, instead of Django's list of every one (millions for a large district); the
    confirmed POST (``post=yes``, from that page) deletes and needs no counts. Refusals come from
    ``has_delete_permission``."""

    def get_deleted_objects(self, objs, request):
        chosen = list(objs)
        rows = self.model._base_manager.filter(pk__in=[obj.pk for obj in chosen])  # type: ignore[attr-defined]
        counts = {} if request.POST.get("post") else count_cascading(rows)
        return [str(obj) for obj in chosen], counts, set(), []


class SupportAdminMixin:
    """Support staff only; nothing is added or deleted through admin forms (services write)."""

    def has_support_permission(self, request) -> bool:
        return is_support(request.user)

    def support_object(self, request, object_id):
        """The object a support-only page is about: 403 for anyone but support staff, 404 when
        it does not exist (or the admin's queryset hides it)."""
        if not self.has_support_permission(request):
            raise PermissionDenied
        obj = self.get_object(request, unquote(object_id))  # type: ignore[attr-defined]
        if obj is None:
            raise Http404(f"No such {self.opts.verbose_name}")  # type: ignore[attr-defined]
        return obj

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


# --- extending another app's admin -----------------------------------------------------------------


@dataclass(frozen=True)
class Panel:
    """A block of an object's admin page contributed by an extension: ``template`` drawn with
    ``context`` as ``panel``; panels are shown by ``position`` (smaller first)."""

    template: str
    context: dict
    position: int = 50


class AdminExtension:
    """What an app above adds to a lower app's admin of one model. The lower app subclasses
    this with the hooks its own pages offer (``districts.admin.DistrictAdminExtension``,
    ``accounts.admin.OrganizationAdminExtension``); an app above subclasses that, overrides what
    it needs, and registers an instance in its own admin module, as it would register a model.
    Every hook has a harmless default."""

    # Changelist columns: names of this extension's ``@admin.display`` methods.
    columns: tuple[str, ...] = ()
    # Bulk actions: ``@admin.action`` functions taking ``(modeladmin, request, queryset)``.
    actions: tuple = ()

    def urls(self, model_admin) -> list:
        """URL patterns added under the model's admin, before Django's own (views wrapped in
        ``model_admin.admin_site.admin_view``)."""
        return []

    def annotate(self, queryset):
        """The changelist's queryset with what this extension's columns read."""
        return queryset

    def panels(self, request, obj) -> list[Panel]:
        """Blocks this extension adds to the object's page."""
        return []


E = TypeVar("E", bound=AdminExtension)


class AdminExtensions(Generic[E]):
    """The extensions of one admin, in the order they were registered (each class once), and
    how the admin merges what they add: actions and columns after its own, querysets annotated by
    each, URLs before Django's, panels sorted by position with the admin's own."""

    def __init__(self) -> None:
        self._extensions: list[E] = []

    def add(self, extension: E) -> E:
        """Register ``extension`` (a second instance of the same class changes nothing)."""
        if not any(type(known) is type(extension) for known in self._extensions):
            self._extensions.append(extension)
        return extension

    def __iter__(self) -> Iterator[E]:
        return iter(tuple(self._extensions))

    def __len__(self) -> int:
        return len(self._extensions)

    def actions(self) -> list:
        return [action for extension in self for action in extension.actions]

    def columns(self) -> list:
        return [getattr(extension, name) for extension in self for name in extension.columns]

    def annotate(self, queryset):
        for extension in self:
            queryset = extension.annotate(queryset)
        return queryset

    def urls(self, model_admin) -> list:
        return [pattern for extension in self for pattern in extension.urls(model_admin)]

    def panels(self, request, obj, *own: Panel) -> list[Panel]:
        found = [panel for extension in self for panel in extension.panels(request, obj)]
        return sorted([*found, *own], key=lambda panel: panel.position)
