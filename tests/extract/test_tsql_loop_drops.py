"""A DROP or an owner change in a WHILE loop's body: replayed once, and said to be in the loop.

Such a statement keeps a skipped item of its own, listing the permissions it dropped
(``mssql_extract/tsql/dropped.py``). That item used to read as a precise result ("these
earlier statements are not in the plan") and the loop went unreported, as if its body had
replayed nothing. The script may run the body never (the permissions stand) or many times:
the item now says the statement is in the loop, the loop is reported at its WHILE, and the
plan's action says to check the server.
"""

from __future__ import annotations

import pytest

from mapper.planner import plan
from mapper.policy import Policy
from mapper.translate.skipped import DROPPED, REPLAYED
from tests.extract.tsql_helpers import perms, snap

SETUP = (
    "USE d\nGO\nCREATE TABLE t (a int)\nCREATE ROLE r\nCREATE USER x WITHOUT LOGIN\n"  # 1-5
    "GRANT SELECT ON t TO r\nGRANT IMPERSONATE ON USER::x TO r\n"  # lines 6, 7
)
IN_LOOP = "in the body of the WHILE loop at t.sql:8:1"


def _by_line(sql: str) -> dict[int | None, str]:
    return {x.source_ref.line: x.reason for x in snap(sql).skipped}


@pytest.mark.parametrize(
    ("body", "listed"),
    [
        ("ALTER AUTHORIZATION ON OBJECT::t TO x", "GRANT SELECT ON OBJECT::[dbo].[t] TO [r]"),
        ("DROP USER x", "GRANT IMPERSONATE ON USER::[x] TO [r]"),
        ("ALTER SCHEMA s TRANSFER dbo.t", "GRANT SELECT ON OBJECT::[dbo].[t] TO [r]"),
    ],
    ids=["new-owner", "drop-user", "transfer"],
)
def test_a_dropping_statement_in_a_loop_says_so_and_the_loop_is_reported(
    body: str, listed: str
) -> None:
    s = snap(SETUP + f"WHILE @@FETCH_STATUS = 0\nBEGIN\n    {body}\nEND\n")
    reasons = {x.source_ref.line: x for x in s.skipped}
    assert sorted(reasons) == [8, 10]
    assert reasons[8].reason.startswith(REPLAYED)  # the loop, at its WHILE
    assert reasons[8].text == "WHILE @@FETCH_STATUS = 0"
    dropped = reasons[10]
    assert dropped.reason.startswith(DROPPED)
    assert IN_LOOP in dropped.reason
    assert "may run it never, or many times" in dropped.reason
    assert dropped.text.startswith(listed)


def test_the_same_statement_outside_a_loop_says_nothing_of_loops() -> None:
    reasons = _by_line(SETUP + "DROP USER x\n")
    assert list(reasons) == [8]
    assert "WHILE" not in reasons[8]


def test_a_drop_in_a_nested_loop_reports_both_loops() -> None:
    reasons = _by_line(
        SETUP + "WHILE @a < 2\nBEGIN\n  WHILE @b < 2\n  BEGIN\n    DROP USER x\n  END\nEND\n"
    )
    assert sorted(reasons) == [8, 10, 12]
    assert reasons[8].startswith(REPLAYED)
    assert reasons[10].startswith(REPLAYED)
    assert "in the body of the WHILE loop at t.sql:10:3" in reasons[12]  # the innermost


def test_the_replay_still_drops_them_once() -> None:
    s = snap(SETUP + "WHILE @i < 3 DROP USER x\n")
    assert perms(s) == {("OBJECT", "dbo", "t", None, "SELECT", "G", "r")}


def test_the_plan_says_to_check_the_server() -> None:
    s = snap(SETUP + "WHILE @@FETCH_STATUS = 0\nBEGIN\n    DROP USER x\nEND\n")
    findings = {f.source_ref: f for f in plan(s, Policy()).findings if f.rule_id == "GB045"}
    assert sorted(findings) == ["t.sql:10:5", "t.sql:8:1"]
    dropped = findings["t.sql:10:5"]
    assert IN_LOOP in dropped.evidence
    assert dropped.action.endswith(
        "The statement is in a loop or a branch the script may not run: check on the server "
        "whether these permissions are still there."
    )
    assert findings["t.sql:8:1"].action.startswith("In the plan")


def test_outside_a_loop_the_plan_action_is_unchanged() -> None:
    [finding] = [f for f in plan(snap(SETUP + "DROP USER x\n"), Policy()).findings
                 if f.rule_id == "GB045"]  # fmt: skip
    assert finding.action.endswith("and extract again.")
