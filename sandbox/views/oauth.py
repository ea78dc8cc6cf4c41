"""The clever.com side of the local Clever: logins, authorization codes and ``/oauth/tokens``.

Four ways a login starts, as on Clever: ``/oauth/authorize`` ("Log in with Clever", may carry a
``state`` and an OIDC ``nonce``), ``/oauth/instant-login``, the Portal's launch and an LMS
launch (``sandbox.views.lms_launch``; the last three go to the app's first redirect URI, never
with a ``state``). Being "logged in to Clever" is a signed cookie holding the sandbox user's
Clever ID; with it a login completes without the login page.

An LMS launch's code carries the launch's LTI claims, and a signed "pending launch" cookie
(bound to the user, 5 minutes) keeps them: the app bounces a state-less code to
``/oauth/authorize`` with its own state and nonce, and the code that authorize gives the same
user carries the claims too (so the identity token the app validates has its nonce and the
launch). Any other login ends the pending launch.

``/oauth/certs`` (the JWKS) and ``/.well-known/openid-configuration`` are served here too; the
identity tokens themselves come from ``sandbox.oidc``.

Where Clever asks for a password, the sandbox's login page lists users to pick. A link may pick
one itself with ``user=CLEVER_USER_ID`` (a sandbox addition: Clever has no such parameter), so
the control page's Instant Login links sign in as a given person in one click, replacing whoever
was logged in to Clever in that browser.

Nothing here logs a code or a token.
"""

import base64
import binascii
import hashlib
import json
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from django.core.paginator import Paginator
from django.http import JsonResponse
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.utils.crypto import constant_time_compare
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods

from .. import oidc, selectors, services
from ..models import SandboxApplication, SandboxDistrict, SandboxRecord, SandboxToken, Sharing
from ..records import ROLE_NAMES

LOGIN_COOKIE = "clever_sandbox_user"
LOGIN_COOKIE_SALT = "sandbox.clever-login"
PENDING_LAUNCH_COOKIE = "clever_sandbox_lms_launch"
PENDING_LAUNCH_SALT = "sandbox.lms-pending-launch"
PENDING_LAUNCH_SECONDS = 5 * 60
USERS_PER_PAGE = 25


class PageError(Exception):
    """A login that cannot go on: shown as Clever's error page, never as a redirect."""

    def __init__(self, message: str, status: int = 400):
        super().__init__(message)
        self.message = message
        self.status = status


@dataclass(frozen=True)
class Login:
    """A validated login request: where its code goes and which users may complete it."""

    app: SandboxApplication
    redirect_uri: str
    state: str | None = None
    district: SandboxDistrict | None = None
    nonce: str = ""
    # Only "Log in with Clever" picks up a pending LMS launch (the app's bounce of its code).
    takes_pending_launch: bool = False
    # The request's own parameters, which the login page's forms send back.
    params: dict[str, str] = field(default_factory=dict)

    def admits(self, user: SandboxRecord) -> bool:
        return self.district is None or user.district_id == self.district.id


def instant_login_path(*, client_id: str, district_id: str, user_id: str = "") -> str:
    """A district's Instant Login link (Clever's shape), signing in as ``user_id`` when given."""
    query = {"client_id": client_id, "district_id": district_id}
    if user_id:
        query["user"] = user_id
    return f"{reverse('sandbox:oauth-instant-login')}?{urlencode(query)}"


# --- Pages -----------------------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
def authorize(request):
    """Log in with Clever: the code goes to the requested (registered) URI, with the state."""
    return _start_login(request, _authorize_request, "sandbox:oauth-authorize")


@require_http_methods(["GET", "POST"])
def instant_login(request):
    """An Instant Login link: like the Portal, the code goes to the primary URI, no state."""
    return _start_login(request, _instant_login_request, "sandbox:oauth-instant-login")


@require_GET
def portal(request):
    page, filters = user_page(request, district=None)
    context = {
        "page": page,
        "filters": filters,
        "page_query": urlencode(filters),
        "districts": selectors.district_choices(),
        "roles": ROLE_NAMES,
        "current_user": _cookie_user(request),
    }
    return render(request, "sandbox/portal.html", context)


@require_GET
def portal_launch(request):
    """The user clicks the app in their Clever Portal: logged in to Clever, sent to the app."""
    user = selectors.get_user(request.GET.get("user", ""))
    try:
        if user is None:
            raise PageError("No Clever user has this ID.", status=404)
        app = services.get_application()
        return _complete(request, Login(app=app, redirect_uri=primary_uri(app)), user)
    except PageError as exc:
        return error_page(request, exc)


def launch_from_lms(request, user: SandboxRecord, claims: dict):
    """An LMS launch, sent like the Portal's (logged in to Clever, a code at the primary URI, no
    state), its code carrying the launch ``claims``, which the pending-launch cookie keeps for
    the app's bounce to ``/oauth/authorize``. Raises ``PageError``."""
    app = services.get_application()
    return _complete(request, Login(app=app, redirect_uri=primary_uri(app)), user, launch=claims)


@require_GET
def portal_logout(request):
    response = redirect("sandbox:portal")
    response.delete_cookie(LOGIN_COOKIE)
    response.delete_cookie(PENDING_LAUNCH_COOKIE)
    return response


# --- OpenID Connect: the JWKS and the discovery document ---------------------------------------


@require_GET
def certs(request):
    return JsonResponse(oidc.jwks())


@require_GET
def openid_configuration(request):
    def url(name: str) -> str:
        return request.build_absolute_uri(reverse(name))

    return JsonResponse(
        {
            "issuer": oidc.ISSUER,
            "authorization_endpoint": url("sandbox:oauth-authorize"),
            "token_endpoint": url("sandbox:oauth-tokens"),
            "userinfo_endpoint": url("sandbox:data-api-userinfo"),
            "jwks_uri": url("sandbox:oauth-certs"),
            "response_types_supported": ["code"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": [oidc.ALGORITHM],
        }
    )


# --- /oauth/tokens -----------------------------------------------------------------------------


@csrf_exempt
@require_http_methods(["GET", "POST"])
def tokens(request):
    """POST exchanges a code for a user's token; GET lists the district-app tokens."""
    app = _client(request)
    if app is None:
        return _oauth_error(401, "invalid_client", "Invalid client credentials")
    if request.method == "POST":
        return _exchange_code(request, app)
    return _list_district_tokens(request)


def _exchange_code(request, app: SandboxApplication) -> JsonResponse:
    body = _token_request_body(request)
    if body is None:
        return _oauth_error(400, "invalid_request", "The body must be JSON or form-encoded")
    grant_type = str(body.get("grant_type") or "")
    if grant_type != "authorization_code":
        return _oauth_error(400, "unsupported_grant_type", "Only grant_type=authorization_code is supported")
    code, redirect_uri = str(body.get("code") or ""), str(body.get("redirect_uri") or "")
    if not code or not redirect_uri:
        return _oauth_error(400, "invalid_request", "code and redirect_uri are required")
    try:
        redeemed = services.redeem_auth_code(application=app, code=code, redirect_uri=redirect_uri)
    except services.InvalidGrant as exc:
        return _oauth_error(400, "invalid_grant", str(exc))
    answer = {"access_token": redeemed.token.access_token, "token_type": "bearer"}
    id_token = oidc.identity_token(auth_code=redeemed.auth_code, token=redeemed.token)
    if id_token is not None:
        answer["id_token"] = id_token
    return _no_store(JsonResponse(answer))


def _list_district_tokens(request) -> JsonResponse:
    if request.GET.get("owner_type") != "district":
        return _oauth_error(400, "invalid_request", "owner_type must be 'district'")
    listed = selectors.listed_district_tokens(district_id=request.GET.get("district", ""))
    data = [
        {
            "id": _token_id(token),
            "created": services.iso(token.created),
            "owner": {"type": "district", "id": token.district_id},
            "access_token": token.access_token,
            "scopes": token.scopes,
        }
        for token in listed
    ]
    links = [{"rel": "self", "uri": "/oauth/tokens?owner_type=district"}]
    return _no_store(JsonResponse({"data": data, "links": links}))


def _token_id(token: SandboxToken) -> str:
    """A stable ObjectID-like id (creation second, then a hash) without storing one.

    The hash of a 160-bit random token reveals nothing about it.
    """
    digest = hashlib.sha256(token.access_token.encode()).hexdigest()
    return f"{int(token.created.timestamp()):08x}{digest[:16]}"


# --- Helpers -----------------------------------------------------------------------------------


def _start_login(request, parse, url_name: str):
    # The login page's forms POST the original query parameters back.
    params = request.POST if request.method == "POST" else request.GET
    try:
        return _login(request, parse(params), url_name)
    except PageError as exc:
        return error_page(request, exc)


def _authorize_request(params) -> Login:
    app = _client_of(params)
    registered = app.redirect_uris
    redirect_uri = params.get("redirect_uri") or (registered[0] if registered else "")
    if redirect_uri not in registered:
        raise PageError("The redirect_uri is not registered for this application.")
    if params.get("response_type") != "code":
        raise PageError("response_type must be 'code'.")
    return Login(
        app=app,
        redirect_uri=redirect_uri,
        state=params.get("state"),
        district=_district_of(params),
        nonce=params.get("nonce", ""),
        takes_pending_launch=True,
        params=_given(
            params, ("response_type", "client_id", "redirect_uri", "state", "district_id", "nonce")
        ),
    )


def _instant_login_request(params) -> Login:
    app = _client_of(params)
    district = _district_of(params)
    if district is not None and district.sharing == Sharing.LIBRARY:
        # Clever: Instant Login links do not work for Clever Library apps.
        raise PageError("Instant Login links are not available for Clever Library.")
    return Login(
        app=app,
        redirect_uri=primary_uri(app),
        district=district,
        params=_given(params, ("client_id", "district_id")),
    )


def _client_of(params) -> SandboxApplication:
    app = services.get_application()
    if params.get("client_id") != app.client_id:
        raise PageError("Unknown client_id: no application is registered with this ID.")
    return app


def primary_uri(app: SandboxApplication) -> str:
    if not app.redirect_uris:
        raise PageError("This application has no redirect URI registered.")
    return app.redirect_uris[0]


def _district_of(params) -> SandboxDistrict | None:
    district_id = params.get("district_id")
    if not district_id:
        return None
    district = selectors.get_district(district_id)
    if district is None:
        raise PageError("No district has this district_id.")
    if not district.connected:
        raise _not_available(district)
    return district


def _given(params, names) -> dict[str, str]:
    return {name: params[name] for name in names if name in params}


def _login(request, login: Login, url_name: str):
    """Finish the login at once for the chosen (the login page's form, or a link's ``user``) or
    logged-in user, else show the login page."""
    if request.method == "POST" or "user" in request.GET:
        params = request.POST if request.method == "POST" else request.GET
        user = selectors.get_user(params.get("user", ""))
        if user is None or not login.admits(user):
            raise PageError("This user cannot log in here.")
        return _complete(request, login, user)
    user = _cookie_user(request)
    if user is not None and login.admits(user):
        return _complete(request, login, user)
    page, filters = user_page(request, district=login.district)
    context = {
        "app": login.app,
        "district": login.district,
        "action": reverse(url_name),
        "oauth_params": login.params,
        "page": page,
        "filters": filters,
        "page_query": urlencode({**login.params, **filters}),
        "districts": selectors.district_choices(),
        "roles": ROLE_NAMES,
    }
    return render(request, "sandbox/oauth_login.html", context)


def _complete(request, login: Login, user: SandboxRecord, *, launch: dict | None = None):
    """The user is logged in to Clever and sent to the app with a fresh code; ``launch``: the
    claims of the LMS launch this is (kept in the pending-launch cookie)."""
    if not user.district.connected:
        raise _not_available(user.district)
    from_lms = launch is not None
    if not from_lms and login.takes_pending_launch:
        launch = _pending_launch(request, user)
    code = services.issue_auth_code(
        application=login.app,
        user=user,
        redirect_uri=login.redirect_uri,
        nonce=login.nonce,
        launch=launch,
    )
    query = {"code": code.code}
    if login.state is not None:
        query["state"] = login.state
    response = redirect(_with_query(login.redirect_uri, query))
    response.set_signed_cookie(
        LOGIN_COOKIE,
        user.clever_id,
        salt=LOGIN_COOKIE_SALT,
        httponly=True,
        samesite="Lax",
        secure=request.is_secure(),
    )
    if from_lms:
        _keep_pending_launch(request, response, user, launch)
    elif PENDING_LAUNCH_COOKIE in request.COOKIES:
        # Any other login ends a pending launch: a later bounce must not pick it up.
        response.delete_cookie(PENDING_LAUNCH_COOKIE)
    return response


def _keep_pending_launch(request, response, user: SandboxRecord, claims: dict | None) -> None:
    response.set_signed_cookie(
        PENDING_LAUNCH_COOKIE,
        json.dumps({"user": user.clever_id, "claims": claims}),
        salt=PENDING_LAUNCH_SALT,
        max_age=PENDING_LAUNCH_SECONDS,
        httponly=True,
        samesite="Lax",
        secure=request.is_secure(),
    )


def _pending_launch(request, user: SandboxRecord) -> dict | None:
    """The claims of a fresh pending LMS launch of this user, if the browser has one."""
    kept = request.get_signed_cookie(
        PENDING_LAUNCH_COOKIE, default=None, salt=PENDING_LAUNCH_SALT, max_age=PENDING_LAUNCH_SECONDS
    )
    pending = json.loads(kept) if kept else {}
    return pending["claims"] if pending.get("user") == user.clever_id else None


def _not_available(district: SandboxDistrict) -> PageError:
    return PageError(
        f"This app is not available for {district.name}: the district does not "
        "share data with it. Ask your district administrator."
    )


def _cookie_user(request) -> SandboxRecord | None:
    clever_id = request.get_signed_cookie(LOGIN_COOKIE, default=None, salt=LOGIN_COOKIE_SALT)
    return selectors.get_user(clever_id) if clever_id else None


def user_page(request, *, district: SandboxDistrict | None, lms_types: tuple[str, ...] = ()):
    """One page of the user search; ``district`` fixes the district filter, ``lms_types`` keeps
    the districts whose LMS is one of these."""
    filters = {
        "q": request.GET.get("q", "").strip(),
        "role": request.GET.get("role", ""),
        "district": district.id if district else request.GET.get("district", ""),
    }
    users = selectors.search_users(
        q=filters["q"], role=filters["role"], district_id=filters["district"], lms_types=lms_types
    )
    page = Paginator(users, USERS_PER_PAGE).get_page(request.GET.get("page"))
    return page, {name: value for name, value in filters.items() if value}


def _with_query(uri: str, params: dict[str, str]) -> str:
    """``uri`` with ``params`` added to whatever query the registered URI already has."""
    parts = urlsplit(uri)
    query = urlencode([*parse_qsl(parts.query, keep_blank_values=True), *params.items()])
    return urlunsplit(parts._replace(query=query))


def error_page(request, error: PageError):
    return render(
        request,
        "sandbox/oauth_error.html",
        {"message": error.message, "current_user": _cookie_user(request)},
        status=error.status,
    )


def _client(request) -> SandboxApplication | None:
    """The app authenticated by HTTP Basic ``client_id:client_secret``, as Clever requires."""
    scheme, _, encoded = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        credentials = base64.b64decode(encoded.strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return None
    client_id, sep, secret = credentials.partition(":")
    app = services.get_application()
    if (
        sep
        and constant_time_compare(client_id, app.client_id)
        and constant_time_compare(secret, app.client_secret)
    ):
        return app
    return None


def _token_request_body(request):
    if request.content_type != "application/json":
        return request.POST
    try:
        body = json.loads(request.body or b"{}")
    except ValueError:
        return None
    return body if isinstance(body, dict) else None


def _oauth_error(status: int, error: str, description: str) -> JsonResponse:
    response = _no_store(JsonResponse({"error": error, "error_description": description}, status=status))
    if status == 401:
        response["WWW-Authenticate"] = 'Basic realm="clever"'
    return response


def _no_store(response: JsonResponse) -> JsonResponse:
    # RFC 6749 5.1: token responses must not be cached.
    response["Cache-Control"] = "no-store"
    response["Pragma"] = "no-cache"
    return response


urlpatterns = [
    path("oauth/authorize", authorize, name="oauth-authorize"),
    path("oauth/instant-login", instant_login, name="oauth-instant-login"),
    path("oauth/tokens", tokens, name="oauth-tokens"),
    path("oauth/certs", certs, name="oauth-certs"),
    path(".well-known/openid-configuration", openid_configuration, name="openid-configuration"),
    path("portal/", portal, name="portal"),
    path("portal/launch", portal_launch, name="portal-launch"),
    path("portal/logout", portal_logout, name="portal-logout"),
]
