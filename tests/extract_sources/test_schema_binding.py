"""Script replay of a DROP of what a view or inline function WITH SCHEMABINDING references
(``mssql_extract/tsql/schema_binding.py``): SQL Server refuses a DROP TABLE or DROP VIEW of it
(Msg 3729) and a DROP COLUMN of a column it names (Msg 5074, 4922), so the table, view or column
stands with its grants; the view dropped or altered without SCHEMABINDING first, the drop goes
through. Renames of the view and schema transfers are followed (a rename of what it binds is
refused: ``test_schema_bound_renames``).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from mapper.translate.skipped import REFUSED_DROP_VIEW
from mssql_extract.snapshot import SecuritySnapshot
from mssql_extract.tsql.key_refusals import TABLE_STANDS, VIEW_STANDS
from mssql_extract.tsql.table_drops import COLUMN_STANDS
from tests.extract_sources.scripts import replay_script
from tests.modules.test_ownership_chains import findings, planned

#: s.v binds s.t (id, a) and s.u (k); s.w binds s.v.
HEAD = """CREATE DATABASE [D1]
GO
USE [D1]
GO
CREATE USER [bob] WITHOUT LOGIN
GO
CREATE SCHEMA [s]
GO
CREATE SCHEMA [r]
GO
CREATE TABLE s.t (id int, a int, b int, c int, k int)
GO
CREATE TABLE s.u (k int, d int)
GO
CREATE VIEW s.v WITH SCHEMABINDING AS
    SELECT t.id, a, x.k AS uk FROM s.t JOIN [s].[u] AS x ON x.k = t.id
GO
CREATE VIEW s.w WITH SCHEMABINDING AS SELECT id FROM s.v
GO
GRANT SELECT ON s.t TO [bob]
GRANT SELECT (id, a, b, c) ON s.t TO [bob]
GRANT SELECT ON s.v TO [bob]
GO
"""
#: The line the statements after HEAD start at.
LINE = HEAD.count("\n") + 1
ALL = {("t", ""), ("t", "id"), ("t", "a"), ("t", "b"), ("t", "c"), ("v", "")}


def replayed(tmp_path: Path, tail: str) -> SecuritySnapshot:
    return replay_script(tmp_path, HEAD + tail)


def grants(snapshot: SecuritySnapshot) -> set[tuple[str, str]]:
    """(object, column or "") of bob's grants."""
    return {(p.object_name or "", p.column_name or "")
            for p in snapshot.databases[0].permissions if p.grantee == "bob"}  # fmt: skip


def objects(snapshot: SecuritySnapshot) -> set[str]:
    return {f"{o.schema_name}.{o.name}" for o in snapshot.databases[0].objects}


def refusals(snapshot: SecuritySnapshot) -> list[tuple[int, str]]:
    """(line, reason) of the DROP statements SQL Server refuses."""
    stands = (TABLE_STANDS, VIEW_STANDS, COLUMN_STANDS)
    return [(s.source_ref.line, s.reason) for s in snapshot.skipped if s.reason.endswith(stands)]


def test_a_bound_table_stands_with_its_grants(tmp_path: Path) -> None:
    snapshot = replayed(tmp_path, "DROP TABLE s.t\nGO\n")
    assert "s.t" in objects(snapshot)
    assert grants(snapshot) == ALL
    assert refusals(snapshot) == [(LINE, (
        "table [s].[t] is referenced by the view [s].[v] WITH SCHEMABINDING, so SQL Server "
        "refuses to drop it (Msg 3729 \"Cannot DROP TABLE 's.t' because it is being referenced "
        f"by object 'v'.\"): {TABLE_STANDS}"
    ))]  # fmt: skip


def test_a_bound_view_stands_with_its_grants(tmp_path: Path) -> None:
    snapshot = replayed(tmp_path, "DROP VIEW [s].[v]\nGO\n")
    assert grants(snapshot) == ALL
    ((_, reason),) = refusals(snapshot)
    assert reason == (
        "view [s].[v] is referenced by the view [s].[w] WITH SCHEMABINDING, so SQL Server "
        "refuses to drop it (Msg 3729 \"Cannot DROP VIEW 's.v' because it is being referenced "
        f"by object 'w'.\"): {VIEW_STANDS}"
    )
    assert VIEW_STANDS == REFUSED_DROP_VIEW


@pytest.mark.parametrize("column", ["id", "a"], ids=["qualified-by-its-table", "unqualified"])
def test_a_column_the_view_names_stands(tmp_path: Path, column: str) -> None:
    tail = f"ALTER TABLE s.t DROP COLUMN {column}\nGO\nALTER TABLE s.t DROP COLUMN b, c\nGO\n"
    snapshot = replayed(tmp_path, tail)
    ((line, reason),) = refusals(snapshot)
    assert line == LINE
    assert grants(snapshot) == ALL - {("t", "b"), ("t", "c")}  # the view does not name those
    assert reason == (
        f"column [{column}] of [s].[t] is used by the view [s].[v] WITH SCHEMABINDING, so SQL "
        f"Server refuses the ALTER TABLE (Msg 5074 \"The object 'v' is dependent on column "
        f"'{column}'.\", Msg 4922 \"ALTER TABLE DROP COLUMN {column} failed because one or more "
        f'objects access this column."): {COLUMN_STANDS}'
    )


#: s.p and s.q both have a column n; s.z names q's in a subquery, qualified or not ({}).
TWO = (
    "CREATE TABLE s.p (n int, m int)\nGO\nCREATE TABLE s.q (n int)\nGO\n"
    "CREATE VIEW s.z WITH SCHEMABINDING AS\n"
    "    SELECT m FROM s.p WHERE EXISTS (SELECT 1 FROM s.q WHERE {} = 1)\nGO\n"
    "ALTER TABLE s.p DROP COLUMN n\nGO\nALTER TABLE s.q DROP COLUMN n\nGO\n"
)


def test_a_column_of_two_tables_the_view_does_not_qualify_is_not_known(tmp_path: Path) -> None:
    """Unqualified in the subquery, n is s.q's (the inner scope's), which the replay does not
    tell: it binds neither, and both drops go (SQL Server refuses the second)."""
    qualified = replayed(tmp_path, TWO.format("q.n"))
    assert [line for line, _ in refusals(qualified)] == [LINE + 9]
    assert not refusals(replayed(tmp_path, TWO.format("n")))


@pytest.mark.parametrize(
    "first",
    [
        "DROP VIEW s.w, s.v\n",
        "ALTER VIEW s.w AS SELECT id FROM s.v\nGO\nALTER VIEW s.v AS SELECT id FROM s.t\n",
        "CREATE OR ALTER VIEW s.w AS SELECT 1 AS one\nGO\n"
        "CREATE OR ALTER VIEW s.v WITH SCHEMABINDING AS SELECT k FROM s.u\n",
    ],
    ids=["dropped", "altered", "created-or-altered"],
)
def test_the_binding_gone_the_drops_go(tmp_path: Path, first: str) -> None:
    drops = "ALTER TABLE s.t DROP COLUMN a\nGO\nDROP TABLE s.t\nGO\n"
    assert [line for line, _ in refusals(replayed(tmp_path, drops))] == [LINE, LINE + 2]
    snapshot = replayed(tmp_path, first + "GO\n" + drops)
    assert not refusals(snapshot)
    assert "s.t" not in objects(snapshot)


def test_a_view_without_schemabinding_binds_nothing(tmp_path: Path) -> None:
    tail = "CREATE VIEW s.plain AS SELECT d FROM s.u\nGO\nALTER TABLE s.u DROP COLUMN d\nGO\n"
    bound = tail.replace("s.plain AS", "s.plain WITH SCHEMABINDING AS")
    assert refusals(replayed(tmp_path, bound))
    assert not refusals(replayed(tmp_path, tail))


@pytest.mark.parametrize(
    ("tail", "drop", "named"),
    [
        ("DROP VIEW s.w\nGO\nEXEC sp_rename 's.v', 'v2'\nGO\n", "s.u", "[s].[v2]"),
        ("ALTER SCHEMA r TRANSFER s.v\nGO\n", "s.u", "[r].[v]"),
    ],
    ids=["renamed-view", "transferred-view"],
)
def test_renames_and_transfers_are_followed(
    tmp_path: Path, tail: str, drop: str, named: str
) -> None:
    ((line, reason),) = refusals(replayed(tmp_path, f"{tail}DROP TABLE {drop}\nGO\n"))
    assert line == LINE + tail.count("\n")
    assert reason.startswith(f"table [s].[{drop[2:]}] is referenced by the view {named} WITH ")


FUNCTION = (
    "CREATE FUNCTION s.f (@p int) RETURNS TABLE WITH SCHEMABINDING AS\n"
    "    RETURN (SELECT d FROM s.u WHERE k = @p)\nGO\n"
)


def test_an_inline_function_binds_too(tmp_path: Path) -> None:
    tail = FUNCTION + "ALTER TABLE s.u DROP COLUMN d\nGO\nDROP FUNCTION s.f\nGO\n"
    snapshot = replayed(tmp_path, tail + "ALTER TABLE s.u DROP COLUMN d\nGO\n")
    ((line, reason),) = refusals(snapshot)
    assert line == LINE + 3
    assert reason.startswith("column [d] of [s].[u] is used by the function [s].[f] WITH ")


def test_a_view_the_script_may_not_create_binds_nothing(tmp_path: Path) -> None:
    """A view made by dynamic SQL in an IF branch the replay cannot decide is replayed, but
    binds nothing."""
    view = "EXEC (N'CREATE VIEW s.z WITH SCHEMABINDING AS SELECT d FROM s.u')\nGO\n"
    drop = "ALTER TABLE s.u DROP COLUMN d\nGO\n"
    assert refusals(replayed(tmp_path, view + drop))
    snapshot = replayed(tmp_path, f"IF @@SERVERNAME = N'prod'\n    {view}{drop}")
    assert "s.z" in objects(snapshot)
    assert not refusals(snapshot)


def test_the_plan_keeps_the_grants_of_a_bound_table_and_says_why(tmp_path: Path) -> None:
    body = ("CREATE TABLE [s].[t] (id int, x int)\nGO\n"
            "CREATE VIEW [s].[v] WITH SCHEMABINDING AS SELECT x FROM [s].[t]\nGO\n"
            "GRANT SELECT ON OBJECT::[s].[t] TO [{p}carol]\nGO\n")  # fmt: skip
    migration = planned(tmp_path, body + "DROP TABLE [s].[t]\nGO\n")
    assert ("carol", "SELECT") in {(g.grantee, g.privilege) for g in migration.grants
                                   if g.name == "t"}  # fmt: skip
    (refused,) = findings(migration, "GB045")
    assert refused.evidence.startswith("table [s].[t] is referenced by the view [s].[v] WITH ")
    assert "the views and functions WITH SCHEMABINDING" in refused.action
