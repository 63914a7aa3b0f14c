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

from mssql_extract.queries import (
    ALL_QUERIES,
    SQL_MODULES_WITH_DEFINITIONS,
    Query,
    extraction_script,
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
