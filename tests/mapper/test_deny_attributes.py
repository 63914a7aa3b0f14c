"""DENYs take the PostgreSQL role attributes they take part of (fail closed).

Some SQL Server permissions map to role *attributes*, not grants (mapper/privileges.py,
mapper/translate/overgrants.py): CREATE ANY DATABASE → CREATEDB; in faithful mode ALTER ANY
LOGIN (and the other principal administration permissions, securityadmin) → CREATEROLE, and
CONTROL SERVER → CREATEDB and CREATEROLE on plain PostgreSQL (``rds_superuser`` on Aurora,
which "allows: … create roles …; create databases", reference/mssql/rds_postgres_roles.csv).
In SQL Server a DENY wins over the GRANT ("Permissions (Database Engine)", "Summary of the
permission check algorithm"), and a CONTROL SERVER holder is subject to DENY while a sysadmin
member is not (reference/mssql/fixed_server_roles.csv, sysadmin: "role membership is not equal
to CONTROL SERVER: sysadmin members cannot be denied permissions").

Attributes are not inherited in PostgreSQL, but a member of a role holding one uses it after
``SET ROLE``: a member denied the permission must not stay a member of such a role.
Regression: each DENY below was disposed "the plan grants nothing this DENY removes" and the
login kept CREATEDB / CREATEROLE (itself, or through SET ROLE to its server role).
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
    rules_of,
    snapshot,
    user,
)

CREATEDB, CREATEROLE = "CREATEDB", "CREATEROLE"
#: the permission each attribute stands for, granted and denied below
GIVES = {CREATEDB: "CREATE ANY DATABASE", CREATEROLE: "ALTER ANY LOGIN"}
FAITHFUL = parse_policy('target = "postgresql"\n[overgrants]\ndefault_mode = "faithful"\n')


def usable(p: MigrationPlan, login_role: str) -> set[str]:
    """The attributes a login role can use: its own, and those of every role it may SET ROLE
    to (any role it inherits from)."""
    attributes = {r.name: set(r.attributes) for r in p.roles}
    return set().union(*(attributes.get(r, set()) for r in reach(p, login_role)))


def _deny(permission: str, grantee: str = "L") -> Permission:
    return perm(permission, grantee, "SERVER", state="D")


def _plan(
    *server_permissions: Permission, policy: Policy = FAITHFUL, **fields: object
) -> MigrationPlan:
    snap = snapshot(database(users=(user("u", "L"), user("k", "K"))),
                    logins=(login("L"), login("K")), server_permissions=server_permissions,
                    **fields)  # fmt: skip
    return plan(snap, policy)


# ------------------------------------------------------------------ granted directly


def test_a_direct_grant_of_create_any_database_is_overridden() -> None:
    """Already right before: the DENY overrides the GRANT row itself (regression test)."""
    p = _plan(perm("CREATE ANY DATABASE", "L", "SERVER"), _deny("CREATE ANY DATABASE"))
    assert CREATEDB not in usable(p, "l")
    assert disposition_of(p, "server/perm:SERVER:CREATE ANY DATABASE:grant:l")[0] == (
        Disposition.NOT_APPLICABLE
    )


@pytest.mark.parametrize("attribute", [CREATEDB, CREATEROLE])
def test_a_grant_and_a_deny_of_the_same_permission_cancel(attribute: str) -> None:
    """GRANT and DENY of one permission to one login: SQL Server refuses it, the plan gives
    nothing and takes nothing. Regression (CREATEROLE): the faithful over-grant gave CREATEROLE,
    the DENY took it back, and GB020 / GB040 said the login lost more than SQL Server denies."""
    p = _plan(perm(GIVES[attribute], "L", "SERVER"), _deny(GIVES[attribute]))
    assert usable(p, "l") == set()
    grant, why = disposition_of(p, f"server/perm:SERVER:{GIVES[attribute]}:grant:l")
    assert (grant, why) == (
        Disposition.NOT_APPLICABLE,
        f"overridden in SQL Server: DENY {GIVES[attribute]} on SERVER beats any GRANT",
    )
    deny, why = disposition_of(p, f"server/perm:SERVER:{GIVES[attribute]}:deny:l")
    assert (deny, why) == (Disposition.NOT_APPLICABLE, "the plan grants nothing this DENY removes")
    assert not {r for r, _ in rules_of(p, "L")} & {"GB005", "GB020", "GB040"}


def test_a_direct_faithful_alter_any_login_loses_createrole() -> None:
    """ALTER ANY USER granted too: CREATEROLE stands for it as well, so it goes (fail closed)."""
    granted = perm("ALTER ANY USER", "u", "DATABASE")
    snap = snapshot(database(users=(user("u", "L"),), permissions=(granted,)), logins=(login("L"),),
                    server_permissions=(_deny("ALTER ANY LOGIN"),))  # fmt: skip
    p = plan(snap, FAITHFUL)
    assert CREATEROLE not in usable(p, "l")
    grant, why = disposition_of(p, "Sales/perm:DATABASE:ALTER ANY USER:grant:u")
    assert grant == Disposition.APPROXIMATED
    assert why.startswith("DENY restructuring removed what it gave [u]: DENY ALTER ANY LOGIN")
    deny, why = disposition_of(p, "server/perm:SERVER:ALTER ANY LOGIN:deny:l")
    assert deny == Disposition.APPROXIMATED  # CREATEROLE stands for more than ALTER ANY LOGIN
    assert "CREATEROLE" in why
    assert {("GB020", "CREATEROLE"), ("GB040", "SERVER")} <= rules_of(p, "L")


def test_a_faithful_securityadmin_member_loses_createrole() -> None:
    p = _plan(_deny("ALTER ANY LOGIN"), server_memberships=(member("securityadmin", "L"),))
    assert CREATEROLE not in usable(p, "l")
    disposition, why = disposition_of(p, "server/member:securityadmin<-l")
    assert disposition == Disposition.APPROXIMATED
    assert "DENY ALTER ANY LOGIN" in why


@pytest.mark.parametrize("attribute", [CREATEDB, CREATEROLE])
def test_the_other_login_keeps_it(attribute: str) -> None:
    p = _plan(perm(GIVES[attribute], "K", "SERVER"), _deny(GIVES[attribute]))
    assert attribute in usable(p, "k")


# ------------------------------------------------------------------ through a server role


def _through_role(*granted: str, denied: str) -> MigrationPlan:
    return _plan(
        *(perm(g, "admins", "SERVER") for g in granted), _deny(denied),
        server_roles=(ServerRole(name="admins", source_ref=REF),),
        server_memberships=(member("admins", "L"), member("admins", "K")),
    )  # fmt: skip


@pytest.mark.parametrize("attribute", [CREATEDB, CREATEROLE])
def test_a_server_roles_member_cannot_set_role_to_it(attribute: str) -> None:
    """The role keeps the attribute for its other members; the denied member leaves it (the
    role gives nothing else)."""
    p = _through_role(GIVES[attribute], denied=GIVES[attribute])
    assert attribute not in usable(p, "l")
    assert attribute in usable(p, "k")
    assert "admins" not in reach(p, "l")
    assert ("GB020", "admins") in rules_of(p, "L")


def test_a_server_roles_member_keeps_the_attribute_not_denied() -> None:
    """CREATEDB and CREATEROLE on the role, CREATE ANY DATABASE denied: the member's derived
    role keeps CREATEROLE."""
    p = _through_role("CREATE ANY DATABASE", "ALTER ANY LOGIN", denied="CREATE ANY DATABASE")
    assert usable(p, "l") == {CREATEROLE}
    assert usable(p, "k") == {CREATEDB, CREATEROLE}
    assert (
        disposition_of(p, "server/perm:SERVER:CREATE ANY DATABASE:deny:l")[0] == Disposition.MAPPED
    )


# ------------------------------------------------------------------ faithful CONTROL SERVER


def test_faithful_control_server_denied_create_any_database_loses_createdb() -> None:
    p = _plan(perm("CONTROL SERVER", "L", "SERVER"), _deny("CREATE ANY DATABASE"))
    assert usable(p, "l") == {CREATEROLE}
    deny, why = disposition_of(p, "server/perm:SERVER:CREATE ANY DATABASE:deny:l")
    assert deny == Disposition.MAPPED  # CREATEDB stands for CREATE ANY DATABASE alone
    assert "CREATEDB" in why
    assert ("GB020", "CREATEDB") in rules_of(p, "L")
    grant, why = disposition_of(p, "server/perm:SERVER:CONTROL SERVER:grant:l")
    assert grant == Disposition.MAPPED
    assert "DENY CREATE ANY DATABASE ON SERVER TO [L]" in why


def test_faithful_control_server_denied_alter_any_login_loses_createrole() -> None:
    p = _plan(perm("CONTROL SERVER", "L", "SERVER"), _deny("ALTER ANY LOGIN"))
    assert usable(p, "l") == {CREATEDB}
    deny, why = disposition_of(p, "server/perm:SERVER:ALTER ANY LOGIN:deny:l")
    assert deny == Disposition.APPROXIMATED
    assert "CREATEROLE" in why
    grant, _ = disposition_of(p, "server/perm:SERVER:CONTROL SERVER:grant:l")
    assert grant == Disposition.APPROXIMATED  # it loses more than SQL Server denies


def test_faithful_control_server_denied_alter_any_user_in_a_database() -> None:
    """A database DENY of ALTER ANY USER: CREATEROLE administers every role, so it goes."""
    snap = snapshot(
        database(users=(user("u", "L"),),
                 permissions=(perm("ALTER ANY USER", "u", "DATABASE", state="D"),)),
        logins=(login("L"),), server_permissions=(perm("CONTROL SERVER", "L", "SERVER"),),
    )  # fmt: skip
    p = plan(snap, FAITHFUL)
    assert usable(p, "l") == {CREATEDB}
    deny, why = disposition_of(p, "Sales/perm:DATABASE:ALTER ANY USER:deny:u")
    assert deny == Disposition.APPROXIMATED
    assert "CREATEROLE" in why
    [taken] = [f for f in p.findings if f.rule_id == "GB020" and f.securable == CREATEROLE]
    # the evidence names the database as T-SQL does (it read "ON DATABASE TO [u]")
    assert taken.evidence == "DENY ALTER ANY USER ON DATABASE::[Sales] TO [u] (test.sql:1)"


def test_a_deny_shutting_it_out_of_a_database_takes_createrole() -> None:
    """DENY CONTROL on a database shuts the login out of it and covers ALTER ANY USER there
    (deny_shut.predefined_denials): CREATEROLE goes too; CREATEDB stays."""
    snap = snapshot(
        database(users=(user("u", "L"),),
                 permissions=(perm("CONTROL", "u", "DATABASE", state="D"),)),
        logins=(login("L"),), server_permissions=(perm("CONTROL SERVER", "L", "SERVER"),),
    )  # fmt: skip
    p = plan(snap, FAITHFUL)
    assert usable(p, "l") == {CREATEDB}
    deny, why = disposition_of(p, "Sales/perm:DATABASE:CONTROL:deny:u")
    assert deny == Disposition.APPROXIMATED
    assert why.startswith("it shuts [u] and its members out of [Sales]")
    assert "CREATEROLE" in why


def test_faithful_control_server_on_aurora_loses_rds_superuser() -> None:
    """rds_superuser creates databases (reference/mssql/rds_postgres_roles.csv): taken whole."""
    aurora = parse_policy('target = "aurora"\n[overgrants]\ndefault_mode = "faithful"\n')
    p = _plan(perm("CONTROL SERVER", "L", "SERVER"), _deny("CREATE ANY DATABASE"), policy=aurora)
    assert "rds_superuser" not in reach(p, "l")
    deny, why = disposition_of(p, "server/perm:SERVER:CREATE ANY DATABASE:deny:l")
    assert deny == Disposition.APPROXIMATED
    assert "rds_superuser" in why


@pytest.mark.parametrize("attribute", [CREATEDB, CREATEROLE])
def test_a_faithful_sysadmin_keeps_it(attribute: str) -> None:
    """sysadmin members are never denied (regression test)."""
    p = _plan(_deny(GIVES[attribute]), server_memberships=(member("sysadmin", "L"),))
    assert usable(p, "l") == {CREATEDB, CREATEROLE}
    assert disposition_of(p, f"server/perm:SERVER:{GIVES[attribute]}:deny:l")[0] == (
        Disposition.NOT_APPLICABLE
    )


# ------------------------------------------------------------------ on PostgreSQL


@pytest.mark.postgres
def test_on_postgresql_the_denied_logins_hold_neither(pg_dsn: str, prefix: str) -> None:
    """Applied: neither the CONTROL SERVER login denied CREATE ANY DATABASE nor the server
    role's member denied ALTER ANY LOGIN holds the attribute, itself or through a role it is a
    member of (pg_roles.rolcreatedb / rolcreaterole); the sysadmin member and the other
    member keep theirs."""
    dba, joined, other, sa = (f"{prefix}_{n}" for n in ("dba", "member", "other", "sa"))
    logins = (dba, joined, other, sa)
    snap = snapshot(
        database(users=tuple(user(f"u{i}", n) for i, n in enumerate(logins))),
        logins=tuple(login(n) for n in logins),
        server_roles=(ServerRole(name=f"{prefix}_admins", source_ref=REF),),
        server_memberships=(member(f"{prefix}_admins", joined), member(f"{prefix}_admins", other),
                            member("sysadmin", sa)),
        server_permissions=(perm("CONTROL SERVER", dba, "SERVER"),
                            _deny("CREATE ANY DATABASE", dba),
                            perm("ALTER ANY LOGIN", f"{prefix}_admins", "SERVER"),
                            _deny("ALTER ANY LOGIN", joined),
                            _deny("CREATE ANY DATABASE", sa)),
    )  # fmt: skip
    name = f"{prefix}sales"
    migration = contoso.rename_databases(plan(snap, FAITHFUL), {"sales": name})
    ensure_databases(pg_dsn, migration, create=True)
    assert verify_plan(migration, pg_dsn, embedded=False) == []
    with applied(pg_dsn, migration, render_sql(migration), name) as conn:
        answers = {
            who: conn.execute(
                "SELECT bool_or(rolcreatedb), bool_or(rolcreaterole) FROM pg_roles "
                "WHERE pg_has_role(%s, oid, 'MEMBER')",
                [who],
            ).fetchone()
            for who in logins
        }
    assert answers == {
        dba: (False, True),
        joined: (False, False),
        other: (False, True),
        sa: (True, True),
    }
