-- grantbridge 06_hardening.sql: revoke PostgreSQL's PUBLIC defaults the plan does not want
-- plan fingerprint: sha256:abababababababababababababababababababababababababababababababab
-- Run with psql: psql "$DSN" -f <file>, files in name order, or grantbridge apply.
-- A statement ending in \; goes to the server with the ones after it (50 at a time).
\set ON_ERROR_STOP on

\connect "gb_sales"
BEGIN;

-- from: hardening: SQL Server gives PUBLIC nothing here; policy:hardening
REVOKE CONNECT, TEMPORARY ON DATABASE gb_sales FROM PUBLIC \;

-- from: hardening: SQL Server gives PUBLIC nothing here; policy:hardening
REVOKE EXECUTE ON FUNCTION sales.total_of(integer) FROM PUBLIC \;

-- from: hardening: SQL Server gives PUBLIC nothing here; policy:hardening
REVOKE EXECUTE ON PROCEDURE sales.add_order(integer, text) FROM PUBLIC \;

-- record for which roles PUBLIC already may not run routines created later
DO $grantbridge$
DECLARE
  mark text := 'grantbridge: default privileges revoked from PUBLIC; already revoked before for: ';
  remark text := shobj_description(
    (SELECT oid FROM pg_catalog.pg_database WHERE datname = current_database()),
    'pg_database');
BEGIN
  IF coalesce(remark, '') NOT LIKE mark || '%' THEN
    SELECT mark || coalesce(to_json(array_agg(DISTINCT i.owner ORDER BY i.owner))::text, '[]')
           || coalesce(E'\n' || remark, '')
      INTO remark
      FROM (VALUES ('gb_sales_owner', 'f', 'EXECUTE')) AS i (owner, objtype, privilege)
      JOIN pg_catalog.pg_roles r ON r.rolname = i.owner
      JOIN pg_catalog.pg_default_acl d ON d.defaclrole = r.oid AND d.defaclnamespace = 0
                                      AND d.defaclobjtype = i.objtype::"char"
     WHERE NOT EXISTS (SELECT FROM aclexplode(d.defaclacl) a
                       WHERE a.grantee = 0 AND a.privilege_type = i.privilege);
    EXECUTE format('COMMENT ON DATABASE %I IS %L', current_database(), remark);
  END IF;
END
$grantbridge$ \;

-- from: Sales/schema:sales
-- hardening: PUBLIC may not run routines created later
ALTER DEFAULT PRIVILEGES FOR ROLE gb_sales_owner REVOKE EXECUTE ON FUNCTIONS FROM PUBLIC;

COMMIT;
