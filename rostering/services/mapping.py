"""A Clever record -> what the mirror stores: the stored representation, its content hash and
the model's columns. Pure functions (no database), so they are cheap to test and to fuzz.

**Stored representation.** Clever's record as received, minus every field of
``clever.sensitive.SENSITIVE_FIELDS`` (the one list of sensitive and demographic fields: IEP,
504, disability, gifted, ELL and lunch status, date of birth, gender, race, ethnicity, home
language, home address, district-defined ``ext``, a contact's phone). It is what ``raw`` keeps;
none of those fields is ever in ``raw``, in a column, in a staged row in clear, or in a log.

**Kept listed fields.** Of the listed fields a record carries, those a feature needs (the date
of birth, for matching; ``ALWAYS_KEPT``) are always kept, and the others only when the
district stores sensitive fields (``District.store_sensitive_fields``); the rest are dropped as
the page is read. What is kept, ``{path: value}`` as Clever sent it, is encrypted
(``districts.crypto.encrypt`` of its canonical JSON) into ``Person.sensitive_ciphertext``,
once per staged record (a record whose fingerprint matches its live row is not staged, so an
unchanged person is never encrypted again). Reading them back is ``rostering.selectors``' job
(``dates_of_birth`` for matching), showing them ``rostering.admin.reveal_sensitive``'s.

**Content hash.** ``blake2b(digest_size=16)`` of the canonical JSON of the stored
representation (keys sorted, compact separators, ASCII), computed once per record that needs
staging; the same text is reused as ``raw`` in the staged row, so such a record is serialized
once. Key order and whitespace of Clever's answers therefore never count as changes, and the
list endpoints and the Events API (which carry the same record) agree. The text is the standard
library's ``json.dumps(sort_keys=True, separators=(",", ":"), ensure_ascii=True)``, written by
orjson when that gives the same bytes (see ``canonical_json``): about 3x faster, and the
single largest piece of per-record work a first sync does in Python.
A *keyed* digest of the kept listed fields (key derived from ``SECRET_KEY``, so the hash cannot
be used to guess a child's date of birth or IEP status) is mixed in, so that a change of, say,
``iep_status`` re-encrypts the ciphertext. Consequences, documented on purpose: switching
``store_sensitive_fields`` on, or rotating ``SECRET_KEY``, changes the hash of every student
who has such fields, and the next sync updates them (it may be held by the "changed" guard and
need approval); switching it off re-hashes the mirror at once (``rostering.services.sensitive``),
so the next sync finds nothing changed.

**Fingerprint.** Serializing to canonical JSON costs more than parsing the record did, so a
full sync first compares a cheaper digest: blake2b of the record pickled without a memo, in
the order received (``fingerprint``, stored beside the hash); with kept listed fields, of the
record and those fields pickled together, keyed as above. Equal fingerprints mean equal records;
different ones prove nothing (another key order, another Python), and the canonical hash
decides. A fingerprint is only ever a shortcut, never the truth.

**Mapping stored rows again.** ``reshape`` gives what ``prepare`` makes of the record a mirrored
person was stored from (``raw`` with its decrypted kept fields put back), for when the list or
the district's choice changes and the mirror must follow without asking Clever: the migration
that took the demographic fields out of ``raw``, and switching ``store_sensitive_fields`` off.

**Columns.** ``map_fields`` turns the stored representation into the model's columns (strings
cut to the column's length, ``None`` as ""; dates parsed from Clever's ``M/D/YYYY`` or ISO
forms, unparseable ones ``None``), plus derived lists the set-based apply expands:
``_students`` and ``_teachers`` of a section (Clever IDs, each once; the primary teacher is
``teacher``, else ``teachers[0]``, and is a teacher even when ``teachers`` forgets them) and
``_links`` of a contact (``[student, relationship, type]``, once per student).
Every string may be missing or of another type in real data: nothing here raises on a
malformed field; only a record without a usable ``id`` is refused (:class:`InvalidRecord`).
"""

from __future__ import annotations

import copy
import hashlib
import io
import json
import pickle
import threading
from collections.abc import Callable
from datetime import date
from functools import cache, lru_cache
from json import encoder as _json_encoder
from typing import Any

import orjson
from django.conf import settings
from django.db import models

from clever.sensitive import SENSITIVE_FIELDS, pop_listed, put_back
from core.errors import AppError
from districts import crypto

from ..models import Course, Person, RecordType, School, Section, Term

# In the order a full sync reads them (and the diff and apply walk them).
RECORD_TYPES: tuple[str, ...] = (
    RecordType.SCHOOLS,
    RecordType.TERMS,
    RecordType.COURSES,
    RecordType.SECTIONS,
    RecordType.USERS,
)
MODELS: dict[str, type[School | Term | Course | Section | Person]] = {
    RecordType.SCHOOLS: School,
    RecordType.TERMS: Term,
    RecordType.COURSES: Course,
    RecordType.SECTIONS: Section,
    RecordType.USERS: Person,
}

# Listed fields a feature needs: kept (encrypted) whether or not the district stores the rest.
ALWAYS_KEPT = frozenset(field.path for field in SENSITIVE_FIELDS if field.needed_by)

ROLE_NAMES = ("student", "teacher", "staff", "district_admin", "contact")
MAX_ID_LENGTH = 24
# Bump when what a record maps to changes: page digests of older runs then stop matching.
# 2: every listed sensitive or demographic field out of ``raw``, no ``dob`` column.
MAPPING_VERSION = 2


def _unserializable(value):
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def _encoder(*, sort_keys: bool):
    """A reusable C JSON encoder (``JSONEncoder.encode`` builds a new one per call)."""
    make = getattr(_json_encoder, "c_make_encoder", None)
    if make is not None:
        try:
            encode = make(
                None,
                _unserializable,
                _json_encoder.encode_basestring_ascii,
                None,
                ":",
                ",",
                sort_keys,
                False,
                True,
            )
            return lambda value: "".join(encode(value, 0))
        except TypeError:  # pragma: no cover - another interpreter's signature
            pass
    return json.JSONEncoder(
        sort_keys=sort_keys, separators=(",", ":"), ensure_ascii=True, check_circular=False
    ).encode  # pragma: no cover


_canonical_stdlib = _encoder(sort_keys=True)
_compact_stdlib = _encoder(sort_keys=False)
# Where orjson's ASCII text may differ from the standard library's: DEL is escaped by
# ``ensure_ascii`` only, and small exponents are written ``1e-7`` rather than ``1e-07`` (a text
# holding "e-" for another reason, like "Anne-Marie", merely goes the slow way).
_ORJSON_MAY_DIFFER = (b"\x7f", b"e-")


def canonical_json(value: Any) -> str:
    """Sorted keys, no whitespace, ASCII: the same value always gives the same text.

    The text of the standard library's encoder (the stored ``raw`` and every content hash were
    made with it), written by orjson when its bytes are the same: ASCII (no character needed an
    escape, which orjson does not write), no DEL, no "e-". Other values (about 8% of a generated
    district's people have a non-ASCII name), integers beyond 64 bits and lone surrogates go to
    the standard library. Numbers with a fraction are where the two may still differ (orjson
    writes 2.5e-05 as 0.000025, and NaN, which JSON does not have, as null): Clever's roster
    schemas have none (v3.0 and v3.1 records hold strings, booleans, objects and lists), and the
    text of a given value is always the same, so at worst such a record, if one ever came,
    would count as changed once."""
    try:
        text = orjson.dumps(value, option=orjson.OPT_SORT_KEYS)
    except orjson.JSONEncodeError:
        return _canonical_stdlib(value)
    if text.isascii() and not any(marker in text for marker in _ORJSON_MAY_DIFFER):
        return text.decode("ascii")
    return _canonical_stdlib(value)


def _compact(value: Any) -> str:
    """Compact JSON in the given key order (staged arrays: read back by the database, never
    hashed, so orjson's UTF-8 is as good as escapes)."""
    try:
        return orjson.dumps(value).decode()
    except orjson.JSONEncodeError:
        return _compact_stdlib(value)


class InvalidRecord(AppError, ValueError):
    """A record the mirror cannot key (no usable ``id``). The message names no personal data."""


@cache
def _sensitive_key(secret: str) -> bytes:
    return hashlib.blake2b(secret.encode(), digest_size=32, person=b"rostering-sens").digest()


def sensitive_digest(sensitive: dict) -> bytes:
    """A keyed digest of the kept listed fields (useless without ``SECRET_KEY``)."""
    key = _sensitive_key(str(settings.SECRET_KEY))
    return hashlib.blake2b(canonical_json(sensitive).encode(), digest_size=16, key=key).digest()


def content_hash(raw_json: str, sensitive: dict | None = None) -> str:
    """The content hash of a stored representation (its canonical JSON)."""
    digest = hashlib.blake2b(raw_json.encode("ascii"), digest_size=16)
    if sensitive:
        digest.update(b"\x00")
        digest.update(sensitive_digest(sensitive))
    return digest.hexdigest()


_local = threading.local()


def _pickled(value: Any) -> bytes:
    """Pickle without a memo ("fast" mode): equal JSON values in the same key order always
    give the same bytes, whichever string objects the parser shared."""
    state = getattr(_local, "pickler", None)
    if state is None:
        buffer = io.BytesIO()
        pickler = pickle.Pickler(buffer, 5)
        pickler.fast = True
        state = _local.pickler = (buffer, pickler)
    buffer, pickler = state
    buffer.seek(0)
    buffer.truncate()
    pickler.dump(value)
    return buffer.getvalue()


def fingerprint(record: dict, sensitive: dict | None = None) -> str:
    """A cheap digest of the stored representation *as received* (key order matters). Equal
    fingerprints mean equal records (pickle is unambiguous), so the sync may skip a record whose
    fingerprint equals its live row's; a different fingerprint proves nothing (keys may just come
    in another order, or another Python may pickle differently) and the content hash decides.
    With kept listed fields, the record and those fields are pickled together and the digest is
    keyed like ``sensitive_digest`` (a full sync computes this for every student: one pickle and
    one hash, no canonical JSON of the fields)."""
    if not sensitive:
        return hashlib.blake2b(_pickled(record), digest_size=16).hexdigest()
    return hashlib.blake2b(
        _pickled((record, sensitive)), digest_size=16, key=_sensitive_key(str(settings.SECRET_KEY))
    ).hexdigest()


class Prepared:
    """One record read from Clever, stripped of the listed fields and fingerprinted; the
    canonical JSON and the content hash are computed only when asked for (a record whose
    fingerprint matches its live row never needs them)."""

    __slots__ = (
        "_content_hash",
        "_raw_json",
        "clever_id",
        "fingerprint",
        "record",
        "record_type",
        "sensitive",
    )

    def __init__(self, record_type: str, clever_id: str, record: dict, sensitive: dict | None):
        self.record_type = record_type
        self.clever_id = clever_id
        # The stored representation (listed fields removed).
        self.record = record
        # The listed fields kept for this person ({path: value}), or None: encrypted when staged.
        self.sensitive = sensitive
        self.fingerprint = fingerprint(record, sensitive)
        self._raw_json: str | None = None
        self._content_hash: str | None = None

    @property
    def raw_json(self) -> str:
        """The canonical JSON of the stored representation (becomes ``raw``)."""
        if self._raw_json is None:
            text = canonical_json(self.record)
            if "\\u0000" in text:
                # PostgreSQL refuses NUL in text and jsonb: drop it (from the columns too).
                self.record = _strip_nul(self.record)
                self.sensitive = _strip_nul(self.sensitive) if self.sensitive else self.sensitive
                text = canonical_json(self.record)
            self._raw_json = text
        return self._raw_json

    @property
    def content_hash(self) -> str:
        if self._content_hash is None:
            self._content_hash = content_hash(self.raw_json, self.sensitive)
        return self._content_hash

    def ciphertext(self) -> str:
        """The kept listed fields encrypted (``Person.sensitive_ciphertext``), "" when none: one
        Fernet encryption (about 30 us), so only for records that are written."""
        return crypto.encrypt(canonical_json(self.sensitive)) if self.sensitive else ""


def _strip_nul(value: Any) -> Any:
    """Remove NUL characters (PostgreSQL refuses them in text and jsonb)."""
    if isinstance(value, str):
        return value.replace("\x00", "")
    if isinstance(value, dict):
        return {_strip_nul(k): _strip_nul(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_strip_nul(v) for v in value]
    return value


def record_id(record: Any, record_type: str) -> str:
    if type(record) is not dict:
        raise InvalidRecord(f"a {record_type} item is not a JSON object")
    clever_id = record.get("id")
    if type(clever_id) is not str or not clever_id or len(clever_id) > MAX_ID_LENGTH:
        raise InvalidRecord(f"a {record_type} record has no usable id")
    return clever_id


def kept_fields(listed: dict | None, *, keep_sensitive: bool) -> dict | None:
    """Of the listed fields a record held, those kept: all of them when the district stores
    sensitive fields, else only those a feature needs (``ALWAYS_KEPT``); None when nothing."""
    if not listed or keep_sensitive:
        return listed or None
    return {path: value for path, value in listed.items() if path in ALWAYS_KEPT} or None


def prepare(record_type: str, record: Any, *, keep_sensitive: bool) -> Prepared:
    """Key, strip (in place: the sync owns the records it parses) and fingerprint one record:
    the per-record work of every sync."""
    clever_id = record_id(record, record_type)
    sensitive = None
    if record_type == RecordType.USERS:
        sensitive = kept_fields(pop_listed(record), keep_sensitive=keep_sensitive)
    return Prepared(record_type, clever_id, record, sensitive)


def reshape(raw: dict, kept: dict | None, *, keep_sensitive: bool) -> Prepared:
    """What ``prepare`` makes today of the Clever user a mirrored row was stored from: its
    ``raw`` (which an older mapping may have left listed fields in) with its decrypted kept
    fields (``{path: value}``) put back. The caller's ``raw`` is left as it is."""
    record = put_back(copy.deepcopy(raw), kept or {})
    return prepare(RecordType.USERS, record, keep_sensitive=keep_sensitive)


def staged_data(prepared: Prepared) -> str:
    """The JSON text of a staged upsert: an array laid out as ``layout(record_type)`` says
    (the mapped columns, the fingerprint, the ciphertext of the kept listed fields for people,
    the derived lists, and last the stored representation, reused as is)."""
    raw_json = prepared.raw_json  # first: it may clean the record
    values, extra = _MAPPERS[prepared.record_type](prepared.record)
    values.append(prepared.fingerprint)
    if prepared.record_type == RecordType.USERS:
        values.append(prepared.ciphertext())
    if record_type_extra := EXTRA.get(prepared.record_type):
        values.extend(extra if len(record_type_extra) > 1 else (extra,))
    text = _compact(values)
    return text[:-1] + "," + raw_json + "]"


# --- columns ---------------------------------------------------------------------------------

# The mapped columns of each model, in the order the mappers return them.
FIELDS: dict[str, tuple[str, ...]] = {
    RecordType.SCHOOLS: (
        "name",
        "sis_id",
        "state_id",
        "nces_id",
        "mdr_number",
        "school_number",
        "low_grade",
        "high_grade",
        "phone",
        "principal_name",
        "principal_email",
        "city",
        "us_state",
        "zip",
    ),
    RecordType.TERMS: ("name", "start_date", "end_date"),
    RecordType.COURSES: ("name", "number"),
    RecordType.SECTIONS: (
        "school_clever_id",
        "term_clever_id",
        "course_clever_id",
        "primary_teacher_clever_id",
        "name",
        "sis_id",
        "section_number",
        "period",
        "subject",
        "grade",
        "synced_in_lms",
    ),
    RecordType.USERS: (
        "first_name",
        "middle_name",
        "last_name",
        "email",
        "is_student",
        "is_teacher",
        "is_staff",
        "is_district_admin",
        "is_contact",
        "student_sis_id",
        "student_number",
        "student_state_id",
        "grade",
        "graduation_year",
        "teacher_sis_id",
        "teacher_number",
        "teacher_state_id",
        "staff_id",
        "contact_sis_id",
        "title",
        "district_username",
        "legacy_ids",
        "school_clever_ids",
    ),
}
# Derived lists a record type carries to the apply (not columns).
EXTRA: dict[str, tuple[str, ...]] = {
    RecordType.SECTIONS: ("_students", "_teachers"),
    RecordType.USERS: ("_links",),
}
# Columns the engine fills itself (keys, bookkeeping) or that other parts of the product own.
_NOT_MAPPED = {
    "id",
    "district",
    "clever_id",
    "content_hash",
    "archived_at",
    "created_at",
    "updated_at",
    "product_school",
    "user",
}


def _kind(field: models.Field | models.ForeignObjectRel) -> str:
    if isinstance(field, models.JSONField):
        return "json"
    if isinstance(field, models.BooleanField):
        return "bool"
    if isinstance(field, models.DateField):
        return "date"
    if isinstance(field, (models.CharField, models.TextField)):
        return "str"
    raise TypeError(f"no mapping for {field.model.__name__}.{field.name}")


@cache
def layout(record_type: str) -> tuple[tuple[str, str], ...]:
    """(name, kind) of each element of a staged upsert's array, kind in str/bool/date/json or
    ``list`` for the derived lists; the last element is ``raw``. Checked against the
    model, so a column added to a mirror model without a mapping fails loudly."""
    model = MODELS[record_type]
    names = [*FIELDS[record_type], "fingerprint"]
    if record_type == RecordType.USERS:
        names.append("sensitive_ciphertext")
    names.extend(EXTRA.get(record_type, ()))
    names.append("raw")
    expected = {f.name for f in model._meta.concrete_fields if f.name not in _NOT_MAPPED}
    mapped = {name for name in names if not name.startswith("_")}
    if mapped != expected:
        raise TypeError(f"{model.__name__} columns and the mapping disagree: {sorted(mapped ^ expected)}")
    return tuple(
        (name, "list" if name.startswith("_") else _kind(model._meta.get_field(name))) for name in names
    )


def columns(record_type: str) -> tuple[tuple[str, int, str], ...]:
    """(column, index in the staged array, kind) of every mapped column."""
    return tuple(
        (name, index, kind) for index, (name, kind) in enumerate(layout(record_type)) if kind != "list"
    )


def extra_index(record_type: str, name: str) -> int:
    """Where the derived list ``name`` (``_students``, ``_teachers``, ``_links``) sits."""
    return [entry for entry, _kind_ in layout(record_type)].index(name)


def _s(value: Any, limit: int = 255) -> str:
    """A string column: missing -> "", numbers -> text, objects -> "", cut to the column."""
    if type(value) is str:
        return value[:limit]
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)[:limit]
    if isinstance(value, str):
        return str(value)[:limit]
    return ""


_EMPTY: dict = {}


def _d(value: Any) -> dict:
    return value if type(value) is dict else _EMPTY


def _ids(values: Any) -> list[str]:
    if type(values) is not list:
        return []
    return [v for v in values if type(v) is str and v]


def parse_date(value: Any) -> str | None:
    """Clever dates -> ISO ``YYYY-MM-DD`` (or None): ``M/D/YYYY`` (dob), ``YYYY-MM-DD`` and
    ``YYYY-MM-DDThh:mm:ss.sssZ`` (terms). A district's dates repeat (birthdays), so the last
    few thousand answers are kept."""
    if type(value) is not str:
        return None
    if len(value) > 40:
        return _parse_date(value)
    return _parse_date_cached(value)


def _parse_date(value: Any) -> str | None:
    if type(value) is not str:
        return None
    text = value.strip()
    try:
        if "/" in text:
            month, day, year = (int(part) for part in text.split("/"))
            return date(year, month, day).isoformat()
        if len(text) >= 10:
            return date.fromisoformat(text[:10]).isoformat()
    except ValueError:
        return None
    return None


_parse_date_cached = lru_cache(maxsize=8192)(_parse_date)


def _map_school(record: dict) -> tuple[list, None]:
    principal = _d(record.get("principal"))
    location = _d(record.get("location"))
    get = record.get
    return [
        _s(get("name")),
        _s(get("sis_id")),
        _s(get("state_id")),
        _s(get("nces_id"), 32),
        _s(get("mdr_number"), 32),
        _s(get("school_number")),
        _s(get("low_grade"), 32),
        _s(get("high_grade"), 32),
        _s(get("phone"), 64),
        _s(principal.get("name")),
        _s(principal.get("email")),
        _s(location.get("city")),
        _s(location.get("state"), 32),
        _s(location.get("zip"), 32),
    ], None


def _map_term(record: dict) -> tuple[list, None]:
    return [
        _s(record.get("name")),
        parse_date(record.get("start_date")),
        parse_date(record.get("end_date")),
    ], None


def _map_course(record: dict) -> tuple[list, None]:
    return [_s(record.get("name")), _s(record.get("number"))], None


def primary_teacher(record: dict) -> str:
    teacher = record.get("teacher")
    if type(teacher) is str and teacher:
        return teacher
    teachers = _ids(record.get("teachers"))
    return teachers[0] if teachers else ""


def section_members(record: dict) -> tuple[list[str], list[str]]:
    """(students, teachers) of a section, each once; the primary teacher is a teacher even when
    ``teachers`` forgets them."""
    primary = primary_teacher(record)
    students = [s[:MAX_ID_LENGTH] for s in dict.fromkeys(_ids(record.get("students")))]
    teachers = _ids(record.get("teachers"))
    if primary and primary not in teachers:
        teachers.insert(0, primary)
    return students, [t[:MAX_ID_LENGTH] for t in dict.fromkeys(teachers)]


def _map_section(record: dict) -> tuple[list, tuple]:
    get = record.get
    lms = get("lms_status")
    synced = lms.get("synced_in_lms") if type(lms) is dict else None
    return [
        _s(get("school"), MAX_ID_LENGTH),
        _s(get("term_id"), MAX_ID_LENGTH),
        _s(get("course"), MAX_ID_LENGTH),
        primary_teacher(record)[:MAX_ID_LENGTH],
        _s(get("name")),
        _s(get("sis_id")),
        _s(get("section_number")),
        _s(get("period")),
        _s(get("subject"), 64),
        _s(get("grade"), 32),
        synced if type(synced) is bool else None,
    ], section_members(record)


def contact_links(contact: dict) -> list[list]:
    """``[student_clever_id, relationship, type]`` of a contact role, once per student."""
    links: list[list] = []
    seen: set[str] = set()
    relationships = contact.get("student_relationships")
    for item in relationships if type(relationships) is list else ():
        if type(item) is not dict:
            continue
        student = item.get("student")
        if type(student) is not str or not student or student in seen:
            continue
        seen.add(student)
        links.append([student[:MAX_ID_LENGTH], _s(item.get("relationship"), 64), _s(item.get("type"), 64)])
    return links


def _first(*values: Any) -> str:
    for value in values:
        text = _s(value)
        if text:
            return text
    return ""


_SCHOOL_ROLES = ("student", "teacher", "staff")


def _add_schools(schools: list[str], role: dict) -> None:
    """Append a role's ``school`` then its ``schools``, each once, in order."""
    listed = role.get("schools")
    for school in (role.get("school"), *(listed if type(listed) is list else ())):
        if type(school) is str and school and school not in schools:
            schools.append(school)


def _user_roles(roles: dict) -> tuple[dict[str, dict], list[str], dict[str, str]]:
    """A user's known roles that are objects (by role name), their schools (in order, once;
    students', teachers' and staff's only) and their legacy IDs (by role name)."""
    found: dict[str, dict] = {}
    schools: list[str] = []
    legacy: dict[str, str] = {}
    for role_name, role in roles.items():
        if type(role) is not dict or role_name not in ROLE_NAMES:
            continue
        found[role_name] = role
        if role_name in _SCHOOL_ROLES:
            _add_schools(schools, role)
        legacy_id = role.get("legacy_id")
        if type(legacy_id) is str and legacy_id:
            legacy[role_name] = legacy_id
    return found, schools, legacy


def _district_username(*roles: dict) -> str:
    """The first ``credentials.district_username`` of the roles, in the order given."""
    for role in roles:
        credentials = role.get("credentials")
        if type(credentials) is dict:
            username = _s(credentials.get("district_username"))
            if username:
                return username
    return ""


def _map_user(record: dict) -> tuple[list, list]:
    get = record.get
    name = get("name")
    if type(name) is not dict:
        name = _EMPTY
    roles = get("roles")
    if type(roles) is not dict:
        roles = _EMPTY
    found, schools, legacy = _user_roles(roles)
    student, teacher, staff, admin, contact = (found.get(role_name, _EMPTY) for role_name in ROLE_NAMES)
    username = _district_username(student, teacher, staff, admin)
    sget, tget = student.get, teacher.get
    return [
        _s(name.get("first")),
        _s(name.get("middle")),
        _s(name.get("last")),
        _s(get("email")),
        "student" in roles,
        "teacher" in roles,
        "staff" in roles,
        "district_admin" in roles,
        "contact" in roles,
        _s(sget("sis_id")),
        _s(sget("student_number")),
        _s(sget("state_id")),
        _s(sget("grade"), 32),
        _s(sget("graduation_year"), 8),
        _s(tget("sis_id")),
        _s(tget("teacher_number")),
        _s(tget("state_id")),
        _s(staff.get("staff_id")),
        _s(contact.get("sis_id")),
        _first(tget("title"), staff.get("title"), admin.get("title")),
        username,
        {role_name: legacy[role_name] for role_name in ROLE_NAMES if role_name in legacy} if legacy else {},
        [school[:MAX_ID_LENGTH] for school in schools],
    ], (contact_links(contact) if contact else [])


# A record's mapped columns, and its derived lists (one per name of EXTRA: a list, a tuple or None).
_MAPPERS: dict[str, Callable[[dict], tuple[list, Any]]] = {
    RecordType.SCHOOLS: _map_school,
    RecordType.TERMS: _map_term,
    RecordType.COURSES: _map_course,
    RecordType.SECTIONS: _map_section,
    RecordType.USERS: _map_user,
}


def map_fields(record_type: str, record: dict) -> dict:
    """The model's mapped columns (and derived lists) of a stored representation, as
    a dict (``staged_data`` lays the same values out as an array)."""
    values, extra = _MAPPERS[record_type](record)
    fields = dict(zip(FIELDS[record_type], values, strict=True))
    names = EXTRA.get(record_type, ())
    if names:
        fields.update(zip(names, extra if len(names) > 1 else (extra,), strict=True))
    return fields


def display_name(record_type: str, values: dict) -> str:
    """A short name for hold samples (names and IDs only, never other personal data)."""
    if record_type == RecordType.USERS:
        return " ".join(p for p in (values.get("first_name"), values.get("last_name")) if p)
    return values.get("name") or ""
