"""``verify`` of a plan set (``plan --per-database``): every part on ONE server, together.

The parts of a set share the cluster: the roles made of logins and server roles are in every
part, and each part's ``01_roles.sql`` / ``02_memberships.sql`` create and grant them again. A
part whose cluster-wide statements change what another part relies on (a shared role's
attributes, a membership that gives one of its roles more) is only seen when both parts' are on
the server together. So verify of a set puts every part's cluster-wide statements on the server
first, then verifies each part's databases as :func:`pg_emit.verify.verify_plan` does, one
transaction per database, rolled back:

- embedded throwaway server: each part's cluster-wide statements are committed in the set's
  order (:func:`pg_emit.verify.cluster_committed`, one per part, undone in reverse at the end);
- live target (``--dsn``): nothing may be kept, so the cluster-wide statements run again
  inside each database's rolled-back transaction, before that database's sections: the part's
  own, and of every other part's those that can change what the part verifies
  (:class:`SetCluster`), in the set's order.

Not every other part's: at bench scale M each part creates about 3,000 roles and the ten parts
23,290 between them, and a transaction creating them all (15,809 statements, run once per
database) needs a lock table over three times PostgreSQL's default (64 × 100 = 6,400 locks:
:func:`pg_emit.preflight.check_lock_table`), where the part's own roles fit. What another part
creates or grants matters to a part only through the roles it knows: a role the part knows
(a shared login's, created by whichever part runs first, with that part's attributes), and a
membership of such a role in a role it knows or in a role no part creates (PostgreSQL's
predefined roles, RDS's): ``pg_read_all_data`` reaches every database. A role only another part
knows holds privileges in that part's database only, so a shared role's membership in it gives
nothing here, and the comparison leaves such memberships out
(:func:`pg_emit.intent.live_memberships`); unless that role is itself, through memberships, a
member of a role the part knows or of a predefined one, in which case it is run too (a
*bridging* role: none at bench scale M). Another part's statements are rendered from its plan
cut to those roles and memberships: each part was checked to be its plan's rendering when read.

Each part's databases are its own (``plan --per-database``: one database a part), so the
database sections of two parts never meet.
"""

from __future__ import annotations

import sys
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field

from grantbridge.errors import GrantbridgeError
from mapper.plan import MigrationPlan, PgMembership, PgRole, RoleKind
from pg_emit import intent
from pg_emit.apply import Log
from pg_emit.compare import Mismatch, in_order
from pg_emit.preflight import VERIFY_INSTEAD, check_lock_table
from pg_emit.render import render_sql
from pg_emit.server import connect
from pg_emit.verify import (
    Statements,
    cluster_committed,
    ensure_databases,
    statements_by_database,
    verified_databases,
    verify_database,
)


def cluster_statements(scripts: dict[str, str]) -> list[str]:
    """A part's cluster-wide statements (its scripts' sections without ``\\connect``)."""
    return statements_by_database(scripts).get(None, [])


#: A membership as :class:`SetCluster` keeps it: (role, member, inherit).
Edge = tuple[str, str, bool]


@dataclass
class ClusterPart:
    """What one part of a set does cluster-wide: its own statements, as its scripts have them;
    ``plan``: its fingerprint, target and mode (no items); its roles, by name; its memberships
    (what ``02_memberships.sql`` grants: the plan's and those its logins imply on RDS)."""

    name: str
    statements: list[str]
    plan: MigrationPlan
    roles: dict[str, PgRole]
    edges: list[Edge]


@dataclass(frozen=True)
class _Graph:
    """Every part's memberships both ways (member → roles, role → members), the roles some
    part creates, and the roles memberships name that none creates (predefined, RDS)."""

    up: dict[str, set[str]]
    down: dict[str, set[str]]
    created: frozenset[str]
    uncreated: frozenset[str]

    @classmethod
    def of(cls, parts: Sequence[ClusterPart]) -> _Graph:
        up: dict[str, set[str]] = defaultdict(set)
        down: dict[str, set[str]] = defaultdict(set)
        for part in parts:
            for role, member, _ in part.edges:
                up[member].add(role)
                down[role].add(member)
        created = frozenset(name for part in parts for name, role in part.roles.items()
                            if role.kind != RoleKind.PREDEFINED)  # fmt: skip
        return cls(dict(up), dict(down), created, frozenset(down.keys() - created))


@dataclass
class SetCluster:
    """Every part's cluster-wide statements, roles and memberships, read once (:meth:`add`, in
    the set's order), and what each part's database transactions run first on a live target
    (:meth:`for_part`). A role equal in several parts (a shared login's) is kept once."""

    #: Keep roles and memberships (a live target); the embedded server needs the statements only.
    live: bool = True
    parts: list[ClusterPart] = field(default_factory=list)
    _roles: dict[str, PgRole] = field(default_factory=dict)
    _graph: _Graph | None = None  # of every part added, made when first asked

    def add(self, name: str, plan: MigrationPlan, scripts: dict[str, str]) -> None:
        roles: dict[str, PgRole] = {}
        for role in plan.roles if self.live else ():
            kept = self._roles.setdefault(role.name, role)
            roles[role.name] = kept if kept == role else role
        edges = [(sys.intern(m.role), sys.intern(m.member), m.inherit)
                 for m in (intent.memberships(plan) if self.live else ())]  # fmt: skip
        bare = MigrationPlan(fingerprint=plan.fingerprint, target=plan.target,
                             database_mode=plan.database_mode, part_of=plan.part_of)  # fmt: skip
        self.parts.append(ClusterPart(name, cluster_statements(scripts), bare, roles, edges))
        self._graph = None

    @property
    def clusters(self) -> list[tuple[str, list[str]]]:
        """Each part's name and own statements, in the set's order (:func:`every_cluster`)."""
        return [(part.name, part.statements) for part in self.parts]

    @property
    def graph(self) -> _Graph:
        if self._graph is None:
            self._graph = _Graph.of(self.parts)
        return self._graph

    def known(self, index: int) -> set[str]:
        """The roles part ``index`` knows, and the bridging ones: those another part creates
        that are, through memberships, between a role it knows and a role it knows or that no
        part creates (module docstring)."""
        own, graph = set(self.parts[index].roles), self.graph
        reaching = _closure(own | graph.uncreated, graph.down)  # each has a path up to those
        up = graph.up
        # from the roles it knows, upward through such roles only: each is on a path
        return _closure(own, {m: {r for r in up.get(m, ()) if r in reaching} for m in reaching})

    def for_part(self, index: int) -> tuple[list[str], list[PgRole]]:
        """What each database transaction of part ``index`` runs first on a live target, and
        the roles that creates: the cluster-wide statements of every part in the set's order,
        the part's own as its scripts have them, another part's rendered from what it creates
        and grants among :meth:`known` roles and the roles no part creates."""
        known, created = self.known(index), self.graph.created
        statements: list[str] = []
        roles: dict[str, PgRole] = {}
        for number, part in enumerate(self.parts):
            kept = [role for name, role in part.roles.items() if name in known]
            roles |= {
                r.name: r for r in kept if r.kind != RoleKind.PREDEFINED and r.name not in roles
            }
            if number == index:
                statements += part.statements
                continue
            memberships = tuple(
                PgMembership(role=role, member=member, inherit=inherit)
                for role, member, inherit in part.edges
                if member in known and (role in known or role not in created)
            )
            if kept or memberships:
                cut = part.plan.model_copy(
                    update={"roles": tuple(kept), "memberships": memberships}
                )
                statements += cluster_statements(render_sql(cut))
        return statements, list(roles.values())


def _closure(start: Iterable[str], edges: dict[str, set[str]]) -> set[str]:
    """``start`` and every name reached from it along ``edges``."""
    seen = set(start)
    todo = list(seen)
    while todo:
        for name in edges.get(todo.pop(), ()):
            if name not in seen:
                seen.add(name)
                todo.append(name)
    return seen


@contextmanager
def every_cluster(dsn: str, clusters: SetCluster, *, embedded: bool) -> Iterator[None]:
    """On the embedded server, every part's cluster-wide statements committed, part after part
    in the set's order, for the length of the block, and undone at the end. Nothing on a live
    target: there each database's transaction runs them (:meth:`SetCluster.for_part`)."""
    if not embedded:
        yield
        return
    with ExitStack() as stack:
        for name, statements in clusters.clusters:
            part: Statements = {None: statements}
            try:
                stack.enter_context(cluster_committed(dsn, part))
            except GrantbridgeError as exc:
                raise type(exc)(f"{name}: {exc.message}", exc.location) from None
        yield


def check_set_lock_table(dsn: str, plan: MigrationPlan, roles: Sequence[PgRole]) -> None:
    """On a live target, each database's transaction creates ``roles`` again
    (:meth:`SetCluster.for_part`): the lock table must hold them with the part's largest
    database."""
    with connect(dsn) as conn:
        part = plan.model_copy(update={"roles": tuple(roles)})
        check_lock_table(conn, part, with_cluster=True, command="verify", instead=VERIFY_INSTEAD)


def verify_part(
    plan: MigrationPlan, scripts: dict[str, str], dsn: str, cluster: list[str] | None, *,
    log: Log = lambda _m: None,
) -> list[Mismatch]:  # fmt: skip
    """One part's databases verified on the server :func:`every_cluster` prepared.

    ``cluster``: on a live target, the cluster-wide statements :meth:`SetCluster.for_part`
    gives, run in each of this part's database transactions instead of the part's own; None
    on the embedded server, where they are committed already.
    """
    embedded = cluster is None
    parsed: Statements = statements_by_database(scripts)
    if cluster is not None:
        parsed[None] = cluster
    ensure_databases(dsn, plan, create=embedded)
    mismatches: set[Mismatch] = set()
    for index, database in enumerate(verified_databases(plan)):
        log(f"verify {database}: apply, read back, compare (transaction rolled back)")
        found = verify_database(dsn, plan, parsed, database, cluster=not embedded, roles=index == 0)
        mismatches |= set(found)
    return in_order(mismatches)
