"""In Debian's Chromium: a teacher launches the app from the sandbox's Clever Portal.

The browser lands on the app's primary redirect URI with a code and no ``state`` (as every
Portal launch does), and that code is good for exactly one exchange over real HTTP.
"""

from urllib.parse import parse_qs, urlsplit

import pytest

from clever.client import CleverClient
from clever.errors import InvalidGrant
from sandbox import generator, services

CALLBACK_PATH = "/accounts/clever/login/callback/"


@pytest.fixture
def teacher(transactional_db, live_server):
    services.set_redirect_uris(uris=[f"{live_server.url}{CALLBACK_PATH}"])
    district = generator.load_district(generator.generate_district(seed=11, students=500))
    record = district.records.filter(is_teacher=True).order_by("clever_id").first()
    return record


def test_portal_launch_reaches_the_redirect_uri_with_a_code_and_no_state(
    browser_page, live_server, teacher
):
    page = browser_page
    page.goto(f"{live_server.url}/sandbox/portal/?q={teacher.display_name.split()[-1]}")
    row = page.locator("tr", has_text=teacher.display_name).first
    with page.expect_navigation(url=f"**{CALLBACK_PATH}**"):
        row.get_by_role("link", name="Launch app").click()

    landed = urlsplit(page.url)
    query = parse_qs(landed.query)
    assert landed.path == CALLBACK_PATH
    assert "state" not in query
    assert len(query["code"]) == 1

    # Over real HTTP to the live server; closing the clients ends their keep-alive connections.
    with CleverClient(oauth_base=f"{live_server.url}/sandbox", http_adapter=None,
                      redirect_uri=f"{live_server.url}{CALLBACK_PATH}") as client:
        token = client.exchange_code(query["code"][0])
        with CleverClient(token.access_token, api_base=f"{live_server.url}/sandbox",
                          http_adapter=None) as sso_client:
            me = sso_client.me()
        with pytest.raises(InvalidGrant):
            client.exchange_code(query["code"][0])
    assert (me.type, me.id, me.district) == ("user", teacher.clever_id, teacher.district_id)

