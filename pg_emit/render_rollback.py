"""``rollback.sql``: return the server to its state before the apply.

What the scripts did, undone in reverse:

1. per database: undo 07 first — on each table, from the record 07 wrote into its comment,
   drop the plan's policies (``DROP POLICY IF EXISTS``), recreate the policies of the same
   names 07 replaced, and set the row-level security switches and the comment back; put each
   routine 07 changed back as it was, from its own record (``SECURITY INVOKER`` or
   ``DEFINER``, its own ``search_path`` or none, its comment); a table or routine without that
   record is left as it is (a policy named like the plan's on it is not the plan's: 07 records
   before it creates one), and a missing one is skipped; give each view 07 made
   ``security_invoker`` the option it had (or none), from its record the same way; give
   PUBLIC back the defaults 06
   revoked, from the record 06 wrote into the database's comment before its first revoke
   (:data:`hardening.HARDENING_MARK`), only what PUBLIC held before the apply: CONNECT and
   TEMPORARY on the database, EXECUTE on a routine, USAGE on a type, CREATE on schema
   ``public`` (grouped GRANTs), and EXECUTE on routines a role creates later (``ALTER DEFAULT
   PRIVILEGES FOR ROLE … GRANT EXECUTE ON FUNCTIONS TO PUBLIC``, when the role still exists);
   then the comment goes back as it was (without the record nothing is given back); revoke
   from PUBLIC what 04 granted it on a database, schema, routine or type only where PUBLIC
   lacked it before the apply, from the record 04 wrote below 06's
   (:data:`hardening.GRANTED_MARK`): what PUBLIC held already, by PostgreSQL's default or a
   DBA's grant, it keeps (without the record nothing is revoked from it); revoke the default
   privileges and the other grants of 04/05, PUBLIC's on tables and the like too (inside one
   guarded block: skipped when a role they name no longer exists, which makes a second run
   harmless); drop the schemas 03 *created* (marked by a comment) when they are empty; for
   every role 01 *created* (marked by a comment), ``REASSIGN OWNED BY … TO CURRENT_USER`` and
   ``DROP OWNED BY …``, after making a non-superuser (the RDS master user) a member of the
   role: both need its privileges;
2. cluster-wide, last: revoke the plan's memberships, drop the roles 01 created, and (an aurora
   or rds plan's rollback; a postgresql plan's 01 makes none) drop the RDS stand-ins
   grantbridge created when nothing is a member of them any more.

Roles that existed before the apply are never dropped: only roles carrying the
``grantbridge: created`` comment are. Ownership the plan moved goes to the user that runs the
rollback (normally the one that created the objects). That is a documented limit: the
previous owner of a pre-existing object is not recorded. PUBLIC's privileges on databases,
schemas, routines and types are recorded: what a DBA had revoked from PUBLIC before the apply
stays revoked after the rollback, and what PUBLIC held stays held, whether 06 revoked it or 04
granted it again.

PostgreSQL never turns an ACL back into NULL (the built-in default): where an object had NULL
before, rollback leaves the same privileges spelled out. ``acldefault()`` is PostgreSQL's own
definition of what NULL means, so comparisons read ``coalesce(acl, acldefault(…))`` (as
``inspect`` does) and find the state before.
"""

from __future__ import annotations

from grantbridge.plural import plural
from mapper.plan import (
    MigrationPlan,
    PgMembership,
    PgRoutineSecurity,
    PgRowSecurity,
    PgViewSecurity,
)
from mapper.platforms import on_rds
from mapper.quoting import quote_ident, quote_literal, quote_qualified
from pg_emit import intent
from pg_emit import render_grants as grants
from pg_emit import render_hardening as hardening
from pg_emit.render_roles import CREATED_MARK
from pg_emit.render_rollback_public import public_back, public_grants_back
from pg_emit.render_security import (
    REPLACED_POLICIES,
    ROUTINE_MARK,
    TABLE_MARK,
    VIEW_MARK,
    routine_lookup,
    view_lookup,
)
from pg_emit.rollback_roles import (
    DISOWN_ACTIONS,
    DROP_ACTION,
    created_roles_loop,
    disown_notes,
    drop_standins,
    revoke_memberships,
    text_array,
)
from pg_emit.script import Section, Statement, do_block, dollar_quote


def _referenced_roles(
    plan: MigrationPlan, database: str, clauses: grants.PrivilegeClauses
) -> list[str]:
    names = set(clauses.grantees(database))
    for item in plan.default_privileges:
        if item.database == database:
            names |= {item.owner, item.grantee}
    return sorted(names - {"PUBLIC"})


def _revoke_sql(
    plan: MigrationPlan, database: str, clauses: grants.PrivilegeClauses | None = None
) -> list[Statement]:
    """REVOKE what 04 and 05 granted: 04's own clauses (:class:`grants.PrivilegeClauses`), then
    the default privileges. PUBLIC's part of a clause 04's record covers is left out: what PUBLIC
    lacked of it before the apply is revoked from the record (:func:`pg_emit.render_rollback_public.public_grants_back`)."""
    statements = []
    for grant_option, group in (clauses or grants.PrivilegeClauses(plan)).of(database):
        for clause in group:
            if not grant_option and hardening.recorded_for_public(clause):
                others = clause.without("PUBLIC")
                if others is None:
                    continue
                clause = others
            statements.append(clause.statement("REVOKE"))
    for item in sorted(plan.default_privileges, key=lambda d: d.key):
        if item.database != database:
            continue
        in_schema = f" IN SCHEMA {quote_ident(item.schema_name)}" if item.schema_name else ""
        statements.append(
            Statement(
                f"ALTER DEFAULT PRIVILEGES FOR ROLE {quote_ident(item.owner)}{in_schema} REVOKE "
                f"{item.privilege.upper()} ON {item.object_type} FROM "
                f"{grants.grantees_sql([item.grantee])}"
            )
        )
    return statements


def guarded_revokes(
    plan: MigrationPlan, database: str, clauses: grants.PrivilegeClauses | None = None
) -> Statement | None:
    """One DO block running every REVOKE of the database when all roles it names exist."""
    clauses = clauses or grants.PrivilegeClauses(plan)
    statements = _revoke_sql(plan, database, clauses)
    if not statements:
        return None
    roles = _referenced_roles(plan, database, clauses)
    body = [
        f"IF (SELECT count(*) FROM pg_catalog.pg_roles WHERE rolname = ANY ({text_array(roles)}))"
        f" = {len(roles)} THEN"
    ]
    for statement in statements:
        body.append(f"  EXECUTE {quote_literal(statement.sql)};")
    body.append("END IF;")
    notes = ("revoke what 04_privileges.sql and 05_default_privileges.sql granted",)
    return Statement(do_block(body), notes)


def _drop_created_schemas(plan: MigrationPlan, database: str) -> Statement | None:
    names = sorted(s.name for s in plan.schemas if s.database == database)
    if not names:
        return None
    body = [
        f"FOREACH s IN ARRAY {text_array(names)} LOOP",
        "  IF EXISTS (SELECT FROM pg_catalog.pg_namespace n WHERE n.nspname = s",
        f"      AND obj_description(n.oid, 'pg_namespace') LIKE {quote_literal(CREATED_MARK + '%')}) THEN",
        "    BEGIN",
        "      EXECUTE format('DROP SCHEMA %I', s);",
        "    EXCEPTION WHEN dependent_objects_still_exist THEN",
        "      RAISE NOTICE 'schema % is not empty: kept', s;",
        "    END;",
        "  END IF;",
        "END LOOP;",
    ]
    sql = "DO $grantbridge$\nDECLARE s text;\n" + do_block(body)[len("DO $grantbridge$\n") :]
    return Statement(sql, ("drop the schemas 03_ownership.sql created, when they are empty",))


def _restore_recorded(
    lookup: str,
    catalog: str,
    keyword: str,
    mark: str,
    restore: list[str],
    note: str,
    variables: tuple[str, ...] = (),
) -> Statement:
    """The undo of :func:`pg_emit.render_security._record_before`: a DO block that, when the
    object's comment starts with ``mark``, runs ``restore`` (PL/pgSQL lines, which read the
    record's line as ``recorded``, the object as ``target`` and may use the ``variables``
    declared for them) and gives the object back the comment it had. A missing object is
    skipped; an object without the record keeps its state, so a second run changes nothing."""
    cast = {"pg_proc": "regprocedure", "pg_class": "regclass"}[catalog]
    body = [
        "DECLARE",
        f"  obj oid := {lookup};",
        f"  remark text := obj_description(obj, '{catalog}');",
        "  recorded text := split_part(remark, E'\\n', 1);",
        f"  target text := obj::{cast}::text;",
        *(f"  {variable};" for variable in variables),
        "BEGIN",
        "  IF obj IS NULL THEN",
        "    RETURN;",
        "  END IF;",
        f"  IF remark LIKE {quote_literal(mark + '%')} THEN",
        *(f"    {line}" for line in restore),
        f"    EXECUTE format('COMMENT ON {keyword} %s IS %L', target,",
        "                   nullif(substr(remark, length(recorded) + 2), ''));",
        "  END IF;",
        "END",
    ]
    return Statement("DO " + dollar_quote("\n".join(body)), (note,))


def _undo_row_security(row: PgRowSecurity) -> Statement:
    """Drop the plan's policies, recreate those 07 replaced, then put the table's switches back
    as 07 recorded them."""
    table = quote_qualified(row.schema_name, row.table_name)
    # the plan's policies first, in reverse creation order, then the ones they replaced, then the
    # table's own switches; the record's line reads "grantbridge: row-level security set;
    # before: <switches>[; replaced policies: <JSON array>]", so its second part is the switches
    drops = [f"DROP POLICY IF EXISTS {quote_ident(p.name)} ON {table}" for p in row.policies[::-1]]
    switches = "split_part(recorded, '; ', 2)"
    restore = [
        *(f"EXECUTE {quote_literal(drop)};" for drop in drops),
        "FOR policy IN SELECT json_array_elements_text(",
        f"    substring(recorded FROM {quote_literal(REPLACED_POLICIES + '(.*)$')})::json) LOOP",
        "  EXECUTE policy;  -- a CREATE POLICY statement 07 recorded",
        "END LOOP;",
        "EXECUTE format('ALTER TABLE %s %s ROW LEVEL SECURITY, %s ROW LEVEL SECURITY', target,",
        f"               CASE WHEN {switches} LIKE 'before: enabled,%' THEN 'ENABLE' ELSE 'DISABLE' END,",
        f"               CASE WHEN {switches} LIKE '%, forced' THEN 'FORCE' ELSE 'NO FORCE' END);",
    ]
    note = f"undo 07_security.sql on {row.schema_name}.{row.table_name}: policies, RLS switches"
    lookup = f"to_regclass({quote_literal(table)})"
    return _restore_recorded(
        lookup, "pg_class", "TABLE", TABLE_MARK, restore, note, variables=("policy text",)
    )


def _undo_routine(routine: PgRoutineSecurity) -> Statement:
    """Put the routine back as 07 recorded it: INVOKER or DEFINER, its search_path or none."""
    path = "substring(recorded FROM '; search_path=(.*)$')"
    restore = [
        "IF recorded LIKE '%; before: SECURITY INVOKER;%' THEN",
        "  EXECUTE format('ALTER ROUTINE %s SECURITY INVOKER', target);",
        "END IF;",
        f"IF {path} IS NULL THEN",
        "  EXECUTE format('ALTER ROUTINE %s RESET search_path', target);",
        "ELSE",
        f"  EXECUTE format('ALTER ROUTINE %s SET search_path = %s', target, {path});",
        "END IF;",
    ]
    note = f"undo 07_security.sql: {routine.schema_name}.{routine.name} runs as it did before"
    lookup = routine_lookup(routine)
    return _restore_recorded(lookup, "pg_proc", "ROUTINE", ROUTINE_MARK, restore, note)


def _undo_view(view: PgViewSecurity) -> Statement:
    """Put the view's security_invoker back as 07 recorded it: the option it had, or none."""
    # only a word after "=": the record is text in a comment the view's owner may change
    before = (
        f"substring(recorded FROM {quote_literal('; before: (security_invoker=[A-Za-z0-9]+)$')})"
    )
    restore = [
        f"IF {before} IS NULL THEN",
        "  EXECUTE format('ALTER VIEW %s RESET (security_invoker)', target);",
        "ELSE",
        f"  EXECUTE format('ALTER VIEW %s SET (%s)', target, {before});",
        "END IF;",
    ]
    note = f"undo 07_security.sql: {view.schema_name}.{view.name} checks privileges as before"
    return _restore_recorded(view_lookup(view), "pg_class", "VIEW", VIEW_MARK, restore, note)


def security_rollback(plan: MigrationPlan, database: str) -> list[Statement]:
    """Undo 07 in one database, in reverse apply order (row-level security, views, routines)."""
    rows = [r for r in plan.row_security if r.database == database]
    views = [v for v in plan.view_security if v.database == database and v.security_invoker]
    routines = [r for r in plan.routine_security if r.database == database and r.security_definer]
    return (
        [_undo_row_security(r) for r in rows[::-1]]
        + [_undo_view(v) for v in views[::-1]]
        + [_undo_routine(r) for r in routines[::-1]]
    )


def database_rollback(
    plan: MigrationPlan,
    database: str,
    clauses: grants.PrivilegeClauses | None = None,
    dropped: tuple[str, ...] | None = None,
) -> list[Statement]:
    """Undo 07, then 03-06, in one database (``clauses``: 04's, ``dropped``: the roles
    :func:`intent.dropped_roles` gives, when already worked out)."""
    clauses = clauses or grants.PrivilegeClauses(plan)
    statements = security_rollback(plan, database) + public_back(plan, database)
    statements += public_grants_back(hardening.public_grant_clauses(clauses, database))
    revokes = guarded_revokes(plan, database, clauses)
    for optional in (revokes, _drop_created_schemas(plan, database)):
        if optional is not None:
            statements.append(optional)
    dropped = intent.dropped_roles(plan) if dropped is None else dropped
    if dropped:
        statements.append(created_roles_loop(dropped, DISOWN_ACTIONS, *disown_notes(plan.target)))
    return statements


def _cluster_rollback(
    plan: MigrationPlan, shared: frozenset[str], dropped: tuple[str, ...],
    memberships: tuple[PgMembership, ...],
) -> list[Statement]:  # fmt: skip
    # on a part of a per-database plan, a shared role's membership in a role the part does
    # not drop (a server role's, rds_iam) is every part's: left, as the role is
    dropping = set(dropped)
    pairs = [
        (m.role, m.member)
        for m in memberships
        if not (m.member in shared and m.role not in dropping)
    ]
    statements = revoke_memberships(pairs)
    if dropped:
        notes = ["drop the roles 01_roles.sql created (never a role that existed before)"]
        if shared:
            notes += [
                f"(one part of a per-database plan of {plan.part_of} databases: the "
                f"{plural(len(shared), 'role')} made of logins and",
                "server roles, which every part has, are left: the rollback.sql beside "
                "parts.json drops them once every part is rolled back)",
            ]
        statements.append(created_roles_loop(dropped, (DROP_ACTION,), *notes))
    if on_rds(plan.target):  # a postgresql plan's 01 makes no stand-ins
        statements.append(drop_standins())
    return statements


def rollback_sections(
    plan: MigrationPlan,
    databases: list[str],
    clauses: grants.PrivilegeClauses | None = None,
    memberships: tuple[PgMembership, ...] | None = None,
) -> tuple[Section, ...]:
    """Per-database sections first, the cluster-wide one last (``memberships``: those of
    :func:`intent.memberships`, when already worked out).

    The roles dropped and shared are worked out once here, not once per database and again
    for the cluster: each reads every role's facts (13,493 roles in a bench scale L part).
    """
    shared = intent.shared_roles(plan)
    dropped = intent.dropped_roles(plan, shared)
    sections = [
        Section(db, tuple(database_rollback(plan, db, clauses, dropped))) for db in databases
    ]
    if memberships is None:
        memberships = intent.memberships(plan)
    sections.append(Section(None, tuple(_cluster_rollback(plan, shared, dropped, memberships))))
    return tuple(sections)
