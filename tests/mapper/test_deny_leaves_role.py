"""A member denied everything a role gives it leaves the role: no empty derived role.

"DENY Object Permissions": a DENY beats every GRANT reaching the principal through its roles. When
the DENYs on a member take every grant of a role (and of the roles it is a member of), the member
gains nothing from that role in SQL Server, so an empty ``<role>_minus_<member>`` role would stand
for nothing: the member simply does not join, GB020 says all of the role's grants were denied, and
every fact keeps a disposition (the planner asserts it).
"""

from __future__ import annotations

from typing import Any

from mapper.effective import EffectivePermissions, Securable
from mapper.plan import Disposition, MigrationPlan, RoleKind
from mapper.planner import plan
from mapper.policy import Policy
from mssql_extract.snapshot import SecuritySnapshot
from tests.mapper.estate import database, login, member, perm, reach, role, snapshot, table, user

OBJECTS = (
    table("dbo", "Orders", "id"),
    table("dbo", "Customers", "id"),
    table("dbo", "Products", "id"),
)
#: what ``readers`` (or ``base``) grants, and the DENYs on app of each of them
GRANTS = (("SELECT", "Orders"), ("INSERT", "Orders"), ("SELECT", "Customers"))


def _snap(*permissions: Any, roles: tuple[str, ...], memberships: tuple[tuple[str, str], ...],
          fixed: tuple[str, ...] = ()) -> SecuritySnapshot:  # fmt: skip
    db = database(
        objects=OBJECTS, users=(user("app", "app"), user("rpt", "rpt")),
        roles=(*(role(r) for r in roles), *(role(r, fixed=True) for r in fixed)),
        memberships=tuple(member(r, m) for r, m in memberships), permissions=permissions,
    )  # fmt: skip
    return snapshot(db, logins=(login("app"), login("rpt")))


def _grants(grantee: str, state: str = "G") -> tuple[Any, ...]:
    return tuple(perm(p, grantee, state=state, schema_name="dbo", object_name=o) for p, o in GRANTS)


def _held(p: MigrationPlan, principal: str) -> set[tuple[str, str]]:
    """(table, privilege) the principal's role may use through every role it inherits."""
    roles = reach(p, principal)
    return {(g.name, g.privilege) for g in p.grants
            if g.grantee in roles and g.object_type == "TABLE"}  # fmt: skip


def _no_empty_roles(p: MigrationPlan) -> None:
    """Every derived role holds a grant, a default privilege or a membership in another role."""
    for r in p.roles:
        if r.kind != RoleKind.DERIVED:
            continue
        holds = [g for g in (*p.grants, *p.default_privileges) if g.grantee == r.name]
        joins = [m for m in p.memberships if m.member == r.name]
        assert holds or joins, f"{r.name} is empty"
        assert any(m.role == r.name for m in p.memberships), f"{r.name} has no member"


def _nothing_gained(snap: SecuritySnapshot, p: MigrationPlan, principal: str) -> None:
    """What the plan lets the principal do on the tables, SQL Server lets it do too."""
    engine = EffectivePermissions(snap)
    for name, privilege in _held(p, principal):
        on = Securable("OBJECT", "dbo", name)
        assert engine.explain("Sales", principal, on, privilege).allowed, (name, privilege)


def _leaves(p: MigrationPlan, role_name: str, fact: str) -> None:
    """app is in no role made from ``role_name``; its membership fact and each DENY say why."""
    assert not [m for m in p.memberships if m.member == "app" and m.role.startswith(role_name)]
    [membership] = [d for d in p.dispositions if d.fact == fact]
    assert membership.disposition == Disposition.NOT_APPLICABLE
    assert f"every privilege {role_name!r} gives 'app'" in membership.reason
    assert membership.items == ()
    [finding] = [f for f in p.findings if f.key in membership.findings and f.rule_id == "GB020"]
    assert f"'app' is no longer a member of {role_name!r}" in finding.action
    assert "no derived role is made" in finding.action
    denies = [d for d in p.dispositions if d.fact.endswith(":deny:app")]
    assert len(denies) == len(GRANTS)
    for deny in denies:
        assert deny.disposition == Disposition.MAPPED
        assert finding.key in deny.findings
        assert f"'app' leaves {role_name!r}" in deny.reason


def test_a_role_denied_in_full_is_left() -> None:
    snap = _snap(*_grants("readers"), *_grants("app", state="D"),
                 roles=("readers",), memberships=(("readers", "app"), ("readers", "rpt")))  # fmt: skip
    p = plan(snap, Policy())
    assert [r.name for r in p.roles if r.kind == RoleKind.DERIVED] == []
    _leaves(p, "readers", "Sales/member:readers<-app")
    assert _held(p, "app") == set()
    assert _held(p, "rpt") == {("orders", "SELECT"), ("orders", "INSERT"), ("customers", "SELECT")}
    _nothing_gained(snap, p, "app")


def test_a_nested_role_denied_in_full_is_left() -> None:
    """app is in readers (no grants of its own), a member of base, whose grants app is denied:
    no base_minus_app, no readers_minus_app joining it; rpt keeps base through readers."""
    snap = _snap(*_grants("base"), *_grants("app", state="D"), roles=("readers", "base"),
                 memberships=(("base", "readers"), ("readers", "app"), ("readers", "rpt")))  # fmt: skip
    p = plan(snap, Policy())
    assert [r.name for r in p.roles if r.kind == RoleKind.DERIVED] == []
    _leaves(p, "readers", "Sales/member:readers<-app")
    assert _held(p, "app") == set()
    assert ("customers", "SELECT") in _held(p, "rpt")
    _nothing_gained(snap, p, "app")


def test_a_nested_role_keeps_what_is_left_of_its_own_grants() -> None:
    """readers grants Products itself; base, which it is a member of, is denied in full: the
    derived role holds Products and joins no empty base_minus_app."""
    snap = _snap(*_grants("base"), *_grants("app", state="D"),
                 perm("SELECT", "readers", schema_name="dbo", object_name="Products"),
                 roles=("readers", "base"),
                 memberships=(("base", "readers"), ("readers", "app"), ("readers", "rpt")))  # fmt: skip
    p = plan(snap, Policy())
    assert [r.name for r in p.roles if r.kind == RoleKind.DERIVED] == ["readers_minus_app"]
    assert not [m for m in p.memberships if m.member == "readers_minus_app"]
    assert _held(p, "app") == {("products", "SELECT")}
    _no_empty_roles(p)
    _nothing_gained(snap, p, "app")


def test_a_fixed_role_denied_in_full_is_left() -> None:
    """DENY SELECT on the only schema takes all db_datareader gives (its grants and default
    privileges there): app leaves sales_db_datareader, whose other members keep it."""
    snap = _snap(perm("SELECT", "app", "SCHEMA", state="D", object_name="dbo"),
                 roles=(), fixed=("db_datareader",),
                 memberships=(("db_datareader", "app"), ("db_datareader", "rpt")))  # fmt: skip
    p = plan(snap, Policy())
    assert [r.name for r in p.roles if r.kind == RoleKind.DERIVED] == []
    assert "sales_db_datareader" not in reach(p, "app")
    assert "sales_db_datareader" in reach(p, "rpt")
    [membership] = [d for d in p.dispositions if d.fact == "Sales/member:db_datareader<-app"]
    assert membership.disposition == Disposition.NOT_APPLICABLE
    assert _held(p, "app") == set()
    _nothing_gained(snap, p, "app")
