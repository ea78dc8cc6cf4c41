"""The shared rate-limit budget (clever/budget.py): one budget per token across processes.

Workers are separate clients (each its own session and its own pacing, as in separate
processes) sharing one Redis budget. Most tests take turns in one thread on the ``fake_clock``
(which also drives the sandbox's rate-limit window), so they are exact and fast; one runs real
threads on the real clock. They need Redis (``REDIS_URL``: skipped locally without it, fatal
under CI=true), except the fallbacks at the end, which need none.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import uuid
from collections import Counter

import pytest
import redis
import requests
from django.test import override_settings
from requests.adapters import BaseAdapter
from requests.structures import CaseInsensitiveDict

from clever import budget as shared_budget
from clever import errors
from clever.budget import SharedBudget, token_key
from clever.client import CleverClient
from districts.models import District
from districts.session import DistrictSession
from lms.services.sessions import district_sessions
from rostering.models import SyncRun
from rostering.services.sync import run_sync
from sandbox.knobs import KNOBS
from tests.conftest import require_service

from .conftest import load_students

LIMIT, WINDOW = 20, 2.0  # the sandbox's limit in these tests: 20 requests per 2 seconds
NO_REDIS = "redis://127.0.0.1:1/0"  # nothing listens there: connection refused at once


@pytest.fixture
def make_budget(redis_url):
    """``make_budget(limit=LIMIT, window=WINDOW)``: a budget on the test Redis, under a prefix of
    its own (its keys are deleted at the end)."""
    budgets = []

    def build(limit: int = LIMIT, window: float = WINDOW) -> SharedBudget:
        prefix = f"test-budget-{uuid.uuid4().hex[:8]}"
        budget = SharedBudget(redis_url, limit=limit, window=window, prefix=prefix)
        try:
            budget.redis.ping()
        except redis.RedisError as exc:
            require_service("Redis", False, f"REDIS_URL does not answer: {type(exc).__name__}")
        budgets.append(budget)
        return budget

    yield build
    for budget in budgets:
        for key in budget.redis.scan_iter(f"{budget.prefix}:*"):
            budget.redis.delete(key)
        budget.redis.close()


@pytest.fixture
def budget(make_budget):
    return make_budget()


@pytest.fixture
def small_limit(sandbox_knobs):
    sandbox_knobs.rate_limit_per_minute = LIMIT
    sandbox_knobs.rate_window_seconds = WINDOW
    return sandbox_knobs


def worker(make_client, token, clock, traffic, **options):
    """A client that records ``(window, status)`` of every answer it gets in ``traffic`` and
    ``(seconds, reason)`` of every wait in ``client.waits``."""
    waits: list[tuple[float, str]] = []
    client = make_client(token, on_wait=lambda seconds, reason: waits.append((seconds, reason)), **options)
    client.waits = waits
    client.session.hooks["response"].append(
        lambda response, *args, **kwargs: traffic.append((int(clock() // WINDOW), response.status_code))
    )
    return client


def read_all(client, into: list):
    """Page through the users five at a time, one page per step (a worker's turn)."""
    for page in client.iter_pages("users", page_size=5):
        into.extend(record["id"] for record in page.records)
        yield


def take_turns(*steps) -> None:
    """Advance each worker one request in turn until all are done."""
    active = list(steps)
    while active:
        for step in list(active):
            try:
                next(step)
            except StopIteration:
                active.remove(step)


# --- workers on one token ------------------------------------------------------------------------


@pytest.mark.redis
def test_two_workers_on_one_token_stay_within_the_limit_and_meet_no_429(
    make_client, district, district_token, budget, fake_clock, small_limit
):
    ids = load_students(district, 150)
    traffic: list[tuple[int, int]] = []
    first = worker(make_client, district_token, fake_clock, traffic, rate_budget=budget)
    second = worker(make_client, district_token, fake_clock, traffic, rate_budget=budget)
    seen_first: list[str] = []
    seen_second: list[str] = []

    take_turns(read_all(first, seen_first), read_all(second, seen_second))

    assert seen_first == ids and seen_second == ids
    assert first.stats.rate_limited == second.stats.rate_limited == 0
    assert {status for _, status in traffic} == {200}
    per_window = Counter(window for window, _ in traffic)
    assert max(per_window.values()) <= LIMIT
    assert first.stats.requests + second.stats.requests == len(traffic) == KNOBS.api_requests
    # More requests than one window holds: they waited for resets, and said so (on_wait).
    assert len(traffic) > 2 * LIMIT
    waits = first.waits + second.waits
    assert waits and {reason for _, reason in waits} == {"rate_limit"}
    assert first.stats.seconds_waited + second.stats.seconds_waited == pytest.approx(
        sum(seconds for seconds, _ in waits)
    )


def test_without_the_shared_budget_the_same_two_workers_meet_429s(
    make_client, district, district_token, fake_clock, small_limit
):
    """The test above means something: alone a worker meets no 429, two pacing alone do."""
    load_students(district, 150)
    traffic: list[tuple[int, int]] = []
    alone = worker(make_client, district_token, fake_clock, traffic)
    take_turns(read_all(alone, []))
    assert alone.stats.rate_limited == 0

    fake_clock.now += 2 * WINDOW
    first = worker(make_client, district_token, fake_clock, traffic)
    second = worker(make_client, district_token, fake_clock, traffic)
    take_turns(read_all(first, []), read_all(second, []))

    assert first.stats.rate_limited + second.stats.rate_limited > 0


@pytest.mark.redis
def test_a_429_met_by_one_worker_makes_the_other_wait(
    make_client, district, district_token, budget, fake_clock
):
    KNOBS.rate_limit_per_minute = 2  # per minute
    # A process without the shared budget uses up the window: the budget cannot know.
    outsider = make_client(district_token)
    outsider.get("users")
    outsider.get("users")
    first = make_client(district_token, rate_budget=budget, max_retries=0)
    with pytest.raises(errors.RateLimited) as caught:
        first.get("users")
    traffic: list[tuple[int, int]] = []

    second = worker(make_client, district_token, fake_clock, traffic, rate_budget=budget)
    second.get("users")

    # It waited for the reset the first one was told, before sending anything.
    assert second.waits == [(pytest.approx(caught.value.reset_at - 1_700_000_000.0 + 0.5), "rate_limit")]
    assert second.stats.rate_limited == 0
    assert second.stats.requests == 1
    assert [status for _, status in traffic] == [200]


@pytest.mark.redis
def test_the_limit_clever_announces_is_learned_and_shared(
    make_client, district, district_token, make_budget, fake_clock
):
    KNOBS.rate_limit_per_minute = 3
    budget = make_budget(limit=1200, window=60.0)  # the default: Clever's 1,200 a minute
    make_client(district_token, rate_budget=budget).get("users")

    # Clever said 3 a window, 1 used: any process may take 2 more, then must wait for the reset.
    answers = [budget.take(district_token, fake_clock.now) for _ in range(3)]

    assert answers[:2] == [None, None]
    reset = int(fake_clock.now // 60 * 60) + 60
    assert answers[2] == pytest.approx(reset)


@pytest.mark.redis
def test_the_budget_is_keyed_by_a_hash_of_the_token_never_the_token(
    make_client, district, district_token, budget, small_limit
):
    client = make_client(district_token, rate_budget=budget)
    client.get("users")
    with pytest.raises(errors.RateLimited):
        # A 429 is shared too (a window of 0): its state is under the same key.
        KNOBS.rate_limit_per_minute = 0
        make_client(district_token, rate_budget=budget, max_retries=0).get("users")

    keys = [key.decode() for key in budget.redis.scan_iter(f"{budget.prefix}:*")]
    digest = hashlib.sha256(district_token.encode()).hexdigest()[:24]
    assert keys == [f"{budget.prefix}:{digest}"] == [token_key(district_token, budget.prefix)]
    state = budget.redis.hgetall(keys[0])
    assert set(state) == {b"limit", b"reset", b"used", b"blocked"}
    everything = b" ".join([*state, *state.values()])
    assert district_token.encode() not in everything
    assert not any(district_token in key.decode() for key in budget.redis.scan_iter())
    assert 0 < budget.redis.ttl(keys[0]) <= budget.ttl


# --- the sync engine and LMS Connect -------------------------------------------------------------


@pytest.mark.redis
def test_a_sync_waits_for_the_shared_budget_and_records_the_wait(
    make_client, district, district_token, budget, fake_clock, small_limit
):
    load_students(district, 40)
    ours = District.objects.create(clever_id=district.id, name=district.name)
    # Another worker on the district's token (an LMS push, say) has used up the window.
    other = make_client(district_token, rate_budget=budget)
    for _ in range(LIMIT):
        other.get("users", {"limit": 1})
    traffic: list[tuple[int, int]] = []
    base = worker(make_client, None, fake_clock, traffic, rate_budget=budget, page_size=10)

    run = run_sync(district=ours, client=base)

    assert run.status == SyncRun.Status.SUCCEEDED, run.error
    assert 429 not in {status for _, status in traffic}
    assert run.seconds_waited > 0
    assert fake_clock.slept  # the engine's on_wait recorded it on the run (seconds_waited)


@pytest.mark.redis
def test_district_sessions_of_syncs_and_lms_connect_share_the_budget(make_client, district, budget):
    ours = District.objects.create(clever_id=district.id, name=district.name)
    base = make_client(rate_budget=budget)

    assert DistrictSession(ours, base).open().rate_budget is budget
    with district_sessions(base) as session_for:
        assert session_for(ours).open().rate_budget is budget


@override_settings(
    REDIS_URL=NO_REDIS,
    CLEVER_SHARED_RATE_LIMIT=True,
    CLEVER_RATE_LIMIT_DEFAULT=30,
    CLEVER_RATE_LIMIT_WINDOW=3,
)
def test_clients_built_without_a_budget_take_the_process_one_from_the_settings():
    with CleverClient("t") as client:
        budget = client.rate_budget
        assert isinstance(budget, SharedBudget)
        assert (budget.limit, budget.window) == (30, 3.0)
        assert client.with_token("u").rate_budget is budget
        with CleverClient() as another:
            assert another.rate_budget is budget  # one per process


# --- real threads --------------------------------------------------------------------------------


class RateLimitedStub(BaseAdapter):
    """Answers every API call through the sandbox's rate-limit emulation (``KNOBS.rate_limit``,
    per token, on the real clock) without touching the database, so threads can share it;
    records ``(window start, status)`` of each answer."""

    def __init__(self, served: list):
        super().__init__()
        self.served = served

    def send(self, request, stream=False, timeout=None, verify=True, cert=None, proxies=None):
        token = request.headers["Authorization"].partition(" ")[2]
        decision = KNOBS.rate_limit(token)
        status = 200 if decision.allowed else 429
        self.served.append((decision.reset, status))
        response = requests.Response()
        response.status_code = status
        response.headers = CaseInsensitiveDict(
            {"Content-Type": "application/json", **decision.headers(bucket="api-stub")}
        )
        response._content = b'{"data": []}' if decision.allowed else b'{"message": "Rate limit exceeded"}'
        response.url = request.url
        response.request = request
        return response

    def close(self):
        pass


@pytest.mark.redis
def test_threads_on_one_token_never_exceed_the_limit_in_a_window(make_clever_client, make_budget):
    limit, window, threads, calls = 5, 1.0, 3, 4
    KNOBS.rate_limit_per_minute = limit
    KNOBS.rate_window_seconds = window
    budget = make_budget(limit=limit, window=window)
    served: list[tuple[int, int]] = []
    token = f"stub-{uuid.uuid4().hex}"
    clients = [
        make_clever_client(
            token,
            api_base="https://api.clever.test",
            oauth_base="https://clever.test",
            http_adapter=RateLimitedStub(served),
            rate_budget=budget,
        )
        for _ in range(threads)
    ]
    barrier = threading.Barrier(threads)
    failures: list[BaseException] = []

    def run(client):
        barrier.wait()
        try:
            for _ in range(calls):
                client.get("users")
        except BaseException as exc:  # reported below
            failures.append(exc)

    workers = [threading.Thread(target=run, args=(client,)) for client in clients]
    for thread in workers:
        thread.start()
    for thread in workers:
        thread.join(timeout=60)

    assert not failures
    assert len(served) == threads * calls
    assert {status for _, status in served} == {200}
    assert max(Counter(reset for reset, _ in served).values()) <= limit
    assert sum(client.stats.rate_limited for client in clients) == 0
    assert sum(client.stats.seconds_waited for client in clients) > 0


@pytest.mark.redis
def test_taking_is_atomic_across_threads(budget):
    now = 1_700_000_000.0
    taken: list[bool] = []
    barrier = threading.Barrier(8)

    def take():
        barrier.wait()
        for _ in range(10):
            taken.append(budget.take("token-of-eight-threads", now) is None)

    workers = [threading.Thread(target=take) for _ in range(8)]
    for thread in workers:
        thread.start()
    for thread in workers:
        thread.join(timeout=30)

    assert taken.count(True) == LIMIT
    assert len(taken) == 80


# --- without Redis -------------------------------------------------------------------------------


@override_settings(REDIS_URL="", CLEVER_SHARED_RATE_LIMIT=False)
def test_without_redis_there_is_no_shared_budget():
    assert shared_budget.from_settings() is None
    with CleverClient("t") as client:
        assert client.rate_budget is None


@override_settings(REDIS_URL="", CLEVER_SHARED_RATE_LIMIT=True)
def test_asked_for_without_a_redis_url_it_warns_once(monkeypatch, caplog):
    monkeypatch.setattr(shared_budget, "_warned_no_url", False)
    assert shared_budget.from_settings() is None
    assert shared_budget.from_settings() is None
    warnings = [r for r in caplog.records if r.name == "clever.budget" and r.levelno == logging.WARNING]
    assert len(warnings) == 1


@override_settings(REDIS_URL=NO_REDIS, CLEVER_SHARED_RATE_LIMIT=False)
def test_the_setting_turns_it_off_even_with_redis():
    assert shared_budget.from_settings() is None


def test_unreachable_redis_falls_back_to_the_clients_own_pacing(
    make_client, district, district_token, fake_clock, caplog
):
    ids = load_students(district, 250)
    KNOBS.rate_limit_per_minute = 3
    unreachable = SharedBudget(NO_REDIS)
    client = make_client(district_token, rate_budget=unreachable)

    seen = [record["id"] for record in client.iter_records("users", page_size=50)]

    # As without a budget (test_client: an exhausted window is waited for): 5 requests, one
    # wait for the reset, no 429; and one warning, not one per request.
    assert seen == ids
    assert client.stats.rate_limited == 0
    assert client.stats.requests == 5
    assert len(fake_clock.slept) == 1
    warnings = [r for r in caplog.records if r.name == "clever.budget" and r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert district_token not in caplog.text
