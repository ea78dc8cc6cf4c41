"""Generated sandbox districts: sized, deterministic, and as messy as real districts are.

``districts.generate_district(seed=..., students=...)`` plans a district (schools, two semester
terms, courses, sections, students, teachers, staff, district admins, contacts) and returns a
``GeneratedDistrict``. Its records are Clever v3.1 bodies, with IDs from ``SeededIds`` that
ascend in creation order: schools, terms, courses, users (students, then adults, then contacts),
sections. The same seed and options give the same records, byte for byte, in any process
(nothing depends on set order or the clock). The Clever dicts are rendered one at a time when
``records()`` is iterated, so ``load_district`` streams them into ``services.bulk_load`` without
holding 100,000 nested dicts in memory.

Messiness scales the rate of each kind of real-district mess (``tables.RATES`` holds the rates at
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

Modules:
- ``tables``: the value tables drawn from (rates of mess, grades, states, names, demographic
  mixes, courses, titles) and the helpers that draw from them;
- ``people``: one person's details drawn the same way everywhere, and ``student_record`` (a new
  student for the roster changes of ``sandbox.roster``);
- ``plan``: ``Plan``, the compact plan of a district (schools, terms, courses, students and
  families, adults, sections and enrollments, contacts, IDs);
- ``render``: a plan as Clever v3.1 bodies, one record at a time;
- ``districts``: ``generate_district``, ``load_district``, ``district_counts``;
- ``seeding``: ``seed_sandbox``, what ``manage.py sandbox_seed`` does.
"""
