"""A review item's candidate in plain words, for the people who decide (the numbers stay on
demand: the review page shows them under a disclosure).

Pure functions, no Django: ``explain`` turns a candidate's contributions (``PersonMatch.candidates``:
field names, levels and weights, in the engine's words) and the two records' compared values into
sentences such as "Same date of birth and last name." and "First name differs: Jes / Jessica."
``likelihood`` says how sure the engine is without a number.

Values appear only when the caller passes them: a field missing from ``product`` or ``clever`` is
one the reader may not see (the date of birth without the sensitive-fields permission), and its
sentence names the field without values. A field present with an empty value is empty on that side.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

# The engine's field names in plain words (``number`` depends on the role: ``field_label``).
FIELD_LABELS = {
    "first_name": "first name",
    "last_name": "last name",
    "email": "email",
    "dob": "date of birth",
    "grade": "grade",
    "sis_id": "SIS ID",
    "number": "student or teacher number",
    "state_id": "state ID",
    "staff_id": "staff ID",
    "legacy_id": "earlier Clever ID",
    "school": "school",
}
_NUMBER_LABELS = {"student": "student number", "teacher": "teacher number", "staff": "staff number"}

# Levels that mean "the same" (said together in one sentence).
_AGREEING = frozenset(("exact", "shared"))
# Levels that are neither the same nor different, as "<label> <words>: <values>".
_PARTIAL = {
    "nickname": "{label}: one is a nickname of the other",
    "alternate_name": "{label} matches the other side's middle or preferred name",
    "names_swapped": "{label} appears as the other side's {other}",
    "jaro_winkler_0.92": "{label} almost the same (a typo?)",
    "jaro_winkler_0.88": "{label} similar",
    "token_overlap": "{label} shares a part",
    "initial": "{label}: only the initial agrees",
    "day_month_swapped": "{label} with day and month swapped",
    "one_edit": "{label} one character apart (a typo?)",
    "within_month": "{label} less than a month apart",
    "within_year": "{label} less than a year apart",
    "same_local_part": "{label}: same name at another domain",
    "other_domain": "{label} at different domains (one may be personal)",
    "adjacent": "{label} one apart (a new school year?)",
}
_DOB_ONE_EDIT = "{label} one digit apart (a typo?)"
_OTHER_NAME = {"first_name": "last name", "last_name": "first name"}

# The engine's vetoes (``matching/engine/README.md``): an automatic link is never made.
VETO_SENTENCES = {
    "dob_years_apart": "The dates of birth are more than a year apart: never linked automatically.",
    "role_mismatch": "They have no role in common (for example a student and a teacher): "
    "never linked automatically.",
    "identifier_agrees_names_conflict": "An ID agrees but both names differ: never linked automatically.",
}


def field_label(field: str, role: str = "") -> str:
    if field == "number":
        return _NUMBER_LABELS.get(role, FIELD_LABELS["number"])
    return FIELD_LABELS.get(field, field.replace("_", " "))


def join_words(words: list[str]) -> str:
    """ "a", "a and b", "a, b and c"."""
    if len(words) <= 1:
        return "".join(words)
    return f"{', '.join(words[:-1])} and {words[-1]}"


def _sentence(text: str) -> str:
    text = text[:1].upper() + text[1:]
    return text if text.endswith((".", "?", "!")) else f"{text}."


def _values(field: str, product: Mapping[str, str], clever: Mapping[str, str]) -> str:
    """ ": Jes / Jessica" (product, then Clever) when both may be shown and both have one."""
    if field not in product or field not in clever:
        return ""
    first, second = str(product[field] or "").strip(), str(clever[field] or "").strip()
    return f": {first} / {second}" if first and second else ""


def likelihood(probability: float) -> str:
    """How sure the engine is, in words (the probability itself is for the numbers view)."""
    if probability >= 0.99:
        return "almost certainly the same person"
    if probability >= 0.9:
        return "very likely the same person"
    if probability >= 0.7:
        return "likely the same person"
    if probability >= 0.5:
        return "possibly the same person"
    if probability >= 0.1:
        return "unlikely to be the same person"
    return "almost certainly not the same person"


def explain(
    contributions: Iterable[Mapping],
    product: Mapping[str, str],
    clever: Mapping[str, str],
    *,
    role: str = "",
    vetoes: Iterable[str] = (),
) -> list[str]:
    """Sentences explaining one candidate: vetoes, what is the same (strongest first), what is
    close, what differs, then what could not be compared because one side lacks it.

    ``contributions``: ``[{"field", "level", "weight"}]`` as stored in ``PersonMatch.candidates``.
    ``product`` / ``clever``: the displayable value of each compared field (engine field names:
    ``first_name``, ``dob``, ``sis_id``, ``number``...); leave out a field the reader may not see.
    ``role``: the product record's role, which names ``number``.
    """
    contributions = [c for c in contributions if c.get("field")]
    levels = {c["field"]: str(c.get("level", "")) for c in contributions}
    return [
        *(
            VETO_SENTENCES.get(veto, f"Never linked automatically: {veto.replace('_', ' ')}.")
            for veto in vetoes
        ),
        *_same(contributions, levels, role),
        *_close(contributions, levels, product, clever, role),
        *_different(contributions, levels, product, clever, role),
        *_not_compared(contributions, levels, product, clever, role),
    ]


def _same(contributions: list[Mapping], levels: dict[str, str], role: str) -> list[str]:
    """One sentence for every field that agrees, strongest first."""
    agreeing = sorted(
        (c for c in contributions if levels[c["field"]] in _AGREEING),
        key=lambda c: -float(c.get("weight") or 0),
    )
    if not agreeing:
        return []
    return [_sentence("same " + join_words([field_label(c["field"], role) for c in agreeing]))]


def _close(
    contributions: list[Mapping],
    levels: dict[str, str],
    product: Mapping[str, str],
    clever: Mapping[str, str],
    role: str,
) -> list[str]:
    """A sentence per field that is neither the same nor different (swapped names said once)."""
    sentences = []
    swapped = levels.get("first_name") == levels.get("last_name") == "names_swapped"
    if swapped:
        sentences.append(_sentence("first and last names are swapped"))
    for contribution in contributions:
        field, level = contribution["field"], levels[contribution["field"]]
        if level not in _PARTIAL or (swapped and field in _OTHER_NAME):
            continue
        template = _DOB_ONE_EDIT if (field, level) == ("dob", "one_edit") else _PARTIAL[level]
        label = field_label(field, role)
        if field == "dob" and level in ("within_month", "within_year"):
            label = "dates of birth"
        text = template.format(label=label, other=_OTHER_NAME.get(field, "name"))
        values = _values(field, product, clever)
        if values and ":" in text:
            text = f"{text} ({values[2:]})"
        else:
            text += values
        sentences.append(_sentence(text))
    return sentences


def _different(
    contributions: list[Mapping],
    levels: dict[str, str],
    product: Mapping[str, str],
    clever: Mapping[str, str],
    role: str,
) -> list[str]:
    """A sentence per field that differs, and per level this module has no words for."""
    sentences = []
    for contribution in contributions:
        field, level = contribution["field"], levels[contribution["field"]]
        if level == "else":
            label = field_label(field, role)
            if field == "school":
                sentences.append("Different schools.")
            else:
                sentences.append(_sentence(f"{label} differs{_values(field, product, clever)}"))
        elif level not in _AGREEING | set(_PARTIAL) | {"null", ""}:
            sentences.append(_sentence(f"{field_label(field, role)} compared ({level.replace('_', ' ')})"))
    return sentences


def _not_compared(
    contributions: list[Mapping],
    levels: dict[str, str],
    product: Mapping[str, str],
    clever: Mapping[str, str],
    role: str,
) -> list[str]:
    """What the engine could not compare, a sentence per reason (see ``_uncompared``)."""
    only_product, only_clever, unknown, both = _uncompared(contributions, levels, product, clever, role)
    sentences = []
    if only_clever:
        sentences.append(f"Not compared, only Clever has it: {join_words(only_clever)}.")
    if only_product:
        sentences.append(f"Not compared, only the product account has it: {join_words(only_product)}.")
    if unknown:
        sentences.append(f"Not compared, missing on one side: {join_words(unknown)}.")
    if both == ["school"]:
        sentences.append(
            "Schools not compared: the product account's school is not matched to a Clever school yet."
        )
    elif both:
        sentences.append(f"Not compared: {join_words(both)}.")
    return sentences


def _uncompared(
    contributions: list[Mapping],
    levels: dict[str, str],
    product: Mapping[str, str],
    clever: Mapping[str, str],
    role: str,
) -> tuple[list[str], list[str], list[str], list[str]]:
    """The labels of the fields the engine could not compare, by why: only the product account
    has it, only Clever has it, the reader may not see it, or both have it (not comparable yet)."""
    only_product, only_clever, unknown, both = [], [], [], []
    for contribution in contributions:
        field = contribution["field"]
        if levels[field] not in ("null", ""):
            continue
        label = field_label(field, role)
        if field not in product or field not in clever:
            unknown.append(label)
            continue
        on_product, on_clever = (bool(str(side[field] or "").strip()) for side in (product, clever))
        if on_product and on_clever:
            # Both have a value the engine could not compare: a school not matched yet.
            both.append(label)
        elif on_product:
            only_product.append(label)
        elif on_clever:
            only_clever.append(label)
    return only_product, only_clever, unknown, both
