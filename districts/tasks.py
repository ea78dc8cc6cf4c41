"""Celery tasks for Clever districts: thin, they call one service.

``discover_districts_task``
    Runs ``services.discover_districts`` (GET /oauth/tokens, then each district's record). It
    takes no arguments (never a token) and returns the discovery summary (Clever IDs, counts and
    per-district messages: no token). Idempotent: running it twice leaves the same rows.

    Retries only when waiting can help: the listing itself failed with a 429 or a 5xx, or no
    answer came (``RateLimited``, ``ServerError``, ``ConnectionFailed``), after the client's
    own retries; at most 3 times, with exponential backoff and full jitter. Refused app
    credentials (401) or a broken answer are final. A district whose record could not be read
    does not fail the task: it is reported in the summary's ``errors``.
"""

from __future__ import annotations

from celery import shared_task

from clever.errors import ConnectionFailed, RateLimited, ServerError

from . import services

DISCOVERY_SOFT_TIME_LIMIT = 25 * 60
DISCOVERY_TIME_LIMIT = 30 * 60


@shared_task(
    acks_late=True,
    soft_time_limit=DISCOVERY_SOFT_TIME_LIMIT,
    time_limit=DISCOVERY_TIME_LIMIT,
    autoretry_for=(ServerError, RateLimited, ConnectionFailed),
    retry_backoff=60,
    retry_backoff_max=600,
    retry_jitter=True,
    max_retries=3,
)
def discover_districts_task() -> dict:
    """Discover Clever districts now (Celery beat or a support-staff action)."""
    return services.discover_districts(actor_label="discovery (task)")
