"""The planner's shortcuts (issue 7: planner time) give what the plain way gives.

Each shortcut skips work whose result is known already: the plan's validation re-sorting
items the state hands over in key order, a removal and re-adding of every fact when a grant
moves to another role, the DENY check of a GRANT row no DENY of its grantee can reach. These
tests do it both ways and compare.
"""

from __future__ import annotations

from dataclasses import astuple
from typing import Any

import pytest

from bench.generate import generate_snapshot
from bench.scales import Scale
from grantbridge.errors import GrantbridgeError
from mapper.effective import EffectivePermissions, Securable
from mapper.plan import MigrationPlan, PgGrant, PgMembership
from mapper.planner import plan
from mapper.policy import Policy
from mapper.translate.items import Item
from mapper.translate.state import PlanState

#: A small generated estate with DENYs, split roles and derived roles (bench's generator).
ESTATE = Scale("fast-paths", databases=2, principals=80, permission_rows=1_500)


@pytest.fixture(scope="module")
def planned() -> MigrationPlan:
    return plan(generate_snapshot(ESTATE, seed=3), Policy())


def test_the_estate_exercises_deny_restructuring(planned: MigrationPlan) -> None:
    made = [role.name for role in planned.roles if role.kind == "derived"]
    assert any("_common" in name for name in made)
    assert any("_minus_" in name for name in made)


def test_the_plan_is_what_validation_would_build(planned: MigrationPlan) -> None:
    """_build hands the state's items over without MigrationPlan's validation: every
    collection must already be what the validator makes of it (sorted by key, unique)."""
    # part_of is set on a part of ``plan --per-database`` only (plan(…, part_of=N))
    unset = {"schema_version", "part_of"}
    assert planned.model_fields_set == set(MigrationPlan.model_fields) - unset
    fields = {name: getattr(planned, name) for name in planned.model_fields_set}
    validated = MigrationPlan(**fields)
    assert validated == planned
    assert validated.model_fields_set == planned.model_fields_set
    for name in MigrationPlan.model_fields:
        assert getattr(validated, name) == getattr(planned, name), name
    assert validated.to_json() == planned.to_json()


def _state() -> PlanState:
    state = PlanState.__new__(PlanState)
    state.items, state.item_facts, state.by_grantee, state.by_member = {}, {}, {}, {}
    return state


def _grant(grantee: str, name: str = "t") -> PgGrant:
    return PgGrant(database="d", object_type="TABLE", schema_name="s", name=name,
                   privilege="SELECT", grantee=grantee)  # fmt: skip


def _shape(state: PlanState) -> Any:
    return (
        {key: (item, state.facts_of(key)) for key, item in state.items.items()},
        list(state.items), {g: list(keys) for g, keys in state.by_grantee.items()},
        {m: list(keys) for m, keys in state.by_member.items()},
    )  # fmt: skip


@pytest.mark.parametrize("facts", [["f1"], ["f2", "f1", "f3"]], ids=["one fact", "three facts"])
@pytest.mark.parametrize("there", [[], [("f0",)], [("f1",)]], ids=["new", "held", "same fact"])
def test_move_is_remove_then_add_of_each_fact(facts: list[str], there: list[tuple[str]]) -> None:
    """PlanState.move (a split role's grant going to its part) against the plain way; the
    moved item may exist already under its new key (it then gains the facts)."""
    plain, moved = _state(), _state()
    for state in (plain, moved):
        state.add(PgMembership(role="r", member="m"), "f9")
        for fact in facts:
            state.add(_grant("r"), fact)
        state.add(_grant("r", "u"), "f4")
        for (fact,) in there:
            state.add(_grant("r_common"), fact)
    item = plain.items[_grant("r").key]
    copy: Item = item.model_copy(update={"grantee": "r_common"})
    facts_before = plain.facts_of(item.key)
    plain.remove(item.key)
    for fact in facts_before:
        plain.add(copy, fact)
    assert moved.move(item.key, copy) == copy.key
    assert _shape(moved) == _shape(plain)


@pytest.mark.parametrize("facts", [["f1"], ["f2", "f1", "f3"]], ids=["one fact", "three facts"])
@pytest.mark.parametrize("there", [[], [("f0",)], [("f1",)]], ids=["new", "held", "same fact"])
def test_move_grants_is_move_of_each(facts: list[str], there: list[tuple[str]]) -> None:
    """PlanState.move_grants (a split role's grants going to a part, keys cut from the old
    ones) against move() of each copy; a moved grant may exist already under its new key."""
    plain, moved = _state(), _state()
    for state in (plain, moved):
        state.add(PgMembership(role="r", member="m"), "f9")
        for fact in facts:
            state.add(_grant("r"), fact)
        state.add(_grant("r", "u"), "f4")
        state.add(_grant("s", "v"), "f5")
        for (fact,) in there:
            state.add(_grant("r_common"), fact)
    grants = plain.granted_to("r")
    for key, item in grants:
        plain.move(key, item.model_copy(update={"grantee": "r_common"}))
    moved.move_grants(moved.granted_to("r"), "r", "r_common")
    assert _shape(moved) == _shape(plain)


def test_refusal_is_what_explain_says_of_a_deny() -> None:
    """EffectivePermissions.refusal (asked of every GRANT row) skips the DENY check when no
    DENY of the context is on the securable or a container of it: it must still answer what
    explain() answers whenever a DENY decides, for every row's grantee and for every
    principal of the database on the row's securable. Its folded securables and their
    ancestors are cached per (securable, permission): asked again, in capitals too."""
    snapshot = generate_snapshot(ESTATE, seed=3)
    engine = EffectivePermissions(snapshot)
    asked = refused = 0
    for db in snapshot.databases:
        principals = engine.principals(db.name)
        for row in db.permissions[::7]:
            for principal in (row.grantee, *principals[:: len(principals) // 8]):
                securable = Securable.of(row)
                try:
                    decision = engine.explain(db.name, principal, securable, row.permission)
                except GrantbridgeError:
                    continue
                expected = decision if decision.deny is not None else None
                assert engine.refusal(db.name, principal, securable, row.permission) == expected
                # asked again, spelled otherwise: the folded securable is cached per spelling
                shouted = Securable(*(p and p.upper() for p in astuple(securable)))
                assert engine.refusal(db.name, principal, shouted, row.permission) == expected
                asked, refused = asked + 1, refused + (expected is not None)
    assert asked > 1_000
    assert refused > 50


def test_kept_spells_another_grantees_key_as_a_copy_would(planned: MigrationPlan) -> None:
    """deny_kept asks whether a role holds a grant by its key's stem plus the role's name,
    without a copy per role: every grant's and default privilege's key ends in its grantee."""
    from mapper.translate.deny_kept import _stem
    from mapper.translate.items import copy_with

    items = [*planned.grants[:500], *planned.default_privileges[:200]]
    for item in items:
        for other in ("someone_else", item.grantee + "x", "PUBLIC"):
            assert _stem(item) + other == copy_with(item, grantee=other).key
