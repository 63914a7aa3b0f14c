"""What a DENY's findings say it took is what the principals it reaches lost.

1. A DENY of part of what ``pg_read_all_stats`` stands for may take ``pg_monitor`` (faithful
   CONTROL SERVER includes it: mapper/translate/deny_predefined.py) from a principal it
   reaches. Regression: the GB040 named ``pg_monitor`` whenever *any* principal of the plan
   held it, for a DENY reaching only a login that never did, and a server DENY of all
   ``pg_read_all_stats`` stands for was ``approximated`` for it instead of ``mapped``.
2. Faithful ALTER ANY LOGIN gives CREATEROLE (mapper/translate/overgrants.py), which before
   PostgreSQL 16 can make itself a member of any non-superuser role ("Role Attributes": "A
   role with CREATEROLE privilege can alter and drop other roles, too, as well as grant or
   revoke membership in them"; PostgreSQL 16 requires ADMIN OPTION for that). A DENY of
   IMPERSONATE on a login or a user, reaching such a role, could not hold: it takes CREATEROLE
   (fail closed, as a DENY of ALTER ANY LOGIN does: mapper/translate/deny_attributes.py).
   Regression: the DENY was disposed "the plan grants nothing this DENY removes" and the
   login kept CREATEROLE.
"""

from __future__ import annotations

import pytest

from mapper.plan import Disposition, MigrationPlan
from mapper.planner import plan
from mapper.policy import parse_policy
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

FAITHFUL = parse_policy('target = "postgresql"\n[overgrants]\ndefault_mode = "faithful"\n')
STATS, MONITOR = "pg_read_all_stats", "pg_monitor"


def _stats_plan(denied: str) -> MigrationPlan:
    """Login A holds pg_monitor (faithful CONTROL SERVER); login B holds pg_read_all_stats
    through server role R (VIEW SERVER STATE) and is denied ``denied``."""
    snap = snapshot(
        database(users=(user("a", "A"), user("b", "B"))), logins=(login("A"), login("B")),
        server_roles=(ServerRole(name="R", source_ref=REF),),
        server_memberships=(member("R", "B"),),
        server_permissions=(perm("CONTROL SERVER", "A", "SERVER"),
                            perm("VIEW SERVER STATE", "R", "SERVER"),
                            perm(denied, "B", "SERVER", state="D")),
    )  # fmt: skip
    return plan(snap, FAITHFUL)


def _texts(p: MigrationPlan, principal: str) -> list[str]:
    return [f.action for f in p.findings if f.principal == principal]


def test_a_deny_of_all_it_stands_for_names_no_role_the_login_never_held() -> None:
    p = _stats_plan("VIEW SERVER STATE")
    assert MONITOR in reach(p, "a")
    assert not {STATS, MONITOR} & reach(p, "b")
    deny, why = disposition_of(p, "server/perm:SERVER:VIEW SERVER STATE:deny:b")
    assert (deny, why) == (
        Disposition.MAPPED,
        "restructured: 'b' leaves 'r': every privilege 'r' gives 'b' (its grants and its "
        "roles') is denied to it",
    )
    assert ("GB040", "SERVER") not in rules_of(p, "B")
    assert not [t for t in _texts(p, "B") if MONITOR in t]


def test_a_deny_of_part_of_it_names_only_pg_read_all_stats() -> None:
    p = _stats_plan("VIEW SERVER PERFORMANCE STATE")
    assert MONITOR in reach(p, "a")
    assert STATS not in reach(p, "b")
    deny, why = disposition_of(p, "server/perm:SERVER:VIEW SERVER PERFORMANCE STATE:deny:b")
    assert deny == Disposition.APPROXIMATED
    assert why == (
        "PostgreSQL cannot take part of what membership in pg_read_all_stats gives (it is all "
        "or nothing, and cluster-wide): the membership was taken from the roles this DENY "
        "reaches (fail closed), so they lose more than SQL Server denies them"
    )
    [gb040] = [f for f in p.findings if f.rule_id == "GB040" and f.principal == "B"]
    assert gb040.action == why


def test_the_login_that_held_pg_monitor_is_still_told() -> None:
    """The DENY reaching the CONTROL SERVER login itself names pg_monitor: it lost it."""
    snap = snapshot(
        database(users=(user("a", "A"), user("b", "B"))), logins=(login("A"), login("B")),
        server_permissions=(perm("CONTROL SERVER", "A", "SERVER"),
                            perm("VIEW SERVER STATE", "B", "SERVER"),
                            perm("VIEW SERVER STATE", "A", "SERVER", state="D")),
    )  # fmt: skip
    p = plan(snap, FAITHFUL)
    assert MONITOR not in reach(p, "a")
    assert STATS in reach(p, "b")
    _, why = disposition_of(p, "server/perm:SERVER:VIEW SERVER STATE:deny:a")
    assert "membership in pg_monitor (it includes pg_read_all_stats)" in why


# ------------------------------------------------------------------ IMPERSONATE and CREATEROLE


def _impersonation(deny: Permission, in_database: bool = False) -> MigrationPlan:
    """L granted ALTER ANY LOGIN (faithful: CREATEROLE), K granted it too; ``deny`` to L."""
    snap = snapshot(
        database(users=(user("u", "L"), user("k", "K")),
                 permissions=(deny,) if in_database else ()),
        logins=(login("L"), login("K")),
        server_permissions=(perm("ALTER ANY LOGIN", "L", "SERVER"),
                            perm("ALTER ANY LOGIN", "K", "SERVER"),
                            *(() if in_database else (deny,))),
    )  # fmt: skip
    return plan(snap, FAITHFUL)


def _attributes(p: MigrationPlan) -> dict[str, tuple[str, ...]]:
    return {r.name: tuple(r.attributes) for r in p.roles if r.name in ("l", "k")}


@pytest.mark.parametrize(
    ("deny", "in_database", "fact"),
    [
        (perm("IMPERSONATE", "L", "LOGIN", state="D", object_name="K"), False,
         "server/perm:LOGIN:k:IMPERSONATE:deny:l"),
        (perm("IMPERSONATE", "u", "USER", state="D", object_name="k"), True,
         "Sales/perm:USER:k:IMPERSONATE:deny:u"),
    ],
)  # fmt: skip
def test_a_deny_of_impersonate_takes_createrole(
    deny: Permission, in_database: bool, fact: str
) -> None:
    p = _impersonation(deny, in_database)
    assert _attributes(p) == {"l": (), "k": ("CREATEROLE",)}
    disposition, why = disposition_of(p, fact)
    assert disposition == Disposition.APPROXIMATED
    assert "Before PostgreSQL 16 a CREATEROLE role can make itself a member of any " in why
    [taken] = [f for f in p.findings if f.rule_id == "GB020" and f.securable == "CREATEROLE"]
    assert taken.action.startswith("'l' no longer has the CREATEROLE attribute")
    grant, why = disposition_of(p, "server/perm:SERVER:ALTER ANY LOGIN:grant:l")
    assert grant == Disposition.APPROXIMATED
    assert "SQL Server still allows it" in why


@pytest.mark.postgres
def test_on_postgresql_the_login_denied_impersonate_has_no_createrole(
    pg_dsn: str, prefix: str
) -> None:
    """Applied: pg_roles.rolcreaterole is false for the login denied IMPERSONATE (itself or
    through a role it may SET ROLE to), true for the other ALTER ANY LOGIN holder."""
    denied, other = f"{prefix}_denied", f"{prefix}_other"
    snap = snapshot(
        database(users=(user("u", denied), user("k", other))),
        logins=(login(denied), login(other)),
        server_permissions=(perm("ALTER ANY LOGIN", denied, "SERVER"),
                            perm("ALTER ANY LOGIN", other, "SERVER"),
                            perm("IMPERSONATE", denied, "LOGIN", state="D", object_name=other)),
    )  # fmt: skip
    name = f"{prefix}sales"
    migration = contoso.rename_databases(plan(snap, FAITHFUL), {"sales": name})
    ensure_databases(pg_dsn, migration, create=True)
    assert verify_plan(migration, pg_dsn, embedded=False) == []
    with applied(pg_dsn, migration, render_sql(migration), name) as conn:
        answers = {
            who: conn.execute(
                "SELECT bool_or(rolcreaterole) FROM pg_roles WHERE pg_has_role(%s, oid, 'MEMBER')",
                [who],
            ).fetchone()
            for who in (denied, other)
        }
    assert answers == {denied: (False,), other: (True,)}


def test_on_aurora_a_deny_of_impersonate_takes_rds_superuser() -> None:
    """Faithful CONTROL SERVER is rds_superuser on Aurora, which includes CREATEROLE's power to
    grant itself any role: a DENY of IMPERSONATE on K to L takes L's membership (fail closed),
    as a DENY of ALTER ANY LOGIN did already. Regression: L kept rds_superuser, the DENY
    "grants nothing this DENY removes"."""
    aurora = parse_policy('target = "aurora"\n[overgrants]\ndefault_mode = "faithful"\n')
    snap = snapshot(
        database(users=(user("u", "L"), user("k", "K"))),
        logins=(login("L"), login("K")),
        server_permissions=(perm("CONTROL SERVER", "L", "SERVER"),
                            perm("CONTROL SERVER", "K", "SERVER"),
                            perm("IMPERSONATE", "L", "LOGIN", state="D", object_name="K")),
    )  # fmt: skip
    p = plan(snap, aurora)
    assert reach(p, "l") == {"l"}
    assert "rds_superuser" in reach(p, "k")
    disposition, why = disposition_of(p, "server/perm:LOGIN:k:IMPERSONATE:deny:l")
    assert disposition == Disposition.APPROXIMATED
    assert "rds_superuser (it includes CREATEDB, CREATEROLE" in why
