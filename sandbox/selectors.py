"""Read queries of the local Clever: users for the login pages and the Portal; for the control
page, people to sign in as, Clever Library teachers and LMS submissions, by name; and for the
API what a token may see, records, relations, pages and events.

The views (``sandbox.views.api``, ``sandbox.views.oauth``) only parse parameters and shape
answers; every query and every "may this token see that" decision lives here.

Pages are read as ``(id, stored JSON)`` pairs (``values_list``; the body as UTF-8 bytes, see
``StoredBytes``) in ascending Clever ID order over the ``(district, record_type, clever_id)``
index, so a page of 10,000 records is never parsed: the view splices the stored bytes into
the envelope.

Token kinds (``SandboxToken.kind``), as Clever answers them:

- ``district`` (district-app token, Secure Sync): everything of its own district.
- ``sso`` (a login's token): the user's own record, their district, their schools; no list
  and no nested endpoint (Clever answers 404 there, and SSO tokens cannot page).
- ``teacher`` (Clever Library, teacher-authorized): the teacher, their district, their sections
  (``/sections``, ``/users/{id}/sections``) and those sections' students
  (``/sections/{id}/users``, ``/users``, ``/users/{id}``); nothing else. Lists are cut down to
  what the token sees, so a co-teacher of a section is not visible.

Anything a token may not see is answered like a record that does not exist: 404.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from django.db.models import BinaryField, Count, Func, Q, QuerySet

from . import records as rec
from .knobs import KNOBS
from .models import (
    RecordType,
    SandboxDistrict,
    SandboxEdge,
    SandboxEvent,
    SandboxLmsAssignment,
    SandboxLmsSubmission,
    SandboxRecord,
    SandboxToken,
    Sharing,
    TokenKind,
)
from .services import EVENT_RETENTION, district_body

DEFAULT_LIMIT = 100
MAX_LIMIT = 10_000
# Third-party clients seed their event cursor with ``ending_before=last&limit=1``.
LAST = "last"

ROLE_FLAGS = {
    "student": "is_student",
    "teacher": "is_teacher",
    "staff": "is_staff",
    "district_admin": "is_district_admin",
    "contact": "is_contact",
}
# The ``role`` values each users list accepts (Clever's Swagger enums).
USER_LIST_ROLES = {
    ("users", ""): set(ROLE_FLAGS),
    ("schools", "users"): {"staff", "student", "teacher"},
    ("sections", "users"): {"student", "teacher"},
}
EVENT_RECORD_TYPES = {"districts", "schools", "users", "sections", "terms", "courses", "resources"}

# Lists a Library (teacher) token may read: (collection, relation); "" is the top-level list.
_TEACHER_LISTS = {("users", ""), ("sections", ""), ("users", "sections"), ("sections", "users")}


# --- logins and the portal (used by sandbox.views.oauth) -----------------------------------------


def get_user(clever_id: str) -> SandboxRecord | None:
    """A sandbox user by Clever ID (with its district), or None."""
    if not clever_id:
        return None
    return (
        SandboxRecord.objects.select_related("district")
        .filter(clever_id=clever_id, record_type=RecordType.USERS)
        .first()
    )


def get_district(district_id: str) -> SandboxDistrict | None:
    if not district_id:
        return None
    return SandboxDistrict.objects.filter(id=district_id).first()


def district_choices(*, lms_types: Iterable[str] = ()) -> QuerySet:
    """The sandbox districts (those whose LMS is one of ``lms_types``, when given), by name,
    for the login, portal and LMS filters."""
    qs = SandboxDistrict.objects.order_by("name", "id")
    return qs.filter(lms_type__in=list(lms_types)) if lms_types else qs


def listed_district_tokens(*, district_id: str = "") -> QuerySet:
    """What ``GET /oauth/tokens?owner_type=district`` lists: the live district-app tokens of
    connected districts (optionally one district's)."""
    qs = SandboxToken.objects.filter(
        kind=TokenKind.DISTRICT, revoked_at__isnull=True, district__connected=True
    )
    if district_id:
        qs = qs.filter(district_id=district_id)
    return qs.select_related("district").order_by("district_id", "created")


def search_users(
    *, q: str = "", role: str = "", district_id: str = "", lms_types: Iterable[str] = ()
) -> QuerySet:
    """Users for the login, portal and LMS pages: every word of ``q`` in the name (or the
    Clever ID), role, district, districts whose LMS is one of ``lms_types`` (when given)."""
    qs = SandboxRecord.objects.filter(record_type=RecordType.USERS).select_related("district")
    if lms_types:
        qs = qs.filter(district__lms_type__in=list(lms_types))
    for word in q.split():
        qs = qs.filter(Q(display_name__icontains=word) | Q(clever_id=word))
    if role in ROLE_FLAGS:
        qs = qs.filter(**{ROLE_FLAGS[role]: True})
    if district_id:
        qs = qs.filter(district_id=district_id)
    return qs.order_by("display_name", "clever_id")


# --- the control page: who to sign in as, grades in the LMS --------------------------------------

ROLE_WORDS = {
    "student": "student",
    "teacher": "teacher",
    "staff": "staff",
    "district_admin": "district admin",
    "contact": "family contact",
}
# Roles the control page offers to sign in as (contacts sign in to parent portals, not here).
SIGN_IN_ROLES = ("teacher", "student", "staff", "district_admin")
SIGN_IN_PER_ROLE = 2
LIBRARY_TEACHERS_SHOWN = 10


def role_words(user: SandboxRecord) -> str:
    """A user's roles in plain words: "teacher, district admin"."""
    return ", ".join(word for role, word in ROLE_WORDS.items() if getattr(user, ROLE_FLAGS[role]))


@dataclass(frozen=True)
class SignInPerson:
    """Someone the control page offers to sign in as, and why they are listed."""

    user: SandboxRecord
    roles: str
    note: str = ""


def _section_names(section_ids) -> dict[str, str]:
    return {
        clever_id: json.loads(body).get("name") or "a section without a name"
        for clever_id, body in SandboxRecord.objects.filter(
            clever_id__in=list(section_ids), record_type=RecordType.SECTIONS
        ).values_list("clever_id", "body")
    }


def sign_in_people(district: SandboxDistrict) -> list[SignInPerson]:
    """People of a district to sign in as: the teachers of sections that have assignments in
    the LMS first (what the demo's teacher pages show), then the first few of each role by
    name."""
    assignments = dict(
        SandboxLmsAssignment.objects.filter(district=district)
        .values_list("section_id")
        .annotate(n=Count("id"))
        .order_by()
    )
    names = _section_names(assignments)
    notes: dict[str, list[str]] = {}
    lms = district.get_lms_type_display()
    for section_id, teacher_id in (
        SandboxEdge.objects.filter(district=district, rel="teachers", src_id__in=list(assignments))
        .values_list("src_id", "dst_id")
        .order_by("src_id")
    ):
        count = assignments[section_id]
        notes.setdefault(teacher_id, []).append(
            f"{count} assignment{'' if count == 1 else 's'} in {lms} for {names.get(section_id, 'a section')}"
        )
    users = SandboxRecord.objects.filter(district=district, record_type=RecordType.USERS)
    people = [
        SignInPerson(user, role_words(user), "; ".join(notes[user.clever_id]))
        for user in users.filter(clever_id__in=list(notes)).order_by("display_name", "clever_id")
    ]
    listed = set(notes)
    for role in SIGN_IN_ROLES:
        for user in (
            users.filter(**{ROLE_FLAGS[role]: True})
            .exclude(clever_id__in=listed)
            .order_by("display_name", "clever_id")[:SIGN_IN_PER_ROLE]
        ):
            people.append(SignInPerson(user, role_words(user)))
            listed.add(user.clever_id)
    return people


def library_teachers() -> tuple[list[SignInPerson], int]:
    """Clever Library teachers (of districts that share no data with the app: each teacher
    signs up alone), the first few by name, and how many there are in all."""
    teachers = SandboxRecord.objects.filter(
        record_type=RecordType.USERS,
        is_teacher=True,
        district__sharing=Sharing.LIBRARY,
        district__connected=True,
    )
    shown = teachers.order_by("display_name", "clever_id")[:LIBRARY_TEACHERS_SHOWN]
    return [SignInPerson(user, role_words(user)) for user in shown], teachers.count()


def named_records(district: SandboxDistrict, record_type: str, limit: int) -> list[tuple[str, str]]:
    """The first ``limit`` schools or sections of a district (by Clever ID) as (ID, name)."""
    return [
        (clever_id, json.loads(body).get("name") or "(no name)")
        for clever_id, body in SandboxRecord.objects.filter(district=district, record_type=record_type)
        .order_by("clever_id")
        .values_list("clever_id", "body")[:limit]
    ]


@dataclass(frozen=True)
class LmsSubmission:
    """A student's submission in a district's LMS, in words (the control page's grade form)."""

    assignment_id: str
    user_id: str
    title: str
    section: str
    student: str
    grade_points: float
    grade: str

    @property
    def key(self) -> str:
        return f"{self.assignment_id}:{self.user_id}"

    @property
    def assignment(self) -> str:
        return f"{self.title} ({self.section})"

    @property
    def grade_text(self) -> str:
        parts = [f"{self.grade_points:g} points"] if self.grade_points else []
        parts += [self.grade] if self.grade else []
        return ", ".join(parts) or "no grade yet"


def lms_submissions(district: SandboxDistrict) -> list[LmsSubmission]:
    """Every submission in the district's LMS, by assignment (oldest first), then student name."""
    assignments = list(SandboxLmsAssignment.objects.filter(district=district).order_by("created", "id"))
    sections = _section_names({a.section_id for a in assignments})
    by_id = {a.id: a for a in assignments}
    rows = list(
        SandboxLmsSubmission.objects.filter(assignment__in=assignments).values_list(
            "assignment_id", "user_id", "data"
        )
    )
    students = dict(
        SandboxRecord.objects.filter(clever_id__in={user_id for _, user_id, _ in rows}).values_list(
            "clever_id", "display_name"
        )
    )
    order = {assignment.id: index for index, assignment in enumerate(assignments)}
    rows.sort(key=lambda row: (order[row[0]], students.get(row[1], "").casefold(), row[1]))
    return [
        LmsSubmission(
            assignment_id=str(assignment_id),
            user_id=user_id,
            title=by_id[assignment_id].data.get("title") or "Untitled",
            section=sections.get(by_id[assignment_id].section_id, "a section"),
            student=students.get(user_id) or "A student no longer in the roster",
            grade_points=float(data.get("grade_points") or 0),
            grade=data.get("grade") or "",
        )
        for assignment_id, user_id, data in rows
    ]


# --- who is asking ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Viewer:
    """What a bearer token stands for."""

    district_id: str
    kind: str
    user_id: str = ""
    authorized_by: str = "district"

    @property
    def is_district(self) -> bool:
        return self.kind == TokenKind.DISTRICT


def viewer_for(token: SandboxToken) -> Viewer:
    library = token.kind == TokenKind.TEACHER or token.district.sharing == Sharing.LIBRARY
    return Viewer(
        district_id=token.district_id,
        kind=token.kind,
        user_id=token.user_id,
        authorized_by="teacher" if library else "district",
    )


def may_list(viewer: Viewer, collection: str, relation: str = "") -> bool:
    """Whether this kind of token may read a list endpoint at all."""
    if viewer.is_district:
        return True
    if viewer.kind == TokenKind.TEACHER:
        return (collection, relation) in _TEACHER_LISTS
    return False


def may_follow_single_relations(viewer: Viewer) -> bool:
    """``/sections/{id}/school``, ``/users/{id}/district``...: district tokens only."""
    return viewer.is_district


def _teacher_section_ids(user_id: str) -> QuerySet:
    return SandboxEdge.objects.filter(rel="teachers", dst_id=user_id).values("src_id")


def _teacher_student_ids(user_id: str) -> QuerySet:
    return SandboxEdge.objects.filter(rel="students", src_id__in=_teacher_section_ids(user_id)).values(
        "dst_id"
    )


def visible(viewer: Viewer, record_type: str, qs: QuerySet) -> QuerySet:
    """Cut a queryset of ``record_type`` records down to what the token may see."""
    if viewer.is_district:
        return qs
    if viewer.kind == TokenKind.TEACHER:
        if record_type == RecordType.USERS:
            return qs.filter(
                Q(clever_id=viewer.user_id) | Q(clever_id__in=_teacher_student_ids(viewer.user_id))
            )
        if record_type == RecordType.SECTIONS:
            return qs.filter(clever_id__in=_teacher_section_ids(viewer.user_id))
        return qs.none()
    # An SSO token: the user and their schools.
    if record_type == RecordType.USERS:
        return qs.filter(clever_id=viewer.user_id)
    if record_type == RecordType.SCHOOLS:
        return qs.filter(
            clever_id__in=SandboxEdge.objects.filter(src_id=viewer.user_id, rel="schools").values("dst_id")
        )
    return qs.none()


# --- districts ----------------------------------------------------------------------------------


def district_text(district: SandboxDistrict, *, v30: bool) -> str:
    """The district object as stored text of the requested API version."""
    body = district_body(district)
    return rec.dumps(rec.to_v30("districts", body) if v30 else body)


def district_rows(district: SandboxDistrict, *, v30: bool) -> list[tuple[str, bytes]]:
    """``/districts`` as (id, body bytes) rows: in practice just the token's district (Clever's
    Swagger says so)."""
    return [(district.id, district_text(district, v30=v30).encode())]


def district_visible(viewer: Viewer, district_id: str) -> bool:
    return district_id == viewer.district_id


# --- records ------------------------------------------------------------------------------------


def body_field(*, v30: bool) -> str:
    return "body_v30" if v30 else "body"


def records(viewer: Viewer, record_type: str) -> QuerySet:
    """Every record of one type the token may see (resources: the sandbox has none)."""
    if record_type not in RecordType.values:
        return SandboxRecord.objects.none()
    qs = SandboxRecord.objects.filter(district_id=viewer.district_id, record_type=record_type)
    return visible(viewer, record_type, qs)


def record_text(viewer: Viewer, record_type: str, clever_id: str, *, v30: bool) -> str | None:
    """The stored body of one visible record, or None (404)."""
    return (
        records(viewer, record_type)
        .filter(clever_id=clever_id)
        .values_list(body_field(v30=v30), flat=True)
        .first()
    )


def record_exists(viewer: Viewer, record_type: str, clever_id: str) -> bool:
    return records(viewer, record_type).filter(clever_id=clever_id).exists()


def with_role(qs: QuerySet, role: str | None) -> QuerySet:
    return qs.filter(**{ROLE_FLAGS[role]: True}) if role else qs


def _edges(**lookups) -> QuerySet:
    return SandboxEdge.objects.filter(**lookups)


def _sections_of_school(school_id: str) -> QuerySet:
    return _edges(rel="school", dst_id=school_id).values("src_id")


def _school_related(school_id: str, relation: str, role: str | None):
    if relation == "users":
        return "users", Q(clever_id__in=_edges(rel="schools", dst_id=school_id).values("src_id"))
    if relation == "sections":
        return "sections", Q(clever_id__in=_sections_of_school(school_id))
    if relation in ("terms", "courses"):
        rel = relation[:-1]  # term / course
        sections = _sections_of_school(school_id)
        return relation, Q(clever_id__in=_edges(rel=rel, src_id__in=sections).values("dst_id"))
    return None


def _user_related(user_id: str, relation: str, role: str | None):
    if relation == "sections":
        return "sections", Q(
            clever_id__in=_edges(rel__in=("students", "teachers"), dst_id=user_id).values("src_id")
        )
    if relation == "schools":
        return "schools", Q(clever_id__in=_edges(rel="schools", src_id=user_id).values("dst_id"))
    if relation == "mystudents":
        # A teacher's students (of their sections) and a contact's students.
        taught = _edges(rel="students", src_id__in=_teacher_section_ids(user_id))
        return "users", Q(is_student=True) & (
            Q(clever_id__in=taught.values("dst_id"))
            | Q(clever_id__in=_edges(rel="students", src_id=user_id).values("dst_id"))
        )
    if relation == "myteachers":
        enrolled = _edges(rel="students", dst_id=user_id).values("src_id")
        return "users", Q(is_teacher=True) & Q(
            clever_id__in=_edges(rel="teachers", src_id__in=enrolled).values("dst_id")
        )
    if relation == "mycontacts":
        return "users", Q(is_contact=True) & Q(
            clever_id__in=_edges(rel="students", dst_id=user_id).values("src_id")
        )
    return None


def _section_related(section_id: str, relation: str, role: str | None):
    if relation != "users":
        return None
    rels = {"student": ("students",), "teacher": ("teachers",)}.get(role or "", ("students", "teachers"))
    return "users", Q(clever_id__in=_edges(src_id=section_id, rel__in=rels).values("dst_id"))


def _through_sections(rel: str):
    """The related lists of a term (``rel`` "term") or a course ("course"): its sections, and
    the schools of its sections."""

    def related(parent_id: str, relation: str, role: str | None):
        sections = _edges(rel=rel, dst_id=parent_id).values("src_id")
        if relation == "sections":
            return "sections", Q(clever_id__in=sections)
        if relation == "schools":
            return "schools", Q(clever_id__in=_edges(rel="school", src_id__in=sections).values("dst_id"))
        return None

    return related


_RELATED_BY_PARENT_TYPE = {
    "schools": _school_related,
    "users": _user_related,
    "sections": _section_related,
    "terms": _through_sections("term"),
    "courses": _through_sections("course"),
}


def _related_ids(parent_type: str, parent_id: str, relation: str, role: str | None):
    """(child record type, Q over SandboxRecord) for a nested list, or None if unknown.

    Relations come from SandboxEdge: section --students/teachers--> user,
    section --school/term/course--> record, user --schools--> school,
    contact --students--> student. A school's terms and courses are those of its sections.
    """
    if relation == "resources" and parent_type in ("users", "sections", "courses"):
        return "resources", Q(pk__in=[])
    related = _RELATED_BY_PARENT_TYPE.get(parent_type)
    return related(parent_id, relation, role) if related else None


def related_records(
    viewer: Viewer, parent_type: str, parent_id: str, relation: str, role: str | None = None
) -> tuple[str, QuerySet] | None:
    """A nested list: (child record type, visible records), or None (404).

    None when the endpoint does not exist, the token may not read it, or the parent record is
    not one the token sees.
    """
    found = _related_ids(parent_type, parent_id, relation, role)
    if found is None or not may_list(viewer, parent_type, relation):
        return None
    if not record_exists(viewer, parent_type, parent_id):
        return None
    child_type, condition = found
    qs = records(viewer, child_type)
    if child_type == "resources":
        return child_type, qs
    if not (parent_type == "sections" and relation == "users"):
        qs = with_role(qs, role)
    return child_type, qs.filter(condition)


# Single records reached from another one: /sections/{id}/school, /schools/{id}/district...
SINGLE_RELATIONS = {
    ("sections", "school"): "schools",
    ("sections", "term"): "terms",
    ("sections", "course"): "courses",
}
DISTRICT_PARENTS = {"schools", "users", "sections", "terms", "courses"}


def related_record_text(
    viewer: Viewer, parent_type: str, parent_id: str, relation: str, *, v30: bool
) -> tuple[str, str] | None:
    """(record type, body text) of a single related record, or None (404)."""
    if not may_follow_single_relations(viewer):
        return None
    if relation == "district":
        if parent_type not in DISTRICT_PARENTS or not record_exists(viewer, parent_type, parent_id):
            return None
        district = SandboxDistrict.objects.get(id=viewer.district_id)
        return "districts", district_text(district, v30=v30)
    target_type = SINGLE_RELATIONS.get((parent_type, relation))
    if target_type is None or not record_exists(viewer, parent_type, parent_id):
        return None
    target_id = _edges(src_id=parent_id, rel=relation).order_by("id").values_list("dst_id", flat=True).first()
    if target_id is None:
        return None
    text = record_text(viewer, target_type, target_id, v30=v30)
    return None if text is None else (target_type, text)


# --- pages --------------------------------------------------------------------------------------


@dataclass
class Page:
    """One page in ascending id order: ``rows`` are tuples whose first item is the id."""

    rows: list[tuple]
    has_next: bool
    has_prev: bool


def page(
    qs: QuerySet,
    *,
    fields: tuple[str, ...],
    limit: int,
    starting_after: str | None = None,
    ending_before: str | None = None,
) -> Page:
    """Range paging over ascending ids, as Clever's lists do.

    ``fields[0]`` is the id field. ``ending_before`` returns the ``limit`` rows just before
    the id (``LAST``: the last ``limit`` rows), still in ascending order. ``has_prev`` and
    ``has_next`` tell whether rows precede the first or follow the last row of the page; an
    empty page has neither.
    """
    key = fields[0]
    bounded = qs
    if starting_after:
        bounded = bounded.filter(**{f"{key}__gt": starting_after})
    if ending_before and ending_before != LAST:
        bounded = bounded.filter(**{f"{key}__lt": ending_before})
    if ending_before and not starting_after:
        rows = list(bounded.order_by(f"-{key}").values_list(*fields)[: limit + 1])
        more_before = len(rows) > limit
        rows = rows[:limit]
        rows.reverse()
        has_next = bool(rows) and qs.filter(**{f"{key}__gt": rows[-1][0]}).exists()
        return Page(rows=rows, has_next=has_next, has_prev=more_before)
    rows = list(bounded.order_by(key).values_list(*fields)[: limit + 1])
    has_next = len(rows) > limit
    rows = rows[:limit]
    has_prev = bool(rows) and starting_after is not None and qs.filter(**{f"{key}__lt": rows[0][0]}).exists()
    return Page(rows=rows, has_next=has_next, has_prev=has_prev)


def page_of_rows(
    rows: list[tuple],
    *,
    limit: int,
    starting_after: str | None = None,
    ending_before: str | None = None,
) -> Page:
    """``page`` over a small in-memory list (the districts list), same semantics."""
    ordered = sorted(rows, key=lambda row: row[0])
    bounded = [
        row
        for row in ordered
        if (not starting_after or row[0] > starting_after)
        and (not ending_before or ending_before == LAST or row[0] < ending_before)
    ]
    if ending_before and not starting_after:
        chosen = bounded[-limit:]
        has_prev = len(bounded) > limit
        has_next = bool(chosen) and ordered[-1][0] > chosen[-1][0]
        return Page(rows=chosen, has_next=has_next, has_prev=has_prev)
    chosen = bounded[:limit]
    has_prev = bool(chosen) and starting_after is not None and ordered[0][0] < chosen[0][0]
    return Page(rows=chosen, has_next=len(bounded) > limit, has_prev=has_prev)


class StoredBytes(Func):
    """A stored JSON body read as its UTF-8 bytes: no decode on the way out of the database and
    no encode on the way into the response (SQLite: a BLOB cast; PostgreSQL: ``convert_to``).
    Other databases answer text, which ``record_page`` encodes."""

    output_field = BinaryField()
    template = "%(expressions)s"

    def as_sqlite(self, compiler, connection, **extra):
        return self.as_sql(compiler, connection, template="CAST(%(expressions)s AS BLOB)", **extra)

    def as_postgresql(self, compiler, connection, **extra):
        return self.as_sql(compiler, connection, template="convert_to(%(expressions)s, 'UTF8')", **extra)


def record_page(
    qs: QuerySet,
    *,
    v30: bool,
    limit: int,
    starting_after: str | None = None,
    ending_before: str | None = None,
) -> Page:
    """A page of records as ``(clever_id, body bytes)`` rows, bodies exactly as stored."""
    result = page(
        qs.annotate(stored=StoredBytes(body_field(v30=v30))),
        fields=("clever_id", "stored"),
        limit=limit,
        starting_after=starting_after,
        ending_before=ending_before,
    )
    if result.rows and not isinstance(result.rows[0][1], bytes):
        result.rows = [
            (cid, body.encode() if isinstance(body, str) else bytes(body)) for cid, body in result.rows
        ]
    return result


# --- events -------------------------------------------------------------------------------------


def event_cutoff(now: float | None = None) -> datetime:
    """Events created before this moment are gone (30-day retention, on the sandbox clock)."""
    moment = KNOBS.clock() if now is None else now
    return datetime.fromtimestamp(moment, tz=UTC) - EVENT_RETENTION


def served_events(viewer: Viewer, now: float | None = None) -> QuerySet:
    """The events a district token can still read: its district's, within retention."""
    if not viewer.is_district:
        return SandboxEvent.objects.none()
    return SandboxEvent.objects.filter(district_id=viewer.district_id, created__gte=event_cutoff(now))


def events_enabled(viewer: Viewer) -> bool:
    return SandboxDistrict.objects.filter(id=viewer.district_id, events_enabled=True).exists()


def filtered_events(
    viewer: Viewer, *, record_types: list[str] | None = None, school: str | None = None
) -> QuerySet:
    qs = served_events(viewer)
    if record_types:
        qs = qs.filter(record_type__in=record_types)
    if school:
        # ``schools`` holds space-separated 24-character ids, so a substring match is exact.
        qs = qs.filter(schools__contains=school)
    return qs


def event_is_served(viewer: Viewer, event_id: str) -> bool:
    return served_events(viewer).filter(id=event_id).exists()


def event_fields(*, v30: bool) -> tuple[str, ...]:
    return ("id", "created", "type", body_field(v30=v30))


def event_row(viewer: Viewer, event_id: str, *, v30: bool) -> tuple | None:
    return served_events(viewer).filter(id=event_id).values_list(*event_fields(v30=v30)).first()
