"""Indexes over a snapshot's permission rows and ownership, built once per snapshot.

Everything the effective-permission check looks up is a dictionary access here, never a scan:
GRANT rows by (scope, securable, permission) and by grantee, DENY rows by grantee, owners by
securable. Fixed roles contribute their documented permission sets (:mod:`mapper.fixed_roles`)
as if they were rows. A permission its class does not have is a :class:`MappingError` naming
the row. A row naming a grantee the snapshot does not hold, and an owner it does not hold, are
left out and recorded in :attr:`PermissionIndex.unknown` (as :class:`~mapper.graph.PrincipalGraph`
does for memberships), for the planner to dispose of: the engine answers as if they were not
there (a securable whose owner is unknown is owned through its container, as if unowned).
"""

from __future__ import annotations

from grantbridge.errors import Location, MappingError
from mapper import fixed_roles
from mapper.graph import SERVER_SCOPE, Node, PrincipalGraph, UnknownPrincipal
from mapper.permissions import CATALOG, COLUMN_PERMISSIONS
from mapper.securables import Securable, object_securable
from mssql_extract.snapshot import (
    Database,
    Keyed,
    Permission,
    PermissionState,
    SecuritySnapshot,
    fold,
)

#: (scope, folded securable, permission); scope is "server" or a folded database name.
Key = tuple[str, Securable, str]
Held = list[tuple[Securable, Permission]]


def state_text(permission: Permission) -> str:
    """``GRANT`` or ``DENY`` (WITH GRANT OPTION is still a GRANT)."""
    return "DENY" if permission.state == PermissionState.DENY else "GRANT"


class PermissionIndex:
    """GRANT/DENY rows and owners of one snapshot, indexed for constant-time lookups."""

    def __init__(self, snapshot: SecuritySnapshot, graph: PrincipalGraph) -> None:
        self._graph = graph
        self.grants: dict[Key, dict[Node, Permission]] = {}
        self.held: dict[Node, Held] = {}  # GRANT rows by grantee
        self.denies_by_node: dict[Node, Held] = {}
        self.deny_holders: set[Node] = set()
        self.column_denied_tables: set[Key] = set()  # tables with a column DENY (per permission)
        self.owners: dict[tuple[str, Securable], Node] = {}
        self.owner_nodes: dict[str, set[Node]] = {}
        self.owned_by: dict[Node, list[Securable]] = {}
        #: per node, what :meth:`held_keys` and :meth:`owned_keys` worked out (on first use)
        self._held_keys: dict[Node, frozenset[Key]] = {}
        self._owned_keys: dict[Node, frozenset[tuple[str, Securable]]] = {}
        #: rows and owners left out for naming an unknown principal, by (scope, row key)
        self.unknown: dict[tuple[str, str], UnknownPrincipal] = {}
        #: the rows' securables by their names as spelled, and folded (while building)
        self._securables: dict[tuple[str | None, ...], Securable] = {}
        self._folded: dict[Securable, Securable] = {}
        for grant in fixed_roles.server_role_grants():
            self._add(None, fixed_roles.as_permission(grant))
        for permission in snapshot.server_permissions:
            self._add(None, permission)
        for database in snapshot.databases:
            self._add_database(database)
        del self._securables, self._folded

    def _add_database(self, database: Database) -> None:
        for grant in fixed_roles.database_role_grants():
            self._add(database.name, fixed_roles.as_permission(grant))
        for permission in database.permissions:
            self._add(database.name, permission)
        self._add_owners(database, fold(database.name))

    def _securable(self, permission: Permission) -> Securable:
        """``Securable.of(permission).folded()``, one instance per securable however many rows
        name it (in any spelling): built once, and found by identity in the indexes' keys."""
        names = (permission.securable_class, permission.schema_name, permission.object_name,
                 permission.column_name)  # fmt: skip
        found = self._securables.get(names)
        if found is None:
            found = Securable.of(permission).folded()
            found = self._securables[names] = self._folded.setdefault(found, found)
        return found

    def _add(self, database: str | None, permission: Permission) -> None:
        securable = self._securable(permission)
        _check_permission(securable, permission)  # a contradiction, whoever the grantee is
        scope = SERVER_SCOPE if database is None else fold(database)
        if securable.is_server_level:
            scope = SERVER_SCOPE  # a server securable granted from a database row (rare)
        node = (scope, fold(permission.grantee))
        if node not in self._graph:
            self._unknown(database, permission, "grantee", permission.grantee)
            return
        if permission.state != PermissionState.DENY:
            self.grants.setdefault((scope, securable, permission.permission), {})[node] = permission
            self.held.setdefault(node, []).append((securable, permission))
            return
        self.denies_by_node.setdefault(node, []).append((securable, permission))
        self.deny_holders.add(node)
        if securable.column is not None:
            table = Securable(securable.securable_class, securable.schema_name, securable.name)
            self.column_denied_tables.add((scope, table, permission.permission))

    def held_keys(self, node: Node) -> frozenset[Key]:
        """(scope, securable, permission) of every GRANT ``node`` holds, worked out once per
        node: :func:`mapper.verdicts.verdict_key` asks for every principal of a security token,
        and ``public`` and the fixed roles (thousands of rows) are in most tokens."""
        found = self._held_keys.get(node)
        if found is None:
            scope = node[0]
            found = frozenset((scope, s, row.permission) for s, row in self.held.get(node, ()))
            self._held_keys[node] = found
        return found

    def owned_keys(self, node: Node) -> frozenset[tuple[str, Securable]]:
        """(scope, securable) of what ``node`` owns, where it is the owner :attr:`owners`
        names (the one the engine looks up); worked out once per node, as :meth:`held_keys`."""
        found = self._owned_keys.get(node)
        if found is None:
            scope = node[0]
            found = frozenset(
                (scope, s) for s in self.owned_by.get(node, ())
                if self.owners.get((scope, s)) == node
            )  # fmt: skip
            self._owned_keys[node] = found
        return found

    def _unknown(self, database: str | None, row: Keyed, part: str, name: str) -> None:
        scope = SERVER_SCOPE if database is None else fold(database)
        self.unknown[(scope, row.key)] = UnknownPrincipal(database, row.key, ((part, name),))

    def _add_owners(self, database: Database, scope: str) -> None:
        for schema in database.schemas:
            securable = Securable("SCHEMA", name=schema.name)
            self._own(database, scope, securable, schema.owner, schema)
        for obj in database.objects:
            if obj.owner is not None:
                securable = object_securable(obj.schema_name, obj.name, obj.kind)
                self._own(database, scope, securable, obj.owner, obj)
        for role in database.roles:
            if role.owner is not None:
                self._own(database, scope, Securable("ROLE", name=role.name), role.owner, role)

    def _own(
        self, database: Database, scope: str, securable: Securable, owner: str, owned: Keyed
    ) -> None:
        node = (scope, fold(owner))
        if node not in self._graph:
            self._unknown(database.name, owned, "owner", owner)
            return
        self.owners[(scope, securable.folded())] = node
        self.owner_nodes.setdefault(scope, set()).add(node)
        self.owned_by.setdefault(node, []).append(securable.folded())


def _check_permission(securable: Securable, permission: Permission) -> None:
    valid = (
        permission.permission in COLUMN_PERMISSIONS
        if securable.column is not None
        else CATALOG.get(securable.securable_class, permission.permission) is not None
    )
    if not valid:
        raise MappingError(
            f"SQL Server has no permission {permission.permission!r} on {securable}",
            Location(str(permission.source_ref), key=permission.key),
        )
