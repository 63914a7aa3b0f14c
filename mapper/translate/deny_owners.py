"""Owners are never denied, and what DENY restructuring took from a GRANT fact is said
(:mod:`mapper.translate.deny` tells the whole story; split out of it for length).

SQL Server checks ownership before any DENY, and a principal's security context includes the
roles it is a member of, so a member of a role that owns a schema is never denied on the schema
or anything in it ("Permissions (Database Engine)", "Summary of the permission check
algorithm", https://learn.microsoft.com/sql/relational-databases/security/permissions-database-engine;
:mod:`mapper.effective`, step 4). A DENY reaching such a principal, through another role or
directly, therefore takes nothing from its own grants on what it owns: :class:`Owners` sets them
aside while roles are restructured and puts them back on the principal's role afterwards. The
engine agrees (``explain``: "owner of SCHEMA::s is never denied on it"), and so does the
planner's ``_denied_by``, which planned the grant in the first place.

What ownership itself gives the principal in PostgreSQL is the ownership step's business
(:mod:`mapper.translate.ownership`, :mod:`mapper.translate.owner_members`): by default only the
owner's DML and EXECUTE, so a GRANT REFERENCES to an owner is carried by the grant alone.

CREATE on a schema is the exception: it also stands for a database permission (CREATE TABLE
…), which owning a schema does not give, so a DENY of one still takes it (failing closed).

:func:`dispose_emptied`: where restructuring still takes every item of a GRANT fact, the fact
no longer claims ``mapped`` (or ``implied``, ``downscoped``) for nothing: it is
``not_applicable`` "overridden in SQL Server by <DENY> (through role X)" when the engine
refuses the permission, else ``approximated`` (PostgreSQL has no DENY: the plan failed closed).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from grantbridge.errors import GrantbridgeError
from mapper.effective import Securable
from mapper.plan import Disposition, PgDefaultPrivilege, PgGrant
from mapper.translate.deny_reach import Coverage
from mapper.translate.grants import Target
from mapper.translate.items import Granted
from mapper.translate.state import SERVER, PlanState, fact_key
from mssql_extract.snapshot import Database, ObjectKind, Permission, fold

if TYPE_CHECKING:
    from mapper.translate.deny import Deny, _Denial

#: Dispositions that claim the plan carries the fact: they need items, or a reason.
_CARRIED = frozenset({Disposition.MAPPED, Disposition.IMPLIED, Disposition.DOWNSCOPED})


class Owners:
    """What DENY restructuring leaves to owners, and the GRANT facts it emptied.

    Per PostgreSQL role, the signatures of the plan items on what its source principal owns (a
    schema or an object, itself or through a role it is a member of) are worked out on first
    use: the role's bindings, their closures and the owned securables once, and each owned
    securable's signatures once (as the coverage of a DENY CONTROL on it). :meth:`spare` sets
    such a grant aside while roles are restructured (so no split or derived role sees it, and
    the plan's roles come out as without it), :meth:`restore` puts it back on its role.
    """

    def __init__(self, state: PlanState, coverage: Coverage) -> None:
        self._state, self._coverage = state, coverage
        #: db → (owner, target, the target's owner role on PostgreSQL)
        self._owned: dict[str, list[tuple[str, Target, str]]] | None = None
        self._bindings: dict[str, list[tuple[Database, str]]] | None = None
        self._targets: dict[str, list[tuple[Database, Target, str]]] = {}
        self._signatures: dict[tuple[str, Target], frozenset[str]] = {}
        self._owned_signatures: dict[str, frozenset[str]] = {}
        self._spared: list[tuple[Granted, tuple[str, ...]]] = []
        #: GRANT fact → the DENYs (by fact) that took some of its items from its grantee's role
        self._emptied: dict[str, dict[str, Deny]] = {}
        #: the facts of items taken whole (:meth:`taken`): re-disposed even when approximated
        self._whole: set[str] = set()

    def owns(self, role: str, signature: str) -> bool:
        """Whether the item spelled ``signature`` is on something the role's principal owns."""
        return any(signature in self._covered(db, t) for db, t, _ in self._owned_by(role))

    def owner_roles(self, role: str, signature: str) -> set[str]:
        """The PostgreSQL owner roles of what the role's principal owns that the item spelled
        ``signature`` is on (a member of one holds it by ownership in PostgreSQL too)."""
        return {o for db, t, o in self._owned_by(role) if signature in self._covered(db, t)}

    def owned_signatures(self, role: str) -> frozenset[str]:
        """Every signature on what the role's principal owns (:meth:`owner_roles` is not
        empty for exactly these), worked out once per role."""
        found = self._owned_signatures.get(role)
        if found is None:
            found = frozenset().union(*(self._covered(db, t) for db, t, _ in self._owned_by(role)))
            self._owned_signatures[role] = found
        return found

    def takers(self, fact: str) -> str:
        """The DENYs that took items of the GRANT ``fact`` from its grantee's role, spelled
        (``""``: none)."""
        denies = self._emptied.get(fact, {})
        return "; ".join(denies[f].statement for f in sorted(denies))

    def spare(self, role: str, key: str, signature: str) -> bool:
        """Set the role's grant under ``key`` aside if it is on something the role's principal
        owns (a DENY would take it otherwise): True if it was."""
        if not self.owns(role, signature):
            return False
        item = self._state.items[key]
        assert isinstance(item, PgGrant | PgDefaultPrivilege)
        self._spared.append((item, self._state.facts_of(key)))
        self._state.remove(key)
        return True

    def take(self, item: Granted, left: list[Granted], takers: list[_Denial]) -> None:
        """Swap a role's ``item`` for what ``takers`` leave of it (column grants), keeping its
        facts, and note them for :func:`dispose_emptied`."""
        state = self._state
        facts = state.facts_of(item.key)
        state.remove(item.key)
        for fact in facts:
            self._emptied.setdefault(fact, {}).update((t.deny.fact, t.deny) for t in takers)
        for rest in left:
            for fact in (*facts, takers[0].deny.fact):
                state.add(rest, fact)

    def taken(self, key: str, takers: list[_Denial]) -> None:
        """Note the facts of an item the DENYs take whole, before it goes (a membership in a
        predefined role: :mod:`mapper.translate.deny_predefined`), for :func:`dispose_emptied`."""
        self.taken_facts(self._state.facts_of(key), takers)

    def taken_facts(self, facts: Iterable[str], takers: list[_Denial]) -> None:
        """Note facts whose whole contribution the DENYs take (a role attribute:
        :mod:`mapper.translate.deny_attributes`), for :func:`dispose_emptied`."""
        for fact in facts:
            self._emptied.setdefault(fact, {}).update((t.deny.fact, t.deny) for t in takers)
            self._whole.add(fact)

    def restore(self) -> None:
        """Put the spared grants back, then :func:`dispose_emptied`."""
        for item, facts in self._spared:
            for fact in facts:
                self._state.add(item, fact)
        dispose_emptied(self._state, self._emptied, self._whole)

    def _owned_by(self, role: str) -> list[tuple[Database, Target, str]]:
        found = self._targets.get(role)
        if found is not None:
            return found
        if self._bindings is None or self._owned is None:
            self._bindings, self._owned = self._index()
        found = self._targets[role] = []
        engine = self._state.engine
        for db, principal in self._bindings.get(role, ()):
            owned = self._owned.get(db.name)
            if not owned or (role, db.name) in self._state.shut_out:
                continue
            try:
                context = {fold(r) for r in engine.memberships(db.name, principal)}
            except GrantbridgeError:
                continue
            context.add(fold(principal))
            found += [(db, target, o) for owner, target, o in owned if owner in context]
        return found

    def _index(
        self,
    ) -> tuple[dict[str, list[tuple[Database, str]]], dict[str, list[tuple[str, Target, str]]]]:
        state = self._state
        databases = {db.name: db for db in state.snapshot.databases}
        bindings: dict[str, list[tuple[Database, str]]] = {}
        for (scope, principal), role in sorted(state.principal_roles.items()):
            if scope != SERVER and scope in databases and role != "PUBLIC":
                bindings.setdefault(role, []).append((databases[scope], principal))
        owned: dict[str, list[tuple[str, Target, str]]] = {}
        for o in state.owned:
            if o.owner is None or o.kind not in ("schema", "object"):
                continue
            if o.kind == "schema":
                target = Target("SCHEMA", object_name=o.schema)
            else:
                obj = state.find_object(o.db, o.schema, o.name)
                is_type = obj is not None and obj.kind == ObjectKind.TYPE
                target = Target("TYPE" if is_type else "OBJECT", o.schema, o.name)
            owned.setdefault(o.db.name, []).append((fold(o.owner), target, o.owner_role))
        return bindings, owned

    def _covered(self, db: Database, target: Target) -> frozenset[str]:
        key = (db.name, target)
        found = self._signatures.get(key)
        if found is None:
            from mapper.translate.deny import Deny  # deny imports this module

            control = Deny("", "", "", db, "", target, ("CONTROL",))
            found = self._signatures[key] = frozenset(
                s for s in self._coverage.signatures(control)
                if not (s.startswith("grant:SCHEMA ") and s.endswith(":CREATE:-"))
            )  # fmt: skip
        return found


def dispose_emptied(
    state: PlanState, emptied: dict[str, dict[str, Deny]], whole: Iterable[str] = ()
) -> None:
    """Re-dispose the GRANT facts restructuring left without any item (module docstring).

    ``emptied``: fact → the DENYs (by fact) that took its items from its grantee's role;
    ``whole``: facts re-disposed even when ``approximated`` (a predefined role's membership,
    whose reason would otherwise still say what it gave).
    """
    whole = frozenset(whole)
    left = {
        fact: denies for fact, denies in emptied.items()
        if (d := state.dispositions.get(fact)) is not None
        and (d.disposition in _CARRIED or fact in whole)
        and not any(k in state.items for k in d.items)
    }  # fmt: skip
    if left:  # items moved to a split role's parts keep their facts, under other keys
        for facts in state.item_facts.values():
            for fact in (facts,) if isinstance(facts, str) else facts:
                left.pop(fact, None)
    if not left:
        return
    rows = _rows(state, left)
    for fact in sorted(left.keys() - rows.keys()):  # a fixed server role's membership
        statements = "; ".join(left[fact][f].statement for f in sorted(left[fact]))
        old = state.dispositions.pop(fact)
        state.dispose(fact, old.kind, old.source_ref, Disposition.APPROXIMATED,
                      findings=old.findings, reason=f"DENY restructuring removed what it gave: "
                      f"{statements}; PostgreSQL has no DENY (fail closed)")  # fmt: skip
    for fact, (db, perm) in rows.items():
        takers = [left[fact][f] for f in sorted(left[fact])]
        statements = "; ".join(
            t.statement + ("" if fold(t.grantee) == fold(perm.grantee)
                           else f" (through role [{t.grantee}])")
            for t in takers
        )  # fmt: skip
        try:
            refused = state.engine.refusal(
                db.name if db else None, perm.grantee, Securable.of(perm), perm.permission
            )
        except GrantbridgeError:
            refused = None
        old = state.dispositions.pop(fact)
        if refused is not None:
            disposition, reason = (
                Disposition.NOT_APPLICABLE,
                f"overridden in SQL Server by {statements}",
            )
        else:
            disposition = Disposition.APPROXIMATED
            reason = (f"DENY restructuring removed what it gave [{perm.grantee}]: {statements}; "
                      "SQL Server still allows it, PostgreSQL has no DENY (fail closed)")  # fmt: skip
        state.dispose(fact, old.kind, old.source_ref, disposition, findings=old.findings,
                      reason=reason)  # fmt: skip


def _rows(state: PlanState, facts: Iterable[str]) -> dict[str, tuple[Database | None, Permission]]:
    """The permission rows of ``facts``, by fact."""
    wanted, found = set(facts), dict[str, tuple[Database | None, Permission]]()
    scopes: list[tuple[Database | None, str, list[Permission]]] = [
        (None, SERVER, list(state.snapshot.server_permissions))
    ]
    scopes += [(db, db.name, list(db.permissions)) for db in state.snapshot.databases]
    for db, scope, rows in scopes:
        for perm in rows:
            fact = fact_key(scope, perm.key)
            if fact in wanted:
                found[fact] = (db, perm)
    return found
