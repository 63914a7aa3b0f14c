"""The engine's answers: a :class:`Decision`, and how its reasons and paths are spelled.

:class:`~mapper.effective.EffectivePermissions` decides (the algorithm is in the docstring of
:mod:`mapper.effective`, whose step numbers the reasons here follow); this module spells out
what decided it: the chain of principals from the one asked about to the holder of the
deciding row (``user alice``, ``database role sales_readers``), and that row as the statement
that made it, with its source reference.
"""

from __future__ import annotations

from dataclasses import dataclass

from mapper.context import SecurityContext
from mapper.graph import Node, PrincipalGraph
from mapper.permission_index import state_text
from mapper.securables import Securable
from mssql_extract.snapshot import Permission, PermissionState

#: a row held by a security context: (securable, permission, its holder, the row)
Hit = tuple[Securable, str, Node, Permission]

DATABASE = Securable("DATABASE")


@dataclass(frozen=True)
class Decision:
    """The answer to "may this principal do that": allowed or not, why, and through what."""

    allowed: bool
    reason: str
    path: tuple[str, ...] = ()
    grant: Permission | None = None
    deny: Permission | None = None
    owned: Securable | None = None  # the owned level (securable or container) that allowed it


def statement(permission: Permission, securable: Securable) -> str:
    """A permission row as the statement that made it, with its source reference."""
    option = (
        " WITH GRANT OPTION" if permission.state == PermissionState.GRANT_WITH_GRANT_OPTION else ""
    )
    return (
        f"{state_text(permission)} {permission.permission} ON {securable} TO "
        f"{permission.grantee}{option} [{permission.source_ref}]"
    )


def shut_out(gate: Hit) -> str:
    """The reason a DENY refusing CONNECT on the database gives (step 3)."""
    securable, permission = gate[0], gate[1]
    if (securable, permission) == (DATABASE, "CONNECT"):
        return "DENY CONNECT on the database shuts it out"
    return f"DENY {permission} on {securable} covers CONNECT on the database and shuts it out"


def label(graph: PrincipalGraph, node: Node) -> str:
    """A principal as a path names it: its kind, then its name (``database role sales``)."""
    kind = graph.kind(node)
    return f"{kind.value.replace('_', ' ')} {graph.display(node)}"


def chain(graph: PrincipalGraph, context: SecurityContext, node: Node) -> tuple[str, ...]:
    """The principals from the context's start to ``node``, one of its token, labelled."""
    return tuple(label(graph, n) for n in context.token[context.rank[node]][1])


def denied(graph: PrincipalGraph, context: SecurityContext, hit: Hit, reason: str) -> Decision:
    """The refusal a held DENY gives, its path ending in the DENY statement."""
    target, _, node, row = hit
    return Decision(False, reason, (*chain(graph, context, node), statement(row, target)), deny=row)
