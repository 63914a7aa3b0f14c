"""Module analysis: what procedures, functions, views and triggers touch, and how they run.

Reads ``DbObject.definition`` with sqlglot's T-SQL dialect, one statement at a time (split by
``mapper.module_split``, parsed by ``mapper.module_parse``): the objects each module references
and the kind of access, its ``EXECUTE AS`` clause, dynamic SQL (``EXEC (@sql)``,
``sp_executesql``; concatenated or parameterised; ``QUOTENAME`` on concatenated parts),
cross-database names, and — given ``EffectivePermissions`` — principals that can run a module
but reach its objects only through ownership chaining. Statements sqlglot cannot read are listed
in ``unparsed``, never dropped.
Findings are returned as :class:`~mapper.review_rules.FindingSpec` data (rules GB300–GB311).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Literal

from sqlglot import exp

from mapper.module_parse import parse_statement
from mapper.module_refs import DYNAMIC_PROCEDURES as DYNAMIC_PROCEDURES
from mapper.module_refs import Access as Access
from mapper.module_refs import Frozen, statement_references
from mapper.module_refs import ObjectAccess as ObjectAccess
from mapper.module_split import Statement, split_module
from mapper.plan import Severity
from mapper.review_rules import RuleDef, rule_table
from mssql_extract.snapshot import DbObject, ObjectKind

MODULE_KINDS = frozenset(
    {ObjectKind.PROCEDURE, ObjectKind.SCALAR_FUNCTION, ObjectKind.TABLE_FUNCTION, ObjectKind.VIEW,
     ObjectKind.OTHER}
)  # fmt: skip

RULES = rule_table(
    [
        RuleDef("GB300", Severity.HIGH, "Module runs as its owner (EXECUTE AS OWNER)",
                "Make it SECURITY DEFINER with SET search_path = pg_catalog, <schema>, owned by a "
                "NOLOGIN owner role; REVOKE EXECUTE FROM PUBLIC; grant EXECUTE to the callers."),
        RuleDef("GB301", Severity.MEDIUM, "Module impersonates a principal (EXECUTE AS user/SELF)",
                "Use SECURITY DEFINER owned by a role holding only that principal's privileges."),
        RuleDef("GB302", Severity.CRITICAL, "Dynamic SQL built by concatenation runs as owner",
                "Pass values as parameters (format('%I') / EXECUTE … USING in PL/pgSQL) and "
                "quote identifiers with quote_ident; avoid SECURITY DEFINER for this routine."),
        RuleDef("GB303", Severity.HIGH, "Dynamic SQL built by concatenation",
                "Pass values as parameters (EXECUTE … USING) and quote identifiers (format('%I'))."),
        RuleDef("GB304", Severity.MEDIUM, "Dynamic SQL concatenates QUOTENAME'd identifiers",
                "Keep identifier quoting: format('%I', …) or quote_ident in PL/pgSQL."),
        RuleDef("GB305", Severity.LOW, "Dynamic SQL breaks the ownership chain",
                "Callers need privileges on the objects the dynamic SQL touches, in PostgreSQL "
                "as in SQL Server: the routine stays SECURITY INVOKER unless it ran as its owner."),
        RuleDef("GB306", Severity.HIGH, "Access relies on ownership chaining",
                "PostgreSQL has no ownership chaining: where the module may run with its owner's "
                "privileges (every object it touches is its owner's) it does, or grant the "
                "objects to the caller (grant_underlying, a widening)."),
        RuleDef("GB307", Severity.MEDIUM, "Module references another database",
                "PostgreSQL cannot query another database directly: merge databases into schemas, "
                "or use postgres_fdw / dblink with its own credentials and grants."),
        RuleDef("GB308", Severity.LOW, "Module statement could not be analysed",
                "Review the statement by hand; its references are not in the plan."),
        RuleDef("GB309", Severity.MEDIUM, "Module bodies not in the snapshot: not analysed",
                "Extract again with --include-definitions (scripts, --print-query or the live "
                "server) and plan again; module bodies can hold secrets, so keep that snapshot "
                "private."),
        RuleDef("GB310", Severity.LOW, "Ownership chain broken or unknown: the module runs with "
                "its caller's privileges",
                "Nothing to do where no caller relied on the chain; otherwise see the module's "
                "GB306 findings for what each caller needs (a module without its body in the "
                "snapshot has none: extract with --include-definitions and plan again), or give "
                "the objects one owner in SQL Server and plan again."),
        RuleDef("GB311", Severity.HIGH, "EXECUTE AS OWNER module uses its owner's own permissions",
                "Grant the owner role exactly what the module uses of the owner's permissions, "
                "once no role that would get it too holds the owner role."),
    ]
)  # fmt: skip


class DynamicSql(Frozen):
    """One dynamic SQL execution and how its text is built."""

    line: int
    kind: Literal["EXEC", "sp_executesql"]
    concatenated: bool  # the text has a non-literal part
    parameterised: bool  # sp_executesql with a parameter list
    quotename_all: bool  # every non-literal part is wrapped in QUOTENAME
    unquoted_parts: tuple[str, ...] = ()
    text: str
    #: What the executed text references, where the text is constant (literals only, each
    #: variable assigned once) and readable; None where it is not known.
    reads: tuple[ObjectAccess, ...] | None = None


class ModuleAnalysis(Frozen):
    """Everything read from one module body."""

    schema_name: str
    name: str
    execute_as: str | None = None  # CALLER (default), OWNER, SELF or a principal name
    references: tuple[ObjectAccess, ...] = ()
    dynamic_sql: tuple[DynamicSql, ...] = ()
    cross_database: tuple[str, ...] = ()
    unparsed: tuple[str, ...] = ()

    @property
    def runs_as_owner(self) -> bool:
        return (self.execute_as or "").upper() == "OWNER"


# --------------------------------------------------------------------------- entry points


def analyze_object(obj: DbObject) -> ModuleAnalysis:
    """Analyse a snapshot module; objects without a definition get an ``unparsed`` note."""
    if not obj.definition:
        return ModuleAnalysis(
            schema_name=obj.schema_name, name=obj.name, execute_as=obj.execute_as,
            unparsed=("no definition (extract with definitions to analyse this module)",),
        )  # fmt: skip
    analysis = analyze_definition(obj.schema_name, obj.name, obj.definition)
    if analysis.execute_as is None and obj.execute_as:
        return analysis.model_copy(update={"execute_as": obj.execute_as.upper()})
    return analysis


def analyze_definition(schema_name: str, name: str, definition: str) -> ModuleAnalysis:
    """Analyse a module body (``CREATE PROCEDURE …`` text, or a bare body)."""
    try:
        split = split_module(definition)
    except ValueError as exc:
        return ModuleAnalysis(schema_name=schema_name, name=name, unparsed=(str(exc),))
    parsed: list[tuple[Statement, exp.Expr]] = []
    unparsed: list[str] = []
    for statement in split.statements:
        for tree in parse_statement(statement, unparsed):
            parsed.append((statement, tree))
    assignments = _assignments(tree for _, tree in parsed)
    references = {ref.key: ref for _, tree in parsed for ref in statement_references(tree)}
    for statement, tree in parsed:
        for call in _variable_calls(statement, tree, assignments):
            if isinstance(call, str):
                unparsed.append(call)
            else:
                references.setdefault(call.key, call)
    dynamic = [d for st, tree in parsed for d in _dynamic(st, tree, assignments)]
    return ModuleAnalysis(
        schema_name=schema_name,
        name=name,
        execute_as=split.execute_as,
        references=tuple(references[k] for k in sorted(references)),
        dynamic_sql=tuple(dynamic),
        cross_database=tuple(sorted({r.qualified for r in references.values() if r.database})),
        unparsed=tuple(unparsed),
    )


# --------------------------------------------------------------------------- references


def _variable_calls(
    statement: Statement, tree: exp.Expr, assigns: Assignments
) -> Iterator[ObjectAccess | str]:
    """``EXEC @name``: the module a variable names (EXECUTE, ``@module_name_var``). Where
    every value assigned to it is a string constant, EXECUTE on each module named; otherwise
    an ``unparsed`` note (the module it runs, and so what it touches, is not known)."""
    for execute in tree.find_all(exp.Execute):
        table = execute.this
        if not isinstance(table, exp.Table) or not isinstance(table.this, exp.Parameter):
            continue
        values = assigns.get(_variable(table.this) or "", ())
        names = [_string(v) for v in values]
        if not values or None in names:
            yield (
                f"line {statement.line}: EXEC {table.this.sql(dialect='tsql')} runs the module "
                f"the variable names, which is not a constant, in: {statement.text}"
            )
            continue
        for name in sorted({n for n in names if n}):
            called = exp.to_table(name, dialect="tsql")
            yield ObjectAccess(database=called.catalog or None, schema_name=called.db or None,
                               name=called.name, access="EXECUTE")  # fmt: skip


def _string(node: exp.Expr) -> str | None:
    """The value of a string constant (``'…'`` or ``N'…'``), else None."""
    if isinstance(node, exp.National) or (isinstance(node, exp.Literal) and node.is_string):
        return str(node.this)
    return None


# --------------------------------------------------------------------------- dynamic SQL

Assignments = Mapping[str, tuple[exp.Expr, ...]]


def _variable(node: exp.Expr) -> str | None:
    return node.name.casefold() if isinstance(node, exp.Parameter) else None


def _assignments(trees: Iterator[exp.Expr]) -> Assignments:
    """Every value assigned to each variable: DECLARE … =, SET @v =, SELECT @v = …."""
    found: dict[str, list[exp.Expr]] = {}
    for tree in trees:
        for item in tree.find_all(exp.DeclareItem):
            names = item.this if isinstance(item.this, list) else [item.this]
            for name in names:
                if isinstance(item.args.get("default"), exp.Expr) and _variable(name):
                    found.setdefault(_variable(name) or "", []).append(item.args["default"])
        for eq in tree.find_all(exp.EQ):
            if _variable(eq.this) and isinstance(eq.parent, exp.SetItem | exp.Select):
                found.setdefault(_variable(eq.this) or "", []).append(eq.expression)
    return {name: tuple(values) for name, values in found.items()}


def _dynamic(statement: Statement, tree: exp.Expr, assigns: Assignments) -> Iterator[DynamicSql]:
    for call in tree.find_all(exp.Anonymous):
        if call.name.casefold() == "__dynamic_exec__" and call.expressions:
            yield _describe(statement, "EXEC", call.expressions[0], assigns, parameterised=False)
    for execute_sql in tree.find_all(exp.ExecuteSql):
        args = [a.expression if isinstance(a, exp.EQ) else a for a in execute_sql.expressions]
        if args:
            yield _describe(statement, "sp_executesql", args[0], assigns, len(args) > 1)


def _describe(
    statement: Statement,
    kind: Literal["EXEC", "sp_executesql"],
    text: exp.Expr,
    assigns: Assignments,
    parameterised: bool,
) -> DynamicSql:
    parts = _parts(text, assigns, frozenset())
    loose = tuple(sorted({sql for sql, quoted in parts if quoted is False}))
    quoted = [sql for sql, q in parts if q]
    return DynamicSql(
        line=statement.line,
        kind=kind,
        concatenated=bool(loose or quoted),
        parameterised=parameterised,
        quotename_all=bool(quoted) and not loose,
        unquoted_parts=loose,
        text=statement.text,
        reads=_reads(_constant(text, assigns, frozenset())),
    )


def _constant(node: exp.Expr, assigns: Assignments, seen: frozenset[str]) -> str | None:
    """The text a dynamic SQL expression always has: string constants joined by ``+``,
    through variables assigned exactly once; None where any part can vary."""
    if isinstance(node, exp.Paren):
        return _constant(node.this, assigns, seen)
    if isinstance(node, exp.Add | exp.DPipe):
        left, right = (_constant(n, assigns, seen) for n in (node.this, node.expression))
        return None if left is None or right is None else left + right
    variable = _variable(node)
    if variable and variable not in seen and len(assigns.get(variable, ())) == 1:
        return _constant(assigns[variable][0], assigns, seen | {variable})
    return _string(node)


def _reads(text: str | None) -> tuple[ObjectAccess, ...] | None:
    """What a constant dynamic SQL text references; None if unknown or it is not all read."""
    if text is None:
        return None
    inner = analyze_definition("", "", text)
    return None if inner.dynamic_sql or inner.unparsed else inner.references


def _parts(
    node: exp.Expr, assigns: Assignments, seen: frozenset[str]
) -> list[tuple[str, bool | None]]:
    """Leaves of a text expression: (sql, None) literal, (sql, True) QUOTENAME'd, False bare."""
    if isinstance(node, exp.Paren):
        return _parts(node.this, assigns, seen)
    if isinstance(node, exp.Add | exp.DPipe):
        return _parts(node.this, assigns, seen) + _parts(node.expression, assigns, seen)
    if isinstance(node, exp.Concat):
        return [p for arg in node.expressions for p in _parts(arg, assigns, seen)]
    if isinstance(node, exp.Literal | exp.National | exp.Null):
        return [(node.sql(dialect="tsql"), None)]
    if isinstance(node, exp.Anonymous) and node.name.upper() == "QUOTENAME":
        return [(node.sql(dialect="tsql"), True)]
    variable = _variable(node)
    if variable and variable in assigns and variable not in seen:
        inner = seen | {variable}
        return [p for value in assigns[variable] for p in _parts(value, assigns, inner)]
    if variable and variable in seen:
        return []  # SET @sql = @sql + …: the earlier value is already counted
    return [(node.sql(dialect="tsql"), False)]
