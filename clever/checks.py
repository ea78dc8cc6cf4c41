from django.conf import settings
from django.core.checks import Error, Tags, register


@register(Tags.security, deploy=False)
def sandbox_never_in_production(app_configs, **kwargs):
    """The local Clever serves fake tokens to anyone: it must never run in production."""
    if getattr(settings, "PRODUCTION", False) and getattr(settings, "CLEVER_SANDBOX", False):
        return [
            Error(
                "CLEVER_SANDBOX is on in production mode.",
                hint="Unset CLEVER_SANDBOX (or DJANGO_ENV=production) - the sandbox hands out "
                "tokens to anyone and must never face real users.",
                id="clever.E001",
            )
        ]
    return []
