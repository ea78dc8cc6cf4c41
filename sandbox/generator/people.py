"""One person's details, drawn the same way for a planned district and for one new student:
middle names, dates of birth for a grade, graduation years, street addresses, the diagnosed
disability, a student's ``ext`` fields; and ``student_record``, the realistic new student that
``sandbox.roster`` enrols after a district is loaded (same name tables and value mixes as the
plan).
"""

import random
from datetime import date, timedelta

from .tables import (
    BIRTH_COUNTRIES,
    DISABILITIES,
    FIRST_NAMES,
    FRL_STATUSES,
    GIFTED_STATUSES,
    GRADE_NUMBER,
    HISPANIC_ETHNICITIES,
    HOME_LANGUAGES,
    IEP_STATUSES,
    LAST_NAMES,
    RACES,
    RATES,
    SECTION_504_STATUSES,
    STREET_SUFFIXES,
    YOUNG_GRADES,
    pick,
    slug,
)


def middle_name(rng: random.Random, sex: str) -> str:
    """An initial, a full name, or none."""
    roll = rng.random()
    if roll < 0.45:
        return pick(rng, FIRST_NAMES[sex])[0]
    if roll < 0.75:
        return pick(rng, FIRST_NAMES[sex])
    return ""


def birth_date(rng: random.Random, school_year: int, age_offset: int) -> date:
    """A date of birth in the cohort ``age_offset`` years older than first graders'."""
    return date(school_year - 6 - age_offset, 9, 2) + timedelta(days=rng.randrange(365))


def clever_dob(dob: date) -> str:
    """Clever's M/D/YYYY."""
    return f"{dob.month}/{dob.day}/{dob.year}"


def graduation_year(school_year: int, grade_number: int) -> str:
    return str(school_year + 1 + 12 - max(grade_number, 0) + (1 if grade_number < 0 else 0))


def street_address(rng: random.Random, lowest_number: int = 1) -> str:
    return f"{rng.randrange(lowest_number, 9999)} {pick(rng, LAST_NAMES)} {rng.choice(STREET_SUFFIXES)}"


def diagnosed_disability(rng: random.Random) -> dict:
    """The ``disability`` of a student with an IEP."""
    code, kind = rng.choice(DISABILITIES)
    return {"disability_code": code, "disability_status": "Y", "disability_type": kind}


def student_ext(rng: random.Random) -> dict:
    return {
        "birth_country": pick(rng, BIRTH_COUNTRIES),
        "military_connected": "Y" if rng.random() < 0.04 else "N",
    }


# Long on purpose: mostly the record literal, whose fields draw from the seeded rng in this order.
def student_record(
    *,
    rng: random.Random,
    student_id: str,
    school: dict,
    grade: str,
    email_domain: str = "",
    today: date | None = None,
) -> dict:
    """A Clever v3.1 student who just enrolled at ``school`` (its record) in ``grade``: a Faker
    name (census weights), date of birth for the grade, address in the school's town, the
    demographic and program fields in the plan's proportions, an email at ``email_domain``
    (none for most PreK-2 students, as in the plan, and none without a domain).

    ``district`` and the timestamps are left to ``sandbox.services``, which stamps them.
    """
    today = today or date.today()
    school_year = today.year if today.month >= 7 else today.year - 1
    sex = rng.choice("MF")
    first, last = pick(rng, FIRST_NAMES[sex]), pick(rng, LAST_NAMES)
    middle = middle_name(rng, sex)
    number = GRADE_NUMBER.get(grade)
    dob = birth_date(rng, school_year, rng.randrange(9, 15) if number is None else number)
    sis_id = str(900_000_000 + int(student_id[-6:], 16))
    town = school.get("location") or {}
    language, language_code = pick(rng, HOME_LANGUAGES)
    iep = pick(rng, IEP_STATUSES)
    disability = diagnosed_disability(rng) if iep == "Y" else {"disability_status": "N"}
    role = {
        "credentials": {"district_username": f"{slug(first)}{slug(last)[:1]}{sis_id[-3:]}"},
        "dob": clever_dob(dob),
        "enrollments": [],
        "gender": sex,
        "grade": grade,
        "graduation_year": "" if number is None else graduation_year(school_year, number),
        "hispanic_ethnicity": pick(rng, HISPANIC_ETHNICITIES),
        "location": {
            "address": street_address(rng),
            "city": town.get("city", ""),
            "state": town.get("state", ""),
            "zip": town.get("zip", ""),
        },
        "race": pick(rng, RACES),
        "school": school["id"],
        "schools": [school["id"]],
        "sis_id": sis_id,
        "state_id": str(1_000_000_000 + int(student_id[-8:], 16) % 9_000_000_000),
        "student_number": sis_id,
        "ell_status": ("Y" if rng.random() < 0.6 else "N") if language != "English" else "N",
        "frl_status": pick(rng, FRL_STATUSES),
        "iep_status": iep,
        "home_language": language,
        "home_language_code": language_code,
        "gifted_status": pick(rng, GIFTED_STATUSES),
        "section_504_status": pick(rng, SECTION_504_STATUSES),
        "disability": disability,
        "ext": student_ext(rng),
    }
    body: dict = {"id": student_id}
    if email_domain and not (grade in YOUNG_GRADES and rng.random() < RATES["young_no_email"]):
        body["email"] = f"{slug(first)}.{slug(last)}{sis_id[-3:]}@{email_domain}"
    body["name"] = {"first": first, "middle": middle, "last": last}
    body["roles"] = {"student": role}
    body["lms_status"] = {"synced_in_lms": False}
    return body
