"""What the extractor could not read reaches the plan, the report and SARIF (DESIGN §2.1),
and so do module bodies it was not asked to keep."""

from __future__ import annotations

import json

from mapper.plan import Finding, MigrationPlan
from mapper.planner import plan
from mapper.policy import Policy
from mssql_extract.snapshot import ObjectKind, Skipped, SourceRef
from mssql_extract.tsql import parse_text
from pg_emit.report import render_report
from pg_emit.sarif import render_sarif
from tests.mapper.estate import database, login, snapshot, table

SCRIPT = """\
CREATE LOGIN app WITH PASSWORD = 'Pw-Secret#1'
GO
USE Sales
GO
CREATE USER app FOR LOGIN app
GRANT SELECT ON dbo.Orders TO app
GRANT SELEKT ON dbo.Orders TO app
EXEC (@grant_sql)
ALTER DATABASE Sales SET RECOVERY SIMPLE
"""


def _found(p: MigrationPlan, rule_id: str) -> list[Finding]:
    return [f for f in p.findings if f.rule_id == rule_id]


def test_unreadable_database_is_a_high_finding_in_report_and_sarif() -> None:
    skipped = Skipped(kind="database", reason="The server principal is not able to access it",
                      text="HR", source_ref=SourceRef(origin="catalog.json", key="databases[1]"))  # fmt: skip
    p = plan(snapshot(database(), logins=(login("app"),), skipped=(skipped,)), Policy())
    [finding] = _found(p, "GB044")
    assert finding.severity == "high"
    assert finding.securable == "DATABASE HR"
    assert "not able to access" in finding.evidence
    report = render_report(p)
    assert "Source database not read" in report
    assert "DATABASE HR" in report
    results = json.loads(render_sarif(p))["runs"][0]["results"]
    assert any(r["ruleId"] == "GB044" for r in results)


def test_lenient_parse_errors_and_unread_dynamic_sql_are_findings() -> None:
    snap = parse_text(SCRIPT, "estate.sql", lenient=True)
    p = plan(snap, Policy())
    found = {(f.source_ref, f.evidence.split(":")[0]) for f in _found(p, "GB045")}
    refs = {ref for ref, _ in found}
    assert any(ref and ref.startswith("estate.sql:7") for ref in refs)  # GRANT SELEKT
    assert any(ref and ref.startswith("estate.sql:8") for ref in refs)  # EXEC (@grant_sql)
    assert not any(ref and ref.startswith("estate.sql:9") for ref in refs)  # harmless: no finding
    assert len(found) == 2
    report = render_report(p)
    assert "Source statement or row not read" in report
    assert "Pw-Secret#1" not in report + render_sarif(p) + p.to_json()


def test_modules_without_bodies_are_one_finding_per_database() -> None:
    """The extractor keeps module bodies only with --include-definitions; without them the
    module analysis cannot run, and the plan says so once per database (GB309)."""
    procedure = table("dbo", "usp_Report", kind=ObjectKind.PROCEDURE)
    with_body = procedure.model_copy(
        update={"definition": "CREATE PROCEDURE dbo.usp_Report AS SELECT 1"}
    )
    without = plan(snapshot(database(objects=(procedure,)), logins=(login("app"),)), Policy())
    [finding] = _found(without, "GB309")
    assert finding.severity == "medium"
    assert "1 of 1" in finding.evidence
    assert "dbo.usp_Report" in finding.evidence
    assert finding.securable == "DATABASE Sales"
    with_bodies = plan(snapshot(database(objects=(with_body,)), logins=(login("app"),)), Policy())
    assert _found(with_bodies, "GB309") == []


def test_a_statement_replayed_in_an_unreadable_if_branch_says_it_is_in_the_plan() -> None:
    """The extractor replays both branches of an IF whose condition it cannot evaluate, and
    keeps each statement as a skipped entry too: the finding must say the grant *is* planned
    (and may be wrong), not that the statement was not read."""
    script = """\
CREATE LOGIN app WITH PASSWORD = 'Pw-Secret#1'
GO
USE Sales
GO
CREATE TABLE dbo.Orders (id int)
CREATE USER app FOR LOGIN app
IF (SELECT COUNT(*) FROM dbo.Orders) > 0
  GRANT SELECT ON dbo.Orders TO app
"""
    p = plan(parse_text(script, "s.sql"), Policy())
    [finding] = [f for f in _found(p, "GB045") if "GRANT SELECT" in f.evidence]
    assert finding.action.startswith("In the plan, though the script may not run it")
    assert ("TABLE", "orders", "SELECT") in {
        (g.object_type, g.name.casefold(), g.privilege) for g in p.grants if g.grantee == "app"
    }
