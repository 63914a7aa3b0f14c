"""A GRANT row's plan items with their keys, expanded once per securable and mapping row.

:func:`mapper.translate.grants.expand` gives the same items, grantee aside, to every row on
the same securable with the same mapping: a schema row, say, one grant per object of the
schema for each of its grantees, and a database row one per object of the database. Expanding
was the largest part of the permission rows' time at scale (issue 7), and working out each
item's key when adding it a tenth more. So :func:`expand_keyed` expands a (securable, mapping)
once, for a placeholder grantee, and keeps the items with their keys up to the grantee (every
plan item's key ends with it); each row then gets copies naming its grantee, and their keys.
The items are equal to :func:`expand`'s, fields set and field order included
(``tests/mapper/test_plan_fast_paths.py``).

Nothing that an expansion reads changes while the rows are planned: the snapshot's objects
and schemas, their target names (fixed on first use), the owner roles (made on first use,
then looked up). Rows that set role attributes or memberships (SERVER rows) change the state
and are expanded each time.
"""

from __future__ import annotations

from typing import Any

from mapper.plan_base import with_field
from mapper.privileges import PrivilegeRow
from mapper.securables import Securable
from mapper.translate.grants import Target, expand
from mapper.translate.items import Item
from mapper.translate.state import PlanState
from mssql_extract.snapshot import Database, Permission

#: The grantee of an expansion made once for every grantee; plan items' keys end with it.
_PLACEHOLDER = "\x00"

#: An item for the placeholder and its key without the placeholder (None: its key does not
#: end with it, and is worked out per grantee)
Stamp = tuple[str | None, Item]


class Stamps:
    """The expansions of one database's rows, grantee aside: made by
    :func:`mapper.translate.permissions.plan_permissions` for a database's rows, dropped when
    they are planned."""

    __slots__ = ("expansions", "mappings", "rows", "securables", "targets")

    def __init__(self) -> None:
        #: (target's class and names, mapping number) → the stamps of its expansion, None
        #: where the securable is not in the snapshot
        self.expansions: dict[tuple[Any, ...], list[Stamp] | None] = {}
        #: a mapping's permission and privileges (what expand reads of a row) → its number
        self.mappings: dict[tuple[Any, ...], int] = {}
        #: id of a row → the row (kept, so that its id is not reused) and its mapping number
        self.rows: dict[int, tuple[PrivilegeRow, int]] = {}
        #: a row's class and names → its securable, one instance for the rows on it (the
        #: engine's answers are cached per securable: found by identity, not compared)
        self.securables: dict[tuple[str | None, ...], Securable] = {}
        #: a row's class and names → its target, one instance for the rows on it
        self.targets: dict[tuple[str | None, ...], Target] = {}

    def target(self, row: Permission) -> Target:
        """The row's :class:`Target`: the same (frozen) instance for each row on it, made once."""
        names = (row.securable_class, row.schema_name, row.object_name, row.column_name)
        found = self.targets.get(names)
        if found is None:
            found = self.targets[names] = Target(*names)
        return found

    def securable(self, row: Permission) -> Securable:
        """:meth:`Securable.of` the row, the same instance for each row on that securable."""
        names = (row.securable_class, row.schema_name, row.object_name, row.column_name)
        found = self.securables.get(names)
        if found is None:
            found = self.securables[names] = Securable.of(row)
        return found

    def mapping(self, row: PrivilegeRow) -> int:
        """The number of a row's mapping: rows that expand alike (the same permission and
        privileges) share it. Most rows are the mapping table's own (a few dozen objects)."""
        known = self.rows.get(id(row))
        if known is not None and known[0] is row:
            return known[1]
        mapping = (row.permission, tuple(sorted(row.privileges.items())))
        number = self.mappings.setdefault(mapping, len(self.mappings))
        self.rows[id(row)] = (row, number)
        return number


def expand_keyed(
    state: PlanState, db: Database | None, grantee: str, target: Target, row: PrivilegeRow,
    stamps: Stamps,
) -> list[tuple[str, Item]] | None:  # fmt: skip
    """:func:`expand`'s items, each with its key (None: the securable is not in the snapshot).

    ``stamps``: the expansions of ``db``'s rows so far."""
    if db is None or row.role or row.attribute:  # SERVER rows: they change roles' attributes
        items = expand(state, db, grantee, target, row)
        return None if items is None else [(item.key, item) for item in items]
    signature = (
        target.securable_class, target.schema_name, target.object_name, target.column_name,
        stamps.mapping(row),
    )  # fmt: skip
    try:
        found = stamps.expansions[signature]
    except KeyError:
        found = stamps.expansions[signature] = _stamps(state, db, target, row)
    if found is None:
        return None
    keyed: list[tuple[str, Item]] = []
    for prefix, stamp in found:
        item = with_field(stamp, "grantee", grantee)
        keyed.append((item.key if prefix is None else prefix + grantee, item))
    return keyed


def _stamps(
    state: PlanState, db: Database, target: Target, row: PrivilegeRow
) -> list[Stamp] | None:
    items = expand(state, db, _PLACEHOLDER, target, row)
    if items is None:
        return None
    found: list[Stamp] = []
    for item in items:
        key = item.key
        prefix = key[: -len(_PLACEHOLDER)] if key.endswith(_PLACEHOLDER) else None
        found.append((prefix, item))
    return found
