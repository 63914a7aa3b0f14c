"""Securable classes and permission names as data: what a GRANT may name, and what ALL means.

``data/permissions_by_class.csv`` lists every (class, permission) of ``sys.fn_builtin_permissions``
for SQL Server 2022 (copied from shared/reference/mssql/builtin_permissions_sql2022.csv, see its
PROVENANCE). A permission not listed for its class is an error, as SQL Server rejects it too.
"""

from __future__ import annotations

import csv
from functools import cache
from importlib import resources

from mssql_extract.snapshot import SERVER_CLASSES, ObjectKind

#: ``class ::`` prefixes, spelled as the class (``sys.fn_builtin_permissions`` class_desc).
CLASS_PREFIXES = frozenset(
    {"OBJECT", "SCHEMA", "DATABASE", "LOGIN", "USER", "ROLE", "APPLICATION ROLE", "SERVER ROLE"}
    | {"TYPE", "XML SCHEMA COLLECTION", "ASSEMBLY", "CERTIFICATE", "ASYMMETRIC KEY"}
    | {"SYMMETRIC KEY", "ENDPOINT", "AVAILABILITY GROUP", "MESSAGE TYPE", "CONTRACT", "SERVICE"}
    | {"REMOTE SERVICE BINDING", "ROUTE", "FULLTEXT CATALOG", "FULLTEXT STOPLIST"}
    | {"SEARCH PROPERTY LIST", "DATABASE SCOPED CREDENTIAL", "EXTERNAL LANGUAGE"}
)

#: Classes whose securables live in a schema (``schema.name``; one part means the default schema).
SCHEMA_SCOPED = frozenset({"OBJECT", "TYPE", "XML SCHEMA COLLECTION"})

#: Server-level classes (their permissions go to ``server_permissions``).
SERVER_SCOPED = SERVER_CLASSES

_TABLE_ALL = ("DELETE", "INSERT", "REFERENCES", "SELECT", "UPDATE")

#: What the deprecated ``ALL [PRIVILEGES]`` expands to, per securable type. GRANT (Transact-SQL),
#: argument ALL: "Granting ALL is equivalent to granting the following permissions" —
#: https://learn.microsoft.com/previous-versions/sql/sql-server-2008-r2/ms187965(v=sql.105)
#: (the current page keeps the same list). Other classes do not accept ALL.
ALL_PERMISSIONS: dict[ObjectKind | str, tuple[str, ...]] = {
    "DATABASE": (
        "BACKUP DATABASE", "BACKUP LOG", "CREATE DATABASE", "CREATE DEFAULT", "CREATE FUNCTION",
        "CREATE PROCEDURE", "CREATE RULE", "CREATE TABLE", "CREATE VIEW",
    ),
    ObjectKind.SCALAR_FUNCTION: ("EXECUTE", "REFERENCES"),
    ObjectKind.TABLE_FUNCTION: _TABLE_ALL,
    ObjectKind.PROCEDURE: ("EXECUTE",),
    ObjectKind.TABLE: _TABLE_ALL,
    ObjectKind.VIEW: _TABLE_ALL,
}  # fmt: skip

#: Permissions that may carry a column list (GRANT Object Permissions: "column … SELECT,
#: REFERENCES, UPDATE").
COLUMN_PERMISSIONS = frozenset({"SELECT", "REFERENCES", "UPDATE"})


@cache
def permissions_by_class() -> dict[str, frozenset[str]]:
    """Permission names per securable class, from the packaged CSV."""
    text = resources.files(__package__).joinpath("data/permissions_by_class.csv").read_text()
    rows = csv.DictReader(line for line in text.splitlines() if not line.startswith("#"))
    found: dict[str, set[str]] = {}
    for row in rows:
        found.setdefault(row["class_desc"], set()).add(row["permission_name"])
    return {cls: frozenset(names) for cls, names in found.items()}


def is_permission(cls: str, permission: str) -> bool:
    return permission in permissions_by_class().get(cls, frozenset())


def class_without_on(permission: str, in_master: bool) -> str | None:
    """The class a GRANT without ON targets: the server for server-only permission names (and
    for names valid at both levels when run in master), else the current database."""
    table = permissions_by_class()
    server = permission in table["SERVER"]
    database = permission in table["DATABASE"]
    if server and (not database or in_master):
        return "SERVER"
    return "DATABASE" if database else None


def expand_all(cls: str, kind: ObjectKind | None) -> tuple[str, ...] | None:
    """ALL for a securable; an OBJECT of unknown kind is taken as a table (the common case)."""
    if cls == "DATABASE":
        return ALL_PERMISSIONS["DATABASE"]
    if cls != "OBJECT":
        return None
    return ALL_PERMISSIONS.get(kind or ObjectKind.TABLE, _TABLE_ALL)
