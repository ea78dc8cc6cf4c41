"""Nickname equivalence from the ``nicknames`` package (carltonnorthern/nicknames, Apache-2.0).

Its table maps about 1,100 canonical first names to their nicknames. The relation is not
symmetric or transitive (bill -> william and robert), so two names are equivalent when they share
a canonical name, counting a canonical name as its own.
"""

from functools import cache, lru_cache

from nicknames import NickNamer


@cache
def _canonicals_by_name() -> dict[str, frozenset[str]]:
    groups: dict[str, set[str]] = {}
    for canonical, nicknames in NickNamer().nickname_lookup.items():
        groups.setdefault(canonical, set()).add(canonical)
        for nickname in nicknames:
            groups.setdefault(nickname, set()).add(canonical)
    return {name: frozenset(canonicals) for name, canonicals in groups.items()}


# Shared per distinct name: a district's records hold the same sets, not copies.
@lru_cache(maxsize=65_536)
def canonical_names(name: str) -> frozenset[str]:
    """The canonical names a normalized first name may stand for (itself when unknown)."""
    return _canonicals_by_name().get(name) or frozenset((name,)) if name else frozenset()


def are_nicknames(first: str, second: str) -> bool:
    return bool(canonical_names(first) & canonical_names(second))
