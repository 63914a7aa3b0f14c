"""Rule definitions and finding data shared by the module, RLS, masking and audit analyses.

The findings catalog (``mapper/findings.py``) belongs to the planner; these analyses only
*describe* what they found, as :class:`FindingSpec` data the planner turns into plan
:class:`~mapper.plan.Finding` items with :meth:`FindingSpec.to_finding` once it has decided what
the plan did about it. Rule ids GB300–GB349 are reserved for these analyses.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict

from mapper.plan import Finding, Severity

RESERVED_RANGE = range(300, 350)


@dataclass(frozen=True)
class RuleDef:
    """One rule of the catalog: id, default severity, title and the generic remediation."""

    rule_id: str
    severity: Severity
    title: str
    remediation: str


def rule_table(rules: Iterable[RuleDef]) -> Mapping[str, RuleDef]:
    """Index rules by id, refusing duplicates and ids outside GB300–GB349."""
    table: dict[str, RuleDef] = {}
    for rule in rules:
        if rule.rule_id in table:
            raise ValueError(f"rule {rule.rule_id} is defined twice")
        if int(rule.rule_id.removeprefix("GB")) not in RESERVED_RANGE:
            raise ValueError(f"rule {rule.rule_id} is outside the reserved range GB300-GB349")
        table[rule.rule_id] = rule
    return table


class FindingSpec(BaseModel):
    """A finding as data: everything a plan Finding needs except what the plan did (``action``)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    rule_id: str
    severity: Severity
    title: str
    principal: str | None = None
    securable: str | None = None
    source_ref: str | None = None
    evidence: str
    remediation: str

    @property
    def key(self) -> str:
        return (
            f"{self.rule_id}:{self.principal or ''}:{self.securable or ''}:{self.source_ref or ''}"
        )

    def to_finding(self, action: str) -> Finding:
        """The plan Finding, once the planner knows what it did (``action``)."""
        return Finding(**self.model_dump(), action=action)


def make_finding(rule: RuleDef, evidence: str, **fields: str | None) -> FindingSpec:
    """A FindingSpec for ``rule`` with its default severity, title and remediation."""
    severity = fields.pop("severity", None)
    return FindingSpec(
        rule_id=rule.rule_id,
        severity=Severity(severity) if severity else rule.severity,
        title=rule.title,
        evidence=evidence,
        remediation=rule.remediation,
        **fields,
    )
