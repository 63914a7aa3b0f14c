"""What a script does to a default's sequence after creating it, and the DENYs GB040 names.

``ALTER TABLE … DROP CONSTRAINT df`` takes the default away: its sequence then needs no USAGE
for the table's INSERT grantees (a dropped default gave them USAGE before: an over-grant). SQL
Server refuses ``DROP SEQUENCE`` of a sequence a default calls ("A sequence object cannot be
dropped if it is referenced as a default value in a table", DROP SEQUENCE, Remarks): it stays,
and so does the USAGE. A DENY that covers UPDATE on the sequence (on it, its schema, the
database, CONTROL SERVER) stopped a direct NEXT VALUE FOR, never the default (the chain skips
the check): the USAGE is granted all the same and GB040 names each one. Planned from T-SQL as
:mod:`tests.mapper.test_default_sequence_grants` does; the last cases insert on real PostgreSQL.
"""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest

from mapper.planner import plan
from mapper.policy import Policy
from mssql_extract.tsql import extract_scripts
from tests.mapper.test_default_sequence_grants import (
    CONVERTED,
    INTACT,
    catalog,
    insert_as,
    usage,
)
from tests.modules.test_chain_depth import applied
from tests.modules.test_ownership_chains import estate, findings, planned, run_as

DROPPED = INTACT + "ALTER TABLE [s].[t] DROP CONSTRAINT [DF_T_ID]\nGO\n"
#: SSMS's way: the table, then its default added by name.
ADDED = INTACT.replace(" CONSTRAINT [df_t_id] DEFAULT (NEXT VALUE FOR [s].[seq])", "") + (
    "ALTER TABLE [s].[t] ADD CONSTRAINT [df_t_id] DEFAULT (NEXT VALUE FOR [s].[seq]) FOR [id]\nGO\n"
)
#: The sequence the default calls, dropped: SQL Server refuses.
SEQUENCE_DROPPED = INTACT + "DROP SEQUENCE [s].[seq]\nGO\n"


@pytest.mark.parametrize("body", [DROPPED, ADDED + DROPPED[len(INTACT) :]], ids=["inline", "add"])
def test_a_dropped_default_gives_no_usage(tmp_path: Path, body: str) -> None:
    migration = planned(tmp_path, body)
    assert usage(migration) == {}
    assert not findings(migration, "GB040")
    assert not [g for g in migration.grants if g.object_type == "SEQUENCE"]


#: A second table whose default calls s.seq2, and the drops of constraints that are not s.t's
#: default: a CHECK the replay does not record, SQL Server's name for an unnamed default, u's
#: default's name on t, a column; then u's default, which is dropped.
OTHERS = """CREATE SEQUENCE [s].[seq2]
GO
CREATE TABLE [s].[u] ([id] bigint CONSTRAINT [df_u] DEFAULT (NEXT VALUE FOR [s].[seq2]))
GO
GRANT INSERT ON OBJECT::[s].[u] TO [{p}carol]
GO
ALTER TABLE [s].[t] DROP CONSTRAINT [ck_note]
ALTER TABLE [s].[t] DROP CONSTRAINT IF EXISTS [DF__t__id__6C190EBB]
ALTER TABLE [s].[t] DROP CONSTRAINT [df_u]
ALTER TABLE [s].[t] DROP COLUMN [df_t_id]
GO
ALTER TABLE [s].[u] DROP CONSTRAINT [df_u]
GO
"""


def test_only_the_default_a_drop_names_goes(tmp_path: Path) -> None:
    migration = planned(tmp_path, INTACT + OTHERS)
    assert set(usage(migration)) == {"carol", "writers"}  # s.t's default stands
    assert not [g for g in migration.grants if g.name == "seq2"]
    (gb040,) = findings(migration, "GB040")
    assert gb040.securable == "TABLE s.t"


def test_a_refused_drop_sequence_keeps_the_sequence_and_the_usage(tmp_path: Path) -> None:
    migration = planned(tmp_path, SEQUENCE_DROPPED)
    assert set(usage(migration)) == {"carol", "writers"}
    assert not findings(migration, "GB042")  # the sequence is still known
    (refused,) = [f for f in findings(migration, "GB045") if "DROP SEQUENCE" in f.evidence]
    assert "sequence [s].[seq] is called by the default of [s].[t] column [id]" in refused.evidence
    assert refused.action.startswith(
        "Not in the plan as a drop: SQL Server refuses the statement, so the sequence stays"
    )


#: A second table of schema s, whose INSERT grantee is caller, and a default calling s.seq2
#: added to it under the name s.t's default holds ({name}).
SECOND = """CREATE SEQUENCE [s].[seq2]
GO
CREATE TABLE [s].[u] ([id] bigint)
GO
GRANT INSERT ON OBJECT::[s].[u] TO [{{p}}caller]
GO
ALTER TABLE [s].[u] ADD CONSTRAINT [{name}] DEFAULT (NEXT VALUE FOR [s].[seq2]) FOR [id]
GO
"""


def test_a_default_named_as_one_of_the_schema_gives_no_usage(tmp_path: Path) -> None:
    # SQL Server refuses the ADD (Msg 2714): s.u has no default, caller needs nothing on seq2
    migration = planned(tmp_path, INTACT + SECOND.format(name="DF_T_ID"))
    assert not [g for g in migration.grants if g.name == "seq2"]
    assert set(usage(migration)) == {"carol", "writers"}  # s.t's default stands
    (refused,) = findings(migration, "GB045")
    assert refused.evidence.startswith("constraint [DF_T_ID] already exists in schema [s]")
    assert "(Msg 2714" in refused.evidence
    assert refused.action.startswith("Not in the plan: SQL Server refuses the statement")
    # under a name of its own, the default stands and caller gets USAGE on seq2
    migration = planned(tmp_path, INTACT + SECOND.format(name="df_u_id"))
    assert [(g.grantee, g.privilege) for g in migration.grants if g.name == "seq2"] == [
        ("caller", "USAGE")
    ]
    assert not findings(migration, "GB045")


# --------------------------------------------------------------------------- DENYs in GB040


#: DENYs that leave a direct NEXT VALUE FOR on s.seq alone.
UNRELATED = """DENY UPDATE ON OBJECT::[s].[t] TO [{p}caller]
GO
DENY SELECT TO [{p}caller]
GO
CREATE SCHEMA [x]
GO
DENY UPDATE ON SCHEMA::[x] TO [{p}caller]
GO
"""


@pytest.mark.parametrize(
    ("deny", "named"),
    [
        ("DENY UPDATE TO [{p}caller]", "DENY UPDATE ON DATABASE::[D1] TO [caller]"),
        ("DENY CONTROL ON DATABASE::[D1] TO [{p}caller]",
         "DENY CONTROL ON DATABASE::[D1] TO [caller]"),
        ("DENY UPDATE ON SCHEMA::[s] TO [{p}caller]", "DENY UPDATE ON SCHEMA::[s] TO [caller]"),
        ("DENY CONTROL ON OBJECT::[s].[seq] TO [{p}carol]",
         "DENY CONTROL ON OBJECT::[s].[seq] TO [carol]"),
        ("USE [master]\nGO\nDENY CONTROL SERVER TO [{p}caller]",
         "DENY CONTROL SERVER TO [caller]"),
    ],
)  # fmt: skip
def test_each_deny_covering_the_sequence_is_named(tmp_path: Path, deny: str, named: str) -> None:
    """Only it: not those on the table, of another permission, or on another schema."""
    migration = planned(tmp_path, INTACT + UNRELATED + deny + "\nGO\n")
    assert set(usage(migration)) == {"carol", "writers"}  # granted all the same
    (gb040,) = findings(migration, "GB040")
    assert f"; not kept: {named}. Each stopped a direct NEXT VALUE FOR" in gb040.evidence


def test_a_grantee_denied_on_the_sequence_still_gets_usage_and_is_told(tmp_path: Path) -> None:
    """carol, DENIED UPDATE on s.seq, inserted through the default in SQL Server all the same
    (the chain skips the check): she gets USAGE, and GB040 says what it lets her do."""
    migration = planned(tmp_path, INTACT + "DENY UPDATE ON OBJECT::[s].[seq] TO [{p}carol]\nGO\n")
    assert usage(migration)["carol"] == ("D1/perm:OBJECT:s:t:INSERT:grant:carol",)
    (gb040,) = findings(migration, "GB040")
    assert gb040.evidence.endswith(
        "; not kept: DENY UPDATE ON OBJECT::[s].[seq] TO [carol]. Each stopped a direct NEXT "
        "VALUE FOR in SQL Server, never the default (the ownership chain skips the check on the "
        "sequence, a DENY included), so USAGE is granted all the same, and USAGE cannot tell "
        "the default from a direct call: a role a DENY names that holds the USAGE, or inherits "
        "it, may call nextval itself"
    )
    assert gb040.action.endswith(
        "To keep a DENY, give the column a default that calls a SECURITY DEFINER function of the "
        "sequence's owner instead, and revoke the USAGE."
    )


def test_plan_target_names_the_denies_on_a_sequence_it_grants(tmp_path: Path) -> None:
    """A snapshot without the defaults (made before the field): the target's catalog finds
    s.t's default, and its GB040 names the DENY as the snapshot's own would."""
    path = tmp_path / "estate.sql"
    path.write_text(estate(INTACT + "DENY UPDATE ON SCHEMA::[s] TO [{p}caller]\nGO\n"))
    snapshot = extract_scripts([path])
    (db,) = snapshot.databases
    objects = tuple(o.model_copy(update={"sequence_defaults": ()}) for o in db.objects)
    bare = snapshot.model_copy(update={"databases": (db.model_copy(update={"objects": objects}),)})
    migration = plan(bare, Policy(), target=catalog())
    assert set(usage(migration)) == {"carol", "writers"}
    (gb040,) = findings(migration, "GB040")
    assert "; not kept: DENY UPDATE ON SCHEMA::[s] TO [caller]. Each stopped" in gb040.evidence
    assert gb040.action.endswith("and revoke the USAGE.")


# --------------------------------------------------------------------------- real PostgreSQL

#: The converted table, its default gone as the script dropped it.
WITHOUT_DEFAULT = CONVERTED.replace(" DEFAULT nextval('s.seq')", "")


def test_pg_a_dropped_default_leaves_the_sequence_closed(
    pg_dsn: str, prefix: str, tmp_path: Path
) -> None:
    """Without the default, caller inserts with its own id and may not call nextval: SQL Server
    would refuse its NEXT VALUE FOR (no UPDATE on s.seq), and no USAGE is planned now."""
    with applied(pg_dsn, prefix, tmp_path, DROPPED, WITHOUT_DEFAULT) as (conn, _):
        caller = f"{prefix}_caller"
        run_as(conn, caller, "INSERT INTO s.t (id, note) VALUES (7, 'a') RETURNING NULL")
        with pytest.raises(psycopg.errors.InsufficientPrivilege, match="sequence seq"):
            run_as(conn, caller, "SELECT nextval('s.seq')")


def test_pg_a_refused_drop_sequence_keeps_the_caller_inserting(
    pg_dsn: str, prefix: str, tmp_path: Path
) -> None:
    """The sequence stands in SQL Server, the default with it: caller inserts through it."""
    with applied(pg_dsn, prefix, tmp_path, SEQUENCE_DROPPED, CONVERTED) as (conn, _):
        insert_as(conn, f"{prefix}_caller", "a")
        assert conn.execute("SELECT id, note FROM s.t").fetchall() == [(1, "a")]
