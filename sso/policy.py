"""Which product account a Clever identity may enter, and which districts may sign people in:
the rules, in one place (docs/sso.md "Who may enter which account").

Everything a district's SIS sends through Clever is attacker-controllable (a name, an email that
Clever does not verify, a role), and so is every link matching or a Matchmaker file derives
from it. So:

- **Staff and superuser accounts never sign in through Clever**, however they were linked.
- A **protected** account (a usable password, organization admin, any group or permission) may
  be entered by Clever user X only when the link was *proven*: its owner signed in with the
  account's password and confirmed (``AccountLink`` method ``confirmed_sign_in``) or support
  staff linked that pair by hand while the account was protected (method ``staff``), and no
  unlink came after.
- An account made for X (``clever-<X>``, by the roster sync or X's first login) is X's by
  construction; a plain account (no password, no privilege) may be entered by whoever the
  roster links to it.

``admission_refusal`` is the district rule, shared by the login itself and by every later request
of a Clever session (``sso.middleware``): a district that stops sharing ends its sessions.
"""

from __future__ import annotations

from enum import StrEnum

from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import UNUSABLE_PASSWORD_PREFIX
from django.db.models import Q, QuerySet

from districts.models import District, DistrictStatus

from .identity import CleverIdentity
from .models import AccountLink, LoginOutcome


class Entry(StrEnum):
    ALLOWED = "allowed"
    # Staff or superuser: never through Clever.
    NEVER = "never"
    # Protected and not proven: its owner must prove it (password) or support link it.
    NEEDS_PROOF = "needs_proof"


def never_through_clever(user) -> bool:
    return bool(user.is_staff or user.is_superuser)


def needs_mfa(user) -> bool:
    """Staff (Support included) and superusers: the accounts that read children's records in the
    admin. In production mode they must sign in with a second factor (``STAFF_MFA_REQUIRED``)."""
    return never_through_clever(user)


def _protected() -> Q:
    """Accounts a stranger must never enter on Clever's word alone: a usable password (Django's
    rule: anything but the "!" prefix), staff, superuser, organization admin, any group or
    permission."""
    return (
        ~Q(password__startswith=UNUSABLE_PASSWORD_PREFIX)
        | Q(is_staff=True)
        | Q(is_superuser=True)
        | Q(is_organization_admin=True)
        | Q(groups__isnull=False)
        | Q(user_permissions__isnull=False)
    )


def protected_ids(users: QuerySet) -> set[int]:
    """The protected accounts among ``users``, in one query."""
    return set(users.filter(_protected()).values_list("pk", flat=True).distinct())


def is_protected(user) -> bool:
    return user.pk in protected_ids(get_user_model().objects.filter(pk=user.pk))


def made_for(user, clever_id: str) -> bool:
    """The account the roster sync or the first Clever login made for this Clever user."""
    return bool(clever_id) and user.made_for_clever_id == clever_id


# Key in the ``details`` of a link support made (``AccountLink``): was the account protected
# when they decided? Only then did a person decide about a protected account; deciding about a
# plain one proves nothing once it gains a password or privileges.
PROTECTED_WHEN_LINKED = "account_protected_when_linked"


def link_proven(user, clever_id: str) -> bool:
    """A proving link between the account and the Clever user, with no unlink after it: its
    owner signed in with its password and confirmed, or support decided that pair by hand while
    the account was protected."""
    audits = AccountLink.objects.filter(user=user, clever_id=clever_id)
    last_unlink = audits.filter(action=AccountLink.Action.UNLINKED).order_by("-id").values("id").first()
    proofs = audits.filter(action=AccountLink.Action.LINKED).filter(
        Q(method=AccountLink.Method.CONFIRMED_SIGN_IN)
        | Q(method=AccountLink.Method.STAFF, **{f"details__{PROTECTED_WHEN_LINKED}": True})
    )
    if last_unlink is not None:
        proofs = proofs.filter(id__gt=last_unlink["id"])
    return proofs.exists()


def entry(user, clever_id: str) -> Entry:
    """May the Clever user ``clever_id`` sign in to ``user``?"""
    if never_through_clever(user):
        return Entry.NEVER
    if made_for(user, clever_id) or not is_protected(user) or link_proven(user, clever_id):
        return Entry.ALLOWED
    return Entry.NEEDS_PROOF


# Districts that stopped sharing with the app: nobody of theirs signs in.
STOPPED = (DistrictStatus.REVOKED, DistrictStatus.DISCONNECTED)


def admission_refusal(identity: CleverIdentity, district: District | None) -> str | None:
    """Why this Clever identity may not be signed in (a ``LoginOutcome``), or None.

    District users: their district must be known, and not revoked or disconnected: sign-in
    follows Clever's authorization, not our sync switch, so a district whose syncs support
    paused still signs its people in (``admit_clever_login`` first checks a district not known
    yet with Clever). Library (teacher-authorized) users: a district known only through Library
    sign-ins, or not known yet, is fine; a district that shared its data and then revoked or
    disconnected the app is not (its decision to stop sharing covers the app's Library use too,
    and its roster is on its way out)."""
    if not identity.clever_id or not identity.district_id:
        return LoginOutcome.DISTRICT_UNKNOWN
    if identity.is_library:
        if not identity.acting_roles:
            return LoginOutcome.LIBRARY_NOT_TEACHER
        if district is not None and not district.library_only and district.status in STOPPED:
            return LoginOutcome.DISTRICT_NOT_CONNECTED
        return None
    if district is None:
        return LoginOutcome.DISTRICT_UNKNOWN
    if district.status in STOPPED:
        return LoginOutcome.DISTRICT_NOT_CONNECTED
    return None
