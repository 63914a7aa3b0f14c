"""Two more ways a DENY meets a PostgreSQL predefined role (mapper/translate/deny_predefined.py).

1. A DENY shutting a principal out of a database (DENY CONNECT; DENY CONTROL on it; DENY
   CONTROL SERVER) refuses everything in that database, its DMVs (VIEW DATABASE STATE) too
   (DESIGN §3.2; "Permissions (Database Engine)", step 3 of mapper/effective.py). A membership
   in ``pg_read_all_stats`` reads every database's statistics and query texts, so:

   * resting on VIEW DATABASE STATE alone (granted in another database), it goes: the login
     could not use the shut database's DMVs in SQL Server (fail closed, GB020 / GB040);
   * resting on VIEW SERVER STATE, it stays under DENY CONNECT: SQL Server's server DMVs show
     every database's sessions to that login whatever its CONNECT (the DENY covers no
     permission the role stands for);
   * a DENY covering VIEW DATABASE STATE (CONTROL on the database) takes it whatever it rests
     on, as a DENY of VIEW DATABASE STATE itself does (test_deny_predefined.py).

   Regression: the shutting DENYs never reached a predefined membership, so the login kept
   ``pg_read_all_stats`` (inherited too: through a server role, or a role of another database).
   A grant inside the shut database itself was already right (refused there: no membership).

2. Faithful CONTROL SERVER (``GB003 = "faithful"``) gives ``pg_monitor`` and
   ``pg_signal_backend`` on plain PostgreSQL, ``rds_superuser`` on Aurora; ``pg_monitor``
   includes ``pg_read_all_stats`` (reference/mssql/pg_predefined_roles.csv), ``rds_superuser``
   both (reference/mssql/rds_postgres_roles.csv: "see all connections in pg_stat_activity and
   pg_cancel_backend/pg_terminate_backend any connection"). A CONTROL SERVER holder is subject
   to DENY, a sysadmin member is not (reference/mssql/fixed_server_roles.csv, sysadmin: "role
   membership is not equal to CONTROL SERVER: sysadmin members cannot be denied permissions"):
   ``DENY VIEW SERVER STATE`` to it takes the membership including ``pg_read_all_stats``.
   Regression: the DENY was disposed "the plan grants nothing this DENY removes".
"""

from __future__ import annotations

import pytest

from mapper.plan import Disposition, MigrationPlan
from mapper.planner import plan
from mapper.policy import Policy, parse_policy
from mssql_extract.snapshot import Permission, ServerRole
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

STATS, SIGNAL, MONITOR = "pg_read_all_stats", "pg_signal_backend", "pg_monitor"


def _shut(deny: Permission, *grants: Permission, **fields: object) -> MigrationPlan:
    """Login L (user u in A and B) granted ``grants`` in A, ``deny`` in B."""
    snap = snapshot(
        database("A", users=(user("u", "L"),), permissions=grants),
        database("B", users=(user("u", "L"),), permissions=(deny,)),
        logins=(login("L"), login("K")), **fields,
    )  # fmt: skip
    return plan(snap, Policy())


DENY_CONNECT = perm("CONNECT", "u", "DATABASE", state="D")
VIEW_DATABASE = perm("VIEW DATABASE STATE", "u", "DATABASE")
MONITORS = {
    "server_roles": (ServerRole(name="mon", source_ref=REF),),
    "server_memberships": (member("mon", "L"), member("mon", "K")),
    "server_permissions": (perm("VIEW SERVER STATE", "mon", "SERVER"),),
}


# ------------------------------------------------------------------ 1. shut out of a database


def test_a_grant_in_the_shut_database_gives_no_membership() -> None:
    """Already right before: SQL Server refuses the grant itself (regression test)."""
    snap = snapshot(database(users=(user("u", "L"),), permissions=(VIEW_DATABASE, DENY_CONNECT)),
                    logins=(login("L"),))  # fmt: skip
    p = plan(snap, Policy())
    assert STATS not in reach(p, "l")
    assert disposition_of(p, "Sales/perm:DATABASE:VIEW DATABASE STATE:grant:u")[0] == (
        Disposition.NOT_APPLICABLE
    )


def test_deny_connect_takes_a_membership_resting_on_another_databases_grant() -> None:
    p = _shut(DENY_CONNECT, VIEW_DATABASE)
    assert STATS not in reach(p, "l")
    disposition, why = disposition_of(p, "B/perm:DATABASE:CONNECT:deny:u")
    assert disposition == Disposition.APPROXIMATED
    assert why.startswith("it shuts [u] and its members out of [B]")
    assert "VIEW DATABASE STATE" in why
    assert "cannot take part of" in why
    grant, why = disposition_of(p, "A/perm:DATABASE:VIEW DATABASE STATE:grant:u")
    assert grant == Disposition.APPROXIMATED
    assert "SQL Server still allows it" in why
    assert {("GB020", STATS), ("GB040", "DATABASE")} <= rules_of(p, "u")


def test_deny_connect_takes_it_from_a_role_of_another_database_for_that_member_only() -> None:
    snap = snapshot(
        database("A", users=(user("u", "L"), user("w", "W")), roles=(role("r"),),
                 memberships=(member("r", "u"), member("r", "w")),
                 permissions=(perm("VIEW DATABASE STATE", "r", "DATABASE"),)),
        database("B", users=(user("u", "L"),), permissions=(DENY_CONNECT,)),
        logins=(login("L"), login("W")),
    )  # fmt: skip
    p = plan(snap, Policy())
    assert STATS not in reach(p, "l")
    assert STATS in reach(p, "w")
    assert ("GB020", "a_r") in rules_of(p, "u")  # moved to a_r's derived role, without it


def test_deny_connect_leaves_view_server_state_alone() -> None:
    """SQL Server's server DMVs show the login every database's sessions, CONNECT or not."""
    p = _shut(DENY_CONNECT, server_permissions=(perm("VIEW SERVER STATE", "L", "SERVER"),))
    assert STATS in reach(p, "l")
    assert disposition_of(p, "B/perm:DATABASE:CONNECT:deny:u")[0] == Disposition.MAPPED
    assert (
        disposition_of(p, "server/perm:SERVER:VIEW SERVER STATE:grant:l")[0] == Disposition.MAPPED
    )


def test_deny_connect_leaves_a_membership_resting_on_both() -> None:
    """VIEW DATABASE STATE in A and VIEW SERVER STATE: SQL Server shows the login every
    database's sessions through the server grant, so the one membership stays."""
    p = _shut(DENY_CONNECT, VIEW_DATABASE,
              server_permissions=(perm("VIEW SERVER STATE", "L", "SERVER"),))  # fmt: skip
    assert STATS in reach(p, "l")
    assert disposition_of(p, "B/perm:DATABASE:CONNECT:deny:u")[0] == Disposition.MAPPED


def test_deny_control_on_a_database_takes_it_from_a_server_roles_member() -> None:
    """CONTROL on B covers VIEW DATABASE STATE on B: the member gets a derived role of the
    server role without pg_read_all_stats; the other member keeps it."""
    p = _shut(perm("CONTROL", "u", "DATABASE", state="D"), **MONITORS)
    assert STATS not in reach(p, "l")
    assert STATS in reach(p, "k")
    disposition, why = disposition_of(p, "B/perm:DATABASE:CONTROL:deny:u")
    assert disposition == Disposition.APPROXIMATED
    assert "cannot take part of" in why
    assert ("GB020", "mon") in rules_of(p, "u")


def test_deny_control_server_takes_it_all_and_is_mapped() -> None:
    fields = dict(MONITORS)
    fields["server_permissions"] = (
        *MONITORS["server_permissions"], perm("CONTROL SERVER", "L", "SERVER", state="D"),
    )  # fmt: skip
    snap = snapshot(database(users=(user("u", "L"),)), logins=(login("L"), login("K")), **fields)
    p = plan(snap, Policy())
    assert STATS not in reach(p, "l")
    assert STATS in reach(p, "k")
    disposition, why = disposition_of(p, "server/perm:SERVER:CONTROL SERVER:deny:l")
    assert disposition == Disposition.MAPPED
    assert why.startswith("it shuts [L] and its members out of every database")


# ------------------------------------------------------------------ 2. faithful CONTROL SERVER


def _control_server(target: str, *denied: str, sysadmin: bool = False) -> MigrationPlan:
    power = (
        {"server_memberships": (member("sysadmin", "L"),)} if sysadmin
        else {"server_permissions": (perm("CONTROL SERVER", "L", "SERVER"),)}
    )  # fmt: skip
    denies = tuple(perm(p, "L", "SERVER", state="D") for p in denied)
    power["server_permissions"] = (*power.get("server_permissions", ()), *denies)
    snap = snapshot(database(users=(user("u", "L"),)), logins=(login("L"),), **power)
    policy = parse_policy(f'target = "{target}"\n[overgrants]\ndefault_mode = "faithful"\n')
    return plan(snap, policy)


def test_faithful_control_server_denied_view_server_state_loses_pg_monitor() -> None:
    p = _control_server("postgresql", "VIEW SERVER STATE")
    assert MONITOR not in reach(p, "l")
    assert SIGNAL in reach(p, "l")
    disposition, why = disposition_of(p, "server/perm:SERVER:VIEW SERVER STATE:deny:l")
    assert disposition == Disposition.APPROXIMATED
    assert "pg_monitor" in why
    assert "includes pg_read_all_stats" in why
    assert ("GB020", MONITOR) in rules_of(p, "L")
    grant, why = disposition_of(p, "server/perm:SERVER:CONTROL SERVER:grant:l")
    assert grant == Disposition.APPROXIMATED
    assert "DENY VIEW SERVER STATE" in why
    assert "pg_monitor" in why


def test_faithful_control_server_denied_alter_any_connection_loses_pg_signal_backend() -> None:
    p = _control_server("postgresql", "ALTER ANY CONNECTION")
    assert SIGNAL not in reach(p, "l")
    assert MONITOR in reach(p, "l")
    assert (
        disposition_of(p, "server/perm:SERVER:ALTER ANY CONNECTION:deny:l")[0] == Disposition.MAPPED
    )


def test_faithful_control_server_on_aurora_denied_view_server_state_loses_rds_superuser() -> None:
    p = _control_server("aurora", "VIEW SERVER STATE")
    assert "rds_superuser" not in reach(p, "l")
    disposition, why = disposition_of(p, "server/perm:SERVER:VIEW SERVER STATE:deny:l")
    assert disposition == Disposition.APPROXIMATED
    assert "rds_superuser" in why


def test_a_faithful_sysadmin_is_never_denied() -> None:
    """sysadmin members are not subject to DENY: the membership stays (regression test)."""
    p = _control_server("postgresql", "VIEW SERVER STATE", sysadmin=True)
    assert {MONITOR, SIGNAL} <= reach(p, "l")
    assert disposition_of(p, "server/perm:SERVER:VIEW SERVER STATE:deny:l")[0] == (
        Disposition.NOT_APPLICABLE
    )


# ------------------------------------------------------------------ on PostgreSQL


def _roles_of(pg_dsn: str, migration: MigrationPlan, database_name: str,
              logins: tuple[str, ...], roles: tuple[str, ...]) -> dict[str, tuple[bool, ...]]:  # fmt: skip
    ensure_databases(pg_dsn, migration, create=True)
    assert verify_plan(migration, pg_dsn, embedded=False) == []
    with applied(pg_dsn, migration, render_sql(migration), database_name) as conn:
        asked = ", ".join("pg_has_role(%s, %s, 'USAGE')" for _ in roles)
        return {
            who: tuple(conn.execute(f"SELECT {asked}".encode(),
                                    [x for r in roles for x in (who, r)]).fetchone() or ())
            for who in logins
        }  # fmt: skip


@pytest.mark.postgres
def test_on_postgresql_a_shut_out_login_is_no_member(pg_dsn: str, prefix: str) -> None:
    """Applied: the login granted VIEW DATABASE STATE in A and denied CONNECT on B is no
    member of pg_read_all_stats; the VIEW SERVER STATE login denied the same stays one."""
    dbstate, server = f"{prefix}_dbstate", f"{prefix}_server"
    snap = snapshot(
        database("A", users=(user("u", dbstate), user("s", server)),
                 permissions=(perm("VIEW DATABASE STATE", "u", "DATABASE"),)),
        database("B", users=(user("u", dbstate), user("s", server)),
                 permissions=(perm("CONNECT", "u", "DATABASE", state="D"),
                              perm("CONNECT", "s", "DATABASE", state="D"))),
        logins=(login(dbstate), login(server)),
        server_permissions=(perm("VIEW SERVER STATE", server, "SERVER"),),
    )  # fmt: skip
    names = {"a": f"{prefix}a", "b": f"{prefix}b"}
    migration = contoso.rename_databases(plan(snap, Policy()), names)
    answers = _roles_of(pg_dsn, migration, names["a"], (dbstate, server), (STATS,))
    assert answers == {dbstate: (False,), server: (True,)}


@pytest.mark.postgres
def test_on_postgresql_faithful_control_server_denied_stats(pg_dsn: str, prefix: str) -> None:
    """Applied on plain PostgreSQL: CONTROL SERVER (faithful) with DENY VIEW SERVER STATE is
    no member of pg_read_all_stats (nor pg_monitor), and still of pg_signal_backend."""
    dba = f"{prefix}_dba"
    snap = snapshot(
        database(users=(user("u", dba),)), logins=(login(dba),),
        server_permissions=(perm("CONTROL SERVER", dba, "SERVER"),
                            perm("VIEW SERVER STATE", dba, "SERVER", state="D")),
    )  # fmt: skip
    policy = parse_policy('target = "postgresql"\n[overgrants]\ndefault_mode = "faithful"\n')
    name = f"{prefix}sales"
    migration = contoso.rename_databases(plan(snap, policy), {"sales": name})
    answers = _roles_of(pg_dsn, migration, name, (dba,), (STATS, MONITOR, SIGNAL))
    assert answers == {dba: (False, False, True)}
