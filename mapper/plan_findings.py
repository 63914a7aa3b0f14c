"""Plan items for review: findings (over-grants, risks, decisions for a human) with their
severity, and the disposition of every source fact (DESIGN §3.4, §3.5).
"""

from __future__ import annotations

from enum import StrEnum

from mapper.plan_base import PlanModel


class Severity(StrEnum):
    CRITICAL = "critical"
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"
    INFO = "info"

    @property
    def rank(self) -> int:
        """Higher is worse: critical 4 … info 0."""
        return ["info", "low", "medium", "high", "critical"].index(self.value)


class Disposition(StrEnum):
    """What became of a source fact (DESIGN §3.4). Exactly one per fact."""

    MAPPED = "mapped"
    IMPLIED = "implied"
    DOWNSCOPED = "downscoped"
    APPROXIMATED = "approximated"
    NOT_APPLICABLE = "not_applicable"
    EXCLUDED = "excluded"
    UNRESOLVED = "unresolved"


class Finding(PlanModel):
    """An over-grant, a risk, or something that needs a human decision (DESIGN §3.5)."""

    rule_id: str  # GB001 …
    severity: Severity
    title: str
    principal: str | None = None
    securable: str | None = None
    source_ref: str | None = None  # "file:line" or "view[key]"
    evidence: str
    action: str  # what the plan did
    remediation: str
    accepted: bool = False
    accepted_reason: str | None = None

    @property
    def key(self) -> str:
        return (
            f"{self.rule_id}:{self.principal or ''}:{self.securable or ''}:{self.source_ref or ''}"
        )


class FactDisposition(PlanModel):
    """The fate of one source fact: exactly one disposition, with the plan items it became."""

    fact: str  # snapshot fact key, qualified by database: "Sales/perm:OBJECT:dbo:orders:…"
    kind: str  # login, server_role, user, role, membership, permission, ownership, …
    source_ref: str
    disposition: Disposition
    items: tuple[str, ...] = ()  # keys of plan items
    findings: tuple[str, ...] = ()  # keys of findings
    reason: str = ""

    @property
    def key(self) -> str:
        return self.fact
