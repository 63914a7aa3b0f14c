"""The plan models' common ground: the base model, sorted collections, trusted construction.

Every model of :mod:`mapper.plan` derives from :class:`PlanModel` (frozen, ``extra="forbid"``)
and keeps its collections in a :data:`SortedTuple` (sorted by each item's ``key``, duplicate
keys refused). :func:`trusted` builds an item from values the planner has validated already.
"""

from __future__ import annotations

import itertools
from operator import itemgetter
from typing import Annotated, Any, Protocol, TypeVar

from pydantic import AfterValidator, ConfigDict

from grantbridge.fields_sets import SharesFieldsSets, shared_fields_set


class PlanModel(SharesFieldsSets):
    """Base of every plan model: frozen, strict about unknown fields, sharing fields sets
    (:mod:`grantbridge.fields_sets`)."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class _Keyed(Protocol):
    @property
    def key(self) -> str: ...


K = TypeVar("K", bound=_Keyed)


def sorted_unique(items: tuple[K, ...]) -> tuple[K, ...]:
    """The items sorted by key (ValueError on a duplicate key): what a ``SortedTuple`` holds."""
    # each key computed once (a plan may hold millions of grants)
    keyed = sorted(((item.key, i) for i, item in enumerate(items)), key=itemgetter(0))
    for (before, _), (after, _) in itertools.pairwise(keyed):
        if before == after:
            raise ValueError(f"duplicate plan item {after!r}")
    return tuple(items[i] for _, i in keyed)


SortedTuple = Annotated[tuple[K, ...], AfterValidator(sorted_unique)]

P = TypeVar("P", bound="PlanModel")
_TEMPLATES: dict[type[Any], dict[str, Any]] = {}
#: the names a trusted() call gives → their shared fields set: looking up a tuple of a few
#: interned names is cheaper than building a frozenset of them per call (millions at scale)
_FIELDS_SETS: dict[tuple[str, ...], set[str]] = {}
_set = object.__setattr__


def trusted(cls: type[P], fields: dict[str, Any], **more: Any) -> P:
    """``cls(**fields, **more)`` without validation, for values the planner has validated
    already (another plan item's fields, a role name, the mapping table's privileges).

    About a third of the validating constructor's time; the instance is indistinguishable
    from a validated one (``tests/test_fields_sets.py``). Never for outside input.
    """
    template = _TEMPLATES.get(cls)
    if template is None:  # every field in declaration order, as validation leaves them
        template = _TEMPLATES[cls] = {
            name: None if info.is_required() else info.get_default(call_default_factory=True)
            for name, info in cls.model_fields.items()
        }
    values = template.copy()
    values.update(fields)
    values.update(more)
    names = (*fields, *more)  # a callsite names the same fields in the same order every time
    fields_set = _FIELDS_SETS.get(names)
    if fields_set is None:
        fields_set = _FIELDS_SETS[names] = shared_fields_set(names)
    instance = cls.__new__(cls)
    _set(instance, "__dict__", values)
    _set(instance, "__pydantic_fields_set__", fields_set)
    _set(instance, "__pydantic_extra__", None)
    _set(instance, "__pydantic_private__", None)
    return instance


def with_field(item: P, name: str, value: Any) -> P:
    """A copy of ``item`` with one field's value replaced: its fields set and field order kept.

    For a field the item was given (in its fields set) and a value the planner has validated
    already, as :func:`trusted`: a template item's copies, one per grantee
    (:mod:`mapper.translate.grant_stamps`).
    """
    values = item.__dict__.copy()
    values[name] = value
    cls = type(item)
    instance = cls.__new__(cls)
    _set(instance, "__dict__", values)
    _set(instance, "__pydantic_fields_set__", item.__pydantic_fields_set__)
    _set(instance, "__pydantic_extra__", None)
    _set(instance, "__pydantic_private__", None)
    return instance
