"""Everything a principal may do in one scope: :meth:`EffectivePermissions.effective`'s set.

:meth:`~mapper.effective.EffectivePermissions.explain` answers one question; the set answers
all of them at once over the securables the snapshot knows, and must agree with it on each.
Rather than ask every (securable, permission) of the scope, it starts from what the context
holds — every pair a GRANT implies below the securable it is on, everything below what its
principals own — and keeps the pairs no DENY takes away (``survives``: the engine's lean form
of explain()). Column entries appear only where the table-level permission is not effective.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from mapper.context import SecurityContext
from mapper.graph import SERVER_SCOPE
from mapper.permission_index import PermissionIndex
from mapper.permissions import CATALOG
from mapper.securables import Securable, SecurableTree

Pairs = set[tuple[Securable, str]]
#: whether a (securable, permission) that a GRANT or ownership reaches is not denied
Survives = Callable[[SecurityContext, Securable, str], bool]


def effective_set(
    context: SecurityContext, index: PermissionIndex, tree: SecurableTree, survives: Survives
) -> frozenset[tuple[Securable, str]]:
    """What the context may do on the securables of ``tree`` (its scope's), names folded.

    The context is one that enters its scope (not :attr:`SecurityContext.blocked`).
    """
    if context.bypass:
        candidates = set(everything(tree, Securable("SERVER")))
    else:
        candidates = granted(context, index, tree)
    if context.scope != SERVER_SCOPE:  # SERVER is only the root of a database's tree
        candidates = {pair for pair in candidates if pair[0].securable_class != "SERVER"}
    if context.bypass:
        return frozenset(candidates)
    if context.scope != SERVER_SCOPE and context.connect_deny is not None:
        return frozenset()  # a DENY covering CONNECT shuts it out of the database (step 3)
    allowed = {pair for pair in candidates if survives(context, *pair)}
    return frozenset(refine_columns(context, index, tree, allowed, survives))


def everything(tree: SecurableTree, root: Securable) -> Iterator[tuple[Securable, str]]:
    """Every permission on every securable below ``root`` (columns aside): an owner's share."""
    for cls, members in tree.below(root).items():
        if cls == "COLUMN":
            continue
        perms = CATALOG.permissions_of(cls)
        yield from ((member, perm) for member in members for perm in perms)


def granted(context: SecurityContext, index: PermissionIndex, tree: SecurableTree) -> Pairs:
    """Every (securable, permission) some grant or ownership in the context reaches."""
    found: Pairs = set()
    for node, _ in context.token:
        for securable, row in index.held.get(node, ()):
            if securable.column is not None:
                found.add((securable, row.permission))
                continue
            below = tree.below(securable)
            for cls, perm in CATALOG.implies(securable.securable_class, row.permission):
                found.update((member, perm) for member in below.get(cls, ()))
    for node, _ in context.token:
        for securable in index.owned_by.get(node, ()):
            found.update(everything(tree, securable))
    return found


def refine_columns(
    context: SecurityContext, index: PermissionIndex, tree: SecurableTree, allowed: Pairs,
    survives: Survives,
) -> Pairs:  # fmt: skip
    """Column entries only where the table-level permission is not effective: a column GRANT
    under a table that is not, or, when some columns of a table are denied, the allowed
    columns instead of the table (failing closed: unknown columns are left out)."""
    result = {pair for pair in allowed if pair[0].column is None}
    for securable, permission in allowed - result:
        table = Securable(securable.securable_class, securable.schema_name, securable.name)
        if (table, permission) not in result:
            result.add((securable, permission))
    for table, permission in sorted(
        (p for p in result if (context.scope, p[0], p[1]) in index.column_denied_tables),
        key=lambda p: (p[0].sort_key(), p[1]),
    ):
        columns = [(c, permission) for c in tree.columns_of.get(table, ())]
        kept = [pair for pair in columns if survives(context, *pair)]
        if len(kept) < len(columns) or not columns:
            result.discard((table, permission))
            result.update(kept)
    return result
