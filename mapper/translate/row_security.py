"""Row-level security in the plan: SQL Server security policies → PostgreSQL policies.

The predicates are translated by :mod:`mapper.rls`; this module places them on the plan's tables
(by their PostgreSQL names), records the types of the predicate columns (read from the
predicate functions' parameters, so ``verify`` can build stub tables that accept the policies)
and disposes every policy fact (:mod:`mapper.translate.security_facts`). Split out of
:mod:`mapper.translate.security`, which runs it for each database.
"""

from __future__ import annotations

import sqlglot
from sqlglot import exp
from sqlglot.errors import SqlglotError

from mapper import rls
from mapper.naming import object_name
from mapper.plan import PgColumnType, PgPolicy, PgRowSecurity
from mapper.translate import security_facts
from mapper.translate.objects import pg_object
from mapper.translate.state import PlanState, fact_key
from mssql_extract.snapshot import Database, DbObject, SecurityPolicy, fold


def plan_row_security(
    state: PlanState, db: Database, row_security: dict[str, PgRowSecurity]
) -> None:
    """Each table's security policies, translated where the predicate allows (else a finding)."""
    naming = state.policy.naming

    def role_name(principal: str) -> str:
        return state.role_of(db.name, principal) or object_name(principal, naming)

    outcomes = []
    for translation in rls.translate_policies(
        db, role_name=role_name, ident=lambda n: object_name(n, naming)
    ):
        source = _table(state, db, translation)
        table = pg_object(state, db, source) if source else None
        action = "Policies emitted (ENABLE and FORCE ROW LEVEL SECURITY)."
        if not translation.faithful or table is None:
            action = "No policy emitted for this table: translate the predicate by hand."
        found = tuple(state.finding(spec.to_finding(action)) for spec in translation.findings)
        row_key = None
        if translation.faithful and table is not None and source is not None:
            row = PgRowSecurity(
                database=table.database, schema_name=table.schema_name, table_name=table.name,
                enable=translation.enable, force=translation.force,
                policies=tuple(PgPolicy(**p.model_dump()) for p in translation.policies),
                column_types=_column_types(state, db, source), facts=_policy_facts(db, source),
            )  # fmt: skip
            row_security[row.key] = row
            row_key = row.key
        outcomes.append(security_facts.table_rls(naming, db, translation, row_key, found))
    security_facts.dispose_policies(state, db, outcomes)


def _table(state: PlanState, db: Database, translation: rls.RlsTranslation) -> DbObject | None:
    """The source table of a translation (rls names it by its PostgreSQL names)."""
    naming = state.policy.naming
    wanted = (translation.table_schema, translation.table_name)
    return next(
        (o for o in db.objects
         if (object_name(o.schema_name, naming), object_name(o.name, naming)) == wanted),
        None,
    )  # fmt: skip


def _policy_facts(db: Database, table: DbObject) -> tuple[str, ...]:
    return tuple(
        sorted({fact_key(db.name, p.key) for p in db.security_policies if _targets(p, table)})
    )


def _targets(policy: SecurityPolicy, table: DbObject) -> bool:
    return any(
        fold(q.target_schema) == fold(table.schema_name)
        and fold(q.target_table) == fold(table.name)
        for q in policy.predicates
    )


def _column_types(state: PlanState, db: Database, table: DbObject) -> tuple[PgColumnType, ...]:
    """Types of the predicate columns, from the predicate functions' parameter types."""
    found: dict[str, str] = {}
    for policy in db.security_policies:
        for predicate in policy.predicates:
            if fold(predicate.target_table) == fold(table.name):
                found |= _parameter_types(state, db, predicate.predicate_definition)
    return tuple(PgColumnType(name=n, data_type=t) for n, t in sorted(found.items()))


def _parameter_types(state: PlanState, db: Database, definition: str) -> dict[str, str]:
    try:
        call = sqlglot.parse_one(definition, read="tsql")
        while isinstance(call, exp.Paren):
            call = call.this
        schema, function = (
            (call.this.name, call.expression) if isinstance(call, exp.Dot) else ("dbo", call)
        )
        obj = state.find_object(db, schema, function.name)
        tree = sqlglot.parse_one(obj.definition, read="tsql") if obj and obj.definition else None
    except SqlglotError:
        return {}
    if tree is None or not isinstance(tree.this, exp.UserDefinedFunction):
        return {}
    kinds = [c.args.get("kind") for c in tree.this.expressions if isinstance(c, exp.ColumnDef)]
    naming = state.policy.naming
    return {
        object_name(column.name, naming): kind.sql(dialect="postgres").lower()
        for column, kind in zip(function.expressions, kinds, strict=False)
        if isinstance(column, exp.Column) and kind is not None
    }
