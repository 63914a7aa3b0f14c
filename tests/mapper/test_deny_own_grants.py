"""A role is split for the DENYs of the members below it, not for its own (issue 7).

A principal's own DENYs meet its own grants first (``mapper.translate.deny._restructure``);
what survives them — a column GRANT outliving a table DENY, SQL Server's documented exception
("GRANT Object Permissions": a table-level DENY does not take precedence over a column-level
GRANT) — is what SQL Server leaves it. Splitting the principal's role for those DENYs made a
``<login>_common`` role holding the login's grants in every database and a ``_part_`` role the
login joined again: the same privileges, more roles, and a login's grants in one database
depending on DENYs in another (``bench.decompose``).
"""

from __future__ import annotations

from mapper.planner import plan
from mapper.policy import Policy
from mapper.translate.deny_roles import SPLIT_MIN
from mssql_extract.snapshot import SecuritySnapshot
from tests.mapper.estate import database, login, member, perm, reach, role, snapshot, table, user


def _estate() -> SecuritySnapshot:
    tables = tuple(table("dbo", f"T{i:03}", "id", "note") for i in range(SPLIT_MIN + 5))
    rows = (
        perm("SELECT", "app", "SCHEMA", object_name="dbo"),
        perm("UPDATE", "app", schema_name="dbo", object_name="T000", column_name="id"),
        perm("UPDATE", "readers", state="D", schema_name="dbo", object_name="T000"),
    )
    hr = database("HR", objects=tables, users=(user("app", "app"),), roles=(role("readers"),),
                  memberships=(member("readers", "app"),), permissions=rows)  # fmt: skip
    return snapshot(hr, logins=(login("app"),))


def test_a_login_keeps_its_grants_when_only_its_own_denies_reach_them() -> None:
    planned = plan(_estate(), Policy())
    assert {r.name for r in planned.roles if r.name.startswith("app")} == {"app"}
    held = {g.key for g in planned.grants if g.grantee == "app"}
    assert "grant:TABLE hr:dbo.t000(id):UPDATE:app" in held  # the column GRANT outlives
    assert "grant:TABLE hr:dbo.t000:UPDATE:app" not in {g.key for g in planned.grants}
    assert len([k for k in held if ":SELECT:" in k]) == SPLIT_MIN + 5
    assert reach(planned, "app") == {"app", "readers"}
