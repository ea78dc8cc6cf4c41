from django.apps import AppConfig


class OperationsConfig(AppConfig):
    name = "operations"
    verbose_name = "Operations (health and alerts)"

    def ready(self):
        # Subscribe to what the apps below announce (core.events): holds, failures, departures,
        # the nightly dispatch, LMS assignments in an unknown state.
        from . import subscribers  # noqa: F401
