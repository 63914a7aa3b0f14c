"""CONNECT and TEMPORARY: who may enter a database and create temporary tables there.

SQL Server lets every user create temporary objects in tempdb ("tempdb database", Permissions),
so TEMPORARY goes with CONNECT once hardening revokes both from PUBLIC. Server-wide access —
sysadmin, CONTROL SERVER, CONNECT ANY DATABASE, SELECT ALL USER SECURABLES — reaches every
database the login may enter, which the plan must grant there (CONNECT, and the database's
db_datareader role for SELECT ALL USER SECURABLES), checked against the project's own SQL Server
engine (:class:`mapper.effective.EffectivePermissions`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from mapper.effective import EffectivePermissions, Securable
from mapper.plan import Disposition, MigrationPlan
from mapper.planner import plan
from mapper.policy import Policy, parse_policy
from mssql_extract.snapshot import Membership, ServerRole, SourceRef
from tests.mapper.estate import REF, database, login, perm, snapshot, user

FAITHFUL = parse_policy('[overgrants]\ndefault_mode = "faithful"\n')
NO_HARDENING = parse_policy("[hardening]\nrevoke_public_defaults = false\n")


def _server_perm(permission: str, grantee: str, state: str = "G", line: int = 1) -> Any:
    ref = SourceRef(origin="server.sql", line=line)
    return perm(permission, grantee, "SERVER", state).model_copy(update={"source_ref": ref})


def _sysadmin(name: str) -> Membership:
    return Membership(role="sysadmin", member=name, source_ref=REF)


def _two(*logins: Any, a: dict[str, Any] | None = None, b: dict[str, Any] | None = None,
         **fields: Any) -> Any:  # fmt: skip
    """Databases A and B (a table each) and the given logins."""
    return snapshot(database("A", **(a or {})), database("B", **(b or {})), logins=logins,
                    **fields)  # fmt: skip


def _database_grants(p: MigrationPlan, grantee: str) -> set[tuple[str, str]]:
    """(database, privilege) of the DATABASE grants to one grantee."""
    return {(g.name, g.privilege) for g in p.grants
            if g.object_type == "DATABASE" and g.grantee == grantee}  # fmt: skip


def _disposition(p: MigrationPlan, fact: str) -> Any:
    (found,) = [d for d in p.dispositions if d.fact == fact]
    return found


def _finding(p: MigrationPlan, key: str) -> Any:
    (found,) = [f for f in p.findings if f.key == key]
    return found


def _connect_closure(p: MigrationPlan, role: str) -> set[str]:
    """Databases ``role`` may connect to: its own CONNECT or an inherited one."""
    parents: dict[str, set[str]] = {}
    for m in p.memberships:
        if m.inherit:
            parents.setdefault(m.member, set()).add(m.role)
    seen, todo = {role}, [role]
    while todo:
        for parent in parents.get(todo.pop(), set()) - seen:
            seen.add(parent)
            todo.append(parent)
    return {g.name for g in p.grants
            if g.object_type == "DATABASE" and g.privilege == "CONNECT" and g.grantee in seen}  # fmt: skip


# ------------------------------------------------------------------ TEMPORARY goes with CONNECT


def test_every_connect_grantee_gets_temporary_and_public_loses_both() -> None:
    p = plan(snapshot(database(users=(user("app", "app"),)), logins=(login("app"),)), Policy())
    assert _database_grants(p, "app") == {("sales", "CONNECT"), ("sales", "TEMPORARY")}
    revoked = {(r.name, r.privilege) for r in p.revokes if r.object_type == "DATABASE"}
    assert revoked == {("sales", "CONNECT"), ("sales", "TEMPORARY")}
    (temporary,) = [g for g in p.grants if g.privilege == "TEMPORARY"]
    (connect,) = [g for g in p.grants if g.privilege == "CONNECT"]
    assert temporary.facts == connect.facts == ("Sales/user:app",)
    assert temporary.key in _disposition(p, "Sales/user:app").items


def test_temporary_follows_a_role_connect_and_the_guest_role() -> None:
    db = database(
        users=(user("app", "app"),), guest_enabled=True,
        permissions=(perm("CONNECT", "guest", "DATABASE"),),
    )  # fmt: skip
    p = plan(snapshot(db, logins=(login("app"), login("visitor"))), Policy())
    assert ("sales", "TEMPORARY") in _database_grants(p, "sales_guest")
    assert _database_grants(p, "visitor") == set()  # it enters through sales_guest


def test_a_source_connect_to_public_goes_to_the_public_role_not_to_public() -> None:
    """SQL Server's public holds only the database's users: its CONNECT lets no other login in.
    Kept on PUBLIC, it would let every role of the cluster connect (and reach public's grants),
    so public becomes the database's role, which gets CONNECT and TEMPORARY; PUBLIC loses both."""
    db = database(users=(user("app", "app"),), permissions=(perm("CONNECT", "public", "DATABASE"),))
    p = plan(snapshot(db, logins=(login("app"), login("other"))), Policy())
    assert _database_grants(p, "PUBLIC") == set()
    assert _database_grants(p, "sales_public") == {("sales", "CONNECT"), ("sales", "TEMPORARY")}
    revoked = {(r.name, r.privilege) for r in p.revokes if r.object_type == "DATABASE"}
    assert revoked == {("sales", "CONNECT"), ("sales", "TEMPORARY")}
    assert _connect_closure(p, "app") == {"sales"}
    assert _connect_closure(p, "other") == set()


def test_without_hardening_public_keeps_temporary_and_nothing_is_added() -> None:
    p = plan(snapshot(database(users=(user("app", "app"),)), logins=(login("app"),)), NO_HARDENING)
    assert _database_grants(p, "app") == {("sales", "CONNECT")}
    assert p.revokes == ()


# ------------------------------------------------------------------ sysadmin and CONTROL SERVER


def test_sysadmin_members_get_connect_and_temporary_on_every_database() -> None:
    p = plan(_two(login("dba"), server_memberships=(_sysadmin("dba"),)), Policy())
    assert _database_grants(p, "dba") == {
        ("a", "CONNECT"), ("a", "TEMPORARY"), ("b", "CONNECT"), ("b", "TEMPORARY"),
    }  # fmt: skip
    assert {m.role for m in p.memberships if m.member == "dba"} == {"a_db_owner", "b_db_owner"}
    fact = _disposition(p, "server/member:sysadmin<-dba")
    assert fact.disposition == Disposition.DOWNSCOPED
    assert "grant:DATABASE a:a:CONNECT:dba" in fact.items
    (gb002,) = [f for f in p.findings if f.rule_id == "GB002"]
    assert gb002.action == (
        "Downscoped to DML and EXECUTE (a_db_owner, b_db_owner), with CONNECT on a, b; "
        "no DDL or ownership. A schema created later is not covered: grant on it when it is "
        "created."
    )


def test_faithful_sysadmin_gets_rds_superuser_and_connect() -> None:
    p = plan(_two(login("dba"), server_memberships=(_sysadmin("dba"),)), FAITHFUL)
    assert ("a", "CONNECT") in _database_grants(p, "dba")
    assert ("b", "CONNECT") in _database_grants(p, "dba")
    (gb002,) = [f for f in p.findings if f.rule_id == "GB002"]
    assert gb002.action == "Made a member of rds_superuser, with CONNECT on a, b."


def test_control_server_connects_where_sql_server_lets_it_in() -> None:
    denied = {"users": (user("ctl", "ctl"),),
              "permissions": (perm("CONNECT", "ctl", "DATABASE", state="D"),)}  # fmt: skip
    p = plan(_two(login("ctl"), b=denied, server_permissions=(_server_perm("CONTROL SERVER", "ctl"),)),
             Policy())  # fmt: skip
    assert _database_grants(p, "ctl") == {("a", "CONNECT"), ("a", "TEMPORARY")}
    assert {m.role for m in p.memberships if m.member == "ctl"} == {"a_db_owner"}
    (gb003,) = [f for f in p.findings if f.rule_id == "GB003"]
    assert "with CONNECT on a;" in gb003.action


# ------------------------------------------------------------------ CONNECT ANY DATABASE


def test_connect_any_database_grants_connect_on_each_database() -> None:
    p = plan(_two(login("mon"), server_permissions=(_server_perm("CONNECT ANY DATABASE", "mon"),)),
             Policy())  # fmt: skip
    assert _database_grants(p, "mon") == {
        ("a", "CONNECT"), ("a", "TEMPORARY"), ("b", "CONNECT"), ("b", "TEMPORARY"),
    }  # fmt: skip
    fact = _disposition(p, "server/perm:SERVER:CONNECT ANY DATABASE:grant:mon")
    assert fact.disposition == Disposition.APPROXIMATED
    assert "grant:DATABASE b:b:CONNECT:mon" in fact.items
    (key,) = fact.findings
    assert _finding(p, key).action.startswith("CONNECT on a, b, each migrated database")


def test_connect_any_database_stays_out_of_a_database_that_denies_connect() -> None:
    denied = {"users": (user("mon", "mon"),),
              "permissions": (perm("CONNECT", "mon", "DATABASE", state="D"),)}  # fmt: skip
    p = plan(_two(login("mon"), a=denied, server_permissions=(_server_perm("CONNECT ANY DATABASE", "mon"),)),
             Policy())  # fmt: skip
    assert {name for name, _ in _database_grants(p, "mon")} == {"b"}


def test_a_server_role_with_connect_any_database_skips_a_database_a_member_is_denied() -> None:
    denied = {"users": (user("kim", "kim"),),
              "permissions": (perm("CONNECT", "kim", "DATABASE", state="D"),)}  # fmt: skip
    snap = _two(
        login("kim"), login("lee"), b=denied,
        server_roles=(ServerRole(name="auditors", source_ref=REF),),
        server_memberships=(Membership(role="auditors", member="kim", source_ref=REF),
                            Membership(role="auditors", member="lee", source_ref=REF)),
        server_permissions=(_server_perm("CONNECT ANY DATABASE", "auditors"),),
    )  # fmt: skip
    p = plan(snap, Policy())
    (auditors,) = [r.name for r in p.roles if r.source == "server role [auditors]"]
    assert {name for name, _ in _database_grants(p, auditors)} == {"a"}


# ------------------------------------------------------------------ SELECT ALL USER SECURABLES


def test_select_all_user_securables_reads_each_database_it_may_enter() -> None:
    snap = _two(
        login("aud"),
        server_permissions=(_server_perm("CONNECT ANY DATABASE", "aud", line=1),
                            _server_perm("SELECT ALL USER SECURABLES", "aud", line=2)),
    )  # fmt: skip
    p = plan(snap, Policy())
    assert {m.role for m in p.memberships if m.member == "aud"} == {
        "a_db_datareader",
        "b_db_datareader",
    }
    assert {(g.name, g.privilege) for g in p.grants if g.grantee == "a_db_datareader"} == {
        ("dbo", "USAGE"),
        ("orders", "SELECT"),
        ("customers", "SELECT"),
    }
    fact = _disposition(p, "server/perm:SERVER:SELECT ALL USER SECURABLES:grant:aud")
    assert fact.disposition == Disposition.APPROXIMATED
    assert fact.items == ("membership:a_db_datareader<-aud", "membership:b_db_datareader<-aud")
    (key,) = fact.findings
    assert _finding(p, key).rule_id == "GB040"
    assert _finding(p, key).action.startswith("Made a member of a_db_datareader, b_db_datareader")


def test_select_all_user_securables_without_entry_reads_only_where_it_has_a_user() -> None:
    snap = _two(login("aud"), b={"users": (user("aud", "aud"),)},
                server_permissions=(_server_perm("SELECT ALL USER SECURABLES", "aud"),))  # fmt: skip
    p = plan(snap, Policy())
    assert {m.role for m in p.memberships if m.member == "aud"} == {"b_db_datareader"}
    assert _connect_closure(p, "aud") == {"b"}


def test_select_all_user_securables_that_enters_nowhere_grants_nothing() -> None:
    snap = _two(
        login("aud"), server_permissions=(_server_perm("SELECT ALL USER SECURABLES", "aud"),)
    )
    p = plan(snap, Policy())
    fact = _disposition(p, "server/perm:SERVER:SELECT ALL USER SECURABLES:grant:aud")
    assert fact.disposition == Disposition.NOT_APPLICABLE
    assert fact.reason == "Nothing granted: SQL Server lets it into no migrated database."
    assert not [m for m in p.memberships if m.member == "aud"]


def test_select_all_user_securables_is_not_granted_where_a_deny_takes_select_away() -> None:
    denied = {"users": (user("aud", "aud"),),
              "permissions": (perm("SELECT", "aud", state="D", schema_name="dbo", object_name="Orders"),)}  # fmt: skip
    snap = _two(
        login("aud"), a=denied,
        server_permissions=(_server_perm("CONNECT ANY DATABASE", "aud", line=1),
                            _server_perm("SELECT ALL USER SECURABLES", "aud", line=2)),
    )  # fmt: skip
    p = plan(snap, Policy())
    assert {m.role for m in p.memberships if m.member == "aud"} == {"b_db_datareader"}
    reason = _disposition(p, "server/perm:SERVER:SELECT ALL USER SECURABLES:grant:aud").reason
    assert reason.endswith("Nothing granted in a: DENYs there take SELECT away on some objects; "
                           "grant what SQL Server allows there by hand.")  # fmt: skip


def test_a_column_deny_also_keeps_the_reader_role_out() -> None:
    deny = perm("SELECT", "aud", state="D", schema_name="dbo", object_name="Customers",
                column_name="name")  # fmt: skip
    snap = snapshot(
        database("A", users=(user("aud", "aud"),), permissions=(deny,)),
        logins=(login("aud"),),
        server_permissions=(_server_perm("SELECT ALL USER SECURABLES", "aud"),),
    )
    p = plan(snap, Policy())
    assert not [m for m in p.memberships if m.member == "aud"]
    fact = _disposition(p, "server/perm:SERVER:SELECT ALL USER SECURABLES:grant:aud")
    assert (fact.disposition, fact.items) == (Disposition.APPROXIMATED, ())
    (key,) = fact.findings
    assert _finding(p, key).action.startswith("Nothing granted in a: DENYs there take SELECT")


def test_one_statement_granting_both_gives_one_finding_saying_both() -> None:
    snap = _two(
        login("aud"),
        server_permissions=(_server_perm("CONNECT ANY DATABASE", "aud"),
                            _server_perm("SELECT ALL USER SECURABLES", "aud")),
    )  # fmt: skip
    p = plan(snap, Policy())
    (gb040,) = [f for f in p.findings if f.rule_id == "GB040"]
    assert gb040.evidence == (
        "CONNECT ANY DATABASE ON SERVER TO [aud]; SELECT ALL USER SECURABLES ON SERVER TO [aud]"
    )
    assert gb040.action.startswith("CONNECT on a, b")
    assert "Made a member of a_db_datareader, b_db_datareader" in gb040.action
    assert "CONNECT on each migrated database." not in gb040.action


def test_a_denied_server_grant_stays_overridden() -> None:
    snap = _two(
        login("aud"), server_roles=(ServerRole(name="nobody", source_ref=REF),),
        server_memberships=(Membership(role="nobody", member="aud", source_ref=REF),),
        server_permissions=(_server_perm("CONNECT ANY DATABASE", "aud"),
                            _server_perm("CONNECT ANY DATABASE", "nobody", state="D")),
    )  # fmt: skip
    p = plan(snap, Policy())
    fact = _disposition(p, "server/perm:SERVER:CONNECT ANY DATABASE:grant:aud")
    assert fact.disposition == Disposition.NOT_APPLICABLE
    assert fact.reason.startswith("overridden in SQL Server")
    assert _database_grants(p, "aud") == set()


# ------------------------------------------------------------------ against the engine


#: As a catalog snapshot has it: CREATE USER gave app its CONNECT row. own owns A (dbo).
ESTATE = _two(
    login("dba"), login("ctl"), login("mon"), login("aud"), login("app"), login("nobody"),
    login("own"),
    a={"owner": "own", "users": (user("app", "app"), user("ctl", "ctl")),
       "permissions": (perm("CONNECT", "app", "DATABASE"),
                       perm("CONNECT", "ctl", "DATABASE", state="D"))},
    server_memberships=(_sysadmin("dba"),),
    server_permissions=(_server_perm("CONTROL SERVER", "ctl", line=1),
                        _server_perm("CONNECT ANY DATABASE", "mon", line=2),
                        _server_perm("SELECT ALL USER SECURABLES", "aud", line=3)),
)  # fmt: skip


@pytest.mark.parametrize("policy", [Policy(), FAITHFUL], ids=["downscope", "faithful"])
@pytest.mark.parametrize("name", ["dba", "ctl", "mon", "aud", "app", "nobody", "own"])
def test_the_plan_connects_exactly_where_sql_server_lets_a_login_in(
    name: str, policy: Policy
) -> None:
    engine = EffectivePermissions(ESTATE)
    expected = {
        db.name.lower() for db in ESTATE.databases
        if engine.explain(db.name, name, Securable("DATABASE"), "CONNECT").allowed
    }  # fmt: skip
    p = plan(ESTATE, policy)
    assert _connect_closure(p, name) == expected
    temporary = {g.name for g in p.grants if g.privilege == "TEMPORARY"}
    assert _connect_closure(p, name) <= temporary


# ------------------------------------------------------------------ faithful attributes


def test_a_faithful_attribute_is_mapped_to_the_role() -> None:
    snap = snapshot(
        logins=(login("ops"),), server_permissions=(_server_perm("ALTER ANY LOGIN", "ops"),)
    )
    p = plan(snap, FAITHFUL)
    fact = _disposition(p, "server/perm:SERVER:ALTER ANY LOGIN:grant:ops")
    assert (fact.disposition, fact.items) == (Disposition.MAPPED, ("role:ops",))
    assert p.role("ops") is not None
    assert "CREATEROLE" in p.role("ops").attributes  # type: ignore[union-attr]


# ------------------------------------------------------------------ on PostgreSQL


@pytest.mark.postgres
def test_migrated_logins_create_temporary_tables_on_postgresql(
    pg_dsn: str, prefix: str, tmp_path: Path
) -> None:
    from pg_emit.server import connect
    from pg_emit.verify import verify_plan
    from tests.emit.conftest import apply_on_stubs

    app, dba, aud, nobody = (f"{prefix}{n}" for n in ("app", "dba", "aud", "nobody"))
    snap = snapshot(
        database(f"{prefix}A", users=(user(app, app),)), database(f"{prefix}B"),
        logins=(login(app), login(dba), login(aud), login(nobody)),
        server_memberships=(_sysadmin(dba),),
        server_permissions=(_server_perm("CONNECT ANY DATABASE", aud, line=1),
                            _server_perm("SELECT ALL USER SECURABLES", aud, line=2)),
    )  # fmt: skip
    planned = plan(snap, Policy())
    apply_on_stubs(pg_dsn, planned, tmp_path / "plan")
    assert verify_plan(planned, pg_dsn, embedded=False) == []
    a, b = f"{prefix}a", f"{prefix}b"
    with connect(pg_dsn, a) as conn:
        check = "SELECT has_database_privilege(%s, %s, %s)"
        for role, target, allowed in ((app, a, True), (dba, b, True), (aud, b, True),
                                      (app, b, False), (nobody, a, False)):  # fmt: skip
            for privilege in ("CONNECT", "TEMPORARY"):
                assert conn.execute(check, [role, target, privilege]).fetchone() == (allowed,)
        select = "SELECT has_table_privilege(%s, 'dbo.orders', 'SELECT')"
        assert conn.execute(select, [aud]).fetchone() == (True,)
    with connect(pg_dsn, a) as conn:  # a new session: its temporary schema is made as the role
        conn.execute(f'SET ROLE "{app}"'.encode())
        conn.execute(b"CREATE TEMP TABLE gb_scratch (x integer)")
        conn.execute(b"INSERT INTO gb_scratch VALUES (1)")
