"""Matching product people to Clever people: scoring, one-to-one assignment and decision zones."""

import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum

from .blocking import candidate_pairs
from .comparators import Level
from .model import LabelledPair, MatchModel, build_model_prepared, estimate_m
from .records import PersonRecord
from .scoring import IDENTIFIER_FIELDS, PairComparer, PreparedPerson, prepare, vetoes


class Decision(StrEnum):
    """Matchmaker's outcomes: match (AUTO), no match, duplicate; REVIEW waits for a person."""

    AUTO = "auto"
    REVIEW = "review"
    NO_MATCH = "no_match"
    DUPLICATE = "duplicate"


@dataclass(frozen=True, slots=True)
class Contribution:
    field: str
    level: Level
    weight: float


@dataclass(frozen=True, slots=True)
class Candidate:
    """One Clever record scored against a product record; ``weight`` = ``prior_bits`` + the sum
    of the contributions' weights, in bits."""

    clever_key: str
    weight: float
    probability: float
    prior_bits: float
    contributions: tuple[Contribution, ...]
    vetoes: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class MatchResult:
    """The outcome for one product record, or for a Clever record no product record claimed
    (``product_key`` None, NO_MATCH). ``clever_key`` is the linked or proposed Clever record;
    ``candidates`` are the best few, the proposed one first; ``duplicate_of`` is the product
    record a DUPLICATE repeats; ``reasons`` say why a record is not AUTO."""

    product_key: str | None
    clever_key: str | None
    decision: Decision
    candidates: tuple[Candidate, ...] = ()
    duplicate_of: str | None = None
    reasons: tuple[str, ...] = ()


@dataclass(frozen=True)
class MatchParams:
    """Thresholds (the Django side feeds them from settings) and the engine's knobs."""

    auto_probability: float = 0.99
    review_probability: float = 0.5
    # The runner-up must be this many bits (2^bits times) less likely for an automatic link.
    auto_margin_bits: float = 5.0
    max_candidates: int = 3
    max_block_size: int = 200
    u_sample_pairs: int = 20_000
    min_labels_for_m: int = 50
    seed: int = 0

    @property
    def auto_weight(self) -> float:
        return _bits(self.auto_probability)

    @property
    def review_weight(self) -> float:
        return _bits(self.review_probability)


def _bits(probability: float) -> float:
    return math.log2(probability / (1 - probability))


def probability(weight: float) -> float:
    return 1 / (1 + 2**-weight)


REASON_BELOW_AUTO = "probability_below_auto"
REASON_SMALL_MARGIN = "runner_up_within_margin"
REASON_RIVAL = "another_product_record_competes"
REASON_TAKEN = "candidate_linked_to_another_record"
# Identity fields that disagree outright leave the decision to a person, whatever the other
# fields add up to: twins share a last name, date of birth, school and grade; a namesake in the
# same school has another date of birth. (Hatch's Clever matching: all data must agree.)
REASON_FIRST_NAME = "first_names_disagree"
REASON_DOB = "dates_of_birth_disagree"
_DISAGREEMENTS = {
    ("first_name", Level.ELSE): REASON_FIRST_NAME,
    ("dob", Level.WITHIN_MONTH): REASON_DOB,
    ("dob", Level.WITHIN_YEAR): REASON_DOB,
}


# Names and an email are all a stranger needs to know of someone (and Clever does not verify
# emails): an automatic link also needs a field a stranger would not simply know to agree.
REASON_NAME_EMAIL_ONLY = "only_name_and_email_agree"
_INDEPENDENT_FIELDS = frozenset((*IDENTIFIER_FIELDS, "dob", "school"))


def _independent_agreement(candidate: Candidate) -> bool:
    return any(c.field in _INDEPENDENT_FIELDS and c.weight > 0 for c in candidate.contributions)


def _disagreements(candidate: Candidate) -> list[str]:
    return [
        reason
        for contribution in candidate.contributions
        if (reason := _DISAGREEMENTS.get((contribution.field, contribution.level)))
    ]


class _Scorer:
    def __init__(self, model: MatchModel) -> None:
        self.model = model
        self.comparer = PairComparer()
        # Contributions repeat (same field, level and weight), so each is built once and shared.
        self._contributions: dict[tuple[str, Level, str], Contribution] = {}

    def _contribution(self, name: str, level: Level, product: PreparedPerson) -> Contribution:
        value = ""
        if level is Level.EXACT and name in _TERM_FREQUENCY_FIELDS:
            value = product.first if name == "first_name" else product.last
        key = (name, level, value)
        contribution = self._contributions.get(key)
        if contribution is None:
            contribution = self._contributions[key] = Contribution(name, level, self.model.weight(*key))
        return contribution

    def score(
        self, product: PreparedPerson, clever: PreparedPerson
    ) -> tuple[float, tuple[str, ...], dict[str, Level]]:
        """Weight, vetoes and field levels of a pair."""
        levels = self.comparer.levels(product, clever)
        total = self.model.prior_for(product.role)
        for name, level in levels.items():
            total += self._contribution(name, level, product).weight
        return total, vetoes(product, clever, levels), levels

    def candidate(
        self,
        product: PreparedPerson,
        clever: PreparedPerson,
        levels: dict[str, Level] | None = None,
        vetoed: tuple[str, ...] | None = None,
    ) -> Candidate:
        """The explained candidate (``levels`` and ``vetoed`` from ``score``, when known)."""
        if levels is None:
            levels = self.comparer.levels(product, clever)
        if vetoed is None:
            vetoed = vetoes(product, clever, levels)
        contributions = tuple(
            self._contribution(name, levels.get(name, Level.NULL), product)
            for name in self.comparer.fields_for(product, clever)
        )
        prior = self.model.prior_for(product.role)
        weight = prior + sum(contribution.weight for contribution in contributions)
        return Candidate(
            clever_key=clever.record.key,
            weight=weight,
            probability=probability(weight),
            prior_bits=prior,
            contributions=contributions,
            vetoes=vetoed,
        )


_TERM_FREQUENCY_FIELDS = frozenset(("first_name", "last_name"))


# One product record's scored Clever records: (weight, Clever index, vetoes), best first.
ScoredCandidates = list[tuple[float, int, tuple[str, ...]]]
# Per product record (by index), its scored Clever records.
Scored = list[ScoredCandidates]


def score_pair(product: PersonRecord, clever: PersonRecord, model: MatchModel) -> Candidate:
    """Score one pair (for example at login, against a model built for the district)."""
    return _Scorer(model).candidate(prepare(product), prepare(clever))


def match_people(
    product_records: Sequence[PersonRecord],
    clever_records: Sequence[PersonRecord],
    *,
    params: MatchParams | None = None,
    model: MatchModel | None = None,
    labels: Iterable[LabelledPair] = (),
) -> list[MatchResult]:
    """Match one district's product people to its Clever people.

    Without ``model``, u is estimated from these records and m from ``labels`` (reviewed
    decisions; the priors while there are fewer than ``params.min_labels_for_m`` matches).
    Returns one result per product record, in input order, then one NO_MATCH result per Clever
    record that no product record links to or proposes.
    """
    params = params or MatchParams()
    product = [prepare(record) for record in product_records]
    clever = [prepare(record) for record in clever_records]
    if model is None:
        model = build_model_prepared(
            product,
            clever,
            m=estimate_m(labels, min_matches=params.min_labels_for_m),
            sample_pairs=params.u_sample_pairs,
            seed=params.seed,
        )
    scorer = _Scorer(model)
    # Per product record: (weight, Clever index, vetoes), best first, and the best few explained
    # now, while their field levels are at hand.
    scored: Scored = []
    explained: list[dict[int, Candidate]] = []
    for product_index, clever_indexes in candidate_pairs(
        product, clever, max_block_size=params.max_block_size
    ):
        person = product[product_index]
        candidates = [(*scorer.score(person, clever[index]), index) for index in clever_indexes]
        candidates.sort(key=lambda item: (-item[0], item[3]))
        scored.append([(weight, index, vetoed) for weight, vetoed, _levels, index in candidates])
        explained.append(
            {
                index: scorer.candidate(person, clever[index], levels, vetoed)
                for _weight, vetoed, levels, index in candidates[: params.max_candidates]
            }
        )
    assignment = assign_one_to_one(scored, params.review_weight)
    return _decide(product, clever, scored, explained, assignment, scorer, params)


def assign_one_to_one(scored: Scored, review_weight: float) -> dict[int, int]:
    """Greedy one-to-one assignment: product index -> Clever index.

    ``scored[product index]`` lists (weight, Clever index, vetoes). Pairs without a veto and at
    least ``review_weight`` are taken best first (ties by index, so runs repeat exactly) while
    both records are free; no record on either side is ever assigned twice."""
    eligible = [
        (weight, product_index, clever_index)
        for product_index, candidates in enumerate(scored)
        for weight, clever_index, vetoed in candidates
        if not vetoed and weight >= review_weight
    ]
    eligible.sort(key=lambda item: (-item[0], item[1], item[2]))
    assignment: dict[int, int] = {}
    taken: set[int] = set()
    for _weight, product_index, clever_index in eligible:
        if product_index not in assignment and clever_index not in taken:
            assignment[product_index] = clever_index
            taken.add(clever_index)
    return assignment


@dataclass
class _Verdict:
    """A product record's decision: the Clever record linked or proposed, the product record a
    DUPLICATE repeats, and why it is not AUTO."""

    clever_index: int | None
    decision: Decision
    duplicate_of: str | None = None
    reasons: list[str] = field(default_factory=list)


def _decide(
    product: list[PreparedPerson],
    clever: list[PreparedPerson],
    scored: Scored,
    explained: list[dict[int, Candidate]],
    assignment: dict[int, int],
    scorer: _Scorer,
    params: MatchParams,
) -> list[MatchResult]:
    """A result per product record (its verdict and best candidates), then a NO_MATCH result per
    Clever record nobody links to or proposes."""
    decider = _Decider(product, clever, scored, explained, assignment, scorer, params)
    results: list[MatchResult] = []
    proposed: set[int] = set()
    for product_index, candidates in enumerate(scored):
        verdict = decider.verdict(product_index, candidates)
        if verdict.clever_index is not None:
            proposed.add(verdict.clever_index)
        results.append(decider.result(product_index, candidates, verdict))
    results.extend(
        MatchResult(product_key=None, clever_key=person.record.key, decision=Decision.NO_MATCH)
        for index, person in enumerate(clever)
        if index not in proposed
    )
    return results


class _Decider:
    """The decisions once the one-to-one assignment is made: what each product record got,
    lost to another, or only came close to."""

    def __init__(
        self,
        product: list[PreparedPerson],
        clever: list[PreparedPerson],
        scored: Scored,
        explained: list[dict[int, Candidate]],
        assignment: dict[int, int],
        scorer: _Scorer,
        params: MatchParams,
    ):
        self.product, self.clever, self.explained = product, clever, explained
        self.assignment, self.scorer, self.params = assignment, scorer, params
        self.owner_of = {clever_index: product_index for product_index, clever_index in assignment.items()}
        # Unassigned product records still eligible for a Clever record someone else got: rivals.
        self.rivals: dict[int, list[tuple[float, int]]] = defaultdict(list)
        for product_index, candidates in enumerate(scored):
            if product_index in assignment:
                continue
            for weight, clever_index, vetoed in candidates:
                if not vetoed and weight >= params.review_weight and clever_index in self.owner_of:
                    self.rivals[clever_index].append((weight, product_index))

    def verdict(self, product_index: int, candidates: ScoredCandidates) -> _Verdict:
        clever_index = self.assignment.get(product_index)
        if clever_index is None:
            return self._unassigned(product_index, candidates)
        reasons = self._doubts(product_index, candidates, clever_index)
        return _Verdict(clever_index, Decision.REVIEW if reasons else Decision.AUTO, reasons=reasons)

    def _doubts(self, product_index: int, candidates: ScoredCandidates, clever_index: int) -> list[str]:
        """Why the assigned pair is not AUTO: below the AUTO weight, a disagreeing identifier, only
        name and email agree, a runner-up or a rival (another person) too close."""
        params = self.params
        weight = next(item[0] for item in candidates if item[1] == clever_index)
        runner_up = max(
            (item[0] for item in candidates if item[1] != clever_index and not item[2]), default=-math.inf
        )
        reasons = []
        if weight < params.auto_weight:
            reasons.append(REASON_BELOW_AUTO)
        chosen = self.candidate(product_index, clever_index)
        reasons.extend(_disagreements(chosen))
        if not _independent_agreement(chosen):
            reasons.append(REASON_NAME_EMAIL_ONLY)
        if weight - runner_up < params.auto_margin_bits:
            reasons.append(REASON_SMALL_MARGIN)
        if any(
            weight - rival_weight < params.auto_margin_bits and not self._same_person(product_index, rival)
            for rival_weight, rival in self.rivals.get(clever_index, ())
        ):
            reasons.append(REASON_RIVAL)
        return reasons

    def _unassigned(self, product_index: int, candidates: ScoredCandidates) -> _Verdict:
        """A product record with no Clever record of its own: a DUPLICATE of the person who got
        its match, a REVIEW (its match was taken by someone else, or only vetoed ones reach the
        REVIEW weight), or NO_MATCH."""
        review_weight = self.params.review_weight
        lost = next(
            (
                item
                for item in candidates
                if not item[2] and item[0] >= review_weight and item[1] in self.owner_of
            ),
            None,
        )
        if lost is not None:
            owner = self.owner_of[lost[1]]
            if self._same_person(product_index, owner):
                return _Verdict(lost[1], Decision.DUPLICATE, duplicate_of=self.product[owner].record.key)
            return _Verdict(lost[1], Decision.REVIEW, reasons=[REASON_TAKEN])
        if candidates and candidates[0][0] >= review_weight:
            vetoed = [f"veto:{veto}" for veto in candidates[0][2]]
            return _Verdict(candidates[0][1], Decision.REVIEW, reasons=vetoed)
        return _Verdict(None, Decision.NO_MATCH)

    def _same_person(self, first: int, second: int) -> bool:
        # Scored in one fixed order, so both records of a pair reach the same verdict.
        first, second = sorted((first, second))
        weight, vetoed, _levels = self.scorer.score(self.product[first], self.product[second])
        return not vetoed and weight >= self.params.auto_weight

    def candidate(self, product_index: int, clever_index: int) -> Candidate:
        """The pair explained (kept: a candidate is explained once)."""
        candidate = self.explained[product_index].get(clever_index)
        if candidate is None:
            candidate = self.scorer.candidate(self.product[product_index], self.clever[clever_index])
            self.explained[product_index][clever_index] = candidate
        return candidate

    def result(self, product_index: int, candidates: ScoredCandidates, verdict: _Verdict) -> MatchResult:
        """The verdict with the best few candidates, the linked or proposed one first."""
        clever_index = verdict.clever_index
        shown = [clever_index] if clever_index is not None else []
        shown += [item[1] for item in candidates if item[1] != clever_index][
            : self.params.max_candidates - len(shown)
        ]
        return MatchResult(
            product_key=self.product[product_index].record.key,
            clever_key=self.clever[clever_index].record.key if clever_index is not None else None,
            decision=verdict.decision,
            candidates=tuple(self.candidate(product_index, index) for index in shown),
            duplicate_of=verdict.duplicate_of,
            reasons=tuple(verdict.reasons),
        )
