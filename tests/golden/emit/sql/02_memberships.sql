-- grantbridge 02_memberships.sql: role memberships (cluster-wide)
-- plan fingerprint: sha256:abababababababababababababababababababababababababababababababab
-- Run with psql: psql "$DSN" -f <file>, files in name order, or grantbridge apply.
-- A statement ending in \; goes to the server with the ones after it (50 at a time).
\set ON_ERROR_STOP on

BEGIN;

-- from: Sales/member:reader<-alice; Sales/member:reader<-app
GRANT gb_sales_reader TO gb_alice, gb_app \;

-- from: Sales/member:writer<-app; login:app
GRANT gb_sales_writer, rds_iam TO gb_app \;

-- A non-superuser (the RDS master user) may only give objects to, and set default
-- privileges for, roles it is a member of: it joins the owner roles and the roles whose
-- default privileges 06 changes. Superusers skip this.
DO $grantbridge$
BEGIN
  IF NOT (SELECT rolsuper FROM pg_catalog.pg_roles WHERE rolname = current_user) THEN
    GRANT gb_sales_owner TO CURRENT_USER;
  END IF;
END
$grantbridge$;

COMMIT;
