"""Who a module runs as in PostgreSQL, against SQL Server's ownership chains.

SQL Server skips the permission check on an object a module references only when both have the
same owner ("Ownership Chains", learn.microsoft.com); PostgreSQL checks a view's relations and a
SECURITY DEFINER routine's everything against the owner role. Each case is planned from T-SQL
and checked in the rendered scripts and findings; the ones where SQL Server's answer is the
point are applied to real PostgreSQL with real tables, views and routines, and the caller's
query is run: refused where SQL Server refuses it, answered where SQL Server answers it.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg import sql

from mapper.plan import Finding, MigrationPlan
from mapper.planner import plan
from mapper.policy import Modules, Policy
from mssql_extract.tsql import extract_scripts
from pg_emit.apply import apply_plan_dir
from pg_emit.render import render_sql
from pg_emit.server import connect
from pg_emit.verify import ensure_databases
from tests.emit.conftest import write_plan_dir

LOGINS = ("carol", "caller")

#: A view and a procedure of dbo's reading carol's table (the chain is broken), and a view of
#: dbo's reading dbo's table (intact).
C8 = """
CREATE TABLE [s].[ts] ([id] int)
GO
CREATE TABLE [s].[tc] ([id] int, [secret] int)
GO
ALTER AUTHORIZATION ON OBJECT::[s].[tc] TO [{p}carol]
GO
CREATE VIEW [s].[vc] AS SELECT id, secret FROM s.tc
GO
CREATE VIEW [s].[vs] AS SELECT id FROM s.ts
GO
CREATE PROCEDURE [s].[pc] AS SELECT id, secret FROM s.tc
GO
GRANT SELECT ON OBJECT::[s].[vc] TO [{p}caller]
GO
GRANT SELECT ON OBJECT::[s].[vs] TO [{p}caller]
GO
GRANT EXECUTE ON OBJECT::[s].[pc] TO [{p}caller]
GO
"""
#: A procedure reading dbo's table (intact) and carol's (broken).
C9 = """
CREATE TABLE [s].[ts] ([id] int)
GO
CREATE TABLE [s].[tc] ([id] int, [secret] int)
GO
ALTER AUTHORIZATION ON OBJECT::[s].[tc] TO [{p}carol]
GO
CREATE PROCEDURE [s].[pboth] AS BEGIN SELECT id FROM s.ts; SELECT id, secret FROM s.tc; END
GO
GRANT EXECUTE ON OBJECT::[s].[pboth] TO [{p}caller]
GO
"""
#: A procedure with an intact static SELECT and dynamic SQL, no EXECUTE AS.
C46 = """
CREATE TABLE [s].[t] ([id] int)
GO
CREATE TABLE [s].[secret] ([id] int)
GO
CREATE PROCEDURE [s].[p] @tbl sysname AS
BEGIN
  SELECT id FROM s.t;
  DECLARE @sql nvarchar(max) = N'SELECT * FROM s.' + QUOTENAME(@tbl);
  EXEC sp_executesql @sql;
END
GO
GRANT EXECUTE ON OBJECT::[s].[p] TO [{p}caller]
GO
"""
#: carol's view (her schema x) reading dbo's table, which caller may read.
C25 = """
CREATE SCHEMA [x] AUTHORIZATION [{p}carol]
GO
CREATE TABLE [s].[ts] ([id] int)
GO
CREATE VIEW [x].[v] AS SELECT id FROM s.ts
GO
GRANT SELECT ON OBJECT::[s].[ts] TO [{p}carol]
GO
GRANT SELECT ON OBJECT::[s].[ts] TO [{p}caller]
GO
GRANT SELECT ON OBJECT::[x].[v] TO [{p}caller]
GO
"""
#: carol's EXECUTE AS OWNER procedure reading dbo's table through carol's own grant.
C24 = """
CREATE SCHEMA [x] AUTHORIZATION [{p}carol]
GO
CREATE TABLE [s].[ts] ([id] int)
GO
CREATE PROCEDURE [x].[p] WITH EXECUTE AS OWNER AS SELECT id FROM s.ts
GO
GRANT SELECT ON OBJECT::[s].[ts] TO [{p}carol]
GO
GRANT EXECUTE ON OBJECT::[x].[p] TO [{p}caller]
GO
"""
#: A view of dbo's calling a function of dbo's that reads dbo's table.
C35 = """
CREATE TABLE [s].[t] ([id] int)
GO
CREATE FUNCTION [s].[fn]() RETURNS int AS BEGIN RETURN (SELECT COUNT(*) FROM s.t) END
GO
CREATE VIEW [s].[v] AS SELECT s.fn() AS n
GO
GRANT SELECT ON OBJECT::[s].[v] TO [{p}caller]
GO
"""
#: A procedure of dbo's calling one of dbo's that reads carol's table.
NESTED = """
CREATE TABLE [s].[tc] ([id] int, [secret] int)
GO
ALTER AUTHORIZATION ON OBJECT::[s].[tc] TO [{p}carol]
GO
CREATE PROCEDURE [s].[inner] AS SELECT secret FROM s.tc
GO
CREATE PROCEDURE [s].[outer] AS EXEC s.[inner]
GO
GRANT EXECUTE ON OBJECT::[s].[outer] TO [{p}caller]
GO
"""
#: A procedure impersonating a user, every reference dbo's (the chain skips bot's permissions).
C32 = """
CREATE USER [bot] WITHOUT LOGIN
GO
CREATE TABLE [s].[t] ([id] int)
GO
CREATE TABLE [s].[secret] ([id] int)
GO
CREATE PROCEDURE [s].[p] WITH EXECUTE AS 'bot' AS BEGIN SELECT id FROM s.t; SELECT id FROM s.secret; END
GO
GRANT SELECT ON OBJECT::[s].[t] TO [bot]
GO
GRANT EXECUTE ON OBJECT::[s].[p] TO [{p}caller]
GO
"""


def estate(body: str, database: str = "D1", prefix: str = "") -> str:
    """A server with logins carol and caller, their users in ``database``, schema s of dbo's."""
    logins = "".join(f"CREATE LOGIN [{prefix}{n}] WITH PASSWORD = N'x'\nGO\n" for n in LOGINS)
    users = "".join(f"CREATE USER [{prefix}{n}] FOR LOGIN [{prefix}{n}]\nGO\n" for n in LOGINS)
    return (
        f"CREATE DATABASE [{database}]\nGO\n{logins}USE [{database}]\nGO\n{users}"
        "CREATE SCHEMA [s] AUTHORIZATION [dbo]\nGO\n" + body.format(p=prefix)
    )


def planned(
    tmp_path: Path, body: str, *, mode: str = "security_definer", database: str = "D1",
    prefix: str = "", target: str = "aurora",
) -> MigrationPlan:  # fmt: skip
    script = tmp_path / "estate.sql"
    script.write_text(estate(body, database, prefix), encoding="utf-8")
    snapshot = extract_scripts([script], include_definitions=True)
    policy = Policy(target=target, modules=Modules(mode=mode))  # type: ignore[arg-type]
    return plan(snapshot, policy)


def findings(migration: MigrationPlan, rule: str) -> list[Finding]:
    return [f for f in migration.findings if f.rule_id == rule]


def script(migration: MigrationPlan, name: str) -> str:
    return render_sql(migration)[f"sql/{name}"]


# --------------------------------------------------------------------------- plans and scripts


def test_view_across_a_broken_chain_checks_its_caller(tmp_path: Path) -> None:
    migration = planned(tmp_path, C8)
    assert [(v.schema_name, v.name) for v in migration.view_security] == [("s", "vc")]
    security = script(migration, "07_security.sql")
    assert "ALTER VIEW s.vc SET (security_invoker = true)" in security
    assert "ALTER VIEW s.vs" not in security  # intact chain: the owner's privileges, as before
    assert "server_version_num')::int < 150000" in security  # refuses PostgreSQL 14 and older
    # dbo's owner role still holds carol's: harmless, no module runs as it across the break
    assert "GRANT d1_carol_owner TO d1_owner" in script(migration, "02_memberships.sql")
    assert "GRANT SELECT ON TABLE s.vc, s.vs TO caller" in script(migration, "04_privileges.sql")
    assert not migration.routine_security  # s.pc stays SECURITY INVOKER
    (broken,) = findings(migration, "GB310")
    assert broken.securable == "s.vc"
    assert "s.tc is owned by carol, not dbo" in broken.evidence
    assert "nobody loses access" in broken.action
    (intact,) = findings(migration, "GB306")
    assert (intact.securable, intact.severity.value) == ("s.vs", "info")
    assert intact.evidence.endswith(": SELECT on s.ts")
    rollback = script(migration, "rollback.sql")
    assert "ALTER VIEW %s RESET (security_invoker)" in rollback


def test_routine_with_a_broken_reference_stays_invoker(tmp_path: Path) -> None:
    migration = planned(tmp_path, C9)
    assert not migration.routine_security
    assert "SECURITY DEFINER" not in script(migration, "07_security.sql").split("BEGIN;", 1)[1]
    (kept,) = findings(migration, "GB310")
    assert "s.tc is owned by carol, not dbo" in kept.evidence
    assert kept.action.startswith("Kept SECURITY INVOKER")
    (lost,) = findings(migration, "GB306")
    assert lost.severity.value == "high"
    assert "caller loses SELECT on s.ts through s.pboth, as s.pboth stays SECURITY" in lost.action
    assert "GRANT SELECT ON TABLE s.ts TO caller" in lost.action


def test_routine_with_a_broken_reference_under_grant_underlying(tmp_path: Path) -> None:
    migration = planned(tmp_path, C9, mode="grant_underlying")
    assert not migration.routine_security
    assert "GRANT SELECT ON TABLE s.ts TO caller" in script(migration, "04_privileges.sql")
    assert "GRANT SELECT ON TABLE s.tc TO caller" not in script(migration, "04_privileges.sql")
    assert findings(migration, "GB340")


def test_dynamic_sql_keeps_the_routine_invoker(tmp_path: Path) -> None:
    migration = planned(tmp_path, C46)
    assert not migration.routine_security
    (dynamic,) = findings(migration, "GB304")
    assert "stays SECURITY INVOKER: its dynamic SQL runs as the caller, as in SQL Server" in (
        dynamic.action
    )
    (kept,) = findings(migration, "GB310")
    assert "dynamic SQL" in kept.evidence
    (lost,) = findings(migration, "GB306")
    assert "GRANT SELECT ON TABLE s.t TO caller" in lost.action


def test_dynamic_sql_as_owner_stays_definer(tmp_path: Path) -> None:
    body = C46.replace("@tbl sysname AS", "@tbl sysname WITH EXECUTE AS OWNER AS")
    migration = planned(tmp_path, body)
    assert [r.name for r in migration.routine_security] == ["p"]
    (dynamic,) = findings(migration, "GB304")
    assert "its dynamic SQL runs as d1_owner" in dynamic.action
    assert not findings(migration, "GB310")


def test_foreign_owner_view_checks_its_caller(tmp_path: Path) -> None:
    migration = planned(tmp_path, C25)
    assert [(v.schema_name, v.name) for v in migration.view_security] == [("x", "v")]
    (broken,) = findings(migration, "GB310")
    assert "s.ts is owned by dbo, not carol" in broken.evidence
    assert not findings(migration, "GB306")  # the caller holds SELECT on s.ts itself


def test_execute_as_owner_gets_the_owner_permissions_it_uses(tmp_path: Path) -> None:
    migration = planned(tmp_path, C24)
    assert [(r.name, r.owner) for r in migration.routine_security] == [("p", "d1_carol_owner")]
    assert "GRANT SELECT ON TABLE s.ts TO carol, d1_carol_owner" in script(
        migration, "04_privileges.sql"
    )
    (used,) = findings(migration, "GB311")
    assert used.severity.value == "info"
    assert used.action.startswith("GRANT SELECT ON TABLE s.ts TO d1_carol_owner")


def test_owner_permissions_not_granted_when_another_role_holds_the_owner_role(
    tmp_path: Path,
) -> None:
    # dave owns schema y, carol an object in it: dave's owner role holds carol's, and would
    # get carol's SELECT on s.ts, which dave never had
    body = C24 + (
        "CREATE USER [dave] WITHOUT LOGIN\nGO\n"
        "CREATE SCHEMA [y] AUTHORIZATION [dave]\nGO\n"
        "CREATE TABLE [y].[o] ([id] int)\nGO\n"
        "ALTER AUTHORIZATION ON OBJECT::[y].[o] TO [carol]\nGO\n"
    )
    migration = planned(tmp_path, body)
    assert "TO d1_carol_owner" not in script(migration, "04_privileges.sql")
    (unused,) = findings(migration, "GB311")
    assert unused.severity.value == "high"
    assert unused.action.startswith("Not granted: d1_dave_owner holds d1_carol_owner")
    assert "GRANT SELECT ON TABLE s.ts TO d1_carol_owner" in unused.action


def test_view_calling_a_function_is_not_preserved(tmp_path: Path) -> None:
    migration = planned(tmp_path, C35)
    assert not migration.view_security  # every reference is dbo's
    # the caller reaches s.t through s.v and s.fn, all dbo's: s.fn runs as its owner
    assert [r.name for r in migration.routine_security] == ["fn"]
    (lost,) = findings(migration, "GB306")  # one for the caller and the view it runs
    assert lost.securable == "s.v"
    assert lost.evidence.endswith(": EXECUTE on s.fn, SELECT on s.t (s.v -> s.fn)")
    assert lost.severity.value == "high"
    assert lost.action.startswith(
        "Not preserved: caller loses EXECUTE on s.fn through s.v, as PostgreSQL checks EXECUTE "
        "on the functions a view calls"
    )
    assert lost.action.endswith("Preserved (1 of 2): s.fn is SECURITY DEFINER.")  # s.t
    assert "GRANT EXECUTE ON FUNCTION s.fn TO caller" in lost.action
    assert "s.fn is SECURITY DEFINER, so what it reaches needs no grant" in lost.action
    underlying = planned(tmp_path, C35, mode="grant_underlying")
    assert "GRANT EXECUTE ON FUNCTION s.fn TO caller" in script(underlying, "04_privileges.sql")
    assert findings(underlying, "GB340")


def test_routine_calling_an_invoker_routine_stays_invoker(tmp_path: Path) -> None:
    # as SECURITY DEFINER s.outer would run s.inner as d1_owner, which holds carol's table
    migration = planned(tmp_path, NESTED)
    assert not migration.routine_security
    (kept,) = findings(migration, "GB310")
    assert kept.securable == "s.outer"
    assert "it reaches s.inner, which would run as its owner role inside it" in kept.evidence
    (lost,) = findings(migration, "GB306")
    assert 'GRANT EXECUTE ON ROUTINE s."inner" TO caller' in lost.action


def test_impersonation_text_matches_the_script(tmp_path: Path) -> None:
    migration = planned(tmp_path, C32)
    assert [r.name for r in migration.routine_security] == ["p"]
    assert "ALTER ROUTINE s.p SECURITY DEFINER" in script(migration, "07_security.sql")
    (impersonation,) = findings(migration, "GB301")
    assert "SECURITY DEFINER owned by d1_owner" in impersonation.action
    assert "INVOKER" not in impersonation.action


def test_impersonation_across_a_broken_chain_stays_invoker(tmp_path: Path) -> None:
    body = C32 + "ALTER AUTHORIZATION ON OBJECT::[s].[secret] TO [carol]\nGO\n"
    body += "GRANT SELECT ON OBJECT::[s].[secret] TO [bot]\nGO\n"
    migration = planned(tmp_path, body)
    assert not migration.routine_security
    (impersonation,) = findings(migration, "GB301")
    assert "stays SECURITY INVOKER, so s.secret is checked against the caller instead of bot" in (
        impersonation.action
    )
    assert "what bot held there: SELECT on s.secret" in impersonation.action


@pytest.mark.parametrize(("other_owner", "invoker"), [(False, False), (True, True)])
def test_view_without_body(tmp_path: Path, other_owner: bool, invoker: bool) -> None:
    body = "CREATE TABLE [s].[t] ([id] int)\nGO\nCREATE VIEW [s].[v] AS SELECT id FROM s.t\nGO\n"
    if other_owner:
        body += "CREATE TABLE [s].[c] ([id] int)\nGO\nALTER AUTHORIZATION ON OBJECT::[s].[c] TO [{p}carol]\nGO\n"
    script_path = tmp_path / "estate.sql"
    script_path.write_text(estate(body), encoding="utf-8")
    snapshot = extract_scripts([script_path])  # no bodies
    migration = plan(snapshot, Policy())
    assert bool(migration.view_security) is invoker
    assert bool(findings(migration, "GB310")) is invoker


# --------------------------------------------------------------------------- real PostgreSQL

#: The converted objects, as the schema conversion would leave them (owned by the applying
#: user; the plan's 03 gives them to their owner roles), with one row each.
TARGETS = {
    "c8": """
        CREATE SCHEMA s;
        CREATE TABLE s.ts (id int); INSERT INTO s.ts VALUES (1);
        CREATE TABLE s.tc (id int, secret int); INSERT INTO s.tc VALUES (1, 42);
        CREATE VIEW s.vc AS SELECT id, secret FROM s.tc;
        CREATE VIEW s.vs AS SELECT id FROM s.ts;
        CREATE FUNCTION s.pc() RETURNS int LANGUAGE plpgsql
          AS $$ BEGIN RETURN (SELECT secret FROM s.tc); END $$;
    """,
    "c9": """
        CREATE SCHEMA s;
        CREATE TABLE s.ts (id int); INSERT INTO s.ts VALUES (1);
        CREATE TABLE s.tc (id int, secret int); INSERT INTO s.tc VALUES (1, 42);
        CREATE FUNCTION s.pboth() RETURNS int LANGUAGE plpgsql
          AS $$ BEGIN PERFORM id FROM s.ts; RETURN (SELECT secret FROM s.tc); END $$;
    """,
    "c25": """
        CREATE SCHEMA s; CREATE SCHEMA x;
        CREATE TABLE s.ts (id int); INSERT INTO s.ts VALUES (7);
        CREATE VIEW x.v AS SELECT id FROM s.ts;
    """,
    "nested": """
        CREATE SCHEMA s;
        CREATE TABLE s.tc (id int, secret int); INSERT INTO s.tc VALUES (1, 42);
        CREATE FUNCTION s.inner() RETURNS int LANGUAGE plpgsql
          AS $$ BEGIN RETURN (SELECT secret FROM s.tc); END $$;
        CREATE FUNCTION s.outer() RETURNS int LANGUAGE plpgsql
          AS $$ BEGIN RETURN s.inner(); END $$;
    """,
    "c24": """
        CREATE SCHEMA s; CREATE SCHEMA x;
        CREATE TABLE s.ts (id int); INSERT INTO s.ts VALUES (7);
        CREATE FUNCTION x.p() RETURNS int LANGUAGE plpgsql
          AS $$ BEGIN RETURN (SELECT id FROM s.ts); END $$;
    """,
}


@contextlib.contextmanager
def applied(
    pg_dsn: str, prefix: str, tmp_path: Path, body: str, target: str
) -> Iterator[psycopg.Connection[Any]]:
    """The case planned with prefixed names, its objects created, the plan applied as
    ``grantbridge apply`` does; a connection to its database as the applying user. Planned for
    plain PostgreSQL: no RDS stand-in roles, which tests running at the same time on the same
    server would also create."""
    migration = planned(
        tmp_path, body, database=f"{prefix}_d", prefix=f"{prefix}_", target="postgresql"
    )
    ensure_databases(pg_dsn, migration, create=True)
    (database,) = migration.databases
    with connect(pg_dsn, database.name) as conn:
        conn.execute(TARGETS[target].encode())
    apply_plan_dir(write_plan_dir(tmp_path / "plan", migration), pg_dsn)
    with connect(pg_dsn, database.name) as conn:
        yield conn


def run_as(conn: psycopg.Connection[Any], role: str, query: str) -> Any:
    """``query``'s first value as ``role``; a PostgreSQL error is raised."""
    conn.execute(sql.SQL("SET ROLE {}").format(sql.Identifier(role)))
    try:
        row = conn.execute(query.encode()).fetchone()
        return row[0] if row else None
    finally:
        conn.execute("RESET ROLE")


def test_pg_view_across_a_broken_chain_refuses_the_caller(
    pg_dsn: str, prefix: str, tmp_path: Path
) -> None:
    """SQL Server checks caller's SELECT on carol's s.tc (dbo's view, broken chain): denied."""
    with applied(pg_dsn, prefix, tmp_path, C8, "c8") as conn:
        caller = f"{prefix}_caller"
        assert run_as(conn, caller, "SELECT id FROM s.vs") == 1  # intact chain: allowed
        with pytest.raises(psycopg.errors.InsufficientPrivilege, match="table tc"):
            run_as(conn, caller, "SELECT secret FROM s.vc")


def test_pg_routine_with_a_broken_reference_refuses_the_caller(
    pg_dsn: str, prefix: str, tmp_path: Path
) -> None:
    """SQL Server checks caller's SELECT on carol's s.tc inside dbo's s.pboth: denied."""
    with applied(pg_dsn, prefix, tmp_path, C9, "c9") as conn:
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            run_as(conn, f"{prefix}_caller", "SELECT s.pboth()")
        row = conn.execute("SELECT prosecdef FROM pg_proc WHERE proname = 'pboth'").fetchone()
        assert row == (False,)


def test_pg_routine_calling_an_invoker_routine_refuses_the_caller(
    pg_dsn: str, prefix: str, tmp_path: Path
) -> None:
    """SQL Server checks caller's SELECT on carol's s.tc inside s.inner, reached through
    s.outer (dbo's both): denied."""
    with (
        applied(pg_dsn, prefix, tmp_path, NESTED, "nested") as conn,
        pytest.raises(psycopg.errors.InsufficientPrivilege),
    ):
        run_as(conn, f"{prefix}_caller", "SELECT s.outer()")


def test_pg_foreign_owner_view_answers_a_caller_holding_the_table(
    pg_dsn: str, prefix: str, tmp_path: Path
) -> None:
    """SQL Server checks caller's own SELECT on dbo's s.ts (carol's view): allowed."""
    with applied(pg_dsn, prefix, tmp_path, C25, "c25") as conn:
        assert run_as(conn, f"{prefix}_caller", "SELECT id FROM x.v") == 7


def test_pg_execute_as_owner_uses_the_owner_permission(
    pg_dsn: str, prefix: str, tmp_path: Path
) -> None:
    """SQL Server runs x.p as carol, whose SELECT on dbo's s.ts answers: allowed."""
    with applied(pg_dsn, prefix, tmp_path, C24, "c24") as conn:
        caller = f"{prefix}_caller"
        assert run_as(conn, caller, "SELECT x.p()") == 7
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            run_as(conn, caller, "SELECT id FROM s.ts")  # not granted to caller itself
