"""Routine security, row-level security and parameters: ``sql/07_security.sql``, ``parameters.json``
and the report's security section.

* Routines (``plan.routine_security``): ``ALTER FUNCTION | PROCEDURE … SECURITY DEFINER`` and
  ``SET search_path = pg_catalog, <schema>`` (a SECURITY DEFINER routine with a caller-controlled
  search_path can be hijacked: PostgreSQL docs, "Writing SECURITY DEFINER Functions Safely",
  https://www.postgresql.org/docs/current/sql-createfunction.html). The owner is set in 03,
  EXECUTE granted to the callers in 04 and revoked from PUBLIC in 06. Before changing a
  routine, 07 records what it was in the routine's comment (:data:`ROUTINE_MARK`, the existing
  comment kept after it), once: a conversion such as AWS SCT may already have made it SECURITY
  DEFINER with a search_path of its own, and ``rollback.sql`` restores exactly that.
  Row-level security switches are recorded the same way, in the table's comment
  (:data:`TABLE_MARK`), with every policy already on the table under the name of one of the
  plan's (a conversion or a manual attempt may have made it): 07 replaces that policy, and
  ``rollback.sql`` recreates it. Each is kept as the ``CREATE POLICY`` statement that rebuilds
  it (its kind, command, roles, USING and WITH CHECK, as PostgreSQL prints them), in a JSON
  array of strings: JSON escapes the newlines an expression may hold, so the record stays the
  comment's first line, and a reviewer reads the statements rollback will run. Limits: the
  policy's own comment is not recorded, and its expressions are printed with the names the
  apply's search_path requires, which rollback is expected to share.
* Views (``plan.view_security``): ``ALTER VIEW … SET (security_invoker = true)``, so that the
  view checks its caller's privileges on what it reads, not its owner's, as SQL Server does
  where the ownership chain is broken (:mod:`mapper.translate.module_security`). PostgreSQL 15
  added the option; on an older server 07 stops with an error saying so before it changes
  anything (:func:`_invoker_guard`): without it such a view would give every caller what its
  owner holds. What the option was before is recorded in the view's comment
  (:data:`VIEW_MARK`), and ``rollback.sql`` puts it back.
* Row-level security (``plan.row_security``): ``ENABLE`` and ``FORCE ROW LEVEL SECURITY``, then
  each policy as ``DROP POLICY IF EXISTS`` + ``CREATE POLICY`` in the same transaction, so a
  re-run replaces the policies instead of failing (CREATE POLICY has no IF NOT EXISTS).
* ``parameters.json``: the settings (canonical JSON) of the RDS / Aurora parameter group, or of
  a plain PostgreSQL's ``postgresql.conf`` (``mapper.audit.parameters``), explained in the report.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from mapper.plan import MigrationPlan, PgPolicy, PgRoutineSecurity, PgRowSecurity, PgViewSecurity
from mapper.platforms import on_rds
from mapper.quoting import quote_ident, quote_literal, quote_qualified, routine_keyword
from mapper.rls import REPORT_NOTE
from pg_emit import markdown as md
from pg_emit.script import Statement, dollar_quote, facts_note

#: Parameters that only take effect after a restart (pg_settings.context 'postmaster'); the
#: rest take effect on a configuration reload ('sighup', or 'superuser' / 'user' settings whose
#: postgresql.conf value new sessions read).
STATIC_PARAMETERS = frozenset({"shared_preload_libraries"})

#: ``apply_method`` of a (static, dynamic) parameter, per platform. RDS / Aurora's parameter
#: groups say ``pending-reboot`` / ``immediate`` (the ModifyDBParameterGroup ApplyMethod); plain
#: PostgreSQL restarts the server or reloads its configuration (``SELECT pg_reload_conf()``).
APPLY_METHODS: dict[bool, tuple[str, str]] = {
    True: ("pending-reboot", "immediate"),
    False: ("restart", "reload"),
}

#: Below the parameters table on plain PostgreSQL: what RDS / Aurora's hardening has and it lacks.
PLAIN_PARAMETERS_NOTE = (
    "Plain PostgreSQL has no setting that restricts password changes: any role can change its "
    "own password (ALTER ROLE … PASSWORD)."
)


#: The first line of a routine's comment once 07 changed it; the rest of that line says what
#: the routine was (``SECURITY INVOKER`` or ``DEFINER``; its ``search_path=…`` or none).
ROUTINE_MARK = "grantbridge: made SECURITY DEFINER; before: "


def routine_lookup(routine: PgRoutineSecurity) -> str:
    """SQL for the routine's oid, NULL when absent (by name alone when it has no signature)."""
    name = quote_qualified(routine.schema_name, routine.name) + (routine.signature or "")
    function = "to_regprocedure" if routine.signature else "to_regproc"
    return f"{function}({quote_literal(name)})"


def _record_before(
    lookup: str, catalog: str, keyword: str, mark: str, state: list[str], note: str
) -> Statement:
    """A DO block writing ``mark`` and the object's current ``state`` (text expressions over its
    ``pg_catalog.<catalog>`` row ``x``, one line each) into its comment, above the comment it
    had, unless 07 recorded it already (a second run keeps the first record). ``lookup`` gives
    the object's oid or NULL; for a missing object the statements after the record fail with
    PostgreSQL's own message."""
    cast = {"pg_proc": "regprocedure", "pg_class": "regclass"}[catalog]
    body = [
        "DECLARE",
        f"  obj oid := {lookup};",
        f"  remark text := obj_description(obj, '{catalog}');",
        "BEGIN",
        f"  IF obj IS NOT NULL AND coalesce(remark, '') NOT LIKE {quote_literal(mark + '%')} THEN",
        f"    SELECT {quote_literal(mark)}",
        *(f"           || {line}" for line in state),
        "           || coalesce(E'\\n' || remark, '')",
        f"      INTO remark FROM pg_catalog.{catalog} x WHERE x.oid = obj;",
        f"    EXECUTE format('COMMENT ON {keyword} %s IS %L', obj::{cast}, remark);",
        "  END IF;",
        "END",
    ]
    return Statement("DO " + dollar_quote("\n".join(body)), (note,))


def _record_routine(routine: PgRoutineSecurity) -> Statement:
    """Record how the routine runs now: SECURITY INVOKER / DEFINER, its search_path or none."""
    state = [
        "CASE WHEN x.prosecdef THEN 'SECURITY DEFINER' ELSE 'SECURITY INVOKER' END",
        "'; ' || coalesce((SELECT c FROM unnest(x.proconfig) c WHERE c LIKE 'search_path=%'),"
        " 'no search_path')",
    ]
    note = "record how the routine runs now (rollback.sql restores it)"
    return _record_before(routine_lookup(routine), "pg_proc", "ROUTINE", ROUTINE_MARK, state, note)


def _routine_statements(routine: PgRoutineSecurity) -> list[Statement]:
    kind = routine_keyword(routine.kind.upper(), routine.signature)
    target = f"{kind} {quote_qualified(routine.schema_name, routine.name)}"
    target += routine.signature or ""  # no signature: PostgreSQL finds it by its unique name
    notes = (facts_note(routine.facts), f"runs as {routine.owner}; callers: "
             + (", ".join(routine.callers) or "(none)"))  # fmt: skip
    path = ", ".join(quote_ident(p) for p in routine.search_path)
    statements = [_record_routine(routine), Statement(f"ALTER {target} SECURITY DEFINER", notes)]
    if routine.search_path:
        why = "pinned search_path: names never resolve through a schema the caller controls"
        statements.append(Statement(f"ALTER {target} SET search_path = {path}", (why,)))
    return statements


#: The first line of a view's comment once 07 set its security_invoker; the rest of the line
#: says what the option was (``security_invoker=…`` as in ``pg_class.reloptions``, or
#: ``security_invoker not set``).
VIEW_MARK = "grantbridge: set security_invoker; before: "

#: The server version that has security_invoker views (``server_version_num``).
INVOKER_VIEWS_SINCE = 150000


def view_lookup(view: PgViewSecurity) -> str:
    """SQL for the view's oid, NULL when absent."""
    return f"to_regclass({quote_literal(quote_qualified(view.schema_name, view.name))})"


def _invoker_guard(views: list[PgViewSecurity]) -> Statement:
    """Stop 07 on a server without security_invoker (before PostgreSQL 15): there such a view
    would read what its owner may, for every caller."""
    names = ", ".join(f"{v.schema_name}.{v.name}" for v in views[:3])
    names += f" and {len(views) - 3} more" if len(views) > 3 else ""
    message = (
        f"grantbridge: {'views' if len(views) > 1 else 'view'} {names} must check the caller's "
        "privileges (security_invoker), which needs PostgreSQL 15 or later; this server runs %"
    )
    body = [
        "BEGIN",
        f"  IF current_setting('server_version_num')::int < {INVOKER_VIEWS_SINCE} THEN",
        f"    RAISE EXCEPTION {quote_literal(message)}, current_setting('server_version');",
        "  END IF;",
        "END",
    ]
    note = "security_invoker views need PostgreSQL 15 or later: stop here on an older server"
    return Statement("DO " + dollar_quote("\n".join(body)), (note,))


def _view_statements(view: PgViewSecurity) -> list[Statement]:
    target = quote_qualified(view.schema_name, view.name)
    state = [
        "coalesce((SELECT o FROM unnest(x.reloptions) o WHERE o LIKE 'security_invoker=%'),"
        " 'security_invoker not set')"
    ]
    record = _record_before(
        view_lookup(view), "pg_class", "VIEW", VIEW_MARK, state,
        "record the view's security_invoker now (rollback.sql restores it)",
    )  # fmt: skip
    notes = (facts_note(view.facts), view.comment or "the ownership chain is broken")
    return [record, Statement(f"ALTER VIEW {target} SET (security_invoker = true)", notes)]


def _policy_sql(table: str, policy: PgPolicy) -> str:
    kind = "PERMISSIVE" if policy.permissive else "RESTRICTIVE"
    sql = f"CREATE POLICY {quote_ident(policy.name)} ON {table} AS {kind} FOR {policy.command}"
    sql += f" USING ({policy.using})" if policy.using else ""
    return sql + (f" WITH CHECK ({policy.with_check})" if policy.with_check else "")


#: The first line of a table's comment once 07 set its row-level security; the rest of the line
#: says what it was (``enabled`` / ``disabled``, ``forced`` / ``not forced``) and, when the table
#: had policies named like the plan's, :data:`REPLACED_POLICIES` and a JSON array of the
#: ``CREATE POLICY`` statements that rebuild them. JSON writes a newline in an expression as
#: ``\n``, so the record stays one line; above the comment the table had, it reads (the first
#: three lines here are one)::
#:
#:     grantbridge: row-level security set; before: disabled, not forced; replaced policies:
#:     ["CREATE POLICY tenant_filter ON sales.orders AS RESTRICTIVE FOR UPDATE TO legacy USING
#:     ((amount > (10)::numeric)) WITH CHECK ((note <> 'it''s\nline two'::text))"]
#:     orders (from MS_Description)
TABLE_MARK = "grantbridge: row-level security set; before: "

#: What precedes the JSON array of replaced policies on the record's line.
REPLACED_POLICIES = "; replaced policies: "


def _replaced_policies(row: PgRowSecurity) -> str:
    """SQL for :data:`REPLACED_POLICIES` and the JSON array of the ``CREATE POLICY`` statements
    that rebuild the table's policies named like the plan's (from ``pg_policies``, as
    PostgreSQL prints their expressions); empty when there are none."""
    names = ", ".join(quote_literal(p.name) for p in row.policies)
    return "\n".join([
        f"coalesce({quote_literal(REPLACED_POLICIES)} || (",
        "                SELECT to_json(array_agg(",
        "                         format('CREATE POLICY %I ON %I.%I AS %s FOR %s TO %s%s%s',",
        "                                p.policyname, p.schemaname, p.tablename, p.permissive, p.cmd,",
        "                                (SELECT string_agg(quote_ident(r), ', ') FROM unnest(p.roles) r),",
        "                                ' USING (' || p.qual || ')', ' WITH CHECK (' || p.with_check || ')')",
        "                         ORDER BY p.policyname))::text",
        "                FROM pg_catalog.pg_policies p",
        f"                WHERE p.schemaname = {quote_literal(row.schema_name)}"
        f" AND p.tablename = {quote_literal(row.table_name)}",
        f"                  AND p.policyname = ANY (ARRAY[{names}])), '')",
    ])  # fmt: skip


def _record_table(row: PgRowSecurity) -> Statement:
    """Record the table's row-level security now: its switches (enabled, forced) and the
    policies 07 is about to replace."""
    state = [
        "CASE WHEN x.relrowsecurity THEN 'enabled' ELSE 'disabled' END || ', '",
        "CASE WHEN x.relforcerowsecurity THEN 'forced' ELSE 'not forced' END",
    ]
    if row.policies:
        state.append(_replaced_policies(row))
    note = "record the table's row-level security now (rollback.sql restores it)"
    lookup = f"to_regclass({quote_literal(quote_qualified(row.schema_name, row.table_name))})"
    return _record_before(lookup, "pg_class", "TABLE", TABLE_MARK, state, note)


def _row_security_statements(row: PgRowSecurity) -> list[Statement]:
    table = quote_qualified(row.schema_name, row.table_name)
    mode = "ENABLE" if row.enable else "DISABLE"
    statements = [
        _record_table(row),
        Statement(f"ALTER TABLE {table} {mode} ROW LEVEL SECURITY", (facts_note(row.facts),)),
    ]
    if row.force:  # SQL Server applies security policies to the table owner too
        why = "FORCE: the table owner is filtered too, as SQL Server filters dbo"
        statements.append(Statement(f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY", (why,)))
    for policy in row.policies:
        drop = f"DROP POLICY IF EXISTS {quote_ident(policy.name)} ON {table}"
        statements.append(Statement(drop, (f"policy {policy.name}, replaced if present",)))
        statements.append(Statement(_policy_sql(table, policy), (f"policy {policy.name}",)))
    return statements


def security_statements(plan: MigrationPlan, database: str) -> list[Statement]:
    """07: SECURITY DEFINER routines, security_invoker views, then row-level security, for one
    database."""
    statements: list[Statement] = []
    for routine in plan.routine_security:
        if routine.database == database and routine.security_definer:
            statements += _routine_statements(routine)
    views = [v for v in plan.view_security if v.database == database and v.security_invoker]
    if views:
        statements.append(_invoker_guard(views))
    for view in views:
        statements += _view_statements(view)
    for row in plan.row_security:
        if row.database == database:
            statements += _row_security_statements(row)
    return statements


def render_parameters(plan: MigrationPlan) -> str:
    """``parameters.json``: the hardened settings, canonical (sorted, two-space indent), each
    with how it takes effect in the target's terms (:data:`APPLY_METHODS`)."""
    static, dynamic = APPLY_METHODS[on_rds(plan.target)]
    rows = [
        {"name": p.name, "value": p.value,
         "apply_method": static if p.name in STATIC_PARAMETERS else dynamic,
         "reason": p.reason}
        for p in plan.parameters
    ]  # fmt: skip
    return json.dumps({"parameters": rows}, indent=2, sort_keys=True) + "\n"


#: Rows of a table in the report's section; the rest are counted (at bench scale M, 6,282
#: security_invoker views made a 1 MB table no reviewer reads row by row).
TABLE_ROWS = 100


def _table(header: Sequence[str], rows: Sequence[Sequence[str]], field: str) -> list[str]:
    """The table's first :data:`TABLE_ROWS` rows, and a line counting the rest."""
    lines = md.table(header, rows[:TABLE_ROWS])
    if len(rows) > TABLE_ROWS:
        lines += [
            "",
            f"… and {len(rows) - TABLE_ROWS} more: plan.json's `{field}` lists every one.",
        ]
    return lines


def report_section(plan: MigrationPlan) -> list[str]:
    """The report's section on routines, row-level security, masking and parameters."""
    masking = [f for f in plan.findings if f.rule_id in {"GB330", "GB331"}]
    if not (plan.routine_security or plan.view_security or plan.row_security or plan.parameters
            or masking):  # fmt: skip
        return []
    lines = ["## Routines, views, row-level security, masking and parameters"]
    if plan.routine_security:
        rows = [(md.code(f"{r.database}:{r.schema_name}.{r.name}{r.signature or ''}"), md.code(r.owner),
                 md.text(", ".join(r.callers) or "(none)")) for r in plan.routine_security]  # fmt: skip
        lines += ["", "SECURITY DEFINER routines (search_path pinned, EXECUTE revoked from PUBLIC):",
                  "", *_table(("Routine", "Runs as", "Callers"), rows, "routine_security")]  # fmt: skip
    if plan.view_security:
        views = [(md.code(f"{v.database}:{v.schema_name}.{v.name}"), md.text(v.comment))
                 for v in plan.view_security]  # fmt: skip
        lines += ["", "Views that check their caller's privileges (security_invoker, PostgreSQL "
                  "15 or later), as SQL Server checks the caller where the ownership chain is "
                  "broken:", "", *_table(("View", "Why"), views, "view_security")]  # fmt: skip
    if plan.row_security:
        tables = [(md.code(f"{r.database}:{r.schema_name}.{r.table_name}"),
                   md.text(", ".join(p.name for p in r.policies))) for r in plan.row_security]  # fmt: skip
        lines += [
            "",
            md.text(REPORT_NOTE),
            "",
            *_table(("Table", "Policies"), tables, "row_security"),
        ]
    if masking:
        lines += ["", "Masked columns (PostgreSQL has no dynamic data masking):", ""]
        lines += [f"- {md.code(f.securable or '')}: {md.text(f.remediation)}" for f in masking]
    if plan.parameters:
        settings = [(md.code(p.name), md.code(p.value), md.text(p.reason)) for p in plan.parameters]
        rds = on_rds(plan.target)
        where = "Parameter group settings" if rds else "`postgresql.conf` settings"
        lines += ["", f"{where} (`parameters.json`):", "",
                  *md.table(("Parameter", "Value", "Why"), settings)]  # fmt: skip
        lines += [] if rds else ["", md.text(PLAIN_PARAMETERS_NOTE)]
    return lines
