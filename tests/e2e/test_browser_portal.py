"""In Debian's Chromium: a teacher launches the app from the sandbox's Clever Portal.

The browser lands on the app's primary redirect URI with a code and no ``state`` (as every
Portal launch does). The app does not exchange that code: it bounces once to Clever's authorize
URL and comes back with a state and a new code. The first code is therefore still good for
exactly one exchange over real HTTP. (Where the login ends is tests/e2e/test_browser_sso.py's.)
"""

from urllib.parse import parse_qs, urlsplit

import pytest

from clever.client import CleverClient
from clever.errors import InvalidGrant
from sandbox.generator.districts import generate_district, load_district

from .conftest import CALLBACK_PATH


@pytest.fixture
def teacher(clever_on_live_server):
    district = load_district(generate_district(seed=11, students=500))
    record = district.records.filter(is_teacher=True).order_by("clever_id").first()
    return record


def test_portal_launch_reaches_the_redirect_uri_with_a_code_and_no_state(browser_page, live_server, teacher):
    page = browser_page
    callbacks = []
    page.on("request", lambda request: CALLBACK_PATH in request.url and callbacks.append(request.url))
    page.goto(f"{live_server.url}/sandbox/portal/?q={teacher.display_name.split()[-1]}")
    row = page.locator("tr", has_text=teacher.display_name).first
    # The bounce comes back with a state (the district is discovered on the spot and the login
    # goes on from there; where it ends is test_browser_sso's).
    with page.expect_request(lambda request: CALLBACK_PATH in request.url and "state=" in request.url):
        row.get_by_role("link", name="Launch app").click()

    launched, bounced = (urlsplit(url) for url in callbacks[:2])
    query = parse_qs(launched.query)
    assert launched.path == bounced.path == CALLBACK_PATH
    assert "state" not in query and len(query["code"]) == 1
    assert parse_qs(bounced.query)["code"] != query["code"]

    # Over real HTTP to the live server; closing the clients ends their keep-alive connections.
    with CleverClient(
        oauth_base=f"{live_server.url}/sandbox",
        http_adapter=None,
        redirect_uri=f"{live_server.url}{CALLBACK_PATH}",
    ) as client:
        token = client.exchange_code(query["code"][0])
        with CleverClient(
            token.access_token, api_base=f"{live_server.url}/sandbox", http_adapter=None
        ) as sso_client:
            me = sso_client.me()
        with pytest.raises(InvalidGrant):
            client.exchange_code(query["code"][0])
    assert (me.type, me.id, me.district) == ("user", teacher.clever_id, teacher.district_id)
