from django.apps import AppConfig


class LmsConfig(AppConfig):
    name = "lms"
    verbose_name = "LMS Connect"

    def ready(self):
        from sso import launches

        # checks: the settings checks; landing: the landing panels; privacy: the purge's subscriber.
        from . import checks, landing, launch, privacy  # noqa: F401

        # Launches from the LMS land in the class they came from (lms/launch.py).
        launches.register_router(launch.route, keep=launch.kept_claims)
