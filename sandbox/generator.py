"""Generated sandbox districts: sized, deterministic, and as messy as real districts are.

``generate_district(seed=..., students=...)`` plans a district (schools, two semester terms,
courses, sections, students, teachers, staff, district admins, contacts) and returns a
``GeneratedDistrict``. Its records are Clever v3.1 bodies (every field is one the v3.1 Swagger
defines), with IDs from ``SeededIds`` that ascend in creation order: schools, terms, courses,
users (students, then adults, then contacts), sections. The same seed and options give the same
records, byte for byte, in any process (nothing depends on set order or the clock).

The plan is compact (small slotted objects, integer indices); the Clever dicts are rendered one
at a time when ``records()`` is iterated, so ``load_district`` streams them into
``services.bulk_load`` without holding 100,000 nested dicts in memory.

Messiness scales the rate of each kind of real-district mess (``RATES`` holds the rates at
``messiness=1``; 0 gives a clean district, 2 doubles every rate, capped at 1):

- surnames: common ones (Smith, Johnson, Garcia, Nguyen...) over-represented, apostrophes
  (O'Brien), hyphens (Smith-Jones), spaces (De La Cruz), non-ASCII letters (Nguyễn, José, Zoë);
- twins (same last name, date of birth, grade and school), siblings sharing contacts;
- nicknames: the SIS first name is "William", the email or ``preferred_name`` says "Bill";
- young students (PreK-2) mostly without email; some emails without "@", odd case, spaces;
- multi-role adults: one district admin who is also a teacher and staff, teachers who are also
  staff, a district admin who is also staff; a parent (contact) who is also a teacher;
- students in two schools (with ``enrollments``), itinerant teachers, co-taught sections
  (``teacher`` is the primary, ``teachers[0]``), a section without a teacher, students without
  sections, held-back students, missing dob / state_id, term dates in another format;
- ``legacy_id`` on some roles; contacts whose whole name is in ``name.last`` (as in Clever's own
  demo district).

Students carry what Clever sends about children: date of birth, gender, race, Hispanic
ethnicity, home address (``location``), district-defined ``ext`` fields (birth country, a
military-connected family) on most, and with ``sensitive_fields`` the v3.1 program fields (IEP,
504, disability, ELL, lunch status, gifted, home language); contacts a phone number.

District records come with or without ``nces_id`` (7-digit NCES LEAID whose first two digits
are the state's FIPS code) and ``mdr_number``. Clever's district object has no US state field:
the state shows in the NCES id, the schools' ``location.state`` and NCES ids, so the same
``name`` may be generated in two states.

Roster changes after a district is loaded live in ``sandbox.roster``; ``student_record`` here
makes the realistic new students it enrols (same name tables and value mixes as the plan).
"""

from __future__ import annotations

import hashlib
import random
import time
import unicodedata
from bisect import bisect_right
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from itertools import accumulate

from django.conf import settings
from django.db import transaction
from django.db.models import Count, Q
from faker.providers.address.en_US import Provider as _FakerAddress
from faker.providers.person.en_US import Provider as _FakerPerson

from . import demo as demo_module
from . import services
from .ids import SeededIds
from .models import (
    LmsType,
    RecordType,
    SandboxDistrict,
    SandboxEdge,
    SandboxRecord,
    Sharing,
)

MIN_STUDENTS = 1
MAX_STUDENTS = 200_000
STUDENTS_PER_SCHOOL = 600
STUDENTS_PER_TEACHER = 24
STUDENTS_PER_SECTION = 25
SECTIONS_PER_STUDENT = 5

# The rate of each kind of mess at messiness=1.0.
RATES = {
    "common_surname": 0.10,  # drawn from COMMON_SURNAMES on top of Faker's census weights
    "apostrophe": 0.015,
    "hyphen": 0.03,
    "spaced_surname": 0.01,
    "non_ascii": 0.04,
    "nickname": 0.25,  # of people whose first name has a common nickname
    "twins": 0.02,  # of families
    "young_no_email": 0.85,  # of PreK-2 students
    "older_no_email": 0.03,
    "no_at_email": 0.005,
    "odd_email": 0.02,  # mixed case or stray whitespace
    "multi_school": 0.03,  # of students, when there are 2+ schools
    "co_taught": 0.10,  # of sections
    "no_teacher_section": 0.005,
    "no_sections": 0.01,  # of students (just enrolled)
    "teacher_staff": 0.03,  # of teachers
    "itinerant_teacher": 0.03,  # of teachers, when there are 2+ schools
    "parent_is_teacher": 0.01,  # of teachers
    "contact_full_name_in_last": 0.10,
    "missing_dob": 0.005,
    "missing_state_id": 0.02,
    "blank_graduation_year": 0.10,
    "held_back": 0.02,
    "ungraded": 0.002,
    "student_legacy_id": 0.10,
    "alt_term_date": 0.5,
    "odd_phone": 0.3,
}

GRADES_ELEMENTARY = ("PreKindergarten", "Kindergarten", "1", "2", "3", "4", "5")
GRADES_MIDDLE = ("6", "7", "8")
GRADES_HIGH = ("9", "10", "11", "12")
YOUNG_GRADES = frozenset({"PreKindergarten", "TransitionalKindergarten", "Kindergarten", "1", "2"})
_GRADE_NUMBER = {"PreKindergarten": -1, "TransitionalKindergarten": 0, "Kindergarten": 0}
_GRADE_NUMBER.update({str(n): n for n in range(1, 14)})

# State -> FIPS code (the first two digits of an NCES LEAID) and a district-name suffix.
STATES = {
    "AL": ("01", "City Schools"), "AZ": ("04", "Unified School District"),
    "AR": ("05", "School District"), "CA": ("06", "Unified School District"),
    "CO": ("08", "School District"), "CT": ("09", "Public Schools"),
    "FL": ("12", "County Schools"), "GA": ("13", "County Schools"),
    "IL": ("17", "Community Unit School District"), "IN": ("18", "Community Schools"),
    "IA": ("19", "Community School District"), "KS": ("20", "Unified School District"),
    "KY": ("21", "Independent Schools"), "MA": ("25", "Public Schools"),
    "MI": ("26", "Public Schools"), "MN": ("27", "Public Schools"),
    "MO": ("29", "R-XII School District"), "NJ": ("34", "Board of Education"),
    "NY": ("36", "Central School District"), "NC": ("37", "City Schools"),
    "OH": ("39", "City School District"), "OK": ("40", "Public Schools"),
    "OR": ("41", "School District"), "PA": ("42", "Area School District"),
    "TN": ("47", "City Schools"), "TX": ("48", "Independent School District"),
    "VA": ("51", "Public Schools"), "WA": ("53", "School District"),
    "WI": ("55", "School District"),
}
# Town names that exist in many states, so district names repeat across states as they do.
TOWNS = (
    "Springfield", "Franklin", "Greenville", "Clinton", "Madison", "Salem", "Fairview",
    "Georgetown", "Arlington", "Ashland", "Bristol", "Dover", "Jackson", "Lexington", "Milton",
    "Newport", "Oxford", "Riverside", "Marion", "Burlington", "Manchester", "Auburn", "Chester",
    "Hudson", "Kingston", "Monroe", "Mount Vernon", "Plymouth", "Troy", "Winchester",
)
SCHOOL_NAMES = (
    "Lincoln", "Washington", "Jefferson", "Roosevelt", "Kennedy", "Oak Grove", "Maple Hill",
    "Riverside", "Lakeview", "Cedar Ridge", "Pine Valley", "Sunnyside", "Hillcrest", "Westwood",
    "Eastside", "Northside", "Central", "Martin Luther King Jr.", "César Chávez", "Sacagawea",
    "Harriet Tubman", "Sally Ride", "Thurgood Marshall", "Roberto Clemente", "Frederick Douglass",
    "Amelia Earhart", "John Muir", "Rachel Carson", "Georgia O'Keeffe", "Willow Creek",
    "Meadowbrook", "Brookside", "Highland", "Valley View", "Prairie Ridge", "Stonebridge",
    "Rosa Parks", "Ellen Ochoa", "Sequoyah", "Dolores Huerta", "Mae Jemison", "Jackie Robinson",
)
LEVEL_SUFFIXES = {
    "elementary": ("Elementary School", "Elementary", "Primary School", "Academy"),
    "middle": ("Middle School", "Intermediate School", "Junior High School"),
    "high": ("High School", "Senior High School", "Early College High School"),
    "secondary": ("Junior/Senior High School", "Secondary School"),
    "k12": ("School", "K-12 Academy", "Community School"),
}

COMMON_SURNAMES = (
    "Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis", "Rodriguez",
    "Martinez", "Hernandez", "Lopez", "Nguyen", "Lee", "Kim", "Patel",
)
APOSTROPHE_SURNAMES = (
    "O'Brien", "O'Connor", "O'Neil", "O'Neill", "O'Malley", "O'Donnell", "D'Angelo", "D'Amico",
    "D'Souza", "O'Hara", "N'Diaye", "O'Reilly",
)
APOSTROPHE_FIRST = {
    "M": ("D'Andre", "De'Shawn", "Ja'Marcus"),
    "F": ("Ja'Nya", "La'Keisha", "D'Asia", "Ke'Ana"),
}
SPACED_SURNAMES = ("De La Cruz", "Van Der Berg", "St. John", "Del Rosario", "Mc Donald", "Da Silva")
NON_ASCII_SURNAMES = (
    "Nguyễn", "Trần", "Lê", "Phạm", "Đặng", "Võ", "Hernández", "Rodríguez", "González", "Pérez",
    "Sánchez", "Gómez", "Muñoz", "Núñez", "Peña", "Ibáñez", "Méndez", "Jiménez", "Chávez",
    "Müller", "Schröder", "Wiśniewski", "Dvořák", "Çelik", "Søndergaard",
    "Yılmaz",  # noqa: RUF001 (Turkish dotless i, on purpose)
)
NON_ASCII_FIRST = {
    "M": ("José", "André", "Jesús", "Ramón", "Joaquín", "Martín", "Nicolás", "Adrián", "Björn",
          "Søren", "François", "Đức", "Iñaki", "Noé"),
    "F": ("Zoë", "Chloé", "Renée", "Sofía", "María", "Inés", "Amélie", "Anaïs", "Élodie",
          "Thảo", "Łucja", "Begoña", "Siân", "Chiamaka"),
}
HYPHEN_FIRST = {"M": ("Jean-Luc", "Jean-Paul"), "F": ("Mary-Kate", "Anne-Marie", "Ana-Sofia")}
# Common given name -> nicknames people go by (a small, hand-made table).
NICKNAMES = {
    "William": ("Bill", "Will", "Billy", "Liam"), "Robert": ("Bob", "Rob", "Bobby"),
    "James": ("Jim", "Jimmy", "Jamie"), "John": ("Jack", "Johnny"), "Michael": ("Mike", "Mikey"),
    "Richard": ("Rick", "Rich", "Dick"), "Joseph": ("Joe", "Joey"), "Thomas": ("Tom", "Tommy"),
    "Christopher": ("Chris", "Topher"), "Daniel": ("Dan", "Danny"), "Matthew": ("Matt",),
    "Anthony": ("Tony",), "Nicholas": ("Nick", "Nico"), "Benjamin": ("Ben", "Benji"),
    "Samuel": ("Sam", "Sammy"), "Jonathan": ("Jon", "Johnny"), "Edward": ("Ed", "Eddie", "Ted"),
    "Andrew": ("Andy", "Drew"), "Joshua": ("Josh",), "Zachary": ("Zach", "Zack"),
    "Alexander": ("Alex", "Xander"), "Timothy": ("Tim", "Timmy"), "Steven": ("Steve",),
    "Stephen": ("Steve",), "Kenneth": ("Ken", "Kenny"), "Charles": ("Charlie", "Chuck"),
    "Nathaniel": ("Nate", "Nat"), "Theodore": ("Teddy", "Theo"), "Gregory": ("Greg",),
    "Jeffrey": ("Jeff",), "Raymond": ("Ray",), "Ronald": ("Ron", "Ronnie"), "Donald": ("Don",),
    "Douglas": ("Doug",), "Lawrence": ("Larry",), "Gerald": ("Jerry",), "Patrick": ("Pat",),
    "Frederick": ("Fred", "Freddie"), "Gabriel": ("Gabe",), "Elizabeth": ("Liz", "Beth", "Betsy"),
    "Katherine": ("Kate", "Katie", "Kathy"), "Catherine": ("Cathy", "Cat"),
    "Jennifer": ("Jen", "Jenny"), "Margaret": ("Maggie", "Peggy", "Meg"),
    "Rebecca": ("Becky", "Becca"), "Patricia": ("Patty", "Trish"), "Susan": ("Sue", "Susie"),
    "Deborah": ("Debbie", "Deb"), "Victoria": ("Vicky", "Tori"), "Abigail": ("Abby",),
    "Samantha": ("Sam", "Sammie"), "Alexandra": ("Alex", "Lexi"), "Isabella": ("Bella", "Izzy"),
    "Jacqueline": ("Jackie",), "Madison": ("Maddie",), "Olivia": ("Liv", "Livvy"),
    "Evelyn": ("Evie",), "Josephine": ("Josie",), "Penelope": ("Penny",),
    "Christina": ("Chrissy", "Tina"), "Kimberly": ("Kim",), "Jessica": ("Jess", "Jessie"),
    "Stephanie": ("Steph",), "Amanda": ("Mandy",), "Cynthia": ("Cindy",), "Pamela": ("Pam",),
    "Valerie": ("Val",), "Gabrielle": ("Gabby",), "Natalie": ("Nat",), "Allison": ("Allie",),
}
NICKNAME_NAMES = {"M": tuple(n for n in NICKNAMES if n in _FakerPerson.first_names_male),
                  "F": tuple(n for n in NICKNAMES if n in _FakerPerson.first_names_female)}

_HOME_LANGUAGES = (
    (("English", "eng"), 74), (("Spanish", "spa"), 16), (("Vietnamese", "vie"), 1.5),
    (("Mandarin", "cmn"), 1.2), (("Arabic", "ara"), 1.2), (("Haitian Creole", "hat"), 0.8),
    (("Somali", "som"), 0.6), (("Russian", "rus"), 0.6), (("Korean", "kor"), 0.5),
    (("Tagalog", "tgl"), 0.5), (("Portuguese", "por"), 0.6), (("Hmong", "hmn"), 0.5),
    (("Other", "other"), 1.0),
)
_RACES = (
    ("Caucasian", 45), ("Black or African American", 15), ("Asian", 6), ("American Indian", 1),
    ("Hawaiian or Other Pacific Islander", 0.5), ("Two or More Races", 5), ("Unknown", 3), ("", 2),
)
_DISABILITIES = (
    ("sld", "Specific learning disability"), ("sli", "Speech or language impairment"),
    ("ohi", "Other health impairment"), ("aut", "Autism"), ("dd", "Developmental delay"),
    ("id", "Intellectual Disability"), ("emn", "Emotional disturbance"),
    ("md", "Multiple disabilities"), ("hi", "Hearing impairment"), ("oi", "Orthopedic impairment"),
    ("vi", "Visual impairment"), ("tbi", "Traumatic brain injury"), ("db", "Deaf-blindness"),
    ("other", "Other"),
)
_RELATIONSHIPS = (("Parent", 80), ("Grandparent", 8), ("Aunt/Uncle", 4), ("Sibling", 2),
                  ("Other", 4), ("", 2))
_CONTACT_TYPES = (("Parent/Guardian", 55), ("Primary", 15), ("Secondary", 10), ("Emergency", 10),
                  ("Family", 5), ("Other", 3), ("", 2))
_PHONE_TYPES = (("Cell", 60), ("Home", 25), ("Work", 8), ("Other", 4), ("", 3))
_SIS_TYPES = ("sftp", "sftp", "powerschool", "infinite_campus", "skyward", "oneroster", "aeries")
_LOGIN_METHODS = (
    ["Clever Badges", "Clever Passwords"], ["Google", "Clever Badges"], ["SAML", "Clever Badges"],
    ["LDAP", "Clever Passwords"], ["Clever Passwords"], ["Google"],
)
_STAFF_TITLES = (
    ("Assistant Principal", "Administration", []), ("Counselor", "Counseling", []),
    ("School Secretary", "Office", []), ("Librarian", "Library", []),
    ("Technology Coordinator", "Technology", ["School Tech Lead"]), ("Nurse", "Health", []),
    ("Instructional Coach", "Curriculum", []),
)
_DISTRICT_STAFF_TITLES = (
    ("Director of Curriculum", "Curriculum and Instruction"), ("Data Coordinator", "Technology"),
    ("Director of Special Education", "Student Services"), ("ELL Coordinator", "Student Services"),
    ("Assessment Coordinator", "Assessment"),
)
_ADMIN_TITLES = ("Superintendent", "Director of Technology", "Assistant Superintendent")
_NO_SECTION_TEACHER_TITLES = ("Substitute Teacher", "Interventionist", "Special Education Teacher",
                              "Reading Specialist")

# (name, subject, grades it is for); "{g}" is the grade's display name.
_ELEMENTARY_COURSES = (
    ("{g} Homeroom", "homeroom/advisory"), ("{g} English Language Arts", "english/language arts"),
    ("{g} Math", "math"), ("{g} Science", "science"), ("{g} Social Studies", "social studies"),
    ("{g} Art", "arts and music"), ("{g} Music", "arts and music"),
    ("{g} Physical Education", "PE and health"),
)
_MIDDLE_COURSES = (
    ("Math {n}", "math"), ("English Language Arts {n}", "english/language arts"),
    ("Science {n}", "science"), ("Social Studies {n}", "social studies"),
    ("Advisory {n}", "homeroom/advisory"), ("PE {n}", "PE and health"),
    ("Spanish {n}", "language"), ("Band", "arts and music"),
    ("Computer Science Discoveries", "technology and engineering"),
    ("Reading Intervention", "interventions/online learning"),
)
_HIGH_COURSES = {
    "9": (("English 9", "english/language arts"), ("Algebra I", "math"), ("Biology", "science"),
          ("World History", "social studies"), ("Spanish I", "language"), ("Health", "PE and health"),
          ("Art I", "arts and music"), ("Advisory 9", "homeroom/advisory")),
    "10": (("English 10", "english/language arts"), ("Geometry", "math"), ("Chemistry", "science"),
           ("World Geography", "social studies"), ("Spanish II", "language"),
           ("Engineering Design", "technology and engineering"), ("Choir", "arts and music"),
           ("Driver's Education", "other")),
    "11": (("English 11", "english/language arts"), ("Algebra II", "math"), ("Physics", "science"),
           ("U.S. History", "social studies"), ("French I", "language"),
           ("AP Computer Science A", "technology and engineering"), ("PE", "PE and health"),
           ("Credit Recovery", "interventions/online learning")),
    "12": (("English 12", "english/language arts"), ("Precalculus", "math"),
           ("AP Environmental Science", "science"), ("Government & Economics", "social studies"),
           ("Spanish III", "language"), ("Orchestra", "arts and music"),
           ("Study Hall", "other"), ("AP Calculus AB", "math")),
}


def _weighted(pairs) -> tuple[tuple, tuple[float, ...]]:
    pairs = list(pairs)
    values = tuple(v for v, _ in pairs)
    return values, tuple(accumulate(w for _, w in pairs))


_FIRST = {"M": _weighted(_FakerPerson.first_names_male.items()),
          "F": _weighted(_FakerPerson.first_names_female.items())}
_LAST = _weighted(_FakerPerson.last_names.items())
_HOME_LANGUAGES_W = _weighted(_HOME_LANGUAGES)
_RACES_W = _weighted(_RACES)
_RELATIONSHIPS_W = _weighted(_RELATIONSHIPS)
_CONTACT_TYPES_W = _weighted(_CONTACT_TYPES)
_PHONE_TYPES_W = _weighted(_PHONE_TYPES)
_IEP_W = _weighted((("Y", 14), ("N", 82), ("", 4)))
_HISPANIC_W = _weighted((("Y", 27), ("N", 70), ("", 3)))
_FRL_W = _weighted((("Free", 38), ("Reduced", 7), ("Paid", 45), ("Other", 2), ("", 8)))
_GIFTED_W = _weighted((("Y", 7), ("N", 90), ("", 3)))
_504_W = _weighted((("Y", 3), ("N", 94), ("", 3)))
# What districts put in a student's ``ext`` (extension fields the SIS sends as it likes).
_BIRTH_COUNTRIES_W = _weighted((("United States", 86), ("Mexico", 5), ("Guatemala", 1.5),
                                ("El Salvador", 1.5), ("Honduras", 1), ("Philippines", 1),
                                ("Vietnam", 1), ("India", 1), ("China", 1), ("Ukraine", 1)))
_FAMILY_SIZE_W = _weighted(((1, 62), (2, 28), (3, 10)))
_CO_TEACHERS_W = _weighted(((1, 70), (2, 20), (3, 10)))
_STREET_SUFFIXES = ("Street", "Avenue", "Road", "Lane", "Drive", "Court", "Way", "Boulevard")
_ASCII_FOLD = str.maketrans({"đ": "d", "Đ": "D", "ø": "o", "Ø": "O", "ł": "l", "Ł": "L",
                             "ß": "ss", "æ": "ae", "ı": "i"})  # noqa: RUF001


def _pick(rng: random.Random, table: tuple[tuple, tuple[float, ...]]):
    values, cumulative = table
    return values[min(bisect_right(cumulative, rng.random() * cumulative[-1]), len(values) - 1)]


def ascii_fold(text: str) -> str:
    """What an SIS does to a name when it makes an email or username: José -> Jose."""
    text = unicodedata.normalize("NFKD", text.translate(_ASCII_FOLD))
    return text.encode("ascii", "ignore").decode("ascii")


@lru_cache(maxsize=1 << 16)
def _slug(text: str) -> str:
    return "".join(c for c in ascii_fold(text).lower() if c.isalnum())


def derive_seed(seed: int, label: str) -> int:
    """A stable sub-seed (Python's ``hash`` of a string changes per process; this does not)."""
    digest = hashlib.sha256(f"{seed}:{label}".encode()).digest()
    return int.from_bytes(digest[:8], "big")


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def _grade_label(grade: str) -> str:
    if grade == "PreKindergarten":
        return "Pre-K"
    if grade == "Kindergarten":
        return "Kindergarten"
    return f"Grade {grade}"


# --- the plan ----------------------------------------------------------------------------------


@dataclass(slots=True)
class _School:
    index: int
    level: str
    grades: tuple[str, ...]
    name: str
    seed: int
    id: str = ""
    principal: int | None = None  # adult index


@dataclass(slots=True)
class _Student:
    first: str
    middle: str
    last: str
    sex: str
    grade: str
    dob: date | None
    school: int
    seed: int
    twin: bool = False
    other_school: int | None = None
    id: str = ""


@dataclass(slots=True)
class _Adult:
    first: str
    middle: str
    last: str
    sex: str
    seed: int
    email: str | None = None
    teacher_schools: list[int] | None = None
    teacher_title: str = ""
    staff: tuple | None = None  # (title, department, roles, school indices)
    admin_title: str | None = None
    id: str = ""


@dataclass(slots=True)
class _Contact:
    first: str
    last: str
    sex: str
    students: list[int]
    seed: int
    teacher: int | None = None  # adult index when this parent is also a teacher
    id: str = ""


@dataclass(slots=True)
class _Section:
    school: int
    grade: str
    course: int
    term: int
    period: str
    seed: int
    teachers: list[int] = field(default_factory=list)  # adult indices; [0] is the primary
    students: list[int] = field(default_factory=list)  # student indices
    id: str = ""


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
    _plan: _Plan = field(repr=False)

    def records(self, record_type: str | None = None) -> Iterator[tuple[str, dict]]:
        """(record_type, body) pairs in load order: schools, terms, courses, users, sections."""
        return self._plan.render(record_type)

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


class _Plan:
    def __init__(self, *, seed, students, name, state, messiness, single_school, with_nces,
                 with_mdr, lms_type, school_year, sensitive_fields):
        self.rng = rng = random.Random(seed)
        self.m = messiness
        self.rates = {kind: min(1.0, rate * messiness) for kind, rate in RATES.items()}
        self.n = students
        self.school_year = school_year
        self.lms_type = lms_type
        self.sensitive_fields = sensitive_fields
        self.start = 1_751_000_000 + rng.randrange(4_000_000)  # July-August 2025
        self.created = _iso(datetime.fromtimestamp(self.start, tz=UTC))
        self.ids = SeededIds(seed, self.start)
        # Pre-v3 role IDs (legacy_id) are older ObjectIDs from another machine.
        self.legacy_ids = SeededIds(derive_seed(seed, "legacy"), self.start - 5 * 365 * 86400)
        self.state = state or rng.choice(sorted(STATES))
        self.fips, suffix = STATES[self.state]
        self.town = rng.choice(TOWNS)
        if name:
            # Schools sit in the town the district is named after, when it names one.
            self.town = next((town for town in TOWNS if name.startswith(town)), self.town)
        self.name = name or f"{self.town} {suffix}"
        slug = _slug(self.name.split(" ")[0]) + "".join(
            w[0].lower() for w in ascii_fold(self.name).split()[1:] if w[:1].isalpha()
        )
        self.domain = f"{slug}-{self.state.lower()}.example.org"
        self.student_domain = f"students.{self.domain}"
        self.nces_id = (f"{self.fips}{rng.randrange(100_000):05d}"
                        if (rng.random() < 0.6 if with_nces is None else with_nces) else "")
        self.mdr_number = (f"{rng.randrange(10**7, 10**8)}"
                           if (rng.random() < 0.45 if with_mdr is None else with_mdr) else "")
        zips = _FakerAddress.states_postcode.get(self.state, (10001, 99950))
        self.zip_base = rng.randrange(zips[0], max(zips[0] + 1, zips[1] - 60))
        self.student_email_style = rng.randrange(4)
        self.username_style = rng.randrange(3)
        self.sis_base = rng.randrange(100_000_000, 800_000_000)
        self.state_id_base = rng.randrange(10**9)
        self.used_emails: set[str] = set()

        self._plan_schools(single_school)
        self._plan_terms_and_courses()
        self._plan_students()
        self._plan_adults()
        self._plan_sections()
        self._plan_contacts()
        self._assign_ids()

    def rate(self, kind: str) -> float:
        return self.rates[kind]

    def chance(self, kind: str, rng: random.Random | None = None) -> bool:
        return (rng or self.rng).random() < self.rates[kind]

    # -- names

    def surname(self, rng: random.Random) -> str:
        roll = rng.random()
        for kind, pool in (("apostrophe", APOSTROPHE_SURNAMES), ("non_ascii", NON_ASCII_SURNAMES),
                           ("spaced_surname", SPACED_SURNAMES), ("common_surname", COMMON_SURNAMES)):
            rate = self.rate(kind)
            if roll < rate:
                return rng.choice(pool)
            roll -= rate
        if roll < self.rate("hyphen"):
            return f"{_pick(rng, _LAST)}-{_pick(rng, _LAST)}"
        return _pick(rng, _LAST)

    def first_name(self, rng: random.Random, sex: str) -> str:
        roll = rng.random()
        if roll < self.rate("non_ascii"):
            return rng.choice(NON_ASCII_FIRST[sex])
        roll -= self.rate("non_ascii")
        if roll < self.rate("apostrophe"):
            return rng.choice(APOSTROPHE_FIRST[sex])
        roll -= self.rate("apostrophe")
        if roll < self.rate("hyphen") / 3:
            return rng.choice(HYPHEN_FIRST[sex])
        roll -= self.rate("hyphen") / 3
        if roll < 0.1 * min(1.0, self.m):
            # Names people shorten, so nicknames are common enough to show up.
            return rng.choice(NICKNAME_NAMES[sex])
        return _pick(rng, _FIRST[sex])

    def middle_name(self, rng: random.Random, sex: str) -> str:
        roll = rng.random()
        if roll < 0.45:
            return _pick(rng, _FIRST[sex])[0]
        if roll < 0.75:
            return _pick(rng, _FIRST[sex])
        return ""

    def adult_email(self, rng: random.Random, first: str, last: str) -> str | None:
        if self.chance("older_no_email", rng):
            return None
        given = first
        if first in NICKNAMES and self.chance("nickname", rng):
            given = rng.choice(NICKNAMES[first])
        local = f"{_slug(given)}.{_slug(last)}"
        email, n = f"{local}@{self.domain}", 1
        while email in self.used_emails:
            n += 1
            email = f"{local}{n}@{self.domain}"
        self.used_emails.add(email)
        return self.mess_email(rng, email)

    def mess_email(self, rng: random.Random, email: str) -> str:
        if self.chance("no_at_email", rng):
            local, _, domain = email.partition("@")
            return local if rng.random() < 0.5 else f"{local}{domain}"
        if self.chance("odd_email", rng):
            local, _, domain = email.partition("@")
            return (f"{local.title()}@{domain.upper()}" if rng.random() < 0.5
                    else f" {email} ")
        return email

    # -- schools, terms, courses

    def _plan_schools(self, single_school: bool) -> None:
        rng = self.rng
        count = 1 if single_school else max(1, round(self.n / STUDENTS_PER_SCHOOL))
        if count == 1:
            levels = [("k12", GRADES_ELEMENTARY + GRADES_MIDDLE + GRADES_HIGH)]
        elif count == 2:
            levels = [("elementary", GRADES_ELEMENTARY), ("secondary", GRADES_MIDDLE + GRADES_HIGH)]
        else:
            high = max(1, round(count * 4 / 14))
            middle = max(1, round(count * 3 / 14))
            elementary = max(1, count - high - middle)
            levels = ([("elementary", GRADES_ELEMENTARY)] * elementary
                      + [("middle", GRADES_MIDDLE)] * middle + [("high", GRADES_HIGH)] * high)
        used: set[str] = set()
        self.schools: list[_School] = []
        for index, (level, grades) in enumerate(levels):
            name = ""
            for attempt in range(50):
                base = rng.choice(SCHOOL_NAMES)
                if attempt > 20:
                    base = f"{rng.choice(('North', 'South', 'East', 'West', 'New'))} {base}"
                name = f"{base} {rng.choice(LEVEL_SUFFIXES[level])}"
                if level == "k12" and count == 1:
                    name = f"{self.town} {rng.choice(LEVEL_SUFFIXES[level])}"
                if name not in used:
                    break
            if name in used:
                name = f"{name} {index + 1}"
            used.add(name)
            self.schools.append(_School(index=index, level=level, grades=grades, name=name,
                                        seed=rng.getrandbits(64)))
        self.schools_by_grade: dict[str, list[int]] = {}
        for school in self.schools:
            for grade in school.grades:
                self.schools_by_grade.setdefault(grade, []).append(school.index)
        self.grade_table = _weighted(
            (grade, 0.4 if grade == "PreKindergarten" else 1.0) for grade in self.schools_by_grade
        )

    def _plan_terms_and_courses(self) -> None:
        y = self.school_year
        self.terms = [
            (f"Fall {y}" if self.rng.random() < 0.5 else f"Semester 1 {y}-{(y + 1) % 100:02d}",
             date(y, 8, 18), date(y, 12, 19)),
            (f"Spring {y + 1}" if self.rng.random() < 0.5 else f"Semester 2 {y}-{(y + 1) % 100:02d}",
             date(y + 1, 1, 6), date(y + 1, 6, 5)),
        ]
        self.term_alt_format = [self.chance("alt_term_date") for _ in self.terms]
        grades_present = {g for s in self.schools for g in s.grades}
        self.courses: list[tuple[str, str, str]] = []  # (name, subject, number)
        self.courses_by_grade: dict[str, list[int]] = {}
        for grade in GRADES_ELEMENTARY + GRADES_MIDDLE + GRADES_HIGH:
            if grade not in grades_present:
                continue
            if grade in GRADES_ELEMENTARY:
                catalog = [(n.format(g=_grade_label(grade)), s) for n, s in _ELEMENTARY_COURSES]
            elif grade in GRADES_MIDDLE:
                catalog = [(n.format(n=grade), s) for n, s in _MIDDLE_COURSES]
            else:
                catalog = list(_HIGH_COURSES[grade])
            for name, subject in catalog:
                existing = next((i for i, c in enumerate(self.courses) if c[0] == name), None)
                if existing is None:
                    prefix = subject.split("/")[0].split(" ")[0][:3].upper()
                    self.courses.append((name, subject, f"{prefix}-{len(self.courses) + 100:04d}"))
                    existing = len(self.courses) - 1
                self.courses_by_grade.setdefault(grade, []).append(existing)
        # Ungraded students take whatever their school's high grades take.
        self.courses_by_grade.setdefault("Ungraded", self.courses_by_grade.get("12", [0]))

    # -- students and families

    def _grade_and_school(self, rng: random.Random) -> tuple[str, int]:
        if self.chance("ungraded", rng):
            return "Ungraded", rng.randrange(len(self.schools))
        grade = _pick(rng, self.grade_table)
        return grade, rng.choice(self.schools_by_grade[grade])

    def _dob(self, rng: random.Random, grade: str) -> date | None:
        if self.chance("missing_dob", rng):
            return None
        age_offset = rng.randrange(9, 15) if grade == "Ungraded" else _GRADE_NUMBER[grade]
        if self.chance("held_back", rng):
            age_offset += 1
        cohort_start = date(self.school_year - 6 - age_offset, 9, 2)
        return cohort_start + timedelta(days=rng.randrange(365))

    def _plan_students(self) -> None:
        rng = self.rng
        self.students: list[_Student] = []
        self.families: list[list[int]] = []
        twins_made = False
        while len(self.students) < self.n:
            remaining = self.n - len(self.students)
            # Any mess at all guarantees one pair: every run of families passes through 2-4 left.
            twins = remaining >= 2 and (self.chance("twins") or (
                remaining <= 4 and not twins_made and self.m > 0))
            family_last = self.surname(rng)
            members: list[int] = []
            if twins:
                twins_made = True
                grade, school = self._grade_and_school(rng)
                dob = self._dob(rng, grade)
                firsts: list[str] = []
                for _ in range(2):
                    sex = rng.choice("MF")
                    first = self.first_name(rng, sex)
                    while first in firsts:
                        first = self.first_name(rng, sex)
                    firsts.append(first)
                    members.append(self._add_student(first, sex, family_last, grade, dob, school,
                                                     twin=True))
            else:
                size = min(remaining, _pick(rng, _FAMILY_SIZE_W))
                for _ in range(size):
                    sex = rng.choice("MF")
                    last = family_last if rng.random() < 0.9 else self.surname(rng)
                    grade, school = self._grade_and_school(rng)
                    members.append(self._add_student(self.first_name(rng, sex), sex, last, grade,
                                                     self._dob(rng, grade), school))
            self.families.append(members)
        # Students enrolled in a second school (a career center, a shared program).
        if len(self.schools) > 1:
            for student in self.students:
                if self.chance("multi_school"):
                    same_level = [s.index for s in self.schools
                                  if s.index != student.school and student.grade in s.grades]
                    others = same_level or [s.index for s in self.schools if s.index != student.school]
                    student.other_school = rng.choice(others)

    def _add_student(self, first, sex, last, grade, dob, school, twin=False) -> int:
        self.students.append(_Student(
            first=first, middle=self.middle_name(self.rng, sex), last=last, sex=sex, grade=grade,
            dob=dob, school=school, seed=self.rng.getrandbits(64), twin=twin))
        return len(self.students) - 1

    # -- adults

    def _new_adult(self, sex: str | None = None) -> _Adult:
        rng = self.rng
        sex = sex or rng.choice("MF")
        first, last = self.first_name(rng, sex), self.surname(rng)
        adult = _Adult(first=first, middle=self.middle_name(rng, sex), last=last, sex=sex,
                       seed=rng.getrandbits(64))
        adult.email = self.adult_email(rng, first, last)
        self.adults.append(adult)
        return adult

    def _plan_adults(self) -> None:
        rng = self.rng
        self.adults: list[_Adult] = []
        per_school = [0] * len(self.schools)
        for student in self.students:
            per_school[student.school] += 1
        all_schools = [s.index for s in self.schools]
        # District admins; with any mess, the first one also teaches and is staff at a school
        # (a small district's superintendent), the second one is also district-office staff.
        admin_count = 1 if self.n < 5_000 else (2 if self.n < 50_000 else 3)
        if self.m > 0:
            admin_count = max(admin_count, 2)
        admins = [self._new_adult() for _ in range(admin_count)]
        for i, admin in enumerate(admins):
            admin.admin_title = _ADMIN_TITLES[i % len(_ADMIN_TITLES)]
        self.school_teachers: list[list[int]] = [[] for _ in self.schools]
        if self.m > 0:
            admins[0].teacher_schools = [0]
            admins[0].staff = ("Curriculum Lead", "Administration", [], [0])
            self.school_teachers[0].append(0)  # admins are the first adults
            admins[1].staff = ("District Office", "Administration", [], list(all_schools))
        # District-office staff.
        for i in range(1 + min(4, self.n // 10_000)):
            adult = self._new_adult()
            title, department = _DISTRICT_STAFF_TITLES[i % len(_DISTRICT_STAFF_TITLES)]
            adult.staff = (title, department, [], list(all_schools))
        # School staff (a principal first) and teachers.
        for school in self.schools:
            count = per_school[school.index]
            principal = self._new_adult()
            principal.staff = ("Principal", "Administration", [], [school.index])
            school.principal = len(self.adults) - 1
            for i in range(count // 250):
                title, department, roles = _STAFF_TITLES[i % len(_STAFF_TITLES)]
                self._new_adult().staff = (title, department, list(roles), [school.index])
            for _ in range(max(1, round(count / STUDENTS_PER_TEACHER))):
                teacher = self._new_adult()
                teacher.teacher_schools = [school.index]
                self.school_teachers[school.index].append(len(self.adults) - 1)
        teachers = [i for i, a in enumerate(self.adults)
                    if a.teacher_schools and a.admin_title is None]
        # Teachers who are also staff (a department chair, a coach): one user, two roles.
        picks = rng.sample(teachers, min(len(teachers), max(
            1 if self.m > 0 else 0, round(len(teachers) * self.rate("teacher_staff")))))
        for index in picks:
            adult = self.adults[index]
            title = rng.choice(("Department Chair", "Instructional Coach", "Assistant Principal"))
            adult.staff = (title, "Academics", [], list(adult.teacher_schools))
        # Itinerant teachers (music, special education) who teach in a second school.
        self.itinerant: list[int] = []
        if len(self.schools) > 1:
            for index in teachers:
                if self.chance("itinerant_teacher"):
                    adult = self.adults[index]
                    other = rng.choice([s for s in all_schools if s != adult.teacher_schools[0]])
                    adult.teacher_schools.append(other)
                    self.itinerant.append(index)

    # -- sections and enrollments

    def _plan_sections(self) -> None:
        rng = self.rng
        self.sections: list[_Section] = []
        by_school_grade: dict[tuple[int, str], list[int]] = {}
        for i, student in enumerate(self.students):
            by_school_grade.setdefault((student.school, student.grade), []).append(i)
        school_sections: list[list[int]] = [[] for _ in self.schools]
        group_sections: dict[tuple[int, str], list[int]] = {}
        for (school, grade), members in sorted(by_school_grade.items(),
                                               key=lambda kv: (kv[0][0], _grade_sort(kv[0][1]))):
            courses = self.courses_by_grade.get(grade) or [0]
            offset = rng.randrange(len(courses))
            made = []
            for k in range(max(1, round(len(members) / STUDENTS_PER_SECTION))):
                section = _Section(school=school, grade=grade,
                                   course=courses[(offset + k) % len(courses)],
                                   term=k % len(self.terms), period=str(1 + k % 8),
                                   seed=rng.getrandbits(64))
                self.sections.append(section)
                made.append(len(self.sections) - 1)
            group_sections[(school, grade)] = made
            school_sections[school].extend(made)
        # Teachers: a primary for each section, round robin over the school's teachers;
        # some sections are co-taught, a rare one has no teacher at all.
        for school in self.schools:
            staff = list(self.school_teachers[school.index])
            rng.shuffle(staff)
            for j, section_index in enumerate(school_sections[school.index]):
                section = self.sections[section_index]
                if self.chance("no_teacher_section"):
                    continue
                section.teachers.append(staff[j % len(staff)])
                if len(staff) > 1 and self.chance("co_taught"):
                    extra = _pick(rng, _CO_TEACHERS_W)
                    others = [t for t in staff if t != section.teachers[0]]
                    section.teachers.extend(rng.sample(others, min(extra, len(others))))
        if self.m > 0 and self.sections and not any(len(s.teachers) > 1 for s in self.sections):
            for section in self.sections:
                others = [t for t in self.school_teachers[section.school] if t not in section.teachers]
                if section.teachers and others:
                    section.teachers.append(others[0])
                    break
        for index in self.itinerant:
            adult = self.adults[index]
            candidates = school_sections[adult.teacher_schools[1]]
            if candidates:
                section = self.sections[rng.choice(candidates)]
                if index not in section.teachers:
                    section.teachers.append(index)
        # Enrollments: about SECTIONS_PER_STUDENT sections each, own grade first.
        for (school, grade), members in by_school_grade.items():
            own = group_sections[(school, grade)]
            everything = school_sections[school]
            for student_index in members:
                if self.chance("no_sections"):
                    continue
                chosen = rng.sample(own, min(SECTIONS_PER_STUDENT, len(own)))
                missing = SECTIONS_PER_STUDENT - len(chosen)
                if missing > 0 and len(everything) > len(chosen):
                    pool = [s for s in everything if s not in chosen]
                    chosen += rng.sample(pool, min(missing, len(pool)))
                student = self.students[student_index]
                if student.other_school is not None and school_sections[student.other_school]:
                    chosen.append(rng.choice(school_sections[student.other_school]))
                for section_index in chosen:
                    self.sections[section_index].students.append(student_index)
        # Teacher titles from what they teach.
        for section in self.sections:
            if section.teachers:
                primary = self.adults[section.teachers[0]]
                if not primary.teacher_title:
                    if section.grade in GRADES_ELEMENTARY:
                        primary.teacher_title = f"{_grade_label(section.grade)} Teacher"
                    else:
                        primary.teacher_title = f"{self.courses[section.course][0]} Teacher"
        for adult in self.adults:
            if adult.teacher_schools and not adult.teacher_title:
                adult.teacher_title = rng.choice(_NO_SECTION_TEACHER_TITLES)

    # -- contacts

    def _plan_contacts(self) -> None:
        rng = self.rng
        self.contacts: list[_Contact] = []
        for members in self.families:
            roll = rng.random()
            count = 0 if roll < 0.12 else (1 if roll < 0.55 else 2)
            family_last = self.students[members[0]].last
            for k in range(count):
                sex = "F" if k == 0 else "M"
                last = family_last if rng.random() < 0.8 else self.surname(rng)
                self.contacts.append(_Contact(first=self.first_name(rng, sex), last=last, sex=sex,
                                              students=list(members), seed=rng.getrandbits(64)))
        # Parents who also teach in the district: same name and email as the teacher's user.
        teachers = [i for i, a in enumerate(self.adults) if a.teacher_schools and a.email]
        if self.contacts and teachers:
            count = max(1 if self.m > 0 else 0, round(len(teachers) * self.rate("parent_is_teacher")))
            for contact, teacher in zip(rng.sample(self.contacts, min(count, len(self.contacts))),
                                        rng.sample(teachers, min(count, len(teachers))),
                                        strict=False):
                adult = self.adults[teacher]
                contact.first, contact.last, contact.sex = adult.first, adult.last, adult.sex
                contact.teacher = teacher

    def _assign_ids(self) -> None:
        self.district_id = self.ids.next()
        self.district_contact_id = self.legacy_ids.next()
        for group in (self.schools,):
            for item in group:
                item.id = self.ids.next()
        self.term_ids = [self.ids.next() for _ in self.terms]
        self.course_ids = [self.ids.next() for _ in self.courses]
        for group in (self.students, self.adults, self.contacts, self.sections):
            for item in group:
                item.id = self.ids.next()

    # -- counts and the district object

    def counts(self) -> dict:
        adults = self.adults
        return {
            "schools": len(self.schools),
            "terms": len(self.terms),
            "courses": len(self.courses),
            "sections": len(self.sections),
            "users": len(self.students) + len(adults) + len(self.contacts),
            "students": len(self.students),
            "teachers": sum(1 for a in adults if a.teacher_schools),
            "staff": sum(1 for a in adults if a.staff),
            "district_admins": sum(1 for a in adults if a.admin_title is not None),
            "contacts": len(self.contacts),
            "enrollments": sum(len(s.students) for s in self.sections),
        }

    def district_data(self) -> dict:
        rng = random.Random(derive_seed(self.start, "district"))
        admin = next(a for a in self.adults if a.admin_title is not None)
        launch = datetime.fromtimestamp(self.start, tz=UTC) - timedelta(days=rng.randrange(30, 900))
        return {
            "name": self.name,
            "state": "success",
            "sis_type": rng.choice(_SIS_TYPES),
            "error": "",
            "last_sync": self.created,
            "launch_date": launch.date().isoformat(),
            "login_methods": list(rng.choice(_LOGIN_METHODS)),
            "mdr_number": self.mdr_number,
            "nces_id": self.nces_id,
            "portal_url": f"https://clever.com/in/{_slug(self.name)[:24]}-{self.state.lower()}",
            "pause_start": "",
            "pause_end": "",
            "district_contact": {
                "id": self.district_contact_id,
                "district": self.district_id,
                "email": admin.email or "",
                "name": {"first": admin.first, "last": admin.last},
                "title": admin.admin_title or "",
            },
        }

    # -- rendering

    def render(self, record_type: str | None = None) -> Iterator[tuple[str, dict]]:
        renderers = (
            (RecordType.SCHOOLS, self._render_schools),
            (RecordType.TERMS, self._render_terms),
            (RecordType.COURSES, self._render_courses),
            (RecordType.USERS, self._render_users),
            (RecordType.SECTIONS, self._render_sections),
        )
        for kind, renderer in renderers:
            if record_type is None or record_type == kind:
                for body in renderer():
                    yield kind, body

    def _stamped(self, body: dict) -> dict:
        body["created"] = self.created
        body["last_modified"] = self.created
        return body

    def _render_schools(self) -> Iterator[dict]:
        y = self.school_year
        for school in self.schools:
            rng = random.Random(school.seed)
            principal = self.adults[school.principal] if school.principal is not None else None
            number = f"{school.index + 1:03d}"
            yield self._stamped({
                "id": school.id,
                "district": self.district_id,
                "name": school.name,
                "sis_id": str(100 + school.index),
                "school_number": number,
                "state_id": f"{self.state}-{self.fips}{school.index + 1:04d}",
                "nces_id": f"{self.nces_id}{rng.randrange(100_000):05d}" if self.nces_id else "",
                "mdr_number": f"{rng.randrange(10**7, 10**8)}" if self.mdr_number else "",
                "low_grade": school.grades[0],
                "high_grade": school.grades[-1],
                "principal": {"name": f"{principal.first} {principal.last}" if principal else "",
                              "email": (principal.email or "") if principal else ""},
                "location": {
                    "address": f"{rng.randrange(100, 9999)} {_pick(rng, _LAST)} "
                               f"{rng.choice(_STREET_SUFFIXES)}",
                    "city": self.town,
                    "state": self.state,
                    "zip": f"{self.zip_base + rng.randrange(40):05d}",
                    "lat": "",
                    "lon": "",
                },
                "phone": f"({rng.randrange(201, 989)}) 555-01{rng.randrange(100):02d}",
                "ext": {"school_year": f"{y}-{y + 1}"},
            })

    def _render_terms(self) -> Iterator[dict]:
        for (name, start, end), term_id, alt in zip(self.terms, self.term_ids,
                                                    self.term_alt_format, strict=True):
            # Clever validates term dates as times without normalizing them.
            fmt = (lambda d: f"{d.isoformat()}T00:00:00.000Z") if alt else date.isoformat
            yield {"id": term_id, "district": self.district_id, "name": name,
                   "start_date": fmt(start), "end_date": fmt(end)}

    def _render_courses(self) -> Iterator[dict]:
        for (name, _subject, number), course_id in zip(self.courses, self.course_ids, strict=True):
            yield {"id": course_id, "district": self.district_id, "name": name, "number": number}

    def _render_users(self) -> Iterator[dict]:
        for index, student in enumerate(self.students):
            yield self._render_student(index, student)
        for index, adult in enumerate(self.adults):
            yield self._render_adult(index, adult)
        for index, contact in enumerate(self.contacts):
            yield self._render_contact(index, contact)

    def _lms_status(self, rng: random.Random) -> dict:
        return {"synced_in_lms": bool(self.lms_type) and rng.random() < 0.93}

    def _username(self, first: str, last: str, number: int) -> str:
        first, last = _slug(first), _slug(last)
        if self.username_style == 0:
            return f"{first}{last[:1]}{number % 100}"
        if self.username_style == 1:
            return f"{first[:1]}{last}{number % 1000}"
        return f"{first}.{last}"

    def _student_email(self, rng, student: _Student, index: int, nickname: str | None) -> str | None:
        young = student.grade in YOUNG_GRADES
        if self.chance("young_no_email" if young else "older_no_email", rng):
            return None
        first = _slug(nickname or student.first)
        last = _slug(student.last)
        style = self.student_email_style
        if style == 0:
            local = f"{first}.{last}{index % 100:02d}"
        elif style == 1:
            local = f"{last[:1]}.{first}{index % 1000}"
        elif style == 2:
            local = f"{first[:1]}{last}{(student.dob.year % 100) if student.dob else index % 100:02d}"
        else:
            local = f"{self.sis_base + index}"
        return self.mess_email(rng, f"{local}@{self.student_domain}")

    def _render_student(self, index: int, student: _Student) -> dict:
        rng = random.Random(student.seed)
        y = self.school_year
        nickname = preferred = None
        if student.first in NICKNAMES and self.chance("nickname", rng):
            nickname = rng.choice(NICKNAMES[student.first])
            if rng.random() < 0.5:
                preferred = {"first": nickname, "middle": "", "last": student.last}
                nickname = None if rng.random() < 0.5 else nickname
        elif not student.first.isascii() and rng.random() < 0.3:
            preferred = {"first": ascii_fold(student.first), "middle": "", "last": student.last}
        email = self._student_email(rng, student, index, nickname)
        schools = [student.school] + ([student.other_school] if student.other_school is not None else [])
        school_ids = sorted(self.schools[s].id for s in schools)
        sis_id = str(self.sis_base + index)
        gender_roll = rng.random()
        gender = student.sex if gender_roll > 0.02 else ("X" if gender_roll < 0.01 else "")
        number = _GRADE_NUMBER.get(student.grade)
        graduation_year = "" if number is None or self.chance("blank_graduation_year", rng) else str(
            y + 1 + 12 - max(number, 0) + (1 if number < 0 else 0))
        language, language_code = _pick(rng, _HOME_LANGUAGES_W)
        ell = ("Y" if rng.random() < 0.6 else "N") if language != "English" else (
            "Y" if rng.random() < 0.01 else "N")
        iep = _pick(rng, _IEP_W)
        role = {
            "credentials": {"district_username": self._username(student.first, student.last, index)},
            "enrollments": [],
            "gender": gender,
            "grade": student.grade,
            "graduation_year": graduation_year,
            "hispanic_ethnicity": _pick(rng, _HISPANIC_W),
            "location": {
                "address": "" if rng.random() < 0.2 else
                f"{rng.randrange(1, 9999)} {_pick(rng, _LAST)} {rng.choice(_STREET_SUFFIXES)}",
                "city": self.town,
                "state": self.state,
                "zip": f"{self.zip_base + rng.randrange(60):05d}",
            },
            "race": _pick(rng, _RACES_W),
            "school": self.schools[student.school].id,
            "schools": school_ids,
            "sis_id": sis_id,
            "state_id": "" if self.chance("missing_state_id", rng) else
            str(1_000_000_000 + (self.state_id_base + index * 7919) % 9_000_000_000),
            "student_number": sis_id if rng.random() < 0.8 else f"S{index + 1:06d}",
        }
        if student.dob:  # a missing dob is absent: "" would not match Clever's M/D/YYYY pattern
            role["dob"] = f"{student.dob.month}/{student.dob.day}/{student.dob.year}"
        if len(schools) > 1:
            role["enrollments"] = [
                {"school": school_id, "start_date": f"{y}-08-18T00:00:00.000Z",
                 "end_date": f"{y + 1}-06-05T00:00:00.000Z"}
                for school_id in school_ids
            ]
        if self.sensitive_fields:
            sensitive = {
                "ell_status": ell,
                "frl_status": _pick(rng, _FRL_W),
                "iep_status": iep,
                "home_language": language,
                "home_language_code": language_code,
                "gifted_status": _pick(rng, _GIFTED_W),
                "section_504_status": _pick(rng, _504_W),
            }
            if iep == "Y":
                code, kind = rng.choice(_DISABILITIES)
                sensitive["disability"] = {"disability_code": code, "disability_status": "Y",
                                           "disability_type": kind}
            else:
                sensitive["disability"] = {"disability_status": "N"} if rng.random() < 0.8 else {}
            # Not every SIS export carries every field.
            for key, value in sensitive.items():
                if rng.random() < 0.97:
                    role[key] = value
        if preferred:
            role["preferred_name"] = preferred
        if self.chance("student_legacy_id", rng):
            role["legacy_id"] = self.legacy_ids_for(student.seed)
        body = {"id": student.id, "district": self.district_id}
        if email is not None:
            body["email"] = email
        body["name"] = {"first": student.first, "middle": student.middle, "last": student.last}
        body["roles"] = {"student": role}
        body["lms_status"] = self._lms_status(rng)
        # Drawn last, so the fields above are what they were before ``ext`` was generated.
        if rng.random() < 0.9:
            role["ext"] = {"birth_country": _pick(rng, _BIRTH_COUNTRIES_W),
                           "military_connected": "Y" if rng.random() < 0.04 else "N"}
        return self._stamped(body)

    def legacy_ids_for(self, seed: int) -> str:
        """A legacy (pre-v3) ID derived from the record's seed: rendering order does not matter."""
        return f"{(self.start - 5 * 365 * 86400 + seed % 86_400):08x}{seed % (1 << 64):016x}"

    def _render_adult(self, index: int, adult: _Adult) -> dict:
        rng = random.Random(adult.seed)
        roles: dict = {}
        username = self._username(adult.first, adult.last, index)
        if adult.teacher_schools:
            teacher = {
                "credentials": {"district_username": username},
                "school": self.schools[adult.teacher_schools[0]].id,
                "schools": sorted(self.schools[s].id for s in adult.teacher_schools),
                "sis_id": str(1000 + index),
                "state_id": str(700_000_000 + (self.state_id_base + index * 104_729) % 99_999_999),
                "teacher_number": f"T{rng.randrange(100_000, 999_999)}",
                "title": adult.teacher_title,
            }
            if rng.random() < 0.6:
                teacher["legacy_id"] = self.legacy_ids_for(adult.seed)
            roles["teacher"] = teacher
        if adult.staff:
            title, department, staff_roles, schools = adult.staff
            staff = {
                "credentials": {"district_username": username},
                "department": department,
                "roles": list(staff_roles),
                "schools": sorted(self.schools[s].id for s in schools),
                "staff_id": f"E{20_000 + index}",
                "title": title,
            }
            if rng.random() < 0.5:
                staff["legacy_id"] = self.legacy_ids_for(adult.seed + 1)
            roles["staff"] = staff
        if adult.admin_title is not None:
            roles["district_admin"] = {
                "title": adult.admin_title,
                # In Clever's demo district, the district contact's id is an admin's legacy_id.
                "legacy_id": self.district_contact_id if index == 0 else
                self.legacy_ids_for(adult.seed + 2),
            }
        body = {"id": adult.id, "district": self.district_id}
        if adult.email is not None:
            body["email"] = adult.email
        body["name"] = {"first": adult.first, "middle": adult.middle, "last": adult.last}
        body["roles"] = roles
        if adult.teacher_schools or adult.staff:
            body["lms_status"] = self._lms_status(rng)
        return self._stamped(body)

    def _render_contact(self, index: int, contact: _Contact) -> dict:
        rng = random.Random(contact.seed)
        email: str | None
        if contact.teacher is not None:
            email = self.adults[contact.teacher].email
        elif rng.random() < 0.7:
            given = contact.first
            if given in NICKNAMES and self.chance("nickname", rng):
                given = rng.choice(NICKNAMES[given])
            provider = rng.choice(("gmail.example.com", "yahoo.example.com", "mail.example.net"))
            email = self.mess_email(rng, f"{_slug(given)}{_slug(contact.last)}{index % 97}@{provider}")
        else:
            email = None
        area, line = rng.randrange(201, 989), rng.randrange(100)
        phone = f"({area}) 555-01{line:02d}"
        if self.chance("odd_phone", rng):
            phone = rng.choice((f"{area}-555-01{line:02d}", f"{area}55501{line:02d}",
                                f"+1 {area} 555 01{line:02d}", ""))
        relationships = []
        for k, student_index in enumerate(contact.students):
            relationship = _pick(rng, _RELATIONSHIPS_W) if k == 0 else relationships[0]["relationship"]
            relationships.append({"student": self.students[student_index].id,
                                  "relationship": relationship,
                                  "type": _pick(rng, _CONTACT_TYPES_W)})
        role = {
            "phone": phone,
            "phone_type": _pick(rng, _PHONE_TYPES_W) if phone else "",
            "sis_id": f"C{self.sis_base + index}" if rng.random() < 0.6 else "",
            "student_relationships": relationships,
        }
        if rng.random() < 0.3:
            role["legacy_id"] = self.legacy_ids_for(contact.seed)
        body = {"id": contact.id, "district": self.district_id}
        if email is not None:
            body["email"] = email
        if contact.teacher is None and self.chance("contact_full_name_in_last", rng):
            body["name"] = {"last": f"{contact.first} {contact.last}"}
        else:
            body["name"] = {"first": contact.first, "middle": "", "last": contact.last}
        body["roles"] = {"contact": role}
        return self._stamped(body)

    def _render_sections(self) -> Iterator[dict]:
        for number, section in enumerate(self.sections):
            rng = random.Random(section.seed)
            course_name, subject, _ = self.courses[section.course]
            teacher_ids = [self.adults[t].id for t in section.teachers]
            lead = self.adults[section.teachers[0]].last if section.teachers else "TBD"
            body = {
                "id": section.id,
                "district": self.district_id,
                "school": self.schools[section.school].id,
                "name": f"{course_name} - {lead} - {section.period}",
                "sis_id": str(500 + number),
                "section_number": "" if rng.random() < 0.1 else f"{number % 40 + 1:03d}",
                "period": section.period,
                "subject": subject,
                "grade": section.grade,
                "course": self.course_ids[section.course],
                "term_id": self.term_ids[section.term],
                "teachers": teacher_ids,
                "students": [self.students[s].id for s in sorted(section.students)],
                "lms_status": self._lms_status(rng),
            }
            if teacher_ids:
                body["teacher"] = teacher_ids[0]
            yield self._stamped(body)


def _grade_sort(grade: str) -> int:
    return _GRADE_NUMBER.get(grade, 99)


# --- one new student, for roster changes after loading (sandbox.roster.add_students) -----------


def student_record(
    *, rng: random.Random, student_id: str, school: dict, grade: str, email_domain: str = "",
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
    first, last = _pick(rng, _FIRST[sex]), _pick(rng, _LAST)
    middle_roll = rng.random()
    middle = (_pick(rng, _FIRST[sex])[0] if middle_roll < 0.45 else
              _pick(rng, _FIRST[sex]) if middle_roll < 0.75 else "")
    number = _GRADE_NUMBER.get(grade)
    offset = rng.randrange(9, 15) if number is None else number
    dob = date(school_year - 6 - offset, 9, 2) + timedelta(days=rng.randrange(365))
    sis_id = str(900_000_000 + int(student_id[-6:], 16))
    town = school.get("location") or {}
    language, language_code = _pick(rng, _HOME_LANGUAGES_W)
    iep = _pick(rng, _IEP_W)
    disability: dict = {"disability_status": "N"}
    if iep == "Y":
        code, kind = rng.choice(_DISABILITIES)
        disability = {"disability_code": code, "disability_status": "Y", "disability_type": kind}
    role = {
        "credentials": {"district_username": f"{_slug(first)}{_slug(last)[:1]}{sis_id[-3:]}"},
        "dob": f"{dob.month}/{dob.day}/{dob.year}",
        "enrollments": [],
        "gender": sex,
        "grade": grade,
        "graduation_year": "" if number is None else str(
            school_year + 1 + 12 - max(number, 0) + (1 if number < 0 else 0)),
        "hispanic_ethnicity": _pick(rng, _HISPANIC_W),
        "location": {
            "address": f"{rng.randrange(1, 9999)} {_pick(rng, _LAST)} "
                       f"{rng.choice(_STREET_SUFFIXES)}",
            "city": town.get("city", ""),
            "state": town.get("state", ""),
            "zip": town.get("zip", ""),
        },
        "race": _pick(rng, _RACES_W),
        "school": school["id"],
        "schools": [school["id"]],
        "sis_id": sis_id,
        "state_id": str(1_000_000_000 + int(student_id[-8:], 16) % 9_000_000_000),
        "student_number": sis_id,
        "ell_status": ("Y" if rng.random() < 0.6 else "N") if language != "English" else "N",
        "frl_status": _pick(rng, _FRL_W),
        "iep_status": iep,
        "home_language": language,
        "home_language_code": language_code,
        "gifted_status": _pick(rng, _GIFTED_W),
        "section_504_status": _pick(rng, _504_W),
        "disability": disability,
        "ext": {"birth_country": _pick(rng, _BIRTH_COUNTRIES_W),
                "military_connected": "Y" if rng.random() < 0.04 else "N"},
    }
    body: dict = {"id": student_id}
    if email_domain and not (grade in YOUNG_GRADES and rng.random() < RATES["young_no_email"]):
        body["email"] = f"{_slug(first)}.{_slug(last)}{sis_id[-3:]}@{email_domain}"
    body["name"] = {"first": first, "middle": middle, "last": last}
    body["roles"] = {"student": role}
    body["lms_status"] = {"synced_in_lms": False}
    return body


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
    """Plan a district of ``students`` students (1 to 200,000; meant for 500 and up).

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
    plan = _Plan(seed=seed, students=students, name=name, state=state, messiness=messiness,
                 single_school=single_school, with_nces=with_nces, with_mdr=with_mdr,
                 lms_type=lms_type, school_year=school_year, sensitive_fields=sensitive_fields)
    return GeneratedDistrict(
        id=plan.district_id, name=plan.name, state=plan.state, seed=seed, messiness=messiness,
        lms_type=lms_type, data=plan.district_data(), counts=plan.counts(), _plan=plan,
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
        name=generated.name, district_id=generated.id, data=generated.data, sharing=sharing,
        events_enabled=events_enabled, lms_type=generated.lms_type, lms_state=lms_state,
    )
    services.bulk_load(district=district, items=generated.records())
    return district


def district_counts(district: SandboxDistrict) -> dict:
    """What a loaded district holds, counted in the database (roles counted per role)."""
    by_type = dict(
        SandboxRecord.objects.filter(district=district)
        .values_list("record_type").annotate(n=Count("pk")).order_by()
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


LMS_MIX = (LmsType.CANVAS, LmsType.SCHOOLOGY, LmsType.GOOGLE_CLASSROOM, LmsType.NONE)


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
    loaded again: it is reported with ``"status": "existing"``.
    """
    started = time.monotonic()
    if reset:
        services.reset_sandbox()
    report: list[dict] = []
    if demo:
        district, created = demo_module.load_demo()
        report.append(_report_entry(district, created=created, source="demo", seconds=None))
    jobs: list[dict] = []
    for i in range(districts):
        jobs.append({
            "seed": seed if i == 0 else derive_seed(seed, f"district-{i}"),
            "lms_type": (lms if lms is not None else LMS_MIX[i % len(LMS_MIX)]),
            "with_nces": (True, False)[i] if i < 2 else None,
            "with_mdr": (True, False)[i] if i < 2 else None,
            "sharing": Sharing.DISTRICT,
            "events": events,
        })
    if same_name_other_state:
        jobs.append({"seed": derive_seed(seed, "same-name"), "lms_type": lms or "", "twin_of": 0,
                     "sharing": Sharing.DISTRICT, "events": events,
                     "with_nces": True, "with_mdr": None})
    if library:
        jobs.append({"seed": derive_seed(seed, "library"), "lms_type": "",
                     "sharing": Sharing.LIBRARY, "events": False,
                     "with_nces": None, "with_mdr": None})
    first: GeneratedDistrict | None = None
    for job in jobs:
        t0 = time.monotonic()
        name = state = None
        if "twin_of" in job:
            base = first or generate_district(seed=seed, students=min(students, 500),
                                              messiness=messiness)
            name = base.name
            state = next(s for s in sorted(STATES, key=lambda s: derive_seed(job["seed"], s))
                         if s != base.state)
        generated = generate_district(
            seed=job["seed"], students=students, name=name, state=state, messiness=messiness,
            single_school=single_school, with_nces=job["with_nces"], with_mdr=job["with_mdr"],
            lms_type=job["lms_type"],
        )
        if first is None and "twin_of" not in job and job["sharing"] == Sharing.DISTRICT:
            first = generated
        try:
            district = load_district(generated, sharing=job["sharing"],
                                     events_enabled=job["events"])
            created = True
        except DistrictExists:
            district = SandboxDistrict.objects.get(id=generated.id)
            created = False
        entry = _report_entry(district, created=created, source="generated",
                              seconds=round(time.monotonic() - t0, 2))
        entry.update(seed=job["seed"], us_state=generated.state, messiness=messiness)
        report.append(entry)
    app = services.get_application()
    base_url = settings.APP_BASE_URL
    return {
        "districts": report,
        "reset": reset,
        "seconds": round(time.monotonic() - started, 2),
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
