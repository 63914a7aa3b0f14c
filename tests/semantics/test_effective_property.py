"""effective() and explain() agree, on random small estates (hypothesis)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from mapper.effective import EffectivePermissions, Securable
from mapper.permissions import CATALOG
from mssql_extract.snapshot import Membership, Permission
from tests.semantics.builders import deny, estate, grant, member, sales

PRINCIPALS = ("alice", "bob", "r1", "r2", "r3", "public")
SECURABLES = (
    ("OBJECT::sales.Orders", ("SELECT", "UPDATE", "CONTROL", "DELETE")),
    ("OBJECT::sales.Orders(total)", ("SELECT", "UPDATE")),
    ("OBJECT::sales.Report", ("SELECT", "ALTER")),
    ("SCHEMA::sales", ("SELECT", "CONTROL", "ALTER", "UPDATE")),
    ("DATABASE", ("SELECT", "CONTROL", "UPDATE", "CREATE TABLE", "CONNECT REPLICATION")),
    ("USER::bob", ("IMPERSONATE", "CONTROL")),
)

rows = st.builds(
    lambda make, target, who: make(target[1], target[0], who),
    st.sampled_from((grant, deny)),
    st.sampled_from([(on, p) for on, perms in SECURABLES for p in perms]),
    st.sampled_from(PRINCIPALS),
)
# members only point "down" the role list, so no cycles: alice/bob → r1 → r2 → r3
edges = st.sampled_from(
    [("r1", "alice"), ("r2", "alice"), ("r1", "bob"), ("r2", "r1"), ("r3", "r2"), ("r3", "bob")]
)


def _unique(perms: list[Permission]) -> list[Permission]:
    return list({p.key: p for p in perms}.values())


@settings(max_examples=60, deadline=None)
@given(st.lists(rows, max_size=8), st.lists(edges, max_size=4, unique=True))
def test_effective_agrees_with_explain(
    perms: list[Permission], links: list[tuple[str, str]]
) -> None:
    members: list[Membership] = [member(role, who) for role, who in links]
    engine = EffectivePermissions(estate(sales(perms=_unique(perms), members=members)))
    for who in ("alice", "bob"):
        result = engine.effective("Sales", who)
        columns = {s for s, _ in result if s.column is not None}
        for column, permission in (pair for pair in result if pair[0].column is not None):
            assert engine.explain("Sales", who, column, permission).allowed
        # a table whose columns are listed one by one may be left out as a whole
        split = {Securable(c.securable_class, c.schema_name, c.name) for c in columns}
        for securable in _securables():
            for permission in CATALOG.permissions_of(securable.securable_class):
                allowed = engine.explain("Sales", who, securable, permission).allowed
                listed = (securable, permission) in result
                assert allowed == listed or (securable in split and not listed), (
                    who,
                    securable,
                    permission,
                )


def _securables() -> list[Securable]:
    return [
        Securable("OBJECT", "sales", "orders"),
        Securable("OBJECT", "sales", "report"),
        Securable("OBJECT", "dbo", "usp_run"),
        Securable("SCHEMA", None, "sales"),
        Securable("DATABASE"),
        Securable("USER", None, "bob"),
    ]
