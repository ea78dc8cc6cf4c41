"""``seed_sandbox``: what ``manage.py sandbox_seed`` does (generated districts, Clever's recorded
demo district, a Clever Library district, a course made in each Canvas or Schoology district's
LMS) and the report it prints.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from django.conf import settings

from .. import demo as demo_module
from .. import services
from ..models import LmsType, SandboxDistrict, Sharing
from .districts import DistrictExists, GeneratedDistrict, district_counts, generate_district, load_district
from .tables import STATES, derive_seed

LMS_MIX = (LmsType.CANVAS, LmsType.SCHOOLOGY, LmsType.GOOGLE_CLASSROOM, LmsType.NONE)


@dataclass(frozen=True)
class _Job:
    """One district to generate and load."""

    seed: int
    lms_type: str
    sharing: str
    events: bool
    with_nces: bool | None
    with_mdr: bool | None
    same_name_as_first: bool = False  # the first district's name, in another state


def seed_sandbox(
    *,
    districts: int = 1,
    students: int = 2_000,
    seed: int = 1,
    messiness: float = 1.0,
    demo: bool = False,
    library: bool = False,
    lms: str | None = None,
    events: bool = True,
    same_name_other_state: bool = False,
    single_school: bool = False,
    reset: bool = False,
) -> dict:
    """What ``manage.py sandbox_seed`` does; returns the report it prints.

    District ``i`` of ``districts`` uses ``seed`` itself for i=0 and a sub-seed of it after, so a
    district can be regenerated alone. Without ``lms`` the districts cycle through Canvas,
    Schoology, Google Classroom and none. NCES/MDR identifiers vary across districts (the
    first has both, the second neither, then the seed decides). ``library`` adds one Clever
    Library (teacher-authorized) district; ``same_name_other_state`` adds a district with the
    first one's name in another state. A district already in the sandbox (same seed) is not
    loaded again: it is reported with ``"status": "existing"``. Every Canvas or Schoology
    district without a course made in its LMS gets one (``demo.seed_lms_courses``).
    """
    started = time.monotonic()
    if reset:
        services.reset_sandbox()
    report: list[dict] = []
    if demo:
        district, created = demo_module.load_demo()
        report.append(_report_entry(district, created=created, source="demo", seconds=None))
    jobs = _jobs(
        districts=districts,
        seed=seed,
        lms=lms,
        events=events,
        same_name_other_state=same_name_other_state,
        library=library,
    )
    first: GeneratedDistrict | None = None
    for job in jobs:
        generated, entry = _seed_one(
            job, first=first, seed=seed, students=students, messiness=messiness, single_school=single_school
        )
        if first is None and not job.same_name_as_first and job.sharing == Sharing.DISTRICT:
            first = generated
        report.append(entry)
    demo_module.seed_lms_courses()
    return {
        "districts": report,
        "reset": reset,
        "seconds": round(time.monotonic() - started, 2),
        **_how_to_connect(),
    }


def _how_to_connect() -> dict:
    """The report's sandbox application credentials and where to sign in."""
    app = services.get_application()
    base_url = settings.APP_BASE_URL
    return {
        "application": {
            "client_id": app.client_id,
            "client_secret": app.client_secret,
            "redirect_uris": list(app.redirect_uris),
        },
        "login": {
            "control": f"{base_url}/sandbox/",
            "portal": f"{base_url}/sandbox/portal/",
            "oauth_base": getattr(settings, "CLEVER_OAUTH_BASE", ""),
            "api_base": getattr(settings, "CLEVER_API_BASE", ""),
        },
    }


def _jobs(
    *, districts: int, seed: int, lms: str | None, events: bool, same_name_other_state: bool, library: bool
) -> list[_Job]:
    jobs = [
        _Job(
            seed=seed if i == 0 else derive_seed(seed, f"district-{i}"),
            lms_type=lms if lms is not None else LMS_MIX[i % len(LMS_MIX)],
            sharing=Sharing.DISTRICT,
            events=events,
            with_nces=(True, False)[i] if i < 2 else None,
            with_mdr=(True, False)[i] if i < 2 else None,
        )
        for i in range(districts)
    ]
    if same_name_other_state:
        jobs.append(
            _Job(
                seed=derive_seed(seed, "same-name"),
                lms_type=lms or "",
                sharing=Sharing.DISTRICT,
                events=events,
                with_nces=True,
                with_mdr=None,
                same_name_as_first=True,
            )
        )
    if library:
        jobs.append(
            _Job(
                seed=derive_seed(seed, "library"),
                lms_type="",
                sharing=Sharing.LIBRARY,
                events=False,
                with_nces=None,
                with_mdr=None,
            )
        )
    return jobs


def _seed_one(
    job: _Job,
    *,
    first: GeneratedDistrict | None,
    seed: int,
    students: int,
    messiness: float,
    single_school: bool,
) -> tuple[GeneratedDistrict, dict]:
    """Generate and load one district (unless it is already there); its report entry."""
    started = time.monotonic()
    name = state = None
    if job.same_name_as_first:
        base = first or generate_district(seed=seed, students=min(students, 500), messiness=messiness)
        name = base.name
        state = next(s for s in sorted(STATES, key=lambda s: derive_seed(job.seed, s)) if s != base.state)
    generated = generate_district(
        seed=job.seed,
        students=students,
        name=name,
        state=state,
        messiness=messiness,
        single_school=single_school,
        with_nces=job.with_nces,
        with_mdr=job.with_mdr,
        lms_type=job.lms_type,
    )
    try:
        district = load_district(generated, sharing=job.sharing, events_enabled=job.events)
        created = True
    except DistrictExists:
        district = SandboxDistrict.objects.get(id=generated.id)
        created = False
    entry = _report_entry(
        district, created=created, source="generated", seconds=round(time.monotonic() - started, 2)
    )
    entry.update(seed=job.seed, us_state=generated.state, messiness=messiness)
    return generated, entry


def _report_entry(district: SandboxDistrict, *, created: bool, source: str, seconds) -> dict:
    token = services.district_token(district)
    return {
        "id": district.id,
        "name": district.name,
        "source": source,
        "status": "created" if created else "existing",
        "sharing": district.sharing,
        "lms_type": district.lms_type,
        "events_enabled": district.events_enabled,
        "nces_id": district.data.get("nces_id", ""),
        "mdr_number": district.data.get("mdr_number", ""),
        "district_token": token.access_token if token else None,
        "counts": district_counts(district),
        "seconds": seconds,
    }
