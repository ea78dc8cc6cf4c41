from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin

from .models import Organization, OrganizationEmailDomain, School, User


class EmailDomainInline(admin.TabularInline):
    model = OrganizationEmailDomain
    extra = 0


@admin.register(Organization)
class OrganizationAdmin(admin.ModelAdmin):
    list_display = ["name", "state", "nces_leaid", "mdr_number", "created_at"]
    list_filter = ["state"]
    search_fields = ["name", "nces_leaid", "mdr_number", "email_domains__domain"]
    inlines = [EmailDomainInline]


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
