"""A catalog snapshot for comparing PostgreSQL states (issue 8, item 5; see ``scale_apply``).

What :func:`read_catalog` reads: in every database of the plan, the owner and the ACL of
the database, each schema (with its comment), relation, column, routine (with SECURITY DEFINER
and its settings), type, language, foreign-data wrapper, foreign server and large object, the
default ACLs, row-level security switches and policies; cluster-wide, the attributes, settings
and comments of the plan's roles, the RDS stand-ins, the ``pg_*`` roles and the connected user,
every membership involving them (with grantor and options), their per-database settings, and
the ACLs of tablespaces and (PostgreSQL 15+) parameters. Each row keeps the catalog text exactly
(``relacl::text``, NULL included) and a normalized form: the ACL entries, sorted, of
``coalesce(acl, acldefault(kind, owner))``. Apply-twice and failure checks compare the exact
text; rollback checks compare the normalized form, because PostgreSQL never turns an ACL back
into NULL: where an object had NULL (the built-in default) before the apply, rollback leaves the
same privileges spelled out, and ``acldefault()`` is PostgreSQL's own definition of what NULL
means. Nothing else is relaxed: owners, grantors, every entry and every other row are compared
as they are.
"""

from __future__ import annotations

from dataclasses import dataclass

from mapper.plan import MigrationPlan
from pg_emit import intent
from pg_emit.server import connect

_USER_NS = "nspname !~ '^pg_' AND nspname <> 'information_schema'"
_QUALIFIED = "quote_ident(ns.nspname) || '.' || quote_ident({})"
_ROUTINE = _QUALIFIED.format("p.proname") + (
    " || '(' || pg_get_function_identity_arguments(p.oid) || ')'"
)


def _sorted(acl: str) -> str:
    """SQL: the entries of the ``aclitem[]`` ``acl``, sorted and comma-separated ('' if none)."""
    return f"coalesce((SELECT string_agg(x::text, ',' ORDER BY x::text) FROM unnest({acl}) x), '')"


#: Per database: (kind, identity, owner, exact ACL text, normalized ACL, entries).
ACL_SQL = f"""
WITH ns AS (SELECT oid, nspname FROM pg_catalog.pg_namespace WHERE {_USER_NS}),
acl (kind, ident, owner, acl, dflt) AS (
  SELECT 'database', quote_ident(d.datname), d.datdba, d.datacl, acldefault('d', d.datdba)
  FROM pg_catalog.pg_database d WHERE d.datname = current_database()
  UNION ALL
  SELECT 'schema', quote_ident(ns.nspname), n.nspowner, n.nspacl, acldefault('n', n.nspowner)
  FROM pg_catalog.pg_namespace n JOIN ns ON ns.oid = n.oid
  UNION ALL
  SELECT 'relation', {_QUALIFIED.format("c.relname")}, c.relowner, c.relacl,
         acldefault(CASE c.relkind WHEN 'S' THEN 's' ELSE 'r' END::"char", c.relowner)
  FROM pg_catalog.pg_class c JOIN ns ON ns.oid = c.relnamespace
  WHERE c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f', 'c')
  UNION ALL
  SELECT 'column', {_QUALIFIED.format("c.relname")} || '.' || quote_ident(a.attname),
         c.relowner, a.attacl, acldefault('c', c.relowner)
  FROM pg_catalog.pg_attribute a JOIN pg_catalog.pg_class c ON c.oid = a.attrelid
  JOIN ns ON ns.oid = c.relnamespace
  WHERE a.attnum > 0 AND NOT a.attisdropped AND c.relkind IN ('r', 'p', 'v', 'm', 'f')
  UNION ALL
  SELECT 'routine', {_ROUTINE}, p.proowner, p.proacl, acldefault('f', p.proowner)
  FROM pg_catalog.pg_proc p JOIN ns ON ns.oid = p.pronamespace
  UNION ALL
  SELECT 'type', {_QUALIFIED.format("t.typname")}, t.typowner, t.typacl,
         acldefault('T', t.typowner)
  FROM pg_catalog.pg_type t JOIN ns ON ns.oid = t.typnamespace
  UNION ALL
  SELECT 'language', quote_ident(l.lanname), l.lanowner, l.lanacl, acldefault('l', l.lanowner)
  FROM pg_catalog.pg_language l
  UNION ALL
  SELECT 'foreign data wrapper', quote_ident(w.fdwname), w.fdwowner, w.fdwacl,
         acldefault('F', w.fdwowner)
  FROM pg_catalog.pg_foreign_data_wrapper w
  UNION ALL
  SELECT 'foreign server', quote_ident(s.srvname), s.srvowner, s.srvacl,
         acldefault('S', s.srvowner)
  FROM pg_catalog.pg_foreign_server s
  UNION ALL
  SELECT 'large object', m.oid::text, m.lomowner, m.lomacl, acldefault('L', m.lomowner)
  FROM pg_catalog.pg_largeobject_metadata m
)
SELECT kind, ident, pg_get_userbyid(owner), coalesce(acl::text, 'NULL'),
       {_sorted("coalesce(acl, dflt)")},
       coalesce(cardinality(coalesce(acl, dflt)), 0)
FROM acl
"""

#: Per database: (kind, identity, attribute, value) of everything else the scripts may change.
OTHER_SQL = f"""
WITH ns AS (SELECT oid, nspname FROM pg_catalog.pg_namespace WHERE {_USER_NS})
SELECT 'default acl',
       quote_ident(pg_get_userbyid(d.defaclrole)) || ' in ' || coalesce(quote_ident(n.nspname), '*')
       || ' on ' || d.defaclobjtype::text, 'acl', d.defaclacl::text,
       {_sorted("d.defaclacl")},
       coalesce(cardinality(d.defaclacl), 0)
FROM pg_catalog.pg_default_acl d LEFT JOIN pg_catalog.pg_namespace n ON n.oid = d.defaclnamespace
UNION ALL
SELECT 'schema', quote_ident(ns.nspname), 'comment',
       coalesce(obj_description(ns.oid, 'pg_namespace'), ''), NULL, 0
FROM ns
UNION ALL
SELECT 'relation', {_QUALIFIED.format("c.relname")}, 'row security',
       concat_ws(' ', c.relrowsecurity, c.relforcerowsecurity), NULL, 0
FROM pg_catalog.pg_class c JOIN ns ON ns.oid = c.relnamespace WHERE c.relkind IN ('r', 'p')
UNION ALL
SELECT 'policy', quote_ident(schemaname) || '.' || quote_ident(tablename) || ' '
       || quote_ident(policyname), 'definition',
       concat_ws(' | ', cmd, permissive, roles::text, qual, with_check), NULL, 0
FROM pg_catalog.pg_policies WHERE schemaname !~ '^pg_' AND schemaname <> 'information_schema'
UNION ALL
SELECT 'routine',
       {_ROUTINE}, 'security', concat_ws(' ', p.prosecdef, p.proconfig::text), NULL, 0
FROM pg_catalog.pg_proc p JOIN ns ON ns.oid = p.pronamespace
"""

#: Cluster-wide, for the roles in scope (%(roles)s) and the plan's databases (%(databases)s).
CLUSTER_SQL = f"""
WITH r AS (SELECT * FROM pg_catalog.pg_roles
           WHERE rolname = ANY (%(roles)s) OR rolname ~ '^pg_' OR rolname = current_user)
SELECT 'role', quote_ident(rolname), 'attributes',
       concat_ws(' ', rolsuper, rolinherit, rolcreaterole, rolcreatedb, rolcanlogin,
                 rolreplication, rolbypassrls, rolconnlimit, rolvaliduntil), NULL, 0
FROM r
UNION ALL
SELECT 'role', quote_ident(rolname), 'settings', coalesce(rolconfig::text, ''), NULL, 0 FROM r
UNION ALL
SELECT 'role', quote_ident(rolname), 'comment',
       coalesce(shobj_description(oid, 'pg_authid'), ''), NULL, 0
FROM r
UNION ALL
SELECT 'membership', quote_ident(g.rolname) || ' > ' || quote_ident(m.rolname) || ' by '
       || coalesce(quote_ident(pg_get_userbyid(a.grantor)), '?'), 'options',
       (to_jsonb(a) - 'oid' - 'roleid' - 'member' - 'grantor')::text, NULL, 0
FROM pg_catalog.pg_auth_members a
JOIN pg_catalog.pg_roles g ON g.oid = a.roleid JOIN pg_catalog.pg_roles m ON m.oid = a.member
WHERE g.oid IN (SELECT oid FROM r) OR m.oid IN (SELECT oid FROM r)
UNION ALL
SELECT 'role setting', coalesce(quote_ident(pg_get_userbyid(s.setrole)), '*') || ' in '
       || coalesce(quote_ident(d.datname), '*'), 'settings', s.setconfig::text, NULL, 0
FROM pg_catalog.pg_db_role_setting s LEFT JOIN pg_catalog.pg_database d ON d.oid = s.setdatabase
WHERE s.setrole IN (SELECT oid FROM r) OR d.datname = ANY (%(databases)s)
UNION ALL
SELECT 'tablespace', quote_ident(spcname), 'acl',
       pg_get_userbyid(spcowner) || ' ' || coalesce(spcacl::text, 'NULL'),
       pg_get_userbyid(spcowner) || ' ' || {_sorted("coalesce(spcacl, acldefault('t', spcowner))")},
       coalesce(cardinality(coalesce(spcacl, acldefault('t', spcowner))), 0)
FROM pg_catalog.pg_tablespace
"""

#: PostgreSQL 15+: GRANT SET / ALTER SYSTEM ON PARAMETER (no owner; NULL is no grant).
PARAMETER_SQL = f"""
SELECT 'parameter', parname, 'acl', coalesce(paracl::text, 'NULL'),
       {_sorted("paracl")},
       coalesce(cardinality(paracl), 0)
FROM pg_catalog.pg_parameter_acl
"""

Key = tuple[str, str, str, str]


@dataclass(frozen=True)
class Value:
    """One catalog row: its exact text, its normalized form and how many ACL entries it has."""

    exact: str
    normalized: str
    entries: int


@dataclass(frozen=True)
class Catalog:
    """What :func:`read_catalog` read: (database, kind, identity, attribute) → value."""

    rows: dict[Key, Value]

    @property
    def acl_entries(self) -> int:
        """ACL entries in the normalized form (``acldefault`` where the catalog has NULL)."""
        return sum(v.entries for v in self.rows.values())

    def differences(self, other: Catalog, *, normalized: bool = False) -> list[str]:
        """Every row that differs (``self`` before, ``other`` after), sorted by key."""
        found = []
        for key in sorted(self.rows.keys() | other.rows.keys()):
            before, after = self.rows.get(key), other.rows.get(key)
            text_before = _text(before, normalized)
            text_after = _text(after, normalized)
            if text_before != text_after:
                where = " ".join(part for part in key if part)
                found.append(f"{where}: {text_before} -> {text_after}")
        return found


def _text(value: Value | None, normalized: bool) -> str:
    if value is None:
        return "(absent)"
    return value.normalized if normalized else value.exact


def read_catalog(dsn: str, plan: MigrationPlan) -> Catalog:
    """Read the plan's databases and the roles in scope (see the module docstring)."""
    roles = sorted({r.name for r in plan.roles} | set(intent.RDS_ROLES))
    databases = [db.name for db in plan.databases]
    rows: dict[Key, Value] = {}
    with connect(dsn) as conn:
        queries = [CLUSTER_SQL] + ([PARAMETER_SQL] if conn.info.server_version >= 150000 else [])
        for query in queries:
            params = {"roles": roles, "databases": databases}
            for kind, ident, attribute, exact, normalized, entries in conn.execute(
                query.encode(), params if "%(" in query else None
            ).fetchall():
                rows[("", kind, ident, attribute)] = _value(exact, normalized, entries)
    for database in databases:
        with connect(dsn, database) as conn:
            for kind, ident, owner, exact, normalized, entries in conn.execute(
                ACL_SQL.encode()
            ).fetchall():
                rows[(database, kind, ident, "owner")] = Value(owner, owner, 0)
                rows[(database, kind, ident, "acl")] = _value(exact, normalized, entries)
            for kind, ident, attribute, exact, normalized, entries in conn.execute(
                OTHER_SQL.encode()
            ).fetchall():
                rows[(database, kind, ident, attribute)] = _value(exact, normalized, entries)
    return Catalog(rows)


def _value(exact: str, normalized: str | None, entries: int) -> Value:
    return Value(exact, exact if normalized is None else normalized, entries)
