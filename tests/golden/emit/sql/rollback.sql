-- grantbridge rollback.sql: undo the apply: revoke what the plan granted, drop what it created
-- plan fingerprint: sha256:abababababababababababababababababababababababababababababababab
-- Run with psql: psql "$DSN" -f <file>, files in name order, or grantbridge apply.
-- A statement ending in \; goes to the server with the ones after it (50 at a time).
\set ON_ERROR_STOP on

\connect "gb_sales"
BEGIN;

-- undo 07_security.sql on sales.orders: policies, RLS switches
DO $grantbridge$
DECLARE
  obj oid := to_regclass('sales.orders');
  remark text := obj_description(obj, 'pg_class');
  recorded text := split_part(remark, E'\n', 1);
  target text := obj::regclass::text;
  policy text;
BEGIN
  IF obj IS NULL THEN
    RETURN;
  END IF;
  IF remark LIKE 'grantbridge: row-level security set; before: %' THEN
    EXECUTE 'DROP POLICY IF EXISTS no_big ON sales.orders';
    EXECUTE 'DROP POLICY IF EXISTS tenant_filter ON sales.orders';
    FOR policy IN SELECT json_array_elements_text(
        substring(recorded FROM '; replaced policies: (.*)$')::json) LOOP
      EXECUTE policy;  -- a CREATE POLICY statement 07 recorded
    END LOOP;
    EXECUTE format('ALTER TABLE %s %s ROW LEVEL SECURITY, %s ROW LEVEL SECURITY', target,
                   CASE WHEN split_part(recorded, '; ', 2) LIKE 'before: enabled,%' THEN 'ENABLE' ELSE 'DISABLE' END,
                   CASE WHEN split_part(recorded, '; ', 2) LIKE '%, forced' THEN 'FORCE' ELSE 'NO FORCE' END);
    EXECUTE format('COMMENT ON TABLE %s IS %L', target,
                   nullif(substr(remark, length(recorded) + 2), ''));
  END IF;
END
$grantbridge$ \;

-- undo 07_security.sql: sales.v_totals checks privileges as before
DO $grantbridge$
DECLARE
  obj oid := to_regclass('sales.v_totals');
  remark text := obj_description(obj, 'pg_class');
  recorded text := split_part(remark, E'\n', 1);
  target text := obj::regclass::text;
BEGIN
  IF obj IS NULL THEN
    RETURN;
  END IF;
  IF remark LIKE 'grantbridge: set security_invoker; before: %' THEN
    IF substring(recorded FROM '; before: (security_invoker=[A-Za-z0-9]+)$') IS NULL THEN
      EXECUTE format('ALTER VIEW %s RESET (security_invoker)', target);
    ELSE
      EXECUTE format('ALTER VIEW %s SET (%s)', target, substring(recorded FROM '; before: (security_invoker=[A-Za-z0-9]+)$'));
    END IF;
    EXECUTE format('COMMENT ON VIEW %s IS %L', target,
                   nullif(substr(remark, length(recorded) + 2), ''));
  END IF;
END
$grantbridge$ \;

-- undo 07_security.sql: sales.add_order runs as it did before
DO $grantbridge$
DECLARE
  obj oid := to_regprocedure('sales.add_order(integer, text)');
  remark text := obj_description(obj, 'pg_proc');
  recorded text := split_part(remark, E'\n', 1);
  target text := obj::regprocedure::text;
BEGIN
  IF obj IS NULL THEN
    RETURN;
  END IF;
  IF remark LIKE 'grantbridge: made SECURITY DEFINER; before: %' THEN
    IF recorded LIKE '%; before: SECURITY INVOKER;%' THEN
      EXECUTE format('ALTER ROUTINE %s SECURITY INVOKER', target);
    END IF;
    IF substring(recorded FROM '; search_path=(.*)$') IS NULL THEN
      EXECUTE format('ALTER ROUTINE %s RESET search_path', target);
    ELSE
      EXECUTE format('ALTER ROUTINE %s SET search_path = %s', target, substring(recorded FROM '; search_path=(.*)$'));
    END IF;
    EXECUTE format('COMMENT ON ROUTINE %s IS %L', target,
                   nullif(substr(remark, length(recorded) + 2), ''));
  END IF;
END
$grantbridge$ \;

-- give PUBLIC back what 06_hardening.sql revoked, where PUBLIC had it before
DO $grantbridge$
DECLARE
  mark text := 'grantbridge: PUBLIC defaults revoked; PUBLIC lacked before: ';
  remark text := shobj_description(
    (SELECT oid FROM pg_catalog.pg_database WHERE datname = current_database()),
    'pg_database');
  recorded text := split_part(remark, E'\n', 1);
  lacked jsonb;  -- what PUBLIC lacked before 06: it gets none of it back
  clause record;
BEGIN
  IF remark LIKE mark || '%' THEN
    lacked := substr(recorded, length(mark) + 1)::jsonb;
    FOR clause IN
      SELECT i.privilege, i.keyword,
             string_agg(i.target, ', ' ORDER BY i.target COLLATE "C") AS targets
        FROM (VALUES ('CONNECT', 'DATABASE', 'gb_sales'),
                     ('TEMPORARY', 'DATABASE', 'gb_sales'),
                     ('EXECUTE', 'FUNCTION', 'sales.total_of(integer)'),
                     ('EXECUTE', 'PROCEDURE', 'sales.add_order(integer, text)'))
             AS i (privilege, keyword, target)
       WHERE NOT (lacked -> 'privileges') ? (i.privilege || ' ON ' || i.keyword || ' ' || i.target)
       GROUP BY i.privilege, i.keyword
       ORDER BY i.keyword, i.privilege
    LOOP
      EXECUTE format('GRANT %s ON %s %s TO PUBLIC', clause.privilege, clause.keyword,
                     clause.targets);
    END LOOP;
    IF to_regrole('gb_sales_owner') IS NOT NULL
        AND NOT (lacked -> 'future_routines_of') ? 'gb_sales_owner' THEN
      EXECUTE 'ALTER DEFAULT PRIVILEGES FOR ROLE gb_sales_owner GRANT EXECUTE ON FUNCTIONS TO PUBLIC';
    END IF;
    EXECUTE format('COMMENT ON DATABASE %I IS %L', current_database(),
                   nullif(substr(remark, length(recorded) + 2), ''));
  END IF;
END
$grantbridge$ \;

-- revoke what 04_privileges.sql and 05_default_privileges.sql granted
DO $grantbridge$
BEGIN
  IF (SELECT count(*) FROM pg_catalog.pg_roles WHERE rolname = ANY (ARRAY['gb Odd "Name"
x', 'gb_alice', 'gb_sales_owner', 'gb_sales_reader', 'gb_sales_writer']::text[])) = 5 THEN
    EXECUTE 'REVOKE CONNECT ON DATABASE gb_sales FROM "gb Odd ""Name""
x", gb_sales_reader, gb_sales_writer';
    EXECUTE 'REVOKE EXECUTE ON FUNCTION sales.total_of(integer) FROM gb_sales_reader';
    EXECUTE 'REVOKE SET ON PARAMETER work_mem FROM gb_sales_writer';
    EXECUTE 'REVOKE EXECUTE ON PROCEDURE sales.add_order(integer, text) FROM gb_sales_writer';
    EXECUTE 'REVOKE USAGE ON SCHEMA "Odd Schema" FROM "gb Odd ""Name""
x"';
    EXECUTE 'REVOKE USAGE ON SCHEMA sales FROM gb_sales_reader, gb_sales_writer';
    EXECUTE 'REVOKE USAGE ON SEQUENCE sales.order_seq FROM gb_sales_writer';
    EXECUTE 'REVOKE SELECT, INSERT, UPDATE, DELETE ON TABLE sales.orders FROM gb_sales_writer';
    EXECUTE 'REVOKE INSERT, UPDATE, DELETE ON TABLE sales.customers FROM gb_sales_writer';
    EXECUTE 'REVOKE SELECT ON TABLE "Odd Schema"."select" FROM "gb Odd ""Name""
x"';
    EXECUTE 'REVOKE SELECT ON TABLE sales.customers, sales.orders, sales.v_totals FROM gb_sales_reader';
    EXECUTE 'REVOKE SELECT (id, name) ON TABLE sales.customers FROM gb_alice';
    EXECUTE 'ALTER DEFAULT PRIVILEGES FOR ROLE gb_sales_owner IN SCHEMA sales REVOKE SELECT ON TABLES FROM gb_sales_reader';
  END IF;
END
$grantbridge$ \;

-- drop the schemas 03_ownership.sql created, when they are empty
DO $grantbridge$
DECLARE s text;
BEGIN
  FOREACH s IN ARRAY ARRAY['Odd Schema', 'sales']::text[] LOOP
    IF EXISTS (SELECT FROM pg_catalog.pg_namespace n WHERE n.nspname = s
        AND obj_description(n.oid, 'pg_namespace') LIKE 'grantbridge: created%') THEN
      BEGIN
        EXECUTE format('DROP SCHEMA %I', s);
      EXCEPTION WHEN dependent_objects_still_exist THEN
        RAISE NOTICE 'schema % is not empty: kept', s;
      END;
    END IF;
  END LOOP;
END
$grantbridge$ \;

-- objects owned by roles this plan created go back to the user running rollback; REASSIGN
-- and DROP OWNED need the privileges of the role, so a non-superuser (the RDS master user)
-- first joins each role it is not yet a member of (DROP ROLE ends the membership)
DO $grantbridge$
DECLARE r text;
BEGIN
  FOREACH r IN ARRAY ARRAY['gb Odd "Name"
x', 'gb_alice', 'gb_app', 'gb_sales_owner', 'gb_sales_reader', 'gb_sales_writer']::text[] LOOP
    IF EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = r
        AND shobj_description(oid, 'pg_authid') LIKE 'grantbridge: created%') THEN
      IF NOT pg_has_role(current_user, r, 'USAGE') THEN
        EXECUTE format('GRANT %I TO CURRENT_USER', r);
      END IF;
      EXECUTE format('REASSIGN OWNED BY %I TO CURRENT_USER', r);
      EXECUTE format('DROP OWNED BY %I', r);
    END IF;
  END LOOP;
END
$grantbridge$;

COMMIT;

BEGIN;

-- revoke the memberships 02_memberships.sql granted
DO $grantbridge$
DECLARE g text; m text;
BEGIN
  FOR g, m IN SELECT * FROM unnest(ARRAY['gb_sales_reader', 'gb_sales_reader', 'gb_sales_writer', 'rds_iam']::text[], ARRAY['gb_alice', 'gb_app', 'gb_app', 'gb_app']::text[]) LOOP
    IF (SELECT count(*) FROM pg_catalog.pg_roles WHERE rolname IN (g, m)) = 2 THEN
      EXECUTE format('REVOKE %I FROM %I', g, m);
    END IF;
  END LOOP;
END
$grantbridge$ \;

-- drop the roles 01_roles.sql created (never a role that existed before)
DO $grantbridge$
DECLARE r text;
BEGIN
  FOREACH r IN ARRAY ARRAY['gb Odd "Name"
x', 'gb_alice', 'gb_app', 'gb_sales_owner', 'gb_sales_reader', 'gb_sales_writer']::text[] LOOP
    IF EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = r
        AND shobj_description(oid, 'pg_authid') LIKE 'grantbridge: created%') THEN
      EXECUTE format('DROP ROLE %I', r);
    END IF;
  END LOOP;
END
$grantbridge$ \;

-- drop the RDS stand-ins grantbridge created, once nothing uses them (the ADMIN OPTION
-- PostgreSQL 16+ gives a non-superuser on the roles it creates does not count as a use)
DO $grantbridge$
DECLARE r text;
BEGIN
  FOREACH r IN ARRAY ARRAY['rds_ad', 'rds_iam', 'rds_password', 'rds_superuser']::text[] LOOP
    IF EXISTS (SELECT FROM pg_catalog.pg_roles o WHERE o.rolname = r
        AND shobj_description(o.oid, 'pg_authid') = 'grantbridge: stand-in for the Amazon RDS role'
        AND NOT EXISTS (SELECT FROM pg_catalog.pg_auth_members a WHERE a.roleid = o.oid
          AND NOT (a.member = (SELECT oid FROM pg_catalog.pg_roles WHERE rolname = current_user)
                   AND a.admin_option))) THEN
      EXECUTE format('DROP ROLE %I', r);
    END IF;
  END LOOP;
END
$grantbridge$;

COMMIT;
