"""Clever's list envelopes and links, as pure functions (no I/O).

A Data API list is ``{"data": [{"data": {...record...}, "uri": ...}], "links": [{"rel", "uri"}]}``
(each item wrapped); an LMS Connect submissions list is ``{"data": [{...}], "links": [...]}``
(items not wrapped, ``links`` left out when empty). A ``next`` link is relative to the API base
(``/v3.0/users?starting_after=<id>``) and is followed as given.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from .errors import BadResponse

MAX_PAGE_SIZE = 10_000  # Clever answers 413 above this
SECTIONS_PAGE_SIZE = 1_000  # the default for sections, which carry their enrollments
MAX_LMS_PAGE_SIZE = 100  # LMS Connect submissions: limit 1..100

_VERSION_PREFIX = re.compile(r"^/?v\d+(\.\d+)?(/|$)")


@dataclass(frozen=True)
class Page:
    """One page of a list.

    ``link`` is what fetched it and ``next_link`` what fetches the next one (``None`` on the last
    page), both relative to the API base as Clever writes them: store ``next_link`` as a
    checkpoint and pass it back to ``iter_pages`` to resume.
    """

    records: list[dict]
    link: str
    next_link: str | None
    number: int

    def __len__(self) -> int:
        return len(self.records)


def check_page_size(value: Any, *, maximum: int = MAX_PAGE_SIZE) -> int:
    """A page size Clever accepts, or ValueError before any request is made."""
    if isinstance(value, int) and not isinstance(value, bool):
        size = value
    elif isinstance(value, str) and value.strip().isdigit():
        size = int(value)
    else:
        raise ValueError(f"page size must be an integer from 1 to {maximum:,}, not {value!r}")
    if not 1 <= size <= maximum:
        raise ValueError(f"page size {size:,} is out of range: Clever allows 1 to {maximum:,} here")
    return size


def is_link(path: str) -> bool:
    """A versioned link as Clever writes it (``/v3.0/...``) rather than a bare API path."""
    return bool(_VERSION_PREFIX.match(path))


def join_link(base: str, link: str) -> str:
    """The absolute URL of ``link`` (a path relative to ``base``, as Clever writes links).

    Absolute links are accepted only under ``base``: a bearer token is never sent anywhere else.
    A link that already carries ``base``'s own path (``/sandbox/v3.0/...`` under
    ``http://host/sandbox``) is joined to the origin instead of doubling the prefix.
    """
    base = base.rstrip("/")
    if link.startswith(("http://", "https://")):
        if link == base or link.startswith(base + "/"):
            return link
        raise ValueError(f"link {urlsplit(link).path!r} is not under {base!r}")
    if not link.startswith("/"):
        link = "/" + link
    parts = urlsplit(base)
    base_path = parts.path.rstrip("/")
    if base_path and (link == base_path or link.startswith(base_path + "/")):
        return urlunsplit((parts.scheme, parts.netloc, "", "", "")) + link
    return base + link


def relative_link(base: str, url: str) -> str:
    """The inverse of ``join_link``: ``url`` as a link relative to ``base``."""
    base = base.rstrip("/")
    if url.startswith(base + "/"):
        return url[len(base) :]
    return url


def keep_params(link: str, params: dict[str, Any] | None) -> str:
    """``link`` with every original query parameter it dropped put back (the cursor it carries
    wins). Whether Clever's ``next`` links keep ``limit``/``role`` is not documented; without
    this a dropped ``limit`` would silently fall back to pages of 100.
    """
    if not params:
        return link
    parts = urlsplit(link)
    query = parse_qsl(parts.query, keep_blank_values=True)
    present = {key for key, _ in query}
    for key, value in params.items():
        if key in present or value is None:
            continue
        values = value if isinstance(value, (list, tuple)) else [value]
        query.extend((key, _query_value(v)) for v in values)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(query), parts.fragment))


def _query_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _next_link(body: dict, *, method: str, path: str) -> str | None:
    links = body.get("links")
    if links is None:
        return None
    if not isinstance(links, list):
        raise BadResponse(f'"links" is a {type(links).__name__}, not a list', method=method, url=path)
    for link in links:
        if not isinstance(link, dict):
            raise BadResponse('an entry of "links" is not an object', method=method, url=path)
        if link.get("rel") == "next":
            uri = link.get("uri")
            if not isinstance(uri, str) or not uri:
                raise BadResponse('the "next" link has no "uri"', method=method, url=path)
            return uri
    return None


def _data(body: Any, *, what: str, method: str, path: str) -> Any:
    """``body["data"]``, or BadResponse when ``body`` is not a JSON object that has one (``what``
    names the answer in the message: "the list", "the answer")."""
    if not isinstance(body, dict):
        raise BadResponse(
            f'expected a JSON object with "data", got a {type(body).__name__}', method=method, url=path
        )
    if "data" not in body:
        raise BadResponse(f'{what} has no "data"', method=method, url=path)
    return body["data"]


def parse_list(body: Any, *, wrapped: bool, method: str, path: str) -> tuple[list[dict], str | None]:
    """The records and the ``next`` link of one list page, or BadResponse saying what is wrong.

    ``wrapped``: items are ``{"data": record}`` (Data API, Events, ``/oauth/tokens`` is not) or
    bare records (LMS Connect submissions).
    """
    items = _data(body, what="the list", method=method, path=path)
    if not isinstance(items, list):
        raise BadResponse(f'"data" is a {type(items).__name__}, not a list', method=method, url=path)
    records: list[dict] = []
    for index, item in enumerate(items):
        if not isinstance(item, dict):
            raise BadResponse(
                f'item {index} of "data" is a {type(item).__name__}, not an object', method=method, url=path
            )
        if wrapped:
            if "data" not in item:
                raise BadResponse(f'item {index} of "data" has no "data"', method=method, url=path)
            record = item["data"]
            if not isinstance(record, dict):
                raise BadResponse(
                    f'item {index} of "data" has a "data" that is a {type(record).__name__}, not an object',
                    method=method,
                    url=path,
                )
            records.append(record)
        else:
            records.append(item)
    return records, _next_link(body, method=method, path=path)


def parse_single(body: Any, *, method: str, path: str) -> dict:
    """The record of a single-record answer ``{"data": {...}, "links": [...]}``."""
    record = _data(body, what="the answer", method=method, path=path)
    if not isinstance(record, dict):
        raise BadResponse(f'"data" is a {type(record).__name__}, not an object', method=method, url=path)
    return record
