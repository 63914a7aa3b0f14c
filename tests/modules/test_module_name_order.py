"""The order SQL Server looks a module's one-part names up in: ``sys`` first, then the module's
schema (dbo after it), for a procedure run too; dynamic SQL in the default schema of whoever
runs it.

"Executing Stored Procedures (Database Engine)" (2008 R2, ms189915): a nonqualified procedure
is searched in the sys schema, then "if the nonqualified procedure name appears inside the body
of another procedure definition, the schema containing this other procedure", then dbo; "If a
user-defined procedure has the same name as a system procedure, the user-defined procedure
might not ever execute". "Name resolution, default schema, implicit schema", Part III: dynamic
SQL inside a module takes the current user's default schema, which inside an EXECUTE AS OWNER
routine is its owner's. A catalog view's name that the database also holds is not decided.
"""

from __future__ import annotations

from pathlib import Path

from mapper.effective import EffectivePermissions
from mapper.module_findings import default_schema, lookup, module_chain
from mapper.module_reach import chain_reliance
from mapper.modules import analyze_definition, analyze_object
from mssql_extract.snapshot import UserType
from tests.modules.test_chain_depth import owner_dynamic
from tests.modules.test_module_synonyms import snapshot_of
from tests.modules.test_ownership_chains import findings, planned, script

#: carol's table, read by procedures of dbo's that s.p runs by their names alone.
CAROLS = """
CREATE SCHEMA [x] AUTHORIZATION [dbo]
GO
CREATE TABLE [s].[tc] ([id] int, [secret] int)
GO
ALTER AUTHORIZATION ON OBJECT::[s].[tc] TO [{p}carol]
GO
"""


def test_a_procedure_only_another_schema_holds_is_not_run(tmp_path: Path) -> None:
    """s.p runs ``reader`` by its name alone: neither s nor dbo holds one, so SQL Server finds
    none (x.reader is never looked at) and the caller relies on nothing through it."""
    body = CAROLS + (
        "CREATE PROCEDURE [x].[reader] AS SELECT secret FROM s.tc\nGO\n"
        "CREATE PROCEDURE [s].[p] AS EXEC reader\nGO\n"
        "GRANT EXECUTE ON OBJECT::[s].[p] TO [{p}caller]\nGO\n"
    )
    snapshot = snapshot_of(tmp_path, body)
    (db,) = snapshot.databases
    p = next(o for o in db.objects if o.name == "p")
    (ref,) = analyze_object(p).references
    assert lookup(db, p, ref) is None  # was x.reader, the one object of that name
    analyses = [analyze_object(o) for o in db.objects if o.definition]
    assert not chain_reliance(db, analyses, EffectivePermissions(snapshot))
    migration = planned(tmp_path, body)
    assert not [f for f in findings(migration, "GB306") if "s.tc" in f.evidence]


def test_a_system_procedures_name_runs_the_system_procedure(tmp_path: Path) -> None:
    """s.sp_help is never run by ``EXEC sp_help``: sys.sp_help is found first."""
    body = CAROLS + (
        "CREATE PROCEDURE [s].[sp_help] AS SELECT secret FROM s.tc\nGO\n"
        "CREATE PROCEDURE [x].[sp_help] AS SELECT 1\nGO\n"
        "CREATE PROCEDURE [s].[p] AS EXEC sp_help\nGO\n"
        "GRANT EXECUTE ON OBJECT::[s].[p] TO [{p}caller]\nGO\n"
    )
    snapshot = snapshot_of(tmp_path, body)
    (db,) = snapshot.databases
    p = next(o for o in db.objects if o.name == "p")
    (ref,) = analyze_object(p).references
    assert lookup(db, p, ref) is None
    assert lookup(db, p, ref, dynamic=True) is None  # in dynamic SQL too, whoever runs it
    chain = module_chain(db, p, analyze_object(p))
    assert (chain.intact, chain.broken, chain.unknown) == ((), (), None)
    analyses = [analyze_object(o) for o in db.objects if o.definition]
    assert not chain_reliance(db, analyses, EffectivePermissions(snapshot))
    migration = planned(tmp_path, body)
    assert not findings(migration, "GB308")  # was: sp_help … the database has s.sp_help, x.sp_help
    assert not [f for f in findings(migration, "GB306") if f.securable == "s.p"]


def test_a_catalog_views_name_the_database_holds_is_not_decided(tmp_path: Path) -> None:
    body = (
        "CREATE TABLE [s].[objects] ([id] int)\nGO\n"
        "CREATE PROCEDURE [s].[p] AS SELECT id FROM objects\nGO\n"
        "CREATE PROCEDURE [s].[q] AS SELECT name FROM sysobjects\nGO\n"
        "GRANT EXECUTE ON OBJECT::[s].[p] TO [{p}caller]\nGO\n"
        "GRANT EXECUTE ON OBJECT::[s].[q] TO [{p}caller]\nGO\n"
    )
    migration = planned(tmp_path, body)
    assert not [f for f in findings(migration, "GB306") if f.securable == "s.p"]  # was Preserved
    (unknown,) = findings(migration, "GB308")
    assert (unknown.securable, unknown.source_ref.rsplit("->", 1)[1]) == ("s.p", "objects")
    assert unknown.evidence == (
        "s.p: objects without its schema, which SQL Server may take for the catalog view "
        "sys.objects (looked up first) or for s.objects"
    )
    assert not migration.routine_security  # its chain is not known: s.p stays SECURITY INVOKER
    (db,) = snapshot_of(tmp_path, body).databases
    q = next(o for o in db.objects if o.name == "q")
    assert module_chain(db, q, analyze_object(q)).unknown is None  # no user object: sys's


#: carol's EXECUTE AS OWNER x.p reads ``ts`` by its name alone in dynamic SQL; s and z hold one.
OWNER_TS = owner_dynamic("EXEC sp_executesql N'SELECT id FROM ts';") + (
    "CREATE SCHEMA [z] AUTHORIZATION [dbo]\nGO\nCREATE TABLE [z].[ts] ([id] int)\nGO\n"
)


def test_owners_default_schema_decides_dynamic_sql_of_an_owner_routine(tmp_path: Path) -> None:
    """The dynamic SQL runs as carol, whose default schema is s: it reads s.ts, which carol may
    read, so her owner role gets it (it was GB311 'not known', naming s.ts and z.ts)."""
    body = OWNER_TS + "ALTER USER [{p}carol] WITH DEFAULT_SCHEMA = [s]\nGO\n"
    migration = planned(tmp_path, body)
    assert "GRANT SELECT ON TABLE s.ts TO carol, d1_carol_owner" in script(
        migration, "04_privileges.sql"
    )
    (used,) = findings(migration, "GB311")
    assert used.securable == "x.p->s.ts:SELECT"


def test_owner_without_a_default_schema_reads_dbos_name(tmp_path: Path) -> None:
    """carol's default schema is dbo, which holds no ts: SQL Server finds none, and nothing is
    granted (neither s.ts nor z.ts), nor said unknown."""
    migration = planned(tmp_path, OWNER_TS)
    assert "d1_carol_owner" not in script(migration, "04_privileges.sql")
    assert not findings(migration, "GB311")


def test_dynamic_sql_is_known_where_every_default_schema_finds_one_object(tmp_path: Path) -> None:
    (db,) = snapshot_of(tmp_path, OWNER_TS).databases
    p = next(o for o in db.objects if o.name == "p")
    (ref,) = analyze_definition("", "", "SELECT id FROM ts").references
    assert lookup(db, p, ref, dynamic=True, default_schemas=["s"]).key == "object:s.ts"  # type: ignore[union-attr]
    assert lookup(db, p, ref, dynamic=True, default_schemas=["z", "Z"]).key == "object:z.ts"  # type: ignore[union-attr]
    assert lookup(db, p, ref, dynamic=True, default_schemas=["s", "z"]) == (
        "ts without its schema, which dynamic SQL looks up in the caller's default schema, "
        "then dbo, and the database has s.ts, z.ts"
    )
    assert lookup(db, p, ref, dynamic=True) == lookup(db, p, ref, dynamic=True, default_schemas=[])


def test_default_schema_is_dbo_unless_the_snapshot_cannot_tell(tmp_path: Path) -> None:
    body = "CREATE USER [bot] WITHOUT LOGIN WITH DEFAULT_SCHEMA = [s]\nGO\n"
    (db,) = snapshot_of(tmp_path, body).databases
    assert [default_schema(db, n) for n in ("bot", "carol", "dbo", "nobody")] == [
        "s", "dbo", "dbo", None,
    ]  # fmt: skip
    carol = next(u for u in db.users if u.name == "carol")
    group = carol.model_copy(update={"type": UserType.WINDOWS_GROUP})
    grouped = db.model_copy(update={"users": (*(u for u in db.users if u is not carol), group)})
    assert default_schema(grouped, "carol") is None  # each member's own default schema
