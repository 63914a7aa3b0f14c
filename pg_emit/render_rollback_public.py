"""Rollback's part about PUBLIC: give back what 06 revoked from it, take back what 04 granted it,
each from the record the script wrote into the database's comment before its first change
(:data:`pg_emit.render_hardening.HARDENING_MARK`, :data:`pg_emit.render_hardening.GRANTED_MARK`),
so that PUBLIC ends with what it held before the apply: what a DBA had revoked stays revoked,
what PUBLIC held stays held. Split out of :mod:`pg_emit.render_rollback`, whose docstring tells
the whole order.
"""

from __future__ import annotations

from mapper.plan import MigrationPlan, PgDefaultRevoke, PgRevoke
from mapper.quoting import quote_ident, quote_literal
from pg_emit import render_grants as grants
from pg_emit import render_hardening as hardening
from pg_emit.script import Statement, dollar_quote


def _privileges_back(revokes: list[PgRevoke]) -> list[str]:
    """PL/pgSQL: GRANT to PUBLIC each revoked privilege the record does not name, one statement
    per privilege and kind of object (as 06 grouped its revokes)."""
    rows = ",\n                     ".join(
        "(" + ", ".join(quote_literal(text) for text in hardening.revoke_clause(r)) + ")"
        for r in revokes
    )
    return [
        "FOR clause IN",
        "  SELECT i.privilege, i.keyword,",
        "         string_agg(i.target, ', ' ORDER BY i.target COLLATE \"C\") AS targets",
        f"    FROM (VALUES {rows})",
        "         AS i (privilege, keyword, target)",
        f"   WHERE NOT (lacked -> 'privileges') ? ({hardening.LABEL_SQL})",
        "   GROUP BY i.privilege, i.keyword",
        "   ORDER BY i.keyword, i.privilege",
        "LOOP",
        "  EXECUTE format('GRANT %s ON %s %s TO PUBLIC', clause.privilege, clause.keyword,",
        "                 clause.targets);",
        "END LOOP;",
    ]


def _future_routines_back(items: list[PgDefaultRevoke]) -> list[str]:
    """PL/pgSQL: give each role back PUBLIC's default EXECUTE unless the record names it, or the
    role is gone."""
    lines = []
    for item in items:
        lines += [
            f"IF to_regrole({quote_literal(quote_ident(item.owner))}) IS NOT NULL",
            f"    AND NOT (lacked -> 'future_routines_of') ? {quote_literal(item.owner)} THEN",
            f"  EXECUTE {quote_literal(grants.default_revoke_sql(item, undo=True))};",
            "END IF;",
        ]
    return lines


def public_back(plan: MigrationPlan, database: str) -> list[Statement]:
    """Undo 06 from the record it wrote into the database's comment
    (:func:`hardening.record_public_defaults`): give PUBLIC back what 06 revoked except what the
    record says PUBLIC lacked before, then give the database back its comment. Without the
    record (06 never committed here, or a rollback ran already) nothing is given back, so a
    second run cannot undo a DBA's own revoke the first one kept."""
    revokes = [r for r in plan.revokes if r.database == database]
    default_revokes = [d for d in plan.default_revokes if d.database == database]
    if not (revokes or default_revokes):
        return []
    restore = _privileges_back(revokes) if revokes else []
    restore += _future_routines_back(default_revokes)
    body = [
        "DECLARE",
        *hardening.record_variables(),
        "  recorded text := split_part(remark, E'\\n', 1);",
        "  lacked jsonb;  -- what PUBLIC lacked before 06: it gets none of it back",
        *(["  clause record;"] if revokes else []),
        "BEGIN",
        "  IF remark LIKE mark || '%' THEN",
        "    lacked := substr(recorded, length(mark) + 1)::jsonb;",
        *(f"    {line}" for line in restore),
        "    EXECUTE format('COMMENT ON DATABASE %I IS %L', current_database(),",
        "                   nullif(substr(remark, length(recorded) + 2), ''));",
        "  END IF;",
        "END",
    ]
    note = "give PUBLIC back what 06_hardening.sql revoked, where PUBLIC had it before"
    return [Statement("DO " + dollar_quote("\n".join(body)), (note,))]


def public_grants_back(clauses: list[grants.Clause]) -> list[Statement]:
    """Undo 04's grants to PUBLIC from the record 04 wrote into the database's comment
    (:func:`hardening.record_public_grants`, below 06's record, which :func:`public_back` took
    away already): revoke from PUBLIC what the record says it lacked before, on the objects
    that still exist, then give the database back its comment. Without the record (04 never
    committed here, or a rollback ran already) PUBLIC keeps what it has."""
    if not clauses:
        return []
    source, _ = hardening.granted_rows(clauses, " " * len("        FROM "))
    body = [
        "DECLARE",
        *hardening.record_variables(hardening.GRANTED_MARK),
        *hardening.BELOW_HARDENING,
        "  recorded text := split_part(rest, E'\\n', 1);",
        "  lacked jsonb;  -- what PUBLIC lacked before 04: it keeps none of it",
        "  clause record;",
        "BEGIN",
        "  IF rest LIKE mark || '%' THEN",
        "    lacked := substr(recorded, length(mark) + 1)::jsonb;",
        "    FOR clause IN",
        "      SELECT i.privilege, i.keyword,",
        "             string_agg(i.target, ', ' ORDER BY i.target COLLATE \"C\") AS targets",
        f"        FROM {source}",
        "             AS i (privilege, keyword, target, obj)",
        f"       WHERE i.obj IS NOT NULL AND (lacked -> 'privileges') ? ({hardening.LABEL_SQL})",
        "       GROUP BY i.privilege, i.keyword",
        "       ORDER BY i.keyword, i.privilege",
        "    LOOP",
        "      EXECUTE format('REVOKE %s ON %s %s FROM PUBLIC', clause.privilege, clause.keyword,",
        "                     clause.targets);",
        "    END LOOP;",
        "    EXECUTE format('COMMENT ON DATABASE %I IS %L', current_database(), nullif(concat_ws(",
        "                   E'\\n', head, nullif(substr(rest, length(recorded) + 2), '')), ''));",
        "  END IF;",
        "END",
    ]
    note = "revoke from PUBLIC what 04_privileges.sql granted it, where PUBLIC lacked it before"
    return [Statement("DO " + dollar_quote("\n".join(body)), (note,))]
