"""The bookkeeping passes' shortcuts give the answers of the plain loops they replace (issue 7).

- ``prune_implied`` keeps a stem held by one grantee as the grantee's name (no list of one),
  and ``_retarget`` picks the dispositions that lost an item in one filtering pass: the plan is
  the one the plain loops (kept here, as they were) make.
- ``dispositions.keys_of`` (a fact's current items, in one tight pass) against the plain loop.
- ``PlanItems.add_facts`` (the schema USAGE grants' facts at once) against ``add`` of each,
  and the USAGE grants built without validation against validated ones.
- ``roles_above`` over the unsorted memberships against the closure over the sorted ones.
- Ownership's rights expanded once and copied per grantee against ``expand`` per grantee.
- Hardening's one pass over the items (``_Found``) against a plain scan per kind, before and
  after the step (it adds none of those kinds).

The estate is the benchmark's generator with DENYs (split roles move grants under new keys, so
``_retarget`` meets stale dispositions) and role hierarchies (inherited duplicates to prune).
"""

from __future__ import annotations

from typing import Any

import pytest

from bench.generate import generate_snapshot
from bench.scales import Scale
from mapper import planner
from mapper.plan import (
    Disposition,
    MigrationPlan,
    PgDatabase,
    PgDefaultPrivilege,
    PgGrant,
    PgMembership,
    PgObject,
    PgSchema,
)
from mapper.planner import plan
from mapper.policy import Policy
from mapper.privileges import lookup
from mapper.translate import (
    deny_kept,
    dispositions,
    hardening,
    implied,
    module_owner,
    owner_members,
    ownership,
)
from mapper.translate.grant_findings import restate_inherited
from mapper.translate.grants import Target, expand
from mapper.translate.items import Item, copy_with
from mapper.translate.state import Owned, PlanState

ESTATE = Scale("fast", databases=2, principals=120, permission_rows=4_000)


def _plain_prune(state: PlanState) -> None:
    """prune_implied and _retarget as they were before (b763167), with the plain _moved."""
    edges: dict[str, set[str]] = {}
    for m in state.memberships():
        if m.inherit:
            edges.setdefault(m.member, set()).add(m.role)
    stems: dict[str, list[str]] = {}
    for grantee, granted in state.by_grantee.items():
        if grantee != "PUBLIC":
            for key in granted:
                stems.setdefault(key[: len(key) - len(grantee)], []).append(grantee)
    removed: dict[str, str] = {}
    ancestors: dict[str, set[str]] = {}
    for stem in sorted(s for s, holders in stems.items() if len(holders) > 1):
        holders = stems[stem]
        held = set(holders)
        for grantee in sorted(holders):
            above = ancestors.get(grantee)
            if above is None:
                above = ancestors[grantee] = implied._ancestors(edges, grantee)
            for ancestor in sorted(above & held):
                if stem + ancestor not in removed:
                    removed[stem + grantee] = stem + ancestor
                    break
    for key, covering in removed.items():
        while covering in removed:
            covering = removed[covering]
        removed[key] = covering
    lost: dict[str, list[str]] = {}
    for key in removed:
        for fact in state.facts_in(key):
            lost.setdefault(fact, []).append(key)
        state.remove(key)
    if not removed:
        return
    moved = _plain_moved(state, removed, lost)
    for fact, disposition in list(state.dispositions.items()):
        own = moved.get(fact)
        if own is None:
            if not any(k in removed for k in disposition.items):
                continue
            own = {k for k in disposition.items if k not in removed}
            lost_keys = {k for k in disposition.items if k in removed}
        else:
            lost_keys = {*lost[fact], *(k for k in disposition.items if k in removed)}
        covering = sorted({removed[k] for k in lost_keys})
        update: dict[str, object] = {"items": tuple(sorted(own.union(covering)))}
        if disposition.disposition == Disposition.MAPPED and all(
            k.startswith("grant:SCHEMA") for k in own
        ):
            update |= {"disposition": Disposition.IMPLIED,
                       "reason": "inherited through role membership: " + ", ".join(covering)}  # fmt: skip
            restate_inherited(state, disposition.findings, covering)
        state.dispositions[fact] = copy_with(disposition, **update)


def _plain_moved(
    state: PlanState, removed: dict[str, str], lost: dict[str, list[str]]
) -> dict[str, set[str]]:
    items, known = state.items, state.dispositions
    stale = {
        fact for fact in lost
        if fact in known
        and any(k not in items and k not in removed and k.startswith(("grant:", "default:"))
                for k in known[fact].items)
    }  # fmt: skip
    current: dict[str, set[str]] = {fact: set() for fact in stale}
    for key, facts in state.item_facts.items():
        for fact in (facts,) if isinstance(facts, str) else facts:
            if fact in stale:
                current[fact].add(key)
    for fact, keys in current.items():
        keys.update(k for k in known[fact].items if k in items)
    return current


def _plain_keys_of(state: PlanState, facts: Any) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for key, held in state.item_facts.items():
        for fact in (held,) if isinstance(held, str) else held:
            if fact in facts:
                found.setdefault(fact, set()).add(key)
    return found


@pytest.fixture(scope="module")
def estate() -> Any:
    return generate_snapshot(ESTATE, seed=2)


@pytest.fixture(scope="module")
def owners_estate() -> Any:
    """Seed 1 has downscoped owners whose members DENY restructuring moved: the owner's rights
    go to several grantees (its role, and the members' derived roles), found by roles_above."""
    return generate_snapshot(ESTATE, seed=1)


@pytest.fixture(scope="module")
def planned(estate: Any) -> MigrationPlan:
    return plan(estate, Policy())


def test_prune_implied_prunes_and_retargets_as_the_plain_loops(
    estate: Any, planned: MigrationPlan, monkeypatch: pytest.MonkeyPatch
) -> None:
    def plain(state: PlanState) -> None:
        _plain_prune(state)

    stale: list[int] = []
    moved = implied._moved

    def counted(*args: Any) -> dict[str, set[str]]:
        found = moved(*args)
        stale.append(len(found))
        return found

    monkeypatch.setattr(implied, "_moved", counted)
    assert plan(estate, Policy()).to_json() == planned.to_json()
    assert max(stale, default=0) > 0  # dispositions naming keys a split moved were retargeted
    monkeypatch.setattr(planner, "prune_implied", plain)
    assert plan(estate, Policy()).to_json() == planned.to_json()
    implied_facts = [d for d in planned.dispositions if d.disposition == Disposition.IMPLIED]
    assert any(d.reason.startswith("inherited through role") for d in implied_facts)
    assert any("_common" in k or "_part_" in k for d in planned.dispositions for k in d.items)


def test_keys_of_finds_each_facts_items_as_the_plain_loop(
    estate: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    checked: list[int] = []
    original = dispositions.keys_of

    def keys_of(state: PlanState, facts: Any) -> dict[str, set[str]]:
        found = original(state, facts)
        assert found == _plain_keys_of(state, facts)
        checked.append(len(found))
        return found

    monkeypatch.setattr(dispositions, "keys_of", keys_of)
    monkeypatch.setattr(implied, "keys_of", keys_of)
    plan(estate, Policy())
    assert len(checked) == 2  # finalize's and prune_implied's
    assert min(checked) > 0


def test_keys_of_reads_one_fact_and_several() -> None:
    state = PlanState(snapshot=None, policy=Policy(), names=None, engine=None)  # type: ignore[arg-type]
    state.add(PgMembership(role="r", member="a"), "f1")
    state.add(PgMembership(role="r", member="b"), "f2")
    state.add(PgMembership(role="r", member="b"), "f1")
    state.add(PgMembership(role="r", member="c"), "f3")
    assert dispositions.keys_of(state, {"f1", "f3"}) == {
        "f1": {"membership:r<-a", "membership:r<-b"}, "f3": {"membership:r<-c"},
    }  # fmt: skip
    assert dispositions.keys_of(state, set()) == {}


def _bare_state() -> PlanState:
    return PlanState(snapshot=None, policy=Policy(), names=None, engine=None)  # type: ignore[arg-type]


def _facts_shape(state: PlanState) -> Any:
    """Items, facts as stored (a plain string for one), and index order."""
    return (
        list(state.items.items()), dict(state.item_facts),
        {g: list(keys) for g, keys in state.by_grantee.items()},
    )  # fmt: skip


@pytest.mark.parametrize("facts", [{"f1"}, {"f2", "f1", "f3"}], ids=["one fact", "three facts"])
@pytest.mark.parametrize(
    "there", [[], ["f0"], ["f1"], ["f1", "f4"]], ids=["new", "held", "same fact", "two held"]
)
def test_add_facts_is_add_of_each_fact(facts: set[str], there: list[str]) -> None:
    usage = PgGrant(database="d", object_type="SCHEMA", name="s", privilege="USAGE", grantee="r")
    plain, bulk = _bare_state(), _bare_state()
    for state in (plain, bulk):
        state.add(PgMembership(role="r", member="m"), "f9")
        for fact in there:
            state.add(usage, fact)
    for fact in sorted(facts):
        plain.add(usage, fact, usage.key)
    bulk.add_facts(usage, facts, usage.key)
    assert _facts_shape(bulk) == _facts_shape(plain)


def test_schema_usage_grants_are_what_validation_builds(planned: MigrationPlan) -> None:
    usages = [g for g in planned.grants if g.object_type == "SCHEMA" and g.privilege == "USAGE"]
    assert len(usages) > 10
    for grant in usages:
        given = {name: getattr(grant, name) for name in grant.model_fields_set}
        validated = PgGrant(**given)
        assert validated == grant
        assert list(validated.__dict__) == list(grant.__dict__)


def _plain_roles_above(state: PlanState, role: str) -> set[str]:
    seen: set[str] = set()
    todo = [role]
    while todo:
        for m in state.memberships_of(todo.pop()):
            if m.inherit and m.role not in seen:
                seen.add(m.role)
                todo.append(m.role)
    return seen


def test_roles_above_is_the_closure_over_sorted_memberships(
    owners_estate: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    asked: list[int] = []
    original = owner_members.roles_above

    def roles_above(state: PlanState, role: str) -> set[str]:
        found = original(state, role)
        assert found == _plain_roles_above(state, role)
        assert sorted(state.memberships_of_unsorted(role), key=lambda m: m.key) == (
            state.memberships_of(role)
        )
        asked.append(len(found))
        return found

    for module in (owner_members, deny_kept, module_owner, ownership):
        monkeypatch.setattr(module, "roles_above", roles_above)
    plan(owners_estate, Policy())
    assert len(asked) > 10
    assert max(asked) > 1


def test_owner_rights_are_expand_of_each_grantee(
    owners_estate: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    asked: list[int] = []
    original = ownership._rights

    def rights(state: PlanState, owned: Owned, grantees: list[str]) -> list[tuple[str, Item]]:
        keyed = original(state, owned, grantees)
        if owned.kind == "schema":
            target = Target("SCHEMA", object_name=owned.schema)
        else:
            target = Target("OBJECT", owned.schema, owned.name)
        plain: list[Item] = []
        for grantee in grantees:
            for permission in ownership.OWNER_PRIVILEGES:
                row = lookup(target.securable_class, permission)
                plain += expand(state, owned.db, grantee, target, row) or []
        assert [key for key, _ in keyed] == [item.key for item in plain]
        assert [item for _, item in keyed] == plain
        assert [(list(i.__dict__), i.model_fields_set) for _, i in keyed] == [
            (list(i.__dict__), i.model_fields_set) for i in plain
        ]
        asked.append(len(grantees))
        return keyed

    monkeypatch.setattr(ownership, "_rights", rights)
    plan(owners_estate, Policy())
    assert max(asked, default=0) > 1


def _plain_found(state: PlanState) -> Any:
    items = state.items.items()
    grants = [(k, i) for k, i in items if isinstance(i, PgGrant)]
    return (
        [(k, g) for k, g in grants if g.object_type == "DATABASE" and g.privilege == "CONNECT"],
        [(k, g) for k, g in grants if g.object_type == "SCHEMA" and g.privilege == "CREATE"],
        {k: i for k, i in items if isinstance(i, PgObject)},
        [(k, i) for k, i in items if isinstance(i, PgDatabase | PgSchema | PgDefaultPrivilege)],
    )


def test_hardening_finds_in_one_pass_what_a_scan_per_kind_finds(
    estate: Any, planned: MigrationPlan, monkeypatch: pytest.MonkeyPatch
) -> None:
    found: list[Any] = []
    of, step = hardening._Found.of, hardening.plan_hardening

    def gathered(state: PlanState) -> hardening._Found:
        first = of(state)
        assert (first.connects, first.creates, first.objects, first.owners) == _plain_found(state)
        found.append(first)
        return first

    def plan_hardening(state: PlanState) -> None:
        step(state)  # adds TEMPORARY grants and revokes: none of the kinds found
        after = found[-1]
        assert (after.connects, after.creates, after.objects, after.owners) == _plain_found(state)

    monkeypatch.setattr(hardening._Found, "of", staticmethod(gathered))
    monkeypatch.setattr(hardening, "plan_hardening", plan_hardening)
    assert plan(estate, Policy()).to_json() == planned.to_json()
    first = found[0]
    assert all((first.connects, first.creates, first.objects, first.owners))
