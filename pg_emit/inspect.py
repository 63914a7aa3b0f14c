"""Read a live PostgreSQL into the plan's own model (DESIGN §4 ``inspect``).

Roles, memberships, database / schema / object owners, ACLs expanded per privilege and grantee
(column ACLs included), default ACLs, global default revokes from PUBLIC and the sequences tables'
column defaults call, each read with one set-based catalog query per database. ``aclexplode``
over ``coalesce(acl, acldefault(…))`` gives the effective ACL even where the catalog stores NULL
(= the built-in default). An owner's own entries are left out: an owner's rights are implicit,
they are not grants.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import psycopg

from grantbridge.errors import InputError, Location
from mapper.plan import (
    MigrationPlan,
    PgDatabase,
    PgDefaultPrivilege,
    PgDefaultRevoke,
    PgGrant,
    PgMembership,
    PgObject,
    PgRole,
    PgSchema,
    RoleKind,
)  # fmt: skip
from pg_emit.server import connect

ROLES_SQL = """
SELECT rolname, rolname ~ '^pg_', rolcanlogin, rolsuper, rolcreatedb, rolcreaterole,
       rolreplication, rolbypassrls, NOT rolinherit,
       CASE WHEN rolconnlimit >= 0 THEN 'CONNECTION LIMIT ' || rolconnlimit END
FROM pg_catalog.pg_roles ORDER BY rolname
"""

#: Names come from ``pg_get_userbyid`` (a catalog-cache lookup) rather than joins with
#: ``pg_roles``: right after a script creates thousands of roles the catalogs' statistics are
#: stale, and the planner then chose nested loops that scanned every role once per membership
#: (230 s instead of 1 s for 24k roles). PostgreSQL 16+ keeps the inherit flag on the
#: membership (``inherit_option``); before 16 it is the member's ``rolinherit`` (NULL here,
#: filled in from :data:`INHERIT_SQL`).
MEMBERS_SQL = """
SELECT DISTINCT role, member, inherit FROM (
  SELECT pg_get_userbyid(a.roleid) AS role, pg_get_userbyid(a.member) AS member,
         (to_jsonb(a) ->> 'inherit_option')::boolean AS inherit
  FROM pg_catalog.pg_auth_members a
) edges
WHERE role !~ '^pg_' OR member !~ '^pg_'
"""
INHERIT_SQL = "SELECT rolname, rolinherit FROM pg_catalog.pg_roles"

_USER_NS = "n.nspname !~ '^pg_' AND n.nspname <> 'information_schema'"

OBJECTS_SQL = f"""
SELECT n.nspname, c.relname,
       CASE c.relkind WHEN 'S' THEN 'sequence' WHEN 'v' THEN 'view' WHEN 'm' THEN 'view'
            ELSE 'table' END, NULL::text, pg_get_userbyid(c.relowner),
       ARRAY(SELECT attname FROM pg_catalog.pg_attribute
             WHERE attrelid = c.oid AND attnum > 0 AND NOT attisdropped ORDER BY attnum)
FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f') AND {_USER_NS}
UNION ALL
SELECT n.nspname, p.proname, CASE p.prokind WHEN 'p' THEN 'procedure' ELSE 'function' END,
       '(' || oidvectortypes(p.proargtypes) || ')', pg_get_userbyid(p.proowner), ARRAY[]::name[]
FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace
WHERE p.prokind IN ('f', 'p') AND {_USER_NS}
UNION ALL
SELECT n.nspname, t.typname, 'type', NULL, pg_get_userbyid(t.typowner), ARRAY[]::name[]
FROM pg_catalog.pg_type t JOIN pg_catalog.pg_namespace n ON n.oid = t.typnamespace
WHERE (t.typtype IN ('e', 'd', 'r', 'm')
       OR (t.typtype = 'c' AND (SELECT relkind FROM pg_catalog.pg_class WHERE oid = t.typrelid) = 'c'))
  AND {_USER_NS}
"""

#: Per relation, the sequences its column defaults call: a default (pg_attrdef) that calls
#: ``nextval('s.seq'::regclass)`` depends on the sequence with deptype 'n'. Serial columns are
#: such defaults on their owned sequence; identity columns have no pg_attrdef row (their
#: sequence is an internal dependency, 'i', of the column) and need no privilege to insert.
DEFAULT_SEQUENCES_SQL = f"""
SELECT n.nspname, c.relname, array_agg(DISTINCT sn.nspname || '.' || s.relname)
FROM pg_catalog.pg_attrdef ad
JOIN pg_catalog.pg_class c ON c.oid = ad.adrelid
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
JOIN pg_catalog.pg_depend d ON d.classid = 'pg_catalog.pg_attrdef'::regclass AND d.objid = ad.oid
 AND d.refclassid = 'pg_catalog.pg_class'::regclass AND d.deptype = 'n'
JOIN pg_catalog.pg_class s ON s.oid = d.refobjid AND s.relkind = 'S'
JOIN pg_catalog.pg_namespace sn ON sn.oid = s.relnamespace
WHERE {_USER_NS}
GROUP BY n.nspname, c.relname
"""

#: One row per ACL entry: object type, schema, name, signature, column, privilege, grantee,
#: grantable. Grantee 0 is PUBLIC.
ACL_SQL = f"""
WITH acl AS (
  SELECT 'DATABASE' AS t, NULL::name AS s, d.datname AS n, NULL::text AS sig, NULL::name AS col,
         d.datdba AS owner, aclexplode(coalesce(d.datacl, acldefault('d', d.datdba))) AS a
  FROM pg_catalog.pg_database d WHERE d.datname = current_database()
  UNION ALL
  SELECT 'SCHEMA', NULL, n.nspname, NULL, NULL, n.nspowner,
         aclexplode(coalesce(n.nspacl, acldefault('n', n.nspowner)))
  FROM pg_catalog.pg_namespace n WHERE {_USER_NS}
  UNION ALL
  SELECT CASE c.relkind WHEN 'S' THEN 'SEQUENCE' ELSE 'TABLE' END, n.nspname, c.relname, NULL,
         NULL, c.relowner,
         aclexplode(coalesce(c.relacl, acldefault(CASE c.relkind WHEN 'S' THEN 's'::"char" ELSE 'r'::"char" END,
                                                  c.relowner)))
  FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
  WHERE c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f') AND {_USER_NS}
  UNION ALL
  SELECT 'TABLE', n.nspname, c.relname, NULL, att.attname, c.relowner, aclexplode(att.attacl)
  FROM pg_catalog.pg_attribute att JOIN pg_catalog.pg_class c ON c.oid = att.attrelid
  JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
  WHERE att.attacl IS NOT NULL AND att.attnum > 0 AND NOT att.attisdropped AND {_USER_NS}
  UNION ALL
  SELECT CASE p.prokind WHEN 'p' THEN 'PROCEDURE' ELSE 'FUNCTION' END, n.nspname, p.proname,
         '(' || oidvectortypes(p.proargtypes) || ')', NULL, p.proowner,
         aclexplode(coalesce(p.proacl, acldefault('f', p.proowner)))
  FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace
  WHERE p.prokind IN ('f', 'p') AND {_USER_NS}
  UNION ALL
  SELECT 'TYPE', n.nspname, t.typname, NULL, NULL, t.typowner,
         aclexplode(coalesce(t.typacl, acldefault('T', t.typowner)))
  FROM pg_catalog.pg_type t JOIN pg_catalog.pg_namespace n ON n.oid = t.typnamespace
  WHERE t.typtype IN ('e', 'd', 'r', 'm') AND {_USER_NS}
)
SELECT t, s, n, sig, col, (a).privilege_type,
       CASE WHEN (a).grantee = 0 THEN 'PUBLIC' ELSE pg_get_userbyid((a).grantee) END,
       (a).is_grantable
FROM acl WHERE (a).grantee <> owner
"""

#: PostgreSQL 15+ keeps GRANT SET / ALTER SYSTEM ON PARAMETER in the cluster-wide
#: pg_parameter_acl; parameters have no owner (the bootstrap superuser, oid 10, stands in).
PARAMETER_ACL_SQL = """
UNION ALL
SELECT 'PARAMETER', NULL, p.parname, NULL, NULL, 10::oid, aclexplode(p.paracl)
FROM pg_catalog.pg_parameter_acl p WHERE p.paracl IS NOT NULL
"""


def _acl_sql(conn: psycopg.Connection[Any]) -> bytes:
    """The ACL query, with parameter ACLs on servers that have them (PostgreSQL 15+)."""
    if conn.info.server_version < 150000:
        return ACL_SQL.encode()
    head, tail = ACL_SQL.split("\n)\nSELECT", 1)
    return (head + PARAMETER_ACL_SQL + ")\nSELECT" + tail).encode()


DEFAULT_ACL_SQL = """
SELECT pg_get_userbyid(d.defaclrole), n.nspname,
       CASE d.defaclobjtype WHEN 'r' THEN 'TABLES' WHEN 'S' THEN 'SEQUENCES'
            WHEN 'f' THEN 'FUNCTIONS' WHEN 'T' THEN 'TYPES' ELSE 'SCHEMAS' END,
       (a).privilege_type,
       CASE WHEN (a).grantee = 0 THEN 'PUBLIC' ELSE pg_get_userbyid((a).grantee) END
FROM (SELECT *, aclexplode(defaclacl) AS a FROM pg_catalog.pg_default_acl) d
LEFT JOIN pg_catalog.pg_namespace n ON n.oid = d.defaclnamespace
WHERE (a).grantee <> d.defaclrole
"""

#: Built-in defaults for PUBLIC taken away by a global ``ALTER DEFAULT PRIVILEGES … REVOKE``:
#: a pg_default_acl row with ``defaclnamespace = 0`` whose ACL lacks an entry PostgreSQL's
#: built-in default (``acldefault``) gives PUBLIC — EXECUTE on functions, USAGE on types.
DEFAULT_REVOKES_SQL = """
SELECT pg_get_userbyid(d.defaclrole),
       CASE d.defaclobjtype WHEN 'f' THEN 'FUNCTIONS' ELSE 'TYPES' END, b.privilege_type
FROM pg_catalog.pg_default_acl d,
     LATERAL aclexplode(acldefault(d.defaclobjtype, d.defaclrole)) b
WHERE d.defaclnamespace = 0 AND d.defaclobjtype IN ('f', 'T') AND b.grantee = 0
  AND NOT EXISTS (SELECT FROM aclexplode(d.defaclacl) a
                  WHERE a.grantee = 0 AND a.privilege_type = b.privilege_type)
"""

#: The attributes :data:`ROLES_SQL` reads after ``rolcanlogin``, in its column order: each
#: CREATE ROLE keyword a role can hold that is not PostgreSQL's default (NOSUPERUSER …
#: INHERIT, no connection limit), the ones a plan's roles may carry among them
#: (``pg_emit.compare.ROLE_ATTRIBUTES``). The connection limit comes as its own keyword.
_ATTRIBUTES = ("SUPERUSER", "CREATEDB", "CREATEROLE", "REPLICATION", "BYPASSRLS", "NOINHERIT")


def read_roles(
    conn: psycopg.Connection[Any],
) -> tuple[tuple[PgRole, ...], tuple[PgMembership, ...]]:
    """Every role and the memberships that involve a non-``pg_`` role.

    PostgreSQL's own ``pg_*`` roles (reserved prefix, ``CREATE ROLE pg_x`` is refused) come back
    with kind ``predefined``, so a plan's memberships in them can be checked against roles
    that exist; memberships among them are PostgreSQL's own and left out.
    """
    roles = []
    for name, builtin, login, *flags, limit in conn.execute(ROLES_SQL).fetchall():
        attributes = tuple(a for a, on in zip(_ATTRIBUTES, flags, strict=True) if on)
        attributes += (limit,) if limit else ()
        kind = RoleKind.PREDEFINED if builtin else RoleKind.LOGIN if login else RoleKind.GROUP
        roles.append(PgRole(name=name, kind=kind, login=login, attributes=attributes))
    inherits = dict(conn.execute(INHERIT_SQL).fetchall())
    members = {
        (role, member): PgMembership(
            role=role, member=member, inherit=inherits[member] if inherit is None else inherit
        )
        for role, member, inherit in conn.execute(MEMBERS_SQL).fetchall()
    }
    return tuple(roles), tuple(members[k] for k in sorted(members))


def session_role(conn: psycopg.Connection[Any]) -> str:
    """The role the connection logged in as (``session_user``, whatever ``SET ROLE`` says)."""
    row = conn.execute("SELECT session_user").fetchone()
    assert row is not None
    return str(row[0])


def read_database(conn: psycopg.Connection[Any]) -> dict[str, list[Any]]:
    """The current database's owner, schemas, objects, ACL entries and default ACLs."""
    database = conn.execute(
        "SELECT current_database(), pg_get_userbyid(datdba) FROM pg_catalog.pg_database "
        "WHERE datname = current_database()"
    ).fetchone()
    assert database is not None
    db = str(database[0])
    schemas = conn.execute(
        f"SELECT nspname, pg_get_userbyid(nspowner) FROM pg_catalog.pg_namespace n WHERE {_USER_NS}"
    ).fetchall()
    result: dict[str, list[Any]] = {
        "databases": [PgDatabase(name=db, owner=database[1])],
        "schemas": [PgSchema(database=db, name=n, owner=o) for n, o in schemas],
        "objects": read_objects(conn, db),
        "grants": [_grant(db, row) for row in conn.execute(_acl_sql(conn)).fetchall()],
        "default_privileges": [
            PgDefaultPrivilege(
                database=db, owner=o, schema_name=s, object_type=t, privilege=p, grantee=g
            )
            for o, s, t, p, g in conn.execute(DEFAULT_ACL_SQL).fetchall()
            if t != "SCHEMAS"
        ],
        "default_revokes": [
            PgDefaultRevoke(database=db, owner=o, object_type=t, privilege=p)
            for o, t, p in conn.execute(DEFAULT_REVOKES_SQL).fetchall()
        ],
    }
    return result


def read_objects(conn: psycopg.Connection[Any], database: str) -> list[PgObject]:
    """The current database's relations, routines and types, each table with the sequences
    its column defaults call (:data:`DEFAULT_SEQUENCES_SQL`)."""
    sequences = {
        (schema, name): tuple(sorted(called))
        for schema, name, called in conn.execute(DEFAULT_SEQUENCES_SQL).fetchall()
    }
    return [
        PgObject(
            database=database, schema_name=s, name=n, kind=k, signature=sig, owner=o,
            columns=tuple(cols) if k in ("table", "view") else (),
            default_sequences=sequences.get((s, n), ()) if k in ("table", "view") else (),
        )
        for s, n, k, sig, o, cols in conn.execute(OBJECTS_SQL).fetchall()
    ]  # fmt: skip


def _grant(database: str, row: tuple[Any, ...]) -> PgGrant:
    object_type, schema, name, signature, column, privilege, grantee, grantable = row
    return PgGrant(
        database=database, object_type=object_type, schema_name=schema, name=name,
        signature=signature, columns=(column,) if column else (), privilege=privilege,
        grantee=grantee, grant_option=grantable,
    )  # fmt: skip


def list_databases(conn: psycopg.Connection[Any]) -> list[str]:
    """Databases that accept connections, except templates."""
    rows = conn.execute(
        "SELECT datname FROM pg_catalog.pg_database WHERE datallowconn AND NOT datistemplate "
        "ORDER BY datname"
    ).fetchall()
    return [str(r[0]) for r in rows]


def _check_named(conn: psycopg.Connection[Any], names: list[str]) -> None:
    """A ``--database`` the server lacks is bad input (exit 2), not "cannot connect" (exit 4)."""
    rows = conn.execute(
        "SELECT datname FROM pg_catalog.pg_database WHERE datname = ANY (%s)", [names]
    ).fetchall()
    absent = sorted(set(names) - {str(r[0]) for r in rows})
    if absent:
        present = list_databases(conn)
        shown = ", ".join(present[:20]) + (f" and {len(present) - 20} more" * (len(present) > 20))
        raise InputError(
            f"the server has no database {', '.join(absent)} (names are case-sensitive); "
            f"it has: {shown or 'none that accept connections'}",
            Location(key="--database"),
        )


def inspect_server(
    dsn: str, databases: Sequence[str] | None = None, log: Callable[[str], None] = lambda _m: None
) -> MigrationPlan:
    """Read roles, memberships, owners, ACLs and default ACLs of a live server into a plan.

    Args:
        dsn: the server.
        databases: which databases to read (default: every connectable non-template one).
        log: called once per database, before it is read (a progress line: at bench scale M
            inspect takes half a minute).

    Returns:
        A :class:`MigrationPlan` with fingerprint ``"inspect"``: the live state in the plan model.
    """
    with connect(dsn) as conn:
        roles, memberships = read_roles(conn)
        names = list(databases) if databases is not None else list_databases(conn)
        if databases is not None:
            _check_named(conn, names)
    parts: dict[str, list[Any]] = {}
    for name in names:
        log(f"inspect {name}")
        with connect(dsn, name) as conn:
            for field, items in read_database(conn).items():
                parts.setdefault(field, []).extend(items)
    return MigrationPlan(
        fingerprint="inspect", target="postgresql", roles=roles, memberships=memberships,
        **{field: _dedupe(items) for field, items in parts.items()},
    )  # fmt: skip


def _dedupe(items: list[Any]) -> tuple[Any, ...]:
    return tuple({item.key: item for item in items}.values())
