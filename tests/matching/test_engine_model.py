"""Fellegi-Sunter parameters: u from the district, m from reviewed labels, weights and priors."""

import math

from matching.engine import DEFAULT_M, LabelledPair, Level, build_model, estimate_m, estimate_u
from matching.engine.model import DEFAULT_U, MatchModel, prior_bits

from .rosters import product_copy, roster, student


def test_u_for_exact_identifiers_comes_from_value_frequencies():
    clever = roster(400)
    product = [product_copy(record, f"p{record.key}") for record in clever]
    estimate = estimate_u(product, clever, sample_pairs=2_000)
    # 400 agreeing pairs out of 160,000, shrunk a little towards the prior.
    assert math.isclose(estimate.u["sis_id"][Level.EXACT], (400 + 1_000 * 1e-4) / (160_000 + 1_000))
    assert estimate.pairs_sampled == 2_000


def test_u_from_random_pairs_is_never_zero_and_sees_coincidences():
    clever = roster(300)
    estimate = estimate_u(clever, clever, sample_pairs=5_000, seed=3)
    for name, levels in estimate.u.items():
        assert all(share > 0 for share in levels.values()), name
    # Grades 1-12 agree by chance about once in twelve pairs.
    assert 0.04 < estimate.u["grade"][Level.EXACT] < 0.15


def test_common_surnames_weigh_less_than_rare_ones():
    clever = [student(f"c{index}", first_name="Ann", last_name="Smith") for index in range(50)]
    clever.append(student("rare", first_name="Ann", last_name="Oyelaran"))
    model = build_model(clever, clever, sample_pairs=1_000)
    assert (
        model.weight("last_name", Level.EXACT, "oyelaran")
        > model.weight("last_name", Level.EXACT, "smith") + 3
    )


def test_m_stays_the_prior_until_enough_matches_are_reviewed():
    clever = roster(10)
    labels = [LabelledPair(record, record, is_match=True) for record in clever]
    assert estimate_m(labels, min_matches=50) is DEFAULT_M


def test_m_moves_towards_what_reviewers_confirmed():
    clever = roster(60)
    nicknamed = [
        LabelledPair(
            product_copy(record, f"p{record.key}", first_name="Bill"), replace_first(record, "William"), True
        )
        for record in clever
    ]
    rejected = [LabelledPair(clever[0], clever[1], is_match=False)]
    m = estimate_m(nicknamed + rejected, min_matches=50)
    assert m["first_name"][Level.NICKNAME] > 0.5 > DEFAULT_M["first_name"][Level.NICKNAME]
    assert math.isclose(sum(m["first_name"].values()), 1.0)
    # Fields the labels did not exercise keep their prior shares.
    assert m["email"] == DEFAULT_M["email"]


def replace_first(record, first_name):
    return product_copy(record, record.key, first_name=first_name)


def test_weights_are_log2_m_over_u_monotone_and_null_weighs_nothing():
    model = MatchModel(m=DEFAULT_M, u=DEFAULT_U, prior_bits_by_role={None: 0.0})
    assert math.isclose(model.weights["dob"][Level.EXACT], math.log2(0.9 / 2e-4))
    for name, levels in model.weights.items():
        assert levels[Level.NULL] == 0.0
        ordered = [levels[level] for level in DEFAULT_M[name]]
        assert ordered == sorted(ordered, reverse=True), name


def test_an_exact_name_never_weighs_less_than_a_looser_agreement():
    model = MatchModel(
        m=DEFAULT_M,
        u=DEFAULT_U,
        prior_bits_by_role={None: 0.0},
        term_frequencies={"first_name": {"james": 0.9}, "last_name": {}},
    )
    assert model.weight("first_name", Level.EXACT, "james") >= model.weights["first_name"][Level.NICKNAME]


def test_prior_is_the_chance_of_one_record_among_the_clever_records():
    assert prior_bits(1) == 0.0
    assert math.isclose(prior_bits(1_000), math.log2(1 / 999))
