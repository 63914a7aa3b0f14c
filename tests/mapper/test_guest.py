"""An enabled guest becomes a NOLOGIN ``<database>_guest`` role held by the logins that enter
the database as guest — not PUBLIC, which would reach every role (GB009)."""

from __future__ import annotations

import pytest

from grantbridge.errors import MappingError
from mapper.plan import Disposition, MigrationPlan, RoleKind
from mapper.planner import plan
from mapper.policy import Policy
from mssql_extract.snapshot import Membership, User
from tests.mapper.estate import REF, database, login, perm, snapshot, user

LOGINS = (login("app"), login("visitor"), login("admin"), login("jdoe"))


def _plan(enabled: bool = True, users: tuple[User, ...] = ()) -> MigrationPlan:
    """app has a user; visitor has none; admin is sysadmin; jdoe owns the database."""
    permissions = (perm("SELECT", "guest", schema_name="dbo", object_name="Customers"),)
    if enabled:
        permissions += (perm("CONNECT", "guest", "DATABASE"),)
    db = database(owner="jdoe", guest_enabled=enabled, users=(user("app", "app"), *users),
                  permissions=permissions)  # fmt: skip
    admins = (Membership(role="sysadmin", member="admin", source_ref=REF),)
    return plan(snapshot(db, logins=LOGINS, server_memberships=admins), Policy())


def _grants(p: MigrationPlan, grantee: str) -> set[tuple[str, str, str]]:
    return {(g.object_type, g.name, g.privilege) for g in p.grants if g.grantee == grantee}


def test_guest_role_holds_guests_grants_and_connect() -> None:
    p = _plan()
    guest = p.role("sales_guest")
    assert guest is not None
    assert guest.kind == RoleKind.GROUP
    assert not guest.login
    assert {("TABLE", "customers", "SELECT"), ("DATABASE", "sales", "CONNECT")} <= _grants(
        p, "sales_guest"
    )
    assert _grants(p, "PUBLIC") == set()
    # PostgreSQL's CONNECT for PUBLIC is revoked: guest's CONNECT went to the role
    assert ("DATABASE", "sales", "CONNECT") in {
        (r.object_type, r.name, r.privilege) for r in p.revokes if r.grantee == "PUBLIC"
    }


def test_only_logins_that_enter_as_guest_are_members() -> None:
    p = _plan()
    members = {m.member for m in p.memberships if m.role == "sales_guest"}
    # app has a user; admin (sysadmin) and jdoe (the owner) enter as dbo
    assert members == {"visitor"}


def test_guest_grants_are_mapped_with_gb009_for_later_logins() -> None:
    p = _plan()
    (grant,) = [d for d in p.dispositions
                if d.fact == "Sales/perm:OBJECT:dbo:customers:SELECT:grant:guest"]  # fmt: skip
    assert grant.disposition == Disposition.MAPPED
    (finding,) = [f for f in p.findings if f.key in grant.findings]
    assert finding.rule_id == "GB009"
    assert "'sales_guest'" in finding.action
    assert "held by the 1 login that enters [Sales] as guest" in finding.action
    assert "created later" in finding.action
    assert "GRANT sales_guest TO <login>" in finding.action


def test_listed_guest_user_maps_to_the_guest_role() -> None:
    p = _plan(users=(user("guest"),))
    (guest,) = [d for d in p.dispositions if d.fact == "Sales/user:guest"]
    assert guest.disposition == Disposition.MAPPED
    assert guest.items == ("role:sales_guest",)


def test_disabled_guest_gets_no_role() -> None:
    p = _plan(enabled=False)
    assert p.role("sales_guest") is None
    (grant,) = [d for d in p.dispositions
                if d.fact == "Sales/perm:OBJECT:dbo:customers:SELECT:grant:guest"]  # fmt: skip
    assert grant.disposition == Disposition.EXCLUDED


def test_guest_role_name_collision_is_an_error() -> None:
    with pytest.raises(MappingError, match="'sales_guest'"):
        _plan(users=(user("sales_guest"),))
