"""refusal() is explain() when a DENY decides, else None, on random small estates (hypothesis).

The planner asks refusal() of every GRANT row instead of explain() (speed, issue 7): it must
find the same DENY with the same reason, and raise where explain() raises.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from grantbridge.errors import MappingError
from mapper.effective import Decision, EffectivePermissions
from mssql_extract.snapshot import Membership, Permission
from tests.semantics.builders import deny, estate, grant, member, sales, securable

ASKED = ("alice", "bob", "carol", "r1", "r2", "public", "dbo", "guest", "reporting_app")
ON = (
    ("OBJECT::sales.Orders", ("SELECT", "UPDATE", "CONTROL")),
    ("OBJECT::sales.Orders(total)", ("SELECT", "UPDATE")),
    ("OBJECT::sales.Report", ("SELECT",)),
    ("OBJECT::dbo.usp_Run", ("EXECUTE",)),
    ("SCHEMA::sales", ("SELECT", "CONTROL")),
    ("DATABASE", ("SELECT", "CONNECT", "CONNECT REPLICATION", "CONTROL")),
    ("USER::bob", ("IMPERSONATE",)),
)
PAIRS = [(on, permission) for on, permissions in ON for permission in permissions]

rows = st.builds(
    lambda make, target, who: make(target[1], target[0], who),
    st.sampled_from((grant, deny)),
    st.sampled_from(PAIRS),
    st.sampled_from(("alice", "bob", "r1", "r2", "r3", "public", "reporting_app")),
)
# members only point "down" the role list, so no cycles
edges = st.sampled_from([("r1", "alice"), ("r2", "r1"), ("r3", "r2"), ("r3", "bob"), ("r2", "bob")])
owners = st.sampled_from((None, "alice", "r1", "r2"))


def _expected(engine: EffectivePermissions, who: str, on: str, permission: str) -> object:
    try:
        decision = engine.explain("Sales", who, securable(on), permission)
    except MappingError:
        return MappingError
    return decision if decision.deny is not None else None


def _refusal(engine: EffectivePermissions, who: str, on: str, permission: str) -> object:
    try:
        return engine.refusal("Sales", who, securable(on), permission)
    except MappingError:
        return MappingError


@settings(max_examples=80, deadline=None)
@given(
    st.lists(rows, max_size=10),
    st.lists(edges, max_size=4, unique=True),
    owners,
    owners,
)
def test_refusal_is_explain_when_a_deny_decides(
    perms: list[Permission], links: list[tuple[str, str]], schema: str | None, table: str | None
) -> None:
    unique = list({p.key: p for p in perms}.values())
    members: list[Membership] = [member(role, who) for role, who in links]
    database = sales(
        perms=unique, members=members, schema_owners={"sales": schema or "dbo"},
        object_owners={"Orders": table} if table else None,
    )  # fmt: skip
    engine = EffectivePermissions(estate(database))
    for who in ASKED:
        for on, permission in PAIRS:
            assert _refusal(engine, who, on, permission) == _expected(engine, who, on, permission)


def test_a_deny_connect_refuses_before_ownership() -> None:
    database = sales(perms=[deny("CONNECT", "DATABASE", "alice")], schema_owners={"sales": "alice"})
    engine = EffectivePermissions(estate(database))
    refused = engine.refusal("Sales", "alice", securable("OBJECT::sales.Orders"), "SELECT")
    assert isinstance(refused, Decision)
    assert refused.reason == "DENY CONNECT on the database shuts it out"
    assert refused == engine.explain("Sales", "alice", securable("OBJECT::sales.Orders"), "SELECT")


def test_an_allowed_grant_is_not_refused() -> None:
    database = sales(
        perms=[grant("SELECT", "OBJECT::sales.Orders", "alice"),
               deny("SELECT", "OBJECT::sales.Report", "alice")],
    )  # fmt: skip
    engine = EffectivePermissions(estate(database))
    assert engine.refusal("Sales", "alice", securable("OBJECT::sales.Orders"), "SELECT") is None
    refused = engine.refusal("Sales", "alice", securable("OBJECT::sales.Report"), "SELECT")
    assert refused is not None
    assert refused.reason == "DENY SELECT on OBJECT::sales.report beats any GRANT"


def test_a_permission_the_class_lacks_raises_as_explain_does() -> None:
    engine = EffectivePermissions(estate(sales()))
    with pytest.raises(MappingError):
        engine.refusal("Sales", "alice", securable("OBJECT::sales.Orders"), "CONNECT")
