"""The request id (config/request_id.py): a safe incoming ``X-Request-ID`` is kept and echoed,
anything else is replaced by a fresh uuid4; the id is known while the request is handled only."""

from __future__ import annotations

import uuid

import pytest
from django.http import HttpResponse
from django.test import RequestFactory

from config.request_id import HEADER, RequestIdMiddleware, current_request_id


def handle(header: str | None) -> tuple[str, str | None]:
    """(the response's X-Request-ID, the id the view saw)."""
    seen: list[str | None] = []

    def view(request):
        seen.append(current_request_id())
        return HttpResponse("ok")

    headers = {} if header is None else {HEADER: header}
    response = RequestIdMiddleware(view)(RequestFactory().get("/", headers=headers))
    return response[HEADER], seen[0]


def is_uuid4(value: str) -> bool:
    try:
        return uuid.UUID(value).version == 4
    except ValueError:
        return False


@pytest.mark.parametrize("incoming", ["abc-123", "9f1c2d3e.req_7", "A" * 64, str(uuid.uuid4())])
def test_a_safe_incoming_id_is_echoed_and_seen_by_the_view(incoming):
    assert handle(incoming) == (incoming, incoming)


@pytest.mark.parametrize(
    "incoming",
    [
        "",
        "A" * 65,
        "has space",
        "<script>alert(1)</script>",
        "Bearer clvtok/abc",
        "jane.doe@example.org",
        "id;drop",
        "é-accent",
    ],
)
def test_an_unsafe_incoming_id_is_replaced_by_a_uuid4(incoming):
    sent, seen = handle(incoming)
    assert sent != incoming and is_uuid4(sent) and seen == sent


def test_without_a_header_each_request_gets_its_own_uuid4():
    first, second = handle(None)[0], handle(None)[0]
    assert is_uuid4(first) and is_uuid4(second) and first != second


def test_the_id_is_forgotten_after_the_request_even_when_the_view_raises():
    def view(request):
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        RequestIdMiddleware(view)(RequestFactory().get("/", headers={HEADER: "abc"}))
    handle("xyz")
    assert current_request_id() is None


def test_the_middleware_is_installed(client, db):
    response = client.get("/", headers={HEADER: "support-ticket-42"})
    assert response[HEADER] == "support-ticket-42"
    assert is_uuid4(client.get("/", headers={HEADER: "no good"})[HEADER])
