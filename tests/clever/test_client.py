"""The Clever client against the local Clever (in-process): paging, retries, errors, counters.

Clients use the ``fake_clock`` (see conftest): a rate-limit wait or a backoff moves that clock,
never the real one.
"""

import ast
import json
import logging
import time
from pathlib import Path

import pytest
import requests
from django.conf import settings

from clever import errors
from clever.client import CleverClient
from sandbox import services
from sandbox.knobs import KNOBS
from sandbox.models import RecordType
from sandbox.transport import InProcessAdapter

from .conftest import load_students

ROOT = Path(__file__).resolve().parents[2]


# --- configuration -------------------------------------------------------------------------------


def test_settings_are_the_defaults_and_arguments_override_them(make_client):
    client = make_client("t")
    assert client.api_base == settings.CLEVER_API_BASE
    assert client.oauth_base == settings.CLEVER_OAUTH_BASE
    assert client.api_version == settings.CLEVER_API_VERSION
    assert client.page_size == settings.CLEVER_PAGE_SIZE
    assert client.max_retries == settings.CLEVER_MAX_RETRIES
    other = make_client(
        "t", api_base="https://api.example.test/", api_version="v3.0", page_size=250, max_retries=1
    )
    assert (other.api_base, other.api_version, other.page_size, other.max_retries) == (
        "https://api.example.test",
        "v3.0",
        250,
        1,
    )
    with pytest.raises(ValueError, match="api_version"):
        make_client("t", api_version="v2.1")


def test_the_settings_adapter_is_mounted_for_both_bases(make_client):
    client = make_client("t")
    assert isinstance(client.session.get_adapter(f"{client.api_base}/v3.1/users"), InProcessAdapter)
    assert isinstance(client.session.get_adapter(f"{client.oauth_base}/oauth/tokens"), InProcessAdapter)
    # Anything else (and a client told to use no adapter) goes over the network adapter.
    assert not isinstance(client.session.get_adapter("https://example.org/"), InProcessAdapter)
    plain = make_client("t", http_adapter="")
    assert not isinstance(plain.session.get_adapter(f"{plain.api_base}/v3.1/users"), InProcessAdapter)


def test_the_clever_package_never_imports_the_sandbox():
    for source in (ROOT / "clever").rglob("*.py"):
        tree = ast.parse(source.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            else:
                continue
            assert not any(name.split(".")[0] == "sandbox" for name in names), source


def test_repr_never_shows_the_token(district_client, district_token):
    assert district_token not in repr(district_client)
    assert "token=set" in repr(district_client)


# --- paging --------------------------------------------------------------------------------------


def test_pages_follow_next_links_until_the_last(district_client, district):
    ids = load_students(district, 250)

    pages = list(district_client.iter_pages("users", page_size=100))

    assert [len(page) for page in pages] == [100, 100, 50]
    assert [page.number for page in pages] == [1, 2, 3]
    assert [record["id"] for page in pages for record in page.records] == ids
    assert pages[0].next_link.startswith(f"/{district_client.api_version}/users?")
    assert f"starting_after={ids[99]}" in pages[0].next_link
    assert pages[-1].next_link is None
    assert district_client.stats.pages == 3
    assert district_client.stats.requests == 3
    assert district_client.stats.bytes_received > 250 * 100


def test_iter_records_yields_each_record_once_in_order(district_client, district):
    ids = load_students(district, 250)
    seen = [record["id"] for record in district_client.iter_records("users", page_size=100)]
    assert seen == ids
    assert len(set(seen)) == 250


def test_a_stored_next_link_resumes_the_list(district_client, district):
    ids = load_students(district, 120)
    first = next(district_client.iter_pages("users", page_size=50))
    checkpoint = first.next_link

    rest = [r["id"] for r in district_client.iter_records(checkpoint)]

    assert [r["id"] for r in first.records] + rest == ids
    # The resumed pages kept the page size of the original request.
    assert district_client.stats.pages == 1 + 2


def test_filters_and_versions(district_client, district, make_client, district_token):
    load_students(district, 3)
    teacher = services.put_record(
        district=district,
        record_type=RecordType.USERS,
        data={"name": {"first": "Edna", "last": "Krabappel"}, "roles": {"teacher": {"sis_id": "t1"}}},
    )
    teachers = list(district_client.iter_records("users", {"role": "teacher"}))
    assert [t["id"] for t in teachers] == [teacher["id"]]

    v30 = make_client(district_token, api_version="v3.0")
    page = next(v30.iter_pages("users"))
    assert page.link.startswith("/v3.0/users?")
    assert len(page) == 4


def test_count_and_single_records(district_client, district):
    ids = load_students(district, 7)
    assert district_client.count("users") == 7
    record = district_client.get_record("users", ids[3])
    assert record["id"] == ids[3]
    assert record["roles"]["student"]["sis_id"] == "100003"
    assert district_client.get_record("districts", district.id)["name"] == "Springfield Unified"
    with pytest.raises(errors.NotFound) as caught:
        district_client.get_record("users", "0" * 24)
    assert caught.value.status == 404
    assert caught.value.url == f"/sandbox/{district_client.api_version}/users/{'0' * 24}"
    assert district_client.stats.retries == 0


def test_me_with_a_district_token(district_client, district):
    me = district_client.me()
    assert me.type == "district"
    assert me.id == district.id
    assert me.district == district.id


def test_a_page_size_over_10000_is_refused_before_any_request(district_client):
    with pytest.raises(ValueError, match="10,000"):
        list(district_client.iter_pages("users", page_size=10_001))
    with pytest.raises(ValueError, match="10,000"):
        list(district_client.iter_records("users", {"limit": 20_000}))
    with pytest.raises(ValueError, match="10,000"):
        CleverClient("t", page_size=10_001)
    with pytest.raises(ValueError):
        list(district_client.iter_pages("users", page_size=0))
    assert district_client.stats.requests == 0
    assert KNOBS.api_requests == 0


def test_the_sandbox_answers_413_to_a_raw_limit_of_10001(district_client):
    with pytest.raises(errors.PayloadTooLarge) as caught:
        district_client.get("users", {"limit": 10_001})
    assert caught.value.status == 413
    assert "10000" in caught.value.message
    assert district_client.stats.requests == 1  # never retried


def test_a_page_size_of_10000_is_allowed(district_client, district):
    load_students(district, 5)
    pages = list(district_client.iter_pages("users", page_size=10_000))
    assert [len(p) for p in pages] == [5]


def test_sections_come_in_smaller_pages_than_the_other_collections(make_client):
    client = make_client("t", page_size=10_000, sections_page_size=1_000)
    assert client.default_page_size("users") == 10_000
    assert client.default_page_size("sections") == 1_000
    assert client.default_page_size("schools/abc/sections") == 1_000
    assert client.default_page_size("/v3.1/sections?starting_after=abc") == 1_000
    # Never above the page size: a client set to small pages keeps them for sections too.
    assert make_client("t", page_size=50, sections_page_size=1_000).default_page_size("sections") == 50
    assert make_client("t").sections_page_size == settings.CLEVER_SECTIONS_PAGE_SIZE
    with pytest.raises(ValueError, match="10,000"):
        make_client("t", sections_page_size=20_000)


def test_a_sections_list_asks_for_the_sections_page_size(make_client, district_token, district):
    load_students(district, 3)
    for n in range(3):
        services.put_record(
            district=district, record_type=RecordType.SECTIONS, data={"name": f"Period {n}", "students": []}
        )
    client = make_client(district_token, page_size=100, sections_page_size=2)
    pages = list(client.iter_pages("sections"))
    assert [len(page) for page in pages] == [2, 1]
    assert "limit=2" in pages[0].link and "limit=2" in pages[1].link
    assert [len(page) for page in client.iter_pages("users")] == [3]


def test_the_list_holds_nothing_of_a_page_while_the_next_is_fetched(district_client, district):
    """A caller holding one page at a time (the sync) has one page in memory, not two: while
    the next page is being received, the list's own frame refers to nothing of the last one."""
    load_students(district, 30)
    pages = district_client.iter_pages("users", page_size=10)
    next(pages)
    held_while_fetching = []
    district_client.session.hooks["response"].append(
        lambda response, **kwargs: held_while_fetching.append(
            set(pages.gi_frame.f_locals) & {"body", "records", "page"}
        )
    )
    next(pages)
    assert held_while_fetching == [set()]


# --- rate limits ---------------------------------------------------------------------------------


def test_a_429_is_waited_out_until_x_ratelimit_reset(
    district_client, make_client, district_token, district, fake_clock
):
    load_students(district, 3)
    KNOBS.rate_limit_per_minute = 2
    # Another worker with the same token uses up this minute's window.
    other = make_client(district_token)
    other.get("users")
    other.get("users")
    window_reset = int(fake_clock.now // 60 * 60) + 60
    started = time.monotonic()

    records = list(district_client.iter_records("users"))

    assert len(records) == 3
    assert time.monotonic() - started < 5  # the wait moved the fake clock, not the real one
    assert district_client.stats.rate_limited == 1
    assert district_client.stats.retries == 1
    assert district_client.stats.requests == 2
    expected_wait = window_reset - 1_700_000_000.0 + 0.5
    assert fake_clock.slept == [pytest.approx(expected_wait)]
    assert district_client.stats.seconds_waited == pytest.approx(expected_wait)
    assert fake_clock.now >= window_reset


def test_an_exhausted_window_is_waited_for_before_the_next_request(district_client, district, fake_clock):
    ids = load_students(district, 250)
    KNOBS.rate_limit_per_minute = 3

    seen = [r["id"] for r in district_client.iter_records("users", page_size=50)]

    assert seen == ids
    # The third answer said "0 remaining": the client waited for the reset instead of
    # spending a request on a 429.
    assert district_client.stats.rate_limited == 0
    assert district_client.stats.requests == 5
    assert len(fake_clock.slept) == 1
    assert district_client.stats.seconds_waited == pytest.approx(fake_clock.slept[0])


def test_a_429_that_does_not_clear_gives_up_after_max_retries(make_client, district_token, fake_clock):
    KNOBS.rate_limit_per_minute = 0  # every request is over the limit
    client = make_client(district_token, max_retries=3, rate_limit_max_wait=20)

    with pytest.raises(errors.RateLimited) as caught:
        client.get("users")

    assert caught.value.status == 429
    assert caught.value.retryable
    assert caught.value.reset_at is not None
    assert client.stats.requests == 4
    assert client.stats.rate_limited == 4
    assert len(fake_clock.slept) == 3
    # Each wait is capped by CLEVER_RATE_LIMIT_MAX_WAIT.
    assert all(0 < wait <= 20 for wait in fake_clock.slept)


# --- server errors and retries -------------------------------------------------------------------


def test_a_5xx_is_retried_with_backoff_then_succeeds(district_client, district, fake_clock):
    ids = load_students(district, 2)
    KNOBS.add_fault("status", on_request=1, count=2, status=503)

    records = list(district_client.iter_records("users"))

    assert [r["id"] for r in records] == ids
    assert district_client.stats.requests == 3
    assert district_client.stats.retries == 2
    assert len(fake_clock.slept) == 2
    base, cap = district_client.backoff_base, district_client.backoff_cap
    for attempt, wait in enumerate(fake_clock.slept):
        assert 0 <= wait <= min(cap, base * 2**attempt)
    assert district_client.stats.seconds_waited == pytest.approx(sum(fake_clock.slept))


def test_a_5xx_that_persists_gives_up_after_max_retries(make_client, district_token):
    KNOBS.add_fault("status", on_request=1, count=100, status=502)
    client = make_client(district_token, max_retries=3)

    with pytest.raises(errors.ServerError) as caught:
        client.get("users")

    assert caught.value.status == 502
    assert caught.value.retryable
    assert "after 4 attempts" in str(caught.value)
    assert client.stats.requests == 4
    assert client.stats.retries == 3


class _UpperBound:
    """An rng whose "random" jitter is always the ceiling, to check the ceilings."""

    def uniform(self, low, high):
        return high


def test_backoff_is_exponential_capped_and_full_jitter(make_client, district_token, fake_clock):
    KNOBS.add_fault("status", on_request=1, count=100, status=500)
    client = make_client(district_token, max_retries=5, backoff_base=1.0, backoff_cap=5.0, rng=_UpperBound())
    with pytest.raises(errors.ServerError):
        client.get("users")
    assert fake_clock.slept == [1.0, 2.0, 4.0, 5.0, 5.0]


def test_jitter_spreads_the_waits(make_client, district_token, fake_clock):
    KNOBS.add_fault("status", on_request=1, count=100, status=500)
    client = make_client(district_token, max_retries=8, backoff_base=10.0, backoff_cap=10.0)
    with pytest.raises(errors.ServerError):
        client.get("users")
    assert len(set(fake_clock.slept)) == 8
    assert all(0 <= wait <= 10.0 for wait in fake_clock.slept)


def test_a_401_is_never_retried(district_client, district_token):
    services.revoke_token(access_token=district_token)

    with pytest.raises(errors.AuthError) as caught:
        district_client.get("users")

    assert caught.value.status == 401
    assert not caught.value.retryable
    assert district_client.stats.requests == 1
    assert district_client.stats.retries == 0
    assert district_token not in str(caught.value)


def test_an_html_page_with_a_2xx_is_fetched_again_then_reported_naming_the_url(make_client, district_token):
    KNOBS.add_fault("html", on_request=1, count=100, status=200)
    client = make_client(district_token, max_retries=2)

    with pytest.raises(errors.UnreadableAnswer) as caught:
        client.get("users")

    assert f"/sandbox/{client.api_version}/users" in str(caught.value)
    assert "HTML" in str(caught.value)
    assert caught.value.url == f"/sandbox/{client.api_version}/users"
    assert caught.value.retryable  # a task may try again later
    assert client.stats.requests == 3 and client.stats.retries == 2


def test_an_html_5xx_page_is_retried_then_reported_as_both(make_client, district_token):
    KNOBS.add_fault("html", on_request=1, count=100, status=502)
    client = make_client(district_token, max_retries=2)

    with pytest.raises(errors.BadResponse) as caught:
        client.get("users")

    assert isinstance(caught.value, errors.ServerError)
    assert caught.value.status == 502
    assert "HTML page" in str(caught.value)
    assert client.stats.requests == 3


def test_an_html_5xx_page_that_clears_is_retried(district_client, district):
    load_students(district, 1)
    KNOBS.add_fault("html", on_request=1, count=1, status=502)
    assert len(list(district_client.iter_records("users"))) == 1
    assert district_client.stats.retries == 1


def test_a_malformed_page_is_fetched_again_like_a_5xx(district_client, district):
    load_students(district, 10)
    KNOBS.add_fault("malformed_json", on_request=1, count=1)

    records = list(district_client.iter_records("users"))

    assert len(records) == 10
    assert district_client.stats.requests == 2 and district_client.stats.retries == 1


def test_a_page_malformed_on_every_try_is_a_bad_response(make_client, district_token, district):
    load_students(district, 10)
    KNOBS.add_fault("malformed_json", on_request=1, count=100)
    client = make_client(district_token, max_retries=2)

    with pytest.raises(errors.BadResponse) as caught:
        list(client.iter_records("users"))

    assert "malformed JSON" in str(caught.value)
    assert f"/sandbox/{client.api_version}/users" in str(caught.value)
    assert client.stats.requests == 3


def test_a_bad_request_carries_clevers_message(district_client):
    with pytest.raises(errors.BadRequest) as caught:
        district_client.get("users", {"role": "janitor"})
    assert caught.value.status == 400
    assert "role must be one of" in caught.value.message
    assert errors.ValidationError is errors.BadRequest


def test_errors_survive_pickling():
    import pickle

    error = errors.RateLimited("slow down", reset_at=12.0, status=429, method="GET", url="/v3.1/users")
    copy = pickle.loads(pickle.dumps(error))
    assert type(copy) is errors.RateLimited
    assert (copy.status, copy.url, copy.reset_at, copy.message) == (429, "/v3.1/users", 12.0, "slow down")
    assert str(copy) == str(error)


# --- answers the sandbox never gives (a scripted transport) -------------------------------------


def _list(items, next_uri=None):
    links = [{"rel": "self", "uri": "/v3.1/users"}]
    if next_uri:
        links.append({"rel": "next", "uri": next_uri})
    return json.dumps({"data": items, "links": links})


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        ('{"links": []}', 'the list has no "data"'),
        ('{"data": {"id": "x"}}', '"data" is a dict, not a list'),
        ('{"data": [{"id": "x", "uri": "/v3.1/users/x"}]}', 'item 0 of "data" has no "data"'),
        ('{"data": [{"data": "x"}]}', 'has a "data" that is a str'),
        ('{"data": [], "links": {"rel": "next"}}', '"links" is a dict, not a list'),
        ("[1, 2]", "got a list"),
        ("", "an empty body"),
    ],
)
def test_a_broken_envelope_is_a_bad_response(stub_client, body, problem):
    client, _ = stub_client([(200, body, {})])
    with pytest.raises(errors.BadResponse) as caught:
        list(client.iter_records("users"))
    assert problem in str(caught.value)
    assert "GET /v3.1/users" in str(caught.value)


def test_a_next_link_to_another_host_is_refused(stub_client):
    client, adapter = stub_client(
        [
            (200, _list([{"data": {"id": "a"}}], "https://evil.example/v3.1/users?x=1"), {}),
        ]
    )
    pages = client.iter_pages("users")
    assert next(pages).records == [{"id": "a"}]
    with pytest.raises(errors.BadResponse, match="not under"):
        next(pages)
    assert len(adapter.sent) == 1  # the token never went to the other host


def test_a_paging_loop_is_detected(stub_client):
    client, adapter = stub_client(
        [
            (200, _list([{"data": {"id": "a"}}], "/v3.1/users?starting_after=a&limit=5"), {}),
        ]
    )
    with pytest.raises(errors.BadResponse, match="paging loop"):
        list(client.iter_records("users", page_size=5))
    assert len(adapter.sent) == 2


def test_next_links_keep_the_parameters_they_drop(stub_client):
    client, adapter = stub_client(
        [
            (200, _list([{"data": {"id": "a"}}], "/v3.1/users?starting_after=a"), {}),
            (200, _list([{"data": {"id": "b"}}]), {}),
        ]
    )
    assert [r["id"] for r in client.iter_records("users", {"role": "student"}, page_size=500)] == ["a", "b"]
    second = adapter.sent[1][1]
    assert "starting_after=a" in second
    assert "role=student" in second
    assert "limit=500" in second


def test_an_empty_page_ends_the_list_even_with_a_next_link(stub_client):
    client, adapter = stub_client([(200, _list([], "/v3.1/users?starting_after=z"), {})])
    assert list(client.iter_records("users")) == []
    assert len(adapter.sent) == 1


def test_connection_errors_are_retried_then_reported(stub_client, fake_clock):
    ok = (200, _list([{"data": {"id": "a"}}]), {})
    client, adapter = stub_client([requests.ConnectionError("reset"), requests.ReadTimeout("slow"), ok])
    assert [r["id"] for r in client.iter_records("users")] == ["a"]
    assert client.stats.retries == 2
    assert len(fake_clock.slept) == 2

    client, adapter = stub_client([requests.ConnectionError("refused")], max_retries=2)
    with pytest.raises(errors.ConnectionFailed) as caught:
        client.get("users")
    assert isinstance(caught.value, errors.ServerError)
    assert caught.value.status is None
    assert len(adapter.sent) == 3


def test_every_call_has_a_timeout_and_lms_writes_the_longer_one(stub_client):
    assignment = json.dumps({"data": {"id": "a1"}})
    client, adapter = stub_client([(200, assignment, {})], timeout=7.0, lms_timeout=45.0)
    client.get("users/x")
    client.create_assignment("s" * 24, {"title": "T"})
    client.update_assignment("s" * 24, "a1", {"title": "U"})
    client.get_assignment("s" * 24, "a1")
    assert [timeout for _, _, timeout in adapter.sent] == [7.0, 45.0, 45.0, 7.0]
    assert all("/v3.1/sections/" in url for _, url, _ in adapter.sent[1:])


def test_creating_an_assignment_is_not_repeated_after_a_lost_answer(stub_client):
    client, adapter = stub_client([requests.ReadTimeout("slow")])
    with pytest.raises(errors.ConnectionFailed):
        client.create_assignment("s" * 24, {"title": "T"})
    assert len(adapter.sent) == 1
    client, adapter = stub_client([(503, '{"message": "down"}', {})])
    with pytest.raises(errors.ServerError):
        client.create_assignment("s" * 24, {"title": "T"})
    assert len(adapter.sent) == 1


def test_a_429_without_a_reset_header_backs_off(stub_client, fake_clock):
    client, adapter = stub_client(
        [(429, '{"message": "Rate limit exceeded"}', {}), (200, '{"data": {"id": "x"}}', {})]
    )
    assert client.get_record("users", "x") == {"id": "x"}
    assert len(adapter.sent) == 2
    assert len(fake_clock.slept) == 1
    assert fake_clock.slept[0] >= 1.0


def test_stats_snapshot_and_reset(district_client, district):
    load_students(district, 3)
    list(district_client.iter_records("users"))
    snapshot = district_client.stats.snapshot()
    assert snapshot["requests"] == 1
    assert snapshot["pages"] == 1
    assert snapshot["bytes_received"] > 0
    assert set(snapshot) == {
        "requests",
        "retries",
        "pages",
        "bytes_received",
        "seconds_waited",
        "rate_limited",
    }
    assert district_client.stats.reset() == snapshot
    assert district_client.stats.snapshot()["requests"] == 0


def test_with_token_shares_the_session_not_the_stats(district_client, district):
    load_students(district, 1)
    list(district_client.iter_records("users"))
    other = district_client.with_token(services.district_token(district).access_token)
    assert other.session is district_client.session
    assert other.stats.requests == 0
    other.get("users")
    assert (district_client.stats.requests, other.stats.requests) == (1, 1)


# --- logs ----------------------------------------------------------------------------------------


def test_no_token_reaches_the_logs_during_a_run_with_retries(
    district_client, make_client, district, district_token, caplog, fake_clock
):
    load_students(district, 150)
    KNOBS.add_fault("status", on_request=2, count=2, status=503)
    KNOBS.rate_limit_per_minute = 3
    caplog.set_level(logging.DEBUG)

    records = list(district_client.iter_records("users", page_size=100))
    # Another worker on the same token uses up the window: the next call meets a 429.
    other = make_client(district_token)
    other.get("users")
    other.get("users")
    district_client.get("users")

    assert len(records) == 150
    assert district_client.stats.retries == 3
    assert district_client.stats.rate_limited == 1
    assert district_client.stats.seconds_waited > 0
    text = caplog.text + "".join(str(r.args) + str(r.__dict__) for r in caplog.records)
    assert district_token not in text
    ours = [r for r in caplog.records if r.name == "clever.client"]
    lines = [r.getMessage() for r in ours]
    # Paths only: never a query string (cursors, codes).
    assert not any("?" in line or "starting_after" in line for line in lines)
    joined = "\n".join(lines)
    assert f"clever GET /sandbox/{district_client.api_version}/users 503" in joined
    assert f"clever GET /sandbox/{district_client.api_version}/users 429" in joined
    assert f"clever GET /sandbox/{district_client.api_version}/users 200" in joined
    assert "rate limit" in joined


# --- LMS Connect ---------------------------------------------------------------------------------


@pytest.fixture
def lms_district(db, sandbox_app):
    return services.create_district(name="Shelbyville Schoology", lms_type="schoology")


@pytest.fixture
def lms_section(lms_district):
    students = load_students(lms_district, 5)
    teacher = services.put_record(
        district=lms_district,
        record_type=RecordType.USERS,
        data={"name": {"first": "Edna", "last": "K"}, "roles": {"teacher": {"sis_id": "t1"}}},
    )
    section = services.put_record(
        district=lms_district,
        record_type=RecordType.SECTIONS,
        data={"name": "Math 5", "students": students, "teachers": [teacher["id"]], "teacher": teacher["id"]},
    )
    return section["id"], students


def test_lms_operations_round_trip(make_client, lms_district, lms_section):
    from sandbox.lms import gradebook as sandbox_lms

    section_id, students = lms_section
    # LMS Connect is v3.1 only: a v3.0 client still sends these calls to /v3.1.
    client = make_client(services.district_token(lms_district).access_token, api_version="v3.0")

    created = client.create_assignment(
        section_id,
        {
            "title": "Fractions",
            "description": "Worksheet 3",
            "due_date": "2024-01-15T00:00:00Z",
            "points_possible": 10,
            "grading_type": "points",
            "submission_types": ["text"],
        },
    )
    assignment_id = created["id"]
    assert created["title"] == "Fractions"
    assert client.get_assignment(section_id, assignment_id)["description"] == "Worksheet 3"
    updated = client.update_assignment(section_id, assignment_id, {"title": "Fractions II"})
    assert updated["title"] == "Fractions II"
    assert updated["id"] == assignment_id

    pages = list(client.iter_submission_pages(section_id, assignment_id, page_size=2))
    assert [len(page) for page in pages] == [2, 2, 1]
    assert "cursor=" in pages[0].next_link
    submissions = [s for page in pages for s in page.records]
    assert [s["user_id"] for s in submissions] == sorted(students)  # not wrapped in {data}
    assert {s["state"] for s in submissions} == {"created"}

    graded = client.update_submission(
        section_id,
        assignment_id,
        students[0],
        {"grade": "9/10", "grade_points": 9, "grade_comment": "Good", "flags": ["late"]},
    )
    assert (graded["grade"], graded["grade_points"], graded["flags"]) == ("9/10", 9, ["late"])
    assert client.get_submission(section_id, assignment_id, students[0])["grade_comment"] == "Good"

    # A teacher's edit in the LMS reads back through the client.
    sandbox_lms.teacher_edit_submission(
        assignment_id=assignment_id, user_id=students[1], grade="7/10", grade_points=7.0
    )
    edited = {s["user_id"]: s for s in client.iter_submissions(section_id, assignment_id)}
    assert edited[students[1]]["grade"] == "7/10"

    client.delete_assignment(section_id, assignment_id)
    with pytest.raises(errors.NotFound):
        client.get_assignment(section_id, assignment_id)
    assert client.stats.retries == 0
    assert all(page.link.startswith("/v3.1/sections/") for page in pages)


def test_lms_validation_errors_carry_clevers_message(make_client, lms_district, lms_section):
    section_id, _ = lms_section
    client = make_client(services.district_token(lms_district).access_token)
    with pytest.raises(errors.BadRequest) as caught:
        client.create_assignment(section_id, {"title": "No description"})
    assert caught.value.message == "missing required field(s): description, due_date"
    assert caught.value.method == "POST"
    assert caught.value.url == f"/sandbox/v3.1/sections/{section_id}/assignments"
    assert client.stats.requests == 1


def test_lms_page_size_is_checked_before_any_request(district_client):
    with pytest.raises(ValueError, match="100"):
        list(district_client.iter_submissions("a" * 24, "b", page_size=101))
    assert district_client.stats.requests == 0


# --- the recorded demo district ------------------------------------------------------------------


def test_the_recorded_demo_district_reads_back_through_the_client(make_client, sandbox_app):
    from sandbox.demo import DEMO_DISTRICT_ID, load_demo

    district, created = load_demo()
    assert created
    client = make_client(services.district_token(district).access_token, api_version="v3.0")

    users = list(client.iter_records("users", page_size=1_000))
    sections = list(client.iter_records("sections"))

    assert len(users) == 2_098
    assert len({u["id"] for u in users}) == 2_098
    assert [u["id"] for u in users] == sorted(u["id"] for u in users)
    by_role = {
        role: sum(1 for u in users if role in u["roles"])
        for role in ("student", "teacher", "district_admin", "contact")
    }
    assert by_role == {"student": 1_004, "teacher": 89, "district_admin": 3, "contact": 1_002}
    assert len(sections) == 378
    recorded = json.loads((ROOT / "sandbox/data/clever-demo/users.json").read_text())["data"]
    assert users == [item["data"] for item in recorded]  # exactly as Clever recorded them
    assert client.count("users") == 2_098
    assert client.count("sections") == 378
    assert len(list(client.iter_records("users", {"role": "teacher"}))) == 89
    assert client.get_record("districts", DEMO_DISTRICT_ID)["name"] == "#DEMO_DISTRICT"
    assert client.me().id == DEMO_DISTRICT_ID
    # 3 pages of users at 1,000, 1 of sections at the default 10,000, 1 of teachers.
    assert client.stats.pages == 5
    assert client.stats.retries == 0
