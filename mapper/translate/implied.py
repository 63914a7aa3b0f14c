"""Least privilege: drop a grant a role already inherits, and dispose its facts ``implied``.

A role that is a member of another role holding the same privilege on the same securable needs
no grant of its own (PostgreSQL roles inherit by default). Runs after DENY restructuring, on the
final memberships.
"""

from __future__ import annotations

from mapper.plan import Disposition
from mapper.translate.dispositions import keys_of
from mapper.translate.grant_findings import restate_inherited
from mapper.translate.items import copy_with
from mapper.translate.state import PlanState


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
    inherited duplicate, so most grants cost one dictionary entry, and only a grantee that
    inherits another role can lose its grant. Within a group, such grantees go in sorted order
    and each takes the first ancestor (sorted) whose grant is not pruned yet; a grantee later
    in the order may prune that one too (its own ancestor holds it), so each covering grant is
    then followed to the one kept. A fact whose disposition still names keys DENY
    restructuring moved (a split role's grants) is retargeted from its current items.
    """
    edges: dict[str, set[str]] = {}
    for m in state.memberships():
        if m.inherit:
            edges.setdefault(m.member, set()).add(m.role)
    # stem → its grantee, or its grantees once a second one holds it: nearly every stem has
    # one, and needs no list of its own (a million grants at M)
    stems: dict[str, str | list[str]] = {}
    get = stems.get
    for grantee, granted in state.by_grantee.items():
        if grantee == "PUBLIC":
            continue
        cut = len(grantee)
        for stem in [key[: len(key) - cut] for key in granted]:
            holders = get(stem)
            if holders is None:
                stems[stem] = grantee
            elif isinstance(holders, str):
                stems[stem] = [holders, grantee]
            else:
                holders.append(grantee)
    # grantee → the roles it inherits, for the grantees inheriting any: only their grants can
    # be covered by another's (at scale most grantees inherit nothing, and cost nothing below)
    heirs: dict[str, set[str]] = {}
    for grantee in state.by_grantee:
        above = _ancestors(edges, grantee)
        if above:
            heirs[grantee] = above
    removed: dict[str, str] = {}
    for stem in sorted(s for s, holders in stems.items() if not isinstance(holders, str)):
        holders = stems[stem]
        covered = sorted(filter(heirs.__contains__, holders))  # in C: most holders inherit none
        if not covered:
            continue
        held = set(holders)
        for grantee in covered:
            for ancestor in sorted(heirs[grantee] & held):
                covering = stem + ancestor
                if covering not in removed:
                    removed[stem + grantee] = covering
                    break
    for key, covering in removed.items():  # a later grantee may prune the covering grant too
        while covering in removed:  # (its own ancestor holds it): point at the one kept
            covering = removed[covering]
        removed[key] = covering
    lost: dict[str, list[str]] = {}  # fact → its items removed here (their current keys)
    for key in removed:
        for fact in state.facts_in(key):
            lost.setdefault(fact, []).append(key)
        state.remove(key)
    _retarget(state, removed, lost)


def _retarget(state: PlanState, removed: dict[str, str], lost: dict[str, list[str]]) -> None:
    if not removed:
        return
    pruned = removed.__contains__
    moved = _moved(state, removed, lost)
    gone = removed.keys()
    touched = [
        (fact, disposition) for fact, disposition in state.dispositions.items()
        if fact in moved or not gone.isdisjoint(disposition.items)  # in C: most lost nothing
    ]  # fmt: skip
    for fact, disposition in touched:
        own = moved.get(fact)
        if own is None:  # the disposition names the fact's current items
            own = {k for k in disposition.items if k not in removed}
            lost_keys = set(filter(pruned, disposition.items))
        else:
            lost_keys = {*lost[fact], *filter(pruned, disposition.items)}
        covering = sorted({removed[k] for k in lost_keys})
        items = tuple(sorted(own.union(covering)))
        update: dict[str, object] = {"items": items}
        if disposition.disposition == Disposition.MAPPED and all(
            k.startswith("grant:SCHEMA") for k in own
        ):
            update |= {"disposition": Disposition.IMPLIED,
                       "reason": "inherited through role membership: " + ", ".join(covering)}  # fmt: skip
            restate_inherited(state, disposition.findings, covering)
        state.dispositions[fact] = copy_with(disposition, **update)


def _moved(
    state: PlanState, removed: dict[str, str], lost: dict[str, list[str]]
) -> dict[str, set[str]]:
    """The current items of the facts that lost items here but whose dispositions name items
    DENY restructuring has since moved (a split role's grants go to ``<role>_common`` or
    ``_part_`` roles, under new keys): looked up in :attr:`PlanState.item_facts` for those
    facts only, and only when there are any (one pass over the items, not one per fact)."""
    items, dispositions = state.items, state.dispositions
    stale = {
        fact for fact in lost
        if fact in dispositions
        and any(k not in items and k not in removed and k.startswith(("grant:", "default:"))
                for k in dispositions[fact].items)
    }  # fmt: skip
    if not stale:
        return {}
    current = {fact: set[str]() for fact in stale} | keys_of(state, stale)
    for fact, keys in current.items():  # what else of the disposition still exists (roles, …)
        keys.update(k for k in dispositions[fact].items if k in items)
    return current
