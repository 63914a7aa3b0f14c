"""INSERT through a view gets USAGE on the sequences its base table's defaults call.

SQL Server: dbo's view s.v over dbo's table s.t, whose default calls dbo's sequence s.seq — the
chains view → table and default → sequence skip every check, so INSERT on the view is enough
("Ownership Chains"; "NEXT VALUE FOR (Transact-SQL)", Ownership Chaining). PostgreSQL inserts
into s.t as the view's owner but runs the default's nextval as the inserting role, which needs
USAGE on s.seq ("permission denied for sequence seq" otherwise, PostgreSQL 15). Planned from
T-SQL as :mod:`tests.mapper.test_default_sequence_grants` does; the last case applies the plan
to real PostgreSQL and inserts through the view as the caller.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg import sql

from mapper.plan import MigrationPlan, PgObject
from mapper.planner import plan
from mapper.policy import Modules, Policy
from mssql_extract.tsql import extract_scripts
from pg_emit.verify import verify_plan
from tests.mapper.test_default_sequence_grants import CONVERTED, catalog, usage
from tests.modules.test_chain_depth import applied
from tests.modules.test_ownership_chains import estate, findings, planned, script

#: dbo's sequence, table and the view over it; INSERT on the view only, for a role caller is in.
VIEW = """
CREATE SEQUENCE [s].[seq] AS bigint START WITH 1
GO
CREATE TABLE [s].[t] ([id] bigint CONSTRAINT [df_t_id] DEFAULT (NEXT VALUE FOR [s].[seq]),
    [note] nvarchar(20))
GO
CREATE VIEW [s].[v] AS SELECT [id], [note] FROM [s].[t]
GO
CREATE ROLE [{p}writers]
GO
ALTER ROLE [{p}writers] ADD MEMBER [{p}caller]
GO
GRANT INSERT ON OBJECT::[s].[v] TO [{p}writers]
GO
"""
#: The same view given to carol: the chain view → table is broken (SQL Server checks the
#: caller's INSERT on s.t, which it lacks), and the view checks its caller in PostgreSQL.
BROKEN_VIEW = VIEW.replace(
    "CREATE ROLE", "ALTER AUTHORIZATION ON OBJECT::[s].[v] TO [{p}carol]\nGO\nCREATE ROLE"
)
#: The view reads a second table: which one an INSERT reaches is not the pass's to tell.
TWO_TABLES = VIEW.replace(
    "CREATE VIEW [s].[v] AS SELECT [id], [note] FROM [s].[t]",
    "CREATE TABLE [s].[u] ([k] int)\nGO\n"
    "CREATE VIEW [s].[v] AS SELECT [t].[id], [t].[note] FROM [s].[t] JOIN [s].[u] ON [u].[k] = 1",
)

#: The converted objects, with the view over s.t (simply updatable in PostgreSQL).
CONVERTED_VIEW = CONVERTED + "CREATE VIEW s.v AS SELECT id, note FROM s.t;"


def test_view_insert_grantees_get_usage_on_the_base_tables_sequence(tmp_path: Path) -> None:
    migration = planned(tmp_path, VIEW)
    assert usage(migration) == {"writers": ("D1/perm:OBJECT:s:v:INSERT:grant:writers",)}
    assert "GRANT USAGE ON SEQUENCE s.seq TO writers" in script(migration, "04_privileges.sql")
    (gb040,) = findings(migration, "GB040")
    assert (gb040.securable, gb040.source_ref) == ("VIEW s.v", f"{tmp_path}/estate.sql:21:1")
    assert gb040.evidence == (
        "USAGE on sequence s.seq: the column default of s.t calls nextval as the inserting role, "
        "an INSERT through view s.v too; USAGE also lets that role call nextval directly"
    )
    assert gb040.action == (
        "Granted USAGE on s.seq to writers, the roles granted INSERT on view s.v over s.t (SQL "
        "Server needed no permission on a sequence owned by the table's owner, nor on the table, "
        "owned by the view's owner)."
    )
    insert = {d.fact: d for d in migration.dispositions}["D1/perm:OBJECT:s:v:INSERT:grant:writers"]
    assert "grant:SEQUENCE d1:s.seq:USAGE:writers" in insert.items
    assert gb040.key in insert.findings
    (grant,) = [g for g in migration.grants if g.object_type == "SEQUENCE"]
    assert grant.comment == "USAGE goes with INSERT: the column default of s.t calls nextval"


def test_a_grantee_of_both_gets_one_usage_with_both_facts(tmp_path: Path) -> None:
    migration = planned(tmp_path, VIEW + "GRANT INSERT ON OBJECT::[s].[t] TO [{p}writers]\nGO\n")
    assert usage(migration) == {"writers": (
        "D1/perm:OBJECT:s:t:INSERT:grant:writers", "D1/perm:OBJECT:s:v:INSERT:grant:writers",
    )}  # fmt: skip
    assert sorted(f.securable for f in findings(migration, "GB040")) == ["TABLE s.t", "VIEW s.v"]


@pytest.mark.parametrize("body", [BROKEN_VIEW, TWO_TABLES], ids=["broken", "two-tables"])
def test_a_view_whose_base_table_is_not_chained_or_one_gets_nothing(
    tmp_path: Path, body: str
) -> None:
    migration = planned(tmp_path, body)
    assert usage(migration) == {}
    assert not findings(migration, "GB040")


def test_a_sequence_the_snapshot_lacks_names_the_view_grantees(tmp_path: Path) -> None:
    migration = planned(tmp_path, VIEW.replace("[s].[seq]),", "[s].[nope]),"))
    assert usage(migration) == {}
    (gb042,) = findings(migration, "GB042")
    assert gb042.action.startswith(
        "Nothing granted on it: writers, granted INSERT on view s.v (over s.t), need USAGE"
    )


# --------------------------------------------------------------------------- plan --target

#: The view's table without its default in the snapshot: only the target's catalog has it.
NO_DEFAULT = " CONSTRAINT [df_t_id] DEFAULT (NEXT VALUE FOR [s].[seq])"


def with_target(tmp_path: Path, body: str) -> MigrationPlan:
    """``body`` planned with ``plan --target``: :func:`catalog` (s.t's default calls s.seq) and
    the view s.v, as ``inspect`` reads them."""
    path = tmp_path / "estate.sql"
    path.write_text(estate(body), encoding="utf-8")
    snapshot = extract_scripts([path], include_definitions=True)
    view = PgObject(database="d1", schema_name="s", name="v", kind="view",
                    columns=("id", "note"), owner="postgres")  # fmt: skip
    target = catalog().model_copy(update={"objects": (*catalog().objects, view)})
    return plan(snapshot, Policy(modules=Modules(mode="security_definer")), target=target)


def test_plan_target_gives_the_view_grantees_the_targets_default(tmp_path: Path) -> None:
    migration = with_target(tmp_path, VIEW.replace(NO_DEFAULT, ""))
    assert usage(migration) == {"writers": ("D1/perm:OBJECT:s:v:INSERT:grant:writers",)}
    (gb040,) = findings(migration, "GB040")
    assert (gb040.securable, gb040.source_ref) == ("VIEW s.v", "d1:s.v")
    assert "the roles granted INSERT on view s.v over s.t" in gb040.action
    insert = {d.fact: d for d in migration.dispositions}["D1/perm:OBJECT:s:v:INSERT:grant:writers"]
    assert "grant:SEQUENCE d1:s.seq:USAGE:writers" in insert.items
    assert gb040.key in insert.findings


def test_plan_target_one_usage_for_table_and_view_each_gb040_beside_its_own(
    tmp_path: Path,
) -> None:
    body = VIEW.replace(NO_DEFAULT, "") + "GRANT INSERT ON OBJECT::[s].[t] TO [{p}writers]\nGO\n"
    migration = with_target(tmp_path, body)
    assert usage(migration) == {"writers": (
        "D1/perm:OBJECT:s:t:INSERT:grant:writers", "D1/perm:OBJECT:s:v:INSERT:grant:writers",
    )}  # fmt: skip
    gb040 = {f.securable: f.key for f in findings(migration, "GB040")}
    assert set(gb040) == {"TABLE s.t", "VIEW s.v"}
    facts = {d.fact: d.findings for d in migration.dispositions}
    assert facts["D1/perm:OBJECT:s:t:INSERT:grant:writers"] == (gb040["TABLE s.t"],)
    assert facts["D1/perm:OBJECT:s:v:INSERT:grant:writers"] == (gb040["VIEW s.v"],)


def test_plan_target_adds_nothing_the_snapshot_gave_through_the_view(tmp_path: Path) -> None:
    alone, resolved = planned(tmp_path, VIEW), with_target(tmp_path, VIEW)
    assert usage(resolved) == usage(alone) != {}
    assert [f.key for f in findings(resolved, "GB040")] == [f.key for f in findings(alone, "GB040")]


@pytest.mark.parametrize("body", [BROKEN_VIEW, TWO_TABLES], ids=["broken", "two-tables"])
def test_plan_target_gives_a_view_not_chained_to_one_table_nothing(
    tmp_path: Path, body: str
) -> None:
    migration = with_target(tmp_path, body.replace(NO_DEFAULT, ""))
    assert usage(migration) == {}
    assert not findings(migration, "GB040")


def insert_into(conn: psycopg.Connection[Any], role: str, relation: str, note: str) -> None:
    """``INSERT INTO relation (note)`` as ``role``: id takes s.t's default."""
    conn.execute(sql.SQL("SET ROLE {}").format(sql.Identifier(role)))
    try:
        conn.execute(sql.SQL("INSERT INTO {} (note) VALUES (%s)").format(
            sql.Identifier(*relation.split("."))), (note,))  # fmt: skip
    finally:
        conn.execute("RESET ROLE")


def test_pg_the_caller_inserts_through_the_view(pg_dsn: str, prefix: str, tmp_path: Path) -> None:
    """caller, in writers (INSERT on s.v only), inserts through the view a row that takes s.t's
    default; without the USAGE PostgreSQL says "permission denied for sequence seq"."""
    with applied(pg_dsn, prefix, tmp_path, VIEW, CONVERTED_VIEW) as (conn, migration):
        caller = f"{prefix}_caller"
        insert_into(conn, caller, "s.v", "a")
        assert conn.execute("SELECT id, note FROM s.t").fetchall() == [(1, "a")]
        with pytest.raises(psycopg.errors.InsufficientPrivilege, match="table t"):
            insert_into(conn, caller, "s.t", "b")  # INSERT is the view's, not s.t's
        assert verify_plan(migration, pg_dsn, embedded=False) == []


#: A second view over the first, granted to a role of its own (carol in writers2).
OVER_VIEW = (
    VIEW
    + """CREATE VIEW [s].[v2] AS SELECT [id], [note] FROM [s].[v]
GO
CREATE ROLE [{p}writers2]
GO
ALTER ROLE [{p}writers2] ADD MEMBER [{p}carol]
GO
GRANT INSERT ON OBJECT::[s].[v2] TO [{p}writers2]
GO
"""
)
#: The first view carol's: the chain v2 → v → t is broken at v.
OVER_BROKEN_VIEW = OVER_VIEW.replace(
    "CREATE ROLE [{p}writers]",
    "ALTER AUTHORIZATION ON OBJECT::[s].[v] TO [{p}carol]\nGO\nCREATE ROLE [{p}writers]",
    1,
)


def test_a_view_over_a_view_over_the_table_gets_usage_too(tmp_path: Path) -> None:
    migration = planned(tmp_path, OVER_VIEW)
    assert usage(migration) == {
        "writers": ("D1/perm:OBJECT:s:v:INSERT:grant:writers",),
        "writers2": ("D1/perm:OBJECT:s:v2:INSERT:grant:writers2",),
    }
    assert sorted(f.securable for f in findings(migration, "GB040")) == ["VIEW s.v", "VIEW s.v2"]
    broken = planned(tmp_path, OVER_BROKEN_VIEW)
    assert usage(broken) == {}  # neither view reaches s.t through an intact chain


def test_pg_the_caller_inserts_through_the_view_over_the_view(
    pg_dsn: str, prefix: str, tmp_path: Path
) -> None:
    """carol, in writers2 (INSERT on s.v2 only), inserts through s.v2 → s.v → s.t a row that
    takes s.t's default: PostgreSQL runs nextval as carol here too."""
    objects = CONVERTED_VIEW + "CREATE VIEW s.v2 AS SELECT id, note FROM s.v;"
    with applied(pg_dsn, prefix, tmp_path, OVER_VIEW, objects) as (conn, migration):
        insert_into(conn, f"{prefix}_carol", "s.v2", "a")
        assert conn.execute("SELECT id, note FROM s.t").fetchall() == [(1, "a")]
        assert verify_plan(migration, pg_dsn, embedded=False) == []
