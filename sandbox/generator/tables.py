"""The value tables a generated district is drawn from, and the helpers that draw from them.

Rates of each kind of mess, grades, US states and towns, school and course names, person names
and nicknames (Faker's census-weighted tables plus hand-made ones), titles, and the demographic
mixes. A weighted table is ``(values, cumulative weights)``, made by ``weighted`` and drawn from
with ``pick``.
"""

from __future__ import annotations

import hashlib
import random
import unicodedata
from bisect import bisect_right
from functools import lru_cache
from itertools import accumulate

from faker.providers.address.en_US import Provider as _FakerAddress
from faker.providers.person.en_US import Provider as _FakerPerson

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
GRADE_NUMBER = {"PreKindergarten": -1, "TransitionalKindergarten": 0, "Kindergarten": 0}
GRADE_NUMBER.update({str(n): n for n in range(1, 14)})

# State -> FIPS code (the first two digits of an NCES LEAID) and a district-name suffix.
STATES = {
    "AL": ("01", "City Schools"),
    "AZ": ("04", "Unified School District"),
    "AR": ("05", "School District"),
    "CA": ("06", "Unified School District"),
    "CO": ("08", "School District"),
    "CT": ("09", "Public Schools"),
    "FL": ("12", "County Schools"),
    "GA": ("13", "County Schools"),
    "IL": ("17", "Community Unit School District"),
    "IN": ("18", "Community Schools"),
    "IA": ("19", "Community School District"),
    "KS": ("20", "Unified School District"),
    "KY": ("21", "Independent Schools"),
    "MA": ("25", "Public Schools"),
    "MI": ("26", "Public Schools"),
    "MN": ("27", "Public Schools"),
    "MO": ("29", "R-XII School District"),
    "NJ": ("34", "Board of Education"),
    "NY": ("36", "Central School District"),
    "NC": ("37", "City Schools"),
    "OH": ("39", "City School District"),
    "OK": ("40", "Public Schools"),
    "OR": ("41", "School District"),
    "PA": ("42", "Area School District"),
    "TN": ("47", "City Schools"),
    "TX": ("48", "Independent School District"),
    "VA": ("51", "Public Schools"),
    "WA": ("53", "School District"),
    "WI": ("55", "School District"),
}
# Town names that exist in many states, so district names repeat across states as they do.
TOWNS = (
    "Springfield",
    "Franklin",
    "Greenville",
    "Clinton",
    "Madison",
    "Salem",
    "Fairview",
    "Georgetown",
    "Arlington",
    "Ashland",
    "Bristol",
    "Dover",
    "Jackson",
    "Lexington",
    "Milton",
    "Newport",
    "Oxford",
    "Riverside",
    "Marion",
    "Burlington",
    "Manchester",
    "Auburn",
    "Chester",
    "Hudson",
    "Kingston",
    "Monroe",
    "Mount Vernon",
    "Plymouth",
    "Troy",
    "Winchester",
)
SCHOOL_NAMES = (
    "Lincoln",
    "Washington",
    "Jefferson",
    "Roosevelt",
    "Kennedy",
    "Oak Grove",
    "Maple Hill",
    "Riverside",
    "Lakeview",
    "Cedar Ridge",
    "Pine Valley",
    "Sunnyside",
    "Hillcrest",
    "Westwood",
    "Eastside",
    "Northside",
    "Central",
    "Martin Luther King Jr.",
    "César Chávez",
    "Sacagawea",
    "Harriet Tubman",
    "Sally Ride",
    "Thurgood Marshall",
    "Roberto Clemente",
    "Frederick Douglass",
    "Amelia Earhart",
    "John Muir",
    "Rachel Carson",
    "Georgia O'Keeffe",
    "Willow Creek",
    "Meadowbrook",
    "Brookside",
    "Highland",
    "Valley View",
    "Prairie Ridge",
    "Stonebridge",
    "Rosa Parks",
    "Ellen Ochoa",
    "Sequoyah",
    "Dolores Huerta",
    "Mae Jemison",
    "Jackie Robinson",
)
LEVEL_SUFFIXES = {
    "elementary": ("Elementary School", "Elementary", "Primary School", "Academy"),
    "middle": ("Middle School", "Intermediate School", "Junior High School"),
    "high": ("High School", "Senior High School", "Early College High School"),
    "secondary": ("Junior/Senior High School", "Secondary School"),
    "k12": ("School", "K-12 Academy", "Community School"),
}

COMMON_SURNAMES = (
    "Smith",
    "Johnson",
    "Williams",
    "Brown",
    "Jones",
    "Garcia",
    "Miller",
    "Davis",
    "Rodriguez",
    "Martinez",
    "Hernandez",
    "Lopez",
    "Nguyen",
    "Lee",
    "Kim",
    "Patel",
)
APOSTROPHE_SURNAMES = (
    "O'Brien",
    "O'Connor",
    "O'Neil",
    "O'Neill",
    "O'Malley",
    "O'Donnell",
    "D'Angelo",
    "D'Amico",
    "D'Souza",
    "O'Hara",
    "N'Diaye",
    "O'Reilly",
)
APOSTROPHE_FIRST = {
    "M": ("D'Andre", "De'Shawn", "Ja'Marcus"),
    "F": ("Ja'Nya", "La'Keisha", "D'Asia", "Ke'Ana"),
}
SPACED_SURNAMES = ("De La Cruz", "Van Der Berg", "St. John", "Del Rosario", "Mc Donald", "Da Silva")
NON_ASCII_SURNAMES = (
    "Nguyễn",
    "Trần",
    "Lê",
    "Phạm",
    "Đặng",
    "Võ",
    "Hernández",
    "Rodríguez",
    "González",
    "Pérez",
    "Sánchez",
    "Gómez",
    "Muñoz",
    "Núñez",
    "Peña",
    "Ibáñez",
    "Méndez",
    "Jiménez",
    "Chávez",
    "Müller",
    "Schröder",
    "Wiśniewski",
    "Dvořák",
    "Çelik",
    "Søndergaard",
    "Yılmaz",  # noqa: RUF001 (Turkish dotless i, on purpose)
)
NON_ASCII_FIRST = {
    "M": (
        "José",
        "André",
        "Jesús",
        "Ramón",
        "Joaquín",
        "Martín",
        "Nicolás",
        "Adrián",
        "Björn",
        "Søren",
        "François",
        "Đức",
        "Iñaki",
        "Noé",
    ),
    "F": (
        "Zoë",
        "Chloé",
        "Renée",
        "Sofía",
        "María",
        "Inés",
        "Amélie",
        "Anaïs",
        "Élodie",
        "Thảo",
        "Łucja",
        "Begoña",
        "Siân",
        "Chiamaka",
    ),
}
HYPHEN_FIRST = {"M": ("Jean-Luc", "Jean-Paul"), "F": ("Mary-Kate", "Anne-Marie", "Ana-Sofia")}
# Common given name -> nicknames people go by (a small, hand-made table).
NICKNAMES = {
    "William": ("Bill", "Will", "Billy", "Liam"),
    "Robert": ("Bob", "Rob", "Bobby"),
    "James": ("Jim", "Jimmy", "Jamie"),
    "John": ("Jack", "Johnny"),
    "Michael": ("Mike", "Mikey"),
    "Richard": ("Rick", "Rich", "Dick"),
    "Joseph": ("Joe", "Joey"),
    "Thomas": ("Tom", "Tommy"),
    "Christopher": ("Chris", "Topher"),
    "Daniel": ("Dan", "Danny"),
    "Matthew": ("Matt",),
    "Anthony": ("Tony",),
    "Nicholas": ("Nick", "Nico"),
    "Benjamin": ("Ben", "Benji"),
    "Samuel": ("Sam", "Sammy"),
    "Jonathan": ("Jon", "Johnny"),
    "Edward": ("Ed", "Eddie", "Ted"),
    "Andrew": ("Andy", "Drew"),
    "Joshua": ("Josh",),
    "Zachary": ("Zach", "Zack"),
    "Alexander": ("Alex", "Xander"),
    "Timothy": ("Tim", "Timmy"),
    "Steven": ("Steve",),
    "Stephen": ("Steve",),
    "Kenneth": ("Ken", "Kenny"),
    "Charles": ("Charlie", "Chuck"),
    "Nathaniel": ("Nate", "Nat"),
    "Theodore": ("Teddy", "Theo"),
    "Gregory": ("Greg",),
    "Jeffrey": ("Jeff",),
    "Raymond": ("Ray",),
    "Ronald": ("Ron", "Ronnie"),
    "Donald": ("Don",),
    "Douglas": ("Doug",),
    "Lawrence": ("Larry",),
    "Gerald": ("Jerry",),
    "Patrick": ("Pat",),
    "Frederick": ("Fred", "Freddie"),
    "Gabriel": ("Gabe",),
    "Elizabeth": ("Liz", "Beth", "Betsy"),
    "Katherine": ("Kate", "Katie", "Kathy"),
    "Catherine": ("Cathy", "Cat"),
    "Jennifer": ("Jen", "Jenny"),
    "Margaret": ("Maggie", "Peggy", "Meg"),
    "Rebecca": ("Becky", "Becca"),
    "Patricia": ("Patty", "Trish"),
    "Susan": ("Sue", "Susie"),
    "Deborah": ("Debbie", "Deb"),
    "Victoria": ("Vicky", "Tori"),
    "Abigail": ("Abby",),
    "Samantha": ("Sam", "Sammie"),
    "Alexandra": ("Alex", "Lexi"),
    "Isabella": ("Bella", "Izzy"),
    "Jacqueline": ("Jackie",),
    "Madison": ("Maddie",),
    "Olivia": ("Liv", "Livvy"),
    "Evelyn": ("Evie",),
    "Josephine": ("Josie",),
    "Penelope": ("Penny",),
    "Christina": ("Chrissy", "Tina"),
    "Kimberly": ("Kim",),
    "Jessica": ("Jess", "Jessie"),
    "Stephanie": ("Steph",),
    "Amanda": ("Mandy",),
    "Cynthia": ("Cindy",),
    "Pamela": ("Pam",),
    "Valerie": ("Val",),
    "Gabrielle": ("Gabby",),
    "Natalie": ("Nat",),
    "Allison": ("Allie",),
}
NICKNAME_NAMES = {
    "M": tuple(n for n in NICKNAMES if n in _FakerPerson.first_names_male),
    "F": tuple(n for n in NICKNAMES if n in _FakerPerson.first_names_female),
}
# State -> (lowest, highest) ZIP code.
STATE_ZIP_RANGES = _FakerAddress.states_postcode


def weighted(pairs) -> tuple[tuple, tuple[float, ...]]:
    """A weighted table from (value, weight) pairs."""
    pairs = list(pairs)
    values = tuple(v for v, _ in pairs)
    return values, tuple(accumulate(w for _, w in pairs))


def pick(rng: random.Random, table: tuple[tuple, tuple[float, ...]]):
    """One value of a weighted table."""
    values, cumulative = table
    return values[min(bisect_right(cumulative, rng.random() * cumulative[-1]), len(values) - 1)]


FIRST_NAMES = {
    "M": weighted(_FakerPerson.first_names_male.items()),
    "F": weighted(_FakerPerson.first_names_female.items()),
}
LAST_NAMES = weighted(_FakerPerson.last_names.items())

HOME_LANGUAGES = weighted(
    (
        (("English", "eng"), 74),
        (("Spanish", "spa"), 16),
        (("Vietnamese", "vie"), 1.5),
        (("Mandarin", "cmn"), 1.2),
        (("Arabic", "ara"), 1.2),
        (("Haitian Creole", "hat"), 0.8),
        (("Somali", "som"), 0.6),
        (("Russian", "rus"), 0.6),
        (("Korean", "kor"), 0.5),
        (("Tagalog", "tgl"), 0.5),
        (("Portuguese", "por"), 0.6),
        (("Hmong", "hmn"), 0.5),
        (("Other", "other"), 1.0),
    )
)
RACES = weighted(
    (
        ("Caucasian", 45),
        ("Black or African American", 15),
        ("Asian", 6),
        ("American Indian", 1),
        ("Hawaiian or Other Pacific Islander", 0.5),
        ("Two or More Races", 5),
        ("Unknown", 3),
        ("", 2),
    )
)
DISABILITIES = (
    ("sld", "Specific learning disability"),
    ("sli", "Speech or language impairment"),
    ("ohi", "Other health impairment"),
    ("aut", "Autism"),
    ("dd", "Developmental delay"),
    ("id", "Intellectual Disability"),
    ("emn", "Emotional disturbance"),
    ("md", "Multiple disabilities"),
    ("hi", "Hearing impairment"),
    ("oi", "Orthopedic impairment"),
    ("vi", "Visual impairment"),
    ("tbi", "Traumatic brain injury"),
    ("db", "Deaf-blindness"),
    ("other", "Other"),
)
RELATIONSHIPS = weighted(
    (("Parent", 80), ("Grandparent", 8), ("Aunt/Uncle", 4), ("Sibling", 2), ("Other", 4), ("", 2))
)
CONTACT_TYPES = weighted(
    (
        ("Parent/Guardian", 55),
        ("Primary", 15),
        ("Secondary", 10),
        ("Emergency", 10),
        ("Family", 5),
        ("Other", 3),
        ("", 2),
    )
)
PHONE_TYPES = weighted((("Cell", 60), ("Home", 25), ("Work", 8), ("Other", 4), ("", 3)))
IEP_STATUSES = weighted((("Y", 14), ("N", 82), ("", 4)))
HISPANIC_ETHNICITIES = weighted((("Y", 27), ("N", 70), ("", 3)))
FRL_STATUSES = weighted((("Free", 38), ("Reduced", 7), ("Paid", 45), ("Other", 2), ("", 8)))
GIFTED_STATUSES = weighted((("Y", 7), ("N", 90), ("", 3)))
SECTION_504_STATUSES = weighted((("Y", 3), ("N", 94), ("", 3)))
# What districts put in a student's ``ext`` (extension fields the SIS sends as it likes).
BIRTH_COUNTRIES = weighted(
    (
        ("United States", 86),
        ("Mexico", 5),
        ("Guatemala", 1.5),
        ("El Salvador", 1.5),
        ("Honduras", 1),
        ("Philippines", 1),
        ("Vietnam", 1),
        ("India", 1),
        ("China", 1),
        ("Ukraine", 1),
    )
)
FAMILY_SIZES = weighted(((1, 62), (2, 28), (3, 10)))
CO_TEACHER_COUNTS = weighted(((1, 70), (2, 20), (3, 10)))
STREET_SUFFIXES = ("Street", "Avenue", "Road", "Lane", "Drive", "Court", "Way", "Boulevard")

SIS_TYPES = ("sftp", "sftp", "powerschool", "infinite_campus", "skyward", "oneroster", "aeries")
LOGIN_METHODS = (
    ["Clever Badges", "Clever Passwords"],
    ["Google", "Clever Badges"],
    ["SAML", "Clever Badges"],
    ["LDAP", "Clever Passwords"],
    ["Clever Passwords"],
    ["Google"],
)
STAFF_TITLES = (
    ("Assistant Principal", "Administration", []),
    ("Counselor", "Counseling", []),
    ("School Secretary", "Office", []),
    ("Librarian", "Library", []),
    ("Technology Coordinator", "Technology", ["School Tech Lead"]),
    ("Nurse", "Health", []),
    ("Instructional Coach", "Curriculum", []),
)
DISTRICT_STAFF_TITLES = (
    ("Director of Curriculum", "Curriculum and Instruction"),
    ("Data Coordinator", "Technology"),
    ("Director of Special Education", "Student Services"),
    ("ELL Coordinator", "Student Services"),
    ("Assessment Coordinator", "Assessment"),
)
ADMIN_TITLES = ("Superintendent", "Director of Technology", "Assistant Superintendent")
NO_SECTION_TEACHER_TITLES = (
    "Substitute Teacher",
    "Interventionist",
    "Special Education Teacher",
    "Reading Specialist",
)

# (name, subject, grades it is for); "{g}" is the grade's display name.
ELEMENTARY_COURSES = (
    ("{g} Homeroom", "homeroom/advisory"),
    ("{g} English Language Arts", "english/language arts"),
    ("{g} Math", "math"),
    ("{g} Science", "science"),
    ("{g} Social Studies", "social studies"),
    ("{g} Art", "arts and music"),
    ("{g} Music", "arts and music"),
    ("{g} Physical Education", "PE and health"),
)
MIDDLE_COURSES = (
    ("Math {n}", "math"),
    ("English Language Arts {n}", "english/language arts"),
    ("Science {n}", "science"),
    ("Social Studies {n}", "social studies"),
    ("Advisory {n}", "homeroom/advisory"),
    ("PE {n}", "PE and health"),
    ("Spanish {n}", "language"),
    ("Band", "arts and music"),
    ("Computer Science Discoveries", "technology and engineering"),
    ("Reading Intervention", "interventions/online learning"),
)
HIGH_COURSES = {
    "9": (
        ("English 9", "english/language arts"),
        ("Algebra I", "math"),
        ("Biology", "science"),
        ("World History", "social studies"),
        ("Spanish I", "language"),
        ("Health", "PE and health"),
        ("Art I", "arts and music"),
        ("Advisory 9", "homeroom/advisory"),
    ),
    "10": (
        ("English 10", "english/language arts"),
        ("Geometry", "math"),
        ("Chemistry", "science"),
        ("World Geography", "social studies"),
        ("Spanish II", "language"),
        ("Engineering Design", "technology and engineering"),
        ("Choir", "arts and music"),
        ("Driver's Education", "other"),
    ),
    "11": (
        ("English 11", "english/language arts"),
        ("Algebra II", "math"),
        ("Physics", "science"),
        ("U.S. History", "social studies"),
        ("French I", "language"),
        ("AP Computer Science A", "technology and engineering"),
        ("PE", "PE and health"),
        ("Credit Recovery", "interventions/online learning"),
    ),
    "12": (
        ("English 12", "english/language arts"),
        ("Precalculus", "math"),
        ("AP Environmental Science", "science"),
        ("Government & Economics", "social studies"),
        ("Spanish III", "language"),
        ("Orchestra", "arts and music"),
        ("Study Hall", "other"),
        ("AP Calculus AB", "math"),
    ),
}

_ASCII_FOLD = str.maketrans(
    {"đ": "d", "Đ": "D", "ø": "o", "Ø": "O", "ł": "l", "Ł": "L", "ß": "ss", "æ": "ae", "ı": "i"}  # noqa: RUF001
)


def ascii_fold(text: str) -> str:
    """What an SIS does to a name when it makes an email or username: José -> Jose."""
    text = unicodedata.normalize("NFKD", text.translate(_ASCII_FOLD))
    return text.encode("ascii", "ignore").decode("ascii")


@lru_cache(maxsize=1 << 16)
def slug(text: str) -> str:
    """A name as letters and digits only, folded to ASCII and lower case."""
    return "".join(c for c in ascii_fold(text).lower() if c.isalnum())


def derive_seed(seed: int, label: str) -> int:
    """A stable sub-seed (Python's ``hash`` of a string changes per process; this does not)."""
    digest = hashlib.sha256(f"{seed}:{label}".encode()).digest()
    return int.from_bytes(digest[:8], "big")


def grade_label(grade: str) -> str:
    if grade == "PreKindergarten":
        return "Pre-K"
    if grade == "Kindergarten":
        return "Kindergarten"
    return f"Grade {grade}"
