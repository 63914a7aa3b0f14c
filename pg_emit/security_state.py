"""Read back and compare what ``07_security.sql`` sets: SECURITY DEFINER, pinned search_path,
security_invoker views, row-level security switches and policies.

Read with one set-based query each (``pg_proc.prosecdef`` / ``proconfig``, the views'
``pg_class.reloptions``, ``pg_class.relrowsecurity`` / ``relforcerowsecurity``,
``pg_policies``) into the plan's own model, then compared both ways with the plan within its
scope (the plan's tables, views and routines of the database): a planned setting that is absent
is ``missing``, a SECURITY DEFINER routine, a security_invoker view, an RLS switch or a policy
the plan does not have is ``extra``.

Policy expressions are compared by *presence* (USING, WITH CHECK), with the command, the
PERMISSIVE / RESTRICTIVE kind and the roles, never by text: PostgreSQL stores a normalised
deparse of the expression (``amount >= 0`` comes back as ``(amount >= (0)::numeric)``).
The plan's policies name no roles, so they apply to ``public``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import psycopg

from mapper.plan import MigrationPlan, PgPolicy, PgRoutineSecurity, PgRowSecurity, PgViewSecurity
from mapper.quoting import quote_ident
from pg_emit.compare import Mismatch

_USER_NS = "n.nspname !~ '^pg_' AND n.nspname <> 'information_schema'"

ROUTINES_SQL = f"""
SELECT n.nspname, p.proname, CASE p.prokind WHEN 'p' THEN 'procedure' ELSE 'function' END,
       '(' || oidvectortypes(p.proargtypes) || ')', pg_get_userbyid(p.proowner), p.prosecdef,
       (SELECT substr(c, length('search_path=') + 1) FROM unnest(p.proconfig) AS c
        WHERE c LIKE 'search_path=%')
FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace
WHERE p.prokind IN ('f', 'p') AND {_USER_NS}
"""

#: Views that check their caller's privileges: ``security_invoker`` set to a true value
#: (PostgreSQL reads booleans as true, yes, on, 1 and their unique prefixes). Before
#: PostgreSQL 15 no view has the option, and none is found.
VIEWS_SQL = f"""
SELECT n.nspname, c.relname
FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind = 'v' AND {_USER_NS}
  AND EXISTS (SELECT FROM unnest(c.reloptions) AS o
              WHERE lower(o) ~ '^security_invoker=(t|tr|tru|true|y|ye|yes|on|1)$')
"""

#: Tables with RLS switched on or with policies; the policies as a JSON array per table.
TABLES_SQL = f"""
SELECT n.nspname, c.relname, c.relrowsecurity, c.relforcerowsecurity,
       coalesce((SELECT jsonb_agg(jsonb_build_array(p.policyname, p.cmd, p.permissive,
                                                    p.roles, p.qual, p.with_check)
                                  ORDER BY p.policyname)
                 FROM pg_catalog.pg_policies p
                 WHERE p.schemaname = n.nspname AND p.tablename = c.relname), '[]'::jsonb)
FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p') AND {_USER_NS}
  AND (c.relrowsecurity OR c.relforcerowsecurity
       OR EXISTS (SELECT FROM pg_catalog.pg_policy p WHERE p.polrelid = c.oid))
"""

#: The roles a policy without ``TO`` applies to, as pg_policies shows them.
DEFAULT_POLICY_ROLES = ("public",)


def read_security(
    conn: psycopg.Connection[Any],
) -> tuple[
    list[PgRoutineSecurity], list[PgRowSecurity], dict[tuple[str, str, str], tuple[str, ...]]
]:
    """The connected database's routine and row-level security in the plan's model.

    Returns:
        Every user routine (``security_definer`` = prosecdef, ``search_path`` = the pinned
        value, unsplit, as a one-element tuple), every table with RLS switched on or with
        policies, and the roles of each policy keyed by (schema, table, policy).
    """
    db = str(conn.execute("SELECT current_database()").fetchone()[0])  # type: ignore[index]
    routines = [
        PgRoutineSecurity(database=db, schema_name=s, name=n, kind=k, signature=sig, owner=o,
                          security_definer=definer, search_path=(path,) if path else ())
        for s, n, k, sig, o, definer, path in conn.execute(ROUTINES_SQL).fetchall()
    ]  # fmt: skip
    tables, roles = [], {}
    for schema, table, enable, force, policies in conn.execute(TABLES_SQL).fetchall():
        items = []
        for name, cmd, permissive, policy_roles, qual, check in policies:
            items.append(PgPolicy(name=name, command=cmd, permissive=permissive == "PERMISSIVE",
                                  using=qual, with_check=check))  # fmt: skip
            roles[schema, table, name] = tuple(sorted(policy_roles))
        tables.append(PgRowSecurity(database=db, schema_name=schema, table_name=table,
                                    enable=enable, force=force, policies=tuple(items)))  # fmt: skip
    return routines, tables, roles


def read_views(conn: psycopg.Connection[Any]) -> list[PgViewSecurity]:
    """The connected database's security_invoker views in the plan's model."""
    db = str(conn.execute("SELECT current_database()").fetchone()[0])  # type: ignore[index]
    return [
        PgViewSecurity(database=db, schema_name=schema, name=name)
        for schema, name in conn.execute(VIEWS_SQL).fetchall()
    ]


def routine_subject(routine: PgRoutineSecurity) -> str:
    """A routine's mismatch subject: ``PROCEDURE schema.name(sig)``."""
    return f"{routine.kind.upper()} {routine.schema_name}.{routine.name}{routine.signature or ''}"


def view_subject(view: PgViewSecurity) -> str:
    """A view's mismatch subject: ``VIEW schema.name``."""
    return f"VIEW {view.schema_name}.{view.name}"


#: The row-level security switches, as a table's mismatch subjects name them.
SWITCHES = ("ENABLE ROW LEVEL SECURITY", "FORCE ROW LEVEL SECURITY")


def table_subjects(row: PgRowSecurity) -> list[str]:
    """A table's mismatch subjects: ``TABLE s.t <switch>`` and ``POLICY p ON s.t``."""
    table = f"{row.schema_name}.{row.table_name}"
    return [f"TABLE {table} {s}" for s in SWITCHES] + [
        f"POLICY {p.name} ON {table}" for p in row.policies
    ]


def _view_facts(views: list[PgViewSecurity]) -> dict[str, str]:
    """``VIEW schema.name`` → ``security_invoker`` for the views that check their caller."""
    return {view_subject(v): "security_invoker" for v in views if v.security_invoker}


def _routine_facts(routines: list[PgRoutineSecurity]) -> dict[str, str]:
    """``kind schema.name(sig)`` → ``SECURITY DEFINER, search_path=…`` for definer routines."""
    return {
        routine_subject(r): "SECURITY DEFINER"
        + (f", search_path={r.search_path[0]}" if r.search_path else "")
        for r in routines
        if r.security_definer
    }


def _planned_routines(plan: MigrationPlan, database: str) -> list[PgRoutineSecurity]:
    """Planned definer routines, search_path rendered the way PostgreSQL stores it."""
    return [
        r.model_copy(update={"search_path": (", ".join(quote_ident(p) for p in r.search_path),)
                             if r.search_path else ()})
        for r in plan.routine_security if r.database == database and r.security_definer
    ]  # fmt: skip


def _policy_text(policy: PgPolicy, roles: tuple[str, ...]) -> str:
    kind = "PERMISSIVE" if policy.permissive else "RESTRICTIVE"
    parts = [f"{kind} FOR {policy.command} TO {', '.join(roles)}"]
    parts += [label for label, on in (("USING", policy.using), ("WITH CHECK", policy.with_check))
              if on]  # fmt: skip
    return " ".join(parts)


def _table_facts(
    rows: list[PgRowSecurity], roles: dict[tuple[str, str, str], tuple[str, ...]]
) -> dict[str, str]:
    """``TABLE s.t`` / ``POLICY p ON s.t`` → what is set (switches, policy shape)."""
    facts = {}
    for row in rows:
        table = f"{row.schema_name}.{row.table_name}"
        for switch, on in zip(SWITCHES, (row.enable, row.force), strict=True):
            if on:
                facts[f"TABLE {table} {switch}"] = switch
        for policy in row.policies:
            who = roles.get((row.schema_name, row.table_name, policy.name), DEFAULT_POLICY_ROLES)
            facts[f"POLICY {policy.name} ON {table}"] = _policy_text(policy, who)
    return facts


def _diff(
    kind: str, database: str, wanted: dict[str, str], actual: dict[str, str]
) -> list[Mismatch]:
    result = []
    for subject in sorted(wanted.keys() | actual.keys()):
        if subject not in actual:
            result.append(Mismatch(kind, database, subject, "missing", wanted[subject]))
        elif subject not in wanted:
            result.append(Mismatch(kind, database, subject, "extra", actual[subject]))
        elif wanted[subject] != actual[subject]:
            detail = f"planned {wanted[subject]}, found {actual[subject]}"
            result.append(Mismatch(kind, database, subject, "different", detail))
    return result


def compare_security(
    plan: MigrationPlan, conn: psycopg.Connection[Any], database: str
) -> list[Mismatch]:
    """Routine, view and row-level security of ``database``, both ways, within the plan's
    scope."""
    routines, rows, roles = read_security(conn)
    objects = {(o.schema_name, o.name) for o in plan.objects if o.database == database}
    objects |= {(r.schema_name, r.name) for r in plan.routine_security if r.database == database}
    objects |= {(v.schema_name, v.name) for v in plan.view_security if v.database == database}
    objects |= {(r.schema_name, r.table_name) for r in plan.row_security if r.database == database}
    live_routines = [r for r in routines if (r.schema_name, r.name) in objects]
    live_views = [v for v in read_views(conn) if (v.schema_name, v.name) in objects]
    live_rows = [r for r in rows if (r.schema_name, r.table_name) in objects]
    planned_views = [v for v in plan.view_security if v.database == database]
    planned_rows = [r for r in plan.row_security if r.database == database]
    return (
        _diff(
            "routine",
            database,
            _routine_facts(_planned_routines(plan, database)),
            _routine_facts(live_routines),
        )
        + _diff("view", database, _view_facts(planned_views), _view_facts(live_views))
        + _diff(
            "row_security", database, _table_facts(planned_rows, {}), _table_facts(live_rows, roles)
        )
    )


def to_restore(plan: MigrationPlan, database: str, found: Iterable[Mismatch]) -> MigrationPlan:
    """``plan`` with only the routines, views and tables of ``database`` whose 07 settings
    ``found`` says are missing or different: what ``drift`` renders 07's statements for. An
    ``extra`` setting (one the plan does not have) is not among them."""
    wrong = {(m.kind, m.subject) for m in found if m.database == database and m.status != "extra"}
    return plan.model_copy(update={
        "routine_security": tuple(r for r in plan.routine_security if r.database == database
                                  and ("routine", routine_subject(r)) in wrong),
        "view_security": tuple(v for v in plan.view_security if v.database == database
                               and ("view", view_subject(v)) in wrong),
        "row_security": tuple(r for r in plan.row_security if r.database == database
                              and any(("row_security", s) in wrong for s in table_subjects(r))),
    })  # fmt: skip
