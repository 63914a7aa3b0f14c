"""DENY restructuring's shortcuts give the answers of the plain computations they replace (issue 7).

- ``_Subtraction.hits`` and ``hits_each`` look DENYs up in one index of every DENY being
  restructured (``Covering``), filtered by the set's facts, instead of an index per set of
  DENYs: checked against each set's own index, as the planner built it before.
- ``derived_role`` asks ``Contested`` (per role, the DENYs covering its grants, worked out once)
  instead of ``sub.touches(granted_keys(role))``: checked against the plain question on every
  call, and a derived role that gains grants under its existing name is worked out again.
- ``derived_role`` answers for a role with no memberships once per set of the DENYs covering
  its grants (``Derived.leaves``), not once per DENY set: checked against a plan worked out
  without it, and a derived role that gains grants under its name drops its answers.

The estates are the benchmark's generator (two databases) plus server DENYs reaching logins in
both databases, so the shortcuts meet split roles, derived roles, column and server DENYs.
"""

from __future__ import annotations

import random
from collections import Counter
from typing import Any, ClassVar

import pytest

from bench.generate import generate_snapshot
from bench.scales import Scale
from mapper.naming import NameRegistry
from mapper.plan import PgGrant, RoleKind
from mapper.planner import plan
from mapper.policy import Policy
from mapper.translate import deny, deny_roles
from mapper.translate.deny import Deny, _Denial
from mapper.translate.deny_cover import Contested, Covering, _Signatures, _Subtraction
from mapper.translate.deny_reach import signature
from mapper.translate.grants import Target
from mapper.translate.state import PlanState
from mssql_extract.snapshot import (
    Membership,
    Permission,
    PermissionState,
    SecuritySnapshot,
    SourceRef,
)
from tests.mapper.estate import snapshot

REF = SourceRef(origin="test.sql", line=1)
SERVER_DENIES = ("SELECT ALL USER SECURABLES", "ALTER ANY DATABASE", "VIEW ANY DEFINITION")


def _estate() -> SecuritySnapshot:
    """A generated two-database estate with server DENYs to server roles and logins."""
    # seed 3: a role of 50+ grants whose denied members' DENYs take none of them (not split)
    snap = generate_snapshot(Scale("fast", databases=2, principals=120, permission_rows=4_000), 3)
    rng, names = random.Random(1), [lg.name for lg in snap.logins][2:]  # not sysadmin's
    denies = [("SELECT ALL USER SECURABLES", "monitoring"), ("ALTER ANY DATABASE", "ops")]
    denies += [(rng.choice(SERVER_DENIES), name) for name in rng.sample(names, 6)]
    extra = [Permission(securable_class="SERVER", permission=p, state=PermissionState.DENY,
                        grantee=g, source_ref=REF) for p, g in denies]  # fmt: skip
    joined = [Membership(role=rng.choice(("monitoring", "ops")), member=name, source_ref=REF)
              for name in rng.sample(names, 10)]  # fmt: skip
    permissions = {p.key: p for p in (*snap.server_permissions, *extra)}
    memberships = {m.key: m for m in (*snap.server_memberships, *joined)}
    return snap.model_copy(update={
        "server_permissions": tuple(sorted(permissions.values(), key=lambda p: p.key)),
        "server_memberships": tuple(sorted(memberships.values(), key=lambda m: m.key)),
    })  # fmt: skip


def _plain_index(sub: _Subtraction) -> dict[str, list[_Denial]]:
    """The set's own signature → DENYs index, as _Subtraction built it per set before."""
    index: dict[str, list[_Denial]] = {}
    for denial in sub.denials:
        for spelled in denial.signatures:
            index.setdefault(spelled, []).append(denial)
    return index


def _plain_touches(sub: _Subtraction, keys: Any) -> bool:
    return not _plain_index(sub).keys().isdisjoint(sub.signatures[k] for k in keys)


class _CheckedSubtraction(_Subtraction):
    """Answers as _Subtraction does, and fails where the plain per-set index answers otherwise."""

    seen: ClassVar[Counter[str]] = Counter()

    def hits_each(self, granted: Any) -> list[list[_Denial]]:
        granted = list(granted)
        answers = super().hits_each(granted)
        index = _plain_index(self)
        for (key, _), answer in zip(granted, answers, strict=True):
            plain = index.get(self.signatures[key], [])
            assert [d.deny.fact for d in answer] == [d.deny.fact for d in plain]
            self.seen["an item hit" if answer else "an item missed"] += 1
        self.seen[f"hits_each {any(answers)}"] += 1
        return answers

    def hits(self, key: str) -> list[_Denial]:
        answer = super().hits(key)
        plain = _plain_index(self).get(self.signatures[key], [])
        assert [d.deny.fact for d in answer] == [d.deny.fact for d in plain]
        self.seen["hits found" if answer else "hits none"] += 1
        return answer


@pytest.fixture(scope="module")
def estate() -> SecuritySnapshot:
    return _estate()


def test_the_shared_index_answers_as_each_sets_own_index(
    estate: SecuritySnapshot, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_CheckedSubtraction, "seen", Counter())
    monkeypatch.setattr(deny, "_Subtraction", _CheckedSubtraction)
    plan(estate, Policy())
    seen = _CheckedSubtraction.seen
    assert min(seen["hits_each True"], seen["hits_each False"], seen["hits found"]) > 0, seen
    assert min(seen["an item hit"], seen["an item missed"]) > 0, seen


def test_contested_answers_as_touches_on_every_derived_role_call(
    estate: SecuritySnapshot, monkeypatch: pytest.MonkeyPatch
) -> None:
    asked: Counter[bool] = Counter()
    original = deny_roles.derived_role

    def checked(state: PlanState, role: str, sub: _Subtraction, cache: Any,
                contested: Contested) -> Any:  # fmt: skip
        fast = not sub.facts.isdisjoint(contested[role])
        assert fast == _plain_touches(sub, state.granted_keys(role)), role
        asked[fast] += 1
        return original(state, role, sub, cache, contested)

    monkeypatch.setattr(deny_roles, "derived_role", checked)  # its own recursion too
    monkeypatch.setattr(deny, "derived_role", checked)
    plan(estate, Policy())
    assert asked[True] > 0, asked
    assert asked[False] > 0, asked


def _grant(table: str, grantee: str) -> PgGrant:
    return PgGrant(database="sales", object_type="TABLE", schema_name="dbo", name=table,
                   privilege="SELECT", grantee=grantee)  # fmt: skip


def _denial(fact: str, table: str) -> _Denial:
    target = Target("OBJECT", "dbo", table)
    made = Deny(fact, "permission", "test.sql:1", None, "bob", target, ("SELECT",))
    return _Denial(made, frozenset({signature(_grant(table, "-")) or ""}), None, None)


def test_a_derived_role_that_gains_grants_under_its_name_is_worked_out_again() -> None:
    """Two DENY sets of the same holder make one name (``NameRegistry.derived`` hands the same
    source its name again); the second adds the grants the first had denied."""
    snap, policy = snapshot(), Policy()
    state = PlanState(snapshot=snap, policy=policy, names=NameRegistry(policy.naming, multi_database=False),
                      engine=None)  # type: ignore[arg-type]  # fmt: skip
    state.role("r", RoleKind.GROUP)
    for table in ("t1", "t2", "t3"):
        state.add(_grant(table, "r"), f"fact:{table}")
    denials = {"deny:t1": _denial("deny:t1", "t1"), "deny:t2": _denial("deny:t2", "t2")}
    signatures = _Signatures(state)
    covering = Covering(denials, signatures)
    contested, cache = Contested(state, covering), deny_roles.Derived()
    both = _Subtraction(list(denials.values()), signatures, covering)
    made = deny_roles.derived_role(state, "r", both, cache, contested)
    assert made is not None
    name = made[0]
    assert contested[name] == set()  # it holds t3 only, which no DENY covers
    one = _Subtraction([denials["deny:t1"]], signatures, covering)
    assert deny_roles.derived_role(state, "r", one, cache, contested) == (
        name,
        [denials["deny:t1"]],
    )
    assert sorted(k.split(":")[2] for k in state.granted_keys(name)) == ["dbo.t2", "dbo.t3"]
    assert contested[name] == {"deny:t2"}  # t2 is back, and deny:t2 covers it


def test_split_roles_is_handed_the_closures_it_would_work_out(
    estate: SecuritySnapshot, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The closures ``order`` was sorted by are still every member's closure when roles split
    (the first pass changes grants only)."""
    original, checked = deny_roles.split_roles, Counter[bool]()

    def split(state: PlanState, order: list[str], closures: dict[str, set[str]],
              *rest: Any) -> Any:  # fmt: skip
        for member in order:
            checked[closures[member] == deny_roles.closure(state, member)] += 1
        return original(state, order, closures, *rest)

    monkeypatch.setattr(deny, "split_roles", split)
    plan(estate, Policy())
    assert checked[True] > 0
    assert not checked[False]


def test_keys_and_signatures_spelled_from_the_old_ones_are_the_items_own(
    estate: SecuritySnapshot, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A split role's grants move (``PlanState.move_grants``), and a derived role's copies are
    added, under keys cut from the original item's key (grantee swapped at the end), and
    signatures are cut from keys (``signature_of``). Each must be what the item itself spells."""
    given: Counter[str] = Counter()
    move_grants, add = PlanState.move_grants, PlanState.add

    def checked_move(self: PlanState, grants: Any, grantee: str, to: str) -> None:
        grants = list(grants)
        move_grants(self, grants, grantee, to)
        for key, item in grants:
            moved = key[: len(key) - len(grantee)] + to
            assert self.items[moved].key == moved
            assert self.items[moved] == item.model_copy(update={"grantee": to})
            assert key not in self.items
            given["move"] += 1

    def checked_add(self: PlanState, item: Any, fact: str, key: str | None = None) -> Any:
        if key is not None:
            assert key == item.key
            given["add"] += 1
        return add(self, item, fact, key)

    class CheckedSignatures(_Signatures):
        def __setitem__(self, key: str, spelled: str) -> None:
            assert spelled == (signature(self._items[key]) or "")
            given["signature"] += 1
            super().__setitem__(key, spelled)

    monkeypatch.setattr(PlanState, "move_grants", checked_move)
    monkeypatch.setattr(PlanState, "add", checked_add)
    monkeypatch.setattr(deny, "_Signatures", CheckedSignatures)
    plan(estate, Policy())
    assert min(given["move"], given["add"], given["signature"]) > 0, given


class _Forgetful(dict[str, Any]):
    """``Derived.leaves`` remembering nothing: every question worked out anew."""

    def setdefault(self, key: str, default: Any = None) -> Any:
        return {}


def _plan_json(snap: SecuritySnapshot, monkeypatch: pytest.MonkeyPatch) -> tuple[str, int]:
    """The plan, and how many times derived_role worked a role out."""
    worked, derive = Counter[str](), deny_roles._derive

    def counted(*args: Any) -> Any:
        worked["derive"] += 1
        return derive(*args)

    monkeypatch.setattr(deny_roles, "_derive", counted)
    return plan(snap, Policy()).to_json(), worked["derive"]


def test_a_leaf_role_answered_per_covering_denies_gives_the_plan_worked_out_per_set(
    estate: SecuritySnapshot, monkeypatch: pytest.MonkeyPatch
) -> None:
    remembered, fewer = _plan_json(estate, monkeypatch)

    class Plain(deny_roles.Derived):
        def __init__(self) -> None:
            super().__init__()
            self.leaves = _Forgetful()

    monkeypatch.setattr(deny, "Derived", Plain)
    plain, every = _plan_json(estate, monkeypatch)
    assert fewer < every  # the estate's split parts are asked about by several DENY sets
    assert remembered == plain


def test_a_derived_role_that_gains_grants_under_its_name_forgets_its_leaf_answers() -> None:
    """``r`` minus t1, t2 is ``d`` (t3, t4); ``d`` minus t3 holds t4. Then ``r`` minus t1 only
    makes ``d`` again, which gains t2: ``d`` minus t3 is worked out again and gains t2 too."""
    snap, policy = snapshot(), Policy()
    state = PlanState(snapshot=snap, policy=policy, names=NameRegistry(policy.naming, multi_database=False),
                      engine=None)  # type: ignore[arg-type]  # fmt: skip
    state.role("r", RoleKind.GROUP)
    for table in ("t1", "t2", "t3", "t4"):
        state.add(_grant(table, "r"), f"fact:{table}")
    denials = {f"deny:{t}": _denial(f"deny:{t}", t) for t in ("t1", "t2", "t3")}
    signatures = _Signatures(state)
    covering = Covering(denials, signatures)
    contested, cache = Contested(state, covering), deny_roles.Derived()

    def minus(role: str, *tables: str) -> str:
        sub = _Subtraction([denials[f"deny:{t}"] for t in tables], signatures, covering)
        made = deny_roles.derived_role(state, role, sub, cache, contested)
        assert made is not None
        assert made[0]
        return made[0]

    def tables(role: str) -> list[str]:
        return sorted(k.split(":")[2] for k in state.granted_keys(role))

    d = minus("r", "t1", "t2")
    assert tables(d) == ["dbo.t3", "dbo.t4"]
    d_t3 = minus(d, "t3")
    assert tables(d_t3) == ["dbo.t4"]
    assert minus("r", "t1") == d
    assert tables(d) == ["dbo.t2", "dbo.t3", "dbo.t4"]
    assert minus(d, "t3") == d_t3  # a new DENY set: its answer is not the one d had before
    assert tables(d_t3) == ["dbo.t2", "dbo.t4"]
