"""Small builders for semantics tests: a standard estate plus per-case grants and members.

``on`` strings spell securables like T-SQL does: ``"OBJECT::sales.Orders"``,
``"OBJECT::sales.Orders(total)"`` (a column), ``"SCHEMA::sales"``, ``"USER::bob"``,
``"LOGIN::dave"``, ``"DATABASE"``, ``"SERVER"``.
"""

from __future__ import annotations

import re
from typing import Any

from mapper.effective import Securable
from mapper.permissions import expand_all
from mssql_extract.snapshot import (
    ApplicationRole,
    AuthenticationType,
    Database,
    DatabaseRole,
    DbObject,
    Login,
    LoginType,
    Membership,
    ObjectKind,
    Permission,
    PermissionState,
    Schema,
    SecuritySnapshot,
    Server,
    ServerRole,
    SourceRef,
    User,
    UserType,
)

REF = SourceRef(origin="case.sql", line=1)
_ON = re.compile(r"^(?:(?P<cls>[A-Z ]+)::)?(?P<rest>[^()]*)(?:\((?P<col>[^)]+)\))?$")


def securable(on: str) -> Securable:
    """Parse an ``on`` string into a :class:`Securable`."""
    if on in ("DATABASE", "SERVER"):
        return Securable(on)
    match = _ON.match(on)
    if match is None or not match["cls"]:
        raise ValueError(f"cannot parse securable {on!r}")
    cls, rest = match["cls"], match["rest"]
    if "." in rest:
        schema, name = rest.split(".", 1)
        return Securable(cls, schema, name, match["col"])
    return Securable(cls, None, rest)


def _permission(state: PermissionState, perm: str, on: str, to: str, line: int) -> Permission:
    s = securable(on)
    return Permission(
        securable_class=s.securable_class,
        schema_name=s.schema_name,
        object_name=s.name,
        column_name=s.column,
        permission=perm,
        state=state,
        grantee=to,
        source_ref=SourceRef(origin="case.sql", line=line),
    )


def grant(perm: str, on: str, to: str, *, line: int = 10) -> Permission:
    return _permission(PermissionState.GRANT, perm, on, to, line)


def grant_with_option(perm: str, on: str, to: str, *, line: int = 11) -> Permission:
    return _permission(PermissionState.GRANT_WITH_GRANT_OPTION, perm, on, to, line)


def deny(perm: str, on: str, to: str, *, line: int = 20) -> Permission:
    return _permission(PermissionState.DENY, perm, on, to, line)


def grant_all(on: str, to: str, kind: str | None = None) -> list[Permission]:
    """``GRANT ALL ON <on> TO <to>``, expanded as SQL Server does."""
    cls = securable(on).securable_class
    return [grant(p, on, to, line=30 + i) for i, p in enumerate(expand_all(cls, kind))]


def member(role: str, who: str) -> Membership:
    return Membership(role=role, member=who, source_ref=REF)


def login(name: str, sid: str | None = None, **kw: Any) -> Login:
    return Login(name=name, type=LoginType.SQL, sid=sid, source_ref=REF, **kw)


def user(name: str, login_name: str | None = None, sid: str | None = None, **kw: Any) -> User:
    auth = AuthenticationType.INSTANCE if (login_name or sid) else AuthenticationType.NONE
    return User(
        name=name,
        type=UserType.SQL,
        authentication_type=auth,
        login=login_name,
        sid=sid,
        source_ref=REF,
        **kw,
    )


#: Login and user names of the standard estate (each login has a user of the same name).
STANDARD = ("alice", "bob", "carol")


def sales(
    *,
    perms: tuple[Permission, ...] | list[Permission] = (),
    members: tuple[Membership, ...] | list[Membership] = (),
    roles: tuple[str, ...] = ("r1", "r2", "r3", "r4"),
    extra_users: tuple[User, ...] = (),
    app_roles: tuple[str, ...] = ("reporting_app",),
    schema_owners: dict[str, str] | None = None,
    object_owners: dict[str, str] | None = None,
    role_owners: dict[str, str] | None = None,
    **db: Any,
) -> Database:
    """The standard database ``Sales``: schemas dbo and sales, a table, a view, a procedure."""
    owners = {"dbo": "dbo", "sales": "dbo", **(schema_owners or {})}
    objects_owned = object_owners or {}
    objects = (
        DbObject(schema_name="sales", name="Orders", kind=ObjectKind.TABLE,
                 columns=("id", "total", "secret"), owner=objects_owned.get("Orders"), source_ref=REF),
        DbObject(schema_name="sales", name="Report", kind=ObjectKind.VIEW,
                 owner=objects_owned.get("Report"), source_ref=REF),
        DbObject(schema_name="dbo", name="usp_Run", kind=ObjectKind.PROCEDURE, source_ref=REF),
    )  # fmt: skip
    return Database(
        name="Sales",
        users=tuple(user(n, n) for n in STANDARD) + extra_users,
        roles=tuple(
            DatabaseRole(name=r, owner=(role_owners or {}).get(r), source_ref=REF) for r in roles
        ),
        application_roles=tuple(ApplicationRole(name=a, source_ref=REF) for a in app_roles),
        memberships=tuple(members),
        permissions=tuple(perms),
        schemas=tuple(Schema(name=s, owner=o, source_ref=REF) for s, o in owners.items()),
        objects=objects,
        source_ref=REF,
        **db,
    )


def estate(
    database: Database | None = None,
    *,
    logins: tuple[Login, ...] = (),
    server_members: tuple[Membership, ...] | list[Membership] = (),
    server_perms: tuple[Permission, ...] | list[Permission] = (),
    server_roles: tuple[str, ...] = (),
) -> SecuritySnapshot:
    """A snapshot with the standard logins plus ``logins`` and one database (default Sales)."""
    return SecuritySnapshot(
        server=Server(name="SQL01"),
        logins=tuple(login(n) for n in STANDARD) + logins,
        server_roles=tuple(ServerRole(name=r, source_ref=REF) for r in server_roles),
        server_memberships=tuple(server_members),
        server_permissions=tuple(server_perms),
        databases=(database or sales(),),
    )
