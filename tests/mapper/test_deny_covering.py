"""A DENY denies every permission it covers, whichever way the access arrives (audit c28–c42).

"Permissions (Database Engine)", "Summary of the permission check algorithm": "If CONTROL was
denied on the table, SELECT on the table is denied". On a database, CONTROL covers CONNECT
REPLICATION, which covers CONNECT (reference/mssql/builtin_permissions_sql2022.csv), so ``DENY
CONTROL`` and ``DENY CONNECT REPLICATION`` shut a user out of the database as ``DENY CONNECT``
does, and ``DENY ALTER`` takes ALTER on every schema with it. Regression: the plan read what a
DENY removes from the mapping row of the denied permission alone, so these DENYs were disposed
"the plan grants nothing this DENY removes" while the users kept CONNECT, public's grants, their
fixed roles' (db_datareader) and CREATE on schemas. A DENY to a Windows group was dropped the same
way although its members keep what it takes (GB021 now says so).
"""

from __future__ import annotations

import uuid

import pytest

from mapper.plan import Disposition, MigrationPlan
from mapper.planner import plan
from mapper.policy import Policy, parse_policy
from mssql_extract.tsql import parse_text
from pg_emit.render import render_sql
from pg_emit.verify import applied, ensure_databases
from tests.emit import contoso
from tests.mapper.estate import reach

BASE = """
CREATE DATABASE [D1]
GO
CREATE LOGIN [alice] WITH PASSWORD = N'x'
GO
CREATE LOGIN [bob] WITH PASSWORD = N'x'
GO
CREATE LOGIN [carol] WITH PASSWORD = N'x'
GO
USE [D1]
GO
CREATE USER [alice] FOR LOGIN [alice]
GO
CREATE USER [bob] FOR LOGIN [bob]
GO
CREATE USER [carol] FOR LOGIN [carol]
GO
CREATE SCHEMA [s] AUTHORIZATION [dbo]
GO
CREATE TABLE [s].[t] ([id] int, [name] nvarchar(10))
GO
CREATE TABLE [s].[u] ([id] int)
GO
CREATE ROLE [r]
GO
"""

#: c29: public's grant, DENY CONTROL and DENY CONNECT REPLICATION on the database
C29 = """
GRANT SELECT ON OBJECT::[s].[t] TO [public]
GO
DENY CONTROL TO [alice]
GO
DENY CONNECT REPLICATION TO [bob]
GO
"""
#: c39: a fixed role's grants and DENY CONTROL on the database
C39 = """
ALTER ROLE [db_datareader] ADD MEMBER [alice]
GO
ALTER ROLE [db_datareader] ADD MEMBER [carol]
GO
DENY CONTROL TO [alice]
GO
"""
#: c40: CREATE on a schema through a role, DENY ALTER on the database
C40 = """
ALTER ROLE [r] ADD MEMBER [alice]
GO
ALTER ROLE [r] ADD MEMBER [carol]
GO
GRANT CREATE TABLE TO [r]
GO
GRANT ALTER ON SCHEMA::[s] TO [r]
GO
DENY ALTER TO [alice]
GO
"""


def _plan(script: str, policy: Policy | None = None) -> MigrationPlan:
    return plan(parse_text(BASE + script, "case.sql"), policy or Policy())


def _disposition(migration: MigrationPlan, fact: str):  # type: ignore[no-untyped-def]
    return next(d for d in migration.dispositions if d.fact == fact)


def _held(migration: MigrationPlan, member: str) -> set[tuple[str, str, str]]:
    """(object type, name, privilege) of every grant the member holds, through any role."""
    roles = reach(migration, member) | {"PUBLIC"}
    return {(g.object_type, g.name, g.privilege) for g in migration.grants if g.grantee in roles}


def _rules(migration: MigrationPlan, fact: str) -> set[str]:
    return {key.split(":", 1)[0] for key in _disposition(migration, fact).findings}


# ---------------------------------------------------------------- database DENYs covering CONNECT


def test_deny_control_and_connect_replication_shut_users_out_of_public_grants() -> None:
    migration = _plan(C29)
    for user in ("alice", "bob"):
        assert _held(migration, user) == set()  # no CONNECT, no SELECT through d1_public
        assert reach(migration, user) == {user}  # a member of no role of D1
    assert {("DATABASE", "d1", "CONNECT"), ("TABLE", "t", "SELECT")} <= _held(migration, "carol")
    assert ("d1_public", "carol") in {(m.role, m.member) for m in migration.memberships}
    for fact in ("D1/perm:DATABASE:CONTROL:deny:alice",
                 "D1/perm:DATABASE:CONNECT REPLICATION:deny:bob"):  # fmt: skip
        found = _disposition(migration, fact)
        assert found.disposition == Disposition.MAPPED
        assert "shuts" in found.reason
        assert "out of [D1]" in found.reason
        assert _rules(migration, fact) == {"GB020"}  # the public membership it dropped


def test_deny_control_takes_a_fixed_roles_grants() -> None:
    migration = _plan(C39)
    assert _held(migration, "alice") == set()
    assert "d1_db_datareader" not in reach(migration, "alice")
    assert ("TABLE", "t", "SELECT") in _held(migration, "carol")  # the role itself is intact
    [gb020] = [f for f in migration.findings if f.rule_id == "GB020"]
    assert "'d1_db_datareader'" in gb020.action
    assert "shuts it out of [D1]" in gb020.action


def test_deny_alter_on_the_database_takes_create_on_schemas_from_a_role() -> None:
    migration = _plan(C40)
    assert ("SCHEMA", "s", "CREATE") not in _held(migration, "alice")
    assert ("DATABASE", "d1", "CONNECT") in _held(migration, "alice")  # ALTER is not CONNECT
    assert ("SCHEMA", "s", "CREATE") in _held(migration, "carol")
    found = _disposition(migration, "D1/perm:DATABASE:ALTER:deny:alice")
    assert found.disposition == Disposition.MAPPED
    # the DENY takes all r gives (CREATE on s, TRUNCATE and TRIGGER on its tables): alice
    # leaves r, with no empty derived role
    assert "'alice' leaves 'r'" in found.reason
    assert "r" not in reach(migration, "alice")
    assert not [role for role in migration.roles if "_minus_" in role.name]


def test_deny_connect_itself_also_drops_the_public_membership() -> None:
    """DENY CONNECT took only CONNECT: the user stayed a member of the database's public."""
    migration = _plan(
        "GRANT SELECT ON OBJECT::[s].[t] TO [public]\nGO\nDENY CONNECT TO [alice]\nGO\n"
    )
    assert _held(migration, "alice") == set()
    assert reach(migration, "alice") == {"alice"}


def test_deny_control_to_a_role_shuts_its_members_out() -> None:
    migration = _plan(
        "ALTER ROLE [r] ADD MEMBER [alice]\nGO\nALTER ROLE [db_datareader] ADD MEMBER [alice]\nGO\n"
        "GRANT SELECT ON OBJECT::[s].[u] TO [alice]\nGO\nDENY CONTROL TO [r]\nGO\n"
    )
    assert _held(migration, "alice") == set()
    assert reach(migration, "alice") == {"alice"}


def test_a_later_deny_on_a_shut_out_user_says_why_it_takes_nothing() -> None:
    migration = _plan(
        "ALTER ROLE [db_datareader] ADD MEMBER [alice]\nGO\nDENY CONTROL TO [alice]\nGO\n"
        "DENY SELECT ON OBJECT::[s].[u] TO [alice]\nGO\n"
    )
    found = _disposition(migration, "D1/perm:OBJECT:s:u:SELECT:deny:alice")
    assert found.disposition == Disposition.NOT_APPLICABLE
    assert "shut out of [D1]" in found.reason


def test_in_schema_mode_only_the_denied_databases_share_goes() -> None:
    """One target database holds both sources: alice keeps CONNECT (D2's user asked for it)
    and D2's role, and loses D1's role."""
    d2 = (
        "CREATE DATABASE [D2]\nGO\nUSE [D2]\nGO\nCREATE USER [alice] FOR LOGIN [alice]\nGO\n"
        "CREATE TABLE [dbo].[v] ([id] int)\nGO\nALTER ROLE [db_datareader] ADD MEMBER [alice]\nGO\n"
        "USE [D1]\nGO\nALTER ROLE [db_datareader] ADD MEMBER [alice]\nGO\nDENY CONNECT TO [alice]\nGO\n"
    )  # fmt: skip
    migration = _plan(d2, Policy(database_mode="schema"))
    roles = reach(migration, "alice")
    assert any(r.startswith("d2_") for r in roles)
    assert not any(r.startswith("d1_") for r in roles)
    held = _held(migration, "alice")
    assert ("TABLE", "v", "SELECT") in held
    assert ("TABLE", "t", "SELECT") not in held
    assert any(kind == "DATABASE" and p == "CONNECT" for kind, _, p in held)


@pytest.mark.parametrize("mode", ["downscope", "faithful"])
def test_an_owner_shut_out_of_its_database_keeps_none_of_the_owners_rights(mode: str) -> None:
    """Owners are never denied, but SQL Server checks CONNECT first (the engine's step 3)."""
    policy = parse_policy(f'[overgrants]\ndefault_mode = "{mode}"\n')
    script = "CREATE SCHEMA [x] AUTHORIZATION [bob]\nGO\nCREATE TABLE [x].[y] ([id] int)\nGO\n"
    migration = _plan(script + "DENY CONNECT TO [bob]\nGO\n", policy)
    assert _held(migration, "bob") == set()
    assert reach(migration, "bob") == {"bob"}
    assert "shuts it out of [D1]" in _disposition(migration, "D1/schema:x").reason


# ---------------------------------------------------------------- what a DENY covers, below


def test_deny_control_on_a_schema_takes_what_control_on_its_tables_gives() -> None:
    """CONTROL on a table maps to TRIGGER too, which CONTROL on a schema's own row lacks."""
    migration = _plan(
        "ALTER ROLE [r] ADD MEMBER [alice]\nGO\nGRANT CONTROL ON OBJECT::[s].[t] TO [r]\nGO\n"
        "DENY CONTROL ON SCHEMA::[s] TO [alice]\nGO\n"
    )
    assert not {p for kind, name, p in _held(migration, "alice") if name == "t"}


def test_deny_create_table_takes_create_on_the_schema_and_says_it_may_take_more() -> None:
    migration = _plan(
        "ALTER ROLE [r] ADD MEMBER [alice]\nGO\nGRANT CREATE TABLE TO [r]\nGO\n"
        "GRANT CREATE VIEW TO [r]\nGO\nGRANT ALTER ON SCHEMA::[s] TO [r]\nGO\n"
        "DENY CREATE TABLE TO [alice]\nGO\n"
    )
    assert ("SCHEMA", "s", "CREATE") not in _held(migration, "alice")
    found = _disposition(migration, "D1/perm:DATABASE:CREATE TABLE:deny:alice")
    assert found.disposition == Disposition.APPROXIMATED
    assert "every kind of object" in found.reason
    assert _rules(migration, found.fact) == {"GB020", "GB040"}


# ---------------------------------------------------------------- server DENYs


def test_deny_control_server_bars_the_login_and_shuts_it_out_of_every_database() -> None:
    migration = _plan(
        "ALTER ROLE [db_datareader] ADD MEMBER [alice]\nGO\nUSE [master]\nGO\n"
        "DENY CONTROL SERVER TO [alice]\nGO\n"
    )
    assert not next(r for r in migration.roles if r.name == "alice").login
    assert _held(migration, "alice") == set()
    found = _disposition(migration, "server/perm:SERVER:CONTROL SERVER:deny:alice")
    assert found.disposition == Disposition.MAPPED
    assert "out of every database" in found.reason
    assert "NOLOGIN roles (alice)" in found.reason


def test_deny_select_all_user_securables_takes_select_in_every_database() -> None:
    migration = _plan(
        "ALTER ROLE [db_datareader] ADD MEMBER [bob]\nGO\nGRANT SELECT ON OBJECT::[s].[t] TO [public]\n"
        "GO\nUSE [master]\nGO\nDENY SELECT ALL USER SECURABLES TO [bob]\nGO\n"
    )  # fmt: skip
    held = _held(migration, "bob")
    assert ("DATABASE", "d1", "CONNECT") in held
    assert not {name for kind, name, p in held if p == "SELECT"}
    # public's grant needs a role of its own, or the DENY could not take it from bob
    assert any(r.name == "d1_public" for r in migration.roles)


def test_a_server_deny_to_a_sysadmin_member_says_it_applies_no_deny() -> None:
    migration = _plan(
        "USE [master]\nGO\nALTER SERVER ROLE [sysadmin] ADD MEMBER [alice]\nGO\n"
        "DENY SELECT ALL USER SECURABLES TO [alice]\nGO\n"
    )
    found = _disposition(migration, "server/perm:SERVER:SELECT ALL USER SECURABLES:deny:alice")
    assert found.disposition == Disposition.NOT_APPLICABLE
    assert "sysadmin member" in found.reason


# ---------------------------------------------------------------- groups (c42)

GROUP = r"""
CREATE DATABASE [D1]
GO
CREATE LOGIN [CORP\Contractors] FROM WINDOWS
GO
CREATE LOGIN [CORP\jane] FROM WINDOWS
GO
USE [D1]
GO
CREATE USER [CORP\Contractors] FOR LOGIN [CORP\Contractors]
GO
CREATE USER [CORP\jane] FOR LOGIN [CORP\jane]
GO
CREATE SCHEMA [s] AUTHORIZATION [dbo]
GO
CREATE TABLE [s].[payroll] ([id] int)
GO
ALTER ROLE [db_datareader] ADD MEMBER [CORP\jane]
GO
"""
GROUP_POLICY = "[authentication]\nwindows_groups = ['CORP\\Contractors']\n"


@pytest.mark.parametrize(
    ("deny", "fact"),
    [
        ("DENY SELECT ON OBJECT::[s].[payroll] TO [CORP\\Contractors]",
         "D1/perm:OBJECT:s:payroll:SELECT:deny:corp\\contractors"),
        # the group is a member of the denied role: the DENY reaches its members as well
        ("CREATE ROLE [temps]\nGO\nALTER ROLE [temps] ADD MEMBER [CORP\\Contractors]\nGO\n"
         "DENY SELECT ON OBJECT::[s].[payroll] TO [temps]", "D1/perm:OBJECT:s:payroll:SELECT:deny:temps"),
        ("USE [master]\nGO\nDENY SELECT ALL USER SECURABLES TO [CORP\\Contractors]",
         "server/perm:SERVER:SELECT ALL USER SECURABLES:deny:corp\\contractors"),
    ],
    ids=["to-the-group", "to-a-role-of-the-group", "server-deny-to-the-group"],
)  # fmt: skip
def test_a_deny_reaching_a_windows_group_is_approximated_with_gb021(deny: str, fact: str) -> None:
    policy = parse_policy(GROUP_POLICY)
    migration = plan(parse_text(GROUP + deny + "\nGO\n", "c42.sql"), policy)
    found = _disposition(migration, fact)
    assert found.disposition == Disposition.APPROXIMATED
    assert "[CORP\\Contractors]" in found.reason
    [gb021] = [f for f in migration.findings if f.rule_id == "GB021"]
    assert gb021.key in found.findings
    assert gb021.severity == "high"
    assert "does not know who they are" in gb021.action
    assert "For each member, add the DENY to the source" in gb021.action
    assert gb021.principal == "CORP\\Contractors"


def test_one_gb021_per_group_lists_every_deny_reaching_it() -> None:
    denies = "".join(
        f"DENY {p} ON OBJECT::[s].[payroll] TO [CORP\\Contractors]\nGO\n"
        for p in ("SELECT", "UPDATE")
    )
    migration = plan(parse_text(GROUP + denies, "c42.sql"), parse_policy(GROUP_POLICY))
    [gb021] = [f for f in migration.findings if f.rule_id == "GB021"]
    assert "these 2 DENYs also reach" in gb021.action
    facts = [d for d in migration.dispositions if ":deny:" in d.fact]
    assert len(facts) == 2
    assert all(gb021.key in d.findings for d in facts)


def test_a_deny_to_a_windows_user_needs_no_gb021() -> None:
    migration = plan(
        parse_text(GROUP + "DENY SELECT ON OBJECT::[s].[payroll] TO [CORP\\jane]\nGO\n", "u.sql"),
        parse_policy(GROUP_POLICY),
    )
    assert not [f for f in migration.findings if f.rule_id == "GB021"]
    found = _disposition(migration, "D1/perm:OBJECT:s:payroll:SELECT:deny:corp\\jane")
    assert found.disposition == Disposition.MAPPED


# ---------------------------------------------------------------- on PostgreSQL

#: (case, user → (may connect, may read s.t), the role of the database's public)
ON_POSTGRES = [
    ("c29", C29, {"alice": (False, False), "bob": (False, False), "carol": (True, True)}),
    ("c39", C39, {"alice": (False, False), "carol": (True, True)}),
    ("c40", C40, {"alice": (True, False), "carol": (True, False)}),
]


@pytest.mark.postgres
@pytest.mark.parametrize(
    ("name", "script", "expected"), ON_POSTGRES, ids=[c[0] for c in ON_POSTGRES]
)
def test_on_postgresql_a_user_denied_a_covering_permission_cannot_connect_or_read(
    pg_dsn: str, target: str, name: str, script: str, expected: dict[str, tuple[bool, bool]]
) -> None:
    prefix = f"gbh{uuid.uuid4().hex[:6]}_"  # roles are cluster-wide; the apply is rolled back
    migration = contoso.prefix_roles(
        contoso.rename_databases(_plan(script), {"d1": target}), prefix
    )
    ensure_databases(pg_dsn, migration, create=True)
    # the database's public role, where it has one (c29), and every role the plan made
    public = next((r.name for r in migration.roles if r.name.endswith("_public")), "")
    with applied(pg_dsn, migration, render_sql(migration), target) as conn:
        for user, (connects, reads) in expected.items():
            role = prefix + user
            row = conn.execute(
                "SELECT has_database_privilege(%s, %s, 'CONNECT'),"
                " has_table_privilege(%s, 's.t', 'SELECT'),"
                " %s <> '' AND pg_has_role(%s, %s, 'MEMBER')",
                [role, target, role, public, role, public or role],
            ).fetchone()
            assert row is not None
            assert (row[0], row[1]) == (connects, reads), (name, user)
            assert row[2] is connects or not public, f"{user}: membership in {public}"
        if name == "c40":  # CREATE on s: carol through r, not alice
            answers = [
                conn.execute(
                    "SELECT has_schema_privilege(%s, 's', 'CREATE')", [prefix + user]
                ).fetchone()
                for user in ("alice", "carol")
            ]
            assert answers == [(False,), (True,)]


def test_what_a_shutting_deny_takes_is_not_left_mapped_with_nothing() -> None:
    """The membership and the grant a DENY CONNECT took stayed ``mapped``, pointing at no item."""
    migration = _plan(
        "ALTER ROLE [db_datareader] ADD MEMBER [alice]\nGO\n"
        "GRANT SELECT ON OBJECT::[s].[u] TO [alice]\nGO\nDENY CONNECT TO [alice]\nGO\n"
    )
    for fact in ("D1/member:db_datareader<-alice", "D1/perm:OBJECT:s:u:SELECT:grant:alice"):
        found = _disposition(migration, fact)
        assert found.disposition == Disposition.NOT_APPLICABLE, (fact, found)
        assert found.items == ()
    found = _disposition(migration, "D1/member:db_datareader<-alice")
    assert found.reason.startswith("taken by DENY CONNECT ON DATABASE::[D1] TO [alice] (case.sql:")
    assert "which shuts [alice] and its members out of [D1]" in found.reason
    [gb020] = [f for f in migration.findings if f.rule_id == "GB020"]
    membership = _disposition(migration, "D1/member:db_datareader<-alice")
    assert gb020.key in membership.findings
    # every disposition that says mapped points at something
    assert not [d.fact for d in migration.dispositions if d.disposition == Disposition.MAPPED
                and not d.items]  # fmt: skip
