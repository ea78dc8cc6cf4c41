import datetime as dt
import json
import logging

import pytest
from django.core.cache import cache
from django.db import DataError

from clever.errors import InvalidClient
from districts import services
from districts.models import District, DistrictAudit, DistrictStatus
from sandbox import services as sandbox
from sandbox.knobs import KNOBS
from sandbox.models import SandboxToken

from .conftest import live_token

pytestmark = pytest.mark.django_db


def _rename(sandbox_district, name):
    sandbox_district.name = name
    sandbox_district.data = {**sandbox_district.data, "name": name}
    sandbox_district.save(update_fields=["name", "data"])


def test_discovery_creates_districts_with_their_details(make_sandbox_district, clever):
    springfield = make_sandbox_district(
        "Springfield Unified",
        data={
            "nces_id": "1709930",
            "mdr_number": "02391234",
            "state": "running",
            "last_sync": "2024-09-01T12:30:00.000Z",
            "pause_start": "2025-06-01",
            "pause_end": "2025-08-15",
            "launch_date": "2021-03-10",
            "sis_type": "powerschool",
            "login_methods": ["Clever Badges", "Google"],
        },
        lms_type="canvas",
    )
    shelbyville = make_sandbox_district("Shelbyville School District")

    summary = services.discover_districts(client=clever)

    assert sorted(summary["created"]) == sorted([springfield.id, shelbyville.id])
    assert summary["total"] == 2
    assert summary["errors"] == {} and summary["disconnected"] == [] and summary["updated"] == []
    district = District.objects.get(clever_id=springfield.id)
    assert district.name == "Springfield Unified"
    assert district.nces_id == "1709930"
    assert district.mdr_number == "02391234"
    assert district.sis_type == "powerschool"
    assert district.login_methods == ["Clever Badges", "Google"]
    assert district.clever_state == "running"
    assert district.clever_last_sync == dt.datetime(2024, 9, 1, 12, 30, tzinfo=dt.UTC)
    assert district.pause_start == dt.date(2025, 6, 1)
    assert district.pause_end == dt.date(2025, 8, 15)
    assert district.launch_date == dt.date(2021, 3, 10)
    assert district.lms_type == "canvas" and district.lms_state == "success"
    assert district.portal_url == f"https://clever.com/in/{springfield.id}"
    assert district.status == DistrictStatus.CONNECTED
    assert district.last_seen_at is not None
    # The fetched token is never stored.
    assert district.token_ciphertext == ""
    other = District.objects.get(clever_id=shelbyville.id)
    assert other.name == "Shelbyville School District" and other.lms_type == ""
    audit = DistrictAudit.objects.get(district=district, action=DistrictAudit.Action.DISCOVERED)
    assert audit.actor_label == "discovery"
    assert audit.details["token_fingerprint"] == services.token_fingerprint(live_token(springfield))
    assert "read:students" in audit.details["scopes"]


def test_rediscovery_refreshes_a_renamed_district_and_leaves_the_rest(make_sandbox_district, clever):
    renamed = make_sandbox_district("Old Name District")
    steady = make_sandbox_district("Steady District")
    services.discover_districts(client=clever)
    seen_first = District.objects.get(clever_id=steady.id).last_seen_at
    _rename(renamed, "New Name District")

    summary = services.discover_districts(client=clever)

    assert summary["created"] == []
    assert summary["updated"] == [renamed.id]
    assert summary["unchanged"] == [steady.id]
    assert District.objects.get(clever_id=renamed.id).name == "New Name District"
    assert District.objects.count() == 2
    assert District.objects.get(clever_id=steady.id).last_seen_at >= seen_first
    # A refresh is not a discovery: one DISCOVERED row per district, no status change.
    assert DistrictAudit.objects.filter(action=DistrictAudit.Action.DISCOVERED).count() == 2
    assert not DistrictAudit.objects.filter(action=DistrictAudit.Action.STATUS_CHANGED).exists()


def test_a_district_that_stops_sharing_is_disconnected_then_reconnected(make_sandbox_district, clever):
    leaving = make_sandbox_district("Leaving District")
    staying = make_sandbox_district("Staying District")
    services.discover_districts(client=clever)

    sandbox.disconnect_district(district=leaving)
    summary = services.discover_districts(client=clever)

    assert summary["disconnected"] == [leaving.id]
    assert summary["total"] == 1
    district = District.objects.get(clever_id=leaving.id)
    assert district.status == DistrictStatus.DISCONNECTED
    assert district.departed_at is not None
    assert "no longer lists a token" in district.status_reason
    audit = DistrictAudit.objects.get(district=district, action=DistrictAudit.Action.STATUS_CHANGED)
    assert audit.actor_label == "discovery"
    assert audit.details["from"] == "connected" and audit.details["to"] == "disconnected"
    assert District.objects.get(clever_id=staying.id).status == DistrictStatus.CONNECTED
    # The disconnected district's token is gone from the cache too.
    assert cache.get(services._cache_key(leaving.id)) is None

    # Discovering again changes nothing more.
    again = services.discover_districts(client=clever)
    assert again["disconnected"] == []
    assert DistrictAudit.objects.filter(district=district).count() == 2  # discovered + disconnected

    sandbox.reconnect_district(district=leaving)
    back = services.discover_districts(client=clever)

    assert back["reconnected"] == [leaving.id]
    district.refresh_from_db()
    assert district.status == DistrictStatus.CONNECTED
    assert district.departed_at is None
    changes = list(
        DistrictAudit.objects.filter(district=district, action=DistrictAudit.Action.STATUS_CHANGED)
        .order_by("id")
        .values_list("details__to", flat=True)
    )
    assert changes == ["disconnected", "connected"]


def test_a_district_whose_record_fails_is_still_discovered_and_reported(make_sandbox_district, clever):
    broken = make_sandbox_district("Broken District")
    fine = make_sandbox_district("Fine District")
    KNOBS.add_fault("status", status=503, count=10, path_contains=f"/districts/{broken.id}")

    summary = services.discover_districts(client=clever)

    assert sorted(summary["created"]) == sorted([broken.id, fine.id])
    assert list(summary["errors"]) == [broken.id]
    message = summary["errors"][broken.id]
    assert "503" in message and "retry later" in message
    assert District.objects.get(clever_id=fine.id).name == "Fine District"
    district = District.objects.get(clever_id=broken.id)
    assert district.name == "" and district.status == DistrictStatus.CONNECTED
    assert district.last_seen_at is not None

    KNOBS.clear_faults()
    later = services.discover_districts(client=clever)
    assert later["errors"] == {}
    assert later["updated"] == [broken.id]
    assert District.objects.get(clever_id=broken.id).name == "Broken District"


def test_a_listed_token_clever_refuses_marks_the_district_revoked(make_sandbox_district, clever):
    refused = make_sandbox_district("Refused District")
    services.discover_districts(client=clever)
    KNOBS.add_fault("status", status=401, count=10, path_contains=f"/districts/{refused.id}")

    summary = services.discover_districts(client=clever)

    assert summary["revoked"] == [refused.id]
    assert "401" in summary["errors"][refused.id]
    district = District.objects.get(clever_id=refused.id)
    assert district.status == DistrictStatus.REVOKED
    assert services.token_fingerprint(live_token(refused)) in district.status_reason
    assert cache.get(services._cache_key(refused.id)) is None

    KNOBS.clear_faults()
    back = services.discover_districts(client=clever)
    assert back["reconnected"] == [refused.id]
    assert District.objects.get(clever_id=refused.id).status == DistrictStatus.CONNECTED


def test_refused_app_credentials_raise_and_change_nothing(make_sandbox_district, clever, make_client):
    make_sandbox_district("Known District")
    services.discover_districts(client=clever)
    audits = DistrictAudit.objects.count()

    with pytest.raises(InvalidClient):
        services.discover_districts(client=make_client(client_secret="not-the-secret"))

    assert District.objects.get().status == DistrictStatus.CONNECTED
    assert DistrictAudit.objects.count() == audits


def test_discovery_caches_each_token_so_a_sync_needs_no_lookup(make_sandbox_district, clever, make_client):
    district = make_sandbox_district()
    services.discover_districts(client=clever)
    row = District.objects.get(clever_id=district.id)

    lookup = make_client()
    assert services.district_token(row, client=lookup) == live_token(district)
    assert lookup.stats.requests == 0


def test_discovery_reports_its_requests(make_sandbox_district, clever):
    make_sandbox_district("One")
    make_sandbox_district("Two")
    KNOBS.api_requests = 0

    summary = services.discover_districts(client=clever)

    # One listing, then one record per district.
    assert summary["requests"] == 3
    assert KNOBS.api_requests == 2


def test_no_token_reaches_logs_audits_or_the_summary(make_sandbox_district, clever, caplog):
    good = make_sandbox_district("Good District")
    failing = make_sandbox_district("Failing District")
    refused = make_sandbox_district("Refused District")
    leaving = make_sandbox_district("Leaving District")
    services.discover_districts(client=clever)
    sandbox.disconnect_district(district=leaving)
    KNOBS.add_fault("status", status=500, count=10, path_contains=f"/districts/{failing.id}")
    KNOBS.add_fault("status", status=401, count=10, path_contains=f"/districts/{refused.id}")
    tokens = list(SandboxToken.objects.values_list("access_token", flat=True))
    assert len(tokens) == 4

    with caplog.at_level(logging.DEBUG):
        summary = services.discover_districts(client=clever)

    assert summary["errors"].keys() == {failing.id, refused.id}
    assert summary["disconnected"] == [leaving.id]
    assert caplog.records, "discovery logs what it did"
    assert good.id not in summary["errors"]
    texts = [
        caplog.text,
        json.dumps(summary),
        json.dumps(list(DistrictAudit.objects.values("details", "actor_label"))),
        json.dumps(list(District.objects.values("status_reason", "token_ciphertext", "link_evidence"))),
    ]
    for token in tokens:
        for text in texts:
            assert token not in text


def test_newest_token_wins_when_clever_lists_two_for_a_district():
    old = services.DistrictToken(
        id="1",
        district_id="d1",
        access_token="a" * 40,
        scopes=(),
        created=dt.datetime(2024, 1, 1, tzinfo=dt.UTC),
    )
    new = services.DistrictToken(
        id="2",
        district_id="d1",
        access_token="b" * 40,
        scopes=(),
        created=dt.datetime(2024, 6, 1, tzinfo=dt.UTC),
    )
    assert services._newest_per_district([new, old])["d1"] is new
    assert services._newest_per_district([old, new])["d1"] is new


def test_district_fields_tolerate_missing_and_odd_values():
    fields = services.district_fields(
        {
            "name": "  Padded  ",
            "nces_id": None,
            "login_methods": ["Google", 3],
            "state": "x" * 40,
            "last_sync": "not a date",
            "pause_start": "",
            "launch_date": "2021-03-10T00:00:00Z",
        }
    )
    assert fields["name"] == "Padded"
    assert fields["nces_id"] == ""
    assert fields["login_methods"] == ["Google"]
    assert fields["clever_state"] == "x" * 16
    assert fields["clever_last_sync"] is None
    assert fields["pause_start"] is None
    assert fields["launch_date"] == dt.date(2021, 3, 10)


def test_a_district_that_cannot_be_saved_does_not_stop_the_others(make_sandbox_district, clever, monkeypatch):
    first = make_sandbox_district("First District")
    second = make_sandbox_district("Second District")
    real_apply = services._apply_listed
    broken_id = min(first.id, second.id)  # the one applied first

    def apply(**kwargs):
        if kwargs["listed"].district_id == broken_id:
            raise DataError(f"value too long for {kwargs['listed'].access_token}")
        return real_apply(**kwargs)

    monkeypatch.setattr(services, "_apply_listed", apply)

    summary = services.discover_districts(client=clever)

    other_id = max(first.id, second.id)
    assert summary["created"] == [other_id]
    assert "could not be saved" in summary["errors"][broken_id]
    assert "<token " in summary["errors"][broken_id]
    assert SandboxToken.objects.get(district_id=broken_id).access_token not in json.dumps(summary)
    assert list(District.objects.values_list("clever_id", flat=True)) == [other_id]


def test_an_empty_listing_does_not_disconnect_every_district(db):
    first = sandbox.create_district(name="First")
    second = sandbox.create_district(name="Second")
    services.discover_districts()
    for district in (first, second):
        sandbox.disconnect_district(district=district)

    summary = services.discover_districts()

    assert summary["disconnected"] == []
    assert summary["warnings"] == ["Clever listed no districts; 2 districts were left as they are"]
    assert set(District.objects.values_list("status", flat=True)) == {DistrictStatus.CONNECTED}


def test_a_library_only_district_is_not_disconnected_and_joins_when_clever_lists_it(
    make_sandbox_district, clever
):
    listed = make_sandbox_district("Springfield Unified")
    # Known only from a Clever Library teacher's sign-in (sso/): no district token.
    library = District.objects.create(
        clever_id="5" * 24,
        name="Library Elementary District",
        library_only=True,
        sync_enabled=False,
        events_enabled=False,
    )
    joining = District.objects.create(
        clever_id=listed.id, name="", library_only=True, sync_enabled=False, events_enabled=False
    )

    summary = services.discover_districts(client=clever)

    assert summary["disconnected"] == []
    library.refresh_from_db()
    assert library.status == DistrictStatus.CONNECTED and library.library_only
    joining.refresh_from_db()
    assert not joining.library_only and joining.sync_enabled and joining.events_enabled
    assert joining.name == "Springfield Unified"
