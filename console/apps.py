from django.contrib.admin.apps import AdminConfig


class ConsoleAdminConfig(AdminConfig):
    """Django's admin, with ``console.site.SupportAdminSite`` as its site."""

    default_site = "console.site.SupportAdminSite"
