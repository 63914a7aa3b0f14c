"""bench.composition counts a plan's items by where they come from (docs/architecture.md, Scale)."""

from __future__ import annotations

from bench.composition import composition
from mapper.planner import plan
from mapper.policy import Policy
from tests.mapper.estate import database, login, perm, snapshot, user


def test_grants_are_counted_by_object_type_source_and_role_kind() -> None:
    rows = (perm("SELECT", "app", "SCHEMA", object_name="dbo"),
            perm("EXECUTE", "app", schema_name="dbo", object_name="usp_Report"))  # fmt: skip
    db = database(users=(user("app", "app"),), permissions=rows)
    tables = dict(composition(plan(snapshot(db, logins=(login("app"),)), Policy())))
    by_source = next(v for k, v in tables.items() if k.startswith("grants ("))
    assert by_source["TABLE from SCHEMA"] == 2  # dbo.Orders, dbo.Customers
    assert by_source["PROCEDURE from OBJECT"] == 1
    assert tables["grants by the kind of role granted to"]["login"] == sum(by_source.values())
