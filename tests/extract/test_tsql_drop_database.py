"""DROP DATABASE is replayed: the database and everything recorded in it go.

The replay used to ignore it ("statement without a security effect"), so the users, roles and
permissions of a dropped database stayed in the snapshot and the plan, and a later CREATE
DATABASE of the name added to them. SQL Server refuses to drop the database the session is in
(Msg 3702 "Cannot drop database … because it is currently in use") and a system database: then
the database stands, and the statement is reported (GB045) at its file and line.
"""

from __future__ import annotations

import pytest

from mapper.planner import plan
from mapper.policy import Policy
from mapper.translate.skipped import REFUSED_DROP_DATABASE, REPLAYED, harmless
from mssql_extract.tsql.drop_database import STANDS
from tests.extract.tsql_helpers import db, perms, snap

#: A database d with a user and a permission, then the current database is master again.
D = (
    "CREATE DATABASE d\nGO\nUSE d\nGO\nCREATE USER alice WITHOUT LOGIN\n"
    "GRANT SELECT ON SCHEMA::dbo TO alice\nGO\nUSE master\nGO\n"
)


@pytest.mark.parametrize(
    "drop",
    [
        "DROP DATABASE d",
        "DROP DATABASE [d];",
        "DROP DATABASE IF EXISTS d",
        "IF DB_ID('d') IS NOT NULL DROP DATABASE d",
        "IF EXISTS (SELECT name FROM sys.databases WHERE name = N'd') DROP DATABASE [d]",
        "DROP DATABASE other, d",
    ],
)
def test_a_dropped_database_and_its_facts_go(drop: str) -> None:
    s = snap(D + drop + "\n")
    assert s.database("d") is None
    assert s.skipped == ()


def test_a_database_created_again_starts_empty() -> None:
    s = snap(D + "DROP DATABASE d\nGO\nCREATE DATABASE d\nGO\nUSE d\nGO\nCREATE ROLE r\n")
    assert [u.name for u in db(s).users] == []
    assert [r.name for r in db(s).roles] == ["r"]
    assert perms(s) == set()
    assert s.skipped == ()


def test_the_other_databases_stay() -> None:
    s = snap(
        D + "CREATE DATABASE e\nGO\nUSE e\nGO\nCREATE ROLE r\nGO\nUSE master\nDROP DATABASE d\n"
    )
    assert s.database("d") is None
    assert [r.name for r in db(s, "e").roles] == ["r"]


def test_the_database_in_use_is_not_dropped_and_the_refusal_is_reported() -> None:
    s = snap(D + "USE d\nGO\nDROP DATABASE d\n")  # line 12
    assert [u.name for u in db(s).users] == ["alice"]
    assert perms(s) == {("SCHEMA", None, "dbo", None, "SELECT", "G", "alice")}
    [item] = s.skipped
    assert (item.kind, item.source_ref.origin, item.source_ref.line) == ("statement", "t.sql", 12)
    assert item.reason.startswith("[d] is the current database (Msg 3702")
    assert item.reason.endswith(STANDS)
    assert STANDS == REFUSED_DROP_DATABASE
    assert not harmless(item)
    [finding] = [f for f in plan(s, Policy()).findings if f.rule_id == "GB045"]
    assert finding.source_ref == "t.sql:12:1"
    assert "SQL Server refuses the statement" in finding.action


def test_a_system_database_is_not_dropped() -> None:
    s = snap("USE master\nGO\nDROP DATABASE msdb\n")
    [item] = s.skipped
    assert "system database" in item.reason
    assert item.reason.endswith(STANDS)


@pytest.mark.parametrize(
    "statement", ["DROP DATABASE SCOPED CREDENTIAL c", "DROP DATABASE ENCRYPTION KEY"]
)
def test_what_only_begins_like_drop_database_drops_nothing(statement: str) -> None:
    s = snap(D + "USE d\nGO\n" + statement + "\n")
    assert [u.name for u in db(s).users] == ["alice"]
    [item] = s.skipped
    assert harmless(item)


def test_a_refused_drop_in_a_loop_reports_the_loop() -> None:
    # the pass replayed is refused (d is current); a later pass may run in another database
    # after the USE, and the DROP then succeeds: the loop is reported and the item says so
    loop = "USE d\nGO\nWHILE @i < 3\nBEGIN\n    DROP DATABASE d\n    USE master\nEND\n"
    s = snap(D + loop)  # WHILE at line 12, DROP at 14
    assert [u.name for u in db(s).users] == ["alice"]
    items = {x.source_ref.line: x for x in s.skipped}
    assert sorted(items) == [12, 14]
    assert items[12].reason.startswith(REPLAYED)
    assert items[12].text == "WHILE @i < 3"
    assert items[14].reason.endswith(STANDS)
    assert (
        "so SQL Server refuses the DROP DATABASE (in the one pass grantbridge replays of the WHILE "
        "loop at t.sql:12:1, which it cannot evaluate: the script may run the DROP again, and "
        "once a later pass runs in another database (after a USE), SQL Server drops it)"
    ) in items[14].reason
    [found] = [
        f
        for f in plan(s, Policy()).findings
        if f.rule_id == "GB045" and f.source_ref == "t.sql:14:5"
    ]
    assert found.action.endswith(
        "The statement is in a loop: a later pass may drop the database once it runs in another "
        "one; check on the server whether it is still there."
    )


def test_a_system_database_refused_in_a_loop_does_not_count() -> None:
    # refused on every pass: it changes nothing, so the loop is not reported for it
    s = snap("USE master\nGO\nWHILE @i < 3\nBEGIN\n    DROP DATABASE msdb\nEND\n")
    [item] = s.skipped
    assert item.source_ref.line == 5
    assert "WHILE" not in item.reason
