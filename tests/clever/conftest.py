"""Fixtures for the Clever client's tests: sandbox districts and clients that never really sleep.

Every client here talks to the local Clever in-process (``settings.CLEVER_HTTP_ADAPTER``) and
is given the ``fake_clock`` (which also drives the sandbox's rate-limit window and code expiry),
so waiting for a rate limit or a backoff only moves that clock. They pace alone unless a test
gives them a shared budget (``test_budget.py``), so these tests mean the same with or without
REDIS_URL.
"""

import random

import pytest
import requests
from requests.adapters import BaseAdapter
from requests.structures import CaseInsensitiveDict

from sandbox import services
from sandbox.ids import new_id
from sandbox.models import RecordType


def student(district_id: str, number: int, school_id: str = "") -> dict:
    """A minimal v3.1 student record with a fresh, ascending Clever ID."""
    return {
        "id": new_id(),
        "district": district_id,
        "email": f"student{number}@example.org",
        "name": {"first": f"Student{number}", "last": "Test", "middle": ""},
        "created": "2024-08-01T00:00:00.000Z",
        "last_modified": "2024-08-01T00:00:00.000Z",
        "roles": {
            "student": {
                "sis_id": str(100000 + number),
                "school": school_id,
                "schools": [school_id] if school_id else [],
                "grade": "5",
                "credentials": {"district_username": f"student{number}"},
            }
        },
    }


def load_students(district, count: int, school_id: str = "") -> list[str]:
    """Bulk load ``count`` students (no events); their IDs in ascending order."""
    users = [student(district.id, n, school_id) for n in range(count)]
    services.bulk_load(district=district, items=[(RecordType.USERS, u) for u in users])
    return [u["id"] for u in users]


@pytest.fixture
def district(db, sandbox_app):
    return services.create_district(name="Springfield Unified")


@pytest.fixture
def district_token(district) -> str:
    return services.district_token(district).access_token


@pytest.fixture
def make_client(fake_clock, make_clever_client):
    """``make_client(token, **overrides)``: a client on the fake clock, seeded jitter, pacing
    alone (no shared rate-limit budget, whatever REDIS_URL says) unless given ``rate_budget``."""

    def build(token=None, **overrides):
        options = {
            "clock": fake_clock,
            "sleep": fake_clock.sleep,
            "rng": random.Random(7),
            "rate_budget": None,
        }
        options.update(overrides)
        return make_clever_client(token, **options)

    return build


@pytest.fixture
def district_client(make_client, district_token):
    """A client with the district's token (named so as not to hide pytest-django's ``client``)."""
    return make_client(district_token)


class StubAdapter(BaseAdapter):
    """A transport answering from a script, for answers the sandbox never gives (a broken
    envelope, a link to another host, a dropped connection).

    ``script`` items are ``(status, body, headers)`` tuples or exceptions to raise; the last one
    repeats. ``sent`` records ``(method, url, timeout)`` per request.
    """

    def __init__(self, script):
        super().__init__()
        self.script = list(script)
        self.sent = []

    def send(self, request, stream=False, timeout=None, verify=True, cert=None, proxies=None):
        self.sent.append((request.method, request.url, timeout))
        step = self.script.pop(0) if len(self.script) > 1 else self.script[0]
        if isinstance(step, BaseException):
            raise step
        status, body, headers = step
        response = requests.Response()
        response.status_code = status
        response.headers = CaseInsensitiveDict({"Content-Type": "application/json", **(headers or {})})
        response._content = body.encode() if isinstance(body, str) else body
        response.url = request.url
        response.request = request
        return response

    def close(self):
        pass


@pytest.fixture
def stub_client(make_client):
    """``stub_client(script, **overrides)``: a client whose transport is a StubAdapter."""

    def build(script, token="stub-token-not-real", **overrides):
        adapter = StubAdapter(script)
        overrides.setdefault("api_base", "https://api.clever.test")
        overrides.setdefault("oauth_base", "https://clever.test")
        client = make_client(token, http_adapter=adapter, **overrides)
        return client, adapter

    return build
