-- grantbridge 06_hardening.sql: revoke PostgreSQL's PUBLIC defaults the plan does not want
-- plan fingerprint: sha256:abababababababababababababababababababababababababababababababab
-- Run with psql: psql "$DSN" -f <file>, files in name order, or grantbridge apply.
-- A statement ending in \; goes to the server with the ones after it (50 at a time).
\set ON_ERROR_STOP on

\connect "gb_sales"
BEGIN;

-- record what PUBLIC lacks already of what follows (rollback.sql gives it none of it)
DO $grantbridge$
DECLARE
  mark text := 'grantbridge: PUBLIC defaults revoked; PUBLIC lacked before: ';
  remark text := shobj_description(
    (SELECT oid FROM pg_catalog.pg_database WHERE datname = current_database()),
    'pg_database');
  privileges jsonb := '[]';  -- '<privilege> ON <kind> <object>' PUBLIC lacks
  owners jsonb := '[]';  -- the roles whose routines created later PUBLIC may not run
BEGIN
  IF coalesce(remark, '') NOT LIKE mark || '%' THEN
    SELECT coalesce(jsonb_agg(o.label ORDER BY o.label COLLATE "C"), '[]')
      INTO privileges
      FROM (VALUES ('CONNECT', 'DATABASE', 'gb_sales', (SELECT oid FROM pg_catalog.pg_database WHERE datname = 'gb_sales')),
                   ('TEMPORARY', 'DATABASE', 'gb_sales', (SELECT oid FROM pg_catalog.pg_database WHERE datname = 'gb_sales')),
                   ('EXECUTE', 'FUNCTION', 'sales.total_of(integer)', to_regprocedure('sales.total_of(integer)')::oid),
                   ('EXECUTE', 'PROCEDURE', 'sales.add_order(integer, text)', to_regprocedure('sales.add_order(integer, text)')::oid))
           AS i (privilege, keyword, target, obj),
           LATERAL (SELECT i.privilege || ' ON ' || i.keyword || ' ' || i.target AS label,
                           CASE WHEN i.keyword IN ('DATABASE')
                                THEN (SELECT coalesce(x.datacl, acldefault('d', x.datdba))
                                      FROM pg_catalog.pg_database x WHERE x.oid = i.obj)
                                WHEN i.keyword IN ('FUNCTION', 'PROCEDURE')
                                THEN (SELECT coalesce(x.proacl, acldefault('f', x.proowner))
                                      FROM pg_catalog.pg_proc x WHERE x.oid = i.obj)
                           END AS acl) o
     WHERE NOT EXISTS (SELECT FROM aclexplode(o.acl) a
                       WHERE a.grantee = 0 AND a.privilege_type = i.privilege);
    SELECT coalesce(jsonb_agg(DISTINCT i.owner ORDER BY i.owner), '[]')
      INTO owners
      FROM (VALUES ('gb_sales_owner', 'f', 'EXECUTE')) AS i (owner, objtype, privilege)
      JOIN pg_catalog.pg_roles r ON r.rolname = i.owner
      JOIN pg_catalog.pg_default_acl d ON d.defaclrole = r.oid AND d.defaclnamespace = 0
                                      AND d.defaclobjtype = i.objtype::"char"
     WHERE NOT EXISTS (SELECT FROM aclexplode(d.defaclacl) a
                       WHERE a.grantee = 0 AND a.privilege_type = i.privilege);
    EXECUTE format('COMMENT ON DATABASE %I IS %L', current_database(), mark
                   || jsonb_build_object('privileges', privileges,
                                         'future_routines_of', owners)::text
                   || coalesce(E'\n' || remark, ''));
  END IF;
END
$grantbridge$ \;

-- from: hardening: SQL Server gives PUBLIC nothing here; policy:hardening
REVOKE CONNECT, TEMPORARY ON DATABASE gb_sales FROM PUBLIC \;

-- from: hardening: SQL Server gives PUBLIC nothing here; policy:hardening
REVOKE EXECUTE ON FUNCTION sales.total_of(integer) FROM PUBLIC \;

-- from: hardening: SQL Server gives PUBLIC nothing here; policy:hardening
REVOKE EXECUTE ON PROCEDURE sales.add_order(integer, text) FROM PUBLIC \;

-- from: Sales/schema:sales
-- hardening: PUBLIC may not run routines created later
ALTER DEFAULT PRIVILEGES FOR ROLE gb_sales_owner REVOKE EXECUTE ON FUNCTIONS FROM PUBLIC;

COMMIT;
