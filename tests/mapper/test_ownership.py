"""Ownership: owner roles hold the full rights; a former owner keeps DML and EXECUTE (downscope,
the default) or becomes a member of its owner role (faithful); owners are never denied."""

from __future__ import annotations

from typing import Any

import pytest

from mapper.plan import Disposition, FactDisposition, MigrationPlan
from mapper.planner import plan
from mapper.policy import Policy, parse_policy
from mssql_extract.snapshot import DbObject, ObjectKind, Schema
from tests.mapper.estate import (
    FAITHFUL_OWNERS,
    REF,
    database,
    login,
    member,
    perm,
    reach,
    role,
    snapshot,
    table,
    user,
)


def _crm(policy: Policy | None = None, **fields: Any) -> MigrationPlan:
    """Schema crm owned by role managers (member: login app); crm.Leads owned by user bot."""
    base: dict[str, Any] = {
        "schemas": (Schema(name="dbo", owner="dbo", source_ref=REF),
                    Schema(name="crm", owner="managers", source_ref=REF)),
        "objects": (table("dbo", "Orders", "id"),
                    DbObject(schema_name="crm", name="Leads", kind=ObjectKind.TABLE,
                             columns=("id", "email"), owner="bot", source_ref=REF),
                    table("crm", "usp_Search", kind=ObjectKind.PROCEDURE)),
        "roles": (role("managers"),),
        "users": (user("app", "app"), user("bot")),
        "memberships": (member("managers", "app"),),
    }  # fmt: skip
    snap = snapshot(database(**(base | fields)), logins=(login("app"),))
    return plan(snap, policy or Policy())


def _disposition(p: MigrationPlan, fact: str) -> FactDisposition:
    (found,) = [d for d in p.dispositions if d.fact == fact]
    return found


def _privileges(p: MigrationPlan, grantee: str, name: str) -> set[str]:
    return {g.privilege for g in p.grants if g.grantee == grantee and g.name == name}


def _memberships(p: MigrationPlan) -> set[tuple[str, str]]:
    return {(m.role, m.member) for m in p.memberships}


def test_downscope_gives_the_owner_dml_and_execute_without_ownership() -> None:
    p = _crm()
    schema = _disposition(p, "Sales/schema:crm")
    assert schema.disposition == Disposition.DOWNSCOPED
    assert _privileges(p, "managers", "leads") == {"SELECT", "INSERT", "UPDATE", "DELETE"}
    assert _privileges(p, "managers", "usp_search") == {"EXECUTE"}
    assert _privileges(p, "managers", "crm") == {"USAGE"}  # no CREATE: no DDL
    future = {(d.owner, d.object_type, d.privilege) for d in p.default_privileges
              if d.grantee == "managers" and d.schema_name == "crm"}  # fmt: skip
    assert ("sales_managers_owner", "TABLES", "DELETE") in future
    assert ("sales_managers_owner", "FUNCTIONS", "EXECUTE") in future
    assert ("sales_managers_owner", "managers") not in _memberships(p)
    (finding,) = [f for f in p.findings if f.rule_id == "GB016" and f.principal == "managers"]
    assert finding.key in schema.findings
    assert "'sales_managers_owner'" in finding.action
    assert "GRANT sales_managers_owner TO managers" in finding.action
    assert 'GB016 = "faithful"' in finding.action


def test_individually_owned_object_is_downscoped_for_its_owner() -> None:
    p = _crm()
    leads = _disposition(p, "Sales/object:crm.leads")
    assert leads.disposition == Disposition.DOWNSCOPED
    assert _privileges(p, "bot", "leads") == {"SELECT", "INSERT", "UPDATE", "DELETE"}
    assert ("sales_bot_owner", "bot") not in _memberships(p)
    (obj,) = [o for o in p.objects if o.name == "leads"]
    assert obj.owner == "sales_bot_owner"


def test_owner_roles_hold_the_full_rights() -> None:
    """dbo's owner role holds every other owner role; a schema's owner role its objects'."""
    p = _crm()
    held = _memberships(p)
    assert ("sales_managers_owner", "sales_owner") in held
    assert ("sales_bot_owner", "sales_owner") in held
    assert ("sales_bot_owner", "sales_managers_owner") in held  # crm's owner controls crm.Leads


def test_faithful_makes_the_owner_a_member_of_its_owner_role() -> None:
    p = _crm(FAITHFUL_OWNERS)
    held = _memberships(p)
    assert {("sales_managers_owner", "managers"), ("sales_bot_owner", "bot")} <= held
    assert _privileges(p, "managers", "leads") == set()  # through ownership, not grants
    assert _privileges(p, "bot", "leads") == set()
    for fact in ("Sales/schema:crm", "Sales/object:crm.leads"):
        assert _disposition(p, fact).disposition == Disposition.MAPPED
    assert "GB016" in {f.rule_id for f in p.findings}


def test_accepted_ownership_is_faithful_for_that_owner_only() -> None:
    policy = parse_policy(
        '[[overgrants.accepted]]\nprincipal = "Managers"\nrule = "GB016"\nreason = "deploys crm"\n'
    )
    p = _crm(policy)
    held = _memberships(p)
    assert ("sales_managers_owner", "managers") in held
    assert ("sales_bot_owner", "bot") not in held
    (accepted,) = [f for f in p.findings if f.rule_id == "GB016" and f.principal == "managers"]
    assert accepted.accepted
    assert _disposition(p, "Sales/object:crm.leads").disposition == Disposition.DOWNSCOPED


def test_dbo_owned_schema_is_mapped() -> None:
    p = _crm()
    dbo = _disposition(p, "Sales/schema:dbo")
    assert dbo.disposition == Disposition.MAPPED
    assert "sales_owner" in dbo.reason


def test_excluded_owner_keeps_nothing_and_says_why() -> None:
    policy = parse_policy('[[exclusions]]\nmatch = "bot"\nreason = "retired robot"\n')
    p = _crm(policy)
    leads = _disposition(p, "Sales/object:crm.leads")
    assert leads.disposition == Disposition.EXCLUDED
    assert "retired robot" in leads.reason
    assert "'sales_bot_owner'" in leads.reason
    assert not any(g.grantee == "bot" for g in p.grants)


def test_database_owner_login_is_downscoped_to_db_owner_equivalent() -> None:
    snap = snapshot(database(owner="jdoe"), logins=(login("jdoe"),))
    p = plan(snap, Policy())
    db = _disposition(p, "server/database:sales")
    assert db.disposition == Disposition.DOWNSCOPED
    assert ("sales_db_owner", "jdoe") in _memberships(p)
    assert ("sales_owner", "jdoe") not in _memberships(p)
    assert ("TABLE", "orders", "DELETE") in {
        (g.object_type, g.name, g.privilege) for g in p.grants if g.grantee == "sales_db_owner"
    }
    faithful = plan(snap, FAITHFUL_OWNERS)
    assert ("sales_owner", "jdoe") in _memberships(faithful)
    assert _disposition(faithful, "server/database:sales").disposition == Disposition.MAPPED


def test_database_owned_by_excluded_sa_says_so() -> None:
    p = plan(snapshot(database(owner="sa"), logins=(login("sa"),)), Policy())
    db = _disposition(p, "server/database:sales")
    assert db.disposition == Disposition.EXCLUDED
    assert "RDS master user" in db.reason
    assert "'sales_owner'" in db.reason
    assert db.items == ("database:sales",)


@pytest.mark.parametrize("policy", [Policy(), FAITHFUL_OWNERS], ids=["downscope", "faithful"])
def test_owners_are_never_denied(policy: Policy) -> None:
    """A DENY on the owner, or on a member of an owning role, takes nothing it owns away."""
    p = _crm(policy, permissions=(
        perm("SELECT", "managers", schema_name="dbo", object_name="Orders"),
        perm("SELECT", "app", state="D", schema_name="dbo", object_name="Orders"),
        perm("SELECT", "bot", schema_name="crm", object_name="Leads"),
        perm("SELECT", "bot", state="D", schema_name="crm", object_name="Leads"),
    ))  # fmt: skip
    held = _memberships(p)
    # app was moved off managers (DENY on Orders) but still owns crm through managers
    assert ("managers", "app") not in held
    if policy == FAITHFUL_OWNERS:
        assert ("sales_managers_owner", "app") in held
        assert ("sales_bot_owner", "bot") in held
    else:
        assert {"SELECT", "DELETE"} <= _privileges(p, "app", "leads")
        assert _privileges(p, "app", "usp_search") == {"EXECUTE"}
        assert "SELECT" in _privileges(p, "bot", "leads")
        reason = _disposition(p, "Sales/schema:crm").reason
        assert "app" in reason
        assert "never denied" in reason
    assert not [g for g in p.grants if g.grantee == "app" and g.name == "orders"]


def test_circular_containment_is_approximated_not_emitted() -> None:
    """Owner a owns schema A and object B.x, owner b owns schema B and object A.y."""
    objects = (
        DbObject(schema_name="A", name="y", kind=ObjectKind.TABLE, columns=("id",), owner="b",
                 source_ref=REF),
        DbObject(schema_name="B", name="x", kind=ObjectKind.TABLE, columns=("id",), owner="a",
                 source_ref=REF),
    )  # fmt: skip
    schemas = (
        Schema(name="A", owner="a", source_ref=REF),
        Schema(name="B", owner="b", source_ref=REF),
    )
    p = plan(snapshot(database(schemas=schemas, objects=objects, roles=(role("a"), role("b")))),
             Policy())  # fmt: skip
    edges = {("sales_a_owner", "sales_b_owner"), ("sales_b_owner", "sales_a_owner")}
    assert len(edges & _memberships(p)) == 1  # the first one; the second would close a cycle
    kinds = [_disposition(p, f).disposition for f in ("Sales/object:a.y", "Sales/object:b.x")]
    assert sorted(kinds) == sorted([Disposition.APPROXIMATED, Disposition.DOWNSCOPED])
    (approximated,) = [d for d in p.dispositions if d.disposition == Disposition.APPROXIMATED]
    assert "circular" in approximated.reason


def test_dbo_owned_object_in_another_owners_schema_is_approximated() -> None:
    audit = DbObject(schema_name="crm", name="Audit", kind=ObjectKind.TABLE, columns=("id",),
                     owner="dbo", source_ref=REF)  # fmt: skip
    p = _crm(objects=(audit,))
    (obj,) = [o for o in p.objects if o.name == "audit"]
    assert obj.owner == "sales_owner"
    assert ("sales_owner", "sales_managers_owner") not in _memberships(p)  # would be circular
    found = _disposition(p, "Sales/object:crm.audit")
    assert found.disposition == Disposition.APPROXIMATED
    assert "circular" in found.reason
    # the schema owner's DML still reaches it
    assert "DELETE" in _privileges(p, "managers", "audit")


# ------------------------------------------------------------ the owner login enters as dbo

SCHEMA_MODE = parse_policy('database_mode = "schema"\ntarget_database = "estate"\n')
SCHEMA_FAITHFUL = parse_policy(
    'database_mode = "schema"\ntarget_database = "estate"\n'
    '[overgrants]\nmodes = {GB016 = "faithful"}\n'
)


def _database_grants(p: MigrationPlan, grantee: str) -> set[tuple[str, str]]:
    return {(g.name, g.privilege) for g in p.grants
            if g.object_type == "DATABASE" and g.grantee == grantee}  # fmt: skip


def _connects(p: MigrationPlan, role_name: str) -> set[str]:
    """Databases ``role_name`` may connect to: CONNECT of a role it reaches, or ownership."""
    roles = reach(p, role_name)
    granted = {g.name for g in p.grants
               if g.object_type == "DATABASE" and g.privilege == "CONNECT" and g.grantee in roles}  # fmt: skip
    return granted | {d.name for d in p.databases if d.owner in roles}


def _own1(*, owner: str = "dba") -> Any:
    """own1.sql of the audit: [dba] owns [App]; dev and reader are users of it."""
    app = database("App", owner=owner, users=(user("dev", "dev"), user("reader", "reader")))
    return snapshot(app, logins=(login("dba"), login("dev"), login("reader")))


@pytest.mark.parametrize("policy", [Policy(), FAITHFUL_OWNERS], ids=["downscope", "faithful"])
def test_database_owner_login_connects_like_every_user(policy: Policy) -> None:
    """SQL Server lets the owner login into its database as dbo, always: it gets CONNECT and
    TEMPORARY as the users do, items of the database fact."""
    p = plan(_own1(), policy)
    assert _database_grants(p, "dba") == _database_grants(p, "dev") == {
        ("app", "CONNECT"), ("app", "TEMPORARY"),
    }  # fmt: skip
    fact = _disposition(p, "server/database:app")
    assert {"grant:DATABASE app:app:CONNECT:dba", "grant:DATABASE app:app:TEMPORARY:dba"} <= set(
        fact.items
    )
    (connect,) = [g for g in p.grants if g.grantee == "dba" and g.privilege == "CONNECT"]
    assert connect.facts == ("server/database:app",)
    (gb016,) = [f for f in p.findings if f.rule_id == "GB016"]
    assert "'dba' enters app as dbo" in gb016.action


def test_database_owner_login_joins_the_public_role() -> None:
    """Where public is a role of its own (a DENY against a grant to public), the owner login is
    a member, as dbo is of public."""
    app = database(
        "App", owner="dba", users=(user("dev", "dev"),),
        permissions=(perm("SELECT", "public", schema_name="dbo", object_name="Orders"),
                     perm("SELECT", "dev", state="D", schema_name="dbo", object_name="Orders")),
    )  # fmt: skip
    p = plan(snapshot(app, logins=(login("dba"), login("dev"))), Policy())
    assert "app_public" in reach(p, "dba")
    assert "membership:app_public<-dba" in _disposition(p, "server/database:app").items
    assert "SELECT" in {g.privilege for g in p.grants if g.name == "orders"
                        and g.grantee in reach(p, "dba")}  # fmt: skip


@pytest.mark.parametrize("policy", [SCHEMA_MODE, SCHEMA_FAITHFUL], ids=["downscope", "faithful"])
def test_schema_mode_owner_login_connects_to_the_shared_database(policy: Policy) -> None:
    """sch3.sql of the audit: owner_a owns [A]; schema mode puts A and B into estate."""
    snap = snapshot(
        database("A", owner="owner_a", users=(user("u", "u"),)), database("B", users=(user("v", "v"),)),
        logins=(login("owner_a"), login("u"), login("v")),
    )  # fmt: skip
    p = plan(snap, policy)
    assert _connects(p, "owner_a") == _connects(p, "u") == {"estate"}
    assert ("estate", "TEMPORARY") in _database_grants(p, "owner_a")
    assert "a_public" in reach(p, "owner_a")
    assert "b_public" not in reach(p, "owner_a")


# ------------------------------------------------- schema mode: who owns the shared database


def _sch1(policy: Policy = SCHEMA_MODE) -> MigrationPlan:
    """sch1.sql of the audit: databases Sales (owned by sales_dba) and HR (by hr_dba)."""
    snap = snapshot(
        database("Sales", owner="sales_dba"), database("HR", owner="hr_dba"),
        logins=(login("sales_dba"), login("hr_dba")),
    )  # fmt: skip
    return plan(snap, policy)


def test_schema_mode_shared_database_has_an_owner_role_of_its_own() -> None:
    """No source database's dbo owns the database every source shares: its owner could drop
    the others with it. A NOLOGIN owner role of its own owns it; each source's owner role gets
    CREATE on it (dbo may create schemas), and the database facts say so."""
    p = _sch1()
    (db,) = p.databases
    assert (db.name, db.owner, db.source_database) == ("estate", "estate_owner", None)
    owner = p.role("estate_owner")
    assert owner is not None
    assert owner.kind.value == "owner"
    assert not owner.login
    assert owner.facts == ("server/database:hr", "server/database:sales")
    assert not [m for m in p.memberships if "estate_owner" in (m.role, m.member)]
    assert _database_grants(p, "hr_owner") == _database_grants(p, "sales_owner") == {
        ("estate", "CREATE"),
    }  # fmt: skip
    for name in ("hr", "sales"):
        fact = _disposition(p, f"server/database:{name}")
        assert f"grant:DATABASE estate:estate:CREATE:{name}_owner" in fact.items
        assert "owned by 'estate_owner'" in fact.reason


def test_schema_mode_faithful_owner_does_not_own_the_shared_database() -> None:
    p = _sch1(SCHEMA_FAITHFUL)
    assert ("hr_owner", "hr_dba") in _memberships(p)
    assert {d.owner for d in p.databases} == {"estate_owner"}
    assert "estate_owner" not in reach(p, "hr_dba")
    assert _connects(p, "hr_dba") == {"estate"}


def test_schema_mode_shared_owner_gives_way_to_a_source_role_of_that_name() -> None:
    """A source database called like the target: its dbo's owner role is estate_owner, so the
    shared database's owner takes a hashed name instead of failing the plan."""
    snap = snapshot(database("Estate"), database("HR"))
    p = plan(snap, SCHEMA_MODE)
    (db,) = p.databases
    assert db.owner.startswith("estate_owner_")
    assert p.role("estate_owner") is not None  # Estate's dbo
    assert ("estate", "CREATE") in _database_grants(p, "estate_owner")


def test_database_mode_database_stays_owned_by_its_owner_role() -> None:
    p = plan(_own1(), Policy())
    assert [(d.name, d.owner, d.source_database) for d in p.databases] == [
        ("app", "app_owner", "App")
    ]
    assert not [g for g in p.grants if g.privilege == "CREATE" and g.object_type == "DATABASE"]


# ------------------------------------------------------------------ on PostgreSQL


@pytest.mark.postgres
@pytest.mark.parametrize("policy", [Policy(), FAITHFUL_OWNERS], ids=["downscope", "faithful"])
def test_on_postgresql_the_owner_login_connects_to_its_database(
    pg_dsn: str, prefix: str, policy: Policy
) -> None:
    """own1.sql of the audit, applied: the owner login may connect and create temporary
    tables, as its database's users may."""
    from pg_emit.render import render_sql
    from pg_emit.verify import applied, ensure_databases, verify_plan
    from tests.emit import contoso

    dba, dev = f"{prefix}dba", f"{prefix}dev"
    app = database("App", owner=dba, users=(user(dev, dev),))
    migration = plan(snapshot(app, logins=(login(dba), login(dev))), policy)
    migration = contoso.rename_databases(migration, {"app": f"{prefix}app"})
    ensure_databases(pg_dsn, migration, create=True)
    assert verify_plan(migration, pg_dsn, embedded=False) == []
    with applied(pg_dsn, migration, render_sql(migration), f"{prefix}app") as conn:
        check = "SELECT has_database_privilege(%s, current_database(), %s)"
        for role_name in (dba, dev):
            for privilege in ("CONNECT", "TEMPORARY"):
                assert conn.execute(check, [role_name, privilege]).fetchone() == (True,)


@pytest.mark.postgres
def test_on_postgresql_the_shared_database_is_owned_by_its_own_role(
    pg_dsn: str, prefix: str
) -> None:
    from pg_emit.render import render_sql
    from pg_emit.verify import applied, ensure_databases, verify_plan

    target = f"{prefix}estate"
    policy = parse_policy(f'database_mode = "schema"\ntarget_database = "{target}"\n')
    snap = snapshot(
        database("A", owner=f"{prefix}dba", users=(user("u", f"{prefix}u"),)), database("B"),
        logins=(login(f"{prefix}dba"), login(f"{prefix}u")),
    )  # fmt: skip
    migration = plan(snap, policy)
    ensure_databases(pg_dsn, migration, create=True)
    assert verify_plan(migration, pg_dsn, embedded=False) == []
    with applied(pg_dsn, migration, render_sql(migration), target) as conn:
        owner = conn.execute(
            "SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = current_database()"
        ).fetchone()
        assert owner == (f"{target}_owner",)
        check = "SELECT has_database_privilege(%s, current_database(), %s)"
        for role_name, privilege, allowed in (
            (f"{prefix}dba", "CONNECT", True), (f"{prefix}u", "CONNECT", True),
            ("a_owner", "CREATE", True), ("b_owner", "CREATE", True),
            (f"{prefix}dba", "CREATE", False),
        ):  # fmt: skip
            assert conn.execute(check, [role_name, privilege]).fetchone() == (allowed,)
