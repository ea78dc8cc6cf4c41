"""Every write to the local Clever goes through here, so bodies, edges and events stay in step.

Roster changes made after a district is loaded (``put_record``, ``update_record``,
``delete_record``, and their set-based forms ``put_records``, ``update_records``,
``delete_records`` for thousands of records at once) append Clever events with
``previous_attributes``; bulk loading a district (``bulk_load``) does not, as that is the state
before the app connected.

The keys identity tokens are signed with (``sandbox.oidc``) are written here too: the first is
made when first needed (``published_signing_keys``), ``rotate_signing_key`` adds one.
"""

import copy
import functools
import json
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from core.deletion import delete_cascading

from . import keys
from . import records as rec
from .ids import new_id
from .knobs import KNOBS
from .models import (
    RecordType,
    SandboxApplication,
    SandboxAuthCode,
    SandboxDistrict,
    SandboxEdge,
    SandboxEvent,
    SandboxRecord,
    SandboxSigningKey,
    SandboxToken,
    Sharing,
    TokenKind,
)

EVENT_RETENTION = timedelta(days=30)
DISTRICT_SCOPES = [
    "read:district_admins",
    "read:districts",
    "read:resources",
    "read:school_admins",
    "read:schools",
    "read:sections",
    "read:student_contacts",
    "read:students",
    "read:teachers",
    "read:user_id",
]
BULK_BATCH = 5_000
# Clever: a code "expires after one minute and can be exchanged once".
AUTH_CODE_LIFETIME = timedelta(seconds=60)


def iso(moment: datetime) -> str:
    """Clever's timestamp format: ISO 8601, milliseconds, Z."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def get_application() -> SandboxApplication:
    """The registered app; created on first use from the settings' sandbox credentials."""
    app, _ = SandboxApplication.objects.get_or_create(
        client_id=settings.SANDBOX_CLIENT_ID,
        defaults={
            "client_secret": settings.SANDBOX_CLIENT_SECRET,
            "redirect_uris": [settings.CLEVER_REDIRECT_URI],
        },
    )
    return app


@transaction.atomic
def set_redirect_uris(*, uris: list[str]) -> SandboxApplication:
    app = get_application()
    app.redirect_uris = list(uris)
    app.save(update_fields=["redirect_uris"])
    return app


def make_primary_redirect_uri(*, uri: str) -> SandboxApplication:
    """``uri`` becomes the primary redirect URI (where Portal and Instant Login launches go),
    the others stay registered after it. The demo calls it with the URI of the port it is about
    to serve, so a database seeded for one port serves another."""
    app = get_application()
    uris = [uri, *(registered for registered in app.redirect_uris if registered != uri)]
    return app if uris == app.redirect_uris else set_redirect_uris(uris=uris)


@transaction.atomic
def create_district(
    *,
    name: str,
    district_id: str | None = None,
    data: dict | None = None,
    sharing: str = Sharing.DISTRICT,
    events_enabled: bool = True,
    lms_type: str = "",
    lms_state: str | None = None,
) -> SandboxDistrict:
    """A district that shared data with the app; district-shared ones get a district token."""
    district_id = district_id or new_id()
    body = {
        "id": district_id,
        "name": name,
        "state": "success",
        "sis_type": "sftp",
        "error": "",
        "last_sync": iso(timezone.now()),
        "launch_date": timezone.now().date().isoformat(),
        "login_methods": ["Clever Badges", "Clever Passwords"],
        "mdr_number": "",
        "nces_id": "",
        "portal_url": f"https://clever.com/in/{district_id}",
        "pause_start": "",
        "pause_end": "",
    }
    body.update(data or {})
    body["id"], body["name"] = district_id, name
    district = SandboxDistrict.objects.create(
        id=district_id,
        name=name,
        data=body,
        sharing=sharing,
        events_enabled=events_enabled,
        lms_type=lms_type,
        lms_state=("success" if lms_type else "") if lms_state is None else lms_state,
    )
    if sharing == Sharing.DISTRICT:
        issue_token(district=district, kind=TokenKind.DISTRICT)
    return district


def district_body(district: SandboxDistrict) -> dict:
    """The v3.1 district object."""
    body = dict(district.data)
    body["lms_type"] = district.lms_type
    body["lms_state"] = district.lms_state
    return body


@transaction.atomic
def issue_token(
    *, district: SandboxDistrict, kind: str, user_id: str = "", scopes: list[str] | None = None
) -> SandboxToken:
    return SandboxToken.objects.create(
        access_token=secrets.token_hex(20),
        kind=kind,
        district=district,
        user_id=user_id,
        scopes=list(DISTRICT_SCOPES if scopes is None else scopes),
    )


def district_token(district: SandboxDistrict) -> SandboxToken | None:
    """The district's live district-app token, if it has one."""
    return (
        SandboxToken.objects.filter(district=district, kind=TokenKind.DISTRICT, revoked_at__isnull=True)
        .order_by("-created")
        .first()
    )


@transaction.atomic
def revoke_token(*, access_token: str) -> None:
    """Every later request with this token gets a 401."""
    SandboxToken.objects.filter(access_token=access_token, revoked_at__isnull=True).update(
        revoked_at=timezone.now()
    )


@transaction.atomic
def rotate_district_token(*, district: SandboxDistrict) -> SandboxToken:
    """The district's token is replaced: the old one is refused, /oauth/tokens lists the new."""
    SandboxToken.objects.filter(district=district, kind=TokenKind.DISTRICT, revoked_at__isnull=True).update(
        revoked_at=timezone.now()
    )
    return issue_token(district=district, kind=TokenKind.DISTRICT)


@transaction.atomic
def disconnect_district(*, district: SandboxDistrict) -> None:
    """The district stops sharing with the app: its tokens die and it leaves /oauth/tokens."""
    SandboxToken.objects.filter(district=district, revoked_at__isnull=True).update(revoked_at=timezone.now())
    district.connected = False
    district.save(update_fields=["connected"])


@transaction.atomic
def reconnect_district(*, district: SandboxDistrict) -> SandboxToken:
    district.connected = True
    district.save(update_fields=["connected"])
    return issue_token(district=district, kind=TokenKind.DISTRICT)


@transaction.atomic
def set_events_enabled(*, district: SandboxDistrict, enabled: bool) -> None:
    district.events_enabled = enabled
    district.save(update_fields=["events_enabled"])


def _record_row(district_id: str, record_type: str, data: dict) -> SandboxRecord:
    flags = rec.role_flags(data) if record_type == RecordType.USERS else {}
    return SandboxRecord(
        clever_id=data["id"],
        district_id=district_id,
        record_type=record_type,
        display_name=rec.display_name(data) if record_type == RecordType.USERS else "",
        body=rec.dumps(data),
        body_v30=rec.dumps(rec.to_v30(record_type, data)),
        **flags,
    )


def _edge_rows(district_id: str, record_type: str, data: dict) -> list[SandboxEdge]:
    return [
        SandboxEdge(district_id=district_id, src_id=data["id"], rel=rel, dst_id=dst)
        for rel, dst in rec.edges(record_type, data)
    ]


# Record types whose Clever schema carries created/last_modified (terms and courses do not).
TIMESTAMPED_TYPES = {RecordType.USERS, RecordType.SECTIONS, RecordType.SCHOOLS}


def _stamp(data: dict, *, record_type: str, district_id: str, now: datetime, created: bool) -> dict:
    data = copy.deepcopy(data)
    data.setdefault("id", new_id())
    data["district"] = district_id
    if record_type in TIMESTAMPED_TYPES:
        if created:
            data.setdefault("created", iso(now))
        data["last_modified"] = iso(now)
    return data


def bulk_load(
    *, district: SandboxDistrict, items: Iterable[tuple[str, dict]], batch_size: int = BULK_BATCH
) -> int:
    """Load records fast (no events): the district as it was when it first shared data.

    ``items`` yields (record_type, record) with ids already set; returns how many were loaded.
    """
    # Plain INSERTs: the ORM's bulk_create spends ~3x longer building model instances and
    # compiling SQL than the database spends inserting (50,000 students on SQLite: ~45 s down to
    # ~7 s). The rows are the ones ``_record_row``/``_edge_rows`` would make.
    loaded = 0
    rows: list[tuple] = []
    edge_rows: list[tuple] = []

    def flush(cursor):
        _insert_rows(cursor, SandboxRecord, _RECORD_COLUMNS, rows)
        _insert_rows(cursor, SandboxEdge, _EDGE_COLUMNS, edge_rows)
        rows.clear()
        edge_rows.clear()

    with transaction.atomic(), connection.cursor() as cursor:
        for record_type, data in items:
            data.setdefault("district", district.id)
            rows.append(_record_values(district.id, record_type, data))
            edge_rows.extend((district.id, data["id"], rel, dst) for rel, dst in rec.edges(record_type, data))
            loaded += 1
            if len(rows) >= batch_size:
                flush(cursor)
        flush(cursor)
    return loaded


_RECORD_COLUMNS = (
    "clever_id",
    "district",
    "record_type",
    "is_student",
    "is_teacher",
    "is_staff",
    "is_district_admin",
    "is_contact",
    "display_name",
    "body",
    "body_v30",
)
_EDGE_COLUMNS = ("district", "src_id", "rel", "dst_id")
_ROWS_PER_INSERT = 500


def _insert_rows(cursor, model, fields: tuple[str, ...], rows: list[tuple]) -> None:
    """SQLite: ``executemany`` (one prepared statement, in process). PostgreSQL: ``COPY``.
    Elsewhere: multi-row ``VALUES`` (one round trip per 500 rows rather than one per row)."""
    if not rows:
        return
    if connection.vendor == "sqlite":
        cursor.executemany(_insert_sql(model, fields, 1), rows)
        return
    if connection.vendor == "postgresql":
        with cursor.cursor.copy(_copy_sql(model, fields)) as copy:
            for row in rows:
                copy.write_row(row)
        return
    per = _ROWS_PER_INSERT
    if connection.features.max_query_params:
        per = max(1, min(per, connection.features.max_query_params // len(fields)))
    for start in range(0, len(rows), per):
        chunk = rows[start : start + per]
        cursor.execute(_insert_sql(model, fields, len(chunk)), [value for row in chunk for value in row])


@functools.lru_cache(maxsize=8)
def _copy_sql(model, fields: tuple[str, ...]) -> str:
    quote = connection.ops.quote_name
    columns = ", ".join(quote(model._meta.get_field(name).column) for name in fields)
    return f"COPY {quote(model._meta.db_table)} ({columns}) FROM STDIN"


@functools.lru_cache(maxsize=32)
def _insert_sql(model, fields: tuple[str, ...], row_count: int) -> str:
    quote = connection.ops.quote_name
    columns = ", ".join(quote(model._meta.get_field(name).column) for name in fields)
    row = "(" + ", ".join(["%s"] * len(fields)) + ")"
    values = ", ".join([row] * row_count)
    # Identifiers come from the model's metadata, every value is a bound parameter.
    return f"INSERT INTO {quote(model._meta.db_table)} ({columns}) VALUES {values}"  # noqa: S608


def _record_values(district_id: str, record_type: str, data: dict) -> tuple:
    """The ``_RECORD_COLUMNS`` values of the row ``_record_row`` makes."""
    users = record_type == RecordType.USERS
    flags = rec.role_flags(data) if users else {}
    return (
        data["id"],
        district_id,
        str(record_type),
        *(flags.get(f"is_{name}", False) for name in rec.ROLE_NAMES),
        rec.display_name(data) if users else "",
        rec.dumps(data),
        rec.dumps(rec.to_v30(record_type, data)),
    )


def _emit(
    *, district_id: str, record_type: str, action: str, obj: dict, previous: dict | None, now
) -> SandboxEvent:
    event = _event(
        district_id=district_id, record_type=record_type, action=action, obj=obj, previous=previous, now=now
    )
    event.save(force_insert=True)
    return event


def _event(
    *, district_id: str, record_type: str, action: str, obj: dict, previous: dict | None, now
) -> SandboxEvent:
    """An unsaved event (``_emit`` saves one, the set-based writes save many at once)."""
    payload = {"object": obj}
    payload_v30 = {"object": rec.to_v30(record_type, obj)}
    if previous is not None:
        payload["previous_attributes"] = previous
        payload_v30["previous_attributes"] = rec.to_v30(record_type, previous)
    return SandboxEvent(
        id=new_id(now.timestamp()),
        district_id=district_id,
        type=f"{record_type}.{action}",
        record_type=record_type,
        record_id=obj["id"],
        schools=" ".join(rec.schools_of(record_type, obj)),
        body=rec.dumps(payload),
        body_v30=rec.dumps(payload_v30),
        created=now,
    )


def _events_on(district_id: str) -> bool:
    return SandboxDistrict.objects.filter(id=district_id, events_enabled=True).exists()


@transaction.atomic
def put_record(
    *, district: SandboxDistrict, record_type: str, data: dict, now: datetime | None = None
) -> dict:
    """Create a record, or replace it whole if its id exists; emits created/updated."""
    now = now or timezone.now()
    existing = SandboxRecord.objects.filter(clever_id=data.get("id") or "").first()
    if existing is None:
        data = _stamp(data, record_type=record_type, district_id=district.id, now=now, created=True)
        _record_row(district.id, record_type, data).save(force_insert=True)
        SandboxEdge.objects.bulk_create(_edge_rows(district.id, record_type, data))
        if _events_on(district.id):
            _emit(
                district_id=district.id,
                record_type=record_type,
                action="created",
                obj=data,
                previous=None,
                now=now,
            )
        return data
    old = rec_loads(existing)
    new = dict(data)
    if "created" in old:
        new.setdefault("created", old["created"])
    return _replace(existing, old, new, now)


@transaction.atomic
def update_record(*, clever_id: str, changes: dict, now: datetime | None = None) -> dict:
    """Change top-level fields of a record (``roles`` merges per role); emits updated."""
    now = now or timezone.now()
    existing = SandboxRecord.objects.select_for_update().get(clever_id=clever_id)
    old = rec_loads(existing)
    return _replace(existing, old, _merged(old, changes), now)


def _merged(old: dict, changes: dict) -> dict:
    """``old`` with ``changes`` applied: top-level fields replaced, ``roles`` merged per role
    (a role set to None is removed)."""
    new = copy.deepcopy(old)
    for key, value in changes.items():
        if key == "roles" and isinstance(value, dict):
            roles = new.setdefault("roles", {})
            for role_name, role in value.items():
                if role is None:
                    roles.pop(role_name, None)
                else:
                    roles[role_name] = role
        else:
            new[key] = value
    return new


def _replace(existing: SandboxRecord, old: dict, new: dict, now: datetime) -> dict:
    district_id, record_type = existing.district_id, existing.record_type
    new = _stamp(new, record_type=record_type, district_id=district_id, now=now, created=False)
    new["id"] = existing.clever_id
    previous = rec.previous_attributes(old, new)
    if not previous:
        return old
    row = _record_row(district_id, record_type, new)
    row.save(force_update=True)
    SandboxEdge.objects.filter(src_id=existing.clever_id).delete()
    SandboxEdge.objects.bulk_create(_edge_rows(district_id, record_type, new))
    if _events_on(district_id):
        _emit(
            district_id=district_id,
            record_type=record_type,
            action="updated",
            obj=new,
            previous=previous,
            now=now,
        )
    return new


@transaction.atomic
def delete_record(*, clever_id: str, now: datetime | None = None) -> dict:
    """Remove a record (unshared or deleted in the SIS); emits deleted with the last object."""
    now = now or timezone.now()
    existing = SandboxRecord.objects.select_for_update().get(clever_id=clever_id)
    old = rec_loads(existing)
    SandboxEdge.objects.filter(src_id=clever_id).delete()
    existing.delete()
    if _events_on(old.get("district", "")):
        _emit(
            district_id=old["district"],
            record_type=existing.record_type,
            action="deleted",
            obj=old,
            previous=None,
            now=now,
        )
    return old


def rec_loads(row: SandboxRecord) -> dict:
    return json.loads(row.body)


# --- set-based roster writes: the same bodies, edges and events as the one-record functions ------
# For changes to thousands of records at once (the control page's bulk changes): rows are
# deleted and inserted in batches, events are inserted in batches, in the order given.

_IN_BATCH = 900  # IDs per ``IN (...)``: under SQLite's and every other backend's parameter limit
_EVENT_BATCH = 500


def batches(items: list, size: int = _IN_BATCH) -> Iterable[list]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _locked_rows(clever_ids: list[str]) -> dict[str, SandboxRecord]:
    """The rows of these IDs, locked; ``SandboxRecord.DoesNotExist`` names one that is missing."""
    rows: dict[str, SandboxRecord] = {}
    for batch in batches(clever_ids):
        rows.update(
            (row.clever_id, row)
            for row in SandboxRecord.objects.select_for_update().filter(clever_id__in=batch)
        )
    missing = [clever_id for clever_id in clever_ids if clever_id not in rows]
    if missing:
        raise SandboxRecord.DoesNotExist(f"no record {missing[0]!r}")
    return rows


def _drop_rows(clever_ids: list[str]) -> None:
    for batch in batches(clever_ids):
        SandboxEdge.objects.filter(src_id__in=batch).delete()
        SandboxRecord.objects.filter(clever_id__in=batch).delete()


def _write_rows(items: list[tuple[str, str, dict]]) -> None:
    """Insert (district_id, record_type, body) records and their edges."""
    with connection.cursor() as cursor:
        for batch in batches(items, BULK_BATCH):
            _insert_rows(
                cursor,
                SandboxRecord,
                _RECORD_COLUMNS,
                [_record_values(district_id, record_type, body) for district_id, record_type, body in batch],
            )
            _insert_rows(
                cursor,
                SandboxEdge,
                _EDGE_COLUMNS,
                [
                    (district_id, body["id"], rel, dst)
                    for district_id, record_type, body in batch
                    for rel, dst in rec.edges(record_type, body)
                ],
            )


def _emit_many(items: list[tuple[str, str, str, dict, dict | None]], now: datetime) -> int:
    """Events for (district_id, record_type, action, object, previous) in this order, for the
    districts whose events are on; returns how many were emitted."""
    districts = {item[0] for item in items}
    on = set(
        SandboxDistrict.objects.filter(id__in=districts, events_enabled=True).values_list("id", flat=True)
    )
    events = [
        _event(
            district_id=district_id,
            record_type=record_type,
            action=action,
            obj=obj,
            previous=previous,
            now=now,
        )
        for district_id, record_type, action, obj, previous in items
        if district_id in on
    ]
    SandboxEvent.objects.bulk_create(events, batch_size=_EVENT_BATCH)
    return len(events)


@transaction.atomic
def put_records(
    *, district: SandboxDistrict, record_type: str, items: list[dict], now: datetime | None = None
) -> list[dict]:
    """Create many new records at once (``put_record`` for new IDs): one created event each.

    Every ID must be new (``ValueError`` otherwise); returns the stored bodies in order.
    """
    now = now or timezone.now()
    bodies = [
        _stamp(data, record_type=record_type, district_id=district.id, now=now, created=True)
        for data in items
    ]
    ids = [body["id"] for body in bodies]
    taken = len(set(ids)) != len(ids) or any(
        SandboxRecord.objects.filter(clever_id__in=batch).exists() for batch in batches(ids)
    )
    if taken:
        raise ValueError("put_records only creates: an ID is repeated or already exists")
    _write_rows([(district.id, record_type, body) for body in bodies])
    _emit_many([(district.id, record_type, "created", body, None) for body in bodies], now)
    return bodies


@transaction.atomic
def update_records(*, changes: dict[str, dict], now: datetime | None = None) -> list[dict]:
    """``update_record`` for many records at once, in the order of ``changes``
    ({clever_id: changes}): one updated event per record that changed; returns their new bodies.
    """
    now = now or timezone.now()
    ids = list(changes)
    rows = _locked_rows(ids)
    replaced: list[tuple[str, str, dict, dict]] = []
    for clever_id in ids:
        row = rows[clever_id]
        old = rec_loads(row)
        new = _stamp(
            _merged(old, changes[clever_id]),
            record_type=row.record_type,
            district_id=row.district_id,
            now=now,
            created=False,
        )
        new["id"] = clever_id
        previous = rec.previous_attributes(old, new)
        if previous:
            replaced.append((row.district_id, row.record_type, new, previous))
    _drop_rows([new["id"] for _, _, new, _ in replaced])
    _write_rows([(district_id, record_type, new) for district_id, record_type, new, _ in replaced])
    _emit_many(
        [
            (district_id, record_type, "updated", new, previous)
            for district_id, record_type, new, previous in replaced
        ],
        now,
    )
    return [new for _, _, new, _ in replaced]


@transaction.atomic
def delete_records(*, clever_ids: list[str], now: datetime | None = None) -> list[dict]:
    """``delete_record`` for many records at once, in this order: one deleted event each (with
    the last object); returns the removed bodies."""
    now = now or timezone.now()
    ids = list(dict.fromkeys(clever_ids))
    rows = _locked_rows(ids)
    gone = [(rows[clever_id], rec_loads(rows[clever_id])) for clever_id in ids]
    _drop_rows(ids)
    _emit_many(
        [
            (old.get("district") or row.district_id, row.record_type, "deleted", old, None)
            for row, old in gone
        ],
        now,
    )
    return [old for _, old in gone]


@transaction.atomic
def purge_expired_events(*, now: datetime | None = None) -> int:
    """Clever keeps events for 30 days."""
    cutoff = (now or timezone.now()) - EVENT_RETENTION
    deleted, _ = SandboxEvent.objects.filter(created__lt=cutoff).delete()
    return deleted


def sandbox_now() -> datetime:
    """The sandbox clock (``KNOBS.clock``, which tests move) as an aware datetime."""
    return datetime.fromtimestamp(KNOBS.clock(), tz=UTC)


class InvalidGrant(Exception):
    """A code that cannot be exchanged; the message is the OAuth ``error_description``."""


@transaction.atomic
def issue_auth_code(
    *,
    application: SandboxApplication,
    user: SandboxRecord,
    redirect_uri: str,
    nonce: str = "",
    launch: dict | None = None,
) -> SandboxAuthCode:
    """A login's authorization code, for the redirect URI it is sent to; ``nonce`` and the LMS
    ``launch`` claims go into the identity token its exchange answers."""
    return SandboxAuthCode.objects.create(
        code=secrets.token_urlsafe(32),
        application=application,
        user_id=user.clever_id,
        district_id=user.district_id,
        redirect_uri=redirect_uri,
        nonce=nonce,
        launch=launch or {},
        created=sandbox_now(),
    )


@dataclass(frozen=True)
class RedeemedCode:
    """What exchanging a code gave: the user's token, and the code (its nonce, its launch)."""

    token: SandboxToken
    auth_code: SandboxAuthCode


@transaction.atomic
def redeem_auth_code(*, application: SandboxApplication, code: str, redirect_uri: str) -> RedeemedCode:
    """Exchange a code for the user's token: SSO, or teacher-authorized in a Library district."""
    now = sandbox_now()
    auth_code = (
        SandboxAuthCode.objects.select_related("district", "application")
        .filter(code=code, application=application)
        .first()
    )
    if auth_code is None or auth_code.redeemed_at is not None:
        raise InvalidGrant("Invalid grant: invalid code")
    if now - auth_code.created > AUTH_CODE_LIFETIME:
        raise InvalidGrant("Invalid grant: code expired")
    if auth_code.redirect_uri != redirect_uri:
        raise InvalidGrant("Invalid grant: redirect_uri does not match the authorization request")
    if not auth_code.district.connected:
        raise InvalidGrant("Invalid grant: the district no longer shares data with this app")
    # The row read above may be stale: this conditional UPDATE is what redeems, so of two
    # concurrent exchanges of one code exactly one sees a row count of 1.
    redeemed = SandboxAuthCode.objects.filter(code=code, redeemed_at__isnull=True).update(redeemed_at=now)
    if not redeemed:
        raise InvalidGrant("Invalid grant: invalid code")
    kind = TokenKind.TEACHER if auth_code.district.sharing == Sharing.LIBRARY else TokenKind.SSO
    token = issue_token(district=auth_code.district, kind=kind, user_id=auth_code.user_id)
    return RedeemedCode(token=token, auth_code=auth_code)


@transaction.atomic
def set_application_oidc(*, enabled: bool) -> SandboxApplication:
    """The app is (or stops being) configured for OIDC: code exchanges answer an identity token."""
    app = get_application()
    app.oidc = enabled
    app.save(update_fields=["oidc"])
    return app


# --- identity-token signing keys ------------------------------------------------------------------


@transaction.atomic
def rotate_signing_key(*, retire_previous: bool = False) -> SandboxSigningKey:
    """A new key (one the sandbox never had) signs identity tokens from now on. The previous
    keys stay published (tokens they signed still verify) unless ``retire_previous``: then
    they leave the JWKS."""
    kid, key = keys.unused_key(set(SandboxSigningKey.objects.values_list("kid", flat=True)))
    if retire_previous:
        SandboxSigningKey.objects.filter(retired_at__isnull=True).update(retired_at=timezone.now())
    return SandboxSigningKey.objects.create(kid=kid, private_key_pem=keys.pem(key))


def published_signing_keys() -> list[SandboxSigningKey]:
    """The keys the JWKS publishes (not retired), the signing one (the newest) first; the first
    key is made here when there is none."""
    published = list(SandboxSigningKey.objects.filter(retired_at__isnull=True).order_by("-created", "-id"))
    return published or [rotate_signing_key()]


# --- control page and seeding (sandbox/generator/, sandbox/demo.py, the control page) ------------


def _emit_district_updated(district: SandboxDistrict, *, before: dict) -> dict:
    """After a change saved to ``district`` (whose body was ``before``): a districts.updated
    event when something changed and the district has events on. Returns what changed (the
    previous values; empty: nothing did)."""
    after = district_body(district)
    previous = rec.previous_attributes(before, after)
    if previous and district.events_enabled:
        _emit(
            district_id=district.id,
            record_type="districts",
            action="updated",
            obj=after,
            previous=previous,
            now=timezone.now(),
        )
    return previous


@transaction.atomic
def set_lms(*, district: SandboxDistrict, lms_type: str, lms_state: str | None = None) -> None:
    """The district connects (or drops) an LMS; a districts.updated event says so."""
    before = district_body(district)
    district.lms_type = lms_type
    district.lms_state = ("success" if lms_type else "") if lms_state is None else lms_state
    district.save(update_fields=["lms_type", "lms_state"])
    _emit_district_updated(district, before=before)


@transaction.atomic
def set_district_identifiers(*, district: SandboxDistrict, nces_id: str, mdr_number: str) -> dict:
    """The district's NCES LEAID and MDR number change in Clever (what an app matches districts
    on); a districts.updated event says so. Returns the previous values of what changed
    (empty: nothing did)."""
    district = SandboxDistrict.objects.select_for_update().get(pk=district.pk)
    before = district_body(district)
    district.data = {**district.data, "nces_id": nces_id, "mdr_number": mdr_number}
    district.save(update_fields=["data"])
    return _emit_district_updated(district, before=before)


@transaction.atomic
def delete_district(*, district: SandboxDistrict) -> dict[str, int]:
    """Remove a district and everything in it (records, edges, events, tokens, LMS data) in a
    few set-based statements, however large (``core.deletion``); the rows deleted per model."""
    return delete_cascading(SandboxDistrict.objects.filter(pk=district.pk))


@transaction.atomic
def reset_sandbox() -> int:
    """Delete every sandbox district (the registered application is kept); returns how many."""
    return delete_cascading(SandboxDistrict.objects.all()).get(SandboxDistrict._meta.label, 0)
