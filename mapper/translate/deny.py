"""DENY restructuring (DESIGN §3.3, "DENY"): PostgreSQL has no DENY.

Where DENYs remove something that role inheritance would give, the denied principals (the DENY's
holder and every principal that inherits the DENY through membership) stop being members of that
role and become members of a *derived* role instead: the role's privileges, flattened over its
own memberships, minus everything denied to them. Each replaced membership is a finding (GB020)
showing the original DENYs. Grants a DENY overrides on the principal itself are never emitted
(see :mod:`mapper.translate.permissions`).

Every DENY that reaches a role is applied to it at once, and each role is restructured once:
one derived role per (role, set of denying principals), shared by every member with the same
DENYs (an earlier version derived a role from the derived role for every further DENY on the
same holder, and its output grew with an exponent of about 2.2: issue 4).

A derived role is not a flat copy. It is built along the role hierarchy: it holds what is left
of the role's own grants and is a member of each parent role, or of the parent's derived role
where the DENYs take something from that parent. And a role whose members are denied part of
its grants is split first: the grants none of those members is denied move to a ``<role>_common``
role that the role (and every role derived from it) is a member of, so a derived role copies
only the contested grants. A DENY on one table of a role granting a thousand tables then costs
one membership and the grants on that table, not a thousand grants per denied member.

A column-level DENY takes away only its columns: a table-level grant it hits becomes column
grants on the table's other columns ("GRANT Object Permissions": a column DENY denies that
column only). That is disposed ``approximated`` (GB040): columns added later are not covered,
and PostgreSQL's table-level privilege is gone. When the snapshot does not list the table's
columns, the whole table privilege goes (failing closed), also ``approximated``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from grantbridge.errors import GrantbridgeError
from grantbridge.plural import plural
from mapper import findings
from mapper.naming import object_name
from mapper.plan import Disposition, Finding, PgDefaultPrivilege, PgGrant, PgMembership, RoleKind
from mapper.privileges import lookup
from mapper.translate.deny_roles import (
    EVIDENCE_DENIES,
    Derived,
    closure,
    derived_role,
    split_roles,
)
from mapper.translate.grants import Target, expand
from mapper.translate.state import Granted, Item, PlanState, copy_with
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


@dataclass(frozen=True)
class _Denial:
    """A DENY with what it removes worked out once.

    ``signatures``: what it denies, as :func:`_signature` spells items. ``columns``: the
    target columns a column-level DENY covers (None: the whole securable). ``table_columns``:
    every target column of that table, when the snapshot lists them.
    """

    deny: Deny
    signatures: frozenset[str]
    columns: frozenset[str] | None
    table_columns: tuple[str, ...] | None

    @property
    def table_level(self) -> bool:
        target = self.deny.target
        return target.securable_class == "OBJECT" and target.column_name is None


def _signature(item: Item) -> str | None:
    """What an item grants, without the grantee (and without columns).

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


class _Signatures(dict[str, str]):
    """Plan item key → the item's :func:`_signature` (``""``: none), each worked out once.

    DENY restructuring asks for the signature of the same grant again and again: once per set
    of DENYs reaching its role, and again when the role is split. Caching by key is safe: a
    signature is made of fields the key is made of (it is the key without grantee, owner and
    columns), and the plan holds one item per key.
    """

    def __init__(self, state: PlanState) -> None:
        super().__init__()
        self._items = state.items

    def __missing__(self, key: str) -> str:
        signature = self[key] = _signature(self._items[key]) or ""
        return signature


def _denial(state: PlanState, deny: Deny) -> _Denial:
    found: set[str] = set()
    for permission in deny.permissions:
        row = lookup(deny.target.securable_class, permission)
        for item in expand(state, deny.db, PLACEHOLDER, deny.target, row) or []:
            signature = _signature(item)
            if signature:
                found.add(signature)
    target, columns, table_columns = deny.target, None, None
    if target.column_name is not None and deny.db is not None:
        naming = state.policy.naming
        columns = frozenset({object_name(target.column_name, naming)})
        obj = state.find_object(deny.db, target.schema_name, target.object_name)
        if obj is not None and obj.columns:
            table_columns = tuple(object_name(c, naming) for c in obj.columns)
    return _Denial(deny, frozenset(found), columns, table_columns)


class _Subtraction:
    """The DENYs reaching one set of principals, indexed by signature; what they leave of items."""

    def __init__(self, denials: Iterable[_Denial], signatures: _Signatures) -> None:
        self.denials = tuple(denials)
        self.signatures = signatures
        self.key = tuple(d.deny.fact for d in self.denials)
        #: column DENYs that turned a table-level grant into column grants (approximated)
        self.split: set[str] = set()
        self.by_signature: dict[str, list[_Denial]] = {}
        for denial in self.denials:
            for signature in denial.signatures:
                self.by_signature.setdefault(signature, []).append(denial)

    def touches(self, keys: Iterable[str]) -> bool:
        """Whether the denials may take something from any of the items under ``keys``."""
        return not self.by_signature.keys().isdisjoint(map(self.signatures.__getitem__, keys))

    def hits(self, key: str) -> list[_Denial]:
        """The denials that may take something from the item under ``key`` (by signature)."""
        return self.by_signature.get(self.signatures[key], [])

    def apply(self, key: str, item: Granted) -> tuple[list[Granted], list[_Denial]]:
        """What is left of ``item`` (``[item]``: untouched) and the denials that took a part.

        A table-level DENY takes the whole item except a column grant (the column GRANT wins:
        "GRANT Object Permissions": "A table-level DENY does not take precedence over a
        column-level GRANT", as mapper.effective decides too); a container DENY takes it all; a
        column DENY takes its columns only.
        """
        hits = self.hits(key)
        if not hits:
            return [item], []
        columns = item.columns if isinstance(item, PgGrant) else ()
        whole = [h for h in hits if h.columns is None and not (h.table_level and columns)]
        if whole:
            return [], whole
        by_column = [h for h in hits if h.columns is not None]
        if not by_column or not isinstance(item, PgGrant):
            return [item], []
        denied = frozenset().union(*(h.columns or () for h in by_column))
        if columns:
            takers = [h for h in by_column if h.columns and h.columns & set(columns)]
            left = tuple(c for c in columns if c not in denied)
            if not takers:
                return [item], []
            return ([copy_with(item, columns=left)] if left else []), takers
        known = next((h.table_columns for h in by_column if h.table_columns), None)
        self.split.update(h.deny.fact for h in by_column)
        if known is None:
            return [], by_column  # columns unknown: the whole privilege goes (fail closed)
        return [copy_with(item, columns=(c,)) for c in known if c not in denied], by_column


def plan_denies(state: PlanState, denies: list[Deny]) -> None:
    """Restructure memberships for every DENY at once, then dispose each DENY fact."""
    denials = {deny.fact: _denial(state, deny) for deny in denies}
    reach: dict[str, list[_Denial]] = {}
    holders = _Holders(state)
    for deny in sorted(denies, key=lambda d: d.fact):
        for role in holders.affected(deny):
            reach.setdefault(role, []).append(denials[deny.fact])
    touched: dict[str, set[str]] = {}
    found: dict[str, set[str]] = {}
    subtractions: dict[tuple[str, ...], _Subtraction] = {}
    signatures = _Signatures(state)

    def subtraction(of: list[_Denial]) -> _Subtraction:
        key = tuple(d.deny.fact for d in of)
        if key not in subtractions:
            subtractions[key] = _Subtraction(of, signatures)
        return subtractions[key]

    def took(takers: Iterable[_Denial], key: str) -> None:
        for denial in takers:
            touched.setdefault(denial.deny.fact, set()).add(key)

    # a group before its members (a member's upward closure is strictly larger), so a member
    # inherits its groups' final shape
    order = sorted(reach, key=lambda r: (len(closure(state, r)), r))
    for role in order:
        sub = subtraction(reach[role])
        for key, item in state.granted_to(role):
            left, takers = sub.apply(key, item)
            if takers:
                _replace(state, item, left, takers)
                took(takers, f"role:{role}")
    derived: Derived = {}
    for role, base, takers in split_roles(state, order, reach, subtraction):
        for denial in takers:
            touched.setdefault(denial.deny.fact, set()).update({f"role:{role}", f"role:{base}"})
        if not takers:  # a _common part: no DENY of any member below takes from it
            derived[(base, None)] = None
    for member in order:
        sub = subtraction(reach[member])
        for membership, facts in _direct(state, member):
            made = derived_role(state, membership.role, sub, derived)
            if made is None:
                continue
            name, takers = made
            state.remove(membership.key)
            if not name:  # every privilege the role gives is denied: the membership goes
                for denial in takers:
                    touched.setdefault(denial.deny.fact, set()).add(f"role:{member}")
                continue
            replacement = PgMembership(role=name, member=member)
            key = ""
            for fact in (*facts, takers[0].deny.fact):
                key, _ = state.add(replacement, fact)
            finding = state.finding(_finding(membership.role, member, name, takers))
            for denial in takers:
                touched.setdefault(denial.deny.fact, set()).update({f"role:{name}", key})
                found.setdefault(denial.deny.fact, set()).add(finding)
    split = set().union(*(s.split for s in subtractions.values()))
    for deny in sorted(denies, key=lambda d: d.fact):
        items = touched.get(deny.fact)
        if not items:
            state.dispose(deny.fact, deny.kind, deny.ref, Disposition.NOT_APPLICABLE,
                          reason=_nothing_removed(state, deny))  # fmt: skip
        elif deny.fact in split:
            reason = _split_reason(denials[deny.fact])
            finding = state.finding(findings.make(
                "GB040", deny.statement, reason, principal=deny.grantee,
                securable=f"{deny.target.schema_name}.{deny.target.object_name}",
                source_ref=deny.ref,
            ))  # fmt: skip
            state.dispose(deny.fact, deny.kind, deny.ref, Disposition.APPROXIMATED, items=items,
                          findings={finding, *found.get(deny.fact, ())}, reason=reason)  # fmt: skip
        else:
            state.dispose(deny.fact, deny.kind, deny.ref, Disposition.MAPPED, items=items,
                          findings=found.get(deny.fact, ()),
                          reason="restructured: see the derived roles")  # fmt: skip


def _nothing_removed(state: PlanState, deny: Deny) -> str:
    try:
        exempt = deny.db is not None and state.engine.is_never_denied(deny.db.name, deny.grantee)
    except GrantbridgeError:
        exempt = False
    if exempt:
        return (f"[{deny.grantee}] is a sysadmin member or dbo: SQL Server applies no DENY to "
                "it, and neither does the plan")  # fmt: skip
    return "the plan grants nothing this DENY removes"


def _split_reason(denial: _Denial) -> str:
    if denial.table_columns is None:
        return ("column DENY on a table whose columns the snapshot does not list: the whole "
                "table privilege was removed (fail closed)")  # fmt: skip
    return ("column DENY: the table-level privilege became column privileges on the table's "
            "other columns; columns added later are not covered, and PostgreSQL's table-level "
            "check (SELECT *) is false, as SQL Server refuses SELECT * too")  # fmt: skip


def _replace(state: PlanState, item: Granted, left: list[Granted], takers: list[_Denial]) -> None:
    """Swap ``item`` for what is left of it (column grants), keeping its facts."""
    facts = state.facts_of(item.key)
    state.remove(item.key)
    for rest in left:
        for fact in (*facts, takers[0].deny.fact):
            state.add(rest, fact)


def _finding(role: str, member: str, name: str, takers: list[_Denial]) -> Finding:
    statements = [t.deny.statement for t in takers]
    evidence = "; ".join(statements[:EVIDENCE_DENIES])
    if len(statements) > EVIDENCE_DENIES:
        more = plural(len(statements) - EVIDENCE_DENIES, "more DENY")
        evidence += f"; and {more} (see the dispositions)"
    grantees = sorted({t.deny.grantee for t in takers}, key=fold)
    return findings.make(
        "GB020", evidence,
        f"{member!r} is no longer a member of {role!r}; it is a member of {name!r}: the same "
        "privileges minus the denied ones.",
        principal=", ".join(grantees), securable=role, source_ref=takers[0].deny.ref,
    )  # fmt: skip


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
                if engine.is_never_denied(database, name):
                    continue  # sysadmin members and dbo: no DENY applies to them (DESIGN §3.2)
                closure = {fold(r) for r in engine.memberships(database, name)}
            except Exception:
                continue
            role = self._state.role_of(database, name)
            if role and role != "PUBLIC":
                for holder in closure | {fold(name)}:
                    by_holder.setdefault(holder, set()).add(role)
        return by_holder


def _direct(state: PlanState, member: str) -> list[tuple[PgMembership, tuple[str, ...]]]:
    """The member's inheriting memberships in roles the plan creates, with their facts now."""
    return [
        (m, state.facts_of(m.key)) for m in state.memberships_of(member)
        if m.inherit and state.roles.get(m.role) is not None
        and state.roles[m.role].kind != RoleKind.PREDEFINED
    ]  # fmt: skip
