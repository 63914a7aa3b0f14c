"""Render a generated snapshot as the T-SQL scripts a DBA would have (one server, one per database).

The scripts replay to the same facts as the snapshot (apart from provenance): principals,
then memberships, schemas, objects, then GRANT / DENY, in the order SSMS "Generate Scripts"
uses. Column rows of one (object, permission, state, grantee) become one statement with a column
list. Passwords are placeholders (the parser reads and discards them).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Sequence

from mssql_extract.snapshot import (
    AuthenticationType,
    Database,
    DbObject,
    Login,
    LoginType,
    ObjectKind,
    Permission,
    PermissionState,
    SecuritySnapshot,
    User,
)

GO = "GO"  # batch separator: not a statement
BATCH = 500  # statements per batch between GOs, as generated scripts have
SERVER_FILE = "00_server.sql"


def quote(name: str) -> str:
    """Bracket-quote a T-SQL identifier (``]`` doubles)."""
    return "[" + name.replace("]", "]]") + "]"


def _on_off(flag: bool | None) -> str:
    return "ON" if flag else "OFF"


def _create_login(login: Login) -> Iterator[str]:
    name = quote(login.name)
    if login.type is LoginType.SQL:
        secret = (
            "0x0200" + "AB" * 30 + " HASHED"
            if login.sid and login.sid[-1] in "02468"
            else "N'Bench#Pwd-1'"
        )
        yield (
            f"CREATE LOGIN {name} WITH PASSWORD = {secret}, SID = {login.sid}, "
            f"DEFAULT_DATABASE = {quote(login.default_database or 'master')}, "
            f"CHECK_POLICY = {_on_off(login.check_policy)}, "
            f"CHECK_EXPIRATION = {_on_off(login.check_expiration)};"
        )
    else:
        yield f"CREATE LOGIN {name} FROM WINDOWS WITH DEFAULT_DATABASE = {quote(login.default_database or 'master')};"
    if login.disabled:
        yield f"ALTER LOGIN {name} DISABLE;"


def _securable(perm: Permission) -> str:
    if perm.securable_class in ("SERVER", "DATABASE"):
        return ""
    if perm.securable_class == "OBJECT":
        return f" ON OBJECT::{quote(perm.schema_name or 'dbo')}.{quote(perm.object_name or '')}"
    return f" ON {perm.securable_class}::{quote(perm.object_name or '')}"


def _permission_statement(rows: Sequence[Permission]) -> str:
    """One GRANT/DENY for one row, or for the column rows of one (object, permission, grantee)."""
    first = rows[0]
    verb = "DENY" if first.state is PermissionState.DENY else "GRANT"
    columns = [r.column_name for r in rows if r.column_name is not None]
    cols = f" ({', '.join(quote(c) for c in columns)})" if columns else ""
    option = " WITH GRANT OPTION" if first.state is PermissionState.GRANT_WITH_GRANT_OPTION else ""
    return f"{verb} {first.permission}{cols}{_securable(first)} TO {quote(first.grantee)}{option};"


def _permission_statements(perms: Sequence[Permission]) -> Iterator[str]:
    def group(p: Permission) -> tuple[str, str | None, str | None, str, str, str]:
        return (p.securable_class, p.schema_name, p.object_name, p.permission, p.state, p.grantee)

    for _, rows in itertools.groupby(perms, key=group):
        yield _permission_statement(list(rows))


def server_statements(
    snapshot: SecuritySnapshot, databases: Sequence[str] | None = None
) -> Iterator[str]:
    """The server script: logins, server roles and members, server grants, databases.

    ``databases`` names the databases to create when ``snapshot`` does not hold them (a
    streamed estate); by default, the snapshot's.
    """
    yield "USE [master];"
    yield GO
    for login in snapshot.logins:
        yield from _create_login(login)
    for role in snapshot.server_roles:
        if not role.is_fixed:
            yield f"CREATE SERVER ROLE {quote(role.name)};"
    for m in snapshot.server_memberships:
        yield f"ALTER SERVER ROLE {quote(m.role)} ADD MEMBER {quote(m.member)};"
    yield from _permission_statements(snapshot.server_permissions)
    yield GO
    for name in [d.name for d in snapshot.databases] if databases is None else databases:
        yield f"CREATE DATABASE {quote(name)};"
        yield GO


def _create_user(user: User) -> str:
    name = quote(user.name)
    schema = f"DEFAULT_SCHEMA = {quote(user.default_schema or 'dbo')}"
    if user.authentication_type is AuthenticationType.NONE:
        return f"CREATE USER {name} WITHOUT LOGIN WITH {schema};"
    return f"CREATE USER {name} FOR LOGIN {quote(user.login or user.name)} WITH {schema};"


def _create_object(obj: DbObject) -> str:
    name = f"{quote(obj.schema_name)}.{quote(obj.name)}"
    cols = ", ".join(quote(c) for c in obj.columns)
    if obj.kind is ObjectKind.TABLE:
        return f"CREATE TABLE {name} ({', '.join(quote(c) + ' nvarchar(100) NULL' for c in obj.columns)});"
    if obj.kind is ObjectKind.VIEW:
        return f"CREATE VIEW {name} AS SELECT {cols} FROM (SELECT 1 AS [x]) AS [src];"
    if obj.kind is ObjectKind.PROCEDURE:
        return f"CREATE PROCEDURE {name} AS BEGIN SET NOCOUNT ON; SELECT 1; END;"
    return f"CREATE FUNCTION {name} () RETURNS int AS BEGIN RETURN 1; END;"


def database_statements(db: Database) -> Iterator[str]:
    """One database's script: principals, memberships, schemas, objects, permissions."""
    yield f"USE {quote(db.name)};"
    yield GO
    yield from (_create_user(u) for u in db.users)
    yield from (
        f"CREATE ROLE {quote(r.name)} AUTHORIZATION {quote(r.owner or 'dbo')};"
        for r in db.roles
        if not r.is_fixed
    )
    for app in db.application_roles:
        yield (
            f"CREATE APPLICATION ROLE {quote(app.name)} WITH PASSWORD = N'Bench#App-1', "
            f"DEFAULT_SCHEMA = {quote(app.default_schema or 'dbo')};"
        )
    for m in db.memberships:
        yield f"ALTER ROLE {quote(m.role)} ADD MEMBER {quote(m.member)};"
    yield GO
    for schema in db.schemas:  # CREATE SCHEMA must be alone in its batch
        yield f"CREATE SCHEMA {quote(schema.name)} AUTHORIZATION {quote(schema.owner)};"
        yield GO
    for obj in db.objects:  # so must CREATE VIEW / PROCEDURE / FUNCTION
        yield _create_object(obj)
        yield GO
    yield from _permission_statements(db.permissions)


def render_text(statements: Iterator[str], limit: int | None = None) -> tuple[str, int]:
    """Join statements into a script, a ``GO`` every :data:`BATCH` statements.

    Args:
        statements: Statements and :data:`GO` markers.
        limit: Stop after this many statements (``GO`` does not count).

    Returns:
        The script text and its number of statements.
    """
    lines: list[str] = []
    count = since_go = 0
    for statement in statements:
        if statement == GO:
            if lines and lines[-1] != GO:
                lines.append(GO)
            since_go = 0
            continue
        if limit is not None and count >= limit:
            break
        lines.append(statement)
        count += 1
        since_go += 1
        if since_go >= BATCH:
            lines.append(GO)
            since_go = 0
    if lines and lines[-1] != GO:
        lines.append(GO)
    return "\n".join(lines) + "\n", count


def render_scripts(snapshot: SecuritySnapshot) -> dict[str, tuple[str, int]]:
    """File name → (script, statement count): ``00_server.sql`` and ``NN_<database>.sql``."""
    scripts = {SERVER_FILE: render_text(server_statements(snapshot))}
    for i, db in enumerate(snapshot.databases, start=1):
        scripts[database_file(i, db.name)] = render_text(database_statements(db))
    return scripts


def database_file(position: int, name: str) -> str:
    """The script of the ``position``-th database (from 1, in snapshot order)."""
    return f"{position:02d}_{name}.sql"


def statement_script(snapshot: SecuritySnapshot, statements: int) -> tuple[str, int]:
    """One script of the first ``statements`` statements of the whole estate (issue 2's 100k)."""
    chained = itertools.chain(
        server_statements(snapshot), *(database_statements(db) for db in snapshot.databases)
    )
    return render_text(chained, limit=statements)
