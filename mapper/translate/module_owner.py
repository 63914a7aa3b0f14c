"""What an ``EXECUTE AS OWNER`` routine uses of its owner's own permissions (GB311).

In SQL Server such a routine runs as its owner, with the owner's own grants on objects another
principal owns; in PostgreSQL it is SECURITY DEFINER owned by the owner role, which owns what
the owner owned but holds none of its grants. Each such permission the routine uses is granted
to the owner role, unless a role other than the database's owner role (or the owner's own)
inherits the owner role and would get it too: then GB311 is high and names the GRANT to review.
Split out of :mod:`mapper.translate.module_security` for length.
"""

from __future__ import annotations

from functools import cached_property

from mapper.module_findings import ChainLink, allowed
from mapper.modules import RULES as MODULE_RULES
from mapper.plan import PgGrant, PgObject, Severity
from mapper.review_rules import make_finding
from mapper.translate.grants import GRANT_TYPES
from mapper.translate.module_actions import PlannedModule, privilege
from mapper.translate.objects import owner_role, pg_object
from mapper.translate.owner_members import roles_above
from mapper.translate.state import PlanState
from mssql_extract.snapshot import fold


class Holders:
    """Role → the roles that are inheriting members of it, read from the plan's memberships
    on first use (ownership's are in place by now; module planning adds none)."""

    def __init__(self, state: PlanState) -> None:
        self._state = state

    @cached_property
    def members(self) -> dict[str, list[str]]:
        found: dict[str, list[str]] = {}
        for membership in self._state.memberships():
            if membership.inherit:
                found.setdefault(membership.role, []).append(membership.member)
        return found


def owner_permissions(state: PlanState, module: PlannedModule, holders: Holders) -> None:
    """The owner's own permissions an EXECUTE AS OWNER routine uses, for its owner role."""
    owner, role = module.chain.owner, module.target.owner if module.target else None
    if owner is None or role is None:
        return
    held = roles_above(state, role) | {role}
    seen: set[tuple[str, str]] = set()
    for link in module.chain.broken:
        source = state.find_object(module.db, link.schema_name, link.name)
        target = pg_object(state, module.db, source) if source else None
        if source is None or target is None or target.owner in held:
            continue  # the owner role holds it as an owner already
        if (fold(link.qualified), link.access) in seen:
            continue
        seen.add((fold(link.qualified), link.access))
        if allowed(state.engine, module.db, owner, source, link.access):
            _owner_permission(state, module, link, target, (owner, role), holders)


def _owner_permission(
    state: PlanState,
    module: PlannedModule,
    link: ChainLink,
    target: PgObject,
    owners: tuple[str, str],
    holders: Holders,
) -> None:
    """Grant the owner role one permission of the owner's (``owners``: the owner and its owner
    role), or say why not (GB311)."""
    owner, role = owners
    granted = privilege(link.access, target)
    on = f"{GRANT_TYPES[target.kind]} {target.schema_name}.{target.name}"
    spec = make_finding(
        MODULE_RULES["GB311"],
        f"{module.name} runs as {owner} (EXECUTE AS OWNER) and uses {link.access} on "
        f"{link.qualified}, owned by {link.owner}, through {owner}'s own permission",
        principal=owner, securable=f"{module.name}->{link.qualified}:{link.access}",
        source_ref=str(module.obj.source_ref),
    )  # fmt: skip
    others = _others_holding(state, module, role, owner, holders)
    if others:
        action = (
            f"Not granted: {', '.join(others)} hold{'s' if len(others) == 1 else ''} {role} and "
            f"would get it too. Callers of {module.name} lose {link.access} on {link.qualified} "
            f"through it; after review: GRANT {granted} ON {on} TO {role}."
        )
        state.finding(spec.to_finding(action))
        return
    grant = PgGrant(
        database=target.database, object_type=GRANT_TYPES[target.kind],
        schema_name=target.schema_name, name=target.name, signature=target.signature,
        privilege=granted, grantee=role,
        comment=f"EXECUTE AS OWNER: {owner}'s own permission, used by {module.name}",
    )  # fmt: skip
    state.add(grant, module.fact)
    action = (
        f"GRANT {granted} ON {on} TO {role}: {module.name} runs as {role} (SECURITY DEFINER), "
        f"which owns what {owner} owns but holds none of {owner}'s own permissions; no role "
        f"holds {role} but the database's owner role (or {owner}'s own)."
    )
    state.finding(spec.model_copy(update={"severity": Severity.INFO}).to_finding(action))


def _others_holding(
    state: PlanState, module: PlannedModule, role: str, owner: str, holders: Holders
) -> list[str]:
    """Roles that inherit ``role`` other than the database's owner role and the owner's own
    role (nor those reached through them: they hold at least as much already)."""
    entitled = {owner_role(state, module.db, "dbo"), state.role_of(module.db.name, owner)}
    members = holders.members
    found: set[str] = set()
    todo = [role]
    while todo:
        for member in members.get(todo.pop(), ()):
            if member not in found and member not in entitled:
                found.add(member)
                todo.append(member)
    return sorted(found)
