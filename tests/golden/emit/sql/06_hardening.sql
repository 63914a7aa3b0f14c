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

-- from: Sales/schema:sales
-- hardening: PUBLIC may not run routines created later
ALTER DEFAULT PRIVILEGES FOR ROLE gb_sales_owner REVOKE EXECUTE ON FUNCTIONS FROM PUBLIC;

COMMIT;
