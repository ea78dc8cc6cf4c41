"""Clever districts in the Django admin, for support staff.

Who sees these pages: active staff users who are superusers or hold the
``districts.support_district`` permission (given by the "Support" group). Other staff users,
whatever model permissions they hold, are refused (403): the pages show children's data and act
on districts. The permission is ``District.Meta.permissions`` and the "Support" group holding it
comes from migration districts/0003; grant access with
``user.groups.add(Group.objects.get(name="Support"))``.

``District`` is registered here, once: ``DistrictAdmin``. The apps above extend it through
``DistrictAdminExtension`` (``extend_district_admin``; the mechanism is ``core.admin``'s
``AdminExtension``, shared with the Organization admin): rostering adds the sync buttons, the last
sync, roster counts and the sync history; matching adds "Run matching" and the onboarding
checklist. ``districts`` imports neither. Who is support staff, the support-only mixin and the
badge are ``core.admin`` (every app's admin uses them). This module's own parts: the status
badge, the token page (paste or clear a token: never shown, only "stored: yes/no" and its
fingerprint), the sync settings page, the staff buttons and actions (disconnect, reconnect,
pause, resume, syncs on/off, discover; disconnecting asks for a reason first), all calling
``districts.services``; and the read-only audit log.
"""

from __future__ import annotations

import json
import logging

from celery.exceptions import Retry
from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.http import HttpResponseNotAllowed, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html

from clever.errors import CleverError
from core.admin import (
    AdminExtension,
    AdminExtensions,
    CountedDeletionMixin,
    Panel,
    SupportAdminMixin,
    badge,
    confirmation_page,
    is_support,
    pretty_json,
)
from core.errors import AppError
from core.forms import ReasonForm

from . import crypto, selectors, services
from .events import DEPARTED
from .models import District, DistrictAudit, DistrictStatus
from .tasks import discover_districts_task

logger = logging.getLogger(__name__)

STATUS_COLORS = {
    DistrictStatus.CONNECTED: "#1a7f37",
    DistrictStatus.PAUSED: "#9a6700",
    DistrictStatus.REVOKED: "#cf222e",
    DistrictStatus.DISCONNECTED: "#6e7781",
}


def status_badge(district: District):
    return badge(
        district.get_status_display(), STATUS_COLORS.get(district.status, "#6e7781"), district.status_reason
    )


def token_summary(district: District) -> str:
    """ "stored: yes/no" and the fingerprint; never the token."""
    if not district.token_ciphertext:
        return "Stored: no (fetched from Clever's /oauth/tokens at sync time)"
    try:
        fingerprint = services.token_fingerprint(crypto.decrypt(district.token_ciphertext))
    except crypto.DecryptionError:
        fingerprint = "undecryptable with the configured keys"
    when = f", set {district.token_set_at:%Y-%m-%d %H:%M} UTC" if district.token_set_at else ""
    return f"Stored: yes (pasted by support staff; fingerprint {fingerprint}{when})"


def _with_details_text(audit: DistrictAudit) -> DistrictAudit:
    audit.details_text = json.dumps(audit.details, ensure_ascii=False, sort_keys=True, default=str)
    return audit


def discovery_message(summary: dict) -> str:
    return (
        f"Discovery: {summary['total']} listed by Clever; {len(summary['created'])} new, "
        f"{len(summary['updated'])} updated, {len(summary['reconnected'])} reconnected, "
        f"{len(summary['disconnected'])} disconnected, {len(summary['revoked'])} revoked, "
        f"{len(summary['errors'])} unreadable."
    )


class PasteTokenForm(forms.Form):
    token = forms.CharField(
        label="District-app token",
        strip=True,
        max_length=512,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "off", "size": 60}),
        help_text="Checked with Clever (GET /v3.1/me) before it is stored, encrypted. "
        "It is never shown again: only its fingerprint.",
    )


class SyncSettingsForm(forms.Form):
    sync_enabled = forms.BooleanField(required=False, label="Syncs on")
    events_enabled = forms.BooleanField(
        required=False,
        label="Incremental syncs from events",
        help_text="Off: every sync reads the whole roster.",
    )
    guard_max_deleted_fraction = forms.FloatField(
        required=False,
        min_value=0,
        max_value=1,
        label="Hold when more than this share is archived",
        help_text="Per record type and role, 0 to 1. Empty: the default (%(deleted)s).",
    )
    guard_max_changed_fraction = forms.FloatField(
        required=False,
        min_value=0,
        max_value=1,
        label="Hold when more than this share changes",
        help_text="0 to 1. Empty: the default (%(changed)s).",
    )
    store_sensitive_fields = forms.BooleanField(
        required=False,
        label="Store sensitive and demographic fields",
        help_text="IEP, 504, disability, gifted, English learner and lunch status, gender, race, "
        "ethnicity, home language and address, district-defined fields, parents' phone "
        "numbers (docs/privacy.md): encrypted, shown only with the “view sensitive "
        "fields” permission. The date of birth is kept, encrypted, either way (matching "
        "needs it). Switching it off erases the other values at once; switching it on, "
        "the next sync updates every student who has them (held if that exceeds the "
        "change guard).",
    )
    reason = forms.CharField(required=False, max_length=500, label="Reason (for the audit log)")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for name, default in (
            ("deleted", settings.SYNC_GUARD_MAX_DELETED_FRACTION),
            ("changed", settings.SYNC_GUARD_MAX_CHANGED_FRACTION),
        ):
            field = self.fields[f"guard_max_{name}_fraction"]
            field.help_text = field.help_text % {name: default}


class DistrictAdminExtension(AdminExtension):
    """What an app above ``districts`` adds to the one District admin. It subclasses this,
    overrides what it needs, and registers an instance with ``extend_district_admin`` in its own
    admin module, as it would register a model. Every hook has a harmless default. Besides
    ``core.admin.AdminExtension``'s (columns, actions, URLs, ``annotate``, ``panels``: a
    ``Panel`` of the district's page, the audit log being at 100), the district's buttons and
    its next step."""

    # Buttons on the district's page: name -> label; a click calls ``press``.
    buttons: dict[str, str] = {}
    # Buttons that ask for a confirmation with a reason first: name -> what the click will do.
    confirmations: dict[str, str] = {}

    def shows(self, request, district: District, name: str) -> bool:
        """Whether the button ``name`` applies to the district now."""
        return True

    def press(self, request, district: District, name: str, reason: str = "") -> str:
        """Do what the button ``name`` says; returns the message for support staff. Raise
        ``services.DistrictStateError`` (or a ``CleverError``) to report a refusal."""
        raise NotImplementedError(name)

    def next_action(self, district: District) -> str:
        """What support should do next about the district, in words ("" when nothing, from this
        extension's point of view). Read from the row as ``annotate`` left it."""
        return ""


_extensions: AdminExtensions[DistrictAdminExtension] = AdminExtensions()


def extend_district_admin(extension: DistrictAdminExtension) -> DistrictAdminExtension:
    """Add ``extension`` to the District admin (once per extension class)."""
    return _extensions.add(extension)


@admin.register(District)
class DistrictAdmin(CountedDeletionMixin, SupportAdminMixin, admin.ModelAdmin):
    """The one District admin. Apps above extend it through ``DistrictAdminExtension``:
    rostering (syncs, roster counts, the sync history), matching (matching, onboarding)."""

    change_form_template = "admin/districts/district/change_form.html"
    change_list_template = "admin/districts/district/change_list.html"
    token_form_template = "admin/districts/district/token_form.html"
    settings_form_template = "admin/districts/district/settings_form.html"

    list_display = ["district_name", "status_badge"]
    list_display_links = ["district_name"]
    list_filter = [
        "status",
        "sync_enabled",
        "events_enabled",
        "us_state",
        ("organization", admin.EmptyFieldListFilter),
    ]
    search_fields = ["name", "=clever_id", "=nces_id", "=mdr_number", "organization__name"]
    list_select_related = ["organization"]
    fieldsets = [
        (
            "Clever",
            {
                "fields": [
                    "clever_id",
                    "name",
                    "us_state",
                    "nces_id",
                    "mdr_number",
                    "sis_type",
                    "portal_url",
                    "login_methods",
                    "clever_state",
                    "clever_last_sync",
                    "pause_start",
                    "pause_end",
                    "lms_type",
                    "lms_state",
                    "launch_date",
                ]
            },
        ),
        (
            "Connection",
            {
                "fields": [
                    "status_badge",
                    "status_reason",
                    "status_changed_at",
                    "disconnected_by_support",
                    "discovered_at",
                    "last_seen_at",
                    "departed_at",
                    "token",
                ]
            },
        ),
        (
            "Sync settings",
            {
                "fields": [
                    "sync_enabled",
                    "events_enabled",
                    "event_cursor",
                    "event_cursor_at",
                    "events_polled_at",
                    "guard_max_deleted_fraction",
                    "guard_max_changed_fraction",
                    "store_sensitive_fields",
                ]
            },
        ),
        (
            "Organization",
            {"fields": ["organization", "link_method", "linked_at", "linked_by", "link_evidence"]},
        ),
    ]

    # This app's buttons: name -> label, each handled by ``button_<name>``; extensions add theirs.
    buttons = {
        "pause": "Pause syncs",
        "resume": "Resume syncs",
        "disconnect": "Disconnect…",
        "reconnect": "Reconnect",
        "enable_sync": "Switch syncs on",
        "disable_sync": "Switch syncs off",
        "clear_token": "Clear the pasted token",
    }
    confirmations = {
        "disconnect": (
            "Disconnecting stops the district's syncs at once and archives its roster: its "
            "teachers and students can no longer sign in, and their accounts are switched off. "
            "Discovery will not reconnect it while Clever still lists it; reconnecting within "
            "the retention window restores everything. After that window its data is deleted."
        ),
    }

    @property
    def actions(self):
        return [
            "disconnect_selected",
            "reconnect_selected",
            "pause_selected",
            "resume_selected",
            *_extensions.actions(),
        ]

    def get_list_display(self, request):
        return [*self.list_display, *_extensions.columns(), "next_action"]

    @admin.display(description="next step")
    def next_action(self, obj):
        """The most urgent thing to do about the district: its connection first, then what the
        apps above say (a held sync, a failed one, the review queue), then its link."""
        status = obj.status
        if status == DistrictStatus.REVOKED:
            return "Ask the district to authorize the app again in Clever"
        if status == DistrictStatus.DISCONNECTED:
            return "None: it stopped sharing (archived, purged after the retention window)"
        for extension in _extensions:
            if said := extension.next_action(obj):
                return said
        if status == DistrictStatus.PAUSED:
            return "Resume syncs when the district is ready"
        if not obj.organization_id:
            return "Link it to its organization"
        if not obj.sync_enabled:
            return "Switch syncs on"
        return "Nothing to do"

    def get_queryset(self, request):
        return _extensions.annotate(super().get_queryset(request))

    def get_readonly_fields(self, request, obj=None):
        return [f for fieldset in self.fieldsets for f in fieldset[1]["fields"]]

    @admin.display(description="status", ordering="status")
    def status_badge(self, obj):
        return status_badge(obj)

    @admin.display(description="district", ordering="name")
    def district_name(self, obj):
        # Its organization under the name (one column less, so the list fits 1280 px).
        return format_html(
            '{}<br><span class="quiet">{}</span>',
            obj.name or "Unnamed district",
            obj.organization or "not linked to an organization",
        )

    @admin.display(description="district token")
    def token(self, obj):
        return token_summary(obj)

    @admin.display(description="disconnected by support")
    def disconnected_by_support(self, obj):
        # In words: a bare ✗ beside the field's help text read as if it were disconnected.
        if obj.staff_disconnected:
            return "Yes: discovery does not reconnect it until support does"
        return "No"

    # --- URLs -----------------------------------------------------------------------------------

    def get_urls(self):
        info = self.opts.app_label, self.opts.model_name
        wrap = self.admin_site.admin_view
        return [
            path("discover/", wrap(self.discover_view), name="{}_{}_discover".format(*info)),
            path("<path:object_id>/token/", wrap(self.token_view), name="{}_{}_token".format(*info)),
            path("<path:object_id>/settings/", wrap(self.settings_view), name="{}_{}_settings".format(*info)),
            path(
                "<path:object_id>/do/<slug:button>/",
                wrap(self.button_view),
                name="{}_{}_button".format(*info),
            ),
            *_extensions.urls(self),
            *super().get_urls(),
        ]

    def _change_url(self, district: District) -> str:
        return reverse(f"admin:{self.opts.app_label}_{self.opts.model_name}_change", args=[district.pk])

    # --- the change page ------------------------------------------------------------------------

    def _shows(self, district: District, name: str) -> bool:
        status = district.status
        return {
            "pause": status == DistrictStatus.CONNECTED,
            "resume": status == DistrictStatus.PAUSED,
            "disconnect": status != DistrictStatus.DISCONNECTED,
            "reconnect": status in (DistrictStatus.DISCONNECTED, DistrictStatus.REVOKED),
            "enable_sync": not district.sync_enabled,
            "disable_sync": district.sync_enabled,
            "clear_token": district.has_stored_token,
        }.get(name, True)

    def visible_buttons(self, request, district: District) -> list[tuple[str, str, object]]:
        """(name, label, owner) of the buttons that apply now: the extensions' first (syncing is
        what support does most), then this app's. ``owner`` is the extension, or None."""
        found = [
            (name, label, extension)
            for extension in _extensions
            for name, label in extension.buttons.items()
            if extension.shows(request, district, name)
        ]
        found += [(name, label, None) for name, label in self.buttons.items() if self._shows(district, name)]
        return found

    def _confirmation(self, name: str, owner) -> str:
        return (owner.confirmations if owner is not None else self.confirmations).get(name, "")

    def change_view(self, request, object_id, form_url="", extra_context=None):
        extra_context = dict(extra_context or {})
        district = self.get_object(request, unquote(object_id)) if is_support(request.user) else None
        if district is not None:
            extra_context.update(self.district_context(request, district))
        return super().change_view(request, object_id, form_url, extra_context=extra_context)

    def district_context(self, request, district: District) -> dict:
        info = self.opts.app_label, self.opts.model_name
        audits = Panel(
            "admin/districts/district/audit_panel.html",
            {
                "audits": [_with_details_text(a) for a in selectors.district_audits(district)[:50]],
                "audits_url": reverse("admin:districts_districtaudit_changelist")
                + f"?district__id__exact={district.pk}",
            },
            position=100,
        )
        return {
            "district_buttons": [
                {
                    "label": label,
                    "url": reverse("admin:{}_{}_button".format(*info), args=[district.pk, name]),
                    "confirm": bool(self._confirmation(name, owner)),
                }
                for name, label, owner in self.visible_buttons(request, district)
            ],
            "token_url": reverse("admin:{}_{}_token".format(*info), args=[district.pk]),
            "settings_url": reverse("admin:{}_{}_settings".format(*info), args=[district.pk]),
            "district_panels": _extensions.panels(request, district, audits),
        }

    def button_view(self, request, object_id, button):
        """A button: a POST does it; one that needs a confirmation shows a page asking for a
        reason first (GET, or a POST whose reason is missing), and does it with that reason."""
        district = self.support_object(request, object_id)
        owner = next(
            (o for name, _label, o in self.visible_buttons(request, district) if name == button), False
        )
        if owner is False:
            self.message_user(request, "That action does not apply to this district now.", messages.WARNING)
            return HttpResponseRedirect(self._change_url(district))
        question = self._confirmation(button, owner)
        reason = ""
        if question:
            form = ReasonForm(request.POST if request.method == "POST" else None)
            if not form.is_valid():
                label = (owner.buttons if owner is not None else self.buttons)[button].rstrip("…")
                return confirmation_page(
                    self,
                    request,
                    original=district,
                    title=f"{label} {district}?",
                    confirm_label=label,
                    question=question,
                    form=form,
                    change_url=self._change_url(district),
                )
            reason = form.cleaned_data["reason"]
        elif request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        try:
            if owner is None:
                text = getattr(self, f"button_{button}")(request, district, reason)
            else:
                text = owner.press(request, district, button, reason)
        except (services.DistrictStateError, services.NoToken, CleverError) as exc:
            self.message_user(request, str(exc), messages.ERROR)
        else:
            self.message_user(request, text, messages.SUCCESS)
        return HttpResponseRedirect(self._change_url(district))

    def button_pause(self, request, district, reason):
        services.pause_district(district=district, actor=request.user, reason=reason)
        return f"{district}: syncs paused."

    def button_resume(self, request, district, reason):
        services.resume_district(district=district, actor=request.user, reason=reason)
        return f"{district}: syncs resumed."

    def button_disconnect(self, request, district, reason):
        services.disconnect_district(district=district, actor=request.user, reason=reason)
        return (
            f"{district}: disconnected; its roster is archived and its accounts switched off. "
            "Discovery will not reconnect it until support does."
        )

    def button_reconnect(self, request, district, reason):
        services.reconnect_district(district=district, actor=request.user, reason=reason)
        return f"{district}: reconnected; its roster and accounts are back."

    def button_enable_sync(self, request, district, reason):
        services.set_sync_enabled(district=district, enabled=True, actor=request.user, reason=reason)
        return f"{district}: syncs switched on."

    def button_disable_sync(self, request, district, reason):
        services.set_sync_enabled(district=district, enabled=False, actor=request.user, reason=reason)
        return f"{district}: syncs switched off."

    def button_clear_token(self, request, district, reason):
        services.clear_pasted_token(district=district, actor=request.user)
        return f"{district}: pasted token cleared; syncs fetch the token from Clever again."

    def token_view(self, request, object_id):
        district = self.support_object(request, object_id)
        form = PasteTokenForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                services.set_pasted_token(
                    district=district, token=form.cleaned_data["token"], actor=request.user
                )
            except services.TokenRejected as exc:
                form.add_error("token", str(exc))
            else:
                self.message_user(request, f"{district}: token stored, encrypted.", messages.SUCCESS)
                return HttpResponseRedirect(self._change_url(district))
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "original": district,
            "title": f"Paste a district-app token for {district}",
            "form": form,
            "token": token_summary(district),
            "change_url": self._change_url(district),
        }
        return TemplateResponse(request, self.token_form_template, context)

    def settings_view(self, request, object_id):
        district = self.support_object(request, object_id)
        initial = {name: getattr(district, name) for name in services.SYNC_SETTINGS}
        form = SyncSettingsForm(request.POST or None, initial=initial)
        if request.method == "POST" and form.is_valid():
            changes = {name: form.cleaned_data[name] for name in services.SYNC_SETTINGS}
            try:
                services.update_sync_settings(
                    district=district, actor=request.user, reason=form.cleaned_data["reason"], **changes
                )
            except services.DistrictStateError as exc:
                form.add_error(None, str(exc))
            else:
                self.message_user(request, f"{district}: sync settings saved.", messages.SUCCESS)
                return HttpResponseRedirect(self._change_url(district))
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "original": district,
            "title": f"Sync settings of {district}",
            "form": form,
            "change_url": self._change_url(district),
        }
        return TemplateResponse(request, self.settings_form_template, context)

    def discover_view(self, request):
        """Run discovery as a task: in-process without Redis (the summary is shown at once),
        on a worker with it (the list fills in when it is done; it reads every district)."""
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        if not self.has_support_permission(request):
            raise PermissionDenied
        logger.info("district discovery requested by user %s", request.user.pk)
        try:
            result = discover_districts_task.delay()
            summary = result.get(timeout=0) if result.ready() else None
        except (CleverError, Retry) as exc:
            self.message_user(request, f"Discovery failed: {exc}", messages.ERROR)
        else:
            if summary is None:
                self.message_user(
                    request,
                    "Discovery queued: new districts appear here when it has read Clever's list.",
                    messages.INFO,
                )
            else:
                self.message_user(
                    request,
                    discovery_message(summary),
                    messages.WARNING if summary["errors"] else messages.SUCCESS,
                )
        return HttpResponseRedirect(reverse(f"admin:{self.opts.app_label}_{self.opts.model_name}_changelist"))

    # --- deletion -------------------------------------------------------------------------------

    def has_delete_permission(self, request, obj=None):
        """Superusers, one district at a time from its page (no bulk action), and only a district
        that no longer shares: one that does would come back with the next discovery."""
        user = request.user
        return bool(obj is not None and obj.status in DEPARTED and user.is_active and user.is_superuser)

    def delete_model(self, request, obj):
        services.delete_district(district=obj)

    def delete_view(self, request, object_id, extra_context=None):
        try:
            return super().delete_view(request, object_id, extra_context)
        except AppError as refused:  # a sync that began before the district departed still runs
            self.message_user(request, f"The district was not deleted: {refused}", messages.ERROR)
            return HttpResponseRedirect(
                reverse(f"admin:{self.opts.app_label}_{self.opts.model_name}_change", args=[object_id])
            )

    # --- bulk actions ---------------------------------------------------------------------------

    def _each(self, request, queryset, call, done: str):
        ok, failed = 0, []
        for district in queryset:
            try:
                call(district)
            except (services.DistrictStateError, services.NoToken, CleverError) as exc:
                failed.append(f"{district}: {exc}")
            else:
                ok += 1
        if ok:
            self.message_user(request, f"{done}: {ok} district(s).", messages.SUCCESS)
        for message in failed[:10]:
            self.message_user(request, message, messages.ERROR)

    @admin.action(description="Disconnect the selected districts…", permissions=["support"])
    def disconnect_selected(self, request, queryset):
        """Asks for a reason on a confirmation page listing the districts first."""
        districts = queryset.exclude(status=DistrictStatus.DISCONNECTED)
        form = ReasonForm(request.POST if "confirmed" in request.POST else None)
        if not form.is_valid():
            return confirmation_page(
                self,
                request,
                title=f"Disconnect {districts.count()} district(s)?",
                confirm_label="Disconnect",
                question=self.confirmations["disconnect"],
                form=form,
                listed=districts,
                nothing_listed="None of the selected districts can be disconnected.",
                action="disconnect_selected",
                selected=request.POST.getlist(helpers.ACTION_CHECKBOX_NAME),
                change_url=reverse(f"admin:{self.opts.app_label}_{self.opts.model_name}_changelist"),
            )
        reason = form.cleaned_data["reason"]
        self._each(
            request,
            districts,
            lambda d: services.disconnect_district(district=d, actor=request.user, reason=reason),
            "Disconnected",
        )
        return None

    @admin.action(description="Reconnect the selected districts", permissions=["support"])
    def reconnect_selected(self, request, queryset):
        self._each(
            request,
            queryset.filter(status__in=[DistrictStatus.DISCONNECTED, DistrictStatus.REVOKED]),
            lambda d: services.reconnect_district(district=d, actor=request.user),
            "Reconnected",
        )

    @admin.action(description="Pause syncs of the selected districts", permissions=["support"])
    def pause_selected(self, request, queryset):
        self._each(
            request,
            queryset.filter(status=DistrictStatus.CONNECTED),
            lambda d: services.pause_district(district=d, actor=request.user),
            "Paused",
        )

    @admin.action(description="Resume syncs of the selected districts", permissions=["support"])
    def resume_selected(self, request, queryset):
        self._each(
            request,
            queryset.filter(status=DistrictStatus.PAUSED),
            lambda d: services.resume_district(district=d, actor=request.user),
            "Resumed",
        )


@admin.register(DistrictAudit)
class DistrictAuditAdmin(SupportAdminMixin, admin.ModelAdmin):
    """Every decision about a district, read-only (rows are written by the services)."""

    list_display = [
        "created_at",
        "district",
        "action",
        "who",
        "organization_before",
        "organization_after",
        "method",
    ]
    list_filter = ["action", "method", "district"]
    search_fields = ["=district__clever_id", "district__name", "actor_label", "actor__username"]
    list_select_related = ["district", "actor", "organization_before", "organization_after"]
    date_hierarchy = "created_at"
    fields = [
        "created_at",
        "district",
        "action",
        "actor",
        "actor_label",
        "organization_before",
        "organization_after",
        "method",
        "details_pretty",
    ]
    readonly_fields = fields

    @admin.display(description="details")
    def details_pretty(self, obj):
        return pretty_json(obj.details)

    @admin.display(description="who")
    def who(self, obj):
        return obj.actor_label or (obj.actor.get_username() if obj.actor else "")
