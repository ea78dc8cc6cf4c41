"""Schools: exact NCES or state ids link automatically, names only rank candidates."""

from matching.engine import Decision, SchoolRecord
from matching.engine.schools import match_schools, normalize_school_name, school_name_similarity

CLEVER = [
    SchoolRecord("c-lincoln", "Lincoln Elementary School", nces_id="012345600001", state_id="LIN-1"),
    SchoolRecord("c-washington-high", "Washington High School", school_number="040"),
    SchoolRecord("c-washington-middle", "Washington Middle School", state_id="WMS-9"),
    SchoolRecord("c-ps-123", "P.S. 123 Mahalia Jackson"),
]


def by_key(results):
    return {result.product_key: result for result in results}


def test_abbreviations_are_spelled_out_and_numbers_kept():
    assert normalize_school_name("Lincoln Elem. Sch.") == "lincoln elementary school"
    assert normalize_school_name("Washington HS") == "washington high school"
    assert normalize_school_name("Lincoln Jr. High") == "lincoln junior high"
    assert normalize_school_name("P.S. 123") == "p s 123"
    assert school_name_similarity("lincoln", "lincoln elementary") > school_name_similarity(
        "lincoln elementary", "lincoln middle"
    )


def test_exact_nces_or_state_id_links_automatically():
    product = [
        SchoolRecord("p-lincoln", "Lincoln Elem", nces_id="12345600001"),
        SchoolRecord("p-wms", "WMS", state_id="wms-9"),
    ]
    results = by_key(match_schools(product, CLEVER))
    assert results["p-lincoln"].decision is Decision.AUTO
    assert results["p-lincoln"].clever_key == "c-lincoln"
    assert results["p-lincoln"].candidates[0].evidence == ("nces_id",)
    assert results["p-wms"].decision is Decision.AUTO
    assert results["p-wms"].clever_key == "c-washington-middle"


def test_names_give_ranked_candidates_for_review_never_a_link():
    product = [SchoolRecord("p-wash", "Washington HS"), SchoolRecord("p-none", "Zephyr Montessori Academy")]
    results = by_key(match_schools(product, CLEVER))
    washington = results["p-wash"]
    assert washington.decision is Decision.REVIEW
    assert [c.clever_key for c in washington.candidates[:2]] == ["c-washington-high", "c-washington-middle"]
    assert results["p-none"].decision is Decision.NO_MATCH
    assert results["p-none"].clever_key is None


def test_an_agreeing_school_number_ranks_first():
    product = [SchoolRecord("p", "Washington Middle", school_number="40")]
    result = by_key(match_schools(product, CLEVER))["p"]
    assert result.candidates[0].clever_key == "c-washington-high"
    assert result.candidates[0].evidence == ("school_number", "name")


def test_shared_or_contradicting_ids_do_not_link():
    product = [
        SchoolRecord("p1", "Lincoln", nces_id="012345600001"),
        SchoolRecord("p2", "Lincoln Annex", nces_id="012345600001"),
    ]
    results = by_key(match_schools(product, CLEVER))
    assert all(result.decision is not Decision.AUTO for result in results.values())
    assert results["p1"].reasons == ("nces_id_shared_by_several_schools",)
    both = by_key(match_schools([product[0], SchoolRecord("p3", "Lincoln E.S.", state_id="LIN-1")], CLEVER))
    assert both["p3"].decision is not Decision.AUTO
    assert both["p3"].reasons == ("clever_school_claimed_twice",)


def test_ids_pointing_at_two_schools_are_a_conflict():
    product = [SchoolRecord("p", "Lincoln", nces_id="012345600001", state_id="WMS-9")]
    result = by_key(match_schools(product, CLEVER))["p"]
    assert result.decision is Decision.REVIEW
    assert result.reasons == ("nces_id_and_state_id_disagree",)
