"""The principal graph (DESIGN §3.1): who is who, and who is a member of what.

A ``networkx.DiGraph`` whose nodes are ``(scope, folded name)`` pairs: scope ``"server"`` for
logins and server roles, the folded database name for users, database roles and application
roles. Node attributes: ``kind`` (:class:`PrincipalKind`), ``name`` (source spelling),
``database`` (source spelling or ``None``), ``fixed``; logins also ``disabled``; users also
``orphaned`` and ``enabled`` (``guest`` is enabled only when it has CONNECT).

Edges, attribute ``kind``:

* ``member`` — member → role, from the snapshot's memberships;
* ``implicit`` — every login → server ``public``; every user and application role → database
  ``public``; ``dbo`` → ``db_owner`` ("Database-level roles": every database user belongs to
  public; dbo is a member of db_owner and cannot be removed);
* ``maps_to`` — login → user, by SID (by the login's name when the user has no SID), and the
  database owner's login → ``dbo`` ("The database owner maps to dbo", ALTER AUTHORIZATION).

A membership naming a member or role the snapshot does not hold (a partial export: dbatools'
``Export-DbaDbRole -IncludeRoleMember`` adds members it never creates) is left out of the graph
and recorded in :attr:`PrincipalGraph.unknown`, for the planner to dispose of (finding GB046):
the engine answers as if the row were not there. Membership cycles and a member of something
that is not a role are contradictions, refused (:class:`MappingError` naming them). Every
traversal visits neighbours in sorted order, so every answer derived from the graph is
deterministic.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import networkx as nx

from grantbridge.errors import Location, MappingError
from mapper.fixed_roles import fixed_database_roles, fixed_server_roles
from mssql_extract.snapshot import Database, Membership, SecuritySnapshot, fold

SERVER_SCOPE = "server"
Node = tuple[str, str]
#: A role reached from a principal, with the chain of nodes that leads there (start first).
Reached = tuple[Node, tuple[Node, ...]]

MEMBER, IMPLICIT, MAPS_TO = "member", "implicit", "maps_to"
_CLOSURE_EDGES = frozenset({MEMBER, IMPLICIT})


class PrincipalKind(StrEnum):
    """What a node of the principal graph is."""

    LOGIN = "login"
    SERVER_ROLE = "server_role"
    USER = "user"
    ROLE = "role"
    APP_ROLE = "app_role"


@dataclass(frozen=True)
class UnknownPrincipal:
    """A snapshot row naming a principal the snapshot does not hold, left out of the engine.

    Attributes:
        database: the row's database (source spelling); ``None`` for a server row.
        key: the row's key: a membership's or a permission's, or the owned schema's, object's
            or role's for an unknown owner.
        names: each unknown principal with its part in the row (``member``, ``role``,
            ``grantee``, ``owner``), in the row's order.
    """

    database: str | None
    key: str
    names: tuple[tuple[str, str], ...]

    def describe(self) -> str:
        """What the row names that is unknown: ``member [app]``, ``member [a] and role [b]``."""
        return " and ".join(f"{part} [{name}]" for part, name in self.names)


def database_scope(database: str | None) -> str:
    """The node scope of a database name (``None`` = the server)."""
    return SERVER_SCOPE if database is None else fold(database)


class PrincipalGraph:
    """The principal graph of one snapshot, with memoized membership closures."""

    def __init__(self, snapshot: SecuritySnapshot) -> None:
        self.snapshot = snapshot
        self._nodes: dict[Node, dict[str, Any]] = {}
        self._edges: dict[tuple[Node, Node], str] = {}
        #: rows left out for naming a principal the snapshot does not hold, by (scope, row key)
        self.unknown: dict[tuple[str, str], UnknownPrincipal] = {}
        self._add_server(snapshot)
        for database in snapshot.databases:
            self._add_database(snapshot, database)
        self.graph: nx.DiGraph[Node] = nx.DiGraph()
        for node in sorted(self._nodes):
            self.graph.add_node(node, **self._nodes[node])
        for (member, role), kind in sorted(self._edges.items()):
            self.graph.add_edge(member, role, kind=kind)
        self._out: dict[Node, list[tuple[Node, str]]] = {}
        self._in: dict[Node, list[tuple[Node, str]]] = {}
        for (member, role), kind in sorted(self._edges.items()):
            self._out.setdefault(member, []).append((role, kind))
            self._in.setdefault(role, []).append((member, kind))
        self._check_cycles()
        self._closures: dict[Node, tuple[Reached, ...]] = {}

    # ------------------------------------------------------------------ building

    def _add(self, node: Node, kind: PrincipalKind, name: str, **attrs: Any) -> None:
        if node in self._nodes and not self._nodes[node].get("fixed"):
            return  # the first declaration wins; the snapshot refuses true duplicates
        database = None if node[0] == SERVER_SCOPE else attrs.pop("database", None)
        self._nodes[node] = {"kind": kind, "name": name, "database": database, "fixed": False}
        self._nodes[node].update(attrs)

    def _add_server(self, snapshot: SecuritySnapshot) -> None:
        for role in fixed_server_roles():
            self._add((SERVER_SCOPE, fold(role)), PrincipalKind.SERVER_ROLE, role, fixed=True)
        for server_role in snapshot.server_roles:
            node = (SERVER_SCOPE, fold(server_role.name))
            self._add(node, PrincipalKind.SERVER_ROLE, server_role.name, fixed=server_role.is_fixed)
        for login in snapshot.logins:
            node = (SERVER_SCOPE, fold(login.name))
            self._add(node, PrincipalKind.LOGIN, login.name, disabled=login.disabled)
            self._edges[(node, (SERVER_SCOPE, "public"))] = IMPLICIT
        self._add_memberships(SERVER_SCOPE, None, snapshot.server_memberships)

    def _add_database(self, snapshot: SecuritySnapshot, database: Database) -> None:
        scope = fold(database.name)
        if scope == SERVER_SCOPE:
            raise MappingError(
                "a database named 'server' collides with grantbridge's server scope; rename it "
                "in the snapshot",
                Location(str(database.source_ref), key=database.key),
            )
        self._add_principals(database, scope)
        self._add_implicit(database, scope)
        self._add_memberships(scope, database.name, database.memberships)
        self._add_login_links(snapshot, database, scope)

    def _add_principals(self, database: Database, scope: str) -> None:
        db = database.name
        for role in fixed_database_roles():
            self._add((scope, fold(role)), PrincipalKind.ROLE, role, database=db, fixed=True)
        for db_role in database.roles:
            node = (scope, fold(db_role.name))
            self._add(node, PrincipalKind.ROLE, db_role.name, database=db, fixed=db_role.is_fixed)
        for app in database.application_roles:
            self._add((scope, fold(app.name)), PrincipalKind.APP_ROLE, app.name, database=db)
        for user in database.users:
            self._add(
                (scope, fold(user.name)), PrincipalKind.USER, user.name, database=db,
                orphaned=user.orphaned, enabled=True,
            )  # fmt: skip
        # dbo and guest exist in every database, whether or not the snapshot lists them
        self._add((scope, "dbo"), PrincipalKind.USER, "dbo", database=db, enabled=True)
        self._add((scope, "guest"), PrincipalKind.USER, "guest", database=db)
        self._nodes[(scope, "guest")]["enabled"] = database.guest_enabled

    def _add_implicit(self, database: Database, scope: str) -> None:
        public = (scope, "public")
        for node, attrs in self._nodes.items():
            if node[0] == scope and attrs["kind"] in (PrincipalKind.USER, PrincipalKind.APP_ROLE):
                self._edges[(node, public)] = IMPLICIT
        self._edges[((scope, "dbo"), (scope, "db_owner"))] = IMPLICIT

    def _add_memberships(
        self, scope: str, database: str | None, memberships: Iterable[Membership]
    ) -> None:
        for membership in memberships:
            member, role = (scope, fold(membership.member)), (scope, fold(membership.role))
            missing = tuple(
                (part, name) for part, name, node in
                (("member", membership.member, member), ("role", membership.role, role))
                if node not in self._nodes
            )  # fmt: skip
            if missing:
                self.unknown[(scope, membership.key)] = UnknownPrincipal(
                    database, membership.key, missing
                )
                continue
            if self._nodes[role]["kind"] not in (PrincipalKind.ROLE, PrincipalKind.SERVER_ROLE):
                raise MappingError(
                    f"{membership.role!r} is not a role, so {membership.member!r} cannot be a "
                    f"member of it" + (f" in database {database!r}" if database else ""),
                    Location(str(membership.source_ref), key=membership.key),
                )
            self._edges[(member, role)] = MEMBER

    def _add_login_links(self, snapshot: SecuritySnapshot, database: Database, scope: str) -> None:
        by_sid = {fold(lg.sid): lg for lg in snapshot.logins if lg.sid}
        by_name = {fold(lg.name): lg for lg in snapshot.logins}
        mapped: set[str] = set()
        for user in database.users:
            login = by_sid.get(fold(user.sid)) if user.sid else None
            if login is None and not user.sid and user.login:
                login = by_name.get(fold(user.login))
            if login is not None:
                self._edges[((SERVER_SCOPE, fold(login.name)), (scope, fold(user.name)))] = MAPS_TO
                mapped.add(fold(login.name))
        owner = by_sid.get(fold(database.owner_sid)) if database.owner_sid else None
        owner = owner or (by_name.get(fold(database.owner)) if database.owner else None)
        if owner is not None and fold(owner.name) not in mapped:
            self._edges[((SERVER_SCOPE, fold(owner.name)), (scope, "dbo"))] = MAPS_TO

    def _check_cycles(self) -> None:
        members = self.graph.edge_subgraph(
            edge for edge, kind in sorted(self._edges.items()) if kind == MEMBER
        )
        if nx.is_directed_acyclic_graph(members):
            return
        # one depth-first search from the sorted nodes: the same cycle is reported every time
        cycle = nx.find_cycle(members, source=sorted(members.nodes))
        names = [self.display(u) for u, _ in cycle] + [self.display(cycle[0][0])]
        raise MappingError(
            f"role membership cycle: {' -> '.join(names)}", Location(key=cycle[0][0][0])
        )

    # ------------------------------------------------------------------ queries

    def __contains__(self, node: object) -> bool:
        return node in self._nodes

    def node(self, database: str | None, name: str) -> Node | None:
        """The node of a principal, or ``None`` when it does not exist."""
        node = (database_scope(database), fold(name))
        return node if node in self._nodes else None

    def attrs(self, node: Node) -> dict[str, Any]:
        """The attributes of a node (``kind``, ``name``, ``database``, ``fixed`` …)."""
        return self._nodes[node]

    def kind(self, node: Node) -> PrincipalKind:
        """The kind of a node."""
        kind: PrincipalKind = self._nodes[node]["kind"]
        return kind

    def display(self, node: Node) -> str:
        """The principal's name in its source spelling."""
        name: str = self._nodes[node]["name"]
        return name

    def closure(self, node: Node) -> tuple[Reached, ...]:
        """Every principal whose permissions ``node`` carries, with the chain leading there.

        The node itself comes first, then its roles breadth-first (nearest first, then by
        folded name), following ``member`` and ``implicit`` edges; memoized per node.
        """
        cached = self._closures.get(node)
        if cached is None:
            cached = self._breadth_first(node)
            self._closures[node] = cached
        return cached

    def _breadth_first(self, node: Node) -> tuple[Reached, ...]:
        reached: list[Reached] = [(node, (node,))]
        seen = {node}
        for current, chain in reached:  # grows while we walk it
            for role, kind in self._out.get(current, ()):
                if kind in _CLOSURE_EDGES and role not in seen:
                    seen.add(role)
                    reached.append((role, (*chain, role)))
        return tuple(reached)

    def login_of(self, user: Node) -> Node | None:
        """The login a database user maps to, or ``None`` (orphaned, WITHOUT LOGIN …)."""
        logins = [member for member, kind in self._in.get(user, ()) if kind == MAPS_TO]
        return logins[0] if logins else None

    def user_of(self, database: str, login: Node) -> Node | None:
        """The user a login maps to in a database (``dbo`` for its owner), or ``None``."""
        scope = database_scope(database)
        users = [
            user for user, kind in self._out.get(login, ()) if kind == MAPS_TO and user[0] == scope
        ]
        return users[0] if users else None

    def principals(self, database: str | None) -> tuple[Node, ...]:
        """Every principal node of a database (or of the server), sorted."""
        scope = database_scope(database)
        return tuple(node for node in sorted(self._nodes) if node[0] == scope)
