"""Script replay of ``ALTER TABLE … DROP COLUMN`` of a column a computed column of its table uses,
or that a foreign key of another table references (``mssql_extract/tsql/dependents.py``): SQL
Server refuses it (a Msg 5074 for each thing on the column, then Msg 4922), so the column stands
with its grants; the computed column or the foreign key dropped first, the column goes. The key
such a foreign key uses, dropped in the same statement, is refused first (Msg 3725:
``key_refusals``). Renames, schema transfers and drops of the tables are followed.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from mapper.translate.skipped import harmless
from mssql_extract.snapshot import SecuritySnapshot
from mssql_extract.tsql.key_refusals import KEY_STANDS
from mssql_extract.tsql.table_drops import COLUMN_STANDS
from tests.extract_sources.scripts import replay_script
from tests.mapper.test_column_drops import column_grants
from tests.modules.test_ownership_chains import findings, planned

#: s.t: b computed from a (CREATE TABLE), f from c and d (ADD … PERSISTED); g's expression names
#: a string, a function and a type spelled as e's, name's and date's … columns, and only x.
#: s.parent: a key on id, a unique constraint on code; s.child references both, s.kid its key
#: (no column list).
TABLES = """CREATE TABLE [s].[t] (a int, b AS a * 2, c int, d int, e int, x int, [name] int,
    [date] int, g AS CAST(x AS date) + N'name' + 'e')
GO
ALTER TABLE s.t ADD f AS (c + [d]) PERSISTED
GO
CREATE TABLE s.parent (id int NOT NULL CONSTRAINT pk_parent PRIMARY KEY,
    code int CONSTRAINT uq_code UNIQUE, other int)
GO
CREATE TABLE s.child (x int CONSTRAINT fk_id REFERENCES s.parent (id), y int)
GO
ALTER TABLE s.child WITH CHECK ADD CONSTRAINT fk_code FOREIGN KEY (y)
    REFERENCES [s].[parent] ([code])
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
CREATE SCHEMA [r]
GO
{TABLES}GRANT SELECT (a, b, c, d, e, f, x, [name], [date]) ON s.t TO [bob]
GRANT SELECT (id, code, other) ON s.parent TO [bob]
GO
"""
#: The line the statements after HEAD start at.
LINE = HEAD.count("\n") + 1
MSG_4922 = 'Msg 4922 "ALTER TABLE DROP COLUMN {} failed because one or more objects access'


def replayed(tmp_path: Path, tail: str) -> SecuritySnapshot:
    return replay_script(tmp_path, HEAD + tail)


def granted(snapshot: SecuritySnapshot, table: str) -> set[str]:
    """The columns of ``table`` bob holds SELECT on."""
    return {p.column_name or "" for p in snapshot.databases[0].permissions
            if p.grantee == "bob" and p.object_name == table}  # fmt: skip


def refusals(snapshot: SecuritySnapshot) -> list[tuple[int, str]]:
    """(line, reason) of the ALTER TABLE … DROP statements SQL Server refuses (a column, or a
    key a foreign key uses)."""
    return [(s.source_ref.line, s.reason) for s in snapshot.skipped
            if s.reason.endswith((COLUMN_STANDS, KEY_STANDS))]  # fmt: skip


# --------------------------------------------------------------------------- computed columns


@pytest.mark.parametrize(
    ("column", "computed"),
    [("a", "b"), ("c", "f"), ("d", "f"), ("x", "g")],
    ids=["create-table", "add-persisted", "add-quoted", "cast"],
)
def test_a_column_a_computed_column_uses_is_refused(
    tmp_path: Path, column: str, computed: str
) -> None:
    drop = f"ALTER TABLE s.t DROP COLUMN e, {column}"
    snapshot = replayed(tmp_path, drop + "\nGO\n")
    assert granted(snapshot, "t") == {"a", "b", "c", "d", "e", "f", "x", "name", "date"}
    (item,) = [s for s in snapshot.skipped if s.text == drop]
    assert item.source_ref.line == LINE
    assert item.reason == (
        f"column [{column}] of [s].[t] is used by the computed column [{computed}], so SQL "
        f"Server refuses the ALTER TABLE (Msg 5074 \"The column '{computed}' is dependent on "
        f"column '{column}'.\", {MSG_4922.format(column)} this column.\"): {COLUMN_STANDS}"
    )
    assert not harmless(item)


@pytest.mark.parametrize(
    "column", ["e", "name", "date"], ids=["string", "national-string", "type-after-as"]
)
def test_what_an_expression_names_that_is_no_column_refuses_nothing(
    tmp_path: Path, column: str
) -> None:
    refused = replayed(tmp_path, "ALTER TABLE s.t DROP COLUMN x\nGO\n")
    assert [line for line, _ in refusals(refused)] == [LINE]  # g uses x
    snapshot = replayed(tmp_path, f"ALTER TABLE s.t DROP COLUMN [{column}]\nGO\n")
    assert not refusals(snapshot)
    assert column not in granted(snapshot, "t")


@pytest.mark.parametrize(
    ("first", "gone"),
    [
        ("ALTER TABLE s.t DROP COLUMN b\nGO\nALTER TABLE s.t DROP COLUMN a", {"a", "b"}),
        # in one statement, in either order (the module docstring: the drop is followed)
        ("ALTER TABLE s.t DROP COLUMN b, a", {"a", "b"}),
        ("ALTER TABLE s.t DROP COLUMN a, b", {"a", "b"}),
        ("ALTER TABLE s.t DROP COLUMN f, COLUMN c, d", {"c", "d", "f"}),
        # a renamed computed column is dropped by its new name
        ("EXEC sp_rename 's.t.b', 'b2', 'COLUMN'\nGO\nALTER TABLE s.t DROP COLUMN b2, a",
         {"a", "b"}),
    ],
    ids=["before", "same-statement", "same-statement-after", "persisted", "renamed"],
)  # fmt: skip
def test_the_computed_column_dropped_the_column_goes(
    tmp_path: Path, first: str, gone: set[str]
) -> None:
    alone = replayed(tmp_path, "ALTER TABLE s.t DROP COLUMN a\nALTER TABLE s.t DROP COLUMN c\n")
    assert [line for line, _ in refusals(alone)] == [LINE, LINE + 1]
    snapshot = replayed(tmp_path, first + "\nGO\n")
    assert not refusals(snapshot)
    everything = {"a", "b", "c", "d", "e", "f", "x", "name", "date"}
    assert granted(snapshot, "t") == everything - gone


def test_a_renamed_column_keeps_its_computed_column(tmp_path: Path) -> None:
    tail = "EXEC sp_rename 's.t.a', 'a2', 'COLUMN'\nGO\nALTER TABLE s.t DROP COLUMN a2\nGO\n"
    ((line, reason),) = refusals(replayed(tmp_path, tail))
    assert line == LINE + 2
    assert reason.startswith("column [a2] of [s].[t] is used by the computed column [b], so ")


def test_a_computed_column_no_script_may_run_holds_nothing(tmp_path: Path) -> None:
    tail = "IF @@SERVERNAME = N'prod'\n    ALTER TABLE s.t ADD h AS e + 1\nGO\n"
    drop = "ALTER TABLE s.t DROP COLUMN e\nGO\n"
    assert refusals(replayed(tmp_path, "ALTER TABLE s.t ADD h AS e + 1\nGO\n" + drop))
    assert not refusals(replayed(tmp_path, tail + drop))


# ------------------------------------------------------------- foreign keys of another table


def _drop_reason(column: str, held: list[tuple[str, str, str]]) -> str:
    """The reason of a refused DROP COLUMN of s.parent's ``column``: ``held`` is (its kind,
    its name, the table of a foreign key) for each thing SQL Server names."""
    has = " and ".join(
        f"is referenced by the {kind} [{name}] of {of}" if of else f"is in the {kind} [{name}]"
        for kind, name, of in held
    )
    said = ", ".join(
        f"Msg 5074 \"The object '{name}' is dependent on column '{column}'.\""
        for _, name, _ in held
    )
    return (
        f"column [{column}] of [s].[parent] {has}, so SQL Server refuses the ALTER TABLE "
        f'({said}, {MSG_4922.format(column)} this column."): {COLUMN_STANDS}'
    )


@pytest.mark.parametrize(
    ("tail", "column", "held"),
    [
        ("", "id", [("primary key", "pk_parent", ""), ("foreign key", "fk_id", "[s].[child]")]),
        ("", "code", [("unique constraint", "uq_code", ""),
                      ("foreign key", "fk_code", "[s].[child]")]),
        # REFERENCES without a column list: the primary key's columns
        ("CREATE TABLE s.kid (p int CONSTRAINT fk_kid REFERENCES s.parent)\nGO\n"
         "ALTER TABLE s.child DROP CONSTRAINT fk_id\nGO\n", "id",
         [("primary key", "pk_parent", ""), ("foreign key", "fk_kid", "[s].[kid]")]),
    ],
    ids=["primary-key", "unique", "no-column-list"],
)  # fmt: skip
def test_a_column_another_tables_foreign_key_references_is_refused(
    tmp_path: Path, tail: str, column: str, held: list[tuple[str, str, str]]
) -> None:
    drop = f"ALTER TABLE s.parent DROP COLUMN other, {column}"
    snapshot = replayed(tmp_path, tail + drop + "\nGO\n")
    assert granted(snapshot, "parent") == {"id", "code", "other"}
    (item,) = [s for s in snapshot.skipped if s.text == drop]
    assert item.source_ref.line == LINE + tail.count("\n")
    assert item.reason == _drop_reason(column, held)


#: A DROP of the key and the column, which SQL Server refuses while a foreign key references
#: the column (Msg 3725 for the key, named first; 5074 for the column).
DROP_KEY = "ALTER TABLE s.parent DROP CONSTRAINT pk_parent, COLUMN id\nGO\n"


@pytest.mark.parametrize(
    ("tail", "table", "named"),
    [
        ("", "s.parent", "[fk_id] of [s].[child]"),
        # either table renamed or moved keeps the foreign key, and so does a renamed key
        ("EXEC sp_rename 's.child', 'child2'\nGO\n", "s.parent", "[fk_id] of [s].[child2]"),
        ("ALTER SCHEMA r TRANSFER s.child\nGO\n", "s.parent", "[fk_id] of [r].[child]"),
        ("EXEC sp_rename 's.parent', 'p2'\nGO\n", "s.p2", "[fk_id] of [s].[child]"),
        ("ALTER SCHEMA r TRANSFER s.parent\nGO\n", "r.parent", "[fk_id] of [s].[child]"),
        ("EXEC sp_rename 's.fk_id', 'fk_new'\nGO\nALTER TABLE s.child DROP CONSTRAINT fk_id\nGO\n",
         "s.parent", "[fk_new] of [s].[child]"),
        # one SQL Server names (FK__kid__p__…)
        ("ALTER TABLE s.child DROP CONSTRAINT fk_id\nGO\n"
         "CREATE TABLE s.kid (p int REFERENCES s.parent)\nGO\n", "s.parent",
         "that SQL Server named of [s].[kid]"),
    ],
    ids=["as-stated", "renamed-child", "transferred-child", "renamed-parent",
         "transferred-parent", "renamed-key", "unnamed"],
)  # fmt: skip
def test_the_foreign_key_alone_refuses(tmp_path: Path, tail: str, table: str, named: str) -> None:
    snapshot = replayed(tmp_path, tail + DROP_KEY.replace("s.parent", table))
    ((line, reason),) = refusals(snapshot)
    assert line == LINE + tail.count("\n")
    spelled = "[{}].[{}]".format(*table.split("."))
    assert reason.startswith(
        f"the primary key [pk_parent] of {spelled} is referenced by the foreign key {named}, "
    )
    name = "fk_new" if "fk_new" in named else "fk_id" if "fk_id" in named else "FK__…"
    assert f"foreign key constraint '{name}'.\", Msg 3727" in reason
    if "TRANSFER s.parent" not in tail:  # (a transfer drops the permissions: ALTER SCHEMA)
        assert "id" in granted(snapshot, table.split(".")[1])


@pytest.mark.parametrize(
    "tail",
    [
        "ALTER TABLE s.child DROP CONSTRAINT fk_id\nGO\n",
        "DROP TABLE s.child\nGO\n",
        "ALTER TABLE s.child DROP CONSTRAINT fk_code, fk_id, COLUMN x\nGO\n",
    ],
    ids=["dropped-key", "dropped-table", "dropped-with-its-column"],
)
def test_the_foreign_key_dropped_first_the_column_goes(tmp_path: Path, tail: str) -> None:
    assert [line for line, _ in refusals(replayed(tmp_path, DROP_KEY))] == [LINE]
    snapshot = replayed(tmp_path, tail + DROP_KEY)
    assert not refusals(snapshot)
    assert granted(snapshot, "parent") == {"code", "other"}


def test_a_renamed_referenced_column_is_followed(tmp_path: Path) -> None:
    tail = ("EXEC sp_rename 's.parent.id', 'pid', 'COLUMN'\nGO\n"
            "ALTER TABLE s.parent DROP COLUMN pid\nGO\n")  # fmt: skip
    ((_, reason),) = refusals(replayed(tmp_path, tail))
    assert reason.startswith(
        "column [pid] of [s].[parent] is in the primary key [pk_parent] and is referenced by "
        "the foreign key [fk_id] of [s].[child], "
    )


def test_a_self_reference_refuses_its_own_key_column(tmp_path: Path) -> None:
    tail = ("CREATE TABLE s.node (id int CONSTRAINT pk_node PRIMARY KEY,\n"
            "    up int CONSTRAINT fk_up FOREIGN KEY REFERENCES s.node)\nGO\n"
            "ALTER TABLE s.node DROP CONSTRAINT pk_node, COLUMN id\nGO\n"
            "ALTER TABLE s.node DROP CONSTRAINT fk_up, pk_node, COLUMN up, id\nGO\n")  # fmt: skip
    ((line, reason),) = refusals(replayed(tmp_path, tail))
    assert line == LINE + 3
    assert reason.startswith("column [id] of [s].[node] is referenced by the foreign key [fk_up]")


KID = "CREATE TABLE s.kid (p int CONSTRAINT fk_kid REFERENCES s.other (id))"


@pytest.mark.parametrize(
    "unknown",
    [
        "IF @@SERVERNAME = N'prod'\n    " + KID,
        "WHILE 1 = 0\n    " + KID,
    ],
    ids=["uncertain-branch", "loop"],
)
def test_what_the_scripts_do_not_state_is_not_known(tmp_path: Path, unknown: str) -> None:
    other = "CREATE TABLE s.other (id int CONSTRAINT uq_other UNIQUE)\nGO\n"
    drop = "\nGO\nALTER TABLE s.other DROP CONSTRAINT uq_other, COLUMN id\nGO\n"
    assert refusals(replayed(tmp_path, other + KID + drop))
    assert not refusals(replayed(tmp_path, other + unknown + drop))


def test_the_plan_keeps_the_grants_of_a_referenced_column_and_says_why(tmp_path: Path) -> None:
    body = ("CREATE TABLE [s].[t] (id int CONSTRAINT pk_t PRIMARY KEY, x int)\nGO\n"
            "CREATE TABLE [s].[c] (p int CONSTRAINT fk_c REFERENCES [s].[t])\nGO\n"
            "GRANT SELECT ([id], [x]) ON OBJECT::[s].[t] TO [{p}carol]\nGO\n")  # fmt: skip
    drop = "ALTER TABLE [s].[t] DROP CONSTRAINT pk_t, COLUMN [x], [id]\nGO\n"
    migration = planned(tmp_path, body + drop)
    assert column_grants(migration) == {("carol", "SELECT", ("id",)), ("carol", "SELECT", ("x",))}
    (refused,) = findings(migration, "GB045")
    assert refused.evidence.startswith(
        "the primary key [pk_t] of [s].[t] is referenced by the foreign key [fk_c] of [s].[c], "
        "so SQL Server refuses the ALTER TABLE (Msg 3725 \"The constraint 'pk_t' is being "
        "referenced by table 'c', foreign key constraint 'fk_c'.\""
    )
    assert "drop the foreign keys of other tables that reference it first" in refused.action
    dropped = planned(tmp_path, body + "ALTER TABLE s.c DROP CONSTRAINT fk_c\nGO\n" + drop)
    assert column_grants(dropped) == set()
