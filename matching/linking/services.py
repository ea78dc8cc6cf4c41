"""Writes of district linking: an organization admin asks support or sends a verification link,
the verified "Log in with Clever" round trip links, a Clever district admin asks and the
organization's admin confirms or declines, support staff link, approve, reject, unlink and
relink. Every link, relink and unlink goes through ``districts.services`` (audited with the
evidence snapshot); every request keeps whom it waits for and each step of its history."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core import signing
from django.db import transaction
from django.utils import timezone

from accounts.models import Organization
from districts import services as district_services
from districts.models import District, LinkMethod
from districts.services import LinkError

from ..models import DistrictLinkRequest, DistrictVerification
from .selectors import (
    ORIGIN_DISTRICT_ADMIN,
    ORIGIN_SELF_SERVE,
    ORIGIN_VERIFICATION_LINK,
    DistrictAdmin,
    Step,
    Waiting,
    administered_organization,
    candidate_for,
    offered_organizations,
    waiting_for,
)

# The "Log in with Clever" purpose (``sso.services.start_clever_login``) of a verification.
PURPOSE = "district_link"
VERIFICATION_SALT = "matching.district-link-verification"
# A district's Clever admins may ask this many times in ASK_WINDOW_DAYS (asking and taking back
# in a loop would fill an organization's page): after that, support links it.
ASKS_PER_WINDOW = 3
ASK_WINDOW_DAYS = 30


def _withdraw_others(district_pk: int, *, keep: int | None, actor=None) -> int:
    """Pending requests for a district that just got linked are moot."""
    pending = DistrictLinkRequest.objects.select_for_update().filter(
        district_id=district_pk, status=DistrictLinkRequest.Status.PENDING
    )
    if keep is not None:
        pending = pending.exclude(pk=keep)
    moot = list(pending)
    for link_request in moot:
        _decide(
            link_request,
            DistrictLinkRequest.Status.WITHDRAWN,
            Step.MOOT,
            by=actor,
            note="The district was linked.",
        )
    return len(moot)


def _snapshot(district: District, organization: Organization, **extra) -> dict:
    candidate = candidate_for(district, organization)
    return {
        "score": candidate.score if candidate else 0.0,
        "chips": candidate.evidence if candidate else [],
        **extra,
    }


# --- a request's steps ----------------------------------------------------------------------------


def add_step(
    link_request: DistrictLinkRequest, step: Step, *, by=None, clever_user: str = "", note: str = ""
) -> None:
    """Add a step to the request's history (the caller saves it): who (a product user, and for
    a district admin their Clever user ID), when, and their note. IDs only, never names."""
    link_request.history = [
        *(link_request.history or []),
        {
            "at": timezone.now().isoformat(),
            "step": str(step),
            "by": getattr(by, "pk", None),
            "clever_user": clever_user,
            "note": note[:500],
        },
    ]


def _decide(
    link_request: DistrictLinkRequest,
    status: str,
    step: Step,
    *,
    by=None,
    clever_user: str = "",
    note: str = "",
) -> DistrictLinkRequest:
    """Close a pending request: its status, who and when, a note, the step; its verification
    link (if any) dies with it."""
    link_request.status = status
    link_request.decided_by = by if getattr(by, "pk", None) else None
    link_request.decided_at = timezone.now()
    link_request.note = note[:500]
    link_request.evidence = {
        key: value for key, value in link_request.evidence.items() if key != "verification_nonce"
    }
    add_step(link_request, step, by=by, clever_user=clever_user, note=note)
    link_request.save(update_fields=["status", "decided_by", "decided_at", "note", "evidence", "history"])
    return link_request


def _unlinked_accounts(district: District) -> list[int]:
    """The accounts Clever sign-ins made for the district's people while it was linked to no
    organization: they have none."""
    return list(
        get_user_model()
        .objects.filter(organization__isnull=True, clever_people__district=district)
        .exclude(made_for_clever_id="")
        .values_list("pk", flat=True)
        .distinct()
    )


@transaction.atomic
def _link(
    *,
    district: District,
    organization: Organization,
    method: str,
    evidence: dict,
    actor=None,
    actor_label: str = "",
) -> District:
    """Link through ``districts.services`` (the LINKED audit) and bring into the organization the
    accounts its people made by signing in while the district was unlinked (a district admin who
    asked for the link, say): the sync gives everyone else theirs, but it leaves accounts it
    did not make alone."""
    accounts = _unlinked_accounts(district)
    district = district_services.link_district(
        district=district,
        organization=organization,
        method=method,
        evidence={**evidence, "accounts_joined": len(accounts)},
        actor=actor,
        actor_label=actor_label,
    )
    get_user_model().objects.filter(pk__in=accounts).update(organization=organization)
    return district


def _pending_pair(district: District, organization: Organization) -> DistrictLinkRequest | None:
    return (
        DistrictLinkRequest.objects.select_for_update()
        .filter(district=district, organization=organization, status=DistrictLinkRequest.Status.PENDING)
        .first()
    )


# --- an organization admin asks -------------------------------------------------------------------


def _check_linkable(district: District, organization: Organization) -> None:
    """Refuse a district linked to another organization. Locks the district's row: the asks
    and links of one district take turns."""
    locked = District.objects.select_for_update().values("organization_id", "status").get(pk=district.pk)
    district.organization_id, district.status = locked["organization_id"], locked["status"]
    if district.organization_id is not None and district.organization_id != organization.pk:
        raise LinkError(
            "This district is already linked to another organization. It cannot be claimed "
            "here; contact support if the link is wrong."
        )


@transaction.atomic
def request_district_link(
    *, organization: Organization, district: District, requested_by
) -> DistrictLinkRequest:
    """Ask support staff to decide the link. One pending request per pair: asking again changes
    nothing, and asking after a verification link was sent (or after the district's Clever admin
    asked) puts that same request in support's queue, the link still working."""
    _check_linkable(district, organization)
    link_request = _pending_pair(district, organization) or DistrictLinkRequest(
        district=district,
        organization=organization,
        requested_by=requested_by,
        origin=ORIGIN_SELF_SERVE,
        evidence=_snapshot(district, organization),
    )
    if link_request.support_asked_at is None:
        link_request.support_asked_at = timezone.now()
        add_step(link_request, Step.ASKED_SUPPORT, by=requested_by)
        link_request.save()
    return link_request


def _signer() -> signing.TimestampSigner:
    return signing.TimestampSigner(salt=VERIFICATION_SALT)


@transaction.atomic
def issue_verification_link(*, organization: Organization, district: District, requested_by) -> str:
    """A signed, expiring, single-use token naming the pair's pending request (a new one: origin
    ``verification_link``); the organization admin sends its URL to the Clever district admin."""
    _check_linkable(district, organization)
    nonce = secrets.token_urlsafe(16)
    link_request = _pending_pair(district, organization)
    if link_request is None:
        link_request = DistrictLinkRequest(
            district=district,
            organization=organization,
            requested_by=requested_by,
            origin=ORIGIN_VERIFICATION_LINK,
            evidence=_snapshot(district, organization),
        )
    # One live link per pending request: issuing a new one retires the previous nonce.
    link_request.evidence = {
        **link_request.evidence,
        "verification_nonce": nonce,
        "verification_requested_by": requested_by.pk,
        "verification_issued_at": timezone.now().isoformat(),
    }
    add_step(link_request, Step.SENT_LINK, by=requested_by)
    link_request.save()
    return _signer().sign_object({"request": link_request.pk, "nonce": nonce}, compress=True)


def read_verification_link(token: str) -> DistrictLinkRequest:
    """The pending request a verification token names; LinkError when forged, expired or used."""
    try:
        payload = _signer().unsign_object(token, max_age=settings.DISTRICT_LINK_VERIFICATION_MAX_AGE)
    except signing.SignatureExpired as exc:
        raise LinkError("This verification link has expired. Ask for a new one.") from exc
    except signing.BadSignature as exc:
        raise LinkError("This verification link is not valid.") from exc
    link_request = (
        DistrictLinkRequest.objects.filter(pk=payload.get("request"))
        .select_related("district", "organization", "requested_by")
        .first()
    )
    if (
        link_request is None
        or link_request.status != DistrictLinkRequest.Status.PENDING
        or not link_request.evidence.get("verification_nonce")
        or not secrets.compare_digest(
            str(link_request.evidence.get("verification_nonce")), str(payload.get("nonce"))
        )
    ):
        raise LinkError("This verification link was already used or withdrawn.")
    return link_request


# --- the verified round trip ----------------------------------------------------------------------


@dataclass(frozen=True)
class Verified:
    district: District
    organization: Organization
    already: bool


@transaction.atomic
def complete_clever_verification(*, identity, data: dict, actor) -> Verified:
    """The hook's work: Clever just confirmed ``identity``. Link when the Clever user is a district
    admin of exactly the district named in the signed ``data``, the requester is still an admin of
    the organization, and the district is unlinked (or already this organization's).

    ``data``: ``{"organization": pk, "district": clever id}`` and, for a verification link,
    ``{"request": pk, "nonce": ...}``. Raises LinkError (nothing linked) otherwise.
    """
    organization, district = _named_pair(data)
    link_request = _verification_link_request(data, district=district, organization=organization)
    if link_request is not None:
        requester = _verification_requester(link_request)
        method = DistrictVerification.Method.VERIFICATION_LINK
    else:
        requester = actor
        method = DistrictVerification.Method.ROUND_TRIP
    _check_verification(identity, requester=requester, district=district, organization=organization)
    DistrictVerification.objects.create(
        district=district,
        organization=organization,
        method=method,
        clever_user_id=identity.clever_id,
        requested_by=requester,
    )
    already = district.organization_id == organization.pk
    if not already:
        _link_verified(district, organization, identity=identity, method=method, requester=requester)
    # The verification link's request, or the pair's own pending one (support was asked, say).
    verified = link_request or _pending_pair(district, organization)
    if verified is not None:
        verified.evidence = {**verified.evidence, "verified_by_clever_user": identity.clever_id}
        _decide(
            verified,
            DistrictLinkRequest.Status.APPROVED,
            Step.VERIFIED,
            by=requester,
            clever_user=identity.clever_id,
            note="Verified with Clever by a district administrator of the district.",
        )
    _withdraw_others(district.pk, keep=verified.pk if verified else None)
    return Verified(district=district, organization=organization, already=already)


def _named_pair(data: dict) -> tuple[Organization, District]:
    """The organization and the district (locked) the signed ``data`` names."""
    organization = Organization.objects.filter(pk=data.get("organization")).first()
    district = District.objects.select_for_update().filter(clever_id=str(data.get("district") or "")).first()
    if organization is None or district is None:
        raise LinkError("The district or the organization no longer exists. Nothing was linked.")
    return organization, district


def _verification_link_request(
    data: dict,
    *,
    district: District,
    organization: Organization,
) -> DistrictLinkRequest | None:
    """The pending request (locked) a verification link names, its nonce still live; None for a
    "Verify with Clever" round trip, which names none."""
    if data.get("request") is None:
        return None
    link_request = (
        DistrictLinkRequest.objects.select_for_update()
        .filter(pk=data["request"], district=district, organization=organization)
        .first()
    )
    if (
        link_request is None
        or link_request.status != DistrictLinkRequest.Status.PENDING
        or str(link_request.evidence.get("verification_nonce")) != str(data.get("nonce"))
    ):
        raise LinkError("This verification link was already used or withdrawn. Nothing was linked.")
    return link_request


def _verification_requester(link_request: DistrictLinkRequest):
    """The organization admin who sent the verification link (the link acts on their behalf)."""
    requester_pk = link_request.evidence.get("verification_requested_by") or link_request.requested_by_id
    return get_user_model().objects.filter(pk=requester_pk).first()


def _check_verification(identity, *, requester, district: District, organization: Organization) -> None:
    """Refuse unless the requester still administers the organization, the Clever user is a
    district admin of exactly this district, and the district is not another organization's."""
    if administered_organization(requester) != organization:
        raise LinkError(
            "The person who asked for this link is no longer an administrator of the "
            "organization. Nothing was linked."
        )
    if identity.is_library or "district_admin" not in identity.roles:
        raise LinkError(
            "Only a district administrator in Clever can verify this link. You signed in to "
            "Clever with another role. Nothing was linked."
        )
    if identity.district_id != district.clever_id:
        raise LinkError(
            "You signed in to Clever as an administrator of another district. Nothing was linked."
        )
    if district.organization_id is not None and district.organization_id != organization.pk:
        raise LinkError(
            "This district is already linked to another organization. Nothing was linked; "
            "contact support if that link is wrong."
        )


def _link_verified(
    district: District,
    organization: Organization,
    *,
    identity,
    method: str,
    requester,
) -> None:
    """Link the pair Clever verified, the verifying Clever user and their roles in the evidence."""
    link_method = (
        LinkMethod.VERIFICATION_LINK
        if method == DistrictVerification.Method.VERIFICATION_LINK
        else LinkMethod.CLEVER_LOGIN
    )
    _link(
        district=district,
        organization=organization,
        method=link_method,
        evidence=_snapshot(
            district,
            organization,
            verified_by_clever_user=identity.clever_id,
            clever_roles=list(identity.roles),
            proof=method,
        ),
        actor=requester,
        actor_label=f"{requester} (verified with Clever)",
    )


# --- support staff --------------------------------------------------------------------------------


def _revoke_verifications(district: District, organization_id: int | None) -> None:
    if organization_id is not None:
        DistrictVerification.objects.filter(
            district=district, organization_id=organization_id, revoked_at__isnull=True
        ).update(revoked_at=timezone.now())


@transaction.atomic
def staff_link_district(
    *,
    district: District,
    organization: Organization,
    actor,
    link_request: DistrictLinkRequest | None = None,
    reason: str = "",
) -> District:
    """Support staff link an unlinked district at once (trusted), audited with the evidence and
    their ``reason``."""
    _check_linkable(district, organization)
    method = LinkMethod.REQUEST_APPROVED if link_request is not None else LinkMethod.STAFF
    extra = {"request": link_request.pk, "origin": link_request.origin} if link_request else {}
    if link_request is not None and link_request.district_admin_clever_id:
        extra["asked_by_clever_user"] = link_request.district_admin_clever_id
    if reason:
        extra["reason"] = reason[:500]
    district = _link(
        district=district,
        organization=organization,
        method=method,
        evidence=_snapshot(district, organization, **extra),
        actor=actor,
    )
    # The request approved, or the pair's own pending request (support linked it from the list).
    approved = link_request or _pending_pair(district, organization)
    if approved is not None:
        _decide(approved, DistrictLinkRequest.Status.APPROVED, Step.APPROVED, by=actor, note=reason)
    _withdraw_others(district.pk, keep=None, actor=actor)
    return district


@transaction.atomic
def approve_link_request(*, link_request: DistrictLinkRequest, actor, reason: str = "") -> District:
    """Support staff link the request's pair. A request a Clever district admin made waits for
    the organization's admin: approving it before they answer needs a ``reason`` (recorded)."""
    link_request = (
        DistrictLinkRequest.objects.select_for_update(of=("self",))
        .select_related("district", "organization")
        .get(pk=link_request.pk)
    )
    if link_request.status != DistrictLinkRequest.Status.PENDING:
        raise LinkError(f"This request is {link_request.status} already.")
    if waiting_for(link_request) == Waiting.ORGANIZATION_ADMIN and len(reason.strip()) < 3:
        raise LinkError(
            "A Clever district admin asked and the organization has not answered: "
            "say why you approve it without them (it is recorded with your name)."
        )
    return staff_link_district(
        district=link_request.district,
        organization=link_request.organization,
        actor=actor,
        link_request=link_request,
        reason=reason,
    )


@transaction.atomic
def reject_link_request(*, link_request: DistrictLinkRequest, actor, note: str = "") -> DistrictLinkRequest:
    link_request = DistrictLinkRequest.objects.select_for_update().get(pk=link_request.pk)
    if link_request.status != DistrictLinkRequest.Status.PENDING:
        raise LinkError(f"This request is {link_request.status} already.")
    return _decide(link_request, DistrictLinkRequest.Status.REJECTED, Step.REJECTED, by=actor, note=note)


@transaction.atomic
def staff_unlink_district(*, district: District, actor, reason: str = "") -> District:
    """Remove a link (audited); its verifications stop counting and no refresh re-links the pair.
    The accounts provisioned for the district keep their organization until it is relinked."""
    before = district.organization_id
    district = district_services.unlink_district(district=district, actor=actor, reason=reason)
    _revoke_verifications(district, before)
    return district


def provisioned_users(*, district: District, organization_id: int) -> list[int]:
    """The accounts the sync or SSO provisioned for the district's people while it
    was linked to ``organization_id``: they follow the district when it is relinked. Product
    accounts found by matching are left with their organization."""
    return list(
        get_user_model()
        .objects.filter(organization_id=organization_id, clever_people__district=district)
        .exclude(made_for_clever_id="")
        .values_list("pk", flat=True)
        .distinct()
    )


@transaction.atomic
def staff_relink_district(
    *,
    district: District,
    organization: Organization,
    actor,
    reason: str = "",
    link_request: DistrictLinkRequest | None = None,
) -> tuple[District, int]:
    """Correct a wrong link: move the district to ``organization`` (RELINKED audit) and its
    provisioned accounts with it. Returns the district and the number of accounts moved."""
    district.refresh_from_db(fields=["organization"])
    before = district.organization_id
    if before is None:
        raise LinkError("The district is not linked: link it instead.")
    if before == organization.pk:
        return district, 0
    method = LinkMethod.REQUEST_APPROVED if link_request is not None else LinkMethod.STAFF
    extra = {"request": link_request.pk} if link_request else {}
    accounts = provisioned_users(district=district, organization_id=before)
    district = district_services.relink_district(
        district=district,
        organization=organization,
        method=method,
        evidence=_snapshot(district, organization, accounts_moved=len(accounts), **extra),
        actor=actor,
        reason=reason,
    )
    moved = get_user_model().objects.filter(pk__in=accounts).update(organization=organization)
    _revoke_verifications(district, before)
    if link_request is not None:
        _decide(link_request, DistrictLinkRequest.Status.APPROVED, Step.APPROVED, by=actor, note=reason)
    _withdraw_others(district.pk, keep=None, actor=actor)
    return district, moved


# --- a Clever district admin asks, the organization answers ---------------------------------------


def _check_district_admin(district_admin: DistrictAdmin, district: District) -> None:
    identity = district_admin.identity
    if (
        identity.is_library
        or "district_admin" not in identity.roles
        or identity.district_id != district.clever_id
    ):
        raise LinkError("Only a district administrator of this district in Clever can ask for its link.")


@transaction.atomic
def ask_organization_to_link(
    *, district_admin: DistrictAdmin, organization: Organization
) -> DistrictLinkRequest:
    """A Clever district admin asks to link their district to ``organization``, one of
    :func:`offered_organizations`. Nothing is linked on their word: the organization's admin
    confirms it (or support staff approve it). One pending ask per district; a pair the
    organization (or support) declined is not asked again from here. A pending request of the
    organization for the same district becomes this ask (both sides now agree to ask)."""
    district = district_admin.district
    _check_district_admin(district_admin, district)
    _check_linkable(district, organization)
    if district.organization_id is not None:
        raise LinkError("Your district is linked already.")
    if organization.pk not in {offer.organization.pk for offer in offered_organizations(district)}:
        raise LinkError(
            "This organization cannot be asked from here. Ask our support team to link your district."
        )
    if (
        DistrictLinkRequest.objects.filter(district=district, status=DistrictLinkRequest.Status.PENDING)
        .exclude(district_admin_clever_id="")
        .exists()
    ):
        raise LinkError(
            "Your district already asked an organization to link it: wait for its answer, or take that "
            "request back first."
        )
    if _recent_asks(district) >= ASKS_PER_WINDOW:
        raise LinkError(
            f"Your district asked {ASKS_PER_WINDOW} times in the last {ASK_WINDOW_DAYS} days. "
            "Ask our support team to link it."
        )
    link_request = _pending_pair(district, organization) or DistrictLinkRequest(
        district=district,
        organization=organization,
        requested_by=district_admin.user,
        origin=ORIGIN_DISTRICT_ADMIN,
        evidence=_snapshot(district, organization),
    )
    clever_user = district_admin.identity.clever_id
    link_request.district_admin_clever_id = clever_user
    add_step(link_request, Step.DISTRICT_ASKED, by=district_admin.user, clever_user=clever_user)
    link_request.save()
    return link_request


def _recent_asks(district: District) -> int:
    """How many times the district's Clever admins asked in the last ``ASK_WINDOW_DAYS``."""
    since = (timezone.now() - timedelta(days=ASK_WINDOW_DAYS)).isoformat()
    return sum(
        1
        for history in DistrictLinkRequest.objects.filter(district=district).values_list("history", flat=True)
        for step in history or []
        if step.get("step") == Step.DISTRICT_ASKED and str(step.get("at", "")) >= since
    )


@transaction.atomic
def withdraw_district_admin_request(*, district_admin: DistrictAdmin) -> DistrictLinkRequest:
    """A Clever district admin of the district takes back its pending ask. A request the
    organization made itself stays, waiting as it did before the district asked."""
    district = district_admin.district
    _check_district_admin(district_admin, district)
    link_request = (
        DistrictLinkRequest.objects.select_for_update()
        .filter(district=district, status=DistrictLinkRequest.Status.PENDING)
        .exclude(district_admin_clever_id="")
        .first()
    )
    if link_request is None:
        raise LinkError("Your district has no request waiting.")
    clever_user = district_admin.identity.clever_id
    if link_request.origin == ORIGIN_DISTRICT_ADMIN:
        return _decide(
            link_request,
            DistrictLinkRequest.Status.WITHDRAWN,
            Step.DISTRICT_WITHDREW,
            by=district_admin.user,
            clever_user=clever_user,
            note="Taken back by the district's Clever administrator.",
        )
    link_request.district_admin_clever_id = ""
    add_step(link_request, Step.DISTRICT_WITHDREW, by=district_admin.user, clever_user=clever_user)
    link_request.save(update_fields=["district_admin_clever_id", "history"])
    return link_request


def _answerable(link_request: DistrictLinkRequest, organization_admin) -> DistrictLinkRequest:
    """The request, locked, when ``organization_admin`` may answer it now."""
    organization = administered_organization(organization_admin)
    # The district first, then the request: the order the verification hook locks them in, so
    # a confirmation racing a verification waits instead of deadlocking.
    District.objects.select_for_update().filter(pk=link_request.district_id).first()
    locked = (
        DistrictLinkRequest.objects.select_for_update(of=("self",))
        .select_related("district", "organization")
        .filter(pk=link_request.pk)
        .first()
    )
    if locked is None or organization is None or locked.organization_id != organization.pk:
        raise LinkError("Only an administrator of the organization asked can answer this request.")
    if locked.status != DistrictLinkRequest.Status.PENDING or not locked.district_admin_clever_id:
        raise LinkError("This request was answered or taken back already.")
    return locked


@transaction.atomic
def confirm_district_admin_request(
    *, link_request: DistrictLinkRequest, organization_admin, reason: str
) -> District:
    """The organization's admin confirms what the district's Clever admin asked: both sides agree,
    so the district is linked (method ``clever_login``: Clever confirmed the district admin at
    their sign-in), audited with the evidence, both people and the reason, and the agreement is
    recorded as a ``DistrictVerification`` (evidence for the ranking, revoked by an unlink)."""
    link_request = _answerable(link_request, organization_admin)
    district, organization = link_request.district, link_request.organization
    _check_linkable(district, organization)
    DistrictVerification.objects.create(
        district=district,
        organization=organization,
        method=DistrictVerification.Method.DISTRICT_ADMIN_REQUEST,
        clever_user_id=link_request.district_admin_clever_id,
        requested_by=organization_admin,
    )
    _link(
        district=district,
        organization=organization,
        method=LinkMethod.CLEVER_LOGIN,
        evidence=_snapshot(
            district,
            organization,
            request=link_request.pk,
            proof=DistrictVerification.Method.DISTRICT_ADMIN_REQUEST,
            asked_by_clever_user=link_request.district_admin_clever_id,
            reason=reason[:500],
        ),
        actor=organization_admin,
        actor_label=f"{organization_admin} (confirmed the request of the district's Clever administrator)",
    )
    _decide(
        link_request, DistrictLinkRequest.Status.APPROVED, Step.CONFIRMED, by=organization_admin, note=reason
    )
    _withdraw_others(district.pk, keep=link_request.pk, actor=organization_admin)
    return district


@transaction.atomic
def decline_district_admin_request(
    *, link_request: DistrictLinkRequest, organization_admin, reason: str
) -> DistrictLinkRequest:
    """The organization's admin declines what the district's Clever admin asked (the district
    admin cannot ask this organization again; support can still link it)."""
    link_request = _answerable(link_request, organization_admin)
    return _decide(
        link_request, DistrictLinkRequest.Status.REJECTED, Step.DECLINED, by=organization_admin, note=reason
    )
