"""The sync runs and holds lists fit a 1280-pixel screen (issue #15, finding 6): every column,
status included, without scrolling sideways, the navigation sidebar and the filters open.

Real Chromium (Debian's, through Playwright) on the live server; skipped without Chromium
locally, fatal in CI.
"""

from __future__ import annotations

import pytest
from django.utils import timezone

from accounts.factories import UserFactory
from districts.models import District
from rostering.models import ChangeHold, SyncRun

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

LONG_NAME = "Independent School District of the Greater Northwestern Lakes Region"
MEASURE = """() => {
    const results = document.querySelector('#changelist .results');
    return {page: document.documentElement.scrollWidth, viewport: document.documentElement.clientWidth,
            results: results.scrollWidth, visible: results.clientWidth,
            headers: Array.from(document.querySelectorAll('#result_list thead th'))
                          .map(th => th.innerText.trim())};
}"""


@pytest.fixture
def signed_in(signed_in_page):
    """A 1280x800 page of Chromium signed in as support staff (tests/conftest.py)."""
    # A superuser is support staff (the Support group, made by a data migration, is gone from
    # a flushed transactional test database).
    return signed_in_page(UserFactory(username="helpdesk", is_staff=True, is_superuser=True))


@pytest.fixture
def history(db):
    district = District.objects.create(clever_id="5a0c91b95c7cc000010d417c", name=LONG_NAME)
    now = timezone.now()
    counts = {
        "created": {"users": 2098, "sections": 378},
        "updated": {"users": 1204},
        "archived": {"users": 160},
        "restored": {"users": 3},
        "unchanged": {},
    }
    SyncRun.objects.create(
        district=district,
        kind="full",
        status="failed",
        started_at=now,
        finished_at=now,
        duration_seconds=4000,
        retryable=True,
        error="GET /sandbox/v3.1/sections: HTTP 200: malformed JSON "
        "(Unterminated string starting at at character 62653; 62664 bytes)",
    )
    SyncRun.objects.create(
        district=district,
        kind="incremental",
        status="running",
        started_at=now,
        progress=0.42,
        current_collection="sections",
        retries=3,
        waiting={"until": (now + timezone.timedelta(seconds=50)).isoformat(), "reason": "rate_limit"},
    )
    held = SyncRun.objects.create(
        district=district,
        kind="full",
        status="held",
        started_at=now,
        finished_at=now,
        duration_seconds=75,
        counts=counts,
    )
    ChangeHold.objects.create(
        run=held,
        counts=counts,
        reasons=[
            {
                "type": "district_admins",
                "rule": "deleted",
                "count": 160,
                "live": 1542,
                "fraction": 0.1038,
                "threshold": 0.1,
            },
            {
                "type": "students",
                "rule": "changed",
                "count": 800,
                "live": 800,
                "fraction": 1.0,
                "threshold": 0.75,
            },
        ],
    )
    return district


@pytest.mark.parametrize(
    "path", ["/admin/rostering/syncrun/", "/admin/rostering/changehold/", "/admin/districts/district/"]
)
def test_the_list_fits_1280_pixels_with_its_status_column(signed_in, live_server, history, path):
    page = signed_in
    page.goto(f"{live_server.url}{path}")

    widths = page.evaluate(MEASURE)

    assert "status" in [h.lower() for h in widths["headers"]]
    assert widths["page"] <= widths["viewport"], widths
    assert widths["results"] <= widths["visible"], widths
