-- grantbridge 05_default_privileges.sql: default privileges for future objects
-- plan fingerprint: sha256:abababababababababababababababababababababababababababababababab
-- Run with psql: psql "$DSN" -f <file>, files in name order, or grantbridge apply.
-- A statement ending in \; goes to the server with the ones after it (50 at a time).
\set ON_ERROR_STOP on

\connect "gb_sales"
BEGIN;

-- from: Sales/perm:SCHEMA:sales:SELECT
ALTER DEFAULT PRIVILEGES FOR ROLE gb_sales_owner IN SCHEMA sales GRANT SELECT ON TABLES TO gb_sales_reader;

COMMIT;
