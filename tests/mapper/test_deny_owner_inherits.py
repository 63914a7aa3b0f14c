"""A member of a role that owns a schema keeps what its other roles give it there, whatever
DENY restructuring does to those roles.

SQL Server checks ownership before any DENY ("Permissions (Database Engine)", "Summary of the
permission check algorithm"), so user ``u``, a member of ``owners`` (which owns schema ``s``) and
of ``r2`` (granted REFERENCES on schemas ``s`` and ``x``), keeps REFERENCES on ``s.t`` under a
DENY REFERENCES reaching it; on ``x.w`` (dbo's) the DENY holds. The downscoped ownership gives
``u`` DML and EXECUTE only, so on the old planner ``u`` lost REFERENCES on ``s.t``: moved out of
``r2`` (or to ``r2_minus_u``, or to ``owners_minus_u``) without it.
"""

from __future__ import annotations

import pytest

from mapper.effective import EffectivePermissions, Securable
from mapper.plan import Disposition, MigrationPlan
from mapper.planner import plan
from mapper.policy import Policy
from mssql_extract.snapshot import SecuritySnapshot
from mssql_extract.tsql import parse_text
from pg_emit.render import render_sql
from pg_emit.verify import applied, ensure_databases, verify_plan
from tests.emit import contoso
from tests.mapper.estate import FAITHFUL_OWNERS, reach

#: u is in owners (owner of s) and r2; v is in r2 only. Each case adds GRANTs and DENYs.
BASE = """
CREATE DATABASE [Sales]
GO
CREATE LOGIN [gbh1_u] WITH PASSWORD = N'x'
GO
CREATE LOGIN [gbh1_v] WITH PASSWORD = N'x'
GO
USE [Sales]
GO
CREATE USER [gbh1_u] FOR LOGIN [gbh1_u]
GO
CREATE USER [gbh1_v] FOR LOGIN [gbh1_v]
GO
CREATE ROLE [gbh1_owners]
GO
CREATE ROLE [gbh1_r2]
GO
CREATE SCHEMA [s] AUTHORIZATION [gbh1_owners]
GO
CREATE TABLE [s].[t] ([id] int)
GO
CREATE SCHEMA [x] AUTHORIZATION [dbo]
GO
CREATE TABLE [x].[w] ([id] int)
GO
ALTER ROLE [gbh1_owners] ADD MEMBER [gbh1_u]
GO
ALTER ROLE [gbh1_r2] ADD MEMBER [gbh1_u]
GO
ALTER ROLE [gbh1_r2] ADD MEMBER [gbh1_v]
GO
"""

U, V = "gbh1_u", "gbh1_v"
CASES = {
    # u leaves r2: every privilege r2 gives it is denied (in SQL Server: or held as owner)
    "leaves": (
        "GRANT REFERENCES ON SCHEMA::[s] TO [gbh1_r2]",
        "GRANT REFERENCES ON SCHEMA::[x] TO [gbh1_r2]",
        "DENY REFERENCES TO [gbh1_u]",
    ),
    # u moves to gbh1_r2_minus_gbh1_u, which keeps SELECT on x.w
    "derived": (
        "GRANT REFERENCES ON SCHEMA::[s] TO [gbh1_r2]",
        "GRANT REFERENCES ON SCHEMA::[x] TO [gbh1_r2]",
        "GRANT SELECT ON OBJECT::[x].[w] TO [gbh1_r2]",
        "DENY REFERENCES TO [gbh1_u]",
    ),
    # (not the owning role's own grant on s: SQL Server refuses a permission to the entity
    # owner, Msg 4624, mssql_extract/tsql/special_grantees.py)
}
GRANTED_S = {
    "leaves": "Sales/perm:SCHEMA:s:REFERENCES:grant:gbh1_r2",
    "derived": "Sales/perm:SCHEMA:s:REFERENCES:grant:gbh1_r2",
}


def _snapshot(case: str) -> SecuritySnapshot:
    return parse_text(BASE + "".join(f"{s}\nGO\n" for s in CASES[case]), "owner_inherits.sql")


def _holds(migration: MigrationPlan, who: str, schema: str, privilege: str = "REFERENCES") -> bool:
    roles = reach(migration, who)
    return any(
        g.grantee in roles and g.privilege == privilege and g.schema_name == schema
        and g.object_type == "TABLE"
        for g in migration.grants
    )  # fmt: skip


@pytest.mark.parametrize("case", sorted(CASES))
def test_the_engine_lets_the_owner_member_reference_what_it_owns(case: str) -> None:
    engine = EffectivePermissions(_snapshot(case))
    owned, other = Securable("OBJECT", "s", "t"), Securable("OBJECT", "x", "w")
    decision = engine.explain("Sales", U, owned, "REFERENCES")
    assert decision.allowed
    assert "never denied" in decision.reason
    assert not engine.explain("Sales", U, other, "REFERENCES").allowed


@pytest.mark.parametrize("case", sorted(CASES))
def test_the_owner_member_keeps_what_its_roles_give_it_on_what_it_owns(case: str) -> None:
    migration = plan(_snapshot(case), Policy())
    assert _holds(migration, U, "s")  # the old planner: False
    assert not _holds(migration, U, "x")  # what the DENY really takes stays taken
    assert _holds(migration, V, "s")
    assert _holds(migration, V, "x")
    kept = f"grant:TABLE sales:s.t:REFERENCES:{U}"
    assert kept in {g.key for g in migration.grants}
    assert f"default:sales.s:sales_gbh1_owners_owner:TABLES:REFERENCES:{U}" in {
        d.key for d in migration.default_privileges
    }  # tables created in s later too: u owns them
    [fact] = [d for d in migration.dispositions if d.fact == GRANTED_S[case]]
    assert fact.disposition == Disposition.MAPPED
    assert kept in fact.items
    assert f"kept for [{U}] on what it owns" in fact.reason
    [item] = [g for g in migration.grants if g.key == kept]
    assert item.facts == (GRANTED_S[case],)
    if case == "derived":  # u still holds the rest of r2 through its derived role
        assert _holds(migration, U, "x", "SELECT")
        assert "gbh1_r2_minus_gbh1_u" in reach(migration, U)


def test_nothing_is_copied_where_the_member_owns_it_in_postgresql_too() -> None:
    """Faithful ownership: u's role inherits the owner role, which owns s on PostgreSQL."""
    migration = plan(_snapshot("leaves"), FAITHFUL_OWNERS)
    assert "sales_gbh1_owners_owner" in reach(migration, U)
    assert not any(g.grantee == U for g in migration.grants if g.privilege == "REFERENCES")
    assert not _holds(migration, U, "x")


def test_a_member_that_owns_nothing_is_unchanged() -> None:
    """The same DENY on v, who owns nothing: v leaves r2 and holds REFERENCES nowhere."""
    snapshot = parse_text(
        BASE + "".join(f"{s}\nGO\n" for s in (*CASES["leaves"][:2], "DENY REFERENCES TO [gbh1_v]")),
        "owner_inherits.sql",
    )  # fmt: skip
    migration = plan(snapshot, Policy())
    assert not _holds(migration, V, "s")
    assert not _holds(migration, V, "x")
    assert _holds(migration, U, "s")
    assert _holds(migration, U, "x")
    assert not any(g.grantee in (U, V) for g in migration.grants if g.privilege == "REFERENCES")


@pytest.mark.postgres
@pytest.mark.parametrize("case", ["leaves", "derived"])
def test_on_postgresql_the_owner_member_may_reference_what_it_owns(
    pg_dsn: str, target: str, case: str
) -> None:
    """Applied: u may reference s.t (it owns s through its role) but not x.w (denied); v, in
    r2 only and denied nothing, may reference both."""
    migration = contoso.rename_databases(plan(_snapshot(case), Policy()), {"sales": target})
    ensure_databases(pg_dsn, migration, create=True)
    assert verify_plan(migration, pg_dsn, embedded=False) == []
    with applied(pg_dsn, migration, render_sql(migration), target) as conn:
        answers = {
            (who, table): conn.execute(
                "SELECT has_table_privilege(%s, %s, 'REFERENCES')", [who, table]
            ).fetchone()
            for who in (U, V)
            for table in ("s.t", "x.w")
        }
    assert answers == {
        (U, "s.t"): (True,), (U, "x.w"): (False,), (V, "s.t"): (True,), (V, "x.w"): (True,),
    }  # fmt: skip


def test_a_grant_restructuring_took_from_its_grantee_stays_approximated_and_names_the_owner() -> (
    None
):
    """r2 (in r3) is granted REFERENCES on s.t; r3 is denied it on the column ``id``, the
    table's only one, so r2's grant goes (approximated: SQL Server still allows r2 the table).
    u, in r2 and in the owning role, keeps it on s.t: the fact lists u's grant and says so."""
    extra = (
        "CREATE ROLE [gbh1_r3]", "ALTER ROLE [gbh1_r3] ADD MEMBER [gbh1_r2]",
        "GRANT REFERENCES ON OBJECT::[s].[t] TO [gbh1_r2]",
        "DENY REFERENCES ON OBJECT::[s].[t] ([id]) TO [gbh1_r3]",
    )  # fmt: skip
    snapshot = parse_text(BASE + "".join(f"{s}\nGO\n" for s in extra), "owner_inherits.sql")
    migration = plan(snapshot, Policy())
    assert _holds(migration, U, "s")
    assert not _holds(migration, V, "s")
    [fact] = [d for d in migration.dispositions
              if d.fact == "Sales/perm:OBJECT:s:t:REFERENCES:grant:gbh1_r2"]  # fmt: skip
    assert fact.disposition == Disposition.APPROXIMATED
    assert fact.items == (f"grant:TABLE sales:s.t:REFERENCES:{U}",)
    assert "DENY restructuring removed what it gave [gbh1_r2]" in fact.reason
    assert fact.reason.endswith(
        f"kept for [{U}] on what it owns: a member of its owner, never denied in SQL Server, "
        "from which DENY restructuring took it"
    )
