"""Databases, schemas, objects and columns never merge on the target (audit: silent widening).

Two SQL Server sources that end up with one PostgreSQL name would share every grant of either:
the plan refuses them (exit 2), naming both sources and what to change, as it does for roles.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from grantbridge.cli import main
from grantbridge.errors import MappingError
from mapper.plan import MigrationPlan
from mapper.planner import plan
from mapper.policy import Naming, Policy
from mssql_extract.snapshot import Schema
from tests.mapper.estate import REF, database, login, perm, snapshot, table, user

SCHEMA_MODE = Policy(database_mode="schema", target_database="estate")
LONG = "k" * 70  # past PostgreSQL's 63 bytes


def test_schema_mode_prefixes_that_meet_are_refused() -> None:
    snap = snapshot(
        database("a_b", schemas=(Schema(name="c", owner="dbo", source_ref=REF),),
                 objects=(table("c", "T", "Id", "Pub"),), users=(user("u1", "u1"),),
                 permissions=(perm("SELECT", "u1", schema_name="c", object_name="T"),)),
        database("a", schemas=(Schema(name="b_c", owner="dbo", source_ref=REF),),
                 objects=(table("b_c", "T", "Id", "Secret"),)),
        logins=(login("u1"),),
    )  # fmt: skip
    with pytest.raises(MappingError) as error:
        plan(snap, SCHEMA_MODE)
    message = str(error.value)
    assert "schema name 'a_b_c'" in message
    assert "schema [a_b].[c]" in message
    assert "schema [a].[b_c]" in message
    assert 'database_mode = "database"' in message
    assert error.value.location.key == "estate.a_b_c"


def test_schema_mode_keeps_distinct_prefixes() -> None:
    snap = snapshot(
        database("a_b", schemas=(Schema(name="c", owner="dbo", source_ref=REF),),
                 objects=(table("c", "T", "Id"),)),
        database("a", schemas=(Schema(name="c", owner="dbo", source_ref=REF),),
                 objects=(table("c", "T", "Id"),)),
    )  # fmt: skip
    result = plan(snap, SCHEMA_MODE)
    assert {s.name for s in result.schemas} >= {"a_b_c", "a_c"}


def test_objects_cut_to_the_same_63_bytes_are_refused() -> None:
    snap = snapshot(database(objects=(table("dbo", f"{LONG}_pub", "id"),
                                      table("dbo", f"{LONG}_secret", "id", "secret"))))  # fmt: skip
    with pytest.raises(MappingError) as error:
        plan(snap, Policy())
    message = str(error.value)
    assert f"object [Sales].[dbo].[{LONG}_pub]" in message
    assert f"object [Sales].[dbo].[{LONG}_secret]" in message
    assert "share their first 63 bytes" in message
    assert "rename" in message
    assert error.value.location.key == f"sales.dbo.{'k' * 63}"


def test_schemas_cut_to_the_same_63_bytes_are_refused() -> None:
    snap = snapshot(database(
        schemas=(Schema(name=f"{LONG}_a", owner="dbo", source_ref=REF),
                 Schema(name=f"{LONG}_b", owner="dbo", source_ref=REF)),
        objects=(),
    ))  # fmt: skip
    with pytest.raises(MappingError, match=r"schema \[Sales\]\.\[k+_a\] and schema \[Sales\]"):
        plan(snap, Policy())


def test_databases_cut_to_the_same_63_bytes_are_refused() -> None:
    snap = snapshot(database(f"{LONG}_hr"), database(f"{LONG}_web"))
    with pytest.raises(MappingError) as error:
        plan(snap, Policy())
    assert f"database [{LONG}_hr] and database [{LONG}_web]" in str(error.value)


def test_columns_cut_to_the_same_63_bytes_are_refused() -> None:
    snap = snapshot(database(objects=(table("dbo", "Wide", "id", f"{LONG}_a", f"{LONG}_b"),)))
    with pytest.raises(MappingError) as error:
        plan(snap, Policy())
    message = str(error.value)
    assert f"column [{LONG}_a] and column [{LONG}_b] of object [Sales].[dbo].[Wide]" in message
    assert error.value.location.key == f"sales.dbo.wide.{'k' * 63}"


def test_columns_folded_together_are_refused() -> None:
    # a case-sensitive database may hold both; folded to lower case they would be one column
    snap = snapshot(database(objects=(table("dbo", "T", "Code", "CODE"),)))
    with pytest.raises(MappingError, match='differ only in case: set fold_case = "preserve"'):
        plan(snap, Policy())
    kept = plan(snap, Policy(naming=Naming(fold_case="preserve")))
    obj = next(o for o in kept.objects if o.name == "T")
    assert obj.columns == ("Code", "CODE")


def test_one_source_named_in_two_spellings_is_one_schema() -> None:
    # a grant may spell a schema differently from its CREATE SCHEMA: still the same schema
    snap = snapshot(database(
        schemas=(Schema(name="dbo", owner="dbo", source_ref=REF),
                 Schema(name="Crm", owner="dbo", source_ref=REF)),
        objects=(table("CRM", "Leads", "id"),), users=(user("u1", "u1"),),
        permissions=(perm("SELECT", "u1", securable_class="SCHEMA", object_name="crm"),),
    ), logins=(login("u1"),))  # fmt: skip
    result = plan(snap, Policy())
    assert [s.name for s in result.schemas if s.name == "crm"] == ["crm"]


def test_plan_exits_2_naming_both_tables(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    script = tmp_path / "long.sql"
    script.write_text(
        "CREATE DATABASE [App]\nGO\nUSE [App]\nGO\n"
        f"CREATE TABLE [dbo].[{LONG}_pub] ([id] int)\nGO\n"
        f"CREATE TABLE [dbo].[{LONG}_secret] ([id] int, [secret] int)\nGO\n",
        encoding="utf-8",
    )
    snap = tmp_path / "snapshot.json"
    assert main(["extract", "--script", str(script), "-o", str(snap)]) == 0
    capsys.readouterr()
    assert main(["plan", str(snap), "-o", str(tmp_path / "plan")]) == 2
    err = capsys.readouterr().err
    assert f"[{LONG}_pub]" in err
    assert f"[{LONG}_secret]" in err
    assert not (tmp_path / "plan").exists()


def test_distinct_long_names_still_plan() -> None:
    snap = snapshot(database(objects=(table("dbo", LONG, "id"), table("dbo", "short", "id"))))
    result: MigrationPlan = plan(snap, Policy())
    assert {o.name for o in result.objects} >= {"k" * 63, "short"}
