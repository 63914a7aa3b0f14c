"""Who each module runs as in PostgreSQL: its owner or its caller (DESIGN §3.3, "Modules").

SQL Server skips the permission check on an object a module references when both have the same
owner, and checks the execution context where the owners differ: the caller, or with
``EXECUTE AS`` the owner or the named user; dynamic SQL is a batch of its own and never chains
("Ownership Chains", learn.microsoft.com/sql/relational-databases/security/ownership-chains).

PostgreSQL has no chain. A view reads the relations it names with its owner's privileges, unless
it is ``security_invoker`` (PostgreSQL 15 or later), and either way checks EXECUTE on the
functions it calls against its user, who also runs them ("Functions called in the view are
treated the same as if they had been called directly from the query using the view", CREATE
VIEW). A routine runs as its caller unless it is SECURITY DEFINER, when everything in it, its
dynamic SQL too, runs as its owner.

An owner role also holds more than the objects its owner owns: the database's owner role is a
member of every other owner role of its database (:mod:`mapper.translate.ownership`). Running
a module as its owner role is therefore as narrow as SQL Server only where every object the
module touches has the module's owner (:attr:`~mapper.module_findings.ModuleChain.owner_safe`),
and the plan never lets a module run as its owner where that would give a caller more:

=====================================  ========================  ================================
module                                 SQL Server checks         PostgreSQL plan
=====================================  ========================  ================================
view, every reference its owner's      nothing (chain)           owner's privileges (the default)
view, a reference of another owner,    the caller on those       ``security_invoker = true``
or references unknown                                            (GB310)
routine ``EXECUTE AS OWNER``           the owner, where broken   SECURITY DEFINER; the owner's
                                                                 own permissions it uses granted
                                                                 to the owner role (GB311)
routine a caller reaches objects       nothing (chain)           SECURITY DEFINER
through, every reference its owner's,
no dynamic SQL, and every module it
reaches the same
the same routine with a reference of   the caller on those, and  SECURITY INVOKER (GB310)
another owner, dynamic SQL, unknown    on its dynamic SQL
references, or reaching such a module
=====================================  ========================  ================================

Where the plan keeps a module to its caller's privileges, a caller that reached an object of
the module's owner only through the chain loses that access (GB306 names the grant that would
restore it, a widening the plan makes only under ``modules.mode = "grant_underlying"``, GB340).
So does a caller of a view that calls a function: PostgreSQL wants EXECUTE on it from the
caller. A routine reaching a module that may not run as its owner stays SECURITY INVOKER
too (:func:`_unsafe_calls`): inside a SECURITY DEFINER routine that module would run as the
owner role. With this rule the dbo owner role's memberships never reach through a module: a
module runs as its owner only where the owner owns everything it touches (or where SQL Server
ran it as that owner too: ``EXECUTE AS OWNER``, and dbo could read everything).

``EXECUTE AS OWNER``: SQL Server checks the owner where the chain is broken, and the owner role
holds what the owner owns, none of the owner's own permissions. What the module uses of them
(the broken-chain references the owner may use) is granted to the owner role, which is exactly
what SQL Server gave the module — unless a role other than the database's owner role (which
controls everything anyway) and the owner's own role holds the owner role and would get it
too; then GB311 says what the callers lose and what to grant.

Chains are followed from module to module (:mod:`mapper.module_reach`): a routine a caller
reaches only through other modules is relied on as much as one it calls itself, and every
module's plan is decided before any finding is written (:class:`~mapper.translate.
module_routes.Routes`), as a GB306 or GB311 reached through other modules depends on theirs.

What each finding says the plan did, and the ``grant_underlying`` grants, are in
:mod:`mapper.translate.module_actions`.
"""

from __future__ import annotations

from dataclasses import dataclass

from grantbridge.plural import plural
from mapper.module_findings import (
    ModuleChain,
    ObjectIndex,
    ambiguous,
    elsewhere,
    module_chain,
    module_findings,
)
from mapper.module_reach import ChainReliance, chain_reliance, module_graph
from mapper.modules import MODULE_KINDS, ModuleAnalysis, analyze_object
from mapper.modules import RULES as MODULE_RULES
from mapper.plan import (
    PgGrant,
    PgRevoke,
    PgRoutineSecurity,
    PgViewSecurity,
)
from mapper.quoting import quote_qualified
from mapper.review_rules import FindingSpec, make_finding
from mapper.translate.items import Item
from mapper.translate.module_actions import (
    ROUTINE_KINDS,
    PlannedModule,
    module_action,
)
from mapper.translate.module_chains import chain_findings
from mapper.translate.module_owner import Holders, owner_permissions
from mapper.translate.module_routes import Routes
from mapper.translate.objects import pg_object
from mapper.translate.state import PlanState, fact_key
from mssql_extract.snapshot import Database, DbObject, ObjectKind, fold


@dataclass
class ModuleItems:
    """What module planning adds besides grants, revokes and findings, by key."""

    routines: dict[str, PgRoutineSecurity]
    views: dict[str, PgViewSecurity]


class Callers:
    """Who is granted EXECUTE on a routine (every signature of its name), sorted.

    Asked once per SECURITY DEFINER routine: the plan's items are read once, into grantees by
    routine, and then only those added since (each module adds some: its owner's permissions,
    ``grant_underlying``), found at the end of the items, which keep their insertion order. A
    scan of every item per routine made a database's modules quadratic. Where items went
    meanwhile (module planning removes none), they are read again.
    """

    def __init__(self, state: PlanState) -> None:
        self._items = state.items
        self._by_routine: dict[tuple[str, str, str | None, str], set[str]] = {}
        self._read, self._last = 0, ""  # how many items were read, and the last one's key

    def __call__(self, object_type: str, db: str, schema: str | None, name: str) -> list[str]:
        self._catch_up()
        return sorted(self._by_routine.get((object_type, db, schema, name), ()))

    def _catch_up(self) -> None:
        items = self._items
        added: list[Item] = []
        if self._read:
            for key in reversed(items):  # those added since, newest first
                if key == self._last:
                    break
                added.append(items[key])
        if not self._read or len(items) != self._read + len(added) or self._last not in items:
            self._by_routine, added = {}, list(items.values())
        for item in added:
            if isinstance(item, PgGrant) and item.privilege == "EXECUTE":
                routine = (item.object_type, item.database, item.schema_name, item.name)
                self._by_routine.setdefault(routine, set()).add(item.grantee)
        self._read, self._last = len(items), next(reversed(items), "")


def plan_modules(state: PlanState, db: Database, found: ModuleItems) -> None:
    """Every module of one database: who it runs as, and its findings."""
    modules = [o for o in db.objects if o.kind in MODULE_KINDS and o.kind != ObjectKind.OTHER]
    analyses = {o.key: _analysis(o) for o in modules}
    index = ObjectIndex(db)
    graph = module_graph(db, analyses.values(), index)
    by_module: dict[str, list[ChainReliance]] = {}
    for chain in chain_reliance(db, analyses.values(), state.engine, index, graph):
        key = f"object:{fold(chain.module_schema)}.{fold(chain.module_name)}"
        by_module.setdefault(key, []).append(chain)
    chains = {o.key: module_chain(db, o, analyses[o.key], index) for o in modules}
    unsafe = _unsafe_calls(chains, {k for k, a in analyses.items() if a.runs_as_owner})
    planned: dict[str, PlannedModule] = {}
    for obj in modules:
        planned[obj.key] = PlannedModule(
            db=db, obj=obj, target=pg_object(state, db, obj), analysis=analyses[obj.key],
            chain=chains[obj.key], relied=tuple(by_module.get(obj.key, ())),
            fact=fact_key(db.name, obj.key), calls_unsafe=unsafe.get(obj.key, ()),
        )  # fmt: skip
    # every module's plan first: a GB306 or GB311 reached through other modules asks theirs
    as_owner = {key: _as_owner(state, module) for key, module in planned.items()}
    routes = Routes(state=state, db=db, graph=graph, modules=planned, as_owner=as_owner,
                    index=index)  # fmt: skip
    holders, callers = Holders(state), Callers(state)
    for module in planned.values():
        _plan_module(routes, module, found, holders, callers)
    chain_findings(routes, planned.values())  # GB306, one per caller and module it runs
    _unread_bodies(state, db, modules)


def _unsafe_calls(chains: dict[str, ModuleChain], as_owner: set[str]) -> dict[str, tuple[str, ...]]:
    """Module key → the modules it references (with its own owner) that may not run as their
    owner, themselves or through what they reference in turn.

    Inside a SECURITY DEFINER routine the current user is the owner role: a SECURITY INVOKER
    routine it calls, a security_invoker view it reads and a function a view calls all run
    with the owner role's privileges there, reaching what SQL Server checked against the
    caller. So a routine runs as its owner only where nothing it reaches runs as the caller
    for a reason (:attr:`ModuleChain.owner_safe`). Worked out backwards from the modules that
    are not owner-safe, through every intact reference, once each (recursive calls included);
    an ``EXECUTE AS OWNER`` routine (``as_owner``) runs as its owner whoever calls it, in both
    engines, and stops the walk.
    """
    callers: dict[str, list[str]] = {}
    for key, chain in chains.items():
        for link in chain.intact:
            target = f"object:{fold(link.schema_name)}.{fold(link.name)}"
            if target in chains and target != key:
                callers.setdefault(target, []).append(key)
    unsafe = {key for key, chain in chains.items() if not chain.owner_safe} - as_owner
    todo = sorted(unsafe)
    found: dict[str, set[str]] = {}
    while todo:
        callee = todo.pop()
        for caller in callers.get(callee, ()):
            found.setdefault(caller, set()).add(chains[callee].qualified)
            if caller not in unsafe and caller not in as_owner:
                unsafe.add(caller)
                todo.append(caller)
    return {key: tuple(sorted(names)) for key, names in found.items()}


def _analysis(obj: DbObject) -> ModuleAnalysis:
    if obj.definition:
        return analyze_object(obj)
    execute_as = obj.execute_as.upper() if obj.execute_as else None
    return ModuleAnalysis(schema_name=obj.schema_name, name=obj.name, execute_as=execute_as)


#: What GB309 counts, one and several.
_MODULES = ("procedure, function or view", "procedures, functions and views")


def _unread_bodies(state: PlanState, db: Database, modules: list[DbObject]) -> None:
    """One finding per database whose modules came without their bodies (the extractor's
    default: ``--include-definitions`` is off, as bodies may hold secrets)."""
    unread = sorted(f"{o.schema_name}.{o.name}" for o in modules if not o.definition)
    if not unread:
        return
    named = ", ".join(unread[:5]) + (f" and {len(unread) - 5} more" if len(unread) > 5 else "")
    spec = make_finding(
        MODULE_RULES["GB309"],
        f"{len(unread)} of {plural(len(modules), *_MODULES)} of database {db.name} "
        f"{'has' if len(unread) == 1 else 'have'} no body in the snapshot: {named}",
        securable=f"DATABASE {db.name}", source_ref=str(db.source_ref),
    )  # fmt: skip
    state.finding(spec.to_finding(
        "Not analysed: ownership chaining, EXECUTE AS and dynamic SQL inside them are unknown. "
        "No routine was made SECURITY DEFINER for chaining, and a view checks its caller's "
        "privileges (GB310) unless every object of its database has the view's owner, as it "
        "might read an object of another owner; callers that reached objects only through one "
        "of them may lose that access."
    ))  # fmt: skip


# --------------------------------------------------------------------------- one module


def _as_owner(state: PlanState, module: PlannedModule) -> bool:
    """Whether the module runs with its owner role's privileges: a view whose chain is
    intact, a routine made SECURITY DEFINER (:func:`_definer`)."""
    if module.kind == "view":
        return module.chain.owner_safe
    return module.kind == "routine" and _definer(state, module)


def _plan_module(
    routes: Routes, module: PlannedModule, found: ModuleItems, holders: Holders, callers: Callers
) -> None:
    state, as_owner = routes.state, routes.as_owner[module.obj.key]
    if module.kind == "view" and not as_owner:
        _security_invoker(state, module, found.views)
    elif module.kind == "routine" and as_owner:
        _security_definer(routes, module, found.routines, holders, callers)
    elif (
        module.kind == "routine"
        and module.relied
        and state.policy.modules.mode == "security_definer"
    ):
        _kept_invoker(state, module)
    for spec in module_findings(module.analysis, str(module.obj.source_ref), module.db.name):
        state.finding(spec.to_finding(module_action(state, module, spec.rule_id, as_owner)))
    source = str(module.obj.source_ref)
    for name in elsewhere(module.db, module.obj, module.analysis, routes.index):
        spec = make_finding(MODULE_RULES["GB307"], f"{module.name} references {name}",
                            securable=module.name, source_ref=f"{source}->{name}")  # fmt: skip
        state.finding(spec.to_finding(module_action(state, module, "GB307", as_owner)))
    for why in ambiguous(module.db, module.obj, module.analysis, routes.index):
        spec = make_finding(MODULE_RULES["GB308"], f"{module.name}: {why}", securable=module.name,
                            source_ref=f"{source}->{why.split()[0]}")  # fmt: skip
        state.finding(spec.to_finding(module_action(state, module, "GB308", as_owner)))


def _definer(state: PlanState, module: PlannedModule) -> bool:
    """Whether a routine becomes SECURITY DEFINER: it ran as its owner, or callers relied on
    its chain and running as its owner gives nobody more than SQL Server did."""
    if state.policy.modules.mode != "security_definer":
        return False
    if module.analysis.runs_as_owner:
        return True
    return bool(module.relied) and module.chain.owner_safe and not module.calls_unsafe


def _security_definer(
    routes: Routes,
    module: PlannedModule,
    routines: dict[str, PgRoutineSecurity],
    holders: Holders,
    granted: Callers,
) -> None:
    state, target = routes.state, module.target
    assert target is not None
    object_type = ROUTINE_KINDS[target.kind]
    signature = target.signature  # None: the routine is named without its arguments
    callers = granted(object_type, target.database, target.schema_name, target.name)
    routine = PgRoutineSecurity(
        database=target.database, schema_name=target.schema_name, name=target.name,
        kind="function" if target.kind == "function" else "procedure", signature=signature,
        owner=target.owner, search_path=("pg_catalog", target.schema_name),
        callers=tuple(callers), facts=(module.fact,),
    )  # fmt: skip
    routines.setdefault(routine.key, routine)
    if "PUBLIC" not in callers:  # SECURITY DEFINER: only the mapped callers may run it
        revoke = PgRevoke(
            database=target.database, object_type=object_type, schema_name=target.schema_name,
            name=target.name, signature=signature, privilege="EXECUTE", grantee="PUBLIC",
            reason="SECURITY DEFINER routine: only its mapped callers may execute it",
        )  # fmt: skip
        state.add(revoke, module.fact)
    if module.analysis.runs_as_owner:
        owner_permissions(routes, module, holders)


def _security_invoker(
    state: PlanState, module: PlannedModule, views: dict[str, PgViewSecurity]
) -> None:
    """A view that must check its caller: ``security_invoker``, and GB310 saying why."""
    target = module.target
    assert target is not None
    view = PgViewSecurity(
        database=target.database, schema_name=target.schema_name, name=target.name,
        facts=(module.fact,), comment=f"ownership chain: {module.chain.why_not()}",
    )  # fmt: skip
    views.setdefault(view.key, view)
    relied = len({c.principal for c in module.relied})
    if relied:
        consequence = (
            f"{relied} caller{'s' if relied > 1 else ''} reached objects of {module.chain.owner} "
            "only through the view and lose that access (GB306)"
        )
    elif module.chain.unknown:
        consequence = (
            "what it reads is not known, so callers that reached objects only through it may "
            "lose that access"
        )
    else:
        consequence = "no caller relied on the chain, so nobody loses access"
    why = (
        "as SQL Server checked the caller across the broken chain"
        if module.chain.broken
        else "as with its owner's privileges it could give a caller what SQL Server checked "
        "against the caller"
    )
    action = (
        f"ALTER VIEW {quote_qualified(target.schema_name, target.name)} "
        "SET (security_invoker = true) "
        "(PostgreSQL 15 or later): the view checks its caller's privileges on what it reads, "
        f"{why}; {consequence}."
    )
    state.finding(_broken_spec(module).to_finding(action))


def _kept_invoker(state: PlanState, module: PlannedModule) -> None:
    """GB310 for a routine callers relied on that still may not run as its owner."""
    owner = module.target.owner if module.target else "its owner role"
    action = (
        f"Kept SECURITY INVOKER: as SECURITY DEFINER it would run as {owner}, reaching for "
        "every caller what SQL Server checked against the caller; callers that relied on the "
        "ownership chain lose that access (GB306)."
    )
    state.finding(_broken_spec(module).to_finding(action))


def _broken_spec(module: PlannedModule) -> FindingSpec:
    why = module.why_not if module.kind == "routine" else module.chain.why_not()
    return make_finding(
        MODULE_RULES["GB310"],
        f"{module.name} (owned by {module.chain.owner or 'an unknown owner'}): {why}",
        securable=module.name, source_ref=str(module.obj.source_ref),
    )  # fmt: skip
