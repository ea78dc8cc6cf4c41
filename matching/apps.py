from django.apps import AppConfig


class MatchingConfig(AppConfig):
    name = "matching"
    verbose_name = "Matching to Clever records"

    def ready(self):
        from sso import services as sso_services

        # privacy subscribes to the purge; landing registers the landing panel.
        from . import landing, privacy, tasks, views  # noqa: F401
        from .linking.services import PURPOSE

        # District linking receives the verified "Log in with Clever" round trips it starts.
        sso_services.register_purpose(PURPOSE, views.district_link_hook)
        tasks.connect_triggers()
