"""Deleting rows with everything that refers to them, in a few set-based statements.

Django's ``QuerySet.delete()`` collects: it loads every row to delete, then every row that
refers to one, and sends their primary keys back as parameters. For a district of a million
students that is millions of objects in memory and statements with more parameters than SQLite
accepts (32,766). ``delete_cascading`` honours the same ``on_delete`` rules without loading a
row: the plan is read from the models' ``_meta`` (so a relation added later is honoured too),
and each step is one ``DELETE`` (or, for ``SET_NULL``, one ``UPDATE``) whose ``WHERE`` nests
the subqueries that lead back to the rows asked for. Children go before their parents; the
statements bind only the parameters of the queryset asked for, whatever the number of rows.

Relations it cannot honour this way are refused when the plan is made (``UnsupportedDeletion``),
never skipped: ``PROTECT``, ``RESTRICT``, ``SET_DEFAULT``, ``SET(...)``, a cycle of cascades, a
generic relation, multi-table inheritance, and models with delete signal receivers (a raw delete
sends no signal).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import cast

from django.db import models
from django.db.models.deletion import get_candidate_relations_to_delete
from django.db.models.fields.reverse_related import ForeignObjectRel
from django.db.models.signals import post_delete, pre_delete

from .errors import AppError


class UnsupportedDeletion(AppError):
    """A model reached by the deletion has a relation (or a receiver) a set-based delete cannot
    honour."""


@dataclass(frozen=True)
class Step:
    """One statement of the plan: the rows of ``model`` reached from the root through ``path``
    (foreign keys, the step's own first, the one pointing at the root last; empty for the root
    itself) are deleted, or, when ``set_null`` names one of their foreign keys, unlinked."""

    model: type[models.Model]
    path: tuple[models.ForeignObject, ...] = ()
    set_null: models.ForeignObject | None = None

    def rows(self, root: models.QuerySet) -> models.QuerySet:
        """The rows this step acts on, as one query nesting a subquery per foreign key."""
        rows = root.order_by()
        for key in reversed(self.path):
            rows = key.model._base_manager.filter(**{f"{key.name}__in": rows.values(key.target_field.name)})
        return rows


def _refuse_unless_plain(model: type[models.Model]) -> None:
    label = model._meta.label
    if model._meta.parents:
        raise UnsupportedDeletion(f"{label} inherits from another model's table")
    if any(isinstance(field, models.ForeignObject) for field in model._meta.private_fields):
        raise UnsupportedDeletion(f"{label} has a generic relation")
    if pre_delete.has_listeners(model) or post_delete.has_listeners(model):
        raise UnsupportedDeletion(f"{label} has delete signal receivers, which a set-based delete skips")


def _plan(model: type[models.Model], path: tuple[models.ForeignObject, ...], above: tuple) -> list[Step]:
    _refuse_unless_plain(model)
    if model in above:
        raise UnsupportedDeletion(f"{model._meta.label} cascades into itself")
    steps: list[Step] = []
    relations = cast("Iterable[ForeignObjectRel]", get_candidate_relations_to_delete(model._meta))
    for relation in relations:
        key, on_delete = relation.field, relation.on_delete
        if on_delete is models.CASCADE:
            steps += _plan(key.model, (key, *path), (*above, model))
        elif on_delete is models.SET_NULL:
            steps.append(Step(key.model, (key, *path), set_null=key))
        elif on_delete is not models.DO_NOTHING:
            raise UnsupportedDeletion(
                f"{key.model._meta.label}.{key.name} is {getattr(on_delete, '__name__', on_delete)}"
            )
    # After every step below it: nothing refers to these rows any more when they go.
    steps.append(Step(model, path))
    return steps


def plan(model: type[models.Model]) -> list[Step]:
    """The statements that delete rows of ``model`` with what refers to them, in order."""
    return _plan(model, (), ())


def delete_cascading(queryset: models.QuerySet) -> dict[str, int]:
    """Delete the rows of ``queryset`` and everything that refers to them as ``on_delete`` says,
    set-based (see the module). Run it in a transaction. Returns the rows deleted per model
    label (``"rostering.Person"``), models with none left out."""
    if queryset.query.is_sliced:
        raise UnsupportedDeletion("a sliced queryset cannot be deleted set-based")
    deleted: Counter[str] = Counter()
    for step in plan(queryset.model):
        rows = step.rows(queryset)
        if step.set_null is not None:
            rows.update(**{step.set_null.name: None})
        else:
            deleted[step.model._meta.label] += rows._raw_delete(rows.db)
    return {label: count for label, count in deleted.items() if count}


def count_cascading(queryset: models.QuerySet) -> dict[str, int]:
    """How many rows of each model ``delete_cascading(queryset)`` would delete, by the model's
    plural name, one ``COUNT`` per model (a row reached through several relations counts once);
    models with none left out. For "are you sure?" pages."""
    reaching: defaultdict[type[models.Model], list[models.QuerySet]] = defaultdict(list)
    for step in plan(queryset.model):
        if step.set_null is None:
            reaching[step.model].append(step.rows(queryset))
    counts = {}
    for model, found in reaching.items():
        # A UNION of each path's keys counts a row reached twice once, and each path is read
        # where it is: ``pk IN (...)`` would join the table to itself, which PostgreSQL without
        # statistics yet (a fresh table, a test's transaction) may plan as a nested loop.
        keys = [rows.order_by().values("pk") for rows in found]
        if count := keys[0].union(*keys[1:]).count():
            counts[str(model._meta.verbose_name_plural)] = count
    return counts
