"""The SQL a finding advises runs verbatim on PostgreSQL, whatever the names, in the database it names.

Engineers paste a finding's advised statements into psql. An estate whose names need quoting
(mixed case ``Sales.OrderLines``, spaces, a Windows group ``CONTOSO\\...Sales Team``, double
quotes, an apostrophe, unicode) is planned with case preserved, applied to real PostgreSQL on
stub objects, and each advising finding's statements are run exactly as written in the database
the finding names (in both database modes): each must succeed and grant what it says. Advice
that unquoted names (``GRANT SELECT ON TABLE Café "Ü".Order Lines``), spelled a procedure
``PROCEDURE`` where the conversion made a function, or named no database fails here.
Placeholders (``<login>``, ``<readers>``) are the reader's to fill: they are filled with test
roles, every name the finding wrote is run as written.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from mapper.plan import Finding, MigrationPlan, RoleKind
from mapper.planner import plan
from mapper.policy import Naming, Policy
from mapper.quoting import quote_ident, quote_qualified
from mssql_extract.tsql import extract_scripts
from pg_emit.server import connect
from pg_emit.verify import ensure_databases
from tests.emit.conftest import apply_on_stubs

ESTATE = r"""
CREATE DATABASE [{p}_Sales DB]
GO
CREATE LOGIN [CONTOSO\{p}Sales Team] FROM WINDOWS
GO
CREATE LOGIN [Carol "C"] WITH PASSWORD = N'x'
GO
CREATE LOGIN [Dave] WITH PASSWORD = N'x'
GO
CREATE LOGIN [Ünï] WITH PASSWORD = N'x'
GO
USE [{p}_Sales DB]
GO
CREATE USER [CONTOSO\{p}Sales Team] FOR LOGIN [CONTOSO\{p}Sales Team]
GO
CREATE USER [Carol "C"] FOR LOGIN [Carol "C"]
GO
CREATE USER [Dave] FOR LOGIN [Dave]
GO
CREATE USER [Ünï] FOR LOGIN [Ünï]
GO
GRANT CONNECT TO [guest]
GO
CREATE SCHEMA [Sales] AUTHORIZATION [dbo]
GO
CREATE SCHEMA [Café "Ü"] AUTHORIZATION [dbo]
GO
CREATE SCHEMA [Carol's] AUTHORIZATION [Carol "C"]
GO
CREATE SCHEMA [Dave Stuff] AUTHORIZATION [Dave]
GO
CREATE TABLE [Café "Ü"].[Order Lines] ([id] int)
GO
CREATE TABLE [Sales].[OrderLines] ([id] int, [E-mail] nvarchar(100) MASKED WITH (FUNCTION = 'email()'))
GO
CREATE TABLE [Sales].[Secret "T"] ([id] int, [secret] int)
GO
ALTER AUTHORIZATION ON OBJECT::[Sales].[Secret "T"] TO [Carol "C"]
GO
CREATE TABLE [Dave Stuff].[Held] ([id] int)
GO
ALTER AUTHORIZATION ON OBJECT::[Dave Stuff].[Held] TO [Carol "C"]
GO
CREATE PROCEDURE [Sales].[Inner Proc] AS SELECT id FROM [Sales].[OrderLines]
GO
CREATE PROCEDURE [Sales].[Read Orders] AS BEGIN SELECT id FROM [Café "Ü"].[Order Lines]; SELECT secret FROM [Sales].[Secret "T"]; EXEC [Sales].[Inner Proc]; END
GO
GRANT EXECUTE ON OBJECT::[Sales].[Read Orders] TO [CONTOSO\{p}Sales Team]
GO
CREATE VIEW [Sales].[Order View] AS SELECT id, secret FROM [Sales].[Secret "T"]
GO
GRANT SELECT ON OBJECT::[Sales].[Order View] TO [CONTOSO\{p}Sales Team]
GO
CREATE PROCEDURE [Carol's].[Owner Proc] WITH EXECUTE AS OWNER AS SELECT id FROM [Café "Ü"].[Order Lines]
GO
GRANT SELECT ON OBJECT::[Café "Ü"].[Order Lines] TO [Carol "C"]
GO
GRANT EXECUTE ON OBJECT::[Carol's].[Owner Proc] TO [Ünï]
GO
GRANT SELECT ON OBJECT::[Sales].[OrderLines] TO [public]
GO
DENY SELECT ON OBJECT::[Sales].[OrderLines] TO [Dave]
GO
CREATE APPLICATION ROLE [Order "App"] WITH PASSWORD = N'x', DEFAULT_SCHEMA = [Sales]
GO
GRANT SELECT ON OBJECT::[Café "Ü"].[Order Lines] TO [Order "App"]
GO
"""


def planned(tmp_path: Path, prefix: str, mode: str) -> MigrationPlan:
    """The estate with case preserved and every role named after ``prefix`` (dropped after)."""
    script = tmp_path / "estate.sql"
    script.write_text(ESTATE.replace("{p}", prefix), encoding="utf-8")
    snapshot = extract_scripts([script], include_definitions=True)
    naming = Naming(fold_case="preserve", login=prefix + "_{name}",
                    single_database_role=prefix + "_{name}")  # fmt: skip
    policy = Policy(target="postgresql", naming=naming, database_mode=mode,  # type: ignore[arg-type]
                    target_database=f"{prefix} Target" if mode == "schema" else None)  # fmt: skip
    return plan(snapshot, policy)


def one(migration: MigrationPlan, rule: str, word: str = "") -> Finding:
    (found,) = [f for f in migration.findings if f.rule_id == rule and word in f.action]
    return found


# --------------------------------------------------------------------------- reading advice


def _ident(text: str) -> tuple[str, str]:
    """A leading identifier, bare or double-quoted (unquoted), and the rest of ``text``."""
    if not text.startswith('"'):
        name = text.split(":", 1)[0]
        return name, text[len(name) :]
    end = 1
    while True:
        end = text.index('"', end)
        if text[end + 1 : end + 2] != '"':
            return text[1:end].replace('""', '"'), text[end + 1 :]
        end += 2


def advised(text: str, start: str, *, database: bool = True) -> tuple[str | None, list[str]]:
    """The database named after ``start`` (``in database d: ``) and the statements that follow,
    split at semicolons and ended by the prose after them, both only outside quotes."""
    tail = text.split(start, 1)[1]
    name = None
    if database:
        assert tail.startswith("in database "), tail
        name, tail = _ident(tail.removeprefix("in database "))
        assert tail.startswith(": "), tail
        tail = tail[2:]
    statements, current, quote, i = [], "", "", 0
    while i < len(tail):
        char, rest = tail[i], tail[i:]
        if not quote and (rest.startswith((" (a widening", ", or ", ". ")) or rest == "."):
            break
        if quote and char == quote:
            quote = ""
        elif not quote and char in "\"'":
            quote = char
        if not quote and char == ";":
            statements.append(current.strip())
            current = ""
        else:
            current += char
        i += 1
    return name, [*statements, current.strip()]


def run(pg_dsn: str, database: str | None, statements: list[str]) -> None:
    """Each statement as written, in ``database``, as the superuser applying the advice."""
    with connect(pg_dsn, database) as conn:
        for statement in statements:
            conn.execute(statement.encode())


def ask(pg_dsn: str, database: str, query: str, *args: str) -> Any:
    with connect(pg_dsn, database) as conn:
        row = conn.execute(query.encode(), list(args)).fetchone()
        return row[0] if row else None


# --------------------------------------------------------------------------- real PostgreSQL


def _schema(migration: MigrationPlan, source: str) -> str:
    """The plan's PostgreSQL name of a source schema (prefixed in schema mode)."""
    (found,) = [s.name for s in migration.schemas if s.name.endswith(source)]
    return found


@pytest.mark.parametrize("mode", ["database", "schema"])
def test_pg_every_advised_statement_runs_verbatim(
    pg_dsn: str, prefix: str, tmp_path: Path, mode: str
) -> None:
    migration = planned(tmp_path, prefix, mode)
    (db,) = [d.name for d in migration.databases]
    sales, cafe = _schema(migration, "Sales"), _schema(migration, 'Café "Ü"')
    ensure_databases(pg_dsn, migration, create=True)
    with connect(pg_dsn, db) as conn:  # the conversion made this procedure a function
        conn.execute(f"CREATE SCHEMA {quote_ident(sales)}".encode())
        inner = quote_qualified(sales, "Inner Proc")
        conn.execute(f"CREATE FUNCTION {inner}() RETURNS int LANGUAGE sql AS 'SELECT 1'".encode())
    apply_on_stubs(pg_dsn, migration, tmp_path / "plan")
    lines = quote_qualified(cafe, "Order Lines")
    team, carol_owner = f"{prefix}Sales Team@CONTOSO", f'{prefix}_Sales DB_Carol "C"_owner'
    table_privilege = "SELECT has_table_privilege(%s, %s, 'SELECT')"

    # GB306: the caller's lost chain, restored by hand (USAGE, SELECT, EXECUTE ON ROUTINE)
    where, statements = advised(one(migration, "GB306").action, "To restore it, ")
    assert where == db
    assert not ask(pg_dsn, db, table_privilege, team, lines)
    run(pg_dsn, where, statements)
    assert ask(pg_dsn, db, table_privilege, team, lines)
    assert ask(pg_dsn, db, "SELECT has_schema_privilege(%s, %s, 'USAGE')", team, cafe)
    assert ask(pg_dsn, db, "SELECT has_function_privilege(%s, %s, 'EXECUTE')", team, f"{inner}()")

    # GB311: the EXECUTE AS OWNER routine's owner role, which others hold
    where, statements = advised(one(migration, "GB311").action, "after review, ")
    assert where == db
    assert not ask(pg_dsn, db, table_privilege, carol_owner, lines)
    run(pg_dsn, where, statements)
    assert ask(pg_dsn, db, table_privilege, carol_owner, lines)
    assert ask(pg_dsn, db, "SELECT has_schema_privilege(%s, %s, 'USAGE')", carol_owner, cafe)

    # GB016: the owner's full rights, a membership (cluster-wide: no database named)
    found = one(migration, "GB016", "Dave_owner")
    _, statements = advised(found.action, "For the full rights: ", database=False)
    run(pg_dsn, None, statements)
    member = "SELECT pg_has_role(%s, %s, 'MEMBER')"
    assert ask(pg_dsn, db, member, f"{prefix}_Dave", f"{prefix}_Sales DB_Dave_owner")

    # GB310: what 07 did to the view, as written, runs again
    view = one(migration, "GB310", "ALTER VIEW").action.split(" (PostgreSQL 15", 1)[0]
    run(pg_dsn, db, [view])
    options = "SELECT reloptions FROM pg_class WHERE oid = to_regclass(%s)"
    assert ask(pg_dsn, db, options, quote_qualified(sales, "Order View")) == [
        "security_invoker=true"
    ]

    # GB330: the suggested masked view and privileges (placeholders filled with test roles)
    remediation = one(migration, "GB330").remediation
    where, statements = advised(remediation, "Suggested view, ")
    assert where == db
    table = quote_qualified(sales, "OrderLines")
    run(pg_dsn, db, [f"INSERT INTO {table} VALUES ('1', 'ann@example.com')"])
    run(pg_dsn, where, statements)
    masked = quote_qualified(sales, "OrderLines_masked")
    assert ask(pg_dsn, db, f'SELECT "E-mail" FROM {masked}') == "aXXX@XXXX.com"
    reader, holder = f'{prefix}_Reader "R"', f"{prefix}_Ünï"
    run(pg_dsn, None, [f"CREATE ROLE {quote_ident(reader)}"])
    where, statements = advised(remediation, "Privileges, ")
    filled = [
        s.replace("<readers>", quote_ident(reader)).replace("<other columns>", "id")
        .replace("<UNMASK holders>", quote_ident(holder))
        for s in statements
    ]  # fmt: skip
    run(pg_dsn, where, filled)
    column = "SELECT has_column_privilege(%s, %s, %s, 'SELECT')"
    assert ask(pg_dsn, db, column, reader, table, "id")
    assert not ask(pg_dsn, db, column, reader, table, "E-mail")
    assert ask(pg_dsn, db, table_privilege, holder, table)

    # GB008 / GB009: the public and guest roles a later role needs (placeholder: a test role)
    for rule, placeholder in (("GB008", "<role>"), ("GB009", "<login>")):
        granted = one(migration, rule).action.split("needs ", 1)[1].split(" to get ", 1)[0]
        run(pg_dsn, None, [granted.replace(placeholder, quote_ident(reader))])
    roles = "SELECT count(*) FROM pg_auth_members m JOIN pg_roles r ON r.oid = m.roleid"
    roles += " JOIN pg_roles u ON u.oid = m.member WHERE u.rolname = %s"
    assert ask(pg_dsn, db, roles, reader) == 2

    # GB017: the application role, granted to an application's login role (the placeholder:
    # Dave's), which SET ROLE to it in the database named and reads what the role was granted
    action = one(migration, "GB017").action
    (app,) = [r.name for r in migration.roles if r.kind == RoleKind.APPLICATION]
    assert app == f'{prefix}_Order "App"'
    granted = action.split("(<login>): ", 1)[1].split(" (PostgreSQL 16", 1)[0]
    dave = f"{prefix}_Dave"
    statements = [granted]
    if int(ask(pg_dsn, db, "SHOW server_version_num")) < 160000:  # the advice's pre-16 form
        gated = action.split("other roles inherited: ", 1)[1].split("). The application", 1)[0]
        statements = gated.split("; ")
    run(pg_dsn, None, [s.replace("<login>", quote_ident(dave)) for s in statements])
    assert ask(pg_dsn, db, "SELECT pg_has_role(%s, %s, 'MEMBER')", dave, app)
    assert not ask(pg_dsn, db, "SELECT pg_has_role(%s, %s, 'USAGE')", dave, app)  # no INHERIT
    where, statements = advised(action, "The application then runs, ")
    assert where == db
    assert statements == [f"SET ROLE {quote_ident(app)}"]
    with connect(pg_dsn, where) as conn:
        conn.execute(f"SET ROLE {quote_ident(dave)}".encode())
        for statement in statements:
            conn.execute(statement.encode())
        assert conn.execute("SELECT current_user").fetchone() == (app,)
        assert conn.execute(f"SELECT count(*) FROM {lines}".encode()).fetchone() == (0,)
