"""Writes of Clever sign-in: admitting a verified login (district and Library rules, the mirror),
finding or making the product account (by Clever user ID only), links with their audit, login
evidence, the replay guard for codes, and the session (who, which role).

Public API for other apps (docs/sso.md):

- :func:`start_clever_login` sends the browser to Clever with a fresh state that carries a
  signed purpose; :func:`register_purpose` names the hook that receives the verified Clever
  identity when such a login comes back.

Never logs codes, tokens, emails or names.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum
from typing import Any

from allauth.account.adapter import get_adapter as get_account_adapter
from allauth.core import ratelimit
from allauth.mfa.models import Authenticator
from allauth.socialaccount.models import SocialAccount
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.sites.shortcuts import get_current_site
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.http import HttpResponseRedirect
from django.urls import reverse
from django.utils import timezone
from django.utils.http import urlencode

from clever.errors import CleverError
from core import events
from core.errors import AppError
from districts import services as district_services
from districts.models import District, DistrictAudit
from rostering.models import Person, SyncRun
from rostering.services import single

from . import launches, policy, selectors
from . import state as login_state
from .events import AccountLinked, CleverLoginRecorded
from .identity import PROVIDER, CleverIdentity
from .models import AccountLink, CleverLogin, CodeRedemption, LoginEntry
from .redirects import is_safe_next, safe_next

logger = logging.getLogger(__name__)

register_purpose = login_state.register_purpose
LOGIN = login_state.LOGIN
LIBRARY_ACTOR = "sso: Clever Library sign-in"


# --- starting a login ------------------------------------------------------------------------


def start_clever_login(
    request,
    *,
    purpose: str = LOGIN,
    data: dict | None = None,
    district_id: str | None = None,
    next_url: str | None = None,
    bounced: bool = False,
) -> HttpResponseRedirect:
    """Send the browser to Clever's authorize URL with a fresh state bound to this session.

    ``purpose`` other than ``"login"`` must be registered (:func:`register_purpose`); its
    ``data`` (JSON-serializable) and the signed-in product user are signed into the state, and
    the hook gets them back with the verified Clever identity. ``district_id`` skips Clever's
    district picker; ``next_url`` (a path on this site) is where a login lands.
    """
    from allauth.socialaccount.adapter import get_adapter

    from .provider import valid_district_id

    provider = get_adapter(request).get_provider(request, PROVIDER)
    actor = request.user.pk if request.user.is_authenticated else None
    chosen = login_state.Purpose(
        name=purpose,
        data=dict(data or {}),
        actor_id=actor,
        bounced=bounced,
        district_id=valid_district_id(district_id),
    )
    return provider.redirect(
        request, "login", next_url=next_url if is_safe_next(next_url) else None, purpose=chosen
    )


def bounce_clever_initiated(request, *, code: str, district_id: str = "") -> HttpResponseRedirect:
    """A code without a state (Portal, Instant Login, Library, LMS launch): not exchanged; the
    browser goes back to Clever once for a code with a state bound to this session."""
    request.session[selectors.SESSION_BOUNCE] = {"code": selectors.code_digest(code), "at": time.time()}
    return start_clever_login(request, district_id=district_id, bounced=True)


def bounce_pending(request, *, code: str) -> bool:
    """Whether this browser was just bounced for another state-less code (so this one means
    Clever came back without the state we asked for)."""
    bounce = request.session.get(selectors.SESSION_BOUNCE)
    if not isinstance(bounce, dict):
        return False
    fresh = time.time() - float(bounce.get("at") or 0) < settings.SSO_BOUNCE_SECONDS
    return fresh and bounce.get("code") != selectors.code_digest(code)


def forget_bounce(request) -> None:
    request.session.pop(selectors.SESSION_BOUNCE, None)


# --- codes: at most one exchange each ----------------------------------------------------------


def claim_code(*, code: str) -> bool:
    """Reserve the code for one exchange; False if it was already exchanged (or is being)."""
    CodeRedemption.objects.filter(
        created_at__lt=timezone.now() - timedelta(seconds=settings.SSO_CODE_MEMORY_SECONDS)
    ).delete()
    try:
        with transaction.atomic():
            CodeRedemption.objects.create(code_digest=selectors.code_digest(code))
    except IntegrityError:
        return False
    return True


@transaction.atomic
def finish_code(*, code: str, user=None, landing: str = "") -> None:
    CodeRedemption.objects.filter(code_digest=selectors.code_digest(code)).update(
        user=user if user is not None and user.is_authenticated else None,
        landing=safe_next(landing, "") if landing else "",
        finished=True,
    )


# --- evidence ----------------------------------------------------------------------------------


def record_login(
    *, identity: CleverIdentity, district: District | None, outcome: str, entry: str = "", problem: str = ""
) -> CleverLogin:
    """One row of evidence: district, roles, email domain (never the address), outcome, and
    for a refused identity token the check it failed."""
    login = CleverLogin.objects.create(
        clever_district_id=identity.district_id,
        district=district,
        roles=list(identity.roles),
        email_domain=identity.email_domain,
        authorized_by=identity.authorized_by,
        entry=entry,
        outcome=outcome,
        problem=problem,
    )
    logger.info(
        "clever login: district %s, roles %s, outcome %s",
        identity.district_id or "-",
        ",".join(identity.roles) or "-",
        outcome,
    )
    events.publish(CleverLoginRecorded(login_id=login.pk, district_id=login.district_id))
    return login


def entry_for(purpose: login_state.Purpose) -> str:
    return LoginEntry.CLEVER_INITIATED if purpose.bounced else LoginEntry.LOG_IN_WITH_CLEVER


# --- admitting a verified login ------------------------------------------------------------------


@dataclass
class Admission:
    """``outcome`` is None when the person may sign in, else the refusal (a LoginOutcome)."""

    outcome: str | None
    district: District | None = None
    person: Person | None = None
    created: bool = False


def _library_district(identity: CleverIdentity, client) -> District:
    district = District.objects.filter(clever_id=identity.district_id).first()
    if district is not None:
        return district
    name = ""
    try:
        name = str(client.get_record("districts", identity.district_id).get("name") or "")[:255]
    except CleverError:  # the name is a nicety; the teacher's token may not reach the district
        logger.info("clever library login: district %s name not readable", identity.district_id)
    district = District.objects.create(
        clever_id=identity.district_id,
        name=name,
        # Library districts share no district token: nothing to sync on a schedule, and
        # discovery must not take the missing token for a departure.
        sync_enabled=False,
        events_enabled=False,
        library_only=True,
    )
    DistrictAudit.objects.create(
        district=district,
        action=DistrictAudit.Action.DISCOVERED,
        actor_label=LIBRARY_ACTOR,
        details={"authorized_by": "teacher"},
    )
    return district


def _discover_on_the_spot(identity: CleverIdentity) -> District | None:
    """A district that shared the app minutes ago, before the hourly discovery saw it: one
    question to Clever (``/oauth/tokens?district=``) brings it in; a district Clever does not
    list stays unknown (and the sign-in is refused)."""
    try:
        return district_services.discover_district(
            clever_id=identity.district_id, actor_label="discovered at a sign-in"
        )
    except CleverError as exc:
        logger.warning(
            "clever login: district %s could not be checked with Clever: %s", identity.district_id, exc
        )
        return None


@transaction.atomic
def admit_clever_login(*, identity: CleverIdentity, record: dict, access_token: str, entry: str) -> Admission:
    """Apply the district and Library rules (``policy.admission_refusal``) to a login Clever
    confirmed, and bring the person (and for a Library teacher their sections and students) into
    the mirror. Refusals are recorded as evidence here; admitted logins are recorded once the
    account is known."""
    from .provider import clever_client

    district = selectors.district_for(identity)
    if district is None and not identity.is_library and identity.district_id:
        district = _discover_on_the_spot(identity)
    refusal = policy.admission_refusal(identity, district)
    if refusal is not None:
        record_login(identity=identity, district=district, outcome=refusal, entry=entry)
        return Admission(outcome=refusal, district=district)
    if identity.is_library:
        with clever_client(access_token) as client:
            district = _library_district(identity, client)
            district_services.note_library_sign_in(district)
            existed = Person.objects.filter(district=district, clever_id=identity.clever_id).exists()
            if "teacher" in identity.roles:
                counts = single.provision_library_roster(
                    district=district, teacher_record=record, client=client
                )
                logger.info(
                    "clever library login: %s sections (%s restored, %s archived), %s students written",
                    counts["sections"],
                    counts["restored"],
                    counts["archived"],
                    counts["students"],
                )
            else:
                single.upsert_person(district=district, record=record)
        person = Person.objects.get(district=district, clever_id=identity.clever_id)
        return Admission(outcome=None, district=district, person=person, created=not existed)

    person, created = single.upsert_person(district=district, record=record)
    if created:
        from rostering.tasks import request_sync

        # Someone the mirror did not know: the district's roster is behind; sync it.
        request_sync(district=district, kind="auto", trigger=SyncRun.Trigger.LOGIN)
    return Admission(outcome=None, district=district, person=person, created=created)


# --- accounts and links ----------------------------------------------------------------------------


class Confirm(StrEnum):
    """Why an existing account waits for its owner before a Clever sign-in may enter it."""

    # An account of the district's organization with the same email (the person may decline it).
    EMAIL = "email"
    # The account the Clever user is linked or matched to is protected (``policy.entry``).
    PROTECTED = "protected"


@dataclass
class Resolution:
    """``user``/``account``: sign in. ``to_confirm``: ask "is this your account?" about it (link
    nothing). ``refused``: the linked account may never be entered through Clever."""

    user: object | None = None
    account: SocialAccount | None = None
    to_confirm: object | None = None
    reason: str = ""
    refused: object | None = None


class LinkRefused(AppError, ValueError):
    """A link this module will not make; the message says why in plain words."""


def _audit(
    *,
    action: str,
    method: str,
    user,
    clever_id: str,
    clever_district_id: str,
    person: Person | None,
    actor=None,
    actor_label: str = "",
    details: dict | None = None,
) -> AccountLink:
    return AccountLink.objects.create(
        action=action,
        method=method,
        user=user,
        clever_id=clever_id,
        clever_district_id=clever_district_id,
        person=person,
        actor=actor if getattr(actor, "pk", None) else None,
        actor_label=actor_label,
        details=details or {},
    )


def _refuse_never_through_clever(user) -> None:
    if policy.never_through_clever(user):
        raise LinkRefused("Support staff and administrator accounts never sign in through Clever.")


@transaction.atomic
def link_clever_account(
    *,
    user,
    identity: CleverIdentity,
    person: Person | None,
    method: str,
    actor=None,
    actor_label: str = "",
    evidence: dict | None = None,
) -> SocialAccount:
    """Link the Clever user to the product account (SocialAccount + the mirror's person), with
    an audit row. Refuses a Clever user already linked to another account, and staff accounts."""
    _refuse_never_through_clever(user)
    existing = (
        SocialAccount.objects.select_for_update().filter(provider=PROVIDER, uid=identity.clever_id).first()
    )
    if existing is not None and existing.user_id != user.pk:
        raise LinkRefused("This Clever sign-in is already linked to another account here.")
    if existing is None:
        existing = SocialAccount.objects.create(
            user=user, provider=PROVIDER, uid=identity.clever_id, extra_data=identity.extra_data()
        )
    if person is not None and person.user_id is None:
        single.attach_account(person=person, user=user)
    _audit(
        action=AccountLink.Action.LINKED,
        method=method,
        user=user,
        clever_id=identity.clever_id,
        clever_district_id=identity.district_id,
        person=person,
        actor=actor,
        actor_label=actor_label,
        details={"roles": list(identity.roles), "authorized_by": identity.authorized_by, **(evidence or {})},
    )
    _announce_link(user=user, clever_id=identity.clever_id, previous=None, method=method)
    return existing


@transaction.atomic
def unlink_clever_account(*, account: SocialAccount, actor, reason: str = "") -> None:
    """Remove a Clever link (support staff); the person keeps their mirror row, unlinked."""
    identity = CleverIdentity.from_extra_data(account.extra_data or {})
    person = Person.objects.filter(clever_id=account.uid, user=account.user).first()
    if person is not None:
        person.user = None
        person.save(update_fields=["user"])
    _audit(
        action=AccountLink.Action.UNLINKED,
        method=AccountLink.Method.STAFF,
        user=account.user,
        clever_id=account.uid,
        clever_district_id=identity.district_id,
        person=person,
        actor=actor,
        actor_label=getattr(actor, "username", "") or "",
        details={"reason": reason[:500]},
    )
    account.delete()


@transaction.atomic
def move_clever_identity(
    *,
    person: Person,
    user,
    by_a_person: bool,
    actor=None,
    actor_label: str = "",
    evidence: dict | None = None,
):
    """Make ``user`` the product account of the Clever ``person``: the one place that moves a
    Clever identity between accounts. The person's Clever sign-in (``SocialAccount``), if they
    have one, and ``Person.user`` follow together; the account made for them is deactivated
    once no live person uses it (never deleted: undoing gives it back); each account they leave
    gets an unlink row, so no earlier proof of theirs still counts, and the new link a link row.
    ``by_a_person``: support staff decided this pair by hand (method ``staff``, a proof when the
    account is protected, see ``policy.link_proven``); otherwise an automatic rule did (method
    ``matched``, never a proof, and never onto a protected account). Returns the account the
    person had before (None)."""
    protected = policy.is_protected(user)
    if by_a_person:
        _refuse_never_through_clever(user)
    elif protected:
        # Automatic rules only propose links to protected accounts (see ``policy``).
        raise LinkRefused(
            "Only a person may link an account with a password or permissions to a Clever user."
        )
    method = AccountLink.Method.STAFF if by_a_person else AccountLink.Method.MATCHED
    logins = SocialAccount.objects.filter(provider=PROVIDER, uid=person.clever_id)
    left = {account.user for account in logins.select_related("user")} | (
        {person.user} if person.user_id else set()
    )
    for previous in sorted((u for u in left if u.pk != user.pk), key=lambda u: u.pk):
        _audit(
            action=AccountLink.Action.UNLINKED,
            method=method,
            user=previous,
            clever_id=person.clever_id,
            clever_district_id=person.district.clever_id,
            person=person,
            actor=actor,
            actor_label=actor_label,
            details={"reason": "the Clever user was linked to another account"},
        )
    logins.update(user=user)
    _audit(
        action=AccountLink.Action.LINKED,
        method=method,
        user=user,
        clever_id=person.clever_id,
        clever_district_id=person.district.clever_id,
        person=person,
        actor=actor,
        actor_label=actor_label,
        details={**(evidence or {}), policy.PROTECTED_WHEN_LINKED: protected},
    )
    previous = single.reassign_account(person=person, user=user)
    _announce_link(user=user, clever_id=person.clever_id, previous=previous, method=method)
    return previous


@transaction.atomic
def return_clever_identity(
    *, person: Person, by_a_person: bool, actor=None, actor_label: str = "", reason: str = ""
):
    """Undo ``move_clever_identity``: the person gets back the account made for them
    (reactivated), or none (the next sync or Clever sign-in makes one); their Clever sign-in
    follows, or is removed (the next Clever login starts afresh, never as the account they
    leave). Audited (the unlink, and the link back to their own account) and announced.
    Returns the account they leave (None when they had none)."""
    person = Person.objects.select_for_update(of=("self",)).select_related("user").get(pk=person.pk)
    previous = person.user
    if previous is None:
        return None
    own = get_user_model().objects.filter(made_for_clever_id=person.clever_id).first()
    if own is not None and not own.is_active:
        own.is_active = True
        own.save(update_fields=["is_active"])
    single.attach_account(person=person, user=own)
    logins = SocialAccount.objects.filter(provider=PROVIDER, uid=person.clever_id)
    if own is not None:
        logins.update(user=own)
    else:
        logins.delete()
    _audit(
        action=AccountLink.Action.UNLINKED,
        method=AccountLink.Method.STAFF if by_a_person else AccountLink.Method.MATCHED,
        user=previous,
        clever_id=person.clever_id,
        clever_district_id=person.district.clever_id,
        person=person,
        actor=actor,
        actor_label=actor_label,
        details={"reason": reason[:500]},
    )
    if own is not None:
        # The audit names both ends: the account left, and the person's own account regained.
        _audit(
            action=AccountLink.Action.LINKED,
            method=AccountLink.Method.MIRROR_ACCOUNT,
            user=own,
            clever_id=person.clever_id,
            clever_district_id=person.district.clever_id,
            person=person,
            actor=actor,
            actor_label=actor_label,
            details={"reason": reason[:500], "returned_from": previous.pk},
        )
        _announce_link(
            user=own, clever_id=person.clever_id, previous=previous, method=AccountLink.Method.MIRROR_ACCOUNT
        )
    return previous


def _announce_link(*, user, clever_id: str, previous, method: str) -> None:
    events.publish(
        AccountLinked(
            user_id=user.pk,
            clever_id=clever_id,
            method=method,
            previous_user_id=previous.pk if previous is not None and previous.pk != user.pk else None,
        )
    )


def _entry_refusal(user, identity: CleverIdentity) -> Resolution | None:
    """``policy.entry`` as a resolution: None when Clever may open the account."""
    verdict = policy.entry(user, identity.clever_id)
    if verdict == policy.Entry.NEVER:
        return Resolution(refused=user)
    if verdict == policy.Entry.NEEDS_PROOF:
        return Resolution(to_confirm=user, reason=Confirm.PROTECTED)
    return None


@transaction.atomic
def resolve_account(
    *,
    identity: CleverIdentity,
    admission: Admission,
    existing_account: SocialAccount | None,
    create_despite_collision: bool = False,
) -> Resolution:
    """The product account for a verified Clever user, by Clever user ID only, each only as
    ``policy.entry`` allows: the one already linked; else the one the roster gave them; else a
    new ``clever-<Clever ID>`` account in the district's organization. At the first Clever login
    into an account made for the person (or a new one), an account of the organization with the
    same email and a password is asked about first ("is this your account?"), never taken."""
    person = admission.person
    if existing_account is not None:
        refusal = _entry_refusal(existing_account.user, identity)
        if refusal is not None:
            return refusal
        if person is not None and person.user_id is None:
            single.attach_account(person=person, user=existing_account.user)
        return Resolution(user=existing_account.user, account=existing_account)
    candidate = single.account_of(person) if person is not None else None
    if candidate is not None and (refusal := _entry_refusal(candidate, identity)) is not None:
        return refusal
    organization = admission.district.organization if admission.district else None
    own_account = candidate is None or policy.made_for(candidate, identity.clever_id)
    if own_account and not create_despite_collision:
        collision = selectors.email_collision(identity, organization=organization)
        if collision is not None:
            return Resolution(to_confirm=collision, reason=Confirm.EMAIL)
    if candidate is None:
        user = single.create_account(person=person, organization=organization)
        method, evidence = AccountLink.Method.NEW_ACCOUNT, {}
    else:
        user, method = candidate, AccountLink.Method.MIRROR_ACCOUNT
        evidence = {"person_had_account": True, "made_for_this_clever_user": own_account}
    account = link_clever_account(
        user=user,
        identity=identity,
        person=person,
        method=method,
        actor_label="sso: first Clever login",
        evidence={**evidence, "email_collision_declined": create_despite_collision},
    )
    return Resolution(user=user, account=account)


# --- the session -------------------------------------------------------------------------------


# Where a verified login keeps its identity until the session begins: the state travels with
# the login when allauth stores it to ask for a second factor, an attribute would not.
STATE_IDENTITY = "sso_identity"
STATE_LAUNCH = "sso_launch"


def remember_identity(sociallogin, *, identity: CleverIdentity, launch: Mapping[str, Any]) -> None:
    """Keep the verified identity and launch claims with the login (allauth keeps its state
    across a second-factor step)."""
    sociallogin.state[STATE_IDENTITY] = identity.extra_data()
    sociallogin.state[STATE_LAUNCH] = dict(launch)


def launch_of(sociallogin) -> dict:
    launch = (sociallogin.state or {}).get(STATE_LAUNCH)
    return launch if isinstance(launch, dict) else {}


def identity_of(sociallogin) -> CleverIdentity | None:
    data = (sociallogin.state or {}).get(STATE_IDENTITY)
    return CleverIdentity.from_extra_data(data) if isinstance(data, dict) else None


def begin_clever_session(
    request, *, identity: CleverIdentity, launch: Mapping[str, Any] | None = None
) -> None:
    """After a Clever login: who is signed in (IDs, district, roles; never the name or email:
    session rows outlive a purge until they expire), since when, for a single role the active
    role, and the launch claims the landing routes by (``landing_after_login``)."""
    request.session[selectors.SESSION_CLEVER] = identity.without_personal_data().extra_data()
    if launch:
        request.session[selectors.SESSION_LAUNCH] = dict(launch)
    else:
        request.session.pop(selectors.SESSION_LAUNCH, None)
    # Shared classroom devices: a Clever session lasts SSO_SESSION_SECONDS from sign-in, whatever
    # happens in it (the cookie says so too; sso.middleware enforces it).
    request.session[selectors.SESSION_SIGNED_IN_AT] = time.time()
    request.session.set_expiry(settings.SSO_SESSION_SECONDS)
    request.session.pop(selectors.SESSION_ACTIVE_ROLE, None)
    request.session.pop(selectors.SESSION_PENDING_LINK, None)
    if len(identity.acting_roles) == 1:
        request.session[selectors.SESSION_ACTIVE_ROLE] = identity.acting_roles[0]
    # A Library teacher whose sign-in just made them an account may say they already had one.
    _offer_library_join(request, identity=identity)


def landing_after_login(request, *, next_url: str | None) -> str:
    """Where a Clever login lands: where its launch routes (an LMS course or assignment, in the
    role the launch names), else ``next_url``; the role chooser first when there is more than
    one role and none is chosen; a Library teacher whose account was just made first sees "I
    already have an account"."""
    target = safe_next(next_url)
    claims = request.session.pop(selectors.SESSION_LAUNCH, None)
    route = launches.route(request, claims) if isinstance(claims, dict) and claims else None
    if route is not None:
        target = route.url
        if route.role:
            set_active_role(request, role=route.role)
    if len(selectors.session_roles(request)) > 1 and selectors.active_role(request) is None:
        target = f"{reverse('sso_choose_role')}?{urlencode({'next': target})}"
    if library_offer(request) is not None:
        return f"{reverse('sso_library_existing')}?{urlencode({'next': target})}"
    return target


def set_active_role(request, *, role: str) -> bool:
    """Act in ``role`` from now on (one of the signed-in person's Clever roles)."""
    if role not in selectors.session_roles(request):
        return False
    request.session[selectors.SESSION_ACTIVE_ROLE] = role
    return True


def remember_pending_link(
    request,
    *,
    identity: CleverIdentity,
    admission: Admission,
    resolution: Resolution,
    next_url: str | None,
    launch: Mapping[str, Any],
) -> None:
    """Keep a verified Clever identity in this session while the person answers "is this your
    account?" (``SSO_PENDING_LINK_SECONDS``). The account asked about is kept too: for a
    protected account the person must sign in to that very account."""
    request.session[selectors.SESSION_PENDING_LINK] = {
        "identity": identity.extra_data(),
        "district": admission.district.pk if admission.district else None,
        "person": admission.person.pk if admission.person else None,
        "account": resolution.to_confirm.pk,
        "reason": resolution.reason,
        "next": safe_next(next_url),
        "launch": dict(launch),
        "at": time.time(),
    }


@dataclass
class PendingLink:
    identity: CleverIdentity
    admission: Admission
    account_id: int | None
    reason: str
    next_url: str
    launch: dict

    @property
    def may_decline(self) -> bool:
        """ "Not my account, make me a new one" is offered for an email match only: a protected
        account the roster links the person to waits for its owner or support."""
        return self.reason == Confirm.EMAIL


def pending_link(request) -> PendingLink | None:
    data = request.session.get(selectors.SESSION_PENDING_LINK)
    if not isinstance(data, dict):
        return None
    if time.time() - float(data.get("at") or 0) > settings.SSO_PENDING_LINK_SECONDS:
        request.session.pop(selectors.SESSION_PENDING_LINK, None)
        return None
    identity = CleverIdentity.from_extra_data(data.get("identity") or {})
    district = District.objects.filter(pk=data.get("district")).select_related("organization").first()
    if policy.admission_refusal(identity, district) is not None:
        # The district stopped sharing while the person was deciding: nothing to link any more.
        request.session.pop(selectors.SESSION_PENDING_LINK, None)
        return None
    person = Person.objects.filter(pk=data.get("person")).first()
    return PendingLink(
        identity=identity,
        admission=Admission(outcome=None, district=district, person=person),
        account_id=data.get("account"),
        reason=str(data.get("reason") or ""),
        next_url=safe_next(data.get("next")),
        launch=data["launch"] if isinstance(data.get("launch"), dict) else {},
    )


def forget_pending_link(request) -> None:
    request.session.pop(selectors.SESSION_PENDING_LINK, None)


@transaction.atomic
def confirm_pending_link(request, *, user) -> SocialAccount | None:
    """The person signed in to ``user`` with its password (this request is theirs) and
    confirmed: link, as proof of ownership (``confirmed_sign_in``). Only the account asked about
    may be confirmed."""
    pending = pending_link(request)
    if pending is None:
        return None
    if pending.account_id != user.pk:
        # Only the account asked about: on a shared device, a waiting Clever sign-in must not
        # attach itself to whoever signs in next.
        raise LinkRefused(
            "You signed in to another account than the one we asked about. Nothing was "
            "linked. Start again from Clever and sign in to that account."
        )
    identity, person = pending.identity, pending.admission.person
    account = link_clever_account(
        user=user,
        identity=identity,
        person=person,
        method=AccountLink.Method.CONFIRMED_SIGN_IN,
        actor=user,
        evidence={"asked_because": pending.reason},
    )
    if person is not None:
        single.reassign_account(person=person, user=user)  # the roster follows the proven link
    forget_pending_link(request)
    return account


# --- "I already have an account" (Clever Library teachers) ----------------------------------------

# The offer made to a Library teacher right after the sign-in that made their account: the
# Clever user, the account made for them, when.
SESSION_LIBRARY_OFFER = "sso.library_offer"
# Set once the teacher connected their existing account: the account page says so, once.
SESSION_LIBRARY_JOINED = "sso.library_joined"
# Why a Library teacher's link was asked for (``AccountLink.details["asked_because"]``).
LIBRARY_EXISTING_ACCOUNT = "library_existing_account"
WRONG_CREDENTIALS = (
    "That username or email and password do not match an account we can connect. Check them and try again."
)


class TooManyAttempts(LinkRefused):
    """allauth's limit on failed password sign-ins (``ACCOUNT_RATE_LIMITS["login_failed"]``)."""


def _made_at_this_sign_in(user, identity: CleverIdentity) -> bool:
    """The account a Library teacher's sign-in has just made for them: ``clever-<Clever ID>``,
    and the Clever user's newest link is that account's creation, less than
    ``SSO_PENDING_LINK_SECONDS`` ago."""
    if not (
        identity.is_library
        and "teacher" in identity.acting_roles
        and getattr(user, "is_authenticated", False)
        and user.is_active
        and policy.made_for(user, identity.clever_id)
    ):
        return False
    newest = AccountLink.objects.filter(clever_id=identity.clever_id).order_by("-id").first()
    since = timezone.now() - timedelta(seconds=settings.SSO_PENDING_LINK_SECONDS)
    return (
        newest is not None
        and newest.user_id == user.pk
        and newest.action == AccountLink.Action.LINKED
        and newest.method == AccountLink.Method.NEW_ACCOUNT
        and newest.created_at >= since
    )


def _offer_library_join(request, *, identity: CleverIdentity) -> None:
    request.session.pop(SESSION_LIBRARY_OFFER, None)
    user = getattr(request, "user", None)
    if user is not None and _made_at_this_sign_in(user, identity):
        request.session[SESSION_LIBRARY_OFFER] = {
            "clever_id": identity.clever_id,
            "account": user.pk,
            "at": time.time(),
        }


@dataclass
class LibraryOffer:
    identity: CleverIdentity
    account: object  # the account this sign-in made for the teacher (signed in now)
    person: Person | None


def library_offer(request) -> LibraryOffer | None:
    """The "I already have an account" offer of this session, while it lasts: only a session
    whose Clever Library sign-in made the teacher a new account moments ago
    (``SSO_PENDING_LINK_SECONDS``), still signed in to that account."""
    data = request.session.get(SESSION_LIBRARY_OFFER)
    if not isinstance(data, dict):
        return None
    if time.time() - float(data.get("at") or 0) > settings.SSO_PENDING_LINK_SECONDS:
        request.session.pop(SESSION_LIBRARY_OFFER, None)
        return None
    identity = selectors.signed_in_identity(request)
    user = request.user
    if (
        identity is None
        or not identity.is_library
        or identity.clever_id != data.get("clever_id")
        or not user.is_authenticated
        or user.pk != data.get("account")
        or not policy.made_for(user, identity.clever_id)
    ):
        return None
    return LibraryOffer(identity=identity, account=user, person=selectors.person_for(identity))


def prove_existing_account(request, *, login: str, password: str):
    """The account whose username (or email) is ``login`` and whose password is ``password``;
    ``LinkRefused`` with one message for every failure (no account, no password, a wrong one),
    so the form tells nobody which accounts exist. Attempts count against allauth's limit on
    failed sign-ins (``ACCOUNT_RATE_LIMITS["login_failed"]``: per address, and per account with
    the same key as the sign-in page, so this form adds no guesses to it); past it even the
    right password is refused (``TooManyAttempts``)."""
    User = get_user_model()
    login = (login or "").strip()
    lookup = Q(username__iexact=login)
    if "@" in login:
        lookup |= Q(email__iexact=login)
    candidates = list(User.objects.filter(lookup).order_by("pk")[:10]) if login else []
    site = get_current_site(request).domain
    for key in sorted({user.get_username().lower() for user in candidates} or {login.lower()}):
        if not ratelimit.consume(request, action="login_failed", key=f"{site}:{key}"):
            raise TooManyAttempts(get_account_adapter(request).error_messages["too_many_login_attempts"])
    checked = False
    for user in candidates:
        if user.has_usable_password():
            checked = True
            if user.check_password(password):
                return user
    if not checked:
        User().set_password(password)  # as long as a real check: no account is told apart
    raise LinkRefused(WRONG_CREDENTIALS)


def _refuse_joining(user, identity: CleverIdentity) -> None:
    """``LinkRefused`` when a Library teacher may not connect ``user``: staff and superusers,
    inactive accounts, accounts with a second factor (a password alone does not open those),
    and accounts already tied to another Clever user."""
    if policy.never_through_clever(user):
        raise LinkRefused(
            "That is a support staff account of this site. Those never open through Clever, "
            "so nothing was connected."
        )
    if not user.is_active:
        raise LinkRefused(
            "That account is switched off, so it cannot be connected. Nothing was "
            "connected. Please ask your school or our support team."
        )
    if Authenticator.objects.filter(user=user).exists():
        raise LinkRefused(
            "That account asks for a code from an authenticator app at sign-in, which "
            "this page cannot check. Nothing was connected. Please ask our support "
            "team to connect it."
        )
    tied_elsewhere = (
        SocialAccount.objects.filter(provider=PROVIDER, user=user).exclude(uid=identity.clever_id).exists()
        or Person.objects.filter(user=user, archived_at__isnull=True)
        .exclude(clever_id=identity.clever_id)
        .exists()
    )
    if tied_elsewhere:
        raise LinkRefused(
            "That account is already connected to another Clever sign-in. Nothing was "
            "connected. Please ask our support team if both are yours."
        )


def _locked_library_login(identity: CleverIdentity, *, made, user) -> SocialAccount:
    """The teacher's Clever sign-in, locked, still on the account made for them at this sign-in
    (and ``user`` another account); ``LinkRefused`` when it changed in the meantime."""
    login = (
        SocialAccount.objects.select_for_update().filter(provider=PROVIDER, uid=identity.clever_id).first()
    )
    if login is None or login.user_id != made.pk or user.pk == made.pk:
        raise LinkRefused(
            "Your Clever sign-in changed in the meantime. Nothing was connected. Please "
            "start again from Clever."
        )
    return login


def _move_library_person(person: Person | None, *, made, user) -> None:
    """The teacher's Library person follows them to ``user``; the account made for them is
    deactivated (never deleted) once no live person uses it."""
    if person is not None and person.user_id == made.pk:
        single.reassign_account(person=person, user=user)  # deactivates the account made for them
    elif person is not None and person.user_id is None:
        single.attach_account(person=person, user=user)
    made.refresh_from_db(fields=["is_active"])
    if made.is_active and not Person.objects.filter(user=made, archived_at__isnull=True).exists():
        made.is_active = False
        made.save(update_fields=["is_active"])


@transaction.atomic
def join_existing_account(*, offer: LibraryOffer, user) -> SocialAccount:
    """A Library teacher proved the password of ``user``, an account they already had here
    (``prove_existing_account``): their Clever sign-in moves to it, linked as proven
    (``confirmed_sign_in``, actor = that account), their Library person follows, and the
    account made for them at this sign-in is deactivated (never deleted), audited as an unlink.
    Refuses staff and superusers, inactive accounts, accounts with a second factor (a password
    alone does not open those), and accounts already tied to another Clever user."""
    identity, made = offer.identity, offer.account
    _refuse_joining(user, identity)
    login = _locked_library_login(identity, made=made, user=user)
    SocialAccount.objects.filter(pk=login.pk).update(user=user)
    person = offer.person
    _move_library_person(person, made=made, user=user)
    _audit(
        action=AccountLink.Action.UNLINKED,
        method=AccountLink.Method.CONFIRMED_SIGN_IN,
        user=made,
        clever_id=identity.clever_id,
        clever_district_id=identity.district_id,
        person=person,
        actor=user,
        details={
            "reason": "the teacher connected the account they already had",
            "account_deactivated": not made.is_active,
        },
    )
    return link_clever_account(
        user=user,
        identity=identity,
        person=person,
        method=AccountLink.Method.CONFIRMED_SIGN_IN,
        actor=user,
        evidence={"asked_because": LIBRARY_EXISTING_ACCOUNT, "account_made_at_sign_in": made.pk},
    )
