"""A Clever Library teacher's sections over time (``single.provision_library_roster``): at each
Library sign-in the sections the teacher no longer shares are archived (soft, memberships gone,
as the sync archives a section), a section shared again comes back on the same row, and a
section another Library teacher still shares stays live.

The teacher's token is a real sandbox Library token; every request goes to the sandbox in-process.
"""

from __future__ import annotations

import pytest

from accounts.models import User
from clever.client import CleverClient
from districts.models import District
from rostering.models import Person, Section, SectionMembership
from rostering.services import single
from sandbox import services as sandbox
from sandbox.ids import new_id
from sandbox.models import Sharing, TokenKind
from tests.sso.conftest import user_record


@pytest.fixture
def shelbyville(db, sandbox_app):
    """A Library district: Ada teaches Math (Bo, Cy) and Art (Di) alone, and Science (Ed) with
    Ben; Cal is listed on Music with Ada but never signed in through Library."""
    sd = sandbox.create_district(name="Shelbyville Schools", sharing=Sharing.LIBRARY)
    school = sandbox.put_record(
        district=sd, record_type="schools", data={"id": new_id(), "name": "Shelbyville Elementary"}
    )["id"]

    def teacher(first, last):
        return user_record(
            sd, first=first, last=last, roles={"teacher": {"school": school, "schools": [school]}}
        )

    def student(first, last):
        return user_record(
            sd,
            first=first,
            last=last,
            roles={"student": {"school": school, "schools": [school], "grade": "3"}},
        )

    people = {
        "ada": teacher("Ada", "Lovelace"),
        "ben": teacher("Ben", "Franklin"),
        "cal": teacher("Cal", "Ripken"),
        "bo": student("Bo", "Peep"),
        "cy": student("Cy", "Young"),
        "di": student("Di", "Other"),
        "ed": student("Ed", "Sheeran"),
        "fay": student("Fay", "Wray"),
    }

    def section(name, teachers, students):
        return sandbox.put_record(
            district=sd,
            record_type="sections",
            data={
                "id": new_id(),
                "name": name,
                "school": school,
                "teacher": people[teachers[0]]["id"],
                "teachers": [people[t]["id"] for t in teachers],
                "students": [people[s]["id"] for s in students],
            },
        )

    sections = {
        "math": section("Math", ["ada"], ["bo", "cy"]),
        "art": section("Art", ["ada"], ["di"]),
        "science": section("Science", ["ada", "ben"], ["ed"]),
        "music": section("Music", ["ada", "cal"], ["fay"]),
    }
    district = District.objects.create(
        clever_id=sd.id, name=sd.name, sync_enabled=False, events_enabled=False, library_only=True
    )
    return sd, district, people, sections


def sign_in(sd, district, record) -> dict:
    """What a Library sign-in of ``record``'s teacher does to the mirror (with their own token),
    and the account their first sign-in gives them."""
    token = sandbox.issue_token(district=sd, kind=TokenKind.TEACHER, user_id=record["id"])
    with CleverClient(token.access_token, max_retries=0) as client:
        counts = single.provision_library_roster(district=district, teacher_record=record, client=client)
    teacher = Person.objects.get(district=district, clever_id=record["id"])
    if teacher.user_id is None:
        single.create_account(person=teacher, organization=None)
    return counts


def stop_teaching(section: dict, *, teachers: list[dict]) -> None:
    """The section's teachers in Clever are now ``teachers`` (a teacher left it, or unshared it)."""
    sandbox.update_record(
        clever_id=section["id"],
        changes={"teacher": teachers[0]["id"] if teachers else "", "teachers": [t["id"] for t in teachers]},
    )


def live(district) -> set[str]:
    sections = Section.objects.filter(district=district, archived_at__isnull=True)
    return set(sections.values_list("name", flat=True))


def members(section: Section) -> set[tuple[str, str]]:
    return set(SectionMembership.objects.filter(section=section).values_list("person_clever_id", "role"))


def test_unshared_sections_are_archived_at_the_next_sign_in_and_come_back_on_the_same_row(shelbyville):
    sd, district, people, sections = shelbyville
    counts = sign_in(sd, district, people["ada"])
    assert counts == {"sections": 4, "students": 5, "archived": 0, "restored": 0}
    art = Section.objects.get(district=district, clever_id=sections["art"]["id"])
    di = Person.objects.get(district=district, clever_id=people["di"]["id"])
    di_account = di.user
    assert di_account.is_active

    sandbox.delete_record(clever_id=sections["art"]["id"])  # Ada no longer shares Art
    counts = sign_in(sd, district, people["ada"])

    assert counts["archived"] == 1 and counts["sections"] == 3
    art.refresh_from_db()
    assert art.archived_at is not None
    assert live(district) == {"Math", "Science", "Music"}
    # Like the sync: an archived section keeps no memberships.
    assert not SectionMembership.objects.filter(section=art).exists()
    # Di is in no live section now: left as she is (the retention purge handles her), account too.
    di.refresh_from_db()
    assert di.archived_at is None and di.user == di_account
    assert User.objects.get(pk=di_account.pk).is_active
    # Signing in again changes nothing more.
    assert sign_in(sd, district, people["ada"])["archived"] == 0

    # Ada shares Art again: the same row comes back, with its members.
    sandbox.put_record(district=sd, record_type="sections", data=sections["art"])
    counts = sign_in(sd, district, people["ada"])

    assert counts["restored"] == 1 and counts["archived"] == 0
    restored = Section.objects.get(district=district, clever_id=sections["art"]["id"])
    assert restored.pk == art.pk and restored.archived_at is None
    assert members(restored) == {(people["ada"]["id"], "teacher"), (people["di"]["id"], "student")}


def test_a_student_only_in_an_unshared_section_gets_no_account(shelbyville):
    sd, district, people, sections = shelbyville
    sign_in(sd, district, people["ada"])
    newcomer = user_record(sd, first="Gus", last="New", roles={"student": {"grade": "3"}})
    sandbox.update_record(
        clever_id=sections["art"]["id"],
        changes={"students": [people["di"]["id"], newcomer["id"]], "teacher": "", "teachers": []},
    )

    counts = sign_in(sd, district, people["ada"])

    assert counts["archived"] == 1
    assert not Person.objects.filter(clever_id=newcomer["id"]).exists()
    assert not User.objects.filter(username=f"clever-{newcomer['id']}").exists()


def test_a_co_taught_section_stays_while_another_library_teacher_shares_it(shelbyville):
    sd, district, people, sections = shelbyville
    sign_in(sd, district, people["ada"])
    sign_in(sd, district, people["ben"])  # Ben signs in through Library too: he shares Science
    science = Section.objects.get(district=district, clever_id=sections["science"]["id"])

    stop_teaching(sections["science"], teachers=[people["ben"]])  # Ada leaves Science
    counts = sign_in(sd, district, people["ada"])

    # Ben still shares it: live, with Ben and its students; Ada is no longer its teacher here.
    assert counts["archived"] == 0
    science.refresh_from_db()
    assert science.archived_at is None
    assert members(science) == {(people["ben"]["id"], "teacher"), (people["ed"]["id"], "student")}

    stop_teaching(sections["science"], teachers=[])  # Ben leaves it as well
    counts = sign_in(sd, district, people["ben"])

    assert counts["archived"] == 1
    science.refresh_from_db()
    assert science.archived_at is not None
    assert not SectionMembership.objects.filter(section=science).exists()


def test_a_section_the_teacher_stops_sharing_is_archived_although_both_still_teach_it(shelbyville):
    """Ben unshared Science (it is no longer in his answer) but Clever still lists him on it:
    Ada's later sign-in, without Science either, archives it: nobody shares it any more."""
    sd, district, people, sections = shelbyville
    sign_in(sd, district, people["ada"])
    sign_in(sd, district, people["ben"])
    science = sandbox.delete_record(clever_id=sections["science"]["id"])  # out of both answers

    assert sign_in(sd, district, people["ben"])["archived"] == 0  # Ada, as far as we know, shares it
    assert "Science" in live(district)
    assert sign_in(sd, district, people["ada"])["archived"] == 1
    assert "Science" not in live(district)
    sandbox.put_record(district=sd, record_type="sections", data=science)
    assert sign_in(sd, district, people["ben"])["restored"] == 1
    assert "Science" in live(district)


def test_a_co_teacher_who_never_signed_in_through_library_keeps_nothing_live(shelbyville):
    sd, district, people, sections = shelbyville
    sign_in(sd, district, people["ada"])
    stop_teaching(sections["music"], teachers=[people["cal"]])  # Ada leaves Music; Cal is not a Library user

    counts = sign_in(sd, district, people["ada"])

    assert counts["archived"] == 1
    assert "Music" not in live(district)


def test_a_district_that_shares_its_data_is_left_to_the_sync(shelbyville):
    sd, district, people, sections = shelbyville
    District.objects.filter(pk=district.pk).update(library_only=False)
    district.refresh_from_db()
    sign_in(sd, district, people["ada"])
    sandbox.delete_record(clever_id=sections["art"]["id"])

    counts = sign_in(sd, district, people["ada"])

    assert counts["archived"] == 0
    assert "Art" in live(district)
