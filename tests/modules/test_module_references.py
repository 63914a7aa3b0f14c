"""References a module body makes beyond FROM and EXEC: ``NEXT VALUE FOR`` and ``APPLY``.

``NEXT VALUE FOR s.seq`` needs UPDATE on the sequence in SQL Server ("NEXT VALUE FOR
(Transact-SQL)", Permissions), skipped through an intact ownership chain like any object's
check; PostgreSQL's ``nextval`` needs USAGE or UPDATE ("Sequence Manipulation Functions"), and
the plan names USAGE. ``CROSS APPLY``/``OUTER APPLY s.tvf(…)`` uses a table-valued function as
``FROM s.tvf(…)`` does: SELECT in SQL Server, EXECUTE on the set-returning function in
PostgreSQL. Each case is read, planned, and where PostgreSQL's answer is the point applied to
real PostgreSQL and queried as the caller (after the GRANTs the GB306 findings name).
"""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest

from mapper.modules import analyze_definition
from tests.modules.test_chain_depth import applied, grant_as_advised
from tests.modules.test_ownership_chains import findings, planned, run_as, script


def references(body: str) -> list[tuple[str, str]]:
    analysis = analyze_definition("s", "p", f"CREATE PROCEDURE s.p @a int AS BEGIN {body} END")
    assert not analysis.unparsed
    return [(r.qualified, r.access) for r in analysis.references]


# --------------------------------------------------------------------------- reading bodies


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("SELECT NEXT VALUE FOR s.seq", [("s.seq", "UPDATE")]),
        ("INSERT INTO s.t (id) VALUES (NEXT VALUE FOR [s].[seq])", [("s.seq", "UPDATE"), ("s.t", "INSERT")]),
        ("DECLARE @i bigint = NEXT VALUE FOR seq; SET @i = NEXT VALUE FOR seq", [("seq", "UPDATE")]),
        ("SELECT NEXT VALUE FOR s.seq OVER (ORDER BY id), id FROM s.t", [("s.seq", "UPDATE"), ("s.t", "SELECT")]),
    ],
)  # fmt: skip
def test_next_value_for_is_update_on_the_sequence(
    body: str, expected: list[tuple[str, str]]
) -> None:
    assert references(body) == expected


def test_next_value_for_in_another_database_is_cross_database() -> None:
    analysis = analyze_definition(
        "s", "p", "CREATE PROCEDURE s.p AS SELECT NEXT VALUE FOR Other.s.seq"
    )
    assert [r.key for r in analysis.references] == ["other.s.seq:UPDATE"]
    assert analysis.cross_database == ("Other.s.seq",)


@pytest.mark.parametrize("apply", ["CROSS APPLY", "OUTER APPLY"])
def test_applied_table_function_is_select_as_in_from(apply: str) -> None:
    applied_body = f"SELECT f.n FROM s.t {apply} s.tvf(s.fn(t.id)) AS f"
    assert references(applied_body) == [
        ("s.fn", "EXECUTE"), ("s.t", "SELECT"), ("s.tvf", "SELECT")
    ]  # fmt: skip
    assert references("SELECT f.n FROM s.tvf(@a) AS f") == [("s.tvf", "SELECT")]


# --------------------------------------------------------------------------- plans

#: dbo's procedure taking a value of dbo's sequence and reading carol's table, which caller
#: may read: SQL Server checks caller on s.tc only (held), the sequence through the chain.
SEQ_MIXED = """
CREATE TABLE [s].[tc] ([id] int, [secret] int)
GO
ALTER AUTHORIZATION ON OBJECT::[s].[tc] TO [{p}carol]
GO
CREATE SEQUENCE [s].[seq] AS bigint START WITH 1
GO
CREATE PROCEDURE [s].[p] AS BEGIN SELECT secret FROM s.tc; SELECT NEXT VALUE FOR s.seq; END
GO
GRANT EXECUTE ON OBJECT::[s].[p] TO [{p}caller]
GO
GRANT SELECT ON OBJECT::[s].[tc] TO [{p}caller]
GO
"""
#: dbo's procedure reading dbo's table and taking a value of carol's sequence: the chain
#: breaks there, SQL Server checks caller's UPDATE on s.seq, which it lacks.
SEQ_BROKEN = """
CREATE TABLE [s].[t] ([id] int)
GO
CREATE SEQUENCE [s].[seq] AS bigint START WITH 1
GO
ALTER AUTHORIZATION ON OBJECT::[s].[seq] TO [{p}carol]
GO
CREATE PROCEDURE [s].[q] AS BEGIN SELECT id FROM s.t; SELECT NEXT VALUE FOR s.seq; END
GO
GRANT EXECUTE ON OBJECT::[s].[q] TO [{p}caller]
GO
"""
#: carol's EXECUTE AS OWNER procedure taking a value of dbo's sequence through carol's grant.
SEQ_OWNER = """
CREATE SCHEMA [x] AUTHORIZATION [{p}carol]
GO
CREATE SEQUENCE [s].[seq] AS bigint START WITH 1
GO
CREATE PROCEDURE [x].[p] WITH EXECUTE AS OWNER AS SELECT NEXT VALUE FOR s.seq
GO
GRANT UPDATE ON OBJECT::[s].[seq] TO [{p}carol]
GO
GRANT EXECUTE ON OBJECT::[x].[p] TO [{p}caller]
GO
"""
#: dbo's view applying dbo's table-valued function to dbo's table.
APPLY_VIEW = """
CREATE TABLE [s].[t] ([id] int)
GO
CREATE FUNCTION [s].[tvf](@id int) RETURNS TABLE AS RETURN (SELECT @id * 2 AS n)
GO
CREATE VIEW [s].[v] AS SELECT f.n FROM s.t CROSS APPLY s.tvf(t.id) AS f
GO
GRANT SELECT ON OBJECT::[s].[v] TO [{p}caller]
GO
"""
#: The same, caller holding SELECT on the function itself.
APPLY_HELD = APPLY_VIEW + "GRANT SELECT ON OBJECT::[s].[tvf] TO [{p}caller]\nGO\n"


def test_sequence_reached_through_the_chain_is_granted_usage(tmp_path: Path) -> None:
    migration = planned(tmp_path, SEQ_MIXED)
    assert not migration.routine_security  # carol's s.tc breaks the chain: SECURITY INVOKER
    (lost,) = findings(migration, "GB306")
    assert lost.evidence.endswith(": UPDATE on s.seq")
    assert "caller loses UPDATE on s.seq through s.p" in lost.action
    assert "To restore it, in database d1: GRANT USAGE ON SEQUENCE s.seq TO caller" in lost.action
    underlying = planned(tmp_path, SEQ_MIXED, mode="grant_underlying")
    assert "GRANT USAGE ON SEQUENCE s.seq TO caller" in script(underlying, "04_privileges.sql")
    (widening,) = findings(underlying, "GB340")
    assert widening.evidence.startswith("caller gets USAGE on s.seq directly")


def test_sequence_of_another_owner_breaks_the_chain(tmp_path: Path) -> None:
    migration = planned(tmp_path, SEQ_BROKEN)
    assert not migration.routine_security  # as SECURITY DEFINER it would take carol's values
    (broken,) = findings(migration, "GB310")
    assert (broken.securable, broken.evidence) == (
        "s.q",
        "s.q (owned by dbo): s.seq is owned by carol, not dbo",
    )
    (lost,) = findings(migration, "GB306")  # dbo's s.t: reached through the chain
    assert lost.evidence.endswith(": SELECT on s.t")


def test_sequence_of_the_owner_keeps_the_routine_definer(tmp_path: Path) -> None:
    body = SEQ_BROKEN.replace("ALTER AUTHORIZATION ON OBJECT::[s].[seq] TO [{p}carol]\nGO\n", "")
    migration = planned(tmp_path, body)
    assert [r.name for r in migration.routine_security] == ["q"]
    (kept,) = findings(migration, "GB306")
    assert kept.severity.value == "info"
    assert kept.evidence.endswith(": UPDATE on s.seq, SELECT on s.t")
    assert kept.action == "Preserved (2 of 2): s.q is SECURITY DEFINER."


def test_execute_as_owner_gets_usage_on_the_sequence_it_takes(tmp_path: Path) -> None:
    migration = planned(tmp_path, SEQ_OWNER)
    assert [(r.name, r.owner) for r in migration.routine_security] == [("p", "d1_carol_owner")]
    assert "GRANT USAGE ON SEQUENCE s.seq TO carol, d1_carol_owner" in script(
        migration, "04_privileges.sql"
    )
    (used,) = findings(migration, "GB311")
    assert used.evidence.endswith(
        "uses UPDATE on s.seq, owned by dbo, through carol's own permission"
    )
    assert used.action.startswith("GRANT USAGE ON SEQUENCE s.seq TO d1_carol_owner")


def test_applied_function_needs_select_as_in_from(tmp_path: Path) -> None:
    migration = planned(tmp_path, APPLY_VIEW)
    (lost,) = findings(migration, "GB306")
    assert lost.evidence.endswith(": SELECT on s.t, SELECT on s.tvf")
    assert "GRANT EXECUTE ON FUNCTION s.tvf TO caller" in lost.action
    assert lost.action.endswith(
        "Preserved (1 of 2): s.v uses the view owner's privileges on the tables."
    )
    held = planned(tmp_path, APPLY_HELD)  # caller's own SELECT on s.tvf: no chain needed there
    (intact,) = findings(held, "GB306")
    assert (intact.severity.value, intact.evidence.split(": ")[-1]) == ("info", "SELECT on s.t")
    assert "GRANT EXECUTE ON FUNCTION s.tvf TO caller" in script(held, "04_privileges.sql")


# --------------------------------------------------------------------------- real PostgreSQL

#: The converted objects (the schema conversion's work): s.p as a function returning nextval.
SEQ_PG = """
    CREATE SCHEMA s;
    CREATE TABLE s.tc (id int, secret int); INSERT INTO s.tc VALUES (1, 42);
    CREATE TABLE s.t (id int); INSERT INTO s.t VALUES (7);
    CREATE SEQUENCE s.seq;
    CREATE FUNCTION s.p() RETURNS bigint LANGUAGE plpgsql
      AS $$ BEGIN PERFORM secret FROM s.tc; RETURN nextval('s.seq'); END $$;
    CREATE FUNCTION s.q() RETURNS bigint LANGUAGE plpgsql
      AS $$ BEGIN PERFORM id FROM s.t; RETURN nextval('s.seq'); END $$;
"""
APPLY_PG = """
    CREATE SCHEMA s;
    CREATE TABLE s.t (id int); INSERT INTO s.t VALUES (21);
    CREATE FUNCTION s.tvf(id int) RETURNS TABLE (n int) LANGUAGE sql AS $$ SELECT id * 2 $$;
    CREATE VIEW s.v AS SELECT f.n FROM s.t CROSS JOIN LATERAL s.tvf(t.id) AS f;
"""


def test_pg_sequence_through_the_chain_answers_after_the_advised_grant(
    pg_dsn: str, prefix: str, tmp_path: Path
) -> None:
    """SQL Server checks caller on carol's s.tc (held) and not on dbo's s.seq: answered. The
    advised USAGE allows nextval, not setval (SQL Server's ALTER)."""
    with applied(pg_dsn, prefix, tmp_path, SEQ_MIXED, SEQ_PG) as (conn, migration):
        caller = f"{prefix}_caller"
        assert grant_as_advised(conn, migration) == [f"GRANT USAGE ON SEQUENCE s.seq TO {caller}"]
        assert run_as(conn, caller, "SELECT s.p()") == 1
        with pytest.raises(psycopg.errors.InsufficientPrivilege, match="sequence seq"):
            run_as(conn, caller, "SELECT setval('s.seq', 10)")


def test_pg_sequence_of_another_owner_refuses_the_caller(
    pg_dsn: str, prefix: str, tmp_path: Path
) -> None:
    """SQL Server checks caller's UPDATE on carol's s.seq inside dbo's s.q: refused (as
    SECURITY DEFINER s.q would take it as d1_owner, which holds carol's owner role)."""
    with applied(pg_dsn, prefix, tmp_path, SEQ_BROKEN, SEQ_PG) as (conn, migration):
        caller = f"{prefix}_caller"
        assert grant_as_advised(conn, migration) == [f"GRANT SELECT ON TABLE s.t TO {caller}"]
        with pytest.raises(psycopg.errors.InsufficientPrivilege, match="sequence seq"):
            run_as(conn, caller, "SELECT s.q()")


def test_pg_sequence_of_the_owner_answers_through_the_definer(
    pg_dsn: str, prefix: str, tmp_path: Path
) -> None:
    """SQL Server checks nothing past s.q (every object dbo's): answered; the sequence itself
    stays closed to the caller."""
    body = SEQ_BROKEN.replace("ALTER AUTHORIZATION ON OBJECT::[s].[seq] TO [{p}carol]\nGO\n", "")
    with applied(pg_dsn, prefix, tmp_path, body, SEQ_PG) as (conn, migration):
        caller = f"{prefix}_caller"
        assert grant_as_advised(conn, migration) == []
        assert run_as(conn, caller, "SELECT s.q()") == 1
        with pytest.raises(psycopg.errors.InsufficientPrivilege, match="sequence seq"):
            run_as(conn, caller, "SELECT nextval('s.seq')")


def test_pg_execute_as_owner_takes_a_value_as_its_owner(
    pg_dsn: str, prefix: str, tmp_path: Path
) -> None:
    """SQL Server runs x.p as carol, whose UPDATE on dbo's s.seq answers."""
    objects = """
        CREATE SCHEMA s; CREATE SCHEMA x; CREATE SEQUENCE s.seq;
        CREATE FUNCTION x.p() RETURNS bigint LANGUAGE plpgsql
          AS $$ BEGIN RETURN nextval('s.seq'); END $$;
    """
    with applied(pg_dsn, prefix, tmp_path, SEQ_OWNER, objects) as (conn, _):
        assert run_as(conn, f"{prefix}_caller", "SELECT x.p()") == 1


def test_pg_applied_function_answers_a_caller_holding_it(
    pg_dsn: str, prefix: str, tmp_path: Path
) -> None:
    """SQL Server checks caller's SELECT on s.v only (s.t and s.tvf dbo's; s.tvf held too)."""
    with applied(pg_dsn, prefix, tmp_path, APPLY_HELD, APPLY_PG) as (conn, migration):
        caller = f"{prefix}_caller"
        assert grant_as_advised(conn, migration) == []
        assert run_as(conn, caller, "SELECT n FROM s.v") == 42
        with pytest.raises(psycopg.errors.InsufficientPrivilege, match="table t"):
            run_as(conn, caller, "SELECT id FROM s.t")
