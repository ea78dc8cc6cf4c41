"""The LMS launch page: a Canvas or Schoology district's courses as its people see them, and the
launches of the app from them (the code, the pending launch, the LTI claims in the identity
token)."""

import json
from datetime import UTC, datetime, timedelta
from html import escape

import pytest
from django.urls import reverse

from sandbox import demo, selectors, services
from sandbox.ids import new_id
from sandbox.lms import launch
from sandbox.models import LmsType, RecordType, SandboxAuthCode, SandboxLmsCourse
from sandbox.views.lms_launch import launch_path
from sandbox.views.oauth import LOGIN_COOKIE, PENDING_LAUNCH_COOKIE
from tests.sandbox.test_oidc import AUTHORIZE, PRIMARY, exchange, landed, verify

LTI = "https://purl.imsglobal.org/spec/lti/claim/"
INSTRUCTOR = "http://purl.imsglobal.org/vocab/lis/v2/membership#Instructor"
LEARNER = "http://purl.imsglobal.org/vocab/lis/v2/membership#Learner"
COURSE_SECTION = "http://purl.imsglobal.org/vocab/lis/v2/course#CourseSection"
SECONDARY = "https://app.example.com/clever/other-callback"


class Classes:
    """An LMS district: a teacher with a section of three students and an LMS Connect
    assignment in it, another section (another teacher, the first student only), and a
    homeroom made in the LMS (the teacher and the first two students)."""

    def __init__(self, client, *, lms_type=LmsType.CANVAS, name="Canvas USD"):
        self.district = services.create_district(name=name, lms_type=lms_type)
        self.school = new_id()
        self.teacher = self._user("Tess", "Cher", "teacher")
        self.students = [self._user(f"Stu{n}", "Dent", "student") for n in range(3)]
        self.other_teacher = self._user("Otto", "Therteach", "teacher")
        self.section = self._section("Algebra 1", self.teacher, self.students, section_number="ALG-1")
        self.biology = self._section("Biology", self.other_teacher, self.students[:1])
        self.assignment = self._assignment(client, "Chapter 3 quiz")
        self.homeroom = launch.create_lms_course(
            district=self.district,
            title="Homeroom (made in Canvas)",
            label="HR",
            teacher_id=self.teacher,
            student_ids=self.students[:2],
        )

    def _user(self, first, last, role):
        data = {
            "name": {"first": first, "last": last},
            "roles": {role: {"school": self.school, "schools": [self.school]}},
        }
        return services.put_record(district=self.district, record_type=RecordType.USERS, data=data)["id"]

    def _section(self, name, teacher, students, **fields):
        data = {"name": name, "school": self.school, "teachers": [teacher], "students": students, **fields}
        return services.put_record(district=self.district, record_type=RecordType.SECTIONS, data=data)["id"]

    def _assignment(self, client, title):
        due = (datetime.now(UTC) + timedelta(days=7)).strftime("%Y-%m-%dT%H:%M:%S.000Z")
        body = {"title": title, "description": "Linear equations", "due_date": due, "points_possible": 10}
        response = client.post(
            f"/sandbox/v3.1/sections/{self.section}/assignments",
            json.dumps(body),
            content_type="application/json",
            headers={"Authorization": f"Bearer {services.district_token(self.district).access_token}"},
        )
        assert response.status_code == 200, response.content
        return response.json()["data"]["id"]


@pytest.fixture
def app(sandbox_app):
    return services.set_redirect_uris(uris=[PRIMARY, SECONDARY])


@pytest.fixture
def classes(client, app):
    return Classes(client)


def section_course(classes):
    return launch.section_context_id(classes.section)


def launched_claims(client, app, code) -> dict:
    """The LTI claims of the identity token ``code`` is exchanged for."""
    claims = verify(client, app, exchange(client, app, code)["id_token"])
    return {name: value for name, value in claims.items() if name.startswith(LTI)}


def authorize(client, app, **params):
    query = {"response_type": "code", "client_id": app.client_id, "redirect_uri": PRIMARY, **params}
    return client.get(AUTHORIZE, query)


# --- the pages ----------------------------------------------------------------------------------------


def test_the_people_page_lists_only_people_of_canvas_and_schoology_districts(client, classes):
    schoology = Classes(client, lms_type=LmsType.SCHOOLOGY, name="Schoology USD")
    classroom = services.create_district(name="Classroom USD", lms_type=LmsType.GOOGLE_CLASSROOM)
    services.put_record(
        district=classroom,
        record_type=RecordType.USERS,
        data={"name": {"first": "Gus", "last": "Classroom"}, "roles": {"teacher": {}}},
    )

    html = client.get(reverse("sandbox:lms-home"), {"q": "tess"}).content.decode()

    assert html.count('<td class="user-name">Tess Cher</td>') == 2
    assert reverse("sandbox:lms-dashboard", args=[classes.teacher]) in html
    assert reverse("sandbox:lms-dashboard", args=[schoology.teacher]) in html
    assert "Open their Canvas" in html and "Open their Schoology" in html
    everyone = client.get(reverse("sandbox:lms-home")).content.decode()
    assert "Gus Classroom" not in everyone
    assert "Classroom USD" not in everyone  # not even in the district filter


def test_a_teachers_dashboard_lists_their_courses_and_lms_connect_assignments(client, app, classes):
    response = client.get(reverse("sandbox:lms-dashboard", args=[classes.teacher]))

    assert response.status_code == 200
    html = response.content.decode()
    assert "Algebra 1" in html and "Homeroom (made in Canvas)" in html
    assert "Biology" not in html
    assert "Chapter 3 quiz" in html
    assert f"Open {app.name}" in html
    course, homeroom = section_course(classes), classes.homeroom.context_id
    for link in (
        launch_path(user_id=classes.teacher, context_id=course),
        launch_path(user_id=classes.teacher, context_id=course, assignment_id=classes.assignment),
        launch_path(user_id=classes.teacher, context_id=homeroom),
    ):
        assert escape(link) in html
    assert html.count('class="lms-assignment"') == 1


def test_a_students_dashboard_lists_the_sections_and_lms_courses_they_belong_to(client, classes):
    first, _, third = classes.students

    courses = {course.title: course for course in launch.courses_of(selectors.get_user(first))}
    assert set(courses) == {"Algebra 1", "Biology", "Homeroom (made in Canvas)"}
    assert {course.role for course in courses.values()} == {"student"}
    assert [link.assignment_id for link in courses["Algebra 1"].assignments] == [classes.assignment]
    assert courses["Biology"].assignments == ()
    html = client.get(reverse("sandbox:lms-dashboard", args=[third])).content.decode()
    assert "Algebra 1" in html
    assert "Homeroom" not in html and "Biology" not in html


def test_dashboards_of_people_without_canvas_or_schoology_are_refused(client, app):
    classroom = services.create_district(name="Classroom USD", lms_type=LmsType.GOOGLE_CLASSROOM)
    person = services.put_record(
        district=classroom, record_type=RecordType.USERS, data={"name": {"first": "Gus"}, "roles": {}}
    )["id"]

    for user_id in (person, "0" * 24):
        response = client.get(reverse("sandbox:lms-dashboard", args=[user_id]))
        assert response.status_code == 404
        assert "Something went wrong" in response.content.decode()


# --- the launch ----------------------------------------------------------------------------------------


def test_a_launch_goes_to_the_primary_uri_with_a_code_and_no_state(client, app, classes):
    response = client.get(launch_path(user_id=classes.students[0], context_id=section_course(classes)))

    query = landed(response, uri=PRIMARY)
    assert set(query) == {"code"}
    code = SandboxAuthCode.objects.get(code=query["code"])
    assert code.user_id == classes.students[0]
    assert code.launch[f"{LTI}context"]["id"] == section_course(classes)
    assert response.cookies[LOGIN_COOKIE].value
    pending = response.cookies[PENDING_LAUNCH_COOKIE]
    assert pending.value and pending["max-age"] == 300 and pending["httponly"]
    # Logged in to Clever as that person, as after a Portal launch.
    assert "Logged in to Clever as" in client.get("/sandbox/portal/").content.decode()


def test_a_teachers_launch_from_an_assignment_carries_its_claims(client, app, classes):
    link = launch_path(
        user_id=classes.teacher, context_id=section_course(classes), assignment_id=classes.assignment
    )

    claims = launched_claims(client, app, landed(client.get(link))["code"])

    district = classes.district
    assert claims == {
        f"{LTI}message_type": "LtiResourceLinkRequest",
        f"{LTI}version": "1.3.0",
        f"{LTI}deployment_id": f"{district.id}-canvas",
        f"{LTI}target_link_uri": PRIMARY,
        f"{LTI}resource_link": {"id": classes.assignment, "title": "Chapter 3 quiz"},
        f"{LTI}roles": [INSTRUCTOR],
        f"{LTI}context": {
            "id": section_course(classes),
            "label": "ALG-1",
            "title": "Algebra 1",
            "type": [COURSE_SECTION],
        },
        f"{LTI}tool_platform": {
            "guid": f"{district.id}.canvas.sandbox",
            "name": "Canvas",
            "product_family_code": "canvas",
        },
        f"{LTI}custom": {"clever_section_id": classes.section, "clever_assignment_id": classes.assignment},
    }


def test_a_students_launch_from_a_course_made_in_the_lms_names_no_clever_section(client, app, classes):
    homeroom = classes.homeroom.context_id
    link = launch_path(user_id=classes.students[1], context_id=homeroom)

    claims = launched_claims(client, app, landed(client.get(link))["code"])

    assert claims[f"{LTI}roles"] == [LEARNER]
    assert claims[f"{LTI}resource_link"] == {"id": f"{homeroom}-app", "title": app.name}
    assert claims[f"{LTI}context"] == {
        "id": homeroom,
        "label": "HR",
        "title": "Homeroom (made in Canvas)",
        "type": [COURSE_SECTION],
    }
    assert claims[f"{LTI}custom"] == {}


def test_a_course_link_of_a_clever_section_names_the_section_only(client, app, classes):
    link = launch_path(user_id=classes.students[0], context_id=section_course(classes))

    claims = launched_claims(client, app, landed(client.get(link))["code"])

    assert claims[f"{LTI}custom"] == {"clever_section_id": classes.section}
    assert claims[f"{LTI}resource_link"]["id"] == f"{section_course(classes)}-app"


def test_a_schoology_launch_names_schoology(client, app):
    schoology = Classes(client, lms_type=LmsType.SCHOOLOGY, name="Schoology USD")
    link = launch_path(user_id=schoology.teacher, context_id=launch.section_context_id(schoology.section))

    claims = launched_claims(client, app, landed(client.get(link))["code"])

    district_id = schoology.district.id
    assert claims[f"{LTI}tool_platform"] == {
        "guid": f"{district_id}.schoology.sandbox",
        "name": "Schoology",
        "product_family_code": "schoology",
    }
    assert claims[f"{LTI}deployment_id"] == f"{district_id}-schoology"


@pytest.mark.parametrize(
    ("who", "course", "assignment", "status"),
    [
        ("students.2", "homeroom", "", 403),  # not in the homeroom
        ("other_teacher", "section", "", 403),  # teaches Biology, not Algebra 1
        ("students.0", "nowhere", "", 403),
        ("nobody", "section", "", 404),
        ("teacher", "homeroom", "assignment", 404),  # the assignment is Algebra 1's
        ("teacher", "section", "not-an-assignment", 404),
    ],
)
def test_a_launch_refuses_outsiders_and_unknown_links(client, app, classes, who, course, assignment, status):
    people = {"teacher": classes.teacher, "other_teacher": classes.other_teacher, "nobody": "0" * 24}
    people.update({f"students.{n}": student for n, student in enumerate(classes.students)})
    courses = {"homeroom": classes.homeroom.context_id, "section": section_course(classes), "nowhere": "x"}
    assignment_id = classes.assignment if assignment == "assignment" else assignment

    response = client.get(
        launch_path(user_id=people[who], context_id=courses[course], assignment_id=assignment_id)
    )

    assert response.status_code == status
    assert "Location" not in response
    assert "Something went wrong" in response.content.decode()
    assert not SandboxAuthCode.objects.exists()
    assert PENDING_LAUNCH_COOKIE not in response.cookies


# --- the pending launch ----------------------------------------------------------------------------------


def test_the_apps_authorize_for_the_same_user_carries_the_launch_and_clears_it(client, app, classes):
    link = launch_path(
        user_id=classes.teacher, context_id=section_course(classes), assignment_id=classes.assignment
    )
    first = landed(client.get(link))["code"]
    launched = SandboxAuthCode.objects.get(code=first).launch

    # The app bounces the state-less code to "Log in with Clever", with its state and nonce.
    bounce = authorize(client, app, state="app-state", nonce="app-nonce")

    query = landed(bounce)
    assert query["state"] == "app-state"
    assert bounce.cookies[PENDING_LAUNCH_COOKIE].value == ""
    assert bounce.cookies[PENDING_LAUNCH_COOKIE]["max-age"] == 0
    claims = verify(client, app, exchange(client, app, query["code"])["id_token"])
    assert claims["nonce"] == "app-nonce"
    assert claims["sub"] == classes.teacher
    assert {name: value for name, value in claims.items() if name.startswith(LTI)} == launched
    # Used once: the next login is an ordinary one.
    again = SandboxAuthCode.objects.get(code=landed(authorize(client, app, nonce="n2"))["code"])
    assert again.launch == {}


def test_an_authorize_for_another_user_does_not_carry_the_launch(client, app, classes):
    landed(client.get(launch_path(user_id=classes.teacher, context_id=section_course(classes))))
    params = {"response_type": "code", "client_id": app.client_id, "redirect_uri": PRIMARY}

    response = client.post(AUTHORIZE, {**params, "user": classes.students[0]})

    code = SandboxAuthCode.objects.get(code=landed(response)["code"])
    assert (code.user_id, code.launch) == (classes.students[0], {})
    assert f"{LTI}context" not in verify(client, app, exchange(client, app, code.code)["id_token"])
    assert response.cookies[PENDING_LAUNCH_COOKIE].value == ""


def test_a_portal_launch_ends_a_pending_launch(client, app, classes):
    landed(client.get(launch_path(user_id=classes.teacher, context_id=section_course(classes))))

    portal = client.get("/sandbox/portal/launch", {"user": classes.teacher})

    assert SandboxAuthCode.objects.get(code=landed(portal)["code"]).launch == {}
    assert portal.cookies[PENDING_LAUNCH_COOKIE].value == ""
    assert SandboxAuthCode.objects.get(code=landed(authorize(client, app))["code"]).launch == {}


def test_a_forged_pending_launch_is_ignored(client, app, classes):
    landed(client.get("/sandbox/portal/launch", {"user": classes.teacher}))
    client.cookies[PENDING_LAUNCH_COOKIE] = json.dumps({"user": classes.teacher, "claims": {"x": 1}})

    code = landed(authorize(client, app))["code"]

    assert SandboxAuthCode.objects.get(code=code).launch == {}


# --- courses made in the LMS: the demo's and the control page's -------------------------------------------


def test_the_demo_seeds_a_homeroom_in_each_canvas_and_schoology_district(client, app):
    canvas = Classes(client, name="Canvas USD")
    schoology = Classes(client, lms_type=LmsType.SCHOOLOGY, name="Schoology USD")
    SandboxLmsCourse.objects.all().delete()
    services.create_district(name="No LMS USD")

    made = demo.seed_lms_courses()

    assert {(course.district_id, course.title) for course in made} == {
        (canvas.district.id, "Homeroom (made in Canvas)"),
        (schoology.district.id, "Homeroom (made in Schoology)"),
    }
    homeroom = next(course for course in made if course.district_id == canvas.district.id)
    # The first teacher by name who has students ("Otto Therteach" before "Tess Cher").
    assert homeroom.teacher_id == canvas.other_teacher
    assert homeroom.student_ids == canvas.students[:1]
    assert demo.seed_lms_courses() == []


def test_the_district_page_lists_and_makes_courses_in_the_lms(client, app, classes):
    page = reverse("sandbox:control-district", args=[classes.district.id])
    assert "Homeroom (made in Canvas)" in client.get(page).content.decode()

    response = client.post(
        reverse("sandbox:control-lms-course", args=[classes.district.id]),
        {"title": "Chess club", "label": "", "teacher_id": classes.teacher, "students": 2},
    )

    assert response.status_code == 302
    club = SandboxLmsCourse.objects.get(title="Chess club")
    assert (club.teacher_id, club.label, len(club.student_ids)) == (classes.teacher, "Chess club", 2)
    assert set(club.student_ids) <= set(classes.students)
    html = client.get(page).content.decode()
    assert "Chess club" in html and club.context_id in html
    refused = client.post(
        reverse("sandbox:control-lms-course", args=[classes.district.id]),
        {"title": "Ghost club", "teacher_id": classes.students[0], "students": 1},
    )
    assert refused.status_code == 302
    assert "is not a teacher of Canvas USD" in client.get(page).content.decode()
    assert not SandboxLmsCourse.objects.filter(title="Ghost club").exists()


def test_the_control_page_links_to_the_lms_page(client, app):
    assert reverse("sandbox:lms-home") in client.get(reverse("sandbox:home")).content.decode()
