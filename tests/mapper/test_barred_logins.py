"""Logins and users SQL Server bars from connecting keep no way in on PostgreSQL.

A login may not log in when it is disabled, when its CONNECT SQL was revoked (``sp_help_revlogin``
writes ``REVOKE CONNECT SQL TO [x]`` for ``hasaccess = 0``) or when a DENY CONNECT SQL reaches
it (to itself or to a server role it is a member of; sysadmin members are exempt, as from every
DENY). A user whose CONNECT on the database was revoked cannot enter it. Regression: all of
them became LOGIN roles with CONNECT on their databases (an audit of real sp_help_revlogin and
dbatools output).
"""

from __future__ import annotations

from mapper.plan import Disposition, MigrationPlan
from mapper.planner import plan
from mapper.policy import Policy
from mssql_extract.snapshot import ServerRole, User
from tests.mapper.estate import REF, database, login, member, perm, snapshot, user


def _plan(*logins: str, db_users: tuple[User, ...] = (), **fields: object) -> MigrationPlan:
    users = db_users or tuple(user(name, name) for name in logins)
    return plan(snapshot(database(users=users), logins=tuple(login(n) for n in logins),
                         **fields), Policy())  # fmt: skip


def _can_log_in(p: MigrationPlan, name: str) -> bool:
    role = p.role(name)
    assert role is not None
    return role.login


def _connect(p: MigrationPlan) -> set[str]:
    return {g.grantee for g in p.grants if g.object_type == "DATABASE" and g.privilege == "CONNECT"}


def _disposition(p: MigrationPlan, fact: str) -> tuple[Disposition, tuple[str, ...], str]:
    (found,) = [d for d in p.dispositions if d.fact == fact]
    return found.disposition, found.items, found.reason


def test_deny_connect_sql_makes_the_login_nologin() -> None:
    denied = perm("CONNECT SQL", "gone", "SERVER", "D")
    p = _plan("gone", "kept", server_permissions=(denied,))
    assert (_can_log_in(p, "gone"), _can_log_in(p, "kept")) == (False, True)
    assert _disposition(p, "server/perm:SERVER:CONNECT SQL:deny:gone") == (
        Disposition.MAPPED, ("role:gone",),
        "the logins it bars from logging in have NOLOGIN roles",
    )  # fmt: skip
    rules = {(f.rule_id, f.evidence) for f in p.findings}
    assert ("GB014", "login [gone]: DENY CONNECT SQL and holds permissions") in rules


def test_deny_connect_sql_to_a_server_role_bars_its_members_not_sysadmins() -> None:
    p = _plan(
        "member_a", "admin",
        server_roles=(ServerRole(name="leavers", source_ref=REF),),
        server_memberships=(member("leavers", "member_a"), member("leavers", "admin"),
                            member("sysadmin", "admin")),
        server_permissions=(perm("CONNECT SQL", "leavers", "SERVER", "D"),),
    )  # fmt: skip
    assert (_can_log_in(p, "member_a"), _can_log_in(p, "admin")) == (False, True)
    disposition, items, _ = _disposition(p, "server/perm:SERVER:CONNECT SQL:deny:leavers")
    assert (disposition, items) == (Disposition.MAPPED, ("role:member_a",))


def test_deny_connect_sql_barring_only_sysadmins_bars_nobody() -> None:
    p = _plan(
        "admin", server_memberships=(member("sysadmin", "admin"),),
        server_permissions=(perm("CONNECT SQL", "admin", "SERVER", "D"),),
    )  # fmt: skip
    assert _can_log_in(p, "admin")
    disposition, items, _ = _disposition(p, "server/perm:SERVER:CONNECT SQL:deny:admin")
    assert (disposition, items) == (Disposition.NOT_APPLICABLE, ())


def test_revoked_connect_sql_makes_the_login_nologin() -> None:
    p = plan(snapshot(database(users=(user("noaccess", "noaccess"),)),
                      logins=(login("noaccess", connect_revoked=True), login("ok"))), Policy())  # fmt: skip
    assert (_can_log_in(p, "noaccess"), _can_log_in(p, "ok")) == (False, True)
    role = p.role("noaccess")
    assert role is not None
    assert role.comment == "CONNECT SQL revoked in SQL Server: NOLOGIN"


def test_a_user_whose_connect_was_revoked_gets_no_connect() -> None:
    users = (user("app2", "app2", connect_revoked=True), user("app3", "app3"))
    p = _plan("app2", "app3", db_users=users)
    assert "app3" in _connect(p)
    assert "app2" not in _connect(p)
    disposition, items, reason = _disposition(p, "Sales/user:app2")
    assert (disposition, items) == (Disposition.MAPPED, ("role:app2",))
    assert reason == "CONNECT revoked in SQL Server: no CONNECT on the database"
