"""The local Clever in the Django admin: read-mostly, with actions that call ``sandbox.services``.

Nothing is added, edited or deleted here by hand (records are written by the services so bodies,
edges and events stay consistent), except whole districts, deleted through the service; districts
have actions to rotate or revoke their token, disconnect or reconnect, and switch events. Tokens
and authorization codes are shown masked everywhere, and their lists have no links or checkboxes,
whose URLs and values would carry the secret itself (a token's primary key is the token).
"""

import json

from django.contrib import admin, messages
from django.utils.html import format_html

from core.admin import CountedDeletionMixin

from . import services
from .models import (
    SandboxApplication,
    SandboxAuthCode,
    SandboxDistrict,
    SandboxEdge,
    SandboxEvent,
    SandboxLmsAssignment,
    SandboxLmsCourse,
    SandboxLmsSubmission,
    SandboxRecord,
    SandboxSigningKey,
    SandboxToken,
)


def mask(secret: str) -> str:
    return f"{secret[:4]}…{secret[-2:]}" if secret else ""


def pretty_json(value) -> str:
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return value
    return format_html(
        "<pre style='white-space: pre-wrap'>{}</pre>", json.dumps(value, indent=2, ensure_ascii=False)
    )


class ReadOnlyAdmin(admin.ModelAdmin):
    """View-only: rows change through sandbox.services, never through admin forms."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def has_sandbox_control_permission(self, request):
        return request.user.is_active and request.user.is_staff


@admin.register(SandboxApplication)
class SandboxApplicationAdmin(ReadOnlyAdmin):
    list_display = ["name", "client_id", "primary_redirect_uri", "oidc"]
    fields = ["name", "client_id", "client_secret", "redirect_uris", "oidc"]
    readonly_fields = fields

    @admin.display(description="primary redirect URI")
    def primary_redirect_uri(self, obj):
        return obj.redirect_uris[0] if obj.redirect_uris else ""


@admin.register(SandboxDistrict)
class SandboxDistrictAdmin(CountedDeletionMixin, ReadOnlyAdmin):
    list_display = [
        "name",
        "id",
        "sharing",
        "connected",
        "events_enabled",
        "lms_type",
        "lms_state",
        "district_token",
        "created_at",
    ]
    list_filter = ["sharing", "connected", "events_enabled", "lms_type"]
    search_fields = ["id", "name"]
    fields = [
        "id",
        "name",
        "sharing",
        "connected",
        "events_enabled",
        "lms_type",
        "lms_state",
        "district_token",
        "created_at",
        "district_object",
    ]
    readonly_fields = fields
    actions = ["rotate_token", "revoke_token", "disconnect", "reconnect", "enable_events", "disable_events"]

    # Districts may go (generated ones, a bench's million students): through the service, which
    # deletes set-based; the confirmation page counts rows instead of listing them.
    def has_delete_permission(self, request, obj=None):
        return self.has_sandbox_control_permission(request)

    def delete_model(self, request, obj):
        services.delete_district(district=obj)

    def delete_queryset(self, request, queryset):
        for district in queryset:
            services.delete_district(district=district)

    @admin.display(description="district token")
    def district_token(self, obj):
        token = services.district_token(obj)
        return mask(token.access_token) if token else "-"

    @admin.display(description="district object (v3.1)")
    def district_object(self, obj):
        return pretty_json(services.district_body(obj))

    def _each(self, request, queryset, call, done: str):
        for district in queryset:
            call(district)
        self.message_user(request, f"{done}: {queryset.count()} district(s).", messages.SUCCESS)

    @admin.action(description="Rotate the district token", permissions=["sandbox_control"])
    def rotate_token(self, request, queryset):
        self._each(
            request,
            queryset.filter(connected=True, sharing="district"),
            lambda d: services.rotate_district_token(district=d),
            "Token rotated",
        )

    @admin.action(description="Revoke the district token", permissions=["sandbox_control"])
    def revoke_token(self, request, queryset):
        def revoke(district):
            token = services.district_token(district)
            if token is not None:
                services.revoke_token(access_token=token.access_token)

        self._each(request, queryset, revoke, "Token revoked")

    @admin.action(description="Disconnect the district", permissions=["sandbox_control"])
    def disconnect(self, request, queryset):
        self._each(
            request,
            queryset.filter(connected=True),
            lambda d: services.disconnect_district(district=d),
            "Disconnected",
        )

    @admin.action(description="Reconnect the district", permissions=["sandbox_control"])
    def reconnect(self, request, queryset):
        self._each(
            request,
            queryset.filter(connected=False),
            lambda d: services.reconnect_district(district=d),
            "Reconnected",
        )

    @admin.action(description="Enable events", permissions=["sandbox_control"])
    def enable_events(self, request, queryset):
        self._each(
            request, queryset, lambda d: services.set_events_enabled(district=d, enabled=True), "Events on"
        )

    @admin.action(description="Disable events", permissions=["sandbox_control"])
    def disable_events(self, request, queryset):
        self._each(
            request, queryset, lambda d: services.set_events_enabled(district=d, enabled=False), "Events off"
        )


@admin.register(SandboxRecord)
class SandboxRecordAdmin(ReadOnlyAdmin):
    list_display = [
        "clever_id",
        "record_type",
        "display_name",
        "is_student",
        "is_teacher",
        "is_staff",
        "is_district_admin",
        "is_contact",
        "district",
    ]
    list_filter = [
        "record_type",
        "is_student",
        "is_teacher",
        "is_staff",
        "is_district_admin",
        "is_contact",
        "district",
    ]
    search_fields = ["=clever_id", "display_name"]
    list_select_related = ["district"]
    show_full_result_count = False
    fields = ["clever_id", "district", "record_type", "display_name", "v31_body"]
    readonly_fields = fields

    @admin.display(description="v3.1 body")
    def v31_body(self, obj):
        return pretty_json(obj.body)


@admin.register(SandboxEdge)
class SandboxEdgeAdmin(ReadOnlyAdmin):
    list_display = ["src_id", "rel", "dst_id", "district"]
    list_filter = ["rel", "district"]
    search_fields = ["=src_id", "=dst_id"]
    show_full_result_count = False


@admin.register(SandboxEvent)
class SandboxEventAdmin(ReadOnlyAdmin):
    list_display = ["id", "type", "record_id", "district", "created"]
    list_filter = ["type", "record_type", "district"]
    search_fields = ["=id", "=record_id"]
    list_select_related = ["district"]
    show_full_result_count = False
    fields = ["id", "district", "type", "record_type", "record_id", "schools", "created", "payload"]
    readonly_fields = fields

    @admin.display(description="data (v3.1)")
    def payload(self, obj):
        return pretty_json(obj.body)


class SecretKeyedAdmin(ReadOnlyAdmin):
    """For models whose primary key is a secret: no row links, no checkboxes, masked values."""

    list_display_links = None
    actions = None


@admin.register(SandboxToken)
class SandboxTokenAdmin(SecretKeyedAdmin):
    list_display = ["masked_token", "kind", "district", "user_id", "scope_count", "created", "revoked_at"]
    list_filter = ["kind", "district", ("revoked_at", admin.EmptyFieldListFilter)]
    list_select_related = ["district"]
    fields = ["masked_token", "kind", "district", "user_id", "scopes", "created", "revoked_at"]
    readonly_fields = fields

    @admin.display(description="access token")
    def masked_token(self, obj):
        return mask(obj.access_token)

    @admin.display(description="scopes")
    def scope_count(self, obj):
        return len(obj.scopes or [])


@admin.register(SandboxAuthCode)
class SandboxAuthCodeAdmin(SecretKeyedAdmin):
    list_display = ["masked_code", "user_id", "district", "redirect_uri", "created", "redeemed_at"]
    list_select_related = ["district"]
    fields = [
        "masked_code",
        "application",
        "user_id",
        "district",
        "redirect_uri",
        "nonce",
        "launch_claims",
        "created",
        "redeemed_at",
    ]
    readonly_fields = fields

    @admin.display(description="code")
    def masked_code(self, obj):
        return mask(obj.code)

    @admin.display(description="LMS launch claims")
    def launch_claims(self, obj):
        return pretty_json(obj.launch) if obj.launch else "-"


@admin.register(SandboxLmsAssignment)
class SandboxLmsAssignmentAdmin(ReadOnlyAdmin):
    list_display = ["id", "section_id", "district", "created"]
    list_filter = ["district"]
    search_fields = ["=section_id"]
    fields = ["id", "district", "section_id", "created", "assignment"]
    readonly_fields = fields

    @admin.display(description="data")
    def assignment(self, obj):
        return pretty_json(obj.data)


@admin.register(SandboxLmsSubmission)
class SandboxLmsSubmissionAdmin(ReadOnlyAdmin):
    list_display = ["assignment", "user_id"]
    search_fields = ["=user_id"]


@admin.register(SandboxLmsCourse)
class SandboxLmsCourseAdmin(ReadOnlyAdmin):
    list_display = ["title", "context_id", "teacher_id", "district", "created"]
    list_filter = ["district"]
    search_fields = ["title", "=context_id", "=teacher_id"]
    fields = ["district", "context_id", "title", "label", "teacher_id", "student_ids", "created"]
    readonly_fields = fields


@admin.register(SandboxSigningKey)
class SandboxSigningKeyAdmin(ReadOnlyAdmin):
    # The private key is never shown: its public part is at /oauth/certs.
    list_display = ["kid", "created", "retired_at"]
    fields = ["kid", "created", "retired_at"]
    readonly_fields = fields
