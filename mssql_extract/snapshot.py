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

The models live in modules of their own, by level: :mod:`mssql_extract.snapshot_base` (the base
model, :func:`fold`, sorted collections, :class:`SourceRef`), :mod:`mssql_extract.snapshot_enums`,
:mod:`mssql_extract.snapshot_server` and :mod:`mssql_extract.snapshot_database`. This module is
the document and the entry point: every model is importable from here, as callers have always
imported them (``__all__``).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

from pydantic import ValidationError

from grantbridge.collector import collector_paused
from grantbridge.errors import ExtractError, Location
from grantbridge.json_chunks import json_chunks
from grantbridge.json_input import loads, refuse_lone_surrogates
from grantbridge.validated import as_text, validated_in_one_pass
from mssql_extract.snapshot_base import Keyed, Model, SortedTuple, SourceRef, fold
from mssql_extract.snapshot_database import (
    TYPE_NAMED_LIKE_AN_OBJECT,
    ApplicationRole,
    AuditAction,
    AuditSpecification,
    Database,
    DatabaseRole,
    DbObject,
    MaskedColumn,
    Schema,
    SecurityPolicy,
    SecurityPredicate,
    SequenceDefault,
    User,
    types_named_like_objects,
)
from mssql_extract.snapshot_enums import (
    SERVER_CLASSES,
    AuthenticationType,
    LoginType,
    ObjectKind,
    PermissionState,
    SecurableClass,
    UserType,
)
from mssql_extract.snapshot_server import (
    Login,
    Membership,
    Permission,
    Server,
    ServerRole,
    one_per_grantor_merged,
)

__all__ = [
    "SCHEMA_VERSION",
    "SERVER_CLASSES",
    "TYPE_NAMED_LIKE_AN_OBJECT",
    "ApplicationRole",
    "AuditAction",
    "AuditSpecification",
    "AuthenticationType",
    "Database",
    "DatabaseRole",
    "DbObject",
    "Keyed",
    "Login",
    "LoginType",
    "MaskedColumn",
    "Membership",
    "Model",
    "ObjectKind",
    "Permission",
    "PermissionState",
    "Schema",
    "SecurableClass",
    "SecurityPolicy",
    "SecurityPredicate",
    "SecuritySnapshot",
    "SequenceDefault",
    "Server",
    "ServerRole",
    "Skipped",
    "SortedTuple",
    "SourceRef",
    "User",
    "UserType",
    "fold",
    "one_per_grantor_merged",
    "types_named_like_objects",
]

SCHEMA_VERSION = 1


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
        refuse_lone_surrogates(text, origin, ExtractError)
        with collector_paused():  # one pass: 8.4 s → 4.3 s at bench scale M
            found = validated_in_one_pass(cls, text)
            return found or cls._from_text(as_text(text, origin, "the snapshot"), origin)

    @classmethod
    def _from_text(cls, text: str, origin: str) -> SecuritySnapshot:
        data: Any = loads(text, origin, ExtractError)
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
