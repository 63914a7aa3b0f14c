"""INSERT grantees get USAGE on the sequences column defaults call, from the snapshot alone.

``DEFAULT (NEXT VALUE FOR s.seq)`` runs under the table's ownership chain in SQL Server: an
INSERT grantee needs nothing on a sequence of the table's owner, and a DENY on it does not stop
the default ("NEXT VALUE FOR (Transact-SQL)", Ownership Chaining; "Ownership Chains").
PostgreSQL runs the converted ``nextval('s.seq')`` as the inserting role, which needs USAGE.
Each case is planned from T-SQL (:func:`tests.modules.test_ownership_chains.planned`: logins
carol and caller, schema s of dbo's); the last ones apply the plan to real PostgreSQL and
insert as the caller.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg import sql

from mapper.plan import MigrationPlan, PgDatabase, PgGrant, PgObject
from mapper.planner import plan
from mapper.policy import Policy
from mssql_extract.tsql import extract_scripts
from pg_emit.verify import verify_plan
from tests.modules.test_chain_depth import applied
from tests.modules.test_ownership_chains import estate, findings, planned, run_as, script

#: dbo's sequence, a table whose id takes its values, and INSERT for a role caller is in.
INTACT = """
CREATE SEQUENCE [s].[seq] AS bigint START WITH 1
GO
CREATE TABLE [s].[t] ([id] bigint CONSTRAINT [df_t_id] DEFAULT (NEXT VALUE FOR [s].[seq]),
    [note] nvarchar(20))
GO
CREATE ROLE [{p}writers]
GO
ALTER ROLE [{p}writers] ADD MEMBER [{p}caller]
GO
GRANT INSERT ON OBJECT::[s].[t] TO [{p}writers]
GO
GRANT INSERT, SELECT ON OBJECT::[s].[t] TO [{p}carol]
GO
"""
#: The same with the sequence given to carol: SQL Server checks the inserter's UPDATE on it.
BROKEN = INTACT.replace(
    "CREATE TABLE", "ALTER AUTHORIZATION ON OBJECT::[s].[seq] TO [{p}carol]\nGO\nCREATE TABLE"
)


def usage(migration: MigrationPlan) -> dict[str, tuple[str, ...]]:
    """Grantee → the facts of its USAGE on s.seq."""
    return {g.grantee: g.facts for g in migration.grants
            if (g.object_type, g.name, g.privilege) == ("SEQUENCE", "seq", "USAGE")}  # fmt: skip


def test_insert_grantees_get_usage_with_the_inserts_facts(tmp_path: Path) -> None:
    migration = planned(tmp_path, INTACT)
    assert usage(migration) == {
        "carol": ("D1/perm:OBJECT:s:t:INSERT:grant:carol",),
        "writers": ("D1/perm:OBJECT:s:t:INSERT:grant:writers",),
    }  # caller inherits it from writers, as it inherits INSERT
    assert "GRANT USAGE ON SEQUENCE s.seq TO carol, writers" in script(
        migration, "04_privileges.sql"
    )
    (gb040,) = findings(migration, "GB040")
    assert (gb040.securable, gb040.source_ref) == ("TABLE s.t", f"{tmp_path}/estate.sql:18:1")
    assert gb040.evidence == (
        "USAGE on sequence s.seq: the column default of s.t calls nextval as the inserting role; "
        "USAGE also lets that role call nextval directly"
    )
    assert "to carol, writers, the roles granted INSERT on s.t" in gb040.action
    insert = {d.fact: d for d in migration.dispositions}["D1/perm:OBJECT:s:t:INSERT:grant:writers"]
    assert "grant:SEQUENCE d1:s.seq:USAGE:writers" in insert.items
    assert gb040.key in insert.findings


def test_a_grantee_that_may_call_nextval_gets_nothing_more(tmp_path: Path) -> None:
    body = INTACT + "GRANT UPDATE ON OBJECT::[s].[seq] TO [{p}carol]\nGO\n"
    migration = planned(tmp_path, body)
    assert usage(migration)["carol"] == ("D1/perm:OBJECT:s:seq:UPDATE:grant:carol",)  # its own
    assert "to writers, the roles" in findings(migration, "GB040")[0].action


def test_a_sequence_of_another_owner_is_the_inserters_own_business(tmp_path: Path) -> None:
    """SQL Server checks UPDATE on carol's sequence for whoever inserts: carol owns it, writers
    had nothing, so neither gets a grant (and carol keeps what an owner keeps)."""
    migration = planned(tmp_path, BROKEN)
    assert "writers" not in usage(migration)
    assert not findings(migration, "GB040")


def test_a_deny_on_the_sequence_is_named_not_kept(tmp_path: Path) -> None:
    migration = planned(tmp_path, INTACT + "DENY UPDATE ON OBJECT::[s].[seq] TO [{p}caller]\nGO\n")
    assert "writers" in usage(migration)
    (gb040,) = findings(migration, "GB040")
    assert "; not kept: DENY UPDATE ON OBJECT::[s].[seq] TO [caller]. Each stopped a direct " in (
        gb040.evidence
    )  # the whole text: tests/mapper/test_default_sequence_drops.py


@pytest.mark.parametrize(
    ("sequence", "why"),
    [
        ("[s].[nope]", "the snapshot has no such sequence"),
        ("[seq]", "named without its schema, it may be any of dbo.seq, s.seq"),
        ("[Other].[s].[seq]", "a sequence of another database"),
    ],
)
def test_a_sequence_the_snapshot_cannot_tell_is_gb042(
    tmp_path: Path, sequence: str, why: str
) -> None:
    body = INTACT.replace("[s].[seq]),", f"{sequence}),") + "CREATE SEQUENCE [dbo].[seq]\nGO\n"
    migration = planned(tmp_path, body)
    assert usage(migration) == {}
    (gb042,) = findings(migration, "GB042")
    assert gb042.securable == f"SEQUENCE {sequence}"
    assert gb042.evidence == (
        f"the default of column s.t.id calls NEXT VALUE FOR {sequence}: {why}"
    )
    assert gb042.action.startswith("Nothing granted on it: carol, writers, granted INSERT")
    insert = {d.fact: d for d in migration.dispositions}["D1/perm:OBJECT:s:t:INSERT:grant:carol"]
    assert insert.findings == (gb042.key,)


def test_a_name_alone_of_one_sequence_is_that_sequence(tmp_path: Path) -> None:
    migration = planned(tmp_path, INTACT.replace("[s].[seq]),", "seq),"))
    assert set(usage(migration)) == {"carol", "writers"}


def catalog(database: str = "d1") -> MigrationPlan:
    """What ``inspect`` reads from the converted database: s.t's default calls s.seq."""
    return MigrationPlan(fingerprint="inspect", target="postgresql",
                         databases=(PgDatabase(name=database, owner="postgres"),),
                         objects=(PgObject(database=database, schema_name="s", name="t",
                                           kind="table", columns=("id", "note"), owner="postgres",
                                           default_sequences=("s.seq",)),
                                  PgObject(database=database, schema_name="s", name="seq",
                                           kind="sequence", owner="postgres")))  # fmt: skip


@pytest.mark.parametrize("body", [INTACT, BROKEN], ids=["intact", "broken"])
def test_plan_target_adds_nothing_the_snapshot_gave_or_ruled_out(tmp_path: Path, body: str) -> None:
    path = tmp_path / "estate.sql"
    path.write_text(estate(body), encoding="utf-8")
    snapshot = extract_scripts([path])
    alone, resolved = plan(snapshot, Policy()), plan(snapshot, Policy(), target=catalog())
    assert usage(resolved) == usage(alone)
    assert [f.key for f in findings(resolved, "GB040")] == [f.key for f in findings(alone, "GB040")]


def test_old_plans_of_tables_without_defaults_are_unchanged(tmp_path: Path) -> None:
    """The field left out, the plan is the one grantbridge made before it."""
    path = tmp_path / "estate.sql"
    path.write_text(estate(INTACT), encoding="utf-8")
    snapshot = extract_scripts([path])
    objects = tuple(o.model_copy(update={"sequence_defaults": ()})
                    for o in snapshot.databases[0].objects)  # fmt: skip
    bare = snapshot.model_copy(update={"databases": (
        snapshot.databases[0].model_copy(update={"objects": objects}),
    )})  # fmt: skip
    migration = plan(bare, Policy())
    assert usage(migration) == {}
    assert not findings(migration, "GB040")


# --------------------------------------------------------------------------- real PostgreSQL

#: The converted objects: the default is nextval's, the sequence in another schema (its USAGE
#: is enough: the default names it by OID, so no USAGE on schema x is needed).
CONVERTED = """
    CREATE SCHEMA s; CREATE SCHEMA x;
    CREATE SEQUENCE s.seq;
    CREATE TABLE s.t (id bigint DEFAULT nextval('s.seq'), note text);
"""


def insert_as(conn: psycopg.Connection[Any], role: str, note: str) -> None:
    """``INSERT INTO s.t (note)`` as ``role``: id takes the default."""
    conn.execute(sql.SQL("SET ROLE {}").format(sql.Identifier(role)))
    try:
        conn.execute("INSERT INTO s.t (note) VALUES (%s)", (note,))
    finally:
        conn.execute("RESET ROLE")


def test_pg_the_caller_inserts_through_the_default(
    pg_dsn: str, prefix: str, tmp_path: Path
) -> None:
    """caller, in writers (INSERT on s.t), inserts a row that takes the default; without the
    USAGE the plan now grants, PostgreSQL says "permission denied for sequence seq". The
    sequence itself answers nextval, not setval (SQL Server's ALTER)."""
    with applied(pg_dsn, prefix, tmp_path, INTACT, CONVERTED) as (conn, migration):
        caller = f"{prefix}_caller"
        insert_as(conn, caller, "a")  # no SELECT on s.t: no RETURNING
        insert_as(conn, f"{prefix}_carol", "b")
        rows = conn.execute("SELECT id, note FROM s.t ORDER BY id").fetchall()
        assert rows == [(1, "a"), (2, "b")]
        with pytest.raises(psycopg.errors.InsufficientPrivilege, match="sequence seq"):
            run_as(conn, caller, "SELECT setval('s.seq', 10)")
        assert verify_plan(migration, pg_dsn, embedded=False) == []


def test_pg_a_sequence_of_another_owner_refuses_the_caller(
    pg_dsn: str, prefix: str, tmp_path: Path
) -> None:
    """SQL Server checks caller's UPDATE on carol's sequence, which it lacks: refused here too."""
    with applied(pg_dsn, prefix, tmp_path, BROKEN, CONVERTED) as (conn, migration):
        with pytest.raises(psycopg.errors.InsufficientPrivilege, match="sequence seq"):
            insert_as(conn, f"{prefix}_caller", "a")
        assert not [g for g in migration.grants if g.object_type == "SEQUENCE"
                    and g.grantee == f"{prefix}_writers"]  # fmt: skip


def test_grants_made_here_name_why(tmp_path: Path) -> None:
    (grant,) = [g for g in planned(tmp_path, INTACT).grants
                if isinstance(g, PgGrant) and g.grantee == "carol" and g.object_type == "SEQUENCE"]  # fmt: skip
    assert grant.comment == "USAGE goes with INSERT: the column default of s.t calls nextval"


def test_usage_from_a_schema_wide_insert_names_its_sequences(tmp_path: Path) -> None:
    """GRANT INSERT ON SCHEMA covers the schema's tables, never its sequences (INSERT does not
    apply to one): the USAGE it brings names the sequences the defaults call, so a sequence only
    the target has gets nothing (04 said ``ON ALL SEQUENCES IN SCHEMA s``)."""
    body = """
CREATE SEQUENCE [s].[seq]
GO
CREATE SEQUENCE [s].[seq2]
GO
CREATE TABLE [s].[t] ([id] bigint DEFAULT (NEXT VALUE FOR [s].[seq]))
GO
CREATE TABLE [s].[u] ([id] bigint DEFAULT (NEXT VALUE FOR [s].[seq2]))
GO
GRANT INSERT ON SCHEMA::[s] TO [{p}carol]
GO
"""
    text = script(planned(tmp_path, body), "04_privileges.sql")
    assert "ALL SEQUENCES" not in text
    assert "GRANT USAGE ON SEQUENCE s.seq, s.seq2 TO carol" in text
    assert "GRANT INSERT ON ALL TABLES IN SCHEMA s TO carol" in text
