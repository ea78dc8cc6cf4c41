"""The product's organizations, schools and users in the Django admin.

``Organization`` is registered here, once: ``OrganizationAdmin``. The apps above extend it
through ``OrganizationAdminExtension`` (``extend_organization_admin``; the mechanism is
``core.admin``'s ``AdminExtension``, shared with the District admin): matching lets support staff
see organizations and adds district linking (the "Choose district from unmatched list" link, its
linked Clever districts, the choose and unlink pages). ``accounts`` imports none of them.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib import admin
from django.contrib.admin.utils import unquote
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin

from core.admin import AdminExtension, AdminExtensions

from .models import Organization, OrganizationEmailDomain, School, User


class EmailDomainInline(admin.TabularInline):
    model = OrganizationEmailDomain
    extra = 0


@dataclass(frozen=True)
class ToolLink:
    """A link among the object tools at the top of an organization's page."""

    label: str
    url: str
    html_id: str = ""


class OrganizationAdminExtension(AdminExtension):
    """What an app above ``accounts`` adds to the one Organization admin. It subclasses this,
    overrides what it needs, and registers an instance with ``extend_organization_admin`` in its
    own admin module. Besides ``core.admin.AdminExtension``'s hooks (columns, actions, URLs,
    ``annotate``, ``panels`` of the organization's page, drawn after its fields): who else may
    see organizations, and links among the page's object tools."""

    def lets_view(self, request) -> bool:
        """Whether the user may see organizations (the list and their pages) although the model's
        permissions do not let them; changing one still takes the model's change permission."""
        return False

    def links(self, request, organization: Organization) -> list[ToolLink]:
        return []


_extensions: AdminExtensions[OrganizationAdminExtension] = AdminExtensions()


def extend_organization_admin(extension: OrganizationAdminExtension) -> OrganizationAdminExtension:
    """Add ``extension`` to the Organization admin (once per extension class)."""
    return _extensions.add(extension)


@admin.register(Organization)
class OrganizationAdmin(admin.ModelAdmin):
    """The one Organization admin; apps above extend it through ``OrganizationAdminExtension``."""

    change_form_template = "admin/accounts/organization/change_form.html"
    list_display = ["name", "state", "nces_leaid", "mdr_number", "created_at"]
    list_filter = ["state"]
    search_fields = ["name", "nces_leaid", "mdr_number", "email_domains__domain"]
    inlines = [EmailDomainInline]

    @property
    def actions(self):  # type: ignore[override]  # django-stubs types it as a plain attribute
        return _extensions.actions()

    def get_list_display(self, request):
        return [*self.list_display, *_extensions.columns()]

    def get_queryset(self, request):
        return _extensions.annotate(super().get_queryset(request))

    def get_urls(self):
        return [*_extensions.urls(self), *super().get_urls()]

    def has_module_permission(self, request):
        return super().has_module_permission(request) or any(e.lets_view(request) for e in _extensions)

    def has_view_permission(self, request, obj=None):
        return super().has_view_permission(request, obj) or any(e.lets_view(request) for e in _extensions)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        extra_context = dict(extra_context or {})
        organization = self.get_object(request, unquote(object_id)) if _extensions else None
        if organization is not None:
            extra_context["organization_links"] = [
                link for extension in _extensions for link in extension.links(request, organization)
            ]
            extra_context["organization_panels"] = _extensions.panels(request, organization)
        return super().change_view(request, object_id, form_url, extra_context)


@admin.register(School)
class SchoolAdmin(admin.ModelAdmin):
    list_display = ["name", "organization", "nces_id", "state_id", "school_number"]
    list_select_related = ["organization"]
    search_fields = ["name", "nces_id", "state_id", "school_number"]
    autocomplete_fields = ["organization"]


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    fieldsets = (
        *(DjangoUserAdmin.fieldsets or ()),  # typed Optional in django-stubs; set on UserAdmin
        ("Organization", {"fields": ("organization", "is_organization_admin")}),
        (
            "Product roster (what matching compares with Clever)",
            {
                "fields": (
                    "role",
                    "school",
                    "sis_id",
                    "student_number",
                    "state_id",
                    "teacher_number",
                    "staff_id",
                    "date_of_birth",
                    "grade",
                )
            },
        ),
    )
    list_display = ["username", "first_name", "last_name", "organization", "is_staff", "is_active"]
    list_select_related = ["organization"]
    autocomplete_fields = ["organization", "school"]
