"""Tables, views, routines, sequences, synonyms and constraints share one namespace per schema
(``sys.objects``): SQL Server refuses a constraint named as another object or constraint the
scripts state, two constraints of one name in a statement, and a CREATE of an object named as
a constraint (Msg 2714, "There is already an object named '…' in the database."). The statement
changes nothing and is reported (GB045) at its line; a name freed first, or another schema's,
is accepted (``mssql_extract/tsql/constraint_names.py``, ``DbState.object_named``)."""

from __future__ import annotations

import pytest

from mapper.planner import plan
from mapper.policy import Policy
from mapper.translate.skipped import REFUSED, harmless
from mssql_extract.snapshot import SecuritySnapshot, Skipped
from tests.extract.tsql_helpers import db, snap

#: s.t has the key pk_t, the CHECK ck_t and the default df_t (calling s.seq); s.v is a view.
#: The statements below start at line 11.
BASE = """USE d
GO
CREATE SCHEMA s
GO
CREATE SEQUENCE s.seq
GO
CREATE TABLE s.t (id int CONSTRAINT pk_t PRIMARY KEY, b int, CONSTRAINT ck_t CHECK (b > 0),
    n bigint CONSTRAINT df_t DEFAULT (NEXT VALUE FOR s.seq))
CREATE VIEW s.v AS SELECT 1 AS one
GO
"""
MESSAGE = "SQL Server refuses it (Msg 2714, \"There is already an object named '{}' in the database"


def objects(s: SecuritySnapshot) -> dict[str, list[str | None]]:
    """schema.name → the constraints of its sequence defaults, of every object of d."""
    return {f"{o.schema_name}.{o.name}": [d.constraint for d in o.sequence_defaults]
            for o in db(s).objects}  # fmt: skip


BEFORE = {"s.seq": [], "s.t": ["df_t"], "s.v": []}


def refused(s: SecuritySnapshot, line: int = 11) -> Skipped:
    """The one statement reported, at ``line``: refused, the first definition standing."""
    [item] = [x for x in s.skipped if not harmless(x)]
    assert (item.kind, item.source_ref.line) == ("statement", line)
    assert item.reason.endswith(REFUSED)
    return item


@pytest.mark.parametrize(
    ("sql", "name"),
    [
        # two constraints of one name in a CREATE TABLE (names compared case-insensitively) …
        ("CREATE TABLE s.u (a int CONSTRAINT q PRIMARY KEY, b int CONSTRAINT [Q] UNIQUE)", "Q"),
        ("CREATE TABLE s.u (a int CONSTRAINT q DEFAULT 0, CONSTRAINT q CHECK (a > 0))", "q"),
        # … or one named as the table it creates
        ("CREATE TABLE s.u (a int, CONSTRAINT u PRIMARY KEY (a))", "u"),
        # … or in one ALTER TABLE … ADD list: the sequence default it adds is not added either
        ("ALTER TABLE s.t ADD CONSTRAINT q CHECK (b < 9), CONSTRAINT q DEFAULT "
         "(NEXT VALUE FOR s.seq) FOR b", "q"),
    ],
    ids=["create-column", "create-table-level", "table-name", "alter-add"],
)  # fmt: skip
def test_a_name_given_twice_in_a_statement_is_refused(sql: str, name: str) -> None:
    s = snap(BASE + sql + "\n")
    assert objects(s) == BEFORE  # s.u not created, s.t's defaults unchanged
    item = refused(s)
    assert item.text == sql
    assert MESSAGE.format(name) in item.reason


@pytest.mark.parametrize(
    ("sql", "name", "holder"),
    [
        ("CREATE TABLE s.pk_t (a int)", "pk_t", "constraint 's.pk_t' of table 't'"),
        ("CREATE VIEW s.ck_t AS SELECT 1 AS one", "ck_t", "constraint 's.ck_t' of table 't'"),
        ("CREATE SEQUENCE s.df_t", "df_t", "constraint 's.df_t' of table 't'"),
        ("CREATE PROCEDURE s.pk_t AS SELECT 1", "pk_t", "constraint 's.pk_t' of table 't'"),
        ("CREATE SYNONYM s.ck_t FOR s.t", "ck_t", "constraint 's.ck_t' of table 't'"),
    ],
    ids=["table", "view", "sequence", "procedure", "synonym"],
)
def test_an_object_named_as_a_constraint_is_refused(sql: str, name: str, holder: str) -> None:
    s = snap(BASE + sql + "\n")
    assert objects(s) == BEFORE
    item = refused(s)
    assert item.reason.startswith(f"{holder} already exists (t.sql:7:1): SQL Server refuses it")
    assert "(Msg 2714)" in item.reason


@pytest.mark.parametrize(
    ("sql", "name", "holder"),
    [
        ("ALTER TABLE s.t ADD CONSTRAINT v CHECK (b < 9)", "v", "the view 's.v' (t.sql:9:1)"),
        ("ALTER TABLE s.t ADD CONSTRAINT [SEQ] DEFAULT (0) FOR b", "SEQ",
         "the sequence 's.seq' (t.sql:5:1)"),
        ("CREATE TABLE s.u (a int CONSTRAINT t PRIMARY KEY)", "t", "the table 's.t' (t.sql:7:1)"),
        # another table's constraint, of any kind
        ("CREATE TABLE s.u (a int, CONSTRAINT ck_t CHECK (a > 0))", "ck_t",
         "the constraint 's.ck_t' of table 't' (t.sql:7:1)"),
        ("ALTER TABLE s.t ADD CONSTRAINT PK_T UNIQUE (b)", "PK_T",
         "the constraint 's.pk_t' of table 't' (t.sql:7:1)"),
    ],
    ids=["view", "sequence", "table", "check", "key"],
)  # fmt: skip
def test_a_constraint_named_as_an_object_is_refused(sql: str, name: str, holder: str) -> None:
    s = snap(BASE + sql + "\n")
    assert objects(s) == BEFORE
    item = refused(s)
    assert item.reason.startswith(f"constraint [{name}] of schema [s] is named as {holder}: ")
    assert MESSAGE.format(name) in item.reason


def test_a_freed_or_other_schemas_name_is_accepted() -> None:
    taken = "CREATE VIEW s.ck_t AS SELECT 1 AS one\n"
    assert refused(snap(BASE + taken))
    for sql in [
        "ALTER TABLE s.t DROP CONSTRAINT ck_t\nGO\n" + taken,  # freed by DROP CONSTRAINT
        "DROP TABLE s.t\nGO\n" + taken,  # and by DROP TABLE
        "EXEC sp_rename N's.ck_t', N'ck_old'\nGO\n" + taken,  # renamed away
        taken.replace("s.ck_t", "x.ck_t"),  # another schema: another namespace
    ]:
        s = snap(BASE + sql)
        assert "s.ck_t" in objects(s) or "x.ck_t" in objects(s), sql
        assert all(harmless(item) for item in s.skipped), (sql, s.skipped)


def test_under_an_existence_check_naming_it_the_branch_is_skipped_in_silence() -> None:
    s = snap(BASE + "IF OBJECT_ID(N'[s].[ck_t]') IS NULL\n    CREATE TABLE s.ck_t (a int)\n")
    assert objects(s) == BEFORE
    assert not [x for x in s.skipped if not harmless(x)]
    assert refused(snap(BASE + "CREATE TABLE s.ck_t (a int)\n"))


def test_the_plan_reports_the_refused_create() -> None:
    s = snap(
        BASE + "CREATE TABLE s.u (a int CONSTRAINT q PRIMARY KEY, b int CONSTRAINT q UNIQUE)\n"
    )
    found = [f for f in plan(s, Policy()).findings if f.rule_id == "GB045"]
    assert [(f.source_ref, MESSAGE.format("q") in f.evidence) for f in found] == [
        ("t.sql:11:1", True)
    ]
    assert "s.u" not in objects(s)


def test_a_rename_to_a_constraints_name_is_refused() -> None:
    s = snap(BASE + "EXEC sp_rename N's.v', N'PK_T'\n")
    assert objects(s) == BEFORE  # the view keeps its name
    [item] = [x for x in s.skipped if not harmless(x)]
    assert item.reason.startswith("sp_rename refused: [s].[PK_T] exists already (Msg 15335)")
