"""Least privilege: drop a grant a role already inherits, and dispose its facts ``implied``.

A role that is a member of another role holding the same privilege on the same securable needs
no grant of its own (PostgreSQL roles inherit by default). Runs after DENY restructuring, on the
final memberships.
"""

from __future__ import annotations

from mapper.plan import Disposition
from mapper.translate.grant_findings import restate_inherited
from mapper.translate.state import PlanState, copy_with


def _ancestors(edges: dict[str, set[str]], role: str) -> set[str]:
    seen: set[str] = set()
    todo = list(edges.get(role, ()))
    while todo:
        current = todo.pop()
        if current not in seen:
            seen.add(current)
            todo.extend(edges.get(current, ()))
    return seen


def prune_implied(state: PlanState) -> None:
    """Remove inherited duplicates; facts left with only those become ``implied``.

    Grants and default privileges are grouped by what they grant (their key without the
    grantee: both keys end in ":<grantee>"); only a group with several grantees can hold an
    inherited duplicate, so most grants cost one dictionary entry. Within a group, grantees go
    in sorted order and each takes the first ancestor (sorted) whose grant is not itself pruned.
    """
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
    ancestors: dict[str, set[str]] = {}  # per grantee: computed once, not once per grant
    for stem in sorted(s for s, holders in stems.items() if len(holders) > 1):
        holders = stems[stem]
        held = set(holders)
        for grantee in sorted(holders):
            above = ancestors.get(grantee)
            if above is None:
                above = ancestors[grantee] = _ancestors(edges, grantee)
            for ancestor in sorted(above & held):
                covering = stem + ancestor
                if covering not in removed:
                    removed[stem + grantee] = covering
                    break
    for key in removed:
        state.remove(key)
    _retarget(state, removed)


def _retarget(state: PlanState, removed: dict[str, str]) -> None:
    if not removed:
        return
    pruned = removed.__contains__
    for fact, disposition in list(state.dispositions.items()):
        if not any(map(pruned, disposition.items)):  # in C: most dispositions lost nothing
            continue
        items = tuple(sorted({removed.get(k, k) for k in disposition.items}))
        update: dict[str, object] = {"items": items}
        if disposition.disposition == Disposition.MAPPED and all(
            k in removed or k.startswith("grant:SCHEMA") for k in disposition.items
        ):
            covering = sorted({removed[k] for k in disposition.items if k in removed})
            update |= {"disposition": Disposition.IMPLIED,
                       "reason": "inherited through role membership: " + ", ".join(covering)}  # fmt: skip
            restate_inherited(state, disposition.findings, covering)
        state.dispositions[fact] = copy_with(disposition, **update)
