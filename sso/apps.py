from django.apps import AppConfig


class SsoConfig(AppConfig):
    name = "sso"
    verbose_name = "Clever single sign-on"

    def ready(self):
        from . import (
            checks,  # noqa: F401 - registers the deploy checks
            privacy,  # noqa: F401 - subscribes to the roster purge (core.events)
        )
