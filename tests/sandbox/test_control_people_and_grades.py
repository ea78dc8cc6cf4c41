"""The control page's people and grades: who to sign in as (Instant Login links, by name and
role), the Clever Library teachers, and a teacher's grade change in the LMS (a form: good input
changes the submission the app reads back through Clever, bad input is a form error)."""

import json
from datetime import timedelta
from html import escape
from urllib.parse import parse_qs, urlsplit

import pytest
from django.urls import reverse
from django.utils import timezone

from sandbox import services
from sandbox.ids import new_id
from sandbox.lms import gradebook
from sandbox.lms.assignments import create_assignment, delete_assignment
from sandbox.lms.submissions import get_submission
from sandbox.models import SandboxAuthCode, SandboxLmsSubmission, Sharing

pytestmark = pytest.mark.django_db

CALLBACK = "http://127.0.0.1:8000/accounts/clever/login/callback/"
# Sandbox data can hold anything: a name like this must be shown as text.
HOSTILE = "<b>Bold</b>"


class Roster:
    """A district with one school, a teacher, a staff member, a district admin, three students
    (one with a hostile last name) and a section."""

    def __init__(self, *, name="Lakeside Unified", lms_type="canvas", sharing=Sharing.DISTRICT):
        self.district = services.create_district(name=name, lms_type=lms_type, sharing=sharing)
        school = new_id()
        self.teacher, self.staff, self.admin = new_id(), new_id(), new_id()
        self.students = [new_id() for _ in range(3)]
        self.section = new_id()
        names = [("Ada", "Lovelace"), ("Bart", HOSTILE), ("Cy", "Young")]
        items = [
            ("schools", {"id": school, "name": "North Middle"}),
            (
                "users",
                {
                    "id": self.teacher,
                    "name": {"first": "Tess", "last": "Cher"},
                    "roles": {"teacher": {"school": school, "schools": [school]}},
                },
            ),
            (
                "users",
                {
                    "id": self.staff,
                    "name": {"first": "Stan", "last": "Office"},
                    "roles": {"staff": {"schools": [school]}},
                },
            ),
            (
                "users",
                {
                    "id": self.admin,
                    "name": {"first": "Dana", "last": "Boss"},
                    "roles": {"district_admin": {}},
                },
            ),
            *[
                (
                    "users",
                    {
                        "id": student,
                        "name": {"first": first, "last": last},
                        "roles": {"student": {"school": school, "schools": [school]}},
                    },
                )
                for student, (first, last) in zip(self.students, names, strict=True)
            ],
            (
                "sections",
                {
                    "id": self.section,
                    "name": "Algebra 1",
                    "school": school,
                    "students": self.students,
                    "teachers": [self.teacher],
                    "teacher": self.teacher,
                },
            ),
        ]
        services.bulk_load(district=self.district, items=items)

    def assignment(self, title="Chapter 3 quiz") -> str:
        """An assignment the app created in the LMS through Clever; its UUID."""
        due = (timezone.now() + timedelta(days=7)).strftime("%Y-%m-%dT%H:%M:%S.000Z")
        body = {"title": title, "description": "Linear equations", "due_date": due, "points_possible": 10}
        created = create_assignment(
            token=services.district_token(self.district),
            section_id=self.section,
            body=json.dumps(body).encode(),
        )
        return created["id"]

    def submission(self, assignment_id: str, student: str) -> dict:
        """The submission as the app reads it back through Clever's API."""
        return get_submission(
            token=services.district_token(self.district),
            section_id=self.section,
            assignment_id=assignment_id,
            user_id=student,
        )


@pytest.fixture
def roster(sandbox_app):
    return Roster()


def sandbox_app_id():
    return services.get_application().client_id


def page(client, district):
    return client.get(reverse("sandbox:control-district", args=[district.id]))


def post_grade(client, district, follow=False, **data):
    url = reverse("sandbox:control-lms-grade", args=[district.id])
    return client.post(url, {f"lms_grade-{key}": value for key, value in data.items()}, follow=follow)


# --- who to sign in as ---------------------------------------------------------------------------


def test_home_lists_people_to_sign_in_as_by_name_and_role_with_instant_login_links(client, roster):
    roster.assignment()
    html = client.get(reverse("sandbox:home")).content.decode()

    start = html.index('id="sign-in"')
    people = html[start : html.index('id="library"')]
    for name in ("Tess Cher", "Stan Office", "Dana Boss", "Ada Lovelace", escape(f"Bart {HOSTILE}")):
        assert name in people
    assert HOSTILE not in html  # escaped, never markup
    assert ">district admin<" in people and ">staff<" in people and ">student<" in people
    # The teacher whose section has assignments in the LMS comes first, saying so.
    assert people.index("Tess Cher") < people.index("Ada Lovelace")
    assert "1 assignment in Canvas for Algebra 1" in people
    link = f"/sandbox/oauth/instant-login?client_id={sandbox_app_id()}&amp;district_id={roster.district.id}"
    assert f'href="{link}"' in people  # the district's own link: pick anyone
    assert f'href="{link}&amp;user={roster.teacher}"' in people


def test_a_persons_instant_login_link_signs_them_in_at_once_replacing_whoever_was(client, roster):
    client.get("/sandbox/portal/launch", {"user": roster.students[0]})  # logged in to Clever
    link = (
        f"/sandbox/oauth/instant-login?client_id={sandbox_app_id()}"
        f"&district_id={roster.district.id}&user={roster.teacher}"
    )

    response = client.get(link)

    assert response.status_code == 302
    location = urlsplit(response["Location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == CALLBACK
    query = parse_qs(location.query)
    assert set(query) == {"code"}  # Instant Login: no state
    assert SandboxAuthCode.objects.get(code=query["code"][0]).user_id == roster.teacher


def test_an_instant_login_link_for_someone_of_another_district_is_refused(client, roster):
    other = Roster(name="Shelbyville USD")
    response = client.get(
        "/sandbox/oauth/instant-login",
        {"client_id": sandbox_app_id(), "district_id": roster.district.id, "user": other.teacher},
    )
    assert response.status_code == 400
    assert "This user cannot log in here." in response.content.decode()
    assert not SandboxAuthCode.objects.exists()


def test_a_disconnected_district_offers_nobody_to_sign_in_as(client, roster):
    services.disconnect_district(district=roster.district)
    html = client.get(reverse("sandbox:home")).content.decode()
    people = html[html.index('id="sign-in"') : html.index('id="library"')]
    assert "Disconnected: nobody of this district can sign in" in people
    assert "user=" not in people


def test_library_teachers_are_listed_by_name_with_a_clever_library_launch(client, sandbox_app):
    library = Roster(name="Shelbyville Library", lms_type="", sharing=Sharing.LIBRARY)
    html = client.get(reverse("sandbox:home")).content.decode()

    section = html[html.index('id="library"') : html.index('id="app"')]
    assert "Tess Cher" in section and ">teacher<" in section
    assert "Ada Lovelace" not in section  # teachers only
    launch = f"/sandbox/portal/launch?user={library.teacher}"
    assert f'href="{launch}"' in section
    # No Instant Login for a Library district (Clever: they do not work for Library apps).
    people = html[html.index('id="sign-in"') : html.index('id="library"')]
    assert library.district.id not in people

    response = client.get(launch)
    assert response.status_code == 302 and response["Location"].startswith(CALLBACK)
    code = parse_qs(urlsplit(response["Location"]).query)["code"][0]
    assert SandboxAuthCode.objects.get(code=code).user_id == library.teacher


def test_no_library_teachers_says_how_to_add_some(client, roster):
    html = client.get(reverse("sandbox:home")).content.decode()
    assert "No Clever Library teachers" in html and "sandbox_seed --library" in html


# --- a teacher changes a grade in the LMS --------------------------------------------------------


def test_the_grade_form_lists_submissions_by_assignment_and_student_name(client, roster):
    quiz = roster.assignment()
    gradebook.teacher_edit_submission(assignment_id=quiz, user_id=roster.students[0], grade_points=7)
    html = page(client, roster.district).content.decode()

    assert 'id="lms-grades"' in html
    assert reverse("sandbox:control-lms-grade", args=[roster.district.id]) in html
    assert '<optgroup label="Chapter 3 quiz (Algebra 1)">' in html
    assert f'value="{quiz}:{roster.students[0]}">Ada Lovelace, Chapter 3 quiz: 7 points</option>' in html
    assert f"{escape(f'Bart {HOSTILE}')}, Chapter 3 quiz: no grade yet" in html
    assert HOSTILE not in html


def test_a_good_grade_changes_the_submission_the_app_reads_back(client, roster):
    quiz = roster.assignment()
    student = roster.students[1]
    before = roster.submission(quiz, student)

    response = post_grade(
        client, roster.district, submission=f"{quiz}:{student}", grade_points="8.5", grade="B+"
    )

    assert response.status_code == 302
    assert response["Location"].endswith("#lms-grades")
    after = roster.submission(quiz, student)
    assert (after["grade_points"], after["grade"]) == (8.5, "B+")
    assert after["last_modified"] >= before["last_modified"]
    shown = client.get(response["Location"]).content.decode()
    assert (
        f"In Canvas, {escape(f'Bart {HOSTILE}')} now has 8.5 points, B+ on Chapter 3 quiz (Algebra 1)."
    ) in shown

    # Points only: the letter grade stays.
    post_grade(client, roster.district, submission=f"{quiz}:{student}", grade_points="9")
    assert (roster.submission(quiz, student)["grade_points"], roster.submission(quiz, student)["grade"]) == (
        9.0,
        "B+",
    )


@pytest.mark.parametrize(
    ("data", "error"),
    [
        ({"grade_points": "", "grade": ""}, "Enter grade points, a letter grade, or both."),
        ({"grade_points": "-1"}, "Enter 0 or more points."),
        ({"grade_points": "lots"}, "Enter a number of points, like 8 or 8.5."),
        ({"grade_points": "nan"}, "Enter a number of points, like 8 or 8.5."),
        ({"grade": "A" * 33}, "Ensure this value has at most 32 characters (it has 33)."),
        ({"submission": "", "grade": "A"}, "Choose a student&#x27;s submission."),
        (
            {"submission": "not-a-uuid:nobody", "grade": "A"},
            "Choose a submission from the list: that one is gone.",
        ),
    ],
)
def test_bad_grade_input_is_a_form_error_and_changes_nothing(client, roster, data, error):
    quiz = roster.assignment()
    student = roster.students[0]
    before = SandboxLmsSubmission.objects.get(assignment_id=quiz, user_id=student).data

    response = post_grade(client, roster.district, **{"submission": f"{quiz}:{student}", **data})

    assert response.status_code == 200
    html = response.content.decode()
    assert error in html
    assert 'Nothing changed: see the error under <a href="#lms-grades">Change a grade in the LMS</a>' in html
    assert SandboxLmsSubmission.objects.get(assignment_id=quiz, user_id=student).data == before


def test_a_submission_deleted_under_the_form_is_a_form_error(client, roster, monkeypatch):
    quiz = roster.assignment()
    edit = gradebook.teacher_edit_submission

    def deleted_first(**kwargs):
        delete_assignment(
            token=services.district_token(roster.district), section_id=roster.section, assignment_id=quiz
        )
        return edit(**kwargs)

    monkeypatch.setattr(gradebook, "teacher_edit_submission", deleted_first)
    response = post_grade(client, roster.district, submission=f"{quiz}:{roster.students[0]}", grade="A")

    assert response.status_code == 200
    assert "Choose a submission from the list: that one is gone." in response.content.decode()


def test_a_district_without_an_lms_has_no_grade_form_and_refuses_a_post(client, sandbox_app):
    plain = Roster(lms_type="")
    assert 'id="lms-grades"' not in page(client, plain.district).content.decode()

    response = post_grade(client, plain.district, submission="x:y", grade="A")
    assert response.status_code == 200
    assert "This district has no LMS: set one above first." in response.content.decode()


def test_an_lms_without_assignments_says_where_they_come_from(client, roster):
    html = page(client, roster.district).content.decode()
    assert "No assignments in Canvas yet" in html


def test_the_grade_form_is_post_only(client, roster):
    url = reverse("sandbox:control-lms-grade", args=[roster.district.id])
    assert client.get(url).status_code == 405
