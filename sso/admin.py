"""Support admin for Clever sign-in: login evidence and link audits (read-only), and Clever links
(read-only, with an audited "unlink" action instead of allauth's edit and delete forms)."""

import allauth.socialaccount.admin  # noqa: F401  (registers allauth's admins first, replaced below)
from allauth.socialaccount.models import SocialAccount, SocialToken
from django.contrib import admin, messages

from core.admin import SupportAdminMixin

from . import services
from .models import AccountLink, CleverLogin


def account_name(user) -> str:
    """A product account by name: its username ("clever-<Clever ID>", "product-student-42") is
    internal, shown only when the account has no name."""
    return (user.get_full_name() or user.get_username()) if user else "-"


@admin.register(CleverLogin)
class CleverLoginAdmin(SupportAdminMixin, admin.ModelAdmin):
    list_display = (
        "created_at",
        "clever_district_id",
        "district",
        "roles_text",
        "email_domain",
        "authorized_by",
        "entry",
        "outcome",
        "problem",
    )
    list_filter = ("outcome", "problem", "entry", "authorized_by")
    search_fields = ("clever_district_id", "email_domain")
    date_hierarchy = "created_at"
    fields = readonly_fields = list_display

    @admin.display(description="roles")
    def roles_text(self, obj):
        # "student, teacher", not the stored list's JSON (["student", "teacher"]).
        return ", ".join(obj.roles or []) or "-"


@admin.register(AccountLink)
class AccountLinkAdmin(SupportAdminMixin, admin.ModelAdmin):
    list_display = (
        "created_at",
        "action",
        "method",
        "account",
        "clever_id",
        "clever_district_id",
        "actor",
        "actor_label",
    )
    list_filter = ("action", "method")
    search_fields = ("clever_id", "clever_district_id", "user__username")
    # The user and the acting staff member of each row in the list's one query.
    list_select_related = ("user", "actor")
    fields = (
        "created_at",
        "action",
        "method",
        "account",
        "person",
        "clever_id",
        "clever_district_id",
        "actor",
        "actor_label",
        "details",
    )
    readonly_fields = fields

    @admin.display(description="account", ordering="user__last_name")
    def account(self, obj):
        return account_name(obj.user)


# allauth (a third-party app, no extension point) registers its own admins: SocialAccount's is
# replaced by the support-only, read-only one below, SocialToken's removed (tokens are never shown).
for model in (SocialAccount, SocialToken):
    if admin.site.is_registered(model):
        admin.site.unregister(model)


@admin.register(SocialAccount)
class CleverLinkAdmin(SupportAdminMixin, admin.ModelAdmin):
    list_display = ("uid", "provider", "account", "date_joined", "last_login")
    search_fields = ("uid", "user__username")
    list_select_related = ("user",)
    fields = ("account", "provider", "uid", "date_joined", "last_login")
    readonly_fields = fields
    actions = ["unlink"]

    @admin.display(description="account", ordering="user__last_name")
    def account(self, obj):
        return account_name(obj.user)

    @admin.action(description="Unlink the selected Clever accounts (audited)")
    def unlink(self, request, queryset):
        count = 0
        for account in queryset:
            services.unlink_clever_account(
                account=account, actor=request.user, reason="unlinked by support staff in the admin"
            )
            count += 1
        self.message_user(request, f"{count} Clever account(s) unlinked.", messages.SUCCESS)
