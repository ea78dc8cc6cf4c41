"""The api.clever.com side of the local Clever: the Data API (v3.0, v3.1), Events, ``/me`` and
``/userinfo`` (OpenID Connect, not versioned).

Mounted under ``/sandbox/``: a client's API base is ``.../sandbox``, so paths are
``/sandbox/v3.0/...`` and every ``uri`` this module emits is relative to that base exactly as
Clever's are relative to ``https://api.clever.com`` (``/v3.0/users?limit=100&starting_after=...``).

Views parse parameters and shape envelopes, nothing more; queries and the "may this token see
it" rules live in ``sandbox.selectors``. Every view goes through ``common.api_endpoint``
(bearer auth, rate limit, faults).

Lists are built from stored JSON text: ``(id, body)`` pairs are spliced into the envelope
string, so a page of 10,000 users is never parsed or re-serialized.

Decisions where Clever's behaviour is unknown (its public docs,
https://dev.clever.com/docs/paging-and-limits and https://dev.clever.com/reference/responses-errors,
do not say, e.g. whether ``next`` links keep ``limit`` and ``role``):

- ``next``/``prev`` links keep every query parameter the client sent (``limit``, ``role``...)
  and replace the cursor; an empty page carries neither (it has no id to anchor one on).
- ``count=true`` answers ``{"count": N, "links": [self]}`` and honours ``role``.
- ``limit`` that is not an integer, or below 1, is a 400; above 10,000 a 413.
- ``primary=true`` on ``/schools/{id}/users`` and ``/users/{id}/schools`` is accepted and
  ignored (the sandbox keeps no per-role primary school index).
"""

from urllib.parse import urlencode

from django.http import HttpResponse
from django.urls import path, register_converter, reverse

from .. import oidc, selectors
from ..records import dumps
from ..services import iso
from .common import api_endpoint, error, raw_json

NOT_FOUND = "Resource not found"
EVENTS_DISABLED = "Events are not enabled for this district"
CURSOR_PARAMS = ("starting_after", "ending_before")
RECORD_COLLECTIONS = ("schools", "users", "sections", "terms", "courses", "resources")


class _VersionConverter:
    regex = r"v3\.[01]"

    def to_python(self, value):
        return value

    def to_url(self, value):
        return value


class _CollectionConverter:
    regex = "|".join(RECORD_COLLECTIONS)

    def to_python(self, value):
        return value

    def to_url(self, value):
        return value


register_converter(_VersionConverter, "sbx_api_version")
register_converter(_CollectionConverter, "sbx_api_collection")


class BadRequest(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


# --- helpers: links, parameters, envelopes ------------------------------------------------------


def _api_base() -> str:
    """Where the API is mounted (``/sandbox``); emitted URIs are relative to it."""
    return reverse("sandbox:data-api-me").removesuffix("/me")


def _relative_path(request) -> str:
    base = _api_base()
    return request.path[len(base) :] if request.path.startswith(base) else request.path


def _self_uri(request) -> str:
    query = request.META.get("QUERY_STRING", "")
    return _relative_path(request) + (f"?{query}" if query else "")


def _cursor_uri(request, name: str, value: str) -> str:
    """The request's URI with its cursor replaced (other parameters kept, in order)."""
    params = [(key, item) for key, items in request.GET.lists() if key not in CURSOR_PARAMS for item in items]
    params.append((name, value))
    return f"{_relative_path(request)}?{urlencode(params)}"


def _links(request, page: selectors.Page) -> list[dict]:
    links = [{"rel": "self", "uri": _self_uri(request)}]
    if page.has_next:
        links.append({"rel": "next", "uri": _cursor_uri(request, "starting_after", page.rows[-1][0])})
    if page.has_prev:
        links.append({"rel": "prev", "uri": _cursor_uri(request, "ending_before", page.rows[0][0])})
    return links


def _limit(request) -> int:
    raw = request.GET.get("limit")
    if raw is None or raw == "":
        return selectors.DEFAULT_LIMIT
    try:
        limit = int(raw)
    except ValueError:
        raise BadRequest(400, f"limit must be an integer, not {raw!r}") from None
    if limit < 1:
        raise BadRequest(400, "limit must be at least 1")
    if limit > selectors.MAX_LIMIT:
        raise BadRequest(413, f"Request entity too large: limit may not exceed {selectors.MAX_LIMIT}")
    return limit


def _cursors(request) -> tuple[str | None, str | None]:
    return request.GET.get("starting_after") or None, request.GET.get("ending_before") or None


def _wants_count(request) -> bool:
    return request.GET.get("count", "").lower() == "true"


def _role(request, allowed: set[str]) -> str | None:
    role = request.GET.get("role") or None
    if role is not None and role not in allowed:
        raise BadRequest(400, f"role must be one of {', '.join(sorted(allowed))}")
    return role


def _not_found() -> HttpResponse:
    return error(404, NOT_FOUND)


def _single(request, text: str) -> HttpResponse:
    return raw_json(f'{{"data":{text},"links":{dumps([{"rel": "self", "uri": _self_uri(request)}])}}}')


def _list(request, page: selectors.Page, item_prefix: str) -> HttpResponse:
    """Splice stored record bodies (UTF-8 bytes) into Clever's list envelope.

    Nothing is parsed or re-serialized: one flat list of byte pieces, joined once.
    """
    head, uri, tail = b'{"data":', f',"uri":"{item_prefix}'.encode(), b'"},'
    parts = [b'{"data":[']
    for cid, body in page.rows:
        parts += (head, body, uri, cid.encode(), tail)
    if page.rows:
        parts[-1] = b'"}'
    parts.append(f'],"links":{dumps(_links(request, page))}}}'.encode())
    return raw_json(b"".join(parts))


def _count(request, count: int) -> HttpResponse:
    return raw_json(dumps({"count": count, "links": [{"rel": "self", "uri": _self_uri(request)}]}))


def _record_list(request, version: str, record_type: str, qs) -> HttpResponse:
    """A list (or count) of SandboxRecords: the shared path of every collection endpoint."""
    if _wants_count(request):
        return _count(request, qs.count())
    starting_after, ending_before = _cursors(request)
    page = selectors.record_page(
        qs,
        v30=version == "v3.0",
        limit=_limit(request),
        starting_after=starting_after,
        ending_before=ending_before,
    )
    return _list(request, page, f"/{version}/{record_type}/")


def data_endpoint(view):
    """``api_endpoint`` plus what every Data API view shares: GET only, the token's viewer,
    a disconnected district's token refused, 400/413 from parameter parsing."""

    @api_endpoint
    def wrapper(request, token, *args, **kwargs):
        if request.method not in ("GET", "HEAD"):
            return error(405, f"Method {request.method} not allowed")
        if not token.district.connected:
            return error(401, "Unauthorized: invalid or revoked token")
        try:
            return view(request, selectors.viewer_for(token), *args, **kwargs)
        except BadRequest as exc:
            return error(exc.status, exc.message)

    return wrapper


# --- /me ----------------------------------------------------------------------------------------


@data_endpoint
def me(request, viewer: selectors.Viewer, version: str = "v3.0"):
    """Who the token belongs to: a user (SSO or Library login) or a district (district-app)."""
    district_uri = f"/{version}/districts/{viewer.district_id}"
    if viewer.is_district:
        kind, own_id, canonical = "district", viewer.district_id, district_uri
    else:
        kind, own_id, canonical = "user", viewer.user_id, f"/{version}/users/{viewer.user_id}"
    body = {
        "type": kind,
        "data": {
            "id": own_id,
            "district": viewer.district_id,
            "type": kind,
            "authorized_by": viewer.authorized_by,
        },
        "links": [
            {"rel": "self", "uri": "/me"},
            {"rel": "canonical", "uri": canonical},
            {"rel": "district", "uri": district_uri},
        ],
    }
    return raw_json(dumps(body))


@data_endpoint
def userinfo(request, viewer: selectors.Viewer):
    """OpenID Connect's ``/userinfo``: who a login's token (SSO or Library teacher) belongs to,
    as one flat object. A district-app token stands for nobody: 401, as for a bad token."""
    if viewer.is_district:
        return error(401, "Unauthorized: /userinfo needs a user's token, not a district-app token")
    body = oidc.userinfo(
        user_id=viewer.user_id, district_id=viewer.district_id, authorized_by=viewer.authorized_by
    )
    return raw_json(dumps(body))


# --- districts ----------------------------------------------------------------------------------


@data_endpoint
def district_list(request, viewer: selectors.Viewer, version: str):
    if not selectors.may_list(viewer, "districts"):
        return _not_found()
    district = selectors.get_district(viewer.district_id)
    rows = selectors.district_rows(district, v30=version == "v3.0")
    if _wants_count(request):
        return _count(request, len(rows))
    starting_after, ending_before = _cursors(request)
    page = selectors.page_of_rows(
        rows, limit=_limit(request), starting_after=starting_after, ending_before=ending_before
    )
    return _list(request, page, f"/{version}/districts/")


@data_endpoint
def district_detail(request, viewer: selectors.Viewer, version: str, record_id: str):
    if not selectors.district_visible(viewer, record_id):
        return _not_found()
    district = selectors.get_district(record_id)
    return _single(request, selectors.district_text(district, v30=version == "v3.0"))


# --- schools, users, sections, terms, courses, resources ----------------------------------------


@data_endpoint
def collection(request, viewer: selectors.Viewer, version: str, collection: str):
    if not selectors.may_list(viewer, collection):
        return _not_found()
    qs = selectors.records(viewer, collection)
    if collection == "users":
        qs = selectors.with_role(qs, _role(request, selectors.USER_LIST_ROLES[("users", "")]))
    return _record_list(request, version, collection, qs)


@data_endpoint
def detail(request, viewer: selectors.Viewer, version: str, collection: str, record_id: str):
    text = selectors.record_text(viewer, collection, record_id, v30=version == "v3.0")
    if text is None:
        return _not_found()
    return _single(request, text)


@data_endpoint
def related(request, viewer: selectors.Viewer, version: str, collection: str, record_id: str, relation: str):
    """``/{collection}/{id}/{relation}``: a nested list, or a single related record."""
    v30 = version == "v3.0"
    if relation == "district" or (collection, relation) in selectors.SINGLE_RELATIONS:
        found = selectors.related_record_text(viewer, collection, record_id, relation, v30=v30)
        return _not_found() if found is None else _single(request, found[1])
    allowed_roles = selectors.USER_LIST_ROLES.get((collection, relation))
    role = _role(request, allowed_roles) if allowed_roles else None
    found = selectors.related_records(viewer, collection, record_id, relation, role)
    if found is None:
        return _not_found()
    child_type, qs = found
    return _record_list(request, version, child_type, qs)


# --- events -------------------------------------------------------------------------------------


def _event_item(row: tuple) -> str:
    event_id, created, event_type, body = row
    return f'{{"id":"{event_id}","created":"{iso(created)}","type":"{event_type}","data":{body}}}'


def _events_gate(viewer: selectors.Viewer) -> HttpResponse | None:
    """District tokens only (404 otherwise, as for any endpoint a token may not use), and only
    when the district has events switched on.

    The 403 mirrors Clever's opt-in setting (Settings > Integrations > Enable events): until a
    district's events are enabled there is no feed. Clever's exact answer in that state is
    unknown; the sandbox says so plainly with 403 ``{"message": ...}`` so a client falls back
    to full syncs.
    """
    if not viewer.is_district:
        return _not_found()
    if not selectors.events_enabled(viewer):
        return error(403, EVENTS_DISABLED)
    return None


@data_endpoint
def event_list(request, viewer: selectors.Viewer, version: str):
    """``GET /events``: ascending ids, ``limit``/``starting_after``/``ending_before`` paging,
    ``record_type`` (repeatable) and ``school`` filters, 30-day retention.

    A ``starting_after`` that is not an event the API still serves (unknown, or older than the
    30-day retention) is a 400: answering an empty page would let a client believe it is up to
    date while it has missed events, so the sandbox tells it the cursor is stale and a full
    sync is needed. (What Clever answers here is unknown.)
    """
    gate = _events_gate(viewer)
    if gate is not None:
        return gate
    record_types = [value for raw in request.GET.getlist("record_type") for value in raw.split(",") if value]
    unknown = sorted(set(record_types) - selectors.EVENT_RECORD_TYPES)
    if unknown:
        raise BadRequest(400, f"unknown record_type: {', '.join(unknown)}")
    limit = _limit(request)
    starting_after, ending_before = _cursors(request)
    if starting_after and not selectors.event_is_served(viewer, starting_after):
        raise BadRequest(
            400,
            f"starting_after {starting_after} is not an event the API serves (unknown, or older "
            "than the 30-day retention): the cursor is stale, run a full sync",
        )
    qs = selectors.filtered_events(
        viewer, record_types=record_types, school=request.GET.get("school") or None
    )
    page = selectors.page(
        qs,
        fields=selectors.event_fields(v30=version == "v3.0"),
        limit=limit,
        starting_after=starting_after,
        ending_before=ending_before,
    )
    items = ",".join(
        [f'{{"data":{_event_item(row)},"uri":"/{version}/events/{row[0]}"}}' for row in page.rows]
    )
    return raw_json(f'{{"data":[{items}],"links":{dumps(_links(request, page))}}}')


@data_endpoint
def event_detail(request, viewer: selectors.Viewer, version: str, event_id: str):
    gate = _events_gate(viewer)
    if gate is not None:
        return gate
    row = selectors.event_row(viewer, event_id, v30=version == "v3.0")
    if row is None:
        return _not_found()
    return _single(request, _event_item(row))


V = "<sbx_api_version:version>"
C = "<sbx_api_collection:collection>"

urlpatterns = [
    path("me", me, name="data-api-me"),
    path("userinfo", userinfo, name="data-api-userinfo"),
    path(f"{V}/me", me, name="data-api-me-versioned"),
    path(f"{V}/events", event_list, name="data-api-events"),
    path(f"{V}/events/<str:event_id>", event_detail, name="data-api-event"),
    path(f"{V}/districts", district_list, name="data-api-districts"),
    path(f"{V}/districts/<str:record_id>", district_detail, name="data-api-district"),
    path(f"{V}/{C}", collection, name="data-api-collection"),
    path(f"{V}/{C}/<str:record_id>", detail, name="data-api-detail"),
    path(f"{V}/{C}/<str:record_id>/<str:relation>", related, name="data-api-related"),
]
