"""The planner on the example estate: dispositions complete, findings present, golden plan."""

from __future__ import annotations

import contextlib

import pytest

from mapper.plan import MigrationPlan
from mapper.planner import plan
from mapper.policy import Policy
from mapper.translate.dispositions import source_facts
from mssql_extract import tsql
from mssql_extract.snapshot import SecuritySnapshot
from tests.conftest import CONTOSO, ROOT, check_golden


@pytest.fixture(scope="module")
def contoso() -> SecuritySnapshot:
    # relative paths, so source references in the golden plan do not depend on the checkout
    with contextlib.chdir(ROOT):
        snapshot: SecuritySnapshot = tsql.extract_scripts([CONTOSO.relative_to(ROOT)])
    return snapshot


@pytest.fixture(scope="module")
def contoso_plan(contoso: SecuritySnapshot) -> MigrationPlan:
    return plan(contoso, Policy())


def test_every_fact_has_one_disposition(
    contoso: SecuritySnapshot, contoso_plan: MigrationPlan
) -> None:
    assert sorted(d.fact for d in contoso_plan.dispositions) == sorted(source_facts(contoso))


def test_plan_is_byte_identical_across_runs(
    contoso: SecuritySnapshot, contoso_plan: MigrationPlan
) -> None:
    assert plan(contoso, Policy()).to_json() == contoso_plan.to_json()


#: (rule, principal as the estate spells it, what it is) — each over-grant the estate contains
EXPECTED = [
    ("GB001", "sales_app", "db_owner application login"),
    ("GB002", "CONTOSO\\DBAs", "sysadmin group"),
    ("GB004", "CONTOSO\\jdoe", "securityadmin"),
    ("GB010", "legacy_crm", "CHECK_POLICY OFF"),
    ("GB012", "sa", "TRUSTWORTHY with a sysadmin owner"),
    ("GB008", "public", "grant to public"),
    ("GB009", None, "guest"),
    ("GB007", None, "WITH GRANT OPTION"),
    ("GB006", "svc_reporting", "IMPERSONATE"),
    ("GB013", None, "orphaned user"),
    ("GB014", "old_vendor", "disabled login with permissions"),
]


@pytest.mark.parametrize(("rule", "principal", "what"), EXPECTED, ids=[e[2] for e in EXPECTED])
def test_each_overgrant_has_its_finding(
    contoso_plan: MigrationPlan, rule: str, principal: str | None, what: str
) -> None:
    hits = [f for f in contoso_plan.findings if f.rule_id == rule]
    if principal is not None:
        hits = [f for f in hits if (f.principal or "").casefold() == principal.casefold()]
    assert hits, f"no {rule} finding for {what}"


def test_golden_plan(contoso_plan: MigrationPlan, update_golden: bool) -> None:
    check_golden("contoso/plan.json", contoso_plan.to_json(), update_golden)
