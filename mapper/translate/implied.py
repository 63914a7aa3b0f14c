"""Least privilege: drop a grant a role already inherits, and dispose its facts ``implied``.

A role that is a member of another role holding the same privilege on the same securable needs
no grant of its own (PostgreSQL roles inherit by default). Runs after DENY restructuring, on the
final memberships.
"""

from __future__ import annotations

from mapper.plan import Disposition, PgDefaultPrivilege, PgGrant, PgMembership
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
    """Remove inherited duplicates; facts left with only those become ``implied``."""
    edges: dict[str, set[str]] = {}
    for m in state.of_type(PgMembership):
        if m.inherit:
            edges.setdefault(m.member, set()).add(m.role)
    removed: dict[str, str] = {}
    ancestors: dict[str, list[str]] = {}  # per grantee: computed once, not once per grant
    for key in sorted(state.items):
        item = state.items[key]
        if not isinstance(item, PgGrant | PgDefaultPrivilege) or item.grantee == "PUBLIC":
            continue
        above = ancestors.get(item.grantee)
        if above is None:  # only ancestors holding grants can cover one (many hold only roles)
            above = ancestors[item.grantee] = sorted(
                a for a in _ancestors(edges, item.grantee) if state.by_grantee.get(a)
            )
        # both keys end in ":<grantee>": the ancestor's key is this key with its grantee swapped
        stem = key[: len(key) - len(item.grantee)]
        for ancestor in above:
            covering = stem + ancestor
            if covering in state.items and covering not in removed:
                removed[key] = covering
                break
    for key in removed:
        state.remove(key)
    _retarget(state, removed)


def _retarget(state: PlanState, removed: dict[str, str]) -> None:
    for fact, disposition in list(state.dispositions.items()):
        if not any(k in removed for k in disposition.items):
            continue
        items = tuple(sorted({removed.get(k, k) for k in disposition.items}))
        update: dict[str, object] = {"items": items}
        if disposition.disposition == Disposition.MAPPED and all(
            k in removed or k.startswith("grant:SCHEMA") for k in disposition.items
        ):
            update |= {"disposition": Disposition.IMPLIED,
                       "reason": "inherited through role membership: " + ", ".join(
                           sorted({removed[k] for k in disposition.items if k in removed}))}  # fmt: skip
        state.dispositions[fact] = disposition.model_copy(update=update)
