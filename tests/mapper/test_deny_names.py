"""DENY-derived role names are made of the plan's role names, not the source's spellings.

A reviewer reading ``<role>_minus_<holders>`` or ``<role>_part_<holders>`` finds each holder
among the plan's roles: a Windows group ``FINCORP\\accountants`` whose role is
``fincorp_accountants`` (login template ``{domain}_{name}``) appears as that, never with its
backslash; a database user appears as its mapped role (``sales_staff`` → ``sales_sales_staff``
with more than one database).
"""

from __future__ import annotations

from mapper.naming import MAX_IDENTIFIER_BYTES
from mapper.plan import MigrationPlan, RoleKind
from mapper.planner import plan
from mapper.policy import Naming, Policy
from mssql_extract.snapshot import LoginType, SecuritySnapshot
from tests.mapper.estate import database, login, member, perm, role, snapshot, table, user

GROUP = "FINCORP\\accountants"


def _derived(p: MigrationPlan) -> list[str]:
    return sorted(r.name for r in p.roles if r.kind == RoleKind.DERIVED)


def _group_estate(*objects: str, denied: tuple[str, ...] = ("Orders",)) -> SecuritySnapshot:
    return snapshot(
        database("App", objects=tuple(table("dbo", name, "id") for name in objects),
                 users=(user(GROUP, GROUP),), roles=(role("readers"),),
                 memberships=(member("readers", GROUP),),
                 permissions=(*(perm("SELECT", "readers", schema_name="dbo", object_name=name)
                                for name in objects),
                              *(perm("SELECT", GROUP, state="D", schema_name="dbo",
                                     object_name=name) for name in denied))),
        logins=(login(GROUP, LoginType.WINDOWS_GROUP),),
    )  # fmt: skip


def test_a_windows_grantee_is_named_by_its_role() -> None:
    policy = Policy(naming=Naming(login="{domain}_{name}"))
    p = plan(_group_estate("Orders", "Customers"), policy)
    assert p.role("fincorp_accountants") is not None
    assert _derived(p) == ["readers_minus_fincorp_accountants"]
    assert ("readers_minus_fincorp_accountants", "fincorp_accountants") in {
        (m.role, m.member) for m in p.memberships
    }
    assert not [r for r in p.roles if "\\" in r.name]


def test_a_part_is_named_by_its_holders_roles() -> None:
    """A role of 50 grants or more is split; its parts are named the same way."""
    names = [f"T{n:02d}" for n in range(60)]
    policy = Policy(naming=Naming(login="{domain}_{name}"))
    p = plan(_group_estate(*names, denied=("T01",)), policy)
    assert "readers_part_fincorp_accountants" in _derived(p)
    assert "readers_minus_fincorp_accountants" in _derived(p)
    assert not [r for r in p.roles if "\\" in r.name]


def test_a_user_is_named_by_its_mapped_role_with_many_databases() -> None:
    """Two databases: user [staff] of Sales is role sales_staff, and so in the derived name."""
    sales = database(
        "Sales", users=(user("staff"),), roles=(role("readers"),),
        memberships=(member("readers", "staff"),),
        permissions=(perm("SELECT", "readers", schema_name="dbo", object_name="Orders"),
                     perm("SELECT", "readers", schema_name="dbo", object_name="Customers"),
                     perm("SELECT", "staff", state="D", schema_name="dbo", object_name="Orders")),
    )  # fmt: skip
    p = plan(snapshot(sales, database("Hr")), Policy())
    assert p.role("sales_staff") is not None
    assert _derived(p) == ["sales_readers_minus_sales_staff"]


def test_long_mapped_names_stay_within_63_bytes_and_apart() -> None:
    """Two long role names: their derived names share their first 63 bytes, both are cut and
    kept apart by their hashes."""
    long = "FINCORP\\accountants_of_the_northern_region_and_its_subsidiaries_"
    groups = (long + "east", long + "west")
    snap = snapshot(
        database("App", objects=(table("dbo", "Orders", "id"), table("dbo", "Customers", "id")),
                 users=tuple(user(g, g) for g in groups), roles=(role("readers"),),
                 memberships=tuple(member("readers", g) for g in groups),
                 permissions=(perm("SELECT", "readers", schema_name="dbo", object_name="Orders"),
                              perm("SELECT", "readers", schema_name="dbo",
                                   object_name="Customers"),
                              perm("SELECT", groups[0], state="D", schema_name="dbo",
                                   object_name="Orders"),
                              perm("SELECT", groups[1], state="D", schema_name="dbo",
                                   object_name="Customers"))),
        logins=tuple(login(g, LoginType.WINDOWS_GROUP) for g in groups),
    )  # fmt: skip
    p = plan(snap, Policy())
    derived = _derived(p)
    assert len(derived) == 2
    assert all(len(n.encode()) <= MAX_IDENTIFIER_BYTES for n in derived)
    assert all(n.startswith("readers_minus_accountants_of_the") for n in derived)
    assert not [r for r in p.roles if "\\" in r.name]
    assert plan(snap, Policy()).to_json() == p.to_json()
