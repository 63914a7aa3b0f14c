"""Mutable per-principal and per-database state of a script replay (frozen by ``replay``)."""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass, field, replace

from mssql_extract.snapshot import (
    AuditSpecification,
    DbObject,
    LoginType,
    MaskedColumn,
    ObjectKind,
    SecurityPolicy,
    SourceRef,
    fold,
)
from mssql_extract.tsql.perm_store import DATABASE_PRINCIPALS as DATABASE_PRINCIPALS
from mssql_extract.tsql.perm_store import SERVER_PRINCIPALS as SERVER_PRINCIPALS
from mssql_extract.tsql.perm_store import PermKey as PermKey
from mssql_extract.tsql.perm_store import PermRow as PermRow
from mssql_extract.tsql.perm_store import PermStore as PermStore
from mssql_extract.tsql.perm_store import Securable as Securable
from mssql_extract.tsql.perm_store import folded as folded
from mssql_extract.tsql.perm_store import perm_key as perm_key
from mssql_extract.tsql.perm_store import sec_key as sec_key

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


#: A module that may be signed: (class, folded schema or "", folded name).
Module = tuple[str, str, str]
#: What signs it: (countersignature?, "certificate" | "asymmetric key", folded name).
Signer = tuple[bool, str, str]

#: What holds a name already (``role 'r'``), and where the replay created it: a CREATE of that
#: name is refused (``duplicates``).
Taken = tuple[str, SourceRef]


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
    assumed: bool = False  # named by an ALTER USER only: how it authenticates is not known


@dataclass
class NamedState:
    """A role, server role, application role or schema: name, owner, where it was created."""

    name: str
    ref: SourceRef
    owner: str | None = None
    fixed: bool = False
    owner_ref: SourceRef | None = None  # the ALTER AUTHORIZATION that set the owner, if one did


@dataclass(frozen=True)
class Dependent:
    """What a script states depends on columns of its table (``dependents``): a constraint
    (``kind`` PRIMARY KEY, UNIQUE, FOREIGN KEY, CHECK or DEFAULT; ``name`` None where SQL
    Server names it), an INDEX or STATISTICS (always named), a COMPUTED column (``name`` is
    the column's), and the folded ``columns``. A FOREIGN KEY also says the table it
    ``references`` (folded schema and name; schema "" until ``dependents.record`` resolves
    it) and the columns of that table it depends on (``referenced``, folded); so does a VIEW
    or FUNCTION WITH SCHEMABINDING, a dependent of itself (no ``name``, no ``columns``:
    ``schema_binding``)."""

    kind: str
    name: str | None
    columns: frozenset[str]
    ref: SourceRef | None = None  # the statement that stated it
    references: tuple[str, str] | None = None
    referenced: frozenset[str] = frozenset()

    @property
    def constraint(self) -> bool:
        """Whether it is a constraint: a schema-scoped object of ``sys.objects``."""
        return self.kind not in ("INDEX", "STATISTICS", "COMPUTED", "VIEW", "FUNCTION")

    @property
    def index(self) -> bool:
        """Whether it is an index or statistics (named in its table only)."""
        return self.kind in ("INDEX", "STATISTICS")


#: ``EXECUTE AS`` values that name no principal of the database.
_NOT_PRINCIPALS = frozenset({"CALLER", "OWNER", "SELF"})


class Objects(dict[tuple[str, str], DbObject]):
    """A database's schema-scoped objects by (folded schema, folded name). ``tied`` keeps those
    tied to a principal, by an individual owner or an ``EXECUTE AS 'user'``: a DROP of a
    principal asks for them (``drop_refusals``), which must not read every object of the
    database each time. ``constraints`` keeps the names of the sequence defaults, (folded schema,
    folded name) → the key of their table: each constraint a script names is looked up there
    (``constraint_names``). ``dependents`` keeps, by table key, the constraints and indexes the
    scripts state on its columns, and ``named`` their names as ``constraints`` does (a DROP
    COLUMN asks for them: ``table_drops``); they go with their table (``pop``, ``del``), and a
    rename or schema transfer puts them on its new key (:meth:`depend`). ``referencing``
    keeps, by table key, the tables whose foreign keys reference it (a DROP COLUMN, DROP
    CONSTRAINT or DROP TABLE of that table asks for them: :meth:`referencing_of`); a rename or
    transfer of the referenced table re-points them (:meth:`retarget`), a drop of it forgets
    them. Objects are stored with ``[key] = obj`` and removed with ``pop`` or ``del`` (the only
    writes that keep the indexes)."""

    def __init__(self) -> None:
        super().__init__()
        self.tied: dict[tuple[str, str], DbObject] = {}
        self.constraints: dict[tuple[str, str], tuple[str, str]] = {}
        self.dependents: dict[tuple[str, str], tuple[Dependent, ...]] = {}
        self.named: dict[tuple[str, str], tuple[str, str]] = {}
        self.referencing: dict[tuple[str, str], set[tuple[str, str]]] = {}

    def depend(self, key: tuple[str, str], found: list[Dependent]) -> None:
        """Add ``found`` to the dependents of the table at ``key``; an index or statistics of a
        name the table has already replaces it (``DROP_EXISTING``)."""
        again = {fold(d.name) for d in found if d.index and d.name}
        kept = [d for d in self.dependents.get(key, ())
                if not d.index or fold(d.name or "") not in again]  # fmt: skip
        self.dependents[key] = (*kept, *found)
        for dependent in found:
            if dependent.constraint and dependent.name:
                self.named[(key[0], fold(dependent.name))] = key
            if dependent.references:
                self.referencing.setdefault(dependent.references, set()).add(key)

    def undepend(self, key: tuple[str, str], gone: list[Dependent]) -> None:
        """Remove ``gone`` from the dependents of the table at ``key``."""
        left = tuple(d for d in self.dependents.get(key, ()) if d not in gone)
        if left:
            self.dependents[key] = left
        else:
            self.dependents.pop(key, None)
        for dependent in gone:
            if dependent.constraint and dependent.name:
                self.named.pop((key[0], fold(dependent.name)), None)
            target = dependent.references
            if target and not any(d.references == target for d in left):
                self.referencing.get(target, set()).discard(key)
                if not self.referencing.get(target, True):
                    del self.referencing[target]

    def rewrite(self, key: tuple[str, str], change: Callable[[Dependent], Dependent]) -> None:
        """Each dependent of the table at ``key`` through ``change``, in its place."""
        found = list(self.dependents.get(key, ()))
        changed = [change(d) for d in found]
        if changed != found:
            self.undepend(key, found)
            self.depend(key, changed)

    def referencing_of(self, key: tuple[str, str]) -> list[tuple[tuple[str, str], Dependent]]:
        """The foreign keys that reference the table at ``key``, each with its table's key."""
        return [(child, d) for child in sorted(self.referencing.get(key, ()))
                for d in self.dependents.get(child, ()) if d.references == key]  # fmt: skip

    def retarget(self, old: tuple[str, str], new: tuple[str, str] | None) -> None:
        """The table at ``old`` is renamed or moved to ``new`` (None: dropped): the foreign
        keys that reference it reference ``new`` (or nothing the replay follows)."""

        def moved(d: Dependent) -> Dependent:
            if d.references != old:
                return d
            return replace(d, references=new, referenced=d.referenced if new else frozenset())

        for child in sorted(self.referencing.get(old, ())):
            self.rewrite(child, moved)

    def rename_column(self, key: tuple[str, str], old: str, new: str) -> None:
        """Column ``old`` of the table at ``key`` is called ``new``: what depends on it, a
        computed column named so and the foreign keys that reference it follow."""

        def renamed(names: frozenset[str]) -> frozenset[str]:
            return frozenset(fold(new) if c == fold(old) else c for c in names)

        def own(d: Dependent) -> Dependent:
            computed = d.kind == "COMPUTED" and fold(d.name or "") == fold(old)
            return replace(d, columns=renamed(d.columns), name=new if computed else d.name)

        self.rewrite(key, own)
        for child in sorted(self.referencing.get(key, ())):
            self.rewrite(child, lambda d: replace(d, referenced=renamed(d.referenced))
                         if d.references == key else d)  # fmt: skip

    def forget_unnamed(self) -> None:
        """No unnamed constraint is known any more (dynamic SQL may have dropped it)."""
        for key, found in list(self.dependents.items()):
            self.undepend(key, [d for d in found if d.constraint and d.name is None])

    def constraint_named(self, schema: str, name: str) -> tuple[DbObject, str, SourceRef] | None:
        """The table of ``schema`` with a constraint called ``name`` the scripts state (a
        sequence default's name included), the name as written, and where it was stated."""
        key = (fold(schema), fold(name))
        table = self.get(self.named.get(key) or self.constraints.get(key) or ("", ""))
        if table is None:
            return None
        for dependent in self.dependents.get((fold(table.schema_name), fold(table.name)), ()):
            if dependent.constraint and fold(dependent.name or "") == key[1]:
                return table, dependent.name or name, dependent.ref or table.source_ref
        for default in table.sequence_defaults:
            if fold(default.constraint or "") == key[1]:
                return table, default.constraint or name, table.source_ref
        return None

    def _forget(self, key: tuple[str, str]) -> None:
        self.undepend(key, list(self.dependents.get(key, ())))
        self.retarget(key, None)  # (a rename or transfer retargets them first)

    def __setitem__(self, key: tuple[str, str], obj: DbObject) -> None:
        self._unname(key)
        super().__setitem__(key, obj)
        if obj.owner or (obj.execute_as and obj.execute_as.upper() not in _NOT_PRINCIPALS):
            self.tied[key] = obj
        else:
            self.tied.pop(key, None)
        for default in obj.sequence_defaults:
            if default.constraint:
                self.constraints[(key[0], fold(default.constraint))] = key

    def _unname(self, key: tuple[str, str]) -> None:
        """Forget the names of the defaults of the object at ``key``, if any."""
        for default in obj.sequence_defaults if (obj := self.get(key)) is not None else ():
            if default.constraint:
                self.constraints.pop((key[0], fold(default.constraint)), None)

    def __delitem__(self, key: tuple[str, str]) -> None:
        self._unname(key)
        self._forget(key)
        super().__delitem__(key)
        self.tied.pop(key, None)

    def pop(  # type: ignore[override]  # one signature: the replay's only use
        self, key: tuple[str, str], default: DbObject | None = None
    ) -> DbObject | None:
        self.tied.pop(key, None)
        self._unname(key)
        self._forget(key)
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
    containment_default: bool = False  # containment_ref is a CREATE DATABASE without CONTAINMENT
    owner_ref: SourceRef | None = None  # the statement that set the owner
    trustworthy_ref: SourceRef | None = None  # the statement that turned TRUSTWORTHY on
    collation: str | None = None  # CREATE DATABASE … COLLATE; None: the server's default
    created: bool = False  # by CREATE DATABASE (else only named: USE d, GRANT … in d)
    users: dict[str, UserState] = field(default_factory=dict)
    roles: dict[str, NamedState] = field(default_factory=dict)
    app_roles: dict[str, NamedState] = field(default_factory=dict)
    memberships: dict[tuple[str, str], tuple[str, str, SourceRef]] = field(default_factory=dict)
    perms: PermStore = field(default_factory=lambda: PermStore(runner="dbo"))
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
        """The type (``type_``), or else the object, constraint or security policy,
        ``schema.name``: types have a namespace of their own (``sys.types``), the others share
        ``sys.objects`` (constraints are rows of it: sys.objects (Transact-SQL), types C, D, F,
        PK, UQ)."""
        key = (fold(schema), fold(name))
        found = self.objects.get(key)
        if found is not None and (found.kind == ObjectKind.TYPE) == type_:
            kind = found.kind.value.lower().replace("_", " ")
            return f"{kind} '{found.schema_name}.{found.name}'", found.source_ref
        constraint = None if type_ else self.objects.constraint_named(schema, name)
        if constraint is not None:  # a constraint is a row of sys.objects too
            table, spelled, ref = constraint
            return f"constraint '{table.schema_name}.{spelled}' of table '{table.name}'", ref
        policy = None if type_ else self.policies.get(key)
        if policy is None:
            return None
        return f"security policy '{policy.schema_name}.{policy.name}'", policy.source_ref


def guess_login_type(name: str) -> LoginType:
    """Scripts do not say whether ``DOMAIN\\x`` is a user or a group: it is recorded as a user
    (and the snapshot marks the type inferred, see ``freeze``)."""
    return LoginType.WINDOWS_USER if "\\" in name else LoginType.SQL
