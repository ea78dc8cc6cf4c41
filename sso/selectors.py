"""Reads for Clever sign-in: who is signed in as what, email collisions, replayed codes."""

from __future__ import annotations

import hashlib

from allauth.socialaccount.models import SocialAccount
from django.contrib.auth import get_user_model
from django.db.models import QuerySet

from districts.models import District
from rostering.models import Person

from .identity import PROVIDER, ROLE_LABELS, CleverIdentity
from .models import CodeRedemption

# Session keys (the session is flushed at every login and logout).
SESSION_CLEVER = "sso.clever"  # the signed-in Clever identity (extra_data form)
SESSION_ACTIVE_ROLE = "sso.active_role"
SESSION_PENDING_LINK = "sso.pending_link"
SESSION_BOUNCE = "sso.bounce"
SESSION_SIGNED_IN_AT = "sso.signed_in_at"  # time.time() of the Clever sign-in
# The verified launch claims of this sign-in (no personal claim), until it has landed.
SESSION_LAUNCH = "sso.launch"


def code_digest(code: str) -> str:
    return hashlib.sha256(code.encode()).hexdigest()


def redemption(code: str) -> CodeRedemption | None:
    return CodeRedemption.objects.filter(code_digest=code_digest(code)).select_related("user").first()


def social_account(clever_id: str) -> SocialAccount | None:
    return SocialAccount.objects.filter(provider=PROVIDER, uid=clever_id).select_related("user").first()


def clever_accounts(user) -> QuerySet[SocialAccount]:
    return SocialAccount.objects.filter(provider=PROVIDER, user=user)


def email_collision(identity: CleverIdentity, *, organization):
    """An account the person may be asked about ("is this your account?"): an active account of
    the district's own organization with the Clever email (case-insensitive) and a password to
    prove it with, that a Clever sign-in may enter at all (not staff, not made for another
    Clever user). Never a link by itself. Outside the organization nobody is asked, so a
    district cannot probe which addresses have accounts elsewhere."""
    email = identity.usable_email
    if not email or organization is None:
        return None
    User = get_user_model()
    candidates = (
        User.objects.filter(
            email__iexact=email.strip(),
            is_active=True,
            organization=organization,
            is_staff=False,
            is_superuser=False,
        )
        .filter(made_for_clever_id="")
        .order_by("pk")
    )
    return next((user for user in candidates[:20] if user.has_usable_password()), None)


def signed_in_identity(request) -> CleverIdentity | None:
    data = request.session.get(SESSION_CLEVER)
    return CleverIdentity.from_extra_data(data) if isinstance(data, dict) else None


def session_roles(request) -> tuple[str, ...]:
    identity = signed_in_identity(request)
    return identity.acting_roles if identity else ()


def active_role(request) -> str | None:
    """The role the signed-in person acts in: it decides permissions (``sso.permissions``)."""
    role = request.session.get(SESSION_ACTIVE_ROLE)
    return role if role in session_roles(request) else None


def role_label(role: str | None) -> str:
    return ROLE_LABELS.get(role or "", "")


def person_for(identity: CleverIdentity) -> Person | None:
    return (
        Person.objects.filter(district__clever_id=identity.district_id, clever_id=identity.clever_id)
        .select_related("district", "district__organization")
        .first()
    )


def district_for(identity: CleverIdentity) -> District | None:
    if not identity.district_id:
        return None
    return District.objects.filter(clever_id=identity.district_id).select_related("organization").first()


def _full_name(first: str, last: str) -> str:
    return " ".join(part.strip() for part in (first, last) if part.strip())


def display_name(request) -> str:
    """The signed-in person's name, never a username (an account made from Clever is called
    ``clever-<Clever ID>``): the account's own name; else the roster mirror's name for them
    (the person they signed in as, or a live person linked to the account); else the name
    Clever gave at their last sign-in; else their email; "" when none is known."""
    user = request.user
    name = user.get_full_name().strip()
    if name:
        return name
    identity = signed_in_identity(request)
    person = person_for(identity) if identity else None
    if person is None:
        person = Person.objects.filter(user=user, archived_at=None).order_by("pk").first()
    if person is not None and (name := _full_name(person.first_name, person.last_name)):
        return name
    for account in clever_accounts(user).order_by("-last_login", "pk"):
        if name := CleverIdentity.from_extra_data(account.extra_data or {}).display_name:
            return name
    return user.email.strip()


def account_summary(request) -> dict:
    """What ``/account/`` shows about the signed-in person."""
    user = request.user
    identity = signed_in_identity(request)
    district = district_for(identity) if identity else None
    role = active_role(request)
    return {
        "name": display_name(request) or "Your account",
        "active_role": role,
        "active_role_label": role_label(role),
        "roles": [(r, role_label(r)) for r in (identity.acting_roles if identity else ())],
        "organization": user.organization if getattr(user, "organization_id", None) else None,
        "district": district,
        "clever_district_id": identity.district_id if identity else "",
        "library": bool(identity and identity.is_library),
    }
