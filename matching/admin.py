"""Matching in the Django admin, for support staff (the "Support" group; ``core.admin`` rules).

- The review queue (``PersonMatch``): filters by district, status, zone and product role; a list
  of people by name that fits 1280 px; each item (``matching.review``) shows the product account
  beside up to three Clever candidates, each explained in plain words (``matching.explain``) with
  the numbers (probability, bits per field) on demand, and the decisions, each a form: accept,
  choose another, no match, duplicate of another account of the organization (chosen from a list,
  never typed). Bulk: accept everything above a probability (vetoed candidates are skipped), mark
  no match. The dates of birth (a child's on both sides, equal on a match) are shown only to users
  with the "view sensitive fields" permission, decrypted and logged by
  ``rostering.admin.reveal_sensitive``.
- Schools (``SchoolMatch``): the candidates with their evidence; accept one or "no match".
- ``MatchAudit``: read-only history of every link and unlink.
- The district page gains its onboarding checklist and a "Run matching" button
  (``admin_district``: an extension of the one District admin of ``districts.admin``), and the
  Organization admin its district links (``admin_linking``: an extension of ``accounts.admin``).
"""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.http import HttpResponseNotAllowed, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html

from core.admin import SupportAdminMixin, badge
from districts.models import District

from . import review, selectors, services
from .explain import likelihood
from .models import MatchAudit, MatchStatus, PersonMatch, SchoolMatch

STATUS_COLORS = {
    MatchStatus.AUTO_LINKED: "#1a7f37",
    MatchStatus.ACCEPTED: "#1a7f37",
    MatchStatus.PENDING: "#9a6700",
    MatchStatus.NO_MATCH: "#6e7781",
    MatchStatus.DUPLICATE: "#8250df",
}


def status_badge(status: str):
    return badge(status.replace("_", " "), STATUS_COLORS.get(status, "#6e7781"))


class BulkAcceptForm(forms.Form):
    min_probability = forms.FloatField(
        min_value=0.5,
        max_value=1.0,
        initial=0.95,
        label="Accept items whose proposed candidate is at least this likely",
    )


class DistrictByNameFilter(admin.RelatedFieldListFilter):
    """The district filter, by district name (never a Clever ID)."""

    def field_choices(self, field, request, model_admin):
        districts = District.objects.filter(
            pk__in=model_admin.get_queryset(request).values("district")
        ).order_by("name", "pk")
        return [(district.pk, district.name or "Unnamed district") for district in districts]

    def has_output(self):
        # Always: a filter without output is left out of the query, and the district page links
        # here with ``district__id__exact`` even when the queue holds one district.
        return True


@admin.register(PersonMatch)
class PersonMatchAdmin(SupportAdminMixin, admin.ModelAdmin):
    # Four narrow columns that wrap (the list must fit 1280 px beside the filters): the numbers
    # are on the progress bar's tooltip and on the item's page.
    list_display = ["item", "clever_side", "how_sure", "status_badge"]
    list_display_links = ["item"]
    list_filter = ["status", "zone", "user__role", "source", ("district", DistrictByNameFilter)]
    search_fields = ["user__first_name", "user__last_name", "user__username", "=person__clever_id"]
    list_select_related = ["user", "district", "person"]
    actions = ["bulk_accept", "mark_no_match"]
    review_template = "admin/matching/personmatch/review.html"
    change_list_template = "admin/matching/personmatch/change_list.html"

    @admin.display(description="person", ordering="user__last_name")
    def item(self, obj):
        if obj.user_id is None:
            return format_html(
                '{}<br><span class="review-note">only in Clever · {}</span>',
                review.clever_name(obj.person),
                obj.district.name,
            )
        details = ", ".join(
            part
            for part in (
                obj.user.get_role_display() if obj.user.role else "",
                f"grade {obj.user.grade}" if obj.user.grade else "",
            )
            if part
        )
        return format_html(
            '{}<br><span class="review-note">{}</span>',
            review.person_name(obj.user),
            " · ".join(part for part in (details, obj.district.name) if part),
        )

    @admin.display(description="Clever record")
    def clever_side(self, obj):
        return review.clever_name(obj.person) or "none"

    @admin.display(description="how sure", ordering="probability")
    def how_sure(self, obj):
        if not obj.candidates:
            return "no candidate"
        return format_html(
            '<progress max="1" value="{}" title="{}"></progress><br>{}',
            obj.probability,
            f"probability {obj.probability:.3f}, weight {obj.weight:+.1f} bits",
            likelihood(obj.probability),
        )

    @admin.display(description="status", ordering="status")
    def status_badge(self, obj):
        return status_badge(obj.status)

    def changelist_view(self, request, extra_context=None):
        return super().changelist_view(request, {"title": "Review queue", **(extra_context or {})})

    # --- the review page ------------------------------------------------------------------------

    def get_urls(self):
        wrap = self.admin_site.admin_view
        return [
            path("<path:object_id>/decide/", wrap(self.decide_view), name="matching_personmatch_decide"),
            *super().get_urls(),
        ]

    def _review(self, request, match: PersonMatch, *, bound=None, search_form=None, status=200):
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "original": match,
            "status": status_badge(match.status),
            **review.review_context(request, match, bound=bound, search_form=search_form),
        }
        return TemplateResponse(request, self.review_template, context, status=status)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        match = self.support_object(request, object_id)
        search_form = review.DuplicateSearchForm(request.GET) if "find" in request.GET else None
        return self._review(request, match, search_form=search_form)

    def decide_view(self, request, object_id):
        """A decision: its form validated (bad input is shown on the page, status 200), then one
        services call; the next pending item opens."""
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        match = self.support_object(request, object_id)
        decision = request.POST.get("decision", "")
        form = review.decision_form(decision, match, request.POST)
        if form is None:
            form = review.NoMatchForm(request.POST)
            form.add_error(None, "Choose a decision: accept a candidate, no match, or duplicate.")
            return self._review(request, match, bound={"unknown": form})
        if form.is_valid():
            try:
                text = self._decide(request, match, decision, form.cleaned_data)
            except services.MatchError as exc:
                form.add_error(None, str(exc))
        if not form.is_valid():
            return self._review(request, match, bound={decision: form})
        who = review.person_name(match.user) or review.clever_name(match.person)
        self.message_user(request, f"{who}: {text}.", messages.SUCCESS)
        following = selectors.review_queue(match.district).order_by("pk").first()
        if following is not None:
            return HttpResponseRedirect(reverse("admin:matching_personmatch_change", args=[following.pk]))
        return HttpResponseRedirect(reverse("admin:matching_personmatch_changelist"))

    def _decide(self, request, match: PersonMatch, decision: str, data: dict) -> str:
        """The services call of a valid decision; what it did, in words."""
        if decision == "accept":
            clever_id = data["clever_id"] or None
            match = services.accept_match(match=match, actor=request.user, clever_id=clever_id)
            return f"linked to {review.clever_name(match.person)} in Clever"
        if decision == "no_match":
            services.reject_match(match=match, actor=request.user)
            return "marked as no match"
        if match.user_id is None:
            raise services.MatchError("A Clever record without a product account cannot duplicate one.")
        other = data["duplicate_of"]
        services.mark_duplicate(match=match, duplicate_of=other, actor=request.user)
        return f"marked as a duplicate of {review.account_label(other)}"

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
    fields = [*list_display, "details"]
    readonly_fields = fields


# The District admin's matching half (run matching, the onboarding checklist), and
# district-to-organization linking (the pending-link queue, the organization's "choose a
# district").
from . import admin_district, admin_linking  # noqa: E402,F401
