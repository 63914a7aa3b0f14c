"""Database-level grants cover schemas created later in SQL Server; the plan's do not.

A database-level GRANT (SELECT, INSERT, UPDATE, DELETE, REFERENCES, EXECUTE) and membership in
db_datareader / db_datawriter become grants on each existing schema's objects plus per-schema
default privileges (``ALTER DEFAULT PRIVILEGES FOR ROLE <schema owner role> IN SCHEMA …``). A
schema created after the migration gets nothing, so each such fact is ``approximated`` with
GB040 saying so (mapper/translate/grants.py says why global default privileges would not do).
"""

from __future__ import annotations

import pytest

from mapper.plan import Disposition, MigrationPlan
from mapper.planner import plan
from mapper.policy import Policy
from mssql_extract.tsql import parse_text
from pg_emit.render import render_sql
from pg_emit.verify import applied, ensure_databases
from tests.emit import contoso

SCRIPT = """
CREATE LOGIN [u] WITH PASSWORD = 'x-not-a-secret-1', SID = 0x01
GO
CREATE LOGIN [r] WITH PASSWORD = 'x-not-a-secret-2', SID = 0x02
GO
CREATE LOGIN [w] WITH PASSWORD = 'x-not-a-secret-3', SID = 0x03
GO
USE [Sales]
GO
CREATE SCHEMA [s] AUTHORIZATION [dbo]
GO
CREATE SCHEMA [t] AUTHORIZATION [dbo]
GO
CREATE TABLE [s].[a] ([id] int)
GO
CREATE TABLE [t].[b] ([id] int)
GO
CREATE USER [u] FOR LOGIN [u]
GO
CREATE USER [r] FOR LOGIN [r]
GO
CREATE USER [w] FOR LOGIN [w]
GO
GRANT SELECT TO [u]
GO
GRANT UPDATE TO [u]
GO
GRANT EXECUTE TO [u]
GO
ALTER ROLE [db_datareader] ADD MEMBER [r]
GO
ALTER ROLE [db_datawriter] ADD MEMBER [w]
GO
"""

LATER = "a schema created later is not covered"


@pytest.fixture(scope="module")
def migration() -> MigrationPlan:
    return plan(parse_text(SCRIPT, "d.sql"), Policy())


@pytest.mark.parametrize(
    ("fact", "also"),
    [
        ("Sales/perm:DATABASE:SELECT:grant:u", None),
        ("Sales/perm:DATABASE:UPDATE:grant:u", "setval"),
        ("Sales/perm:DATABASE:EXECUTE:grant:u", "table-valued functions"),
        ("Sales/member:db_datareader<-r", None),
        ("Sales/member:db_datawriter<-w", None),
    ],
)
def test_a_database_wide_grant_is_approximated_for_schemas_created_later(
    migration: MigrationPlan, fact: str, also: str | None
) -> None:
    (found,) = [d for d in migration.dispositions if d.fact == fact]
    assert found.disposition == Disposition.APPROXIMATED
    assert found.items  # still granted on what exists
    assert LATER in found.reason
    (finding,) = [f for f in migration.findings if f.key in found.findings]
    assert finding.rule_id == "GB040"
    assert LATER in finding.action
    if also:
        assert also in finding.action


def test_its_default_privileges_are_per_schema_not_global(migration: MigrationPlan) -> None:
    """Global default privileges (no IN SCHEMA) would not be equivalent (grants.py): the plan
    sets them per existing schema, and says what is left out."""
    defaults = [d for d in migration.default_privileges if d.grantee == "u"]
    assert {d.schema_name for d in defaults} == {"s", "t"}
    assert all(d.owner == "sales_owner" for d in defaults)
    fact = "Sales/perm:DATABASE:SELECT:grant:u"
    (found,) = [d for d in migration.dispositions if d.fact == fact]
    assert found.disposition == Disposition.APPROXIMATED


#: dbatools' Export-DbaUser scripts a permission on a schema without CREATE SCHEMA: the plan
#: creates hr (mapper.translate.objects.plan_schemas), so GRANT SELECT TO u covers it too; the
#: catalog's sys, which PostgreSQL has no schema for, stays out of both.
NAMED_ONLY = """
CREATE LOGIN [gbhm_u] WITH PASSWORD = 'x-not-a-secret-1', SID = 0x11
GO
CREATE LOGIN [gbhm_x] WITH PASSWORD = 'x-not-a-secret-2', SID = 0x12
GO
USE [Sales]
GO
CREATE TABLE [dbo].[a] ([id] int)
GO
CREATE USER [gbhm_u] FOR LOGIN [gbhm_u]
GO
CREATE USER [gbhm_x] FOR LOGIN [gbhm_x]
GO
GRANT SELECT TO [gbhm_u]
GO
GRANT EXECUTE ON SCHEMA::[hr] TO [gbhm_x]
GO
GRANT SELECT ON SCHEMA::[sys] TO [gbhm_x]
GO
"""


@pytest.fixture(scope="module")
def named_only() -> MigrationPlan:
    return plan(parse_text(NAMED_ONLY, "n.sql"), Policy())


def test_a_schema_only_a_permission_names_is_covered_too(named_only: MigrationPlan) -> None:
    assert {s.name for s in named_only.schemas} == {"dbo", "hr"}
    usage = {g.name for g in named_only.grants if g.grantee == "gbhm_u" and g.privilege == "USAGE"}
    assert usage == {"dbo", "hr"}
    defaults = {d.schema_name for d in named_only.default_privileges if d.grantee == "gbhm_u"}
    assert defaults == {"dbo", "hr"}


@pytest.mark.postgres
def test_on_postgresql_the_grantee_reads_a_table_created_later_in_that_schema(
    pg_dsn: str, target: str, named_only: MigrationPlan
) -> None:
    renamed = contoso.rename_databases(named_only, {"sales": target})
    ensure_databases(pg_dsn, renamed, create=True)
    with applied(pg_dsn, renamed, render_sql(renamed), target) as conn:
        owner = next(s.owner for s in renamed.schemas if s.name == "hr")
        conn.execute(f"SET ROLE {owner}".encode())
        conn.execute(b"CREATE TABLE hr.later (id int)")
        conn.execute(b"RESET ROLE")
        check = "SELECT has_schema_privilege('gbhm_u', 'hr', 'USAGE'), "
        check += "has_table_privilege('gbhm_u', 'hr.later', 'SELECT')"
        assert conn.execute(check.encode()).fetchone() == (True, True)
