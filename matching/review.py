"""The review queue's pages, for support staff (``matching.admin.PersonMatchAdmin`` serves them):
people named by their names (never a username or an internal ID), each candidate explained in
plain words (``matching.explain``) with the numbers on demand, and the decision forms.

The dates of birth are a child's sensitive data: they are read only through
``rostering.admin.reveal_sensitive`` (the permission, decryption and its log) and, without the
permission, neither the grid nor the explanation shows them.
"""

from __future__ import annotations

from django import forms
from django.contrib.auth import get_user_model
from django.urls import reverse
from django.utils import formats

from rostering.admin import HIDDEN, UNREADABLE, reveal_sensitive
from rostering.models import Person
from rostering.models import School as CleverSchool
from rostering.selectors import birth_date
from sso import policy as sso_policy

from . import selectors
from .explain import explain, field_label, likelihood
from .models import MatchSource, MatchStatus, PersonMatch, Zone

User = get_user_model()

# The compared fields, in the engine's names, as the review grid lists them.
GRID_FIELDS = (
    "first_name",
    "last_name",
    "email",
    "dob",
    "grade",
    "sis_id",
    "number",
    "state_id",
    "staff_id",
    "school",
)
ZONE_WORDS = {
    Zone.AUTO: "The matcher was sure, but this account needs a person's decision.",
    Zone.REVIEW: "The matcher is not sure.",
    Zone.DUPLICATE: "The matcher thinks this account repeats another account of the organization.",
    Zone.NO_MATCH: "The matcher found no Clever record like this one.",
}
SOURCE_WORDS = {
    MatchSource.ENGINE: "the matcher",
    MatchSource.MATCHMAKER: "a Clever Matchmaker file",
    MatchSource.STAFF: "support staff",
}


# --- names -----------------------------------------------------------------------------------


def person_name(user) -> str:
    """A product account as people know it: its name, never its username or ID."""
    if user is None:
        return ""
    name = " ".join(part for part in (user.first_name.strip(), user.last_name.strip()) if part)
    return name or f"an unnamed {user.role or 'account'}"


def clever_name(person: Person | None) -> str:
    if person is None:
        return ""
    name = " ".join(part for part in (person.first_name.strip(), person.last_name.strip()) if part)
    return name or "an unnamed Clever person"


def staff_name(user) -> str:
    """Who decided: a staff member's name, else their email."""
    if user is None:
        return ""
    return user.get_full_name().strip() or user.email or "a support user"


def item_title(match: PersonMatch) -> str:
    """ "Jes Russell · Jessica Russell in Clever": the product side, then the Clever side."""
    product, clever = person_name(match.user), clever_name(match.person)
    if product and clever:
        return f"{product} · {clever} in Clever"
    if product:
        return f"{product} · no Clever record yet"
    return f"{clever} in Clever · no product account"


def describe_account(user, *, email: bool = True) -> str:
    """What tells two accounts of the same name apart: role, grade, school (and email)."""
    parts = [user.get_role_display() if user.role else ""]
    if user.grade:
        parts.append(f"grade {user.grade}")
    if user.school_id:
        parts.append(user.school.name)
    if email and user.email:
        parts.append(user.email)
    return ", ".join(part for part in parts if part)


def account_label(user) -> str:
    details = describe_account(user)
    return f"{person_name(user)} ({details})" if details else person_name(user)


# --- compared values -------------------------------------------------------------------------


def product_values(user) -> dict[str, str]:
    """The product account's compared values by engine field (no date of birth: see ``_dates``)."""
    if user is None:
        return {}
    number = user.student_number if user.role == User.Role.STUDENT else user.teacher_number
    return {
        "first_name": user.first_name,
        "last_name": user.last_name,
        "email": user.email,
        "grade": user.grade,
        "sis_id": user.sis_id,
        "number": number,
        "state_id": user.state_id,
        "staff_id": user.staff_id,
        "school": user.school.name if user.school_id else "",
        # The product keeps no earlier Clever ID: nothing to say about it.
        "legacy_id": "",
    }


def clever_values(person: Person | None, school_names: dict[str, str]) -> dict[str, str]:
    """A Clever person's compared values by engine field, as ``selectors.clever_record`` reads
    them (the identifiers of their first role), without the date of birth."""
    if person is None:
        return {}
    if person.is_student:
        ids = (person.student_sis_id, person.student_number, person.student_state_id)
    elif person.is_teacher:
        ids = (person.teacher_sis_id, person.teacher_number, person.teacher_state_id)
    else:
        ids = ("", "", "")
    schools = [school_names.get(cid, "") for cid in person.school_clever_ids or ()]
    return {
        "first_name": person.first_name,
        "last_name": person.last_name,
        "email": person.email,
        "grade": person.grade,
        "sis_id": ids[0],
        "number": ids[1],
        "state_id": ids[2],
        "staff_id": person.staff_id,
        "school": ", ".join(name for name in schools if name),
        "legacy_id": "",
    }


def _dates(request, match: PersonMatch, people: list[Person | None]):
    """The dates of birth the reader may see: (product, [each candidate]) as text, or None when
    hidden (no permission). A candidate's unreadable date: ``UNREADABLE``."""
    shown = reveal_sensitive(request.user, [p for p in people if p], page=f"review item {match.pk}")
    if shown is None:
        return None
    clever = []
    for person in people:
        values = shown.get(person.pk, {}) if person else {}
        born = None if values is None else birth_date(values)
        clever.append(UNREADABLE if values is None else formats.date_format(born) if born else "")
    born = match.user.date_of_birth if match.user else None
    return (formats.date_format(born) if born else ""), clever


# --- decisions ---------------------------------------------------------------------------------


class AcceptForm(forms.Form):
    """Accept the proposed candidate, or choose another one of the item's candidates."""

    clever_id = forms.CharField(max_length=24, required=False, widget=forms.HiddenInput)


class NoMatchForm(forms.Form):
    """No Clever record is this product account."""


class DuplicateForm(forms.Form):
    """The product account repeats another account of the same organization: chosen from a list
    (plausible accounts, or those a search found), validated against every product account of
    the organization; never an ID typed by hand."""

    duplicate_of = forms.ModelChoiceField(
        queryset=User.objects.none(),
        label="Duplicate of",
        empty_label="Choose the account it repeats…",
        error_messages={
            "required": "Choose the account this one repeats.",
            "invalid_choice": "Choose one of the organization's accounts from the list.",
        },
    )

    def __init__(self, *args, match: PersonMatch, choices=(), **kwargs):
        super().__init__(*args, **kwargs)
        field = self.fields["duplicate_of"]
        field.queryset = selectors.duplicate_targets(match).select_related("school")
        offered = list(choices)
        if match.duplicate_of_id and not self.is_bound:
            self.initial.setdefault("duplicate_of", match.duplicate_of_id)
        # The widget lists the offered accounts only (an organization may have 50,000).
        field.widget.choices = [("", field.empty_label), *((u.pk, account_label(u)) for u in offered)]
        field.widget.attrs.update({"class": "review-duplicate-choice"})


class DuplicateSearchForm(forms.Form):
    """The search that fills the "duplicate of" list (a GET on the review page)."""

    find = forms.CharField(
        required=False,
        max_length=100,
        strip=True,
        label="Find an account",
        widget=forms.TextInput(attrs={"placeholder": "name or email", "size": 18}),
    )


DECISIONS = {"accept": AcceptForm, "no_match": NoMatchForm, "duplicate": DuplicateForm}


def decision_form(decision: str, match: PersonMatch, data=None, *, search: str = ""):
    """The bound (``data``) or empty form of one decision, None for an unknown decision."""
    form_class = DECISIONS.get(decision)
    if form_class is None:
        return None
    if form_class is DuplicateForm:
        choices = selectors.duplicate_choices(match, search=search) if match.user_id else []
        if data is not None and str(data.get("duplicate_of", "")).isdigit():
            chosen = selectors.duplicate_targets(match).filter(pk=int(data["duplicate_of"])).first()
            if chosen is not None and chosen not in choices:
                choices.insert(0, chosen)
        return DuplicateForm(data, match=match, choices=choices)
    return form_class(data)


# --- the page ---------------------------------------------------------------------------------


def review_context(
    request, match: PersonMatch, *, bound: dict | None = None, search_form: DuplicateSearchForm | None = None
) -> dict:
    """What the review page shows: the product account beside each Clever candidate, the grid of
    compared values, each candidate in plain words and in numbers, and the decision forms
    (``bound``: a form that failed, by decision name, shown with its errors; ``search_form``: the
    validated search that fills the "duplicate of" list)."""
    people, school_names = _candidate_people(match)
    product = product_values(match.user)
    dates = _dates(request, match, [people.get(c["clever_id"]) for c in match.candidates])
    if dates is not None and match.user:
        product["dob"] = dates[0]
    candidates = [
        _candidate(match, index, candidate, people.get(candidate["clever_id"]), school_names, product, dates)
        for index, candidate in enumerate(match.candidates)
    ]
    return {
        "title": f"Review: {item_title(match)}",
        "item_title": item_title(match),
        "match": match,
        "product_name": person_name(match.user),
        "product_description": describe_account(match.user, email=False) if match.user else "",
        "current_word": "linked now"
        if match.status in (MatchStatus.AUTO_LINKED, MatchStatus.ACCEPTED)
        else "proposed",
        "zone_words": ZONE_WORDS.get(match.zone, ""),
        "source_words": SOURCE_WORDS.get(match.source, match.source),
        "duplicate_of_name": person_name(match.duplicate_of) if match.duplicate_of_id else "",
        "decided_by": staff_name(match.decided_by),
        "rows": _grid(match, product, candidates, dates),
        "protected": bool(match.user and sso_policy.is_protected(match.user)),
        "never_through_clever": bool(match.user and sso_policy.never_through_clever(match.user)),
        "candidates": candidates,
        "rivals": _rivals(match),
        **_decision_forms(match, bound or {}, search_form or DuplicateSearchForm()),
        "decide_url": reverse("admin:matching_personmatch_decide", args=[match.pk]),
        "change_url": reverse("admin:matching_personmatch_change", args=[match.pk]),
    }


def _candidate_people(match: PersonMatch) -> tuple[dict[str, Person], dict[str, str]]:
    """The candidates' Clever people (by Clever ID) and the names of their schools."""
    people = {
        p.clever_id: p
        for p in Person.objects.filter(
            district=match.district, clever_id__in=[c["clever_id"] for c in match.candidates]
        )
    }
    school_ids = {cid for p in people.values() for cid in p.school_clever_ids or ()}
    school_names = dict(
        CleverSchool.objects.filter(district=match.district, clever_id__in=school_ids).values_list(
            "clever_id", "name"
        )
    )
    return people, school_names


def _candidate(
    match: PersonMatch,
    index: int,
    candidate: dict,
    person: Person | None,
    school_names: dict[str, str],
    product: dict[str, str],
    dates,
) -> dict:
    """One Clever candidate as the page shows it: its values, in words and in bars."""
    role = match.user.role if match.user else ""
    clever = clever_values(person, school_names)
    if dates is not None and person is not None and dates[1][index] != UNREADABLE:
        clever["dob"] = dates[1][index]
    contributions = candidate.get("contributions", [])
    return {
        **candidate,
        "person": person,
        "current": person is not None and person.pk == match.person_id,
        # Archived since the matcher proposed them: nobody to link.
        "left_on": person.archived_at if person is not None else None,
        "name": clever_name(person) or "a Clever person no longer in the roster",
        "values": clever,
        "likelihood": likelihood(candidate.get("probability", 0.0)),
        "explanation": explain(
            contributions,
            product if match.user else {},
            clever,
            role=role,
            vetoes=candidate.get("vetoes", ()),
        ),
        "bars": [
            {
                **c,
                "label": field_label(c["field"], role),
                "width": min(100, abs(c["weight"]) * 5),
                "positive": c["weight"] >= 0,
            }
            for c in contributions
        ],
    }


def _grid(match: PersonMatch, product: dict[str, str], candidates: list[dict], dates) -> list[tuple]:
    """The compared values, a row per field either side has (the date of birth hidden without
    the permission)."""
    role = match.user.role if match.user else ""
    rows = []
    for field in GRID_FIELDS:
        if field == "dob":
            if dates is None:
                rows.append((field_label(field), HIDDEN, [HIDDEN if c["person"] else "" for c in candidates]))
            else:
                rows.append((field_label(field), dates[0] if match.user else "", dates[1]))
            continue
        values = (product.get(field, ""), [c["values"].get(field, "") for c in candidates])
        if values[0] or any(values[1]):
            rows.append((field_label(field, role), *values))
    return rows


def _rivals(match: PersonMatch) -> list[dict]:
    """Other product accounts in the queue proposed the same Clever person (a few)."""
    if not match.person_id:
        return []
    return [
        {"name": person_name(r.user), "url": reverse("admin:matching_personmatch_change", args=[r.pk])}
        for r in selectors.review_queue(match.district)
        .filter(person=match.person)
        .exclude(pk=match.pk)
        .select_related("user")[:5]
    ]


def _decision_forms(match: PersonMatch, bound: dict, search_form: DuplicateSearchForm) -> dict:
    """The decision forms (a bound one with its errors), the errors said above them, and the
    "duplicate of" search."""
    searched = search_form.is_bound and search_form.is_valid()
    search = search_form.cleaned_data.get("find", "") if searched else ""
    duplicate_form = bound.get("duplicate") or decision_form("duplicate", match, search=search)
    errors = [error for form in bound.values() for error in form.non_field_errors()]
    if not errors and any(form.errors for form in bound.values()):
        errors = ["The decision was not made: see the error below."]
    return {
        "errors": errors,
        "accept_form": bound.get("accept") or AcceptForm(),
        "no_match_form": bound.get("no_match") or NoMatchForm(),
        "duplicate_form": duplicate_form,
        "duplicate_offered": len(duplicate_form.fields["duplicate_of"].widget.choices) - 1,
        "search_form": search_form,
        "search": search,
    }
