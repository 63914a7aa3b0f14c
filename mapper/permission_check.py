"""The steps of the permission check, over one security context and the permission index.

A question — may this context exercise a permission on a securable? — is checked against
*candidates*: every (securable, permission) whose GRANT would imply it, nearest first (the
securable itself, then its containers with the permissions covering it there), or whose DENY
would deny it (the same but for grant-only implications: ``_GRANT_ONLY_PARENTS`` in
:mod:`mapper.permissions`). This module finds what the context holds of them: the owned level
that no DENY overrides (step 4 of :mod:`mapper.effective`'s docstring), the deciding DENY
(step 5, with its column-level exception) and the GRANTs (step 6).
:class:`~mapper.effective.EffectivePermissions` applies the steps in order and memoizes the
candidates; :mod:`mapper.decision` spells out the answer.
"""

from __future__ import annotations

from collections.abc import Iterator

from grantbridge.errors import MappingError
from mapper.context import SecurityContext
from mapper.decision import Hit
from mapper.graph import SERVER_SCOPE, Node
from mapper.permission_index import Key
from mapper.permissions import CATALOG, COLUMN_PERMISSIONS
from mapper.securables import Securable
from mssql_extract.snapshot import Permission

Candidates = tuple[tuple[Securable, str], ...]


def checked(securable: Securable, permission: str) -> Securable:
    """The folded securable, once the permission is known to exist on it (else MappingError)."""
    folded = securable.folded()
    if folded.column is None:
        CATALOG.require(folded.securable_class, permission)
    elif permission not in COLUMN_PERMISSIONS:
        raise MappingError(f"{permission!r} cannot be granted on a column ({securable})")
    return folded


def implying(securable: Securable, permission: str, grant: bool = True) -> Candidates:
    """Every (securable, permission) whose GRANT would imply the question, nearest first;
    ``grant=False``: whose DENY would deny it (CONNECT ANY DATABASE implies CONNECT on a
    database, its DENY does not deny it: ``_GRANT_ONLY_PARENTS`` in mapper.permissions)."""
    found: list[tuple[Securable, str]] = []
    if securable.column is not None:
        found.append((securable, permission))
        securable = Securable(securable.securable_class, securable.schema_name, securable.name)
    by_class = {s.securable_class: s for s in securable.ancestors()}
    for cls, perm in CATALOG.implied_by(securable.securable_class, permission, grant=grant):
        if cls in by_class:
            found.append((by_class[cls], perm))
    return tuple(found)


def hits(
    index: dict[Key, dict[Node, Permission]], context: SecurityContext, candidates: Candidates
) -> Iterator[Hit]:
    """Rows of ``index`` held by the context, in candidate order then context order."""
    for securable, permission in candidates:
        scope = SERVER_SCOPE if securable.is_server_level else context.scope
        holders = index.get((scope, securable, permission))
        if not holders:
            continue
        if len(holders) > len(context.rank):
            nodes = [node for node, _ in context.token if node in holders]
        else:
            nodes = sorted((n for n in holders if n in context.rank), key=context.rank.__getitem__)
        for node in nodes:
            yield securable, permission, node, holders[node]


def owner(
    context: SecurityContext, owners: dict[tuple[str, Securable], Node], securable: Securable,
    levels: tuple[Securable, ...] | None = None,
) -> tuple[Securable, Node] | None:  # fmt: skip
    """The nearest owned level (the securable or a container) and its owner in the context.

    An object without an individual owner has no entry in ``owners``, so its schema's owner
    answers; an object with one is owned by both (the schema owner's CONTROL covers its
    contents). ``levels``: the securable's ancestors, when the caller has them.
    """
    if not context.owns:
        return None
    for level in securable.ancestors() if levels is None else levels:
        found = owners.get((context.scope, level))
        if found is not None and found in context.rank:
            return level, found
    return None


def effective_deny(
    context: SecurityContext, grants: dict[Key, dict[Node, Permission]], securable: Securable,
    candidates: Candidates, *, column_grant_wins: bool = True,
) -> tuple[Hit | None, bool]:  # fmt: skip
    """The deciding DENY of the (DENY) candidates, if any, and whether a column GRANT overrode
    a table DENY ("A table-level DENY does not take precedence over a column-level GRANT"),
    which it does unless ``column_grant_wins`` is false: with the *common criteria compliance
    enabled* option on, "a table-level DENY takes precedence over a column-level GRANT"
    (``Server.common_criteria``)."""
    if not context.denies:
        return None, False  # nobody in this context was ever denied anything
    table = None
    if (
        column_grant_wins
        and securable.column is not None
        and any(hits(grants, context, candidates[:1]))
    ):
        table = Securable(securable.securable_class, securable.schema_name, securable.name)
    overridden = False
    for hit in deny_hits(context, candidates):
        if hit[0] == table:
            overridden = True  # a column-level GRANT beats a table-level DENY (step 5)
            continue
        return hit, overridden
    return None, overridden


def deny_hits(context: SecurityContext, candidates: Candidates) -> Iterator[Hit]:
    """The context's DENYs on the candidates, in candidate order."""
    for candidate in candidates:
        held = context.denies.get(candidate)
        if held is not None:
            yield candidate[0], candidate[1], held[0], held[1]
