"""Script replay of what happens to a sequence default after it is made: the constraint's name
kept (``DbObject.sequence_defaults[].constraint``), ``ALTER TABLE … DROP CONSTRAINT`` followed,
a ``DROP SEQUENCE`` SQL Server refuses kept as skipped, ``DROP TABLE`` taking the defaults.

"A sequence object cannot be dropped if it is referenced as a default value in a table" (DROP
SEQUENCE, Remarks); ``ALTER TABLE … DROP { [CONSTRAINT] [IF EXISTS] name | COLUMN … } [, …]``
("ALTER TABLE (Transact-SQL)"): the word CONSTRAINT is optional.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from mapper.translate.skipped import REFUSED_DROP_SEQUENCE, harmless
from mssql_extract.snapshot import SecuritySnapshot
from mssql_extract.tsql import extract_scripts
from mssql_extract.tsql.column_defaults import SEQUENCE_STANDS

HEAD = """CREATE DATABASE [D1]
GO
USE [D1]
GO
CREATE SCHEMA [s]
GO
CREATE SEQUENCE s.seq AS bigint
GO
CREATE TABLE s.t (id bigint NOT NULL CONSTRAINT df_t DEFAULT (NEXT VALUE FOR s.seq),
    x int CONSTRAINT ck_x CHECK (x > 0), y bigint DEFAULT (NEXT VALUE FOR s.seq))
GO
CREATE TABLE [s].[u] ([id] int, [code] nvarchar(30))
GO
ALTER TABLE [s].[u] ADD CONSTRAINT [DF u id] DEFAULT (NEXT VALUE FOR [s].[seq]) FOR [id],
    extra bigint CONSTRAINT df_extra DEFAULT NEXT VALUE FOR s.seq
GO
"""


def replayed(tmp_path: Path, tail: str = "") -> SecuritySnapshot:
    path = tmp_path / "s.sql"
    path.write_text(HEAD + tail, encoding="utf-8")
    return extract_scripts([path])


def named(snapshot: SecuritySnapshot) -> dict[str, list[tuple[str, str | None]]]:
    """``schema.table`` → its (column, constraint name) sequence defaults."""
    return {f"{o.schema_name}.{o.name}": [(d.column, d.constraint) for d in o.sequence_defaults]
            for o in snapshot.databases[0].objects if o.sequence_defaults}  # fmt: skip


def skipped(snapshot: SecuritySnapshot) -> dict[str, str]:
    return {s.text: s.reason for s in snapshot.skipped}


def test_the_names_scripts_give_are_kept(tmp_path: Path) -> None:
    assert named(replayed(tmp_path)) == {
        "s.t": [("id", "df_t"), ("y", None)],  # y's name is SQL Server's: DF__t__y__…
        "s.u": [("extra", "df_extra"), ("id", "DF u id")],
    }


#: What the defaults are after s.t's df_t is dropped, and after both of s.u's are.
T_DROPPED = {"s.t": [("y", None)], "s.u": [("extra", "df_extra"), ("id", "DF u id")]}
U_DROPPED = {"s.t": [("id", "df_t"), ("y", None)]}


@pytest.mark.parametrize(
    ("drop", "left"),
    [
        ("ALTER TABLE s.t DROP CONSTRAINT DF_T", T_DROPPED),
        ("ALTER TABLE s.t DROP df_t", T_DROPPED),  # CONSTRAINT is optional
        ("ALTER TABLE s.t DROP CONSTRAINT IF EXISTS ck_x, df_t", T_DROPPED),
        ("ALTER TABLE s.t DROP IF EXISTS df_t;", T_DROPPED),
        ("ALTER TABLE s.u DROP COLUMN code, CONSTRAINT [df u id], df_extra", U_DROPPED),
    ],
)
def test_a_drop_constraint_removes_the_default_it_names(
    tmp_path: Path, drop: str, left: dict[str, list[tuple[str, str | None]]]
) -> None:
    snapshot = replayed(tmp_path, drop + "\nGO\n")
    assert named(snapshot) == left
    assert drop.rstrip(";") not in skipped(snapshot)  # it had an effect


@pytest.mark.parametrize(
    "drop",
    [
        "ALTER TABLE s.t DROP CONSTRAINT ck_x",  # a CHECK
        "ALTER TABLE s.t DROP CONSTRAINT IF EXISTS DF__t__y__6C190EBB",  # SQL Server's name
        "ALTER TABLE s.u DROP CONSTRAINT df_t",  # another table's
        "ALTER TABLE s.u DROP COLUMN df_extra, nope",  # columns the table does not have
        "ALTER TABLE s.nope DROP CONSTRAINT df_t",  # a table no script creates
    ],
)
def test_a_drop_of_a_name_not_known_changes_nothing(tmp_path: Path, drop: str) -> None:
    snapshot = replayed(tmp_path, drop + "\nGO\n")
    assert named(snapshot) == named(replayed(tmp_path))
    (item,) = [s for s in snapshot.skipped if s.text == drop]
    assert item.reason == "ALTER TABLE without a security effect"
    assert harmless(item)


def test_a_default_added_again_after_its_drop_has_its_new_name(tmp_path: Path) -> None:
    snapshot = replayed(tmp_path, "ALTER TABLE s.t DROP df_t\nGO\nALTER TABLE s.t ADD CONSTRAINT "
                                  "df_t2 DEFAULT (NEXT VALUE FOR s.seq) FOR id\nGO\n")  # fmt: skip
    assert named(snapshot)["s.t"] == [("id", "df_t2"), ("y", None)]


def test_a_statement_after_the_drop_list_is_read(tmp_path: Path) -> None:
    """No semicolon: the DROP list ends where the next statement begins (an IF EXISTS inside
    the list is the list's, an IF after it a statement)."""
    snapshot = replayed(tmp_path, "ALTER TABLE s.t DROP CONSTRAINT IF EXISTS df_t\n"
                                  "CREATE ROLE r\nIF 1 = 1 CREATE ROLE q\nGO\n")  # fmt: skip
    assert named(snapshot)["s.t"] == [("y", None)]
    assert {r.name for r in snapshot.databases[0].roles} >= {"r", "q"}


def test_a_renamed_column_keeps_its_default_name(tmp_path: Path) -> None:
    snapshot = replayed(
        tmp_path, "EXEC sp_rename 's.t.id', 'ident', 'COLUMN'\nGO\nALTER TABLE s.t DROP df_t\nGO\n"
    )
    assert named(snapshot)["s.t"] == [("y", None)]


def test_a_drop_sequence_a_default_calls_is_refused(tmp_path: Path) -> None:
    """dbo.seq, which no default calls, is dropped; s.seq stands."""
    snapshot = replayed(tmp_path, "CREATE SEQUENCE dbo.seq\nGO\nDROP SEQUENCE dbo.seq, s.seq\nGO\n")
    sequences = [o for o in snapshot.databases[0].objects if o.kind == "SEQUENCE"]
    assert [(o.schema_name, o.name) for o in sequences] == [("s", "seq")]
    assert skipped(snapshot)["DROP SEQUENCE dbo.seq, s.seq"] == (
        "sequence [s].[seq] is called by the default of [s].[t] column [id], [s].[t] column "
        "[y], [s].[u] column [extra], [s].[u] column [id], so SQL Server refuses the DROP "
        'SEQUENCE ("A sequence object cannot be dropped if it is referenced as a default value '
        'in a table", DROP SEQUENCE, Remarks): the sequence stands (not replayed)'
    )
    assert SEQUENCE_STANDS == REFUSED_DROP_SEQUENCE


def test_a_drop_sequence_once_no_default_calls_it(tmp_path: Path) -> None:
    tail = "DROP TABLE s.u\nGO\nALTER TABLE s.t DROP df_t\nGO\n"
    refused = replayed(tmp_path, tail + "DROP SEQUENCE s.seq\nGO\n")
    assert "DROP SEQUENCE s.seq" in skipped(refused)  # y's default, unnamed, still calls it
    path = tmp_path / "s.sql"
    path.write_text(HEAD + tail + "DROP TABLE s.t\nGO\nDROP SEQUENCE s.seq\nGO\n")
    dropped = extract_scripts([path])
    assert not [o for o in dropped.databases[0].objects if o.kind == "SEQUENCE"]
    assert not [s for s in dropped.skipped if "DROP SEQUENCE" in s.text]


def test_the_names_round_trip_through_the_snapshot(tmp_path: Path) -> None:
    snapshot = replayed(tmp_path)
    text = snapshot.to_json()
    assert '"constraint": "df_extra"' in text
    assert SecuritySnapshot.from_json(text) == snapshot


def test_a_renamed_default_is_dropped_by_its_new_name(tmp_path: Path) -> None:
    tail = ("EXEC sp_rename N'[s].[df_t]', N'df_t2', N'OBJECT'\nGO\n"
            "EXEC sp_rename 's.df_extra', 'df_extra2'\nGO\n"  # OBJECT is the default type
            "ALTER TABLE s.t DROP CONSTRAINT df_t2\nGO\n")  # fmt: skip
    assert named(replayed(tmp_path, tail)) == {
        "s.t": [("y", None)],
        "s.u": [("extra", "df_extra2"), ("id", "DF u id")],
    }
