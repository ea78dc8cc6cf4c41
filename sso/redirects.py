"""Where a login may send the browser afterwards: a path on this site, nothing else."""

from __future__ import annotations

from urllib.parse import unquote, urlsplit

from django.utils.http import url_has_allowed_host_and_scheme

DEFAULT_LANDING = "/account/"


def is_safe_next(url: object) -> bool:
    """Only a relative path on this site: ``/x``. Refused: ``//host``, ``/\\host``, any scheme or
    host, control characters and backslashes (browsers read ``\\`` as ``/``), and any of these
    once percent-decoded (``/%2F%2Fhost``), in case something on the way decodes it."""
    if not isinstance(url, str) or not url or len(url) > 500:
        return False
    return _safe(url) and _safe(unquote(url))


def _safe(url: str) -> bool:
    if any(ch in url for ch in "\\\r\n\t") or any(ord(ch) < 32 for ch in url):
        return False
    if not url.startswith("/") or url.startswith("//"):
        return False
    parts = urlsplit(url)
    if parts.scheme or parts.netloc:
        return False
    return url_has_allowed_host_and_scheme(url, allowed_hosts=None, require_https=False)


def safe_next(url: object, default: str = DEFAULT_LANDING) -> str:
    return url if is_safe_next(url) else default  # type: ignore[return-value]
