"""The bookkeeping passes' shortcuts give the answers of the plain loops they replace (issue 7).

- ``prune_implied`` keeps a stem held by one grantee as the grantee's name (no list of one),
  and ``_retarget`` picks the dispositions that lost an item in one filtering pass: the plan is
  the one the plain loops (kept here, as they were) make.
- ``dispositions.keys_of`` (a fact's current items, in one tight pass) against the plain loop.

The estate is the benchmark's generator with DENYs (split roles move grants under new keys, so
``_retarget`` meets stale dispositions) and role hierarchies (inherited duplicates to prune).
"""

from __future__ import annotations

from typing import Any

import pytest

from bench.generate import generate_snapshot
from bench.scales import Scale
from mapper import planner
from mapper.plan import Disposition, MigrationPlan, PgMembership
from mapper.planner import plan
from mapper.policy import Policy
from mapper.translate import dispositions, implied
from mapper.translate.grant_findings import restate_inherited
from mapper.translate.items import copy_with
from mapper.translate.state import PlanState

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
