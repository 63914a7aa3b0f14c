-- grantbridge 03_ownership.sql: database, schema and object owners; schemas created if absent
-- plan fingerprint: sha256:abababababababababababababababababababababababababababababababab
-- Run with psql: psql "$DSN" -f <file>, files in name order, or grantbridge apply.
-- A statement ending in \; goes to the server with the ones after it (50 at a time).
\set ON_ERROR_STOP on

\connect "gb_sales"
BEGIN;

-- from: (no source fact: required by PostgreSQL)
ALTER DATABASE gb_sales OWNER TO gb_sales_owner \;

-- from: (no source fact: required by PostgreSQL)
-- schema Odd Schema, created if absent
DO $grantbridge$
BEGIN
  IF NOT EXISTS (SELECT FROM pg_catalog.pg_namespace WHERE nspname = 'Odd Schema') THEN
    CREATE SCHEMA "Odd Schema" AUTHORIZATION gb_sales_owner;
    COMMENT ON SCHEMA "Odd Schema" IS 'grantbridge: created by plan sha256:ababababa';
  END IF;
END
$grantbridge$ \;

-- from: (no source fact: required by PostgreSQL)
ALTER SCHEMA "Odd Schema" OWNER TO gb_sales_owner \;

-- from: Sales/schema:sales
-- schema sales, created if absent
DO $grantbridge$
BEGIN
  IF NOT EXISTS (SELECT FROM pg_catalog.pg_namespace WHERE nspname = 'sales') THEN
    CREATE SCHEMA sales AUTHORIZATION gb_sales_owner;
    COMMENT ON SCHEMA sales IS 'grantbridge: created by plan sha256:ababababa';
  END IF;
END
$grantbridge$ \;

-- from: Sales/schema:sales
ALTER SCHEMA sales OWNER TO gb_sales_owner \;

-- from: (no source fact: required by PostgreSQL)
ALTER TABLE "Odd Schema"."select" OWNER TO gb_sales_owner \;

-- from: (no source fact: required by PostgreSQL)
ALTER PROCEDURE sales.add_order(integer, text) OWNER TO gb_sales_owner \;

-- from: Sales/obj:customers
ALTER TABLE sales.customers OWNER TO gb_sales_owner \;

-- from: (no source fact: required by PostgreSQL)
ALTER SEQUENCE sales.order_seq OWNER TO gb_sales_owner \;

-- from: Sales/obj:orders
ALTER TABLE sales.orders OWNER TO gb_sales_owner \;

-- from: (no source fact: required by PostgreSQL)
ALTER FUNCTION sales.total_of(integer) OWNER TO gb_sales_owner \;

-- from: (no source fact: required by PostgreSQL)
ALTER VIEW sales.v_totals OWNER TO gb_sales_owner;

COMMIT;
