"""A synonym's base object, read from every source into ``DbObject.base_object``.

SQL Server gives it as ``sys.synonyms.base_object_name``, "fully quoted" (``[Sales].[dbo].[T]``);
a T-SQL script as ``CREATE SYNONYM s.x FOR [db.][schema.]name``; a dacpac as the SqlSynonym's
``ForObjectName`` property or ``ForObject`` relationship. Each source gives the same quoted text.
Snapshots and catalog exports made before the field have none: they load unchanged, and the
synonym's base object stays unknown.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from grantbridge.errors import ExtractError
from mssql_extract.catalog import snapshot_from_rows
from mssql_extract.snapshot import DbObject, ObjectKind, SecuritySnapshot
from mssql_extract.snapshot_database import name_parts
from mssql_extract.tsql import extract_scripts
from tests.extract_sources.test_catalog_edges import rows_with
from tests.extract_sources.test_dacpac_real_shapes import ORDERS, el, only_db, prop, read, ref, rel

CURRENCY_SYNONYM = 581999001  # a new sys.objects row of Sales
DBO = 1  # Sales' schema_id of dbo


def synonyms(snapshot: SecuritySnapshot) -> dict[str, str | None]:
    return {
        f"{o.schema_name}.{o.name}": o.base_object
        for db in snapshot.databases
        for o in db.objects
        if o.kind == ObjectKind.SYNONYM
    }


def test_tsql_reads_the_base_object_quoted(tmp_path: Path) -> None:
    script = tmp_path / "s.sql"
    script.write_text(
        "CREATE DATABASE [D1]\nGO\nUSE [D1]\nGO\nCREATE TABLE dbo.t (id int)\nGO\n"
        "CREATE SYNONYM [dbo].[local] FOR dbo.t;\nCREATE SYNONYM other FOR Other.dbo.[t]]x]\nGO\n"
        "CREATE SYNONYM dbo.remote FOR srv.Other..t\nGO\n",
        encoding="utf-8",
    )
    assert synonyms(extract_scripts([script])) == {
        "dbo.local": "[dbo].[t]",
        "dbo.other": "[Other].[dbo].[t]]x]",
        "dbo.remote": "[srv].[Other]..[t]",
    }


def _synonym_rows(base: Any) -> Any:
    def edit(server: dict[str, Any], databases: dict[str, dict[str, Any]]) -> None:
        sales = databases["Sales"]
        sales["objects"].append({
            **sales["objects"][0], "name": "CurrencySyn", "object_id": CURRENCY_SYNONYM,
            "principal_id": None, "schema_id": DBO, "type": "SN", "type_desc": "SYNONYM",
        })  # fmt: skip
        if base is not None:
            sales["synonyms"] = [{"object_id": CURRENCY_SYNONYM, "base_object_name": base}]
        else:
            sales.pop("synonyms", None)  # an export made before the query

    return edit


def test_catalog_reads_sys_synonyms() -> None:
    snapshot = snapshot_from_rows(rows_with(_synonym_rows("[Sales].[dbo].[Currency]")))
    assert synonyms(snapshot) == {"dbo.CurrencySyn": "[Sales].[dbo].[Currency]"}


def test_catalog_export_without_synonyms_keeps_the_base_unknown() -> None:
    snapshot = snapshot_from_rows(rows_with(_synonym_rows(None)))
    assert synonyms(snapshot) == {"dbo.CurrencySyn": None}


def test_catalog_synonym_row_of_the_wrong_shape_is_located() -> None:
    with pytest.raises(ExtractError) as caught:
        snapshot_from_rows(rows_with(_synonym_rows(7)))
    assert str(caught.value) == (
        "Sales.synonyms row 1: column 'base_object_name' of sys.synonyms holds 7, not a string"
    )


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (prop("ForObjectName", "[dbo].[Orders]"), "[dbo].[Orders]"),
        (rel("ForObject", ref("[dbo].[Orders]")), "[dbo].[Orders]"),
        (prop("ForObjectName", "[Other].[dbo].[T]"), "[Other].[dbo].[T]"),
        ("", None),
    ],
)
def test_dacpac_reads_the_synonyms_target(tmp_path: Path, body: str, expected: str | None) -> None:
    db = only_db(read(tmp_path, ORDERS, el("SqlSynonym", "[dbo].[OrdersSyn]", body)))
    (synonym,) = [o for o in db.objects if o.kind == ObjectKind.SYNONYM]
    assert synonym.base_object == expected


def test_snapshot_without_the_field_loads_and_writes_unchanged() -> None:
    old = {"schema_name": "dbo", "name": "syn", "kind": "SYNONYM",
           "source_ref": {"origin": "x.sql", "line": 1}}  # fmt: skip
    synonym = DbObject.model_validate(old)
    assert synonym.base_object is None
    assert synonym.base_parts == ()
    assert "base_object" not in json.loads(synonym.model_dump_json())
    with_base = synonym.model_copy(update={"base_object": "[a]..[b]"})
    assert with_base.base_parts == ("a", "", "b")


@pytest.mark.parametrize(
    ("text", "parts"),
    [("[a].[b]", ("a", "b")), ("[x]]y].[b.c]", ("x]y", "b.c")), ("dbo.t", ("dbo", "t"))],
)
def test_name_parts(text: str, parts: tuple[str, ...]) -> None:
    assert name_parts(text) == parts
