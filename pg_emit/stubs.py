"""Stub target objects for ``verify``: tables, views, routines, sequences and types.

On an empty server the grants need something to land on. Stubs are created from
``plan.objects`` (with their columns and routine signatures) only where absent, then given to
their owner roles — so ``verify`` runs: roles (01), memberships (02), stubs, then 03 … 06.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import psycopg

from mapper.plan import MigrationPlan, PgObject
from mapper.quoting import quote_ident, quote_literal, quote_qualified

#: kind → (existence test, CREATE template). ``{q}`` = qualified name, ``{sig}`` = signature.
STUBS: dict[str, tuple[str, str]] = {
    "table": ("to_regclass({lit})", "CREATE TABLE {q} ({cols})"),
    "view": ("to_regclass({lit})", "CREATE VIEW {q} AS SELECT {view_cols}"),
    "sequence": ("to_regclass({lit})", "CREATE SEQUENCE {q}"),
    "function": (
        "to_regprocedure({lit})",
        "CREATE FUNCTION {q}{sig} RETURNS void LANGUAGE plpgsql AS $stub$BEGIN END$stub$",
    ),
    "procedure": (
        "to_regprocedure({lit})",
        "CREATE PROCEDURE {q}{sig} LANGUAGE plpgsql AS $stub$BEGIN END$stub$",
    ),
    "type": ("to_regtype({lit})", "CREATE TYPE {q} AS ENUM ()"),
}

ALTER = {"table": "TABLE", "view": "VIEW", "sequence": "SEQUENCE", "function": "FUNCTION",
         "procedure": "PROCEDURE", "type": "TYPE"}  # fmt: skip


def stub_sql(obj: PgObject, types: Mapping[str, str] | None = None) -> tuple[str, str]:
    """(existence query, CREATE statement) for one object; columns are text unless ``types``
    (column → type, e.g. the columns row-level security policies compare) says otherwise."""
    qualified = quote_qualified(obj.schema_name, obj.name)
    sig = obj.signature or ("()" if obj.kind in ("function", "procedure") else "")
    known = types or {}
    cols = ", ".join(f"{quote_ident(c)} {known.get(c, 'text')}" for c in obj.columns)
    view_cols = ", ".join(f"NULL::text AS {quote_ident(c)}" for c in obj.columns)
    exists, create = STUBS[obj.kind]
    if obj.kind in ("function", "procedure") and obj.signature is None:
        exists = "to_regproc({lit})"  # named alone: any routine of that name is the one
    lit = quote_literal(qualified + (obj.signature or ""))
    fields = {"q": qualified, "sig": sig, "cols": cols, "view_cols": view_cols, "lit": lit}
    return f"SELECT {exists.format(**fields)} IS NOT NULL", create.format(**fields)


def create_stubs(conn: psycopg.Connection[Any], plan: MigrationPlan, database: str) -> int:
    """Create the plan's schemas and objects of ``database`` that are absent; returns a count."""
    created = 0
    for schema in plan.schemas:
        if schema.database == database:
            conn.execute(
                f"CREATE SCHEMA IF NOT EXISTS {quote_ident(schema.name)} "
                f"AUTHORIZATION {quote_ident(schema.owner)}".encode()
            )
    for obj in plan.objects:
        if obj.database != database:
            continue
        exists, create = stub_sql(obj, _policy_column_types(plan, obj))
        row = conn.execute(exists.encode()).fetchone()
        if row is not None and row[0]:
            continue
        conn.execute(create.encode())
        sig = obj.signature or ("()" if obj.kind in ("function", "procedure") else "")
        target = quote_qualified(obj.schema_name, obj.name) + sig
        conn.execute(f"ALTER {ALTER[obj.kind]} {target} OWNER TO {quote_ident(obj.owner)}".encode())
        created += 1
    return created


def _policy_column_types(plan: MigrationPlan, obj: PgObject) -> dict[str, str]:
    """Types of the columns the table's row-level security policies compare."""
    return {
        column.name: column.data_type
        for row in plan.row_security
        if (row.database, row.schema_name, row.table_name)
        == (obj.database, obj.schema_name, obj.name)
        for column in row.column_types
    }
