"""Review outputs on contoso: golden report.md and diff Markdown, before and after a change.

The change is what a pull request would carry: a role added (a script edit), a DENY removed
(a script edit) and the db_owner over-grant of ``sales_app`` (GB001) accepted in the policy.
"""

from __future__ import annotations

import shutil
from functools import cache
from pathlib import Path

from mapper.plan import MigrationPlan
from mapper.planner import plan
from mapper.policy import AcceptedOvergrant, Overgrants, Policy
from mssql_extract.tsql import extract_scripts
from pg_emit.diff import diff_plans
from pg_emit.diff_markdown import render_diff_markdown
from pg_emit.report import render_report
from tests.conftest import CONTOSO, check_golden

DENY = "DENY SELECT ON OBJECT::[sales].[CustomerCards] TO [sales_staff]\nGO\n"
NEW_ROLE = (
    "CREATE ROLE [sales_auditors] AUTHORIZATION [dbo]\nGO\n"
    "ALTER ROLE [sales_auditors] ADD MEMBER [CONTOSO\\mgarcia]\nGO\n"
    "GRANT SELECT ON OBJECT::[sales].[Orders] TO [sales_auditors]\nGO\n"
)
ACCEPTED = AcceptedOvergrant(
    principal="sales_app", rule="GB001",
    reason="CHG-1234: the order service runs its own migrations until Q3",
)  # fmt: skip


def _plan(estate: Path, policy: Policy) -> MigrationPlan:
    snapshot = extract_scripts([estate], relative_to=estate.parent, include_definitions=True)
    return plan(snapshot, policy)


@cache
def _base() -> MigrationPlan:
    return _plan(CONTOSO, Policy())


def _changed(tmp_path: Path) -> MigrationPlan:
    estate = tmp_path / "contoso"
    shutil.copytree(CONTOSO, estate)
    sales = estate / "10_sales.sql"
    text = sales.read_text(encoding="utf-8")
    assert DENY in text
    sales.write_text(text.replace(DENY, "") + NEW_ROLE, encoding="utf-8")
    policy = Policy(overgrants=Overgrants(accepted=(ACCEPTED,)))
    return _plan(estate, policy)


def test_contoso_report_matches_golden(update_golden: bool) -> None:
    check_golden("review/contoso/report.md", render_report(_base()), update_golden)


def test_changed_contoso_report_and_diff_match_golden(tmp_path: Path, update_golden: bool) -> None:
    changed = _changed(tmp_path)
    check_golden("review/contoso/changed/report.md", render_report(changed), update_golden)
    diff = diff_plans(_base(), changed)
    check_golden("review/contoso/changed/diff.md", render_diff_markdown(diff), update_golden)
    assert "sales_sales_auditors" in {r.name for r in diff.roles_added}
    assert any(c.new.rule_id == "GB001" for c in diff.findings_newly_accepted)
    assert any(f.rule_id == "GB020" for f in diff.findings_resolved)  # the DENY's restructuring
    # the mapper's own derived-role source names the base role the diff counts churn under
    assert [(d.name, d.base) for d in diff.derived_roles] == [
        ("sales_sales_readers_minus_sales_sales_staff", "sales_sales_readers")
    ]
