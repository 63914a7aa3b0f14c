"""Owners are never denied, so a DENY reaching an owner takes nothing from its own grants on what
it owns; and no disposition claims the plan carries a fact while holding nothing for it.

"Permissions (Database Engine)", "Summary of the permission check algorithm" (ownership is
checked before the DENYs; https://learn.microsoft.com/sql/relational-databases/security/
permissions-database-engine). Regression (bench scale S): user app_ops_00034, a member of the
role owning schema ``support`` and of a role DENIED REFERENCES on ``support.staff_00004``, had
its own GRANT REFERENCES on that table disposed ``mapped`` with no items and no reason: DENY
restructuring took the grant, which SQL Server (and the semantics engine) still allows, and the
downscoped ownership (DML and EXECUTE) does not give REFERENCES back.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from bench.generate import generate_snapshot
from bench.scales import Scale
from mapper.effective import EffectivePermissions, Securable
from mapper.plan import Disposition, MigrationPlan
from mapper.planner import plan
from mapper.policy import Policy
from mssql_extract.snapshot import Schema, SecuritySnapshot
from mssql_extract.tsql import parse_text
from tests.emit import contoso
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

#: schema s owned by role o; u is a member of o and of r; r is denied REFERENCES on s.t (and
#: SELECT on x.w, which nobody but dbo owns); v is a member of r only
ESTATE = """
CREATE DATABASE [D1]
GO
CREATE LOGIN [u] WITH PASSWORD = N'x'
GO
CREATE LOGIN [v] WITH PASSWORD = N'x'
GO
USE [D1]
GO
CREATE USER [u] FOR LOGIN [u]
GO
CREATE USER [v] FOR LOGIN [v]
GO
CREATE ROLE [o]
GO
CREATE ROLE [r]
GO
CREATE SCHEMA [s] AUTHORIZATION [o]
GO
CREATE TABLE [s].[t] ([id] int)
GO
CREATE SCHEMA [x] AUTHORIZATION [dbo]
GO
CREATE TABLE [x].[w] ([id] int)
GO
ALTER ROLE [o] ADD MEMBER [u]
GO
ALTER ROLE [r] ADD MEMBER [u]
GO
ALTER ROLE [r] ADD MEMBER [v]
GO
DENY REFERENCES ON OBJECT::[s].[t] TO [r]
GO
DENY SELECT ON OBJECT::[x].[w] TO [r]
GO
GRANT REFERENCES ON OBJECT::[s].[t] TO [u]
GO
GRANT REFERENCES ON OBJECT::[s].[t] TO [v]
GO
GRANT SELECT ON OBJECT::[x].[w] TO [u]
GO
"""

U_REFERENCES = "D1/perm:OBJECT:s:t:REFERENCES:grant:u"
U_ITEM = "grant:TABLE d1:s.t:REFERENCES:u"


def _snapshot() -> SecuritySnapshot:
    return parse_text(ESTATE, "owners.sql")


def _disposition(migration: MigrationPlan, fact: str) -> tuple[Disposition, tuple[str, ...], str]:
    found = next(d for d in migration.dispositions if d.fact == fact)
    return found.disposition, found.items, found.reason


def _references(migration: MigrationPlan, principal: str) -> bool:
    roles = reach(migration, principal)
    return any(
        g.grantee in roles and g.privilege == "REFERENCES" and (g.schema_name, g.name) == ("s", "t")
        for g in migration.grants
    )


def test_the_engine_allows_the_owner_and_refuses_the_other_member() -> None:
    engine = EffectivePermissions(_snapshot())
    table = Securable("OBJECT", "s", "t")
    decision = engine.explain("D1", "u", table, "REFERENCES")
    assert decision.allowed
    assert "never denied" in decision.reason
    assert not engine.explain("D1", "v", table, "REFERENCES").allowed
    assert not engine.explain("D1", "u", Securable("OBJECT", "x", "w"), "SELECT").allowed


@pytest.mark.parametrize("policy", [Policy(), FAITHFUL_OWNERS], ids=["downscope", "faithful"])
def test_a_deny_takes_nothing_from_an_owner_member_s_own_grant(policy: Policy) -> None:
    migration = plan(_snapshot(), policy)
    assert _disposition(migration, U_REFERENCES) == (Disposition.MAPPED, (U_ITEM,), "")
    assert _references(migration, "u")
    # the DENY still refuses the member that owns nothing, and u on what it does not own
    disposition, items, reason = _disposition(migration, "D1/perm:OBJECT:s:t:REFERENCES:grant:v")
    assert (disposition, items) == (Disposition.NOT_APPLICABLE, ())
    assert reason.startswith("overridden in SQL Server")
    assert not _references(migration, "v")
    disposition, _, reason = _disposition(migration, "D1/perm:OBJECT:x:w:SELECT:grant:u")
    assert disposition == Disposition.NOT_APPLICABLE
    assert "DENY SELECT" in reason


def test_a_grant_restructuring_empties_says_so() -> None:
    """A column DENY on a table whose columns the snapshot does not list takes the whole table
    privilege (fail closed): the GRANT it emptied is ``approximated``, naming the DENY and the
    role it comes through, no longer ``mapped`` with no items."""
    db = database(
        "Sales", users=(user("u", "u"),), roles=(role("r"),), memberships=(member("r", "u"),),
        schemas=(Schema(name="s", owner="dbo", source_ref=REF),), objects=(table("s", "t"),),
        permissions=(perm("SELECT", "u", schema_name="s", object_name="t"),
                     perm("SELECT", "r", state="D", schema_name="s", object_name="t",
                          column_name="c")),
    )  # fmt: skip
    migration = plan(snapshot(db, logins=(login("u"),)), Policy())
    disposition, items, reason = _disposition(migration, "Sales/perm:OBJECT:s:t:SELECT:grant:u")
    assert (disposition, items) == (Disposition.APPROXIMATED, ())
    assert "DENY SELECT ON OBJECT s t c TO [r]" in reason
    assert "(through role [r])" in reason
    assert "fail closed" in reason


#: Dispositions claiming the plan carries a fact: with no items they must say why.
CARRIED = frozenset({Disposition.MAPPED, Disposition.DOWNSCOPED, Disposition.IMPLIED})


def _claimed_for_nothing(migration: MigrationPlan) -> list[str]:
    return [
        d.fact for d in migration.dispositions
        if d.disposition in CARRIED and not d.items and not d.reason
    ]  # fmt: skip


def _generated() -> MigrationPlan:
    """A generated two-database estate with DENYs, role-owned schemas and members of both (on
    the old planner, 10 of its GRANT facts were ``mapped`` with no items)."""
    snap = generate_snapshot(Scale("owners", databases=2, principals=200, permission_rows=8_000))
    return plan(snap, Policy())


def _generated_seed5() -> MigrationPlan:
    """Three databases, seed 5: on the old planner ``prune_implied`` removed every grant of
    ``Finance/perm:SCHEMA:sales:DELETE:grant:etl_hr_00148`` (inherited) but, its disposition
    naming the keys DENY restructuring's role split had moved, left it ``mapped`` with none."""
    snap = generate_snapshot(
        Scale("pruned", databases=3, principals=400, permission_rows=20_000), seed=5
    )
    return plan(snap, Policy())


@pytest.mark.parametrize(
    "make",
    [
        contoso.default_plan,
        contoso.postgresql_plan,
        lambda: plan(_snapshot(), Policy()),
        _generated,
        _generated_seed5,
    ],
    ids=["contoso", "contoso-postgresql", "owners", "generated", "generated-seed5"],
)
def test_no_disposition_claims_a_plan_item_it_lacks(make: Callable[[], MigrationPlan]) -> None:
    assert _claimed_for_nothing(make()) == []


def test_a_grant_pruned_after_a_role_split_is_implied_by_grants_the_plan_keeps() -> None:
    """A fact whose every item ``prune_implied`` removes ends ``implied``, pointing at items the
    plan still holds (the covering grants), even when DENY restructuring moved its items."""
    migration = _generated_seed5()
    found = next(
        d for d in migration.dispositions
        if d.fact == "Finance/perm:SCHEMA:sales:DELETE:grant:etl_hr_00148"
    )  # fmt: skip
    assert found.disposition == Disposition.IMPLIED
    assert found.reason.startswith("inherited through role membership: ")
    keys = {g.key for g in migration.grants} | {d.key for d in migration.default_privileges}
    assert found.items
    assert set(found.items) <= keys
    assert not any(k.endswith(":etl_hr_00148") for k in found.items)
