"""Server-level snapshot models: the instance, its logins and server roles, and the two facts
that relate principals at either level: a role :class:`Membership` and a :class:`Permission`
row (``sys.server_permissions`` or ``sys.database_permissions``).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Literal

from pydantic import Field

from mssql_extract.snapshot_base import Model, SourceRef, fold
from mssql_extract.snapshot_enums import LoginType, PermissionState, SecurableClass


class Server(Model):
    """The instance itself."""

    name: str
    version: str | None = None
    edition: str | None = None
    collation: str | None = None
    authentication_mode: Literal["MIXED", "WINDOWS"] | None = None
    #: The *common criteria compliance enabled* option (``sys.configurations.value_in_use``;
    #: ``sp_configure`` in scripts): when on, "a table-level DENY takes precedence over a
    #: column-level GRANT" (Microsoft Learn, "common criteria compliance enabled Server
    #: Configuration Option"); off, a column GRANT beats its table's DENY. None: not known
    #: (the source does not say; the default, off, applies).
    common_criteria: bool | None = Field(default=None, exclude_if=lambda value: value is None)


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
