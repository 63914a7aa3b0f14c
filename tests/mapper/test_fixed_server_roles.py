"""Fixed server roles: a member gets what the role's permissions give when granted directly.

Each fixed server role's permissions come from mapper/data/fixed_server_roles.csv (SQL Server
2008 R2 "Permissions of Fixed Server Roles", and "Server-level roles" for the SQL Server 2022
``##MS_…##`` roles); what a permission becomes is its SERVER row in mapper/privileges.py
(ALTER ANY CONNECTION → pg_signal_backend, CREATE ANY DATABASE → CREATEDB, VIEW SERVER STATE →
pg_read_all_stats, CONNECT ANY DATABASE → CONNECT on each database entered). Regression: every
such membership became GB043 "fixed role without a PostgreSQL equivalent" and gave nothing, and
``GRANT CREATE ANY DATABASE`` set CREATEDB while its disposition said it granted nothing.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from mapper import fixed_roles
from mapper.effective import EffectivePermissions, Securable
from mapper.plan import Disposition, FactDisposition, MigrationPlan
from mapper.planner import plan
from mapper.policy import Policy, parse_policy
from mapper.privileges import lookup
from mssql_extract.snapshot import SecuritySnapshot, ServerRole
from tests.mapper.estate import REF, database, login, member, perm, snapshot, user

FAITHFUL = parse_policy('[overgrants]\ndefault_mode = "faithful"\n')
#: Roles holding an over-granting permission: the over-grant rules decide (unchanged).
OVERGRANTING = {"sysadmin": "GB002", "securityadmin": "GB004", "##MS_LoginManager##": "GB005"}
ROLES = [r for r in fixed_roles.fixed_server_roles() if r not in {"public", *OVERGRANTING}]


def _member_of(role: str, **fields: Any) -> SecuritySnapshot:
    return snapshot(logins=(login("l"),), server_memberships=(member(role, "l"),), **fields)


def _granted(*permissions: str) -> SecuritySnapshot:
    rows = tuple(perm(p, "l", "SERVER") for p in permissions)
    return snapshot(logins=(login("l"),), server_permissions=rows)


def _access(p: MigrationPlan, name: str = "l") -> tuple[set[str], set[tuple[str, str]], Any]:
    """What the plan gives a role: the roles it is a member of, its database grants, its
    attributes."""
    role = p.role(name)
    assert role is not None
    return (
        {m.role for m in p.memberships if m.member == name},
        {(g.name, g.privilege) for g in p.grants if g.grantee == name},
        role.attributes,
    )


def _fact(p: MigrationPlan, fact: str) -> FactDisposition:
    (found,) = [d for d in p.dispositions if d.fact == fact]
    return found


def _membership(p: MigrationPlan, role: str, name: str = "l") -> FactDisposition:
    return _fact(p, f"server/member:{role.casefold()}<-{name}")


def _rules(p: MigrationPlan, fact: FactDisposition) -> set[str]:
    return {f.rule_id for f in p.findings if f.key in fact.findings}


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("policy", [Policy(), FAITHFUL], ids=["downscope", "faithful"])
def test_a_member_gets_what_the_role_s_permissions_give_granted_directly(
    role: str, policy: Policy
) -> None:
    permissions = [g.permission for g in fixed_roles.server_role_grants() if g.role == role]
    assert permissions
    assert _access(plan(_member_of(role), policy)) == _access(plan(_granted(*permissions), policy))


CONNECT = ("grant:DATABASE sales:sales:CONNECT:l", "grant:DATABASE sales:sales:TEMPORARY:l")

#: role, disposition, items, findings, what the reason (and a GB043 action) says.
DISPOSITIONS = [
    ("processadmin", Disposition.APPROXIMATED, ("membership:pg_signal_backend<-l",), {"GB043"},
     "ALTER ANY CONNECTION: membership in pg_signal_backend. Not granted: ALTER SERVER STATE."),
    ("dbcreator", Disposition.MAPPED, ("role:l",), set(),
     "CREATE ANY DATABASE: the CREATEDB attribute on role 'l'."),
    ("serveradmin", Disposition.APPROXIMATED, ("membership:pg_read_all_stats<-l",), {"GB043"},
     "Not granted: ALTER ANY ENDPOINT, ALTER RESOURCES, ALTER SERVER STATE, ALTER SETTINGS, "
     "SHUTDOWN."),
    ("##MS_ServerStateReader##", Disposition.APPROXIMATED, ("membership:pg_read_all_stats<-l",),
     {"GB043"}, "VIEW SERVER STATE, VIEW SERVER PERFORMANCE STATE: membership in "
     "pg_read_all_stats. Not granted: VIEW SERVER SECURITY STATE."),
    ("##MS_ServerPerformanceStateReader##", Disposition.MAPPED,
     ("membership:pg_read_all_stats<-l",), set(), "pg_read_all_stats"),
    ("##MS_DatabaseManager##", Disposition.APPROXIMATED, ("role:l",), {"GB043"},
     "the CREATEDB attribute on role 'l'. Not granted: ALTER ANY DATABASE."),
    ("##MS_DatabaseConnector##", Disposition.APPROXIMATED, CONNECT, {"GB040"},
     "CONNECT ANY DATABASE: CONNECT on sales"),
    ("setupadmin", Disposition.APPROXIMATED, (), {"GB043"},
     "Not granted: ALTER ANY LINKED SERVER."),
    ("##MS_DefinitionReader##", Disposition.NOT_APPLICABLE, (), set(),
     "Nothing to grant for VIEW ANY DATABASE, VIEW ANY DEFINITION, VIEW ANY PERFORMANCE "
     "DEFINITION, VIEW ANY SECURITY DEFINITION: every PostgreSQL role may read its catalogs."),
    ("##MS_SecurityDefinitionReader##", Disposition.NOT_APPLICABLE, (), set(),
     "Nothing to grant for VIEW ANY SECURITY DEFINITION"),
]  # fmt: skip


@pytest.mark.parametrize(("role", "disposition", "items", "rules", "said"), DISPOSITIONS)
def test_membership_disposition_says_what_each_permission_became(
    role: str, disposition: Disposition, items: tuple[str, ...], rules: set[str], said: str
) -> None:
    p = plan(_member_of(role), Policy())
    fact = _membership(p, role)
    assert (fact.disposition, fact.items, _rules(p, fact)) == (disposition, items, rules)
    assert said in fact.reason
    for finding in (f for f in p.findings if f.key in fact.findings):
        assert said in finding.action  # GB043 lists what was left out; GB040 what was granted
        assert finding.evidence == f"[l] is a member of fixed role {role} in the server"


def test_every_role_or_attribute_row_a_fixed_server_role_holds_is_mapped() -> None:
    """plan_fixed_server_role approximates only for left-out and CONNECT ANY DATABASE rows."""
    rows = [lookup("SERVER", g.permission) for g in fixed_roles.server_role_grants()]
    assert {r.outcome for r in rows if r.role or r.attribute} == {"mapped"}


@pytest.mark.parametrize(("role", "rule"), sorted(OVERGRANTING.items()))
def test_over_granting_roles_keep_the_over_grant_rules(role: str, rule: str) -> None:
    p = plan(_member_of(role), Policy())
    fact = _membership(p, role)
    assert (fact.disposition, _rules(p, fact)) == (Disposition.DOWNSCOPED, {rule})


def test_login_manager_is_the_alter_any_login_grant_it_holds() -> None:
    """##MS_LoginManager## (CREATE LOGIN, ALTER ANY LOGIN): GB005 as ALTER ANY LOGIN granted
    directly, CREATEROLE in faithful mode."""
    as_member, granted = (
        plan(_member_of("##MS_LoginManager##"), FAITHFUL),
        plan(_granted("ALTER ANY LOGIN"), FAITHFUL),
    )
    assert _access(as_member) == _access(granted) == (set(), set(), ("CREATEROLE",))
    fact = _membership(as_member, "##MS_LoginManager##")
    assert (fact.disposition, fact.items, _rules(as_member, fact)) == (
        Disposition.MAPPED, ("role:l",), {"GB005"},
    )  # fmt: skip


def test_a_deny_keeps_a_role_s_permission_from_the_member() -> None:
    denied = (perm("ALTER ANY CONNECTION", "l", "SERVER", state="D"),)
    p = plan(_member_of("processadmin", server_permissions=denied), Policy())
    assert _access(p) == (set(), set(), ())
    fact = _membership(p, "processadmin")
    assert fact.disposition == Disposition.APPROXIMATED  # ALTER SERVER STATE still left out
    assert "Overridden in SQL Server by a DENY: ALTER ANY CONNECTION." in fact.reason


def test_a_deny_of_everything_the_role_holds_leaves_nothing_to_map() -> None:
    denied = (perm("VIEW SERVER STATE", "l", "SERVER", state="D"),)  # covers the other two
    p = plan(_member_of("##MS_ServerStateReader##", server_permissions=denied), Policy())
    fact = _membership(p, "##MS_ServerStateReader##")
    assert (fact.disposition, fact.items, fact.findings) == (Disposition.NOT_APPLICABLE, (), ())


@pytest.mark.parametrize("name", ["conn", "app"])
def test_database_connector_members_connect_exactly_where_sql_server_lets_them_in(
    name: str,
) -> None:
    snap = snapshot(
        database("A"), database("B", users=(user("conn", "conn"),),
                                permissions=(perm("CONNECT", "conn", "DATABASE", state="D"),)),
        logins=(login("conn"), login("app")),
        server_memberships=(member("##MS_DatabaseConnector##", name),),
    )  # fmt: skip
    engine = EffectivePermissions(snap)
    expected = {
        db.name.lower() for db in snap.databases
        if engine.explain(db.name, name, Securable("DATABASE"), "CONNECT").allowed
    }  # fmt: skip
    p = plan(snap, Policy())
    assert {g.name for g in p.grants if g.grantee == name and g.privilege == "CONNECT"} == expected
    assert expected == ({"a"} if name == "conn" else {"a", "b"})


def test_a_server_role_in_a_fixed_role_gets_its_predefined_role_for_its_members() -> None:
    snap = snapshot(
        logins=(login("l"),),
        server_roles=(ServerRole(name="ops", source_ref=REF),),
        server_memberships=(member("ops", "l"), member("processadmin", "ops")),
    )
    p = plan(snap, Policy())
    pairs = {(m.role, m.member) for m in p.memberships}
    assert {("pg_signal_backend", "ops"), ("ops", "l")} <= pairs


# ------------------------------------------------------------------ role attributes granted directly


def test_create_any_database_maps_to_the_role_it_sets_createdb_on() -> None:
    p = plan(_granted("CREATE ANY DATABASE"), Policy())
    fact = _fact(p, "server/perm:SERVER:CREATE ANY DATABASE:grant:l")
    assert (fact.disposition, fact.items) == (Disposition.MAPPED, ("role:l",))
    assert "CREATEDB" in fact.reason
    assert _access(p) == (set(), set(), ("CREATEDB",))


def test_create_any_database_a_fixed_role_gave_already_is_implied() -> None:
    snap = _member_of("dbcreator", server_permissions=(perm("CREATE ANY DATABASE", "l", "SERVER"),))
    p = plan(snap, Policy())
    fact = _fact(p, "server/perm:SERVER:CREATE ANY DATABASE:grant:l")
    assert (fact.disposition, fact.items) == (Disposition.IMPLIED, ("role:l",))
    assert _membership(p, "dbcreator").disposition == Disposition.MAPPED


# ------------------------------------------------------------------ on PostgreSQL


@pytest.mark.postgres
def test_fixed_server_role_members_get_their_access_on_postgresql(
    pg_dsn: str, prefix: str, tmp_path: Path
) -> None:
    from pg_emit.server import connect
    from pg_emit.verify import verify_plan
    from tests.emit.conftest import apply_on_stubs

    roles = {"ops": "processadmin", "mk": "dbcreator", "mon": "##MS_ServerStateReader##",
             "conn": "##MS_DatabaseConnector##", "cut": "direct"}  # fmt: skip
    name = {short: f"{prefix}{short}" for short in roles}
    snap = snapshot(
        database(f"{prefix}A"),
        logins=tuple(login(n) for n in name.values()),
        server_memberships=tuple(member(r, name[s]) for s, r in roles.items() if r != "direct"),
        server_permissions=(perm("CREATE ANY DATABASE", name["cut"], "SERVER"),),
    )
    planned = plan(snap, Policy())
    apply_on_stubs(pg_dsn, planned, tmp_path / "plan")
    assert verify_plan(planned, pg_dsn, embedded=False) == []
    with connect(pg_dsn) as conn:
        member_of = "SELECT pg_has_role(%s, %s, 'MEMBER')"
        assert conn.execute(member_of, [name["ops"], "pg_signal_backend"]).fetchone() == (True,)
        assert conn.execute(member_of, [name["mon"], "pg_read_all_stats"]).fetchone() == (True,)
        assert conn.execute(member_of, [name["conn"], "pg_read_all_stats"]).fetchone() == (False,)
        createdb = "SELECT rolname FROM pg_roles WHERE rolcreatedb AND starts_with(rolname, %s)"
        rows = conn.execute(createdb, [prefix]).fetchall()
        assert sorted(r for (r,) in rows) == sorted([name["cut"], name["mk"]])
        connects = "SELECT has_database_privilege(%s, %s, 'CONNECT')"
        for short, allowed in (("conn", True), ("ops", False)):
            assert conn.execute(connects, [name[short], f"{prefix}a"]).fetchone() == (allowed,)


def test_a_server_grant_to_public_of_a_predefined_role_emits_nothing_postgresql_rejects() -> None:
    """GRANT VIEW SERVER STATE TO public: PostgreSQL has no GRANT pg_read_all_stats TO PUBLIC
    (PUBLIC is not a role), so nothing is granted and the disposition says what to do."""
    grant = perm("VIEW SERVER STATE", "public", "SERVER")
    public = ServerRole(name="public", is_fixed=True, source_ref=REF)
    snap = snapshot(logins=(login("app"),), server_roles=(public,), server_permissions=(grant,))
    p = plan(snap, Policy())
    assert not [m for m in p.memberships if m.member == "PUBLIC"]
    [disposition] = [d for d in p.dispositions if "VIEW SERVER STATE" in d.fact]
    assert disposition.disposition == Disposition.NOT_APPLICABLE
    assert "pg_read_all_stats" in disposition.reason
    assert any(f.rule_id == "GB008" for f in p.findings)
