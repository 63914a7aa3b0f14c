"""The ``SecuritySnapshot``: everything grantbridge knows about a SQL Server estate's security.

This is the contract between ``mssql_extract`` and ``mapper`` (DESIGN §2). Every source (live
server, extraction-script JSON, T-SQL scripts, dacpac, a saved snapshot) produces one.

Rules the model enforces:

* frozen, ``extra="forbid"``, versioned by ``schema_version``;
* collections are tuples sorted by each item's ``key`` and free of duplicate keys, so the JSON is
  byte-identical for the same facts whatever order a source produced them in;
* every fact carries a ``source_ref`` (file and line, or catalog view and key);
* there is no field that can hold a password or a password hash: only *whether* one exists.

SQL Server names are compared case-insensitively (the default collation is ``*_CI_*``); keys
therefore use :func:`fold`, while the names themselves keep the spelling of their source.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable, Iterable, Iterator
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, Literal, Protocol, TypeVar

from pydantic import AfterValidator, ConfigDict, Field, ValidationError

from grantbridge.collector import collector_paused
from grantbridge.errors import ExtractError, Location
from grantbridge.fields_sets import SharesFieldsSets
from grantbridge.json_chunks import json_chunks
from grantbridge.validated import as_text, validated_in_one_pass

SCHEMA_VERSION = 1


#: Fold a SQL Server identifier for comparison (case-insensitive default collation).
#: ``str.casefold`` itself rather than a function calling it: planning a large estate folds
#: millions of names, and the extra Python call was most of the cost (issue 7).
fold: Callable[[str], str] = str.casefold


class Model(SharesFieldsSets):
    """Base of every snapshot model: frozen, strict about unknown fields, sharing fields sets
    (:mod:`grantbridge.fields_sets`)."""

    model_config = ConfigDict(frozen=True, extra="forbid", use_enum_values=False)


class Keyed(Protocol):
    @property
    def key(self) -> str: ...


K = TypeVar("K", bound=Keyed)


def _sorted_unique(items: tuple[K, ...]) -> tuple[K, ...]:
    """Sort a collection by key and refuse duplicate keys (a silent merge would lose a fact)."""
    keyed = sorted(((item.key, item) for item in items), key=lambda pair: pair[0])
    for (before, _), (after, _) in itertools.pairwise(keyed):
        if before == after:
            raise ValueError(f"duplicate item {after!r}")
    return tuple(item for _, item in keyed)


SortedTuple = Annotated[tuple[K, ...], AfterValidator(_sorted_unique)]


class SourceRef(Model):
    """Where a fact came from: ``file:line`` for scripts, ``view[key]`` for catalog rows."""

    origin: str
    line: int | None = None
    column: int | None = None
    key: str | None = None

    def __str__(self) -> str:
        text = self.origin
        if self.line is not None:
            text += f":{self.line}"
            if self.column is not None:
                text += f":{self.column}"
        if self.key:
            text += f"[{self.key}]"
        return text


# --------------------------------------------------------------------------- enums


class LoginType(StrEnum):
    """``sys.server_principals.type`` for logins (R, server roles, are modelled separately)."""

    SQL = "SQL_LOGIN"  # S
    WINDOWS_USER = "WINDOWS_LOGIN"  # U
    WINDOWS_GROUP = "WINDOWS_GROUP"  # G
    CERTIFICATE = "CERTIFICATE_MAPPED_LOGIN"  # C
    ASYMMETRIC_KEY = "ASYMMETRIC_KEY_MAPPED_LOGIN"  # K
    EXTERNAL_USER = "EXTERNAL_LOGIN"  # E (Entra ID)
    EXTERNAL_GROUP = "EXTERNAL_GROUP"  # X (Entra ID)


class UserType(StrEnum):
    """``sys.database_principals.type_desc`` for users."""

    SQL = "SQL_USER"  # S
    WINDOWS_USER = "WINDOWS_USER"  # U
    WINDOWS_GROUP = "WINDOWS_GROUP"  # G
    CERTIFICATE = "CERTIFICATE_MAPPED_USER"  # C
    ASYMMETRIC_KEY = "ASYMMETRIC_KEY_MAPPED_USER"  # K
    EXTERNAL_USER = "EXTERNAL_USER"  # E
    EXTERNAL_GROUP = "EXTERNAL_GROUPS"  # X


class AuthenticationType(StrEnum):
    """``sys.database_principals.authentication_type_desc``."""

    NONE = "NONE"  # WITHOUT LOGIN, or a certificate / key user
    INSTANCE = "INSTANCE"  # mapped to a server login
    DATABASE = "DATABASE"  # contained database user with a password
    WINDOWS = "WINDOWS"
    EXTERNAL = "EXTERNAL"  # Microsoft Entra ID


class PermissionState(StrEnum):
    """``state`` of sys.*_permissions (REVOKE rows do not survive: a revoke removes the row)."""

    GRANT = "G"
    GRANT_WITH_GRANT_OPTION = "W"
    DENY = "D"


class ObjectKind(StrEnum):
    """Kinds of schema-scoped objects a GRANT can target (from ``sys.objects.type``)."""

    TABLE = "TABLE"  # U
    VIEW = "VIEW"  # V
    PROCEDURE = "PROCEDURE"  # P, PC
    SCALAR_FUNCTION = "SCALAR_FUNCTION"  # FN, FS
    TABLE_FUNCTION = "TABLE_FUNCTION"  # IF, TF, FT
    AGGREGATE = "AGGREGATE"  # AF
    SEQUENCE = "SEQUENCE"  # SO
    SYNONYM = "SYNONYM"  # SN
    TYPE = "TYPE"  # user-defined types (sys.types; TT for table types)
    XML_SCHEMA_COLLECTION = "XML_SCHEMA_COLLECTION"
    SECURITY_POLICY = "SECURITY_POLICY"  # SP
    OTHER = "OTHER"


#: Securable classes, spelled as ``sys.fn_builtin_permissions`` spells ``class_desc``
#: (see shared/reference/mssql/builtin_permissions_sql2022.csv).
SecurableClass = Literal[
    "SERVER",
    "ENDPOINT",
    "LOGIN",
    "SERVER ROLE",
    "AVAILABILITY GROUP",
    "DATABASE",
    "SCHEMA",
    "OBJECT",
    "TYPE",
    "USER",
    "ROLE",
    "APPLICATION ROLE",
    "XML SCHEMA COLLECTION",
    "ASSEMBLY",
    "CERTIFICATE",
    "ASYMMETRIC KEY",
    "SYMMETRIC KEY",
    "MESSAGE TYPE",
    "CONTRACT",
    "SERVICE",
    "REMOTE SERVICE BINDING",
    "ROUTE",
    "FULLTEXT CATALOG",
    "FULLTEXT STOPLIST",
    "SEARCH PROPERTY LIST",
    "DATABASE SCOPED CREDENTIAL",
    "EXTERNAL LANGUAGE",
]

SERVER_CLASSES: frozenset[str] = frozenset(
    {"SERVER", "ENDPOINT", "LOGIN", "SERVER ROLE", "AVAILABILITY GROUP"}
)


# --------------------------------------------------------------------------- server level


class Server(Model):
    """The instance itself."""

    name: str
    version: str | None = None
    edition: str | None = None
    collation: str | None = None
    authentication_mode: Literal["MIXED", "WINDOWS"] | None = None


class Login(Model):
    """A server login (``sys.server_principals`` types S, U, G, C, K, E, X + ``sys.sql_logins``).

    ``has_password`` records that a SQL login has a password; the password and its hash are
    never read into the snapshot.
    """

    name: str
    type: LoginType
    sid: str | None = None  # hex, e.g. "0x0105000000..."
    disabled: bool = False
    default_database: str | None = None
    default_language: str | None = None
    check_policy: bool | None = None
    check_expiration: bool | None = None
    must_change: bool = False
    has_password: bool = False
    credential: str | None = None
    #: The source does not say whether a Windows login is a user or a group (``CREATE LOGIN
    #: [DOMAIN\x] FROM WINDOWS``, a dacpac's ``MappedToWindowsLogin``): WINDOWS_LOGIN is a guess.
    #: False where the type was read (catalog, live) and in snapshots older than the field.
    type_inferred: bool = False
    #: CONNECT SQL revoked: the login lacks the CONNECT SQL that CREATE LOGIN grants it
    #: (``REVOKE CONNECT SQL``, ``sys.syslogins.hasaccess = 0``, no CONNECT SQL row in
    #: ``sys.server_permissions``), so it cannot log in. A DENY is a permission row instead.
    #: Left out of the JSON when False, so snapshots read and write as before.
    connect_revoked: bool = Field(default=False, exclude_if=lambda value: not value)
    source_ref: SourceRef

    @property
    def key(self) -> str:
        return f"login:{fold(self.name)}"


class ServerRole(Model):
    """A server role: fixed (``sysadmin`` …, ``##MS_…##``) or user-defined."""

    name: str
    is_fixed: bool = False
    owner: str | None = None
    source_ref: SourceRef

    @property
    def key(self) -> str:
        return f"server_role:{fold(self.name)}"


class Membership(Model):
    """``member`` is a member of ``role`` (server level or within one database)."""

    role: str
    member: str
    source_ref: SourceRef

    @property
    def key(self) -> str:
        return f"member:{fold(self.role)}<-{fold(self.member)}"


class Permission(Model):
    """One row of ``sys.server_permissions`` or ``sys.database_permissions``.

    The securable is ``securable_class`` plus, by class: ``schema_name`` and ``object_name``
    for OBJECT (and TYPE, XML SCHEMA COLLECTION, which are schema-scoped); ``object_name``
    alone for SCHEMA, principals and other named securables; nothing for DATABASE and SERVER.
    A column permission has ``column_name`` (one row per column, as ``minor_id`` does).
    """

    securable_class: SecurableClass
    schema_name: str | None = None
    object_name: str | None = None
    column_name: str | None = None
    permission: str
    state: PermissionState
    grantee: str
    grantor: str | None = None
    source_ref: SourceRef

    @property
    def securable_key(self) -> str:
        parts: list[str] = [self.securable_class]
        for part in (self.schema_name, self.object_name, self.column_name):
            if part is not None:
                parts.append(fold(part))
        return ":".join(parts)

    @property
    def key(self) -> str:
        # state is part of the key only as GRANT vs DENY: W and G on the same row cannot coexist
        kind = "deny" if self.state == PermissionState.DENY else "grant"
        return f"perm:{self.securable_key}:{self.permission}:{kind}:{fold(self.grantee)}"


#: Why a user-defined type named like a table, view or routine of its schema is skipped: SQL
#: Server keeps types (``sys.types``) apart from objects (``sys.objects``), a snapshot keys both
#: ``object:schema.name``, and PostgreSQL cannot hold both either ("CREATE TABLE": a table's
#: row type takes its name). Every reader records the type so, keeping the object.
TYPE_NAMED_LIKE_AN_OBJECT = (
    "a user-defined type named like another object of its schema ({kind}): PostgreSQL cannot "
    "hold both (a table's row type takes its name), so the conversion must rename one; the "
    "type and the permissions on it are not in the plan"
)


def types_named_like_objects(
    objects: list[DbObject],
) -> tuple[list[DbObject], list[tuple[DbObject, DbObject]]]:
    """``objects`` without the user-defined types named like another object of their schema,
    and each such type with that object (for the reader to record the type as skipped:
    :data:`TYPE_NAMED_LIKE_AN_OBJECT`)."""
    taken = {o.key: o for o in objects if o.kind != ObjectKind.TYPE}
    kept = [o for o in objects if o.kind != ObjectKind.TYPE or o.key not in taken]
    clashes = [(o, taken[o.key]) for o in objects if o.kind == ObjectKind.TYPE and o.key in taken]
    return kept, clashes


def one_per_grantor_merged(permissions: Iterable[Permission]) -> list[Permission]:
    """Permission rows with the rows that differ only in their grantor merged into one.

    SQL Server keeps a row per grantor (``sys.database_permissions`` is keyed by grantor too:
    the same GRANT made twice ``AS`` two different principals is two rows), but the access the
    grantee has is one fact, as its key says. The merged row keeps the first row's source and
    grantor, and WITH GRANT OPTION when any of the rows had it (a DENY is its own fact).
    """
    merged: dict[str, Permission] = {}
    for permission in permissions:
        kept = merged.setdefault(permission.key, permission)
        if kept is not permission and permission.state == PermissionState.GRANT_WITH_GRANT_OPTION:
            merged[permission.key] = kept.model_copy(update={"state": permission.state})
    return list(merged.values())


# --------------------------------------------------------------------------- database level


class User(Model):
    """A database user (``sys.database_principals`` types S, U, G, C, K, E, X)."""

    name: str
    type: UserType
    authentication_type: AuthenticationType
    login: str | None = None  # name of the mapped login, when it exists on this server
    sid: str | None = None  # hex; links the user to its login
    default_schema: str | None = None
    orphaned: bool = False  # has a login SID that matches no login on the server
    #: The login an orphaned user was made for, as the source names it (``CREATE USER [u] FOR
    #: LOGIN [l]`` where no script creates ``l``; a dacpac's user whose login the model lacks),
    #: for messages only: ``login`` stays None, so nothing links the user to a login of that
    #: name. Left out of the JSON when None (snapshots without it load as before).
    missing_login: str | None = Field(default=None, exclude_if=lambda value: value is None)
    has_password: bool = False  # contained database user (authentication DATABASE)
    type_inferred: bool = False  # WINDOWS_USER guessed, as for ``Login.type_inferred``
    #: CONNECT revoked: the user lacks the CONNECT on the database that CREATE USER grants it
    #: (``REVOKE CONNECT FROM``, no CONNECT row of its own in ``sys.database_permissions``),
    #: so it cannot enter the database. A DENY is a permission row instead. Left out of the
    #: JSON when False.
    connect_revoked: bool = Field(default=False, exclude_if=lambda value: not value)
    source_ref: SourceRef

    @property
    def key(self) -> str:
        return f"user:{fold(self.name)}"


class DatabaseRole(Model):
    """A database role: fixed (``db_owner`` …) or user-defined; ``public`` is implicit."""

    name: str
    is_fixed: bool = False
    owner: str | None = None
    source_ref: SourceRef
    #: Where the owner was set, when a statement of its own did it (scripts: ``ALTER
    #: AUTHORIZATION ON ROLE::``): a finding about the owner points there. None: where the role
    #: is defined says it. Left out of the JSON when None.
    owner_ref: SourceRef | None = Field(default=None, exclude_if=lambda value: value is None)

    @property
    def key(self) -> str:
        return f"role:{fold(self.name)}"


class ApplicationRole(Model):
    """An application role (activated with ``sp_setapprole``; its password is never read)."""

    name: str
    default_schema: str | None = None
    source_ref: SourceRef

    @property
    def key(self) -> str:
        return f"app_role:{fold(self.name)}"


class Schema(Model):
    """A schema and its owner (a database principal)."""

    name: str
    owner: str
    source_ref: SourceRef
    #: Where the owner was set, when a statement of its own did it (scripts: ``ALTER
    #: AUTHORIZATION ON SCHEMA::``): the ownership finding points there. None: where the schema
    #: is defined says it (``CREATE SCHEMA … AUTHORIZATION``, a catalog row). Left out of the
    #: JSON when None.
    owner_ref: SourceRef | None = Field(default=None, exclude_if=lambda value: value is None)

    @property
    def key(self) -> str:
        return f"schema:{fold(self.name)}"


class DbObject(Model):
    """A schema-scoped object: table, view, routine, sequence, type, synonym …

    ``owner`` is set only for an *individual* owner (``ALTER AUTHORIZATION``, ``sys.objects.
    principal_id`` not NULL); otherwise the schema owner owns it. For modules, ``execute_as``
    is ``CALLER`` (default), ``OWNER``, ``SELF`` or a principal name, and ``definition`` is
    the module body when definitions were requested.
    """

    schema_name: str
    name: str
    kind: ObjectKind
    owner: str | None = None
    columns: tuple[str, ...] = ()
    execute_as: str | None = None
    definition: str | None = None
    source_ref: SourceRef
    #: Where the individual owner was set (scripts: ``ALTER AUTHORIZATION ON OBJECT::``,
    #: ``TYPE::`` …): the ownership finding points there. None: no individual owner, or nothing
    #: but the object's definition says it (a catalog row). Left out of the JSON when None.
    owner_ref: SourceRef | None = Field(default=None, exclude_if=lambda value: value is None)

    @property
    def key(self) -> str:
        return f"object:{fold(self.schema_name)}.{fold(self.name)}"


class SecurityPredicate(Model):
    """One predicate of a security policy (``sys.security_predicates``)."""

    predicate_type: Literal["FILTER", "BLOCK"]
    operation: Literal["AFTER INSERT", "AFTER UPDATE", "BEFORE UPDATE", "BEFORE DELETE"] | None = (
        None
    )
    target_schema: str
    target_table: str
    predicate_definition: str

    @property
    def key(self) -> str:
        op = self.operation or "ALL"
        target = f"{fold(self.target_schema)}.{fold(self.target_table)}"
        return f"{target}:{self.predicate_type}:{op}"


class SecurityPolicy(Model):
    """A row-level security policy (``sys.security_policies``)."""

    schema_name: str
    name: str
    enabled: bool = True
    predicates: SortedTuple[SecurityPredicate] = ()
    source_ref: SourceRef

    @property
    def key(self) -> str:
        return f"security_policy:{fold(self.schema_name)}.{fold(self.name)}"


class MaskedColumn(Model):
    """A dynamic-data-masking column (``sys.masked_columns``)."""

    schema_name: str
    table_name: str
    column_name: str
    masking_function: str
    source_ref: SourceRef

    @property
    def key(self) -> str:
        return f"masked:{fold(self.schema_name)}.{fold(self.table_name)}.{fold(self.column_name)}"


class AuditAction(Model):
    """One action (group) of an audit specification."""

    action: str  # e.g. "SELECT" or "SCHEMA_OBJECT_ACCESS_GROUP"
    securable_class: str | None = None
    securable: str | None = None
    principal: str | None = None

    @property
    def key(self) -> str:
        return ":".join(
            fold(p)
            for p in (self.action, self.securable_class, self.securable, self.principal)
            if p
        )


class AuditSpecification(Model):
    """A server or database audit specification."""

    name: str
    level: Literal["SERVER", "DATABASE"]
    audit_name: str | None = None
    enabled: bool = True
    actions: SortedTuple[AuditAction] = ()
    source_ref: SourceRef

    @property
    def key(self) -> str:
        return f"audit:{self.level.lower()}:{fold(self.name)}"


class Database(Model):
    """One database and every security fact inside it."""

    name: str
    owner: str | None = None  # login name of the owner, when resolvable
    owner_sid: str | None = None
    trustworthy: bool = False
    db_chaining: bool = False
    containment: Literal["NONE", "PARTIAL"] = "NONE"
    collation: str | None = None
    state: str = "ONLINE"
    guest_enabled: bool = False  # guest user has CONNECT
    users: SortedTuple[User] = ()
    roles: SortedTuple[DatabaseRole] = ()
    application_roles: SortedTuple[ApplicationRole] = ()
    memberships: SortedTuple[Membership] = ()
    permissions: SortedTuple[Permission] = ()
    schemas: SortedTuple[Schema] = ()
    objects: SortedTuple[DbObject] = ()
    security_policies: SortedTuple[SecurityPolicy] = ()
    masked_columns: SortedTuple[MaskedColumn] = ()
    audit_specifications: SortedTuple[AuditSpecification] = ()
    source_ref: SourceRef
    #: Where the owner was set and TRUSTWORTHY turned on, when a statement of its own did it
    #: (scripts: ``ALTER AUTHORIZATION ON DATABASE::``, ``sp_changedbowner``, ``ALTER DATABASE …
    #: SET TRUSTWORTHY ON``): the findings about them point there. None: where the database is
    #: defined says it (``source_ref``, a catalog row). Left out of the JSON when None.
    owner_ref: SourceRef | None = Field(default=None, exclude_if=lambda value: value is None)
    trustworthy_ref: SourceRef | None = Field(default=None, exclude_if=lambda value: value is None)

    @property
    def key(self) -> str:
        return f"database:{fold(self.name)}"


class Skipped(Model):
    """Something a source contained that was not read: a statement, a database, a row."""

    kind: Literal["statement", "database", "row", "error"]
    reason: str
    text: str = ""
    source_ref: SourceRef

    @property
    def key(self) -> str:
        return f"skipped:{self.source_ref.origin}:{self.source_ref.line or 0:09d}:{self.source_ref.column or 0:05d}:{self.source_ref.key or ''}:{self.kind}"


class SecuritySnapshot(Model):
    """The whole estate: one server, its logins and server roles, and its databases."""

    schema_version: Literal[1] = 1
    source: Literal["script", "catalog", "live", "dacpac", "mixed"] = "script"
    server: Server
    logins: SortedTuple[Login] = ()
    server_roles: SortedTuple[ServerRole] = ()
    server_memberships: SortedTuple[Membership] = ()
    server_permissions: SortedTuple[Permission] = ()
    audit_specifications: SortedTuple[AuditSpecification] = ()
    databases: SortedTuple[Database] = ()
    skipped: SortedTuple[Skipped] = ()

    def to_json(self) -> str:
        """Serialise canonically (stable key order, two-space indent, trailing newline)."""
        return self.model_dump_json(indent=2, exclude_defaults=False) + "\n"

    def json_chunks(self) -> Iterator[str]:
        """:meth:`to_json`'s text in pieces that join byte-identical to it, one database at a
        time (:mod:`grantbridge.json_chunks`): for the fingerprint and for writing."""
        yield from json_chunks(self)
        yield "\n"

    def write_json(self, path: Path) -> None:
        """Write :meth:`to_json`'s text to ``path`` without holding all of it in memory."""
        with Path(path).open("w", encoding="utf-8") as out:
            out.writelines(self.json_chunks())

    @classmethod
    def from_json(cls, text: str | bytes, *, origin: str = "<snapshot>") -> SecuritySnapshot:
        """Load and validate a saved snapshot; any problem is an :class:`ExtractError`.

        The cyclic collector is paused meanwhile: validation allocates millions of small acyclic
        objects at bench scale M, and the collector's passes over them tripled the load time
        (13.2 s → 4.4 s; ``grantbridge.collector``).
        """
        with collector_paused():  # one pass: 8.4 s → 4.3 s at bench scale M
            found = validated_in_one_pass(cls, text)
            return found or cls._from_text(as_text(text, origin, "the snapshot"), origin)

    @classmethod
    def _from_text(cls, text: str, origin: str) -> SecuritySnapshot:
        try:
            data: Any = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ExtractError(
                f"not valid JSON: {exc.msg}", Location(origin, exc.lineno, exc.colno)
            ) from None
        if not isinstance(data, dict):
            raise ExtractError("a snapshot must be a JSON object", Location(origin))
        version = data.get("schema_version")
        if version != SCHEMA_VERSION:
            raise ExtractError(
                f"unsupported snapshot schema_version {version!r} (this grantbridge reads "
                f"{SCHEMA_VERSION})",
                Location(origin, key="schema_version"),
            )
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"])
            raise ExtractError(
                f"invalid snapshot: {first['msg']} at {where}", Location(origin, key=where)
            ) from None

    def database(self, name: str) -> Database | None:
        """The database called ``name`` (case-insensitive), if any."""
        wanted = fold(name)
        return next((db for db in self.databases if fold(db.name) == wanted), None)
