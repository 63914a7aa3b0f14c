"""The GRANTs a module finding advises for after review (GB306, GB311) name USAGE on the schema.

In PostgreSQL a GRANT SELECT on y.t reaches nothing without USAGE on schema y ("For schemas,
allows access to objects contained in the schema", https://www.postgresql.org/docs/15/
ddl-priv.html). The plan gives USAGE to every grantee of something in a schema; advice is not in
the plan, so it names ``GRANT USAGE ON SCHEMA`` itself where the grantee gets none there. Applied
verbatim after the plan on real PostgreSQL, the advice now works; the GRANT alone does not.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from mapper.plan import MigrationPlan
from pg_emit.apply import apply_plan_dir
from pg_emit.server import connect
from pg_emit.verify import ensure_databases
from tests.emit.conftest import write_plan_dir
from tests.modules.test_ownership_chains import C9, C24, findings, planned, run_as

#: C24, and dave's schema y holding an object of carol's: dave's owner role holds carol's, so
#: carol's own SELECT on s.ts, which her EXECUTE AS OWNER x.p uses, is advised, not granted.
OTHERS_HOLD = C24 + (
    "CREATE USER [{p}dave] WITHOUT LOGIN\nGO\nCREATE SCHEMA [y] AUTHORIZATION [{p}dave]\nGO\n"
    "CREATE TABLE [y].[o] ([id] int)\nGO\nALTER AUTHORIZATION ON OBJECT::[y].[o] TO [{p}carol]\nGO\n"
)
#: dbo's s.p reads dbo's z.t (intact chain) and carol's s.tc (broken: it stays SECURITY
#: INVOKER), so caller loses SELECT on z.t; caller gets nothing in schema z.
OTHER_SCHEMA = """
CREATE SCHEMA [z] AUTHORIZATION [dbo]
GO
CREATE TABLE [z].[t] ([id] int)
GO
CREATE TABLE [s].[tc] ([id] int, [secret] int)
GO
ALTER AUTHORIZATION ON OBJECT::[s].[tc] TO [{p}carol]
GO
CREATE PROCEDURE [s].[p] AS BEGIN SELECT id FROM z.t; SELECT secret FROM s.tc; END
GO
GRANT EXECUTE ON OBJECT::[s].[p] TO [{p}caller]
GO
"""

#: The converted objects, as the schema conversion would leave them (see test_ownership_chains).
TARGETS = {
    "others": """
        CREATE SCHEMA s; CREATE SCHEMA x; CREATE SCHEMA y;
        CREATE TABLE s.ts (id int); INSERT INTO s.ts VALUES (7);
        CREATE TABLE y.o (id int);
        CREATE FUNCTION x.p() RETURNS int LANGUAGE plpgsql
          AS $$ BEGIN RETURN (SELECT id FROM s.ts); END $$;
    """,
    "schema": """
        CREATE SCHEMA s; CREATE SCHEMA z;
        CREATE TABLE z.t (id int); INSERT INTO z.t VALUES (5);
        CREATE TABLE s.tc (id int, secret int); INSERT INTO s.tc VALUES (1, 42);
        CREATE FUNCTION s.p() RETURNS int LANGUAGE plpgsql
          AS $$ BEGIN PERFORM id FROM z.t; RETURN (SELECT secret FROM s.tc); END $$;
    """,
}


def _advised(action: str, start: str, end: str | None = None) -> list[str]:
    """The statements an action advises, from ``start`` and the database it names to ``end``
    (or the final period)."""
    tail = action.split(start, 1)[1]
    assert tail.startswith("in database "), tail
    tail = tail.split(": ", 1)[1]
    tail = tail.split(end, 1)[0] if end is not None else tail.removesuffix(".")
    return tail.split("; ")


def _gb311(migration: MigrationPlan) -> list[str]:
    (unused,) = findings(migration, "GB311")
    assert unused.severity.value == "high"
    return _advised(unused.action, "after review, ")


def _gb306(migration: MigrationPlan) -> list[str]:
    (lost,) = findings(migration, "GB306")
    return _advised(lost.action, "To restore it, ", " (a widening")


def test_owner_permission_advice_names_usage_on_the_schema(tmp_path: Path) -> None:
    assert _gb311(planned(tmp_path, OTHERS_HOLD)) == [
        "GRANT USAGE ON SCHEMA s TO d1_carol_owner",  # carol's owner role has nothing in s
        "GRANT SELECT ON TABLE s.ts TO d1_carol_owner",
    ]


def test_chain_advice_names_usage_where_the_caller_has_none(tmp_path: Path) -> None:
    assert _gb306(planned(tmp_path, OTHER_SCHEMA)) == [
        "GRANT USAGE ON SCHEMA z TO caller",
        "GRANT SELECT ON TABLE z.t TO caller",
    ]


def test_no_usage_where_the_plan_gives_it(tmp_path: Path) -> None:
    # caller may EXECUTE s.pboth, so the plan gives it USAGE on s, where s.ts is
    assert _gb306(planned(tmp_path, C9)) == ["GRANT SELECT ON TABLE s.ts TO caller"]
    # nor the schema's owner role: carol's owns s, whose s.ts is dbo's
    body = OTHERS_HOLD.replace(
        "CREATE TABLE [s].[ts] ([id] int)\nGO\n",
        "ALTER AUTHORIZATION ON SCHEMA::[s] TO [{p}carol]\nGO\nCREATE TABLE [s].[ts] ([id] int)\n"
        "GO\nALTER AUTHORIZATION ON OBJECT::[s].[ts] TO [dbo]\nGO\n",
    )
    assert _gb311(planned(tmp_path, body)) == ["GRANT SELECT ON TABLE s.ts TO d1_carol_owner"]


# --------------------------------------------------------------------------- real PostgreSQL


@contextlib.contextmanager
def _applied(
    pg_dsn: str, prefix: str, tmp_path: Path, body: str, target: str
) -> Iterator[tuple[MigrationPlan, psycopg.Connection[Any]]]:
    """The case planned with prefixed names (plain PostgreSQL: no RDS stand-in roles), its
    objects created, the plan applied; the plan and a connection to its database."""
    migration = planned(
        tmp_path, body, database=f"{prefix}_d", prefix=f"{prefix}_", target="postgresql"
    )
    ensure_databases(pg_dsn, migration, create=True)
    (database,) = migration.databases
    with connect(pg_dsn, database.name) as conn:
        conn.execute(TARGETS[target].encode())
    apply_plan_dir(write_plan_dir(tmp_path / "plan", migration), pg_dsn)
    with connect(pg_dsn, database.name) as conn:
        yield migration, conn


def _run(conn: psycopg.Connection[Any], statements: list[str]) -> None:
    for statement in statements:
        conn.execute(statement.encode())


def test_pg_owner_permission_advice_applied_verbatim_works(
    pg_dsn: str, prefix: str, tmp_path: Path
) -> None:
    """x.p runs as carol's owner role (SECURITY DEFINER): the advised GRANT SELECT alone leaves
    it without USAGE on s; with the advised USAGE it reads s.ts, as carol did in SQL Server."""
    with _applied(pg_dsn, prefix, tmp_path, OTHERS_HOLD, "others") as (migration, conn):
        advice = _gb311(migration)
        caller = f"{prefix}_caller"
        _run(conn, [s for s in advice if "USAGE" not in s])  # the advice as it was
        with pytest.raises(psycopg.errors.InsufficientPrivilege, match="schema s"):
            run_as(conn, caller, "SELECT x.p()")
        _run(conn, advice)
        assert run_as(conn, caller, "SELECT x.p()") == 7


def test_pg_chain_advice_applied_verbatim_works(pg_dsn: str, prefix: str, tmp_path: Path) -> None:
    """caller reached z.t only through s.p's chain; the advised GRANT SELECT alone does not let
    it read z.t (no USAGE on z); the advice as given does."""
    with _applied(pg_dsn, prefix, tmp_path, OTHER_SCHEMA, "schema") as (migration, conn):
        advice = _gb306(migration)
        caller = f"{prefix}_caller"
        _run(conn, [s for s in advice if "USAGE" not in s])
        with pytest.raises(psycopg.errors.InsufficientPrivilege, match="schema z"):
            run_as(conn, caller, "SELECT id FROM z.t")
        _run(conn, advice)
        assert run_as(conn, caller, "SELECT id FROM z.t") == 5
