"""Security contexts: whose permissions count when a principal acts in a database or server.

A context is the principal, its roles (transitively, incl. ``public``), and for a user the
login it maps to with that login's server roles (server ``public`` too); SQL Server checks a
permission against every principal of this "security token" ("Permissions (Database Engine)",
"Summary of the permission check algorithm"). Special cases:

* an application role's context is the application role and ``public`` only ("Application
  Roles": once activated, the user's own permissions are gone; grantbridge also leaves out the
  login's server permissions — a documented decision);
* a login asked about a database where it has no user enters as ``dbo`` (database owner,
  sysadmin), else through ``guest`` when guest is enabled (has CONNECT), else with its server
  permissions plus ``public`` when it holds CONNECT ANY DATABASE; otherwise it is shut out;
* ``guest`` itself is shut out while it has no CONNECT;
* sysadmin members and ``dbo`` are never denied ("Server-level roles": sysadmin members enter
  every database as dbo; the database owner maps to dbo).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from grantbridge.errors import Location, MappingError
from mapper import fixed_roles
from mapper.graph import SERVER_SCOPE, Node, PrincipalGraph, PrincipalKind, Reached
from mapper.permission_index import PermissionIndex
from mapper.securables import Securable
from mssql_extract.snapshot import Permission, SecuritySnapshot, fold

_SYSADMIN = (SERVER_SCOPE, fixed_roles.SYSADMIN)
#: ``SecurityContext.entry`` of a login that enters a database as guest.
GUEST_ENTRY = "enters as guest (guest has CONNECT)"


@dataclass(frozen=True)
class SecurityContext:
    """A principal's security token in one scope, with the DENYs it holds pre-indexed."""

    scope: str
    start: Node
    token: tuple[Reached, ...]  # the principals whose permissions count, nearest first
    rank: dict[Node, int] = field(hash=False, compare=False)
    # the DENYs held in the token, by (securable, permission), nearest principal first
    denies: dict[tuple[Securable, str], tuple[Node, Permission]] = field(
        default_factory=dict, hash=False, compare=False
    )
    #: the securables of those DENYs: a question about a securable none of whose ancestors
    #: (itself included) is here meets no DENY (every candidate of step 5 is on one of them)
    denied: frozenset[Securable] = field(default=frozenset(), hash=False, compare=False)
    owns: bool = True  # someone in the token owns a securable of this scope
    bypass: str | None = None  # why no DENY applies (sysadmin, dbo)
    blocked: str | None = None  # why the principal cannot enter the database at all
    entry: str | None = None  # how a login entered the database
    #: the DENY held in the token of CONNECT on the database or of a permission covering it,
    #: nearest first (step 3 of mapper.effective: it shuts the principal out), as
    #: (securable, permission, holder, row); worked out once per context, not per question
    connect_deny: tuple[Securable, str, Node, Permission] | None = field(
        default=None, hash=False, compare=False
    )


class ContextBuilder:
    """Builds and memoizes security contexts.

    Args:
        snapshot: the estate.
        graph: its principal graph.
        index: its permission index (for the DENYs and owners of a context).
        connects_anywhere: whether a login holds CONNECT ANY DATABASE (asked of the engine).
        connect_covering: (securable, permission) pairs whose DENY refuses CONNECT on the
            database, nearest first (CONNECT itself first).
    """

    def __init__(
        self,
        snapshot: SecuritySnapshot,
        graph: PrincipalGraph,
        index: PermissionIndex,
        connects_anywhere: Callable[[str], bool],
        connect_covering: tuple[tuple[Securable, str], ...],
    ) -> None:
        self._graph = graph
        self._connect_covering = connect_covering
        self._index = index
        self._connects_anywhere = connects_anywhere
        self._databases = {fold(db.name) for db in snapshot.databases}
        self._contexts: dict[tuple[str, str], SecurityContext] = {}
        self._login_contexts: dict[tuple[str, str], SecurityContext] = {}

    def context(self, database: str | None, principal: str) -> SecurityContext:
        """The (memoized) context of ``principal`` in ``database`` (``None`` = server)."""
        scope = SERVER_SCOPE if database is None else fold(database)
        key = (scope, fold(principal))
        found = self._contexts.get(key)
        if found is None:
            found = self._contexts[key] = self._build(database, scope, principal)
        return found

    def login_context(self, database: str, login: str) -> SecurityContext:
        """The context of a *login* in a database (its user's, dbo's, guest's …), even when a
        principal of that database has the login's name."""
        scope = fold(database)
        key = (scope, fold(login))
        found = self._login_contexts.get(key)
        if found is not None:
            return found
        node = self._graph.node(None, login)
        if node is None or self._graph.kind(node) != PrincipalKind.LOGIN:
            raise MappingError(f"unknown login {login!r}", Location(key=login))
        if scope not in self._databases:
            raise MappingError(f"unknown database {database!r}", Location(key=database))
        found = self._login_contexts[key] = self._of_login(database, scope, node)
        return found

    def _build(self, database: str | None, scope: str, principal: str) -> SecurityContext:
        if scope != SERVER_SCOPE and scope not in self._databases:
            raise MappingError(f"unknown database {database!r}", Location(key=database))
        graph = self._graph
        node = graph.node(database, principal)
        if node is not None:
            return self._of_principal(scope, node)
        login = graph.node(None, principal)
        if database is not None and login is not None and graph.kind(login) == PrincipalKind.LOGIN:
            return self._of_login(database, scope, login)
        where = "on the server" if database is None else f"in database {database!r}"
        raise MappingError(f"unknown principal {principal!r} {where}", Location(key=principal))

    def _make(self, scope: str, start: Node, token: list[Reached], **extra: Any) -> SecurityContext:
        unique: dict[Node, Reached] = {}
        for reached in token:
            unique.setdefault(reached[0], reached)
        ordered = tuple(unique.values())
        rank = {node: i for i, (node, _) in enumerate(ordered)}
        denies: dict[tuple[Securable, str], tuple[Node, Permission]] = {}
        for node, _ in ordered:
            for securable, row in self._index.denies_by_node.get(node, ()):
                denies.setdefault((securable, row.permission), (node, row))
        owns = not self._index.owner_nodes.get(scope, set()).isdisjoint(rank)
        gate = next(
            ((*pair, *denies[pair]) for pair in self._connect_covering if pair in denies), None
        )
        denied = frozenset(securable for securable, _ in denies)
        return SecurityContext(
            scope, start, ordered, rank, denies, denied, owns, connect_deny=gate, **extra
        )

    def _of_principal(self, scope: str, node: Node) -> SecurityContext:
        graph = self._graph
        token = list(graph.closure(node))
        login = graph.login_of(node) if graph.kind(node) == PrincipalKind.USER else None
        if login is not None:
            token += [(n, (node, *chain)) for n, chain in graph.closure(login)]
        blocked = None
        if not graph.attrs(node).get("enabled", True):
            blocked = f"guest has no CONNECT permission in database {scope!r} (guest is disabled)"
        bypass = _bypass(scope, node, token)
        return self._make(scope, node, token, bypass=bypass, blocked=blocked)

    def _of_login(self, database: str, scope: str, login: Node) -> SecurityContext:
        graph = self._graph
        user = graph.user_of(database, login)
        if user is not None:
            entry = f"login maps to user {graph.display(user)}"
            return replace(self._of_principal(scope, user), entry=entry)
        server = list(graph.closure(login))
        bypass = _bypass(scope, login, server)
        if bypass is not None:
            return self._make(scope, login, server, bypass=bypass, entry="enters as dbo")
        guest = (scope, "guest")
        if graph.attrs(guest).get("enabled"):
            token = server + [(n, (login, *chain)) for n, chain in graph.closure(guest)]
            return self._make(scope, login, token, entry=GUEST_ENTRY)
        if self._connects_anywhere(graph.display(login)):
            public = graph.closure((scope, "public"))
            token = server + [(n, (login, *chain)) for n, chain in public]
            return self._make(scope, login, token, entry="enters through CONNECT ANY DATABASE")
        blocked = (
            f"login {graph.display(login)} has no user in database {database!r}, guest is "
            f"disabled and it lacks CONNECT ANY DATABASE"
        )
        return self._make(scope, login, server, blocked=blocked)


def _bypass(scope: str, node: Node, token: list[Reached]) -> str | None:
    """Why no DENY applies to this token, or ``None``."""
    if any(reached == _SYSADMIN for reached, _ in token):
        return "members of sysadmin are never denied (they enter every database as dbo)"
    if scope != SERVER_SCOPE and node == (scope, "dbo"):
        return "dbo (the database owner) is never denied in its database"
    return None
