-- grantbridge 04_privileges.sql: privileges
-- plan fingerprint: sha256:abababababababababababababababababababababababababababababababab
-- Run with psql: psql "$DSN" -f <file>, files in name order, or grantbridge apply.
-- A statement ending in \; goes to the server with the ones after it (50 at a time).
\set ON_ERROR_STOP on

\connect "gb_sales"
BEGIN;

-- from: Sales/perm:gb_sales:CONNECT:gb Odd "Name" x; Sales/perm:gb_sales:CONNECT:gb_sales_reader; Sales/perm:gb_sales:CONNECT:gb_sales_writer
GRANT CONNECT ON DATABASE gb_sales TO "gb Odd ""Name""
x", gb_sales_reader, gb_sales_writer \;

-- from: Sales/perm:total_of:EXECUTE:gb_sales_reader
GRANT EXECUTE ON FUNCTION sales.total_of(integer) TO gb_sales_reader \;

-- from: Sales/perm:work_mem:SET:gb_sales_writer
GRANT SET ON PARAMETER work_mem TO gb_sales_writer \;

-- from: Sales/perm:add_order:EXECUTE:gb_sales_writer
GRANT EXECUTE ON PROCEDURE sales.add_order(integer, text) TO gb_sales_writer \;

-- from: Sales/perm:Odd Schema:USAGE:gb Odd "Name" x
GRANT USAGE ON SCHEMA "Odd Schema" TO "gb Odd ""Name""
x" \;

-- from: Sales/perm:sales:USAGE:gb_sales_reader; Sales/perm:sales:USAGE:gb_sales_writer
GRANT USAGE ON SCHEMA sales TO gb_sales_reader, gb_sales_writer \;

-- from: Sales/perm:order_seq:USAGE:gb_sales_writer
GRANT USAGE ON SEQUENCE sales.order_seq TO gb_sales_writer \;

-- from: Sales/perm:orders:DELETE:gb_sales_writer; Sales/perm:orders:INSERT:gb_sales_writer; Sales/perm:orders:SELECT:gb_sales_writer; Sales/perm:orders:UPDATE:gb_sales_writer
GRANT SELECT, INSERT, UPDATE, DELETE ON TABLE sales.orders TO gb_sales_writer \;

-- from: Sales/perm:customers:DELETE:gb_sales_writer; Sales/perm:customers:INSERT:gb_sales_writer; Sales/perm:customers:UPDATE:gb_sales_writer
GRANT INSERT, UPDATE, DELETE ON TABLE sales.customers TO gb_sales_writer \;

-- from: Sales/perm:select:SELECT:gb Odd "Name" x
GRANT SELECT ON TABLE "Odd Schema"."select" TO "gb Odd ""Name""
x" \;

-- from: Sales/perm:customers:SELECT:gb_sales_reader; Sales/perm:orders:SELECT:gb_sales_reader; Sales/perm:v_totals:SELECT:gb_sales_reader
GRANT SELECT ON TABLE sales.customers, sales.orders, sales.v_totals TO gb_sales_reader \;

-- from: Sales/perm:customers:SELECT:gb_alice
GRANT SELECT (id, name) ON TABLE sales.customers TO gb_alice;

COMMIT;
