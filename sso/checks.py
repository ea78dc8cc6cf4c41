"""Deploy checks of sign-in (``manage.py check --deploy``)."""

from django.conf import settings
from django.core.checks import Tags, Warning, register


@register(Tags.security, deploy=True)
def rate_limits_need_a_shared_cache(app_configs, **kwargs):
    """allauth counts failed sign-ins in the cache: a per-process cache multiplies the limits
    by the number of web processes."""
    backend = settings.CACHES["default"]["BACKEND"]
    if getattr(settings, "PRODUCTION", False) and backend.endswith("LocMemCache"):
        return [
            Warning(
                "Sign-in rate limits are counted in a per-process memory cache.",
                hint="Set REDIS_URL so every web process shares the counts (and Celery has its broker).",
                id="sso.W001",
            )
        ]
    return []
