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
from mapper.translate.grants import Target, expand
from mapper.translate.state import Item, PlanState
from mssql_extract.snapshot import Database

#: The grantee of an expansion made once for every grantee; plan items' keys end with it.
_PLACEHOLDER = "\x00"

#: An item for the placeholder and its key without the placeholder (None: its key does not
#: end with it, and is worked out per grantee)
Stamp = tuple[str | None, Item]
#: (database key, target, the mapping's permission and privileges) → the stamps of its
#: expansion, None where the securable is not in the snapshot. One per database's rows:
#: :func:`mapper.translate.permissions.plan_permissions` drops it when they are planned.
Stamps = dict[tuple[Any, ...], list[Stamp] | None]


def expand_keyed(
    state: PlanState, db: Database | None, grantee: str, target: Target, row: PrivilegeRow,
    stamps: Stamps,
) -> list[tuple[str, Item]] | None:  # fmt: skip
    """:func:`expand`'s items, each with its key (None: the securable is not in the snapshot)."""
    if db is None or row.role or row.attribute:  # SERVER rows: they change roles' attributes
        items = expand(state, db, grantee, target, row)
        return None if items is None else [(item.key, item) for item in items]
    signature = (db.key, target, row.permission, tuple(sorted(row.privileges.items())))
    try:
        found = stamps[signature]
    except KeyError:
        found = stamps[signature] = _stamps(state, db, target, row)
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
