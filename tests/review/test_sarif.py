"""findings.sarif: valid against the official SARIF 2.1.0 schema, locations, suppressions."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from mapper.plan import Severity
from pg_emit.sarif import parse_source_ref, render_sarif
from tests.review import plans

SCHEMA = json.loads(
    (Path(__file__).resolve().parents[1] / "data" / "sarif-schema-2.1.0.json").read_text("utf-8")
)


def results(log: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {r["ruleId"]: r for r in log["runs"][0]["results"]}


@pytest.mark.parametrize(
    "build", [plans.sales_plan, plans.changed_sales_plan, plans.hostile_plan, plans.plan]
)
def test_sarif_validates_against_the_official_schema(build: Any) -> None:
    log = json.loads(render_sarif(build()))
    jsonschema.Draft7Validator(SCHEMA).validate(log)
    assert log["version"] == "2.1.0"
    assert log["runs"][0]["tool"]["driver"]["name"] == "grantbridge"


def test_schema_rejects_a_broken_log() -> None:
    """The validator really checks: a result level outside the enum is refused."""
    log = json.loads(render_sarif(plans.sales_plan()))
    log["runs"][0]["results"][0]["level"] = "fatal"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.Draft7Validator(SCHEMA).validate(log)


def test_rules_and_levels_follow_severity() -> None:
    log = json.loads(render_sarif(plans.sales_plan()))
    rules = {r["id"]: r for r in log["runs"][0]["tool"]["driver"]["rules"]}
    assert sorted(rules) == ["GB001", "GB010", "GB020", "GB030"]
    assert rules["GB010"]["defaultConfiguration"]["level"] == "error"
    assert rules["GB020"]["defaultConfiguration"]["level"] == "warning"
    assert rules["GB030"]["defaultConfiguration"]["level"] == "note"
    assert rules["GB001"]["shortDescription"]["text"] == "db_owner membership downscoped"
    assert rules["GB001"]["help"]["text"].startswith("Accept in the policy")
    for result in log["runs"][0]["results"]:
        assert (
            log["runs"][0]["tool"]["driver"]["rules"][result["ruleIndex"]]["id"] == result["ruleId"]
        )


def test_script_sources_get_physical_locations_others_logical() -> None:
    by_rule = results(json.loads(render_sarif(plans.sales_plan())))
    physical = by_rule["GB010"]["locations"][0]["physicalLocation"]
    assert physical == {
        "artifactLocation": {"uri": "security/server.sql"},
        "region": {"startLine": 3, "startColumn": 1},
    }
    logical = by_rule["GB020"]["locations"][0]["logicalLocations"][0]
    assert logical["fullyQualifiedName"].startswith("sys.database_permissions[")


def test_accepted_findings_are_suppressed_with_the_policy_reason() -> None:
    by_rule = results(json.loads(render_sarif(plans.changed_sales_plan())))
    assert by_rule["GB001"]["suppressions"] == [
        {"kind": "external", "justification": "Approved baseline CHG-1042"}
    ]
    assert "suppressions" not in by_rule["GB002"]


def test_fingerprints_are_stable_and_follow_the_finding_key() -> None:
    before = results(json.loads(render_sarif(plans.sales_plan())))
    after = results(json.loads(render_sarif(plans.changed_sales_plan())))
    # db_owner was accepted between the two plans: same finding, same fingerprint.
    assert before["GB001"]["partialFingerprints"] == after["GB001"]["partialFingerprints"]
    assert before["GB001"]["partialFingerprints"] != before["GB010"]["partialFingerprints"]


def test_sarif_is_deterministic_canonical_json() -> None:
    text = render_sarif(plans.sales_plan())
    assert text == render_sarif(plans.sales_plan())
    assert text == json.dumps(json.loads(text), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


@pytest.mark.parametrize(
    ("source_ref", "uri", "line", "column"),
    [
        ("security/sales.sql:12", "security/sales.sql", 12, None),
        ("./db/x.sql:3:7", "db/x.sql", 3, 7),
        ("db\\security\\hr.sql:40", "db/security/hr.sql", 40, None),
        ("dir with space/x|y.sql:7", "dir%20with%20space/x%7Cy.sql", 7, None),
        ("sys.database_permissions[Sales/perm:1]", None, None, None),
        ("sys.server_principals[sa]", None, None, None),
        ("file.sql", None, None, None),
        ("file.sql:0", None, None, None),
        (None, None, None, None),
    ],
)
def test_parse_source_ref(
    source_ref: str | None, uri: str | None, line: int | None, column: int | None
) -> None:
    parsed = parse_source_ref(source_ref)
    if uri is None:
        assert parsed is None
    else:
        assert parsed is not None
        assert (parsed.uri, parsed.line, parsed.column) == (uri, line, column)


def test_rule_level_is_the_worst_of_its_findings() -> None:
    findings = (
        plans.finding("GB050", Severity.LOW, "a", principal="x"),
        plans.finding("GB050", Severity.CRITICAL, "b", principal="y"),
    )
    log = json.loads(render_sarif(plans.plan(findings=findings)))
    rule = log["runs"][0]["tool"]["driver"]["rules"][0]
    assert rule["defaultConfiguration"]["level"] == "error"
    assert rule["properties"]["security-severity"] == "9.5"
    assert [r["level"] for r in log["runs"][0]["results"]] == ["note", "error"]


def test_a_log_past_code_scannings_limit_keeps_the_worst_and_counts_the_rest() -> None:
    findings = (
        *(plans.finding("GB040", Severity.LOW, "low", principal=f"p{n}") for n in range(4)),
        plans.finding("GB002", Severity.CRITICAL, "critical", principal="dba"),
        plans.finding("GB001", Severity.HIGH, "high, accepted", principal="app", accepted=True),
        plans.finding("GB013", Severity.MEDIUM, "medium", principal="m"),
    )
    log = json.loads(render_sarif(plans.plan(findings=findings), max_results=3))
    jsonschema.Draft7Validator(SCHEMA).validate(log)
    run = log["runs"][0]
    # open before accepted, worst first: the critical, the medium, then the first low by key
    kept = [(r["ruleId"], r["message"]["text"].split(":")[0]) for r in run["results"]]
    assert [rule for rule, _ in kept] == ["GB002", "GB013", "GB040"]
    (invocation,) = run["invocations"]
    (note,) = invocation["toolExecutionNotifications"]
    assert note["message"]["text"].startswith(
        "4 of 7 findings are left out (1 high, 3 low): code scanning rejects more than 3"
    )
    one = json.loads(render_sarif(plans.plan(findings=findings), max_results=6))["runs"][0]
    (note,) = one["invocations"][0]["toolExecutionNotifications"]
    assert note["message"]["text"].startswith("1 of 7 findings is left out (1 high): ")
    assert "invocations" not in json.loads(render_sarif(plans.plan(findings=findings)))["runs"][0]
