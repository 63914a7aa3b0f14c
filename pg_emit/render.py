"""Render a :class:`MigrationPlan` into psql scripts (DESIGN §4): ``render_sql(plan)``.

Files, in apply order::

    sql/01_roles.sql              cluster-wide: RDS stand-ins (aurora, rds), then roles (created only if absent)
    sql/02_memberships.sql        cluster-wide: GRANT role TO member
    sql/03_ownership.sql          per database: database owner, schemas (created if absent), owners
    sql/04_privileges.sql         per database: GRANT … (grouped), after recording which of
                                  its grants to PUBLIC PUBLIC held already
    sql/05_default_privileges.sql per database: ALTER DEFAULT PRIVILEGES FOR ROLE owner …
    sql/06_hardening.sql          per database: REVOKE … FROM PUBLIC (PostgreSQL's defaults),
                                  also for routines created later (ALTER DEFAULT PRIVILEGES),
                                  after recording what PUBLIC lacked already
    sql/07_security.sql           per database: SECURITY DEFINER routines, security_invoker
                                  views, row-level security
    sql/rollback.sql              undo: revoke what the plan granted, drop what it created

Decisions, stated once:

* The scripts never create the target's tables, views or routines (the data migration does);
  they *do* create schemas, because a schema is a security container, and 03 is where its owner
  is set: creating it there (``CREATE SCHEMA IF NOT EXISTS … AUTHORIZATION owner``) keeps one
  place for "what owns what". A schema created by the script is marked by a comment so that
  ``rollback.sql`` can drop it again (only when empty).
* psql scripts: each section is ``\\connect db`` + ``BEGIN`` … ``COMMIT``, so a script that
  touches several databases runs one transaction per database (a transaction cannot span
  databases in PostgreSQL). Cluster-wide scripts (01, 02) are one transaction each.
* Idempotent: roles and schemas are created only if absent; GRANT, REVOKE, ALTER … OWNER and
  ALTER DEFAULT PRIVILEGES change nothing when already in effect.
* Applied by a superuser or by a non-superuser CREATEROLE CREATEDB owner of the databases (the
  RDS master user): 02 makes it a member of the owner roles (and of the other roles whose default
  privileges 06 changes), and 03 lends CREATE on a schema to
  an object owner that lacks it for as long as its ``ALTER … OWNER TO`` (see
  :func:`_owner_lent_create`); ``rollback.sql`` joins each role before emptying it.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable

from grantbridge.collector import collector_paused
from mapper.plan import MigrationPlan, PgObject, PgSchema
from mapper.quoting import comment, quote_ident, quote_literal
from pg_emit import intent
from pg_emit import render_grants as grants
from pg_emit import render_roles as roles
from pg_emit.render_hardening import (
    hardening_statements,
    public_grant_clauses,
    record_public_grants,
)
from pg_emit.render_rollback import rollback_sections
from pg_emit.render_security import security_statements
from pg_emit.script import (
    BATCH,
    Script,
    Section,
    Statement,
    after,
    do_block,
    dollar_quote,
    facts_note,
)

PSQL_NOTE = (
    'Run with psql: psql "$DSN" -f <file>, files in name order, or grantbridge apply.',
    f"A statement ending in \\; goes to the server with the ones after it ({BATCH} at a time).",
)


def _per_database(
    plan: MigrationPlan, build: Callable[[MigrationPlan, str], list[Statement]],
    databases: list[str],
) -> tuple[Section, ...]:  # fmt: skip
    return tuple(Section(db, tuple(build(plan, db))) for db in databases)


def _create_schema(schema: PgSchema, fingerprint: str) -> Statement:
    name = quote_ident(schema.name)
    mark = quote_literal(f"{roles.CREATED_MARK} by plan {fingerprint[:16]}")
    sql = do_block(
        [
            "IF NOT EXISTS (SELECT FROM pg_catalog.pg_namespace "
            f"WHERE nspname = {quote_literal(schema.name)}) THEN",
            f"  CREATE SCHEMA {name} AUTHORIZATION {quote_ident(schema.owner)};",
            f"  COMMENT ON SCHEMA {name} IS {mark};",
            "END IF;",
        ]
    )
    return Statement(sql, (facts_note(schema.facts), f"schema {schema.name}, created if absent"))


def ownership_statements(plan: MigrationPlan, database: str) -> list[Statement]:
    """03: the database's owner, its schemas (created if absent) and owners, object owners."""
    statements = []
    for db in plan.databases:
        if db.name == database:
            sql = f"ALTER DATABASE {quote_ident(db.name)} OWNER TO {quote_ident(db.owner)}"
            statements.append(Statement(sql, (facts_note(db.facts),)))
    for schema in plan.schemas:
        if schema.database == database:
            statements.append(_create_schema(schema, plan.fingerprint))
            sql = f"ALTER SCHEMA {quote_ident(schema.name)} OWNER TO {quote_ident(schema.owner)}"
            statements.append(Statement(sql, (facts_note(schema.facts),)))
    return statements + _object_owner_statements(plan, database)


def _object_owner_statements(plan: MigrationPlan, database: str) -> list[Statement]:
    """``ALTER … OWNER TO`` for the database's objects: those owned like their schema first,
    then one block per (schema, owner) for the others (see :func:`_owner_lent_create`)."""
    schema_owners = {s.name: s.owner for s in plan.schemas if s.database == database}
    statements: list[Statement] = []
    lent: dict[tuple[str, str], list[PgObject]] = defaultdict(list)
    for obj in plan.objects:
        if obj.database != database:
            continue
        if schema_owners.get(obj.schema_name) == obj.owner:
            statements.append(grants.ownership_statement(obj))
        else:
            lent[obj.schema_name, obj.owner].append(obj)
    for (schema, owner), objects in sorted(lent.items()):
        statements.append(_owner_lent_create(schema, owner, objects))
    return statements


def _owner_lent_create(schema: str, owner: str, objects: list[PgObject]) -> Statement:
    """Give ``objects`` of ``schema`` to ``owner``, lending it CREATE on the schema meanwhile.

    PostgreSQL lets a non-superuser (the RDS master user) give an object away only to a role
    that has CREATE on the object's schema (ALTER TABLE: "that role must have CREATE privilege
    on the table's schema"). An owner that is not the schema's owner may lack it: it gets
    CREATE for these statements and loses it again, so the plan's own grants (04, after this)
    decide whether it keeps CREATE. A role that holds CREATE already, or a superuser applying
    (exempt from the check), changes nothing.
    """
    role, name = quote_ident(owner), quote_ident(schema)
    lines = []
    for obj in objects:
        statement = grants.ownership_statement(obj)
        lines += [*(f"  {comment(note)}" for note in statement.notes), f"  {statement.sql};"]
    body = [
        "DECLARE",
        f"  lent boolean := NOT has_schema_privilege({quote_literal(owner)}, "
        f"{quote_literal(schema)}, 'CREATE')",
        "    AND NOT (SELECT rolsuper FROM pg_catalog.pg_roles WHERE rolname = current_user);",
        "BEGIN",
        "  IF lent THEN",
        f"    GRANT CREATE ON SCHEMA {name} TO {role};",
        "  END IF;",
        *lines,
        "  IF lent THEN",
        f"    REVOKE CREATE ON SCHEMA {name} FROM {role};",
        "  END IF;",
        "END",
    ]
    notes = (
        f"owner {owner} is not the owner of schema {schema}: a non-superuser may give it objects",
        "there only while it has CREATE on the schema, so it holds CREATE for these statements",
    )
    return Statement("DO " + dollar_quote("\n".join(body)), notes)


def default_privilege_statements(plan: MigrationPlan, database: str) -> list[Statement]:
    """05: ``ALTER DEFAULT PRIVILEGES FOR ROLE o IN SCHEMA s GRANT … ON TABLES TO …``."""
    Target = tuple[str, str, str]  # owner, schema ("" = every schema), object type
    privileges: dict[tuple[Target, str], set[str]] = defaultdict(set)
    facts: dict[tuple[Target, str], list[str]] = defaultdict(list)
    for item in plan.default_privileges:
        if item.database == database:
            target = (item.owner, item.schema_name or "", str(item.object_type))
            privileges[target, item.grantee].add(item.privilege.upper())
            facts[target, item.grantee].extend(item.facts)
    grouped: dict[tuple[Target, str], list[str]] = defaultdict(list)
    for (target, grantee), privs in privileges.items():
        grouped[target, grants.privileges_sql(privs)].append(grantee)
    statements = []
    for ((owner, schema, object_type), privilege_text), grantees in sorted(grouped.items()):
        in_schema = f" IN SCHEMA {quote_ident(schema)}" if schema else ""
        sql = (
            f"ALTER DEFAULT PRIVILEGES FOR ROLE {quote_ident(owner)}{in_schema} "
            f"GRANT {privilege_text} ON {object_type} " + after("TO", grants.grantees_sql(grantees))
        )
        # the facts of this statement's grantees only (a grantee's privileges on the target
        # are all in one statement)
        held = [f for g in grantees for f in facts[(owner, schema, object_type), g]]
        statements.append(Statement(sql, (facts_note(held),)))
    return statements


def build_scripts(plan: MigrationPlan) -> tuple[Script, ...]:
    """Every script of the plan, as structured :class:`Script` values, in apply order."""
    clauses = grants.PrivilegeClauses(plan)  # 04 grants them, rollback.sql revokes them
    # once: it reads every item of the plan (the grants' databases from the clauses' pass)
    fp, databases = plan.fingerprint, intent.script_databases(plan, clauses.databases())
    memberships = intent.memberships(plan)  # 02 grants them, rollback.sql revokes them

    def privileges(plan: MigrationPlan, database: str) -> list[Statement]:
        public = record_public_grants(public_grant_clauses(clauses, database))
        return public + grants.privileges_statements(plan, database, clauses)

    return (
        Script("01_roles.sql", "roles (cluster-wide)", fp, PSQL_NOTE, roles.roles_sections(plan)),
        Script("02_memberships.sql", "role memberships (cluster-wide)", fp, PSQL_NOTE,
               roles.membership_sections(plan, memberships)),
        Script("03_ownership.sql", "database, schema and object owners; schemas created if absent",
               fp, PSQL_NOTE, _per_database(plan, ownership_statements, databases)),
        Script("04_privileges.sql", "privileges", fp, PSQL_NOTE,
               _per_database(plan, privileges, databases)),
        Script("05_default_privileges.sql", "default privileges for future objects", fp,
               PSQL_NOTE, _per_database(plan, default_privilege_statements, databases)),
        Script("06_hardening.sql", "revoke PostgreSQL's PUBLIC defaults the plan does not want",
               fp, PSQL_NOTE, _per_database(plan, hardening_statements, databases)),
        Script("07_security.sql",
               "SECURITY DEFINER routines, security_invoker views and row-level security", fp,
               PSQL_NOTE, _per_database(plan, security_statements, databases)),
        Script("rollback.sql", "undo the apply: revoke what the plan granted, drop what it created",
               fp, PSQL_NOTE, rollback_sections(plan, databases, clauses, memberships)),
    )  # fmt: skip


def render_sql(plan: MigrationPlan) -> dict[str, str]:
    """Render the plan's scripts: ``{"sql/01_roles.sql": text, …}`` (deterministic).

    The cyclic collector is paused meanwhile (``grantbridge.collector``): rendering allocates
    millions of short strings and tuples beside a plan of millions of objects, and the
    collector's passes over that plan were a third of rendering's time at bench scale M.
    """
    with collector_paused():
        return {f"sql/{script.name}": script.render() for script in build_scripts(plan)}
