"""District-to-organization linking in the admin, for support staff (``districts.admin`` rules:
the "Support" group or superusers; everyone else gets 403).

- **The queue** (``DistrictLinkRequest``): requests from the self-serve page, verification links
  waiting for a district admin, requests of Clever district admins waiting for the organization,
  and ambiguous evidence from the refresh; each pending one says whom it waits for (a filter too:
  "waiting for support" is support's own work). Each item shows the
  Clever district and the organization side by side (ids, state, places, email domains), the
  evidence chips of the pair and the district's other candidates; decisions: approve, reject,
  unlink, relink here (a wrong link is corrected; the district's provisioned accounts follow).
  Bulk: approve, reject. A "Refresh evidence" button recomputes the ranking.
- **The organization's page** (``LinkingOrganizationAdmin``, an extension of accounts' one
  Organization admin through ``accounts.admin.extend_organization_admin``) gains "Choose district
  from unmatched list": the ranked, searchable list with evidence chips; choosing links at once
  (staff are trusted), audited. Its linked districts are listed with "Unlink".

Every decision calls ``matching.linking`` (which audits through ``districts.services``).
"""

from __future__ import annotations

from functools import partial

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponseNotAllowed, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html_join

from accounts.admin import OrganizationAdminExtension, ToolLink, extend_organization_admin
from accounts.models import Organization
from core.admin import Panel, SupportAdminMixin, badge, confirmation_page, is_support
from core.forms import ReasonForm
from districts.models import District
from districts.services import LinkError

from .linking import presentation as linking_presentation
from .linking import selectors as linking_selectors
from .linking import services as linking_services
from .models import DistrictLinkRequest
from .tasks import refresh_district_candidates_task

# Decisions that undo or refuse something: the reason is recorded with the person's name.
NEEDS_A_REASON = ("reject", "unlink", "relink")


class LinkDecisionForm(forms.Form):
    decision = forms.ChoiceField(
        choices=[("approve", "approve"), ("reject", "reject"), ("unlink", "unlink"), ("relink", "relink")]
    )
    reason = forms.CharField(required=False, max_length=500)

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("decision") in NEEDS_A_REASON and len(cleaned.get("reason", "").strip()) < 3:
            self.add_error("reason", "Say why (it is recorded with your name).")
        return cleaned


# Whom a pending request waits for, as support staff read it (``linking_selectors.waiting_for``).
WAITING_LABELS = {
    linking_selectors.Waiting.SUPPORT: "waiting for support",
    linking_selectors.Waiting.ORGANIZATION_ADMIN: "waiting for the organization's admin",
    linking_selectors.Waiting.DISTRICT_ADMIN: "verification link sent",
    linking_selectors.Waiting.EXPIRED_LINK: "verification link expired",
}


class WaitingForFilter(admin.SimpleListFilter):
    title = "waiting for"
    parameter_name = "waiting_for"

    def lookups(self, request, model_admin):
        return [
            ("support", "support"),
            ("organization_admin", "the organization's admin"),
            ("district_admin", "the district's Clever admin (verification link)"),
        ]

    def queryset(self, request, queryset):
        waiting = {
            "support": linking_selectors.Waiting.SUPPORT,
            "organization_admin": linking_selectors.Waiting.ORGANIZATION_ADMIN,
            "district_admin": linking_selectors.Waiting.DISTRICT_ADMIN,
        }.get(self.value())
        return linking_selectors.pending_waiting_for(queryset, waiting) if waiting else queryset


REQUEST_COLORS = {
    DistrictLinkRequest.Status.PENDING: "#9a6700",
    DistrictLinkRequest.Status.APPROVED: "#1a7f37",
    DistrictLinkRequest.Status.REJECTED: "#cf222e",
    DistrictLinkRequest.Status.WITHDRAWN: "#6e7781",
}


def chips_html(chips):
    if not chips:
        return "-"
    return format_html_join(
        " ",
        '<span title="{} bits" style="display:inline-block;padding:0 6px;border-radius:8px;'
        'background:{};color:{};white-space:nowrap">{}</span>',
        (
            (
                f"{chip.get('weight', 0):.1f}",
                "#1a7f37"
                if chip.get("kind") in ("verified_round_trip", "nces_id", "mdr_number")
                else "#eef1f5",
                "#fff" if chip.get("kind") in ("verified_round_trip", "nces_id", "mdr_number") else "#1d2733",
                chip.get("label", chip.get("kind", "")),
            )
            for chip in chips
        ),
    )


@admin.register(DistrictLinkRequest)
class DistrictLinkRequestAdmin(SupportAdminMixin, admin.ModelAdmin):
    list_display = [
        "district",
        "organization",
        "origin_label",
        "status_badge",
        "evidence_chips",
        "district_link",
        "requested_by",
        "created_at",
    ]
    list_filter = ["status", WaitingForFilter, "origin"]
    search_fields = ["district__name", "=district__clever_id", "organization__name"]
    list_select_related = ["district", "district__organization", "organization", "requested_by"]
    actions = ["approve_selected", "reject_selected"]
    change_list_template = "admin/matching/districtlinkrequest/change_list.html"
    review_template = "admin/matching/districtlinkrequest/review.html"

    @admin.display(description="origin", ordering="origin")
    def origin_label(self, obj):
        return linking_selectors.ORIGIN_CHOICES.get(obj.origin, obj.origin)

    @admin.display(description="status", ordering="status")
    def status_badge(self, obj):
        text = obj.status
        if obj.status == DistrictLinkRequest.Status.PENDING:
            text = f"pending: {WAITING_LABELS[linking_selectors.waiting_for(obj)]}"
        return badge(text, REQUEST_COLORS.get(obj.status, "#6e7781"))

    @admin.display(description="evidence")
    def evidence_chips(self, obj):
        return chips_html((obj.evidence or {}).get("chips"))

    @admin.display(description="district linked to")
    def district_link(self, obj):
        return obj.district.organization or "-"

    def get_urls(self):
        wrap = self.admin_site.admin_view
        return [
            path("refresh/", wrap(self.refresh_view), name="matching_districtlinkrequest_refresh"),
            path(
                "<path:object_id>/decide/", wrap(self.decide_view), name="matching_districtlinkrequest_decide"
            ),
            *super().get_urls(),
        ]

    def change_view(self, request, object_id, form_url="", extra_context=None):
        link_request = self.support_object(request, object_id)
        district, organization = link_request.district, link_request.organization
        candidate = linking_selectors.candidate_for(district, organization)
        others = [
            c
            for c in linking_selectors.candidates_of(district, limit=6)
            if c.organization_id != organization.pk
        ][:5]
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "original": link_request,
            "title": f"Link {district} to {organization}?",
            "link_request": link_request,
            "status": self.status_badge(link_request),
            "origin": self.origin_label(link_request),
            "district": district,
            "organization": organization,
            "district_facts": linking_presentation.district_facts(district),
            "organization_facts": linking_presentation.organization_facts(organization),
            "chips_now": chips_html(candidate.evidence if candidate else []),
            "score_now": candidate.score if candidate else 0.0,
            "chips_then": chips_html((link_request.evidence or {}).get("chips")),
            "reasons": (link_request.evidence or {}).get("reasons", []),
            "others": [(other, chips_html(other.evidence)) for other in others],
            "waits_for_organization": (
                link_request.status == DistrictLinkRequest.Status.PENDING
                and linking_selectors.waiting_for(link_request)
                == linking_selectors.Waiting.ORGANIZATION_ADMIN
            ),
            "district_ask": (
                linking_selectors.district_admin_ask(link_request)
                if link_request.district_admin_clever_id
                else None
            ),
            "decide_url": reverse("admin:matching_districtlinkrequest_decide", args=[link_request.pk]),
            "organization_url": reverse("admin:accounts_organization_change", args=[organization.pk]),
        }
        return TemplateResponse(request, self.review_template, context)

    def decide_view(self, request, object_id):
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        link_request = self.support_object(request, object_id)
        change_url = reverse("admin:matching_districtlinkrequest_change", args=[link_request.pk])
        form = LinkDecisionForm(request.POST)
        if not form.is_valid():
            problems = "; ".join(error for errors in form.errors.values() for error in errors)
            self.message_user(request, f"Nothing was changed: {problems}", messages.ERROR)
            return HttpResponseRedirect(change_url)
        decision, reason = form.cleaned_data["decision"], form.cleaned_data["reason"].strip()
        district = link_request.district
        try:
            if decision == "approve":
                linking_services.approve_link_request(
                    link_request=link_request, actor=request.user, reason=reason
                )
                text = f"{district} linked to {link_request.organization}."
            elif decision == "reject":
                linking_services.reject_link_request(
                    link_request=link_request, actor=request.user, note=reason
                )
                text = "Request rejected."
            elif decision == "unlink":
                linking_services.staff_unlink_district(
                    district=district,
                    actor=request.user,
                    reason=reason,
                )
                text = f"{district} unlinked."
            elif decision == "relink":
                _district, moved = linking_services.staff_relink_district(
                    district=district,
                    organization=link_request.organization,
                    actor=request.user,
                    reason=reason,
                    link_request=link_request,
                )
                text = (
                    f"{district} moved to {link_request.organization}; {moved} provisioned accounts followed."
                )
        except LinkError as exc:
            self.message_user(request, str(exc), messages.ERROR)
        else:
            self.message_user(request, text, messages.SUCCESS)
        return HttpResponseRedirect(change_url)

    def refresh_view(self, request):
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        if not self.has_support_permission(request):
            raise PermissionDenied
        refresh_district_candidates_task.delay_on_commit()
        self.message_user(request, "The district evidence is being recomputed.", messages.SUCCESS)
        return HttpResponseRedirect(reverse("admin:matching_districtlinkrequest_changelist"))

    @admin.action(description="Approve the selected requests (link)", permissions=["support"])
    def approve_selected(self, request, queryset):
        done, refused = 0, []
        for link_request in queryset.filter(status=DistrictLinkRequest.Status.PENDING).select_related(
            "district"
        ):
            if linking_selectors.waiting_for(link_request) == linking_selectors.Waiting.ORGANIZATION_ADMIN:
                # A district admin's ask: its organization answers, or support approves it one
                # at a time, with a reason.
                refused.append(
                    f"{link_request.district}: waits for the organization's admin; open "
                    "it to approve it with a reason."
                )
                continue
            try:
                linking_services.approve_link_request(link_request=link_request, actor=request.user)
                done += 1
            except LinkError as exc:
                refused.append(f"{link_request.district}: {exc}")
        self.message_user(request, f"{done} approved.", messages.SUCCESS)
        for text in refused[:10]:
            self.message_user(request, text, messages.WARNING)

    @admin.action(description="Reject the selected requests", permissions=["support"])
    def reject_selected(self, request, queryset):
        done = 0
        for link_request in queryset.filter(status=DistrictLinkRequest.Status.PENDING):
            linking_services.reject_link_request(
                link_request=link_request, actor=request.user, note="bulk rejection"
            )
            done += 1
        self.message_user(request, f"{done} rejected.", messages.SUCCESS)


class LinkingOrganizationAdmin(OrganizationAdminExtension):
    """The Organization admin's matching part (``accounts.admin.OrganizationAdminExtension``):
    support staff may see organizations (they onboard districts from there; changing one still
    takes the model's change permission), and get "Choose district from unmatched list", the
    organization's linked Clever districts with "Unlink…", and those two pages."""

    choose_template = "admin/accounts/organization/choose_district.html"

    def lets_view(self, request):
        return is_support(request.user)

    def urls(self, model_admin):
        wrap = model_admin.admin_site.admin_view
        return [
            path(
                "<path:object_id>/choose-district/",
                wrap(partial(self.choose_district_view, model_admin)),
                name="accounts_organization_choose_district",
            ),
            path(
                "<path:object_id>/unlink-district/",
                wrap(partial(self.unlink_district_view, model_admin)),
                name="accounts_organization_unlink_district",
            ),
        ]

    def links(self, request, organization):
        if not is_support(request.user):
            return []
        return [
            ToolLink(
                "Choose district from unmatched list",
                reverse("admin:accounts_organization_choose_district", args=[organization.pk]),
                html_id="choose-district",
            )
        ]

    def panels(self, request, organization):
        if not is_support(request.user):
            return []
        return [
            Panel(
                "admin/matching/organization_linking_panel.html",
                {
                    "districts": list(linking_selectors.linked_districts(organization)),
                    "pending": linking_selectors.pending_requests(organization).count(),
                    "choose_url": reverse(
                        "admin:accounts_organization_choose_district", args=[organization.pk]
                    ),
                    "unlink_url": reverse(
                        "admin:accounts_organization_unlink_district", args=[organization.pk]
                    ),
                    "queue_url": reverse("admin:matching_districtlinkrequest_changelist")
                    + f"?organization__id__exact={organization.pk}&status__exact=pending",
                },
            )
        ]

    def _organization(self, model_admin, request, object_id) -> Organization:
        if not is_support(request.user):
            raise PermissionDenied
        organization = model_admin.get_object(request, unquote(object_id))
        if organization is None:
            raise Http404("No such organization")
        return organization

    def choose_district_view(self, model_admin, request, object_id):
        organization = self._organization(model_admin, request, object_id)
        if request.method == "POST":
            # "Link" asks first: what it does, and a reason (recorded with the link's evidence).
            district = District.objects.filter(clever_id=request.POST.get("district", "")).first()
            if district is None:
                raise Http404("No such district")
            form = ReasonForm(request.POST if "confirmed" in request.POST else None)
            if not form.is_valid():
                return confirmation_page(
                    model_admin,
                    request,
                    original=organization,
                    title=f"Link {district} to {organization}?",
                    confirm_label="Link",
                    question=(
                        f"{district}'s people will get accounts in {organization} at its "
                        "next sync, and its people who sign in will see that "
                        "organization's product. Check the evidence first."
                    ),
                    form=form,
                    hidden={"district": district.clever_id},
                    change_url=request.get_full_path(),
                )
            try:
                linking_services.staff_link_district(
                    district=district,
                    organization=organization,
                    actor=request.user,
                    reason=form.cleaned_data["reason"],
                )
            except LinkError as exc:
                model_admin.message_user(request, str(exc), messages.ERROR)
                return HttpResponseRedirect(request.get_full_path())
            model_admin.message_user(request, f"{district} linked to {organization}.", messages.SUCCESS)
            return HttpResponseRedirect(reverse("admin:accounts_organization_change", args=[organization.pk]))
        listing = linking_presentation.unmatched_page_for_query(organization, request.GET)
        context = {
            **model_admin.admin_site.each_context(request),
            "opts": model_admin.opts,
            "original": organization,
            "title": f"Choose a district for {organization}",
            "organization": organization,
            **listing,
            "rows": [(row, chips_html(row.chips)) for row in listing["rows"]],
            "change_url": reverse("admin:accounts_organization_change", args=[organization.pk]),
        }
        return TemplateResponse(request, self.choose_template, context)

    def unlink_district_view(self, model_admin, request, object_id):
        """ "Unlink" asks first: what it does, and a reason (recorded); then unlinks."""
        organization = self._organization(model_admin, request, object_id)
        data = request.POST if request.method == "POST" else request.GET
        district = District.objects.filter(
            clever_id=data.get("district", ""), organization=organization
        ).first()
        if district is None:
            raise Http404("No such linked district")
        change_url = reverse("admin:accounts_organization_change", args=[organization.pk])
        form = ReasonForm(request.POST if request.method == "POST" else None)
        if not form.is_valid():
            return confirmation_page(
                model_admin,
                request,
                original=organization,
                title=f"Unlink {district} from {organization}?",
                confirm_label="Unlink",
                question=(
                    f"{district} will no longer be linked to {organization}: its people's "
                    "accounts keep their organization until the district is linked again, "
                    "and no automatic evidence links it back."
                ),
                form=form,
                hidden={"district": district.clever_id},
                change_url=change_url,
            )
        linking_services.staff_unlink_district(
            district=district, actor=request.user, reason=form.cleaned_data["reason"]
        )
        model_admin.message_user(request, f"{district} unlinked from {organization}.", messages.SUCCESS)
        return HttpResponseRedirect(change_url)


extend_organization_admin(LinkingOrganizationAdmin())
