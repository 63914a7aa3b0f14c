"""``deny_kept``'s shortcuts give the answers of the plain computations they replace (issue 7).

- :meth:`Kept.note` reads each role above a reached member once, into its grants by signature
  (``_by_signature``), and looks up what the member owns: checked against the plain scan of
  every grant of every role above it, once per member, as it noted them before.
- :meth:`Kept.keep` works each noted role's inheritance out from its direct roles'
  (``_inheritance``), and asks whether a role holds a grant of a lookup of the stems' holders
  (``_holders``), kept up to date as copies are added: checked against ``roles_above`` and
  against :meth:`Kept._holds` (the plan's items, asked per role) on every question.

The estates: the benchmark's generator, at a size where roles owning schemas have members
DENYs reach, and a group whose member holds what is kept for the group (the lookup, updated as
copies are added, must see it). Contoso notes nothing (its goldens check the plan there).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Any, ClassVar

import pytest

from bench.generate import generate_snapshot
from bench.scales import Scale
from mapper.plan import MigrationPlan
from mapper.planner import plan
from mapper.policy import Policy
from mapper.translate import deny
from mapper.translate.deny_kept import Kept, Reached, _inheritance
from mapper.translate.items import Granted
from mapper.translate.owner_members import roles_above
from mapper.translate.state import PlanState
from mssql_extract.snapshot import SecuritySnapshot
from mssql_extract.tsql import parse_text
from tests.mapper.estate import reach
from tests.mapper.test_deny_owner_inherits import BASE

#: Roles owning schemas whose members DENYs reach: 7 roles note 461 grants, 88 copies kept
ESTATE = Scale("kept", databases=1, principals=141, permission_rows=5_000)
Noted = list[tuple[Granted, tuple[str, ...], set[str]]]


def _plain_note(
    state: PlanState, kept: Kept, role: str, above: Iterable[str], taken: Any,
    signatures: Mapping[str, str],
) -> Noted:  # fmt: skip
    """What the role's note was before: every grant of every role above it, scanned."""
    owners, noted = kept._owners, []
    owned = owners.owned_signatures(role)
    if not owned:
        return []
    for parent in sorted(set(above) - {role}):
        for key, item in state.granted_to(parent):
            if signatures[key] in owned and taken(key):
                held = owners.owner_roles(role, signatures[key])
                noted.append((item, state.facts_of(key), held))
    return noted


class _CheckedKept(Kept):
    """Notes and keeps as Kept does, and fails where the plain computation answers otherwise."""

    seen: ClassVar[Counter[str]] = Counter()

    def note(self, reached: Iterable[Reached], signatures: Mapping[str, str]) -> None:
        reached = list(reached)
        super().note(reached, signatures)
        for role, above, taken in reached:
            plain = _plain_note(self._state, self, role, above, taken, signatures)
            assert self._noted.get(role, []) == plain, role
            self.seen["noted roles" if plain else "roles noting nothing"] += 1

    def keep(self) -> None:
        state = self._state
        for role, above in _inheritance(state, self._noted).items():
            assert above == roles_above(state, role) | {role}, role
        before = len(state.items)
        super().keep()
        self.seen["kept copies"] += len(state.items) - before

    def _held(
        self, held: set[str], item: Granted, stems: list[str], holders: dict[str, set[str]] | None
    ) -> bool:
        answer = super()._held(held, item, stems, holders)
        assert answer == self._holds(held, item), (item.key, sorted(held))
        way = "looked up" if holders is not None else "asked of the items"
        self.seen[f"held {answer}{' (a column grant)' if len(stems) > 1 else ''}"] += 1
        self.seen[way] += 1
        return answer


def _checked_plan(snap: SecuritySnapshot, monkeypatch: pytest.MonkeyPatch) -> MigrationPlan:
    monkeypatch.setattr(_CheckedKept, "seen", Counter())
    monkeypatch.setattr(deny, "Kept", _CheckedKept)
    return plan(snap, Policy())


def test_note_and_keep_answer_as_the_plain_scans_on_a_generated_estate(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _checked_plan(generate_snapshot(ESTATE), monkeypatch)
    seen = _CheckedKept.seen
    assert min(seen["noted roles"], seen["roles noting nothing"]) > 0, seen
    assert min(seen["held True"], seen["held False"], seen["kept copies"]) > 0, seen
    assert seen["held True (a column grant)"] > 0, seen
    assert not seen["asked of the items"], seen


@pytest.mark.parametrize("group", ["gbh1_g", "gbh1:g"])
def test_a_member_holds_the_grant_kept_for_its_group(
    group: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Group ``g`` (in the owning role and in r2, which is granted REFERENCES on s) is denied
    REFERENCES, so it leaves r2 and the owning role, and it keeps REFERENCES on s.t; its member
    ``w``, reached through it, holds that through ``g``: no copy of its own, as the lookup must
    know once ``g``'s copy is added. A name with a colon is asked of the plan's items instead."""
    extra = (
        "CREATE LOGIN [gbh1_w] WITH PASSWORD = N'x'", "CREATE USER [gbh1_w] FOR LOGIN [gbh1_w]",
        f"CREATE ROLE [{group}]", f"ALTER ROLE [gbh1_owners] ADD MEMBER [{group}]",
        f"ALTER ROLE [gbh1_r2] ADD MEMBER [{group}]", f"ALTER ROLE [{group}] ADD MEMBER [gbh1_w]",
        "GRANT REFERENCES ON SCHEMA::[s] TO [gbh1_r2]",
        "GRANT REFERENCES ON SCHEMA::[x] TO [gbh1_r2]",
        "GRANT REFERENCES ON SCHEMA::[x] TO [gbh1_owners]",
        f"DENY REFERENCES TO [{group}]",
    )  # fmt: skip
    snap = parse_text(BASE + "".join(f"{s}\nGO\n" for s in extra), "owner_inherits.sql")
    migration = _checked_plan(snap, monkeypatch)
    seen = _CheckedKept.seen
    # g and w each note r2's grant on s.t and its default privilege in s; w holds both
    assert seen["noted roles"] == 2, seen
    assert (seen["held False"], seen["held True"], seen["kept copies"]) == (2, 2, 2), seen
    assert seen["asked of the items" if ":" in group else "looked up"] == 4, seen
    references = {
        g.grantee for g in migration.grants if g.key.startswith("grant:TABLE sales:s.t:REFERENCES:")
    }
    assert references == {group, "gbh1_r2"}
    assert group in reach(migration, "gbh1_w")
