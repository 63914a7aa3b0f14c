"""Script replay of ``ALTER TABLE … DROP COLUMN``: the column, its mask and every column-level
permission on it go (``sys.database_permissions`` rows whose ``minor_id`` is the column's); a
column a known default depends on stays, as SQL Server refuses the statement (Msg 5074, then
Msg 4922), and a statement that touches nothing the replay knows is as before.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from mapper.translate.skipped import REFUSED_DROP_COLUMN, harmless
from mssql_extract.snapshot import SecuritySnapshot
from mssql_extract.tsql.table_drops import COLUMN_STANDS
from tests.extract_sources.scripts import replay_script

HEAD = """CREATE DATABASE [D1]
GO
USE [D1]
GO
CREATE USER [ann] WITHOUT LOGIN
CREATE USER [bob] WITHOUT LOGIN
GO
CREATE SCHEMA [s]
GO
CREATE SEQUENCE s.seq AS bigint
GO
CREATE TABLE s.t (id bigint NOT NULL CONSTRAINT df_t DEFAULT (NEXT VALUE FOR s.seq),
    y bigint DEFAULT (NEXT VALUE FOR s.seq), note nvarchar(20),
    secret nvarchar(20) MASKED WITH (FUNCTION = 'default()'), code int)
GO
GRANT SELECT ON s.t TO [ann]
GRANT SELECT (note, code), UPDATE (note) ON s.t TO [bob]
DENY SELECT (note) ON OBJECT::s.t TO [ann]
GRANT SELECT ([id], [y], [secret]) ON s.t TO [bob]
GO
"""


def replayed(tmp_path: Path, tail: str = "") -> SecuritySnapshot:
    return replay_script(tmp_path, HEAD + tail)


def permissions(snapshot: SecuritySnapshot) -> set[tuple[str, str | None, str, str, str]]:
    """(object, column, permission, state, grantee) of every permission on an object."""
    return {(p.object_name or "", p.column_name, p.permission, p.state.value, p.grantee)
            for p in snapshot.databases[0].permissions if p.securable_class == "OBJECT"}  # fmt: skip


def table(snapshot: SecuritySnapshot, name: str = "t") -> tuple[tuple[str, ...], list[str]]:
    """The table's columns and the columns of its sequence defaults."""
    (found,) = [o for o in snapshot.databases[0].objects if o.name == name]
    return found.columns, [d.column for d in found.sequence_defaults]


def skipped(snapshot: SecuritySnapshot) -> dict[str, str]:
    return {s.text: s.reason for s in snapshot.skipped}


#: Every permission the head grants and denies on s.t.
ALL = {
    ("t", None, "SELECT", "G", "ann"),
    ("t", "note", "SELECT", "G", "bob"),
    ("t", "code", "SELECT", "G", "bob"),
    ("t", "note", "UPDATE", "G", "bob"),
    ("t", "note", "SELECT", "D", "ann"),
    ("t", "id", "SELECT", "G", "bob"),
    ("t", "y", "SELECT", "G", "bob"),
    ("t", "secret", "SELECT", "G", "bob"),
}
NOTE = {p for p in ALL if p[1] == "note"}


@pytest.mark.parametrize(
    "drop",
    [
        "ALTER TABLE s.t DROP COLUMN note",
        "ALTER TABLE [s].[t] DROP COLUMN [NOTE];",
        "ALTER TABLE s.t DROP COLUMN IF EXISTS nope, note",
        "ALTER TABLE s.t DROP CONSTRAINT IF EXISTS ck_nope, COLUMN note",
    ],
)
def test_a_dropped_column_takes_its_grants_and_denies(tmp_path: Path, drop: str) -> None:
    snapshot = replayed(tmp_path, drop + "\nGO\n")
    assert permissions(snapshot) == ALL - NOTE  # the table's grant and code's stay
    assert table(snapshot) == (("id", "y", "secret", "code"), ["id", "y"])
    assert drop.rstrip(";") not in skipped(snapshot)  # it had an effect


def test_columns_of_a_list_go_and_the_others_stay(tmp_path: Path) -> None:
    snapshot = replayed(tmp_path, "ALTER TABLE s.t DROP COLUMN note, secret\nGO\n")
    assert permissions(snapshot) == ALL - NOTE - {("t", "secret", "SELECT", "G", "bob")}
    assert table(snapshot)[0] == ("id", "y", "code")
    assert not snapshot.databases[0].masked_columns  # the mask went with the column


def test_every_grantors_row_goes(tmp_path: Path) -> None:
    """A permission granted AS two grantors is two rows (``perm_store``): both go."""
    tail = ("CREATE ROLE [g] AUTHORIZATION [dbo]\nGO\nGRANT SELECT (code) ON s.t TO [ann] AS [dbo]\n"
            "GRANT SELECT (code) ON s.t TO [ann] AS [g]\nGO\nALTER TABLE s.t DROP COLUMN code\n"
            "GO\nDROP ROLE [g]\nGO\n")  # fmt: skip
    snapshot = replayed(tmp_path, tail)
    assert {p for p in permissions(snapshot) if p[1] == "code"} == set()
    assert "DROP ROLE [g]" not in skipped(snapshot)  # g granted nothing that is left


def test_a_column_a_default_depends_on_is_refused(tmp_path: Path) -> None:
    drop = "ALTER TABLE s.t DROP COLUMN note, id"
    snapshot = replayed(tmp_path, drop + "\nGO\n")
    assert permissions(snapshot) == ALL  # note's stay too: the statement fails as a whole
    assert table(snapshot) == (("id", "y", "note", "secret", "code"), ["id", "y"])
    assert skipped(snapshot)[drop] == (
        "column [id] of [s].[t] has the default [df_t], so SQL Server refuses the ALTER TABLE "
        "(Msg 5074 \"The object 'df_t' is dependent on column 'id'.\", Msg 4922 \"ALTER TABLE "
        'DROP COLUMN id failed because one or more objects access this column."): the column '
        "stands (not replayed)"
    )
    assert COLUMN_STANDS == REFUSED_DROP_COLUMN
    assert not harmless(snapshot.skipped[0])


def test_an_unnamed_default_refuses_too(tmp_path: Path) -> None:
    drop = "ALTER TABLE s.t DROP COLUMN y"
    snapshot = replayed(tmp_path, drop + "\nGO\n")
    assert ("t", "y", "SELECT", "G", "bob") in permissions(snapshot)
    assert skipped(snapshot)[drop].startswith(
        "column [y] of [s].[t] has the default that SQL Server named, so SQL Server refuses the "
        "ALTER TABLE (Msg 5074 \"The object 'DF__…' is dependent on column 'y'.\""
    )


def test_the_constraint_before_the_column_refuses_nothing(tmp_path: Path) -> None:
    """Items are done in order: the default goes, then the column. After it, the column is
    refused and the constraint stays."""
    snapshot = replayed(tmp_path, "ALTER TABLE s.t DROP CONSTRAINT df_t, COLUMN id\nGO\n")
    assert permissions(snapshot) == ALL - {("t", "id", "SELECT", "G", "bob")}
    assert table(snapshot) == (("y", "note", "secret", "code"), ["y"])
    assert not snapshot.skipped
    refused = replayed(tmp_path, "ALTER TABLE s.t DROP COLUMN id, CONSTRAINT df_t\nGO\n")
    assert table(refused) == (("id", "y", "note", "secret", "code"), ["id", "y"])
    assert skipped(refused)["ALTER TABLE s.t DROP COLUMN id, CONSTRAINT df_t"].endswith(
        COLUMN_STANDS
    )


def test_an_unknown_name_before_an_unnamed_default_may_be_its(tmp_path: Path) -> None:
    """SQL Server named y's default (DF__t__y__…): the name dropped before y may be it."""
    snapshot = replayed(tmp_path, "ALTER TABLE s.t DROP DF__t__y__6C190EBB, COLUMN y\nGO\n")
    assert table(snapshot) == (("id", "note", "secret", "code"), ["id"])
    assert ("t", "y", "SELECT", "G", "bob") not in permissions(snapshot)


def test_a_refusal_in_a_loop_says_a_later_pass_may_drop(tmp_path: Path) -> None:
    tail = "WHILE 1 = 1\nBEGIN\nALTER TABLE s.t DROP COLUMN id;\nBREAK\nEND\nGO\n"
    reason = skipped(replayed(tmp_path, tail))["ALTER TABLE s.t DROP COLUMN id"]
    assert "(in the one pass grantbridge replays of the WHILE loop at" in reason
    assert "once a later pass finds the default dropped, SQL Server drops the column)" in reason


@pytest.mark.parametrize(
    "drop",
    [
        "ALTER TABLE s.nope DROP COLUMN note",  # a table no script creates
        "ALTER TABLE s.t DROP COLUMN IF EXISTS nope",  # a column the table does not have
        "ALTER TABLE s.t DROP COLUMN nope",  # nor one the replay knows of
    ],
)
def test_a_column_not_known_changes_nothing(tmp_path: Path, drop: str) -> None:
    snapshot = replayed(tmp_path, drop + "\nGO\n")
    assert permissions(snapshot) == ALL
    assert table(snapshot) == table(replayed(tmp_path))
    (item,) = [s for s in snapshot.skipped if s.text == drop]
    assert item.reason == "ALTER TABLE without a security effect"
    assert harmless(item)


def test_a_column_known_by_its_grant_takes_it_along(tmp_path: Path) -> None:
    """A table no script creates, a column added without a sequence default (not among the
    table's columns): SQL Server granted on the column, so it was there."""
    tail = ("GRANT SELECT (c) ON s.other TO [ann]\nALTER TABLE s.t ADD extra int\nGO\n"
            "GRANT SELECT (extra) ON s.t TO [ann]\nGO\n"
            "ALTER TABLE s.other DROP COLUMN c\nALTER TABLE s.t DROP COLUMN extra\nGO\n")  # fmt: skip
    snapshot = replayed(tmp_path, tail)
    assert permissions(snapshot) == ALL
    assert not [s for s in snapshot.skipped if "DROP COLUMN" in s.text]


def test_a_renamed_column_is_dropped_by_its_new_name(tmp_path: Path) -> None:
    tail = "EXEC sp_rename 's.t.note', 'memo', 'COLUMN'\nGO\nALTER TABLE s.t DROP COLUMN memo\nGO\n"
    snapshot = replayed(tmp_path, tail)
    assert permissions(snapshot) == ALL - NOTE
    assert table(snapshot)[0] == ("id", "y", "secret", "code")
