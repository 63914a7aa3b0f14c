"""The objects one parsed statement of a module body references, and the access each gets.

:mod:`mapper.modules` parses a body statement by statement and asks :func:`statement_references` for
each tree: tables, views and table-valued functions read (SELECT; ``FROM`` and ``APPLY``),
written (INSERT, UPDATE, DELETE, MERGE's actions), procedures run and schema-qualified
functions called (EXECUTE), sequences taken from (``NEXT VALUE FOR``: UPDATE).

Names keep the parts the source gave them: ``db.schema.name`` (another database, or the module's
own), ``schema.name``, or ``name`` alone, which :func:`mapper.module_findings.resolve` looks up
as SQL Server would. A table-valued function may be called by its name alone; a scalar function
never ("Scalar-valued functions must be invoked by using at least the two-part name of the
function", Executing User-Defined Functions, https://learn.microsoft.com/previous-versions/sql/
sql-server-2008-r2/ms175562(v=sql.105)), so a one-part call in an expression is a built-in.
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
        """``db.schema.name``, ``schema.name`` or ``name``; ``db..name`` without its schema."""
        if self.database and not self.schema_name:
            return f"{self.database}..{self.name}"
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


#: Built-in rowset functions sqlglot reads as calls of unknown functions: not objects. (Those it
#: knows, ``OPENJSON`` and ``GENERATE_SERIES``, are no calls of unknown functions.)
BUILTIN_ROWSET_FUNCTIONS = frozenset(
    {"openrowset", "opendatasource", "openquery", "openxml", "openjson", "string_split",
     "generate_series", "containstable", "freetexttable", "semantickeyphrasetable",
     "semanticsimilaritytable", "semanticsimilaritydetailstable", "predict", "changetable"}
)  # fmt: skip


def _table_parts(table: exp.Table) -> tuple[str | None, str | None, str] | None:
    """(database, schema, name) of a real table reference; None for #temp, @table, CTEs."""
    if isinstance(table.this, exp.Parameter) or table.this.args.get("temporary"):
        return None
    if isinstance(table.this, exp.Anonymous):  # a table-valued function in FROM: s.tvf(…)
        name = table.this.name
        if not (table.db or table.catalog) and name.casefold() in BUILTIN_ROWSET_FUNCTIONS:
            return None
        return table.catalog or None, table.db or None, name
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
    """Qualified function calls (``s.fn(…)``, ``db.s.fn(…)``): EXECUTE on a user-defined
    function; SELECT where the call is applied (``CROSS APPLY``/``OUTER APPLY s.tvf(…)``), as in
    ``FROM s.tvf(…)``: a table-valued function has SELECT, not EXECUTE ("GRANT Object
    Permissions", https://learn.microsoft.com/sql/t-sql/statements/grant-object-permissions-
    transact-sql). An applied call may name the function alone, as ``FROM tvf(…)`` may (not a
    built-in: :data:`BUILTIN_ROWSET_FUNCTIONS`). ``a.b.m(…)`` whose ``a`` is a table or alias of
    the statement is a method of a column (``t.doc.nodes(…)``), not a function of database a."""
    names: set[str] | None = None
    for call in tree.find_all(exp.Anonymous):
        applied = isinstance(call.parent, exp.Lateral) and call.arg_key == "this"
        if applied and call.name.casefold() not in BUILTIN_ROWSET_FUNCTIONS:
            yield ObjectAccess(name=call.name, access="SELECT")
    for dot in tree.find_all(exp.Dot):
        parts = _dotted(dot.this)
        if not isinstance(dot.expression, exp.Anonymous) or not parts:
            continue
        if isinstance(dot.parent, exp.Table):  # FROM server.db.s.tvf(…): the table's own parts
            continue
        if len(parts) == 2:
            names = _relation_names(tree) if names is None else names
            if parts[0].casefold() in names:
                continue
        applied = isinstance(dot.parent, exp.Lateral) and dot.arg_key == "this"
        yield ObjectAccess(
            database=".".join(parts[:-1]) or None, schema_name=parts[-1],
            name=dot.expression.name, access="SELECT" if applied else "EXECUTE",
        )  # fmt: skip


def _dotted(node: exp.Expr) -> list[str]:
    """The identifiers of ``a`` or ``a.b.c`` (a Dot chain), or [] for anything else."""
    if isinstance(node, exp.Identifier):
        return [node.name]
    if isinstance(node, exp.Dot) and isinstance(node.expression, exp.Identifier):
        head = _dotted(node.this)
        return [*head, node.expression.name] if head else []
    return []


def _relation_names(tree: exp.Expr) -> set[str]:
    """Folded names and aliases of the tables, applied calls and subqueries of a statement."""
    found = {t.name.casefold() for t in tree.find_all(exp.Table) if t.name}
    for node in tree.find_all(exp.Table, exp.Lateral, exp.Subquery, exp.CTE):
        if node.alias:
            found.add(node.alias.casefold())
    return found


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
