from django.apps import AppConfig


class CleverConfig(AppConfig):
    name = "clever"
    verbose_name = "Clever API"
