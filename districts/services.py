"""Writes about Clever districts: discovery, tokens, status changes, links (all audited).

Tokens: by default only the Clever district ID is stored and the token is fetched from
``GET /oauth/tokens?owner_type=district&district=ID`` when a sync needs it, cached briefly in
the Django cache encrypted with the field keys (never in plain text there, nor in logs, task
arguments, error messages or audits: those name a token by its :func:`token_fingerprint`).
Support staff may paste a token instead, stored encrypted (districts/crypto.py) after Clever
confirmed it belongs to the district.

Status (``DistrictStatus``) follows Clever: a district listed by ``/oauth/tokens`` is connected,
one that left the listing is disconnected, one whose current token Clever refuses (401) is
revoked. Support staff may pause a district, or disconnect it on purpose (``staff_disconnected``:
discovery then leaves it alone until staff reconnect it).
"""

from __future__ import annotations

import hashlib
import json
import logging
from datetime import UTC, date, datetime
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import DatabaseError, transaction
from django.db.models import Field
from django.utils import timezone
from redis.exceptions import RedisError

from clever.client import CleverClient
from clever.errors import AuthError, CleverError
from clever.oauth import DistrictToken, parse_timestamp
from core import events
from core.deletion import delete_cascading
from core.errors import AppError
from core.models import person_label

from . import crypto
from .events import (
    DEPARTED,
    DistrictDeleting,
    DistrictsDiscovered,
    DistrictStatusChanged,
    SyncSettingsChanged,
)
from .models import District, DistrictAudit, DistrictStatus, LinkMethod

logger = logging.getLogger(__name__)

DISCOVERY_LABEL = "discovery"


class NoToken(AppError):
    """Clever lists no token for the district: it no longer shares data with the app."""


class TokenRejected(AppError, ValueError):
    """A pasted token is unusable: empty, malformed, refused by Clever, or another district's.
    The message never contains the token."""


class DistrictStateError(AppError, ValueError):
    """The district's status does not allow this action (e.g. pausing a disconnected one)."""


class LinkError(AppError, ValueError):
    """A link, relink or unlink that cannot be made as asked."""


class DistrictAlreadyLinked(LinkError):
    """The district is linked to another organization; moving it takes ``relink_district``."""


class DistrictNotLinked(LinkError):
    """The district is linked to no organization."""


# --- tokens --------------------------------------------------------------------------------------


def _cache_key(district: District | str) -> str:
    # The key names the district only (its Clever ID, which logs and error messages carry too),
    # never anything derived from the token.
    clever_id = district if isinstance(district, str) else district.clever_id
    return f"clever:district-token:{clever_id}"


# The token cache (Redis in production) only saves a request to Clever: when it cannot be
# reached, a read is a miss and a write is skipped, so a sync that starts during a Redis outage
# fetches its token and runs.
CACHE_ERRORS = (RedisError, OSError)


def _remember_token(clever_id: str, token: str) -> None:
    # The cache is shared (Redis in production): the token enters it encrypted with the field
    # keys, together with its district, so a value copied under another district's key is no use.
    sealed = crypto.encrypt(f"{clever_id}\n{token}")
    try:
        cache.set(_cache_key(clever_id), sealed, settings.DISTRICT_TOKEN_CACHE_SECONDS)
    except CACHE_ERRORS as exc:
        logger.warning("district %s: token not cached (cache unreachable: %s)", clever_id, type(exc).__name__)


def _cached_token(clever_id: str) -> str | None:
    """The token cached for the district, or None: a value that does not decrypt with the current
    keys (rotated, tampered, or a plain token an older version cached) or names another district
    is a miss, and the fetch that follows replaces it; so is a cache that cannot be reached."""
    try:
        sealed = cache.get(_cache_key(clever_id))
    except CACHE_ERRORS as exc:
        logger.warning(
            "district %s: token cache unreachable (%s); asking Clever", clever_id, type(exc).__name__
        )
        return None
    if not isinstance(sealed, str):
        return None
    try:
        owner, _, token = crypto.decrypt(sealed).partition("\n")
    except crypto.DecryptionError:
        return None
    return token if owner == clever_id else None


def district_token(district: District, *, client: CleverClient | None = None) -> str:
    """The district's current token: the pasted one, or Clever's (cached briefly, encrypted)."""
    if district.token_ciphertext:
        return crypto.decrypt(district.token_ciphertext)
    token = _cached_token(district.clever_id)
    if token:
        return token
    own_client = client is None
    client = client or CleverClient()
    try:
        listed = client.get_district_token(district.clever_id)
    finally:
        if own_client:
            client.close()
    if listed is None:
        raise NoToken(f"Clever lists no token for district {district.clever_id}")
    _remember_token(district.clever_id, listed.access_token)
    return listed.access_token


def forget_cached_token(district: District) -> None:
    try:
        cache.delete(_cache_key(district))
    except CACHE_ERRORS as exc:
        # It expires within DISTRICT_TOKEN_CACHE_SECONDS; a revoked token meanwhile gets a 401,
        # which looks the token up again.
        logger.warning(
            "district %s: cached token not forgotten (cache unreachable: %s)",
            district if isinstance(district, str) else district.clever_id,
            type(exc).__name__,
        )


def token_fingerprint(token: str) -> str:
    """A short, non-reversible name for a token, safe for logs and audits."""
    return hashlib.sha256(token.encode()).hexdigest()[:10]


def _scrub(text: str, *tokens: str) -> str:
    """``text`` with any of ``tokens`` replaced by its fingerprint (belt and braces: Clever's
    error messages are not expected to echo a token, but an error message is shown to people)."""
    for token in tokens:
        if token and token in text:
            text = text.replace(token, f"<token {token_fingerprint(token)}>")
    return text


def _refused(exc: Exception) -> bool:
    return isinstance(exc, AuthError) or getattr(exc, "status", None) == 401


def _describe(exc: Exception, *tokens: str) -> str:
    kind = type(exc).__name__
    if _refused(exc):
        hint = "Clever refused the district's token (401: revoked or invalid)"
    elif isinstance(exc, CleverError) and getattr(exc, "retryable", False):
        hint = "Clever could not answer (retry later)"
    else:
        hint = "the district's record could not be read"
    return _scrub(f"{hint}: {kind}: {exc}", *tokens)[:500]


# --- status --------------------------------------------------------------------------------------


@transaction.atomic
def set_status(
    *, district: District, status: str, reason: str = "", actor=None, actor_label: str = ""
) -> District:
    """Change the district's status, with an audit row (no-op if unchanged)."""
    district = District.objects.select_for_update().get(pk=district.pk)
    if district.status == status:
        return district
    before, departed_at = district.status, district.departed_at
    now = timezone.now()
    district.status = status
    district.status_reason = reason[:500]
    district.status_changed_at = now
    if status in DEPARTED:
        district.departed_at = departed_at or now
    else:
        district.departed_at = None
    district.save(update_fields=["status", "status_reason", "status_changed_at", "departed_at"])
    DistrictAudit.objects.create(
        district=district,
        action=DistrictAudit.Action.STATUS_CHANGED,
        actor=actor,
        actor_label=actor_label,
        details={"from": before, "to": status, "reason": reason[:500]},
    )
    if status in DEPARTED:
        forget_cached_token(district)
    # The lifecycle's duties (archive at a departure, restore at a return) commit with the
    # status or not at all (docs/data-lifecycle.md).
    events.publish(
        DistrictStatusChanged(
            district_id=district.pk,
            before=before,
            after=status,
            departed_at=district.departed_at if status in DEPARTED else departed_at,
        )
    )
    return district


def recheck_after_unauthorized(
    district: District, *, rejected_token: str, client: CleverClient | None = None
) -> str | None:
    """Clever refused ``rejected_token`` (401). Ask /oauth/tokens once: a rotated token is
    returned for one more try; otherwise the district is marked revoked (or disconnected when
    no token is listed at all) and None is returned."""
    forget_cached_token(district)
    fingerprint = token_fingerprint(rejected_token) if rejected_token else "?"
    if district.token_ciphertext:
        set_status(
            district=district,
            status=DistrictStatus.REVOKED,
            actor_label="sync: 401",
            reason=f"Clever refused the pasted token {fingerprint} (401)",
        )
        return None
    try:
        token = district_token(district, client=client)
    except NoToken:
        set_status(
            district=district,
            status=DistrictStatus.DISCONNECTED,
            actor_label="sync: 401",
            reason="Clever refused the token (401) and lists no token for the district",
        )
        return None
    if token != rejected_token:
        return token
    forget_cached_token(district)
    set_status(
        district=district,
        status=DistrictStatus.REVOKED,
        actor_label="sync: 401",
        reason=f"Clever refused the district's current token {fingerprint} (401)",
    )
    return None


# --- discovery -----------------------------------------------------------------------------------


def _text(value: Any, limit: int) -> str:
    return value.strip()[:limit] if isinstance(value, str) else ""


def _day(value: Any) -> date | None:
    """``YYYY-MM-DD`` (or a timestamp starting with one); None when absent or unreadable."""
    if not isinstance(value, str) or len(value) < 10:
        return None
    try:
        return date.fromisoformat(value[:10])
    except ValueError:
        return None


def _moment(value: Any) -> datetime | None:
    moment = parse_timestamp(value)
    if moment is not None and timezone.is_naive(moment):
        moment = timezone.make_aware(moment, UTC)
    return moment


def _field_limit(name: str) -> int:
    field = District._meta.get_field(name)
    # get_field() is typed to return relations too: these names are District's CharFields.
    assert isinstance(field, Field) and field.max_length is not None, name
    return field.max_length


def district_fields(record: dict) -> dict[str, Any]:
    """The District fields read from Clever's v3.1 district object (tolerant of missing or
    odd values: Clever marks most of them optional)."""
    login_methods = record.get("login_methods")
    return {
        "name": _text(record.get("name"), _field_limit("name")),
        "nces_id": _text(record.get("nces_id"), _field_limit("nces_id")),
        "mdr_number": _text(record.get("mdr_number"), _field_limit("mdr_number")),
        "sis_type": _text(record.get("sis_type"), _field_limit("sis_type")),
        "portal_url": _text(record.get("portal_url"), _field_limit("portal_url")),
        "login_methods": (
            [m for m in login_methods if isinstance(m, str)] if isinstance(login_methods, list) else []
        ),
        "clever_state": _text(record.get("state"), _field_limit("clever_state")),
        "clever_last_sync": _moment(record.get("last_sync")),
        "pause_start": _day(record.get("pause_start")),
        "pause_end": _day(record.get("pause_end")),
        "lms_type": _text(record.get("lms_type"), _field_limit("lms_type")),
        "lms_state": _text(record.get("lms_state"), _field_limit("lms_state")),
        "launch_date": _day(record.get("launch_date")),
    }


def _newest_per_district(tokens: list[DistrictToken]) -> dict[str, DistrictToken]:
    """One token per district (the newest, should Clever list two during a rotation)."""
    newest: dict[str, DistrictToken] = {}
    floor = datetime.min.replace(tzinfo=UTC)
    for token in tokens:
        seen = newest.get(token.district_id)
        if seen is None or (token.created or floor) >= (seen.created or floor):
            newest[token.district_id] = token
    return newest


def _fetch_record(client: CleverClient, listed: DistrictToken) -> tuple[dict | None, Exception | None, int]:
    """The district's record read with its own token: (record, None, requests) or
    (None, error, requests)."""
    district_client = client.with_token(listed.access_token)
    try:
        record = district_client.get_record("districts", listed.district_id, version="v3.1")
    except CleverError as exc:
        return None, exc, district_client.stats.requests
    return record, None, district_client.stats.requests


@transaction.atomic
def _apply_listed(
    *,
    listed: DistrictToken,
    record: dict | None,
    failure: Exception | None,
    actor_label: str,
    now: datetime,
) -> list[str]:
    """Create or refresh one listed district and settle its status (one transaction); returns
    the summary lists it belongs in ("created", "updated", "reconnected", ...)."""
    clever_id = listed.district_id
    outcomes: list[str] = []
    district, created = District.objects.select_for_update().get_or_create(
        clever_id=clever_id, defaults={"discovered_at": now, "last_seen_at": now}
    )
    changed: list[str] = []
    if record is not None:
        for name, value in district_fields(record).items():
            if getattr(district, name) != value:
                setattr(district, name, value)
                changed.append(name)
    if district.library_only:
        # Known from Library sign-ins until now: the district itself shares data from today.
        district.library_only, district.sync_enabled, district.events_enabled = False, True, True
        changed += ["library_only", "sync_enabled", "events_enabled"]
    district.last_seen_at = now
    district.save(update_fields=[*changed, "last_seen_at"])
    if created:
        outcomes.append("created")
        DistrictAudit.objects.create(
            district=district,
            action=DistrictAudit.Action.DISCOVERED,
            actor_label=actor_label,
            details={
                "token_fingerprint": token_fingerprint(listed.access_token),
                "scopes": list(listed.scopes),
                "record_read": record is not None,
            },
        )
    elif changed:
        outcomes.append("updated")
    return outcomes + _settle_listed_status(
        district=district, listed=listed, record=record, failure=failure, actor_label=actor_label
    )


def _settle_listed_status(
    *,
    district: District,
    listed: DistrictToken,
    record: dict | None,
    failure: Exception | None,
    actor_label: str,
) -> list[str]:
    """The status of a district Clever lists (``_apply_listed``'s transaction): revoked when
    Clever refuses its token, reconnected when it works again; the summary lists it adds to."""
    refused = failure is not None and _refused(failure)
    status = district.status
    if district.staff_disconnected:
        return ["kept_disconnected"] if status == DistrictStatus.DISCONNECTED else []
    if refused:
        if status not in (DistrictStatus.CONNECTED, DistrictStatus.DISCONNECTED):
            return []
        set_status(
            district=district,
            status=DistrictStatus.REVOKED,
            actor_label=actor_label,
            reason=f"Clever lists token {token_fingerprint(listed.access_token)} for the "
            "district but refuses it (401)",
        )
        return ["revoked"]
    reconnect = (
        status == DistrictStatus.DISCONNECTED
        # A revoked district is back when the listed token works, unless syncs use a pasted
        # token (which is what Clever refused: staff replace or clear it).
        or (status == DistrictStatus.REVOKED and record is not None and not district.token_ciphertext)
    )
    if not reconnect:
        return []
    set_status(
        district=district,
        status=DistrictStatus.CONNECTED,
        actor_label=actor_label,
        reason="Clever lists the district's token again",
    )
    return ["reconnected"]


def _take_listed(
    client: CleverClient, listed: DistrictToken, *, actor_label: str
) -> tuple[list[str], str | None, int]:
    """Read a listed district's record with its token, cache the token, create or refresh the
    row: (outcomes, the record's error or None, requests made)."""
    record, failure, sent = _fetch_record(client, listed)
    if failure is None or not _refused(failure):
        _remember_token(listed.district_id, listed.access_token)
    error = None
    if failure is not None:
        error = _describe(failure, listed.access_token)
        logger.warning("district discovery: district %s: %s", listed.district_id, error)
    outcomes = _apply_listed(
        listed=listed, record=record, failure=failure, actor_label=actor_label, now=timezone.now()
    )
    return outcomes, error, sent


def note_library_sign_in(district: District) -> None:
    """A teacher signed in through Clever Library: Clever still shares the district with the app
    that way. ``last_seen_at`` starts a Library-only district's retention clock again
    (docs/data-lifecycle.md)."""
    District.objects.filter(pk=district.pk).update(last_seen_at=timezone.now())


def discover_district(
    *, clever_id: str, client: CleverClient | None = None, actor_label: str = DISCOVERY_LABEL
) -> District | None:
    """Check one district on the spot (``GET /oauth/tokens?owner_type=district&district=ID``),
    for a sign-in from a district the hourly discovery has not seen yet: listed, it is created
    (or refreshed and reconnected) as discovery would and returned; not listed, None and
    nothing changes. Raises the client's error when Clever cannot be asked."""
    own_client = client is None
    client = client or CleverClient()
    try:
        listed = client.get_district_token(clever_id)
        if listed is None:
            return None
        _take_listed(client, listed, actor_label=actor_label)
    finally:
        if own_client:
            client.close()
    return District.objects.get(clever_id=clever_id)


def discover_districts(*, client: CleverClient | None = None, actor_label: str = DISCOVERY_LABEL) -> dict:
    """Read ``GET /oauth/tokens?owner_type=district``, create and refresh District rows.

    Each listed district's record (``GET /v3.1/districts/{id}``) is read with its own token,
    which is cached briefly (never stored). A district whose record cannot be read is still
    discovered, and reported in ``errors``; districts that left the listing become
    disconnected; ones that came back become connected again (every status change audited).

    Raises the client's error when the listing itself fails (e.g. ``InvalidClient`` for refused
    app credentials): then nothing is changed. Returns ``{"created", "updated", "reconnected",
    "disconnected", "revoked", "kept_disconnected", "unchanged": [clever ids], "errors":
    {clever id: message}, "warnings": [text], "total": districts listed, "requests": HTTP
    requests made}``. An empty listing never disconnects more than one district at once.
    """
    own_client = client is None
    client = client or CleverClient()
    summary = _new_discovery_summary()
    requests_before = client.stats.requests
    try:
        listing = _newest_per_district(client.list_district_tokens())
        summary["total"] = len(listing)
        for clever_id in sorted(listing):
            _discover_listed(client, listing[clever_id], actor_label=actor_label, summary=summary)
        _disconnect_unlisted(set(listing), actor_label=actor_label, summary=summary)
    finally:
        # The listing's requests; each district's own client added its record's as it was read.
        summary["requests"] += client.stats.requests - requests_before
        if own_client:
            client.close()
    summary["unchanged"] = _unchanged(set(listing), summary)
    _log_discovery(summary)
    changed = sorted({*summary["created"], *summary["updated"], *summary["reconnected"]})
    if changed:
        events.publish(DistrictsDiscovered(changed=tuple(changed)))
    return summary


def _new_discovery_summary() -> dict[str, Any]:
    return {
        "created": [],
        "updated": [],
        "reconnected": [],
        "disconnected": [],
        "revoked": [],
        "kept_disconnected": [],
        "unchanged": [],
        "errors": {},
        "warnings": [],
        "total": 0,
        "requests": 0,
    }


def _discover_listed(
    client: CleverClient, listed: DistrictToken, *, actor_label: str, summary: dict[str, Any]
) -> None:
    """One district of the listing, in its own transaction (``_take_listed``): its outcomes,
    error and record requests go into ``summary``. A database error rolls back this district
    only; it is reported in ``errors`` and the others still get their turn."""
    clever_id = listed.district_id
    try:
        outcomes, error, sent = _take_listed(client, listed, actor_label=actor_label)
    except DatabaseError as exc:
        message = _scrub(
            f"the district could not be saved: {type(exc).__name__}: {exc}", listed.access_token
        )[:500]
        summary["errors"][clever_id] = message
        logger.error("district discovery: district %s: %s", clever_id, message)
        return
    summary["requests"] += sent
    if error:
        summary["errors"][clever_id] = error
    for outcome in outcomes:
        summary[outcome].append(clever_id)


def _unchanged(listed_ids: set[str], summary: dict[str, Any]) -> list[str]:
    """The listed districts discovery neither changed nor failed to read."""
    touched = {
        *summary["created"],
        *summary["updated"],
        *summary["reconnected"],
        *summary["revoked"],
        *summary["kept_disconnected"],
    }
    return sorted(listed_ids - touched - set(summary["errors"]))


def _log_discovery(summary: dict[str, Any]) -> None:
    logger.info(
        "district discovery: %d listed, %d created, %d updated, %d reconnected, %d disconnected, "
        "%d revoked, %d errors, %d requests",
        summary["total"],
        len(summary["created"]),
        len(summary["updated"]),
        len(summary["reconnected"]),
        len(summary["disconnected"]),
        len(summary["revoked"]),
        len(summary["errors"]),
        summary["requests"],
    )


def _disconnect_unlisted(listed_ids: set[str], *, actor_label: str, summary: dict) -> None:
    gone = (
        District.objects.exclude(status=DistrictStatus.DISCONNECTED)
        .exclude(library_only=True)
        .exclude(clever_id__in=listed_ids)
        .order_by("clever_id")
    )
    if not listed_ids and gone.count() > 1:
        # Every district leaving at once is far likelier a Clever-side fault than the truth;
        # keep them as they are and say so (a real departure shows again tomorrow).
        summary["warnings"].append(
            f"Clever listed no districts; {gone.count()} districts were left as they are"
        )
        return
    for district in gone:
        set_status(
            district=district,
            status=DistrictStatus.DISCONNECTED,
            actor_label=actor_label,
            reason="Clever no longer lists a token for the district: it stopped sharing data",
        )
        summary["disconnected"].append(district.clever_id)


# --- pasted tokens -------------------------------------------------------------------------------


def _check_token_shape(token: str) -> str:
    token = (token or "").strip()
    if not token:
        raise TokenRejected("The token is empty.")
    if len(token) > 512 or any(ch.isspace() or not ch.isprintable() for ch in token):
        raise TokenRejected("That does not look like a Clever district-app token.")
    return token


def verify_district_token(district: District, token: str, *, client: CleverClient | None = None) -> None:
    """Ask Clever (``GET /v3.1/me``) whether ``token`` is a live district-app token of this
    district; raises TokenRejected (naming the token by its fingerprint only) if not."""
    fingerprint = token_fingerprint(token)
    own_client = client is None
    base = client or CleverClient()
    try:
        me = base.with_token(token).me(version="v3.1")
    except AuthError as exc:
        raise TokenRejected(
            f"Clever refused token {fingerprint} (401): it is revoked or not a Clever token."
        ) from exc
    except CleverError as exc:
        raise TokenRejected(_scrub(f"Could not check token {fingerprint} with Clever: {exc}", token)) from exc
    finally:
        if own_client:
            base.close()
    owner = me.district or me.id
    if me.type != "district":
        raise TokenRejected(
            f"Token {fingerprint} is a {me.type or 'non-district'} token, not a district-app token."
        )
    if owner != district.clever_id:
        raise TokenRejected(
            f"Token {fingerprint} belongs to another Clever district ({owner}), not {district.clever_id}."
        )


def set_pasted_token(
    *, district: District, token: str, actor, verify: bool = True, client: CleverClient | None = None
) -> District:
    """Store a token pasted by support staff, encrypted, with a TOKEN_SET audit (fingerprint
    only). With ``verify`` (the default) Clever must confirm first that it is a live
    district-app token of this district, so one district's roster can never be synced into
    another; a revoked district whose new token checks out is connected again."""
    token = _check_token_shape(token)
    if verify:
        verify_district_token(district, token, client=client)
    return _store_pasted_token(district=district, token=token, actor=actor, verified=verify)


@transaction.atomic
def _store_pasted_token(*, district: District, token: str, actor, verified: bool) -> District:
    district = District.objects.select_for_update().get(pk=district.pk)
    replaced = bool(district.token_ciphertext)
    district.token_ciphertext = crypto.encrypt(token)
    district.token_set_at = timezone.now()
    district.save(update_fields=["token_ciphertext", "token_set_at"])
    forget_cached_token(district)
    DistrictAudit.objects.create(
        district=district,
        action=DistrictAudit.Action.TOKEN_SET,
        actor=actor,
        actor_label=person_label(actor),
        details={
            "fingerprint": token_fingerprint(token),
            "replaced": replaced,
            "verified_with_clever": verified,
        },
    )
    if verified and district.status == DistrictStatus.REVOKED and not district.staff_disconnected:
        district = set_status(
            district=district,
            status=DistrictStatus.CONNECTED,
            actor=actor,
            actor_label=person_label(actor),
            reason="Support staff pasted a token Clever accepts",
        )
    return district


@transaction.atomic
def clear_pasted_token(*, district: District, actor) -> District:
    """Forget the pasted token: syncs fetch the district's token from Clever again."""
    district = District.objects.select_for_update().get(pk=district.pk)
    if not district.token_ciphertext:
        return district
    try:
        fingerprint = token_fingerprint(crypto.decrypt(district.token_ciphertext))
    except crypto.DecryptionError:
        fingerprint = "undecryptable"
    district.token_ciphertext = ""
    district.token_set_at = None
    district.save(update_fields=["token_ciphertext", "token_set_at"])
    forget_cached_token(district)
    DistrictAudit.objects.create(
        district=district,
        action=DistrictAudit.Action.TOKEN_CLEARED,
        actor=actor,
        actor_label=person_label(actor),
        details={"fingerprint": fingerprint},
    )
    return district


# --- encryption keys -----------------------------------------------------------------------------


def encrypted_columns() -> list[crypto.EncryptedColumn]:
    """(model, field, JSON keys) of every stored ciphertext, as the apps that own them registered
    them (``crypto.register_encrypted_column`` in their ``AppConfig.ready()``): district tokens,
    rostering's sensitive student fields, and the second-factor secrets of allauth's MFA (keys
    inside a JSON field, registered by sso). Empty JSON keys: the field itself is the
    ciphertext."""
    return crypto.encrypted_columns()


def _rotated(value: Any, json_keys: tuple[str, ...]) -> Any:
    """The value with every ciphertext in it encrypted with the newest key (DecryptionError when
    one does not decrypt)."""
    if not json_keys:
        return crypto.rotate(value)
    return {**value, **{key: crypto.rotate(value[key]) for key in json_keys if value.get(key)}}


def _rotate_rows(
    model: Any,
    field: str,
    json_keys: tuple[str, ...],
    rows: list,
    counts: dict[str, Any],
    *,
    dry_run: bool,
) -> None:
    """Re-encrypt one locked batch of ``reencrypt_stored_values`` (written unless ``dry_run``),
    adding to ``counts``."""
    changed = []
    for row in rows:
        try:
            value = _rotated(getattr(row, field), json_keys)
        except crypto.DecryptionError:
            counts["failed"] += 1
            if len(counts["failed_ids"]) < 50:
                counts["failed_ids"].append(row.pk)
            continue
        counts["rotated"] += 1
        if not dry_run:
            setattr(row, field, value)
            changed.append(row)
    if changed:
        model.objects.bulk_update(changed, [field])


def reencrypt_stored_values(*, batch_size: int = 500, dry_run: bool = False) -> dict[str, dict]:
    """Re-encrypt every stored ciphertext with the newest key of ``FIELD_ENCRYPTION_KEYS``.

    Works in batches, each in its own transaction with the rows locked (a sync writing the
    same row waits rather than being overwritten with a stale value). ``dry_run`` only checks
    that every value decrypts. Returns ``{"<app.Model.field>": {"rotated", "failed",
    "failed_ids"}}``; a value no configured key decrypts is counted in ``failed`` and left as
    is (the old key must then stay).
    """
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    report: dict[str, dict] = {}
    for model, field, json_keys in encrypted_columns():
        counts: dict[str, Any] = {"rotated": 0, "failed": 0, "failed_ids": []}
        last_pk = 0
        while True:
            with transaction.atomic():
                batch = model._default_manager.select_for_update().filter(pk__gt=last_pk)
                if not json_keys:
                    batch = batch.exclude(**{field: ""})
                rows = list(batch.order_by("pk").only("pk", field)[:batch_size])
                if not rows:
                    break
                last_pk = rows[-1].pk
                _rotate_rows(model, field, json_keys, rows, counts, dry_run=dry_run)
        report[f"{model._meta.label}.{field}"] = counts
        logger.info(
            "encryption keys: %s.%s: %d %s, %d undecryptable",
            model._meta.label,
            field,
            counts["rotated"],
            "decryptable" if dry_run else "re-encrypted",
            counts["failed"],
        )
    return report


# --- support staff actions -----------------------------------------------------------------------


@transaction.atomic
def disconnect_district(*, district: District, actor, reason: str = "") -> District:
    """Support staff disconnect the district: syncs stop, and discovery does not reconnect it
    while Clever still lists its token (``reconnect_district`` undoes this)."""
    district = District.objects.select_for_update().get(pk=district.pk)
    if not district.staff_disconnected:
        district.staff_disconnected = True
        district.save(update_fields=["staff_disconnected"])
    return set_status(
        district=district,
        status=DistrictStatus.DISCONNECTED,
        actor=actor,
        actor_label=person_label(actor),
        reason=reason or "Disconnected by support staff",
    )


def reconnect_district(
    *, district: District, actor, reason: str = "", client: CleverClient | None = None
) -> District:
    """Support staff reconnect a disconnected or revoked district. Clever must list a token
    for it (or staff pasted one), else NoToken: the district has to share data again first."""
    district = District.objects.get(pk=district.pk)
    if not district.token_ciphertext:
        forget_cached_token(district)
        district_token(district, client=client)  # raises NoToken when Clever lists none
    return _reconnect(district=district, actor=actor, reason=reason)


@transaction.atomic
def _reconnect(*, district: District, actor, reason: str) -> District:
    district = District.objects.select_for_update().get(pk=district.pk)
    if district.staff_disconnected:
        district.staff_disconnected = False
        district.save(update_fields=["staff_disconnected"])
    return set_status(
        district=district,
        status=DistrictStatus.CONNECTED,
        actor=actor,
        actor_label=person_label(actor),
        reason=reason or "Reconnected by support staff",
    )


@transaction.atomic
def pause_district(*, district: District, actor, reason: str = "") -> District:
    """Stop the district's syncs for now (status paused); ``resume_district`` restarts them."""
    district = District.objects.select_for_update().get(pk=district.pk)
    if district.status in (DistrictStatus.DISCONNECTED, DistrictStatus.REVOKED):
        raise DistrictStateError(
            f"District {district.clever_id} is {district.get_status_display().lower()}: "
            "there is no sync to pause."
        )
    return set_status(
        district=district,
        status=DistrictStatus.PAUSED,
        actor=actor,
        actor_label=person_label(actor),
        reason=reason or "Paused by support staff",
    )


@transaction.atomic
def resume_district(*, district: District, actor, reason: str = "") -> District:
    district = District.objects.select_for_update().get(pk=district.pk)
    if district.status == DistrictStatus.CONNECTED:
        return district
    if district.status != DistrictStatus.PAUSED:
        raise DistrictStateError(
            f"District {district.clever_id} is {district.get_status_display().lower()}, not "
            "paused: reconnect it instead."
        )
    return set_status(
        district=district,
        status=DistrictStatus.CONNECTED,
        actor=actor,
        actor_label=person_label(actor),
        reason=reason or "Resumed by support staff",
    )


# --- deletion ------------------------------------------------------------------------------------


@transaction.atomic
def delete_district(*, district: District) -> dict[str, Any]:
    """Delete the district and every row that refers to it, however large its roster: first
    what the apps above hold about its people (``DistrictDeleting``; rostering purges the roster,
    so accounts are emptied and sign-in data erased as by a purge, and raises ``SyncInProgress``
    while a sync runs), then the rest set-based (``core.deletion``: sync history, audits, the
    district's row). Callers decide whether a district may go (the admin: superusers, districts
    that no longer share). Returns what the subscribers erased and the rows deleted per model."""
    district = District.objects.select_for_update().get(pk=district.pk)
    erased = events.publish(DistrictDeleting(district_id=district.pk))
    deleted = delete_cascading(District.objects.filter(pk=district.pk))
    transaction.on_commit(lambda: forget_cached_token(district))
    logger.info("district %s deleted: %s", district.clever_id, deleted)
    return {"erased": erased, "deleted": deleted}


# The per-district sync settings support staff may change (``update_sync_settings``).
SYNC_SETTINGS = (
    "sync_enabled",
    "events_enabled",
    "guard_max_deleted_fraction",
    "guard_max_changed_fraction",
    "store_sensitive_fields",
)
_GUARD_FRACTIONS = ("guard_max_deleted_fraction", "guard_max_changed_fraction")


@transaction.atomic
def update_sync_settings(*, district: District, actor, reason: str = "", **changes: Any) -> District:
    """Change some of the district's ``SYNC_SETTINGS``, audited with each value before and after.

    A guard fraction is a number from 0 to 1, or None for the setting's default. Subscribers of
    ``SyncSettingsChanged`` act in the same transaction and what they report (e.g. how many
    people's sensitive values were erased) joins the audit row. Nothing changes, and nothing
    is audited, when every value is already as asked.
    """
    unknown = sorted(set(changes) - set(SYNC_SETTINGS))
    if unknown:
        raise ValueError(f"not a sync setting: {', '.join(unknown)}")
    for name in _GUARD_FRACTIONS:
        value = changes.get(name)
        if value is not None and not 0 <= value <= 1:
            raise DistrictStateError(
                f"{name.replace('_', ' ')} must be between 0 and 1, or empty for the default"
            )
    district = District.objects.select_for_update().get(pk=district.pk)
    changed = {
        name: {"from": getattr(district, name), "to": value}
        for name, value in changes.items()
        if getattr(district, name) != value
    }
    if not changed:
        return district
    # What the apps above must do about it happens in this transaction (the mirror erasing
    # sensitive values the district stops storing, say); they report it for the audit.
    details: dict = {}
    for answer in events.publish(SyncSettingsChanged(district_id=district.pk, changed=changed)).values():
        details.update(answer or {})
    for name, change in changed.items():
        setattr(district, name, change["to"])
    district.save(update_fields=list(changed))
    DistrictAudit.objects.create(
        district=district,
        action=DistrictAudit.Action.SETTINGS_CHANGED,
        actor=actor,
        actor_label=person_label(actor),
        details={**changed, **details, "reason": reason[:500]},
    )
    return district


def set_sync_enabled(*, district: District, enabled: bool, actor, reason: str = "") -> District:
    """Switch the district's syncs on or off (its status is unchanged), audited."""
    return update_sync_settings(district=district, actor=actor, reason=reason, sync_enabled=enabled)


# --- linking to organizations --------------------------------------------------------------------

# Keys never kept in an evidence snapshot (an audit row outlives any secret it would hold).
_SECRET_KEYS = {
    "access_token",
    "id_token",
    "refresh_token",
    "token",
    "code",
    "client_secret",
    "password",
    "secret",
    "authorization",
}


def _clean_evidence(evidence: Any) -> dict:
    """A JSON snapshot of the evidence, with anything that looks like a secret dropped."""
    if evidence is None:
        return {}
    if not isinstance(evidence, dict):
        raise LinkError("evidence must be a dict (a snapshot of why the link is right)")
    snapshot = json.loads(json.dumps(evidence, default=str))

    def strip(value):
        if isinstance(value, dict):
            return {
                key: strip(item)
                for key, item in value.items()
                if not (key.lower() in _SECRET_KEYS or key.lower().endswith(("_token", "_secret")))
            }
        if isinstance(value, list):
            return [strip(item) for item in value]
        return value

    return strip(snapshot)


def _check_method(method: str) -> str:
    if method not in LinkMethod.values:
        raise LinkError(f"unknown link method {method!r} (one of: {', '.join(LinkMethod.values)})")
    return method


def _set_link(district: District, *, organization, method: str, evidence: dict, actor) -> None:
    district.organization = organization
    district.linked_at = timezone.now() if organization is not None else None
    district.linked_by = actor if organization is not None else None
    district.link_method = method
    district.link_evidence = evidence
    district.save(update_fields=["organization", "linked_at", "linked_by", "link_method", "link_evidence"])


@transaction.atomic
def link_district(
    *,
    district: District,
    organization,
    method: str,
    evidence: dict | None,
    actor=None,
    actor_label: str = "",
) -> District:
    """Link an unlinked district to ``organization`` (LINKED audit with the evidence).

    Linking it again to the same organization changes nothing. A district linked to another
    organization is refused (DistrictAlreadyLinked): moving it is ``relink_district``.
    """
    method = _check_method(method)
    snapshot = _clean_evidence(evidence)
    district = District.objects.select_for_update().get(pk=district.pk)
    if district.organization_id == organization.pk:
        return district
    if district.organization_id is not None:
        raise DistrictAlreadyLinked(
            f"Clever district {district.clever_id} is already linked to organization "
            f"{district.organization} (#{district.organization_id}); relink it explicitly to move it."
        )
    _set_link(district, organization=organization, method=method, evidence=snapshot, actor=actor)
    DistrictAudit.objects.create(
        district=district,
        action=DistrictAudit.Action.LINKED,
        actor=actor,
        actor_label=actor_label or person_label(actor),
        organization_before=None,
        organization_after=organization,
        method=method,
        details={"evidence": snapshot},
    )
    return district


@transaction.atomic
def relink_district(
    *,
    district: District,
    organization,
    method: str,
    evidence: dict | None,
    actor=None,
    actor_label: str = "",
    reason: str = "",
) -> District:
    """Move a linked district to another organization (RELINKED audit, before and after)."""
    method = _check_method(method)
    snapshot = _clean_evidence(evidence)
    district = (
        District.objects.select_for_update(of=("self",)).select_related("organization").get(pk=district.pk)
    )
    before = district.organization
    if before is None:
        raise DistrictNotLinked(
            f"Clever district {district.clever_id} is not linked to any organization: link it instead."
        )
    if before.pk == organization.pk:
        return district
    previous = {
        "method": district.link_method,
        "evidence": district.link_evidence,
        "linked_at": district.linked_at.isoformat() if district.linked_at else None,
    }
    _set_link(district, organization=organization, method=method, evidence=snapshot, actor=actor)
    DistrictAudit.objects.create(
        district=district,
        action=DistrictAudit.Action.RELINKED,
        actor=actor,
        actor_label=actor_label or person_label(actor),
        organization_before=before,
        organization_after=organization,
        method=method,
        details={"evidence": snapshot, "previous": previous, "reason": reason[:500]},
    )
    return district


@transaction.atomic
def unlink_district(*, district: District, actor=None, actor_label: str = "", reason: str = "") -> District:
    """Remove the district's link (UNLINKED audit keeping the link's method and evidence).
    An unlinked district is left as it is."""
    district = (
        District.objects.select_for_update(of=("self",)).select_related("organization").get(pk=district.pk)
    )
    before = district.organization
    if before is None:
        return district
    previous = {
        "method": district.link_method,
        "evidence": district.link_evidence,
        "linked_at": district.linked_at.isoformat() if district.linked_at else None,
    }
    method = district.link_method
    _set_link(district, organization=None, method="", evidence={}, actor=None)
    DistrictAudit.objects.create(
        district=district,
        action=DistrictAudit.Action.UNLINKED,
        actor=actor,
        actor_label=actor_label or person_label(actor),
        organization_before=before,
        organization_after=None,
        method=method,
        details={"previous": previous, "reason": reason[:500]},
    )
    return district
