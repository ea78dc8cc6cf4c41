"""The sandbox control page (``/sandbox/``): districts, tokens, knobs, roster changes.

For demos and manual tests. Views validate the POSTed form (400 on bad input), call one
function of ``sandbox.services``, ``sandbox.generator`` (roster changes, which go through the
services and so emit Clever events) or ``sandbox.knobs.KNOBS``, and redirect back. Nothing here
is business logic. The page shows tokens masked with a reveal/copy control: it is a sandbox.
"""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.http import HttpResponseBadRequest
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import NoReverseMatch, path, reverse
from django.views.decorators.http import require_GET, require_POST

from .. import generator, roster, services
from ..knobs import KNOBS
from ..models import LmsType, RecordType, SandboxDistrict, SandboxEvent, SandboxRecord

FAULT_KINDS = [("status", "status (5xx JSON error)"), ("malformed_json", "malformed JSON"),
               ("html", "HTML error page"), ("slow", "slow answer")]
LMS_STATES = ["", "initial_sync_processing", "pending_authorization", "matching_in_progress",
              "error", "disconnected", "success"]
SAMPLE_SIZE = 15


class RateLimitForm(forms.Form):
    rate_limit_per_minute = forms.IntegerField(min_value=1, max_value=1_000_000)


class FaultForm(forms.Form):
    kind = forms.ChoiceField(choices=FAULT_KINDS)
    on_request = forms.IntegerField(min_value=1, initial=1,
                                    help_text="the Nth API request from now")
    count = forms.IntegerField(min_value=1, initial=1, help_text="how many requests in a row")
    status = forms.IntegerField(min_value=400, max_value=599, initial=503, required=False)
    delay = forms.FloatField(min_value=0, max_value=120, initial=0, required=False,
                             help_text="seconds, for slow")
    path_contains = forms.CharField(max_length=200, required=False,
                                    help_text="only API paths containing this")


class LmsForm(forms.Form):
    lms_type = forms.ChoiceField(choices=LmsType.choices, required=False)
    lms_state = forms.ChoiceField(choices=[(s, s or "(automatic)") for s in LMS_STATES],
                                  required=False)


class AddStudentForm(forms.Form):
    section_id = forms.CharField(max_length=24)
    first = forms.CharField(max_length=100, required=False)
    last = forms.CharField(max_length=100, required=False)


class RenameUserForm(forms.Form):
    user_id = forms.CharField(max_length=24)
    first = forms.CharField(max_length=100)
    last = forms.CharField(max_length=100)


class UserIdForm(forms.Form):
    user_id = forms.CharField(max_length=24)


class AddSectionForm(forms.Form):
    school_id = forms.CharField(max_length=24, required=False)
    name = forms.CharField(max_length=200, required=False)
    students = forms.IntegerField(min_value=0, max_value=500, initial=5)


class SectionIdForm(forms.Form):
    section_id = forms.CharField(max_length=24)


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
        "counts": generator.district_counts(district),
        "token": token.access_token if token else "",
        "masked_token": _mask(token.access_token) if token else "",
        "lms_form": LmsForm(initial={"lms_type": district.lms_type}, prefix=district.id),
    }


def _back(request, district: SandboxDistrict | None = None):
    if district is not None and request.POST.get("back") == "district":
        return redirect("sandbox:control-district", district_id=district.id)
    return redirect("sandbox:home")


@require_GET
def home(request):
    app = services.get_application()
    return render(request, "sandbox/control.html", {
        "app": app,
        "districts": [_district_row(d) for d in SandboxDistrict.objects.order_by("created_at", "id")],
        "knobs": KNOBS,
        "faults": list(KNOBS.faults),
        "rate_form": RateLimitForm(initial={"rate_limit_per_minute": KNOBS.rate_limit_per_minute}),
        "fault_form": FaultForm(),
        "portal_url": _portal_url(),
    })


@require_GET
def district_detail(request, district_id: str):
    district = get_object_or_404(SandboxDistrict, id=district_id)
    records = SandboxRecord.objects.filter(district=district).order_by("clever_id")
    users = records.filter(record_type=RecordType.USERS)
    return render(request, "sandbox/control_district.html", {
        "row": _district_row(district),
        "district": district,
        "schools": records.filter(record_type=RecordType.SCHOOLS)[:SAMPLE_SIZE],
        "sections": records.filter(record_type=RecordType.SECTIONS)[:SAMPLE_SIZE],
        "students": users.filter(is_student=True)[:SAMPLE_SIZE],
        "adults": users.filter(is_student=False, is_contact=False)[:SAMPLE_SIZE],
        "events": SandboxEvent.objects.filter(district=district).order_by("-id")[:SAMPLE_SIZE],
        "add_student_form": AddStudentForm(),
        "rename_form": RenameUserForm(),
        "remove_user_form": UserIdForm(),
        "add_section_form": AddSectionForm(),
        "remove_section_form": SectionIdForm(),
        "portal_url": _portal_url(),
    })


# --- district switches ---------------------------------------------------------------------------

DISTRICT_ACTIONS = {
    "rotate_token": ("District token rotated: the old one now gets 401.",
                     lambda d: services.rotate_district_token(district=d)),
    "revoke_token": ("District token revoked: requests with it now get 401.",
                     lambda d: _revoke(d)),
    "disconnect": ("District disconnected: its tokens are revoked and it left /oauth/tokens.",
                   lambda d: services.disconnect_district(district=d)),
    "reconnect": ("District reconnected with a new token.",
                  lambda d: services.reconnect_district(district=d)),
    "events_on": ("Events enabled.", lambda d: services.set_events_enabled(district=d, enabled=True)),
    "events_off": ("Events disabled.",
                   lambda d: services.set_events_enabled(district=d, enabled=False)),
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
    services.set_lms(district=district, lms_type=form.cleaned_data["lms_type"],
                     lms_state=form.cleaned_data["lms_state"] or None)
    district.refresh_from_db()
    messages.success(request, f"{district.name}: LMS set to {district.lms_type or 'none'} "
                              f"({district.lms_state or 'no state'}).")
    return _back(request, district)


# --- roster changes (each emits Clever events) ----------------------------------------------------

ROSTER_OPS = {
    "add_student": (AddStudentForm, lambda d, c: roster.add_student_to_section(
        district=d, section_id=c["section_id"], first=c["first"], last=c["last"]),
        "added student {id} to the section"),
    "rename_user": (RenameUserForm, lambda d, c: roster.rename_user(
        district=d, user_id=c["user_id"], first=c["first"], last=c["last"]),
        "renamed user {id}"),
    "remove_user": (UserIdForm, lambda d, c: roster.remove_user(district=d, user_id=c["user_id"]),
                    "removed user {id}"),
    "add_section": (AddSectionForm, lambda d, c: roster.add_section(
        district=d, school_id=c["school_id"], name=c["name"], students=c["students"]),
        "added section {id}"),
    "remove_section": (SectionIdForm, lambda d, c: roster.remove_section(
        district=d, section_id=c["section_id"]), "removed section {id}"),
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


# --- knobs -----------------------------------------------------------------------------------------


@require_POST
def rate_limit(request):
    form = RateLimitForm(request.POST)
    if not form.is_valid():
        return HttpResponseBadRequest(form.errors.as_text())
    KNOBS.rate_limit_per_minute = form.cleaned_data["rate_limit_per_minute"]
    messages.success(request, f"Rate limit: {KNOBS.rate_limit_per_minute} requests per minute "
                              "per token.")
    return redirect("sandbox:home")


@require_POST
def add_fault(request):
    form = FaultForm(request.POST)
    if not form.is_valid():
        return HttpResponseBadRequest(form.errors.as_text())
    data = form.cleaned_data
    fault = KNOBS.add_fault(
        data["kind"], on_request=data["on_request"], count=data["count"],
        status=data["status"] or 503, delay=data["delay"] or 0.0,
        path_contains=data["path_contains"],
    )
    messages.success(request, f"Fault added: {fault.kind} on API request {fault.on_request} "
                              f"(x{fault.count}).")
    return redirect("sandbox:home")


@require_POST
def clear_faults(request):
    KNOBS.clear_faults()
    messages.success(request, "Faults cleared.")
    return redirect("sandbox:home")


urlpatterns = [
    path("", home, name="home"),
    path("control/districts/<str:district_id>/", district_detail, name="control-district"),
    path("control/districts/<str:district_id>/action/", district_action,
         name="control-district-action"),
    path("control/districts/<str:district_id>/lms/", district_lms, name="control-district-lms"),
    path("control/districts/<str:district_id>/roster/<str:op>/", district_roster,
         name="control-roster"),
    path("control/knobs/rate-limit/", rate_limit, name="control-rate-limit"),
    path("control/knobs/faults/", add_fault, name="control-add-fault"),
    path("control/knobs/faults/clear/", clear_faults, name="control-clear-faults"),
]
