"""Script replay of ``ALTER TABLE … DROP COLUMN`` of a column a key, foreign key, CHECK, default,
index or statistics depends on, as the scripts state them (``mssql_extract/tsql/dependents.py``):
SQL Server refuses it (Msg 5074, then 4922), so the column stands with its grants; dropped first
(``DROP CONSTRAINT``, ``DROP INDEX``), the column goes. What the scripts do not state is not
known, and such a DROP COLUMN is followed as before.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from mapper.translate.skipped import harmless
from mssql_extract.snapshot import SecuritySnapshot
from mssql_extract.tsql.table_drops import COLUMN_STANDS
from tests.extract_sources.scripts import replay_script
from tests.mapper.test_column_drops import column_grants
from tests.modules.test_ownership_chains import findings, planned

#: s.t: a key on k, a unique constraint on u, a foreign key on f, a CHECK on c and k, a default
#: on d (none calls a sequence), an index on i including j, statistics on st; x has nothing.
TABLE = """CREATE TABLE [s].[t] (k int NOT NULL CONSTRAINT pk_t PRIMARY KEY, u int UNIQUE,
    f int, c int, d int CONSTRAINT df_t_d DEFAULT (0), i int, j int, st int, x int,
    CONSTRAINT fk_t FOREIGN KEY (f) REFERENCES s.other (id), CONSTRAINT ck_t CHECK (c > k),
    INDEX ix_t NONCLUSTERED (i) INCLUDE (j))
GO
CREATE STATISTICS st_t ON s.t (st)
GO
"""
HEAD = f"""CREATE DATABASE [D1]
GO
USE [D1]
GO
CREATE USER [bob] WITHOUT LOGIN
GO
CREATE SCHEMA [s]
GO
{TABLE}GRANT SELECT (k, u, f, c, d, i, j, st, x) ON s.t TO [bob]
GO
"""
#: The line the statements after HEAD start at.
LINE = HEAD.count("\n") + 1
COLUMNS = ("k", "u", "f", "c", "d", "i", "j", "st", "x")


def replayed(tmp_path: Path, tail: str) -> SecuritySnapshot:
    return replay_script(tmp_path, HEAD + tail)


def granted(snapshot: SecuritySnapshot) -> tuple[str, ...]:
    """The columns bob holds SELECT on, in the table's order."""
    held = {p.column_name for p in snapshot.databases[0].permissions if p.grantee == "bob"}
    return tuple(c for c in COLUMNS if c in held)


def columns(snapshot: SecuritySnapshot) -> tuple[str, ...]:
    (table,) = [o for o in snapshot.databases[0].objects if o.name == "t"]
    return table.columns


@pytest.mark.parametrize(
    ("column", "holder"),
    [
        # SQL Server names each (a Msg 5074 each), in the order the scripts state them
        ("k", "is in the primary key [pk_t] and is used by the check constraint [ck_t]"),
        ("u", "is in the unique constraint that SQL Server named"),
        ("f", "is in the foreign key [fk_t]"),
        ("c", "is used by the check constraint [ck_t]"),
        ("d", "has the default [df_t_d]"),
        ("i", "is in the index [ix_t]"),
        ("j", "is in the index [ix_t]"),  # an INCLUDE column
        ("st", "is in the statistics [st_t]"),
    ],
)
def test_a_column_something_depends_on_is_refused(tmp_path: Path, column: str, holder: str) -> None:
    drop = f"ALTER TABLE s.t DROP COLUMN x, {column}"
    snapshot = replayed(tmp_path, drop + "\nGO\n")
    assert granted(snapshot) == COLUMNS  # x's grant stays too: the statement fails as a whole
    assert columns(snapshot) == COLUMNS
    (item,) = [s for s in snapshot.skipped if s.text == drop]
    assert item.source_ref.line == LINE
    assert item.reason.startswith(f"column [{column}] of [s].[t] {holder}, so SQL Server refuses")
    thing = {"i": "index", "j": "index", "st": "statistics"}.get(column, "object")
    assert f"(Msg 5074 \"The {thing} '" in item.reason
    assert (
        f"is dependent on column '{column}'.\", Msg 4922 \"ALTER TABLE DROP COLUMN" in item.reason
    )
    assert item.reason.endswith(COLUMN_STANDS)
    assert not harmless(item)


def refused(snapshot: SecuritySnapshot) -> list[int]:
    """The lines of the DROP COLUMN statements SQL Server refuses."""
    return [s.source_ref.line for s in snapshot.skipped if s.reason.endswith(COLUMN_STANDS)]


@pytest.mark.parametrize(
    ("first", "column"),
    [
        ("ALTER TABLE s.t DROP CONSTRAINT pk_t, ck_t, COLUMN k", "k"),
        ("ALTER TABLE s.t DROP CONSTRAINT fk_t\nGO\nALTER TABLE s.t DROP COLUMN f", "f"),
        ("ALTER TABLE s.t DROP CONSTRAINT df_t_d, COLUMN d", "d"),
        ("DROP INDEX ix_t ON s.t\nGO\nALTER TABLE s.t DROP COLUMN j", "j"),
        ("DROP INDEX [s].[t].[ix_t]\nGO\nALTER TABLE s.t DROP COLUMN i", "i"),
        ("DROP STATISTICS s.t.st_t\nGO\nALTER TABLE s.t DROP COLUMN st", "st"),
        # SQL Server named u's constraint: an unknown name dropped before may be it
        ("ALTER TABLE s.t DROP CONSTRAINT UQ__t__7A2A5B2C, COLUMN u", "u"),
        ("ALTER TABLE s.t DROP CONSTRAINT UQ__t__7A2A5B2C\nGO\nALTER TABLE s.t DROP COLUMN u", "u"),
        # or dynamic SQL the replay cannot read
        ("DECLARE @n sysname = (SELECT name FROM sys.key_constraints WHERE type = 'UQ')\n"
         "EXEC (N'ALTER TABLE s.t DROP CONSTRAINT ' + @n)\nALTER TABLE s.t DROP COLUMN u", "u"),
    ],
    ids=["pk-ck", "fk", "default", "index", "index-old-form", "statistics", "unnamed",
         "unnamed-before", "unnamed-dynamic"],
)  # fmt: skip
def test_dropped_first_the_column_goes(tmp_path: Path, first: str, column: str) -> None:
    alone = replayed(tmp_path, f"ALTER TABLE s.t DROP COLUMN {column}\nGO\n")
    assert (refused(alone), granted(alone)) == ([LINE], COLUMNS)
    snapshot = replayed(tmp_path, first + "\nGO\n")
    assert granted(snapshot) == tuple(c for c in COLUMNS if c != column)
    assert columns(snapshot) == tuple(c for c in COLUMNS if c != column)
    assert not refused(snapshot)


def test_dropped_after_the_column_refuses_it(tmp_path: Path) -> None:
    """Items are done in order: the column is refused before its key is dropped."""
    drop = "ALTER TABLE s.t DROP COLUMN k, CONSTRAINT pk_t, ck_t"
    snapshot = replayed(tmp_path, drop + "\nGO\nALTER TABLE s.t DROP COLUMN k\nGO\n")
    assert granted(snapshot) == COLUMNS  # and pk_t stands: the second DROP is refused too
    assert refused(snapshot) == [LINE, LINE + 2]


@pytest.mark.parametrize(
    "tail",
    [
        "ALTER TABLE s.t ADD CONSTRAINT uq_x UNIQUE (x)",
        "ALTER TABLE s.t WITH CHECK ADD CONSTRAINT ck_x CHECK (x <> 0)",
        "ALTER TABLE s.t ADD CONSTRAINT df_x DEFAULT (1) FOR x",
        "ALTER TABLE s.t ADD CONSTRAINT fk_x FOREIGN KEY (x) REFERENCES s.other (id)",
        "CREATE UNIQUE NONCLUSTERED INDEX ix_x ON s.t (k ASC) INCLUDE (x) WHERE x > 0",
        "CREATE INDEX ix_x ON s.t (c) WHERE x IS NOT NULL",  # a filter's column
        "CREATE STATISTICS st_x ON [s].[t] ([x])",
        "EXEC sp_rename 's.t.x', 'y', 'COLUMN'\nGO\nCREATE INDEX ix_x ON s.t (y)\nGO\n"
        "EXEC sp_rename 's.t.y', 'x', 'COLUMN'",
    ],
    ids=["unique", "check", "default", "foreign-key", "include", "filter", "statistics",
         "renamed-column"],
)  # fmt: skip
def test_what_a_later_statement_adds_refuses_too(tmp_path: Path, tail: str) -> None:
    drop = "ALTER TABLE s.t DROP COLUMN x"
    snapshot = replayed(tmp_path, tail + "\nGO\n" + drop + "\nGO\n")
    assert "x" in granted(snapshot)
    (item,) = [s for s in snapshot.skipped if s.text == drop]
    assert item.reason.startswith("column [x] of [s].[t] ")
    assert item.reason.endswith(COLUMN_STANDS)


@pytest.mark.parametrize(
    ("tail", "lines"),
    [
        # a table renamed or moved keeps its constraints, and a dropped table takes them along
        ("EXEC sp_rename 's.t', 't2'\nGO\nALTER TABLE s.t2 DROP COLUMN k", [LINE + 2]),
        ("CREATE SCHEMA [r]\nGO\nALTER SCHEMA r TRANSFER s.t\nGO\nALTER TABLE r.t DROP COLUMN k",
         [LINE + 4]),
        ("DROP TABLE s.t\nGO\nCREATE TABLE s.t (k int, x int CONSTRAINT pk_t PRIMARY KEY)\nGO\n"
         "ALTER TABLE s.t DROP COLUMN k\nALTER TABLE s.t DROP COLUMN x", [LINE + 5]),
        # a renamed constraint or index is dropped by its new name, not by the old one
        ("EXEC sp_rename 's.ck_t', 'ck_new'\nGO\nALTER TABLE s.t DROP CONSTRAINT ck_t, pk_t, "
         "COLUMN k\nALTER TABLE s.t DROP CONSTRAINT ck_new, pk_t, COLUMN k", [LINE + 2]),
        ("EXEC sp_rename 's.t.ix_t', 'ix_new', 'INDEX'\nGO\nDROP INDEX ix_t ON s.t\n"
         "ALTER TABLE s.t DROP COLUMN i\nDROP INDEX ix_new ON s.t\nALTER TABLE s.t DROP COLUMN i",
         [LINE + 3]),
    ],
    ids=["renamed-table", "transferred", "dropped-table", "renamed-constraint", "renamed-index"],
)  # fmt: skip
def test_renames_and_transfers_are_followed(tmp_path: Path, tail: str, lines: list[int]) -> None:
    snapshot = replayed(tmp_path, tail + "\nGO\n")
    assert refused(snapshot) == lines


@pytest.mark.parametrize(
    ("unknown", "known"),
    [
        # a statement the script may not run states nothing
        ("IF @@SERVERNAME = N'prod'\n    CREATE INDEX ix_x ON s.t (x)", "CREATE INDEX ix_x ON s.t (x)"),
        ("WHILE 1 = 0\n    CREATE INDEX ix_x ON s.t (x)", "CREATE INDEX ix_x ON s.t (x)"),
        # nor one on another table, nor a CLUSTERED COLUMNSTORE index (no column list)
        ("CREATE INDEX ix_x ON s.other (x)", "CREATE INDEX ix_x ON s.t (x)"),
        ("CREATE CLUSTERED COLUMNSTORE INDEX cci ON s.t", "CREATE CLUSTERED INDEX cx ON s.t (x)"),
    ],
    ids=["uncertain-branch", "loop", "other-table", "columnstore"],
)  # fmt: skip
def test_what_the_scripts_do_not_state_is_not_known(
    tmp_path: Path, unknown: str, known: str
) -> None:
    drop = "\nGO\nALTER TABLE s.t DROP COLUMN x\nGO\n"
    assert refused(replayed(tmp_path, known + drop))
    snapshot = replayed(tmp_path, unknown + drop)
    assert "x" not in granted(snapshot)
    assert not refused(snapshot)


def test_the_plan_keeps_the_grants_of_a_refused_drop_and_says_why(tmp_path: Path) -> None:
    body = TABLE + "GRANT SELECT ([i], [x]) ON OBJECT::[s].[t] TO [{p}carol]\nGO\n"
    migration = planned(tmp_path, body + "ALTER TABLE [s].[t] DROP COLUMN [x], [i]\nGO\n")
    assert column_grants(migration) == {("carol", "SELECT", ("i",)), ("carol", "SELECT", ("x",))}
    (refused,) = findings(migration, "GB045")
    assert refused.evidence.startswith(
        "column [i] of [s].[t] is in the index [ix_t], so SQL Server refuses the ALTER TABLE "
        "(Msg 5074 \"The index 'ix_t' is dependent on column 'i'.\""
    )
    assert "an index or statistics before it (DROP INDEX" in refused.action
    dropped = planned(tmp_path, body + "DROP INDEX ix_t ON s.t\nALTER TABLE s.t DROP COLUMN i\n")
    assert column_grants(dropped) == {("carol", "SELECT", ("x",))}
