"""What the plan did about a module's findings (GB300–GB309, GB306), in words, and the
grants ``modules.mode = "grant_underlying"`` makes (GB340).

:mod:`mapper.translate.module_security` decides who each module runs as; this module says so
in each finding's action, names what a caller loses where the module does not run as its
owner and the GRANT that restores it (made only under ``grant_underlying``, a widening).
"""

from __future__ import annotations

from dataclasses import dataclass

from mapper.module_findings import ModuleChain, allowed
from mapper.module_reach import ChainReliance
from mapper.modules import ModuleAnalysis
from mapper.plan import PgGrant, PgObject, Severity
from mapper.privileges import lookup
from mapper.review_rules import RuleDef, make_finding, rule_table
from mapper.translate.grants import GRANT_TYPES
from mapper.translate.objects import pg_object
from mapper.translate.state import PlanState
from mssql_extract.snapshot import Database, DbObject, fold

RULES = rule_table(
    [
        RuleDef("GB340", Severity.HIGH, "Objects granted to a module's callers (grant_underlying)",
                "The callers can now use these objects directly, not only through the module; "
                "prefer modules.mode = 'security_definer' where the routine body allows it."),
    ]
)  # fmt: skip

ROUTINE_KINDS = {"function": "FUNCTION", "procedure": "PROCEDURE"}
_NOT_REWRITTEN = "Routine body not rewritten: review it when the schema conversion ports it."
#: What the plan did for the module finding rules whose action does not depend on the module.
ACTIONS = {
    "GB307": "Not migrated: PostgreSQL has no cross-database queries.",
    "GB308": "Not analysed: the statement's references are not in the plan.",
}
DYNAMIC_RULES = frozenset({"GB302", "GB303", "GB304", "GB305"})


@dataclass(frozen=True)
class PlannedModule:
    """One module while it is planned."""

    db: Database
    obj: DbObject
    target: PgObject | None
    analysis: ModuleAnalysis
    chain: ModuleChain
    relied: tuple[ChainReliance, ...]  # callers reaching objects only through the chain
    fact: str
    calls_unsafe: tuple[str, ...] = ()  # modules it reaches that may not run as their owner

    @property
    def kind(self) -> str | None:
        """``view``, ``routine`` or None (no PostgreSQL counterpart of either kind)."""
        if self.target is None:
            return None
        if self.target.kind == "view":
            return "view"
        return "routine" if self.target.kind in ROUTINE_KINDS else None

    @property
    def name(self) -> str:
        return self.chain.qualified

    @property
    def why_not(self) -> str:
        """Why the routine may not run as its owner, also through what it calls."""
        reasons = [self.chain.why_not()] if not self.chain.owner_safe else []
        if self.calls_unsafe:
            reasons.append(
                f"it reaches {', '.join(self.calls_unsafe)}, which would run as its owner role "
                "inside it but may not run as its owner (GB310)"
            )
        return "; ".join(reasons)


def privilege(access: str, target: PgObject) -> str:
    """The PostgreSQL privilege for a module's access, as the mapping table maps that SQL Server
    permission on the object's kind (OBJECT rows of :mod:`mapper.privileges`): a function is
    executed, even in FROM or APPLY (SELECT on a table-valued function); NEXT VALUE FOR (UPDATE
    on a sequence) is nextval, which needs USAGE or UPDATE on the sequence ("Sequence
    Manipulation Functions", https://www.postgresql.org/docs/15/functions-sequence.html;
    reference/mssql/pg_acl_privileges.csv: USAGE applies to SEQUENCE): USAGE, as UPDATE would
    also allow setval."""
    mapped = lookup("OBJECT", access).privileges.get(target.kind, ())
    if len(mapped) == 1:
        return mapped[0]
    return "EXECUTE" if target.kind in ROUTINE_KINDS else access


# --------------------------------------------------------------------------- finding actions


def module_action(state: PlanState, module: PlannedModule, rule_id: str, as_owner: bool) -> str:
    """What the plan did about one of the module's GB300–GB309 findings."""
    if rule_id == "GB300":
        return _owner_action(state, module, as_owner)
    if rule_id == "GB301":
        return _impersonation_action(state, module, as_owner)
    if rule_id in DYNAMIC_RULES and module.kind == "routine":
        return _dynamic_action(module, as_owner)
    return ACTIONS.get(rule_id, _NOT_REWRITTEN)


def _owner_action(state: PlanState, module: PlannedModule, as_owner: bool) -> str:
    if as_owner and module.target is not None:
        return (
            f"SECURITY DEFINER owned by {module.target.owner}, search_path pinned, EXECUTE "
            "revoked from PUBLIC."
        )
    if module.kind == "routine" and state.policy.modules.mode == "grant_underlying":
        return (
            "grant_underlying: objects reached through ownership chaining are granted to the "
            "callers (GB340); what else the routine does as its owner needs a review."
        )
    return _NOT_REWRITTEN


def _impersonation_action(state: PlanState, module: PlannedModule, as_owner: bool) -> str:
    """GB301: PostgreSQL cannot run a routine as a named user; what runs instead."""
    who, chain = module.analysis.execute_as or "SELF", module.chain
    text = "Not impersonated (PostgreSQL has no EXECUTE AS <user>): "
    if as_owner and module.target is not None:
        return text + (
            f"SECURITY DEFINER owned by {module.target.owner}, as every object {module.name} "
            f"touches is owned by {chain.owner}, so SQL Server checked none of {who}'s "
            "permissions on them either (ownership chaining); only CURRENT_USER and the like "
            f"name {module.target.owner} instead of {who}."
        )
    checked = [link.qualified for link in chain.broken_objects]
    checked += ["its dynamic SQL"] if chain.dynamic else []
    if not checked:
        return (
            text
            + f"the routine stays SECURITY INVOKER; nothing it touches was checked against {who}."
        )
    text += (
        f"the routine stays SECURITY INVOKER, so {', '.join(checked)} "
        f"{'is' if len(checked) == 1 else 'are'} checked against the caller instead of {who}"
    )
    held = _held_by(state, module, who)
    if held:
        text += f"; a caller without them loses what {who} held there: {', '.join(held)}"
    return text + "."


def _held_by(state: PlanState, module: PlannedModule, principal: str) -> list[str]:
    """The broken-chain references the impersonated principal could use, as ``ACCESS on x``."""
    if not state.engine.knows(module.db.name, principal):
        return []
    held = []
    for link in module.chain.broken:
        source = state.find_object(module.db, link.schema_name, link.name)
        if source is not None and allowed(state.engine, module.db, principal, source, link.access):
            held.append(f"{link.access} on {link.qualified}")
    return sorted(set(held))


def _dynamic_action(module: PlannedModule, as_owner: bool) -> str:
    if as_owner and module.target is not None:
        role, owner = module.target.owner, module.chain.owner
        holds = (
            "which holds what dbo could"
            if fold(owner or "") == "dbo"
            else f"which owns what {owner} owns, not {owner}'s own permissions"
        )
        return (
            f"SECURITY DEFINER kept (the routine ran as its owner): its dynamic SQL runs as "
            f"{role}, {holds}. {_NOT_REWRITTEN}"
        )
    execute_as = (module.analysis.execute_as or "CALLER").upper()
    instead = (
        "as in SQL Server" if execute_as == "CALLER" else f"not as {module.analysis.execute_as}"
    )
    return (
        f"The routine stays SECURITY INVOKER: its dynamic SQL runs as the caller, {instead}. "
        + _NOT_REWRITTEN
    )


# --------------------------------------------------------------------------- GB306 grants


def target_of(state: PlanState, db: Database, chain: ChainReliance) -> PgObject | None:
    """The PostgreSQL object a chain reliance reaches, or None."""
    source = state.find_object(db, chain.target_schema, chain.target_name)
    return pg_object(state, db, source) if source else None


def grant_underlying(state: PlanState, db: Database, chain: ChainReliance, fact: str) -> str | None:
    """Grant the caller what it reached only through the chain (GB340): the privilege granted,
    or None where the caller or the object has no PostgreSQL counterpart."""
    caller = state.role_of(db.name, chain.principal)
    target = target_of(state, db, chain)
    if caller is None or target is None:
        return None
    granted = privilege(chain.access, target)
    grant = PgGrant(
        database=target.database, object_type=GRANT_TYPES[target.kind],
        schema_name=target.schema_name, name=target.name, signature=target.signature,
        privilege=granted, grantee=caller, comment="grant_underlying (ownership chain)",
    )  # fmt: skip
    state.add(grant, fact)
    widening = make_finding(
        RULES["GB340"], f"{caller} gets {granted} on {target.schema_name}.{target.name} "
        f"directly, which it reached only through {chain.module_schema}.{chain.module_name}",
        principal=chain.principal, securable=f"{target.schema_name}.{target.name}:{granted}",
        source_ref=db.name,
    )  # fmt: skip
    state.finding(widening.to_finding(f"GRANT {granted} to {caller}."))
    return granted
