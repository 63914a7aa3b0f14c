"""What the engine's verdicts depend on, for a caller asking many questions of many principals.

The module analysis asks "may this principal use that object itself?" of every principal and
every module: principals × modules questions, nearly all answered "no GRANT implies it". Two
shortcuts give the same answers with fewer questions.

:func:`object_grants`, the objects a context could possibly use a permission on.
:meth:`mapper.effective.EffectivePermissions.explain` allows an object-level permission only
through one of (step numbers of :mod:`mapper.effective`'s docstring):

* sysadmin or dbo (2: never denied);
* an owner of the object or of one of its containers in the context (4);
* a GRANT held by the context of a (securable, permission) that implies it (6): the object
  itself with the permission or one implying it (CONTROL), or a container of it (its schema,
  the database, the server) with a permission implying it there.

So where the context is neither never-denied nor an owner in its database, and holds no GRANT
above the object level that implies the permission on objects, only the objects its
object-level GRANTs name can be allowed: every other object is refused, by the same engine,
without a question. A DENY only takes away, so the set is a superset of what is allowed, and
each object in it is still asked. Where the shortcut does not hold, the answer is ``None`` and
every question is asked.

:func:`verdict_key`, what two principals must share to be given the same verdict on every
question in a scope. Whether ``explain()`` allows depends on the context's rows, never on who
holds them: shut out or never denied (1, 2), the DENYs held by the context, by (securable,
permission), which also decide the DENY CONNECT gate (3, 5), what its principals own in the
scope (4), and the GRANTs they hold, by (securable, permission) (6). A user who holds nothing
itself and a role-mate with the same roles hold the same rows; the order of the token and the
holders' names only change the reasons and paths ``explain()`` gives.
"""

from __future__ import annotations

from collections.abc import Hashable

from mapper.context import SecurityContext
from mapper.permission_index import PermissionIndex
from mapper.permissions import CATALOG
from mapper.securables import Securable

#: The class every module link's object is asked about as (:func:`mapper.module_findings.allowed`).
OBJECT = "OBJECT"


def object_grants(
    context: SecurityContext, index: PermissionIndex, permission: str
) -> frozenset[Securable] | None:
    """The folded objects on which ``context`` holds a GRANT implying ``permission`` on the
    object itself; ``None`` when an object outside them could be allowed too (see above). A
    context shut out of its database is refused everything: the empty set."""
    if context.blocked:
        return frozenset()
    if context.bypass or context.owns or CATALOG.get(OBJECT, permission) is None:
        return None  # never denied, an owner, or a question explain() itself refuses
    implying = set(CATALOG.implied_by(OBJECT, permission))
    found: set[Securable] = set()
    for node, _ in context.token:
        for securable, row in index.held.get(node, ()):
            if securable.column is not None:
                continue  # a column GRANT never answers for the whole object
            if (securable.securable_class, row.permission) not in implying:
                continue
            if securable.securable_class != OBJECT:
                return None  # a schema, the database or the server: any object may be allowed
            found.add(securable)
    return frozenset(found)


def verdict_key(context: SecurityContext, index: PermissionIndex) -> Hashable:
    """Equal for two contexts only if :meth:`~mapper.effective.EffectivePermissions.explain`
    allows each the same (see above); the scope is part of it."""
    nodes = [node for node, _ in context.token]
    grants = frozenset().union(*map(index.held_keys, nodes))
    owned = frozenset().union(*map(index.owned_keys, nodes))
    return (
        context.scope, context.blocked is not None, context.bypass is not None,
        grants, frozenset(context.denies), owned,
    )  # fmt: skip
