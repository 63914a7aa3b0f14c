"""A table's column defaults that call a sequence, read from every source into
``DbObject.sequence_defaults``.

SQL Server gives the default as ``sys.default_constraints.definition``, decoded
(``(NEXT VALUE FOR [sales].[OrderNumbers])``); a T-SQL script inline in CREATE TABLE or as
``ALTER TABLE … ADD [CONSTRAINT c] DEFAULT … FOR col`` (what SSMS "Generate Scripts" writes); a
dacpac as a ``SqlDefaultConstraint`` with a ``DefaultExpressionScript``. Every source gives the
same quoted name; a default that calls no sequence is not kept. Snapshots and catalog exports
made before the field load unchanged, with none.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from grantbridge.errors import ExtractError
from mssql_extract.catalog import snapshot_from_rows
from mssql_extract.sequence_defaults import sequences_in
from mssql_extract.snapshot import DbObject, SecuritySnapshot, SequenceDefault
from mssql_extract.tsql import extract_scripts
from tests.extract_sources.test_catalog_edges import rows_with
from tests.extract_sources.test_dacpac_real_shapes import TABLE, el, only_db, read, ref, rel

ORDERS = 581609116  # sales.Orders: OrderId (1), TenantId (2), … CurrencyCode (6)


def defaults(snapshot: SecuritySnapshot) -> dict[str, list[tuple[str, str]]]:
    """``schema.table`` → its (column, sequence) defaults, for the tables that have any."""
    return {
        f"{o.schema_name}.{o.name}": [(d.column, d.sequence) for d in o.sequence_defaults]
        for db in snapshot.databases
        for o in db.objects
        if o.sequence_defaults
    }


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("(NEXT VALUE FOR [sales].[OrderNumbers])", ["[sales].[OrderNumbers]"]),
        ("(N'AdvWorks_'+CONVERT([nvarchar](20),NEXT VALUE FOR [Test].[CounterSeq]))",
         ["[Test].[CounterSeq]"]),
        ("next value for seq", ["[seq]"]),
        ("(NEXT VALUE FOR [a]]b].[c.d])", ["[a]]b].[c.d]"]),
        ("(NEXT VALUE FOR Sales..seq)", ["[Sales]..[seq]"]),
        ("('NEXT VALUE FOR x')", []),  # a string
        ("(getdate())", []),
        ("((0))", []),
        ("(NEXT VALUE FOR a.b.c.d)", []),  # not a sequence's name
        ("'unterminated", []),
        (None, []),
    ],
)  # fmt: skip
def test_the_expression_is_read_by_tokens(expression: str | None, expected: list[str]) -> None:
    assert sequences_in(expression) == expected


# --------------------------------------------------------------------------- T-SQL scripts

SCRIPT = """CREATE DATABASE [D1]
GO
USE [D1]
GO
CREATE SCHEMA [s]
GO
CREATE SEQUENCE s.seq AS bigint
GO
CREATE TABLE s.t (id bigint NOT NULL CONSTRAINT df_t DEFAULT (NEXT VALUE FOR s.seq),
    note nvarchar(20) DEFAULT 'NEXT VALUE FOR x', n int DEFAULT (0), PRIMARY KEY (id))
GO
CREATE TABLE [s].[u] ([id] int, [code] nvarchar(30))
GO
ALTER TABLE [s].[u] ADD  DEFAULT (NEXT VALUE FOR [s].[seq]) FOR [id]
GO
ALTER TABLE s.u ADD CONSTRAINT df_code DEFAULT N'X' + CAST(NEXT VALUE FOR seq AS nvarchar(20))
    FOR code, extra bigint CONSTRAINT df_extra DEFAULT NEXT VALUE FOR s.seq;
ALTER TABLE s.u WITH NOCHECK ADD CONSTRAINT ck CHECK (id > 0)
ALTER TABLE s.u ADD DEFAULT (getdate()) FOR code
ALTER TABLE s.gone ADD DEFAULT (NEXT VALUE FOR s.seq) FOR x
GO
"""


@pytest.fixture(scope="module")
def scripted(tmp_path_factory: pytest.TempPathFactory) -> SecuritySnapshot:
    path = tmp_path_factory.mktemp("script") / "s.sql"
    path.write_text(SCRIPT, encoding="utf-8")
    return extract_scripts([path])


def test_tsql_reads_inline_and_added_defaults(scripted: SecuritySnapshot) -> None:
    assert defaults(scripted) == {
        "s.t": [("id", "[s].[seq]")],
        "s.u": [("code", "[seq]"), ("extra", "[s].[seq]"), ("id", "[s].[seq]")],
    }
    tables = {o.name: o for o in only_db(scripted).objects}
    assert tables["t"].columns == ("id", "note", "n")  # not PRIMARY KEY (one token in sqlglot)
    assert tables["u"].columns == ("id", "code", "extra")  # the column ADD made


def test_the_snapshot_round_trips_byte_for_byte(scripted: SecuritySnapshot) -> None:
    text = scripted.to_json()
    assert "".join(scripted.json_chunks()) == text
    assert '"sequence_defaults": [\n' in text
    loaded = SecuritySnapshot.from_json(text)
    assert loaded == scripted
    assert loaded.to_json() == text


def test_tsql_keeps_other_alter_table_adds_as_before(scripted: SecuritySnapshot) -> None:
    """Each statement is read to its end, even without a semicolon, and stays what it was."""
    skipped = {s.text: s.reason for s in scripted.skipped}
    assert skipped["ALTER TABLE s.u WITH NOCHECK ADD CONSTRAINT ck CHECK (id > 0)"] == (
        "ALTER TABLE without a security effect"
    )
    assert skipped["ALTER TABLE s.u ADD DEFAULT (getdate()) FOR code"] == (
        "ALTER TABLE without a security effect"
    )
    gone = skipped["ALTER TABLE s.gone ADD DEFAULT (NEXT VALUE FOR s.seq) FOR x"]
    assert gone.startswith("a column default calling a sequence, on a table that no script")


def test_tsql_a_second_default_for_a_column_replaces_the_first(tmp_path: Path) -> None:
    path = tmp_path / "s.sql"
    path.write_text(SCRIPT + "ALTER TABLE s.u ADD DEFAULT (NEXT VALUE FOR dbo.x) FOR [ID]\nGO\n")
    assert defaults(extract_scripts([path]))["s.u"] == [
        ("code", "[seq]"), ("extra", "[s].[seq]"), ("ID", "[dbo].[x]")
    ]  # fmt: skip


# --------------------------------------------------------------------------- catalog rows


def _default_rows(*rows: dict[str, Any] | None) -> Any:
    def edit(server: dict[str, Any], databases: dict[str, dict[str, Any]]) -> None:
        sales = databases["Sales"]
        if rows == (None,):
            sales.pop("default_constraints", None)  # an export made before the query
        else:
            sales["default_constraints"] = list(rows)

    return edit


def _row(column_id: int, definition: Any) -> dict[str, Any]:
    return {"parent_object_id": ORDERS, "parent_column_id": column_id, "definition": definition}


def test_catalog_reads_sys_default_constraints() -> None:
    snapshot = snapshot_from_rows(rows_with(_default_rows(
        _row(1, "(NEXT VALUE FOR [sales].[OrderNumbers])"), _row(4, "(getdate())"),
    )))  # fmt: skip
    assert defaults(snapshot) == {"sales.Orders": [("OrderId", "[sales].[OrderNumbers]")]}


def test_catalog_export_without_the_section_has_no_defaults() -> None:
    assert defaults(snapshot_from_rows(rows_with(_default_rows(None)))) == {}


def test_catalog_default_of_a_column_not_found_is_skipped() -> None:
    snapshot = snapshot_from_rows(rows_with(_default_rows(_row(9, "(NEXT VALUE FOR [s].[q])"))))
    assert defaults(snapshot) == {}
    (skipped,) = [s for s in snapshot.skipped if "default" in s.reason]
    assert str(skipped.source_ref) == (
        f"sys.default_constraints[Sales:parent_object_id={ORDERS},parent_column_id=9]"
    )


def test_catalog_default_row_of_the_wrong_shape_is_located() -> None:
    with pytest.raises(ExtractError) as caught:
        snapshot_from_rows(rows_with(_default_rows(_row(1, 7))))
    assert str(caught.value) == (
        "Sales.default_constraints row 1: column 'definition' of sys.default_constraints holds "
        "7, not a string"
    )


# --------------------------------------------------------------------------- dacpac


def _script(expression: str) -> str:
    """A script property as DacFx writes it: a nested Value, in CDATA."""
    return (f'<Property Name="DefaultExpressionScript"><Value><![CDATA[{expression}]]>'
            "</Value></Property>")  # fmt: skip


def _default(name: str | None, column: str, expression: str) -> str:
    return el("SqlDefaultConstraint", name, _script(expression),
              rel("DefiningTable", ref("[dbo].[Orders]")),
              rel("ForColumn", ref(f"[dbo].[Orders].[{column}]")))  # fmt: skip


def test_dacpac_reads_default_constraints_named_or_not(tmp_path: Path) -> None:
    snapshot = read(
        tmp_path, TABLE, el("SqlSequence", "[dbo].[OrderSeq]"),
        _default("[dbo].[DF_Orders_Id]", "Id", "(NEXT VALUE FOR [dbo].[OrderSeq])"),
        _default(None, "Amount", "NEXT VALUE FOR OrderSeq"),
        _default(None, "Amount2", "((0))"),
    )  # fmt: skip
    assert defaults(snapshot) == {
        "dbo.Orders": [("Amount", "[OrderSeq]"), ("Id", "[dbo].[OrderSeq]")]
    }


# --------------------------------------------------------------------------- the snapshot


def test_snapshot_without_the_field_loads_and_writes_unchanged() -> None:
    old = {"schema_name": "dbo", "name": "t", "kind": "TABLE", "columns": ["id"],
           "source_ref": {"origin": "x.sql", "line": 1}}  # fmt: skip
    table = DbObject.model_validate(old)
    assert table.sequence_defaults == ()
    assert "sequence_defaults" not in json.loads(table.model_dump_json())
    with_defaults = DbObject.model_validate({**old, "sequence_defaults": [
        {"column": "id", "sequence": "[s].[b]"}, {"column": "ID", "sequence": "[s].[a]"},
    ]})  # fmt: skip
    assert [d.sequence for d in with_defaults.sequence_defaults] == ["[s].[a]", "[s].[b]"]
    text = with_defaults.model_dump_json()
    assert DbObject.model_validate_json(text).model_dump_json() == text
    assert with_defaults.sequence_defaults[0].sequence_parts == ("s", "a")


def test_a_default_listed_twice_is_refused_as_any_duplicate() -> None:
    with pytest.raises(ValueError, match="duplicate item"):
        DbObject(schema_name="dbo", name="t", kind="TABLE", source_ref={"origin": "x"},  # type: ignore[arg-type]
                 sequence_defaults=(SequenceDefault(column="id", sequence="[s]"),) * 2)  # fmt: skip
