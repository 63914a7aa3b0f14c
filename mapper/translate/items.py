"""Plan items under construction, keyed, with the source facts each came from.

:class:`PlanItems` is the item half of the planner's state
(:class:`~mapper.translate.state.PlanState`): translators add items for facts; an item whose
key exists already is not duplicated, the later fact is added to it instead (least privilege:
one grant per privilege, however many source facts asked for it). Grants and default
privileges are indexed by grantee and memberships by member, so that DENY restructuring never
scans every item; the facts are written into the items only when the plan is handed over.
:func:`copy_with` copies a plan model without validation, on the planner's hottest path.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from grantbridge.fields_sets import shared_fields_set
from mapper.plan import (
    PgDatabase,
    PgDefaultPrivilege,
    PgDefaultRevoke,
    PgGrant,
    PgMembership,
    PgObject,
    PgRevoke,
    PgSchema,
    PlanModel,
)

Item = (
    PgGrant | PgMembership | PgDefaultPrivilege | PgRevoke | PgSchema | PgObject | PgDatabase
    | PgDefaultRevoke
)  # fmt: skip
Granted = PgGrant | PgDefaultPrivilege
_GRANTED = (PgGrant, PgDefaultPrivilege)

_ItemT = TypeVar("_ItemT", bound=PlanModel)
_set = object.__setattr__


def copy_with(item: _ItemT, **changes: Any) -> _ItemT:
    """``item.model_copy(update=changes)``, about twice as fast (no validation either way).

    What pydantic's ``__copy__`` does, minus the generic parts a plan model never needs: plan
    models forbid extra fields and have no private attributes. The planner copies every grant at
    least once (facts written in, DENY-derived roles), so this is on its hottest path;
    ``tests/mapper/test_deny_signature.py`` checks the copy equals ``model_copy``'s.
    """
    cls = type(item)
    copied = cls.__new__(cls)
    _set(copied, "__dict__", {**item.__dict__, **changes})
    _set(copied, "__pydantic_extra__", None)
    _set(copied, "__pydantic_fields_set__", _fields_set(item.__pydantic_fields_set__, changes))
    _set(copied, "__pydantic_private__", None)
    return copied


def _fields_set(fields: set[str], changes: dict[str, Any]) -> set[str]:
    if changes.keys() <= fields:  # a grantee or the facts changed: the item's own (shared) set
        return fields
    return shared_fields_set(fields | changes.keys())


@dataclass(kw_only=True)
class PlanItems:
    """The plan's items by key, their facts, and the indexes kept with them."""

    items: dict[str, Item] = field(default_factory=dict)
    #: item key → the facts it came from: one fact as a plain string, two or more as a set
    #: (most items have one, and a set of one costs 216 bytes: a tenth of the planner's memory)
    item_facts: dict[str, str | set[str]] = field(default_factory=dict)
    #: grantee → its grants and default privileges by key; member → its memberships by key.
    #: Kept by add()/remove() so DENY restructuring never scans every item (insertion order,
    #: as in :attr:`items`).
    by_grantee: dict[str, dict[str, Granted]] = field(default_factory=dict)
    by_member: dict[str, dict[str, PgMembership]] = field(default_factory=dict)
    #: item keys by model type, made by the first hand_over() (the planner's last step)
    _handed: dict[type, list[str]] | None = None

    def add(self, item: Item, fact: str, key: str | None = None) -> tuple[str, bool]:
        """Add an item for ``fact``; returns its key and whether it is new.

        Facts are collected in :attr:`item_facts` (adding stays O(1)) and written into the items
        by :meth:`of_type`. ``key``: ``item.key``, when the caller has spelled it already.
        """
        if key is None:
            key = item.key
        facts = self.item_facts.get(key)
        if facts is None:
            self.items[key] = item
            self.item_facts[key] = fact
            index = self._index(item)
            if index is not None:
                index[key] = item
            return key, True
        if isinstance(facts, str):
            if facts != fact:
                self.item_facts[key] = {facts, fact}
        else:
            facts.add(fact)
        return key, False

    def move(self, key: str, item: Item) -> str:
        """Put ``item`` in place of the item under ``key`` with that item's facts; returns its key.

        What :meth:`remove` and then :meth:`add` of each of the facts do, without sorting and
        adding them one by one (DENY restructuring moves a split role's grants: :meth:`move_grants`).
        """
        facts = self.item_facts[key]
        self.remove(key)
        moved = item.key
        if moved in self.item_facts:  # the item exists already: it gains the facts
            for fact in (facts,) if isinstance(facts, str) else sorted(facts):
                self.add(item, fact)
            return moved
        self.items[moved] = item
        self.item_facts[moved] = facts  # the removed item's: nothing else holds it
        index = self._index(item)
        if index is not None:
            index[moved] = item
        return moved

    def move_grants(self, grants: Iterable[tuple[str, Granted]], grantee: str, to: str) -> None:
        """:meth:`move` of each of ``grantee``'s ``grants`` (key, item) to the grantee ``to``.

        The new key is the old one with ``to`` at its end (every grant's and default
        privilege's key ends in its grantee): a split role's grants, most of the plan's at
        scale, move without their keys spelled again or their index looked up per grant.
        """
        items, item_facts = self.items, self.item_facts
        source, target = self.by_grantee[grantee], self.by_grantee.setdefault(to, {})
        cut = len(grantee)
        for key, item in grants:
            copy = copy_with(item, grantee=to)
            moved = key[: len(key) - cut] + to
            facts = item_facts.pop(key)
            del items[key], source[key]
            if moved in item_facts:  # the item exists already: it gains the facts
                for fact in (facts,) if isinstance(facts, str) else sorted(facts):
                    self.add(copy, fact, moved)
            else:
                items[moved] = copy
                item_facts[moved] = facts  # the removed item's: nothing else holds it
                target[moved] = copy

    def remove(self, key: str) -> None:
        """Drop an item (DENY restructuring, implied grants)."""
        item = self.items.pop(key)
        del self.item_facts[key]
        index = self._index(item)
        if index is not None:
            del index[key]

    def _index(self, item: Item) -> dict[str, Any] | None:
        """The items of the same grantee or member, by key (None: a kind not indexed)."""
        if isinstance(item, _GRANTED):  # a tuple: checked faster than a union (hot: issue 7)
            return self.by_grantee.setdefault(item.grantee, {})
        if isinstance(item, PgMembership):
            return self.by_member.setdefault(item.member, {})
        return None

    def granted_to(self, grantee: str) -> list[tuple[str, Granted]]:
        """The grants and default privileges of one grantee with their keys (without facts)."""
        return list(self.by_grantee.get(grantee, {}).items())

    def granted_keys(self, grantee: str) -> Iterable[str]:
        """The keys of one grantee's grants and default privileges (a live view)."""
        return self.by_grantee.get(grantee, {}).keys()

    def memberships(self) -> list[PgMembership]:
        """Every membership, in no particular order (without their facts: no copies)."""
        return [m for index in self.by_member.values() for m in index.values()]

    def memberships_of(self, member: str) -> list[PgMembership]:
        """The memberships of one member, in key order (without their facts)."""
        return [m for _, m in sorted(self.by_member.get(member, {}).items())]

    def memberships_of_unsorted(self, member: str) -> Iterable[PgMembership]:
        """:meth:`memberships_of` in no particular order, for a caller the order cannot change
        (a closure: :func:`~mapper.translate.owner_members.roles_above`): no copy, no sort. A
        live view: not to be iterated while that member's memberships change."""
        return self.by_member.get(member, {}).values()

    def facts_of(self, key: str) -> tuple[str, ...]:
        """The facts of one item, sorted (as :meth:`of_type` writes them)."""
        facts = self.item_facts[key]
        return (facts,) if isinstance(facts, str) else tuple(sorted(facts))

    def facts_in(self, key: str) -> Collection[str]:
        """The facts of one item, in no particular order (no copy)."""
        facts = self.item_facts[key]
        return (facts,) if isinstance(facts, str) else facts

    def add_facts(self, item: Item, facts: Collection[str], key: str) -> None:
        """:meth:`add` of ``item`` (under ``key``) for each of ``facts`` (one or more), at once.

        The item's facts end as one :meth:`add` call per fact leaves them (a plain string while
        there is one); the schema USAGE grants take every fact of the grants in their schema
        (:func:`~mapper.translate.grants.plan_schema_usage`; tests/mapper/
        test_bookkeeping_fast_paths.py checks it against :meth:`add`).
        """
        held = self.item_facts.get(key)
        if held is None:
            self.items[key] = item
            self.item_facts[key] = next(iter(facts)) if len(facts) == 1 else set(facts)
            index = self._index(item)
            if index is not None:
                index[key] = item
        elif isinstance(held, str):
            if len(facts) > 1 or held not in facts:
                self.item_facts[key] = {held, *facts}
        else:
            held.update(facts)

    def add_all(self, items: Iterable[Item], fact: str) -> tuple[list[str], bool]:
        """Add many items; returns their keys and whether any was new."""
        keys, fresh = [], False
        for item in items:
            key, new = self.add(item, fact)
            keys.append(key)
            fresh = fresh or new
        return keys, fresh

    def add_keyed(self, items: Iterable[tuple[str, Item]], fact: str) -> tuple[list[str], bool]:
        """:meth:`add_all` of items whose keys the caller has (each with its key).

        :meth:`add` inlined: the permission rows add every grant they make here (issue 7;
        ``tests/mapper/test_permission_fast_paths.py`` checks it against :meth:`add_all`).
        """
        keys, fresh = [], False
        all_items, item_facts = self.items, self.item_facts
        for key, item in items:
            keys.append(key)
            facts = item_facts.get(key)
            if facts is None:
                all_items[key] = item
                item_facts[key] = fact
                index = self._index(item)
                if index is not None:
                    index[key] = item
                fresh = True
            elif isinstance(facts, str):
                if facts != fact:
                    item_facts[key] = {facts, fact}
            else:
                facts.add(fact)
        return keys, fresh

    def of_type(self, kind: type[Any]) -> list[Any]:
        """Items of one model type, in key order, with their facts."""
        keys = sorted(k for k, item in self.items.items() if isinstance(item, kind))
        return [copy_with(self.items[k], facts=self.facts_of(k)) for k in keys]

    def hand_over(self, kind: type[Any]) -> list[Any]:
        """:meth:`of_type` for the finished plan: facts written into the items themselves.

        The state is discarded once the plan is built, so its items are handed over instead of
        copied (a copy of every item was a fifth of the planner's peak memory at scale). Only
        the planner's last step may call this: the items are not to be read as state after it.
        """
        if self._handed is None:  # the items no longer change: group them once, not per kind
            self._handed = {}
            for key, item in self.items.items():
                self._handed.setdefault(type(item), []).append(key)
        items = []
        # by the fields set an item holds now (shared: a handful), which the entry keeps alive
        # so that its id is not reused
        with_facts: dict[int, tuple[set[str], set[str]]] = {}
        all_items, item_facts = self.items, self.item_facts  # facts_of(), inlined: hot at scale
        for key in sorted(self._handed.get(kind, ())):
            item = all_items[key]
            facts = item_facts[key]
            item.__dict__["facts"] = (facts,) if type(facts) is str else tuple(sorted(facts))
            fields = item.__pydantic_fields_set__
            entry = with_facts.get(id(fields))
            if entry is None:
                entry = with_facts[id(fields)] = (fields, _fields_set(fields, {"facts": ()}))
            _set(item, "__pydantic_fields_set__", entry[1])
            items.append(item)
        return items
