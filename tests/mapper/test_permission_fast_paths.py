"""The permission rows' shortcuts give what the plain computations give (issue 7).

- ``expand_keyed`` (mapper.translate.grant_stamps) copies a (securable, mapping)'s expansion,
  made once, for each grantee: checked on every call of a generated estate's plan against
  ``expand`` and each item's own ``key`` (which ``PlanState.add_keyed`` stores the item
  under), down to the fields set and the order of the fields.
- ``Stamps.target`` and ``Stamps.securable`` give each row the Target and the Securable it
  would make itself, one instance per securable.
- ``PermissionIndex`` folds each securable once and shares the instance between the rows on
  it, whatever their spelling: its indexes equal those built with one ``Securable.of(row)
  .folded()`` per row.
- ``PlanState.add_keyed`` (``add`` inlined) leaves the state as ``add_all`` does.
- ``PlanState.dispose`` sorts a fact's items and findings only when there are two or more.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

from bench.generate import generate_snapshot
from bench.scales import Scale
from mapper.effective import EffectivePermissions
from mapper.permission_index import PermissionIndex
from mapper.plan import PgDefaultPrivilege, PgGrant, PgMembership, PgSchema
from mapper.plan_base import with_field
from mapper.planner import plan
from mapper.policy import Policy
from mapper.securables import Securable
from mapper.translate import grant_stamps, permissions
from mapper.translate.grant_stamps import Stamps
from mapper.translate.grants import Target, expand
from mapper.translate.state import PlanState, _sorted_set
from mssql_extract.snapshot import SecuritySnapshot

#: A small generated estate: object, schema and database rows, many grantees per securable.
ESTATE = Scale("grant-stamps", databases=2, principals=80, permission_rows=2_000)


def _same(made: Any, plain: Any) -> None:
    assert type(made) is type(plain)
    assert list(made.__dict__.items()) == list(plain.__dict__.items())  # values and order
    assert made.__pydantic_fields_set__ == plain.__pydantic_fields_set__
    assert made.__pydantic_extra__ is None
    assert made.__pydantic_private__ is None
    assert made == plain
    assert made.key == plain.key


def test_expand_keyed_is_expand_with_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: Counter[str] = Counter()
    keyed = grant_stamps.expand_keyed

    def checked(state: Any, db: Any, grantee: str, target: Any, row: Any, stamps: Any) -> Any:
        before = len(stamps.expansions)
        got = keyed(state, db, grantee, target, row, stamps)
        if db is None or row.role or row.attribute:  # SERVER rows: not stamped, not repeatable
            return got
        plain = expand(state, db, grantee, target, row)
        if plain is None:
            assert got is None
            return got
        assert got is not None
        assert [key for key, _ in got] == [item.key for item in plain]
        for (_, made), item in zip(got, plain, strict=True):
            _same(made, item)
        seen["stamped" if len(stamps.expansions) == before else "expanded"] += 1
        seen["items"] += len(plain)
        return got

    monkeypatch.setattr(permissions, "expand_keyed", checked)
    plan(generate_snapshot(ESTATE, seed=5), Policy())
    # the copies were checked, on many items: the estate repeats securables across grantees
    assert seen["stamped"] > 100
    assert seen["expanded"] > 100
    assert seen["items"] > 2_000


def test_the_plan_is_the_plain_expansions_plan(monkeypatch: pytest.MonkeyPatch) -> None:
    """The whole plan, byte for byte, as when every row expands on its own."""
    snapshot = generate_snapshot(ESTATE, seed=5)
    stamped = plan(snapshot, Policy()).to_json()

    def plain(state: Any, db: Any, grantee: str, target: Any, row: Any, _: Any) -> Any:
        items = expand(state, db, grantee, target, row)
        return None if items is None else [(item.key, item) for item in items]

    monkeypatch.setattr(permissions, "expand_keyed", plain)
    assert plan(snapshot, Policy()).to_json() == stamped


def test_with_field_replaces_one_field_only() -> None:
    grant = PgGrant(database="d", object_type="TABLE", schema_name="s", name="t",
                    privilege="SELECT", grantee="a")  # fmt: skip
    _same(with_field(grant, "grantee", "b"), grant.model_copy(update={"grantee": "b"}))
    default = PgDefaultPrivilege(database="d", owner="o", schema_name="s", object_type="TABLES",
                                 privilege="SELECT", grantee="a")  # fmt: skip
    _same(with_field(default, "grantee", "b"), default.model_copy(update={"grantee": "b"}))


def _shouting(snapshot: SecuritySnapshot) -> SecuritySnapshot:
    """The snapshot with every other row of each database naming its securable in capitals."""
    databases = []
    for db in snapshot.databases:
        rows = [
            row.model_copy(update={
                "schema_name": row.schema_name and row.schema_name.upper(),
                "object_name": row.object_name and row.object_name.upper(),
            }) if i % 2 else row
            for i, row in enumerate(db.permissions)
        ]  # fmt: skip
        databases.append(db.model_copy(update={"permissions": tuple(rows)}))
    return snapshot.model_copy(update={"databases": tuple(databases)})


def test_the_index_folds_each_securable_once(monkeypatch: pytest.MonkeyPatch) -> None:
    snapshot = _shouting(generate_snapshot(ESTATE, seed=5))
    index = EffectivePermissions(snapshot)._index
    with monkeypatch.context() as plain:
        plain.setattr(PermissionIndex, "_securable", lambda _, row: Securable.of(row).folded())
        expected = EffectivePermissions(snapshot)._index
    for name in ("grants", "held", "denies_by_node", "column_denied_tables", "unknown"):
        assert getattr(index, name) == getattr(expected, name), name
    # shared: one instance per folded securable, across spellings
    held = [securable for rows in index.held.values() for securable, _ in rows]
    assert len({id(s) for s in held}) == len(set(held)) < len(held)


@pytest.mark.parametrize(
    "keys", [[], ["a"], ("a",), ["b", "a"], ["a", "a"], ("b", "a", "b"), {"b", "a"}]
)
def test_sorted_set_is_the_sorted_distinct_keys(keys: Any) -> None:
    assert _sorted_set(keys) == tuple(sorted(set(keys)))


def _empty_state() -> PlanState:
    state = PlanState.__new__(PlanState)
    state.items, state.item_facts, state.by_grantee, state.by_member = {}, {}, {}, {}
    return state


def test_add_keyed_is_add_all() -> None:
    def grant(grantee: str, name: str) -> PgGrant:
        return PgGrant(database="d", object_type="TABLE", schema_name="s", name=name,
                       privilege="SELECT", grantee=grantee)  # fmt: skip

    batches = [
        ("f1", [grant("a", "t"), grant("b", "t")]),
        ("f1", [grant("a", "t")]),  # the same fact again: still one
        ("f2", [grant("a", "t"), grant("a", "u")]),  # a second fact, then a new item
        ("f3", [grant("a", "t")]),  # a third
        ("f4", [PgMembership(role="r", member="a"), PgSchema(database="d", name="s", owner="o")]),
        ("f5", []),
    ]
    plain, keyed = _empty_state(), _empty_state()
    for fact, items in batches:
        assert keyed.add_keyed([(i.key, i) for i in items], fact) == plain.add_all(items, fact)
    for name in ("items", "item_facts", "by_grantee", "by_member"):
        assert getattr(keyed, name) == getattr(plain, name), name
        assert list(getattr(keyed, name)) == list(getattr(plain, name)), name  # order too


def test_one_target_and_securable_per_row_securable() -> None:
    snapshot = generate_snapshot(ESTATE, seed=5)
    for db in snapshot.databases:
        stamps = Stamps()
        for row in db.permissions:
            target = stamps.target(row)
            assert target == Target(row.securable_class, row.schema_name, row.object_name,
                                    row.column_name)  # fmt: skip
            assert stamps.securable(row) == Securable.of(row)
            assert stamps.target(row.model_copy()) is target  # an equal row: the same one
        assert len(stamps.targets) == len(stamps.securables) < len(db.permissions)
