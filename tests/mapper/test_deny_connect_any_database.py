"""DENY CONNECT ANY DATABASE keeps out a login without a user, not a login's users.

"GRANT Server Permissions (Transact-SQL)": CONNECT ANY DATABASE is granted "to a login that must
connect to all databases that currently exist and to any new databases that might be created in
future. Does not grant any permission in any database beyond connect"; the page says nothing of
its DENY (unlike SELECT ALL USER SECURABLES and IMPERSONATE ANY LOGIN). sys.fn_builtin_permissions
(reference/mssql/builtin_permissions_sql2022.csv) puts DATABASE CONNECT under CONNECT REPLICATION
and CONTROL SERVER only, and a DENY denies what it covers ("Permissions (Database Engine)",
"Summary of the permission check algorithm"). Regression: the engine read CONNECT ANY DATABASE as
covering CONNECT for DENYs too, so such a DENY shut a login out of every database where it has a
user, and the plan dropped all of its grants there.
"""

from __future__ import annotations

import pytest

from mapper.effective import EffectivePermissions, Securable
from mapper.plan import Disposition, MigrationPlan
from mapper.planner import plan
from mapper.policy import Policy
from mssql_extract.snapshot import Membership, SecuritySnapshot, ServerRole
from pg_emit.render import render_sql
from pg_emit.verify import applied, ensure_databases, verify_plan
from tests.emit import contoso
from tests.mapper.estate import REF, database, login, perm, snapshot, user

ORDERS = Securable("OBJECT", "dbo", "Orders")


def _snap(with_user: str = "L", without: str = "N", role: bool = False) -> SecuritySnapshot:
    """``with_user`` has a user granted SELECT on Orders, ``without`` none; both are denied
    CONNECT ANY DATABASE. ``role``: a server role grants it to both and to a third login M."""
    members = (with_user, without, "M") if role else ()
    return snapshot(
        database(users=(user("u", with_user),),
                 permissions=(perm("CONNECT", "u", "DATABASE"),
                              perm("SELECT", "u", schema_name="dbo", object_name="Orders"))),
        logins=tuple(login(name) for name in (with_user, without, *members[2:])),
        server_roles=(ServerRole(name="aud", source_ref=REF),) if role else (),
        server_memberships=tuple(Membership(role="aud", member=m, source_ref=REF)
                                 for m in members),
        server_permissions=(
            *((perm("CONNECT ANY DATABASE", "aud", "SERVER"),) if role else ()),
            perm("CONNECT ANY DATABASE", with_user, "SERVER", state="D"),
            perm("CONNECT ANY DATABASE", without, "SERVER", state="D"),
        ),
    )  # fmt: skip


def _fact(p: MigrationPlan, fact: str) -> tuple[Disposition, str]:
    [found] = [d for d in p.dispositions if d.fact == fact]
    return found.disposition, found.reason


def test_the_engine_lets_the_login_with_a_user_in() -> None:
    engine = EffectivePermissions(_snap(role=True))
    assert engine.explain("Sales", "L", ORDERS, "SELECT").allowed
    assert engine.explain("Sales", "L", Securable("DATABASE"), "CONNECT").allowed
    assert not engine.explain("Sales", "N", Securable("DATABASE"), "CONNECT").allowed
    assert engine.explain("Sales", "M", Securable("DATABASE"), "CONNECT").allowed
    assert not engine.shuts_out("SERVER", "CONNECT ANY DATABASE")
    assert engine.shuts_out("SERVER", "CONTROL SERVER")
    assert ("DATABASE", "CONNECT") not in engine.covers("SERVER", "CONNECT ANY DATABASE")


def test_the_plan_keeps_the_users_grants() -> None:
    p = plan(_snap(), Policy())
    held = {(g.object_type, g.name, g.privilege) for g in p.grants if g.grantee == "l"}
    assert {("DATABASE", "sales", "CONNECT"), ("TABLE", "orders", "SELECT")} <= held
    assert _fact(p, "Sales/perm:OBJECT:dbo:orders:SELECT:grant:u")[0] == Disposition.MAPPED
    disposition, why = _fact(p, "server/perm:SERVER:CONNECT ANY DATABASE:deny:l")
    assert disposition == Disposition.NOT_APPLICABLE
    assert "keeps out only a login entering a database without a user" in why


def test_a_roles_connect_is_withheld_where_a_denied_member_would_enter_and_says_so() -> None:
    """N (no user, denied) would enter through the role's CONNECT: the role gets none there,
    which keeps M out too; approximated, where it said 'SQL Server lets it into no database'."""
    p = plan(_snap(role=True), Policy())
    assert not [g for g in p.grants if g.grantee == "aud" and g.privilege == "CONNECT"]
    disposition, why = _fact(p, "server/perm:SERVER:CONNECT ANY DATABASE:grant:aud")
    assert disposition == Disposition.APPROXIMATED
    assert "a DENY keeps some of its members out" in why


@pytest.mark.postgres
def test_on_postgresql_the_denied_login_still_reads(pg_dsn: str, target: str) -> None:
    denied = "gbh4_cadb"
    migration = contoso.rename_databases(plan(_snap(denied, "gbh4_cadb_n"), Policy()),
                                         {"sales": target})  # fmt: skip
    ensure_databases(pg_dsn, migration, create=True)
    assert verify_plan(migration, pg_dsn, embedded=False) == []
    with applied(pg_dsn, migration, render_sql(migration), target) as conn:
        answer = conn.execute(
            "SELECT has_database_privilege(%s, current_database(), 'CONNECT'), "
            "has_table_privilege(%s, 'dbo.orders', 'SELECT')",
            [denied, denied],
        ).fetchone()
    assert answer == (True, True)
