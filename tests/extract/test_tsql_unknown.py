"""A statement grantbridge does not know (a misspelled ``GRNAT``, ``CREATE LOGN``) is kept as
skipped with a reason the plan reports (GB045), never read as one without a security effect;
the T-SQL it knows but does not need stays quiet."""

from __future__ import annotations

import pytest

from mapper.planner import plan
from mapper.policy import Policy
from mapper.translate.skipped import harmless
from mssql_extract.snapshot import Skipped
from mssql_extract.tsql.statements import UNKNOWN_STATEMENT
from tests.extract.tsql_helpers import snap

U = "USE d\nGO\nCREATE TABLE dbo.t (id int);\nCREATE ROLE r;\n"


def _skipped(sql: str) -> dict[str, Skipped]:
    return {x.text or "": x for x in snap(U + sql).skipped}


@pytest.mark.parametrize(
    "statement",
    ["GRNAT SELECT ON dbo.t TO r", "FOO BAR BAZ", "CREATE LOGN [x]", "ALTER USR r WITH NAME = q"],
)
def test_an_unknown_statement_is_kept_with_a_reason_that_is_reported(statement: str) -> None:
    skipped = _skipped(statement + ";\n")
    assert skipped[statement].reason == UNKNOWN_STATEMENT
    assert not harmless(skipped[statement])


@pytest.mark.parametrize(
    "statement",
    [
        "CREATE NONCLUSTERED INDEX ix ON dbo.t (id)",  # one sqlglot token: NONCLUSTERED INDEX
        "CREATE UNIQUE CLUSTERED INDEX ix ON dbo.t (id)",
        "ALTER INDEX ix ON dbo.t REBUILD",
        "DROP STATISTICS dbo.t.s",
        "DECLARE @x int",
        "TRUNCATE TABLE dbo.t",
        "UPDATE STATISTICS dbo.t",
        "RETURN",
    ],
)
def test_known_statements_without_a_security_effect_stay_quiet(statement: str) -> None:
    skipped = _skipped(statement + ";\n")
    assert skipped, "the statement is kept as skipped"
    assert all(harmless(x) for x in skipped.values()), skipped


def test_a_label_is_not_an_unknown_statement() -> None:
    skipped = _skipped("again:\nSELECT 1;\n")
    assert all(harmless(x) for x in skipped.values()), skipped


def test_the_plan_reports_an_unknown_statement_as_gb045() -> None:
    planned = plan(snap(U + "GRNAT SELECT ON dbo.t TO r;\n"), Policy())
    found = [f for f in planned.findings if f.rule_id == "GB045" and "GRNAT" in f.evidence]
    assert len(found) == 1
    assert found[0].source_ref is not None
    assert found[0].source_ref.endswith(":5:1") or ":5" in found[0].source_ref
