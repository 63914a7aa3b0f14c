"""DENY restructuring (DESIGN §3.3, "DENY"): PostgreSQL has no DENY.

Where DENYs remove something that role inheritance would give, the denied principals (the DENY's
holder and every principal that inherits the DENY through membership) stop being members of that
role and become members of a *derived* role instead: the role's privileges, flattened over its
own memberships, minus everything denied to them. Each replaced membership is a finding (GB020)
showing the original DENYs. Grants a DENY overrides on the principal itself are never emitted
(see :mod:`mapper.translate.permissions`); owners are never denied, so a principal's own grants
on what it owns stay (:mod:`mapper.translate.deny_owners`), and so do those it inherits there
(:mod:`mapper.translate.deny_kept`).

Every DENY that reaches a role is applied to it at once, and each role is restructured once:
one derived role per (role, set of denying principals), shared by every member with the same
DENYs (an earlier version derived a role from the derived role for every further DENY on the
same holder, and its output grew with an exponent of about 2.2: issue 4).

A derived role is not a flat copy. It is built along the role hierarchy: it holds what is left
of the role's own grants and is a member of each parent role, or of the parent's derived role
where the DENYs take something from that parent. When nothing would be left of it (every grant
denied, no parent left to join) no role is made: the principal leaves the role, and the GB020
finding, the DENYs' dispositions and the membership's (``not_applicable``) say that all the
role gives it is denied. And a role whose members are denied part of its grants is split
first: the grants none of those members is denied move to a ``<role>_common`` role that the
role (and every role derived from it) is a member of, so a derived role copies only the
contested grants. A DENY on one table of a role granting a thousand tables then costs
one membership and the grants on that table, not a thousand grants per denied member.

What a DENY removes comes from the permission hierarchy (:mod:`mapper.translate.deny_reach`):
every permission the denied one covers, on its securable and everything inside it, so ``DENY
CONTROL`` on a schema takes the TRIGGER that CONTROL on one of its tables maps to, and ``DENY
ALTER`` on a database the CREATE on its schemas. A server DENY reaches the logins in its
holder's closure, in every database. A DENY of CONNECT, or of a permission covering it (CONTROL
or CONNECT REPLICATION on a database; CONTROL SERVER, not CONNECT ANY DATABASE), shuts them out of
the database instead: they lose everything in it, memberships included
(:mod:`mapper.translate.deny_shut`).

A DENY taking part of what membership in a PostgreSQL predefined role gives (``DENY VIEW
DATABASE STATE`` to a login granted VIEW SERVER STATE → ``pg_read_all_stats``) takes the whole
membership, failing closed: PostgreSQL cannot take part of such a role away
(:mod:`mapper.translate.deny_predefined`); a role attribute alike (``CREATEDB``: deny_attributes).

A DENY reaching a Windows or Entra group also reaches the group's members in SQL Server, who
connect with logins of their own; grantbridge does not know who they are, so it applies the
DENY to the group's role only and says so: the DENY is ``approximated`` with finding GB021 (one
per group, listing the DENYs that reach it).

A column-level DENY takes away only its columns: a table-level grant it hits becomes column
grants on the table's other columns ("GRANT Object Permissions": a column DENY denies that
column only). That is disposed ``approximated`` (GB040): columns added later are not covered,
and PostgreSQL's table-level privilege is gone. When the snapshot does not list the table's
columns, the whole table privilege goes (failing closed), also ``approximated``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from mapper.naming import object_name
from mapper.plan import PgMembership, RoleKind
from mapper.privileges import CREATE_IN_SCHEMA
from mapper.translate import deny_attributes, deny_shut
from mapper.translate.deny_cover import Contested, Covering, _Signatures, _Subtraction
from mapper.translate.deny_dispose import (
    Gb020,
    Outcome,
    approximations,
    dispose_deny,
    group_findings,
    leave_role,
    moved_finding,
)
from mapper.translate.deny_kept import Kept
from mapper.translate.deny_owners import Owners
from mapper.translate.deny_predefined import cut, cut_by, leave_predefined, predefined
from mapper.translate.deny_reach import Coverage, Holders
from mapper.translate.deny_roles import Derived, closure, derived_role, split_roles
from mapper.translate.grants import Target
from mapper.translate.state import PlanState
from mssql_extract.snapshot import Database


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
        """The DENY as evidence: ``DENY CONTROL ON DATABASE::[Sales] TO [x] (ref)``."""
        t = self.target
        where = " ".join(p for p in (t.securable_class, t.schema_name, t.object_name,
                                     t.column_name) if p)  # fmt: skip
        if t.securable_class == "DATABASE" and self.db is not None:
            where = f"DATABASE::[{self.db.name}]"  # as T-SQL names it
        return f"DENY {', '.join(self.permissions)} ON {where} TO [{self.grantee}] ({self.ref})"


@dataclass(frozen=True)
class _Denial:
    """A DENY with what it removes worked out once.

    ``signatures``: what it denies, as :func:`~mapper.translate.deny_reach.signature` spells
    items. ``columns``: the target columns a column-level DENY covers (None: the whole
    securable). ``table_columns``: every target column of that table, when the snapshot lists
    them. ``approximated``: why taking what it covers may take more than SQL Server does.
    """

    deny: Deny
    signatures: frozenset[str]
    columns: frozenset[str] | None
    table_columns: tuple[str, ...] | None
    approximated: str | None = None
    #: the predefined roles (pg_read_all_stats …) it takes part of (mapper.translate.deny_predefined)
    predefined: frozenset[str] = frozenset()
    #: those of them it takes more of than it covers; those it took from a role it reaches
    partial: frozenset[str] = frozenset()
    cut: set[str] = field(default_factory=set, compare=False)
    #: those it takes where the membership rests on database grants alone (a shutting DENY)
    scoped: frozenset[str] = frozenset()
    #: the pairs it covers that role attributes stand for; those it took (deny_attributes)
    attributes: frozenset[tuple[str, str]] = frozenset()
    took: set[str] = field(default_factory=set, compare=False)

    #: a column grant outlives this DENY if it is on its table (common criteria option off)
    spares_columns: bool = True

    @property
    def table_level(self) -> bool:
        """Whether it is a DENY on a table (or other object) as a whole, which a column GRANT
        outlives unless the common criteria option is on (``spares_columns``)."""
        target = self.deny.target
        return target.securable_class == "OBJECT" and target.column_name is None


def _denial(state: PlanState, deny: Deny, coverage: Coverage) -> _Denial:
    target, columns, table_columns = deny.target, None, None
    if target.column_name is not None and deny.db is not None:
        naming = state.policy.naming
        columns = frozenset({object_name(target.column_name, naming)})
        obj = state.find_object(deny.db, target.schema_name, target.object_name)
        if obj is not None and obj.columns:
            table_columns = tuple(object_name(c, naming) for c in obj.columns)
    pairs = coverage.pairs(deny)
    roles, partial = cut(state, pairs, deny.db is None)
    return _Denial(deny, coverage.signatures(deny), columns, table_columns,
                   _creates(coverage, deny), roles, partial=partial,
                   attributes=deny_attributes.covered(pairs),
                   spares_columns=not state.snapshot.server.common_criteria)  # fmt: skip


def _creates(coverage: Coverage, deny: Deny) -> str | None:
    """Why a DENY of some, not all, of the permissions creating objects in a schema is
    approximated: PostgreSQL has one CREATE on a schema for every kind of object."""
    pairs = coverage.pairs(deny)
    denied = sorted(p for c, p in pairs if c == "DATABASE" and p in CREATE_IN_SCHEMA)
    if not denied or len(denied) == len(CREATE_IN_SCHEMA) or ("SCHEMA", "ALTER") in pairs:
        return None
    return (
        f"PostgreSQL's CREATE on a schema allows every kind of object: denying {', '.join(denied)} "
        "took CREATE on the schemas, so no other kind of object can be created there either "
        "(fail closed)"
    )


def plan_denies(state: PlanState, denies: list[Deny]) -> Kept:
    """Shut principals out of databases, restructure memberships for every other DENY at
    once, then dispose each DENY fact. Returns what owners inherited on what they own, for
    the planner to :meth:`~mapper.translate.deny_kept.Kept.keep` after the ownership step."""
    holders, coverage = Holders(state), Coverage(state)
    shut = deny_shut.shut_out(state, denies, holders)
    denials = {
        deny.fact: _denial(state, deny, coverage)
        for deny in denies
        if not deny_shut.shuts(state, deny)
    }
    denials.update(deny_shut.predefined_denials(state, denies, coverage))
    # Kept refers to Owners, never the reverse: a cycle would keep the whole plan state alive
    # after plan() returns, until a full collection walks it (seconds at bench M)
    owners = Owners(state, coverage)
    kept = Kept(state, owners)
    attributes = deny_attributes.take_own(state, denials.values(), holders, owners)
    touched, found, split, leaving = _restructure(state, denials, holders, owners, kept)
    attributes.add_to(touched, found, leaving)
    owners.restore()
    restructured = set(touched)  # before shut_out's: a shutting DENY's cuts only
    for fact, items in shut.touched.items():
        touched.setdefault(fact, set()).update(items)
    for fact, keys in shut.found.items():
        found.setdefault(fact, set()).update(keys)
    group_keys = group_findings(state, denies, holders)
    for deny in sorted(denies, key=lambda d: d.fact):
        items, denial = touched.get(deny.fact, set()), denials.get(deny.fact)
        approximated = (
            [] if denial is None
            else approximations(state, denial, deny.fact in split, deny.fact in restructured)
        )  # fmt: skip
        outcome = Outcome(items, found.get(deny.fact, set()), tuple(approximated),
                          tuple(sorted(leaving.get(deny.fact, ()))))  # fmt: skip
        dispose_deny(state, deny, outcome, shut, holders, group_keys.get(deny.fact, []))
    return kept


def _restructure(
    state: PlanState, denials: dict[str, _Denial], holders: Holders, owners: Owners, kept: Kept
) -> tuple[dict[str, set[str]], dict[str, set[str]], set[str], dict[str, set[str]]]:
    """Derived roles for every DENY at once (the module docstring): per DENY fact, the items and
    roles it touched and its findings; the column DENYs that split a table grant; and per DENY
    fact, the memberships it ended without a derived role (:func:`leave_role`). A role's own
    grants on what its principal owns are set aside for ``owners`` to put back (owners are
    never denied: :class:`~mapper.translate.deny_owners.Owners`); what it inherits there, noted
    for ``kept``."""
    reach: dict[str, list[_Denial]] = {}
    for fact in sorted(denials):
        for role in holders.affected(denials[fact].deny):
            reach.setdefault(role, []).append(denials[fact])
    touched: dict[str, set[str]] = {}
    found: dict[str, set[str]] = {}
    subtractions: dict[tuple[str, ...], _Subtraction] = {}
    signatures = _Signatures(state)
    covering = Covering(denials, signatures)

    def subtraction(of: list[_Denial]) -> _Subtraction:
        key = tuple(d.deny.fact for d in of)
        if key not in subtractions:
            subtractions[key] = _Subtraction(of, signatures, covering)
        return subtractions[key]

    def took(takers: Iterable[_Denial], *keys: str) -> None:
        for denial in takers:
            touched.setdefault(denial.deny.fact, set()).update(keys)

    # a group before its members (a member's upward closure is strictly larger), so a member
    # inherits its groups' final shape
    # each role's closure once: memberships change only once derived roles are made
    closures = {role: closure(state, role) for role in reach}
    order = sorted(reach, key=lambda r: (len(closures[r]), r))
    # what owners inherit on what they own, before anything moves
    kept.note(((r, closures[r], subtraction(reach[r]).hits) for r in order), signatures)
    leaving: dict[str, set[str]] = {}
    for role in order:
        sub = subtraction(reach[role])
        # no check of the whole role first: a role's own DENYs take something from most roles
        # reached (at scale M, 799 of 893), and asking would look every signature up twice
        granted = state.granted_to(role)
        for (key, item), hits in zip(granted, sub.hits_each(granted), strict=True):
            if not hits:
                continue
            left, takers = sub.apply(key, item)
            if takers and not owners.spare(role, key, signatures[key]):
                owners.take(item, left, takers)
                took(takers, f"role:{role}")
        for membership in state.memberships_of(role):  # its own pg_read_all_stats …
            cutting = (
                cut_by(state, sub.denials, membership) if predefined(state, membership) else []
            )
            if cutting:
                owners.taken(membership.key, cutting)
                finding, text = leave_predefined(state, membership, cutting)
                took(cutting, f"role:{role}")
                for denial in cutting:
                    found.setdefault(denial.deny.fact, set()).add(finding)
                    leaving.setdefault(denial.deny.fact, set()).add(text)
    derived = Derived()
    for role, base, takers in split_roles(state, order, closures, reach, subtraction):
        took(takers, f"role:{role}", f"role:{base}")
        if not takers:  # a _common part: no DENY of any member below takes from it
            derived[(base, None)] = None
    contested = Contested(state, covering)  # from here on, grants change only as it knows
    gb020 = Gb020()
    for member in order:
        sub = subtraction(reach[member])
        for membership, facts in _direct(state, member):
            made = derived_role(state, membership.role, sub, derived, contested)
            if made is None:
                continue
            name, takers = made
            state.remove(membership.key)
            if not name:  # every privilege the role gives is denied: the membership goes
                finding, text = leave_role(state, membership, facts, takers, gb020)
                took(takers, f"role:{member}")
                for denial in takers:
                    found.setdefault(denial.deny.fact, set()).add(finding)
                    leaving.setdefault(denial.deny.fact, set()).add(text)
                continue
            replacement = PgMembership(role=name, member=member)
            key = ""
            for fact in (*facts, takers[0].deny.fact):
                key, _ = state.add(replacement, fact)
            finding = gb020.note(
                state, moved_finding(membership.role, member, name, takers), member
            )
            took(takers, f"role:{name}", key)
            for denial in takers:
                found.setdefault(denial.deny.fact, set()).add(finding)
    gb020.finish(state)
    return touched, found, set().union(*(s.split for s in subtractions.values())), leaving


def _direct(state: PlanState, member: str) -> list[tuple[PgMembership, tuple[str, ...]]]:
    """The member's inheriting memberships in roles the plan creates, with their facts now."""
    return [
        (m, state.facts_of(m.key)) for m in state.memberships_of(member)
        if m.inherit and state.roles.get(m.role) is not None
        and state.roles[m.role].kind != RoleKind.PREDEFINED
    ]  # fmt: skip
