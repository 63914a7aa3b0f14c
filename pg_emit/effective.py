"""Effective privileges: what PostgreSQL answers (``has_*_privilege``) vs what the plan means.

The plan's answer for a plan role, a plan securable and a privilege (:func:`expected`) is: a
grant to the role, to a role it inherits from through the intended memberships, or to PUBLIC —
or ownership of the securable by any of those (an owner holds every privilege implicitly), or
membership in a predefined role that holds the privilege on every securable of its kind
(``pg_read_all_data``, ``pg_write_all_data``). The server's answer is ``has_*_privilege``,
asked in set-based queries (their SQL is in :mod:`pg_emit.effective_sql`; the checks travel
as parallel arrays, in batches, and only the disagreements come back). Superusers pass every
check and are left out. Both directions are reported.

Asking about the full product (role × securable × privilege) does not scale — 8.3 million
checks at bench scale S — so only *candidates* are asked, the checks that either side could
answer true, and PUBLIC is asked once per securable and privilege:

1. **PUBLIC.** ``has_*_privilege('public', …)`` for every securable and privilege (PostgreSQL
   reads the name ``public`` as the PUBLIC pseudo-role), against the plan's grants to PUBLIC.
   A disagreement is one mismatch for the role ``PUBLIC``.
2. **Plan side.** Each *holder* — a grantee of an intended grant, a securable's planned owner
   (every privilege), ``pg_read_all_data`` / ``pg_write_all_data`` (every privilege of the kinds
   they cover) — passes its checks on to every plan role whose closure contains it.
3. **Live side.** Read from the connected database for the plan's securables (resolved on the
   server the way ``has_*_privilege`` resolves them): the ACL entries (``datacl``, ``nspacl``,
   ``relacl``, ``attacl``, ``proacl``, ``typacl`` through ``aclexplode``, the built-in default
   where the catalog holds NULL) and the owner; each grantee and the owner is a holder too.
   Closures follow the plan's inherited memberships *and* every live ``pg_auth_members`` edge,
   inherit flag ignored, plus the database owner's implicit membership in
   ``pg_database_owner``: over-approximating only adds candidates.

A role's candidates are the checks of the holders in its closure, minus the privileges PUBLIC
holds on *both* sides (true for every role on both sides).

Why nothing can slip through: for a role ``r`` that is not a superuser, PostgreSQL answers true
only through an ACL entry of the securable (for a column: of the column or of its table) for
PUBLIC or for a role whose privileges ``r`` has — ``r`` itself or a role reached through
``pg_auth_members``, ``pg_database_owner`` counted for the database owner — or through
``pg_read_all_data`` / ``pg_write_all_data``; an owner's rights are ACL entries too (an owner
can revoke them from itself), and the owner is a holder anyway. The plan answers true only
through PUBLIC, a grantee or owner in the closure, or a predefined role in it. So when
``(r, securable, privilege)`` is not a candidate, no holder other than PUBLIC reaches ``r`` on
either side, and both sides answer for ``r`` exactly what they answer for PUBLIC: they disagree
if and only if step 1 reports PUBLIC. A candidate dropped because PUBLIC holds the privilege on
both sides is true on both sides. Every disagreement of the full product is therefore reported,
either for the role or — when it is PUBLIC's doing — once for PUBLIC.
"""

from __future__ import annotations

from bisect import bisect_right
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import psycopg

from grantbridge.errors import Location, TargetError
from mapper.plan import MigrationPlan
from mapper.quoting import quote_qualified
from pg_emit import intent
from pg_emit.compare import Mismatch, in_order, intended_grants
from pg_emit.effective_sql import (
    BATCH,
    CHECK_BATCH,
    CHECKS,
    DISAGREE_SQL,
    KINDS,
    LIVE_ACL_SQL,
    LIVE_MEMBERS_SQL,
    PRIVILEGES,
    PUBLIC_ROLE,
    RESOLVE_SQL,
    SUPERUSERS_SQL,
    Checks,
    Encoded,
    disagree_params,
    slot_arrays,
)
from pg_emit.effective_sql import QUERY as QUERY  # re-exported: the tests' reference form

#: Predefined roles that hold privileges on every securable of a kind without any ACL entry
#: (PostgreSQL 14+, documentation §22.5 "Predefined Roles"; copied in
#: reference/mssql/pg_predefined_roles.csv): kind → privileges. The other predefined roles
#: (pg_read_all_stats, pg_signal_backend …) give no privilege on a plan securable.
PREDEFINED_PRIVILEGES: dict[str, dict[str, frozenset[str]]] = {
    "pg_read_all_data": {"SCHEMA": frozenset({"USAGE"}), "TABLE": frozenset({"SELECT"}),
                         "COLUMN": frozenset({"SELECT"}), "SEQUENCE": frozenset({"SELECT"})},
    "pg_write_all_data": {"SCHEMA": frozenset({"USAGE"}),
                          "TABLE": frozenset({"INSERT", "UPDATE", "DELETE"}),
                          "COLUMN": frozenset({"INSERT", "UPDATE"}),
                          "SEQUENCE": frozenset({"UPDATE"})},
}  # fmt: skip

Item = tuple[str, str, str | None, str]  # kind, target (SQL text), column, label
Granted = set[tuple[str, str | None, str, str]]  # table label, column, privilege, grantee


def securables(plan: MigrationPlan, database: str) -> Iterator[tuple[Item, str]]:
    """(kind, target, column, label) and the owner, for every plan securable of a database."""
    for db in plan.databases:
        if db.name == database:
            yield ("DATABASE", db.name, None, f"DATABASE {db.name}"), db.owner
    for schema in plan.schemas:
        if schema.database == database:
            yield ("SCHEMA", schema.name, None, f"SCHEMA {schema.name}"), schema.owner
    for obj in plan.objects:
        if obj.database != database:
            continue
        kind = "TABLE" if obj.kind in ("table", "view") else obj.kind.upper()
        target = quote_qualified(obj.schema_name, obj.name) + (obj.signature or "")
        label = f"{kind} {obj.schema_name}.{obj.name}{obj.signature or ''}"
        yield (kind, target, None, label), obj.owner
        if kind == "TABLE":
            for column in obj.columns:
                yield ("COLUMN", target, column, f"{label} ({column})"), obj.owner


def _closure(plan: MigrationPlan) -> dict[str, set[str]]:
    parents: dict[str, set[str]] = defaultdict(set)
    for m in intent.memberships(plan):
        if m.inherit:
            parents[m.member].add(m.role)
    return {role: _reach(role, parents) | {"PUBLIC"} for role in intent.created_roles(plan)}


def _reach(role: str, parents: dict[str, set[str]]) -> set[str]:
    """``role`` and every role reachable from it through ``parents``."""
    seen, todo = {role}, [role]
    while todo:
        for parent in parents.get(todo.pop(), set()) - seen:
            seen.add(parent)
            todo.append(parent)
    return seen


def _granted(plan: MigrationPlan, database: str) -> Granted:
    """(label without column, column, privilege, grantee) the plan intends, per column too."""
    result = set()
    for g in intended_grants(plan):
        if g.database != database:
            continue
        kind = "TABLE" if g.object_type == "TABLE" else g.object_type
        path = ".".join(p for p in (g.schema_name, g.name) if p)
        label = f"{kind} {path}{g.signature or ''}"
        for column in g.columns or (None,):
            result.add((label, column, intent.normalize_privilege(g.privilege), g.grantee))
    return result


def _table_label(item: Item) -> str:
    kind, _, column, label = item
    return label[: -len(f" ({column})")] if kind == "COLUMN" else label


def expected(plan: MigrationPlan, database: str, role: str, item: Item, owner: str, privilege: str,
             granted: Granted, closure: set[str]) -> bool:  # fmt: skip
    """The plan's answer for one (role, securable, privilege), as a rule.

    :func:`check_effective` computes the same answers in bulk (:attr:`Scope.planned`, united
    over the closure); tests/emit/test_effective_scope.py holds the two equal.
    """
    kind, _, column, _ = item
    if owner in closure:
        return True
    if any(privilege in PREDEFINED_PRIVILEGES.get(r, {}).get(kind, ()) for r in closure):
        return True
    table_label = _table_label(item)
    for grantee in closure:
        if (table_label, None, privilege, grantee) in granted:
            return True
        if column is not None and (table_label, column, privilege, grantee) in granted:
            return True
    return False


@dataclass
class Scope:
    """What the checks of one database are computed from.

    A *slot* is one (securable, privilege): an index into :attr:`slots`. A *holder* is a role
    (or PUBLIC) through which a role may get a slot: :attr:`planned` holds the slots the plan
    gives each holder (its grants, what it owns, a predefined role's privileges),
    :attr:`holders` the slots worth asking about for each holder but PUBLIC (those planned
    ones, every privilege of a predefined role's kinds, the live ACL entries and owners).
    """

    items: list[tuple[Item, str]]  # securable, planned owner
    granted: Granted
    slots: list[tuple[int, str]] = field(default_factory=list)  # item index, privilege
    closures: dict[str, set[str]] = field(default_factory=dict)  # plan: inherited, PUBLIC
    reach: dict[str, set[str]] = field(default_factory=dict)  # plan ∪ live, no PUBLIC
    planned: dict[str, set[int]] = field(default_factory=lambda: defaultdict(set))
    holders: dict[str, set[int]] = field(default_factory=lambda: defaultdict(set))
    public_live: set[int] = field(default_factory=set)
    #: per slot, as DISAGREE_SQL takes them: kind, OID, column number, privilege
    encoded: Encoded = field(default_factory=lambda: ([], [], [], []))
    #: the same as array literals, made on first use (effective_sql.slot_arrays)
    arrays: dict[str, str] = field(default_factory=dict)

    @property
    def public_plan(self) -> set[int]:
        """The slots the plan gives PUBLIC."""
        return self.planned.get("PUBLIC", set())


def _slot_index(scope: Scope) -> dict[tuple[int, str], int]:
    for index, (item, _) in enumerate(scope.items):
        scope.slots.extend((index, p) for p in CHECKS[item[0]][0])
    return {slot: n for n, slot in enumerate(scope.slots)}


def _item_slots(scope: Scope, slot_of: dict[tuple[int, str], int], index: int) -> list[int]:
    return [slot_of[index, p] for p in CHECKS[scope.items[index][0][0]][0]]


def _plan_holders(scope: Scope, slot_of: dict[tuple[int, str], int]) -> None:
    """What the plan gives each grantee, owner and predefined role (see :func:`expected`)."""
    by_grant: dict[tuple[str, str | None], list[int]] = defaultdict(list)
    for index, (item, owner) in enumerate(scope.items):
        by_grant[_table_label(item), item[2]].append(index)
        if item[0] == "COLUMN":  # a table-level grant answers for its columns too
            by_grant[_table_label(item), None].append(index)
        scope.planned[owner].update(_item_slots(scope, slot_of, index))
        for role, kinds in PREDEFINED_PRIVILEGES.items():
            scope.planned[role].update(slot_of[index, p] for p in kinds.get(item[0], ()))
            if item[0] in kinds:  # every privilege of the kind: never narrower than the server
                scope.holders[role].update(_item_slots(scope, slot_of, index))
    for label, column, privilege, grantee in scope.granted:
        for index in by_grant.get((label, column), ()):
            slot = slot_of.get((index, privilege))
            if slot is not None:
                scope.planned[grantee].add(slot)
    for holder, slots in scope.planned.items():
        if holder != "PUBLIC":
            scope.holders[holder] |= slots


def _live_holders(
    conn: psycopg.Connection[Any], scope: Scope, slot_of: dict[tuple[int, str], int]
) -> None:
    """Live ACL grantees (not PUBLIC) and live owners of the plan's securables."""
    owned: set[tuple[str, int]] = set()
    for start in range(0, len(scope.items), BATCH):
        batch = [item for item, _ in scope.items[start : start + BATCH]]
        params = [[i[0] for i in batch], [i[1] for i in batch], [i[2] for i in batch]]
        for n, owner, grantee, privilege in conn.execute(LIVE_ACL_SQL.encode(), params).fetchall():
            index = start + n
            if (owner, index) not in owned:
                owned.add((owner, index))
                scope.holders[owner].update(_item_slots(scope, slot_of, index))
            slot = slot_of.get((index, privilege))
            if slot is not None and grantee not in (None, "PUBLIC"):
                scope.holders[grantee].add(slot)


def missing_on_target(item: Item, database: str) -> TargetError:
    """The error for a plan securable the target lacks: ``has_*_privilege`` cannot ask about it."""
    kind, _, column, label = item
    table_kind, name = _table_label(item).split(" ", 1)
    what = f"{kind.lower()} {name!r}"
    if kind == "COLUMN":
        what = f"column {column!r} of {table_kind.lower()} {name!r}"
    return TargetError(
        f"{what} is in the plan but not in database {database!r} "
        "on the target: create it (or run the data migration first), or verify on the embedded "
        "server (no --dsn), which creates the plan's objects as stubs",
        Location(key=label),
    )


def _resolve(conn: psycopg.Connection[Any], scope: Scope, database: str) -> None:
    """Each slot's kind, OID, column number and privilege (RESOLVE_SQL), for DISAGREE_SQL.

    Raises:
        TargetError: a plan securable is absent from ``database``.
    """
    located: list[tuple[int, int]] = []
    for start in range(0, len(scope.items), BATCH):
        batch = [item for item, _ in scope.items[start : start + BATCH]]
        params = [[i[0] for i in batch], [i[1] for i in batch], [i[2] for i in batch]]
        for item, (oid, attnum) in zip(
            batch, conn.execute(RESOLVE_SQL.encode(), params), strict=True
        ):
            if oid is None or attnum is None:  # has_*_privilege fails on it: so does verify
                raise missing_on_target(item, database)
            located.append((oid, attnum))
    kinds, oids, attnums, privileges = scope.encoded
    for index, privilege in scope.slots:
        kinds.append(KINDS.index(scope.items[index][0][0]) + 1)
        oids.append(located[index][0])
        attnums.append(located[index][1])
        privileges.append(PRIVILEGES.index(privilege) + 1)


def _disagreements(
    conn: psycopg.Connection[Any], checks: Checks, scope: Scope
) -> list[tuple[str, int, bool]]:
    """The (role, slot, the plan's answer) of the checks the server answers otherwise."""
    if not scope.arrays:
        scope.arrays = slot_arrays(scope.encoded)
    firsts, params = disagree_params(checks, scope.arrays)
    if not firsts:
        return []
    found = []
    for (position,) in conn.execute(DISAGREE_SQL.encode(), params).fetchall():
        role = bisect_right(firsts, position) - 1  # the role whose run holds the position
        name, slots, wants = checks[role]
        offset = position - firsts[role]
        found.append((name, slots[offset], wants[offset]))
    return found


def _public(conn: psycopg.Connection[Any], scope: Scope) -> None:
    """PUBLIC's answer on the server for every slot (the plan's is :attr:`Scope.public_plan`)."""
    planned = scope.public_plan
    scope.public_live = set(planned)
    for start in range(0, len(scope.slots), CHECK_BATCH):
        slots = list(range(start, min(start + CHECK_BATCH, len(scope.slots))))
        differ = _disagreements(conn, [(PUBLIC_ROLE, slots, [s in planned for s in slots])], scope)
        scope.public_live ^= {slot for _, slot, _ in differ}


def _reaches(
    conn: psycopg.Connection[Any], plan: MigrationPlan, roles: Iterable[str]
) -> dict[str, set[str]]:
    """Each role's closure over the plan's inherited memberships and every live one."""
    parents: dict[str, set[str]] = defaultdict(set)
    for m in intent.memberships(plan):
        if m.inherit:
            parents[m.member].add(m.role)
    for member, role in conn.execute(LIVE_MEMBERS_SQL).fetchall():
        parents[member].add(role)
    return {role: _reach(role, parents) - {"PUBLIC"} for role in roles}


def build_scope(conn: psycopg.Connection[Any], plan: MigrationPlan, database: str) -> Scope:
    """Read what the checks depend on: PUBLIC's answers, live ACLs, owners, memberships."""
    superusers = {r[0] for r in conn.execute(SUPERUSERS_SQL).fetchall()}
    scope = Scope(items=list(securables(plan, database)), granted=_granted(plan, database))
    scope.closures = {r: c for r, c in _closure(plan).items() if r not in superusers}
    slot_of = _slot_index(scope)
    _plan_holders(scope, slot_of)
    _resolve(conn, scope, database)
    _public(conn, scope)
    _live_holders(conn, scope, slot_of)
    scope.reach = _reaches(conn, plan, scope.closures)
    return scope


def role_checks(scope: Scope) -> Iterator[tuple[str, list[int], list[bool]]]:
    """Each plan role (sorted), its candidate slots (ascending) and the plan's answers."""
    both = scope.public_live & scope.public_plan
    for role in sorted(scope.closures):
        found: set[int] = set()
        for holder in scope.reach[role]:
            found |= scope.holders.get(holder, set())
        want: set[int] = set()
        for holder in scope.closures[role]:
            want |= scope.planned.get(holder, set())
        slots = sorted(found - both)
        yield role, slots, [slot in want for slot in slots]


def candidates(
    conn: psycopg.Connection[Any], plan: MigrationPlan, database: str
) -> list[tuple[str, str, str]]:
    """The (role, securable label, privilege) checks :func:`check_effective` asks the server."""
    scope = build_scope(conn, plan, database)
    return [
        (role, scope.items[scope.slots[slot][0]][0][3], scope.slots[slot][1])
        for role, slots, _ in role_checks(scope)
        for slot in slots
    ]


def _mismatch(scope: Scope, database: str, role: str, slot: int, status: str) -> Mismatch:
    index, privilege = scope.slots[slot]
    label = scope.items[index][0][3]
    return Mismatch("effective", database, f"{role}: {privilege} on {label}", status)


def check_effective(
    conn: psycopg.Connection[Any], plan: MigrationPlan, database: str
) -> list[Mismatch]:
    """Ask the server about PUBLIC and every candidate check; report disagreements, sorted.

    Checks go in batches of about :data:`CHECK_BATCH` (whole roles at a time), each one query.
    """
    scope = build_scope(conn, plan, database)
    result = [
        _mismatch(
            scope, database, "PUBLIC", slot, "extra" if slot in scope.public_live else "missing"
        )
        for slot in scope.public_live ^ scope.public_plan
    ]
    pending: Checks = []

    def flush() -> None:
        for role, slot, want in _disagreements(conn, pending, scope):
            result.append(_mismatch(scope, database, role, slot, "missing" if want else "extra"))
        pending.clear()

    size = 0
    for role, slots, wants in role_checks(scope):
        if not slots:
            continue
        pending.append((role, slots, wants))
        size += len(slots)
        if size >= CHECK_BATCH:
            flush()
            size = 0
    flush()
    return in_order(result)
