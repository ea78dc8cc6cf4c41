"""What every request to the sandbox's API host goes through, as on api.clever.com:

bearer-token authentication (401 for a missing, unknown or revoked token), the per-token rate
limit (``X-Ratelimit-*`` headers on every answer, 429 over the limit), then the injected
faults (5xx, malformed JSON, HTML error pages, slowness).
"""

import functools

from django.http import HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt

from ..knobs import KNOBS
from ..models import SandboxToken

HTML_ERROR_PAGE = (
    "<!DOCTYPE html><html><head><title>502 Bad Gateway</title></head>"
    "<body><h1>Bad Gateway</h1><p>The server returned an invalid response.</p></body></html>"
)


def error(status: int, message: str, headers: dict | None = None) -> JsonResponse:
    """Clever's v3 error body: {"message": ...}."""
    response = JsonResponse({"message": message}, status=status)
    for name, value in (headers or {}).items():
        response[name] = value
    return response


def raw_json(body: str, status: int = 200) -> HttpResponse:
    """A JSON answer from already-serialized text (the fast path for pages of records)."""
    return HttpResponse(body, status=status, content_type="application/json; charset=utf-8")


def bearer_token(request) -> SandboxToken | None:
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        return None
    return (
        SandboxToken.objects.select_related("district")
        .filter(access_token=value.strip(), revoked_at__isnull=True)
        .first()
    )


def _fault_response(fault) -> HttpResponse | None:
    """What an injected fault answers instead of the view; None when the view still answers
    (a slow fault waits first, a malformed-JSON fault cuts the view's answer)."""
    if fault.kind == "status":
        return error(fault.status, "Internal error: injected fault")
    if fault.kind == "html":
        return HttpResponse(HTML_ERROR_PAGE, status=fault.status, content_type="text/html; charset=utf-8")
    if fault.kind == "slow":
        KNOBS.sleep(fault.delay)
    return None


def api_endpoint(view):
    """Wrap an API view: ``view(request, token, *args, **kwargs)`` gets a live token.

    Order matches what a client sees from Clever: a bad token is refused before anything is
    counted against a rate limit; a rate-limited request never reaches a fault or the data.
    """

    @csrf_exempt
    @functools.wraps(view)
    def wrapper(request, *args, **kwargs):
        token = bearer_token(request)
        if token is None:
            return error(401, "Unauthorized: invalid or revoked token")
        decision = KNOBS.rate_limit(token.access_token)
        headers = decision.headers(bucket=f"api-{token.district_id}")
        if not decision.allowed:
            return error(429, "Rate limit exceeded", headers)
        fault = KNOBS.take_fault(request.path)
        response = _fault_response(fault) if fault is not None else None
        if response is None:
            response = view(request, token, *args, **kwargs)
            if fault is not None and fault.kind == "malformed_json":
                response.content = response.content[: max(len(response.content) // 2, 1)]
        for name, value in headers.items():
            response[name] = value
        return response

    return wrapper
