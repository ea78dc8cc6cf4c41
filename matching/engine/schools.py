"""Matching product schools to Clever schools.

An exact NCES school id, or else an exact state school id, links automatically when it is
unique on both sides and the two ids do not point at different schools. Every other school gets
a ranked list of Clever schools by name similarity (with an agreeing district school number
ranked first) for a person to choose from, "no matching school" always being an option.
"""

import re
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from rapidfuzz import fuzz, process

from .normalize import name_tokens, normalize_identifier
from .people import Decision
from .records import SchoolRecord

# Abbreviations districts use in school names, spelled out so both sides compare alike.
_ABBREVIATIONS = {
    "elem": "elementary",
    "el": "elementary",
    "es": "elementary school",
    "ms": "middle school",
    "jhs": "junior high school",
    "jr": "junior",
    "hs": "high school",
    "sr": "senior",
    "sch": "school",
    "acad": "academy",
    "ctr": "center",
    "intl": "international",
    "prep": "preparatory",
    "mt": "mount",
    "ft": "fort",
}
_DIGITS = re.compile(r"\d+")


@dataclass(frozen=True, slots=True)
class SchoolCandidate:
    clever_key: str
    name_score: float
    evidence: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class SchoolMatchResult:
    product_key: str
    clever_key: str | None
    decision: Decision
    candidates: tuple[SchoolCandidate, ...] = ()
    reasons: tuple[str, ...] = ()


def normalize_school_name(name: str) -> str:
    """Lowercase words with abbreviations spelled out; school numbers ("PS 123") are kept."""
    numbers = _DIGITS.findall(name or "")
    words = [_ABBREVIATIONS.get(word, word) for word in name_tokens(name)]
    return " ".join([*words, *numbers])


def school_name_similarity(first: str, second: str, **_scorer_options) -> float:
    """0-100: the mean of token-set and token-sort ratios, so "Lincoln" vs "Lincoln Elementary"
    ranks high without calling "Lincoln Elementary" and "Lincoln Middle" equal. (Accepts and
    ignores the options rapidfuzz passes to a custom scorer.)"""
    return (fuzz.token_set_ratio(first, second) + fuzz.token_sort_ratio(first, second)) / 2


def _unique_index(schools: Sequence[SchoolRecord], attribute: str) -> dict[str, int | None]:
    """Identifier -> position, or None when several schools share it."""
    index: dict[str, int | None] = {}
    for position, school in enumerate(schools):
        if value := normalize_identifier(getattr(school, attribute)):
            index[value] = None if value in index else position
    return index


def match_schools(
    product_schools: Sequence[SchoolRecord],
    clever_schools: Sequence[SchoolRecord],
    *,
    min_name_score: float = 60.0,
    max_candidates: int = 3,
) -> list[SchoolMatchResult]:
    """One result per product school, in input order (AUTO, REVIEW with candidates, or NO_MATCH)."""
    automatic, refusals = _automatic_links(product_schools, clever_schools)
    claimed = {clever_position for clever_position, _evidence in automatic.values()}
    open_positions = [position for position in range(len(clever_schools)) if position not in claimed]
    open_names = [normalize_school_name(clever_schools[position].name) for position in open_positions]
    by_number: dict[str, list[int]] = defaultdict(list)
    for position in open_positions:
        if number := normalize_identifier(clever_schools[position].school_number):
            by_number[number].append(position)

    results = []
    for position, school in enumerate(product_schools):
        if position in automatic:
            results.append(_automatic_result(school, clever_schools, *automatic[position]))
            continue
        candidates = _name_candidates(
            school, open_positions, open_names, by_number, clever_schools, max_candidates
        )
        reasons = (refusals[position],) if position in refusals else ()
        best = candidates[0] if candidates else None
        if best and (best.name_score >= min_name_score or "school_number" in best.evidence):
            results.append(
                SchoolMatchResult(school.key, best.clever_key, Decision.REVIEW, candidates, reasons)
            )
        else:
            results.append(SchoolMatchResult(school.key, None, Decision.NO_MATCH, candidates, reasons))
    return results


_LINKING_IDS = ("nces_id", "state_id")


def _automatic_links(
    product_schools: Sequence[SchoolRecord], clever_schools: Sequence[SchoolRecord]
) -> tuple[dict[int, tuple[int, str]], dict[int, str]]:
    """Product position -> (Clever position, the id that links them) for the AUTO links, and
    product position -> why its id did not link."""
    indexes = {
        attribute: (_unique_index(product_schools, attribute), _unique_index(clever_schools, attribute))
        for attribute in _LINKING_IDS
    }
    automatic: dict[int, tuple[int, str]] = {}
    refusals: dict[int, str] = {}
    for position, school in enumerate(product_schools):
        targets, shared = _id_targets(school, indexes)
        if shared:
            refusals[position] = shared
        if len(set(targets.values())) > 1:
            refusals[position] = "nces_id_and_state_id_disagree"
        elif targets and position not in refusals:
            automatic[position] = (next(iter(targets.values())), next(iter(targets)))
    # One Clever school reached from two product schools (by different ids) links neither.
    claims = Counter(clever_position for clever_position, _evidence in automatic.values())
    for position, (clever_position, _evidence) in list(automatic.items()):
        if claims[clever_position] > 1:
            del automatic[position]
            refusals[position] = "clever_school_claimed_twice"
    return automatic, refusals


def _id_targets(
    school: SchoolRecord, indexes: dict[str, tuple[dict[str, int | None], dict[str, int | None]]]
) -> tuple[dict[str, int], str]:
    """The Clever school each of the school's ids uniquely names (id -> Clever position), and
    the refusal when another product school shares one of them (the last such id's)."""
    targets: dict[str, int] = {}
    shared = ""
    for attribute in _LINKING_IDS:
        product_index, clever_index = indexes[attribute]
        value = normalize_identifier(getattr(school, attribute))
        if value and clever_index.get(value) is not None:
            targets[attribute] = clever_index[value]
            if product_index[value] is None:
                shared = f"{attribute}_shared_by_several_schools"
    return targets, shared


def _automatic_result(
    school: SchoolRecord, clever_schools: Sequence[SchoolRecord], clever_position: int, evidence: str
) -> SchoolMatchResult:
    candidate = SchoolCandidate(
        clever_key=clever_schools[clever_position].key,
        name_score=school_name_similarity(
            normalize_school_name(school.name),
            normalize_school_name(clever_schools[clever_position].name),
        ),
        evidence=(evidence,),
    )
    return SchoolMatchResult(school.key, candidate.clever_key, Decision.AUTO, (candidate,))


def _name_candidates(
    school: SchoolRecord,
    open_positions: list[int],
    open_names: list[str],
    by_number: dict[str, list[int]],
    clever_schools: Sequence[SchoolRecord],
    max_candidates: int,
) -> tuple[SchoolCandidate, ...]:
    name = normalize_school_name(school.name)
    scores: dict[int, float] = {}
    if name:
        for _choice, score, index in process.extract(
            name, open_names, scorer=school_name_similarity, limit=max_candidates
        ):
            scores[open_positions[index]] = score
    same_number = set(by_number.get(normalize_identifier(school.school_number), ()))
    for position in same_number:
        scores.setdefault(
            position, school_name_similarity(name, normalize_school_name(clever_schools[position].name))
        )
    ranked = sorted(scores, key=lambda position: (position not in same_number, -scores[position], position))
    return tuple(
        SchoolCandidate(
            clever_key=clever_schools[position].key,
            name_score=round(scores[position], 1),
            evidence=("school_number", "name") if position in same_number else ("name",),
        )
        for position in ranked[:max_candidates]
    )
