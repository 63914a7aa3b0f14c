"""A constraint named as a sequence default its schema holds already: SQL Server refuses the
statement (Msg 2714, "There is already an object named 'df' in the database."), on the same
table or another of the schema, and it changes nothing. Another schema's name, or one a DROP
CONSTRAINT freed, is accepted; names the replay does not know are not checked."""

from __future__ import annotations

import pytest

from mapper.translate.skipped import REFUSED, harmless
from mssql_extract.snapshot import SecuritySnapshot
from tests.extract.tsql_helpers import db, snap

#: s.t's default df_t_id calls s.seq; s.u and x.u have none. The statements below start at line 11.
BASE = """USE d
GO
CREATE SCHEMA s
GO
CREATE SEQUENCE s.seq
GO
CREATE TABLE s.t (id bigint CONSTRAINT df_t_id DEFAULT (NEXT VALUE FOR s.seq), b bigint)
CREATE TABLE s.u (id bigint)
CREATE TABLE x.u (id bigint)
GO
"""
ADD_U = "ALTER TABLE {} ADD CONSTRAINT [DF_T_ID] DEFAULT (NEXT VALUE FOR s.seq) FOR id\n"


def defaults(s: SecuritySnapshot) -> dict[str, list[tuple[str, str | None]]]:
    """schema.table → (column, constraint) of its sequence defaults."""
    return {f"{o.schema_name}.{o.name}": [(d.column, d.constraint) for d in o.sequence_defaults]
            for o in db(s).objects if o.kind.value == "TABLE"}  # fmt: skip


UNCHANGED = {"s.t": [("id", "df_t_id")], "s.u": [], "x.u": []}


@pytest.mark.parametrize(
    "sql",
    [
        "ALTER TABLE s.t ADD CONSTRAINT df_t_id DEFAULT (NEXT VALUE FOR s.seq) FOR b",
        ADD_U.format("s.u").strip(),
        "ALTER TABLE s.u ADD c bigint CONSTRAINT df_t_id DEFAULT (NEXT VALUE FOR s.seq)",
        # a constraint of any kind: the name is the schema's
        "ALTER TABLE s.u ADD CONSTRAINT df_t_id CHECK (id > 0)",
        "CREATE TABLE s.v (id bigint CONSTRAINT df_t_id DEFAULT (NEXT VALUE FOR s.seq))",
        "CREATE TABLE s.v (id bigint, CONSTRAINT [df_t_id] PRIMARY KEY (id))",
    ],
    ids=["same-table", "other-table", "new-column", "check", "create-table", "create-table-pk"],
)
def test_a_name_the_schema_holds_is_refused(sql: str) -> None:
    s = snap(BASE + sql + "\n")
    assert defaults(s) == UNCHANGED  # s.v not created either
    [item] = s.skipped
    assert (item.kind, item.source_ref.line, item.text) == ("statement", 11, sql)
    assert item.reason.lower().startswith(
        "constraint [df_t_id] already exists in schema [s], the default of [s].[t] column [id]: "
        "sql server refuses it (msg 2714, \"there is already an object named 'df_t_id'"
    )
    assert item.reason.endswith(REFUSED)
    assert not harmless(item)


@pytest.mark.parametrize(
    ("sql", "expected"),
    [
        # another schema: another namespace
        (ADD_U.format("x.u"), {**UNCHANGED, "x.u": [("id", "DF_T_ID")]}),
        # the name freed first
        ("ALTER TABLE s.t DROP CONSTRAINT df_t_id\nGO\n" + ADD_U.format("s.u"),
         {**UNCHANGED, "s.t": [], "s.u": [("id", "DF_T_ID")]}),
        ("DROP TABLE s.t\nGO\n" + ADD_U.format("s.u"), {"s.u": [("id", "DF_T_ID")], "x.u": []}),
        # renamed away: the old name is free, the new one taken
        ("EXEC sp_rename N's.df_t_id', N'df_old'\nGO\n" + ADD_U.format("s.u"),
         {**UNCHANGED, "s.t": [("id", "df_old")], "s.u": [("id", "DF_T_ID")]}),
    ],
    ids=["other-schema", "dropped", "table-dropped", "renamed"],
)  # fmt: skip
def test_a_free_name_is_accepted(sql: str, expected: dict[str, object]) -> None:
    s = snap(BASE + sql)
    assert defaults(s) == expected
    assert all(harmless(item) for item in s.skipped), s.skipped


def test_names_the_replay_does_not_know_are_not_checked() -> None:
    # ck_u may collide on the server with one no script shows: no refusal is invented (a
    # constraint the scripts state is checked: tests/extract/test_tsql_object_names.py)
    s = snap(BASE + "ALTER TABLE s.t ADD CONSTRAINT ck_u CHECK (b > 0)\n"
             "ALTER TABLE s.u ADD CONSTRAINT df_u DEFAULT (NEXT VALUE FOR s.seq) FOR id\n")  # fmt: skip
    assert defaults(s) == {**UNCHANGED, "s.u": [("id", "df_u")]}
    assert all(harmless(item) for item in s.skipped), s.skipped
    s = snap(BASE + "ALTER TABLE s.u ADD DEFAULT (NEXT VALUE FOR s.seq) FOR id\n"
             "ALTER TABLE s.u ADD CONSTRAINT DF__u__id DEFAULT (1) FOR id\n")  # fmt: skip
    assert defaults(s)["s.u"] == [("id", None)]
    assert all(harmless(item) for item in s.skipped), s.skipped


def test_under_an_existence_check_naming_it_the_branch_is_skipped_in_silence() -> None:
    check = (
        "IF NOT EXISTS (SELECT * FROM sys.objects WHERE object_id = OBJECT_ID(N'[s].[df_t_id]'))"
    )
    s = snap(BASE + check + "\nBEGIN\n    " + ADD_U.format("s.u") + "END\n")
    assert defaults(s) == UNCHANGED
    assert not s.skipped
