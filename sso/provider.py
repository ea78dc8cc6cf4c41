"""The Clever provider for django-allauth, built on allauth's own (``allauth.socialaccount.
providers.clever``), which is not installed beside it.

What changes from allauth's provider:

- base URLs come from settings (``CLEVER_OAUTH_BASE``, ``CLEVER_API_BASE``,
  ``CLEVER_API_VERSION``) and the redirect URI is ``CLEVER_REDIRECT_URI`` (the one registered
  with Clever), not one guessed from the request;
- the code is exchanged with HTTP Basic client credentials, and ``/me`` and ``/users/{id}`` are
  read, through ``clever.client.CleverClient`` (in-process to the sandbox in the demo and tests;
  never logs a code or a token);
- every role key counts (allauth's takes the first), the username is never Clever's, and
  ``extra_data`` keeps only IDs, district, name, email and role names;
- no scopes are requested (Clever sets them in the app's dashboard);
- the state carries a signed purpose (``sso.state``) and a fresh OpenID Connect ``nonce``; an
  optional ``district_id`` and the nonce are passed to Clever's authorize URL;
- an identity token that comes with the code exchange is checked before anything else is read
  (``sso.identity_token``); the claims launch routers read travel with the login so a
  launch from an LMS can be routed (``sso.launches``).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field, replace

from allauth.socialaccount.providers.clever.provider import CleverAccount as AllauthCleverAccount
from allauth.socialaccount.providers.clever.provider import CleverProvider as AllauthCleverProvider
from allauth.socialaccount.providers.clever.views import (
    CleverOAuth2Adapter as AllauthCleverOAuth2Adapter,
)
from django.conf import settings
from django.http import HttpResponseRedirect

from clever.client import CleverClient

from . import identity_token, launches
from . import state as login_state
from .identity import LIBRARY, PROVIDER, CleverIdentity, identity_from
from .redirects import is_safe_next


def valid_district_id(value: object) -> str:
    """A Clever district ID (24 hex characters) or ""."""
    if isinstance(value, str) and len(value) == 24 and all(c in "0123456789abcdef" for c in value):
        return value
    return ""


def clever_client(token: str | None = None, **options) -> CleverClient:
    options.setdefault("max_retries", settings.SSO_CLEVER_MAX_RETRIES)
    return CleverClient(token, **options)


@dataclass
class CleverLoginContext:
    """What a verified Clever login brings, for this request only (never stored)."""

    identity: CleverIdentity
    record: dict = field(repr=False)
    access_token: str = field(repr=False)
    # What the launch routers read of the verified identity token ({} without a token).
    claims: dict = field(default_factory=dict, repr=False)


class CleverOAuth2Adapter(AllauthCleverOAuth2Adapter):
    provider_id = PROVIDER
    basic_auth = True  # Clever: POST /oauth/tokens with Basic client_id:client_secret

    @property
    def access_token_url(self) -> str:  # type: ignore[override]
        return f"{settings.CLEVER_OAUTH_BASE.rstrip('/')}/oauth/tokens"

    @property
    def authorize_url(self) -> str:  # type: ignore[override]
        return f"{settings.CLEVER_OAUTH_BASE.rstrip('/')}/oauth/authorize"

    @property
    def identity_url(self) -> str:  # type: ignore[override]
        return f"{settings.CLEVER_API_BASE.rstrip('/')}/{settings.CLEVER_API_VERSION}/me"

    @property
    def user_details_url(self) -> str:  # type: ignore[override]
        return f"{settings.CLEVER_API_BASE.rstrip('/')}/{settings.CLEVER_API_VERSION}/users"

    def get_callback_url(self, request, app) -> str:
        # Exactly the URI registered with Clever (the first one takes Portal launches).
        return settings.CLEVER_REDIRECT_URI

    def get_access_token_data(self, request, app, client, pkce_code_verifier=None) -> dict:
        code = request.GET.get("code", "")
        with clever_client(
            client_id=app.client_id,
            client_secret=app.secret,
            redirect_uri=self.get_callback_url(request, app),
        ) as clever:
            token = clever.exchange_code(code)
        self.did_fetch_access_token = True
        return {
            "access_token": token.access_token,
            "token_type": token.token_type or "bearer",
            "id_token": token.id_token or "",
        }

    def complete_login(self, request, app, token, **kwargs):
        """``kwargs``: ``response`` (the token answer) and ``nonce`` (the one this login sent).
        An identity token that fails a check raises ``IdentityTokenRefused`` carrying the
        ``identity`` ``/me`` named (IDs only), for the record of the refusal."""
        response = kwargs.get("response") or {}
        with clever_client(token.token) as clever:
            me = clever.me()
            me_data = {"id": me.id, "district": me.district or "", "authorized_by": me.authorized_by or ""}
            try:
                claims = self._verified_claims(
                    clever,
                    me_data=me_data,
                    client_id=app.client_id,
                    id_token=response.get("id_token"),
                    nonce=kwargs.get("nonce"),
                )
            except identity_token.IdentityTokenRefused as refusal:
                refusal.identity = identity_from(me=me_data, record={})
                raise
            record = clever.get_record("users", me.id)
        login = self.get_provider().sociallogin_from_response(request, {"me": me_data, "user": record})
        login.clever = CleverLoginContext(
            identity=identity_from(me=me_data, record=record),
            record=record,
            access_token=token.token,
            claims=launches.kept_claims(claims),
        )
        return login

    @staticmethod
    def _verified_claims(clever: CleverClient, *, me_data: dict, client_id: str, id_token, nonce) -> dict:
        """The identity token's claims once verified; {} for an app that is not set up for
        OIDC (no token). Set up for OIDC, a district login without a token is refused and a
        Library login (Clever gives those none) is checked against ``/userinfo``."""
        if id_token:
            return identity_token.verify(
                id_token, client_id=client_id, subject=me_data["id"], nonce=nonce or None
            )
        if settings.CLEVER_ID_TOKEN_REQUIRED:
            if me_data["authorized_by"] != LIBRARY:
                raise identity_token.missing()
            identity_token.check_userinfo(clever.userinfo(), subject=me_data["id"])
        return {}


class CleverAccount(AllauthCleverAccount):
    def get_user_data(self):
        return self.account.extra_data

    def to_str(self) -> str:
        identity = CleverIdentity.from_extra_data(self.account.extra_data or {})
        return identity.display_name or identity.clever_id or super().to_str()


class CleverProvider(AllauthCleverProvider):
    id = PROVIDER
    name = "Clever"
    account_class = CleverAccount
    oauth2_adapter_class = CleverOAuth2Adapter

    def _identity(self, data) -> CleverIdentity:
        return identity_from(me=data.get("me") or {}, record=data.get("user") or {})

    def extract_uid(self, data) -> str:
        return self._identity(data).clever_id

    def extract_extra_data(self, data) -> dict:
        return self._identity(data).extra_data()

    def get_user_type(self, data) -> str:
        roles = self._identity(data).roles
        return roles[0] if roles else ""

    def extract_common_fields(self, data) -> dict:
        identity = self._identity(data)
        fields = {"first_name": identity.first_name[:150], "last_name": identity.last_name[:150]}
        if identity.usable_email:
            fields["email"] = identity.usable_email[:254]
        return fields

    def extract_email_addresses(self, data) -> list:
        # Clever does not verify emails: none is ever declared verified.
        return []

    def get_default_scope(self) -> list:
        return []

    def get_redirect_from_request_kwargs(self, request) -> dict:
        params = request.POST if request.method == "POST" else request.GET
        kwargs: dict = {"process": "login"}
        if is_safe_next(params.get("next")):
            kwargs["next_url"] = params["next"]
        kwargs["district_id"] = valid_district_id(params.get("district_id"))
        return kwargs

    def redirect(self, request, process, next_url=None, data=None, **kwargs):
        """To Clever's authorize URL with a fresh session-bound state (purpose: sign in)."""
        purpose = kwargs.pop("purpose", None) or login_state.Purpose(
            actor_id=request.user.pk if request.user.is_authenticated else None,
            district_id=kwargs.get("district_id") or "",
        )
        purpose = replace(purpose, nonce=secrets.token_urlsafe(24))
        state_id = login_state.stash(
            request,
            provider_id=self.sub_id,
            purpose=purpose,
            next_url=next_url if is_safe_next(next_url) else None,
        )
        with clever_client(client_id=self.app.client_id, client_secret=self.app.secret) as clever:
            url = clever.authorize_url(
                state=state_id,
                district_id=purpose.district_id or None,
                redirect_uri=settings.CLEVER_REDIRECT_URI,
                nonce=purpose.nonce,
            )
        return HttpResponseRedirect(url)


provider_classes = [CleverProvider]
