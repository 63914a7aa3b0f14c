"""Modules, row-level security, masking and audit in the plan (issue 9).

Runs after DENY restructuring and before schema USAGE and implied-grant pruning, so that grants
made here (``grant_underlying``) get their schema USAGE and are pruned like the others:

* every module: EXECUTE AS, dynamic SQL, cross-database and unparsed findings (definitions are
  analysed when the snapshot has them; without them only ``EXECUTE AS`` is known);
* modules that run as their owner or that callers reach only through ownership chaining:
  policy ``modules.mode = "security_definer"`` makes the routine SECURITY DEFINER (owned by its
  owner role, ``search_path`` pinned, EXECUTE revoked from PUBLIC); ``"grant_underlying"``
  grants the touched objects to the callers instead, with a widening finding (GB340);
* security policies → :class:`PgRowSecurity` (``mapper.rls``, placed on the plan's tables by
  :mod:`mapper.translate.row_security`); masked columns → findings
  (``mapper.masking``); audit specifications → pgaudit settings and the hardened parameters
  (``mapper.audit``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from grantbridge.plural import plural
from mapper import audit, masking, platforms
from mapper.module_findings import ChainReliance, chain_findings, chain_reliance, module_findings
from mapper.modules import MODULE_KINDS, ModuleAnalysis, analyze_object
from mapper.modules import RULES as MODULE_RULES
from mapper.naming import object_name
from mapper.plan import (
    PgGrant,
    PgObject,
    PgParameter,
    PgRevoke,
    PgRoutineSecurity,
    PgRowSecurity,
    RoleKind,
    Severity,
)
from mapper.review_rules import FindingSpec, RuleDef, make_finding, rule_table
from mapper.translate import security_facts
from mapper.translate.grants import GRANT_TYPES
from mapper.translate.objects import pg_object
from mapper.translate.row_security import plan_row_security
from mapper.translate.state import PlanState, fact_key
from mssql_extract.snapshot import Database, DbObject, ObjectKind, fold

RULES = rule_table(
    [
        RuleDef("GB340", Severity.HIGH, "Objects granted to a module's callers (grant_underlying)",
                "The callers can now use these objects directly, not only through the module; "
                "prefer modules.mode = 'security_definer' where the routine body allows it."),
        RuleDef("GB341", Severity.INFO, "Audit specifications translated to pgaudit",
                "Load pgaudit (parameters.json), CREATE EXTENSION pgaudit in each database and "
                "ship the PostgreSQL log where the audited roles cannot change it (CloudWatch "
                "Logs on RDS / Aurora)."),
    ]
)  # fmt: skip

ROUTINE_KINDS = {"function": "FUNCTION", "procedure": "PROCEDURE"}
_NOT_REWRITTEN = "Routine body not rewritten: review it when the schema conversion ports it."
#: What the plan did for each module finding rule (mode-dependent ones are set per module).
ACTIONS = {
    "GB301": "Not impersonated: PostgreSQL has no EXECUTE AS <user>; the routine stays INVOKER.",
    "GB302": "SECURITY DEFINER kept (the routine ran as owner); " + _NOT_REWRITTEN,
    "GB303": _NOT_REWRITTEN,
    "GB304": _NOT_REWRITTEN,
    "GB305": _NOT_REWRITTEN,
    "GB307": "Not migrated: PostgreSQL has no cross-database queries.",
    "GB308": "Not analysed: the statement's references are not in the plan.",
}


@dataclass
class SecurityItems:
    """What this step adds to the plan besides grants, revokes, roles and findings."""

    routines: dict[str, PgRoutineSecurity] = field(default_factory=dict)
    row_security: dict[str, PgRowSecurity] = field(default_factory=dict)
    parameters: tuple[PgParameter, ...] = ()

    def keys(self) -> set[str]:
        """Keys of the items held here (fact dispositions may name them)."""
        return {*self.routines, *self.row_security, *(p.key for p in self.parameters)}

    def plan_fields(self) -> dict[str, Any]:
        """Keyword arguments for ``MigrationPlan`` (the plan sorts them by key)."""
        return {
            "routine_security": tuple(self.routines.values()),
            "row_security": tuple(self.row_security.values()),
            "parameters": self.parameters,
        }


def plan_security(state: PlanState) -> SecurityItems:
    """Modules, row-level security, masking and audit of every database, then the parameters."""
    items = SecurityItems()
    for db in state.snapshot.databases:
        _plan_modules(state, db, items)
        plan_row_security(state, db, items.row_security)
        _plan_masking(state, db)
    items.parameters = _plan_audit(state)
    return items


# --------------------------------------------------------------------------- modules


def _analysis(obj: DbObject) -> ModuleAnalysis:
    if obj.definition:
        return analyze_object(obj)
    execute_as = obj.execute_as.upper() if obj.execute_as else None
    return ModuleAnalysis(schema_name=obj.schema_name, name=obj.name, execute_as=execute_as)


def _plan_modules(state: PlanState, db: Database, items: SecurityItems) -> None:
    modules = [o for o in db.objects if o.kind in MODULE_KINDS and o.kind != ObjectKind.OTHER]
    analyses = {o.key: _analysis(o) for o in modules}
    chains = chain_reliance(db, analyses.values(), state.engine)
    by_module: dict[str, list[ChainReliance]] = {}
    for chain in chains:
        key = f"object:{fold(chain.module_schema)}.{fold(chain.module_name)}"
        by_module.setdefault(key, []).append(chain)
    for obj in modules:
        _plan_module(state, db, obj, analyses[obj.key], by_module.get(obj.key, []), items)
    _unread_bodies(state, db, modules)


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
        "Not analysed: ownership chaining, EXECUTE AS and dynamic SQL inside them are unknown, "
        "so no routine was made SECURITY DEFINER for chaining, and callers that reached tables "
        "only through one of them may lose that access."
    ))  # fmt: skip


def _plan_module(
    state: PlanState,
    db: Database,
    obj: DbObject,
    analysis: ModuleAnalysis,
    chains: list[ChainReliance],
    items: SecurityItems,
) -> None:
    target = pg_object(state, db, obj)
    fact = fact_key(db.name, obj.key)
    definer = (
        target is not None
        and target.kind in ROUTINE_KINDS
        and (analysis.runs_as_owner or bool(chains))
        and state.policy.modules.mode == "security_definer"
    )
    if definer and target is not None:
        _security_definer(state, target, fact, items)
        owner_action = f"SECURITY DEFINER owned by {target.owner}, search_path pinned, EXECUTE revoked from PUBLIC."
    elif analysis.runs_as_owner:
        owner_action = (
            "grant_underlying: objects reached through ownership chaining are granted to the "
            "callers (GB340); what else the routine does as its owner needs a review."
        )
    else:
        owner_action = ""
    for spec in module_findings(analysis, str(obj.source_ref)):
        action = owner_action if spec.rule_id == "GB300" else ACTIONS.get(spec.rule_id, "")
        state.finding(spec.to_finding(action or _NOT_REWRITTEN))
    for spec, chain in zip(chain_findings(chains), chains, strict=True):
        state.finding(_chain_finding(state, db, spec, chain, target, definer, fact))


def _security_definer(state: PlanState, target: PgObject, fact: str, items: SecurityItems) -> None:
    object_type = ROUTINE_KINDS[target.kind]
    signature = target.signature  # None: the routine is named without its arguments
    callers = sorted(
        {i.grantee for i in state.items.values() if isinstance(i, PgGrant)
         and i.privilege == "EXECUTE" and i.object_type == object_type
         and (i.database, i.schema_name, i.name) == (target.database, target.schema_name, target.name)}
    )  # fmt: skip
    routine = PgRoutineSecurity(
        database=target.database, schema_name=target.schema_name, name=target.name,
        kind="function" if target.kind == "function" else "procedure", signature=signature,
        owner=target.owner, search_path=("pg_catalog", target.schema_name),
        callers=tuple(callers), facts=(fact,),
    )  # fmt: skip
    items.routines.setdefault(routine.key, routine)
    if "PUBLIC" not in callers:  # SECURITY DEFINER: only the mapped callers may run it
        revoke = PgRevoke(
            database=target.database, object_type=object_type, schema_name=target.schema_name,
            name=target.name, signature=signature, privilege="EXECUTE", grantee="PUBLIC",
            reason="SECURITY DEFINER routine: only its mapped callers may execute it",
        )  # fmt: skip
        state.add(revoke, fact)


def _chain_finding(
    state: PlanState,
    db: Database,
    spec: FindingSpec,
    chain: ChainReliance,
    module: PgObject | None,
    definer: bool,
    fact: str,
) -> Any:
    if module is not None and module.kind == "view":
        # PostgreSQL views read their tables with the view owner's privileges (not
        # security_invoker): the chain survives as it is
        action = "Preserved: PostgreSQL views use their owner's privileges on the tables."
        return spec.model_copy(update={"severity": Severity.INFO}).to_finding(action)
    if definer:
        return spec.to_finding("The routine is SECURITY DEFINER: callers need no table grant.")
    if state.policy.modules.mode == "grant_underlying":
        return spec.to_finding(_grant_underlying(state, db, chain, fact))
    return spec.to_finding("Not handled: the module has no PostgreSQL routine kind; review it.")


def _grant_underlying(state: PlanState, db: Database, chain: ChainReliance, fact: str) -> str:
    caller = state.role_of(db.name, chain.principal)
    source = state.find_object(db, chain.target_schema, chain.target_name)
    target = pg_object(state, db, source) if source else None
    if caller is None or target is None:
        return "Not granted: the caller or the object has no PostgreSQL counterpart."
    grant = PgGrant(
        database=target.database, object_type=GRANT_TYPES[target.kind],
        schema_name=target.schema_name, name=target.name, signature=target.signature,
        privilege=chain.access, grantee=caller, comment="grant_underlying (ownership chain)",
    )  # fmt: skip
    state.add(grant, fact)
    widening = make_finding(
        RULES["GB340"], f"{caller} gets {chain.access} on {target.schema_name}.{target.name} "
        f"directly, which it reached only through {chain.module_schema}.{chain.module_name}",
        principal=chain.principal, securable=f"{target.schema_name}.{target.name}:{chain.access}",
        source_ref=db.name,
    )  # fmt: skip
    state.finding(widening.to_finding(f"GRANT {chain.access} to {caller}."))
    return f"Granted {chain.access} on the object to {caller} (grant_underlying, GB340)."


# --------------------------------------------------------------------------- masking, audit


def _plan_masking(state: PlanState, db: Database) -> None:
    naming = state.policy.naming

    def ident(name: str) -> str:
        return object_name(name, naming)

    suggestions = masking.suggest_masks(db, ident=ident)
    by_column: dict[str | None, tuple[str, str]] = {}
    for spec in masking.masking_findings(suggestions, source_ref=db.name):
        key = state.finding(
            spec.to_finding("Not masked in PostgreSQL: the suggestion needs a review.")
        )
        by_column[spec.securable] = (key, spec.rule_id)
    found = {
        m.key: by_column[f"{ident(m.schema_name)}.{ident(m.table_name)}.{ident(m.column_name)}"]
        for m in db.masked_columns
    }
    security_facts.dispose_masked(state, db, found)


def _plan_audit(state: PlanState) -> tuple[PgParameter, ...]:
    settings = audit.translate_audit(state.snapshot)
    target = state.policy.target
    role = _audit_role_name(state, settings)
    summary: str | None = None
    grants: dict[str, list[str]] = {}
    if settings.active:
        grants = _audit_role(state, settings, role)
        evidence = (
            f"pgaudit.log = {','.join(settings.classes).lower() or 'none'}; "
            f"{plural(len(settings.objects), 'object privilege')} for {role}"
            + "".join(f"; {note}" for note in settings.notes)
        )
        finding = make_finding(RULES["GB341"], evidence, source_ref=", ".join(settings.facts))
        summary = state.finding(finding.to_finding("pgaudit settings in parameters.json."))
    parameters = audit.parameters(target, settings, role)
    security_facts.dispose_audits(state, settings, parameters, grants, summary)
    return parameters


def _audit_role_name(state: PlanState, settings: audit.AuditSettings) -> str:
    """The audit role's name, claimed like any other role's when object auditing needs it.

    A source login or role of the same name would otherwise become the audit role, and pgaudit
    would log everything it does. On RDS / Aurora the name is fixed (``rds_pgaudit``), so a
    clash fails the plan; on plain PostgreSQL ``pgaudit.role`` may name any role, so the audit
    role gives way with a hash suffix, as DENY-derived roles do.
    """
    role = platforms.audit_role(state.policy.target)
    if not (settings.active and settings.objects):
        return role
    source = "pgaudit.role (object auditing)"
    if platforms.on_rds(state.policy.target):
        return state.names.claim(role, source)
    return state.names.derived(role, source)


def _audit_role(state: PlanState, settings: audit.AuditSettings, role: str) -> dict[str, list[str]]:
    """Grants to the audit role ``role`` for object auditing; their keys by fact."""
    keys: dict[str, list[str]] = {}
    if not settings.objects:
        return keys
    spec = state.role(role, RoleKind.GROUP, source="pgaudit.role (object auditing)")
    databases = {fold(db.name): db for db in state.snapshot.databases}
    for item in settings.objects:
        db = databases[fold(item.database)]
        source = state.find_object(db, item.schema_name, item.name)
        target = pg_object(state, db, source) if source else None
        if target is None:
            continue
        spec.facts.add(item.fact)
        grant = PgGrant(
            database=target.database, object_type=GRANT_TYPES[target.kind],
            schema_name=target.schema_name, name=target.name, signature=target.signature,
            privilege=item.privilege, grantee=role, comment="pgaudit object auditing",
        )  # fmt: skip
        keys.setdefault(item.fact, []).append(state.add(grant, item.fact)[0])
    return keys
