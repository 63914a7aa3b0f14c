"""DENYs take memberships in PostgreSQL's predefined roles that they take part of (fail closed).

VIEW SERVER STATE, VIEW SERVER PERFORMANCE STATE and VIEW DATABASE STATE map to membership in
``pg_read_all_stats``, ALTER ANY CONNECTION to ``pg_signal_backend`` (mapper/privileges.py). In
SQL Server a DENY of one of them, or of a permission they cover, wins over the GRANT
("Permissions (Database Engine)", "Summary of the permission check algorithm"); PostgreSQL
cannot take part of a predefined role away. Regression: such a DENY was disposed "the plan
grants nothing this DENY removes" and the member kept the whole membership.
db_datareader is a per-database role of explicit grants (never ``pg_read_all_data``), so a DENY
of SELECT on one table is restructured like any other (pinned on PostgreSQL below).
"""

from __future__ import annotations

import pytest

from mapper.plan import Disposition
from mapper.planner import plan
from mapper.policy import Policy
from mssql_extract.snapshot import ServerRole
from pg_emit.render import render_sql
from pg_emit.verify import applied, ensure_databases, verify_plan
from tests.emit import contoso
from tests.mapper.estate import (
    REF,
    database,
    disposition_of,
    login,
    member,
    perm,
    reach,
    role,
    rules_of,
    snapshot,
    user,
)

STATS = "pg_read_all_stats"


def test_deny_view_database_state_takes_the_server_grants_membership() -> None:
    """GRANT VIEW SERVER STATE to the login, DENY VIEW DATABASE STATE to its user: the login
    would read the database's statistics through pg_read_all_stats, so it is no member."""
    snap = snapshot(
        database(users=(user("u", "L"),),
                 permissions=(perm("VIEW DATABASE STATE", "u", "DATABASE", state="D"),)),
        logins=(login("L"),), server_permissions=(perm("VIEW SERVER STATE", "L", "SERVER"),),
    )  # fmt: skip
    p = plan(snap, Policy())
    assert STATS not in reach(p, "l")
    deny, why = disposition_of(p, "Sales/perm:DATABASE:VIEW DATABASE STATE:deny:u")
    assert deny == Disposition.APPROXIMATED
    assert "cannot take part of" in why
    grant, why = disposition_of(p, "server/perm:SERVER:VIEW SERVER STATE:grant:l")
    assert grant == Disposition.APPROXIMATED
    assert "SQL Server still allows it" in why
    assert {("GB020", STATS), ("GB040", "DATABASE")} <= rules_of(p, "u")


def test_a_server_deny_of_part_of_it_takes_the_membership() -> None:
    snap = snapshot(database(users=(user("u", "L"),)), logins=(login("L"),), server_permissions=(
        perm("VIEW SERVER STATE", "L", "SERVER"),
        perm("VIEW SERVER PERFORMANCE STATE", "L", "SERVER", state="D"),
    ))  # fmt: skip
    p = plan(snap, Policy())
    assert STATS not in reach(p, "l")
    assert disposition_of(p, "server/perm:SERVER:VIEW SERVER PERFORMANCE STATE:deny:l")[0] == (
        Disposition.APPROXIMATED
    )


def test_a_fixed_server_roles_membership_is_taken_and_says_so() -> None:
    snap = snapshot(
        database(users=(user("u", "L"),),
                 permissions=(perm("VIEW DATABASE STATE", "u", "DATABASE", state="D"),)),
        logins=(login("L"),), server_memberships=(member("##MS_ServerStateReader##", "L"),),
    )  # fmt: skip
    p = plan(snap, Policy())
    assert STATS not in reach(p, "l")
    disposition, why = disposition_of(p, "server/member:##ms_serverstatereader##<-l")
    assert disposition == Disposition.APPROXIMATED
    assert why.startswith("DENY restructuring removed what it gave: DENY VIEW DATABASE STATE")


def test_a_deny_in_another_database_takes_the_cluster_wide_membership() -> None:
    snap = snapshot(
        database("A", users=(user("u", "L"),),
                 permissions=(perm("VIEW DATABASE STATE", "u", "DATABASE"),)),
        database("B", users=(user("u", "L"),),
                 permissions=(perm("VIEW DATABASE STATE", "u", "DATABASE", state="D"),)),
        logins=(login("L"),),
    )  # fmt: skip
    p = plan(snap, Policy())
    assert STATS not in reach(p, "l")
    disposition, why = disposition_of(p, "A/perm:DATABASE:VIEW DATABASE STATE:grant:u")
    assert disposition == Disposition.APPROXIMATED
    assert "DENY VIEW DATABASE STATE" in why


def test_a_server_roles_member_gets_a_derived_role_without_it() -> None:
    """The role keeps its membership for its other members; the denied member's derived role
    keeps the rest (pg_signal_backend) without pg_read_all_stats."""
    snap = snapshot(
        database(users=(user("u", "L"), user("k", "K")),
                 permissions=(perm("VIEW DATABASE STATE", "u", "DATABASE", state="D"),)),
        logins=(login("L"), login("K")), server_roles=(ServerRole(name="mon", source_ref=REF),),
        server_memberships=(member("mon", "L"), member("mon", "K")),
        server_permissions=(perm("VIEW SERVER STATE", "mon", "SERVER"),
                            perm("ALTER ANY CONNECTION", "mon", "SERVER")),
    )  # fmt: skip
    p = plan(snap, Policy())
    assert {STATS, "pg_signal_backend"} <= reach(p, "k")
    assert "pg_signal_backend" in reach(p, "l")
    assert STATS not in reach(p, "l")


def test_a_server_deny_of_all_it_stands_for_is_mapped() -> None:
    snap = snapshot(
        database(users=(user("u", "L"),)), logins=(login("L"), login("K")),
        server_roles=(ServerRole(name="mon", source_ref=REF),),
        server_memberships=(member("mon", "L"), member("mon", "K")),
        server_permissions=(perm("VIEW SERVER STATE", "mon", "SERVER"),
                            perm("VIEW SERVER STATE", "L", "SERVER", state="D")),
    )  # fmt: skip
    p = plan(snap, Policy())
    assert STATS in reach(p, "k")
    assert STATS not in reach(p, "l")
    assert disposition_of(p, "server/perm:SERVER:VIEW SERVER STATE:deny:l")[0] == Disposition.MAPPED


def test_a_database_roles_member_denied_all_it_gives_leaves_it() -> None:
    snap = snapshot(
        database(users=(user("u", "L"), user("w", "W")), roles=(role("r"),),
                 memberships=(member("r", "u"), member("r", "w")),
                 permissions=(perm("VIEW DATABASE STATE", "r", "DATABASE"),
                              perm("VIEW DATABASE STATE", "u", "DATABASE", state="D"))),
        logins=(login("L"), login("W")),
    )  # fmt: skip
    p = plan(snap, Policy())
    assert STATS in reach(p, "w")
    assert STATS not in reach(p, "l")


def test_a_deny_of_what_the_role_does_not_stand_for_leaves_it() -> None:
    """VIEW SERVER SECURITY STATE is covered by VIEW SERVER STATE but maps to nothing: denying
    it takes nothing pg_read_all_stats gives."""
    snap = snapshot(database(users=(user("u", "L"),)), logins=(login("L"),), server_permissions=(
        perm("VIEW SERVER STATE", "L", "SERVER"),
        perm("VIEW SERVER SECURITY STATE", "L", "SERVER", state="D"),
    ))  # fmt: skip
    p = plan(snap, Policy())
    assert STATS in reach(p, "l")
    assert (
        disposition_of(p, "server/perm:SERVER:VIEW SERVER STATE:grant:l")[0] == Disposition.MAPPED
    )


@pytest.mark.postgres
def test_on_postgresql_the_denied_member_holds_neither(pg_dsn: str, target: str) -> None:
    """Applied: the login denied one table and one database's DMVs reads the other table and
    is no member of pg_read_all_stats; the login without DENYs keeps both."""
    denied, free = "gbh4_denied", "gbh4_free"
    snap = snapshot(
        database(users=(user("u", denied), user("k", free)), roles=(role("db_datareader", True),),
                 memberships=(member("db_datareader", "u"), member("db_datareader", "k")),
                 permissions=(perm("CONNECT", "u", "DATABASE"), perm("CONNECT", "k", "DATABASE"),
                              perm("SELECT", "u", state="D", schema_name="dbo",
                                   object_name="Orders"),
                              perm("VIEW DATABASE STATE", "u", "DATABASE", state="D"))),
        logins=(login(denied), login(free)),
        server_permissions=(perm("VIEW SERVER STATE", denied, "SERVER"),
                            perm("VIEW SERVER STATE", free, "SERVER")),
    )  # fmt: skip
    migration = contoso.rename_databases(plan(snap, Policy()), {"sales": target})
    ensure_databases(pg_dsn, migration, create=True)
    assert verify_plan(migration, pg_dsn, embedded=False) == []
    with applied(pg_dsn, migration, render_sql(migration), target) as conn:
        answers = {
            who: conn.execute(
                "SELECT has_table_privilege(%s, 'dbo.orders', 'SELECT'), "
                "has_table_privilege(%s, 'dbo.customers', 'SELECT'), "
                "pg_has_role(%s, 'pg_read_all_stats', 'USAGE')",
                [who, who, who],
            ).fetchone()
            for who in (denied, free)
        }
    assert answers == {denied: (False, True, False), free: (True, True, True)}
