"""Script replay of a DROP TABLE of a table another table's foreign key references (Msg 3726), and
of an ALTER TABLE … DROP CONSTRAINT of the key such a foreign key uses (Msg 3725)
(``mssql_extract/tsql/key_refusals.py``): SQL Server refuses them, so the table stands with its
grants, or the statement changes nothing; the foreign key (or its table) dropped first, the drop
goes through. Renames and schema transfers of either table are followed.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from mapper.translate.skipped import REFUSED_DROP_KEY, REFUSED_DROP_TABLE, harmless
from mssql_extract.snapshot import SecuritySnapshot
from mssql_extract.tsql.key_refusals import KEY_STANDS, TABLE_STANDS
from tests.extract_sources.scripts import replay_script
from tests.modules.test_ownership_chains import findings, planned

#: s.parent: a key on id, a unique constraint on code; s.child references both.
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
CREATE TABLE s.parent (id int NOT NULL CONSTRAINT pk_parent PRIMARY KEY,
    code int CONSTRAINT uq_code UNIQUE, other int)
GO
CREATE TABLE s.child (x int CONSTRAINT fk_id REFERENCES s.parent (id), y int)
GO
ALTER TABLE s.child ADD CONSTRAINT fk_code FOREIGN KEY (y) REFERENCES [s].[parent] ([code])
GO
CREATE TABLE s.lone (id int)
GO
GRANT SELECT ON s.parent TO [bob]
GRANT UPDATE (other) ON s.parent TO [bob]
GRANT SELECT ON s.child TO [bob]
GRANT SELECT ON s.lone TO [bob]
GO
"""
#: The line the statements after HEAD start at.
LINE = HEAD.count("\n") + 1
MSG_3726 = "Msg 3726 \"Could not drop object '{}' because it is referenced by a FOREIGN KEY"


def replayed(tmp_path: Path, tail: str) -> SecuritySnapshot:
    return replay_script(tmp_path, HEAD + tail)


def grants(snapshot: SecuritySnapshot) -> set[tuple[str, str, str]]:
    """(table, column or "", permission) of bob's grants."""
    return {(p.object_name or "", p.column_name or "", p.permission)
            for p in snapshot.databases[0].permissions if p.grantee == "bob"}  # fmt: skip


def tables(snapshot: SecuritySnapshot) -> set[str]:
    return {f"{o.schema_name}.{o.name}" for o in snapshot.databases[0].objects}


def refusals(snapshot: SecuritySnapshot, stands: str = TABLE_STANDS) -> list[tuple[int, str]]:
    """(line, reason) of the statements SQL Server refuses."""
    return [(s.source_ref.line, s.reason) for s in snapshot.skipped if s.reason.endswith(stands)]


ALL = {("parent", "", "SELECT"), ("parent", "other", "UPDATE"), ("child", "", "SELECT"),
       ("lone", "", "SELECT")}  # fmt: skip


# --------------------------------------------------------------------------- DROP TABLE


def test_a_referenced_table_stands_with_its_grants(tmp_path: Path) -> None:
    drop = "DROP TABLE s.lone, [s].[parent]"
    snapshot = replayed(tmp_path, drop + "\nGO\n")
    assert tables(snapshot) == {"s.parent", "s.child"}
    assert grants(snapshot) == ALL - {("lone", "", "SELECT")}
    (item,) = [s for s in snapshot.skipped if s.text == drop]
    assert item.source_ref.line == LINE
    assert item.reason == (
        "table [s].[parent] is referenced by the foreign key [fk_id] of [s].[child] and the "
        "foreign key [fk_code] of [s].[child], so SQL Server refuses to drop it ("
        f'{MSG_3726.format("s.parent")} constraint."): {TABLE_STANDS}'
    )
    assert TABLE_STANDS == REFUSED_DROP_TABLE
    assert not harmless(item)


@pytest.mark.parametrize(
    "tail",
    [
        "ALTER TABLE s.child DROP CONSTRAINT fk_id, fk_code\nGO\nDROP TABLE s.parent\n",
        "DROP TABLE s.child\nGO\nDROP TABLE s.parent\n",
        # the referencing table listed first (DROP TABLE, Remarks)
        "DROP TABLE s.child, s.parent\n",
    ],
    ids=["dropped-keys", "dropped-table", "listed-first"],
)
def test_the_foreign_keys_dropped_first_the_table_goes(tmp_path: Path, tail: str) -> None:
    assert refusals(replayed(tmp_path, "DROP TABLE s.parent\nGO\n"))
    snapshot = replayed(tmp_path, tail + "GO\n")
    assert not refusals(snapshot)
    assert "s.parent" not in tables(snapshot)
    assert not {g for g in grants(snapshot) if g[0] == "parent"}


def test_one_foreign_key_left_keeps_the_table(tmp_path: Path) -> None:
    tail = "ALTER TABLE s.child DROP CONSTRAINT fk_id\nGO\nDROP TABLE s.parent\nGO\n"
    ((line, reason),) = refusals(replayed(tmp_path, tail))
    assert line == LINE + 2
    assert reason.startswith("table [s].[parent] is referenced by the foreign key [fk_code] of ")


def test_the_referencing_table_listed_after_is_dropped_alone(tmp_path: Path) -> None:
    snapshot = replayed(tmp_path, "DROP TABLE s.parent, s.child\nGO\n")
    assert tables(snapshot) == {"s.parent", "s.lone"}
    assert grants(snapshot) == ALL - {("child", "", "SELECT")}
    ((_, reason),) = refusals(snapshot)
    assert reason.startswith("table [s].[parent] is referenced by the foreign key [fk_id] of ")


#: s.node references itself.
NODE = ("CREATE TABLE s.node (id int CONSTRAINT pk_node PRIMARY KEY,\n"
        "    up int CONSTRAINT fk_up REFERENCES s.node (id))\nGO\n")  # fmt: skip
#: s.leaf references s.node.
LEAF = "CREATE TABLE s.leaf (n int CONSTRAINT fk_leaf REFERENCES s.node)\nGO\n"


def test_a_foreign_key_to_its_own_table_keeps_nothing(tmp_path: Path) -> None:
    drop = "GRANT SELECT ON s.node TO [bob]\nGO\nDROP TABLE s.node\nGO\n"
    ((_, reason),) = refusals(replayed(tmp_path, NODE + LEAF + drop))
    assert reason.startswith("table [s].[node] is referenced by the foreign key [fk_leaf] of ")
    snapshot = replayed(tmp_path, NODE + drop)
    assert not refusals(snapshot)
    assert "s.node" not in tables(snapshot)
    assert grants(snapshot) == ALL


@pytest.mark.parametrize(
    ("tail", "drop", "named"),
    [
        ("EXEC sp_rename 's.child', 'kid'\nGO\n", "s.parent", "[fk_id] of [s].[kid]"),
        ("ALTER SCHEMA r TRANSFER s.child\nGO\n", "s.parent", "[fk_id] of [r].[child]"),
        ("EXEC sp_rename 's.parent', 'p2'\nGO\n", "s.p2", "[fk_id] of [s].[child]"),
        ("ALTER SCHEMA r TRANSFER s.parent\nGO\n", "r.parent", "[fk_id] of [s].[child]"),
        ("EXEC sp_rename 's.fk_id', 'fk_new'\nGO\n", "s.parent", "[fk_new] of [s].[child]"),
        # one SQL Server names (FK__kid__p__…)
        ("ALTER TABLE s.child DROP CONSTRAINT fk_id, fk_code\nGO\n"
         "CREATE TABLE s.kid (p int REFERENCES s.parent)\nGO\n", "s.parent",
         "that SQL Server named of [s].[kid]"),
    ],
    ids=["renamed-child", "transferred-child", "renamed-parent", "transferred-parent",
         "renamed-key", "unnamed"],
)  # fmt: skip
def test_renames_and_transfers_are_followed(
    tmp_path: Path, tail: str, drop: str, named: str
) -> None:
    snapshot = replayed(tmp_path, f"{tail}DROP TABLE {drop}\nGO\n")
    ((line, reason),) = refusals(snapshot)
    assert line == LINE + tail.count("\n")
    spelled = "[{}].[{}]".format(*drop.split("."))
    assert reason.startswith(f"table {spelled} is referenced by the foreign key ")
    assert f"the foreign key {named}" in reason
    assert MSG_3726.format(drop) in reason
    assert drop in tables(snapshot)


KID = "CREATE TABLE s.kid (p int CONSTRAINT fk_kid REFERENCES s.lone (id))"


@pytest.mark.parametrize(
    "unknown",
    ["IF @@SERVERNAME = N'prod'\n    " + KID, "WHILE 1 = 0\n    " + KID],
    ids=["uncertain-branch", "loop"],
)
def test_a_foreign_key_the_script_may_not_make_keeps_nothing(tmp_path: Path, unknown: str) -> None:
    lone = "ALTER TABLE s.lone ADD CONSTRAINT uq_lone UNIQUE (id)\nGO\n"
    drop = "\nGO\nDROP TABLE s.lone\nGO\n"
    assert refusals(replayed(tmp_path, lone + KID + drop))
    snapshot = replayed(tmp_path, lone + unknown + drop)
    assert not refusals(snapshot)
    assert "s.lone" not in tables(snapshot)


def test_a_refusal_in_a_loop_says_a_later_pass_may_drop(tmp_path: Path) -> None:
    tail = "WHILE @@ROWCOUNT > 0\nBEGIN\n    DROP TABLE s.parent\nEND\nGO\n"
    ((_, reason),) = refusals(replayed(tmp_path, tail))
    assert "in the one pass grantbridge replays of the WHILE loop" in reason
    assert "SQL Server drops the table" in reason


# --------------------------------------------------------------------------- DROP CONSTRAINT


@pytest.mark.parametrize(
    ("key", "what", "fk"),
    [("pk_parent", "primary key", "fk_id"), ("uq_code", "unique constraint", "fk_code")],
    ids=["primary-key", "unique"],
)
def test_a_referenced_key_is_refused_with_the_statement(
    tmp_path: Path, key: str, what: str, fk: str
) -> None:
    drop = f"ALTER TABLE s.parent DROP COLUMN other, CONSTRAINT {key}"
    snapshot = replayed(tmp_path, drop + "\nGO\n")
    assert grants(snapshot) == ALL  # other's too: the statement fails as a whole
    (item,) = [s for s in snapshot.skipped if s.text == drop]
    assert item.source_ref.line == LINE
    assert item.reason == (
        f"the {what} [{key}] of [s].[parent] is referenced by the foreign key [{fk}] of "
        f"[s].[child], so SQL Server refuses the ALTER TABLE (Msg 3725 \"The constraint '{key}' "
        f"is being referenced by table 'child', foreign key constraint '{fk}'.\", Msg 3727 "
        f'"Could not drop constraint. See previous errors."): {KEY_STANDS}'
    )
    assert KEY_STANDS == REFUSED_DROP_KEY
    assert not harmless(item)


@pytest.mark.parametrize(
    "tail",
    [
        "ALTER TABLE s.child DROP CONSTRAINT fk_id\nGO\n",
        "DROP TABLE s.child\nGO\n",
        "ALTER SCHEMA r TRANSFER s.child\nGO\nALTER TABLE r.child DROP CONSTRAINT fk_id\nGO\n",
    ],
    ids=["dropped-key", "dropped-table", "transferred-then-dropped"],
)
def test_the_foreign_key_dropped_first_the_key_goes(tmp_path: Path, tail: str) -> None:
    drop = "ALTER TABLE s.parent DROP CONSTRAINT pk_parent, COLUMN other\nGO\n"
    assert [line for line, _ in refusals(replayed(tmp_path, drop), KEY_STANDS)] == [LINE]
    snapshot = replayed(tmp_path, tail + drop)
    assert not refusals(snapshot, KEY_STANDS)
    assert ("parent", "other", "UPDATE") not in grants(snapshot)


@pytest.mark.parametrize(
    ("refused", "tail", "drop"),
    [
        # which of two keys on id the foreign key uses is not known
        ("", "CREATE UNIQUE INDEX ux_id ON s.parent (id)\nGO\n",
         "s.parent DROP CONSTRAINT pk_parent"),
        # a foreign key of the table to itself
        (NODE + LEAF, NODE, "s.node DROP CONSTRAINT pk_node"),
    ],
    ids=["another-key-on-its-columns", "self-reference"],
)  # fmt: skip
def test_what_the_replay_cannot_tell_refuses_nothing(
    tmp_path: Path, refused: str, tail: str, drop: str
) -> None:
    statement = f"ALTER TABLE {drop}\nGO\n"
    assert refusals(replayed(tmp_path, refused + statement), KEY_STANDS)
    assert not refusals(replayed(tmp_path, tail + statement), KEY_STANDS)


def test_the_first_refused_item_is_named(tmp_path: Path) -> None:
    """A refused key before a refused column: the key's Msg 3725 is the reason."""
    tail = "ALTER TABLE s.parent DROP CONSTRAINT uq_code, COLUMN id\nGO\n"
    ((_, reason),) = refusals(replayed(tmp_path, tail), KEY_STANDS)
    assert reason.startswith("the unique constraint [uq_code] of [s].[parent] is referenced ")


# --------------------------------------------------------------------------- the plan


def test_the_plan_keeps_the_grants_of_a_referenced_table_and_says_why(tmp_path: Path) -> None:
    body = ("CREATE TABLE [s].[t] (id int CONSTRAINT pk_t PRIMARY KEY, x int)\nGO\n"
            "CREATE TABLE [s].[c] (p int CONSTRAINT fk_c REFERENCES [s].[t])\nGO\n"
            "GRANT SELECT ON OBJECT::[s].[t] TO [{p}carol]\nGO\n")  # fmt: skip
    drop = "DROP TABLE [s].[t]\nGO\n"
    migration = planned(tmp_path, body + drop)
    assert {(g.grantee, g.privilege) for g in migration.grants if g.name == "t"} == {
        ("carol", "SELECT")
    }
    (refused,) = findings(migration, "GB045")
    assert refused.evidence.startswith(
        "table [s].[t] is referenced by the foreign key [fk_c] of [s].[c], so SQL Server "
        "refuses to drop it (Msg 3726 \"Could not drop object 's.t' because"
    )
    assert "drop what references it first: the foreign keys of other tables" in refused.action
    dropped = planned(tmp_path, body + "DROP TABLE s.c, s.t\nGO\n")
    assert not [g for g in dropped.grants if g.name == "t"]
    assert not findings(dropped, "GB045")
