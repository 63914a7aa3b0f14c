"""Mutable per-principal and per-database state of a script replay (frozen by ``replay``)."""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass, field

from mssql_extract.snapshot import (
    AuditSpecification,
    DbObject,
    LoginType,
    MaskedColumn,
    ObjectKind,
    PermissionState,
    SecurityPolicy,
    SourceRef,
    fold,
)

#: Fixed database roles, from shared/reference/mssql/fixed_database_roles.csv
#: (https://learn.microsoft.com/sql/relational-databases/security/authentication-access/database-level-roles).
FIXED_DATABASE_ROLES = frozenset(
    {"db_owner", "db_accessadmin", "db_securityadmin", "db_ddladmin", "db_backupoperator"}
    | {"db_datareader", "db_datawriter", "db_denydatareader", "db_denydatawriter", "public"}
)

#: Fixed server roles, from shared/reference/mssql/fixed_server_roles.csv
#: (https://learn.microsoft.com/sql/relational-databases/security/authentication-access/server-level-roles).
FIXED_SERVER_ROLES = frozenset(
    {"sysadmin", "serveradmin", "securityadmin", "processadmin", "setupadmin", "bulkadmin"}
    | {"diskadmin", "dbcreator", "public"}
    | {
        "##ms_databaseconnector##",
        "##ms_databasemanager##",
        "##ms_definitionreader##",
        "##ms_loginmanager##",
        "##ms_performancedefinitionreader##",
        "##ms_securitydefinitionreader##",
        "##ms_serverperformancestatereader##",
        "##ms_serversecuritystatereader##",
        "##ms_serverstatemanager##",
        "##ms_serverstatereader##",
    }
)

#: Databases every instance has; they appear in a snapshot only when a script records facts in them.
SYSTEM_DATABASES = frozenset({"master", "model", "msdb", "tempdb"})

#: A securable as (class, schema, object, column); parts fold-compared through ``sec_key``.
Securable = tuple[str, str | None, str | None, str | None]


def folded(name: str) -> str:
    """``fold(name)``, interned: the keys of millions of rows share one string per name."""
    return sys.intern(fold(name))


def sec_key(securable: Securable) -> tuple[str, ...]:
    cls, schema, name, column = securable
    return (
        cls,
        "" if schema is None else folded(schema),
        "" if name is None else folded(name),
        "" if column is None else folded(column),
    )


#: Securable classes named by a database principal (``ON USER::x``), and by a server principal
#: (``ON LOGIN::x``). Each group shares one namespace (``sys.database_principals``,
#: ``sys.server_principals``): a name is one principal of them.
DATABASE_PRINCIPALS = frozenset({"USER", "ROLE", "APPLICATION ROLE"})
SERVER_PRINCIPALS = frozenset({"LOGIN", "SERVER ROLE"})


def interned(securable: Securable) -> Securable:
    """The securable with its names interned (rows of one object share its strings)."""
    cls, schema, name, column = securable
    intern = sys.intern
    return (
        intern(cls),
        None if schema is None else intern(schema),
        None if name is None else intern(name),
        None if column is None else intern(column),
    )


PermKey = tuple[tuple[str, ...], str, str]

#: A module that may be signed: (class, folded schema or "", folded name).
Module = tuple[str, str, str]
#: What signs it: (countersignature?, "certificate" | "asymmetric key", folded name).
Signer = tuple[bool, str, str]

#: What holds a name already (``role 'r'``), and where the replay created it: a CREATE of that
#: name is refused (``duplicates``).
Taken = tuple[str, SourceRef]


def perm_key(securable: Securable, permission: str, grantee: str) -> PermKey:
    """The key of a permission row: GRANT and DENY of one permission share it."""
    return (sec_key(securable), permission, folded(grantee))


@dataclass
class LoginState:
    name: str
    type: LoginType
    ref: SourceRef
    sid: str | None = None
    disabled: bool = False
    default_database: str | None = None
    default_language: str | None = None
    check_policy: bool | None = None
    check_expiration: bool | None = None
    must_change: bool = False
    has_password: bool = False
    credential: str | None = None
    connect_revoked: bool = False  # REVOKE CONNECT SQL took back what CREATE LOGIN granted


@dataclass
class UserState:
    """A database user; ``via`` says how it authenticates (login, none, password, external …)."""

    name: str
    ref: SourceRef
    via: str = "login"  # login | none | password | external | certificate | asymmetric key
    login: str | None = None
    key: str | None = None  # the certificate or asymmetric key it is mapped to (``via``)
    sid: str | None = None
    default_schema: str | None = None
    connect_revoked: bool = False  # REVOKE CONNECT took back what CREATE USER granted


@dataclass
class NamedState:
    """A role, server role, application role or schema: name, owner, where it was created."""

    name: str
    ref: SourceRef
    owner: str | None = None
    fixed: bool = False
    owner_ref: SourceRef | None = None  # the ALTER AUTHORIZATION that set the owner, if one did


@dataclass(slots=True)  # one per permission row: millions at scale (no per-row __dict__)
class PermRow:
    securable: Securable
    permission: str
    state: PermissionState
    grantee: str
    grantor: str | None
    ref: SourceRef


@dataclass
class PermStore:
    """Permissions of one scope, keyed (securable, permission, grantee): GRANT and DENY of the
    same permission cannot coexist, as in ``sys.database_permissions``."""

    rows: dict[tuple[tuple[str, ...], str, str], PermRow] = field(default_factory=dict)
    # (table securable, permission, grantee) -> keys of its column-level rows
    columns: dict[tuple[tuple[str, ...], str, str], set[tuple[tuple[str, ...], str, str]]] = field(
        default_factory=dict
    )

    def put(self, row: PermRow, key: PermKey | None = None) -> None:
        """Record ``row`` (``key``: its :func:`perm_key`, when the caller has it already)."""
        if key is None:
            key = perm_key(row.securable, row.permission, row.grantee)
        self.rows[key] = row
        if row.securable[3] is not None:
            base = ((*key[0][:3], ""), key[1], key[2])
            self.columns.setdefault(base, set()).add(key)

    def column_keys(
        self, key: tuple[tuple[str, ...], str, str]
    ) -> set[tuple[tuple[str, ...], str, str]]:
        return self.columns.pop(key, set())

    def rename(self, key: str, new: str, classes: frozenset[str]) -> None:
        """The principal folded ``key`` is now called ``new``: as grantee, as grantor, and as a
        securable of one of ``classes``."""
        rows = list(self.rows.values())
        self.rows, self.columns = {}, {}
        for row in rows:
            if folded(row.grantee) == key:
                row.grantee = new
            if row.grantor is not None and folded(row.grantor) == key:
                row.grantor = new
            cls, schema, name, column = row.securable
            if cls in classes and name is not None and folded(name) == key:
                row.securable = (cls, schema, new, column)
            self.put(row)

    def drop_principal(self, key: str, *, server: bool) -> list[PermRow]:
        """A dropped principal (folded ``key``; a login or server role when ``server``): the rows
        granted to it, and those granted on it (``GRANT IMPERSONATE ON USER::x TO y``: the
        securable is gone). Returns those granted on it to others."""
        classes = SERVER_PRINCIPALS if server else DATABASE_PRINCIPALS
        self.drop_where(lambda row: folded(row.grantee) != key)

        def on_it(row: PermRow) -> bool:
            cls, _, name, _ = row.securable
            return cls in classes and name is not None and folded(name) == key

        gone = [row for row in self.rows.values() if on_it(row)]
        if gone:
            self.drop_where(lambda row: not on_it(row))
        return gone

    def drop_where(self, keep: Callable[[PermRow], bool]) -> None:
        """Remove the rows for which ``keep(row)`` is false (DROP of a principal or object)."""
        self.rows = {k: r for k, r in self.rows.items() if keep(r)}
        self.columns = {
            b: {k for k in ks if k in self.rows} for b, ks in self.columns.items() if ks
        }


#: ``EXECUTE AS`` values that name no principal of the database.
_NOT_PRINCIPALS = frozenset({"CALLER", "OWNER", "SELF"})


class Objects(dict[tuple[str, str], DbObject]):
    """A database's schema-scoped objects by (folded schema, folded name). ``tied`` keeps those
    tied to a principal, by an individual owner or an ``EXECUTE AS 'user'``: a DROP of a
    principal asks for them (``drop_refusals``), which must not read every object of the
    database each time. Objects are stored with ``[key] = obj`` and removed with ``pop`` or
    ``del`` (the only writes that keep ``tied``)."""

    def __init__(self) -> None:
        super().__init__()
        self.tied: dict[tuple[str, str], DbObject] = {}

    def __setitem__(self, key: tuple[str, str], obj: DbObject) -> None:
        super().__setitem__(key, obj)
        if obj.owner or (obj.execute_as and obj.execute_as.upper() not in _NOT_PRINCIPALS):
            self.tied[key] = obj
        else:
            self.tied.pop(key, None)

    def __delitem__(self, key: tuple[str, str]) -> None:
        super().__delitem__(key)
        self.tied.pop(key, None)

    def pop(  # type: ignore[override]  # one signature: the replay's only use
        self, key: tuple[str, str], default: DbObject | None = None
    ) -> DbObject | None:
        self.tied.pop(key, None)
        return super().pop(key, default)


@dataclass
class DbState:
    """Everything recorded inside one database."""

    name: str
    ref: SourceRef
    owner: str | None = None
    trustworthy: bool = False
    db_chaining: bool = False
    containment: str = "NONE"
    containment_ref: SourceRef | None = None  # the CONTAINMENT = … read; None: not in a script
    owner_ref: SourceRef | None = None  # the statement that set the owner
    trustworthy_ref: SourceRef | None = None  # the statement that turned TRUSTWORTHY on
    collation: str | None = None  # CREATE DATABASE … COLLATE; None: the server's default
    created: bool = False  # by CREATE DATABASE (else only named: USE d, GRANT … in d)
    users: dict[str, UserState] = field(default_factory=dict)
    roles: dict[str, NamedState] = field(default_factory=dict)
    app_roles: dict[str, NamedState] = field(default_factory=dict)
    memberships: dict[tuple[str, str], tuple[str, str, SourceRef]] = field(default_factory=dict)
    perms: PermStore = field(default_factory=PermStore)
    schemas: dict[str, NamedState] = field(default_factory=dict)
    objects: Objects = field(default_factory=Objects)
    policies: dict[tuple[str, str], SecurityPolicy] = field(default_factory=dict)
    masked: dict[tuple[str, str, str], MaskedColumn] = field(default_factory=dict)
    audits: dict[str, AuditSpecification] = field(default_factory=dict)
    # module → its signatures, each with the key of the skipped item that reports it
    signatures: dict[Module, dict[Signer, str]] = field(default_factory=dict)

    def object_kind(self, schema: str, name: str) -> ObjectKind | None:
        found = self.objects.get((fold(schema), fold(name)))
        return found.kind if found else None

    def principal(self, name: str) -> Taken | None:
        """The user, role or application role called ``name``: they share one namespace
        (``sys.database_principals``)."""
        key = fold(name)
        tables: tuple[tuple[str, dict[str, UserState] | dict[str, NamedState]], ...] = (
            ("user", self.users),
            ("role", self.roles),
            ("application role", self.app_roles),
        )
        for what, table in tables:
            found = table.get(key)
            if found is not None:
                return f"{what} {found.name!r}", found.ref
        return None

    def object_named(self, schema: str, name: str, *, type_: bool) -> Taken | None:
        """The type (``type_``), or else the object or security policy, ``schema.name``: types
        have a namespace of their own (``sys.types``), the others share ``sys.objects``."""
        key = (fold(schema), fold(name))
        found = self.objects.get(key)
        if found is not None and (found.kind == ObjectKind.TYPE) == type_:
            kind = found.kind.value.lower().replace("_", " ")
            return f"{kind} '{found.schema_name}.{found.name}'", found.source_ref
        policy = None if type_ else self.policies.get(key)
        if policy is None:
            return None
        return f"security policy '{policy.schema_name}.{policy.name}'", policy.source_ref


def guess_login_type(name: str) -> LoginType:
    """Scripts do not say whether ``DOMAIN\\x`` is a user or a group: it is recorded as a user
    (and the snapshot marks the type inferred, see ``freeze``)."""
    return LoginType.WINDOWS_USER if "\\" in name else LoginType.SQL
