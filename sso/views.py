"""Thin views of Clever sign-in: the login start and callback (allauth's OAuth2 views,
subclassed), "is this your account?", a Library teacher's "I already have an account", the role
chooser and the account page.

The callback (``/accounts/clever/login/callback/``), in order:

1. ``error`` from Clever: a plain error page, nobody signed in.
2. A code already exchanged (its SHA-256 is remembered): never exchanged again. The browser
   that it signed in is sent on (a double delivery is not an error for someone signed in); a
   delivery still in flight gets a "signing you in" page; anyone else an error.
3. No ``state`` (Portal, Instant Login, Library, LMS launches): the code is not exchanged; the
   browser is bounced once to Clever's authorize URL with a fresh session-bound state. A second
   state-less code while that bounce is pending means Clever came back without the state:
   error, nobody signed in.
4. A ``state`` this session did not issue (forged, replayed, expired): error, nothing
   exchanged, nobody signed in, the current session left alone.
5. Otherwise the code is exchanged once and allauth completes the login through
   ``sso.adapter`` (or another app's purpose hook gets the verified identity).
"""

from __future__ import annotations

import logging

from allauth.account.adapter import get_adapter as get_account_adapter
from allauth.socialaccount.helpers import complete_social_login
from allauth.socialaccount.providers.oauth2.client import OAuth2Error
from allauth.socialaccount.providers.oauth2.views import OAuth2CallbackView, OAuth2LoginView
from django.contrib.auth import login as django_login
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import urlencode
from django.views.decorators.http import require_http_methods, require_POST
from requests import RequestException

from accounts import landing
from clever.errors import CleverError

from . import forms, selectors, services
from . import state as login_state
from .identity import ROLE_DESCRIPTIONS, ROLE_LABELS
from .identity_token import IdentityTokenRefused
from .models import IdentityTokenProblem, LoginOutcome
from .provider import CleverOAuth2Adapter, valid_district_id
from .redirects import safe_next

logger = logging.getLogger(__name__)


def error_page(request, message: str, *, title: str = "We could not sign you in", status: int = 400):
    return render(request, "sso/error.html", {"title": title, "message": message}, status=status)


def password_session(request) -> bool:
    """Signed in with a password (not through Clever): a Clever sign-in would replace it."""
    return request.user.is_authenticated and selectors.signed_in_identity(request) is None


def switch_page(request):
    """A Clever sign-in would replace the password session of this browser: ask, with a form
    (a POST with this site's CSRF token), so no link on another site can swap the session for
    the browser's own Clever identity."""
    return render(
        request,
        "sso/switch_to_clever.html",
        {
            "next": safe_next(request.GET.get("next")),
            "district_id": valid_district_id(request.GET.get("district_id", "")),
        },
        status=409,
    )


class CleverLoginView(OAuth2LoginView):
    """``/accounts/clever/login/[?next=/path][&district_id=ID]``: Log in with Clever. A GET
    starts at once (Clever's own buttons are links), unless this browser is signed in with a
    password: then the person confirms first."""

    def dispatch(self, request, *args, **kwargs):
        if request.method == "GET" and password_session(request):
            return switch_page(request)
        return super().dispatch(request, *args, **kwargs)


class CleverCallbackView(OAuth2CallbackView):
    def dispatch(self, request, *args, **kwargs):
        provider = self.adapter.get_provider()
        if request.GET.get("error"):
            return error_page(
                request,
                "Clever did not sign you in. You can try again from Clever or "
                "with the Log in with Clever button.",
                status=401,
            )
        code = request.GET.get("code", "")
        if not code:
            return error_page(
                request,
                "Clever sent you here without a sign-in code. Start again from "
                "Clever or with the Log in with Clever button.",
            )
        seen = selectors.redemption(code)
        if seen is not None:
            return self.already_used(request, seen)
        state_id = request.GET.get("state", "")
        if not state_id:
            return self.clever_initiated(request, code)
        return self.started_here(request, code, provider, state_id)

    def started_here(self, request, code: str, provider, state_id: str):
        """A sign-in this site started: its state must be this browser's, unexpired and for a
        purpose still offered; then the code is claimed (once only) and exchanged."""
        stashed = login_state.unstash(request, provider_id=provider.sub_id, state_id=state_id)
        services.forget_bounce(request)
        if stashed is None:
            return error_page(
                request,
                "This sign-in did not start in this browser, or it took too long "
                "(more than 10 minutes). Nobody was signed in. Please start "
                "again from Clever.",
            )
        try:
            purpose = login_state.read(stashed)
        except login_state.BadState:
            return error_page(request, "This sign-in could not be verified. Nobody was signed in.")
        if password_session(request) and purpose.actor_id != request.user.pk:
            # A state left in this browser before a password sign-in (someone else's, maybe):
            # it must not swap that session for a Clever one.
            return switch_page(request)
        if purpose.name != login_state.LOGIN and login_state.handler_for(purpose.name) is None:
            return error_page(request, "This sign-in was for something this site no longer offers.")
        if not services.claim_code(code=code):
            return self.already_used(request, selectors.redemption(code))
        try:
            sociallogin = self.exchange_code(request, code, provider, nonce=purpose.nonce)
        except IdentityTokenRefused as refusal:
            return self.token_refused(request, code, refusal, purpose)
        if sociallogin is None:
            return error_page(
                request,
                "Clever could not confirm this sign-in (it may have expired). "
                "Nobody was signed in. Please start again from Clever.",
            )
        sociallogin.state = stashed
        if purpose.name != login_state.LOGIN:
            return self.hand_to_purpose(request, code, sociallogin, purpose)
        return self.sign_in(request, code, sociallogin)

    def exchange_code(self, request, code: str, provider, *, nonce: str):
        """The Clever login the claimed code brings, or None (the code finished) when Clever
        does not confirm it. An identity token that fails a check raises IdentityTokenRefused."""
        try:
            app = provider.app
            client = self.adapter.get_client(request, app)
            token_data = self.adapter.get_access_token_data(request, app, client)
            token = self.adapter.parse_token(token_data)
            sociallogin = self.adapter.complete_login(request, app, token, response=token_data, nonce=nonce)
        except (CleverError, OAuth2Error, RequestException, PermissionDenied) as exc:
            logger.warning("clever callback: sign-in not confirmed by Clever: %s", type(exc).__name__)
            services.finish_code(code=code)
            return None
        sociallogin.token = None  # SSO tokens are never stored
        return sociallogin

    def token_refused(self, request, code: str, refusal: IdentityTokenRefused, purpose):
        """Clever's identity token failed a check: nobody is signed in; support sees why."""
        logger.warning("clever callback: identity token refused: %s", refusal.problem)
        services.finish_code(code=code)
        identity = refusal.identity
        services.record_login(
            identity=identity,
            district=selectors.district_for(identity),
            outcome=LoginOutcome.IDENTITY_TOKEN_REFUSED,
            entry=services.entry_for(purpose),
            problem=refusal.problem,
        )
        if refusal.problem == IdentityTokenProblem.KEYS_UNAVAILABLE:
            return error_page(
                request,
                "Clever did not answer while we were checking your sign-in. Nobody was signed "
                "in. Please try again in a minute.",
                status=502,
            )
        return error_page(
            request,
            "Clever's confirmation of who you are did not pass our security checks, so nobody "
            "was signed in. Please start again from Clever; if this keeps happening, tell your "
            "school's technology contact, who can reach our support team.",
            status=403,
        )

    def sign_in(self, request, code: str, sociallogin):
        """allauth completes the login (through ``sso.adapter``); the code remembers where it went."""
        try:
            response = complete_social_login(request, sociallogin)
        except (CleverError, RequestException) as exc:
            # Clever failed while we read what the login brings (a Library teacher's classes):
            # the admission's transaction rolled back; nobody is signed in.
            logger.warning("clever callback: Clever failed during sign-in: %s", type(exc).__name__)
            services.finish_code(code=code)
            request.session.save()  # SessionMiddleware saves nothing on a 5xx answer
            return error_page(
                request,
                "Clever did not answer while we were setting up your account. "
                "Nobody was signed in. Please try again in a minute.",
                status=502,
            )
        landing = response.get("Location", "") if response.status_code in (301, 302) else ""
        services.finish_code(code=code, user=request.user, landing=landing)
        return response

    def clever_initiated(self, request, code: str):
        if password_session(request):
            return switch_page(request)  # the code is dropped; confirming starts a fresh login
        if services.bounce_pending(request, code=code):
            services.forget_bounce(request)
            return error_page(
                request,
                "Clever sent you back without the security check this site asked "
                "for, twice. Nobody was signed in. Please close this tab and "
                "launch the app again from Clever.",
            )
        # Only a district named on this very launch: guessing from whoever used this browser
        # before would send the next person (a shared device) to another district's login page.
        district_id = valid_district_id(request.GET.get("district_id", ""))
        return services.bounce_clever_initiated(request, code=code, district_id=district_id)

    def already_used(self, request, seen):
        signed_in = request.user.pk if request.user.is_authenticated else None
        if seen is not None and seen.user_id and signed_in == seen.user_id:
            return HttpResponseRedirect(safe_next(seen.landing or None))
        if seen is not None and not seen.finished:
            return render(request, "sso/signing_in.html", {"landing": reverse("sso_account")}, status=202)
        return error_page(
            request,
            "This sign-in link was already used. Nobody else was signed in with "
            "it. Please start again from Clever.",
        )

    def hand_to_purpose(self, request, code, sociallogin, purpose):
        """Another app started this login: give it the verified identity, sign nobody in."""
        identity = sociallogin.clever.identity
        actor = request.user if request.user.is_authenticated else None
        if purpose.actor_id != (actor.pk if actor else None):
            services.finish_code(code=code)
            return error_page(
                request, "This Clever sign-in was started by someone else. Nothing was done.", status=403
            )
        district = selectors.district_for(identity)
        services.record_login(
            identity=identity,
            district=district,
            outcome=LoginOutcome.PURPOSE,
            entry=services.entry_for(purpose),
        )
        handler = login_state.handler_for(purpose.name)
        response = handler(request, identity=identity, data=purpose.data, actor=actor)
        services.finish_code(code=code, user=actor)
        return response


oauth2_login = CleverLoginView.adapter_view(CleverOAuth2Adapter)
oauth2_callback = CleverCallbackView.adapter_view(CleverOAuth2Adapter)


# --- "is this your account?" -------------------------------------------------------------------

NOTHING_WAITING = (
    "There is no Clever sign-in waiting (it may have expired, or your district no longer "
    "shares its data with this app). Please start again from Clever."
)


@require_http_methods(["GET", "POST"])
def link_existing(request):
    """Link the verified Clever login waiting in this session to the account the person is
    signed in to (they signed in with that account's own password: that is the proof)."""
    pending = services.pending_link(request)
    if pending is None:
        return error_page(request, NOTHING_WAITING, title="Nothing to link")
    if not request.user.is_authenticated:
        login_url = f"{reverse('account_login')}?{urlencode({'next': reverse('sso_link_existing')})}"
        return redirect(login_url)
    if request.method == "POST":
        try:
            services.confirm_pending_link(request, user=request.user)
        except services.LinkRefused as refusal:
            return error_page(request, str(refusal), title="Not linked", status=409)
        # The password session becomes this person's Clever session (same account, proven).
        services.begin_clever_session(request, identity=pending.identity, launch=pending.launch)
        return redirect(services.landing_after_login(request, next_url=pending.next_url))
    return render(
        request,
        "sso/link_confirm.html",
        {"identity": pending.identity, "district": pending.admission.district},
    )


@require_POST
def link_new(request):
    """ "This is not my account" (an email match only): a new account for the waiting Clever
    login, signed in."""
    pending = services.pending_link(request)
    if pending is None or not pending.may_decline:
        return error_page(request, NOTHING_WAITING, title="Nothing to continue")
    identity = pending.identity
    existing = selectors.social_account(identity.clever_id)
    resolution = services.resolve_account(
        identity=identity,
        admission=pending.admission,
        existing_account=existing,
        create_despite_collision=True,
    )
    services.forget_pending_link(request)
    if resolution.user is None:  # the roster linked them meanwhile, to an account Clever may not open
        return error_page(
            request,
            "Your school's records changed while you were deciding. Please start again from Clever.",
            title="Nothing to continue",
            status=409,
        )
    if request.user.is_authenticated:
        get_account_adapter(request).logout(request)
    django_login(request, resolution.user, backend="django.contrib.auth.backends.ModelBackend")
    services.begin_clever_session(request, identity=identity, launch=pending.launch)
    return redirect(services.landing_after_login(request, next_url=pending.next_url))


# --- "I already have an account" (Clever Library teachers) --------------------------------------

NO_LIBRARY_OFFER = (
    "This page is only shown right after a teacher's first sign-in through Clever Library "
    "made them a new account, for a few minutes. To connect another account now, please "
    "ask our support team."
)


@require_http_methods(["GET", "POST"])
def library_existing(request):
    """Offered to a Clever Library teacher right after the sign-in that made them a new account
    (``services.library_offer``; anyone else gets 403): sign in once to the account they already
    had here, and their Clever sign-in moves to it; or continue with the new account."""
    offer = services.library_offer(request)
    if offer is None:
        return error_page(request, NO_LIBRARY_OFFER, title="Nothing to connect", status=403)
    next_url = safe_next(request.POST.get("next") or request.GET.get("next"))
    form = forms.ExistingAccountForm(request.POST if request.method == "POST" else None)
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            try:
                user = services.prove_existing_account(
                    request, login=form.cleaned_data["login"], password=form.cleaned_data["password"]
                )
                services.join_existing_account(offer=offer, user=user)
            except services.TooManyAttempts as refusal:
                form.add_error(None, str(refusal))
                status = 429
            except services.LinkRefused as refusal:
                form.add_error(None, str(refusal))
            else:
                # The session becomes a Clever session of the account they proved (the link
                # is proven, so their next Clever sign-in opens it too).
                get_account_adapter(request).logout(request)
                django_login(request, user, backend="django.contrib.auth.backends.ModelBackend")
                services.begin_clever_session(request, identity=offer.identity)
                request.session[services.SESSION_LIBRARY_JOINED] = True
                return redirect(services.landing_after_login(request, next_url=next_url))
    return render(
        request,
        "sso/library_existing_account.html",
        {
            "form": form,
            "next": next_url,
            "district": offer.person.district if offer.person else selectors.district_for(offer.identity),
        },
        status=status,
    )


# --- roles and the account page ------------------------------------------------------------------


def _role_chooser(request, *, roles, next_url: str, error: str = "", status: int = 200):
    identity = selectors.signed_in_identity(request)
    return render(
        request,
        "sso/choose_role.html",
        {
            "name": selectors.display_name(request) or "you",
            "district": selectors.district_for(identity) if identity else None,
            "roles": [(r, ROLE_LABELS[r], ROLE_DESCRIPTIONS[r]) for r in roles],
            "next": next_url,
            "active": selectors.active_role(request),
            "error": error,
        },
        status=status,
    )


@login_required(login_url="/")
@require_http_methods(["GET", "POST"])
def choose_role(request):
    roles = selectors.session_roles(request)
    next_url = safe_next(request.POST.get("next") or request.GET.get("next"))
    if request.method == "POST":
        form = forms.RoleForm(request.POST, roles=roles)
        if not (form.is_valid() and services.set_active_role(request, role=form.cleaned_data["role"])):
            return _role_chooser(
                request, roles=roles, next_url=next_url, error="Choose one of your roles.", status=400
            )
        return redirect(next_url)
    if not roles:
        return redirect(next_url)
    return _role_chooser(request, roles=roles, next_url=next_url)


@login_required(login_url="/")
def account(request):
    return render(
        request,
        "sso/account.html",
        {
            **selectors.account_summary(request),
            "panels": landing.panels(request),
            "library_offer": services.library_offer(request) is not None,
            "library_joined": bool(request.session.pop(services.SESSION_LIBRARY_JOINED, False)),
        },
    )
