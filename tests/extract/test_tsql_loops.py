"""WHILE: a loop's body is replayed once, as before, and a loop whose body replayed anything is
reported once, at the WHILE (GB045, "in the plan"), like an IF branch that cannot be evaluated."""

from __future__ import annotations

import pytest

from mapper.planner import plan
from mapper.policy import Policy
from mapper.translate.skipped import REPLAYED, harmless
from tests.extract.tsql_helpers import db, perms, snap

U = "USE d\nGO\nCREATE ROLE r\n"

#: The usual shape: a cursor over the tables, a GRANT in the body (lines 4-13 of the script).
CURSOR_LOOP = (
    U
    + """DECLARE @t sysname
DECLARE tables CURSOR FOR SELECT name FROM sys.tables
OPEN tables
FETCH NEXT FROM tables INTO @t
WHILE @@FETCH_STATUS = 0
BEGIN
    GRANT SELECT ON SCHEMA::dbo TO r;
    ALTER ROLE db_datareader ADD MEMBER r;
    FETCH NEXT FROM tables INTO @t
END
CLOSE tables
DEALLOCATE tables
"""
)


def _loops(sql: str) -> list[tuple[int | None, str]]:
    """(line, text) of each loop reported."""
    s = snap(sql)
    return [(x.source_ref.line, x.text) for x in s.skipped if "WHILE loop" in x.reason]


def test_a_loop_that_replays_security_is_reported_once_at_its_line() -> None:
    s = snap(CURSOR_LOOP)
    # replayed as before: once
    assert perms(s) == {("SCHEMA", None, "dbo", None, "SELECT", "G", "r")}
    assert {(m.role, m.member) for m in db(s).memberships} == {("db_datareader", "r")}
    [loop] = [x for x in s.skipped if not harmless(x)]
    assert (loop.source_ref.origin, loop.source_ref.line, loop.source_ref.column) == ("t.sql", 8, 1)
    assert loop.text == "WHILE @@FETCH_STATUS = 0"
    assert loop.reason.startswith(REPLAYED)  # the plan says the statements are in it


def test_the_plan_reports_the_loop_as_in_the_plan() -> None:
    p = plan(snap(CURSOR_LOOP), Policy())
    [finding] = [f for f in p.findings if f.rule_id == "GB045"]
    assert finding.source_ref == "t.sql:8:1"
    assert finding.action.startswith("In the plan")
    assert "WHILE loop" in finding.evidence
    assert finding.evidence.endswith(": WHILE @@FETCH_STATUS = 0")


@pytest.mark.parametrize(
    ("sql", "reported"),
    [
        # one statement without BEGIN … END; a loop ending the batch
        ("DECLARE @i int = 0\nWHILE @i < 3 GRANT SELECT TO r\n", [(5, "WHILE @i < 3")]),
        # literal dynamic SQL is replayed, so the loop replayed it
        ("WHILE EXISTS (SELECT 1 FROM sys.tables) BEGIN\n  EXEC (N'GRANT SELECT TO r')\n"
         "  BREAK\nEND\n", [(4, "WHILE EXISTS (SELECT 1 FROM sys.tables)")]),
        # an IF in the body: the loop and the branch are reported, each once
        ("WHILE 1 = 1 IF @@SERVERNAME = N'x' GRANT CONTROL TO r\n", [(4, "WHILE 1 = 1")]),
        # a loop in a loop: both repeat the GRANT
        ("WHILE @a < 2 BEGIN\n  WHILE @b < 2 BEGIN GRANT SELECT TO r; SET @b += 1 END\n"
         "  SET @a += 1\nEND\n", [(4, "WHILE @a < 2"), (5, "WHILE @b < 2")]),
        # nothing replayed in the body: nothing to report
        ("DECLARE @i int = 0\nWHILE @i < 64\nBEGIN\n  SELECT @i = @i + 1\nEND\n", []),
        # text built at run time is reported on its own (GB045, not in the plan): not the loop
        ("DECLARE @t sysname, @sql nvarchar(max)\nWHILE @@FETCH_STATUS = 0 BEGIN\n"
         "  SET @sql = N'GRANT SELECT ON ' + QUOTENAME(@t) + N' TO r'\n  EXEC (@sql)\nEND\n", []),
        # a branch the script never takes replays nothing
        ("WHILE @i < 3 BEGIN IF 'a' = 'b' GRANT SELECT TO r; SET @i += 1 END\n", []),
    ],
)  # fmt: skip
def test_which_loops_are_reported(sql: str, reported: list[tuple[int, str]]) -> None:
    assert _loops(U + sql) == reported


def test_a_loop_in_a_branch_that_cannot_be_evaluated_reports_both() -> None:
    s = snap(U + "IF @@SERVERNAME = N'PROD01'\n  WHILE @i < 3 BEGIN GRANT SELECT TO r END\n")
    assert perms(s) == {("DATABASE", None, None, None, "SELECT", "G", "r")}
    assert sorted((x.source_ref.line, x.source_ref.column) for x in s.skipped) == [(5, 3), (5, 22)]
    assert all(x.reason.startswith(REPLAYED) for x in s.skipped)


def test_statements_after_the_loop_are_not_in_it() -> None:
    s = snap(U + "WHILE @i < 3 BEGIN SET @i += 1 END\nGRANT SELECT TO r\n")
    assert perms(s) == {("DATABASE", None, None, None, "SELECT", "G", "r")}
    assert [x for x in s.skipped if not harmless(x)] == []
