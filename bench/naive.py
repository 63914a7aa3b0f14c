"""The naive baseline: one SQL statement per plan item, as a hand-written migration would do.

grantbridge's emitter groups grants (``ON ALL TABLES IN SCHEMA``, many objects and grantees per
statement); the benchmark compares its statement count and apply time with this rendering of
the same plan, where every expanded ``PgGrant`` is one ``GRANT``.
"""

from __future__ import annotations

from collections import defaultdict

from mapper.plan import MigrationPlan, PgDefaultPrivilege, PgGrant, PgObject, PgRevoke, RoleKind

#: Statements that run once per cluster (roles are global in PostgreSQL).
CLUSTER = ""

#: GRANT object type → the keyword PostgreSQL spells in ``ON <keyword> name``.
ON_KEYWORD = {
    "DATABASE": "DATABASE",
    "SCHEMA": "SCHEMA",
    "TABLE": "TABLE",
    "SEQUENCE": "SEQUENCE",
    "FUNCTION": "FUNCTION",
    "PROCEDURE": "PROCEDURE",
    "TYPE": "TYPE",
    "PARAMETER": "PARAMETER",
}
#: Object kind → the ALTER statement that changes its owner.
ALTER_KIND = {
    "table": "TABLE",
    "view": "VIEW",
    "sequence": "SEQUENCE",
    "function": "FUNCTION",
    "procedure": "PROCEDURE",
    "type": "TYPE",
}


def ident(name: str) -> str:
    """Double-quote a PostgreSQL identifier."""
    return '"' + name.replace('"', '""') + '"'


def _grantee(name: str) -> str:
    return "PUBLIC" if name == "PUBLIC" else ident(name)


def _target(item: PgGrant | PgRevoke) -> str:
    if item.object_type in ("DATABASE", "PARAMETER") or item.schema_name is None:
        path = ident(item.name)
    else:
        path = f"{ident(item.schema_name)}.{ident(item.name)}"
    return f"{ON_KEYWORD[item.object_type]} {path}{item.signature or ''}"


def render_grant(grant: PgGrant) -> str:
    """``GRANT privilege [(columns)] ON … TO grantee [WITH GRANT OPTION];``."""
    cols = f" ({', '.join(ident(c) for c in grant.columns)})" if grant.columns else ""
    option = " WITH GRANT OPTION" if grant.grant_option else ""
    return (
        f"GRANT {grant.privilege}{cols} ON {_target(grant)} TO {_grantee(grant.grantee)}{option};"
    )


def render_revoke(revoke: PgRevoke) -> str:
    """``REVOKE privilege ON … FROM grantee;``."""
    return f"REVOKE {revoke.privilege} ON {_target(revoke)} FROM {_grantee(revoke.grantee)};"


def render_default(item: PgDefaultPrivilege) -> str:
    """``ALTER DEFAULT PRIVILEGES FOR ROLE owner [IN SCHEMA s] GRANT … ON <type> TO grantee;``."""
    schema = f" IN SCHEMA {ident(item.schema_name)}" if item.schema_name else ""
    return (
        f"ALTER DEFAULT PRIVILEGES FOR ROLE {ident(item.owner)}{schema} GRANT {item.privilege} "
        f"ON {item.object_type} TO {_grantee(item.grantee)};"
    )


def _owner(obj: PgObject) -> str:
    name = f"{ident(obj.schema_name)}.{ident(obj.name)}{obj.signature or ''}"
    return f"ALTER {ALTER_KIND[obj.kind]} {name} OWNER TO {ident(obj.owner)};"


def _stand_in(name: str) -> str:
    literal = "'" + name.replace("'", "''") + "'"
    return (
        f"DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = {literal}) "
        f"THEN CREATE ROLE {ident(name)} NOLOGIN; END IF; END $$;"
    )


def render_naive(plan: MigrationPlan) -> dict[str, list[str]]:
    """Database name (``""`` for the cluster) → statements, one per plan item.

    Roles and memberships come first (cluster-wide), then per database: ownership of the
    database, its schemas and objects, grants, revokes, default privileges.
    """
    scripts: dict[str, list[str]] = defaultdict(list)
    cluster = scripts[CLUSTER]
    for role in plan.roles:
        if role.kind is RoleKind.PREDEFINED:  # rds_iam … exist on RDS only: a stand-in elsewhere
            cluster.append(_stand_in(role.name))
        else:
            attrs = "".join(f" {a}" for a in role.attributes)
            cluster.append(
                f"CREATE ROLE {ident(role.name)} {'LOGIN' if role.login else 'NOLOGIN'}{attrs};"
            )
    cluster.extend(f"GRANT {ident(m.role)} TO {ident(m.member)};" for m in plan.memberships)
    for db in plan.databases:
        scripts[db.name].append(f"ALTER DATABASE {ident(db.name)} OWNER TO {ident(db.owner)};")
    for schema in plan.schemas:
        scripts[schema.database].append(
            f"ALTER SCHEMA {ident(schema.name)} OWNER TO {ident(schema.owner)};"
        )
    for obj in plan.objects:
        scripts[obj.database].append(_owner(obj))
    for grant in plan.grants:
        scripts[grant.database].append(render_grant(grant))
    for revoke in plan.revokes:
        scripts[revoke.database].append(render_revoke(revoke))
    for default in plan.default_privileges:
        scripts[default.database].append(render_default(default))
    for item in plan.default_revokes:
        scripts[item.database].append(
            f"ALTER DEFAULT PRIVILEGES FOR ROLE {ident(item.owner)} REVOKE {item.privilege} "
            f"ON {item.object_type} FROM {_grantee(item.grantee)};"
        )
    return dict(scripts)


def count_naive(plan: MigrationPlan) -> int:
    """Statements in the naive rendering of ``plan``."""
    return sum(len(statements) for statements in render_naive(plan).values())
