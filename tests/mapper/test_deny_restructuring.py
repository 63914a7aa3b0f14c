"""DENY restructuring: every DENY reaching a principal is applied at once, columns stay columns.

SQL Server rules exercised here ("GRANT Object Permissions", "DENY Object Permissions"):
a DENY reaches the holder and every member of it; a column DENY denies that column only.
"""

from __future__ import annotations

from typing import Any

from mapper.plan import Disposition, MigrationPlan, RoleKind
from mapper.planner import plan
from mapper.policy import Policy
from mssql_extract.snapshot import SecuritySnapshot
from tests.mapper.estate import database, login, member, perm, reach, role, snapshot, table, user

OBJECTS = (
    table("dbo", "Orders", "id", "total"),
    table("dbo", "Customers", "id", "name", "email"),
    table("dbo", "Invoices", "id", "amount"),
    table("dbo", "Products", "id", "price"),
)


def _snapshot(**fields: Any) -> SecuritySnapshot:
    return snapshot(database(objects=OBJECTS, **fields), logins=(login("app"), login("rpt")))


def _derived(p: MigrationPlan) -> list[str]:
    return [r.name for r in p.roles if r.kind == RoleKind.DERIVED]


def _held(p: MigrationPlan, grantee: str) -> set[tuple[str, tuple[str, ...], str]]:
    return {(g.name, g.columns, g.privilege) for g in p.grants
            if g.grantee == grantee and g.object_type == "TABLE"}  # fmt: skip


def test_many_denies_on_one_holder_make_one_derived_role() -> None:
    denied = ("Orders", "Customers", "Invoices")
    p = plan(_snapshot(
        users=(user("app", "app"),),
        memberships=(member("db_datareader", "app"),),
        permissions=tuple(perm("SELECT", "app", state="D", schema_name="dbo", object_name=name)
                          for name in denied),
    ), Policy())  # fmt: skip
    assert _derived(p) == ["sales_db_datareader_minus_app"]
    assert _held(p, "sales_db_datareader_minus_app") == {("products", (), "SELECT")}
    memberships = {(m.role, m.member) for m in p.memberships}
    assert ("sales_db_datareader_minus_app", "app") in memberships
    assert ("sales_db_datareader", "app") not in memberships
    mapped = [d for d in p.dispositions if ":deny:" in d.fact]
    assert len(mapped) == 3
    assert all(d.disposition == Disposition.MAPPED for d in mapped)
    assert all("role:sales_db_datareader_minus_app" in d.items for d in mapped)


def test_every_derived_role_has_a_member() -> None:
    """A group DENY and a member DENY: no chain of derived roles, none left without members."""
    p = plan(_snapshot(
        roles=(role("readers"),),
        users=(user("app", "app"), user("rpt", "rpt")),
        memberships=(member("db_datareader", "readers"), member("readers", "app"),
                     member("readers", "rpt"), member("db_datawriter", "app")),
        permissions=(perm("SELECT", "readers", state="D", schema_name="dbo", object_name="Orders"),
                     perm("SELECT", "app", state="D", schema_name="dbo", object_name="Invoices"),
                     perm("INSERT", "app", state="D", schema_name="dbo", object_name="Products")),
    ), Policy())  # fmt: skip
    members = {m.role for m in p.memberships}
    assert set(_derived(p)) <= members
    assert len(_derived(p)) == len(set(_derived(p)))
    # app holds no denied privilege through any chain of roles, and keeps the rest
    held = set().union(*(_held(p, r) for r in reach(p, "app")))
    assert ("orders", (), "SELECT") not in held
    assert ("products", (), "INSERT") not in held
    assert ("invoices", (), "SELECT") not in held
    assert {("customers", (), "SELECT"), ("products", (), "SELECT")} <= held
    assert ("orders", (), "INSERT") in held
    # rpt stays in readers and gets what readers keeps (Invoices, not Orders)
    assert {m.role for m in p.memberships if m.member == "rpt"} == {"readers"}
    rpt = set().union(*(_held(p, r) for r in reach(p, "rpt")))
    assert ("invoices", (), "SELECT") in rpt
    assert ("orders", (), "SELECT") not in rpt


def test_column_deny_keeps_the_other_columns() -> None:
    p = plan(_snapshot(
        users=(user("app", "app"),),
        memberships=(member("db_datareader", "app"),),
        permissions=(perm("SELECT", "app", state="D", schema_name="dbo", object_name="Customers",
                          column_name="email"),),
    ), Policy())  # fmt: skip
    (name,) = _derived(p)
    held = _held(p, name)
    assert ("customers", (), "SELECT") not in held
    assert {("customers", ("id",), "SELECT"), ("customers", ("name",), "SELECT")} <= held
    assert ("customers", ("email",), "SELECT") not in held
    assert ("orders", (), "SELECT") in held
    (deny,) = [d for d in p.dispositions if ":deny:" in d.fact]
    assert deny.disposition == Disposition.APPROXIMATED
    assert "columns added later" in deny.reason
    assert any(f.startswith("GB040") for f in deny.findings)


def test_column_deny_on_a_column_grant_removes_only_that_column() -> None:
    p = plan(_snapshot(
        users=(user("app", "app"),),
        permissions=(perm("SELECT", "app", schema_name="dbo", object_name="Customers", column_name="id"),
                     perm("SELECT", "app", schema_name="dbo", object_name="Customers", column_name="name"),
                     perm("SELECT", "readers", state="D", schema_name="dbo", object_name="Customers",
                          column_name="name")),
        roles=(role("readers"),),
        memberships=(member("readers", "app"),),
    ), Policy())  # fmt: skip
    held = _held(p, "app")
    assert ("customers", ("id",), "SELECT") in held
    assert ("customers", ("name",), "SELECT") not in held


def test_column_deny_on_a_table_without_known_columns_fails_closed() -> None:
    p = plan(snapshot(database(
        objects=(table("dbo", "Orders"),),
        users=(user("app", "app"),),
        memberships=(member("db_datareader", "app"),),
        permissions=(perm("SELECT", "app", state="D", schema_name="dbo", object_name="Orders",
                          column_name="total"),),
    ), logins=(login("app"),)), Policy())  # fmt: skip
    (name,) = _derived(p)
    assert not any(g.name == "orders" for g in p.grants if g.grantee == name)
    (deny,) = [d for d in p.dispositions if ":deny:" in d.fact]
    assert deny.disposition == Disposition.APPROXIMATED
    assert "fail closed" in deny.reason


def test_derived_roles_grow_with_denying_principals_not_with_denies() -> None:
    """Thirty DENYs on one user and one on its group: one derived role per (role, DENY set)."""
    objects = tuple(table("dbo", f"T{i:02d}", "id") for i in range(60))
    p = plan(snapshot(database(
        objects=objects,
        roles=(role("readers"),),
        users=(user("app", "app"),),
        memberships=(member("readers", "app"), member("db_datareader", "readers")),
        permissions=(*(perm("SELECT", "app", state="D", schema_name="dbo", object_name=f"T{i:02d}")
                       for i in range(0, 60, 2)),
                     perm("SELECT", "readers", state="D", schema_name="dbo", object_name="T01")),
    ), logins=(login("app"),)), Policy())  # fmt: skip
    # db_datareader splits into a common part and the parts readers and app are denied;
    # derived roles join the parts their DENYs leave alone
    assert sorted(_derived(p)) == [
        "readers_minus_app",
        "sales_db_datareader_common",
        "sales_db_datareader_minus_readers",
        "sales_db_datareader_minus_readers_minus_app",
        "sales_db_datareader_part_app",
        "sales_db_datareader_part_readers",
    ]
    common = {n for n, _, _ in _held(p, "sales_db_datareader_common")}
    assert common == {f"t{i:02d}" for i in range(3, 60, 2)}
    parents = {(m.role, m.member) for m in p.memberships}
    assert ("sales_db_datareader_common", "sales_db_datareader_minus_readers") in parents
    assert ("sales_db_datareader_part_app", "sales_db_datareader_minus_readers") in parents
    assert ("sales_db_datareader_part_readers", "sales_db_datareader_minus_readers") not in parents
    # derived roles copy only the contested tables, never the common ones
    copied = [g for r in _derived(p) if "_minus_" in r for g in p.grants
              if g.grantee == r and g.object_type == "TABLE"]  # fmt: skip
    assert {g.name for g in copied} <= {f"t{i:02d}" for i in range(0, 60, 2)} | {"t01"}
    held = set().union(*(_held(p, r) for r in reach(p, "app")))
    assert {n for n, _, _ in held if n.startswith("t")} == {f"t{i:02d}" for i in range(3, 60, 2)}


def _sysadmin_estate(*denies: Any) -> SecuritySnapshot:
    """``adm`` is a sysadmin login with a user of its own in db_datareader; ``app`` is not."""
    return snapshot(
        database(objects=OBJECTS, users=(user("adm", "adm"), user("app", "app")),
                 memberships=(member("db_datareader", "adm"), member("db_datareader", "app")),
                 permissions=denies),
        logins=(login("adm"), login("app")),
        server_memberships=(member("sysadmin", "adm"),),
    )  # fmt: skip


def test_deny_to_public_does_not_restructure_a_sysadmin() -> None:
    """A sysadmin member enters every database as dbo and no DENY applies to it ("Permissions
    Hierarchy": sysadmin bypasses permission checks), so the memberships it gets are kept, while
    an ordinary member of the same role is restructured."""
    p = plan(_sysadmin_estate(
        perm("SELECT", "public", state="D", schema_name="dbo", object_name="Orders"),
    ), Policy())  # fmt: skip
    assert "orders" not in {name for name, _, _ in _held_through(p, "app")}
    assert ("orders", (), "SELECT") in _held_through(p, "adm")
    assert not [m for m in p.memberships if m.member == "adm" and "_minus_" in m.role]


def test_deny_to_a_role_of_a_sysadmin_leaves_the_sysadmin_its_access() -> None:
    p = plan(_sysadmin_estate(
        perm("SELECT", "db_datareader", state="D", schema_name="dbo", object_name="Orders"),
    ), Policy())  # fmt: skip
    assert "orders" not in {name for name, _, _ in _held_through(p, "app")}
    assert ("orders", (), "SELECT") in _held_through(p, "adm")


def test_deny_on_a_sysadmin_itself_takes_nothing() -> None:
    p = plan(_sysadmin_estate(
        perm("SELECT", "adm", state="D", schema_name="dbo", object_name="Orders"),
    ), Policy())  # fmt: skip
    assert ("orders", (), "SELECT") in _held_through(p, "adm")
    assert _derived(p) == []
    deny = next(d for d in p.dispositions if d.fact.startswith("Sales/perm:") and "adm" in d.fact)
    assert deny.disposition == Disposition.NOT_APPLICABLE
    assert "sysadmin member or dbo" in deny.reason


def _held_through(p: MigrationPlan, grantee: str) -> set[tuple[str, tuple[str, ...], str]]:
    """Table grants the grantee holds itself or through any role it inherits."""
    roles = reach(p, grantee)
    return {(g.name, g.columns, g.privilege) for g in p.grants
            if g.grantee in roles and g.object_type == "TABLE"}  # fmt: skip
