"""Clever's OAuth answers as values, and the pure parts of the OAuth flow (no I/O).

The HTTP calls live on :class:`clever.client.CleverClient` (one session for everything):
``authorize_url``, ``instant_login_url``, ``exchange_code``, ``list_district_tokens`` and
``get_district_token``. Tokens never show in a ``repr``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from .errors import BadResponse, CleverError, InvalidClient, InvalidGrant, OAuthError

AUTHORIZE_PATH = "/oauth/authorize"
INSTANT_LOGIN_PATH = "/oauth/instant-login"
TOKENS_PATH = "/oauth/tokens"


@dataclass(frozen=True)
class TokenResponse:
    """The answer to a code exchange: the access token, and the whole answer in ``raw``."""

    access_token: str = field(repr=False)
    token_type: str | None
    id_token: str | None = field(repr=False)
    raw: dict = field(repr=False)


@dataclass(frozen=True)
class DistrictToken:
    """One district that shared data with the app, from ``GET /oauth/tokens``."""

    id: str
    district_id: str
    access_token: str = field(repr=False)
    scopes: tuple[str, ...]
    created: datetime | None


def build_url(oauth_base: str, path: str, params: list[tuple[str, str]]) -> str:
    return f"{oauth_base.rstrip('/')}{path}?{urlencode(params)}"


def authorize_params(
    *,
    client_id: str,
    redirect_uri: str,
    state: str | None,
    district_id: str | None,
    nonce: str | None = None,
) -> list[tuple[str, str]]:
    if not client_id:
        raise ValueError("a client_id is needed to build the authorize URL")
    if not redirect_uri:
        raise ValueError("a redirect_uri is needed to build the authorize URL")
    params = [("response_type", "code"), ("client_id", client_id), ("redirect_uri", redirect_uri)]
    if state:
        params.append(("state", state))
    if district_id:
        params.append(("district_id", district_id))
    if nonce:
        # OpenID Connect: Clever copies it into the identity token, which binds that token to
        # the login this browser started.
        params.append(("nonce", nonce))
    return params


def parse_timestamp(value: Any) -> datetime | None:
    """Clever's ``2016-05-02T22:42:10.533Z``; ``None`` when absent or unreadable."""
    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def parse_token_response(body: Any, *, method: str, path: str) -> TokenResponse:
    if not isinstance(body, dict):
        raise BadResponse("the token answer is not a JSON object", method=method, url=path)
    token = body.get("access_token")
    if not isinstance(token, str) or not token:
        raise BadResponse('the token answer has no "access_token"', method=method, url=path)
    id_token = body.get("id_token")
    token_type = body.get("token_type")
    return TokenResponse(
        access_token=token,
        token_type=token_type if isinstance(token_type, str) else None,
        id_token=id_token if isinstance(id_token, str) else None,
        raw=body,
    )


def parse_district_token(item: Any, *, index: int, method: str, path: str) -> DistrictToken | None:
    """One entry of ``/oauth/tokens``; ``None`` for an owner that is not a district."""
    if not isinstance(item, dict):
        raise BadResponse(f"token {index} is not an object", method=method, url=path)
    owner = item.get("owner")
    if not isinstance(owner, dict) or not isinstance(owner.get("id"), str) or not owner["id"]:
        raise BadResponse(f'token {index} has no "owner" id', method=method, url=path)
    if owner.get("type", "district") != "district":
        return None
    token = item.get("access_token")
    if not isinstance(token, str) or not token:
        raise BadResponse(f'token {index} has no "access_token"', method=method, url=path)
    scopes = item.get("scopes") or []
    if not isinstance(scopes, list) or not all(isinstance(s, str) for s in scopes):
        raise BadResponse(
            f'token {index} has "scopes" that are not a list of strings', method=method, url=path
        )
    return DistrictToken(
        id=str(item.get("id") or ""),
        district_id=owner["id"],
        access_token=token,
        scopes=tuple(scopes),
        created=parse_timestamp(item.get("created")),
    )


def oauth_error(status: int, body: Any, *, method: str, path: str, text: str) -> CleverError | None:
    """The typed error for an ``{"error", "error_description"}`` answer, if it is one."""
    if not isinstance(body, dict) or not isinstance(body.get("error"), str):
        return None
    code = body["error"]
    description = body.get("error_description")
    message = f"{code}: {description}" if isinstance(description, str) and description else code
    kwargs = {"error": code, "status": status, "method": method, "url": path, "body": text}
    if code == "invalid_grant":
        return InvalidGrant(message, **kwargs)
    if code == "invalid_client" or status == 401:
        return InvalidClient(message, **kwargs)
    return OAuthError(message, **kwargs)
