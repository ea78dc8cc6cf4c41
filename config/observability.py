"""Error tracking (Sentry) and structured logs, for whoever runs the bridge.

This service holds children's roster data (names, emails, dates of birth, program statuses:
docs/privacy.md) and the secrets that open it (district tokens, OAuth codes, the client
secret). Sentry is a third party and logs are read by whoever operates the servers, so neither
may receive any of it. What each of them gets is therefore decided here, by allowlist where a
third party is concerned:

**Sentry** (``init_sentry``; on only when ``SENTRY_DSN`` is set) with the Django and Celery
integrations and Celery beat monitoring (a missed nightly sync shows up as a missed check-in):

- ``send_default_pii=False``: no user, IP address, cookies or sensitive headers from the SDK
  (sentry-sdk 2.75 warns that this option gives way to ``data_collection``; the scrubbers below
  do not rely on either);
- ``include_local_variables=False``: a frame's locals are roster rows, tokens and forms;
- ``max_request_body_size="never"``: a request body is a sign-in form, a teacher's grades or an
  OAuth exchange;
- ``before_send``/``before_send_transaction`` (``scrub_event``) scrub again whatever an
  integration adds, so one SDK upgrade or new integration cannot widen what is sent: the request
  keeps its method, its URL without the query string (an OAuth ``code``, a search for a child's
  name) and a few harmless headers (never ``Authorization`` or ``Cookie``); the user keeps only an
  id; ``extra`` (log records' ``extra=`` fields, Celery task arguments, ``sys.argv``) keeps only
  the ``SAFE_FIELDS`` and ``*_id`` names (IDs, statuses, durations, the task's name) with plain
  values; an exception keeps its type and the first line of its message (a database error names
  row values on the lines after it, as ``core.errors.safe_summary`` knows), and no frame keeps
  its variables; spans lose their query strings;
- ``before_breadcrumb`` (``scrub_breadcrumb``): log breadcrumbs keep their message (the code
  writes no token, code or name into one: ``clever/client.py``) but only the safe fields; HTTP
  breadcrumbs lose their query strings; a subprocess keeps only its program's name.

**Logs**: ``LOG_FORMAT=json`` (``logging_config``) writes one JSON object a line, with the time,
level, logger, message, the fields attached with ``extra=`` (the Clever client's ``clever_*``:
method, path, status, duration) and ``request_id`` (``config.request_id``) or ``task_id`` (the
Celery task running). ``RedactSecretsFilter`` drops the attributes named like a secret (token,
secret, password, authorization, cookie, code...) and Django's ``request`` object (its text
carries the query string) from every record; messages are kept as they are (nothing here tries
to parse them). The plain format stays as it was.
"""

from __future__ import annotations

import copy
import logging
import re
from typing import TYPE_CHECKING, Any, cast
from urllib.parse import urlsplit, urlunsplit

from celery import current_task
from django.core.exceptions import ImproperlyConfigured
from pythonjsonlogger.json import JsonFormatter as _BaseJsonFormatter

from config.request_id import current_request_id

if TYPE_CHECKING:
    from sentry_sdk.types import Event, Hint

LOG_FORMATS = ("plain", "json")

# Names of record attributes and event fields that may hold a secret or a person's words.
_SECRET_NAME = re.compile(
    r"token|secret|passw|authoriz|oauth|bearer|cookie|session|credential|code|api_?key|"
    r"private_?key|(?:^|_)keys?$|signature|dsn",
    re.IGNORECASE,
)
# Named like a secret but a number everyone needs.
_NOT_SECRET = frozenset({"status_code", "http.response.status_code"})
# Fields Sentry may receive (log records' ``extra=``, breadcrumbs' data) besides ``*_id(s)``.
SAFE_FIELDS = frozenset(
    {
        # the Clever client (clever/client.py)
        "clever_method",
        "clever_path",
        "clever_status",
        "clever_duration",
        # this module and config.request_id
        "request_id",
        "task_id",
        # statuses, counts, durations
        "status",
        "status_code",
        "duration",
        "elapsed",
        "attempt",
        "count",
        "task_name",
        # HTTP breadcrumbs (the URL loses its query string)
        "url",
        "method",
        "reason",
        "http.method",
        "http.request.method",
        "http.response.status_code",
        "server.address",
        "server.port",
        "network.peer.address",
        "network.peer.port",
    }
)
_URL_FIELDS = frozenset({"url", "url.full", "http.url"})
# Request headers Sentry may receive; never Authorization, Cookie or the forwarded address.
SAFE_HEADERS = frozenset({"accept", "content-length", "content-type", "host", "x-forwarded-proto"})
_MAX_VALUE = 300
_STANDARD_RECORD_ATTRS = frozenset(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {
    "message",
    "asctime",
    "taskName",
}


# --- What may leave: names, values, URLs ------------------------------------------------------


def secret_name(name: str) -> bool:
    """Whether a field named ``name`` may hold a secret (a token, a password, an OAuth code...)."""
    return name not in _NOT_SECRET and bool(_SECRET_NAME.search(name))


def safe_field(name: str) -> bool:
    """Whether Sentry may receive a field named ``name``: an allowlisted name or an id."""
    if name in SAFE_FIELDS:
        return True
    if secret_name(name):
        return False
    return name == "id" or name.endswith(("_id", "_ids"))


def without_query(url: str) -> str:
    """``url`` without its query string, fragment and any user:password."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return ""
    return urlunsplit((parts.scheme, parts.netloc.rpartition("@")[2], parts.path, "", ""))


def _plain(value: Any) -> bool:
    if isinstance(value, list | tuple):
        return all(_plain(item) for item in value)
    return value is None or isinstance(value, bool | int | float | str)


def safe_fields(data: Any) -> dict[str, Any]:
    """The safe fields of ``data`` with plain values (strings, numbers, lists of them)."""
    if not isinstance(data, dict):
        return {}
    kept: dict[str, Any] = {}
    for name, value in data.items():
        if not isinstance(name, str) or not safe_field(name) or not _plain(value):
            continue
        if name in _URL_FIELDS and isinstance(value, str):
            value = without_query(value)
        if isinstance(value, str):
            value = value[:_MAX_VALUE]
        kept[name] = value
    return kept


# --- Sentry: events, transactions, breadcrumbs ------------------------------------------------


def _scrub_request(request: Any) -> dict[str, Any]:
    if not isinstance(request, dict):
        return {}
    kept: dict[str, Any] = {}
    if isinstance(request.get("method"), str):
        kept["method"] = request["method"]
    if isinstance(request.get("url"), str):
        kept["url"] = without_query(request["url"])
    headers = request.get("headers")
    if isinstance(headers, dict):
        kept["headers"] = {
            name: value
            for name, value in headers.items()
            if isinstance(name, str) and name.lower() in SAFE_HEADERS and isinstance(value, str)
        }
    return kept


def _scrub_extra(extra: Any) -> dict[str, Any]:
    kept = safe_fields(extra)
    job = extra.get("celery-job") if isinstance(extra, dict) else None
    if isinstance(job, dict) and isinstance(job.get("task_name"), str):
        kept["celery-job"] = {"task_name": job["task_name"]}  # never its arguments
    return kept


def _first_line(text: Any) -> str:
    if not isinstance(text, str):
        return ""
    lines = text.strip().splitlines()
    return lines[0][:_MAX_VALUE] if lines else ""


def _scrub_stacktrace(holder: Any) -> None:
    stacktrace = holder.get("stacktrace") if isinstance(holder, dict) else None
    for frame in (stacktrace or {}).get("frames") or ():
        if isinstance(frame, dict):
            frame.pop("vars", None)


def _scrub_exceptions(event: dict[str, Any]) -> None:
    for value in (event.get("exception") or {}).get("values") or ():
        if isinstance(value, dict):
            if "value" in value:
                value["value"] = _first_line(value["value"])
            _scrub_stacktrace(value)
    for thread in (event.get("threads") or {}).get("values") or ():
        _scrub_stacktrace(thread)


def _scrub_breadcrumbs(event: dict[str, Any]) -> None:
    crumbs = event.get("breadcrumbs")
    if isinstance(crumbs, dict):
        values = crumbs.get("values") or []
        crumbs["values"] = [kept for crumb in values if (kept := scrub_breadcrumb(crumb, {})) is not None]
    elif isinstance(crumbs, list):
        event["breadcrumbs"] = [kept for crumb in crumbs if (kept := scrub_breadcrumb(crumb, {})) is not None]


def _scrub_spans(event: dict[str, Any]) -> None:
    for span in event.get("spans") or ():
        if not isinstance(span, dict):
            continue
        data = span.get("data")
        if isinstance(data, dict):
            for name in list(data):
                if name in ("http.query", "http.fragment") or (isinstance(name, str) and secret_name(name)):
                    del data[name]
                elif name in _URL_FIELDS and isinstance(data[name], str):
                    data[name] = without_query(data[name])
        if str(span.get("op", "")).startswith("http") and isinstance(span.get("description"), str):
            span["description"] = span["description"].split("?", 1)[0]


def scrub_event(sentry_event: Event, hint: Hint) -> Event:
    """Sentry's ``before_send`` and ``before_send_transaction``: the event without anything that
    could be a child's data or a secret (the module's docstring says what stays)."""
    event = cast(dict[str, Any], sentry_event)
    if "request" in event:
        event["request"] = _scrub_request(event["request"])
    user = event.get("user")
    if isinstance(user, dict) and user.get("id") is not None:
        event["user"] = {"id": user["id"]}
    else:
        event.pop("user", None)
    if "extra" in event:
        event["extra"] = _scrub_extra(event["extra"])
    tags = event.get("tags")
    if isinstance(tags, dict):
        event["tags"] = {name: value for name, value in tags.items() if not secret_name(str(name))}
    request_id = current_request_id()
    if request_id:
        event.setdefault("tags", {})["request_id"] = request_id
    _scrub_exceptions(event)
    _scrub_breadcrumbs(event)
    _scrub_spans(event)
    return sentry_event


def scrub_breadcrumb(crumb: dict[str, Any], hint: dict[str, Any]) -> dict[str, Any] | None:
    """Sentry's ``before_breadcrumb``: the breadcrumb with only safe data."""
    if not isinstance(crumb, dict):
        return None
    if "data" in crumb:
        crumb["data"] = safe_fields(crumb["data"])
    if crumb.get("category") == "subprocess" and isinstance(crumb.get("message"), str):
        crumb["message"] = crumb["message"].split(" ", 1)[0]  # the program, not its arguments
    return crumb


def init_sentry(env: Any, django_env: str) -> bool:
    """Start Sentry when ``SENTRY_DSN`` is set; returns whether it was started.

    ``SENTRY_ENVIRONMENT`` (default ``django_env``), ``SENTRY_RELEASE`` (optional) and
    ``SENTRY_TRACES_SAMPLE_RATE`` (0 to 1, default 0: errors only) tune it."""
    dsn = env.str("SENTRY_DSN", default="").strip()
    if not dsn:
        return False
    rate = env.float("SENTRY_TRACES_SAMPLE_RATE", default=0.0)
    if not 0.0 <= rate <= 1.0:
        raise ImproperlyConfigured("SENTRY_TRACES_SAMPLE_RATE must be between 0 and 1.")

    import sentry_sdk
    from sentry_sdk.integrations.celery import CeleryIntegration
    from sentry_sdk.integrations.django import DjangoIntegration

    sentry_sdk.init(
        dsn=dsn,
        environment=env.str("SENTRY_ENVIRONMENT", default="") or django_env,
        release=env.str("SENTRY_RELEASE", default="") or None,
        integrations=[DjangoIntegration(), CeleryIntegration(monitor_beat_tasks=True)],
        traces_sample_rate=rate,
        send_default_pii=False,
        include_local_variables=False,
        max_request_body_size="never",
        enable_logs=False,
        before_send=scrub_event,
        before_send_transaction=scrub_event,
        before_breadcrumb=scrub_breadcrumb,
    )
    return True


# --- Logs -------------------------------------------------------------------------------------


def current_task_id() -> str | None:
    """The id of the Celery task running in this thread (eagerly run tasks too), or None."""
    request = getattr(current_task, "request", None) if current_task else None
    task_id = getattr(request, "id", None)
    return task_id if isinstance(task_id, str) else None


class LogContextFilter(logging.Filter):
    """Adds ``request_id`` (the web request being handled) and ``task_id`` (the Celery task
    running) to every record; either is None outside a request or a task."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = current_request_id()
        record.task_id = current_task_id()
        return True


class RedactSecretsFilter(logging.Filter):
    """Drops from every record the attributes added with ``extra=`` whose names suggest a secret,
    and Django's ``request`` object (its text carries the query string, an OAuth code's
    included). Never drops a record and never changes its message."""

    def filter(self, record: logging.LogRecord) -> bool:
        for name in [name for name in vars(record) if name not in _STANDARD_RECORD_ATTRS]:
            if name == "request" or secret_name(name):
                delattr(record, name)
        return True


class JsonFormatter(_BaseJsonFormatter):
    """One JSON object a line: ``time`` (ISO 8601, UTC), ``level``, ``logger``, ``message``, and
    every field the record carries besides (``extra=``, ``request_id``, ``task_id``)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        if not args:
            kwargs.setdefault("fmt", "%(levelname)s %(name)s %(message)s")
        kwargs.setdefault("rename_fields", {"levelname": "level", "name": "logger"})
        kwargs.setdefault("timestamp", "time")
        super().__init__(*args, **kwargs)


def log_format(env: Any) -> str:
    """``LOG_FORMAT``: ``plain`` (the default) or ``json``."""
    value = env.str("LOG_FORMAT", default="plain").strip().lower() or "plain"
    if value not in LOG_FORMATS:
        raise ImproperlyConfigured(f"LOG_FORMAT must be one of {', '.join(LOG_FORMATS)}.")
    return value


def logging_config(env: Any, base: dict[str, Any]) -> dict[str, Any]:
    """``base`` (the settings' ``LOGGING``) with the request/task ids and the secret-dropping
    filter on every handler and, with ``LOG_FORMAT=json``, the JSON formatter on every handler."""
    config = copy.deepcopy(base)
    config.setdefault("filters", {}).update(
        {
            "log_context": {"()": "config.observability.LogContextFilter"},
            "redact_secrets": {"()": "config.observability.RedactSecretsFilter"},
        }
    )
    config.setdefault("formatters", {})["json"] = {"()": "config.observability.JsonFormatter"}
    json_lines = log_format(env) == "json"
    for handler in config.get("handlers", {}).values():
        handler["filters"] = [*handler.get("filters", []), "log_context", "redact_secrets"]
        if json_lines:
            handler["formatter"] = "json"
    return config
