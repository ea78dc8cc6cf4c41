"""Matching people: decision zones, vetoes, duplicates, one-to-one assignment, explanations."""

from datetime import date

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from matching.engine import (
    Decision,
    Level,
    MatchParams,
    PersonRecord,
    Role,
    build_model,
    match_people,
    score_pair,
)
from matching.engine.people import (
    REASON_DOB,
    REASON_FIRST_NAME,
    REASON_NAME_EMAIL_ONLY,
    REASON_SMALL_MARGIN,
    assign_one_to_one,
)
from matching.engine.scoring import VETO_DOB_YEARS_APART, VETO_NAMES_CONFLICT, VETO_ROLE_MISMATCH

from .rosters import FIRST_NAMES, LAST_NAMES, product_copy, roster, student

PROPERTY = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def by_product(results):
    return {result.product_key: result for result in results if result.product_key is not None}


def test_exact_copies_link_automatically_with_explanations():
    clever = roster(200)
    product = [product_copy(record, f"p{index}") for index, record in enumerate(clever)]
    results = by_product(match_people(product, clever))
    for index, record in enumerate(clever):
        result = results[f"p{index}"]
        assert result.decision is Decision.AUTO
        assert result.clever_key == record.key
        best = result.candidates[0]
        assert best.clever_key == record.key and best.probability >= 0.99
        assert abs(best.prior_bits + sum(c.weight for c in best.contributions) - best.weight) < 1e-9
        # Students are explained field by field, most reliable first.
        assert [c.field for c in best.contributions][:2] == ["sis_id", "state_id"]
        assert {c.level for c in best.contributions} <= {Level.EXACT, Level.SHARED, Level.NULL}


def test_corrupted_copies_still_link_and_unmatched_records_are_reported():
    clever = roster(300)
    clever[0] = product_copy(clever[0], "c0", first_name="William")
    product = [
        product_copy(clever[0], "nickname", first_name="Bill", sis_id="", number=""),
        product_copy(clever[1], "typo", last_name=clever[1].last_name + "e", sis_id=""),
        product_copy(clever[2], "swapped", first_name=clever[2].last_name, last_name=clever[2].first_name),
        product_copy(clever[3], "rollover", grade=str(int(clever[3].grade) - 1), dob=None),
        student("left", first_name="Quentin", last_name="Zebulon", dob=date(2011, 5, 5)),
    ]
    results = match_people(product, clever)
    decided = by_product(results)
    for key, record in zip(("nickname", "typo", "swapped", "rollover"), clever, strict=False):
        assert decided[key].decision is Decision.AUTO, key
        assert decided[key].clever_key == record.key
    assert decided["left"].decision is Decision.NO_MATCH and decided["left"].clever_key is None
    unclaimed = {result.clever_key for result in results if result.product_key is None}
    assert unclaimed == {record.key for record in clever[4:]}
    assert all(result.decision is Decision.NO_MATCH for result in results if result.product_key is None)


def test_dob_years_apart_vetoes_an_otherwise_perfect_match():
    clever = roster(100)
    product = [product_copy(clever[0], "p0", dob=date(2001, 1, 1))]
    result = by_product(match_people(product, clever))["p0"]
    assert result.decision is Decision.REVIEW
    assert f"veto:{VETO_DOB_YEARS_APART}" in result.reasons
    assert VETO_DOB_YEARS_APART in result.candidates[0].vetoes


def test_role_mismatch_vetoes_a_link():
    clever = roster(50)
    teacher = product_copy(clever[0], "p0", roles=frozenset({Role.TEACHER}))
    result = by_product(match_people([teacher], clever))["p0"]
    assert result.decision is not Decision.AUTO
    assert VETO_ROLE_MISMATCH in result.candidates[0].vetoes


def test_an_identifier_agreeing_with_different_names_is_vetoed():
    clever = roster(50)
    stranger = product_copy(clever[0], "p0", first_name="Xavier", last_name="Quimby", dob=None)
    candidate = score_pair(stranger, clever[0], build_model([stranger], clever))
    assert VETO_NAMES_CONFLICT in candidate.vetoes


def test_a_product_duplicate_is_flagged_against_the_record_kept():
    clever = roster(100)
    product = [product_copy(clever[5], "first"), product_copy(clever[5], "second", email="", sis_id="")]
    results = by_product(match_people(product, clever))
    assert results["first"].decision is Decision.AUTO
    assert results["second"].decision is Decision.DUPLICATE
    assert results["second"].duplicate_of == "first"
    assert results["second"].clever_key == clever[5].key


def test_two_equally_good_candidates_go_to_review():
    twin_a = student("a", first_name="Ava", last_name="Okafor", dob=date(2012, 1, 2), grade="5")
    twin_b = student("b", first_name="Ava", last_name="Okafor", dob=date(2012, 2, 2), grade="5")
    clever = [twin_a, twin_b, *roster(100)]
    product = [student("p", first_name="Ava", last_name="Okafor", grade="5")]
    result = by_product(match_people(product, clever))["p"]
    assert result.decision is Decision.REVIEW
    assert REASON_SMALL_MARGIN in result.reasons
    assert {candidate.clever_key for candidate in result.candidates[:2]} == {"a", "b"}


def test_thresholds_are_parameters():
    clever = roster(100)
    product = [product_copy(clever[0], "p0", sis_id="", number="", dob=None)]
    default = by_product(match_people(product, clever))["p0"]
    strict = by_product(match_people(product, clever, params=MatchParams(auto_probability=1 - 1e-12)))["p0"]
    assert default.decision is Decision.AUTO
    assert strict.decision is Decision.REVIEW
    lenient = MatchParams(review_probability=0.999_999, auto_probability=0.999_999_9)
    assert (
        by_product(match_people([student("x", last_name="Okafor")], clever, params=lenient))["x"].decision
        is Decision.NO_MATCH
    )


def test_assignment_is_one_to_one_best_first():
    scored = [
        [(20.0, 0, ()), (15.0, 1, ())],
        [(19.0, 0, ()), (3.0, 1, ())],
        [(30.0, 1, ("role_mismatch",))],
    ]
    assert assign_one_to_one(scored, review_weight=0.0) == {0: 0, 1: 1}
    assert assign_one_to_one(scored, review_weight=5.0) == {0: 0}


weights = st.floats(min_value=-20, max_value=40, allow_nan=False)
scored_lists = st.lists(
    st.lists(st.tuples(weights, st.integers(0, 8), st.sampled_from([(), ("role_mismatch",)])), max_size=6),
    max_size=10,
)


@given(scored_lists, weights)
def test_assignment_never_uses_a_record_twice_nor_a_vetoed_or_weak_pair(scored, review_weight):
    assignment = assign_one_to_one(scored, review_weight)
    assert len(set(assignment.values())) == len(assignment)
    for product_index, clever_index in assignment.items():
        assert any(
            index == clever_index and not vetoed and weight >= review_weight
            for weight, index, vetoed in scored[product_index]
        )


NOISE = {
    "nickname": lambda record: {"first_name": "Bill"},
    "typo_first": lambda record: {"first_name": record.first_name[:-1] + "x"},
    "typo_last": lambda record: {"last_name": record.last_name + "s"},
    "drop_dob": lambda record: {"dob": None},
    "dob_month": lambda record: {
        "dob": record.dob and record.dob.replace(day=28 if record.dob.day != 28 else 27)
    },
    "dob_swap": lambda record: {
        "dob": record.dob and record.dob.replace(month=min(record.dob.day, 12), day=record.dob.month)
    },
    "swap_names": lambda record: {"first_name": record.last_name, "last_name": record.first_name},
    "drop_sis": lambda record: {"sis_id": ""},
    "other_sis": lambda record: {"sis_id": "999999999"},
    "grade": lambda record: {"grade": str(int(record.grade) + 1)},
    "drop_email": lambda record: {"email": ""},
    "other_school": lambda record: {"schools": frozenset({"elsewhere"})},
    "teacher": lambda record: {"roles": frozenset({Role.TEACHER})},
}


def add_noise(record, kind):
    return product_copy(record, "noisy", **NOISE[kind](record))


noise = st.sampled_from(sorted(NOISE))


@PROPERTY
@given(st.integers(1, 60), st.integers(0, 10_000), st.lists(noise, min_size=1, max_size=4))
def test_noise_never_scores_above_the_exact_copy(size, seed, kinds):
    clever = roster(size, seed)
    model = build_model(clever, clever, sample_pairs=500, seed=seed)
    original = clever[seed % size]
    noisy = original
    for kind in kinds:
        noisy = add_noise(noisy, kind)
    exact = score_pair(product_copy(original, "copy"), original, model)
    assert score_pair(noisy, original, model).weight <= exact.weight + 1e-9


@PROPERTY
@given(st.integers(1, 60), st.integers(0, 10_000))
def test_a_record_always_auto_matches_its_exact_copy(size, seed):
    clever = roster(size, seed)
    product = [product_copy(record, f"p{record.key}") for record in clever]
    for result in by_product(match_people(product, clever, params=MatchParams(u_sample_pairs=500))).values():
        assert result.decision is Decision.AUTO
        assert result.product_key == f"p{result.clever_key}"


@PROPERTY
@given(
    st.integers(2, 40),
    st.integers(0, 10_000),
    st.lists(st.tuples(st.integers(0, 39), noise, st.booleans()), max_size=15),
)
def test_links_are_one_to_one_and_vetoes_always_win(size, seed, corruptions):
    clever = roster(size, seed)
    product = []
    for index, (target, kind, far_dob) in enumerate(corruptions):
        record = add_noise(clever[target % size], kind)
        if far_dob:
            record = product_copy(record, "x", dob=date(1999, 6, 1))
        product.append(product_copy(record, f"p{index}"))
    results = match_people(product, clever, params=MatchParams(u_sample_pairs=500))
    linked = [result.clever_key for result in results if result.decision is Decision.AUTO]
    assert len(linked) == len(set(linked))
    for result in results:
        if result.decision is Decision.AUTO:
            assert not result.candidates[0].vetoes
            assert result.candidates[0].clever_key == result.clever_key
    assert len(by_product(results)) == len(product)


def test_empty_sides_and_records_without_roles():
    clever = roster(20)
    assert match_people([], []) == []
    nobody = match_people([student("p", first_name="Ann")], [])
    assert [(r.product_key, r.decision) for r in nobody] == [("p", Decision.NO_MATCH)]
    only_clever = match_people([], clever[:2])
    assert [(r.clever_key, r.decision) for r in only_clever] == [
        ("c0", Decision.NO_MATCH),
        ("c1", Decision.NO_MATCH),
    ]
    roleless = product_copy(clever[3], "p", roles=frozenset())
    result = by_product(match_people([roleless], clever))["p"]
    assert result.decision is Decision.AUTO and result.clever_key == "c3"


def test_staff_are_compared_by_staff_fields_only():
    staff = [
        PersonRecord(
            f"s{index}",
            frozenset({Role.STAFF}),
            first_name=first,
            last_name="Okafor",
            email=f"{first}.okafor@district.org",
            staff_id=f"ST{index:04d}",
            grade="5",
        )
        for index, first in enumerate(("ann", "ben", "cy", "dee"))
    ]
    product = [product_copy(staff[1], "p", grade="9")]
    result = by_product(match_people(product, staff))["p"]
    assert result.decision is Decision.AUTO and result.clever_key == "s1"
    assert [c.field for c in result.candidates[0].contributions] == [
        "staff_id",
        "legacy_id",
        "email",
        "last_name",
        "first_name",
        "school",
    ]


def test_a_twin_is_never_linked_automatically_to_the_other_twin():
    clever = roster(100)
    twin = product_copy(clever[7], "p", first_name="Bethany", sis_id="", number="")
    result = by_product(match_people([twin], clever))["p"]
    assert result.decision is Decision.REVIEW
    assert result.reasons == (REASON_FIRST_NAME,)
    both = [product_copy(clever[7], "p-a", sis_id="", number=""), twin]
    clever_twins = [*clever, product_copy(twin, "c-twin")]
    results = by_product(match_people(both, clever_twins))
    assert (results["p-a"].decision, results["p-a"].clever_key) == (Decision.AUTO, clever[7].key)
    assert (results["p"].decision, results["p"].clever_key) == (Decision.AUTO, "c-twin")


def test_a_namesake_born_weeks_apart_is_left_to_a_person():
    clever = roster(100)
    namesake = product_copy(
        clever[9], "p", dob=clever[9].dob.replace(day=28 if clever[9].dob.day < 20 else 2)
    )
    result = by_product(match_people([namesake], clever))["p"]
    assert result.decision is Decision.REVIEW
    assert REASON_DOB in result.reasons


def test_a_teacher_with_a_personal_email_still_links_but_not_a_colleague_at_the_district_domain():
    teachers = [
        PersonRecord(
            f"t{index}",
            frozenset({Role.TEACHER}),
            first_name=FIRST_NAMES[index % len(FIRST_NAMES)],
            last_name=f"{LAST_NAMES[index % len(LAST_NAMES)]}-{LAST_NAMES[index // len(LAST_NAMES)]}",
            email=f"teacher{index}@district.org",
            schools=frozenset({f"school-{index % 4}"}),
        )
        for index in range(100)
    ]
    personal = product_copy(teachers[11], "p", email="mrs.teacher77@gmail.com")
    other_address = product_copy(teachers[12], "q", email="someone.else@district.org")
    results = by_product(match_people([personal, other_address], teachers))
    assert (results["p"].decision, results["p"].clever_key) == (Decision.AUTO, "t11")
    email = next(c for c in results["p"].candidates[0].contributions if c.field == "email")
    assert email.level is Level.OTHER_DOMAIN
    assert results["q"].decision is not Decision.AUTO


def test_names_and_an_email_alone_never_link_automatically():
    # A stranger knows a staff member's name and email; the district's SIS can give a new Clever
    # record exactly those (Clever does not verify emails). Certain as the score is, a person decides.
    clever = roster(150)
    admin = PersonRecord(
        key="c-admin",
        roles=frozenset({Role.STAFF}),
        first_name="Margaret",
        last_name="Hamilton",
        email="m.hamilton@bridge.example",
    )
    product = [
        PersonRecord(
            key="p-admin",
            roles=frozenset({Role.STAFF}),
            first_name="Margaret",
            last_name="Hamilton",
            email="m.hamilton@bridge.example",
        )
    ]
    result = by_product(match_people(product, [*clever, admin]))["p-admin"]
    assert result.clever_key == "c-admin" and result.candidates[0].probability >= 0.99
    assert result.decision is Decision.REVIEW
    assert REASON_NAME_EMAIL_ONLY in result.reasons

    # One field a stranger would not simply know (here the staff ID) is enough again.
    with_id = [product_copy(product[0], "p-admin", staff_id="S-1001")]
    linked = by_product(match_people(with_id, [*clever, product_copy(admin, "c-admin", staff_id="S-1001")]))
    assert linked["p-admin"].decision is Decision.AUTO
