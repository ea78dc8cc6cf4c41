from django.apps import AppConfig


class LmsConfig(AppConfig):
    name = "lms"
    verbose_name = "LMS Connect"

    def ready(self):
        from . import checks, landing  # noqa: F401 - registers the settings checks, the landing panel
