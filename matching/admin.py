"""Matching in the Django admin, for support staff (the "Support" group; districts.admin rules).

- The review queue (``PersonMatch``): filters by district, status, zone and product role; each
  item shows the product record beside up to three Clever candidates, a bar per field for its
  contribution in bits, and the decisions: accept, choose another, no match, duplicate. Bulk:
  accept everything above a probability (vetoed candidates are skipped), mark no match. The
  dates of birth (a child's on both sides, equal on a match) are shown only to users with the
  "view sensitive fields" permission, decrypted and logged by ``rostering.admin.reveal_sensitive``.
- Schools (``SchoolMatch``): the candidates with their evidence; accept one or "no match".
- ``MatchAudit``: read-only history of every link and unlink.
- The district page gains its onboarding checklist and a "Run matching" button (the District
  admin of ``rostering.admin`` extended here: ``matching`` may import ``rostering``, not the
  reverse).
"""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponseNotAllowed, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html

from clever.sensitive import DATE_OF_BIRTH
from districts.admin import SupportAdminMixin, badge
from rostering.admin import HIDDEN, UNREADABLE, reveal_sensitive
from rostering.models import Person
from rostering.selectors import birth_date
from sso import policy as sso_policy

from . import selectors, services
from .models import MatchAudit, MatchStatus, PersonMatch, SchoolMatch

User = get_user_model()

STATUS_COLORS = {
    MatchStatus.AUTO_LINKED: "#1a7f37",
    MatchStatus.ACCEPTED: "#1a7f37",
    MatchStatus.PENDING: "#9a6700",
    MatchStatus.NO_MATCH: "#6e7781",
    MatchStatus.DUPLICATE: "#8250df",
}
# The product and Clever values shown side by side: (label, product attribute, Clever attribute).
# The date of birth, a sensitive field, has its own row (``dates_of_birth_row``), at this place.
DATE_OF_BIRTH_ROW = 3
COMPARED = [
    ("first name", "first_name", "first_name"),
    ("last name", "last_name", "last_name"),
    ("email", "email", "email"),
    ("grade", "grade", "grade"),
    ("SIS ID", "sis_id", "student_sis_id"),
    ("student number", "student_number", "student_number"),
    ("state ID", "state_id", "student_state_id"),
    ("teacher number", "teacher_number", "teacher_number"),
    ("staff ID", "staff_id", "staff_id"),
]


def status_badge(status: str):
    return badge(status.replace("_", " "), STATUS_COLORS.get(status, "#6e7781"))


def dates_of_birth_row(request, match: PersonMatch, people: list[Person | None]) -> tuple:
    """The review grid's date-of-birth row (product, then each candidate): the values only for
    users allowed to see sensitive fields, else "hidden" on both sides."""
    label = DATE_OF_BIRTH.label.lower()
    shown = reveal_sensitive(request.user, [p for p in people if p], page=f"review item {match.pk}")
    if shown is None:
        return label, HIDDEN, [HIDDEN if person else "" for person in people]
    clever = []
    for person in people:
        values = shown.get(person.pk, {}) if person else {}
        clever.append(UNREADABLE if values is None else birth_date(values) or "")
    return label, match.user.date_of_birth if match.user else "", clever


class BulkAcceptForm(forms.Form):
    min_probability = forms.FloatField(
        min_value=0.5,
        max_value=1.0,
        initial=0.95,
        label="Accept items whose proposed candidate is at least this likely",
    )


@admin.register(PersonMatch)
class PersonMatchAdmin(SupportAdminMixin, admin.ModelAdmin):
    list_display = [
        "user",
        "district",
        "status_badge",
        "zone",
        "probability_bar",
        "proposed",
        "source",
        "updated_at",
    ]
    list_filter = ["status", "zone", "user__role", "source", "district"]
    search_fields = ["user__first_name", "user__last_name", "user__username", "=person__clever_id"]
    list_select_related = ["user", "district", "person"]
    actions = ["bulk_accept", "mark_no_match"]
    review_template = "admin/matching/personmatch/review.html"

    @admin.display(description="status", ordering="status")
    def status_badge(self, obj):
        return status_badge(obj.status)

    @admin.display(description="probability", ordering="probability")
    def probability_bar(self, obj):
        return format_html(
            '<progress max="1" value="{}" title="{}"></progress> {}',
            obj.probability,
            f"weight {obj.weight:+.1f} bits",
            f"{obj.probability:.3f}",
        )

    @admin.display(description="Clever record")
    def proposed(self, obj):
        return f"{obj.person} ({obj.person.clever_id})" if obj.person_id else "-"

    # --- the review page ------------------------------------------------------------------------

    def get_urls(self):
        wrap = self.admin_site.admin_view
        return [
            path("<path:object_id>/decide/", wrap(self.decide_view), name="matching_personmatch_decide"),
            *super().get_urls(),
        ]

    def _match(self, request, object_id) -> PersonMatch:
        if not self.has_support_permission(request):
            raise PermissionDenied
        match = self.get_object(request, unquote(object_id))
        if match is None:
            raise Http404("No such match")
        return match

    def change_view(self, request, object_id, form_url="", extra_context=None):
        match = self._match(request, object_id)
        people = {
            p.clever_id: p
            for p in Person.objects.filter(
                district=match.district, clever_id__in=[c["clever_id"] for c in match.candidates]
            )
        }
        candidates = []
        for candidate in match.candidates:
            person = people.get(candidate["clever_id"])
            contributions = {c["field"]: c for c in candidate["contributions"]}
            candidates.append(
                {
                    **candidate,
                    "person": person,
                    "bars": [
                        {**c, "width": min(100, abs(c["weight"]) * 5), "positive": c["weight"] >= 0}
                        for c in contributions.values()
                    ],
                }
            )
        rows = [
            (
                label,
                getattr(match.user, product_attr, "") if match.user else "",
                [getattr(c["person"], clever_attr, "") if c["person"] else "" for c in candidates],
            )
            for label, product_attr, clever_attr in COMPARED
        ]
        rows.insert(DATE_OF_BIRTH_ROW, dates_of_birth_row(request, match, [c["person"] for c in candidates]))
        rivals = (
            list(
                selectors.review_queue(match.district)
                .filter(person=match.person)
                .exclude(pk=match.pk)
                .select_related("user")[:5]
            )
            if match.person_id
            else []
        )
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "original": match,
            "title": f"Review: {match.user or match.person}",
            "match": match,
            "status": status_badge(match.status),
            "rows": rows,
            "protected": bool(match.user and sso_policy.is_protected(match.user)),
            "never_through_clever": bool(match.user and sso_policy.never_through_clever(match.user)),
            "candidates": candidates,
            "rivals": rivals,
            "decide_url": reverse("admin:matching_personmatch_decide", args=[match.pk]),
        }
        return TemplateResponse(request, self.review_template, context)

    def decide_view(self, request, object_id):
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        match = self._match(request, object_id)
        decision = request.POST.get("decision")
        try:
            if decision == "accept":
                services.accept_match(
                    match=match, actor=request.user, clever_id=request.POST.get("clever_id")
                )
                text = "linked"
            elif decision == "no_match":
                services.reject_match(match=match, actor=request.user)
                text = "marked as no match"
            elif decision == "duplicate":
                other = User.objects.filter(
                    pk=request.POST.get("duplicate_of") or match.duplicate_of_id
                ).first()
                services.mark_duplicate(match=match, duplicate_of=other, actor=request.user)
                text = "marked as a duplicate"
            else:
                raise services.MatchError("Unknown decision.")
        except services.MatchError as exc:
            self.message_user(request, str(exc), messages.ERROR)
            return HttpResponseRedirect(reverse("admin:matching_personmatch_change", args=[match.pk]))
        self.message_user(request, f"{match.user or match.person}: {text}.", messages.SUCCESS)
        following = selectors.review_queue(match.district).order_by("pk").first()
        if following is not None:
            return HttpResponseRedirect(reverse("admin:matching_personmatch_change", args=[following.pk]))
        return HttpResponseRedirect(reverse("admin:matching_personmatch_changelist"))

    # --- bulk actions -----------------------------------------------------------------------------

    @admin.action(description="Accept the proposed candidate above a probability…", permissions=["support"])
    def bulk_accept(self, request, queryset):
        form = BulkAcceptForm(request.POST if "min_probability" in request.POST else None)
        if form.is_valid():
            counts = services.bulk_accept(
                matches=queryset, min_probability=form.cleaned_data["min_probability"], actor=request.user
            )
            self.message_user(
                request,
                f"{counts.get('accepted', 0)} accepted, {counts.get('vetoed', 0)} "
                f"skipped (a veto), {counts.get('refused', 0)} refused.",
                messages.SUCCESS,
            )
            return None
        return TemplateResponse(
            request,
            "admin/matching/personmatch/bulk_accept.html",
            {
                **self.admin_site.each_context(request),
                "opts": self.opts,
                "form": form,
                "queryset": queryset,
                "count": queryset.filter(status=MatchStatus.PENDING).count(),
                "action_checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME,
                "title": "Bulk accept",
            },
        )

    @admin.action(description="Mark the selected as no match", permissions=["support"])
    def mark_no_match(self, request, queryset):
        done = 0
        for match in queryset.filter(status=MatchStatus.PENDING):
            services.reject_match(match=match, actor=request.user)
            done += 1
        self.message_user(request, f"{done} marked as no match.", messages.SUCCESS)


@admin.register(SchoolMatch)
class SchoolMatchAdmin(SupportAdminMixin, admin.ModelAdmin):
    list_display = ["school", "district", "status_badge", "clever_school", "candidates_summary"]
    list_filter = ["status", "district"]
    list_select_related = ["school", "district", "clever_school"]

    @admin.display(description="status", ordering="status")
    def status_badge(self, obj):
        return status_badge(obj.status)

    @admin.display(description="candidates")
    def candidates_summary(self, obj):
        return (
            "; ".join(
                f"{c['clever_id']} ({c['name_score']:.0f}, {', '.join(c['evidence']) or 'name'})"
                for c in obj.candidates
            )
            or "-"
        )


@admin.register(MatchAudit)
class MatchAuditAdmin(SupportAdminMixin, admin.ModelAdmin):
    list_display = [
        "created_at",
        "district",
        "kind",
        "action",
        "product_id",
        "clever_id",
        "source",
        "actor_label",
    ]
    list_filter = ["kind", "action", "source", "district"]
    fields = [*list_display, "evidence"]
    readonly_fields = fields


# The District admin's matching half (run matching, the onboarding checklist), and
# district-to-organization linking (the pending-link queue, the organization's "choose a
# district").
from . import admin_district, admin_linking  # noqa: E402,F401
