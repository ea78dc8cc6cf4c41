"""Routes of Clever sign-in, mounted at the site root (config/urls.py).

- ``accounts/clever/login/`` and ``accounts/clever/login/callback/``: the Clever provider
  (allauth names ``clever_login`` and ``clever_callback``; the callback is the redirect URI
  registered with Clever);
- ``accounts/``: allauth's account pages (password sign-in for existing accounts, logout) and
  the socialaccount pages it redirects to; its page listing and removing connected accounts is
  replaced by ``/account/`` (links and unlinks are audited decisions, not a self-service toggle);
- ``account/``: the signed-in person's page, the role chooser, "is this your account?".
"""

from allauth.socialaccount import views as socialaccount_views
from django.urls import include, path
from django.views.generic import RedirectView

from . import views

urlpatterns = [
    path("accounts/clever/login/", views.oauth2_login, name="clever_login"),
    path("accounts/clever/login/callback/", views.oauth2_callback, name="clever_callback"),
    path("accounts/3rdparty/login/cancelled/", socialaccount_views.login_cancelled,
         name="socialaccount_login_cancelled"),
    path("accounts/3rdparty/login/error/", socialaccount_views.login_error,
         name="socialaccount_login_error"),
    path("accounts/3rdparty/signup/", RedirectView.as_view(url="/", permanent=False),
         name="socialaccount_signup"),
    path("accounts/3rdparty/", RedirectView.as_view(url="/account/", permanent=False),
         name="socialaccount_connections"),
    path("accounts/", include("allauth.account.urls")),
    path("account/", views.account, name="sso_account"),
    path("account/role/", views.choose_role, name="sso_choose_role"),
    path("account/link/clever/", views.link_existing, name="sso_link_existing"),
    path("account/link/clever/new/", views.link_new, name="sso_link_new"),
]
