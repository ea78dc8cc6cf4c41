"""The plan of a generated district: who and what it holds, before any Clever record exists.

The plan is compact (small slotted objects, integer indices); ``render`` turns it into Clever
dicts one at a time. Every draw comes from the plan's seeded ``rng`` (or a per-object seed), in
a fixed order, so the same seed and options give the same plan in any process.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from ..ids import SeededIds
from ..services import iso
from .people import birth_date, middle_name
from .tables import (
    ADMIN_TITLES,
    APOSTROPHE_FIRST,
    APOSTROPHE_SURNAMES,
    CO_TEACHER_COUNTS,
    COMMON_SURNAMES,
    DISTRICT_STAFF_TITLES,
    ELEMENTARY_COURSES,
    FAMILY_SIZES,
    FIRST_NAMES,
    GRADE_NUMBER,
    GRADES_ELEMENTARY,
    GRADES_HIGH,
    GRADES_MIDDLE,
    HIGH_COURSES,
    HYPHEN_FIRST,
    LAST_NAMES,
    LEVEL_SUFFIXES,
    LOGIN_METHODS,
    MIDDLE_COURSES,
    NICKNAME_NAMES,
    NICKNAMES,
    NO_SECTION_TEACHER_TITLES,
    NON_ASCII_FIRST,
    NON_ASCII_SURNAMES,
    RATES,
    SCHOOL_NAMES,
    SIS_TYPES,
    SPACED_SURNAMES,
    STAFF_TITLES,
    STATE_ZIP_RANGES,
    STATES,
    TOWNS,
    ascii_fold,
    derive_seed,
    grade_label,
    pick,
    slug,
    weighted,
)

STUDENTS_PER_SCHOOL = 600
STUDENTS_PER_TEACHER = 24
STUDENTS_PER_SECTION = 25
SECTIONS_PER_STUDENT = 5


@dataclass(slots=True)
class School:
    index: int
    level: str
    grades: tuple[str, ...]
    name: str
    seed: int
    id: str = ""
    principal: int | None = None  # adult index


@dataclass(slots=True)
class Student:
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
class Adult:
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
class Contact:
    first: str
    last: str
    sex: str
    students: list[int]
    seed: int
    teacher: int | None = None  # adult index when this parent is also a teacher
    id: str = ""


@dataclass(slots=True)
class Section:
    school: int
    grade: str
    course: int
    term: int
    period: str
    seed: int
    teachers: list[int] = field(default_factory=list)  # adult indices; [0] is the primary
    students: list[int] = field(default_factory=list)  # student indices
    id: str = ""


def _school_levels(count: int) -> list[tuple[str, tuple[str, ...]]]:
    """(level, grades) of each of ``count`` schools: one K-12, a K-5 and a 6-12, or a mix."""
    if count == 1:
        return [("k12", GRADES_ELEMENTARY + GRADES_MIDDLE + GRADES_HIGH)]
    if count == 2:
        return [("elementary", GRADES_ELEMENTARY), ("secondary", GRADES_MIDDLE + GRADES_HIGH)]
    high = max(1, round(count * 4 / 14))
    middle = max(1, round(count * 3 / 14))
    elementary = max(1, count - high - middle)
    return (
        [("elementary", GRADES_ELEMENTARY)] * elementary
        + [("middle", GRADES_MIDDLE)] * middle
        + [("high", GRADES_HIGH)] * high
    )


def _grade_sort(grade: str) -> int:
    return GRADE_NUMBER.get(grade, 99)


class Plan:
    def __init__(
        self,
        *,
        seed,
        students,
        name,
        state,
        messiness,
        single_school,
        with_nces,
        with_mdr,
        lms_type,
        school_year,
        sensitive_fields,
    ):
        self.rng = rng = random.Random(seed)
        self.m = messiness
        self.rates = {kind: min(1.0, rate * messiness) for kind, rate in RATES.items()}
        self.n = students
        self.school_year = school_year
        self.lms_type = lms_type
        self.sensitive_fields = sensitive_fields
        self.start = 1_751_000_000 + rng.randrange(4_000_000)  # July-August 2025
        self.created = iso(datetime.fromtimestamp(self.start, tz=UTC))
        self.ids = SeededIds(seed, self.start)
        # Pre-v3 role IDs (legacy_id) are older ObjectIDs from another machine.
        self.legacy_ids = SeededIds(derive_seed(seed, "legacy"), self.start - 5 * 365 * 86400)
        self._plan_district(name=name, state=state, with_nces=with_nces, with_mdr=with_mdr)
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

    def _plan_district(self, *, name, state, with_nces, with_mdr) -> None:
        """Where the district is, its name, email domains and public IDs (NCES, MDR)."""
        rng = self.rng
        self.state = state or rng.choice(sorted(STATES))
        self.fips, suffix = STATES[self.state]
        self.town = rng.choice(TOWNS)
        if name:
            # Schools sit in the town the district is named after, when it names one.
            self.town = next((town for town in TOWNS if name.startswith(town)), self.town)
        self.name = name or f"{self.town} {suffix}"
        domain_slug = slug(self.name.split(" ")[0]) + "".join(
            w[0].lower() for w in ascii_fold(self.name).split()[1:] if w[:1].isalpha()
        )
        self.domain = f"{domain_slug}-{self.state.lower()}.example.org"
        self.student_domain = f"students.{self.domain}"
        self.nces_id = (
            f"{self.fips}{rng.randrange(100_000):05d}"
            if (rng.random() < 0.6 if with_nces is None else with_nces)
            else ""
        )
        self.mdr_number = (
            f"{rng.randrange(10**7, 10**8)}"
            if (rng.random() < 0.45 if with_mdr is None else with_mdr)
            else ""
        )
        zips = STATE_ZIP_RANGES.get(self.state, (10001, 99950))
        self.zip_base = rng.randrange(zips[0], max(zips[0] + 1, zips[1] - 60))

    def rate(self, kind: str) -> float:
        return self.rates[kind]

    def chance(self, kind: str, rng: random.Random | None = None) -> bool:
        return (rng or self.rng).random() < self.rates[kind]

    # -- names

    def surname(self, rng: random.Random) -> str:
        roll = rng.random()
        for kind, pool in (
            ("apostrophe", APOSTROPHE_SURNAMES),
            ("non_ascii", NON_ASCII_SURNAMES),
            ("spaced_surname", SPACED_SURNAMES),
            ("common_surname", COMMON_SURNAMES),
        ):
            rate = self.rate(kind)
            if roll < rate:
                return rng.choice(pool)
            roll -= rate
        if roll < self.rate("hyphen"):
            return f"{pick(rng, LAST_NAMES)}-{pick(rng, LAST_NAMES)}"
        return pick(rng, LAST_NAMES)

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
        return pick(rng, FIRST_NAMES[sex])

    def adult_email(self, rng: random.Random, first: str, last: str) -> str | None:
        if self.chance("older_no_email", rng):
            return None
        given = first
        if first in NICKNAMES and self.chance("nickname", rng):
            given = rng.choice(NICKNAMES[first])
        local = f"{slug(given)}.{slug(last)}"
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
            return f"{local.title()}@{domain.upper()}" if rng.random() < 0.5 else f" {email} "
        return email

    # -- schools, terms, courses

    def _plan_schools(self, single_school: bool) -> None:
        count = 1 if single_school else max(1, round(self.n / STUDENTS_PER_SCHOOL))
        used: set[str] = set()
        self.schools: list[School] = []
        for index, (level, grades) in enumerate(_school_levels(count)):
            name = self._school_name(level, index, used, only_school=count == 1)
            used.add(name)
            self.schools.append(
                School(index=index, level=level, grades=grades, name=name, seed=self.rng.getrandbits(64))
            )
        self.schools_by_grade: dict[str, list[int]] = {}
        for school in self.schools:
            for grade in school.grades:
                self.schools_by_grade.setdefault(grade, []).append(school.index)
        self.grade_table = weighted(
            (grade, 0.4 if grade == "PreKindergarten" else 1.0) for grade in self.schools_by_grade
        )

    def _school_name(self, level: str, index: int, used: set[str], *, only_school: bool) -> str:
        """A name not in ``used``: a namesake and a level suffix (the town's, for a lone K-12)."""
        rng = self.rng
        name = ""
        for attempt in range(50):
            base = rng.choice(SCHOOL_NAMES)
            if attempt > 20:
                base = f"{rng.choice(('North', 'South', 'East', 'West', 'New'))} {base}"
            name = f"{base} {rng.choice(LEVEL_SUFFIXES[level])}"
            if level == "k12" and only_school:
                name = f"{self.town} {rng.choice(LEVEL_SUFFIXES[level])}"
            if name not in used:
                return name
        return f"{name} {index + 1}"

    def _plan_terms_and_courses(self) -> None:
        y = self.school_year
        self.terms = [
            (
                f"Fall {y}" if self.rng.random() < 0.5 else f"Semester 1 {y}-{(y + 1) % 100:02d}",
                date(y, 8, 18),
                date(y, 12, 19),
            ),
            (
                f"Spring {y + 1}" if self.rng.random() < 0.5 else f"Semester 2 {y}-{(y + 1) % 100:02d}",
                date(y + 1, 1, 6),
                date(y + 1, 6, 5),
            ),
        ]
        self.term_alt_format = [self.chance("alt_term_date") for _ in self.terms]
        grades_present = {g for s in self.schools for g in s.grades}
        self.courses: list[tuple[str, str, str]] = []  # (name, subject, number)
        self.courses_by_grade: dict[str, list[int]] = {}
        for grade in GRADES_ELEMENTARY + GRADES_MIDDLE + GRADES_HIGH:
            if grade not in grades_present:
                continue
            if grade in GRADES_ELEMENTARY:
                catalog = [(n.format(g=grade_label(grade)), s) for n, s in ELEMENTARY_COURSES]
            elif grade in GRADES_MIDDLE:
                catalog = [(n.format(n=grade), s) for n, s in MIDDLE_COURSES]
            else:
                catalog = list(HIGH_COURSES[grade])
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
        grade = pick(rng, self.grade_table)
        return grade, rng.choice(self.schools_by_grade[grade])

    def _dob(self, rng: random.Random, grade: str) -> date | None:
        if self.chance("missing_dob", rng):
            return None
        age_offset = rng.randrange(9, 15) if grade == "Ungraded" else GRADE_NUMBER[grade]
        if self.chance("held_back", rng):
            age_offset += 1
        return birth_date(rng, self.school_year, age_offset)

    def _plan_students(self) -> None:
        rng = self.rng
        self.students: list[Student] = []
        self.families: list[list[int]] = []
        twins_made = False
        while len(self.students) < self.n:
            remaining = self.n - len(self.students)
            # Any mess at all guarantees one pair: every run of families passes through 2-4 left.
            twins = remaining >= 2 and (
                self.chance("twins") or (remaining <= 4 and not twins_made and self.m > 0)
            )
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
                    members.append(self._add_student(first, sex, family_last, grade, dob, school, twin=True))
            else:
                size = min(remaining, pick(rng, FAMILY_SIZES))
                for _ in range(size):
                    sex = rng.choice("MF")
                    last = family_last if rng.random() < 0.9 else self.surname(rng)
                    grade, school = self._grade_and_school(rng)
                    members.append(
                        self._add_student(
                            self.first_name(rng, sex), sex, last, grade, self._dob(rng, grade), school
                        )
                    )
            self.families.append(members)
        # Students enrolled in a second school (a career center, a shared program).
        if len(self.schools) > 1:
            for student in self.students:
                if self.chance("multi_school"):
                    same_level = [
                        s.index
                        for s in self.schools
                        if s.index != student.school and student.grade in s.grades
                    ]
                    others = same_level or [s.index for s in self.schools if s.index != student.school]
                    student.other_school = rng.choice(others)

    def _add_student(self, first, sex, last, grade, dob, school, twin=False) -> int:
        self.students.append(
            Student(
                first=first,
                middle=middle_name(self.rng, sex),
                last=last,
                sex=sex,
                grade=grade,
                dob=dob,
                school=school,
                seed=self.rng.getrandbits(64),
                twin=twin,
            )
        )
        return len(self.students) - 1

    # -- adults

    def _new_adult(self, sex: str | None = None) -> Adult:
        rng = self.rng
        sex = sex or rng.choice("MF")
        first, last = self.first_name(rng, sex), self.surname(rng)
        adult = Adult(first=first, middle=middle_name(rng, sex), last=last, sex=sex, seed=rng.getrandbits(64))
        adult.email = self.adult_email(rng, first, last)
        self.adults.append(adult)
        return adult

    def _plan_adults(self) -> None:
        self.adults: list[Adult] = []
        self.school_teachers: list[list[int]] = [[] for _ in self.schools]
        self._plan_district_admins()
        self._plan_district_office()
        self._plan_school_adults()
        teachers = [i for i, a in enumerate(self.adults) if a.teacher_schools and a.admin_title is None]
        self._plan_teachers_who_are_staff(teachers)
        self._plan_itinerant_teachers(teachers)

    def _plan_district_admins(self) -> None:
        # With any mess, the first one also teaches and is staff at a school (a small district's
        # superintendent), the second one is also district-office staff.
        admin_count = 1 if self.n < 5_000 else (2 if self.n < 50_000 else 3)
        if self.m > 0:
            admin_count = max(admin_count, 2)
        admins = [self._new_adult() for _ in range(admin_count)]
        for i, admin in enumerate(admins):
            admin.admin_title = ADMIN_TITLES[i % len(ADMIN_TITLES)]
        if self.m > 0:
            admins[0].teacher_schools = [0]
            admins[0].staff = ("Curriculum Lead", "Administration", [], [0])
            self.school_teachers[0].append(0)  # admins are the first adults
            admins[1].staff = ("District Office", "Administration", [], [s.index for s in self.schools])

    def _plan_district_office(self) -> None:
        for i in range(1 + min(4, self.n // 10_000)):
            adult = self._new_adult()
            title, department = DISTRICT_STAFF_TITLES[i % len(DISTRICT_STAFF_TITLES)]
            adult.staff = (title, department, [], [s.index for s in self.schools])

    def _plan_school_adults(self) -> None:
        """Each school's staff (a principal first) and teachers, by its number of students."""
        per_school = [0] * len(self.schools)
        for student in self.students:
            per_school[student.school] += 1
        for school in self.schools:
            count = per_school[school.index]
            principal = self._new_adult()
            principal.staff = ("Principal", "Administration", [], [school.index])
            school.principal = len(self.adults) - 1
            for i in range(count // 250):
                title, department, roles = STAFF_TITLES[i % len(STAFF_TITLES)]
                self._new_adult().staff = (title, department, list(roles), [school.index])
            for _ in range(max(1, round(count / STUDENTS_PER_TEACHER))):
                teacher = self._new_adult()
                teacher.teacher_schools = [school.index]
                self.school_teachers[school.index].append(len(self.adults) - 1)

    def _plan_teachers_who_are_staff(self, teachers: list[int]) -> None:
        """A department chair, a coach: one user, two roles."""
        rng = self.rng
        picks = rng.sample(
            teachers,
            min(
                len(teachers), max(1 if self.m > 0 else 0, round(len(teachers) * self.rate("teacher_staff")))
            ),
        )
        for index in picks:
            adult = self.adults[index]
            title = rng.choice(("Department Chair", "Instructional Coach", "Assistant Principal"))
            adult.staff = (title, "Academics", [], list(adult.teacher_schools))

    def _plan_itinerant_teachers(self, teachers: list[int]) -> None:
        """Teachers (music, art, special education) who teach in a second school."""
        self.itinerant: list[int] = []
        if len(self.schools) < 2:
            return
        all_schools = [s.index for s in self.schools]
        for index in teachers:
            if self.chance("itinerant_teacher"):
                adult = self.adults[index]
                other = self.rng.choice([s for s in all_schools if s != adult.teacher_schools[0]])
                adult.teacher_schools.append(other)
                self.itinerant.append(index)

    # -- sections and enrollments

    def _plan_sections(self) -> None:
        self.sections: list[Section] = []
        by_school_grade: dict[tuple[int, str], list[int]] = {}
        for i, student in enumerate(self.students):
            by_school_grade.setdefault((student.school, student.grade), []).append(i)
        school_sections, group_sections = self._plan_class_groups(by_school_grade)
        self._assign_teachers(school_sections)
        self._ensure_a_co_taught_section()
        self._add_itinerant_sections(school_sections)
        self._enrol_students(by_school_grade, group_sections, school_sections)
        self._title_teachers()

    def _plan_class_groups(self, by_school_grade: dict[tuple[int, str], list[int]]):
        """Sections of each (school, grade): (section indices by school, by (school, grade))."""
        school_sections: list[list[int]] = [[] for _ in self.schools]
        group_sections: dict[tuple[int, str], list[int]] = {}
        for (school, grade), members in sorted(
            by_school_grade.items(), key=lambda kv: (kv[0][0], _grade_sort(kv[0][1]))
        ):
            courses = self.courses_by_grade.get(grade) or [0]
            offset = self.rng.randrange(len(courses))
            made = []
            for k in range(max(1, round(len(members) / STUDENTS_PER_SECTION))):
                section = Section(
                    school=school,
                    grade=grade,
                    course=courses[(offset + k) % len(courses)],
                    term=k % len(self.terms),
                    period=str(1 + k % 8),
                    seed=self.rng.getrandbits(64),
                )
                self.sections.append(section)
                made.append(len(self.sections) - 1)
            group_sections[(school, grade)] = made
            school_sections[school].extend(made)
        return school_sections, group_sections

    def _assign_teachers(self, school_sections: list[list[int]]) -> None:
        """A primary for each section, round robin over the school's teachers; some sections
        are co-taught, a rare one has no teacher at all."""
        rng = self.rng
        for school in self.schools:
            staff = list(self.school_teachers[school.index])
            rng.shuffle(staff)
            for j, section_index in enumerate(school_sections[school.index]):
                section = self.sections[section_index]
                if self.chance("no_teacher_section"):
                    continue
                section.teachers.append(staff[j % len(staff)])
                if len(staff) > 1 and self.chance("co_taught"):
                    extra = pick(rng, CO_TEACHER_COUNTS)
                    others = [t for t in staff if t != section.teachers[0]]
                    section.teachers.extend(rng.sample(others, min(extra, len(others))))

    def _ensure_a_co_taught_section(self) -> None:
        if self.m <= 0 or not self.sections or any(len(s.teachers) > 1 for s in self.sections):
            return
        for section in self.sections:
            others = [t for t in self.school_teachers[section.school] if t not in section.teachers]
            if section.teachers and others:
                section.teachers.append(others[0])
                return

    def _add_itinerant_sections(self, school_sections: list[list[int]]) -> None:
        for index in self.itinerant:
            adult = self.adults[index]
            candidates = school_sections[adult.teacher_schools[1]]
            if candidates:
                section = self.sections[self.rng.choice(candidates)]
                if index not in section.teachers:
                    section.teachers.append(index)

    def _enrol_students(self, by_school_grade, group_sections, school_sections) -> None:
        """About SECTIONS_PER_STUDENT sections each, own grade first."""
        for (school, grade), members in by_school_grade.items():
            own = group_sections[(school, grade)]
            everything = school_sections[school]
            for student_index in members:
                if self.chance("no_sections"):
                    continue
                for section_index in self._sections_for(student_index, own, everything, school_sections):
                    self.sections[section_index].students.append(student_index)

    def _sections_for(
        self, student_index: int, own: list[int], everything: list[int], school_sections: list[list[int]]
    ) -> list[int]:
        rng = self.rng
        chosen = rng.sample(own, min(SECTIONS_PER_STUDENT, len(own)))
        missing = SECTIONS_PER_STUDENT - len(chosen)
        if missing > 0 and len(everything) > len(chosen):
            pool = [s for s in everything if s not in chosen]
            chosen += rng.sample(pool, min(missing, len(pool)))
        student = self.students[student_index]
        if student.other_school is not None and school_sections[student.other_school]:
            chosen.append(rng.choice(school_sections[student.other_school]))
        return chosen

    def _title_teachers(self) -> None:
        """Teacher titles from what they teach."""
        for section in self.sections:
            if not section.teachers:
                continue
            primary = self.adults[section.teachers[0]]
            if not primary.teacher_title:
                if section.grade in GRADES_ELEMENTARY:
                    primary.teacher_title = f"{grade_label(section.grade)} Teacher"
                else:
                    primary.teacher_title = f"{self.courses[section.course][0]} Teacher"
        for adult in self.adults:
            if adult.teacher_schools and not adult.teacher_title:
                adult.teacher_title = self.rng.choice(NO_SECTION_TEACHER_TITLES)

    # -- contacts

    def _plan_contacts(self) -> None:
        rng = self.rng
        self.contacts: list[Contact] = []
        for members in self.families:
            roll = rng.random()
            count = 0 if roll < 0.12 else (1 if roll < 0.55 else 2)
            family_last = self.students[members[0]].last
            for k in range(count):
                sex = "F" if k == 0 else "M"
                last = family_last if rng.random() < 0.8 else self.surname(rng)
                self.contacts.append(
                    Contact(
                        first=self.first_name(rng, sex),
                        last=last,
                        sex=sex,
                        students=list(members),
                        seed=rng.getrandbits(64),
                    )
                )
        # Parents who also teach in the district: same name and email as the teacher's user.
        teachers = [i for i, a in enumerate(self.adults) if a.teacher_schools and a.email]
        if self.contacts and teachers:
            count = max(1 if self.m > 0 else 0, round(len(teachers) * self.rate("parent_is_teacher")))
            for contact, teacher in zip(
                rng.sample(self.contacts, min(count, len(self.contacts))),
                rng.sample(teachers, min(count, len(teachers))),
                strict=False,
            ):
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
            "sis_type": rng.choice(SIS_TYPES),
            "error": "",
            "last_sync": self.created,
            "launch_date": launch.date().isoformat(),
            "login_methods": list(rng.choice(LOGIN_METHODS)),
            "mdr_number": self.mdr_number,
            "nces_id": self.nces_id,
            "portal_url": f"https://clever.com/in/{slug(self.name)[:24]}-{self.state.lower()}",
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
