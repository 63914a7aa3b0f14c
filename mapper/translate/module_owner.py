"""What an ``EXECUTE AS OWNER`` routine uses of its owner's own permissions (GB311).

In SQL Server such a routine runs as its owner, with the owner's own grants on objects another
principal owns; in PostgreSQL it is SECURITY DEFINER owned by the owner role, which owns what
the owner owned but holds none of its grants. Each such permission the routine uses is granted
to the owner role, unless a role other than the database's owner role (or the owner's own)
inherits the owner role and would get it too: then GB311 is high and names the GRANT to review
(with USAGE on its schema where the plan gives the owner role none: ``usage_advice``).
Split out of :mod:`mapper.translate.module_security` for length.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from functools import cached_property

from mapper.module_findings import allowed, default_schema, owner_of, resolve_through
from mapper.module_reach import Node
from mapper.modules import RULES as MODULE_RULES
from mapper.plan import PgGrant, PgObject, Severity
from mapper.review_rules import FindingSpec, make_finding
from mapper.translate.advice_sql import grant_sql, in_database
from mapper.translate.grants import GRANT_TYPES
from mapper.translate.module_actions import PlannedModule, privilege
from mapper.translate.module_routes import Routes
from mapper.translate.objects import owner_role, pg_object
from mapper.translate.owner_members import roles_above
from mapper.translate.state import PlanState
from mapper.translate.usage_advice import advise
from mssql_extract.snapshot import DbObject, fold


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


@dataclass(frozen=True)
class Use:
    """An object the owner role is checked on inside an EXECUTE AS OWNER routine: ``module``
    (the routine or a module it reaches) uses ``access`` on ``target``; ``checked``: SQL Server
    checked the owner there too (a broken link, or dynamic SQL, which never chains); ``synonym``:
    the synonym it was reached through, whose own link to ``target`` decides ``checked``."""

    module: str
    target: DbObject
    access: str
    checked: bool
    synonym: DbObject | None = None


def owner_permissions(routes: Routes, module: PlannedModule, holders: Holders) -> None:
    """The owner's own permissions an EXECUTE AS OWNER routine uses, for its owner role: in the
    routine and in every module it reaches that runs as the current user (its owner role), at
    any depth; what it reaches that cannot be known is said (GB311)."""
    state = routes.state
    owner, role = module.chain.owner, module.target.owner if module.target else None
    if owner is None or role is None:
        return
    held = roles_above(state, role) | {role}
    seen: set[tuple[str, str]] = set()
    for item in _reach(routes, module):
        if isinstance(item, tuple):
            if fold(owner) != "dbo":  # dbo's owner role holds every object of its database
                _unknown(state, module, item, role)
            continue
        target = pg_object(state, module.db, item.target)
        if target is None or target.owner in held:
            continue  # the owner role holds it as an owner already
        if (item.target.key, item.access) in seen:
            continue
        seen.add((item.target.key, item.access))
        if not item.checked:
            _chained(state, module, item, target, role)
        elif allowed(state.engine, module.db, owner, item.target, item.access):
            _owner_permission(state, module, item, target, (owner, role), holders)


def _reach(routes: Routes, module: PlannedModule) -> Iterator[Use | tuple[str, str]]:
    """What the owner role is checked on inside the routine, and (module, why) where that is
    not known, following the links SQL Server follows in the owner's context into the modules
    that run as the current user in PostgreSQL (:class:`~mapper.translate.module_routes.Routes`);
    not into another EXECUTE AS module, which switches context again in SQL Server."""
    start = module.obj.key
    todo, seen = [start], {start}
    owner, engine = module.chain.owner or "", routes.state.engine

    def can(obj: DbObject, permission: str) -> bool:
        return allowed(engine, routes.db, owner, obj, permission)

    while todo:
        key = todo.pop(0)
        node, planned = routes.graph.get(key), routes.modules.get(key)
        if node is None or planned is None:
            continue
        if planned.chain.unknown and node.module.definition:  # no body: GB309 says so
            yield node.qualified, planned.chain.unknown
        yield from _dynamic(routes, node, owner)
        for link in node.links:
            if not link.passes(can):
                continue  # SQL Server refused the owner there: the routine never used it
            if key == start or routes.checks_user(key, link):
                yield Use(module=node.qualified, target=link.target, access=link.access,
                          checked=not link.chains, synonym=link.synonym)  # fmt: skip
            nested = routes.graph.get(link.key)
            if nested is None or nested.switches or link.key in seen:
                continue
            if routes.runs_as_user(link.key):
                seen.add(link.key)
                todo.append(link.key)


def _dynamic(routes: Routes, node: Node, owner: str) -> Iterator[Use | tuple[str, str]]:
    """What a module's dynamic SQL touches, checked against the owner (it never chains). It
    runs as the owner, so a name alone is looked up in the owner's default schema, then dbo
    (:func:`~mapper.module_names.lookup`), where the snapshot tells that schema."""
    schema = default_schema(routes.db, owner)
    for dynamic in node.analysis.dynamic_sql:
        if dynamic.reads is None:
            yield node.qualified, f"its dynamic SQL at line {dynamic.line} is built at run time"
            continue
        for ref in dynamic.reads:
            target, _, why = resolve_through(
                routes.db, node.module, ref, dynamic=True,
                default_schemas=[schema] if schema else None,
            )  # fmt: skip
            if target is not None:  # a synonym's base object: checked against the owner too
                yield Use(module=node.qualified, target=target, access=ref.access, checked=True)
            elif why is not None:
                yield node.qualified, f"its dynamic SQL at line {dynamic.line} references {why}"


def _spec(module: PlannedModule, owner: str, securable: str, evidence: str) -> FindingSpec:
    return make_finding(
        MODULE_RULES["GB311"], f"{module.name} runs as {owner} (EXECUTE AS OWNER) and {evidence}",
        principal=owner, securable=f"{module.name}->{securable}",
        source_ref=str(module.obj.source_ref),
    )  # fmt: skip


def _where(module: PlannedModule, item: Use) -> str:
    return "," if item.module == module.name else f" in {item.module}, which it reaches,"


def _unknown(state: PlanState, module: PlannedModule, item: tuple[str, str], role: str) -> None:
    """GB311 where what the routine reaches cannot be known: said, not guessed."""
    where, why = item
    owner = module.chain.owner or "its owner"
    place = "it" if where == module.name else f"{where}, which it reaches and runs as {role},"
    spec = _spec(module, owner, f"{where}:unknown", f"what {place} touches is not known: {why}")
    action = (
        f"Not determinable: inside {module.name} (SECURITY DEFINER) {role} owns what {owner} "
        f"owns but holds none of {owner}'s own permissions, so whatever {where} used of "
        f"{owner}'s own permissions there fails in PostgreSQL; review it and grant {role} "
        "exactly that."
    )
    state.finding(spec.to_finding(action))


def _chained(
    state: PlanState, module: PlannedModule, item: Use, target: PgObject, role: str
) -> None:
    """GB311 for an object a reached module uses through its own owner's chain: SQL Server
    checked nobody there; in PostgreSQL that module runs as the owner role, which lacks it."""
    owner = module.chain.owner or "its owner"
    granted = privilege(item.access, target)
    chain = f"the ownership chain of {item.module}"
    if item.synonym is not None:  # another owner's synonym, of the base object's owner
        synonym = f"{item.synonym.schema_name}.{item.synonym.name}"
        chain = f"synonym {synonym}, owned by {owner_of(module.db, item.synonym)} as it is"
    evidence = (
        f"uses {item.access} on {item.target.schema_name}.{item.target.name}{_where(module, item)} "
        f"through {chain} (SQL Server checked nobody there)"
    )
    spec = _spec(module, owner, f"{target.schema_name}.{target.name}:{item.access}", evidence)
    runs = (
        f"{module.name} runs as {role} (SECURITY DEFINER)" if item.module == module.name
        else f"{item.module} runs as {role} inside {module.name} (SECURITY INVOKER)"
    )  # fmt: skip
    before = (
        f"Not granted: {runs}, and {role} has no {granted} on it, which is not {owner}'s own "
        f"permission. After review, {in_database(target.database)}: "
    )
    after = f"{grant_sql(granted, target, role)}, or give the objects one owner in SQL Server."
    advise(state, spec, role, [_schema(target)], (before, after))


def _owner_permission(
    state: PlanState,
    module: PlannedModule,
    item: Use,
    target: PgObject,
    owners: tuple[str, str],
    holders: Holders,
) -> None:
    """Grant the owner role one permission of the owner's (``owners``: the owner and its owner
    role), or say why not (GB311)."""
    owner, role = owners
    granted = privilege(item.access, target)
    qualified = f"{item.target.schema_name}.{item.target.name}"
    spec = _spec(
        module, owner, f"{qualified}:{item.access}",
        f"uses {item.access} on {qualified}{_where(module, item)} owned by "
        f"{owner_of(module.db, item.target)}, through {owner}'s own permission",
    )  # fmt: skip
    others = _others_holding(state, module, role, owner, holders)
    if others:
        before = (
            f"Not granted: {', '.join(others)} hold{'s' if len(others) == 1 else ''} {role} and "
            f"would get it too. Callers of {module.name} lose {item.access} on {qualified} "
            f"through it; after review, {in_database(target.database)}: "
        )
        after = f"{grant_sql(granted, target, role)}."
        advise(state, spec, role, [_schema(target)], (before, after))
        return
    grant = PgGrant(
        database=target.database, object_type=GRANT_TYPES[target.kind],
        schema_name=target.schema_name, name=target.name, signature=target.signature,
        privilege=granted, grantee=role,
        comment=f"EXECUTE AS OWNER: {owner}'s own permission, used by {module.name}",
    )  # fmt: skip
    state.add(grant, module.fact)
    action = (
        f"{grant_sql(granted, target, role)}: {module.name} runs as {role} (SECURITY DEFINER), "
        f"which owns what {owner} owns but holds none of {owner}'s own permissions; no role "
        f"holds {role} but the database's owner role (or {owner}'s own)."
    )
    state.finding(spec.model_copy(update={"severity": Severity.INFO}).to_finding(action))


def _schema(target: PgObject) -> tuple[str, str]:
    return target.database, target.schema_name


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
