from django.apps import AppConfig


class CleverConfig(AppConfig):
    name = "clever"
    verbose_name = "Clever API"

    def ready(self):
        from . import checks  # noqa: F401 - registers the system checks
