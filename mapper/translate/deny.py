"""DENY restructuring (DESIGN §3.3, "DENY"): PostgreSQL has no DENY.

Where a DENY removes something that role inheritance would give, the denied principal (and
every principal that inherits the DENY through membership) stops being a member of that role
and becomes a member of a *derived* role instead: the role's privileges, flattened over its own
memberships, minus the denied ones. Each case is a finding showing the original DENY. A
column-level DENY removes the whole table privilege from the derived role (failing closed).
Grants a DENY overrides on the principal itself are never emitted (see
:mod:`mapper.translate.permissions`).
"""

from __future__ import annotations

from dataclasses import dataclass

from mapper import findings
from mapper.plan import Disposition, PgDefaultPrivilege, PgGrant, PgMembership, RoleKind
from mapper.privileges import lookup
from mapper.translate.grants import Target, expand
from mapper.translate.state import Item, PlanState, copy_with
from mssql_extract.snapshot import Database, fold

PLACEHOLDER = "-"


@dataclass(frozen=True)
class Deny:
    """One DENY: a DENY row, or membership in db_denydatareader / db_denydatawriter."""

    fact: str
    kind: str
    ref: str
    db: Database | None
    grantee: str
    target: Target
    permissions: tuple[str, ...]

    @property
    def statement(self) -> str:
        where = " ".join(
            p for p in (self.target.securable_class, self.target.schema_name,
                        self.target.object_name, self.target.column_name) if p
        )  # fmt: skip
        return f"DENY {', '.join(self.permissions)} ON {where} TO [{self.grantee}] ({self.ref})"


def _signature(item: Item) -> str | None:
    """What an item grants, without the grantee (and without columns: fail closed).

    The item's key with grantee (and a default privilege's owner) ``-`` and no columns, spelled
    out instead of copying the model: it is asked for every grant a DENY may touch
    (``tests/mapper/test_deny_signature.py`` checks it equals the copied model's key).
    """
    if isinstance(item, PgGrant):
        path = ".".join(p for p in (item.schema_name, item.name) if p)
        return (
            f"grant:{item.object_type} {item.database}:{path}{item.signature or ''}:"
            f"{item.privilege}:{PLACEHOLDER}"
        )
    if isinstance(item, PgDefaultPrivilege):
        return (
            f"default:{item.database}.{item.schema_name or '*'}:{PLACEHOLDER}:"
            f"{item.object_type}:{item.privilege}:{PLACEHOLDER}"
        )
    return None


def _denied(state: PlanState, deny: Deny) -> set[str]:
    found: set[str] = set()
    for permission in deny.permissions:
        row = lookup(deny.target.securable_class, permission)
        for item in expand(state, deny.db, PLACEHOLDER, deny.target, row) or []:
            signature = _signature(item)
            if signature:
                found.add(signature)
    return found


def plan_denies(state: PlanState, denies: list[Deny]) -> None:
    """Restructure memberships for every DENY, then dispose each DENY fact."""
    holders = _Holders(state)
    for deny in sorted(denies, key=lambda d: d.fact):
        items, found = _restructure(state, deny, holders)
        if items:
            state.dispose(deny.fact, deny.kind, deny.ref, Disposition.MAPPED, items=items,
                          findings=found, reason="restructured: see the derived roles")  # fmt: skip
        else:
            state.dispose(deny.fact, deny.kind, deny.ref, Disposition.NOT_APPLICABLE,
                          reason="the plan grants nothing this DENY removes")  # fmt: skip


class _Holders:
    """Per database: folded principal → PostgreSQL roles of it and of every member of it.

    Built once per database on first use (the source memberships and the principal → role
    bindings do not change while DENYs are restructured), instead of asking the engine for
    every principal's memberships once per DENY.
    """

    def __init__(self, state: PlanState) -> None:
        self._state = state
        self._by_db: dict[str, dict[str, set[str]]] = {}

    def affected(self, deny: Deny) -> list[str]:
        """PostgreSQL roles of every principal the DENY applies to (holder and its members)."""
        if deny.db is None:
            return []
        by_holder = self._by_db.get(deny.db.name)
        if by_holder is None:
            by_holder = self._by_db[deny.db.name] = self._build(deny.db.name)
        return sorted(by_holder.get(fold(deny.grantee), ()))

    def _build(self, database: str) -> dict[str, set[str]]:
        engine, by_holder = self._state.engine, dict[str, set[str]]()
        for name in engine.principals(database):
            try:
                closure = {fold(r) for r in engine.memberships(database, name)}
            except Exception:
                continue
            role = self._state.role_of(database, name)
            if role and role != "PUBLIC":
                for holder in closure | {fold(name)}:
                    by_holder.setdefault(holder, set()).add(role)
        return by_holder


def _restructure(state: PlanState, deny: Deny, holders: _Holders) -> tuple[list[str], list[str]]:
    denied = _denied(state, deny)
    keys: list[str] = []
    found: list[str] = []
    affected = holders.affected(deny)
    holder = state.role_of(deny.db.name, deny.grantee) if deny.db else None
    # the holder and group roles first: their members then inherit the restructured roles
    affected.sort(key=lambda r: (r != holder, state.roles[r].kind != RoleKind.GROUP, r))
    for member in affected:
        keys += _narrow(state, member, denied, deny)
    for member in affected:
        for membership, facts in _direct(state, member):
            derived = _derive(state, deny, membership.role, denied)
            if derived is None:
                continue
            state.remove(membership.key)
            key, _ = state.add(PgMembership(role=derived, member=member), deny.fact)
            for fact in facts:
                state.add(PgMembership(role=derived, member=member), fact)
            keys += [f"role:{derived}", key]
            found.append(state.finding(findings.make(
                "GB020", deny.statement,
                f"{member!r} is no longer a member of {membership.role!r}; it is a member of "
                f"{derived!r}: the same privileges minus the denied ones.",
                principal=deny.grantee, securable=membership.role, source_ref=deny.ref,
            )))  # fmt: skip
    return keys, found


def _narrow(state: PlanState, role: str, denied: set[str], deny: Deny) -> list[str]:
    """Drop the denied part of what a role holds directly (a schema grant expanded per object).

    A column-level GRANT survives a DENY on its table: in SQL Server the column GRANT wins
    ("GRANT Object Permissions": "A table-level DENY does not take precedence over a
    column-level GRANT"), as mapper.effective decides too.
    """
    dropped = [item.key for item in state.granted_to(role) if _removes(deny, denied, item)]
    for key in dropped:
        state.remove(key)
    return [f"role:{role}"] if dropped else []


def _removes(deny: Deny, denied: set[str], item: Item) -> bool:
    """The DENY takes the item away (a column GRANT outlives a DENY on its table)."""
    table_deny = deny.target.securable_class == "OBJECT" and deny.target.column_name is None
    column_grant = isinstance(item, PgGrant) and bool(item.columns)
    return _signature(item) in denied and not (table_deny and column_grant)


def _direct(state: PlanState, member: str) -> list[tuple[PgMembership, tuple[str, ...]]]:
    """The member's inheriting memberships in roles the plan creates, with their facts now."""
    return [
        (m, state.facts_of(m.key)) for m in state.memberships_of(member)
        if m.inherit and state.roles.get(m.role) is not None
        and state.roles[m.role].kind != RoleKind.PREDEFINED
    ]  # fmt: skip


def _closure(state: PlanState, role: str) -> set[str]:
    seen, todo = {role}, [role]
    while todo:
        current = todo.pop()
        for m in state.memberships_of(current):
            if m.inherit and m.role not in seen:
                seen.add(m.role)
                todo.append(m.role)
    return seen


def _derive(state: PlanState, deny: Deny, role: str, denied: set[str]) -> str | None:
    """The derived role (role minus denied), or None when the role gives nothing denied."""
    closure = _closure(state, role)
    inherited = [i for grantee in sorted(closure) for i in state.granted_to(grantee)]
    kept = [i for i in inherited if not _removes(deny, denied, i)]
    if len(kept) == len(inherited):
        return None
    name = state.names.derived(f"{role}_minus_{deny.grantee}", f"derived role of [{role}]")
    state.role(name, RoleKind.DERIVED, source=f"{role} minus {deny.statement}",
               comment=f"{role} without what {deny.grantee} is denied")  # fmt: skip
    state.roles[name].facts.add(deny.fact)
    # in any order: the plan sorts its items by key, and nothing reads the insertion order
    for item in kept:
        state.add(copy_with(item, grantee=name), deny.fact)
    held = sorted((m for member in closure for m in state.memberships_of(member)),
                  key=lambda m: m.key)  # fmt: skip
    for m in held:
        spec = state.roles.get(m.role)  # None: one of PostgreSQL's own pg_* roles
        if spec is None or spec.kind == RoleKind.PREDEFINED:
            state.add(PgMembership(role=m.role, member=name), deny.fact)
    return name
