"""Generated districts: ``generate_district`` plans one, ``load_district`` writes it to the
sandbox, ``district_counts`` counts what a loaded district holds.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from django.db import transaction
from django.db.models import Count, Q

from .. import services
from ..models import LmsType, RecordType, SandboxDistrict, SandboxEdge, SandboxRecord, Sharing
from .plan import Plan
from .render import render
from .tables import STATES

MIN_STUDENTS = 1
MAX_STUDENTS = 1_000_000


@dataclass
class GeneratedDistrict:
    """A planned district; ``records()`` renders its Clever v3.1 bodies one by one."""

    id: str
    name: str
    state: str
    seed: int
    messiness: float
    lms_type: str
    data: dict
    counts: dict
    _plan: Plan = field(repr=False)

    def records(self, record_type: str | None = None) -> Iterator[tuple[str, dict]]:
        """(record_type, body) pairs in load order: schools, terms, courses, users, sections."""
        return render(self._plan, record_type)

    def _list(self, record_type: str) -> list[dict]:
        return [body for _, body in self.records(record_type)]

    # Each of these renders afresh (nothing is cached): use ``records()`` to stream.
    @property
    def schools(self) -> list[dict]:
        return self._list(RecordType.SCHOOLS)

    @property
    def terms(self) -> list[dict]:
        return self._list(RecordType.TERMS)

    @property
    def courses(self) -> list[dict]:
        return self._list(RecordType.COURSES)

    @property
    def users(self) -> list[dict]:
        return self._list(RecordType.USERS)

    @property
    def sections(self) -> list[dict]:
        return self._list(RecordType.SECTIONS)


def generate_district(
    *,
    seed: int,
    students: int,
    name: str | None = None,
    state: str | None = None,
    messiness: float = 1.0,
    single_school: bool = False,
    with_nces: bool | None = None,
    with_mdr: bool | None = None,
    lms_type: str = "",
    school_year: int = 2025,
    sensitive_fields: bool = True,
) -> GeneratedDistrict:
    """Plan a district of ``students`` students (1 to 1,000,000; meant for 500 and up).

    ``name``/``state`` fix the district's name and US state (two districts may share a name in
    different states); ``with_nces``/``with_mdr`` force the identifiers on or off (None: the
    seed decides); ``lms_type`` sets how many records say ``synced_in_lms``.
    """
    if not MIN_STUDENTS <= students <= MAX_STUDENTS:
        raise ValueError(f"students must be between {MIN_STUDENTS} and {MAX_STUDENTS}")
    if messiness < 0:
        raise ValueError("messiness must be 0 or more")
    if state is not None and state not in STATES:
        raise ValueError(f"unknown state {state!r}; one of {', '.join(sorted(STATES))}")
    if lms_type not in LmsType.values:
        raise ValueError(f"unknown lms_type {lms_type!r}")
    plan = Plan(
        seed=seed,
        students=students,
        name=name,
        state=state,
        messiness=messiness,
        single_school=single_school,
        with_nces=with_nces,
        with_mdr=with_mdr,
        lms_type=lms_type,
        school_year=school_year,
        sensitive_fields=sensitive_fields,
    )
    return GeneratedDistrict(
        id=plan.district_id,
        name=plan.name,
        state=plan.state,
        seed=seed,
        messiness=messiness,
        lms_type=lms_type,
        data=plan.district_data(),
        counts=plan.counts(),
        _plan=plan,
    )


# --- loading -----------------------------------------------------------------------------------


class DistrictExists(Exception):
    """The generated district's ID is already in the sandbox (same seed loaded before)."""


@transaction.atomic
def load_district(
    generated: GeneratedDistrict,
    *,
    sharing: str = Sharing.DISTRICT,
    events_enabled: bool = True,
    lms_state: str | None = None,
) -> SandboxDistrict:
    """Write a generated district to the sandbox: ``create_district`` then ``bulk_load``."""
    if SandboxDistrict.objects.filter(id=generated.id).exists():
        raise DistrictExists(generated.id)
    district = services.create_district(
        name=generated.name,
        district_id=generated.id,
        data=generated.data,
        sharing=sharing,
        events_enabled=events_enabled,
        lms_type=generated.lms_type,
        lms_state=lms_state,
    )
    services.bulk_load(district=district, items=generated.records())
    return district


def district_counts(district: SandboxDistrict) -> dict:
    """What a loaded district holds, counted in the database (roles counted per role)."""
    by_type = dict(
        SandboxRecord.objects.filter(district=district)
        .values_list("record_type")
        .annotate(n=Count("pk"))
        .order_by()
    )
    roles = SandboxRecord.objects.filter(district=district, record_type=RecordType.USERS).aggregate(
        students=Count("pk", filter=Q(is_student=True)),
        teachers=Count("pk", filter=Q(is_teacher=True)),
        staff=Count("pk", filter=Q(is_staff=True)),
        district_admins=Count("pk", filter=Q(is_district_admin=True)),
        contacts=Count("pk", filter=Q(is_contact=True)),
    )
    sections = SandboxRecord.objects.filter(district=district, record_type=RecordType.SECTIONS)
    enrollments = SandboxEdge.objects.filter(
        district=district, rel="students", src_id__in=sections.values("clever_id")
    ).count()
    return {
        "schools": by_type.get(RecordType.SCHOOLS, 0),
        "terms": by_type.get(RecordType.TERMS, 0),
        "courses": by_type.get(RecordType.COURSES, 0),
        "sections": by_type.get(RecordType.SECTIONS, 0),
        "users": by_type.get(RecordType.USERS, 0),
        **roles,
        "enrollments": enrollments,
    }
