from django.apps import AppConfig


class RosteringConfig(AppConfig):
    name = "rostering"
    verbose_name = "Rostering (Clever mirror)"

    def ready(self):
        # Subscribes the lifecycle to districts' status changes (core.events).
        from .services import lifecycle  # noqa: F401
