"""Writes about Clever districts: tokens, status changes (audited).

Tokens: by default only the Clever district ID is stored and the token is fetched from
``GET /oauth/tokens?owner_type=district&district=ID`` when a sync needs it, cached briefly in
the Django cache (never in logs, task arguments or error messages). Support staff may paste a
token instead, stored encrypted (districts/crypto.py).
"""

import hashlib

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.utils import timezone

from clever.client import CleverClient

from . import crypto
from .models import District, DistrictAudit, DistrictStatus


class NoToken(Exception):
    """Clever lists no token for the district: it no longer shares data with the app."""


def _cache_key(district: District) -> str:
    # The key names the district only; the value is the token, kept for a few minutes.
    return f"clever:district-token:{district.clever_id}"


def district_token(district: District, *, client: CleverClient | None = None) -> str:
    """The district's current token: the pasted one, or Clever's (cached briefly)."""
    if district.token_ciphertext:
        return crypto.decrypt(district.token_ciphertext)
    token = cache.get(_cache_key(district))
    if token:
        return token
    listed = (client or CleverClient()).get_district_token(district.clever_id)
    if listed is None:
        raise NoToken(f"Clever lists no token for district {district.clever_id}")
    token = listed.access_token
    cache.set(_cache_key(district), token, settings.DISTRICT_TOKEN_CACHE_SECONDS)
    return token


def forget_cached_token(district: District) -> None:
    cache.delete(_cache_key(district))


def token_fingerprint(token: str) -> str:
    """A short, non-reversible name for a token, safe for logs and audits."""
    return hashlib.sha256(token.encode()).hexdigest()[:10]


@transaction.atomic
def set_status(
    *, district: District, status: str, reason: str = "", actor=None, actor_label: str = ""
) -> District:
    """Change the district's status, with an audit row (no-op if unchanged)."""
    district = District.objects.select_for_update().get(pk=district.pk)
    if district.status == status:
        return district
    before = district.status
    now = timezone.now()
    district.status = status
    district.status_reason = reason[:500]
    district.status_changed_at = now
    if status == DistrictStatus.DISCONNECTED:
        district.disconnected_at = now
    elif status == DistrictStatus.CONNECTED:
        district.disconnected_at = None
    district.save(update_fields=["status", "status_reason", "status_changed_at", "disconnected_at"])
    DistrictAudit.objects.create(
        district=district,
        action=DistrictAudit.Action.STATUS_CHANGED,
        actor=actor,
        actor_label=actor_label,
        details={"from": before, "to": status, "reason": reason[:500]},
    )
    return district


def recheck_after_unauthorized(
    district: District, *, rejected_token: str, client: CleverClient | None = None
) -> str | None:
    """Clever refused ``rejected_token`` (401). Ask /oauth/tokens once: a rotated token is
    returned for one more try; otherwise the district is marked revoked (or disconnected when
    no token is listed at all) and None is returned."""
    forget_cached_token(district)
    if district.token_ciphertext:
        set_status(district=district, status=DistrictStatus.REVOKED, actor_label="sync: 401",
                   reason="Clever refused the pasted token (401)")
        return None
    try:
        token = district_token(district, client=client)
    except NoToken:
        set_status(district=district, status=DistrictStatus.DISCONNECTED, actor_label="sync: 401",
                   reason="Clever refused the token (401) and lists no token for the district")
        return None
    if token != rejected_token:
        return token
    forget_cached_token(district)
    set_status(district=district, status=DistrictStatus.REVOKED, actor_label="sync: 401",
               reason="Clever refused the district's current token (401)")
    return None
