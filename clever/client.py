"""The Clever API client: OAuth, district tokens, Data API v3.0/v3.1, Events, LMS Connect.

One :class:`CleverClient` wraps one ``requests.Session``. Its bases, API version, page size,
timeouts and retry policy come from settings at construction and can be overridden by
arguments. When ``settings.CLEVER_HTTP_ADAPTER`` names a transport adapter (the sandbox's
in-process one, in the demo and tests) it is mounted for the OAuth and API base prefixes.

Every call has a timeout (LMS writes the longer ``CLEVER_LMS_TIMEOUT``) and goes through one
retry loop:

- 429: wait until ``X-Ratelimit-Reset`` (by the injected clock) plus a small margin, each wait
  capped at ``CLEVER_RATE_LIMIT_MAX_WAIT``; after ``CLEVER_MAX_RETRIES`` retries,
  :class:`~clever.errors.RateLimited`. An answer with ``X-Ratelimit-Remaining: 0`` makes the
  next call wait for the reset first, so a sequential sync never spends a request on a 429.
- Across processes: with a ``rate_budget`` (:mod:`clever.budget`, in Redis; by default when
  ``REDIS_URL`` is set) each bearer request first takes one unit of its token's shared budget,
  waiting for the window's reset when other processes used it up or met a 429 (each wait also
  capped at ``CLEVER_RATE_LIMIT_MAX_WAIT``); the answers' ``X-Ratelimit-*`` headers and 429s
  are shared through it. Without one, each client paces alone as above.
- 5xx (not 501) and connection errors or timeouts: capped exponential backoff with full jitter
  (``uniform(0, min(cap, base * 2**attempt))``); after the retries,
  :class:`~clever.errors.ServerError` (:class:`~clever.errors.ConnectionFailed` when nothing
  answered). Creating an LMS assignment is not idempotent, so it is retried only when Clever
  certainly did not act on it (429, connect timeout).
- 400, 401, 404, 413, 501 and unusable answers are never retried.

Logs carry the method, the path without its query string, the status and the duration: never a
token, a code or a client secret. ``clock`` and ``sleep`` are injectable so tests never sleep.
``on_wait(seconds, reason)``, when set, is called before every wait (``reason``: ``rate_limit``,
``server_error``, ``no_answer`` or ``unreadable``), with ``stats`` already counting the requests
sent so far: a sync records on its run what it is waiting for, and until when.
A client is meant for one thread at a time (its ``stats`` are not locked).
"""

from __future__ import annotations

import copy
import json
import logging
import random
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from typing import Any
from urllib.parse import urlsplit

import requests
from django.conf import settings
from django.utils.module_loading import import_string

from . import budget as shared_budget
from . import oauth
from .errors import (
    AuthError,
    BadRequest,
    BadResponse,
    CleverError,
    ConnectionFailed,
    Forbidden,
    HtmlServerError,
    NotFound,
    PayloadTooLarge,
    RateLimited,
    ServerError,
    UnreadableAnswer,
    Unsupported,
)
from .pagination import (
    MAX_LMS_PAGE_SIZE,
    MAX_PAGE_SIZE,
    SECTIONS_PAGE_SIZE,
    Page,
    check_page_size,
    is_link,
    join_link,
    keep_params,
    parse_list,
    parse_single,
    relative_link,
)

logger = logging.getLogger(__name__)

API_VERSIONS = ("v3.0", "v3.1")
LMS_VERSION = "v3.1"  # LMS Connect exists only in v3.1
RATE_LIMIT_MARGIN = 0.5  # seconds past X-Ratelimit-Reset before trying again
USER_AGENT = "clever-bridge/0.1"

# What "no answer" looks like from requests: worth retrying.
_TRANSIENT = (requests.ConnectionError, requests.Timeout, requests.exceptions.ChunkedEncodingError)

_STATUS_ERRORS: dict[int, type[CleverError]] = {
    400: BadRequest,
    401: AuthError,
    403: Forbidden,
    404: NotFound,
    413: PayloadTooLarge,
    429: RateLimited,
    501: Unsupported,
}

_UNSET: Any = object()


@dataclass
class ClientStats:
    """What a sync records about its traffic with Clever."""

    requests: int = 0  # HTTP requests sent (each retry counts)
    retries: int = 0  # requests that were repeats of a failed one
    pages: int = 0  # list pages received (Data API, Events, tokens, submissions)
    bytes_received: int = 0  # response bodies, errors included
    seconds_waited: float = 0.0  # asleep for rate limits and backoff together
    rate_limited: int = 0  # 429 answers received

    def snapshot(self) -> dict[str, int | float]:
        return asdict(self)

    def reset(self) -> dict[str, int | float]:
        """Zero every counter; returns the values they had."""
        before = self.snapshot()
        for name, value in ClientStats().snapshot().items():
            setattr(self, name, value)
        return before


@dataclass(frozen=True)
class Me:
    """``GET /me``: who a token belongs to (a user for SSO tokens, a district for district ones)."""

    type: str
    id: str
    district: str | None
    authorized_by: str | None
    raw: dict


def _setting(name: str, default: Any = None) -> Any:
    return getattr(settings, name, default)


def _given(value: Any, name: str, default: Any) -> Any:
    """``value`` when the caller passed one (not ``None``), else the setting (or ``default``)."""
    return value if value is not None else _setting(name, default)


class CleverClient:
    """Talks to Clever (or the local sandbox) over one ``requests.Session``.

    ``token`` is the bearer token for the Data API, Events and LMS Connect (a district-app token,
    or an SSO token for ``me``/single records); OAuth calls use the app's client credentials.
    """

    def __init__(
        self,
        token: str | None = None,
        *,
        client_id: str | None = None,
        client_secret: str | None = None,
        redirect_uri: str | None = None,
        oauth_base: str | None = None,
        api_base: str | None = None,
        api_version: str | None = None,
        page_size: int | None = None,
        sections_page_size: int | None = None,
        timeout: float | None = None,
        lms_timeout: float | None = None,
        max_retries: int | None = None,
        backoff_base: float | None = None,
        backoff_cap: float | None = None,
        rate_limit_max_wait: float | None = None,
        http_adapter: Any = _UNSET,
        session: requests.Session | None = None,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
        rng: random.Random | None = None,
        on_wait: Callable[[float, str], None] | None = None,
        rate_budget: Any = _UNSET,
    ):
        self._token = token
        self.client_id = _given(client_id, "CLEVER_CLIENT_ID", "")
        self._client_secret = _given(client_secret, "CLEVER_CLIENT_SECRET", "")
        self.redirect_uri = _given(redirect_uri, "CLEVER_REDIRECT_URI", "")
        self.oauth_base = (oauth_base or _setting("CLEVER_OAUTH_BASE", "https://clever.com")).rstrip("/")
        self.api_base = (api_base or _setting("CLEVER_API_BASE", "https://api.clever.com")).rstrip("/")
        self.api_version = api_version or _setting("CLEVER_API_VERSION", "v3.1")
        if self.api_version not in API_VERSIONS:
            raise ValueError(f"api_version must be one of {API_VERSIONS}, not {self.api_version!r}")
        self.page_size = check_page_size(_given(page_size, "CLEVER_PAGE_SIZE", MAX_PAGE_SIZE))
        # A section carries its whole enrollment lists (about 120 student IDs in the generated
        # districts): a page of 10,000 sections parses to over a million strings, ten times a
        # page of users. Sections come in smaller pages, so that a sync's memory follows the
        # page size and not how many sections a district has (docs/performance.md).
        self.sections_page_size = min(
            self.page_size,
            check_page_size(_given(sections_page_size, "CLEVER_SECTIONS_PAGE_SIZE", SECTIONS_PAGE_SIZE)),
        )
        self.timeout = float(_given(timeout, "CLEVER_TIMEOUT", 30.0))
        self.lms_timeout = float(_given(lms_timeout, "CLEVER_LMS_TIMEOUT", 60.0))
        self.max_retries = int(_given(max_retries, "CLEVER_MAX_RETRIES", 5))
        if self.max_retries < 0:
            raise ValueError("max_retries cannot be negative")
        self.backoff_base = float(_given(backoff_base, "CLEVER_BACKOFF_BASE", 1.0))
        self.backoff_cap = float(_given(backoff_cap, "CLEVER_BACKOFF_CAP", 60.0))
        self.rate_limit_max_wait = float(_given(rate_limit_max_wait, "CLEVER_RATE_LIMIT_MAX_WAIT", 120.0))
        self.clock = clock
        self.sleep = sleep
        self.on_wait = on_wait
        # The token's rate-limit budget shared with other processes (None: this client alone).
        self.rate_budget: shared_budget.SharedBudget | None = (
            shared_budget.from_settings() if rate_budget is _UNSET else rate_budget
        )
        self._random = rng or random.Random()
        self.stats = ClientStats()
        # When an answer said the rate-limit window is used up: send nothing before this.
        self._hold_until: float | None = None

        self._owns_session = session is None
        self.session = session or requests.Session()
        if self._owns_session:
            if http_adapter is _UNSET:
                http_adapter = _setting("CLEVER_HTTP_ADAPTER", "")
            self._prepare_session(http_adapter)

    def _prepare_session(self, http_adapter: Any) -> None:
        """Headers of a session this client owns, and the transport adapter on both bases."""
        self.session.headers["User-Agent"] = USER_AGENT
        self.session.headers["Accept"] = "application/json"
        adapter = self._make_adapter(http_adapter)
        if adapter is not None:
            for base in dict.fromkeys((self.oauth_base, self.api_base)):
                self.session.mount(base + "/", adapter)

    @staticmethod
    def _make_adapter(spec: Any) -> requests.adapters.BaseAdapter | None:
        if not spec:
            return None
        if isinstance(spec, str):
            spec = import_string(spec)
        return spec() if isinstance(spec, type) else spec

    def __repr__(self) -> str:
        token = "set" if self._token else "none"
        return f"<CleverClient api={self.api_base}/{self.api_version} oauth={self.oauth_base} token={token}>"

    # --- lifecycle -----------------------------------------------------------------------------

    def with_token(self, token: str | None) -> CleverClient:
        """The same client (settings, session, clock) for another bearer token, fresh stats."""
        other = copy.copy(self)
        other._token = token
        other.stats = ClientStats()
        other._hold_until = None
        other._owns_session = False
        return other

    def close(self) -> None:
        if self._owns_session:
            self.session.close()

    def __enter__(self) -> CleverClient:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    # --- OAuth ---------------------------------------------------------------------------------

    def authorize_url(
        self,
        *,
        state: str | None = None,
        district_id: str | None = None,
        redirect_uri: str | None = None,
        nonce: str | None = None,
    ) -> str:
        """The "Log in with Clever" URL: ``{oauth}/oauth/authorize?response_type=code&client_id=
        &redirect_uri=[&state=][&district_id=][&nonce=]``."""
        params = oauth.authorize_params(
            client_id=self.client_id,
            redirect_uri=redirect_uri or self.redirect_uri,
            state=state,
            district_id=district_id,
            nonce=nonce,
        )
        return oauth.build_url(self.oauth_base, oauth.AUTHORIZE_PATH, params)

    def instant_login_url(self, *, district_id: str) -> str:
        """An Instant Login link for a district (the user comes back with a code, no state)."""
        if not district_id:
            raise ValueError("an Instant Login link needs a district_id")
        params = [("client_id", self.client_id), ("district_id", district_id)]
        return oauth.build_url(self.oauth_base, oauth.INSTANT_LOGIN_PATH, params)

    def exchange_code(self, code: str, *, redirect_uri: str | None = None) -> oauth.TokenResponse:
        """Exchange an authorization code for an access token (once: a second time raises
        :class:`~clever.errors.InvalidGrant`). Retried on 5xx: if the first try did use the code,
        the retry fails with InvalidGrant, which is what the login would have got anyway."""
        if not code:
            raise ValueError("no authorization code to exchange")
        body = {
            "code": code,
            "grant_type": "authorization_code",
            "redirect_uri": redirect_uri or self.redirect_uri,
        }
        url = self.oauth_base + oauth.TOKENS_PATH
        response = self._send("POST", url, auth="basic", json_body=body)
        path = urlsplit(url).path
        return oauth.parse_token_response(self._decode(response, "POST", path), method="POST", path=path)

    def list_district_tokens(self, *, district_id: str | None = None) -> list[oauth.DistrictToken]:
        """Every district that shared data with the app (``GET /oauth/tokens?owner_type=district``),
        or just one with ``district_id``."""
        params: dict[str, Any] = {"owner_type": "district"}
        if district_id:
            params["district"] = district_id
        tokens: list[oauth.DistrictToken] = []
        index = 0
        for page in self._iter_list(self.oauth_base, oauth.TOKENS_PATH, params, wrapped=False, auth="basic"):
            for item in page.records:
                token = oauth.parse_district_token(
                    item, index=index, method="GET", path=urlsplit(page.link).path
                )
                index += 1
                if token is not None:
                    tokens.append(token)
        return tokens

    def get_district_token(self, district_id: str) -> oauth.DistrictToken | None:
        """The district's current token (it may have been rotated), or ``None`` if it has none."""
        if not district_id:
            raise ValueError("district_id is required")
        for token in self.list_district_tokens(district_id=district_id):
            if token.district_id == district_id:
                return token
        return None

    # --- Data API ------------------------------------------------------------------------------

    def get(self, path: str, params: dict[str, Any] | None = None, *, version: str | None = None) -> Any:
        """The decoded JSON of ``GET {api}/{version}/{path}`` (or of a link ``/v3.x/...``)."""
        return self._get_json(self._api_url(path, version), auth="bearer", params=params)

    def get_record(self, collection: str, clever_id: str, *, version: str | None = None) -> dict:
        """One record, e.g. ``get_record("users", id)``: the inner ``data`` object."""
        if not clever_id:
            raise ValueError("clever_id is required")
        path = f"{collection.strip('/')}/{clever_id}"
        url = self._api_url(path, version)
        body = self.get(path, version=version)
        return parse_single(body, method="GET", path=urlsplit(url).path)

    def me(self, *, version: str | None = None) -> Me:
        """``GET /me``: the token's owner (a user for SSO tokens)."""
        url = self._api_url("me", version)
        body = self.get("me", version=version)
        data = parse_single(body, method="GET", path=urlsplit(url).path)
        if not isinstance(data.get("id"), str):
            raise BadResponse('"data" has no "id"', method="GET", url=urlsplit(url).path)
        return Me(
            type=str(body.get("type") or data.get("type") or ""),
            id=data["id"],
            district=data.get("district") if isinstance(data.get("district"), str) else None,
            authorized_by=(data.get("authorized_by") if isinstance(data.get("authorized_by"), str) else None),
            raw=body,
        )

    def userinfo(self) -> dict:
        """``GET {api}/userinfo`` (OpenID Connect, not versioned) with an SSO token: who signed
        in, in the role of this login. The JSON object as Clever sent it."""
        url = f"{self.api_base}/userinfo"
        body = self._get_json(url, auth="bearer")
        if not isinstance(body, dict):
            raise BadResponse(
                "the userinfo answer is not a JSON object", method="GET", url=urlsplit(url).path
            )
        return body

    def json_web_keys(self, url: str) -> dict:
        """Clever's published signing keys (a JWK Set, ``{"keys": [...]}``) from ``url``; no
        credentials are sent."""
        body = self._get_json(url, auth="none")
        if not isinstance(body, dict) or not isinstance(body.get("keys"), list):
            raise BadResponse('the key set has no "keys" list', method="GET", url=urlsplit(url).path)
        return body

    def count(self, collection: str, *, version: str | None = None) -> int:
        """``GET /{collection}?count=true`` (Clever allows no other parameter with it)."""
        url = self._api_url(collection, version)
        body = self.get(collection, {"count": "true"}, version=version)
        value = body.get("count") if isinstance(body, dict) else None
        if not isinstance(value, int) or isinstance(value, bool):
            raise BadResponse('the answer has no integer "count"', method="GET", url=urlsplit(url).path)
        return value

    def iter_pages(
        self,
        path: str,
        params: dict[str, Any] | None = None,
        *,
        page_size: int | None = None,
        version: str | None = None,
    ) -> Iterator[Page]:
        """Every page of a list, following ``links[rel=next]`` until there is none.

        ``path`` is an API path (``"users"``, ``"sections/<id>/users"``) or a link Clever gave
        (``"/v3.0/users?starting_after=<id>"``, e.g. a stored ``Page.next_link``: the sync resumes
        there). ``page_size`` (default ``default_page_size(path)``) goes up to 10,000; more is
        refused with ValueError before any request.
        """
        params = dict(params or {})
        if "limit" in params:
            params["limit"] = check_page_size(params["limit"])
        elif page_size is not None or not is_link(path) or "limit=" not in path:
            size = page_size if page_size is not None else self.default_page_size(path)
            params["limit"] = check_page_size(size)
        url = self._api_url(path, version)
        yield from self._iter_list(
            self.api_base, relative_link(self.api_base, url), params, wrapped=True, auth="bearer"
        )

    def default_page_size(self, path: str) -> int:
        """The page size of a list when none is given: ``sections_page_size`` for sections
        (every list of them: a district's, a school's...), ``page_size`` for the others."""
        collection = urlsplit(path).path.rstrip("/").rsplit("/", 1)[-1]
        return self.sections_page_size if collection == "sections" else self.page_size

    def iter_records(
        self,
        path: str,
        params: dict[str, Any] | None = None,
        *,
        page_size: int | None = None,
        version: str | None = None,
    ) -> Iterator[dict]:
        """Every record of a list (the inner ``data`` of each item), page by page."""
        for page in self.iter_pages(path, params, page_size=page_size, version=version):
            yield from page.records

    # --- Events --------------------------------------------------------------------------------

    def iter_event_pages(
        self,
        *,
        starting_after: str | None = None,
        record_types: list[str] | tuple[str, ...] | None = None,
        school: str | None = None,
        page_size: int | None = None,
        version: str | None = None,
    ) -> Iterator[Page]:
        """Pages of events after the cursor ``starting_after``, oldest first.

        Each record is an event ``{"id", "created", "type", "data": {"object",
        "previous_attributes"?}}``; the last event's ``id`` is the next cursor.
        """
        params: dict[str, Any] = {}
        if starting_after:
            params["starting_after"] = starting_after
        if record_types:
            params["record_type"] = list(record_types)
        if school:
            params["school"] = school
        yield from self.iter_pages("events", params, page_size=page_size, version=version)

    def iter_events(self, **kwargs) -> Iterator[dict]:
        """Every event after a cursor (see ``iter_event_pages`` for the arguments)."""
        for page in self.iter_event_pages(**kwargs):
            yield from page.records

    def get_event(self, event_id: str, *, version: str | None = None) -> dict:
        return self.get_record("events", event_id, version=version)

    def latest_event_id(self, *, version: str | None = None) -> str | None:
        """The newest event's id (``ending_before=last&limit=1``), ``None`` when there is none:
        remember it before a full sync, then continue the events from it."""
        url = self._api_url("events", version)
        path = urlsplit(url).path
        body = self.get("events", {"ending_before": "last", "limit": 1}, version=version)
        records, _ = parse_list(body, wrapped=True, method="GET", path=path)
        self.stats.pages += 1
        if not records:
            return None
        event_id = records[-1].get("id")
        if not isinstance(event_id, str) or not event_id:
            raise BadResponse('the newest event has no "id"', method="GET", url=path)
        return event_id

    # --- LMS Connect (v3.1 only) ---------------------------------------------------------------

    def _lms_path(
        self,
        section_id: str,
        assignment_id: str | None = None,
        user_id: str | None = None,
        *,
        submissions: bool = False,
    ) -> str:
        if not section_id:
            raise ValueError("section_id is required")
        path = f"/{LMS_VERSION}/sections/{section_id}/assignments"
        if assignment_id is not None:
            if not assignment_id:
                raise ValueError("assignment_id is required")
            path += f"/{assignment_id}"
        if submissions or user_id is not None:
            path += "/submissions"
        if user_id is not None:
            if not user_id:
                raise ValueError("user_id is required")
            path += f"/{user_id}"
        return path

    def _lms_send(
        self, method: str, path: str, *, json_body: Any = None, idempotent: bool = True
    ) -> tuple[requests.Response, str]:
        """Send an LMS Connect call; the answer and the path it went to."""
        url = join_link(self.api_base, path)
        timeout = self.timeout if method == "GET" else self.lms_timeout
        response = self._send(
            method, url, auth="bearer", json_body=json_body, timeout=timeout, idempotent=idempotent
        )
        return response, urlsplit(url).path

    def _lms_call(self, method: str, path: str, *, json_body: Any = None, idempotent: bool = True) -> dict:
        response, url_path = self._lms_send(method, path, json_body=json_body, idempotent=idempotent)
        return parse_single(self._decode(response, method, url_path), method=method, path=url_path)

    def create_assignment(self, section_id: str, assignment: dict) -> dict:
        """``POST /v3.1/sections/{id}/assignments``: the created assignment (store its ``id``:
        Clever has no way to list them). Not retried after a 5xx or a lost answer, as a retry
        could create it twice."""
        return self._lms_call("POST", self._lms_path(section_id), json_body=assignment, idempotent=False)

    def get_assignment(self, section_id: str, assignment_id: str) -> dict:
        return self._lms_call("GET", self._lms_path(section_id, assignment_id))

    def update_assignment(self, section_id: str, assignment_id: str, changes: dict) -> dict:
        return self._lms_call("PATCH", self._lms_path(section_id, assignment_id), json_body=changes)

    def delete_assignment(self, section_id: str, assignment_id: str) -> None:
        self._lms_send("DELETE", self._lms_path(section_id, assignment_id))

    def iter_submission_pages(
        self, section_id: str, assignment_id: str, *, page_size: int | None = None
    ) -> Iterator[Page]:
        """Pages of an assignment's submissions, following the ``cursor`` next link (valid 2 h).
        LMS lists are not wrapped: each record is a submission itself."""
        params: dict[str, Any] = {}
        if page_size is not None:
            params["limit"] = check_page_size(page_size, maximum=MAX_LMS_PAGE_SIZE)
        path = self._lms_path(section_id, assignment_id, submissions=True)
        yield from self._iter_list(self.api_base, path, params, wrapped=False, auth="bearer")

    def iter_submissions(
        self, section_id: str, assignment_id: str, *, page_size: int | None = None
    ) -> Iterator[dict]:
        for page in self.iter_submission_pages(section_id, assignment_id, page_size=page_size):
            yield from page.records

    def get_submission(self, section_id: str, assignment_id: str, user_id: str) -> dict:
        return self._lms_call("GET", self._lms_path(section_id, assignment_id, user_id))

    def update_submission(self, section_id: str, assignment_id: str, user_id: str, changes: dict) -> dict:
        return self._lms_call("PATCH", self._lms_path(section_id, assignment_id, user_id), json_body=changes)

    # --- plumbing ------------------------------------------------------------------------------

    def _api_url(self, path: str, version: str | None) -> str:
        if path.startswith(("http://", "https://")) or is_link(path):
            return join_link(self.api_base, path)
        base_path = urlsplit(self.api_base).path.rstrip("/")
        if base_path and path.startswith(base_path + "/"):
            return join_link(self.api_base, path)
        version = version or self.api_version
        if version not in API_VERSIONS:
            raise ValueError(f"version must be one of {API_VERSIONS}, not {version!r}")
        return f"{self.api_base}/{version}/{path.strip('/')}"

    def _iter_list(
        self, base: str, link: str | None, params: dict[str, Any], *, wrapped: bool, auth: str
    ) -> Iterator[Page]:
        """Follow a list from ``link`` (relative to ``base``) through its ``next`` links.

        Each request follows the link as given, with any of the caller's parameters (limit,
        role...) that the link lacks put back; the cursor in the link always wins.
        """
        seen: set[str] = set()
        number = 0
        while link:
            try:
                url = keep_params(join_link(base, link), params)
            except ValueError as exc:
                raise BadResponse(str(exc), method="GET", url=urlsplit(link).path) from None
            path = urlsplit(url).path
            if url in seen:
                raise BadResponse(
                    "the next link repeats a page already fetched (a paging loop)", method="GET", url=path
                )
            seen.add(url)
            body = self._get_json(url, auth=auth)
            records, next_link = parse_list(body, wrapped=wrapped, method="GET", path=path)
            number += 1
            self.stats.pages += 1
            if next_link is not None and not records:
                # Clever may offer a next link after an empty page; there is nothing after it.
                next_link = None
            page = Page(records=records, link=relative_link(base, url), next_link=next_link, number=number)
            # Nothing of this page stays referenced from here while the next one is fetched: a
            # caller that lets go of a page before asking for the next holds one page, not two.
            del body, records
            yield page
            del page
            link = next_link

    # Long on purpose: one retry loop whose branches share the attempt count, timing and request.
    def _send(
        self,
        method: str,
        url: str,
        *,
        auth: str,
        params: Any = None,
        json_body: Any = None,
        timeout: float | None = None,
        idempotent: bool = True,
    ) -> requests.Response:
        """Send with the retry policy; a 2xx answer, or the typed error."""
        path = urlsplit(url).path
        headers, basic = self._credentials(auth)
        attempt = 0
        waited_429 = False  # a retry after a 429 was waited out already: no second wait
        while True:
            self._wait_for_known_reset(method, path)
            if not waited_429:
                self._take_budget(auth, method, path)
            waited_429 = False
            self.stats.requests += 1
            started = time.perf_counter()
            try:
                response = self.session.request(
                    method,
                    url,
                    params=params,
                    json=json_body,
                    headers=headers,
                    auth=basic,
                    timeout=timeout or self.timeout,
                    allow_redirects=False,
                )
            except _TRANSIENT as exc:
                elapsed = time.perf_counter() - started
                # A connect timeout never reached Clever: safe to repeat even a create.
                may_retry = idempotent or isinstance(exc, requests.ConnectTimeout)
                logger.warning(
                    "clever %s %s failed: %s after %.3fs (attempt %d)",
                    method,
                    path,
                    type(exc).__name__,
                    elapsed,
                    attempt + 1,
                    extra={"clever_method": method, "clever_path": path, "clever_status": None},
                )
                if not may_retry or attempt >= self.max_retries:
                    raise ConnectionFailed(
                        f"{type(exc).__name__} after {attempt + 1} attempt(s)",
                        method=method,
                        url=path,
                    ) from exc
                self._backoff(attempt, method, path)
                attempt += 1
                self.stats.retries += 1
                continue

            elapsed = time.perf_counter() - started
            status = response.status_code
            self.stats.bytes_received += len(response.content or b"")
            logger.info(
                "clever %s %s %d %.3fs",
                method,
                path,
                status,
                elapsed,
                extra={
                    "clever_method": method,
                    "clever_path": path,
                    "clever_status": status,
                    "clever_duration": round(elapsed, 4),
                },
            )
            if status != 429:
                self._note_rate_limit(response, auth)
            if 200 <= status < 300:
                return response
            if status == 429:
                self.stats.rate_limited += 1
                reset_at = _reset_header(response)
                self._share_rate_limited(response, auth, reset_at)
                if attempt >= self.max_retries:
                    raise RateLimited(
                        f"still rate limited after {attempt + 1} attempt(s)",
                        reset_at=reset_at,
                        status=429,
                        method=method,
                        url=path,
                        body=_text(response),
                    )
                self._wait_rate_limit(reset_at, _retry_after(response), attempt, method, path)
                waited_429 = True
                attempt += 1
                self.stats.retries += 1
                continue
            if status >= 500 and status != 501 and idempotent and attempt < self.max_retries:
                self._backoff(attempt, method, path, status=status)
                attempt += 1
                self.stats.retries += 1
                continue
            raise self._error(response, method, path, attempts=attempt + 1, oauth_endpoint=auth == "basic")

    def _credentials(self, auth: str) -> tuple[dict[str, str], tuple[str, str] | None]:
        """The headers and basic-auth pair of a call: ``bearer`` (the token), ``basic`` (the app's
        client credentials, for OAuth) or neither."""
        if auth == "bearer":
            if not self._token:
                raise ValueError("this client has no bearer token (pass token=...)")
            return {"Authorization": f"Bearer {self._token}"}, None
        if auth == "basic":
            if not self.client_id or not self._client_secret:
                raise ValueError("the Clever client ID and secret are not configured")
            return {}, (self.client_id, self._client_secret)
        return {}, None

    # --- rate limits and backoff ---------------------------------------------------------------

    def _note_rate_limit(self, response: requests.Response, auth: str = "") -> None:
        remaining = response.headers.get("X-Ratelimit-Remaining")
        reset_at = _reset_header(response)
        if remaining is not None and reset_at is not None and remaining.strip() == "0":
            self._hold_until = reset_at + RATE_LIMIT_MARGIN
        else:
            self._hold_until = None
        shared = self._shared(auth)
        limit = _int_header(response, "X-Ratelimit-Limit")
        left = _int_header(response, "X-Ratelimit-Remaining")
        if shared is not None and limit is not None and left is not None and reset_at is not None:
            budget, token = shared
            budget.observe(token, self.clock(), limit=limit, remaining=left, reset_at=reset_at)

    def _shared(self, auth: str) -> tuple[shared_budget.SharedBudget, str] | None:
        """The shared budget and the token this call counts against (``None``: not shared)."""
        if self.rate_budget is None or auth != "bearer" or not self._token:
            return None
        return self.rate_budget, self._token

    def _take_budget(self, auth: str, method: str, path: str) -> None:
        """One request from the token's shared budget: when other processes used up the window,
        or one of them met a 429, wait for the reset (at most ``max_retries + 1`` waits, then
        send anyway: a 429 is still waited out as ever)."""
        shared = self._shared(auth)
        if shared is None:
            return
        budget, token = shared
        for _ in range(self.max_retries + 1):
            until = budget.take(token, self.clock())
            if until is None:
                return
            wait = min(max(until - self.clock(), 0.0) + RATE_LIMIT_MARGIN, self.rate_limit_max_wait)
            logger.info(
                "clever rate limit window used up (shared with other workers); waiting %.1fs before %s %s",
                wait,
                method,
                path,
            )
            self._pause(wait, "rate_limit")
        logger.warning(
            "clever %s %s: the shared rate-limit budget is still used up; sending anyway", method, path
        )

    def _share_rate_limited(self, response: requests.Response, auth: str, reset_at: float | None) -> None:
        """A 429: every process on the token waits until the reset (or ``Retry-After``)."""
        shared = self._shared(auth)
        if shared is None:
            return
        budget, token = shared
        until = reset_at
        if until is None:
            retry_after = _retry_after(response)
            until = None if retry_after is None else self.clock() + retry_after
        if until is not None:
            budget.block(token, until, limit=_int_header(response, "X-Ratelimit-Limit"))

    def _wait_for_known_reset(self, method: str, path: str) -> None:
        """The last answer used up the window: sleep until it resets instead of earning a 429."""
        if self._hold_until is None:
            return
        wait = min(self._hold_until - self.clock(), self.rate_limit_max_wait)
        self._hold_until = None
        if wait > 0:
            logger.info("clever rate limit window used up; waiting %.1fs before %s %s", wait, method, path)
            self._pause(wait, "rate_limit")

    def _wait_rate_limit(
        self,
        reset_at: float | None,
        retry_after: float | None,
        attempt: int,
        method: str,
        path: str,
    ) -> None:
        if reset_at is not None:
            wait = max(reset_at - self.clock(), 0.0) + RATE_LIMIT_MARGIN
        elif retry_after is not None:
            wait = retry_after
        else:
            # No reset header: back off as for a server error, but never hammer.
            wait = max(self._backoff_delay(attempt), 1.0)
        wait = min(wait, self.rate_limit_max_wait)
        logger.warning(
            "clever %s %s rate limited (429); waiting %.1fs (attempt %d)", method, path, wait, attempt + 1
        )
        self._pause(wait, "rate_limit")

    def _backoff_delay(self, attempt: int) -> float:
        ceiling = min(self.backoff_cap, self.backoff_base * (2 ** min(attempt, 32)))
        return self._random.uniform(0, ceiling)

    def _backoff(
        self, attempt: int, method: str, path: str, *, status: int | None = None, problem: str = ""
    ) -> None:
        delay = self._backoff_delay(attempt)
        what = problem or (f"answered {status}" if status else "got no answer")
        logger.warning(
            "clever %s %s %s; retrying in %.2fs (attempt %d of %d)",
            method,
            path,
            what,
            delay,
            attempt + 1,
            self.max_retries + 1,
        )
        reason = "unreadable" if problem else ("server_error" if status else "no_answer")
        self._pause(delay, reason)

    def _pause(self, seconds: float, reason: str) -> None:
        if self.on_wait is not None:
            self.on_wait(seconds, reason)
        self.stats.seconds_waited += seconds
        self.sleep(seconds)

    # --- answers -------------------------------------------------------------------------------

    def _get_json(self, url: str, *, auth: str, params: Any = None) -> Any:
        """``GET`` and decode; a body that is not JSON, or JSON cut short, is fetched again like
        a 5xx (bounded by ``max_retries``, with backoff): reading is safe to repeat, and the
        next answer is usually whole."""
        path = urlsplit(url).path
        attempt = 0
        while True:
            response = self._send("GET", url, auth=auth, params=params)
            try:
                return self._decode(response, "GET", path)
            except UnreadableAnswer:
                if attempt >= self.max_retries:
                    raise
                self._backoff(attempt, "GET", path, problem="answered something that is not whole JSON")
                attempt += 1
                self.stats.retries += 1

    def _decode(self, response: requests.Response, method: str, path: str) -> Any:
        """The JSON of a 2xx answer, or UnreadableAnswer naming the URL and what was wrong."""
        problem = _not_json(response)
        # A 2xx body may hold tokens or student data: it is never copied into the error.
        if problem:
            raise UnreadableAnswer(
                f"expected JSON, got {problem}", status=response.status_code, method=method, url=path
            )
        try:
            return json.loads(response.content)
        except ValueError as exc:
            detail = getattr(exc, "msg", str(exc))
            position = getattr(exc, "pos", None)
            where = f" at character {position}" if position is not None else ""
            raise UnreadableAnswer(
                f"malformed JSON ({detail}{where}; {len(response.content)} bytes)",
                status=response.status_code,
                method=method,
                url=path,
            ) from None

    def _error(
        self,
        response: requests.Response,
        method: str,
        path: str,
        *,
        attempts: int,
        oauth_endpoint: bool,
    ) -> CleverError:
        status = response.status_code
        text = _text(response)
        problem = _not_json(response)
        body: Any = None
        if not problem:
            try:
                body = json.loads(response.content)
            except ValueError:
                problem = "malformed JSON"
        if body is not None and oauth_endpoint:
            error = oauth.oauth_error(status, body, method=method, path=path, text=text)
            if error is not None:
                return error
        message = _message(body) or (f"{problem} instead of JSON" if problem else "")
        if 300 <= status < 400:
            location = urlsplit(response.headers.get("Location", "")).path
            return BadResponse(
                f"unexpected redirect ({status}) to {location or '?'}",
                status=status,
                method=method,
                url=path,
                body=text,
            )
        if status >= 500 and status != 501:
            if attempts > 1:
                message = f"{message} (after {attempts} attempts)".strip()
            cls: type[CleverError] = HtmlServerError if problem == "an HTML page" else ServerError
            return cls(message, status=status, method=method, url=path, body=text)
        cls = _STATUS_ERRORS.get(status, CleverError)
        return cls(message, status=status, method=method, url=path, body=text)


def _reset_header(response: requests.Response) -> float | None:
    value = response.headers.get("X-Ratelimit-Reset")
    if not value:
        return None
    try:
        return float(value)
    except ValueError:
        return None


def _int_header(response: requests.Response, name: str) -> int | None:
    try:
        return int(response.headers.get(name, "").strip())
    except ValueError:
        return None


def _retry_after(response: requests.Response) -> float | None:
    """``Retry-After`` in seconds (Clever documents only X-Ratelimit-Reset; honoured if sent)."""
    value = response.headers.get("Retry-After", "").strip()
    try:
        seconds = float(value)
    except ValueError:
        return None
    return seconds if seconds >= 0 else None


def _not_json(response: requests.Response) -> str:
    """Why a body is not JSON ("an HTML page", "an empty body"), or "" when it may be."""
    content = response.content or b""
    content_type = response.headers.get("Content-Type", "").lower()
    head = content[:64].lstrip().lower()
    if "html" in content_type or head.startswith((b"<!doctype", b"<html", b"<")):
        return "an HTML page"
    if not content.strip():
        return "an empty body"
    return ""


def _text(response: requests.Response) -> str:
    return (response.content or b"")[:500].decode("utf-8", "replace")


def _message(body: Any) -> str:
    if not isinstance(body, dict):
        return ""
    for key in ("message", "error_description", "error"):
        value = body.get(key)
        if isinstance(value, str) and value:
            return value
    return ""
