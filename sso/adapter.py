"""allauth adapters: where a verified Clever login meets this product's rules.

``SocialAccountAdapter.pre_social_login`` runs after the code was exchanged and Clever said who
the person is, before anyone is signed in: it admits or refuses the login (district connected,
Library teachers), writes the mirror, and finds or makes the account by Clever user ID (never by
email). A refusal, or an email that matches an existing account, ends the login with a page
(``ImmediateHttpResponse``): nobody is signed in and nothing is linked. Otherwise allauth signs
the person in, replacing whatever session the browser had.

``MFAAdapter``: authenticator secrets are encrypted at rest with ``FIELD_ENCRYPTION_KEYS``, and
where second factors are required (``STAFF_MFA_REQUIRED``) staff cannot remove their app.

``AccountAdapter``: no self-service password signup (accounts come from Clever or the
organization), ``next`` must be a path on this site, and after a Clever login the session
learns the person's roles (``post_login``).
"""

from __future__ import annotations

from typing import NoReturn

from allauth.account.adapter import DefaultAccountAdapter
from allauth.account.adapter import get_adapter as get_account_adapter
from allauth.core.exceptions import ImmediateHttpResponse
from allauth.mfa.adapter import DefaultMFAAdapter
from allauth.mfa.models import Authenticator
from allauth.socialaccount.adapter import DefaultSocialAccountAdapter
from django.conf import settings
from django.shortcuts import render

from districts import crypto

from . import policy, services
from . import state as login_state
from .identity import ROLE_LABELS
from .models import LoginOutcome
from .redirects import is_safe_next


class AccountAdapter(DefaultAccountAdapter):
    error_messages = {
        **DefaultAccountAdapter.error_messages,
        # Says what happened and when it ends (ACCOUNT_RATE_LIMITS: 5 failures in 5 minutes).
        "too_many_login_attempts": "Too many failed sign-ins for this account or from this network. "
        "Wait 5 minutes, then try again.",
    }

    def is_open_for_signup(self, request) -> bool:
        return False

    def is_safe_url(self, url) -> bool:
        return is_safe_next(url)

    def post_login(self, request, user, *, email_verification, signal_kwargs, email, signup, redirect_url):
        sociallogin = (signal_kwargs or {}).get("sociallogin")
        identity = services.identity_of(sociallogin) if sociallogin is not None else None
        if identity is not None:
            services.begin_clever_session(request, identity=identity, launch=services.launch_of(sociallogin))
            redirect_url = services.landing_after_login(request, next_url=redirect_url)
        return super().post_login(
            request,
            user,
            email_verification=email_verification,
            signal_kwargs=signal_kwargs,
            email=email,
            signup=signup,
            redirect_url=redirect_url,
        )

    def add_message(self, *args, **kwargs) -> None:
        # No "Successfully signed in as ..." flash: the account page says who is signed in.
        return None


def refusal_page(request, *, outcome: str, identity, district):
    templates = {
        LoginOutcome.DISTRICT_UNKNOWN: "sso/district_not_connected.html",
        LoginOutcome.DISTRICT_NOT_CONNECTED: "sso/district_not_connected.html",
        LoginOutcome.LIBRARY_NOT_TEACHER: "sso/library_teachers_only.html",
    }
    context = {
        "outcome": outcome,
        "district": district,
        "known": district is not None,
        "roles": [ROLE_LABELS[r] for r in identity.roles],
        # A district admin can do something about it: connect the app, then link the district.
        "district_admin": "district_admin" in identity.acting_roles,
    }
    return render(request, templates.get(outcome, "sso/error.html"), context, status=403)


def _login_purpose(sociallogin) -> login_state.Purpose:
    try:
        return login_state.read(sociallogin.state)
    except login_state.BadState:
        return login_state.Purpose()


def _refuse_account(request, *, identity, admission, entry) -> NoReturn:
    services.record_login(
        identity=identity,
        district=admission.district,
        outcome=LoginOutcome.ACCOUNT_REFUSED,
        entry=entry,
    )
    raise ImmediateHttpResponse(render(request, "sso/account_refused.html", status=403))


def _ask_is_this_your_account(request, sociallogin, *, identity, admission, resolution, entry) -> NoReturn:
    """An existing account may be this person's: remember the login and ask, signing nobody in."""
    services.record_login(
        identity=identity, district=admission.district, outcome=LoginOutcome.PENDING_LINK, entry=entry
    )
    # A new Clever login replaces the browser's session before anything is asked.
    if request.user.is_authenticated:
        get_account_adapter(request).logout(request)
    services.remember_pending_link(
        request,
        identity=identity,
        admission=admission,
        resolution=resolution,
        next_url=sociallogin.state.get("next"),
        launch=sociallogin.clever.claims,
    )
    raise ImmediateHttpResponse(
        render(
            request,
            "sso/is_this_your_account.html",
            {
                "identity": identity,
                "district": admission.district,
                "reason": resolution.reason,
                "can_prove": resolution.to_confirm.has_usable_password(),
            },
        )
    )


class SocialAccountAdapter(DefaultSocialAccountAdapter):
    def is_open_for_signup(self, request, sociallogin) -> bool:
        return True

    def is_auto_signup_allowed(self, request, sociallogin) -> bool:
        return True

    def can_authenticate_by_email(self, login, email) -> bool:
        return False

    def pre_social_login(self, request, sociallogin) -> None:
        context = getattr(sociallogin, "clever", None)
        if context is None:
            return
        identity = context.identity
        entry = services.entry_for(_login_purpose(sociallogin))
        admission = services.admit_clever_login(
            identity=identity, record=context.record, access_token=context.access_token, entry=entry
        )
        if admission.outcome is not None:
            raise ImmediateHttpResponse(
                refusal_page(
                    request, outcome=admission.outcome, identity=identity, district=admission.district
                )
            )
        existing = sociallogin.account if sociallogin.is_existing else None
        resolution = services.resolve_account(
            identity=identity, admission=admission, existing_account=existing
        )
        if resolution.refused is not None:
            _refuse_account(request, identity=identity, admission=admission, entry=entry)
        if resolution.to_confirm is not None:
            _ask_is_this_your_account(
                request,
                sociallogin,
                identity=identity,
                admission=admission,
                resolution=resolution,
                entry=entry,
            )
        services.remember_identity(sociallogin, identity=identity, launch=context.claims)
        sociallogin.account = resolution.account
        sociallogin.user = resolution.user
        active = resolution.user.is_active
        services.record_login(
            identity=identity,
            district=admission.district,
            outcome=LoginOutcome.LOGGED_IN if active else LoginOutcome.ACCOUNT_INACTIVE,
            entry=entry,
        )


class MFAAdapter(DefaultMFAAdapter):
    def encrypt(self, text: str) -> str:
        return crypto.encrypt(text)

    def decrypt(self, encrypted_text: str) -> str:
        return crypto.decrypt(encrypted_text)

    def can_delete_authenticator(self, authenticator: Authenticator) -> bool:
        return not (
            settings.STAFF_MFA_REQUIRED
            and authenticator.type == Authenticator.Type.TOTP
            and policy.needs_mfa(authenticator.user)
        )
