"""The record matching engine: pure Python, no Django (the services feed it plain records).

Entry points: ``match_people`` (people of one district), ``schools.match_schools`` and
``districts.rank_organizations``; ``estimate_u`` / ``estimate_m`` / ``build_model`` for the
Fellegi-Sunter parameters. The API, the comparison levels and the decision rules are described
in README.md beside this file.
"""

from .comparators import Level
from .model import DEFAULT_M, LabelledPair, MatchModel, UEstimate, build_model, estimate_m, estimate_u
from .people import (
    Candidate,
    Contribution,
    Decision,
    MatchParams,
    MatchResult,
    match_people,
    score_pair,
)
from .records import PersonRecord, Role, SchoolRecord

__all__ = [
    "DEFAULT_M",
    "Candidate",
    "Contribution",
    "Decision",
    "LabelledPair",
    "Level",
    "MatchModel",
    "MatchParams",
    "MatchResult",
    "PersonRecord",
    "Role",
    "SchoolRecord",
    "UEstimate",
    "build_model",
    "estimate_m",
    "estimate_u",
    "match_people",
    "score_pair",
]
