"""Application roles: a NOLOGIN role with the application role's grants, and finding GB017.

SQL Server activates an application role with ``sp_setapprole`` and its password; PostgreSQL
has neither, and the snapshot does not say which applications call it, so after the migration
no login reaches the role's privileges. The fact is ``approximated`` and GB017 says what to do:
grant the role to the application's login role without inheritance and ``SET ROLE`` to it.
"""

from __future__ import annotations

import pytest

from mapper.plan import Disposition, MigrationPlan, Severity
from mapper.planner import plan
from mapper.policy import Policy
from mssql_extract.tsql import parse_text
from pg_emit.render import render_sql
from pg_emit.verify import applied, ensure_databases
from tests.emit import contoso

SCRIPT = """
CREATE LOGIN [gb17_app] WITH PASSWORD = 'x-not-a-secret-1', SID = 0x01
GO
USE [Sales]
GO
CREATE USER [gb17_app] FOR LOGIN [gb17_app]
GO
CREATE SCHEMA [s] AUTHORIZATION [dbo]
GO
CREATE TABLE [s].[t] ([id] int)
GO
CREATE APPLICATION ROLE [gb17_payroll] WITH PASSWORD = N'x-not-a-secret-2'
GO
GRANT SELECT ON OBJECT::[s].[t] TO [gb17_payroll]
GO
"""


@pytest.fixture(scope="module")
def migration() -> MigrationPlan:
    return plan(parse_text(SCRIPT, "a.sql"), Policy())


def test_an_application_role_is_approximated_with_gb017(migration: MigrationPlan) -> None:
    (fact,) = [d for d in migration.dispositions if d.kind == "application_role"]
    assert fact.disposition == Disposition.APPROXIMATED
    assert "role:gb17_payroll" in fact.items
    (finding,) = [f for f in migration.findings if f.rule_id == "GB017"]
    assert fact.findings == (finding.key,)
    assert finding.severity == Severity.HIGH
    assert finding.principal == "gb17_payroll"
    assert finding.source_ref == fact.source_ref == "a.sql:12:1"
    assert "sp_setapprole" in finding.evidence
    assert "no members" in finding.action
    assert "password is not carried" in finding.action
    assert "SET ROLE" in finding.remediation
    # the statements name the plan's role and database (tests/modules/test_advice_sql.py runs
    # them with names that need quoting)
    assert "GRANT gb17_payroll TO <login> WITH INHERIT FALSE" in finding.action
    assert "in database sales: SET ROLE gb17_payroll." in finding.action
    # its grants are planned, and no login is made a member of it
    assert ("gb17_payroll", "SELECT") in {(g.grantee, g.privilege) for g in migration.grants}
    assert not [m for m in migration.memberships if m.role == "gb17_payroll"]


@pytest.mark.postgres
def test_the_remediation_gives_the_application_the_role_on_postgresql(
    pg_dsn: str, target: str, migration: MigrationPlan
) -> None:
    """GB017's remedy on PostgreSQL 15 (NOINHERIT login role, membership, SET ROLE): the login
    holds nothing of the role until it sets it, then what sp_setapprole would give."""
    (finding,) = [f for f in migration.findings if f.rule_id == "GB017"]
    assert "NOINHERIT" in finding.action  # PostgreSQL 15's way, run below
    renamed = contoso.rename_databases(migration, {"sales": target})
    ensure_databases(pg_dsn, renamed, create=True)
    with applied(pg_dsn, renamed, render_sql(renamed), target) as conn:
        check = "SELECT has_table_privilege(%s, 's.t', 'SELECT')"
        assert conn.execute(check, ["gb17_app"]).fetchone() == (False,)
        conn.execute("ALTER ROLE gb17_app NOINHERIT")
        conn.execute("GRANT gb17_payroll TO gb17_app")
        assert conn.execute(check, ["gb17_app"]).fetchone() == (False,)
        conn.execute("SET ROLE gb17_app")
        conn.execute("SET ROLE gb17_payroll")
        assert conn.execute("SELECT count(*) FROM s.t").fetchone() == (0,)
        conn.execute("RESET ROLE")
