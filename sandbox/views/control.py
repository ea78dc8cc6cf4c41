"""The sandbox control page (``/sandbox/``): districts, tokens, knobs, roster changes.

For demos and manual tests. Views validate the POSTed form (400 on bad input), call one
function of ``sandbox.services``, ``sandbox.roster`` (roster changes, which go through the
services and so emit Clever events) or ``sandbox.knobs.KNOBS``, and redirect back. Nothing here
is business logic. The page shows tokens masked with a reveal/copy control: it is a sandbox.

The district page's bulk changes (remove or add N students, move N students between two
sections, change the district's NCES LEAID or MDR number) and its LMS grade change (a teacher
edits a grade in the LMS gradebook, ``sandbox.lms.gradebook.teacher_edit_submission``) show a
bad input as form errors on the page itself (200), so a demo can correct it and go on.

The home page lists, per district, people to sign in as with Instant Login links, and the Clever
Library teachers with links that open the app from Clever Library (Clever: Instant Login links
do not work for Library). Its identity-token card lives in ``control_identity``.

A Canvas or Schoology district's page lists the courses made in its LMS (not in Clever) and adds
one (``sandbox.lms.launch.create_lms_course``); the LMS launch page (``lms_launch``) opens the app
from any course.
"""

from __future__ import annotations

import dataclasses
import json
import math
import re

from django import forms
from django.conf import settings
from django.contrib import messages
from django.http import HttpResponseBadRequest
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import NoReverseMatch, path, reverse
from django.views.decorators.http import require_GET, require_POST

from .. import roster, selectors, services
from ..generator.districts import district_counts
from ..knobs import KNOBS
from ..lms import gradebook, launch
from ..models import (
    LmsType,
    RecordType,
    SandboxDistrict,
    SandboxEvent,
    SandboxLmsSubmission,
    SandboxRecord,
    Sharing,
)
from . import control_identity
from .oauth import instant_login_path

FAULT_KINDS = [
    ("status", "status (5xx JSON error)"),
    ("malformed_json", "malformed JSON"),
    ("html", "HTML error page"),
    ("slow", "slow answer"),
]
LMS_STATES = [
    "",
    "initial_sync_processing",
    "pending_authorization",
    "matching_in_progress",
    "error",
    "disconnected",
    "success",
]
SAMPLE_SIZE = 15


class RateLimitForm(forms.Form):
    rate_limit_per_minute = forms.IntegerField(min_value=1, max_value=1_000_000)


class FaultForm(forms.Form):
    kind = forms.ChoiceField(choices=FAULT_KINDS)
    on_request = forms.IntegerField(min_value=1, initial=1, help_text="the Nth API request from now")
    count = forms.IntegerField(min_value=1, initial=1, help_text="how many requests in a row")
    status = forms.IntegerField(min_value=400, max_value=599, initial=503, required=False)
    delay = forms.FloatField(
        min_value=0, max_value=120, initial=0, required=False, help_text="seconds, for slow"
    )
    path_contains = forms.CharField(
        max_length=200, required=False, help_text="only API paths containing this"
    )


class LmsForm(forms.Form):
    lms_type = forms.ChoiceField(choices=LmsType.choices, required=False)
    lms_state = forms.ChoiceField(choices=[(s, s or "(automatic)") for s in LMS_STATES], required=False)


class AddStudentForm(forms.Form):
    section_id = forms.CharField(label="Section ID", max_length=24)
    first = forms.CharField(max_length=100, required=False)
    last = forms.CharField(max_length=100, required=False)


class RenameUserForm(forms.Form):
    user_id = forms.CharField(label="User ID", max_length=24)
    first = forms.CharField(max_length=100)
    last = forms.CharField(max_length=100)


class UserIdForm(forms.Form):
    user_id = forms.CharField(label="User ID", max_length=24)


class AddSectionForm(forms.Form):
    school_id = forms.CharField(label="School ID", max_length=24, required=False)
    name = forms.CharField(max_length=200, required=False)
    students = forms.IntegerField(min_value=0, max_value=500, initial=5)


class SectionIdForm(forms.Form):
    section_id = forms.CharField(label="Section ID", max_length=24)


class LmsCourseForm(forms.Form):
    title = forms.CharField(max_length=255, initial="Homeroom")
    label = forms.CharField(max_length=255, required=False, help_text="short code; the title if blank")
    teacher_id = forms.CharField(label="Teacher ID", max_length=24)
    students = forms.IntegerField(
        min_value=0, max_value=100, initial=4, help_text="how many of the teacher's students (by name)"
    )


# --- bulk changes --------------------------------------------------------------------------------


def guard_fractions() -> tuple[float, float]:
    """The app's default sync guard, quoted by the help text and messages (the sandbox does not
    apply it): more than the first fraction of the students removed, or more than the second
    of the records of one kind changed, holds the next sync for approval."""
    return (
        float(getattr(settings, "SYNC_GUARD_MAX_DELETED_FRACTION", 0.10)),
        float(getattr(settings, "SYNC_GUARD_MAX_CHANGED_FRACTION", 0.75)),
    )


def next_sync(change: roster.BulkChange, *, removal: bool) -> str:
    """What the app's next sync does with a bulk change, by the default guard, in plain words."""
    deleted, changed = guard_fractions()
    reasons = []
    removed, students = change.changed.get("students", (0, 0))
    if removal and students and removed / students > deleted:
        reasons.append(f"more than {_percent(deleted)} of the students are gone")
    for kind in ("sections", "contacts"):
        count, total = change.changed.get(kind, (0, 0))
        if total and count / total > changed:
            reasons.append(f"{count:,} of the {total:,} {kind} changed, more than {_percent(changed)}")
    if reasons:
        return f"the next sync will ask support to approve ({'; '.join(reasons)})"
    return "the next sync applies it without asking"


def _percent(fraction: float) -> str:
    """0.15 -> "15%", 0.104 -> "10.4%" (never rounded onto a threshold it is over)."""
    return f"{f'{fraction * 100:.1f}'.rstrip('0').rstrip('.')}%"


ONE_OR_MORE = {"min_value": "Enter 1 or more."}


class RemoveStudentsForm(forms.Form):
    count = forms.IntegerField(label="How many students", min_value=1, error_messages=ONE_OR_MORE)

    def __init__(self, *args, students: int, **kwargs):
        super().__init__(*args, **kwargs)
        self.students = students
        field = self.fields["count"]
        field.max_value = max(students, 1)
        field.widget.attrs.update(min=1, max=max(students, 1))
        deleted, changed = guard_fractions()
        hold_from = math.floor(students * deleted + 1e-9) + 1
        field.help_text = (
            f"Picked at random. More than {_percent(deleted)} makes the next sync wait for "
            f"approval (here {hold_from:,} or more of {students:,}), and so does changing more "
            f"than {_percent(changed)} of the sections (each student is in about 5)."
            if students
            else "The district has no students left to remove."
        )

    def clean_count(self):
        count = self.cleaned_data["count"]
        if not self.students:
            raise forms.ValidationError("The district has no students left to remove.")
        if count > self.students:
            raise forms.ValidationError(
                f"The district has {self.students:,} students: enter 1 to {self.students:,}."
            )
        return count


class AddStudentsForm(forms.Form):
    count = forms.IntegerField(
        label="How many students",
        min_value=1,
        max_value=roster.MAX_ADDED_STUDENTS,
        error_messages={
            **ONE_OR_MORE,
            "max_value": f"Enter {roster.MAX_ADDED_STUDENTS:,} or fewer: that is the most at a time.",
        },
        help_text=f"1 to {roster.MAX_ADDED_STUDENTS:,}. Generated names, each student in "
        "5 sections of one school.",
    )


SECTION_ERRORS = {
    "required": "Choose a section.",
    "invalid_choice": "Choose a section from the list: that one is gone.",
}


class MoveStudentsForm(forms.Form):
    from_section = forms.ChoiceField(label="From section", error_messages=SECTION_ERRORS)
    to_section = forms.ChoiceField(label="To section", error_messages=SECTION_ERRORS)
    count = forms.IntegerField(
        label="How many students",
        min_value=1,
        error_messages=ONE_OR_MORE,
        help_text="Two sections of one school; students already in the second section stay where they are.",
    )

    def __init__(self, *args, sections: SectionChoices, **kwargs):
        super().__init__(*args, **kwargs)
        self.sections = sections
        for name in ("from_section", "to_section"):
            self.fields[name].choices = [("", "Choose a section"), *sections.grouped]

    def clean(self):
        data = super().clean()
        source, target = data.get("from_section"), data.get("to_section")
        if not source or not target:
            return data
        if source == target:
            self.add_error("to_section", "Choose a different section from the first one.")
            return data
        if self.sections.school[source] != self.sections.school[target]:
            self.add_error(
                "to_section", "This section is in another school: choose two sections of one school."
            )
            return data
        count = data.get("count")
        movable = len(self.sections.students[source] - self.sections.students[target])
        if count is not None and count > movable:
            self.add_error(
                "count",
                f"Only {movable:,} students of the first section are not "
                f"already in the second: enter 1 to {movable:,}."
                if movable
                else "Every student of the first section is already in the second: nobody can move.",
            )
        return data


NCES_LEAID = re.compile(r"[0-9]{7}")
MDR_NUMBER = re.compile(r"[A-Za-z0-9]{1,16}")


class DistrictIdsForm(forms.Form):
    nces_id = forms.CharField(
        label="NCES LEAID",
        required=False,
        max_length=20,
        help_text="7 digits (the first two are the state's code), or blank for none.",
    )
    mdr_number = forms.CharField(
        label="MDR number",
        required=False,
        max_length=40,
        help_text="Up to 16 letters or digits, or blank for none.",
    )

    def clean_nces_id(self):
        value = self.cleaned_data["nces_id"].replace(" ", "")
        if value and not NCES_LEAID.fullmatch(value):
            raise forms.ValidationError("An NCES LEAID is exactly 7 digits, like 2612345.")
        return value

    def clean_mdr_number(self):
        value = self.cleaned_data["mdr_number"].replace(" ", "")
        if value and not MDR_NUMBER.fullmatch(value):
            raise forms.ValidationError("An MDR number is 1 to 16 letters or digits, nothing else.")
        return value


class SectionChoices:
    """A district's sections for the move form: select options grouped by school, by name."""

    def __init__(self, district: SandboxDistrict):
        schools = {
            clever_id: json.loads(body).get("name") or "School without a name"
            for clever_id, body in SandboxRecord.objects.filter(
                district=district, record_type=RecordType.SCHOOLS
            ).values_list("clever_id", "body")
        }
        self.school: dict[str, str] = {}
        self.students: dict[str, set[str]] = {}
        self.name: dict[str, str] = {}
        groups: dict[str, list[tuple[str, str]]] = {}
        seen: dict[tuple[str, str], int] = {}
        for clever_id, body in SandboxRecord.objects.filter(
            district=district, record_type=RecordType.SECTIONS
        ).values_list("clever_id", "body"):
            data = json.loads(body)
            school = data.get("school") or ""
            name = data.get("name") or "Section without a name"
            seen[(school, name)] = seen.get((school, name), 0) + 1
            if seen[(school, name)] > 1:
                name = f"{name} (#{seen[(school, name)]})"
            students = data.get("students") or []
            self.school[clever_id] = school
            self.students[clever_id] = set(students)
            self.name[clever_id] = name
            label = f"{name}: {len(students):,} student{'' if len(students) == 1 else 's'}"
            groups.setdefault(school, []).append((clever_id, label))
        self.grouped = [
            (schools.get(school, "No school"), sorted(options, key=lambda option: option[1]))
            for school, options in sorted(groups.items(), key=lambda item: schools.get(item[0], "~"))
        ]


class LmsGradeForm(forms.Form):
    """A teacher changes a grade in the district's LMS gradebook (not through Clever's API)."""

    submission = forms.ChoiceField(
        label="Assignment and student",
        error_messages={
            "required": "Choose a student's submission.",
            "invalid_choice": "Choose a submission from the list: that one is gone.",
        },
    )
    grade_points = forms.FloatField(
        label="Grade points",
        required=False,
        min_value=0,
        max_value=100_000,
        error_messages={
            "invalid": "Enter a number of points, like 8 or 8.5.",
            "min_value": "Enter 0 or more points.",
        },
        help_text="Points earned, like 8.5. Blank leaves the points as they are.",
    )
    grade = forms.CharField(
        label="Letter grade",
        required=False,
        max_length=32,
        help_text="Like B+ or Pass. Blank leaves the letter grade as it is.",
    )

    def __init__(self, *args, district: SandboxDistrict, **kwargs):
        super().__init__(*args, **kwargs)
        self.district = district
        self.submissions = {s.key: s for s in selectors.lms_submissions(district)}
        groups: dict[str, list[tuple[str, str]]] = {}
        for submission in self.submissions.values():
            # The title again in each option: a closed select shows the option, not its group.
            groups.setdefault(submission.assignment, []).append(
                (submission.key, f"{submission.student}, {submission.title}: {submission.grade_text}")
            )
        self.fields["submission"].choices = [("", "Choose a student's submission"), *groups.items()]

    def clean(self):
        data = super().clean()
        if not self.district.lms_type:
            raise forms.ValidationError("This district has no LMS: set one above first.")
        if data.get("grade_points") is None and not data.get("grade") and not self.errors:
            raise forms.ValidationError("Enter grade points, a letter grade, or both.")
        return data

    def changes(self) -> dict:
        """The fields to change, as ``teacher_edit_submission`` takes them."""
        data = self.cleaned_data
        return {name: data[name] for name in ("grade_points", "grade") if data[name] not in (None, "")}


def _mask(token: str) -> str:
    return f"{token[:4]}{'•' * 8}{token[-4:]}"


def _portal_url() -> str:
    try:
        return reverse("sandbox:portal")
    except NoReverseMatch:
        return reverse("sandbox:home") + "portal/"


def _district_row(district: SandboxDistrict) -> dict:
    token = services.district_token(district)
    return {
        "district": district,
        "counts": district_counts(district),
        "token": token.access_token if token else "",
        "masked_token": _mask(token.access_token) if token else "",
        "lms_form": LmsForm(initial={"lms_type": district.lms_type}, prefix=district.id),
    }


def _back(request, district: SandboxDistrict | None = None):
    if district is not None and request.POST.get("back") == "district":
        return redirect("sandbox:control-district", district_id=district.id)
    return redirect("sandbox:home")


def _sign_in(app, district: SandboxDistrict) -> dict:
    """A district's Instant Login link and the people the control page offers to sign in as."""

    def link(user_id: str = "") -> str:
        return instant_login_path(client_id=app.client_id, district_id=district.id, user_id=user_id)

    return {
        "district": district,
        "link": link(),
        "people": [(person, link(person.user.clever_id)) for person in selectors.sign_in_people(district)]
        if district.connected
        else [],
    }


@require_GET
def home(request):
    app = services.get_application()
    districts = list(SandboxDistrict.objects.order_by("created_at", "id"))
    library_teachers, library_total = selectors.library_teachers()
    # The identity card's messages show in that card, where its forms come back to.
    queued = list(messages.get_messages(request))
    return render(
        request,
        "sandbox/control.html",
        {
            "messages": [m for m in queued if m.extra_tags != control_identity.MESSAGES],
            "identity_messages": [m for m in queued if m.extra_tags == control_identity.MESSAGES],
            "app": app,
            "districts": [_district_row(d) for d in districts],
            "sign_in": [_sign_in(app, d) for d in districts if d.sharing == Sharing.DISTRICT],
            "library_teachers": library_teachers,
            "library_total": library_total,
            "knobs": KNOBS,
            "faults": list(KNOBS.faults),
            "rate_form": RateLimitForm(initial={"rate_limit_per_minute": KNOBS.rate_limit_per_minute}),
            "fault_form": FaultForm(),
            "portal_url": _portal_url(),
            **control_identity.card(app),
        },
    )


@require_GET
def district_detail(request, district_id: str):
    district = get_object_or_404(SandboxDistrict, id=district_id)
    return _district_page(request, district)


def _bulk_form(op: str, district: SandboxDistrict, data=None) -> forms.Form:
    """One bulk change's form (its op is its prefix), bound to ``data`` when given."""
    if op == "remove_students":
        students = SandboxRecord.objects.filter(district=district, is_student=True).count()
        return RemoveStudentsForm(data, students=students, prefix=op)
    if op == "add_students":
        return AddStudentsForm(data, prefix=op)
    if op == "move_students":
        return MoveStudentsForm(data, sections=SectionChoices(district), prefix=op)
    return DistrictIdsForm(
        data,
        prefix=op,
        initial={
            "nces_id": district.data.get("nces_id", ""),
            "mdr_number": district.data.get("mdr_number", ""),
        },
    )


def _district_page(request, district: SandboxDistrict, bound: dict | None = None):
    """The district page; ``bound`` holds a submitted form (a bulk change's, or the LMS grade
    form, by its ``PAGE_FORMS`` name) to show with its errors."""
    bound = bound or {}
    records = SandboxRecord.objects.filter(district=district).order_by("clever_id")
    users = records.filter(record_type=RecordType.USERS)
    bulk = {op: bound.get(op) or _bulk_form(op, district) for op in BULK_OPS}
    # A bulk change's or a grade change's message shows in its card, where the page comes back
    # to (#bulk, #lms-grades).
    queued = list(messages.get_messages(request))
    return render(
        request,
        "sandbox/control_district.html",
        {
            "messages": [m for m in queued if m.extra_tags not in CARD_MESSAGES],
            "card_messages": {tag: [m for m in queued if m.extra_tags == tag] for tag in CARD_MESSAGES},
            "row": _district_row(district),
            "district": district,
            "schools": selectors.named_records(district, RecordType.SCHOOLS, SAMPLE_SIZE),
            "sections": selectors.named_records(district, RecordType.SECTIONS, SAMPLE_SIZE),
            "students": users.filter(is_student=True)[:SAMPLE_SIZE],
            "adults": users.filter(is_student=False, is_contact=False)[:SAMPLE_SIZE],
            "events": SandboxEvent.objects.filter(district=district).order_by("-id")[:SAMPLE_SIZE],
            "add_student_form": AddStudentForm(),
            "rename_form": RenameUserForm(),
            "remove_user_form": UserIdForm(),
            "add_section_form": AddSectionForm(),
            "remove_section_form": SectionIdForm(),
            "bulk": bulk,
            "form_error": next((PAGE_FORMS[name] for name, form in bound.items() if form.errors), None),
            "lms_grade_form": bound.get("lms_grade") or LmsGradeForm(district=district, prefix="lms_grade"),
            "bulk_has_sections": any(options for _, options in bulk["move_students"].sections.grouped),
            "portal_url": _portal_url(),
            "lms_launches": launch.has_launches(district),
            "lms_courses": launch.courses_made_in_lms(district),
            "lms_course_form": LmsCourseForm(),
        },
    )


# --- district switches ---------------------------------------------------------------------------

DISTRICT_ACTIONS = {
    "rotate_token": (
        "District token rotated: the old one now gets 401.",
        lambda d: services.rotate_district_token(district=d),
    ),
    "revoke_token": ("District token revoked: requests with it now get 401.", lambda d: _revoke(d)),
    "disconnect": (
        "District disconnected: its tokens are revoked and it left /oauth/tokens.",
        lambda d: services.disconnect_district(district=d),
    ),
    "reconnect": (
        "District reconnected with a new token.",
        lambda d: services.reconnect_district(district=d),
    ),
    "events_on": ("Events enabled.", lambda d: services.set_events_enabled(district=d, enabled=True)),
    "events_off": ("Events disabled.", lambda d: services.set_events_enabled(district=d, enabled=False)),
}


def _revoke(district: SandboxDistrict) -> None:
    token = services.district_token(district)
    if token is not None:
        services.revoke_token(access_token=token.access_token)


@require_POST
def district_action(request, district_id: str):
    district = get_object_or_404(SandboxDistrict, id=district_id)
    action = DISTRICT_ACTIONS.get(request.POST.get("action", ""))
    if action is None:
        return HttpResponseBadRequest("unknown action")
    message, call = action
    call(district)
    messages.success(request, f"{district.name}: {message}")
    return _back(request, district)


@require_POST
def district_lms(request, district_id: str):
    district = get_object_or_404(SandboxDistrict, id=district_id)
    form = LmsForm(request.POST, prefix=district.id)
    if not form.is_valid():
        return HttpResponseBadRequest(form.errors.as_text())
    services.set_lms(
        district=district,
        lms_type=form.cleaned_data["lms_type"],
        lms_state=form.cleaned_data["lms_state"] or None,
    )
    district.refresh_from_db()
    messages.success(
        request,
        f"{district.name}: LMS set to {district.lms_type or 'none'} ({district.lms_state or 'no state'}).",
    )
    return _back(request, district)


@require_POST
def district_lms_course(request, district_id: str):
    """A teacher makes a course in the district's LMS (Clever knows nothing of it)."""
    district = get_object_or_404(SandboxDistrict, id=district_id)
    form = LmsCourseForm(request.POST)
    if not form.is_valid():
        return HttpResponseBadRequest(form.errors.as_text())
    data = form.cleaned_data
    try:
        course = launch.create_lms_course(
            district=district,
            title=data["title"],
            label=data["label"],
            teacher_id=data["teacher_id"],
            student_ids=launch.students_of_teacher(data["teacher_id"], data["students"]),
        )
    except launch.LmsCourseError as exc:
        messages.error(request, str(exc), extra_tags="lms_courses")
    else:
        messages.success(
            request,
            f"{course.title} made in {district.get_lms_type_display()}, taught by {data['teacher_id']} "
            f"to {len(course.student_ids)} students (context id {course.context_id}).",
            extra_tags="lms_courses",
        )
    return redirect(reverse("sandbox:control-district", args=[district.id]) + "#lms-courses")


# --- roster changes (each emits Clever events) ----------------------------------------------------

ROSTER_OPS = {
    "add_student": (
        AddStudentForm,
        lambda d, c: roster.add_student_to_section(
            district=d, section_id=c["section_id"], first=c["first"], last=c["last"]
        ),
        "added student {id} to the section",
    ),
    "rename_user": (
        RenameUserForm,
        lambda d, c: roster.rename_user(district=d, user_id=c["user_id"], first=c["first"], last=c["last"]),
        "renamed user {id}",
    ),
    "remove_user": (
        UserIdForm,
        lambda d, c: roster.remove_user(district=d, user_id=c["user_id"]),
        "removed user {id}",
    ),
    "add_section": (
        AddSectionForm,
        lambda d, c: roster.add_section(
            district=d, school_id=c["school_id"], name=c["name"], students=c["students"]
        ),
        "added section {id}",
    ),
    "remove_section": (
        SectionIdForm,
        lambda d, c: roster.remove_section(district=d, section_id=c["section_id"]),
        "removed section {id}",
    ),
}


@require_POST
def district_roster(request, district_id: str, op: str):
    district = get_object_or_404(SandboxDistrict, id=district_id)
    if op not in ROSTER_OPS:
        return HttpResponseBadRequest("unknown roster change")
    form_class, call, message = ROSTER_OPS[op]
    form = form_class(request.POST)
    if not form.is_valid():
        return HttpResponseBadRequest(form.errors.as_text())
    try:
        record = call(district, form.cleaned_data)
    except roster.RosterError as exc:
        messages.error(request, str(exc))
    else:
        note = "" if district.events_enabled else " (events are off: none emitted)"
        messages.success(request, f"{district.name}: {message.format(id=record['id'])}{note}.")
    return redirect("sandbox:control-district", district_id=district.id)


# --- bulk changes (each emits Clever events; bad input comes back as form errors) ------------------


def _plural(count: int, word: str) -> str:
    return f"{count:,} {word}{'' if count == 1 else 's'}"


def _bulk_remove(district: SandboxDistrict, form: RemoveStudentsForm) -> str:
    change = roster.remove_students(district=district, count=form.cleaned_data["count"])
    removed, before = change.changed["students"]
    return (
        f"Removed {_plural(removed, 'student')} from {district.name} "
        f"({_percent(removed / before)} of {before:,}): {next_sync(change, removal=True)}."
    )


def _bulk_add(district: SandboxDistrict, form: AddStudentsForm) -> str:
    change = roster.add_students(district=district, count=form.cleaned_data["count"])
    sections = change.changed["sections"][0]
    return (
        f"Added {_plural(len(change.students), 'student')} to {district.name}, in "
        f"{_plural(sections, 'existing section')}: {next_sync(change, removal=False)}."
    )


def _bulk_move(district: SandboxDistrict, form: MoveStudentsForm) -> str:
    data = form.cleaned_data
    change = roster.move_students(
        district=district,
        from_section_id=data["from_section"],
        to_section_id=data["to_section"],
        count=data["count"],
    )
    names = form.sections.name
    return (
        f"Moved {_plural(len(change.students), 'student')} of {district.name} from "
        f"{names[data['from_section']]} to {names[data['to_section']]}: "
        f"{next_sync(change, removal=False)}."
    )


ID_NAMES = {"nces_id": "NCES LEAID", "mdr_number": "MDR number"}


def _bulk_ids(district: SandboxDistrict, form: DistrictIdsForm) -> str:
    data = form.cleaned_data
    previous = services.set_district_identifiers(
        district=district, nces_id=data["nces_id"], mdr_number=data["mdr_number"]
    )
    if not previous:
        return f"{district.name}: the NCES LEAID and MDR number were already these; nothing changed."
    changes = [
        f"{ID_NAMES[key]} changed from {previous[key] or 'none'} to {data[key] or 'none'}"
        for key in ID_NAMES
        if key in previous
    ]
    them = "them" if len(changes) > 1 else "it"
    return (
        f"{district.name}: {' and '.join(changes)}. The app reads {them} at its next "
        f"district discovery, and can match the district by {them}."
    )


BULK_TITLES = {
    "remove_students": "Remove students",
    "add_students": "Add students",
    "move_students": "Move students between sections",
    "district_ids": "NCES LEAID and MDR number",
}
BULK_OPS = {
    "remove_students": _bulk_remove,
    "add_students": _bulk_add,
    "move_students": _bulk_move,
    "district_ids": _bulk_ids,
}
# The district page's forms that come back with their errors: (anchor on the page, title).
PAGE_FORMS = {
    **{op: (f"bulk-{op}", title) for op, title in BULK_TITLES.items()},
    "lms_grade": ("lms-grades", "Change a grade in the LMS"),
}
CARD_MESSAGES = ("bulk", "lms", "lms_courses")


@require_POST
def district_bulk(request, district_id: str, op: str):
    district = get_object_or_404(SandboxDistrict, id=district_id)
    if op not in BULK_OPS:
        return HttpResponseBadRequest("unknown bulk change")
    form = _bulk_form(op, district, request.POST)
    if form.is_valid():
        try:
            message = BULK_OPS[op](district, form)
        except roster.RosterError as exc:
            # The roster changed between showing the page and this post (another tab, a script).
            text = str(exc)
            form.add_error(None, f"{text[:1].upper()}{text[1:]}.")
        else:
            note = "" if district.events_enabled else " Events are off: none emitted."
            messages.success(request, message + note, extra_tags="bulk")
            return redirect(reverse("sandbox:control-district", args=[district.id]) + "#bulk")
    return _with_errors(request, district, op, form)


def _with_errors(request, district: SandboxDistrict, name: str, form: forms.Form):
    # The page comes back at its top: the note there and the focus lead to the error.
    first = next((field for field in form.errors if field in form.fields), None)
    if first is not None:
        form.fields[first].widget.attrs["autofocus"] = True
    return _district_page(request, district, {name: form})


# --- a teacher edits a grade in the LMS (bad input comes back as form errors) ---------------------


@require_POST
def district_lms_grade(request, district_id: str):
    district = get_object_or_404(SandboxDistrict, id=district_id)
    form = LmsGradeForm(request.POST, district=district, prefix="lms_grade")
    if form.is_valid():
        submission = form.submissions[form.cleaned_data["submission"]]
        try:
            stored = gradebook.teacher_edit_submission(
                assignment_id=submission.assignment_id, user_id=submission.user_id, **form.changes()
            )
        except SandboxLmsSubmission.DoesNotExist:
            # The assignment was deleted through Clever between showing the page and this post.
            form.add_error("submission", "Choose a submission from the list: that one is gone.")
        else:
            edited = dataclasses.replace(
                submission,
                grade_points=float(stored.get("grade_points") or 0),
                grade=stored.get("grade") or "",
            )
            messages.success(
                request,
                f"In {district.get_lms_type_display()}, {submission.student} now has "
                f"{edited.grade_text} on {submission.assignment}. The app finds it at its "
                "next read of the LMS: every night, or sooner when asked from the "
                "assignment's page.",
                extra_tags="lms",
            )
            return redirect(reverse("sandbox:control-district", args=[district.id]) + "#lms-grades")
    return _with_errors(request, district, "lms_grade", form)


# --- knobs -----------------------------------------------------------------------------------------


@require_POST
def rate_limit(request):
    form = RateLimitForm(request.POST)
    if not form.is_valid():
        return HttpResponseBadRequest(form.errors.as_text())
    KNOBS.rate_limit_per_minute = form.cleaned_data["rate_limit_per_minute"]
    messages.success(request, f"Rate limit: {KNOBS.rate_limit_per_minute} requests per minute per token.")
    return redirect("sandbox:home")


@require_POST
def add_fault(request):
    form = FaultForm(request.POST)
    if not form.is_valid():
        return HttpResponseBadRequest(form.errors.as_text())
    data = form.cleaned_data
    fault = KNOBS.add_fault(
        data["kind"],
        on_request=data["on_request"],
        count=data["count"],
        status=data["status"] or 503,
        delay=data["delay"] or 0.0,
        path_contains=data["path_contains"],
    )
    messages.success(
        request, f"Fault added: {fault.kind} on API request {fault.on_request} (x{fault.count})."
    )
    return redirect("sandbox:home")


@require_POST
def clear_faults(request):
    KNOBS.clear_faults()
    messages.success(request, "Faults cleared.")
    return redirect("sandbox:home")


urlpatterns = [
    path("", home, name="home"),
    path("control/districts/<str:district_id>/", district_detail, name="control-district"),
    path("control/districts/<str:district_id>/action/", district_action, name="control-district-action"),
    path("control/districts/<str:district_id>/lms/", district_lms, name="control-district-lms"),
    path("control/districts/<str:district_id>/lms/grade/", district_lms_grade, name="control-lms-grade"),
    path("control/districts/<str:district_id>/lms/course/", district_lms_course, name="control-lms-course"),
    path("control/districts/<str:district_id>/roster/<str:op>/", district_roster, name="control-roster"),
    path("control/districts/<str:district_id>/bulk/<str:op>/", district_bulk, name="control-bulk"),
    path("control/knobs/rate-limit/", rate_limit, name="control-rate-limit"),
    path("control/knobs/faults/", add_fault, name="control-add-fault"),
    path("control/knobs/faults/clear/", clear_faults, name="control-clear-faults"),
]
