"""A teacher's grades for the class: on one form or from a CSV file, all or nothing, every
problem said in words (``record_grades``/``import_grades``, ``forms.GradesCsvForm``)."""

from __future__ import annotations

import codecs
import logging

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from lms import forms
from lms.errors import GradesRefused
from lms.factories import AssignmentFactory, ResultFactory
from lms.models import GradingType, Result, SyncPolicy
from lms.services.grades import Grade, import_grades, record_grades
from rostering.models import Person


@pytest.fixture
def quiz(world):
    return AssignmentFactory(
        section=world.section, title="Fractions quiz", due_at=world.days(3), points_possible=10
    )


def results(assignment) -> dict[str, tuple[float | None, str, str]]:
    return {
        r.student.first_name: (r.points, r.status, r.comment)
        for r in Result.objects.filter(assignment=assignment).select_related("student")
    }


def grade(student, points=None, **values) -> Grade:
    return Grade(student=student, points=points, **values)


def test_grades_are_saved_as_drafts_then_approved_and_only_approval_sends_them(
    world, teacher_user, django_capture_on_commit_callbacks
):
    quiz = AssignmentFactory(
        section=world.section, due_at=world.days(3), points_possible=10, sync_policy=SyncPolicy.ON_CREATE
    )
    first, second, third = world.students[:3]
    with django_capture_on_commit_callbacks() as pushes:
        saved = record_grades(
            assignment=quiz,
            grades={first.pk: grade(first, 8, comment="Well done"), second.pk: grade(second, 6.5)},
            approve=False,
            actor=teacher_user,
        )
    assert (saved.saved, saved.approved) == (2, 0) and not pushes
    assert results(quiz) == {"Stu0": (8.0, "draft", "Well done"), "Stu1": (6.5, "draft", "")}

    # "Save and approve": the unchanged drafts are approved, a new grade too; one push.
    with django_capture_on_commit_callbacks() as pushes:
        saved = record_grades(
            assignment=quiz,
            grades={
                first.pk: grade(first, 8, comment="Well done"),
                second.pk: grade(second, 6.5),
                third.pk: grade(third, 10),
            },
            approve=True,
            actor=teacher_user,
        )
    assert (saved.saved, saved.approved, saved.unchanged) == (1, 3, 2) and len(pushes) == 1
    assert {name: status for name, (_p, status, _c) in results(quiz).items()} == {
        "Stu0": "approved",
        "Stu1": "approved",
        "Stu2": "approved",
    }

    # Saving drafts again leaves the unchanged approved grades approved (they stay in the LMS's
    # queue); only a changed one becomes a draft.
    saved = record_grades(
        assignment=quiz,
        grades={first.pk: grade(first, 8, comment="Well done"), second.pk: grade(second, 7)},
        approve=False,
        actor=teacher_user,
    )
    assert (saved.saved, saved.approved) == (1, 0)
    assert results(quiz)["Stu0"][1] == "approved" and results(quiz)["Stu1"] == (7.0, "draft", "")


def test_one_refused_grade_saves_none_and_each_problem_is_in_words(world, quiz, teacher_user):
    first, second, third, fourth = world.students[:4]
    with pytest.raises(GradesRefused) as refused:
        record_grades(
            assignment=quiz,
            grades={
                1: grade(first, 8),
                2: grade(second, 12),
                3: grade(third, -1),
                4: grade(world.teacher, 5),
                5: grade(fourth, None),
                6: grade(first, 1, comment="x" * 1001),
            },
            approve=True,
            actor=teacher_user,
        )
    assert refused.value.problems == {
        2: "12 is more than the 10 points possible.",
        3: "Points cannot be negative.",
        4: "Tess Cher is not in this class.",
        5: "Enter the points.",
        6: "The comment is longer than 1000 characters.",
    }
    assert not Result.objects.exists()


def test_pass_fail_and_letter_grades_take_their_own_values(world, teacher_user):
    pass_fail = AssignmentFactory(
        section=world.section, due_at=world.days(3), grading_type=GradingType.PASS_FAIL, points_possible=None
    )
    first, second = world.students[:2]
    with pytest.raises(GradesRefused) as refused:
        record_grades(
            assignment=pass_fail, grades={1: grade(first, grade="maybe")}, approve=False, actor=teacher_user
        )
    assert refused.value.problems == {1: "Enter “pass” or “fail”."}
    record_grades(
        assignment=pass_fail, grades={1: grade(first, grade="Pass")}, approve=False, actor=teacher_user
    )
    assert Result.objects.get(assignment=pass_fail).grade == "pass"

    letter = AssignmentFactory(
        section=world.section,
        due_at=world.days(3),
        grading_type=GradingType.LETTER_GRADE,
        points_possible=100,
    )
    record_grades(
        assignment=letter,
        grades={1: grade(first, 91, grade=" A- "), 2: grade(second, grade="B")},
        approve=False,
        actor=teacher_user,
    )
    assert {(r.points, r.grade) for r in Result.objects.filter(assignment=letter)} == {
        (91.0, "A-"),
        (None, "B"),
    }


def upload(content: bytes | str, name="grades.csv") -> SimpleUploadedFile:
    data = content.encode() if isinstance(content, str) else content
    return SimpleUploadedFile(name, data, content_type="text/csv")


def read_csv(assignment, content) -> forms.GradesCsvForm:
    return forms.GradesCsvForm({}, {"file": upload(content)}, assignment=assignment)


def import_csv(assignment, content, actor, approve=False):
    form = read_csv(assignment, content)
    assert form.is_valid(), form.errors
    return import_grades(assignment=assignment, lines=form.cleaned_data["file"], approve=approve, actor=actor)


def test_a_csv_names_students_by_number_sis_id_email_or_name(world, quiz, teacher_user):
    csv = (
        "Student Number,SIS ID,Email,Name,Points,Comment\r\n"
        "1001,,,,7,By number\r\n"
        ",S1,,,8.5,By SIS ID\r\n"
        ",,STU2@Example.org,,9,By email\r\n"
        ',,,"dent,  stu3","6,5",By name\r\n'
        ",,,Stu4 Dent,,\r\n"  # no grade: left as they are
        ",,,,,\r\n"
    )
    saved = import_csv(quiz, csv, teacher_user)
    assert (saved.saved, saved.approved) == (4, 0)
    assert results(quiz) == {
        "Stu0": (7.0, "draft", "By number"),
        "Stu1": (8.5, "draft", "By SIS ID"),
        "Stu2": (9.0, "draft", "By email"),
        "Stu3": (6.5, "draft", "By name"),
    }
    # The same file again changes nothing; approving it approves them all.
    assert import_csv(quiz, csv, teacher_user).saved == 0
    assert import_csv(quiz, csv, teacher_user, approve=True).approved == 4


def test_a_partly_wrong_csv_saves_nothing_and_says_what_is_wrong_on_each_line(world, quiz, teacher_user):
    Person.objects.filter(pk=world.students[4].pk).update(first_name="Stu3")  # two Stu3 Dents
    ResultFactory(assignment=quiz, student=world.students[0], points=5, status="approved")
    csv = (
        "name,student_number,points,comment\n"
        "Stu1 Dent,,8,\n"  # fine, on its own
        "Nobody Here,,5,\n"
        "Stu3 Dent,,5,\n"
        ",1002,7,\n"  # Stu1 again
        ",1003,ten,\n"
        ",1003,11,\n"
        ",,4,\n"
        ",1001,,Good effort\n"
        ",1003,3,Well, done\n"
        "=1+1,,2,\n"
    )
    with pytest.raises(GradesRefused) as refused:
        import_csv(quiz, csv, teacher_user)
    assert refused.value.problems == {
        3: "No student in this class has the name “Nobody Here”.",
        4: "2 students in this class have the name “Stu3 Dent”: name them by student number instead.",
        5: "Stu1 Dent is on line 2 too.",
        6: "“ten” is not a number.",
        7: "11 is more than the 10 points possible.",
        8: "Nothing on this line says which student it is.",
        9: "A comment without a grade: add the grade, or remove the comment.",
        10: "This line has 5 cells and the first line names 4 columns. A comment with a comma in "
        "it needs quotation marks around it.",
        11: "No student in this class has the name “=1+1”.",
    }
    assert results(quiz) == {"Stu0": (5.0, "approved", "")}  # nothing half-applied


@pytest.mark.parametrize(
    "data",
    [
        codecs.BOM_UTF8 + "name,points\nStü0 Dent,7\n".encode(),
        "name;points\nStü0 Dent;7\n".encode("cp1252"),  # Excel's plain "CSV" on Windows
        "name\tpoints\nStü0 Dent\t7\n".encode("utf-16"),  # Excel's "Unicode text"
    ],
    ids=["utf-8 with BOM", "windows-1252, semicolons", "utf-16, tabs"],
)
def test_a_csv_in_the_encodings_and_separators_spreadsheets_write(world, quiz, teacher_user, data):
    Person.objects.filter(pk=world.students[0].pk).update(first_name="Stü0")
    assert import_csv(quiz, data, teacher_user).saved == 1
    assert Result.objects.get(assignment=quiz, student=world.students[0]).points == 7.0


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (b"PK\x03\x04\x14\x00\x06\x00", "This is not a CSV file"),
        (b"name,points\nStu0 Dent,7\x00\x00\n", "This is not a CSV file"),
        (b"\x81\x8d\x8f\x90\x9d", "This file's text could not be read"),
        (b"", "The submitted file is empty."),
        (b"  \n", "The file is empty."),
        (b"name,score,name\nStu0 Dent,1,x\n", "The first line names the same column twice: name."),
        (
            b"pupil,points\nStu0 Dent,7\n",
            "The first line names the columns: student number, SIS ID, "
            "email or name (the first one filled on a line says who it "
            "is), points, and comment if you like. This file's first "
            "line has: pupil, points.",
        ),
        (b"name,comment\nStu0 Dent,7\n", "This file's first line has: name, comment."),
        (b"name,points\n,\n", "The file names no student with a grade: nothing to import."),
        (b'name,points\nStu0 Dent,7\n"Stu1 Dent,8\n', "Line 3 is not CSV this page can read"),
        (b"name,points\n" + b"Stu0 Dent,7\n" * 2001, "The file has more than 2,000 lines"),
        (b"name,points\n" + b"x" * 1_000_001, "This file is larger than 1 MB"),
    ],
)
def test_a_file_that_is_not_a_grades_csv_is_refused_in_words(world, quiz, content, problem):
    form = read_csv(quiz, content)
    assert not form.is_valid()
    assert problem in " ".join(form.errors["file"])


def test_the_template_csv_reads_back_unchanged(world, quiz, teacher_user, client):
    Person.objects.filter(pk=world.students[1].pk).update(first_name='=HYPERLINK("x")')
    ResultFactory(
        assignment=quiz, student=world.students[0], points=7.5, comment="-5 for late", status="approved"
    )
    client.force_login(teacher_user)

    response = client.get(reverse("lms:grades-csv", args=[quiz.pk]))
    text = response.content.decode("utf-8-sig")
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"] == 'attachment; filename="algebra-1-fractions-quiz.csv"'
    lines = text.splitlines()
    assert lines[0] == "student_number,name,points,comment"
    assert "1001,Stu0 Dent,7.5,'-5 for late" in lines  # a formula cell, neutralized
    assert '1002,"\'=HYPERLINK(""x"") Dent",,' in lines
    assert len(lines) == 1 + len(world.students)

    saved = import_csv(quiz, response.content, teacher_user)
    assert (saved.saved, saved.unchanged) == (0, 1)
    assert Result.objects.get(assignment=quiz).comment == "-5 for late"


def test_no_grade_or_comment_reaches_the_logs(world, quiz, teacher_user, caplog):
    caplog.set_level(logging.DEBUG)
    import_csv(quiz, "student_number,points,comment\n1001,7.25,Secret remark\n", teacher_user, approve=True)
    assert "grade(s) saved" in caplog.text
    assert "7.25" not in caplog.text and "Secret remark" not in caplog.text
    assert "Stu0" not in caplog.text
