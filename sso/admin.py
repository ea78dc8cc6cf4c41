"""Support admin for Clever sign-in: login evidence and link audits (read-only), and Clever links
(read-only, with an audited "unlink" action instead of allauth's edit and delete forms)."""

import allauth.socialaccount.admin  # noqa: F401  (registers allauth's admins first, replaced below)
from allauth.socialaccount.models import SocialAccount, SocialToken
from django.contrib import admin, messages

from districts.admin import SupportAdminMixin

from . import services
from .models import AccountLink, CleverLogin


@admin.register(CleverLogin)
class CleverLoginAdmin(SupportAdminMixin, admin.ModelAdmin):
    list_display = ("created_at", "clever_district_id", "district", "roles", "email_domain",
                    "authorized_by", "entry", "outcome")
    list_filter = ("outcome", "entry", "authorized_by")
    search_fields = ("clever_district_id", "email_domain")
    date_hierarchy = "created_at"


@admin.register(AccountLink)
class AccountLinkAdmin(SupportAdminMixin, admin.ModelAdmin):
    list_display = ("created_at", "action", "method", "user", "clever_id", "clever_district_id",
                    "actor", "actor_label")
    list_filter = ("action", "method")
    search_fields = ("clever_id", "clever_district_id", "user__username")


for model in (SocialAccount, SocialToken):
    if admin.site.is_registered(model):
        admin.site.unregister(model)


@admin.register(SocialAccount)
class CleverLinkAdmin(SupportAdminMixin, admin.ModelAdmin):
    list_display = ("uid", "provider", "user", "date_joined", "last_login")
    search_fields = ("uid", "user__username")
    fields = ("user", "provider", "uid", "date_joined", "last_login")
    readonly_fields = fields
    actions = ["unlink"]

    @admin.action(description="Unlink the selected Clever accounts (audited)")
    def unlink(self, request, queryset):
        count = 0
        for account in queryset:
            services.unlink_clever_account(account=account, actor=request.user,
                                           reason="unlinked by support staff in the admin")
            count += 1
        self.message_user(request, f"{count} Clever account(s) unlinked.", messages.SUCCESS)
