from django.apps import AppConfig


class MatchingConfig(AppConfig):
    name = "matching"
    verbose_name = "Matching to Clever records"

    def ready(self):
        from sso import services as sso_services

        from . import linking, privacy, tasks, views  # noqa: F401 - privacy subscribes to the purge

        # District linking receives the verified "Log in with Clever" round trips it starts.
        sso_services.register_purpose(linking.PURPOSE, views.district_link_hook)
        tasks.connect_triggers()
