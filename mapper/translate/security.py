"""Modules, row-level security, masking and audit in the plan (issue 9).

Runs after DENY restructuring and before schema USAGE and implied-grant pruning, so that grants
made here (``grant_underlying``) get their schema USAGE and are pruned like the others:

* every module (:mod:`mapper.translate.module_security`): EXECUTE AS, dynamic SQL,
  cross-database and unparsed findings (definitions are analysed when the snapshot has them;
  without them only ``EXECUTE AS`` is known), and who it runs as: a routine that ran as its
  owner, or that callers reach objects through by ownership chaining where every object it
  touches is its owner's, becomes SECURITY DEFINER under policy ``modules.mode =
  "security_definer"`` (owned by its owner role, ``search_path`` pinned, EXECUTE revoked from
  PUBLIC); ``"grant_underlying"`` grants the touched objects to the callers instead, with a
  widening finding (GB340); a view whose chain is broken checks its caller's privileges
  (``security_invoker``);
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
from mapper.naming import object_name
from mapper.plan import (
    PgGrant,
    PgParameter,
    PgRoutineSecurity,
    PgRowSecurity,
    PgViewSecurity,
    RoleKind,
    Severity,
)
from mapper.review_rules import RuleDef, make_finding, rule_table
from mapper.translate import security_facts
from mapper.translate.grants import GRANT_TYPES
from mapper.translate.module_security import ModuleItems, plan_modules
from mapper.translate.objects import pg_object, schema_name
from mapper.translate.row_security import plan_row_security
from mapper.translate.state import PlanState
from mssql_extract.snapshot import Database, fold

RULES = rule_table(
    [
        RuleDef("GB341", Severity.INFO, "Audit specifications translated to pgaudit",
                "Load pgaudit (parameters.json), CREATE EXTENSION pgaudit in each database and "
                "ship the PostgreSQL log where the audited roles cannot change it (CloudWatch "
                "Logs on RDS / Aurora)."),
    ]
)  # fmt: skip


@dataclass
class SecurityItems:
    """What this step adds to the plan besides grants, revokes, roles and findings."""

    routines: dict[str, PgRoutineSecurity] = field(default_factory=dict)
    views: dict[str, PgViewSecurity] = field(default_factory=dict)
    row_security: dict[str, PgRowSecurity] = field(default_factory=dict)
    parameters: tuple[PgParameter, ...] = ()

    def keys(self) -> set[str]:
        """Keys of the items held here (fact dispositions may name them)."""
        return {*self.routines, *self.views, *self.row_security,
                *(p.key for p in self.parameters)}  # fmt: skip

    def plan_fields(self) -> dict[str, Any]:
        """Keyword arguments for ``MigrationPlan`` (the plan sorts them by key)."""
        return {
            "routine_security": tuple(self.routines.values()),
            "view_security": tuple(self.views.values()),
            "row_security": tuple(self.row_security.values()),
            "parameters": self.parameters,
        }


def plan_security(state: PlanState) -> SecurityItems:
    """Modules, row-level security, masking and audit of every database, then the parameters."""
    items = SecurityItems()
    for db in state.snapshot.databases:
        plan_modules(state, db, ModuleItems(items.routines, items.views))
        plan_row_security(state, db, items.row_security)
        _plan_masking(state, db)
    items.parameters = _plan_audit(state)
    return items


# --------------------------------------------------------------------------- masking, audit


def _plan_masking(state: PlanState, db: Database) -> None:
    naming = state.policy.naming

    def ident(name: str) -> str:
        return object_name(name, naming)

    def schema(name: str) -> str:
        return schema_name(state, db, name)

    suggestions = masking.suggest_masks(db, ident=ident, schema=schema)
    by_column: dict[str | None, tuple[str, str]] = {}
    target = state.target_db(db)
    for spec in masking.masking_findings(suggestions, source_ref=db.name, database=target):
        key = state.finding(
            spec.to_finding("Not masked in PostgreSQL: the suggestion needs a review.")
        )
        by_column[spec.securable] = (key, spec.rule_id)
    found = {
        m.key: by_column[f"{schema(m.schema_name)}.{ident(m.table_name)}.{ident(m.column_name)}"]
        for m in db.masked_columns
    }
    security_facts.dispose_masked(state, db, found)


def _plan_audit(state: PlanState) -> tuple[PgParameter, ...]:
    settings = audit.translate_audit(state.snapshot, state.policy.target)
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
