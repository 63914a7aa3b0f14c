"""Dispositions of security policies, masked columns and audit specifications (DESIGN §3.4).

These are source facts like a permission row, so each ends with exactly one disposition, which
the report counts and lists ("needs a decision" shows the unresolved and approximated ones):

====================  =========================================================================
fact                  disposition
====================  =========================================================================
security policy       mapped: the row security of its tables (GB321); unresolved: a predicate
                      not translated or a target table not in the snapshot, so that table has no
                      policy (GB320); not_applicable: no predicates
masked column         unresolved: PostgreSQL has no dynamic data masking, and the plan emits no
                      masked view; its finding says what to build (GB330) or that the masking
                      function has no expression (GB331)
audit specification   mapped: pgaudit parameters and audit-role grants (GB341); approximated:
                      some actions have no pgaudit equivalent (GB342); unresolved: none has;
                      not_applicable: disabled, or only groups PostgreSQL or AWS log anyway
====================  =========================================================================
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from mapper.audit import AuditSettings, SpecOutcome
from mapper.naming import object_name
from mapper.plan import Disposition, Finding, PgParameter, Severity
from mapper.policy import Naming
from mapper.review_rules import RuleDef, make_finding, rule_table
from mapper.rls import RlsTranslation
from mapper.translate.state import PlanState, fact_key
from mssql_extract.snapshot import Database

RULES = rule_table(
    [
        RuleDef("GB342", Severity.MEDIUM, "Audit actions not carried over to pgaudit",
                "Nothing in PostgreSQL records these actions: cover them another way (log_* "
                "parameters, the logs of the tools that perform them; Database Activity Streams "
                "or CloudTrail on RDS / Aurora) or record the gap as accepted."),
    ]
)  # fmt: skip

NO_MASKING = "PostgreSQL has no dynamic data masking: the column is unmasked until "
MASK_REASONS = {
    "GB330": NO_MASKING + "the suggested masked view and column privileges are in place",
    "GB331": NO_MASKING + "a masked expression is written by hand (no translation of its function)",
}


@dataclass(frozen=True)
class TableRls:
    """The row-level security outcome of one table, for the policies that target it."""

    policies: frozenset[str]  # keys of the security policies with a predicate on the table
    item: str | None  # the PgRowSecurity key, when one was emitted
    findings: tuple[str, ...]
    problem: str | None  # why no policy was emitted


def table_rls(
    naming: Naming,
    db: Database,
    translation: RlsTranslation,
    row_key: str | None,
    found: tuple[str, ...],
) -> TableRls:
    """The outcome of one table, with the policies that have a predicate on it."""
    wanted = (translation.table_schema, translation.table_name)
    policies = frozenset(
        p.key for p in db.security_policies
        if any((object_name(q.target_schema, naming), object_name(q.target_table, naming))
               == wanted for q in p.predicates)
    )  # fmt: skip
    where = f"{translation.table_schema}.{translation.table_name}"
    problem = None
    if row_key is None:
        problem = (f"{where}: predicate not translated, no policy emitted (GB320 says why)"
                   if not translation.faithful else f"{where}: the table is not in the snapshot")  # fmt: skip
    return TableRls(policies, row_key, found, problem)


def dispose_policies(state: PlanState, db: Database, tables: Iterable[TableRls]) -> None:
    """One disposition per security policy of ``db`` from the outcomes of its tables."""
    tables = list(tables)
    for policy in db.security_policies:
        fact, ref = fact_key(db.name, policy.key), str(policy.source_ref)
        mine = [t for t in tables if policy.key in t.policies]
        items = [t.item for t in mine if t.item]
        found = [k for t in mine for k in t.findings]
        problems = [t.problem for t in mine if t.problem]
        if not policy.predicates:
            state.dispose(fact, "security_policy", ref, Disposition.NOT_APPLICABLE,
                          reason="no predicates: it filters and blocks nothing")  # fmt: skip
        elif problems:
            state.dispose(fact, "security_policy", ref, Disposition.UNRESOLVED, items=items,
                          findings=found, reason="; ".join(problems))  # fmt: skip
        else:
            reason = "" if policy.enabled else "disabled (STATE = OFF): emitted, not enabled"
            state.dispose(fact, "security_policy", ref, Disposition.MAPPED, items=items,
                          findings=found, reason=reason)  # fmt: skip


def dispose_masked(state: PlanState, db: Database, found: Mapping[str, tuple[str, str]]) -> None:
    """One disposition per masked column; ``found``: its finding (key, rule) by column key."""
    for masked in db.masked_columns:
        key, rule = found[masked.key]
        state.dispose(fact_key(db.name, masked.key), "masked_column", str(masked.source_ref),
                      Disposition.UNRESOLVED, findings=[key], reason=MASK_REASONS[rule])  # fmt: skip


def dispose_audits(
    state: PlanState,
    settings: AuditSettings,
    parameters: Iterable[PgParameter],
    grants: Mapping[str, list[str]],
    summary: str | None,
) -> None:
    """One disposition per audit specification.

    Args:
        settings: the translation, with one outcome per specification.
        parameters: the plan's parameters (pgaudit's carry the facts of the specifications).
        grants: keys of the audit-role grants, by fact.
        summary: key of the GB341 finding, when pgaudit settings were emitted.
    """
    parameters = list(parameters)
    for outcome in settings.outcomes:
        items = [p.key for p in parameters
                 if outcome.fact in p.facts or p.name in outcome.parameters]  # fmt: skip
        items += grants.get(outcome.fact, [])
        disposition, reason = _audit_disposition(outcome)
        found = [summary] if summary and outcome.carried else []
        if outcome.lost:
            found.append(state.finding(_lost_finding(outcome)))
        state.dispose(outcome.fact, "audit_specification", outcome.source_ref, disposition,
                      items=items if outcome.carried else [], findings=found, reason=reason)  # fmt: skip


def _audit_disposition(outcome: SpecOutcome) -> tuple[Disposition, str]:
    if not outcome.enabled:
        return Disposition.NOT_APPLICABLE, "disabled (STATE = OFF) in SQL Server: audits nothing"
    if outcome.lost:
        partly = outcome.carried or outcome.elsewhere
        lost = "not carried over: " + "; ".join(outcome.lost)
        return (Disposition.APPROXIMATED if partly else Disposition.UNRESOLVED), lost
    if outcome.carried:
        return Disposition.MAPPED, "; ".join(
            f"logged outside pgaudit: {e}" for e in outcome.elsewhere
        )
    if outcome.elsewhere:
        return Disposition.NOT_APPLICABLE, "logged outside pgaudit: " + "; ".join(outcome.elsewhere)
    return Disposition.NOT_APPLICABLE, "no actions: audits nothing"


def _lost_finding(outcome: SpecOutcome) -> Finding:
    spec = make_finding(
        RULES["GB342"], f"{outcome.name}: " + "; ".join(outcome.lost),
        securable=f"{outcome.level} AUDIT SPECIFICATION {outcome.name}",
        source_ref=outcome.source_ref,
    )  # fmt: skip
    return spec.to_finding("Not audited in PostgreSQL: nothing in the plan records these actions.")
