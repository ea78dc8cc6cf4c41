"""Routes of Clever sign-in, mounted at the site root (config/urls.py).

- ``accounts/clever/login/`` and ``accounts/clever/login/callback/``: the Clever provider
  (allauth names ``clever_login`` and ``clever_callback``; the callback is the redirect URI
  registered with Clever);
- ``accounts/``: allauth's account pages (password sign-in for existing accounts, the admin's
  sign-in too, with allauth's rate limits; logout) and the socialaccount pages it redirects to;
  its page listing and removing connected accounts is replaced by ``/account/`` (links and
  unlinks are audited decisions, not a self-service toggle). The password, email and
  two-factor pages are for accounts with a password only (``permissions.password_accounts_only``):
  an account that signs in through Clever sets no password and manages no email;
- ``accounts/2fa/``: allauth's two-factor pages (authenticator app, recovery codes);
- ``account/``: the signed-in person's page, the role chooser, "is this your account?", and a
  Clever Library teacher's "I already have an account" (right after the sign-in that made them
  a new account).
"""

from importlib import import_module

from allauth.socialaccount import views as socialaccount_views
from django.urls import URLPattern, URLResolver, include, path
from django.views.generic import RedirectView

from . import views
from .permissions import password_accounts_only

# allauth's account pages that only an account with a password may use.
PASSWORD_PAGES = frozenset(
    {"account_email", "account_change_password", "account_set_password", "account_reset_password"}
)


def _password_accounts_only(patterns, names=None) -> list:
    """allauth's URL patterns with the views named ``names`` (all, when None) wrapped."""
    wrapped = []
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            wrapped.append(
                URLResolver(
                    pattern.pattern,
                    _password_accounts_only(pattern.url_patterns, names),
                    pattern.default_kwargs,
                    pattern.app_name,
                    pattern.namespace,
                )
            )
        elif names is None or pattern.name in names:
            wrapped.append(
                URLPattern(
                    pattern.pattern,
                    password_accounts_only(pattern.callback),
                    pattern.default_args,
                    pattern.name,
                )
            )
        else:
            wrapped.append(pattern)
    return wrapped


urlpatterns = [
    path("accounts/clever/login/", views.oauth2_login, name="clever_login"),
    path("accounts/clever/login/callback/", views.oauth2_callback, name="clever_callback"),
    path(
        "accounts/3rdparty/login/cancelled/",
        socialaccount_views.login_cancelled,
        name="socialaccount_login_cancelled",
    ),
    path("accounts/3rdparty/login/error/", socialaccount_views.login_error, name="socialaccount_login_error"),
    path(
        "accounts/3rdparty/signup/",
        RedirectView.as_view(url="/", permanent=False),
        name="socialaccount_signup",
    ),
    path(
        "accounts/3rdparty/",
        RedirectView.as_view(url="/account/", permanent=False),
        name="socialaccount_connections",
    ),
    path(
        "accounts/",
        include(_password_accounts_only(import_module("allauth.account.urls").urlpatterns, PASSWORD_PAGES)),
    ),
    path("accounts/2fa/", include(_password_accounts_only(import_module("allauth.mfa.urls").urlpatterns))),
    path("account/", views.account, name="sso_account"),
    path("account/role/", views.choose_role, name="sso_choose_role"),
    path("account/link/clever/", views.link_existing, name="sso_link_existing"),
    path("account/link/clever/new/", views.link_new, name="sso_link_new"),
    path("account/library/existing/", views.library_existing, name="sso_library_existing"),
]
