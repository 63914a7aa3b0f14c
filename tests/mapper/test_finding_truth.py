"""Findings say what the plan did for their fact, where the source did it, and rate what matters.

Grants to a grantee (GB007 grant option, GB008 public, GB009 guest) must not say "Granted" when
their fact granted nothing (``not_applicable``) or nothing of its own (``implied``); SQL
Server's own grants to public are info, not medium over-grants; a finding on a login, a
row-level security policy or a masked column carries the source location of its fact; a Windows
group mapped to an AD group is a group role, not a login role.
"""

from __future__ import annotations

import contextlib

import pytest

from mapper.plan import AuthMethod, Disposition, MigrationPlan, RoleKind, Severity
from mapper.planner import plan
from mapper.policy import Policy
from mssql_extract import tsql
from mssql_extract.catalog import snapshot_from_rows
from mssql_extract.tsql import parse_text
from pg_emit.report import render_report
from tests.conftest import CONTOSO, ROOT
from tests.extract_sources.support import load_rows

GRANTEE_RULES = ("GB007", "GB008", "GB009")


@pytest.fixture(scope="module")
def catalog_plan() -> MigrationPlan:
    return plan(snapshot_from_rows(load_rows()), Policy())


@pytest.fixture(scope="module")
def script_plan() -> MigrationPlan:
    with contextlib.chdir(ROOT):  # relative source references, as in the golden plan
        snapshot = tsql.extract_scripts([CONTOSO.relative_to(ROOT)])
    return plan(snapshot, Policy())


def _grantee_findings(migration: MigrationPlan) -> list[tuple[Disposition, tuple[str, ...], str]]:
    """(disposition, items, action) of every GB007 / GB008 / GB009 finding, by its fact."""
    by_key = {f.key: f for f in migration.findings}
    return [
        (fact.disposition, fact.items, by_key[key].action)
        for fact in migration.dispositions
        for key in fact.findings
        if key.split(":", 1)[0] in GRANTEE_RULES
    ]


@pytest.mark.parametrize("source", ["catalog_plan", "script_plan"])
def test_a_grantee_finding_says_granted_only_when_its_fact_granted(
    source: str, request: pytest.FixtureRequest
) -> None:
    migration: MigrationPlan = request.getfixturevalue(source)
    seen = _grantee_findings(migration)
    assert seen
    for disposition, items, action in seen:
        granted = bool(items) and disposition in (Disposition.MAPPED, Disposition.APPROXIMATED)
        assert action.startswith("Granted") == granted, (disposition, items, action)


def test_sql_server_default_grants_to_public_are_info(catalog_plan: MigrationPlan) -> None:
    public = [f for f in catalog_plan.findings if f.rule_id == "GB008"]
    defaults = [f for f in public if f.severity == Severity.INFO]
    # VIEW ANY DATABASE, CONNECT on the four TSQL endpoints, and the two Always Encrypted
    # metadata permissions in each of the three databases
    assert len(defaults) == 11
    assert all(f.action.startswith("Nothing granted: ") for f in defaults)
    assert all("SQL Server grants this to public by default" in f.action for f in defaults)
    # the estate's own grants to public stay medium
    assert {f.securable for f in public if f.severity == Severity.MEDIUM} == {
        "OBJECT dbo Currency", "OBJECT dbo Departments", "OBJECT dbo fn_FormatMoney",
        "OBJECT rpt fn_FiscalYear",
    }  # fmt: skip


def test_database_wide_findings_name_their_database(catalog_plan: MigrationPlan) -> None:
    database_wide = [
        f.securable for f in catalog_plan.findings
        if f.rule_id in GRANTEE_RULES and (f.securable or "").startswith("DATABASE")
    ]  # fmt: skip
    assert "DATABASE" not in database_wide
    assert {"DATABASE HR", "DATABASE Reporting", "DATABASE Sales"} <= set(database_wide)


SCRIPT = """
CREATE LOGIN [app] WITH PASSWORD = 'x-not-a-secret-1', SID = 0x01
GO
USE [Sales]
GO
CREATE TABLE dbo.T (id int)
GO
CREATE USER [app] FOR LOGIN [app]
GO
CREATE ROLE [editors]
GO
GRANT SELECT ON dbo.T TO [editors] WITH GRANT OPTION
GO
GRANT VIEW DEFINITION TO [public]
GO
GRANT VIEW ANY COLUMN MASTER KEY DEFINITION TO [public] WITH GRANT OPTION
GO
"""


@pytest.fixture(scope="module")
def small_plan() -> MigrationPlan:
    return plan(parse_text(SCRIPT, "s.sql"), Policy())


def test_grant_option_to_a_database_role(small_plan: MigrationPlan) -> None:
    (finding,) = [
        f for f in small_plan.findings if f.rule_id == "GB007" and f.principal == "editors"
    ]
    assert finding.title == "Granted WITH GRANT OPTION"
    assert finding.action == "Granted without the grant option."
    assert finding.source_ref == "s.sql:12:1"


def test_grant_to_public_that_is_no_default_stays_medium(small_plan: MigrationPlan) -> None:
    public = {f.evidence: f for f in small_plan.findings if f.rule_id == "GB008"}
    chosen = public["GRANT VIEW DEFINITION ON DATABASE TO [public]"]
    assert chosen.severity == Severity.MEDIUM
    assert chosen.securable == "DATABASE Sales"
    assert chosen.action.startswith("Nothing granted: ")
    # a default permission, but WITH GRANT OPTION: not what SQL Server does by itself
    option = public["GRANT VIEW ANY COLUMN MASTER KEY DEFINITION ON DATABASE TO [public]"]
    assert option.severity == Severity.MEDIUM


def test_a_reason_opening_with_a_name_keeps_its_capital(small_plan: MigrationPlan) -> None:
    public = {f.evidence: f for f in small_plan.findings if f.rule_id == "GB008"}
    action = public["GRANT VIEW DEFINITION ON DATABASE TO [public]"].action
    assert action.startswith("Nothing granted: PostgreSQL shows every role"), action


def test_grant_option_whose_grant_the_role_inherits(script_plan: MigrationPlan) -> None:
    (finding,) = [
        f for f in script_plan.findings
        if f.rule_id == "GB007" and f.principal == "sales_managers"
    ]  # fmt: skip
    assert finding.action.startswith("Nothing granted of its own: ")
    assert "sales_sales_readers_minus_sales_sales_staff" in finding.action
    assert finding.action.endswith("The grant option is not carried over.")


def _fact_ref(migration: MigrationPlan, fact: str) -> str:
    return next(d.source_ref for d in migration.dispositions if d.fact == fact)


@pytest.mark.parametrize(
    ("source", "rule", "principal", "fact"),
    [
        ("script_plan", "GB030", "sales_app", "server/login:sales_app"),
        ("script_plan", "GB033", "CONTOSO\\jdoe", "server/login:contoso\\jdoe"),
        ("catalog_plan", "GB030", "sales_app", "server/login:sales_app"),
        ("catalog_plan", "GB032", "CONTOSO\\DBAs", "server/login:contoso\\dbas"),
        ("catalog_plan", "GB033", "CONTOSO\\jdoe", "server/login:contoso\\jdoe"),
    ],
)
def test_login_findings_carry_the_login_source(
    source: str, rule: str, principal: str, fact: str, request: pytest.FixtureRequest
) -> None:
    migration: MigrationPlan = request.getfixturevalue(source)
    (finding,) = [f for f in migration.findings if (f.rule_id, f.principal) == (rule, principal)]
    assert finding.source_ref
    assert finding.source_ref == _fact_ref(migration, fact)


def test_row_security_and_masking_findings_carry_their_fact_source(
    script_plan: MigrationPlan,
) -> None:
    by_rule = {f.rule_id: f for f in script_plan.findings if f.rule_id in ("GB320", "GB330")}
    sales = "fixtures/estates/contoso/10_sales.sql"
    assert by_rule["GB320"].source_ref == f"{sales}:214:1"
    assert by_rule["GB330"].source_ref == f"{sales}:96:1"
    facts = {d.source_ref for d in script_plan.dispositions if d.kind == "masked_column"}
    assert f"{sales}:96:1" in facts


def test_windows_groups_are_group_roles(catalog_plan: MigrationPlan) -> None:
    groups = [r for r in catalog_plan.roles if r.auth == AuthMethod.AD_GROUP]
    assert {r.source for r in groups} == {"login [CONTOSO\\DBAs]", "login [CONTOSO\\Analysts]"}
    assert all(r.kind == RoleKind.GROUP and not r.login for r in groups)
    logins = sum(1 for r in catalog_plan.roles if r.kind == RoleKind.LOGIN)
    report = render_report(catalog_plan)
    assert f"({logins} login, " in report
    assert all(r.auth != AuthMethod.AD_GROUP for r in catalog_plan.roles if r.kind == "login")


GB003_SCRIPT = """
CREATE LOGIN [svc] WITH PASSWORD = 'x-not-a-secret-1', SID = 0x02
GO
GRANT CONTROL SERVER TO [svc]
GO
USE [Sales]
GO
CREATE SCHEMA [s] AUTHORIZATION [dbo]
GO
CREATE USER [svc] FOR LOGIN [svc]
GO
GRANT CONTROL ON SCHEMA::[s] TO [svc]
GO
GRANT CONTROL TO [svc]
GO
"""


def test_gb003_title_names_every_securable_it_is_raised_on() -> None:
    """GB003 is raised for CONTROL on a schema too, not only on a database or the server."""
    migration = plan(parse_text(GB003_SCRIPT, "c.sql"), Policy())
    raised = {f.securable: f.title for f in migration.findings if f.rule_id == "GB003"}
    assert set(raised) == {"SERVER", "DATABASE", "SCHEMA s"}
    for securable, title in raised.items():
        assert securable.split()[0].lower() in title, (securable, title)
