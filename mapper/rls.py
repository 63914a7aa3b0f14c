"""Row-level security: SQL Server security policies → PostgreSQL ``CREATE POLICY``.

A SQL Server predicate is an inline table-valued function (``RETURNS TABLE WITH SCHEMABINDING
AS RETURN SELECT 1 AS r WHERE <expr>``) applied to table columns. Its ``WHERE`` expression is
translated with sqlglot (T-SQL → postgres) after the function's parameters are replaced by the
table's columns and the security functions by their PostgreSQL equivalents (SECURITY_FUNCTIONS).
Anything else (an unknown function, a subquery, a construct outside SAFE_NODES) makes the
translation unfaithful: no policy for that table, and a finding that carries the original text.

Mapping of predicates (SQL Server semantics → PostgreSQL; every table gets a permissive policy so
that PostgreSQL's default-deny does not hide rows SQL Server would show):

=========================  ==========================================================
SQL Server                 PostgreSQL
=========================  ==========================================================
FILTER                     PERMISSIVE ``FOR ALL USING (f) WITH CHECK (true)``
(no FILTER)                PERMISSIVE ``FOR ALL USING (true) WITH CHECK (true)``
BLOCK AFTER INSERT         RESTRICTIVE ``FOR INSERT WITH CHECK (b)``
BLOCK AFTER UPDATE         RESTRICTIVE ``FOR UPDATE USING (true) WITH CHECK (b)``
BLOCK BEFORE UPDATE        RESTRICTIVE ``FOR UPDATE USING (b)``  (rows skipped, no error)
BLOCK BEFORE DELETE        RESTRICTIVE ``FOR DELETE USING (b)``  (rows skipped, no error)
BLOCK (no operation)       all four of the above
=========================  ==========================================================

A SQL Server FILTER does not stop writes of rows the writer could not see; hence ``WITH CHECK
(true)``. A BEFORE block raises error 33504 in SQL Server, whereas a PostgreSQL ``USING`` clause
silently skips the row. SQL Server applies policies to every user, the table owner included, so
tables are also ``FORCE ROW LEVEL SECURITY`` (see :data:`REPORT_NOTE`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from typing import Literal

import sqlglot
from pydantic import BaseModel, ConfigDict
from sqlglot import exp
from sqlglot.errors import SqlglotError

from grantbridge.plural import plural
from mapper.plan import Severity
from mapper.review_rules import FindingSpec, RuleDef, make_finding, rule_table
from mssql_extract.snapshot import Database, SecurityPolicy, SecurityPredicate, fold

RULES = rule_table(
    [
        RuleDef("GB320", Severity.HIGH, "Row-level security predicate not translated",
                "Write the PostgreSQL policy by hand from the original predicate; until then the "
                "table has no row filter in PostgreSQL."),
        RuleDef("GB321", Severity.INFO, "Row-level security policy translated",
                "Review the policy; note that table owners and BYPASSRLS roles skip it unless "
                "FORCE ROW LEVEL SECURITY, and that pg_read_all_data does not bypass it."),
    ]
)  # fmt: skip

#: Report text. Sources: PostgreSQL docs, "Row Security Policies"
#: (https://www.postgresql.org/docs/current/ddl-rowsecurity.html): superusers and BYPASSRLS roles
#: always bypass; table owners bypass unless ALTER TABLE … FORCE ROW LEVEL SECURITY. "Predefined
#: Roles" (https://www.postgresql.org/docs/current/predefined-roles.html): pg_read_all_data does
#: not have BYPASSRLS, so RLS still applies to its members.
REPORT_NOTE = (
    "Row-level security: table owners bypass PostgreSQL policies unless the table is FORCE ROW "
    "LEVEL SECURITY (grantbridge sets it, because SQL Server applies security policies to owners "
    "too); superusers and BYPASSRLS roles always bypass them. Membership in pg_read_all_data does "
    "not bypass row-level security."
)

Command = Literal["ALL", "SELECT", "INSERT", "UPDATE", "DELETE"]
Namer = Callable[[str], str]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class PgPolicySpec(_Frozen):
    """One ``CREATE POLICY`` (names are final PostgreSQL names, unquoted)."""

    name: str
    command: Command
    permissive: bool = True
    using: str | None = None
    with_check: str | None = None


class RlsTranslation(_Frozen):
    """The PostgreSQL row-level security of one table."""

    table_schema: str
    table_name: str
    enable: bool
    force: bool = True
    policies: tuple[PgPolicySpec, ...] = ()
    faithful: bool
    finding: str | None = None
    original: str
    findings: tuple[FindingSpec, ...] = ()


class Untranslatable(Exception):
    """A predicate has no faithful PostgreSQL equivalent (the message says why)."""


def _lower(name: str) -> str:
    return name.lower()


def translate_policies(
    database: Database,
    *,
    role_name: Namer = _lower,
    ident: Namer = _lower,
    column_types: Mapping[str, str] | None = None,
) -> tuple[RlsTranslation, ...]:
    """Translate every security policy of a database, one result per target table.

    Args:
        database: the snapshot database (its policies and the predicate functions' bodies).
        role_name: maps a SQL Server principal name to its PostgreSQL role (policy naming).
        ident: maps a SQL Server schema, table, column or policy name to its PostgreSQL name.
        column_types: PostgreSQL type per ``"schema.table.column"`` (folded), where known;
            used to cast ``SESSION_CONTEXT`` values compared without a cast.
    """
    tables: dict[tuple[str, str], list[tuple[SecurityPolicy, SecurityPredicate]]] = {}
    for policy in database.security_policies:
        for predicate in policy.predicates:
            target = (predicate.target_schema, predicate.target_table)
            tables.setdefault(target, []).append((policy, predicate))
    context = _Context(
        database, role_name, ident, {fold(k): v for k, v in (column_types or {}).items()}
    )
    return tuple(
        context.table(schema, table, tables[(schema, table)]) for schema, table in sorted(tables)
    )


class _Context:
    def __init__(
        self, database: Database, role_name: Namer, ident: Namer, types: Mapping[str, str]
    ):
        self.database, self.role_name, self.ident, self.types = database, role_name, ident, types

    def table(
        self, schema: str, table: str, items: list[tuple[SecurityPolicy, SecurityPredicate]]
    ) -> RlsTranslation:
        original = "\n".join(
            f"{p.schema_name}.{p.name}: {q.predicate_type} {q.operation or ''} {q.predicate_definition}".replace(
                "  ", " "
            )
            for p, q in items
        )
        ref = str(items[0][0].source_ref)  # the (first) policy on the table: the findings' place
        base = {"table_schema": self.ident(schema), "table_name": self.ident(table), "original": original,
                "enable": any(p.enabled for p, _ in items)}  # fmt: skip
        try:
            policies = [spec for p, q in items for spec in self._specs(p, q, f"{schema}.{table}")]
        except Untranslatable as exc:
            reason = f"{schema}.{table}: {exc}; original predicate(s): {original}"
            finding = make_finding(
                RULES["GB320"], reason, securable=f"{schema}.{table}", source_ref=ref
            )
            return RlsTranslation(**base, faithful=False, finding=reason, findings=(finding,))
        if not any(s.permissive for s in policies):
            policies.insert(
                0,
                PgPolicySpec(
                    name=f"{self.ident(items[0][0].name)}_permit",
                    command="ALL",
                    using="true",
                    with_check="true",
                ),
            )
        note = make_finding(
            RULES["GB321"], f"{schema}.{table}: {original}", securable=f"{schema}.{table}",
            source_ref=ref,
        )  # fmt: skip
        return RlsTranslation(**base, policies=tuple(policies), faithful=True, findings=(note,))

    def _specs(
        self, policy: SecurityPolicy, predicate: SecurityPredicate, table: str
    ) -> Iterator[PgPolicySpec]:
        expr = self.translate(predicate.predicate_definition, table)
        name = self.ident(policy.name)
        if predicate.predicate_type == "FILTER":
            yield PgPolicySpec(name=f"{name}_filter", command="ALL", using=expr, with_check="true")
            return
        operations = [predicate.operation] if predicate.operation else list(BLOCK_MAPPING)
        for operation in operations:
            command, clause = BLOCK_MAPPING[operation]
            suffix = operation.lower().replace(" ", "_")
            # AFTER UPDATE checks new rows only: the existing rows stay reachable (USING true)
            using = expr if clause == "using" else ("true" if command == "UPDATE" else None)
            check = expr if clause == "with_check" else None
            yield PgPolicySpec(
                name=f"{name}_block_{suffix}",
                command=command,
                permissive=False,
                using=using,
                with_check=check,
            )

    def translate(self, definition: str, table: str) -> str:
        """The PostgreSQL boolean expression of one predicate application."""
        function, arguments = _predicate_call(definition)
        body, parameters = self._function_body(function)
        if len(parameters) != len(arguments):
            raise Untranslatable(
                f"{function} takes {plural(len(parameters), 'argument')}, given {len(arguments)}"
            )
        columns = dict(zip(parameters, arguments, strict=True))
        where = body.transform(lambda node: self._substitute(node, columns, table))
        _check_safe(where)
        return where.sql(dialect="postgres")

    def _function_body(self, function: str) -> tuple[exp.Expr, list[str]]:
        schema, _, name = function.rpartition(".")
        key = f"object:{fold(schema or 'dbo')}.{fold(name)}"
        obj = next((o for o in self.database.objects if o.key == key), None)
        if obj is None or not obj.definition:
            raise Untranslatable(
                f"the definition of predicate function {function} is not in the snapshot"
            )
        tree = _parse(obj.definition)
        select = tree.find(exp.Select)
        where = select.args.get("where") if select else None
        if where is None or not isinstance(tree.this, exp.UserDefinedFunction):
            raise Untranslatable(f"{function} is not an inline function RETURN SELECT … WHERE …")
        parameters = [
            fold(c.this.name) for c in tree.this.expressions if isinstance(c, exp.ColumnDef)
        ]
        return where.this, parameters

    def _substitute(self, node: exp.Expr, columns: Mapping[str, str], table: str) -> exp.Expr:
        if isinstance(node, exp.Parameter) and fold(node.name) in columns:
            return exp.column(_identifier(self.ident(columns[fold(node.name)])))
        if isinstance(node, exp.National):
            return exp.Literal.string(node.name)
        if isinstance(node, exp.EQ | exp.NEQ):
            return self._comparison(node, f"{table}.", columns)
        if isinstance(node, exp.Anonymous):
            handler = SECURITY_FUNCTIONS.get(node.name.upper())
            if handler is None:
                raise Untranslatable(f"function {node.name} has no faithful PostgreSQL equivalent")
            return handler(self, node)
        return node

    def _comparison(
        self, node: exp.EQ | exp.NEQ, prefix: str, columns: Mapping[str, str]
    ) -> exp.Expr:
        left, right = node.this, node.expression
        # IS_MEMBER(…) = 1 → pg_has_role(…); = 0 → NOT pg_has_role(…)
        for call, value in ((left, right), (right, left)):
            if (
                isinstance(call, exp.Anonymous)
                and call.name.upper() in MEMBERSHIP_FUNCTIONS
                and isinstance(value, exp.Literal)
            ):
                test = _membership(self, call)
                positive = (value.name == "1") == isinstance(node, exp.EQ)
                return test if positive else exp.Not(this=test)
        # USER_NAME() = 'bob' → current_user = '<mapped role of bob>'
        for call, value in ((left, right), (right, left)):
            if _is_user_function(call) and (
                isinstance(value, exp.National)
                or (isinstance(value, exp.Literal) and value.is_string)
            ):
                mapped = exp.Literal.string(self.role_name(value.name))
                return node.__class__(this=exp.CurrentUser(), expression=mapped)
        for call, value in ((left, right), (right, left)):
            if _is_session_context(call) and not isinstance(call.parent, exp.Cast):
                column = columns.get(fold(value.name)) if isinstance(value, exp.Parameter) else None
                cast = self.types.get(fold(prefix + column)) if column else None
                if cast is None:
                    raise Untranslatable(
                        "SESSION_CONTEXT is compared without a cast and the column type is unknown"
                    )
                call.replace(
                    exp.Cast(this=call.copy(), to=exp.DataType.build(cast, dialect="postgres"))
                )
        return node


BLOCK_MAPPING: dict[str, tuple[Command, Literal["using", "with_check"]]] = {
    "AFTER INSERT": ("INSERT", "with_check"),
    "AFTER UPDATE": ("UPDATE", "with_check"),
    "BEFORE UPDATE": ("UPDATE", "using"),
    "BEFORE DELETE": ("DELETE", "using"),
}

MEMBERSHIP_FUNCTIONS = frozenset({"IS_MEMBER", "IS_ROLEMEMBER"})
USER_FUNCTIONS = frozenset({"USER_NAME", "SUSER_SNAME", "SUSER_NAME"})
_SETTING_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def _session_context(context: _Context, node: exp.Anonymous) -> exp.Expr:
    """SESSION_CONTEXT(N'TenantId') → NULLIF(current_setting('app.tenantid', true), '')."""
    key = node.expressions[0] if len(node.expressions) == 1 else None
    if not isinstance(key, exp.Literal | exp.National) or not _SETTING_KEY.match(key.name):
        raise Untranslatable("SESSION_CONTEXT key must be a constant identifier")
    setting = exp.Anonymous(
        this="current_setting",
        expressions=[exp.Literal.string(f"app.{key.name.lower()}"), exp.true()],
    )
    # a custom setting once set and RESET reads '' rather than NULL: NULLIF keeps "unset" NULL
    return exp.Nullif(this=setting, expression=exp.Literal.string(""))


def _user_name(context: _Context, node: exp.Anonymous) -> exp.Expr:
    if node.expressions:
        raise Untranslatable(f"{node.name}(id) with an argument has no equivalent")
    return exp.CurrentUser()


def _membership(context: _Context, node: exp.Anonymous) -> exp.Expr:
    role = node.expressions[0] if len(node.expressions) == 1 else None
    if not isinstance(role, exp.Literal | exp.National):
        raise Untranslatable(f"{node.name} needs one constant role name")
    mapped = exp.Literal.string(context.role_name(role.name))
    return exp.Anonymous(
        this="pg_has_role", expressions=[exp.CurrentUser(), mapped, exp.Literal.string("MEMBER")]
    )


def _bare_membership(context: _Context, node: exp.Anonymous) -> exp.Expr:
    raise Untranslatable(f"{node.name} is used as a number, not compared with 1 or 0")


SECURITY_FUNCTIONS: dict[str, Callable[[_Context, exp.Anonymous], exp.Expr]] = {
    "SESSION_CONTEXT": _session_context,
    "USER_NAME": _user_name,
    "SUSER_SNAME": _user_name,
    "SUSER_NAME": _user_name,
    "IS_MEMBER": _bare_membership,
    "IS_ROLEMEMBER": _bare_membership,
    # already translated (transform visits the replacements too)
    "CURRENT_SETTING": lambda _c, node: node,
    "PG_HAS_ROLE": lambda _c, node: node,
}

#: Expression nodes whose PostgreSQL rendering means the same as the T-SQL one.
SAFE_NODES: tuple[type[exp.Expr], ...] = (
    exp.Column, exp.Identifier, exp.Literal, exp.Boolean, exp.Null, exp.EQ, exp.NEQ, exp.GT,
    exp.GTE, exp.LT, exp.LTE, exp.And, exp.Or, exp.Not, exp.Paren, exp.In, exp.Is, exp.Cast,
    exp.DataType, exp.DataTypeParam, exp.CurrentUser, exp.Between, exp.Tuple, exp.Coalesce,
    exp.Upper, exp.Lower, exp.Anonymous, exp.Var, exp.Nullif,
)  # fmt: skip


def _check_safe(tree: exp.Expr) -> None:
    for node in tree.walk():
        if not isinstance(node, SAFE_NODES):
            raise Untranslatable(
                f"unsupported construct {type(node).__name__}: {node.sql(dialect='tsql')}"
            )


def _is_user_function(node: exp.Expr) -> bool:
    return isinstance(node, exp.CurrentUser) or (
        isinstance(node, exp.Anonymous) and node.name.upper() in USER_FUNCTIONS
    )


def _is_session_context(node: exp.Expr) -> bool:
    names = {"current_setting", "session_context"}
    return isinstance(node, exp.Anonymous) and node.name.lower() in names


def _identifier(name: str) -> exp.Identifier:
    return exp.to_identifier(name, quoted=not re.match(r"^[a-z_][a-z0-9_]*$", name))


def _parse(text: str) -> exp.Expr:
    try:
        return sqlglot.parse_one(text, read="tsql")
    except SqlglotError as exc:
        raise Untranslatable(f"cannot parse: {str(exc).splitlines()[0]}") from None


def _predicate_call(definition: str) -> tuple[str, list[str]]:
    """``([Security].[fn]([TenantId]))`` → ("Security.fn", ["TenantId"])."""
    tree = _parse(definition)
    while isinstance(tree, exp.Paren):
        tree = tree.this
    schema = ""
    if isinstance(tree, exp.Dot):
        schema, tree = f"{tree.this.name}.", tree.expression
    if not isinstance(tree, exp.Anonymous) or not all(
        isinstance(a, exp.Column) for a in tree.expressions
    ):
        raise Untranslatable(f"predicate is not a function applied to columns: {definition}")
    return f"{schema}{tree.name}", [a.name for a in tree.expressions]
