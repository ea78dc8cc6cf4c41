"""The self-serve district linking pages, from both sides (thin: matching.linking does the work),
and the hook that receives the verified "Log in with Clever" round trip.

Organization admins (``User.is_organization_admin`` of an organization; 403 for anyone else):

- ``organization/districts/``: the organization, its linked districts with their sync, the
  requests (to answer, waiting, recently closed, each with where it stands) and the unmatched
  districts ranked by evidence (chips), searchable by name (abbreviations and typos), city and
  state, paged.
- ``organization/districts/<clever id>/``: one district's evidence and the three ways to ask
  for it: "Verify with Clever" (the admin is the Clever district admin), a signed verification
  link to send to the Clever district admin, or a request to support staff (no proof).
- ``organization/districts/requests/<pk>/``: a Clever district admin's request, with what is
  known about the district; confirm (links) or decline, with a reason.
- ``organization/districts/verify/<token>/``: the page a verification link opens; its button
  starts the same round trip on behalf of the organization admin who asked.

Clever district admins (signed in with Clever, acting as district admin, of a district that shares
its data): ``district/link/`` offers the organizations with real evidence for their district and
asks one to link it; the organization's admin confirms (nothing is linked on the district
admin's word). A district linked to another organization is never offered or claimable.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_http_methods

from districts.services import LinkError
from sso import services as sso_services
from sso.permissions import role_required

from .forms import AnswerRequestForm, DistrictActionForm, DistrictAdminForm
from .linking import presentation as linking_presentation
from .linking import selectors as linking_selectors
from .linking import services as linking_services


def _refused(request, message: str, *, status: int = 403, title: str = "Not allowed"):
    return render(request, "matching/refused.html", {"title": title, "message": message}, status=status)


def _organization(request):
    return linking_selectors.administered_organization(request.user)


NOT_ADMIN = "Only administrators of an organization can link Clever districts to it."


@login_required(login_url="account_login")
@require_http_methods(["GET"])
def linking_page(request):
    organization = _organization(request)
    if organization is None:
        return _refused(request, NOT_ADMIN)
    return render(
        request,
        "matching/linking.html",
        {
            "organization": organization,
            "linked": [
                (
                    district,
                    linking_presentation.how_linked(district),
                    linking_presentation.sync_status(district),
                )
                for district in linking_selectors.linked_districts(organization)
            ],
            **linking_presentation.organization_requests(organization),
            **linking_presentation.unmatched_page_for_query(organization, request.GET),
        },
    )


def _choose_page(request, organization, district, form, *, status: int = 200):
    linked_here = district.organization_id == organization.pk
    pending = linking_selectors.pair_request(district, organization)
    return render(
        request,
        "matching/choose.html",
        {
            "organization": organization,
            "district": district,
            "candidate": linking_selectors.candidate_for(district, organization),
            "facts": linking_presentation.district_facts(district),
            "linked_here": linked_here,
            "sync": linking_presentation.sync_status(district) if linked_here else None,
            "pending": pending,
            "pending_status": linking_presentation.status_for_organization(pending) if pending else "",
            "form": form,
        },
        status=status,
    )


@login_required(login_url="account_login")
@require_http_methods(["GET", "POST"])
def choose_district(request, clever_id: str):
    organization = _organization(request)
    if organization is None:
        return _refused(request, NOT_ADMIN)
    district = linking_selectors.choosable_district(organization, clever_id)
    if district is None:
        # The same answer for a district linked elsewhere as for none: which districts other
        # customers have is not this organization's to learn.
        raise Http404("No such district")
    if request.method == "GET":
        return _choose_page(request, organization, district, DistrictActionForm())
    form = DistrictActionForm(request.POST)
    if not form.is_valid():
        return _choose_page(request, organization, district, form, status=400)
    action = form.cleaned_data["action"]
    try:
        if action == DistrictActionForm.VERIFY:
            if district.organization_id == organization.pk:
                return HttpResponseRedirect(reverse("district_linking"))
            return sso_services.start_clever_login(
                request,
                purpose=linking_services.PURPOSE,
                data={"organization": organization.pk, "district": district.clever_id},
                district_id=district.clever_id,
            )
        if action == DistrictActionForm.SEND_LINK:
            token = linking_services.issue_verification_link(
                organization=organization, district=district, requested_by=request.user
            )
            return render(
                request,
                "matching/verification_link.html",
                {
                    "organization": organization,
                    "district": district,
                    "url": request.build_absolute_uri(reverse("district_link_verify", args=[token])),
                    "max_age_days": linking_presentation.verification_days(),
                },
            )
        linking_services.request_district_link(
            organization=organization, district=district, requested_by=request.user
        )
    except LinkError as exc:
        return _refused(request, str(exc), status=409)
    messages.success(
        request,
        f"{district.name or 'The district'}: your request is in our support team's queue. They "
        "check it and link the district, or write to you.",
    )
    return HttpResponseRedirect(reverse("district_linking"))


def _answer_page(request, organization, link_request, form, *, status: int = 200):
    district = link_request.district
    candidate = linking_selectors.candidate_for(district, organization)
    return render(
        request,
        "matching/answer.html",
        {
            "organization": organization,
            "link_request": link_request,
            "ask": linking_selectors.district_admin_ask(link_request),
            "district": district,
            "facts": linking_presentation.district_facts(district),
            "sync": linking_presentation.sync_status(district),
            "chips": candidate.evidence if candidate else [],
            "form": form,
        },
        status=status,
    )


@login_required(login_url="account_login")
@require_http_methods(["GET", "POST"])
def answer_request(request, pk: int):
    organization = _organization(request)
    if organization is None:
        return _refused(request, NOT_ADMIN)
    link_request = linking_selectors.request_to_answer(organization, pk)
    if link_request is None:
        raise Http404("No such request waiting for an answer")
    if request.method == "GET":
        return _answer_page(request, organization, link_request, AnswerRequestForm())
    form = AnswerRequestForm(request.POST)
    if not form.is_valid():
        return _answer_page(request, organization, link_request, form, status=400)
    name = link_request.district.name or "The district"
    try:
        if form.cleaned_data["answer"] == AnswerRequestForm.CONFIRM:
            linking_services.confirm_district_admin_request(
                link_request=link_request, organization_admin=request.user, reason=form.cleaned_data["reason"]
            )
            messages.success(request, f"{name} is linked to {organization.name}.")
        else:
            linking_services.decline_district_admin_request(
                link_request=link_request, organization_admin=request.user, reason=form.cleaned_data["reason"]
            )
            messages.success(request, f"You declined the request of {name}. Nothing was linked.")
    except LinkError as exc:
        return _refused(request, str(exc), status=409)
    return HttpResponseRedirect(reverse("district_linking"))


NOT_DISTRICT_ADMIN = (
    "This page is for district administrators who signed in with Clever, from a district that "
    "shares its data with this app."
)


def _district_admin_page(request, district_admin, form, *, status: int = 200):
    district = district_admin.district
    requests = linking_selectors.district_admin_requests(district)
    pending = next((item for item in requests if item.status == item.Status.PENDING), None)
    linked = district.organization is not None
    return render(
        request,
        "matching/district_admin.html",
        {
            "district": district,
            "linked": linked,
            "sync": linking_presentation.sync_status(district) if linked else None,
            "pending": pending,
            "closed": [
                (item, linking_presentation.outcome(item)) for item in requests if item is not pending
            ],
            "offers": [] if linked or pending else linking_selectors.offered_organizations(district),
            "form": form,
        },
        status=status,
    )


@role_required("district_admin")
@require_http_methods(["GET", "POST"])
def district_admin_linking(request):
    district_admin = linking_selectors.signed_in_district_admin(request)
    if district_admin is None:
        return _refused(request, NOT_DISTRICT_ADMIN)
    if request.method == "GET":
        return _district_admin_page(request, district_admin, DistrictAdminForm())
    offers = linking_selectors.offered_organizations(district_admin.district)
    form = DistrictAdminForm(request.POST, offers=offers)
    if not form.is_valid():
        return _district_admin_page(request, district_admin, form, status=400)
    try:
        if form.cleaned_data["action"] == DistrictAdminForm.ASK:
            chosen = next(
                offer.organization
                for offer in offers
                if offer.organization.pk == form.cleaned_data["organization"]
            )
            linking_services.ask_organization_to_link(district_admin=district_admin, organization=chosen)
            messages.success(
                request,
                f"Your request is waiting for the administrators of {chosen.name}: "
                "they see it when they sign in.",
            )
        else:
            linking_services.withdraw_district_admin_request(district_admin=district_admin)
            messages.success(request, "You took your request back. Nothing was linked.")
    except LinkError as exc:
        return _refused(request, str(exc), status=409)
    return HttpResponseRedirect(reverse("district_admin_linking"))


@require_http_methods(["GET", "POST"])
def verification_link(request, token: str):
    try:
        link_request = linking_services.read_verification_link(token)
    except LinkError as exc:
        return _refused(request, str(exc), status=410, title="This link cannot be used")
    district, organization = link_request.district, link_request.organization
    if request.method == "POST":
        return sso_services.start_clever_login(
            request,
            purpose=linking_services.PURPOSE,
            data={
                "organization": organization.pk,
                "district": district.clever_id,
                "request": link_request.pk,
                "nonce": link_request.evidence.get("verification_nonce"),
            },
            district_id=district.clever_id,
        )
    return render(
        request,
        "matching/verify.html",
        {
            "organization": organization,
            "district": district,
            "requested_by": link_request.requested_by,
        },
    )


def district_link_hook(request, *, identity, data, actor):
    """``sso`` calls this once Clever confirmed the identity of a "district_link" login."""
    try:
        verified = linking_services.complete_clever_verification(identity=identity, data=data, actor=actor)
    except LinkError as exc:
        return _refused(request, str(exc), title="The district was not linked")
    return render(
        request,
        "matching/linked.html",
        {
            "district": verified.district,
            "organization": verified.organization,
            "already": verified.already,
            "sync": linking_presentation.sync_status(verified.district),
            "own_page": linking_selectors.administered_organization(request.user) == verified.organization,
        },
    )
