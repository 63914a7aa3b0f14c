-- grantbridge 07_security.sql: SECURITY DEFINER routines, security_invoker views and row-level security
-- plan fingerprint: sha256:abababababababababababababababababababababababababababababababab
-- Run with psql: psql "$DSN" -f <file>, files in name order, or grantbridge apply.
-- A statement ending in \; goes to the server with the ones after it (50 at a time).
\set ON_ERROR_STOP on

\connect "gb_sales"
BEGIN;

-- record how the routine runs now (rollback.sql restores it)
DO $grantbridge$
DECLARE
  obj oid := to_regprocedure('sales.add_order(integer, text)');
  remark text := obj_description(obj, 'pg_proc');
BEGIN
  IF obj IS NOT NULL AND coalesce(remark, '') NOT LIKE 'grantbridge: made SECURITY DEFINER; before: %' THEN
    SELECT 'grantbridge: made SECURITY DEFINER; before: '
           || CASE WHEN x.prosecdef THEN 'SECURITY DEFINER' ELSE 'SECURITY INVOKER' END
           || '; ' || coalesce((SELECT c FROM unnest(x.proconfig) c WHERE c LIKE 'search_path=%'), 'no search_path')
           || coalesce(E'\n' || remark, '')
      INTO remark FROM pg_catalog.pg_proc x WHERE x.oid = obj;
    EXECUTE format('COMMENT ON ROUTINE %s IS %L', obj::regprocedure, remark);
  END IF;
END
$grantbridge$ \;

-- from: (no source fact: required by PostgreSQL)
-- runs as gb_sales_owner; callers: gb_sales_writer
ALTER PROCEDURE sales.add_order(integer, text) SECURITY DEFINER \;

-- pinned search_path: names never resolve through a schema the caller controls
ALTER PROCEDURE sales.add_order(integer, text) SET search_path = pg_catalog, sales \;

-- security_invoker views need PostgreSQL 15 or later: stop here on an older server
DO $grantbridge$
BEGIN
  IF current_setting('server_version_num')::int < 150000 THEN
    RAISE EXCEPTION 'grantbridge: view sales.v_totals must check the caller''s privileges (security_invoker), which needs PostgreSQL 15 or later; this server runs %', current_setting('server_version');
  END IF;
END
$grantbridge$ \;

-- record the view's security_invoker now (rollback.sql restores it)
DO $grantbridge$
DECLARE
  obj oid := to_regclass('sales.v_totals');
  remark text := obj_description(obj, 'pg_class');
BEGIN
  IF obj IS NOT NULL AND coalesce(remark, '') NOT LIKE 'grantbridge: set security_invoker; before: %' THEN
    SELECT 'grantbridge: set security_invoker; before: '
           || coalesce((SELECT o FROM unnest(x.reloptions) o WHERE o LIKE 'security_invoker=%'), 'security_invoker not set')
           || coalesce(E'\n' || remark, '')
      INTO remark FROM pg_catalog.pg_class x WHERE x.oid = obj;
    EXECUTE format('COMMENT ON VIEW %s IS %L', obj::regclass, remark);
  END IF;
END
$grantbridge$ \;

-- from: Sales/obj:v_totals
-- ownership chain: sales.rates is owned by bob, not dbo
ALTER VIEW sales.v_totals SET (security_invoker = true) \;

-- record the table's row-level security now (rollback.sql restores it)
DO $grantbridge$
DECLARE
  obj oid := to_regclass('sales.orders');
  remark text := obj_description(obj, 'pg_class');
BEGIN
  IF obj IS NOT NULL AND coalesce(remark, '') NOT LIKE 'grantbridge: row-level security set; before: %' THEN
    SELECT 'grantbridge: row-level security set; before: '
           || CASE WHEN x.relrowsecurity THEN 'enabled' ELSE 'disabled' END || ', '
           || CASE WHEN x.relforcerowsecurity THEN 'forced' ELSE 'not forced' END
           || coalesce('; replaced policies: ' || (
                SELECT to_json(array_agg(
                         format('CREATE POLICY %I ON %I.%I AS %s FOR %s TO %s%s%s',
                                p.policyname, p.schemaname, p.tablename, p.permissive, p.cmd,
                                (SELECT string_agg(quote_ident(r), ', ') FROM unnest(p.roles) r),
                                ' USING (' || p.qual || ')', ' WITH CHECK (' || p.with_check || ')')
                         ORDER BY p.policyname))::text
                FROM pg_catalog.pg_policies p
                WHERE p.schemaname = 'sales' AND p.tablename = 'orders'
                  AND p.policyname = ANY (ARRAY['tenant_filter', 'no_big'])), '')
           || coalesce(E'\n' || remark, '')
      INTO remark FROM pg_catalog.pg_class x WHERE x.oid = obj;
    EXECUTE format('COMMENT ON TABLE %s IS %L', obj::regclass, remark);
  END IF;
END
$grantbridge$ \;

-- from: Sales/security_policy:sales.tenant
ALTER TABLE sales.orders ENABLE ROW LEVEL SECURITY \;

-- FORCE: the table owner is filtered too, as SQL Server filters dbo
ALTER TABLE sales.orders FORCE ROW LEVEL SECURITY \;

-- policy tenant_filter, replaced if present
DROP POLICY IF EXISTS tenant_filter ON sales.orders \;

-- policy tenant_filter
CREATE POLICY tenant_filter ON sales.orders AS PERMISSIVE FOR ALL USING (amount >= 0) WITH CHECK (true) \;

-- policy no_big, replaced if present
DROP POLICY IF EXISTS no_big ON sales.orders \;

-- policy no_big
CREATE POLICY no_big ON sales.orders AS RESTRICTIVE FOR INSERT WITH CHECK (amount < 1000000);

COMMIT;
