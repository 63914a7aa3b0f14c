"""Findings about a schema's, an object's or a role's owner point at the statement that set it.

GB016 ("Owner of a database, schema or object") and the ownership fact's disposition used to
point at the CREATE SCHEMA / CREATE TABLE line even when an ``ALTER AUTHORIZATION`` further down
gave the owner: a reviewer following the reference (report.md, findings.sarif) landed on a
statement that says nothing about the owner. Databases had the same fix before
(``test_tsql_database_refs``).
"""

from __future__ import annotations

from mapper.planner import plan
from mapper.policy import Policy
from mssql_extract.snapshot import DbObject, Schema, SecuritySnapshot, fold
from tests.extract.tsql_helpers import db, snap

SCRIPT = """\
CREATE DATABASE [d]
GO
USE [d]
GO
CREATE USER [bob] WITHOUT LOGIN
GO
CREATE SCHEMA [s]
GO
CREATE TABLE [dbo].[t] (id int)
GO
CREATE TYPE [dbo].[money2] FROM decimal(19, 2)
GO
-- the hand-over, long after the CREATEs
ALTER AUTHORIZATION ON SCHEMA::[s] TO [bob]
GO
ALTER AUTHORIZATION ON OBJECT::[dbo].[t] TO [bob]
GO
ALTER AUTHORIZATION ON TYPE::[dbo].[money2] TO [bob]
GO
"""


def _schema(snapshot: SecuritySnapshot, name: str) -> Schema:
    return next(s for s in db(snapshot).schemas if fold(s.name) == fold(name))


def _object(snapshot: SecuritySnapshot, name: str) -> DbObject:
    return next(o for o in db(snapshot).objects if fold(o.name) == fold(name))


def _owned(script: str, securable: str) -> list[tuple[str, str | None, str]]:
    """(rule, principal, source_ref) of the findings on ``securable``, and ("disposition", kind,
    source_ref) of its fact's disposition."""
    migration = plan(snap(script), Policy())
    on = [f for f in migration.findings if f.securable == securable]
    keys = {f.key for f in on}
    disposed = [d for d in migration.dispositions if keys & set(d.findings)]
    return [(f.rule_id, f.principal, f.source_ref) for f in on] + [
        ("disposition", d.kind, d.source_ref) for d in disposed
    ]


def test_the_snapshot_records_where_a_schema_or_object_got_its_owner() -> None:
    given = snap(SCRIPT)
    schema, table, type_ = _schema(given, "s"), _object(given, "t"), _object(given, "money2")
    assert (str(schema.source_ref), str(schema.owner_ref)) == ("t.sql:7:1", "t.sql:14:1")
    assert (str(table.source_ref), str(table.owner_ref)) == ("t.sql:9:1", "t.sql:16:1")
    assert (str(type_.source_ref), str(type_.owner_ref)) == ("t.sql:11:1", "t.sql:18:1")


def test_an_owner_given_in_the_create_has_no_line_of_its_own() -> None:
    script = SCRIPT[: SCRIPT.index("CREATE SCHEMA")] + "CREATE SCHEMA [s] AUTHORIZATION [bob]\n"
    given = snap(script)
    assert (_schema(given, "s").owner, _schema(given, "s").owner_ref) == ("bob", None)
    assert '"owner_ref"' not in given.to_json()  # left out: snapshots without one are unchanged
    assert _owned(script, "SCHEMA [s] in [d]") == [
        ("GB016", "bob", "t.sql:7:1"),
        ("disposition", "schema", "t.sql:7:1"),
    ]


def test_to_schema_owner_forgets_the_individual_owners_line() -> None:
    given = snap(SCRIPT + "ALTER AUTHORIZATION ON OBJECT::[dbo].[t] TO SCHEMA OWNER\n")
    assert _object(given, "t").owner is None
    assert _object(given, "t").owner_ref is None


def test_create_or_alter_and_transfer_keep_where_the_owner_was_set() -> None:
    altered = SCRIPT + "CREATE OR ALTER VIEW [dbo].[v] AS SELECT 1 AS x\nGO\n"
    altered += "ALTER AUTHORIZATION ON OBJECT::[dbo].[v] TO [bob]\nGO\n"
    altered += "CREATE OR ALTER VIEW [dbo].[v] AS SELECT 2 AS x\nGO\n"
    altered += "ALTER SCHEMA [s] TRANSFER [dbo].[t]\nGO\n"
    given = snap(altered)
    assert str(_object(given, "v").owner_ref) == "t.sql:22:1"
    moved = _object(given, "t")
    assert (moved.schema_name, str(moved.owner_ref)) == ("s", "t.sql:16:1")


def test_a_role_records_where_it_got_its_owner() -> None:
    script = SCRIPT + "CREATE ROLE [r]\nGO\nCREATE ROLE [q] AUTHORIZATION [bob]\nGO\n"
    script += "ALTER AUTHORIZATION ON ROLE::[r] TO [bob]\n"
    given = {r.name: r for r in db(snap(script)).roles}
    assert str(given["r"].owner_ref) == "t.sql:24:1"
    assert given["q"].owner_ref is None


def test_gb016_on_a_schema_points_at_alter_authorization() -> None:
    assert _owned(SCRIPT, "SCHEMA [s] in [d]") == [
        ("GB016", "bob", "t.sql:14:1"),  # not CREATE SCHEMA's line 7
        ("disposition", "schema", "t.sql:14:1"),
    ]
    assert _owned(SCRIPT.replace("[s] TO [bob]", "[s] TO [ghost]"), "SCHEMA [s] in [d]") == [
        ("GB046", "ghost", "t.sql:14:1"),  # an owner the snapshot lacks: its finding too
        ("disposition", "schema", "t.sql:14:1"),
    ]


def test_gb016_on_an_object_points_at_alter_authorization() -> None:
    assert _owned(SCRIPT, "OBJECT [dbo].[t] in [d]") == [
        ("GB016", "bob", "t.sql:16:1"),  # not CREATE TABLE's line 9
        ("disposition", "object", "t.sql:16:1"),
    ]
    assert _owned(SCRIPT, "OBJECT [dbo].[money2] in [d]") == [
        ("GB016", "bob", "t.sql:18:1"),
        ("disposition", "object", "t.sql:18:1"),
    ]


def test_gb046_on_a_roles_unknown_owner_points_at_alter_authorization() -> None:
    given = SCRIPT + "CREATE ROLE [r]\nGO\nALTER AUTHORIZATION ON ROLE::[r] TO [ghost]\nGO\n"
    assert _owned(given, "ROLE [r] in [d]") == [
        ("GB046", "ghost", "t.sql:22:1"),  # not CREATE ROLE's line 20
        ("disposition", "role", "t.sql:20:1"),  # the fact is the role: where it is defined
    ]
