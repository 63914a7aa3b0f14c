"""Ownership chains followed through modules calling modules, and what EXECUTE AS OWNER reaches.

SQL Server compares each link of a chain with the previous one ("Ownership Chains",
learn.microsoft.com): view ``s.v`` (dbo) calling ``s.f1`` (dbo) calling ``s.f2`` (dbo) reading
``s.t`` checks the caller on ``s.t`` only where ``s.t`` has another owner, two calls down.
PostgreSQL runs a view's functions as its caller and a SECURITY DEFINER routine as its owner.
Each case is planned from T-SQL with module bodies (``--include-definitions``); the depth-2
cases are applied to real PostgreSQL and queried as the caller after the grants the GB306
findings name: answered exactly where SQL Server answers.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from mapper.modules import analyze_definition
from mapper.plan import MigrationPlan
from pg_emit.apply import apply_plan_dir
from pg_emit.server import connect
from pg_emit.verify import ensure_databases
from tests.emit.conftest import write_plan_dir
from tests.modules.test_ownership_chains import findings, planned, run_as, script

#: View s.v → s.f1 → s.f2 → s.t, all dbo's but s.t, carol's: the chain breaks two calls down.
DEPTH2 = """
CREATE TABLE [s].[t] ([id] int, [secret] int)
GO
ALTER AUTHORIZATION ON OBJECT::[s].[t] TO [{p}carol]
GO
CREATE FUNCTION [s].[f2]() RETURNS int AS BEGIN RETURN (SELECT MAX(secret) FROM s.t) END
GO
CREATE FUNCTION [s].[f1]() RETURNS int AS BEGIN RETURN s.f2() END
GO
CREATE VIEW [s].[v] AS SELECT s.f1() AS n
GO
GRANT SELECT ON OBJECT::[s].[v] TO [{p}caller]
GO
"""
#: The same, every object dbo's: SQL Server checks nothing past s.v.
DEPTH2_INTACT = DEPTH2.replace("ALTER AUTHORIZATION ON OBJECT::[s].[t] TO [{p}carol]\nGO\n", "")
#: SQL Server checks caller's SELECT on carol's s.t, and it holds it.
DEPTH2_HELD = DEPTH2 + "GRANT SELECT ON OBJECT::[s].[t] TO [{p}caller]\nGO\n"
#: Mutually recursive procedures; s.p2 reads s.t; caller may run s.p1 only.
MUTUAL = """
CREATE TABLE [s].[t] ([id] int)
GO
CREATE PROCEDURE [s].[p1] @n int AS BEGIN IF @n > 0 EXEC s.p2 @n; END
GO
CREATE PROCEDURE [s].[p2] @n int AS BEGIN SELECT id FROM s.t; EXEC s.p1 @n; EXEC s.p2 @n; END
GO
GRANT EXECUTE ON OBJECT::[s].[p1] TO [{p}caller]
GO
"""
#: carol's EXECUTE AS OWNER x.p calls carol's x.f, which reads dbo's s.ts through carol's grant.
OWNER_DEPTH = """
CREATE SCHEMA [x] AUTHORIZATION [{p}carol]
GO
CREATE TABLE [s].[ts] ([id] int)
GO
CREATE FUNCTION [x].[f]() RETURNS int AS BEGIN RETURN (SELECT MAX(id) FROM s.ts) END
GO
CREATE PROCEDURE [x].[p] WITH EXECUTE AS OWNER AS SELECT x.f() AS n
GO
GRANT SELECT ON OBJECT::[s].[ts] TO [{p}carol]
GO
GRANT EXECUTE ON OBJECT::[x].[p] TO [{p}caller]
GO
"""
#: carol's EXECUTE AS OWNER x.p reading dbo's s.ts through carol's view x.v.
OWNER_VIEW = """
CREATE SCHEMA [x] AUTHORIZATION [{p}carol]
GO
CREATE TABLE [s].[ts] ([id] int)
GO
CREATE VIEW [x].[v] AS SELECT id FROM s.ts
GO
CREATE PROCEDURE [x].[p] WITH EXECUTE AS OWNER AS SELECT id FROM x.v
GO
GRANT SELECT ON OBJECT::[s].[ts] TO [{p}carol]
GO
GRANT EXECUTE ON OBJECT::[x].[p] TO [{p}caller]
GO
"""


def owner_dynamic(text: str) -> str:
    """carol's EXECUTE AS OWNER x.p running ``text`` as dynamic SQL (carol may read s.ts)."""
    return f"""
CREATE SCHEMA [x] AUTHORIZATION [{{p}}carol]
GO
CREATE TABLE [s].[ts] ([id] int)
GO
CREATE PROCEDURE [x].[p] @c sysname WITH EXECUTE AS OWNER AS
BEGIN
  {text}
END
GO
GRANT SELECT ON OBJECT::[s].[ts] TO [{{p}}carol]
GO
"""


# --------------------------------------------------------------------------- plans


def test_view_two_calls_above_a_broken_chain(tmp_path: Path) -> None:
    migration = planned(tmp_path, DEPTH2)
    assert not migration.routine_security  # s.f1 as SECURITY DEFINER would run s.f2 as d1_owner
    assert not migration.view_security  # s.v reads no table itself: its functions run as caller
    # one finding for the caller and the view it runs: every GRANT it needs below, any depth
    (through_v,) = findings(migration, "GB306")
    assert (through_v.principal, through_v.securable) == ("caller", "s.v")
    assert through_v.evidence.endswith(": EXECUTE on s.f1, EXECUTE on s.f2 (s.v -> s.f1)")
    assert "caller loses EXECUTE on s.f1, EXECUTE on s.f2 through s.v" in through_v.action
    assert "GRANT EXECUTE ON FUNCTION s.f1, s.f2 TO caller" in through_v.action
    assert "s.t" not in through_v.action  # SQL Server checks the caller on carol's table anyway


def test_view_two_calls_above_an_intact_chain(tmp_path: Path) -> None:
    migration = planned(tmp_path, DEPTH2_INTACT)
    # the caller reaches s.f1, s.f2 and s.t unchecked: both functions run as their owner
    assert [(r.name, r.owner) for r in migration.routine_security] == [
        ("f1", "d1_owner"), ("f2", "d1_owner"),
    ]  # fmt: skip
    (through_v,) = findings(migration, "GB306")
    assert through_v.securable == "s.v"
    assert through_v.evidence.endswith(
        ": EXECUTE on s.f1, EXECUTE on s.f2 (s.v -> s.f1), SELECT on s.t (s.v -> s.f1 -> s.f2)"
    )
    assert through_v.severity.value == "high"  # EXECUTE on s.f1 is lost
    assert "GRANT EXECUTE ON FUNCTION s.f1 TO caller (" in through_v.action
    assert "s.f1 is SECURITY DEFINER, so what it reaches needs no grant" in through_v.action
    assert through_v.action.endswith("Preserved (2 of 3): s.f1 is SECURITY DEFINER.")


def test_view_two_calls_deep_under_grant_underlying(tmp_path: Path) -> None:
    migration = planned(tmp_path, DEPTH2_INTACT, mode="grant_underlying")
    privileges = script(migration, "04_privileges.sql")
    assert "GRANT EXECUTE ON FUNCTION s.f1, s.f2 TO caller" in privileges
    assert re.search(r"GRANT SELECT ON TABLE s\.t, s\.v TO caller", privileges)
    assert len(findings(migration, "GB340")) == 3


def test_mutual_recursion_ends_and_is_deterministic(tmp_path: Path) -> None:
    first = planned(tmp_path, MUTUAL)
    again = planned(tmp_path, MUTUAL)
    assert first.model_dump_json() == again.model_dump_json()
    assert [r.name for r in first.routine_security] == ["p1", "p2"]
    (through_p1,) = findings(first, "GB306")
    assert through_p1.securable == "s.p1"
    assert through_p1.evidence.endswith(
        ": EXECUTE on s.p2, EXECUTE on s.p2 (s.p1 -> s.p2), SELECT on s.t (s.p1 -> s.p2)"
    )
    assert (through_p1.severity.value, through_p1.action) == (
        "info", "Preserved (3 of 3): s.p1 is SECURITY DEFINER."
    )  # fmt: skip
    carol = planned(tmp_path, MUTUAL + "ALTER AUTHORIZATION ON OBJECT::[s].[t] TO [carol]\nGO\n")
    assert not carol.routine_security  # s.p2 reads carol's s.t; s.p1 reaches s.p2


def test_execute_as_owner_gets_what_a_function_it_calls_uses(tmp_path: Path) -> None:
    migration = planned(tmp_path, OWNER_DEPTH)
    assert [(r.name, r.owner) for r in migration.routine_security] == [("p", "d1_carol_owner")]
    assert "GRANT SELECT ON TABLE s.ts TO carol, d1_carol_owner" in script(
        migration, "04_privileges.sql"
    )
    (used,) = findings(migration, "GB311")
    assert used.severity.value == "info"
    assert "uses SELECT on s.ts in x.f, which it reaches, owned by dbo," in used.evidence


def test_execute_as_owner_gets_what_a_view_it_reads_uses(tmp_path: Path) -> None:
    migration = planned(tmp_path, OWNER_VIEW)
    assert [v.name for v in migration.view_security] == ["v"]  # carol's view, dbo's table
    assert "GRANT SELECT ON TABLE s.ts TO carol, d1_carol_owner" in script(
        migration, "04_privileges.sql"
    )


def test_execute_as_owner_through_another_owners_chain_is_said(tmp_path: Path) -> None:
    # x.p (carol's) calls dbo's s.g, which reads dbo's s.ts (no check in SQL Server: dbo's
    # chain) and dave's y.tz (checked against carol, who holds it); s.g stays INVOKER
    body = """
CREATE USER [dave] WITHOUT LOGIN
GO
CREATE SCHEMA [x] AUTHORIZATION [{p}carol]
GO
CREATE SCHEMA [y] AUTHORIZATION [dave]
GO
CREATE TABLE [s].[ts] ([id] int)
GO
CREATE TABLE [y].[tz] ([id] int)
GO
CREATE FUNCTION [s].[g]() RETURNS int AS BEGIN RETURN (SELECT COUNT(*) FROM s.ts JOIN y.tz ON 1 = 1) END
GO
CREATE PROCEDURE [x].[p] WITH EXECUTE AS OWNER AS SELECT s.g() AS n
GO
GRANT EXECUTE ON OBJECT::[s].[g] TO [{p}carol]
GO
GRANT SELECT ON OBJECT::[y].[tz] TO [{p}carol]
GO
"""
    migration = planned(tmp_path, body)
    assert [r.name for r in migration.routine_security] == ["p"]
    privileges = script(migration, "04_privileges.sql")
    assert "GRANT EXECUTE ON FUNCTION s.g TO carol, d1_carol_owner" in privileges
    assert "GRANT SELECT ON TABLE y.tz TO carol, d1_carol_owner" in privileges
    assert "ON TABLE s.ts" not in privileges
    by_object = {f.securable: f for f in findings(migration, "GB311")}
    assert set(by_object) == {"x.p->s.g:EXECUTE", "x.p->y.tz:SELECT", "x.p->s.ts:SELECT"}
    chained = by_object["x.p->s.ts:SELECT"]
    assert chained.severity.value == "high"
    assert "through the ownership chain of s.g (SQL Server checked nobody there)" in (
        chained.evidence
    )
    assert (
        "After review, in database d1: GRANT SELECT ON TABLE s.ts TO d1_carol_owner"
        in chained.action
    )


def test_execute_as_owner_constant_dynamic_sql_is_granted(tmp_path: Path) -> None:
    body = owner_dynamic("EXEC sp_executesql N'SELECT id FROM s.ts';")
    migration = planned(tmp_path, body)
    assert "GRANT SELECT ON TABLE s.ts TO carol, d1_carol_owner" in script(
        migration, "04_privileges.sql"
    )
    (used,) = findings(migration, "GB311")
    assert used.securable == "x.p->s.ts:SELECT"


def test_execute_as_owner_built_dynamic_sql_is_said_unknown(tmp_path: Path) -> None:
    body = owner_dynamic(
        "DECLARE @sql nvarchar(max) = N'SELECT ' + @c + N' FROM s.ts'; EXEC (@sql);"
    )
    migration = planned(tmp_path, body)
    assert "d1_carol_owner" not in script(migration, "04_privileges.sql").split("TO carol")[-1]
    (unknown,) = findings(migration, "GB311")
    assert (unknown.securable, unknown.severity.value) == ("x.p->x.p:unknown", "high")
    assert "its dynamic SQL at line 3 is built at run time" in unknown.evidence
    assert unknown.action.startswith("Not determinable: inside x.p (SECURITY DEFINER)")


def test_view_through_a_synonym_of_another_database_checks_its_caller(tmp_path: Path) -> None:
    body = (
        "CREATE TABLE [s].[t] ([id] int)\nGO\nCREATE SYNONYM [s].[syn] FOR [Other].[s].[t]\nGO\n"
        "CREATE VIEW [s].[v] AS SELECT id FROM s.syn\nGO\n"
    )
    migration = planned(tmp_path, body)
    assert [v.name for v in migration.view_security] == ["v"]
    (broken,) = findings(migration, "GB310")
    assert "synonym s.syn, whose base object [Other].[s].[t] is in another" in broken.evidence


def test_one_finding_per_caller_and_module_it_runs(tmp_path: Path) -> None:
    """A chain of 120 procedures, each reading its own table, the last one carol's (so each
    stays SECURITY INVOKER): 239 objects reached only by chaining, one GB306 naming the first
    100 (nearest first) and counting the rest, its GRANTs merged per privilege."""
    procs = [
        f"CREATE TABLE [s].[t{i:03}] ([id] int)\nGO\n"
        f"CREATE PROCEDURE [s].[p{i:03}] AS BEGIN SELECT id FROM s.t{i:03};"
        + (f" EXEC s.p{i + 1:03};" if i < 119 else " SELECT id FROM s.tc;")
        + " END\nGO\n"
        for i in range(120)
    ]
    body = (
        "CREATE TABLE [s].[tc] ([id] int)\nGO\nALTER AUTHORIZATION ON OBJECT::[s].[tc] TO "
        "[{p}carol]\nGO\n"
        + "".join(procs)
        + "GRANT EXECUTE ON OBJECT::[s].[p000] TO [{p}caller]\nGO\n"
    )
    migration = planned(tmp_path, body)
    assert not migration.routine_security
    (chained,) = findings(migration, "GB306")
    assert (chained.principal, chained.securable) == ("caller", "s.p000")
    assert "reaches 239 objects only by ownership chaining" in chained.evidence
    assert chained.evidence.startswith(
        "caller can run s.p000 and through it reaches 239 objects only by ownership chaining"
    )
    assert ": EXECUTE on s.p001, SELECT on s.t000, EXECUTE on s.p002 (s.p000 -> s.p001), " in (
        chained.evidence
    )
    assert chained.evidence.endswith(
        ", and 139 more as deep or deeper (EXECUTE on 69, SELECT on 70)"
    )
    assert "GRANT EXECUTE ON ROUTINE s.p001, s.p002, " in chained.action
    assert "; GRANT SELECT ON TABLE s.t000, s.t001, " in chained.action
    assert "; and GRANTs on 139 more objects (the first 100 are named)" in chained.action


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("SELECT * FROM s.tvf(1)", [("s.tvf", "SELECT")]),
        ("DECLARE @p sysname = N's.q'; EXEC @p;", [("s.q", "EXECUTE")]),
    ],
)
def test_references_the_body_makes_known(body: str, expected: list[tuple[str, str]]) -> None:
    analysis = analyze_definition("s", "p", f"CREATE PROCEDURE s.p AS BEGIN {body} END")
    assert [(r.qualified, r.access) for r in analysis.references] == expected
    assert not analysis.unparsed


def test_module_named_by_a_variable_is_said_unknown() -> None:
    analysis = analyze_definition("s", "p", "CREATE PROCEDURE s.p @x sysname AS EXEC @x")
    assert not analysis.references
    (note,) = analysis.unparsed
    assert "EXEC @x runs the module the variable names, which is not a constant" in note


def test_constant_dynamic_sql_references_are_read() -> None:
    body = "DECLARE @s nvarchar(max) = N'UPDATE s.t SET a = 1'; EXEC (@s); EXEC (N'SELECT ' + @c)"
    known, built = analyze_definition(
        "s", "p", f"CREATE PROCEDURE s.p @c int AS BEGIN {body} END"
    ).dynamic_sql
    assert [(r.qualified, r.access) for r in known.reads or ()] == [("s.t", "UPDATE")]
    assert built.reads is None


# --------------------------------------------------------------------------- real PostgreSQL

#: The converted objects of DEPTH2 (the schema conversion's work), one row in s.t.
DEPTH2_PG = """
    CREATE SCHEMA s;
    CREATE TABLE s.t (id int, secret int); INSERT INTO s.t VALUES (1, 42);
    CREATE FUNCTION s.f2() RETURNS int LANGUAGE plpgsql
      AS $$ BEGIN RETURN (SELECT max(secret) FROM s.t); END $$;
    CREATE FUNCTION s.f1() RETURNS int LANGUAGE plpgsql AS $$ BEGIN RETURN s.f2(); END $$;
    CREATE VIEW s.v AS SELECT s.f1() AS n;
"""
OWNER_DEPTH_PG = """
    CREATE SCHEMA s; CREATE SCHEMA x;
    CREATE TABLE s.ts (id int); INSERT INTO s.ts VALUES (7);
    CREATE FUNCTION x.f() RETURNS int LANGUAGE plpgsql
      AS $$ BEGIN RETURN (SELECT max(id) FROM s.ts); END $$;
    CREATE FUNCTION x.p() RETURNS int LANGUAGE plpgsql AS $$ BEGIN RETURN x.f(); END $$;
"""


@contextlib.contextmanager
def applied(
    pg_dsn: str, prefix: str, tmp_path: Path, body: str, objects: str
) -> Iterator[tuple[psycopg.Connection[Any], MigrationPlan]]:
    """The case planned with prefixed names for plain PostgreSQL, its objects created, the plan
    applied as ``grantbridge apply`` does; a connection to its database and the plan."""
    migration = planned(
        tmp_path, body, database=f"{prefix}_d", prefix=f"{prefix}_", target="postgresql"
    )
    ensure_databases(pg_dsn, migration, create=True)
    (database,) = migration.databases
    with connect(pg_dsn, database.name) as conn:
        conn.execute(objects.encode())
    apply_plan_dir(write_plan_dir(tmp_path / "plan", migration), pg_dsn)
    with connect(pg_dsn, database.name) as conn:
        yield conn, migration


def grant_as_advised(conn: psycopg.Connection[Any], migration: MigrationPlan) -> list[str]:
    """Run every GRANT the GB306 findings name to restore what a caller lost."""
    restore = [re.split(r"To restore it, in database [^:]+: ", f.action, maxsplit=1)
               for f in findings(migration, "GB306")]  # fmt: skip
    grants = sorted(
        {g for r in restore if len(r) == 2 for g in re.findall(r"GRANT [^;(]+? TO [^\s;]+", r[1])}
    )  # fmt: skip
    for grant in grants:
        conn.execute(grant.encode())
    return grants


@pytest.mark.parametrize(("body", "answered"), [(DEPTH2, False), (DEPTH2_HELD, True)])
def test_pg_view_two_calls_above_a_broken_chain(
    pg_dsn: str, prefix: str, tmp_path: Path, body: str, answered: bool
) -> None:
    """SQL Server checks caller's SELECT on carol's s.t only: answered iff caller holds it."""
    with applied(pg_dsn, prefix, tmp_path, body, DEPTH2_PG) as (conn, migration):
        caller = f"{prefix}_caller"
        grants = grant_as_advised(conn, migration)
        if answered:
            assert run_as(conn, caller, "SELECT n FROM s.v") == 42
        else:
            with pytest.raises(psycopg.errors.InsufficientPrivilege, match="table t"):
                run_as(conn, caller, "SELECT n FROM s.v")
        assert grants == [f"GRANT EXECUTE ON FUNCTION s.f1, s.f2 TO {caller}"]


def test_pg_view_two_calls_above_an_intact_chain(pg_dsn: str, prefix: str, tmp_path: Path) -> None:
    """SQL Server checks nothing past s.v (all dbo's): answered, the table not granted."""
    with applied(pg_dsn, prefix, tmp_path, DEPTH2_INTACT, DEPTH2_PG) as (conn, migration):
        caller = f"{prefix}_caller"
        grants = grant_as_advised(conn, migration)
        assert run_as(conn, caller, "SELECT n FROM s.v") == 42
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            run_as(conn, caller, "SELECT secret FROM s.t")
        assert grants == [f"GRANT EXECUTE ON FUNCTION s.f1 TO {caller}"]


def test_pg_execute_as_owner_through_a_function_it_calls(
    pg_dsn: str, prefix: str, tmp_path: Path
) -> None:
    """SQL Server runs x.p and x.f as carol, whose SELECT on dbo's s.ts answers."""
    with applied(pg_dsn, prefix, tmp_path, OWNER_DEPTH, OWNER_DEPTH_PG) as (conn, _):
        assert run_as(conn, f"{prefix}_caller", "SELECT x.p()") == 7
