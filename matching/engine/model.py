"""Fellegi-Sunter parameters: m and u per field level, the prior, and the weights they give.

A level's weight is log2(m / u) bits, where m = P(level | same person) and u = P(level | different
people), both conditional on the field being present on both sides (a missing field adds 0).
A pair's match weight is the prior log-odds plus the sum of its field weights, and its match
probability is 2^w / (1 + 2^w).

- ``u`` comes from the district itself (``estimate_u``): exact-agreement levels from the value
  frequencies of both sides (exact, cheap even for rare identifiers), the other levels from random
  product x Clever pairs. Exact first and last names are term-frequency adjusted: agreeing on
  "Smith" is weaker evidence than agreeing on "Okonkwo".
- ``m`` comes from reviewed decisions (``estimate_m``) once there are ``min_matches`` confirmed
  matches, blended with the priors below; until then the priors are used as they are.
"""

import math
import random
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from .comparators import Level
from .records import PersonRecord, Role
from .scoring import ALL_FIELDS, IDENTIFIER_FIELDS, PairComparer, PreparedPerson, prepare

Probabilities = Mapping[str, Mapping[Level, float]]

_IDENTIFIER_M = {Level.EXACT: 0.95, Level.ONE_EDIT: 0.01, Level.ELSE: 0.04}
# Priors for m, by judgment: how often a field agrees at each level for the same person when both
# sides have it. Identifiers change (a new SIS, a re-issued number), names carry nicknames and
# typos, grades lag the summer rollover by one, product accounts may hold a personal email.
DEFAULT_M: Probabilities = {
    **dict.fromkeys(("sis_id", "number", "staff_id"), _IDENTIFIER_M),
    "state_id": {Level.EXACT: 0.97, Level.ONE_EDIT: 0.01, Level.ELSE: 0.02},
    "legacy_id": {Level.EXACT: 0.98, Level.ONE_EDIT: 0.005, Level.ELSE: 0.015},
    "dob": {
        Level.EXACT: 0.9,
        Level.DAY_MONTH_SWAPPED: 0.015,
        Level.ONE_EDIT: 0.04,
        Level.WITHIN_MONTH: 0.01,
        Level.WITHIN_YEAR: 0.015,
        Level.ELSE: 0.02,
    },
    "last_name": {
        Level.EXACT: 0.9,
        Level.NAMES_SWAPPED: 0.005,
        Level.JARO_WINKLER_HIGH: 0.04,
        Level.JARO_WINKLER_LOW: 0.015,
        Level.TOKEN_OVERLAP: 0.02,
        Level.ELSE: 0.02,
    },
    "first_name": {
        Level.EXACT: 0.8,
        Level.NICKNAME: 0.08,
        Level.ALTERNATE_NAME: 0.02,
        Level.NAMES_SWAPPED: 0.005,
        Level.JARO_WINKLER_HIGH: 0.04,
        Level.JARO_WINKLER_LOW: 0.015,
        Level.INITIAL: 0.01,
        Level.ELSE: 0.03,
    },
    "email": {Level.EXACT: 0.82, Level.SAME_LOCAL_PART: 0.03, Level.OTHER_DOMAIN: 0.13, Level.ELSE: 0.02},
    "grade": {Level.EXACT: 0.75, Level.ADJACENT: 0.23, Level.ELSE: 0.02},
    "school": {Level.SHARED: 0.9, Level.ELSE: 0.1},
}
_IDENTIFIER_U = {Level.EXACT: 1e-4, Level.ONE_EDIT: 1e-3, Level.ELSE: 0.9989}
# Priors for u, typical of one K-12 district (13 birth years, about 4,750 birth dates; a few
# thousand surnames). The district's own estimate outweighs them as soon as it has more than a
# few hundred records; they keep tiny districts, whose random pairs are mostly the true
# matches themselves, from calling every agreement a coincidence.
DEFAULT_U: Probabilities = {
    **dict.fromkeys(("sis_id", "number", "staff_id", "state_id", "legacy_id"), _IDENTIFIER_U),
    "dob": {
        Level.EXACT: 2e-4,
        Level.DAY_MONTH_SWAPPED: 2e-5,
        Level.ONE_EDIT: 3e-3,
        Level.WITHIN_MONTH: 6e-3,
        Level.WITHIN_YEAR: 0.07,
        Level.ELSE: 0.92,
    },
    "last_name": {
        Level.EXACT: 2e-3,
        Level.NAMES_SWAPPED: 1e-5,
        Level.JARO_WINKLER_HIGH: 3e-3,
        Level.JARO_WINKLER_LOW: 5e-3,
        Level.TOKEN_OVERLAP: 1e-3,
        Level.ELSE: 0.989,
    },
    "first_name": {
        Level.EXACT: 5e-3,
        Level.NICKNAME: 2e-3,
        Level.ALTERNATE_NAME: 1e-3,
        Level.NAMES_SWAPPED: 1e-5,
        Level.JARO_WINKLER_HIGH: 5e-3,
        Level.JARO_WINKLER_LOW: 0.01,
        Level.INITIAL: 1e-3,
        Level.ELSE: 0.976,
    },
    "email": {Level.EXACT: 1e-5, Level.SAME_LOCAL_PART: 1e-4, Level.OTHER_DOMAIN: 0.1, Level.ELSE: 0.89989},
    "grade": {Level.EXACT: 0.08, Level.ADJACENT: 0.15, Level.ELSE: 0.77},
    "school": {Level.SHARED: 0.05, Level.ELSE: 0.95},
}
# How many pairs (or, for name frequencies, records) the u priors count as.
U_PRIOR_PAIRS = 1_000
TERM_FREQUENCY_PRIOR_RECORDS = 100
TERM_FREQUENCY_FIELDS = ("first_name", "last_name")
EXACT_FROM_FREQUENCIES = ("first_name", "last_name", "dob", *IDENTIFIER_FIELDS, "email")


@dataclass(frozen=True, slots=True)
class LabelledPair:
    """A reviewed decision: whether ``product`` and ``clever`` are the same person."""

    product: PersonRecord
    clever: PersonRecord
    is_match: bool


@dataclass(frozen=True, slots=True)
class UEstimate:
    u: Probabilities
    term_frequencies: Mapping[str, Mapping[str, float]]
    pairs_sampled: int


def _value_of(person: PreparedPerson, field_name: str) -> str:
    if field_name == "first_name":
        return person.first
    if field_name == "last_name":
        return person.last
    if field_name == "email":
        return person.email
    if field_name == "dob":
        return person.dob_digits
    return person.identifiers[field_name]


def _frequencies(people: Sequence[PreparedPerson], field_name: str) -> tuple[Counter, int]:
    counts = Counter(value for person in people if (value := _value_of(person, field_name)))
    return counts, sum(counts.values())


def estimate_u(
    product_records: Sequence[PersonRecord],
    clever_records: Sequence[PersonRecord],
    *,
    sample_pairs: int = 20_000,
    seed: int = 0,
) -> UEstimate:
    """u for every field level, from one district's records (see the module docstring)."""
    product = [prepare(record) for record in product_records]
    clever = [prepare(record) for record in clever_records]
    return estimate_u_prepared(product, clever, sample_pairs=sample_pairs, seed=seed)


def estimate_u_prepared(
    product: Sequence[PreparedPerson],
    clever: Sequence[PreparedPerson],
    *,
    sample_pairs: int = 20_000,
    seed: int = 0,
) -> UEstimate:
    counts: dict[str, Counter] = {name: Counter() for name in ALL_FIELDS}
    comparer = PairComparer()
    rng = random.Random(seed)
    sampled = sample_pairs if product and clever else 0
    for _ in range(sampled):
        pair_product, pair_clever = rng.choice(product), rng.choice(clever)
        for name, level in comparer.levels(pair_product, pair_clever).items():
            counts[name][level] += 1
    u: dict[str, dict[Level, float]] = {}
    for name in ALL_FIELDS:
        present = sum(count for level, count in counts[name].items() if level is not Level.NULL)
        u[name] = {
            level: (counts[name][level] + U_PRIOR_PAIRS * prior) / (present + U_PRIOR_PAIRS)
            for level, prior in DEFAULT_U[name].items()
        }
    term_frequencies: dict[str, dict[str, float]] = {}
    for name in EXACT_FROM_FREQUENCIES:
        product_counts, product_total = _frequencies(product, name)
        clever_counts, clever_total = _frequencies(clever, name)
        if not product_total or not clever_total:
            continue
        prior = DEFAULT_U[name][Level.EXACT]
        agreement = sum(count * clever_counts[value] for value, count in product_counts.items())
        u[name][Level.EXACT] = (agreement + U_PRIOR_PAIRS * prior) / (
            product_total * clever_total + U_PRIOR_PAIRS
        )
        if name in TERM_FREQUENCY_FIELDS:
            both = product_counts + clever_counts
            total = product_total + clever_total + TERM_FREQUENCY_PRIOR_RECORDS
            term_frequencies[name] = {
                value: (count + TERM_FREQUENCY_PRIOR_RECORDS * prior) / total for value, count in both.items()
            }
    return UEstimate(u=u, term_frequencies=term_frequencies, pairs_sampled=sampled)


def estimate_m(
    labels: Iterable[LabelledPair],
    *,
    min_matches: int = 50,
    priors: Probabilities = DEFAULT_M,
    prior_strength: float = 20.0,
) -> Probabilities:
    """m from reviewed matches once there are ``min_matches`` of them, else ``priors``.

    Per field, the observed level shares are blended with the priors as if the priors were
    ``prior_strength`` extra observations, so a level no reviewed pair showed keeps a small m.
    """
    matches = [label for label in labels if label.is_match]
    if len(matches) < min_matches:
        return priors
    counts: dict[str, Counter] = {name: Counter() for name in priors}
    comparer = PairComparer()
    for label in matches:
        for name, level in comparer.levels(prepare(label.product), prepare(label.clever)).items():
            if level is not Level.NULL and name in counts:
                counts[name][level] += 1
    m: dict[str, dict[Level, float]] = {}
    for name, prior in priors.items():
        observed = sum(counts[name].values())
        m[name] = {
            level: (counts[name][level] + prior_strength * share) / (observed + prior_strength)
            for level, share in prior.items()
        }
    return m


def prior_bits(candidate_count: int) -> float:
    """Log-odds that a product record matches one given Clever record of ``candidate_count``."""
    chance = min(0.5, 1 / max(candidate_count, 1))
    return math.log2(chance / (1 - chance))


@dataclass(frozen=True)
class MatchModel:
    """Weights in bits for every field level, ready for scoring.

    ``prior_bits_by_role`` holds the prior for a product record of each role (the Clever records
    of that role are its possible matches); ``None`` is the prior for a record without a role.
    """

    m: Probabilities
    u: Probabilities
    prior_bits_by_role: Mapping[Role | None, float]
    term_frequencies: Mapping[str, Mapping[str, float]] = field(default_factory=dict)
    weights: Mapping[str, Mapping[Level, float]] = field(init=False)
    exact_value_weights: Mapping[str, Mapping[str, float]] = field(init=False)

    def __post_init__(self) -> None:
        weights = {name: _monotone_weights(levels, self.u[name]) for name, levels in self.m.items()}
        object.__setattr__(self, "weights", weights)
        # An exact name weighs at least what any looser agreement on that field weighs.
        exact_value_weights = {
            name: {
                value: max(math.log2(self.m[name][Level.EXACT] / share), _best_inexact(weights[name]))
                for value, share in shares.items()
            }
            for name, shares in self.term_frequencies.items()
        }
        object.__setattr__(self, "exact_value_weights", exact_value_weights)

    def prior_for(self, role: Role | None) -> float:
        return self.prior_bits_by_role.get(role, self.prior_bits_by_role[None])

    def weight(self, field_name: str, level: Level, value: str = "") -> float:
        """A level's weight; an exact name is weighed by how common that name is."""
        if level is Level.EXACT and value:
            weight = self.exact_value_weights.get(field_name, {}).get(value)
            if weight is not None:
                return weight
        return self.weights[field_name][level]


def _monotone_weights(m: Mapping[Level, float], u: Mapping[Level, float]) -> dict[Level, float]:
    """log2(m/u) per level, made non-increasing in the levels' order (closest agreement first)
    and non-negative for an exact agreement: a closer agreement is never weaker evidence than a
    looser one, and an agreement never counts against a match, whatever sampling noise says."""
    weights: dict[Level, float] = {}
    ceiling = math.inf
    for level, share in m.items():
        weight = math.log2(share / u[level])
        if level is Level.EXACT:
            weight = max(weight, 0.0)
        ceiling = weights[level] = min(weight, ceiling)
    weights[Level.NULL] = 0.0
    return weights


def _best_inexact(weights: Mapping[Level, float]) -> float:
    return max(weight for level, weight in weights.items() if level not in (Level.EXACT, Level.NULL))


def build_model(
    product_records: Sequence[PersonRecord],
    clever_records: Sequence[PersonRecord],
    *,
    labels: Iterable[LabelledPair] = (),
    sample_pairs: int = 20_000,
    min_matches: int = 50,
    seed: int = 0,
) -> MatchModel:
    """u from the district, m from the labels (or the priors), priors from the Clever side's size."""
    product = [prepare(record) for record in product_records]
    clever = [prepare(record) for record in clever_records]
    return build_model_prepared(
        product, clever, m=estimate_m(labels, min_matches=min_matches), sample_pairs=sample_pairs, seed=seed
    )


def build_model_prepared(
    product: Sequence[PreparedPerson],
    clever: Sequence[PreparedPerson],
    *,
    m: Probabilities = DEFAULT_M,
    sample_pairs: int = 20_000,
    seed: int = 0,
) -> MatchModel:
    estimate = estimate_u_prepared(product, clever, sample_pairs=sample_pairs, seed=seed)
    role_counts = Counter(role for person in clever for role in person.record.roles)
    priors: dict[Role | None, float] = {role: prior_bits(count) for role, count in role_counts.items()}
    priors[None] = prior_bits(len(clever))
    return MatchModel(
        m=m, u=estimate.u, prior_bits_by_role=priors, term_frequencies=estimate.term_frequencies
    )
