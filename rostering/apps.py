from django.apps import AppConfig


class RosteringConfig(AppConfig):
    name = "rostering"
    verbose_name = "Rostering (Clever mirror)"

    def ready(self):
        # Subscribe to what districts announces (core.events): status and settings changes.
        from . import checks  # noqa: F401 - registers the settings checks
        from .services import district_settings, lifecycle  # noqa: F401
