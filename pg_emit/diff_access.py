"""Effective access compared: who can now use a privilege they could not use before, and who no
longer can.

Item by item, a plan diff hides the effect of DENY restructuring: removing a DENY moves a role
from ``<role>_minus_…`` back to ``<role>``, which reads as memberships swapped and grants
removed, while every member of the role can now read the table the DENY protected. This module
computes the effect instead.

A role's *effective* privileges are its own grants and default privileges plus those of every
role it inherits from through memberships with ``inherit`` (transitively); PUBLIC's apply to
every role. A grant WITH GRANT OPTION also gives ``<privilege> WITH GRANT OPTION``, which members
can use too. A column privilege is its own securable (``TABLE db:s.t(c)``), as PostgreSQL keeps
it. Owning a database, schema or object (or inheriting from its owner role) is the privilege
``OWNER``, and it implies every other privilege on that securable and on its columns, and on what
the owner creates later (its default privileges): a role that moves from ``db_owner``'s grants
to the owner role has gained ownership, not lost its grants. PostgreSQL's built-in PUBLIC
defaults (and the plan's REVOKEs of them) are not counted: the privilege section shows those.

Who is reported: every role that can log in (in either plan), every other role present in both
plans except the derived roles DENY restructuring makes (bookkeeping of the restructuring, whose
effect shows on their members), and PUBLIC, which stands for every role: a privilege PUBLIC
gains or loses is reported for PUBLIC alone, not for each role.

A plan may hold a million grants, so no role's whole effective set is built: only the roles
whose own privileges changed, and the roles a member newly inherits from or no longer inherits
from, are read (one pass over each plan's grants); their changes are propagated to the roles
below them and each candidate is checked against the roles that hold it directly.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Iterable, Iterator

from pydantic import BaseModel, ConfigDict

from mapper.plan import MigrationPlan, RoleKind

PUBLIC = "PUBLIC"

#: A privilege on a securable, as cheap to build as a tuple can be (a plan may hold a million
#: grants): a grant's object type, database, schema, name, signature, columns and privilege
#: (``SELECT`` or ``SELECT WITH GRANT OPTION``); a default privilege's ``DEFAULT <TYPES>``,
#: database, schema, owner, ``None``, ``()`` and privilege; an ownership: the owned securable
#: as a grant names it, and ``OWNER``.
Access = tuple[str, str, str | None, str, str | None, tuple[str, ...], str]

OWNER = "OWNER"
_OPTION = " WITH GRANT OPTION"
_NOBODY: frozenset[str] = frozenset()
#: A plan object's kind → the object type its grants name (a view is granted as a table).
_GRANT_TYPE = {
    "table": "TABLE",
    "view": "TABLE",
    "sequence": "SEQUENCE",
    "function": "FUNCTION",
    "procedure": "PROCEDURE",
    "type": "TYPE",
}


class AccessChange(BaseModel):
    """One privilege on one securable that some roles gained, or lost.

    ``logins`` are the roles that can log in; ``roles`` the others (``PUBLIC``: every role).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    privilege: str
    securable: str
    logins: tuple[str, ...] = ()
    roles: tuple[str, ...] = ()


def diff_access(
    old: MigrationPlan, new: MigrationPlan, changed: Collection[str]
) -> tuple[tuple[AccessChange, ...], tuple[AccessChange, ...]]:
    """Effective access gained and lost between two plans, each sorted by securable.

    Args:
        old: The plan before the change.
        new: The plan after it.
        changed: The grantees of the grants and default privileges added or removed (the
            owners of what changed owner are found here).

    Returns:
        ``(gained, lost)``.
    """
    before, after = _Side(old), _Side(new)
    changed = {*changed, *_owners_changed(before.owners(), after.owners())}
    lineage = {s: (before.ancestors(s), after.ancestors(s)) for s in _subjects(old, new)}
    wanted = {PUBLIC, *changed}
    for was, now in lineage.values():
        wanted |= was ^ now
    # A role whose own privileges are the same in both plans changes as the roles above it do:
    # the thousands of logins of one group share one computation, then each drops what it
    # holds itself.
    shared = {s: pair if s in wanted else _above(s, pair) for s, pair in lineage.items()}
    own_before, own_after = before.own(wanted), after.own(wanted)
    public_before, public_after = own_before.pop(PUBLIC, set()), own_after.pop(PUBLIC, set())
    everyone = public_before | public_after  # reported for PUBLIC alone
    pairs = set(shared.values())
    gains = {(was, now): _news(own_after, own_before, now, was) - everyone for was, now in pairs}
    losses = {(was, now): _news(own_before, own_after, was, now) - everyone for was, now in pairs}
    gained = _confirmed(gains, shared, before.holders(gains.values()), side=0)
    lost = _confirmed(losses, shared, after.holders(losses.values()), side=1)
    gained[PUBLIC], lost[PUBLIC] = public_after - public_before, public_before - public_after
    logins = {r.name for plan in (old, new) for r in plan.roles if r.login}
    return _grouped(gained, logins), _grouped(lost, logins)


#: The roles a role inherits from (itself included) in the old plan and in the new one.
_Pair = tuple[frozenset[str], frozenset[str]]


def _above(role: str, pair: _Pair) -> _Pair:
    return pair[0] - {role}, pair[1] - {role}


def _confirmed(
    candidates: dict[_Pair, set[Access]],
    shared: dict[str, _Pair],
    holders: dict[Access, set[str]],
    side: int,
) -> dict[str, set[Access]]:
    """Each role's candidates but those it holds on the other ``side`` (0: old, 1: new) after
    all, through a role it inherits from there or itself: checked once per pair, then once per
    role on what is left."""
    left = {
        pair: {a for a in found if not _held(a, pair[side], holders)}
        for pair, found in candidates.items()
    }
    return {
        role: {a for a in left[pair] if not _held(a, frozenset((role,)), holders)}
        for role, pair in shared.items()
    }


def _held(access: Access, lineage: frozenset[str], holders: dict[Access, set[str]]) -> bool:
    """Whether one of ``lineage`` holds ``access``, or owns what it is on."""
    if access[0].startswith("DEFAULT ") and access[3] in lineage:
        return True  # what one's own role creates later, one owns
    return not (
        holders.get(access, _NOBODY).isdisjoint(lineage)
        and holders.get(_ownership(access), _NOBODY).isdisjoint(lineage)
    )


class _Side:
    """One plan: who inherits from whom, and (for the roles asked) who holds what directly."""

    def __init__(self, plan: MigrationPlan) -> None:
        self.plan = plan
        self.names = {r.name for r in plan.roles}
        self.parents: dict[str, list[str]] = defaultdict(list)
        for m in plan.memberships:
            if m.inherit:
                self.parents[m.member].append(m.role)
        self._ancestors: dict[str, frozenset[str]] = {}

    def ancestors(self, role: str) -> frozenset[str]:
        """``role`` and every role it inherits from, transitively; empty if it is not here."""
        if role not in self.names:
            return frozenset()
        known = self._ancestors.get(role)
        if known is None:
            seen, stack = {role}, [role]
            while stack:
                for parent in self.parents.get(stack.pop(), ()):
                    if parent in seen:
                        continue
                    cached = self._ancestors.get(parent)
                    if cached is not None:
                        seen |= cached
                    else:
                        seen.add(parent)
                        stack.append(parent)
            known = self._ancestors[role] = frozenset(seen)
        return known

    def own(self, roles: Collection[str]) -> dict[str, set[Access]]:
        """The privileges each of ``roles`` holds directly (one pass over the plan)."""
        held: dict[str, set[Access]] = defaultdict(set)
        for grantee, access in self._privileges(grantees=roles):
            held[grantee].add(access)
        return held

    def holders(self, candidates: Iterable[set[Access]]) -> dict[Access, set[str]]:
        """The roles holding each candidate, or owning what it is on (one pass over the plan)."""
        wanted: set[Access] = set().union(*candidates)
        wanted |= {_ownership(a) for a in wanted}
        holders: dict[Access, set[str]] = defaultdict(set)
        if wanted:
            for grantee, access in self._privileges(names={a[3] for a in wanted}):
                if access in wanted:
                    holders[access].add(grantee)
        return holders

    def owners(self) -> dict[Access, str]:
        """Each owned securable's ``OWNER`` access → its owner."""
        return {access: owner for owner, access in self._owned()}

    def _privileges(
        self, *, grantees: Collection[str] | None = None, names: Collection[str] | None = None
    ) -> Iterator[tuple[str, Access]]:
        """(grantee, privilege) of every grant, default privilege and ownership; the filters,
        on the grantee (owner) and on the securable's name (a default privilege's: its owner),
        come first because a plan may hold a million grants."""
        for g in self.plan.grants:
            if (grantees is None or g.grantee in grantees) and (names is None or g.name in names):
                key = (g.object_type, g.database, g.schema_name, g.name, g.signature, g.columns)
                yield g.grantee, (*key, g.privilege)
                if g.grant_option:
                    yield g.grantee, (*key, g.privilege + _OPTION)
        for d in self.plan.default_privileges:
            if (grantees is None or d.grantee in grantees) and (names is None or d.owner in names):
                kind = f"DEFAULT {d.object_type}"
                yield d.grantee, (kind, d.database, d.schema_name, d.owner, None, (), d.privilege)
        for owner, access in self._owned():
            if (grantees is None or owner in grantees) and (names is None or access[3] in names):
                yield owner, access

    def _owned(self) -> Iterator[tuple[str, Access]]:
        for db in self.plan.databases:
            yield db.owner, ("DATABASE", db.name, None, db.name, None, (), OWNER)
        for s in self.plan.schemas:
            yield s.owner, ("SCHEMA", s.database, None, s.name, None, (), OWNER)
        for o in self.plan.objects:
            kind = _GRANT_TYPE[o.kind]
            yield o.owner, (kind, o.database, o.schema_name, o.name, o.signature, (), OWNER)


def _ownership(access: Access) -> Access:
    """The ``OWNER`` access that implies ``access`` (itself, for an ownership)."""
    return (*access[:5], (), OWNER)


def _owners_changed(before: dict[Access, str], after: dict[Access, str]) -> set[str]:
    """The roles that own something in one plan they do not own in the other."""
    changed = {a for a in before.keys() | after.keys() if before.get(a) != after.get(a)}
    return {owner for a in changed for owner in (before.get(a), after.get(a)) if owner}


def _subjects(old: MigrationPlan, new: MigrationPlan) -> list[str]:
    """Logins of either plan, and the other roles of both except derived ones, sorted."""
    logins = {r.name for plan in (old, new) for r in plan.roles if r.login}
    kept = {r.name for r in old.roles if r.kind is not RoleKind.DERIVED}
    kept &= {r.name for r in new.roles if r.kind is not RoleKind.DERIVED}
    return sorted(logins | kept)


def _news(
    own_here: dict[str, set[Access]],
    own_there: dict[str, set[Access]],
    here: frozenset[str],
    there: frozenset[str],
) -> set[Access]:
    """What a role may hold *here* and not *there* (candidates, to be confirmed): the changes
    of the roles it inherits from on both sides, and all of the roles it inherits from here
    only. ``own_*`` hold just those roles (and the others whose privileges changed)."""
    found: set[Access] = set()
    for role in here:
        mine = own_here.get(role)
        if mine:
            found |= mine if role not in there else mine - own_there.get(role, set())
    return found


def _securable(access: Access) -> str:
    """As :attr:`mapper.plan.PgGrant.securable` writes it: ``TABLE sales:sales.orders(id)``;
    a default privilege: ``new TABLES in SCHEMA sales:sales by sales_owner``."""
    kind, database, schema, name, signature, columns, _ = access
    if kind.startswith("DEFAULT "):
        where = f"SCHEMA {database}:{schema}" if schema else f"DATABASE {database}"
        return f"new {kind.removeprefix('DEFAULT ')} in {where} by {name}"
    path = f"{schema}.{name}" if schema and name else (schema or name)
    cols = f"({','.join(columns)})" if columns else ""
    return f"{kind} {database}:{path}{signature or ''}{cols}"


def _grouped(changes: dict[str, set[Access]], logins: set[str]) -> tuple[AccessChange, ...]:
    """One entry per privilege and securable, naming its roles (logins apart), sorted."""
    by_access: dict[tuple[str, str], list[str]] = defaultdict(list)
    for role in sorted(changes):
        for access in changes[role]:
            by_access[_securable(access), access[-1]].append(role)
    return tuple(
        AccessChange(
            privilege=privilege,
            securable=securable,
            logins=tuple(r for r in roles if r in logins),
            roles=tuple(r for r in roles if r not in logins),
        )
        for (securable, privilege), roles in sorted(by_access.items())
    )
