"""The members of an owning principal that must get its owner's rights directly
(:mod:`mapper.translate.ownership`, whose docstring tells the whole story).

Owners are never denied in SQL Server, and a principal's security context includes the roles it
is a member of, so every member of an owning role holds what the owner holds. In the plan a
member gets that by inheriting the owner's role, unless DENY restructuring moved it to a derived
role, which no longer inherits it: :class:`Inheritors` finds those members, and the ownership
step gives them the owner's privileges, or membership, directly. :func:`roles_above` is the
plan's inheritance both ask, also to refuse a circular owner-role membership. Split out of
``ownership`` for length only.
"""

from __future__ import annotations

from grantbridge.errors import GrantbridgeError
from mapper.translate.state import PlanState
from mssql_extract.snapshot import Database, fold


def roles_above(state: PlanState, role: str) -> set[str]:
    """The roles ``role`` is (transitively) a member of in the plan, inheriting."""
    seen: set[str] = set()
    todo = [role]
    while todo:  # a set: the order memberships are followed in cannot change it
        for m in state.memberships_of_unsorted(todo.pop()):
            if m.inherit and m.role not in seen:
                seen.add(m.role)
                todo.append(m.role)
    return seen


class Inheritors:
    """Per database: folded principal → PostgreSQL roles of the principals whose SQL Server
    security context includes it (its members, transitively), built once on first use."""

    def __init__(self, state: PlanState) -> None:
        self._state = state
        self._by_db: dict[str, dict[str, set[str]]] = {}
        # what a principal's role inherits; the owner memberships added meanwhile never lead
        # back to a principal's role, so the answer for one holds through the whole step
        self._above: dict[str, set[str]] = {}

    def _inherits(self, member: str) -> set[str]:
        above = self._above.get(member)
        if above is None:
            above = self._above[member] = roles_above(self._state, member)
        return above

    def lost(self, db: Database, owner: str, role: str) -> list[str]:
        """Roles of the owner's members that no longer inherit ``role`` in the plan."""
        by_owner = self._by_db.get(db.name)
        if by_owner is None:
            by_owner = self._by_db[db.name] = self._build(db)
        return sorted(
            member for member in by_owner.get(fold(owner), ())
            if member != role and role not in self._inherits(member)
        )  # fmt: skip

    def _build(self, db: Database) -> dict[str, set[str]]:
        engine, by_owner = self._state.engine, dict[str, set[str]]()
        owners = {fold(o.owner) for o in self._state.owned if o.db is db and o.owner}
        for name in engine.principals(db.name):
            role = self._state.role_of(db.name, name)
            if not role or role == "PUBLIC":
                continue
            try:
                closure = {fold(r) for r in engine.memberships(db.name, name)}
            except GrantbridgeError:
                continue
            for owner in closure & owners:
                by_owner.setdefault(owner, set()).add(role)
        return by_owner
