"""Names in module bodies: one part, three parts, and links through another owner's synonym.

Inside a module SQL Server looks a name without its schema up in the module's schema, then dbo,
a procedure run by its name alone too ("Executing Stored Procedures (Database Engine)", 2008 R2:
"the schema containing this other procedure"); in dynamic SQL in the caller's default schema,
then dbo ("Name resolution, default schema, implicit schema", Part III). The caller may be
anyone, so a name alone in dynamic SQL is known only where the database has one object of that
name (or the snapshot tells who runs it: :mod:`tests.modules.test_module_name_order`);
otherwise the module's references are unknown (GB310), never guessed. ``db.s.name`` of the
module's own database is ``s.name``; of another database a GB307. An EXECUTE AS OWNER
routine reaching an object through another owner's synonym of that object's owner is checked
on the synonym only: PostgreSQL has no synonym, and the owner role needs the object (GB311)."""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest

from mapper.effective import EffectivePermissions
from mapper.module_findings import lookup, module_chain
from mapper.module_reach import chain_reliance
from mapper.modules import analyze_definition, analyze_object
from tests.modules.test_chain_depth import applied
from tests.modules.test_module_synonyms import snapshot_of
from tests.modules.test_ownership_chains import findings, planned, run_as, script


def references(body: str) -> list[tuple[str, str]]:
    analysis = analyze_definition("s", "p", f"CREATE PROCEDURE s.p @a int AS BEGIN {body} END")
    assert not analysis.unparsed
    return [(r.qualified, r.access) for r in analysis.references]


# --------------------------------------------------------------------------- reading bodies


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        # a table-valued function by its name alone, in FROM and applied
        ("SELECT * FROM tvf(@a) AS f", [("tvf", "SELECT")]),
        ("SELECT * FROM s.t CROSS APPLY tvf(t.id) AS f", [("s.t", "SELECT"), ("tvf", "SELECT")]),
        # built-in rowset functions are no objects
        ("SELECT * FROM STRING_SPLIT(N'a,b', N',') CROSS APPLY OPENJSON(N'[]') j", []),
        # three parts, applied and called: the database is kept
        ("SELECT * FROM s.t CROSS APPLY D1.s.tvf(t.id) AS f", [("D1.s.tvf", "SELECT"), ("s.t", "SELECT")]),
        ("SELECT * FROM s.t OUTER APPLY Other.dbo.tvf(t.id) AS f", [("Other.dbo.tvf", "SELECT"), ("s.t", "SELECT")]),
        ("SELECT Other.dbo.fn(@a)", [("Other.dbo.fn", "EXECUTE")]),
        ("SELECT * FROM Other..t", [("Other..t", "SELECT")]),
        # a column's methods are no functions of another database
        ("SELECT n.c.value('.', 'int') FROM s.t x CROSS APPLY x.doc.nodes('/a') AS n(c)", [("s.t", "SELECT")]),
        ("SELECT t.shape.STArea() FROM s.t", [("s.t", "SELECT")]),
        # four parts in FROM: no call of the local s.tvf
        ("SELECT * FROM Srv.Other.s.tvf(1) AS f", [("Srv.Other.s.tvf", "SELECT")]),
    ],
)  # fmt: skip
def test_names_keep_their_parts(body: str, expected: list[tuple[str, str]]) -> None:
    assert references(body) == expected


# --------------------------------------------------------------------------- resolving names

#: Procedures of schema s (dbo's) naming objects by their names alone.
ONE_PART = """
CREATE SCHEMA [x] AUTHORIZATION [dbo]
GO
CREATE TABLE [s].[orders] ([id] int)
GO
CREATE TABLE [dbo].[orders] ([id] int)
GO
CREATE TABLE [dbo].[rates] ([id] int)
GO
CREATE PROCEDURE [s].[helper] AS SELECT 1
GO
CREATE PROCEDURE [dbo].[logger] AS SELECT 1
GO
CREATE PROCEDURE [s].[twice] AS SELECT 2
GO
CREATE PROCEDURE [x].[twice] AS SELECT 3
GO
CREATE PROCEDURE [s].[p] AS BEGIN SELECT id FROM orders; SELECT id FROM rates; EXEC helper; EXEC logger; END
GO
CREATE PROCEDURE [s].[q] AS EXEC twice
GO
"""


def test_one_part_names_resolve_as_sql_server_does(tmp_path: Path) -> None:
    (db,) = snapshot_of(tmp_path, ONE_PART).databases
    p, q = (next(o for o in db.objects if o.name == n) for n in ("p", "q"))
    resolved = {
        ref.key: lookup(db, p, ref) for ref in analyze_object(p).references
    }  # the module's schema first (s.orders, not dbo's), then dbo, for EXEC too
    assert {k: v.key for k, v in resolved.items() if not isinstance(v, str) and v} == {
        "orders:SELECT": "object:s.orders",
        "rates:SELECT": "object:dbo.rates",
        "helper:EXECUTE": "object:s.helper",
        "logger:EXECUTE": "object:dbo.logger",
    }
    chain = module_chain(db, q, analyze_object(q))  # s.twice: x.twice is never looked at
    assert [link.qualified for link in chain.intact] == ["s.twice"]
    assert chain.unknown is None
    assert chain.owner_safe


def test_execute_by_name_alone_runs_the_modules_own_schemas_procedure(tmp_path: Path) -> None:
    """Two schemas hold ``twice``: s.q runs s.twice, its own schema's (it was a GB308)."""
    body = ONE_PART + "GRANT EXECUTE ON OBJECT::[s].[q] TO [{p}caller]\nGO\n"
    snapshot = snapshot_of(tmp_path, body)
    (db,) = snapshot.databases
    analyses = [analyze_object(o) for o in db.objects if o.definition]
    reliance = chain_reliance(db, analyses, EffectivePermissions(snapshot))
    assert [(r.principal, r.module, r.target) for r in reliance] == [("caller", "s.q", "s.twice")]
    migration = planned(tmp_path, body)
    assert not findings(migration, "GB308")
    (kept,) = (f for f in findings(migration, "GB306") if f.securable == "s.q")
    assert kept.evidence.endswith(": EXECUTE on s.twice")
    assert kept.action.startswith("Preserved")


def test_execute_by_name_alone_of_one_procedure_is_followed(tmp_path: Path) -> None:
    body = ONE_PART + "GRANT EXECUTE ON OBJECT::[s].[p] TO [{p}caller]\nGO\n"
    migration = planned(tmp_path, body)
    (kept,) = (f for f in findings(migration, "GB306") if f.securable == "s.p")
    assert kept.evidence.endswith(
        ": EXECUTE on dbo.logger, SELECT on dbo.rates, EXECUTE on s.helper, SELECT on s.orders"
    )
    assert kept.action.startswith("Preserved")


def test_dynamic_sql_name_alone_looks_at_every_schema(tmp_path: Path) -> None:
    (db,) = snapshot_of(tmp_path, ONE_PART).databases
    p = next(o for o in db.objects if o.name == "p")
    (ref,) = analyze_definition("", "", "SELECT id FROM orders").references
    assert lookup(db, p, ref).key == "object:s.orders"  # type: ignore[union-attr]
    assert lookup(db, p, ref, dynamic=True) == (
        "orders without its schema, which dynamic SQL looks up in the caller's default schema, "
        "then dbo, and the database has dbo.orders, s.orders"
    )


#: dbo's procedure reading dbo's table by three parts of its own database, and another's.
THREE_PART = """
CREATE TABLE [s].[t] ([id] int)
GO
CREATE FUNCTION [s].[tvf](@id int) RETURNS TABLE AS RETURN (SELECT id FROM s.t WHERE id = @id)
GO
CREATE PROCEDURE [s].[p] AS SELECT f.id FROM D1.s.t CROSS APPLY [D1].[s].[tvf](t.id) AS f
GO
GRANT EXECUTE ON OBJECT::[s].[p] TO [{p}caller]
GO
"""


def test_three_parts_of_the_modules_own_database_are_two(tmp_path: Path) -> None:
    migration = planned(tmp_path, THREE_PART)
    assert not findings(migration, "GB307")
    assert not [f for f in findings(migration, "GB310") if f.securable == "s.p"]
    assert [r.name for r in migration.routine_security] == ["p", "tvf"]
    (kept,) = (f for f in findings(migration, "GB306") if f.securable == "s.p")
    assert kept.evidence.endswith(": SELECT on s.t, SELECT on s.tvf, SELECT on s.t (s.p -> s.tvf)")


def test_three_parts_of_another_database_are_cross_database(tmp_path: Path) -> None:
    body = THREE_PART.replace("[D1].[s].[tvf]", "[Other].[s].[tvf]")
    migration = planned(tmp_path, body)
    assert [f.evidence for f in findings(migration, "GB307")] == ["s.p references Other.s.tvf"]


# --------------------------------------------------------------------------- GB311 and synonyms

#: carol's EXECUTE AS OWNER x.p reads dave's y.t through dave's synonym y.syn, which carol may
#: use: SQL Server checks carol on y.syn (held), not on y.t (dave's synonym, dave's table).
OWNER_SYNONYM = """
CREATE USER [{p}dave] WITHOUT LOGIN
GO
CREATE SCHEMA [x] AUTHORIZATION [{p}carol]
GO
CREATE SCHEMA [y] AUTHORIZATION [{p}dave]
GO
CREATE TABLE [y].[t] ([id] int)
GO
CREATE SYNONYM [y].[syn] FOR [y].[t]
GO
CREATE PROCEDURE [x].[p] WITH EXECUTE AS OWNER AS SELECT id FROM y.syn
GO
GRANT SELECT ON OBJECT::[y].[syn] TO [{p}carol]
GO
GRANT EXECUTE ON OBJECT::[x].[p] TO [{p}caller]
GO
"""


def test_execute_as_owner_through_another_owners_synonym_is_said(tmp_path: Path) -> None:
    migration = planned(tmp_path, OWNER_SYNONYM)
    assert [r.name for r in migration.routine_security] == ["p"]
    privileges = script(migration, "04_privileges.sql")
    assert not [line for line in privileges.splitlines() if "y.t" in line and "carol" in line]
    (chained,) = findings(migration, "GB311")
    assert (chained.securable, chained.severity.value) == ("x.p->y.t:SELECT", "high")
    assert chained.evidence == (
        "x.p runs as carol (EXECUTE AS OWNER) and uses SELECT on y.t, through synonym y.syn, "
        "owned by dave as it is (SQL Server checked nobody there)"
    )
    assert (
        chained.action
        == (
            "Not granted: x.p runs as d1_carol_owner (SECURITY DEFINER), and d1_carol_owner has no "
            "SELECT on it, which is not carol's own permission. After review, in database d1: GRANT "
            "USAGE ON SCHEMA y TO d1_carol_owner; GRANT SELECT ON TABLE y.t TO d1_carol_owner, or "
            "give the objects one owner in SQL Server."  # y is dave's: the owner role has no USAGE on it
        )
    )


def test_execute_as_owner_refused_at_the_synonym_uses_nothing(tmp_path: Path) -> None:
    body = OWNER_SYNONYM.replace("GRANT SELECT ON OBJECT::[y].[syn] TO [{p}carol]\nGO\n", "")
    migration = planned(tmp_path, body)
    assert not findings(migration, "GB311")  # SQL Server refused carol at y.syn


#: The converted objects: the procedure names the base object.
OWNER_SYNONYM_PG = """
    CREATE SCHEMA x; CREATE SCHEMA y;
    CREATE TABLE y.t (id int); INSERT INTO y.t VALUES (7);
    CREATE FUNCTION x.p() RETURNS int LANGUAGE sql AS 'SELECT max(id) FROM y.t';
"""


def test_pg_execute_as_owner_through_the_synonym_answers_after_the_advised_grant(
    pg_dsn: str, prefix: str, tmp_path: Path
) -> None:
    """SQL Server answers caller through x.p (as carol: y.syn held, y.t through dave's chain);
    PostgreSQL refuses until the owner role holds what GB311 names."""
    with applied(pg_dsn, prefix, tmp_path, OWNER_SYNONYM, OWNER_SYNONYM_PG) as (conn, migration):
        caller = f"{prefix}_caller"
        (chained,) = findings(migration, "GB311")
        grant = chained.action.split("After review, in database ")[1].split(": ", 1)[1]
        grant = grant.split(", or give")[0]
        role = grant.rsplit(" TO ", 1)[1]
        # the advice names the object only; the owner role holds nothing else in schema y
        conn.execute(f"GRANT USAGE ON SCHEMA y TO {role}".encode())
        with pytest.raises(psycopg.errors.InsufficientPrivilege, match="table t"):
            run_as(conn, caller, "SELECT x.p()")
        conn.execute(grant.encode())
        assert run_as(conn, caller, "SELECT x.p()") == 7
