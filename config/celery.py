import os

from celery import Celery

from config import broker

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

# Before the app connects: a worker holding a countdown when Redis dies must not exit or lose
# it (kombu 5.7.0; see config/broker.py).
broker.install()

app = Celery("clever_bridge")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
