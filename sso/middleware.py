"""Checks on every request of a signed-in session (docs/sso.md "Sessions").

- ``CleverSessionMiddleware``: a session that began with a Clever sign-in ends (the person is
  signed out and told why) at the first request after its district may no longer sign people in
  (revoked, disconnected: ``policy.admission_refusal``, the rule the sign-in itself applies),
  after ``SSO_SESSION_SECONDS`` from sign-in (shared classroom devices), once the Clever link to
  the account is gone (support unlinked or moved it), or once Clever may no longer open the
  account (it became staff, say: ``policy.entry``); a session whose account was deactivated is
  flushed at its next request.
- ``StaffMFAMiddleware``: with ``STAFF_MFA_REQUIRED`` (on in production mode), staff and
  superusers without an authenticator app go to its set-up page and nowhere else until it is
  done; at sign-in allauth then asks for the code every time.
"""

from __future__ import annotations

import time

from allauth.account.adapter import get_adapter as get_account_adapter
from allauth.mfa.models import Authenticator
from django.conf import settings
from django.contrib.auth import SESSION_KEY
from django.shortcuts import redirect, render
from django.urls import reverse

from . import policy, selectors

# ``ended``: the session's account was deactivated, for a reason not the district's.
DEACTIVATED = "deactivated"
# Pages a staff user without an authenticator may still reach: setting one up and leaving.
MFA_SETUP_PATHS = ("/accounts/2fa/", "/accounts/logout/", "/accounts/reauthenticate/")


class CleverSessionMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        why = self.ended(request) if SESSION_KEY in request.session else None
        if why == DEACTIVATED:
            # Django treats a deactivated account's visitor as anonymous but keeps the session
            # (and what it holds): end it for good.
            request.session.flush()
        elif why is not None:
            get_account_adapter(request).logout(request)
            return render(request, "sso/session_ended.html", {"why": why}, status=401)
        return self.get_response(request)

    @staticmethod
    def ended(request) -> str | None:
        identity = selectors.signed_in_identity(request)
        district_refuses = (
            identity is not None
            and policy.admission_refusal(identity, selectors.district_for(identity)) is not None
        )
        if not request.user.is_authenticated:
            # The account was deactivated: its district stopped sharing (say so), or support.
            return "district" if district_refuses else DEACTIVATED
        if identity is None:
            return None  # not a Clever session: a password sign-in keeps its own rules
        started = request.session.get(selectors.SESSION_SIGNED_IN_AT)
        if not isinstance(started, (int, float)) or time.time() - started > settings.SSO_SESSION_SECONDS:
            return "expired"
        if district_refuses:
            return "district"
        if (
            not selectors.clever_accounts(request.user).filter(uid=identity.clever_id).exists()
            or policy.entry(request.user, identity.clever_id) != policy.Entry.ALLOWED
        ):
            return "account"  # unlinked or moved by support, or no longer Clever's to open
        return None


class StaffMFAMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = request.user
        if (
            settings.STAFF_MFA_REQUIRED
            and user.is_authenticated
            and policy.needs_mfa(user)
            and not request.path.startswith((*MFA_SETUP_PATHS, "/" + settings.STATIC_URL.lstrip("/")))
            and not Authenticator.objects.filter(user=user, type=Authenticator.Type.TOTP).exists()
        ):
            return redirect(reverse("mfa_activate_totp"))
        return self.get_response(request)
