"""The self-serve district linking pages for organization admins (thin: matching.linking does the
work), and the hook that receives the verified "Log in with Clever" round trip.

- ``organization/districts/``: the organization, its linked districts, its pending requests and
  the unmatched districts ranked by evidence (chips), searchable by name, city and state, paged.
- ``organization/districts/<clever id>/``: one district's evidence and the three ways to ask
  for it: "Verify with Clever" (the admin is the Clever district admin), a signed verification
  link to send to the Clever district admin, or a request to support staff (no proof).
- ``organization/districts/verify/<token>/``: the page a verification link opens; its button
  starts the same round trip on behalf of the organization admin who asked.

Only active organization admins (``User.is_organization_admin``) of an organization get these
pages (403 otherwise); a district linked to another organization is never offered or claimable.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_http_methods

from districts.models import District
from sso import services as sso_services

from . import linking


def _refused(request, message: str, *, status: int = 403, title: str = "Not allowed"):
    return render(request, "matching/refused.html", {"title": title, "message": message}, status=status)


def _organization(request):
    return linking.administered_organization(request.user)


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
            "linked": linking.linked_districts(organization),
            "pending": linking.pending_requests(organization),
            **linking.unmatched_page_for_query(organization, request.GET),
        },
    )


@login_required(login_url="account_login")
@require_http_methods(["GET", "POST"])
def choose_district(request, clever_id: str):
    organization = _organization(request)
    if organization is None:
        return _refused(request, NOT_ADMIN)
    district = linking.choosable_district(organization, clever_id)
    if district is None:
        if District.objects.filter(clever_id=clever_id).exists():
            return _refused(
                request,
                "This district is already linked to another organization. It cannot be "
                "claimed; contact support if that link is wrong.",
            )
        raise Http404("No such district")
    if request.method == "POST":
        action = request.POST.get("action")
        try:
            if action == "verify":
                if district.organization_id == organization.pk:
                    return HttpResponseRedirect(reverse("district_linking"))
                return sso_services.start_clever_login(
                    request,
                    purpose=linking.PURPOSE,
                    data={"organization": organization.pk, "district": district.clever_id},
                    district_id=district.clever_id,
                )
            if action == "send_link":
                token = linking.issue_verification_link(
                    organization=organization, district=district, requested_by=request.user
                )
                url = request.build_absolute_uri(reverse("district_link_verify", args=[token]))
                return render(
                    request,
                    "matching/verification_link.html",
                    {
                        "organization": organization,
                        "district": district,
                        "url": url,
                        "max_age_days": linking.verification_days(),
                    },
                )
            if action == "ask_support":
                linking.request_district_link(
                    organization=organization, district=district, requested_by=request.user
                )
                messages.success(
                    request,
                    f"{district.name or district.clever_id}: your request was sent to "
                    "support. They will check it and link the district.",
                )
                return HttpResponseRedirect(reverse("district_linking"))
        except linking.LinkingError as exc:
            return _refused(request, str(exc), status=409)
        return _refused(request, "Unknown action.", status=400, title="Bad request")
    return render(
        request,
        "matching/choose.html",
        {
            "organization": organization,
            "district": district,
            "candidate": linking.candidate_for(district, organization),
            "facts": linking.district_facts(district),
        },
    )


@require_http_methods(["GET", "POST"])
def verification_link(request, token: str):
    try:
        link_request = linking.read_verification_link(token)
    except linking.LinkingError as exc:
        return _refused(request, str(exc), status=410, title="This link cannot be used")
    district, organization = link_request.district, link_request.organization
    if request.method == "POST":
        return sso_services.start_clever_login(
            request,
            purpose=linking.PURPOSE,
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
        verified = linking.complete_clever_verification(identity=identity, data=data, actor=actor)
    except linking.LinkingError as exc:
        return _refused(request, str(exc), title="The district was not linked")
    return render(
        request,
        "matching/linked.html",
        {
            "district": verified.district,
            "organization": verified.organization,
            "already": verified.already,
            "own_page": linking.administered_organization(request.user) == verified.organization,
        },
    )
