"""Launches from the LMS (LMS Connect, LTI 1.3): the claims read in one place and checked as
text an attacker chose (``lms.launch.parse_launch``), where each person lands
(``lms.launch.route``, registered with ``sso.launches``), the course recorded with the teachers
seen launching it, the teacher's set-up of a course made in the LMS (remembered for everyone),
the "not set up yet" page, and support clearing a wrong set-up in the admin.

The router is called as sso calls it: with a signed-in user whose session holds the Clever
identity (its district is the launch's district), after a real sandbox sync of a Canvas class.
"""

from __future__ import annotations

import time
import uuid

import pytest
from allauth.socialaccount.models import SocialAccount
from django.contrib.sessions.backends.db import SessionStore
from django.test import RequestFactory
from django.urls import reverse

from accounts.factories import UserFactory
from core import events
from lms import launch as lms_launch
from lms.factories import AssignmentFactory
from lms.models import CleverAssignment, LmsAudit, LmsCourse
from lms.services.courses import link_course
from lms.services.writes import delete_assignment
from rostering.events import RosterPurging
from rostering.models import Person, Section
from rostering.services.sync import run_sync
from sandbox import services as sbx
from sandbox.ids import new_id
from sandbox.lms import launch as sandbox_launch
from sandbox.models import RecordType, SandboxRecord
from sso import launches
from sso.identity import PROVIDER, CleverIdentity
from sso.selectors import SESSION_CLEVER, SESSION_SIGNED_IN_AT

P = "https://purl.imsglobal.org/spec/lti/claim/"
INSTRUCTOR = "http://purl.imsglobal.org/vocab/lis/v2/membership#Instructor"
LEARNER = "http://purl.imsglobal.org/vocab/lis/v2/membership#Learner"
HOMEROOM = "9f2c" * 10  # a course made in Canvas: Clever knows nothing of it


def claims(
    *,
    role: str | None = "teacher",
    context_id: str = HOMEROOM,
    title: str = "Homeroom 5B",
    section_id: str = "",
    assignment_id: str = "",
    district_id: str = "d" * 24,
    **overrides,
) -> dict:
    """Launch claims as the contract (and the sandbox) names them."""
    custom = {}
    if section_id:
        custom["clever_section_id"] = section_id
    if assignment_id:
        custom["clever_assignment_id"] = assignment_id
    found = {
        f"{P}message_type": "LtiResourceLinkRequest",
        f"{P}version": "1.3.0",
        f"{P}deployment_id": f"{district_id}-canvas",
        f"{P}target_link_uri": "https://app.example.org/accounts/clever/login/callback/",
        f"{P}resource_link": {"id": f"{context_id}-app", "title": "Clever bridge"},
        f"{P}roles": {"teacher": [INSTRUCTOR], "student": [LEARNER], None: []}[role],
        f"{P}context": {"id": context_id, "label": "HR-5B", "title": title},
        f"{P}tool_platform": {
            "guid": f"{district_id}.canvas.sandbox",
            "name": "Canvas",
            "product_family_code": "canvas",
        },
        f"{P}custom": custom,
    }
    found.update({f"{P}{name}": value for name, value in overrides.items()})
    return found


def world_claims(world, **options) -> dict:
    return claims(district_id=world.district.clever_id, **options)


def account(person: Person, username: str = ""):
    """A product account linked to ``person`` (``Person.user``), as a Clever sign-in makes one."""
    user = UserFactory(username=username or f"clever-{person.clever_id}", made_for_clever_id=person.clever_id)
    Person.objects.filter(pk=person.pk).update(user=user)
    return user


def clever_session(session, user, *, clever_id: str, district_id: str, role: str) -> None:
    """What a Clever sign-in leaves in the session (and the Clever link it checks on every request)."""
    SocialAccount.objects.get_or_create(provider=PROVIDER, uid=clever_id, defaults={"user": user})
    identity = CleverIdentity(
        clever_id=clever_id, district_id=district_id, authorized_by="district", roles=(role,)
    )
    session[SESSION_CLEVER] = identity.without_personal_data().extra_data()
    session[SESSION_SIGNED_IN_AT] = time.time()


def launch(client, person: Person, found_claims: dict, *, role: str = "") -> launches.LaunchRoute | None:
    """Sign ``person``'s account in (a Clever session in their district) and route the launch
    as sso does, through ``sso.launches`` (so through the router lms registered)."""
    user = Person.objects.get(pk=person.pk).user
    client.force_login(user)
    session = client.session
    role = role or ("teacher" if person.is_teacher else "student")
    clever_session(
        session, user, clever_id=person.clever_id, district_id=person.district.clever_id, role=role
    )
    request = RequestFactory().get("/")
    request.user = user
    request.session = session
    found = launches.route(request, found_claims)
    session.save()
    return found


def course() -> LmsCourse:
    return LmsCourse.objects.get()


@pytest.fixture
def people(world):
    """Accounts for the teacher and the first two students (the class's other three have none)."""
    account(world.teacher, "tess")
    account(world.students[0])
    account(world.students[1])
    return world


@pytest.fixture
def other_class(world, make_client):
    """A second teacher, Otto Ther, with a Biology class of the world's last two students
    (loaded into the local Clever and synced for real)."""
    teacher_id, section_id = new_id(), new_id()
    school_id = world.section.school_clever_id
    student_ids = [s.clever_id for s in world.students[-2:]]
    sbx.bulk_load(
        district=world.sandbox_district,
        items=[
            (
                "users",
                {
                    "id": teacher_id,
                    "name": {"first": "Otto", "last": "Ther"},
                    "roles": {"teacher": {"school": school_id, "schools": [school_id]}},
                },
            ),
            (
                "sections",
                {
                    "id": section_id,
                    "name": "Biology",
                    "school": school_id,
                    "students": student_ids,
                    "teachers": [teacher_id],
                    "teacher": teacher_id,
                },
            ),
        ],
    )
    run = run_sync(district=world.district, kind="full", client=make_client())
    assert run.status == "succeeded", run.error
    otto = Person.objects.get(district=world.district, clever_id=teacher_id)
    account(otto, "otto")
    return Section.objects.get(district=world.district, clever_id=section_id), otto


def pushed(assignment) -> str:
    """Give ``assignment`` the Clever ID LMS Connect would have returned."""
    clever_id = str(uuid.uuid4())
    CleverAssignment.objects.filter(assignment=assignment).update(clever_id=clever_id, state="linked")
    return clever_id


# --- reading the claims ------------------------------------------------------------------------


def test_a_launch_is_read_from_the_standard_claims_and_clevers_custom_keys():
    section_id, assignment_id = "5" * 24, str(uuid.uuid4())

    found = lms_launch.parse_launch(claims(section_id=section_id, assignment_id=assignment_id.upper()))

    assert found == lms_launch.Launch(
        platform_guid=f"{'d' * 24}.canvas.sandbox",
        platform_name="Canvas",
        product_family="canvas",
        deployment_id=f"{'d' * 24}-canvas",
        context_id=HOMEROOM,
        context_title="Homeroom 5B",
        context_label="HR-5B",
        resource_link_id=f"{HOMEROOM}-app",
        resource_link_title="Clever bridge",
        role="teacher",
        clever_section_id=section_id,
        clever_assignment_id=assignment_id,  # as the app stores it: lower case
    )


def test_anything_but_a_resource_link_launch_is_not_a_launch():
    assert lms_launch.parse_launch({}) is None
    assert lms_launch.parse_launch(claims(message_type="LtiDeepLinkingRequest")) is None
    assert lms_launch.parse_launch(claims(message_type=["LtiResourceLinkRequest"])) is None
    without = claims()
    del without[f"{P}message_type"]
    assert lms_launch.parse_launch(without) is None


def test_missing_claims_and_wrong_types_read_as_absent():
    found = lms_launch.parse_launch(
        {
            f"{P}message_type": "LtiResourceLinkRequest",
            f"{P}deployment_id": 12,
            f"{P}context": ["not", "an", "object"],
            f"{P}resource_link": "link",
            f"{P}roles": INSTRUCTOR,  # a string, not a list
            f"{P}tool_platform": {"guid": {"x": 1}, "name": None, "product_family_code": 7},
            f"{P}custom": {"clever_section_id": 5, "clever_assignment_id": None},
        }
    )
    assert found is not None
    assert (found.deployment_id, found.context_id, found.context_title, found.resource_link_id) == (
        "",
        "",
        "",
        "",
    )
    assert (found.platform_guid, found.platform_name, found.product_family) == ("", "", "")
    assert found.role is None
    assert (found.clever_section_id, found.clever_assignment_id) == ("", "")


def test_long_or_unprintable_ids_are_dropped_never_cut_and_names_are_cleaned_and_cut():
    found = lms_launch.parse_launch(
        claims(
            context={"id": "c" * 256, "title": "  Home\x00room\n\t5B  " + "x" * 400, "label": "\u202eHR"},
            deployment_id="dep\nloyment",
            tool_platform={"guid": "g" * 255, "name": "Canvas" * 20, "product_family_code": "CANVAS"},
        )
    )
    assert found.context_id == ""  # 256 characters: too long for an LTI id, and not cut
    assert found.deployment_id == ""  # a control character
    assert found.platform_guid == "g" * 255
    assert found.context_title.startswith("Home room 5B x") and len(found.context_title) == 255
    assert found.context_label == "HR"  # the direction override is not printable
    assert len(found.platform_name) == 64 and found.product_family == "canvas"
    assert lms_launch.parse_launch(claims(deployment_id=" dé-1 ")).deployment_id == ""  # not ASCII
    assert lms_launch.parse_launch(claims(deployment_id=" d-1 ")).deployment_id == "d-1"


@pytest.mark.parametrize(
    "value",
    ["5" * 23, "5" * 25, "A" * 24, "g" * 24, f" {'5' * 24}", "5" * 23 + "\n", ["5" * 24]],
)
def test_a_clever_section_id_must_be_24_lower_case_hex_digits(value):
    assert lms_launch.parse_launch(claims(custom={"clever_section_id": value})).clever_section_id == ""


@pytest.mark.parametrize(
    "value", ["not-a-uuid", "1" * 37, "{12345678-1234-1234-1234-123456789abc}", "12345678-1234", 42, ""]
)
def test_an_assignment_id_must_be_a_uuid(value):
    assert lms_launch.parse_launch(claims(custom={"clever_assignment_id": value})).clever_assignment_id == ""


@pytest.mark.parametrize(
    ("roles", "role"),
    [
        ([INSTRUCTOR], "teacher"),
        (["http://purl.imsglobal.org/vocab/lis/v2/membership/Instructor#TeachingAssistant"], "teacher"),
        (["http://purl.imsglobal.org/vocab/lis/v2/membership#TeachingAssistant"], "teacher"),
        ([LEARNER], "student"),
        ([LEARNER, INSTRUCTOR], "teacher"),  # teaching outranks learning
        # The course's role first; the institution's only when the course names none.
        ([LEARNER, "http://purl.imsglobal.org/vocab/lis/v2/institution/person#Instructor"], "student"),
        (["http://purl.imsglobal.org/vocab/lis/v2/institution/person#Faculty"], "teacher"),
        (["http://purl.imsglobal.org/vocab/lis/v2/institution/person#Student"], "student"),
        (["http://purl.imsglobal.org/vocab/lis/v2/membership#Mentor"], None),
        (["Instructor", "Learner"], None),  # short names are not IMS role URIs
        ([None, 3, {"role": INSTRUCTOR}], None),
        ([f" {INSTRUCTOR} "], "teacher"),
        ([], None),
    ],
)
def test_roles_are_read_from_ims_role_uris(roles, role):
    assert lms_launch.role_of(roles) == role


def test_only_the_first_fifty_roles_are_read():
    assert lms_launch.role_of(["x"] * 50 + [INSTRUCTOR]) is None


# --- where each person lands ----------------------------------------------------------------------


def test_the_router_is_registered_with_sso():
    assert lms_launch.route in launches._routers


def test_from_an_assignment_its_teacher_lands_on_it_and_a_student_on_their_own_view(people, client):
    world = people
    quiz = AssignmentFactory(section=world.section, title="Fractions quiz", due_at=world.days(3))
    assignment_id = pushed(quiz)
    options = {"section_id": world.section.clever_id, "assignment_id": assignment_id, "title": "Algebra 1"}

    teacher = launch(client, world.teacher, world_claims(world, role="teacher", **options))
    student = launch(client, world.students[0], world_claims(world, role="student", **options))

    assert teacher == launches.LaunchRoute(reverse("lms:assignment", args=[quiz.pk]), "teacher")
    assert student == launches.LaunchRoute(
        reverse("lms:student-assignment", args=[world.section.pk, quiz.pk]), "student"
    )
    assert client.get(student.url).status_code == 200


def test_a_deleted_or_unknown_assignment_falls_through_to_the_class(people, client):
    world = people
    gone = AssignmentFactory(section=world.section, due_at=world.days(3))
    gone_id = pushed(gone)
    delete_assignment(assignment=gone)
    class_page = reverse("lms:student-class", args=[world.section.pk])

    for assignment_id in (gone_id, str(uuid.uuid4())):
        found = launch(
            client,
            world.students[0],
            world_claims(
                world, role="student", section_id=world.section.clever_id, assignment_id=assignment_id
            ),
        )
        assert found == launches.LaunchRoute(class_page, "student")


def test_an_assignment_of_another_class_falls_through_to_the_course(people, other_class, client):
    world = people
    biology, _otto = other_class
    lab = AssignmentFactory(section=biology, due_at=world.days(3))

    found = launch(
        client,
        world.students[0],  # not in Biology
        world_claims(world, role="student", section_id=world.section.clever_id, assignment_id=pushed(lab)),
    )

    assert found.url == reverse("lms:student-class", args=[world.section.pk])


def test_an_assignment_of_another_district_is_not_looked_up(people, lms_world, client):
    world = people
    elsewhere = lms_world(name="Hillside")
    theirs = AssignmentFactory(section=elsewhere.section, due_at=world.days(3))

    found = launch(client, world.teacher, world_claims(world, assignment_id=pushed(theirs)))

    assert found.url == reverse("lms:course-setup", args=[course().pk])  # not their assignment's page


def test_from_a_clever_sections_course_its_teacher_and_students_land_in_the_class(people, client):
    world = people
    options = {"section_id": world.section.clever_id, "title": "Algebra 1", "context_id": "course-1"}

    teacher = launch(client, world.teacher, world_claims(world, role="teacher", **options))
    student = launch(client, world.students[1], world_claims(world, role="student", **options))

    assert teacher == launches.LaunchRoute(reverse("lms:section", args=[world.section.pk]), "teacher")
    assert student == launches.LaunchRoute(reverse("lms:student-class", args=[world.section.pk]), "student")


def test_claims_as_the_local_clever_sends_them_land_in_the_class(people, client):
    world = people
    record = SandboxRecord.objects.get(clever_id=world.students[0].clever_id, record_type=RecordType.USERS)
    algebra = sandbox_launch.courses_of(record)[0]
    sent = sandbox_launch.launch_claims(
        user=record, course=algebra, link=algebra.app_link("Clever bridge"), target_link_uri="https://x/"
    )

    found = launch(client, world.students[0], sent)

    assert found == launches.LaunchRoute(reverse("lms:student-class", args=[world.section.pk]), "student")
    assert course().title == "Algebra 1" and course().clever_section_id == world.section.clever_id


def test_a_teacher_launching_as_a_student_of_their_own_class_is_not_sent_to_the_teachers_page(people, client):
    world = people

    found = launch(
        client, world.teacher, world_claims(world, role="student", section_id=world.section.clever_id)
    )

    assert found == launches.LaunchRoute(reverse("lms:course-not-set-up", args=[course().pk]), "student")


def test_an_unknown_course_asks_its_teacher_and_tells_students_it_is_not_set_up(people, client):
    world = people

    teacher = launch(client, world.teacher, world_claims(world, role="teacher"))
    homeroom = course()
    student = launch(client, world.students[0], world_claims(world, role="student"))

    assert teacher == launches.LaunchRoute(reverse("lms:course-setup", args=[homeroom.pk]), "teacher")
    assert student == launches.LaunchRoute(reverse("lms:course-not-set-up", args=[homeroom.pk]), "student")
    assert LmsCourse.objects.count() == 1  # the same course both times


def test_a_launch_as_a_teacher_by_someone_who_teaches_nothing_or_in_no_role_is_told_not_set_up(
    people, client
):
    world = people
    not_set_up = launch(client, world.students[0], world_claims(world, role="teacher"))
    no_role = launch(client, world.teacher, world_claims(world, role=None))

    url = reverse("lms:course-not-set-up", args=[course().pk])
    assert not_set_up == launches.LaunchRoute(url, "teacher")
    assert no_role == launches.LaunchRoute(url, None)
    assert not course().teachers_seen.exists()  # neither launched as a teacher who is one


def test_the_remembered_class_is_where_the_next_student_lands(people, client):
    world = people
    launch(client, world.teacher, world_claims(world, role="teacher"))
    link_course(course=course(), section=world.section, teacher=world.teacher)

    found = launch(client, world.students[1], world_claims(world, role="student"))
    teacher = launch(client, world.teacher, world_claims(world, role="teacher"))

    assert found == launches.LaunchRoute(reverse("lms:student-class", args=[world.section.pk]), "student")
    assert teacher.url == reverse("lms:section", args=[world.section.pk])


def test_a_student_not_in_clevers_section_lands_in_the_remembered_class_instead(people, other_class, client):
    world = people
    biology, otto = other_class
    me = world.students[-1]  # in both classes
    account(me)
    launch(client, otto, world_claims(world, role="teacher", section_id=world.section.clever_id))
    link_course(course=course(), section=biology, teacher=otto)

    found = launch(client, me, world_claims(world, role="student", section_id=world.section.clever_id))
    otto_lands = launch(client, otto, world_claims(world, role="teacher", section_id=world.section.clever_id))

    # Clever's section first: she attends it.
    assert found.url == reverse("lms:student-class", args=[world.section.pk])
    # Otto does not teach Clever's section: the one he set the course up as.
    assert otto_lands.url == reverse("lms:section", args=[biology.pk])


def test_every_launch_records_its_course_and_the_teachers_seen(people, client):
    world = people
    launch(client, world.students[0], world_claims(world, role="student"))
    first = course()
    assert first.teachers_seen.count() == 0 and first.title == "Homeroom 5B"

    launch(client, world.teacher, world_claims(world, role="teacher", title="Homeroom 5B (renamed)"))
    launch(client, world.teacher, world_claims(world, role="teacher", title=""))

    homeroom = course()
    assert list(homeroom.teachers_seen.all()) == [world.teacher]
    assert homeroom.title == "Homeroom 5B (renamed)"  # a launch without a title keeps the last one
    assert (homeroom.district, homeroom.context_id, homeroom.product_family) == (
        world.district,
        HOMEROOM,
        "canvas",
    )
    assert homeroom.deployment_id == f"{world.district.clever_id}-canvas"
    assert homeroom.last_launch_at > first.last_launch_at and homeroom.first_seen_at == first.first_seen_at
    assert client.session[lms_launch.SESSION_LAUNCH_COURSE] == homeroom.pk


def test_the_same_course_id_in_another_lms_installation_is_another_course(people, client):
    world = people
    launch(client, world.teacher, world_claims(world))
    launch(client, world.teacher, world_claims(world, deployment_id="other-deployment"))
    assert LmsCourse.objects.count() == 2


def test_claims_that_are_not_a_launch_or_have_no_district_route_nowhere(people, client):
    world = people
    assert launch(client, world.teacher, world_claims(world, message_type="LtiDeepLinkingRequest")) is None
    assert not LmsCourse.objects.exists()

    request = RequestFactory().get("/")
    request.user = Person.objects.get(pk=world.teacher.pk).user
    request.session = SessionStore()  # signed in, but no Clever session
    assert lms_launch.route(request, world_claims(world)) is None


def test_a_launch_without_a_course_id_lands_only_where_clever_names_a_class(people, client):
    world = people
    no_course = {"context": {"title": "Untitled"}}

    assert launch(client, world.teacher, world_claims(world, **no_course)) is None
    found = launch(
        client, world.teacher, world_claims(world, section_id=world.section.clever_id, **no_course)
    )

    assert found.url == reverse("lms:section", args=[world.section.pk])
    assert not LmsCourse.objects.exists()
    assert lms_launch.SESSION_LAUNCH_COURSE not in client.session


# --- the teacher sets a course up -----------------------------------------------------------------


def setup_url() -> str:
    return reverse("lms:course-setup", args=[course().pk])


def test_the_teacher_chooses_which_of_their_classes_the_course_is(people, other_class, client):
    world = people
    found = launch(client, world.teacher, world_claims(world))

    page = client.get(found.url).content.decode()

    assert "Which of your classes is “Homeroom 5B” in Canvas?" in page
    assert "Algebra 1 · North Middle · 5 students" in page
    assert "Biology" not in page  # Otto's class
    assert "Use this class" in page
    for word in ("LTI", "context", "claim"):
        assert word not in page

    response = client.post(found.url, {"section": world.section.pk})

    assert response.status_code == 302 and response.url == reverse("lms:section", args=[world.section.pk])
    homeroom = course()
    assert (homeroom.section, homeroom.linked_by) == (world.section, world.teacher)
    audit = LmsAudit.objects.get(course=homeroom)
    assert audit.action == LmsAudit.Action.COURSE_LINKED and audit.assignment is None
    assert audit.actor.username == "tess" and audit.actor_label == "teacher: tess"
    assert audit.details == {
        "section": world.section.clever_id,
        "section_before": "",
        "teacher": world.teacher.clever_id,
        "context_id": HOMEROOM,
    }
    section_page = client.get(response.url).content.decode()
    assert "is set up as this class" in section_page
    assert "Not the right class?" in section_page and setup_url() in section_page


@pytest.mark.parametrize("value", ["", "abc", "999999", "1.5"])
def test_a_bad_choice_is_a_form_error(people, client, value):
    world = people
    found = launch(client, world.teacher, world_claims(world))

    response = client.post(found.url, {"section": value} if value else {})

    assert response.status_code == 400
    page = response.content.decode()
    assert "Choose one of your classes." in page or "That class is not one of yours" in page
    assert course().section is None


def test_a_teacher_of_another_class_cannot_choose_a_class_that_is_not_theirs(people, other_class, client):
    world = people
    _biology, otto = other_class
    launch(client, otto, world_claims(world))

    response = client.post(setup_url(), {"section": world.section.pk})

    assert response.status_code == 400 and "That class is not one of yours" in response.content.decode()
    assert course().section is None


def test_only_teachers_seen_launching_the_course_reach_its_set_up(people, other_class, client):
    world = people
    _biology, otto = other_class
    launch(client, world.teacher, world_claims(world))
    url = setup_url()

    # Otto teaches in the district but never opened the app from this course.
    client.force_login(Person.objects.get(pk=otto.pk).user)
    assert client.get(url).status_code == 404
    assert client.post(url, {"section": world.section.pk}).status_code == 404
    client.force_login(Person.objects.get(pk=world.students[0].pk).user)
    assert client.get(url).status_code == 404
    client.logout()
    assert client.get(url).status_code == 302  # to sign in
    assert course().section is None


def test_the_set_up_shows_the_current_class_and_its_teacher_can_change_it(people, other_class, client):
    world = people
    biology, otto = other_class
    launch(client, world.teacher, world_claims(world))
    link_course(course=course(), section=world.section, teacher=world.teacher)

    page = client.get(setup_url()).content.decode()
    assert "Set up now as:</strong> Algebra 1, chosen by Tess Cher" in page
    assert f'value="{world.section.pk}" required id="id_section_0" checked' in page  # chosen already

    # Otto opens the app from it too: he sees the choice and cannot move Tess's students.
    launch(client, otto, world_claims(world))
    page = client.get(setup_url()).content.decode()
    assert "Only a teacher of that class can change it" in page and "Use this class" not in page
    response = client.post(setup_url(), {"section": biology.pk})
    assert response.status_code == 400 and "already set up as another teacher" in response.content.decode()
    assert course().section == world.section


def test_a_teacher_with_no_classes_here_is_told_so(people, client):
    world = people
    launch(client, world.teacher, world_claims(world))
    Section.objects.filter(pk=world.section.pk).update(archived_at=world.days(0))

    page = client.get(setup_url()).content.decode()

    assert "You have no classes in this app yet" in page and "Use this class" not in page


# --- "not set up yet" -----------------------------------------------------------------------------


def test_a_student_is_told_the_course_is_not_set_up_and_to_ask_the_teacher_seen(people, client):
    world = people
    found = launch(client, world.students[0], world_claims(world, role="student"))
    page = client.get(found.url).content.decode()
    assert "“Homeroom 5B” is not set up yet" in page
    assert "This class from Canvas is not set up in this app yet." in page
    assert (
        "Ask your teacher to open this app from the class in Canvas and choose which of their classes it is"
        in page
    )

    launch(client, world.teacher, world_claims(world, role="teacher"))
    launch(client, world.students[0], world_claims(world, role="student"))
    page = client.get(found.url).content.decode()
    assert "Ask <strong>Tess Cher</strong> to open this app from the class" in page
    for word in ("LTI", "context", "claim"):
        assert word not in page


def test_the_not_set_up_page_is_only_for_who_just_launched_the_course_or_its_teachers(
    people, lms_world, client
):
    world = people
    found = launch(client, world.students[0], world_claims(world, role="student"))
    elsewhere = lms_world(name="Hillside")

    client.force_login(account(elsewhere.students[0]))
    assert client.get(found.url).status_code == 404
    client.force_login(UserFactory(username="stranger"))
    assert client.get(found.url).status_code == 404
    # A person of the district the mirror does not know yet: their Clever session says where from.
    clever_id = new_id()
    newcomer = UserFactory(username="newcomer", made_for_clever_id=clever_id)
    client.force_login(newcomer)
    session = client.session
    clever_session(
        session, newcomer, clever_id=clever_id, district_id=world.district.clever_id, role="student"
    )
    session.save()
    # Of the district, but they did not launch it: the course's title and teachers stay unlisted.
    assert client.get(found.url).status_code == 404
    session = client.session
    session[lms_launch.SESSION_LAUNCH_COURSE] = course().pk  # what their own launch from it leaves
    session.save()
    assert client.get(found.url).status_code == 200


def test_a_teacher_without_classes_here_is_told_why_there_is_nothing_to_choose(people, client):
    world = people
    Section.objects.filter(pk=world.section.pk).update(archived_at=world.days(0))

    found = launch(client, world.teacher, world_claims(world, context={"id": HOMEROOM}))  # no names

    assert found.url == reverse("lms:course-not-set-up", args=[course().pk])
    page = " ".join(client.get(found.url).content.decode().split())
    assert "“Course without a name” is not set up yet" in page and HOMEROOM not in page
    assert "you have no classes here yet" in page and "Ask " not in page


def test_a_purged_district_loses_its_courses(people, lms_world, client):
    world = people
    launch(client, world.teacher, world_claims(world))
    link_course(course=course(), section=world.section, teacher=world.teacher)
    elsewhere = lms_world(name="Hillside")
    kept = LmsCourse.objects.create(district=elsewhere.district, deployment_id="d", context_id="c")

    answers = events.publish(
        RosterPurging(district_id=world.district.pk, clever_district_id=world.district.clever_id)
    )

    assert answers["lms.privacy.erase_lms_courses"] == {"lms_courses": 1}
    assert list(LmsCourse.objects.all()) == [kept] and not LmsAudit.objects.exists()


# --- support clears a wrong set-up ----------------------------------------------------------------


def test_support_sees_courses_and_clears_a_wrong_set_up_with_a_reason(people, client, support):
    world = people
    launch(client, world.teacher, world_claims(world))
    link_course(course=course(), section=world.section, teacher=world.teacher)
    changelist = reverse("admin:lms_lmscourse_changelist")

    listing = support.get(changelist).content.decode()
    assert "Homeroom 5B" in listing and "Algebra 1" in listing and "Canvas" in listing
    detail = support.get(reverse("admin:lms_lmscourse_change", args=[course().pk])).content.decode()
    assert "Tess Cher" in detail and "LMS course set up as a section" in detail

    ask = support.post(changelist, {"action": "clear_link", "_selected_action": [course().pk]})
    assert ask.status_code == 200 and "Reason (for the audit log)" in ask.content.decode()
    assert course().section is not None

    done = support.post(
        changelist,
        {
            "action": "clear_link",
            "_selected_action": [course().pk],
            "confirmed": "1",
            "reason": "wrong class",
        },
    )

    assert done.status_code == 302
    assert course().section is None and course().linked_by is None
    audit = LmsAudit.objects.filter(course=course()).first()
    assert audit.action == LmsAudit.Action.COURSE_LINK_CLEARED and audit.details["reason"] == "wrong class"
    # Its teacher is asked again.
    assert launch(client, world.teacher, world_claims(world)).url == setup_url()


def test_teachers_and_students_cannot_open_the_course_admin(people, client):
    world = people
    launch(client, world.teacher, world_claims(world))
    assert client.get(reverse("admin:lms_lmscourse_changelist")).status_code == 302


def test_a_non_teaching_course_role_is_not_a_teacher_whatever_the_institution_says():
    institution_instructor = "http://purl.imsglobal.org/vocab/lis/v2/institution/person#Instructor"
    mentor = "http://purl.imsglobal.org/vocab/lis/v2/membership#Mentor"
    assert lms_launch.role_of([mentor, institution_instructor]) is None
    assert lms_launch.role_of([institution_instructor]) == "teacher"  # no course role named


def test_an_lms_product_code_stays_within_its_column_after_lower_case():
    launch = lms_launch.parse_launch(
        {
            f"{lms_launch.LTI}message_type": "LtiResourceLinkRequest",
            f"{lms_launch.LTI}tool_platform": {"product_family_code": "İ" * 64},
        }
    )
    assert launch is not None and len(launch.product_family) <= lms_launch.NAME_MAX


def test_an_unusable_platform_guid_records_no_course():
    claims = {
        f"{lms_launch.LTI}message_type": "LtiResourceLinkRequest",
        f"{lms_launch.LTI}deployment_id": "d-1",
        f"{lms_launch.LTI}context": {"id": "course-1"},
    }
    assert lms_launch.parse_launch(claims).context_id == "course-1"  # no guid at all: keyed on ""
    claims[f"{lms_launch.LTI}tool_platform"] = {"guid": "x" * 300}
    assert lms_launch.parse_launch(claims).context_id == ""
