"""Script replay of ``ALTER TABLE … DROP COLUMN`` of a column an earlier ``ALTER TABLE … ADD``
added (``mssql_extract/tsql/dependents.py``): what depends on it (a computed column or CHECK
added later or in the same ADD, an index, statistics, a foreign key) keeps it from the drop (Msg
5074, 4922) as for a column of CREATE TABLE, also under a name sp_rename gives it later; so the
column stands with its grants, in the snapshot and in the plan (GB045).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from mssql_extract.snapshot import SecuritySnapshot
from mssql_extract.tsql.table_drops import COLUMN_STANDS
from tests.extract_sources.scripts import replay_script
from tests.extract_sources.test_column_references import MSG_4922
from tests.mapper.test_column_drops import column_grants
from tests.modules.test_ownership_chains import findings, planned

#: s.t has a from CREATE TABLE; n, m and k come by ADD (two in one statement).
HEAD = """CREATE DATABASE [D1]
GO
USE [D1]
GO
CREATE USER [bob] WITHOUT LOGIN
GO
CREATE SCHEMA [s]
GO
CREATE TABLE s.t (a int)
GO
ALTER TABLE s.t ADD n int NULL, [m] int NULL
GO
ALTER TABLE s.t ADD k int
GO
CREATE TABLE s.p (id int CONSTRAINT pk_p PRIMARY KEY)
GO
GRANT SELECT (a, n, m, k) ON s.t TO [bob]
GO
"""
LINE = HEAD.count("\n") + 1


def replayed(tmp_path: Path, tail: str) -> SecuritySnapshot:
    return replay_script(tmp_path, HEAD + tail)


def granted(snapshot: SecuritySnapshot) -> set[str]:
    """The columns of s.t bob holds SELECT on."""
    return {p.column_name or "" for p in snapshot.databases[0].permissions
            if p.grantee == "bob" and p.object_name == "t"}  # fmt: skip


def refusals(snapshot: SecuritySnapshot) -> list[tuple[int, str]]:
    return [(s.source_ref.line, s.reason) for s in snapshot.skipped
            if s.reason.endswith(COLUMN_STANDS)]  # fmt: skip


@pytest.mark.parametrize(
    ("column", "tail", "said"),
    [
        ("n", "ALTER TABLE s.t ADD c AS n * 2", "The column 'c'"),
        ("m", "ALTER TABLE s.t ADD c AS [m] + 1 PERSISTED", "The column 'c'"),
        ("k", "ALTER TABLE s.t ADD CONSTRAINT ck_k CHECK (k > 0)", "The object 'ck_k'"),
    ],
    ids=["computed", "computed-persisted", "check"],
)
def test_an_added_column_stands_as_a_created_one(
    tmp_path: Path, column: str, tail: str, said: str
) -> None:
    snapshot = replayed(tmp_path, f"{tail}\nGO\nALTER TABLE s.t DROP COLUMN {column}\nGO\n")
    ((line, reason),) = refusals(snapshot)
    assert line == LINE + 2
    assert reason.startswith(f"column [{column}] of [s].[t] is ")
    assert reason.endswith(
        f"(Msg 5074 \"{said} is dependent on column '{column}'.\", {MSG_4922.format(column)} "
        f'this column."): {COLUMN_STANDS}'
    )
    assert granted(snapshot) == {"a", "n", "m", "k"}


def test_each_thing_on_an_added_column_is_named(tmp_path: Path) -> None:
    """A computed column, an index, statistics and a foreign key on it, in the order stated."""
    tail = ("ALTER TABLE s.t ADD c AS n * 2\nGO\nCREATE INDEX ix_n ON s.t (n)\nGO\n"
            "CREATE STATISTICS st_n ON s.t (a, n)\nGO\n"
            "ALTER TABLE s.t ADD CONSTRAINT fk_n FOREIGN KEY (n) REFERENCES s.p (id)\nGO\n")  # fmt: skip
    snapshot = replayed(tmp_path, tail + "ALTER TABLE s.t DROP COLUMN n\nGO\n")
    ((line, reason),) = refusals(snapshot)
    assert line == LINE + 8
    assert reason.startswith(
        "column [n] of [s].[t] is used by the computed column [c], is in the index [ix_n], is "
        "in the statistics [st_n] and is in the foreign key [fk_n], so SQL Server refuses"
    )
    assert granted(snapshot) == {"a", "n", "m", "k"}


def test_columns_added_together_and_later_hold_it(tmp_path: Path) -> None:
    """A computed column of the same ADD and of a later one, and a CHECK, name the column."""
    tail = ("ALTER TABLE s.t ADD x int, y AS x + 1\nGO\nGRANT SELECT (x) ON s.t TO [bob]\nGO\n"
            "ALTER TABLE s.t ADD z AS x * 2, CONSTRAINT ck_x CHECK (x > 0)\nGO\n")  # fmt: skip
    snapshot = replayed(tmp_path, tail + "ALTER TABLE s.t DROP COLUMN x\nGO\n")
    ((line, reason),) = refusals(snapshot)
    assert line == LINE + 6
    assert reason.startswith(
        "column [x] of [s].[t] is used by the computed column [y], is used by the computed "
        "column [z] and is used by the check constraint [ck_x], so SQL Server refuses"
    )
    assert "x" in granted(snapshot)


def test_a_renamed_added_column_stands_until_what_holds_it_goes(tmp_path: Path) -> None:
    tail = ("ALTER TABLE s.t ADD c AS n * 2\nGO\nEXEC sp_rename 's.t.n', 'n2', 'COLUMN'\nGO\n"
            "ALTER TABLE s.t DROP COLUMN n2\nGO\n")  # fmt: skip
    snapshot = replayed(tmp_path, tail)
    ((line, reason),) = refusals(snapshot)
    assert line == LINE + 4
    assert reason.startswith("column [n2] of [s].[t] is used by the computed column [c], so ")
    assert granted(snapshot) == {"a", "n2", "m", "k"}
    dropped = replayed(tmp_path, tail + "ALTER TABLE s.t DROP COLUMN c, n2\nGO\n")
    assert [line for line, _ in refusals(dropped)] == [LINE + 4]
    assert granted(dropped) == {"a", "m", "k"}


def test_the_plan_keeps_the_grants_of_an_added_column_and_says_why(tmp_path: Path) -> None:
    body = ("CREATE TABLE [s].[t] (id int)\nGO\nALTER TABLE [s].[t] ADD [x] int\nGO\n"
            "ALTER TABLE [s].[t] ADD [y] AS [x] + 1\nGO\n"
            "GRANT SELECT ([x]) ON OBJECT::[s].[t] TO [{p}carol]\nGO\n")  # fmt: skip
    migration = planned(tmp_path, body + "ALTER TABLE [s].[t] DROP COLUMN [x]\nGO\n")
    assert column_grants(migration) == {("carol", "SELECT", ("x",))}
    (refused,) = findings(migration, "GB045")
    assert refused.evidence.startswith(
        "column [x] of [s].[t] is used by the computed column [y], so SQL Server refuses the "
        "ALTER TABLE (Msg 5074 \"The column 'y' is dependent on column 'x'.\""
    )
