"""The objects one parsed statement of a module body references, and the access each gets.

:mod:`mapper.modules` parses a body statement by statement and asks :func:`statement_references` for
each tree: tables, views and table-valued functions read (SELECT; ``FROM`` and ``APPLY``),
written (INSERT, UPDATE, DELETE, MERGE's actions), procedures run and schema-qualified
functions called (EXECUTE), sequences taken from (``NEXT VALUE FOR``: UPDATE).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Literal

from pydantic import BaseModel, ConfigDict
from sqlglot import exp

Access = Literal["SELECT", "INSERT", "UPDATE", "DELETE", "EXECUTE"]

#: Procedures that execute their first argument as SQL text.
DYNAMIC_PROCEDURES = frozenset({"sp_executesql"})


class Frozen(BaseModel):
    """A frozen model of module analysis (:mod:`mapper.modules` builds on it too)."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class ObjectAccess(Frozen):
    """One object a module touches; ``schema_name`` None when unqualified in the source."""

    database: str | None = None
    schema_name: str | None = None
    name: str
    access: Access

    @property
    def qualified(self) -> str:
        return ".".join(p for p in (self.database, self.schema_name, self.name) if p)

    @property
    def key(self) -> str:
        return f"{self.qualified.casefold()}:{self.access}"


TARGET_ACCESS: dict[type[exp.Expr], Access] = {
    exp.Insert: "INSERT",
    exp.Update: "UPDATE",
    exp.Delete: "DELETE",
}
MERGE_ACCESS: dict[type[exp.Expr], Access] = {
    exp.Insert: "INSERT",
    exp.Update: "UPDATE",
    exp.Var: "DELETE",  # WHEN MATCHED THEN DELETE is a bare keyword
}


def _table_parts(table: exp.Table) -> tuple[str | None, str | None, str] | None:
    """(database, schema, name) of a real table reference; None for #temp, @table, CTEs."""
    if isinstance(table.this, exp.Parameter) or table.this.args.get("temporary"):
        return None
    if isinstance(table.this, exp.Anonymous):  # a table-valued function in FROM: s.tvf(…)
        return (table.catalog or None, table.db, table.this.name) if table.db else None
    name = table.name
    if not name or name.startswith("#"):
        return None
    if isinstance(table.this, exp.Dot):  # four-part name: server.db.schema.name
        schema, name = table.this.this.name, table.this.expression.name
        return f"{table.catalog}.{table.db}", schema, name
    return table.catalog or None, table.db or None, name


def statement_references(tree: exp.Expr) -> Iterator[ObjectAccess]:
    ctes = {cte.alias_or_name.casefold() for cte in tree.find_all(exp.CTE)}
    aliases = _aliases(tree)
    targets = _targets(tree)
    for table in tree.find_all(exp.Table):
        parts = _table_parts(table)
        if parts is None or _is_dynamic_call(table):
            continue
        database, schema, name = parts
        if schema is None and database is None:
            if name.casefold() in ctes:
                continue
            database, schema, name = aliases.get(name.casefold(), (None, None, name))
        default: Access = "EXECUTE" if isinstance(table.parent, exp.Execute) else "SELECT"
        for access in targets.get(id(table), (default,)):
            yield ObjectAccess(database=database, schema_name=schema, name=name, access=access)
    yield from _function_calls(tree)
    yield from _sequences(tree)


def _aliases(tree: exp.Expr) -> dict[str, tuple[str | None, str | None, str]]:
    """Alias → real table, for ``UPDATE o … FROM dbo.Orders o``."""
    found: dict[str, tuple[str | None, str | None, str]] = {}
    for table in tree.find_all(exp.Table):
        parts = _table_parts(table)
        if parts is not None and table.alias:
            found[table.alias.casefold()] = parts
    return found


def _targets(tree: exp.Expr) -> dict[int, tuple[Access, ...]]:
    """Table node id → the write accesses its statement gives it."""
    found: dict[int, tuple[Access, ...]] = {}
    for node in tree.walk():
        access = TARGET_ACCESS.get(type(node))
        target = node.this.this if isinstance(node.this, exp.Schema) else node.this
        if access and isinstance(target, exp.Table):
            found[id(target)] = (access,)
    for merge in tree.find_all(exp.Merge):
        if isinstance(merge.this, exp.Table):  # MERGE INTO t … WHEN … THEN UPDATE/INSERT/DELETE
            thens = (w.args.get("then") for w in merge.find_all(exp.When))
            kinds = (MERGE_ACCESS.get(type(then)) for then in thens if then is not None)
            found[id(merge.this)] = tuple(sorted({k for k in kinds if k}))
    return found


def _function_calls(tree: exp.Expr) -> Iterator[ObjectAccess]:
    """Schema-qualified function calls (``dbo.fn(…)``): EXECUTE on a user-defined function;
    SELECT where the call is applied (``CROSS APPLY``/``OUTER APPLY s.tvf(…)``), as in ``FROM
    s.tvf(…)``: a table-valued function has SELECT, not EXECUTE ("GRANT Object Permissions",
    https://learn.microsoft.com/sql/t-sql/statements/grant-object-permissions-transact-sql).
    Unqualified calls are left out, in APPLY as in FROM (built-ins like ``OPENJSON`` look
    the same)."""
    for dot in tree.find_all(exp.Dot):
        if isinstance(dot.expression, exp.Anonymous) and isinstance(dot.this, exp.Identifier):
            applied = isinstance(dot.parent, exp.Lateral) and dot.arg_key == "this"
            yield ObjectAccess(
                schema_name=dot.this.name, name=dot.expression.name,
                access="SELECT" if applied else "EXECUTE",
            )  # fmt: skip


def _sequences(tree: exp.Expr) -> Iterator[ObjectAccess]:
    """``NEXT VALUE FOR [db.][schema.]seq``: UPDATE on the sequence ("NEXT VALUE FOR
    (Transact-SQL)", Permissions: "Requires UPDATE permission on the sequence object or the
    schema of the sequence", https://learn.microsoft.com/sql/t-sql/functions/
    next-value-for-transact-sql). A sequence is an OBJECT-class securable with UPDATE, covered
    by UPDATE on its schema (reference/mssql/builtin_permissions_sql2022.csv, OBJECT/UPDATE), so
    an ownership chain skips the check on it as on a table; the PostgreSQL privilege is USAGE
    (:func:`mapper.translate.module_actions.privilege`)."""
    for call in tree.find_all(exp.NextValueFor):
        column = call.this
        if isinstance(column, exp.Column) and column.name:
            yield ObjectAccess(
                database=column.args["db"].name if column.args.get("db") else None,
                schema_name=column.table or None, name=column.name, access="UPDATE",
            )  # fmt: skip


def _is_dynamic_call(table: exp.Table) -> bool:
    return table.name.casefold() in DYNAMIC_PROCEDURES
