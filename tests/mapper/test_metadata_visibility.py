"""Metadata visibility: SQL Server hides definitions from principals without VIEW DEFINITION,
PostgreSQL shows its catalogs to every role (pg_views.definition, pg_get_viewdef(),
pg_proc.prosrc). A GRANT of such a permission needs nothing; a DENY of it cannot be carried, so
it is ``approximated`` with finding GB022 instead of passing as ``not_applicable`` unnoticed.
"""

from __future__ import annotations

import pytest

from mapper.plan import Disposition, Finding, MigrationPlan
from mapper.planner import plan
from mapper.policy import Policy
from mssql_extract.tsql import parse_text

SCRIPT = """
CREATE LOGIN [dave] WITH PASSWORD = 'x-not-a-secret-1', SID = 0x01
GO
CREATE LOGIN [erin] WITH PASSWORD = 'x-not-a-secret-2', SID = 0x02
GO
DENY VIEW ANY DEFINITION TO [erin]
GO
DENY VIEW ANY DATABASE TO [public]
GO
USE [Sales]
GO
CREATE SCHEMA [s] AUTHORIZATION [dbo]
GO
CREATE TABLE [s].[t] ([id] int)
GO
CREATE USER [dave] FOR LOGIN [dave]
GO
CREATE USER [erin] FOR LOGIN [erin]
GO
CREATE ROLE [r]
GO
GRANT SELECT ON OBJECT::[s].[t] TO [dave]
GO
DENY VIEW DEFINITION ON OBJECT::[s].[t] TO [dave]
GO
DENY VIEW DEFINITION ON SCHEMA::[s] TO [r]
GO
DENY VIEW DEFINITION TO [erin]
GO
DENY VIEW DEFINITION ON ROLE::[r] TO [erin]
GO
DENY VIEW DEFINITION TO [dbo]
GO
GRANT VIEW DEFINITION ON SCHEMA::[s] TO [dave]
GO
DENY SELECT ON SCHEMA::[sys] TO [dave]
GO
DENY SELECT ON OBJECT::[INFORMATION_SCHEMA].[TABLES] TO [r]
GO
"""


@pytest.fixture(scope="module")
def migration() -> MigrationPlan:
    return plan(parse_text(SCRIPT, "v.sql"), Policy())


def _fact(migration: MigrationPlan, fact: str) -> tuple[Disposition, str, list[Finding]]:
    (found,) = [d for d in migration.dispositions if d.fact == fact]
    by_key = {f.key: f for f in migration.findings}
    return found.disposition, found.reason, [by_key[k] for k in found.findings]


@pytest.mark.parametrize(
    ("fact", "shown"),
    [
        ("Sales/perm:OBJECT:s:t:VIEW DEFINITION:deny:dave", "pg_get_viewdef()"),
        ("Sales/perm:SCHEMA:s:VIEW DEFINITION:deny:r", "pg_proc.prosrc"),
        ("Sales/perm:DATABASE:VIEW DEFINITION:deny:erin", "pg_views.definition"),
        ("Sales/perm:ROLE:r:VIEW DEFINITION:deny:erin", "pg_auth_members"),
        ("server/perm:SERVER:VIEW ANY DEFINITION:deny:erin", "pg_get_viewdef()"),
        ("server/perm:SERVER:VIEW ANY DATABASE:deny:public", "pg_database"),
        # SQL Server's catalog views: every role reads PostgreSQL's own (on_catalog)
        ("Sales/perm:SCHEMA:sys:SELECT:deny:dave", "pg_catalog"),
        ("Sales/perm:OBJECT:information_schema:tables:SELECT:deny:r", "information_schema"),
    ],
)
def test_a_deny_of_metadata_visibility_is_approximated_with_gb022(
    migration: MigrationPlan, fact: str, shown: str
) -> None:
    disposition, reason, found = _fact(migration, fact)
    assert disposition == Disposition.APPROXIMATED
    assert "GB022" in reason
    assert shown in reason
    (finding,) = found
    assert finding.rule_id == "GB022"
    assert finding.title == "Denied metadata stays visible in PostgreSQL"
    assert finding.action.startswith("Not carried: PostgreSQL shows every role ")
    assert shown in finding.action
    assert "Keep secrets" in finding.remediation


def test_a_deny_to_dbo_hides_nothing_in_sql_server_either(migration: MigrationPlan) -> None:
    """Only the DENYs that hide something in SQL Server are GB022: dbo is never denied, and SQL
    Server refuses the DENY to dbo itself (Msg 4624), which the plan reports (GB045)."""
    denied = {f.principal for f in migration.findings if f.rule_id == "GB022"}
    assert denied == {"dave", "r", "erin", "public"}
    assert not [d for d in migration.dispositions if d.fact.endswith(":deny:dbo")]
    [refused] = [f for f in migration.findings if "Msg 4624" in f.evidence]
    assert (refused.rule_id, refused.source_ref) == ("GB045", "v.sql:32:1")


def test_a_grant_of_view_definition_needs_nothing_and_says_why(migration: MigrationPlan) -> None:
    disposition, reason, _ = _fact(migration, "Sales/perm:SCHEMA:s:VIEW DEFINITION:grant:dave")
    assert disposition == Disposition.NOT_APPLICABLE
    assert "pg_get_viewdef()" in reason
    assert "a DENY of it cannot be carried (GB022)" in reason
