"""Whom a DENY reaches and what it covers, for DENY restructuring (:mod:`mapper.translate.deny`
tells the story; :mod:`mapper.translate.deny_shut` shuts principals out of a database).

What a DENY removes comes from SQL Server's permission hierarchy, not from the mapping row of
the denied permission alone: a DENY of a permission denies every permission it covers, on its
securable and on everything that securable contains ("Permissions (Database Engine)", "Summary
of the permission check algorithm": "If CONTROL was denied on the table, SELECT on the table is
denied"). The semantics engine says what a permission covers
(:meth:`~mapper.effective.EffectivePermissions.covers`); :class:`Coverage` turns each covered
permission into the plan items its mapping row gives, on every securable of its class inside the
DENY's securable. So ``DENY ALTER`` on a database takes CREATE on every schema (ALTER on a
schema, and CREATE TABLE … in the database, are what CREATE on a schema maps), which the
not-applicable row of ALTER on a database alone never did. A server DENY covers the database
permissions below it in every database (``DENY SELECT ALL USER SECURABLES``: SELECT everywhere).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from grantbridge.errors import GrantbridgeError
from mapper.plan import PgDefaultPrivilege, PgGrant
from mapper.privileges import CREATE_IN_SCHEMA, CREATE_ON_SCHEMA, lookup
from mapper.translate.grants import Target, expand
from mapper.translate.items import Item
from mapper.translate.objects import schemas_of
from mapper.translate.state import SERVER, PlanState
from mssql_extract.snapshot import Database, LoginType, ObjectKind, UserType, fold

if TYPE_CHECKING:
    from mapper.translate.deny import Deny

#: Stands for the grantee (and a default privilege's owner) in a signature.
PLACEHOLDER = "-"

#: Principals that stand for people grantbridge cannot list: their members connect with logins
#: of their own, which the DENY reaches in SQL Server and the plan cannot (finding GB021).
_GROUP_LOGINS = frozenset({LoginType.WINDOWS_GROUP, LoginType.EXTERNAL_GROUP})
_GROUP_USERS = frozenset({UserType.WINDOWS_GROUP, UserType.EXTERNAL_GROUP})

#: Object permissions a kind of object does not have, though PostgreSQL makes it a function
#: like the others ("GRANT Object Permissions": a table-valued function has SELECT, not EXECUTE;
#: a scalar function EXECUTE, not SELECT; as mapper.translate.grants expands a schema's grants)
_NOT_ON: dict[ObjectKind, frozenset[str]] = {
    ObjectKind.TABLE_FUNCTION: frozenset({"EXECUTE"}),
    ObjectKind.SCALAR_FUNCTION: frozenset({"SELECT"}),
    ObjectKind.AGGREGATE: frozenset({"SELECT"}),
}

#: The classes a DENY's covered permissions are expanded on (the others have no PostgreSQL
#: privileges: see mapper/privileges.py), and the classes each of them contains.
_CONTAINED = {
    "SERVER": ("DATABASE", "SCHEMA", "OBJECT", "TYPE"),
    "DATABASE": ("SCHEMA", "OBJECT", "TYPE"),
    "SCHEMA": ("OBJECT", "TYPE"),
}


def signature(item: Item) -> str | None:
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


def signature_of(key: str, item: Item) -> str | None:
    """:func:`signature` of the item under ``key``, cut from the key where it can be.

    A grant without columns is its key with the grantee at the end (every key ends in
    ``:<grantee>``) replaced by ``-``: a slice instead of spelling seven fields out, asked for
    every grant DENY restructuring looks at (``tests/mapper/test_deny_signature.py`` checks
    both ways agree).
    """
    if type(item) is PgGrant and not item.columns:
        return key[: len(key) - len(item.grantee)] + PLACEHOLDER
    return signature(item)


class Coverage:
    """The signatures of everything a DENY covers, worked out once per (databases, securable,
    permissions): every member of db_denydatareader has the same DENY, and shares the answer."""

    def __init__(self, state: PlanState) -> None:
        self._state = state
        self._cache: dict[tuple[str, Target, tuple[str, ...]], frozenset[str]] = {}

    def signatures(self, deny: Deny) -> frozenset[str]:
        """What the DENY takes: the signatures of the plan items its covered permissions give."""
        key = (deny.db.key if deny.db else SERVER, deny.target, deny.permissions)
        found = self._cache.get(key)
        if found is None:
            databases = [deny.db] if deny.db else list(self._state.snapshot.databases)
            found = self._cache[key] = frozenset(
                s for db in databases for s in self._in_database(db, deny)
            )
        return found

    def pairs(self, deny: Deny) -> list[tuple[str, str]]:
        """The (class, permission) pairs the DENY covers (a permission SQL Server does not
        define on the class covers itself only: its mapping row says it grants nothing)."""
        engine, cls = self._state.engine, deny.target.securable_class
        found: set[tuple[str, str]] = set()
        for permission in deny.permissions:
            try:
                found.update(engine.covers(cls, permission))
            except GrantbridgeError:
                found.add((cls, permission))
        return sorted(found)

    def _in_database(self, db: Database, deny: Deny) -> Iterable[str]:
        target = deny.target
        inside = (target.securable_class, *_CONTAINED.get(target.securable_class, ()))
        for cls, permission in self.pairs(deny):
            if cls not in inside or cls == "SERVER":
                continue
            row = lookup(cls, permission)
            if cls == "DATABASE" and permission in CREATE_IN_SCHEMA:
                # half of CREATE on a schema (the other is ALTER on it): denied, no schema's
                # CREATE is left (mapper.translate.permissions; PostgreSQL's CREATE is one), but
                # the TRUNCATE and TRIGGER that ALTER on the schema gives stay
                cls, permission = "SCHEMA", "ALTER"
                row = replace(lookup(cls, permission), privileges=CREATE_ON_SCHEMA)
            if not row.privileges:  # nothing on the target, or a role or an attribute
                continue
            for on in self._targets(db, target, cls, permission):
                for item in expand(self._state, db, PLACEHOLDER, on, row) or []:
                    spelled = signature(item)
                    if spelled:
                        yield spelled

    def _targets(self, db: Database, target: Target, cls: str, permission: str) -> list[Target]:
        """The securables of class ``cls`` in (or equal to) the DENY's securable that have the
        permission."""
        if cls == target.securable_class:
            return [target]
        if cls == "DATABASE":
            return [Target("DATABASE")]
        if cls == "SCHEMA":
            return [Target("SCHEMA", object_name=schema) for schema in schemas_of(self._state, db)]
        if target.securable_class == "SCHEMA":
            objects = self._state.objects_in(db, target.object_name or "dbo")
        else:
            objects = list(db.objects)
        types = cls == "TYPE"
        return [
            Target(cls, obj.schema_name, obj.name)
            for obj in objects
            if (obj.kind == ObjectKind.TYPE) == types
            and permission not in _NOT_ON.get(obj.kind, frozenset())
        ]


@dataclass
class _Scope:
    """One database's (or the server's) principals as DENYs reach them."""

    #: folded principal → PostgreSQL roles of it and of every principal that is a member of it
    roles: dict[str, set[str]] = field(default_factory=dict)
    #: folded principal → the groups (Windows, Entra) among it and its members, as spelled
    groups: dict[str, set[str]] = field(default_factory=dict)


class Holders:
    """Per database (and the server): who a DENY reaches.

    Built once per scope on first use (the source memberships and the principal → role
    bindings do not change while DENYs are restructured), instead of asking the engine for
    every principal's memberships once per DENY. A server DENY reaches the logins in its
    holder's server closure (the holder itself, or the members of a server role), whose roles
    are their users' in every database.
    """

    def __init__(self, state: PlanState) -> None:
        self._state = state
        self._scopes: dict[str, _Scope] = {}

    def affected(self, deny: Deny) -> list[str]:
        """PostgreSQL roles of every principal the DENY applies to (holder and its members)."""
        return sorted(self._scope(deny).roles.get(fold(deny.grantee), ()))

    def groups(self, deny: Deny) -> list[str]:
        """The Windows and Entra groups among the principals the DENY applies to, sorted."""
        return sorted(self._scope(deny).groups.get(fold(deny.grantee), ()), key=fold)

    def _scope(self, deny: Deny) -> _Scope:
        name = deny.db.name if deny.db else SERVER
        scope = self._scopes.get(name)
        if scope is None:
            scope = self._scopes[name] = self._build(deny.db)
        return scope

    def _build(self, db: Database | None) -> _Scope:
        state, scope = self._state, _Scope()
        database = db.name if db else None
        engine, groups = state.engine, _group_names(state, db)
        for name in engine.principals(database):
            try:
                if engine.is_never_denied(database, name):
                    continue  # sysadmin members and dbo: no DENY applies to them (DESIGN §3.2)
                closure = {fold(r) for r in engine.memberships(database, name)} | {fold(name)}
            except GrantbridgeError:
                continue
            role = state.role_of(database or SERVER, name)
            for holder in closure:
                if role:  # PUBLIC too: a DENY to public takes from what PUBLIC is granted
                    scope.roles.setdefault(holder, set()).add(role)
                if fold(name) in groups:
                    scope.groups.setdefault(holder, set()).add(name)
        return scope


def _group_names(state: PlanState, db: Database | None) -> set[str]:
    """The folded names of a database's group users, or of the server's group logins."""
    if db is None:
        return {fold(lg.name) for lg in state.snapshot.logins if lg.type in _GROUP_LOGINS}
    return {fold(u.name) for u in db.users if u.type in _GROUP_USERS}
