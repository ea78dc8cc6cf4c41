"""The health endpoints: ``/health/`` (every check of ``operations.health``: HTML, or JSON with
``?format=json`` or ``Accept: application/json``, ``?format=text``; HTTP 500 when a check fails)
and ``/health/live/`` (the process answers: no database, no cache, for load balancers).

Anonymous on purpose (monitors and load balancers do not sign in): the output is check names,
"OK", "Skipped: ..." and counts, never a district's name, a person or a secret.
"""

from __future__ import annotations

from django.http import HttpResponse, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe
from health_check.base import HealthCheckResult
from health_check.views import HealthCheckView

from . import health


def status_text(result: HealthCheckResult) -> str:
    """ "OK", "Skipped: why" or the failure ("Unavailable: ...")."""
    if result.error is not None:
        return str(result.error)
    skipped = getattr(result.check, "skipped", "")
    return f"Skipped: {skipped}" if skipped else "OK"


class HealthView(HealthCheckView):
    """django-health-check's view with this project's checks; a skipped check says so."""

    template_name = "operations/health.html"

    def get_checks(self):
        yield from health.checks()

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["rows"] = [
            {
                "name": health.public_name(result.check),
                "status": status_text(result),
                "error": result.error,
                "time": result.time_taken,
            }
            for result in self.results
        ]
        return context

    def render_to_response_json(self, status):
        return JsonResponse(
            {health.public_name(result.check): status_text(result) for result in self.results}, status=status
        )

    def render_to_response_text(self, status):
        lines = "".join(
            f"{health.public_name(result.check)}: {status_text(result)}\n" for result in self.results
        )
        return HttpResponse(lines, content_type="text/plain; charset=utf-8", status=status)


@never_cache
@require_safe
def live(request):
    """The process is up and answers (nothing else is checked)."""
    return JsonResponse({"status": "ok"})
