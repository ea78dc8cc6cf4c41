"""District -> organization evidence: ranked, and strong evidence that is contested says why."""

from matching.engine.districts import (
    DistrictRecord,
    OrganizationRecord,
    normalize_district_name,
    rank_organizations,
    valid_leaid,
)

SPRINGFIELD = OrganizationRecord(
    "o-spr", "Springfield Public Schools", "IL", nces_leaid="1737500", email_domains=frozenset({"sps186.org"})
)
SPRINGFIELD_MO = OrganizationRecord("o-spr-mo", "Springfield R-XII", "MO")
SHELBYVILLE = OrganizationRecord("o-shy", "Shelbyville Schools", "IL", mdr_number="00123456")
NETWORK = OrganizationRecord(
    "o-net", "Bright Futures Learning Network", "IL", email_domains=frozenset({"bfln.org"})
)
ORGANIZATIONS = [SPRINGFIELD, SPRINGFIELD_MO, SHELBYVILLE, NETWORK]


def by_district(matches):
    return {match.district_key: match for match in matches}


def test_names_lose_the_words_every_district_has():
    assert normalize_district_name("Springfield Unified School District No. 186") == "springfield"
    assert valid_leaid("1737500", "IL")
    assert not valid_leaid("2937500", "IL")
    assert not valid_leaid("173750", "IL")


def test_a_unique_nces_or_mdr_match_ranks_first_uncontested():
    districts = [
        DistrictRecord("d-spr", "Springfield School District 186", "IL", nces_id="1737500"),
        DistrictRecord("d-shy", "Shelbyville CUSD 4", "IL", mdr_number="123456"),
    ]
    matches = by_district(rank_organizations(districts, ORGANIZATIONS))
    assert matches["d-spr"].candidates[0].organization_key == "o-spr"
    assert matches["d-spr"].reasons == ()
    assert matches["d-shy"].candidates[0].organization_key == "o-shy"
    assert matches["d-shy"].reasons == ()


def test_a_contested_or_contradicted_id_only_ranks():
    districts = [
        DistrictRecord("d-1", "Springfield SD", "IL", nces_id="1737500"),
        DistrictRecord("d-2", "Springfield City SD", "IL", nces_id="1737500"),
        DistrictRecord("d-3", "Shelbyville", "MO", mdr_number="123456"),
    ]
    matches = by_district(rank_organizations(districts, ORGANIZATIONS))
    assert "nces_id_shared_by_several_districts" in matches["d-1"].reasons
    assert matches["d-1"].candidates[0].organization_key == "o-spr"
    assert "states_differ" in matches["d-3"].reasons


def test_another_organizations_logins_contest_a_strong_id():
    district = DistrictRecord("d-spr", "Springfield SD", "IL", nces_id="1737500")
    matches = rank_organizations([district], ORGANIZATIONS, sso_logins={("d-spr", "o-net"): 12})
    assert "another_organization_has_logins_or_domain" in matches[0].reasons


def test_a_round_trip_to_an_organization_linked_already_is_contested():
    district = DistrictRecord("d-net", "Eastside Consolidated", "IL")
    again = rank_organizations(
        [district], ORGANIZATIONS, verified_round_trips={("d-net", "o-net")}, linked_organizations={"o-net"}
    )
    assert again[0].reasons == ("already_linked",)


def test_logins_and_domains_rank_and_free_mail_is_ignored():
    district = DistrictRecord(
        "d-x",
        "Eastside Consolidated",
        "IL",
        staff_email_domains={"bfln.org": 60, "east.bfln.org": 30, "gmail.com": 400, "yahoo.com": 50},
    )
    match = rank_organizations([district], ORGANIZATIONS, sso_logins={("d-x", "o-net"): 5})[0]
    best = match.candidates[0]
    assert best.organization_key == "o-net"
    kinds = {evidence.kind: evidence for evidence in best.evidence}
    assert kinds["email_domain"].detail == "100% of staff emails"
    assert kinds["sso_logins"].detail == "5 people"


def test_name_and_state_rank_same_named_districts():
    district = DistrictRecord("d-mo", "Springfield R-XII School District", "MO")
    match = rank_organizations([district], ORGANIZATIONS)[0]
    assert match.candidates[0].organization_key == "o-spr-mo"
