"""A DROP of a principal SQL Server refuses changes nothing, and is reported at its line.

SQL Server refuses to drop a role that has members (Msg 15144, "The role has members. It must be
empty before it can be dropped."), a database principal that owns a schema (15138), objects
(15183), types (15184) or a role (15421), a login that owns a database (15174) or a server role
(15141), and a server role with members (DROP SERVER ROLE, Remarks). The replay used to drop
them anyway, and the principal's members and permissions vanished from the plan without a word.
Now the principal stands with all of it, as on the server, and the statement is kept as a
skipped item naming the principal and why, which the plan reports (GB045) at file:line.
"""

from __future__ import annotations

import pytest

from mapper.planner import plan
from mapper.policy import Policy
from mapper.translate.skipped import REFUSED_DROP, REPLAYED, harmless
from mssql_extract.snapshot import SecuritySnapshot, Skipped
from pg_emit.render import render_sql
from tests.extract.tsql_helpers import db, perms, snap

#: A role r with a member alice and a permission; the statements below start at line 7.
ROLE = (
    "USE d\nGO\nCREATE ROLE r\nCREATE USER alice WITHOUT LOGIN\n"
    "ALTER ROLE r ADD MEMBER alice\nGRANT SELECT ON SCHEMA::dbo TO r\n"
)
R_SELECT = ("SCHEMA", None, "dbo", None, "SELECT", "G", "r")


def _refused(s: SecuritySnapshot, line: int) -> Skipped:
    """The one skipped item: the refused DROP at ``line`` of t.sql, reported by the plan."""
    [item] = s.skipped
    assert (item.kind, item.source_ref.line) == ("statement", line)
    assert item.reason.endswith(REFUSED_DROP), item.reason
    assert not harmless(item)
    return item


def _members(s: SecuritySnapshot) -> set[tuple[str, str]]:
    return {(m.role, m.member) for m in db(s).memberships}


@pytest.mark.parametrize(
    ("drop", "statement"),
    [
        ("DROP ROLE r", "DROP ROLE"),
        ("DROP ROLE IF EXISTS r", "DROP ROLE"),
        ("EXEC sp_droprole 'r'", "sp_droprole"),
        ("EXEC sp_dropgroup 'r'", "sp_dropgroup"),
    ],
)
def test_a_role_with_members_is_not_dropped(drop: str, statement: str) -> None:
    s = snap(ROLE + drop + "\n")
    assert [role.name for role in db(s).roles] == ["r"]
    assert _members(s) == {("r", "alice")}
    assert perms(s) == {R_SELECT}
    item = _refused(s, 7)
    assert item.reason.startswith(
        f"role 'r' has members [alice] (Msg 15144), so SQL Server refuses the {statement}"
    )


def test_a_role_emptied_first_is_dropped_as_before() -> None:
    s = snap(ROLE + "ALTER ROLE r DROP MEMBER alice\nDROP ROLE r\n")
    assert db(s).roles == ()
    assert _members(s) == set()
    assert perms(s) == set()
    assert s.skipped == ()


@pytest.mark.parametrize(
    ("setup", "drop", "reason"),
    [
        ("CREATE SCHEMA s AUTHORIZATION alice\n", "DROP USER alice",
         "user 'alice' owns schema [s] (Msg 15138)"),
        ("CREATE SCHEMA s AUTHORIZATION r\nALTER ROLE r DROP MEMBER alice\n", "DROP ROLE r",
         "role 'r' owns schema [s] (Msg 15138)"),
        ("CREATE ROLE q AUTHORIZATION alice\n", "EXEC sp_dropuser 'alice'",
         "user 'alice' owns role [q] (Msg 15421)"),
        ("CREATE TABLE dbo.t (a int)\nALTER AUTHORIZATION ON OBJECT::dbo.t TO alice\n",
         "DROP USER alice", "user 'alice' owns [dbo].[t] (Msg 15183)"),
        ("CREATE TYPE dbo.ty FROM int\nALTER AUTHORIZATION ON TYPE::dbo.ty TO alice\n",
         "DROP USER alice", "user 'alice' owns type [dbo].[ty] (Msg 15184)"),
        ("CREATE APPLICATION ROLE app WITH PASSWORD = 'x'\nCREATE SCHEMA s AUTHORIZATION app\n",
         "DROP APPLICATION ROLE app", "application role 'app' owns schema [s] (Msg 15138)"),
    ],
    ids=["user-schema", "role-schema", "user-role", "user-object", "user-type", "app-role"],
)  # fmt: skip
def test_a_principal_that_owns_something_is_not_dropped(setup: str, drop: str, reason: str) -> None:
    s = snap(ROLE + setup + drop + "\n")
    line = 7 + setup.count("\n")
    assert _refused(s, line).reason.startswith(reason)
    assert {u.name for u in db(s).users} == {"alice"}
    assert {r.name for r in db(s).roles} >= {"r"}
    assert perms(s) == {R_SELECT}


def test_every_reason_is_named() -> None:
    s = snap(
        ROLE + "CREATE SCHEMA s AUTHORIZATION r\nCREATE SCHEMA s2 AUTHORIZATION r\nDROP ROLE r\n"
    )
    assert _refused(s, 9).reason.startswith(
        "role 'r' has members [alice] (Msg 15144) and owns schema [s], [s2] (Msg 15138), so SQL "
        "Server refuses the DROP ROLE: its memberships, ownerships and permissions stay"
    )


def test_a_new_owner_first_lets_the_drop_through() -> None:
    s = snap(ROLE + "CREATE SCHEMA s AUTHORIZATION alice\nALTER AUTHORIZATION ON SCHEMA::s TO dbo\n"
             "DROP USER alice\n")  # fmt: skip
    assert db(s).users == ()
    assert s.skipped == ()


def test_a_user_a_module_runs_as_is_not_dropped() -> None:
    s = snap(ROLE + "GO\nCREATE PROCEDURE dbo.p WITH EXECUTE AS 'alice' AS SELECT 1\nGO\n"
             "DROP USER alice\n")  # fmt: skip
    assert _refused(s, 10).reason.startswith(
        "user 'alice' is who these modules run as (EXECUTE AS) [dbo].[p] (Msg 15136)"
    )


@pytest.mark.parametrize(
    "owner", ["ALTER AUTHORIZATION ON DATABASE::d TO l", "USE d\nEXEC sp_changedbowner 'l'"]
)
@pytest.mark.parametrize("drop", ["DROP LOGIN l", "EXEC sp_droplogin 'l'"])
def test_a_login_that_owns_a_database_is_not_dropped(owner: str, drop: str) -> None:
    s = snap(f"CREATE LOGIN l WITH PASSWORD = 'x'\nGRANT VIEW SERVER STATE TO l\n{owner}\n"
             f"USE master\n{drop}\n")  # fmt: skip
    assert [login.name for login in s.logins] == ["l"]
    assert perms(s, None) == {("SERVER", None, None, None, "VIEW SERVER STATE", "G", "l")}
    item = _refused(s, 5 + owner.count("\n"))
    assert item.reason.startswith("login 'l' owns database [d] (Msg 15174), so SQL Server refuses")


def test_a_login_whose_database_has_another_owner_is_dropped() -> None:
    s = snap("CREATE LOGIN l WITH PASSWORD = 'x'\nALTER AUTHORIZATION ON DATABASE::d TO l\n"
             "ALTER AUTHORIZATION ON DATABASE::d TO sa\nDROP LOGIN l\n")  # fmt: skip
    assert s.logins == ()
    assert s.skipped == ()


def test_server_roles_with_members_or_owning_one_are_not_dropped() -> None:
    s = snap(
        "CREATE LOGIN l WITH PASSWORD = 'x'\nCREATE SERVER ROLE sr AUTHORIZATION l\n"
        "CREATE SERVER ROLE sr2\nALTER SERVER ROLE sr2 ADD MEMBER l\n"
        "DROP LOGIN l\nDROP SERVER ROLE sr2\n"
    )
    assert [login.name for login in s.logins] == ["l"]
    assert {r.name for r in s.server_roles if not r.is_fixed} == {"sr", "sr2"}
    assert {(m.role, m.member) for m in s.server_memberships} == {("sr2", "l")}
    first, second = sorted(s.skipped, key=lambda x: x.source_ref.line or 0)
    assert first.reason.startswith("login 'l' owns server role [sr] (Msg 15141)")
    assert second.reason.startswith(
        "server role 'sr2' has members [l] (DROP SERVER ROLE, Remarks), so SQL Server refuses"
    )


@pytest.mark.parametrize(
    "condition",
    [
        # an existence check finds the role: the branch runs, and the DROP fails
        "IF EXISTS (SELECT 1 FROM sys.database_principals WHERE name = N'r')",
        "IF DATABASE_PRINCIPAL_ID(N'r') IS NOT NULL",
        "IF @@SERVERNAME = N'prod'",  # grantbridge cannot tell: refused if it runs
    ],
    ids=["exists", "principal-id", "uncertain"],
)
def test_a_refused_drop_in_a_branch_is_reported(condition: str) -> None:
    s = snap(ROLE + condition + "\n    DROP ROLE r\n")
    assert _members(s) == {("r", "alice")}
    assert _refused(s, 8).text == "DROP ROLE r"


def test_a_refused_drop_in_a_loop_reports_the_loop() -> None:
    # the pass replayed is refused; a later pass may succeed once the role is empty (here the
    # body empties it after the DROP), so the loop is reported and the DROP's item says so
    for body in ("    DROP ROLE r\n", "    DROP ROLE r\n    ALTER ROLE r DROP MEMBER alice\n"):
        s = snap(ROLE + "WHILE @i < 3\nBEGIN\n" + body + "END\n")
        items = {x.source_ref.line: x for x in s.skipped}
        assert sorted(items) == [7, 9]
        assert items[7].reason.startswith(REPLAYED)  # the loop: the plan holds one pass
        assert items[7].text == "WHILE @i < 3"
        assert items[9].reason.endswith(REFUSED_DROP)
        assert (
            "so SQL Server refuses the DROP ROLE (in the one pass grantbridge replays of the WHILE "
            "loop at t.sql:7:1, which it cannot evaluate: the script may run the DROP again, and "
            "once a later pass finds what is in the way gone, SQL Server drops the principal)"
        ) in items[9].reason
    assert perms(s) == {R_SELECT}  # one pass: alice left r after the refused DROP
    [found] = [
        f
        for f in plan(s, Policy()).findings
        if f.rule_id == "GB045" and f.source_ref == "t.sql:9:5"
    ]
    assert found.action.endswith(
        "The statement is in a loop: a later pass may drop the principal once what is in the "
        "way is gone; check on the server whether it is still there."
    )


def test_a_refused_drop_outside_loops_says_nothing_of_them() -> None:
    [found] = [
        f for f in plan(snap(ROLE + "DROP ROLE r\n"), Policy()).findings if f.rule_id == "GB045"
    ]
    assert "WHILE" not in found.evidence
    assert found.action.endswith("and extract again.")


LOGINS = (
    "CREATE LOGIN l WITH PASSWORD = 'x'\nCREATE LOGIN b WITH PASSWORD = 'x'\n"
    "GRANT VIEW SERVER STATE, IMPERSONATE ANY LOGIN TO l WITH GRANT OPTION\n"
)  # the statements below start at line 4


@pytest.mark.parametrize("drop", ["DROP LOGIN l", "EXEC sp_droplogin 'l'"])
def test_a_login_that_granted_a_permission_is_not_dropped(drop: str) -> None:
    s = snap(LOGINS + "GRANT VIEW SERVER STATE TO b AS l\nDENY IMPERSONATE ANY LOGIN TO b AS l\n"
             f"{drop}\n")  # fmt: skip
    assert [login.name for login in s.logins] == ["b", "l"]
    b_and_l = {(p.grantee, p.permission, p.grantor) for p in s.server_permissions}
    assert ("b", "VIEW SERVER STATE", "l") in b_and_l
    item = _refused(s, 6)
    # "Server principal '%s' has granted one or more permission(s). Revoke the permission(s)
    # before dropping the server principal." (Msg 15173): granted, so the DENY is not named
    assert item.reason.startswith(
        "login 'l' has granted VIEW SERVER STATE TO [b] (Msg 15173), so SQL Server refuses"
    )


def test_a_login_whose_grants_were_revoked_or_made_without_as_is_dropped() -> None:
    s = snap(LOGINS + "GRANT VIEW SERVER STATE TO b AS l\nREVOKE VIEW SERVER STATE FROM b\n"
             "GRANT IMPERSONATE ANY LOGIN TO b\nDROP LOGIN l\n")  # fmt: skip
    assert [login.name for login in s.logins] == ["b"]
    assert s.skipped == ()


def test_a_server_role_that_granted_a_permission_is_not_dropped() -> None:
    s = snap("CREATE LOGIN b WITH PASSWORD = 'x'\nCREATE SERVER ROLE sr\n"
             "GRANT CONTROL ON LOGIN::b TO sr WITH GRANT OPTION\n"
             "GRANT CONTROL ON LOGIN::b TO b AS sr\nDROP SERVER ROLE sr\n")  # fmt: skip
    assert _refused(s, 5).reason.startswith(
        "server role 'sr' has granted CONTROL ON LOGIN::[b] TO [b] (Msg 15173)"
    )


@pytest.mark.parametrize("verb", ["GRANT", "DENY"])
def test_a_user_that_granted_or_denied_a_permission_is_not_dropped(verb: str) -> None:
    s = snap(ROLE + "CREATE USER bob WITHOUT LOGIN\nCREATE TABLE dbo.t (a int)\n"
             "GRANT SELECT ON dbo.t TO alice WITH GRANT OPTION\n"
             f"{verb} SELECT ON dbo.t TO bob AS alice\nALTER ROLE r DROP MEMBER alice\n"
             "DROP USER alice\n")  # fmt: skip
    # "The database principal has granted or denied permissions to objects in the database
    # and cannot be dropped." (Msg 15284)
    assert _refused(s, 12).reason.startswith(
        "user 'alice' has granted or denied SELECT ON OBJECT::[dbo].[t] TO [bob] (Msg 15284)"
    )
    assert {u.name for u in db(s).users} == {"alice", "bob"}


def test_the_plan_keeps_the_role_and_its_member_and_reports_the_drop() -> None:
    planned = plan(snap(ROLE + "DROP ROLE r\n"), Policy())
    [found] = [f for f in planned.findings if f.rule_id == "GB045"]
    assert found.source_ref == "t.sql:7:1"
    assert "role 'r' has members [alice] (Msg 15144)" in found.evidence
    assert found.action.startswith("Not in the plan as a drop: SQL Server refuses the statement")
    sql = render_sql(planned)
    assert "GRANT r TO alice" in sql["sql/02_memberships.sql"]
    assert "GRANT USAGE ON SCHEMA dbo TO r" in sql["sql/04_privileges.sql"]
