"""Product accounts for the people of districts linked to an organization.

Runs inside the apply transaction of a sync (``provision_district``). For a district whose
``organization`` is set, every live ``Person`` ends with exactly one ``accounts.User``
(``Person.user``): one account per Clever user, whatever their roles, so a teacher who is also
staff and district admin has one account. Unlinked districts provision nobody.

- **Matching seam**: before an account is created, ``find_existing_users(people)`` asks the
  function named by ``settings.ROSTERING_EXISTING_USERS`` (``matching.selectors.
  existing_users_for``: the product accounts matching linked) which people already have one
  in the product. rostering does not import matching (dependencies point the other way).
- **New accounts**: username ``clever-<Clever ID>`` (unique across districts: Clever IDs are),
  ``made_for_clever_id`` (where the account came from: the one thing that marks it as the
  person's own, never the username), first/last name, email only when it contains "@", the
  district's organization, an unusable password (people sign in through Clever). Created
  set-based, so a first sync of a big district does not build 100,000 model instances.
- **Re-linking**: a person without an account whose own account exists (the
  mirror was purged and rebuilt, or the district was linked again) gets that account back.
- **Archive and restore**: a person archived by a sync has their account deactivated
  (``is_active=False``; accounts are never deleted), unless another live person (e.g. in
  another district, linked by matching) still uses it; a restored person's account is
  reactivated.
- **Updates**: names and email of accounts made for Clever users follow the
  Clever record; accounts found by matching are left as their owners keep them.

Never logs names or emails.
"""

from __future__ import annotations

from collections.abc import Sequence

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import connection
from django.db.models import Exists, OuterRef, Q
from django.utils.module_loading import import_string

from ..models import Person, StagedRecord
from .staging import quote, table

USERNAME_PREFIX = "clever-"
# An unusable password (Django treats any value starting with "!" as one).
UNUSABLE_PASSWORD = "!"
# What the seam is given of each person (it decides from its own records, by the person's row).
SEAM_FIELDS = ("id", "district", "clever_id")


def username_for(person: Person) -> str:
    return f"{USERNAME_PREFIX}{person.clever_id}"


def find_existing_users(people: Sequence[Person]) -> dict[int, object]:
    """{person.pk: user} for the people who already have a product account, by the answer of
    ``settings.ROSTERING_EXISTING_USERS`` (a dotted path; unset: nobody)."""
    path = settings.ROSTERING_EXISTING_USERS
    if not path or not people:
        return {}
    return import_string(path)(people)


def _user_model():
    return get_user_model()


def deactivate_archived(district_id: int) -> int:
    """Deactivate the accounts of the district's archived people (kept when another live
    person uses the account)."""
    User = _user_model()
    users, people = table(User), table(Person)
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {users} SET is_active = %s WHERE is_active = %s AND id IN ("  # noqa: S608
            f"SELECT p.user_id FROM {people} p WHERE p.district_id = %s "
            f"AND p.archived_at IS NOT NULL AND p.user_id IS NOT NULL) "
            f"AND NOT EXISTS (SELECT 1 FROM {people} q WHERE q.user_id = {users}.id "
            f"AND q.archived_at IS NULL)",
            [False, True, district_id],
        )
        return cursor.rowcount


def reactivate(people) -> int:
    """Reactivate the accounts of ``people`` (a Person queryset) who are live again."""
    User = _user_model()
    return User.objects.filter(
        is_active=False,
        pk__in=people.filter(archived_at__isnull=True, user__isnull=False).values("user_id"),
    ).update(is_active=True)


def refresh_names(run_id: int, district_id: int) -> None:
    """Names and email of the engine's own accounts follow the people the run staged."""
    User = _user_model()
    users, people, staged = table(User), table(Person), table(StagedRecord)
    person_of_user = (
        f"FROM {people} p WHERE p.user_id = {users}.id AND p.district_id = %s "
        f"AND {users}.made_for_clever_id = p.clever_id"
    )
    email = "CASE WHEN p.email LIKE %s THEN SUBSTR(TRIM(p.email), 1, 254) ELSE '' END"
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {users} SET "  # noqa: S608
            f"first_name = COALESCE((SELECT SUBSTR(p.first_name, 1, 150) {person_of_user}), "
            f"first_name), "
            f"last_name = COALESCE((SELECT SUBSTR(p.last_name, 1, 150) {person_of_user}), "
            f"last_name), "
            f"email = COALESCE((SELECT {email} {person_of_user}), email) "
            f"WHERE id IN (SELECT p.user_id FROM {people} p JOIN {staged} s "
            f"ON p.district_id = %s AND p.clever_id = s.clever_id "
            f"WHERE s.run_id = %s AND s.record_type = %s AND s.action = %s "
            f"AND p.user_id IS NOT NULL) AND made_for_clever_id <> %s",
            [
                district_id,
                district_id,
                "%@%",
                district_id,
                district_id,
                run_id,
                "users",
                StagedRecord.Action.UPSERT,
                "",
            ],
        )


def _link_own_accounts(cursor, district_id: int) -> int:
    """Point the district's live people without an account at the account made for them, when
    it exists."""
    User = _user_model()
    users, people = table(User), table(Person)
    cursor.execute(
        f"UPDATE {people} SET user_id = (SELECT u.id FROM {users} u "  # noqa: S608
        f"WHERE u.made_for_clever_id = {people}.clever_id) "
        f"WHERE {people}.district_id = %s AND {people}.archived_at IS NULL "
        f"AND {people}.user_id IS NULL AND EXISTS (SELECT 1 FROM {users} u "
        f"WHERE u.made_for_clever_id = {people}.clever_id)",
        [district_id],
    )
    return cursor.rowcount


def _reactivate_relinkable(cursor, district_id: int) -> int:
    """Reactivate the inactive accounts ``_link_own_accounts`` is about to give back to live
    people (their district left, was purged, and shares again)."""
    User = _user_model()
    users, people = table(User), table(Person)
    cursor.execute(
        f"UPDATE {users} SET is_active = %s WHERE is_active = %s "  # noqa: S608
        f"AND made_for_clever_id <> %s AND made_for_clever_id IN ("
        f"SELECT p.clever_id FROM {people} p WHERE p.district_id = %s "
        f"AND p.archived_at IS NULL AND p.user_id IS NULL)",
        [True, False, "", district_id],
    )
    return cursor.rowcount


def _create_accounts(cursor, district_id: int, organization_id: int, now) -> int:
    """One account per live person of the district still without one (set-based). A
    ``clever-<id>`` username already taken is left alone (``ON CONFLICT DO NOTHING``; the link
    to own accounts that follows attaches it): no anti-join against the table being filled."""
    User = _user_model()
    explicit = {
        "password": ("%s", [UNUSABLE_PASSWORD]),
        "username": ("%s || p.clever_id", [USERNAME_PREFIX]),
        "made_for_clever_id": ("p.clever_id", []),
        "first_name": ("SUBSTR(p.first_name, 1, 150)", []),
        "last_name": ("SUBSTR(p.last_name, 1, 150)", []),
        "email": ("CASE WHEN p.email LIKE %s THEN SUBSTR(TRIM(p.email), 1, 254) ELSE '' END", ["%@%"]),
        "is_active": ("%s", [True]),
        "date_joined": ("%s", [now]),
        "organization": ("%s", [organization_id]),
    }
    names, values, params = [], [], []
    for field in User._meta.concrete_fields:
        if field.primary_key:
            continue
        names.append(quote(field.column))
        if field.name in explicit:
            sql, extra = explicit[field.name]
        else:
            sql, extra = "%s", [field.get_db_prep_save(field.get_default(), connection)]
        values.append(sql)
        params.extend(extra)
    username = quote(User._meta.get_field("username").column)
    cursor.execute(
        f"INSERT INTO {table(User)} ({', '.join(names)}) "  # noqa: S608
        f"SELECT {', '.join(values)} FROM {table(Person)} p WHERE p.district_id = %s "
        f"AND p.archived_at IS NULL AND p.user_id IS NULL "
        f"ON CONFLICT ({username}) DO NOTHING",
        [*params, district_id],
    )
    return cursor.rowcount


def provision_district(*, district, run_id: int, restored_ids: Sequence[int], now) -> dict:
    """Bring the accounts of a linked district's people in line with the mirror (call inside
    the apply transaction, after the mirror was written)."""
    stats = {"created": 0, "linked": 0, "matched": 0, "deactivated": 0, "reactivated": 0}
    if not district.organization_id:
        return stats
    stats["deactivated"] = deactivate_archived(district.pk)
    stats["reactivated"] = reactivate(Person.objects.filter(pk__in=list(restored_ids)))
    # The matching seam first (its answer wins over an old own account), asked about
    # every person without an account.
    unprovisioned = (
        Person.objects.filter(district_id=district.pk, archived_at__isnull=True, user__isnull=True)
        .only(*SEAM_FIELDS)
        .order_by("pk")
    )
    matched: list[Person] = []
    batch: list[Person] = []

    def flush():
        found = find_existing_users(batch)
        for person in batch:
            if found.get(person.pk) is not None:
                person.user = found[person.pk]
                matched.append(person)
        batch.clear()

    for person in unprovisioned.iterator(chunk_size=2000):
        batch.append(person)
        if len(batch) >= 2000:
            flush()
    flush()
    Person.objects.bulk_update(matched, ["user"], batch_size=500)
    stats["matched"] = len(matched)
    with connection.cursor() as cursor:
        stats["reactivated"] += _reactivate_relinkable(cursor, district.pk)
        stats["linked"] = _link_own_accounts(cursor, district.pk)
        stats["created"] = _create_accounts(cursor, district.pk, district.organization_id, now)
        _link_own_accounts(cursor, district.pk)
    # After the links: an account found again (a purged district that came
    # back) is filled from Clever like the others.
    refresh_names(run_id, district.pk)
    return stats


def _in_use_elsewhere(district_id: int) -> Exists:
    # NOT EXISTS on the indexed user_id: a NOT IN list of every other district's live people
    # would be checked again per account once it outgrows PostgreSQL's work_mem (and one NULL
    # in it would make it match nothing).
    return Exists(
        Person.objects.filter(user_id=OuterRef("pk"), archived_at__isnull=True).exclude(
            district_id=district_id
        )
    )


def deactivate_people(district_id: int) -> int:
    """Deactivate every account of a district's people (used by the purge), except accounts a
    live person of another district still uses."""
    User = _user_model()
    people = Person.objects.filter(district_id=district_id, user__isnull=False)
    return (
        User.objects.filter(Q(pk__in=people.values("user_id")), is_active=True)
        .exclude(_in_use_elsewhere(district_id))
        .update(is_active=False)
    )


# What an account made for a Clever person holds about them (accounts.User): emptied by a purge.
PERSONAL_FIELDS = {
    "first_name": "",
    "last_name": "",
    "email": "",
    "sis_id": "",
    "student_number": "",
    "state_id": "",
    "teacher_number": "",
    "staff_id": "",
    "grade": "",
    "date_of_birth": None,
    "school": None,
}


def accounts_made_for_people(district_id: int):
    """The accounts made for the district's people (by the engine or a first Clever sign-in),
    except those a live person of another district uses."""
    User = _user_model()
    people = Person.objects.filter(district_id=district_id, user__isnull=False)
    return (
        User.objects.filter(pk__in=people.values("user_id"))
        .exclude(made_for_clever_id="")
        .exclude(_in_use_elsewhere(district_id))
    )


def anonymize_accounts(district_id: int) -> int:
    """Empty the personal data of the accounts made for the district's people (the purge): the
    account stays, inactive, named ``clever-<Clever ID>`` only, so what refers to it still does
    and a person who returns gets the same account back (names refilled by their next sync).
    Accounts the product had before Clever keep their own data (they are the product's records,
    never filled from Clever: see ``refresh_names``)."""
    return accounts_made_for_people(district_id).update(**PERSONAL_FIELDS, is_active=False)
