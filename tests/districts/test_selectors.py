import pytest

from accounts.factories import OrganizationFactory
from districts import selectors, services
from districts.models import District, DistrictAudit, DistrictStatus, LinkMethod

pytestmark = pytest.mark.django_db


@pytest.fixture
def districts():
    return {
        "springfield": District.objects.create(
            clever_id="a" * 24,
            name="Springfield Unified",
            us_state="IL",
            nces_id="1709930",
            clever_state="error",
        ),
        "springfield_or": District.objects.create(
            clever_id="b" * 24, name="Springfield Public Schools", us_state="OR", mdr_number="555"
        ),
        "shelbyville": District.objects.create(
            clever_id="c" * 24, name="Shelbyville District", us_state="IL", status=DistrictStatus.DISCONNECTED
        ),
    }


def test_search_by_name_words_state_status_ids_and_link(districts):
    d = districts
    assert set(selectors.search_districts(q="springfield")) == {d["springfield"], d["springfield_or"]}
    assert list(selectors.search_districts(q="public springfield")) == [d["springfield_or"]]
    assert list(selectors.search_districts(q="springfield", us_state="il")) == [d["springfield"]]
    assert list(selectors.search_districts(q="1709930")) == [d["springfield"]]
    assert list(selectors.search_districts(q="555")) == [d["springfield_or"]]
    assert list(selectors.search_districts(q="c" * 24)) == [d["shelbyville"]]
    assert list(selectors.search_districts(status=DistrictStatus.DISCONNECTED)) == [d["shelbyville"]]
    assert list(selectors.search_districts(clever_state="error")) == [d["springfield"]]
    assert set(selectors.search_districts(clever_ids=["a" * 24, "c" * 24])) == {
        d["springfield"],
        d["shelbyville"],
    }
    services.link_district(
        district=d["springfield"], organization=OrganizationFactory(), method=LinkMethod.STAFF, evidence={}
    )
    assert list(selectors.search_districts(linked=True)) == [d["springfield"]]
    assert list(selectors.unlinked_districts()) == [d["springfield_or"]]


def test_districts_needing_sync_are_connected_and_enabled(districts):
    District.objects.filter(pk=districts["springfield_or"].pk).update(sync_enabled=False)
    assert list(selectors.districts_needing_sync()) == [districts["springfield"]]


def test_audits_of_a_district_newest_first(districts):
    district = districts["springfield"]
    services.set_status(district=district, status=DistrictStatus.PAUSED, actor_label="t")
    services.set_status(district=district, status=DistrictStatus.CONNECTED, actor_label="t")
    services.set_status(district=districts["springfield_or"], status=DistrictStatus.PAUSED, actor_label="t")

    audits = list(selectors.district_audits(district))

    assert [a.details["to"] for a in audits] == ["connected", "paused"]
    assert selectors.district_audits(district.pk, actions=[DistrictAudit.Action.LINKED]).count() == 0
    assert selectors.get_district("a" * 24) == district
    assert selectors.get_district("missing") is None
