"""The *common criteria compliance enabled* option: with it on, "a table-level DENY takes
precedence over a column-level GRANT" (Microsoft Learn, "common criteria compliance enabled
Server Configuration Option"); off, the default, a column GRANT outlives its table's DENY
("GRANT Object Permissions"). ``Server.common_criteria`` carries it; the semantics engine and
DENY restructuring both honour it."""

from __future__ import annotations

import pytest

from mapper.effective import EffectivePermissions
from mapper.planner import plan
from mapper.policy import Policy
from mapper.securables import Securable
from mssql_extract.snapshot import SecuritySnapshot, Server
from tests.mapper.estate import database, login, member, perm, reach, role, snapshot, table, user
from tests.semantics.builders import deny, estate, grant, sales
from tests.semantics.builders import member as sales_member


def _cc(snapshot: SecuritySnapshot, on: bool | None) -> SecuritySnapshot:
    server = Server(name=snapshot.server.name, common_criteria=on)
    return snapshot.model_copy(update={"server": server})


def _cards() -> SecuritySnapshot:
    """Schema SELECT through a role, a DENY on the table, column GRANTs (Contoso's cards)."""
    perms = [
        grant("SELECT", "SCHEMA::sales", "r1"),
        deny("SELECT", "OBJECT::sales.Orders", "r2"),
        grant("SELECT", "OBJECT::sales.Orders(id)", "r2"),
    ]
    members = [sales_member("r1", "r2"), sales_member("r2", "alice")]
    return estate(sales(perms=perms, members=members))


@pytest.mark.parametrize("on", [None, False, True])
def test_the_engine_lets_the_table_deny_win_only_with_the_option_on(on: bool | None) -> None:
    engine = EffectivePermissions(_cc(_cards(), on))
    column = Securable("OBJECT", "sales", "Orders", "id")
    decision = engine.explain("Sales", "alice", column, "SELECT")
    assert decision.allowed is not on
    if on:
        assert "DENY SELECT on OBJECT::sales.orders beats any GRANT" in decision.reason
    else:
        assert "column-level GRANT beats the table-level DENY" in decision.reason
    selects = {str(s) for s, p in engine.effective("Sales", "alice") if p == "SELECT"}
    assert ("OBJECT::sales.orders(id)" in selects) is not on


def _own_deny() -> SecuritySnapshot:
    """A login's own column GRANT and its own DENY on the table."""
    rows = (
        perm("UPDATE", "app", schema_name="dbo", object_name="T", column_name="id"),
        perm("UPDATE", "app", state="D", schema_name="dbo", object_name="T"),
        perm("SELECT", "app", schema_name="dbo", object_name="T"),
    )
    hr = database("HR", objects=(table("dbo", "T", "id", "note"),),
                  users=(user("app", "app"),), permissions=rows)  # fmt: skip
    return snapshot(hr, logins=(login("app"),))


def _role_grant() -> SecuritySnapshot:
    """A role's column GRANT; a member denied the table (DENY restructuring's path)."""
    rows = (
        perm("UPDATE", "editors", schema_name="dbo", object_name="T", column_name="id"),
        perm("SELECT", "editors", schema_name="dbo", object_name="T"),
        perm("UPDATE", "app", state="D", schema_name="dbo", object_name="T"),
    )
    hr = database("HR", objects=(table("dbo", "T", "id", "note"),),
                  users=(user("app", "app"), user("other", "other")), roles=(role("editors"),),
                  memberships=(member("editors", "app"), member("editors", "other")),
                  permissions=rows)  # fmt: skip
    return snapshot(hr, logins=(login("app"), login("other")))


def _held(estate: SecuritySnapshot, on: bool | None, grantee: str) -> set[str]:
    planned = plan(_cc(estate, on), Policy())
    roles = reach(planned, grantee)
    # grant:TABLE hr:dbo.t(id):UPDATE:app → dbo.t(id):UPDATE
    return {g.key.split(":", 2)[2].rsplit(":", 1)[0] for g in planned.grants if g.grantee in roles}


@pytest.mark.parametrize("on", [None, False, True])
def test_the_plan_keeps_a_column_grant_under_a_table_deny_only_with_the_option_off(
    on: bool | None,
) -> None:
    for estate_of in (_own_deny, _role_grant):
        held = _held(estate_of(), on, "app")
        assert "dbo.t:SELECT" in held, held
        assert ("dbo.t(id):UPDATE" in held) is not on, held
        assert "dbo.t:UPDATE" not in held
    # the member nobody denied keeps the role's column grant either way
    assert "dbo.t(id):UPDATE" in _held(_role_grant(), on, "other")


def test_an_unknown_option_is_left_out_of_the_snapshot_json() -> None:
    assert '"common_criteria"' not in _cc(_cards(), None).to_json()
    assert '"common_criteria": true' in _cc(_cards(), True).to_json()
