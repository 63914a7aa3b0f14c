"""Dropping a principal drops the permissions granted on it, and says so.

A principal is a securable too: ``GRANT IMPERSONATE ON USER::x TO y``, ``GRANT ALTER ON
ROLE::x TO y``, ``GRANT CONTROL ON LOGIN::x TO y`` are permissions of ``y`` on ``x``. SQL Server
drops them with ``x`` (the securable is gone; ``sys.database_permissions`` keeps no row on a
principal id that no longer exists). The replay drops them too, and keeps the DROP as a
skipped entry listing them, each with its line, which the plan reports (GB045), as it does
for an ownership change (``mssql_extract/tsql/dropped.py``). What was granted *to* ``x`` goes
with it, as the DROP says: it is not listed.
"""

from __future__ import annotations

import pytest

from mapper.planner import plan
from mapper.policy import Policy
from mapper.translate.skipped import DROPPED, harmless
from mssql_extract.snapshot import SecuritySnapshot
from tests.extract.tsql_helpers import perms, snap

DATABASE = (
    "USE d\nGO\nCREATE TABLE t (a int)\n"  # lines 1-3
    "CREATE USER x WITHOUT LOGIN\nCREATE USER y WITHOUT LOGIN\nCREATE ROLE r\n"  # 4-6
    "GRANT IMPERSONATE ON USER::x TO y\n"  # line 7
    "GRANT ALTER ON ROLE::r TO y WITH GRANT OPTION\nDENY CONTROL ON ROLE::r TO x\n"  # 8, 9
    "GRANT SELECT ON t TO x\nGRANT SELECT ON t TO r\nGRANT VIEW DEFINITION ON USER::x TO x\n"
)  # 10, 11, 12
SERVER = (
    "CREATE LOGIN l WITH PASSWORD = 'p'\nCREATE LOGIN m WITH PASSWORD = 'p'\n"  # lines 1, 2
    "CREATE SERVER ROLE sr\nGRANT CONTROL ON LOGIN::l TO m\n"  # lines 3, 4
    "GRANT ALTER ON SERVER ROLE::sr TO m\nDENY IMPERSONATE ON LOGIN::l TO sr\n"  # lines 5, 6
    "GRANT VIEW SERVER STATE TO l\n"  # line 7
)


def _dropped(s: SecuritySnapshot) -> tuple[int | None, str, str]:
    [skipped] = s.skipped
    assert skipped.reason.startswith(DROPPED)
    assert not harmless(skipped)
    return skipped.source_ref.line, skipped.reason, skipped.text


@pytest.mark.parametrize(
    "statement", ["DROP USER x", "DROP USER IF EXISTS [X]", "EXEC sp_dropuser 'x'"]
)
def test_dropping_a_user_drops_and_lists_the_permissions_on_it(statement: str) -> None:
    s = snap(DATABASE + statement + "\n")
    assert perms(s) == {
        ("ROLE", None, "r", None, "ALTER", "W", "y"),
        ("OBJECT", "dbo", "t", None, "SELECT", "G", "r"),
    }
    line, reason, text = _dropped(s)
    # only y's permission on x: x's own (line 9, 10, 12, even the one on itself) go with it
    assert (line, text) == (13, "GRANT IMPERSONATE ON USER::[x] TO [y] (line 7)")
    assert "drops the principal they are granted on" in reason


def test_the_entry_names_the_statement_and_the_principal() -> None:
    [skipped] = snap(DATABASE + "DROP USER x\n").skipped
    assert "DROP USER [x] drops the principal they are granted on" in skipped.reason
    [legacy] = snap(DATABASE + "EXEC sp_dropuser 'x'\n").skipped
    assert "sp_dropuser [x] drops the principal they are granted on" in legacy.reason


@pytest.mark.parametrize(
    "statement", ["DROP ROLE r", "EXEC sp_droprole 'r'", "EXEC sp_dropgroup 'r'"]
)
def test_dropping_a_role_drops_and_lists_the_permissions_on_it(statement: str) -> None:
    s = snap(DATABASE + statement + "\n")
    assert ("ROLE", None, "r", None, "ALTER", "W", "y") not in perms(s)
    assert ("ROLE", None, "r", None, "CONTROL", "D", "x") not in perms(s)
    line, _, text = _dropped(s)
    assert (line, text) == (
        13,
        "GRANT ALTER ON ROLE::[r] TO [y] WITH GRANT OPTION (line 8); "
        "DENY CONTROL ON ROLE::[r] TO [x] (line 9)",
    )


@pytest.mark.parametrize(
    "statement", ["DROP LOGIN l", "EXEC sp_droplogin 'l'", "EXEC sp_revokelogin 'l'"]
)
def test_dropping_a_login_drops_and_lists_the_permissions_on_it(statement: str) -> None:
    s = snap(SERVER + statement + "\n")
    assert perms(s, None) == {("SERVER ROLE", None, "sr", None, "ALTER", "G", "m")}
    line, reason, text = _dropped(s)
    assert (line, text) == (
        8,
        "GRANT CONTROL ON LOGIN::[l] TO [m] (line 4); DENY IMPERSONATE ON LOGIN::[l] TO [sr] "
        "(line 6)",
    )
    assert "[l] drops the principal they are granted on" in reason


def test_dropping_a_server_role_drops_and_lists_the_permissions_on_it() -> None:
    s = snap(SERVER + "DROP SERVER ROLE sr\n")
    assert ("SERVER ROLE", None, "sr", None, "ALTER", "G", "m") not in perms(s, None)
    line, reason, text = _dropped(s)
    assert (line, text) == (8, "GRANT ALTER ON SERVER ROLE::[sr] TO [m] (line 5)")
    assert "DROP SERVER ROLE [sr]" in reason


def test_a_principal_with_nothing_on_it_is_dropped_in_silence() -> None:
    s = snap(DATABASE + "REVOKE IMPERSONATE ON USER::x FROM y\nDROP USER x\n")
    assert s.skipped == ()


def test_the_plan_reports_the_permissions_a_drop_took() -> None:
    s = snap(DATABASE + "DROP USER x\n")
    [finding] = [f for f in plan(s, Policy()).findings if f.rule_id == "GB045"]
    assert finding.source_ref == "t.sql:13:1"
    assert finding.evidence.endswith(": GRANT IMPERSONATE ON USER::[x] TO [y] (line 7)")
    assert finding.action.startswith("Not in the plan, as on the server: SQL Server drops these")
