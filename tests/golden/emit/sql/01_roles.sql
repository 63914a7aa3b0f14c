-- grantbridge 01_roles.sql: roles (cluster-wide)
-- plan fingerprint: sha256:abababababababababababababababababababababababababababababababab
-- Run with psql: psql "$DSN" -f <file>, files in name order, or grantbridge apply.
-- A statement ending in \; goes to the server with the ones after it (50 at a time).
\set ON_ERROR_STOP on

BEGIN;

-- Amazon RDS / Aurora provide rds_iam, rds_ad, rds_superuser and rds_password. On plain
-- PostgreSQL (no rds_superuser role) grantbridge creates NOLOGIN stand-ins for them so
-- the same scripts run everywhere; on RDS / Aurora this block does nothing.
DO $grantbridge$
BEGIN
  IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = 'rds_superuser') THEN
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = 'rds_ad') THEN
      CREATE ROLE rds_ad NOLOGIN;
      COMMENT ON ROLE rds_ad IS 'grantbridge: stand-in for the Amazon RDS role';
    END IF;
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = 'rds_iam') THEN
      CREATE ROLE rds_iam NOLOGIN;
      COMMENT ON ROLE rds_iam IS 'grantbridge: stand-in for the Amazon RDS role';
    END IF;
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = 'rds_password') THEN
      CREATE ROLE rds_password NOLOGIN;
      COMMENT ON ROLE rds_password IS 'grantbridge: stand-in for the Amazon RDS role';
    END IF;
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = 'rds_superuser') THEN
      CREATE ROLE rds_superuser NOLOGIN;
      COMMENT ON ROLE rds_superuser IS 'grantbridge: stand-in for the Amazon RDS role';
    END IF;
  END IF;
END
$grantbridge$ \;

-- password login gb_alice: grantbridge never carries passwords. Rotation step, run by
-- hand after apply: \password gb_alice
DO $grantbridge$
BEGIN
  -- from: Sales/role:odd name
  -- role gb Odd "Name" x: group, none (role [Odd "Name"])
  IF to_regrole('"gb Odd ""Name""
x"') IS NULL THEN
    CREATE ROLE "gb Odd ""Name""
x" NOLOGIN;
    COMMENT ON ROLE "gb Odd ""Name""
x" IS 'grantbridge: created by plan sha256:ababababa (group)';
  END IF;
  -- from: login:alice
  -- role gb_alice: login, password (login [alice])
  IF to_regrole('gb_alice') IS NULL THEN
    CREATE ROLE gb_alice LOGIN;
    COMMENT ON ROLE gb_alice IS 'grantbridge: created by plan sha256:ababababa (login)';
  END IF;
  -- from: login:app
  -- role gb_app: login, iam (login [app])
  IF to_regrole('gb_app') IS NULL THEN
    CREATE ROLE gb_app LOGIN;
    COMMENT ON ROLE gb_app IS 'grantbridge: created by plan sha256:ababababa (login)';
  END IF;
  -- from: Sales/user:dbo
  -- role gb_sales_owner: owner, none (user [dbo])
  IF to_regrole('gb_sales_owner') IS NULL THEN
    CREATE ROLE gb_sales_owner NOLOGIN;
    COMMENT ON ROLE gb_sales_owner IS 'grantbridge: created by plan sha256:ababababa (owner)';
  END IF;
  -- from: Sales/role:reader
  -- role gb_sales_reader: group, none (role [reader])
  IF to_regrole('gb_sales_reader') IS NULL THEN
    CREATE ROLE gb_sales_reader NOLOGIN;
    COMMENT ON ROLE gb_sales_reader IS 'grantbridge: created by plan sha256:ababababa (group)';
  END IF;
  -- from: Sales/role:writer
  -- role gb_sales_writer: group, none (role [writer])
  IF to_regrole('gb_sales_writer') IS NULL THEN
    CREATE ROLE gb_sales_writer NOLOGIN;
    COMMENT ON ROLE gb_sales_writer IS 'grantbridge: created by plan sha256:ababababa (group)';
  END IF;
END
$grantbridge$;

COMMIT;
