"""Database-level snapshot models: users, roles, schemas, objects, row-level security,
masking, audit specifications, and the :class:`Database` that holds them.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from mssql_extract.snapshot_base import Model, SortedTuple, SourceRef, fold
from mssql_extract.snapshot_enums import AuthenticationType, ObjectKind, UserType
from mssql_extract.snapshot_server import Membership, Permission


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


class SequenceDefault(Model):
    """A column default of a table that calls a sequence: ``DEFAULT (NEXT VALUE FOR [s].[seq])``.

    ``sequence`` is quoted as ``sys.default_constraints.definition`` gives it (``[s].[seq]``);
    a script or a dacpac may name it by one part, or by three (``db.s.seq``: "The table and the
    sequence object must reside in the same database", NEXT VALUE FOR (Transact-SQL), "Using a
    Sequence Object in a Default Constraint"). The mapper resolves it (DESIGN §3.3, "What
    PostgreSQL needs that SQL Server does not").

    ``constraint`` is the default constraint's name where a script gives it (``CONSTRAINT
    df_t_id DEFAULT …``): the replay drops the default with ``ALTER TABLE … DROP CONSTRAINT
    df_t_id`` by it. None: a name SQL Server makes up (``DF__t__id__…``), or a source that does
    not keep it; left out of the JSON then.
    """

    column: str
    sequence: str
    constraint: str | None = Field(default=None, exclude_if=lambda value: value is None)

    @property
    def key(self) -> str:
        return f"{fold(self.column)}:{fold(self.sequence)}"

    @property
    def sequence_parts(self) -> tuple[str, ...]:
        """:attr:`sequence` split into its parts (``[s].[seq]`` → ``("s", "seq")``)."""
        return name_parts(self.sequence)


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
    #: A synonym's base object as SQL Server records it (``sys.synonyms.base_object_name``, "fully
    #: quoted": ``[Sales].[dbo].[Orders]``), one to four parts. None: not a synonym, or a source
    #: that does not say. Left out of the JSON when None (snapshots without it load as before).
    base_object: str | None = Field(default=None, exclude_if=lambda value: value is None)
    #: A table's columns whose default calls a sequence (``NEXT VALUE FOR``), from
    #: ``sys.default_constraints``, ``CREATE TABLE`` / ``ALTER TABLE … ADD DEFAULT`` or a dacpac's
    #: ``SqlDefaultConstraint``; other defaults are not kept. Empty: none, or a source that does
    #: not say. Left out of the JSON when empty (snapshots without it load as before).
    sequence_defaults: SortedTuple[SequenceDefault] = Field(
        default=(), exclude_if=lambda value: not value
    )

    @property
    def key(self) -> str:
        return f"object:{fold(self.schema_name)}.{fold(self.name)}"

    @property
    def base_parts(self) -> tuple[str, ...]:
        """:attr:`base_object` split into its parts (``[a]..[b]`` → ``("a", "", "b")``)."""
        return name_parts(self.base_object) if self.base_object else ()


def quote_name(parts: tuple[str, ...] | list[str]) -> str:
    """Name parts as SQL Server quotes them: ``[a].[b]``, ``]`` doubled, an empty part empty."""
    return ".".join(f"[{p.replace(']', ']]')}]" if p else "" for p in parts)


def name_parts(text: str) -> tuple[str, ...]:
    """A multi-part name split at the dots outside brackets, brackets and ``]]`` undone."""
    parts: list[str] = []
    current, i = "", 0
    while i < len(text):
        char = text[i]
        if char == "[":
            end = i + 1
            while end < len(text) and not (text[end] == "]" and text[end + 1 : end + 2] != "]"):
                end += 2 if text[end : end + 2] == "]]" else 1
            current += text[i + 1 : end].replace("]]", "]")
            i = end + 1
        elif char == ".":
            parts.append(current)
            current, i = "", i + 1
        else:
            current, i = current + char, i + 1
    return (*parts, current)


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
