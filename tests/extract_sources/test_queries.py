"""Every catalog query parses as T-SQL and reads only columns the catalog views have.

Columns are checked against tests/data/catalog_columns.json: the columns of
shared/reference/mssql/catalog_views.json (Microsoft sql-docs revisions listed there), plus a
small documented allow-list for views that file does not cover.
"""

from __future__ import annotations

import json

import pytest
import sqlglot
from sqlglot import exp

from mssql_extract.extraction_script import extraction_script
from mssql_extract.queries import (
    ALL_QUERIES,
    DATABASE_PERMISSIONS,
    SERVER_PERMISSIONS,
    SERVER_PROPERTIES,
    SERVER_QUERIES,
    SQL_MODULES_WITH_DEFINITIONS,
    Query,
    database_queries,
    server_queries,
)
from tests.conftest import ROOT

COLUMNS = json.loads((ROOT / "tests" / "data" / "catalog_columns.json").read_text())


def known_columns(view: str) -> set[str]:
    entry = COLUMNS["views"].get(view) or COLUMNS["allow_list"].get(view)
    assert entry is not None, f"{view} is neither in catalog_views.json nor in the allow-list"
    columns = set(entry["columns"])
    for parent in entry.get("inherits", []):
        columns |= known_columns(parent)
    return columns


def columns_read(query: Query) -> set[tuple[str, str]]:
    tree = sqlglot.parse_one(query.sql, read="tsql")
    aliases = {t.alias_or_name: f"{t.db}.{t.name}" for t in tree.find_all(exp.Table)}
    return {(aliases[c.table], c.name) for c in tree.find_all(exp.Column) if c.table}


@pytest.mark.parametrize(
    "query", [*ALL_QUERIES, SQL_MODULES_WITH_DEFINITIONS], ids=lambda q: q.name
)
def test_query_parses_and_reads_known_columns(query: Query) -> None:
    read = columns_read(query)  # server_properties reads SERVERPROPERTY() only
    assert read or query.name == "server_properties"
    unknown = sorted(f"{view}.{col}" for view, col in read if col not in known_columns(view))
    assert unknown == []


def test_no_query_reads_the_password_hash() -> None:
    assert all("password_hash" not in q.sql for q in ALL_QUERIES)
    assert "password_hash" not in extraction_script(include_definitions=True)


def test_extraction_script_uses_every_query_once() -> None:
    script = extraction_script(include_definitions=False)
    for query in ALL_QUERIES:
        assert (
            f'"{query.name}":' in script
            or f'\\"{query.name}\\":' in script
            or f',"{query.name}":' in script
        )
    assert "sqlcmd" in script
    assert "-y 0" in script
    assert "m.definition" not in script
    assert "m.definition" in extraction_script(include_definitions=True)


def joins(query: Query) -> dict[str, str]:
    """Each joined view's alias → its ON condition (T-SQL text)."""
    tree = sqlglot.parse_one(query.sql, read="tsql")
    return {
        j.this.alias_or_name: f"{j.this.db}.{j.this.name} ON {j.args['on'].sql('tsql')}"
        for j in tree.find_all(exp.Join)
    }


def test_availability_group_permissions_are_named() -> None:
    # class 108: major_id is the local replica's replica_metadata_id (see the query's comment)
    found = joins(SERVER_PERMISSIONS)
    assert found["ar"] == (
        "sys.availability_replicas ON p.class = 108 AND ar.replica_metadata_id = p.major_id"
    )
    assert found["ag"] == "sys.availability_groups ON ag.group_id = ar.group_id"
    assert "ag.name" in SERVER_PERMISSIONS.sql.split("AS securable_name")[0]


def test_object_permissions_resolve_system_objects_too() -> None:
    found = joins(DATABASE_PERMISSIONS)
    assert found["o"].startswith("sys.all_objects ON p.class = 1")
    assert found["c"].startswith("sys.all_columns ON p.class = 1")


def test_azure_sql_database_runs_no_server_level_query() -> None:
    assert [q.name for q in server_queries(azure_sql_database=True)] == [
        "server_properties", "databases"
    ]  # fmt: skip
    assert server_queries() == SERVER_QUERIES
    azure = database_queries(include_definitions=False, azure_sql_database=True)
    assert [q.name for q in database_queries(include_definitions=False) if q not in azure] == [
        "database_audit_specifications"
    ]
    assert "engine_edition" in SERVER_PROPERTIES.sql
    not_on_azure = {q.name for q in ALL_QUERIES if not q.on_azure_sql_database}
    assert not_on_azure == {
        "server_configurations", "server_principals", "sql_logins", "server_role_members",
        "server_permissions", "server_audit_specifications", "database_audit_specifications",
    }  # fmt: skip


def test_extraction_script_reads_no_server_view_and_uses_no_use_on_azure() -> None:
    script = extraction_script(include_definitions=False)
    assert "CAST(SERVERPROPERTY('EngineEdition') AS int) = 5" in script
    for query in ALL_QUERIES:
        literal = query.sql.replace("'", "''")
        if query.on_azure_sql_database:
            continue
        # only as dynamic SQL (a missing view would not compile), behind the edition test
        before = script[: script.index(literal)]
        assert before.rstrip().endswith("SET @sql = N'SET @out = (") or before.rstrip().endswith(
            "SET @sql = @use + N'SET @out = ("
        ), query.name
        assert before.rsplit("SET @part = NULL;", 1)[1].split("BEGIN")[0].strip() == (
            "IF @azure_db = 0"
        ), query.name
    assert script.count("N'USE ' + QUOTENAME(@db)") == 1
    assert "SET @use = CASE WHEN @azure_db = 1 THEN N'' ELSE N'USE ' + QUOTENAME(@db)" in script
    assert "AND (@azure_db = 0 OR d.name = DB_NAME())" in script
    assert "-f 65001" in script
