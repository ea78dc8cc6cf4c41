"""Searching unlinked districts by name: kind phrases read as their abbreviations ("Madison
Independent School District" is "madison isd"), kind words optional, typos forgiven
(docs/matching.md, "Searching by name")."""

from __future__ import annotations

import functools
import re
import unicodedata
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from rapidfuzz import fuzz, process

# How people write the kind of a district: the same district is "Madison Independent School
# District" in Clever and "Madison ISD" in a search (or the other way round). A name and a search
# are both read with each phrase written as its abbreviation, longest phrases first
# (docs/matching.md, "Searching by name").
KIND_ABBREVIATIONS = (
    ("consolidated independent school district", "cisd"),
    ("community unit school district", "cusd"),
    ("union free school district", "ufsd"),
    ("union high school district", "uhsd"),
    ("independent school district", "isd"),
    ("unified school district", "usd"),
    ("central school district", "csd"),
    ("city school district", "csd"),
    ("community school district", "csd"),
    ("consolidated school district", "csd"),
    ("elementary school district", "esd"),
    ("high school district", "hsd"),
    ("public school district", "psd"),
    ("regional school district", "rsd"),
    ("area school district", "asd"),
    ("school district", "sd"),
    ("public schools", "ps"),
)
# Words that say what kind of district it is, not which one: a search needs none of them to
# find a district ("Madison schools" finds "Madison ISD"); each one the name also has ranks it
# higher ("Madison County Schools" before "Madison City Schools" for "madison county").
KIND_WORDS = frozenset(
    {abbreviation for _phrase, abbreviation in KIND_ABBREVIATIONS}
    | {
        "school",
        "schools",
        "district",
        "districts",
        "public",
        "unified",
        "independent",
        "consolidated",
        "community",
        "county",
        "city",
        "area",
        "regional",
        "union",
        "central",
        "unit",
        "free",
        "joint",
        "elementary",
        "high",
        "the",
        "of",
        "no",
        "and",
    }
)
# Typos: a word of at least TYPO_MIN_LENGTH letters matches a name's word whose rapidfuzz
# ``ratio`` (normalized Indel similarity) is at least TYPO_MIN_SIMILARITY: one letter missing,
# added or swapped for another in a word of five or more ("madisn", "medison", "cedor").
# Shorter words and numbers must match exactly (or, for words, as the start of a name's word).
TYPO_MIN_LENGTH = 4
TYPO_MIN_SIMILARITY = 80.0
_NOT_WORD = re.compile(r"[^a-z0-9]+")
_DROPPED = re.compile(r"[.'\u2019]")
_KIND_PHRASE = re.compile(r"\b(?:" + "|".join(phrase for phrase, _ in KIND_ABBREVIATIONS) + r")\b")
_ABBREVIATION_OF = dict(KIND_ABBREVIATIONS)


@functools.lru_cache(maxsize=65_536)
def search_words(text: str) -> tuple[str, ...]:
    """``text`` as lowercase ASCII words with kind phrases abbreviated: "Madison Independent
    School Dist." -> ("madison", "isd", "dist"); "I.S.D." -> ("isd",)."""
    if not text.isascii():
        decomposed = unicodedata.normalize("NFKD", text)
        text = "".join(char for char in decomposed if not unicodedata.combining(char))
    plain = _NOT_WORD.sub(" ", _DROPPED.sub("", text.lower())).strip()
    # The alternation tries the phrases in the list's order, longest first where they overlap.
    return tuple(_KIND_PHRASE.sub(lambda found: _ABBREVIATION_OF[found.group()], plain).split())


@dataclass(frozen=True)
class NameMatch:
    """How well a district's name answers a search (higher is better, compared in this order):
    the mean of the best score of each searched word (100 exact, 90-99 the start of a word,
    80-99 a typo), the kind words both have, and the share of the name's own words searched."""

    words: float
    kinds: int
    coverage: float


def _singular(word: str) -> str:
    return word[:-1] if word.endswith("s") and len(word) > 3 else word


# The kind words each abbreviation stands for ("sd": school, district), so that a search for a
# kind word finds the names that abbreviate it ("school" finds "Lake Public Schools": "lake ps").
_SPELLED_OUT: dict[str, set[str]] = defaultdict(set)
for _phrase, _abbreviation in KIND_ABBREVIATIONS:
    _SPELLED_OUT[_abbreviation].update(_singular(word) for word in _phrase.split())


@functools.lru_cache(maxsize=65_536)
def _kinds_of(words: tuple[str, ...]) -> frozenset[str]:
    """The kind words a name has, spelled out and singular."""
    kinds = {_singular(word) for word in words if word in KIND_WORDS}
    return frozenset(kinds.union(*(_SPELLED_OUT.get(word, ()) for word in words)))


class NameSearch:
    """A search by name over many districts: each distinct word of their names is scored once
    against each searched word (rapidfuzz over the vocabulary); a name with none of the matched
    words is skipped in one set operation, the others are a few lookups."""

    def __init__(self, text: str):
        words = search_words(text)
        self.words = tuple(dict.fromkeys(word for word in words if word not in KIND_WORDS))
        self.kinds = frozenset(_singular(word) for word in words if word in KIND_WORDS)

    def __bool__(self) -> bool:
        return bool(self.words or self.kinds)

    def rank(self, names: dict[int, str]) -> dict[int, NameMatch]:
        """The districts (pk -> name) whose name answers the search: every searched word (a
        search of kind words only: every kind word) is in the name, exactly, as the start of a
        word, or with a typo."""
        named = {pk: search_words(name) for pk, name in names.items()}
        if not self.words:
            return {
                pk: NameMatch(100.0, len(self.kinds), 0.0)
                for pk, words in named.items()
                if self.kinds <= _kinds_of(words)
            }
        vocabulary = set().union(*named.values())
        scores = {term: _word_scores(term, vocabulary) for term in self.words}
        matched = set().union(*scores.values())
        found = {}
        for pk, words in named.items():
            if matched.isdisjoint(words):
                continue
            best = [max(scores[term].get(word, 0.0) for word in words) for term in self.words]
            if min(best) == 0.0:
                continue
            own = [word for word in words if word not in KIND_WORDS]
            searched = sum(1 for word in own if word in matched)
            found[pk] = NameMatch(
                sum(best) / len(best), len(self.kinds & _kinds_of(words)), searched / len(own) if own else 0.0
            )
        return found


def _word_scores(searched: str, vocabulary: Iterable[str]) -> dict[str, float]:
    """The words of ``vocabulary`` that ``searched`` matches, with their score."""
    if searched.isdigit():
        return {searched: 100.0} if searched in vocabulary else {}
    scores = {
        word: 100.0 if word == searched else 90.0 + 10.0 * len(searched) / len(word)
        for word in vocabulary
        if word.startswith(searched)
    }
    if len(searched) >= TYPO_MIN_LENGTH:
        letters = [word for word in vocabulary if not word.isdigit()]
        for word, score, _index in process.extract(
            searched, letters, scorer=fuzz.ratio, score_cutoff=TYPO_MIN_SIMILARITY, limit=None
        ):
            scores[word] = max(scores.get(word, 0.0), score)
    return scores
