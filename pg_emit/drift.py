"""``drift``: a live target against its plan → a delta script that brings it back.

Additive by default: GRANT what is missing (roles, memberships, ACL entries, default ACLs),
give roles the planned LOGIN and attributes they lack, put planned owners back, and re-apply
the plan's own REVOKEs (they are part of the plan). ``--authoritative`` also REVOKEs what is
extra within the plan's scope (see ``compare``) and takes away a LOGIN or an attribute the plan
does not give (NOLOGIN, NOSUPERUSER, …).

``07_security.sql``'s settings (SECURITY DEFINER routines, security_invoker views, row-level
security) are compared as ``verify`` compares them, and the delta restores those missing or
different with 07's own statements for that routine, view or table
(:func:`pg_emit.render_security.security_statements`): ``ALTER FUNCTION | PROCEDURE …
SECURITY DEFINER`` and ``SET search_path``, ``ALTER VIEW … SET (security_invoker = true)``
(after 07's check for PostgreSQL 15), ``ENABLE`` / ``FORCE ROW LEVEL SECURITY`` and each policy
dropped if present and created again, each after 07's record of the state before (written once:
a record 07 left already stands, so ``rollback.sql`` still restores what was there before
grantbridge). A view set back to run with its owner's privileges gives its callers what SQL
Server checked against them, so drift must say so and put it back. A setting the plan does not
have (an extra SECURITY DEFINER routine, security_invoker view, switch or policy) is reported
only, even with ``--authoritative``: undoing one may widen access (a policy dropped, row-level
security disabled), which is a person's decision.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from mapper.plan import MigrationPlan, PgDefaultPrivilege, PgGrant
from mapper.quoting import quote_ident
from mapper.target import bind_signatures
from pg_emit import intent
from pg_emit import render_grants as grants
from pg_emit.compare import (
    ROLE_ATTRIBUTES,
    Mismatch,
    RoleChange,
    acl_facts,
    attribute_name,
    compare_cluster,
    compare_database,
    in_order,
    intended_grants,
    role_changes,
    scope,
)
from pg_emit.inspect import session_role
from pg_emit.preflight_missing import refuse_absent_databases
from pg_emit.render import ownership_statements
from pg_emit.render_roles import roles_sections
from pg_emit.render_security import security_statements
from pg_emit.script import Script, Section, Statement, facts_note
from pg_emit.security_state import compare_security, to_restore
from pg_emit.server import connect
from pg_emit.verify import live_state, only_database


def _acl_statements(
    plan: MigrationPlan, live: MigrationPlan, database: str, authoritative: bool
) -> list[Statement]:
    """REVOKE what is extra, then GRANT what is missing and what those REVOKEs take away.

    The REVOKEs come first and the GRANTs after them, so that one run converges: a REVOKE
    takes the grant option with the privilege (a planned grant held with an extra grant option
    is revoked whole, then granted again), and a REVOKE on a whole table takes the privilege
    on each of its columns too (PostgreSQL's REVOKE: "the corresponding column privileges
    (if any) are automatically revoked on each column of the table").
    """
    wanted = {k: g for k, g in acl_facts(intended_grants(plan)).items() if k[0] == database}
    in_scope = scope(plan)
    actual = {k: g for k, g in acl_facts(live.grants).items()
              if k[0] == database and (database, grants_securable(g)) in in_scope}  # fmt: skip
    revoked = set(acl_facts(intent.revokes_as_grants(plan)))
    extra = [
        actual[k] for k in sorted(actual.keys() - wanted.keys()) if authoritative or k in revoked
    ]
    stripped = {_revoke_key(g) for g in extra}
    missing = [g for k, g in sorted(wanted.items()) if k not in actual or _taken(g, stripped)]
    return _grants(plan, database, extra, "REVOKE") + _grants(plan, database, missing, "GRANT")


RevokeKey = tuple[str, str, str, str | None]


def _revoke_key(grant: PgGrant) -> RevokeKey:
    """What a REVOKE of this single-column (or whole-object: column ``None``) entry is about."""
    column = grant.columns[0] if grant.columns else None
    return (grants_securable(grant), grant.privilege, grant.grantee, column)


def _taken(grant: PgGrant, revoked: set[RevokeKey]) -> bool:
    """Whether REVOKEs of these keys take ``grant`` away: the same entry, whatever its grant
    option, or a column of a table whose privilege is revoked whole."""
    key = _revoke_key(grant)
    return key in revoked or (*key[:3], None) in revoked


def grants_securable(grant: PgGrant) -> str:
    path = ".".join(p for p in (grant.schema_name, grant.name) if p)
    return f"{grant.object_type} {path}{grant.signature or ''}"


def _grants(
    plan: MigrationPlan, database: str, items: Sequence[PgGrant], verb: str
) -> list[Statement]:
    items = [
        i.model_copy(update={"facts": (f"drift: {verb.lower()} {i.privilege} to {i.grantee}",)})
        for i in items
    ]
    result = []
    for option in (False, True):
        chosen = [i for i in items if i.grant_option == option]
        block = grants.grant_statements(plan, database, [i for i in chosen if not i.columns], verb)
        block += grants.column_statements([i for i in chosen if i.columns], verb)
        suffix = " WITH GRANT OPTION" if option and verb == "GRANT" else ""
        result += [Statement(s.sql + suffix, s.notes) for s in block]
    return result


def _default_statements(
    plan: MigrationPlan, live: MigrationPlan, database: str, authoritative: bool
) -> list[Statement]:
    def key(d: PgDefaultPrivilege) -> tuple[str, str | None, str, str, str]:
        return (d.owner, d.schema_name, d.object_type, d.privilege.upper(), d.grantee)

    roles = set(intent.created_roles(plan))
    wanted = {key(d) for d in plan.default_privileges if d.database == database}
    actual = {
        key(d) for d in live.default_privileges if d.database == database and d.owner in roles
    }
    changes = [("GRANT", "TO", k) for k in sorted(wanted - actual)]
    if authoritative:
        changes += [("REVOKE", "FROM", k) for k in sorted(actual - wanted)]
    result = []
    for verb, prep, (owner, schema, object_type, privilege, grantee) in changes:
        in_schema = f" IN SCHEMA {quote_ident(schema)}" if schema else ""
        sql = (f"ALTER DEFAULT PRIVILEGES FOR ROLE {quote_ident(owner)}{in_schema} {verb} "
               f"{privilege} ON {object_type} {prep} {grants.grantees_sql([grantee])}")  # fmt: skip
        result.append(Statement(sql, (f"drift: default privilege {verb.lower()}",)))
    return result


def _default_revoke_statements(
    plan: MigrationPlan, live: MigrationPlan, database: str, authoritative: bool
) -> list[Statement]:
    """Re-apply the plan's global default revokes from PUBLIC (authoritative: undo extra ones)."""
    roles = set(intent.created_roles(plan))
    wanted = {d.key: d for d in plan.default_revokes if d.database == database}
    actual = {d.key: d for d in live.default_revokes if d.database == database and d.owner in roles}
    changes = [(wanted[k], False) for k in sorted(wanted.keys() - actual.keys())]
    if authoritative:
        changes += [(actual[k], True) for k in sorted(actual.keys() - wanted.keys())]
    note = "drift: default privilege {}"
    return [
        Statement(grants.default_revoke_sql(item, undo=undo),
                  (note.format("grant" if undo else "revoke"),))
        for item, undo in changes
    ]  # fmt: skip


def _role_options(change: RoleChange, authoritative: bool) -> list[str]:
    """ALTER ROLE options towards the plan: the planned LOGIN and attributes the role lacks,
    and (authoritative) the defaults back for the ones it should not have. An extra attribute
    whose planned value is set anyway (another CONNECTION LIMIT) needs no undoing."""
    options = ["LOGIN"] if change.login else []
    options += sorted(change.missing)
    if authoritative:
        options += ["NOLOGIN"] if change.login is False else []
        planned = {attribute_name(a) for a in change.missing}
        options += sorted(ROLE_ATTRIBUTES[attribute_name(a)] for a in change.extra
                          if attribute_name(a) not in planned)  # fmt: skip
    return options


def _role_statements(
    plan: MigrationPlan, live: MigrationPlan, authoritative: bool, applier: str
) -> list[Statement]:
    """One ALTER ROLE per plan role whose LOGIN or attributes drifted (see ``role_changes``)."""
    result = []
    for change in role_changes(plan, live, applier):
        options = _role_options(change, authoritative)
        if options:
            note = f"drift: role {change.name}: {' '.join(options)}"
            result.append(Statement(f"ALTER ROLE {quote_ident(change.name)} {' '.join(options)}",
                                    (note,)))  # fmt: skip
    return result


def _cluster_statements(
    plan: MigrationPlan, live: MigrationPlan, authoritative: bool, applier: str
) -> list[Statement]:
    existing = {r.name for r in live.roles}
    missing_roles = plan.model_copy(
        update={"roles": tuple(r for r in plan.roles if r.name not in existing)}
    )
    statements = (
        list(roles_sections(missing_roles)[0].statements[1:]) if missing_roles.roles else []
    )
    statements += _role_statements(plan, live, authoritative, applier)
    wanted = {(m.role, m.member) for m in intent.memberships(plan)}
    actual = intent.live_memberships(plan, live, wanted)
    for role, member in sorted(wanted - actual):
        statements.append(Statement(f"GRANT {quote_ident(role)} TO {quote_ident(member)}",
                                    (facts_note([f"drift: missing membership {member} in {role}"]),)))  # fmt: skip
    if authoritative:
        for role, member in sorted(actual - wanted):
            statements.append(Statement(f"REVOKE {quote_ident(role)} FROM {quote_ident(member)}",
                                        ("drift: extra membership",)))  # fmt: skip
    return statements


def _database_statements(
    scoped: MigrationPlan, live: MigrationPlan, database: str, authoritative: bool,
    found: list[Mismatch],
) -> list[Statement]:  # fmt: skip
    """One database's part of the delta: owners (when one differs), ACLs, default ACLs, then
    07's settings that differ (as 07 runs after the privileges)."""
    owners = [s for s in ownership_statements(scoped, database) if not s.sql.startswith("DO ")]
    body = owners if any(m.kind == "owner" for m in found) else []
    body += _acl_statements(scoped, live, database, authoritative)
    body += _default_statements(scoped, live, database, authoritative)
    body += _default_revoke_statements(scoped, live, database, authoritative)
    return body + security_statements(to_restore(scoped, database, found), database)


def drift(
    plan: MigrationPlan, dsn: str, *, authoritative: bool = False,
    log: Callable[[str], None] = lambda _m: None,
) -> tuple[list[Mismatch], str]:  # fmt: skip
    """Compare the live target with the plan; return the mismatches and the delta script.

    Roles and memberships are the cluster's, the same from every database: they are read,
    compared and turned into statements with the first database only. ``log`` is called once
    per database, before it is read.
    """
    databases = sorted({d.name for d in plan.databases} | {g.database for g in plan.grants})
    # a database the server lacks is bad input (exit 2, worded as apply words it), not a
    # connection failure: asked through the plan's databases, never the DSN's own
    refuse_absent_databases(dsn, databases, "run drift", "compared", through_plan=True)
    mismatches: list[Mismatch] = []
    sections: list[Section] = []
    cluster: list[Statement] = []
    for index, database in enumerate(databases):
        log(f"drift {database}: read back, compare")
        with connect(dsn, database) as conn:
            live = live_state(conn, plan, roles=index == 0)
            applier = session_role(conn)
            bound = bind_signatures(plan, live.objects)
            security = compare_security(bound, conn, database)
        scoped = only_database(bound, database)
        found = compare_database(scoped, live) + security
        if index == 0:
            found += compare_cluster(scoped, live, applier)
            cluster = _cluster_statements(plan, live, authoritative, applier)
        mismatches += found
        body = _database_statements(scoped, live, database, authoritative, found)
        sections.append(Section(database, tuple(body)))
    sections.insert(0, Section(None, tuple(cluster)))
    mode = (
        "authoritative (extra grants revoked)"
        if authoritative
        else "additive (missing grants only)"
    )
    script = Script("drift.sql", f"delta from the live target back to the plan, {mode}",
                    plan.fingerprint, (), tuple(sections))  # fmt: skip
    return in_order(set(mismatches)), script.render()
