"""Forms of the teacher's LMS pages: a new assignment, the class's grades on one form, a grades
CSV file, the "Sync to LMS" button, and which class a course in the LMS is.

Forms read and check what was typed or uploaded (a number, a date, a file that is CSV); what a
grade may be (a student of the class, within the points possible) is the services' rule
(``services.grades.grade_problem``), so the class form and a CSV file are held to the same one.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
from datetime import timedelta

from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils import timezone

from clever import csvsafe
from core.forms import ReasonForm

from . import selectors
from .models import GradingType, SyncPolicy
from .services.grades import GRADE_COMMENT_MAX, Grade, GradeLine, grade_problems

# A class's grades fit in a few kilobytes; a larger file is the wrong one (and would hold the
# request for nothing).
MAX_CSV_BYTES = 1_000_000
MAX_CSV_LINES = 2_000
# How much of a cell a message repeats back.
SHOWN = 60
NOT_CSV = (
    "This is not a CSV file (it looks like a spreadsheet or another binary file). In your "
    "spreadsheet, save it as “CSV UTF-8” and upload that file."
)

_POINTS = re.compile(r"\d+(?:[.,]\d*)?|[.,]\d+")


def parse_points(text: str) -> float | None:
    """Points as typed: "8", "8.5" or "8,5" (a decimal comma, as many spreadsheets write it);
    ``None`` for nothing. Negative numbers are read (the services refuse them, in words)."""
    text = text.strip()
    if not text:
        return None
    digits = text[1:] if text.startswith("-") else text
    if not _POINTS.fullmatch(digits):
        raise ValidationError(f"“{text[:SHOWN]}” is not a number.")
    return float(text.replace(",", "."))


class PointsField(forms.CharField):
    def to_python(self, value):
        return parse_points(super().to_python(value) or "")


def _next_week_evening():
    """The default due date: a week from now, at 23:59 on that day (the site's time zone)."""
    day = timezone.localtime() + timedelta(days=7)
    return day.replace(hour=23, minute=59, second=0, microsecond=0)


class AssignmentForm(forms.Form):
    """What a teacher says about a new assignment; the rest (points grading, text submissions,
    one attempt) are the defaults most assignments take."""

    title = forms.CharField(max_length=255)
    description = forms.CharField(
        label="Instructions for students",
        required=False,
        empty_value=None,
        max_length=10_000,
        widget=forms.Textarea(attrs={"rows": 3, "cols": 60}),
        help_text="Shown with the assignment in the LMS. Left empty, the LMS shows the title.",
    )
    due_at = forms.DateTimeField(
        label="Due",
        initial=_next_week_evening,
        input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M"],
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        help_text=f"Date and time ({settings.TIME_ZONE}).",
    )
    points_possible = forms.FloatField(label="Points possible", min_value=0, max_value=10_000, initial=10)
    sync_policy = forms.ChoiceField(
        label="Send it and its grades to the LMS",
        choices=[
            (SyncPolicy.ON_CREATE, "Automatically: now, and each time you approve grades"),
            (SyncPolicy.MANUAL, "Only when you click “Sync to LMS”"),
        ],
        initial=SyncPolicy.ON_CREATE,
        widget=forms.RadioSelect,
    )

    def clean_due_at(self):
        due_at = self.cleaned_data["due_at"]
        if due_at <= timezone.now():
            raise ValidationError("Choose a due date that has not passed: the LMS refuses those.")
        return due_at


class SyncForm(forms.Form):
    """ "Sync to LMS": which page to come back to."""

    back = forms.ChoiceField(choices=[("section", "section"), ("assignment", "assignment")], required=False)


class ClassGradesForm(forms.Form):
    """Every student's grade and comment for one assignment, on one form. A box left empty
    leaves that student ungraded; emptying a grade already saved is refused (the LMS keeps a
    grade once sent, so removing it here would only pretend)."""

    action = forms.ChoiceField(choices=[("draft", "Save as drafts"), ("approve", "Save and approve")])

    def __init__(self, *args, assignment, rows: list[selectors.StudentRow], **kwargs):
        super().__init__(*args, **kwargs)
        self.assignment = assignment
        self.rows = rows
        for row in rows:
            result = row.result
            self.fields[self._grade(row)] = self._grade_field(row)
            self.fields[self._comment(row)] = forms.CharField(
                required=False,
                max_length=GRADE_COMMENT_MAX,
                initial=result.comment if result else "",
                widget=forms.TextInput(attrs={"size": 22, "aria-label": f"Comment for {row.student}"}),
            )

    @staticmethod
    def _grade(row) -> str:
        return f"grade-{row.student.pk}"

    @staticmethod
    def _comment(row) -> str:
        return f"comment-{row.student.pk}"

    def _grade_field(self, row) -> forms.Field:
        result, label = row.result, f"Grade for {row.student}"
        kind = self.assignment.grading_type
        if kind == GradingType.PASS_FAIL:
            return forms.ChoiceField(
                required=False,
                choices=[("", "—"), ("pass", "Pass"), ("fail", "Fail")],
                initial=result.grade if result else "",
                widget=forms.Select(attrs={"aria-label": label}),
            )
        if kind == GradingType.LETTER_GRADE:
            return forms.CharField(
                required=False,
                max_length=32,
                initial=result.grade if result else "",
                widget=forms.TextInput(attrs={"size": 5, "aria-label": label}),
            )
        initial = f"{result.points:g}" if result and result.points is not None else ""
        return PointsField(
            required=False,
            initial=initial,
            widget=forms.TextInput(attrs={"size": 5, "inputmode": "decimal", "aria-label": label}),
        )

    @property
    def approve(self) -> bool:
        return self.cleaned_data.get("action") == "approve"

    def table(self) -> list[tuple[selectors.StudentRow, forms.BoundField, forms.BoundField]]:
        return [(row, self[self._grade(row)], self[self._comment(row)]) for row in self.rows]

    def _entered(self, row) -> bool:
        value = self.cleaned_data.get(self._grade(row))
        return value is not None and value != ""

    def clean(self):
        cleaned = super().clean()
        for row in self.rows:
            had_grade = row.result is not None and (row.result.points is not None or row.result.grade)
            if had_grade and self._grade(row) in cleaned and not self._entered(row):
                self.add_error(self._grade(row), "A saved grade cannot be emptied: type it again.")
        # Every problem at once: the grades that read well are held to the services' rules too.
        self.add_problems(grade_problems(assignment=self.assignment, grades=self.grades()))
        return cleaned

    def _row(self, student_pk: int) -> selectors.StudentRow:
        return next(row for row in self.rows if row.student.pk == student_pk)

    def grades(self) -> dict[int, Grade]:
        """The grades entered, by student (the ``Person``'s pk)."""
        grades = {}
        for row in self.rows:
            if not self._entered(row):
                continue
            value = self.cleaned_data[self._grade(row)]
            comment = self.cleaned_data.get(self._comment(row), "")
            if self.assignment.grading_type in (GradingType.POINTS, GradingType.PERCENT):
                grade = Grade(student=row.student, points=value, comment=comment)
            else:  # a letter's points (from a CSV) are not on this form: kept as they are
                points = row.result.points if row.result else None
                grade = Grade(student=row.student, points=points, grade=value, comment=comment)
            grades[row.student.pk] = grade
        return grades

    def add_problems(self, problems: dict[int, str]) -> None:
        """The services' refusals, on the students' grade boxes."""
        for student_pk, problem in problems.items():
            self.add_error(self._grade(self._row(student_pk)), problem)


# Header names a teacher's file may use for each column (compared lower case, with spaces,
# hyphens and underscores alike); other columns are ignored.
CSV_HEADERS = {
    "student_number": "student_number",
    "student_no": "student_number",
    "number": "student_number",
    "sis_id": "sis_id",
    "student_sis_id": "sis_id",
    "email": "email",
    "email_address": "email",
    "student_email": "email",
    "name": "name",
    "student": "name",
    "student_name": "name",
    "points": "points",
    "score": "points",
    "grade": "grade",
    "comment": "comment",
    "comments": "comment",
    "feedback": "comment",
}


def _column(header: str) -> str:
    return CSV_HEADERS.get(re.sub(r"[\s_-]+", "_", header.strip().casefold()).strip("_"), "")


def _decode(data: bytes) -> str:
    """The file's text: UTF-8 (with or without a byte order mark), UTF-16 with one, or, as
    Excel's plain "CSV" writes on Windows, Windows-1252."""
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        encodings = ("utf-16",)
    else:
        encodings = ("utf-8-sig", "cp1252")
    for encoding in encodings:
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise ValidationError(
        "This file's text could not be read. In your spreadsheet, save it as “CSV UTF-8” and try again."
    )


def _delimiter(first_line: str) -> str:
    """Commas, or the semicolons (and tabs) some spreadsheets write instead."""
    return max((",", ";", "\t"), key=first_line.count)


class GradesCsvForm(forms.Form):
    """A grades CSV: a first line naming the columns, then one line per student. Cleaned, the
    file is its lines (``GradeLine``), each with what is wrong with it, if anything:
    the services check every line against the class, and take all of them or none."""

    file = forms.FileField(
        label="CSV file", widget=forms.ClearableFileInput(attrs={"accept": ".csv,text/csv,text/plain"})
    )
    approve = forms.BooleanField(required=False, label="Approve these grades now")

    def __init__(self, *args, assignment, **kwargs):
        super().__init__(*args, **kwargs)
        self.assignment = assignment

    def columns_help(self) -> str:
        grade = " and ".join(selectors.grade_columns(self.assignment))
        return (
            f"The first line names the columns: student number, SIS ID, email or name (the "
            f"first one filled on a line says who it is), {grade}, and comment if you like."
        )

    def clean_file(self) -> list[GradeLine]:
        upload = self.cleaned_data["file"]
        if upload.size > MAX_CSV_BYTES:
            raise ValidationError(
                "This file is larger than 1 MB: a class's grades fit in far less. Is it the right file?"
            )
        data = upload.read()
        if data.startswith(b"PK\x03\x04"):  # a zip: .xlsx, .ods, .numbers
            raise ValidationError(NOT_CSV)
        text = _decode(data)
        if "\x00" in text:  # no text has NUL characters; binary files have many
            raise ValidationError(NOT_CSV)
        if not text.strip():
            raise ValidationError("The file is empty.")
        self.file_name = upload.name
        return self._lines(text)

    def _lines(self, text: str) -> list[GradeLine]:
        reader = csvsafe.Reader(
            io.StringIO(text, newline=""), strict=True, delimiter=_delimiter(text.splitlines()[0])
        )
        try:
            header = next(reader)
            columns = [_column(name) for name in header]
            self._check_header(header, columns)
            lines = []
            for cells in reader:
                if reader.line_num > MAX_CSV_LINES:
                    raise ValidationError(
                        f"The file has more than {MAX_CSV_LINES:,} lines: a "
                        "class list is never that long. Is it the right file?"
                    )
                if any(cell.strip() for cell in cells):
                    line = self._line(reader.line_num, columns, cells)
                    if line is not None:
                        lines.append(line)
        except csv.Error:
            raise ValidationError(
                f"Line {reader.line_num} is not CSV this page can read: a quotation mark is not "
                "closed, or text follows a closing one. Nothing was imported."
            ) from None
        if not lines:
            raise ValidationError("The file names no student with a grade: nothing to import.")
        return lines

    def _check_header(self, header: list[str], columns: list[str]) -> None:
        found = [column for column in columns if column]
        twice = sorted({column for column in found if found.count(column) > 1})
        if twice:
            raise ValidationError(f"The first line names the same column twice: {', '.join(twice)}.")
        needed = selectors.grade_columns(self.assignment)[0]
        if not set(found) & set(selectors.IDENTIFIER_COLUMNS) or needed not in found:
            shown = ", ".join(name.strip()[:SHOWN] for name in header if name.strip()) or "nothing"
            raise ValidationError(f"{self.columns_help()} This file's first line has: {shown}.")

    def _line(self, number: int, columns: list[str], cells: list[str]) -> GradeLine | None:
        """One student's line, or ``None`` for a line without a grade (that student is left
        as they are)."""
        if len(cells) > len(columns):
            return GradeLine(
                line=number,
                problem=(
                    f"This line has {len(cells)} cells and the first line names {len(columns)} "
                    "columns. A comment with a comma in it needs quotation marks around it."
                ),
            )
        values: dict[str, str] = {}
        for column, cell in zip(columns, cells, strict=False):
            if column:
                values[column] = cell.strip()
        comment = values.get("comment", "")
        if not values.get("points") and not values.get("grade"):
            if comment:
                return GradeLine(
                    line=number, problem="A comment without a grade: add the grade, or remove the comment."
                )
            return None
        column = next((c for c in selectors.IDENTIFIER_COLUMNS if values.get(c)), "")
        if not column:
            return GradeLine(line=number, problem="Nothing on this line says which student it is.")
        try:
            points = parse_points(values.get("points", ""))
        except ValidationError as error:
            return GradeLine(line=number, problem=error.messages[0])
        return GradeLine(
            line=number,
            column=column,
            identifier=values[column][:255],
            points=points,
            grade=values.get("grade", ""),
            comment=comment,
        )


class ReplaceGradeForm(ReasonForm):
    """Why a teacher sends our grade over one set in the LMS (the page asks in the LMS's name)."""

    reason = forms.CharField(
        min_length=3,
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 3, "cols": 60}),
        help_text="Kept with your name in the assignment's history.",
    )


class CourseSetupForm(forms.Form):
    """Which of the teacher's own live classes a course in the LMS is (``selectors.setup_choices``):
    any other value, or none, is a form error."""

    section = forms.TypedChoiceField(
        label="Your classes",
        coerce=int,
        widget=forms.RadioSelect,
        error_messages={
            "required": "Choose one of your classes.",
            "invalid_choice": "That class is not one of yours: choose one of your classes.",
        },
    )

    def __init__(self, *args, choices: list[selectors.SectionChoice], **kwargs):
        super().__init__(*args, **kwargs)
        self._sections = {choice.section.pk: choice.section for choice in choices}
        self.fields["section"].choices = [(choice.section.pk, choice.label) for choice in choices]  # type: ignore[attr-defined]

    def clean_section(self):
        return self._sections[self.cleaned_data["section"]]
