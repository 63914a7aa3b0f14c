"""The planner's working state: plan items being built, findings, and fact dispositions.

Translators add items through :class:`PlanState`; an item whose key already exists is not
duplicated — the later fact is recorded as ``implied`` by the existing item (least privilege:
one grant per privilege, however many source facts asked for it).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from mapper.effective import EffectivePermissions
from mapper.naming import NameRegistry
from mapper.plan import (
    AuthMethod,
    Disposition,
    FactDisposition,
    Finding,
    IamPolicy,
    PgDatabase,
    PgDefaultPrivilege,
    PgGrant,
    PgMembership,
    PgObject,
    PgRevoke,
    PgRole,
    PgSchema,
    RoleKind,
)
from mapper.policy import Policy
from mssql_extract.snapshot import Database, SecuritySnapshot, fold

SERVER = "server"

Item = PgGrant | PgMembership | PgDefaultPrivilege | PgRevoke | PgSchema | PgObject | PgDatabase


@dataclass
class RoleSpec:
    """A role under construction (attributes and facts accumulate)."""

    name: str
    kind: RoleKind
    login: bool = False
    auth: AuthMethod = AuthMethod.NONE
    source: str = ""
    attributes: set[str] = field(default_factory=set)
    facts: set[str] = field(default_factory=set)
    comment: str = ""

    def build(self) -> PgRole:
        return PgRole(
            name=self.name, kind=self.kind, login=self.login, auth=self.auth,
            attributes=tuple(sorted(self.attributes)), source=self.source,
            facts=tuple(sorted(self.facts)), comment=self.comment,
        )  # fmt: skip


def fact_key(scope: str, key: str) -> str:
    """A fact key qualified by its scope: ``server/login:sa`` or ``Sales/perm:…``."""
    return f"{scope}/{key}"


@dataclass
class PlanState:
    """Everything the translators share while building one plan."""

    snapshot: SecuritySnapshot
    policy: Policy
    names: NameRegistry
    engine: EffectivePermissions
    roles: dict[str, RoleSpec] = field(default_factory=dict)
    items: dict[str, Item] = field(default_factory=dict)
    findings: dict[str, Finding] = field(default_factory=dict)
    dispositions: dict[str, FactDisposition] = field(default_factory=dict)
    iam: dict[str, IamPolicy] = field(default_factory=dict)
    #: (scope, folded principal) → PostgreSQL role name ("PUBLIC" for public)
    principal_roles: dict[tuple[str, str], str] = field(default_factory=dict)
    #: source database (folded) → target database name
    databases: dict[str, str] = field(default_factory=dict)

    # ------------------------------------------------------------------ roles

    def role(self, name: str, kind: RoleKind, **fields: Any) -> RoleSpec:
        """The role called ``name``, created on first use."""
        spec = self.roles.get(name)
        if spec is None:
            spec = self.roles[name] = RoleSpec(name=name, kind=kind, **fields)
        return spec

    def bind(self, scope: str, principal: str, role: str) -> None:
        """Record that a source principal becomes a PostgreSQL role."""
        self.principal_roles[(scope, fold(principal))] = role

    def role_of(self, scope: str, principal: str) -> str | None:
        """The PostgreSQL role of a source principal (None: excluded or not mapped)."""
        return self.principal_roles.get((scope, fold(principal)))

    def target_db(self, db: Database) -> str:
        return self.databases[fold(db.name)]

    # ------------------------------------------------------------------ items

    def add(self, item: Item, fact: str) -> tuple[str, bool]:
        """Add an item for ``fact``; returns its key and whether it is new."""
        existing = self.items.get(item.key)
        if existing is None:
            self.items[item.key] = item.model_copy(update={"facts": (fact,)})
            return item.key, True
        if fact not in existing.facts:
            facts = tuple(sorted({*existing.facts, fact}))
            self.items[item.key] = existing.model_copy(update={"facts": facts})
        return item.key, False

    def add_all(self, items: Iterable[Item], fact: str) -> tuple[list[str], bool]:
        """Add many items; returns their keys and whether any was new."""
        keys, fresh = [], False
        for item in items:
            key, new = self.add(item, fact)
            keys.append(key)
            fresh = fresh or new
        return keys, fresh

    def finding(self, finding: Finding) -> str:
        """Record a finding, marking it accepted when the policy accepts it."""
        accepted = self.policy.overgrants.acceptance(finding.rule_id, finding.principal)
        if accepted is not None:
            finding = finding.model_copy(
                update={"accepted": True, "accepted_reason": accepted.reason}
            )
        self.findings.setdefault(finding.key, finding)
        return finding.key

    def dispose(
        self, fact: str, kind: str, source_ref: str, disposition: Disposition, *,
        items: Iterable[str] = (), findings: Iterable[str] = (), reason: str = "",
    ) -> None:  # fmt: skip
        """Record what became of one source fact (exactly once: a second call is a bug)."""
        if fact in self.dispositions:
            raise AssertionError(f"fact {fact!r} was given two dispositions")
        self.dispositions[fact] = FactDisposition(
            fact=fact, kind=kind, source_ref=source_ref, disposition=disposition,
            items=tuple(sorted(set(items))), findings=tuple(sorted(set(findings))), reason=reason,
        )  # fmt: skip

    def of_type(self, kind: type[Any]) -> list[Any]:
        """Items of one model type, in key order."""
        return [self.items[k] for k in sorted(self.items) if isinstance(self.items[k], kind)]
