"""The planner's working state: plan items being built, findings, and fact dispositions.

Translators add items through :class:`PlanState`; an item whose key already exists is not
duplicated — the later fact is recorded as ``implied`` by the existing item (least privilege:
one grant per privilege, however many source facts asked for it). The items and their facts
are kept by :class:`~mapper.translate.items.PlanItems`, which PlanState extends with what
the translators share besides: the roles being built, how source principals and databases map
to them, findings, fact dispositions, and the snapshot's objects indexed for lookups.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from mapper.effective import EffectivePermissions
from mapper.naming import NameRegistry
from mapper.plan import (
    AuthMethod,
    Disposition,
    FactDisposition,
    Finding,
    IamPolicy,
    PgObject,
    PgRole,
    RoleKind,
    trusted,
)
from mapper.policy import Policy
from mapper.translate.items import PlanItems
from mssql_extract.snapshot import Database, DbObject, SecuritySnapshot, fold

if TYPE_CHECKING:
    from mapper.translate.usage_advice import Advice

SERVER = "server"


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
    realm: str | None = None
    #: attribute → the facts that gave it (what a DENY taking it re-disposes:
    #: mapper.translate.deny_attributes)
    grounds: dict[str, set[str]] = field(default_factory=dict)

    def give(self, attribute: str, fact: str) -> None:
        """Give the role an attribute (CREATEDB …) for a source fact."""
        self.attributes.add(attribute)
        self.grounds.setdefault(attribute, set()).add(fact)

    def build(self) -> PgRole:
        return PgRole(
            name=self.name, kind=self.kind, login=self.login, auth=self.auth,
            attributes=tuple(sorted(self.attributes)), source=self.source,
            facts=tuple(sorted(self.facts)), comment=self.comment, realm=self.realm,
        )  # fmt: skip


@dataclass(frozen=True)
class Owned:
    """A database, schema or object whose ownership is carried after DENY restructuring
    (:mod:`mapper.translate.ownership`), which also disposes its fact."""

    fact: str
    kind: str  # database, schema, object
    ref: str
    db: Database
    owner: str | None  # the source owner: a login for a database, else a database principal
    owner_role: str  # the NOLOGIN role that owns it on the target
    item: str  # the plan item's key
    schema: str | None = None  # a schema's name, an object's schema
    name: str | None = None  # an object's name
    findings: tuple[str, ...] = ()


def _sorted_set(keys: Iterable[str]) -> tuple[str, ...]:
    """``tuple(sorted(set(keys)))``; most facts have no findings and one item or none."""
    if isinstance(keys, list | tuple) and len(keys) < 2:
        return tuple(keys)
    return tuple(sorted(set(keys)))


def fact_key(scope: str, key: str) -> str:
    """A fact key qualified by its scope: ``server/login:sa`` or ``Sales/perm:…``."""
    return f"{scope}/{key}"


@dataclass
class PlanState(PlanItems):
    """Everything the translators share while building one plan."""

    snapshot: SecuritySnapshot
    policy: Policy
    names: NameRegistry
    engine: EffectivePermissions
    roles: dict[str, RoleSpec] = field(default_factory=dict)
    findings: dict[str, Finding] = field(default_factory=dict)
    dispositions: dict[str, FactDisposition] = field(default_factory=dict)
    iam: dict[str, IamPolicy] = field(default_factory=dict)
    #: (scope, folded principal) → PostgreSQL role name ("PUBLIC" for public)
    principal_roles: dict[tuple[str, str], str] = field(default_factory=dict)
    #: source database (folded) → target database name
    databases: dict[str, str] = field(default_factory=dict)
    #: ownership to carry once DENYs are restructured (owners are never denied)
    owned: list[Owned] = field(default_factory=list)
    #: (role, source database) pairs a DENY covering CONNECT shuts out of the database
    #: (mapper.translate.deny_shut): ownership gives them nothing there either
    shut_out: set[tuple[str, str]] = field(default_factory=set)
    #: findings whose advised GRANTs may need USAGE on their schemas too, known once the plan
    #: has its USAGE grants (mapper.translate.usage_advice)
    usage_advice: list[Advice] = field(default_factory=list)

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

    # ------------------------------------------------------------------ the snapshot's objects

    #: per database: object key → object, folded schema → objects (built on first use)
    _objects: dict[str, dict[str, DbObject]] = field(default_factory=dict)
    _by_schema: dict[str, dict[str, list[DbObject]]] = field(default_factory=dict)
    #: (database key, object key) → its target object (mapper.translate.objects.pg_object):
    #: asked once per object and grant, built once per object
    pg_objects: dict[tuple[str, str], PgObject | None] = field(default_factory=dict)
    #: (database key, folded schema) → its objects with their target objects
    #: (mapper.translate.objects.pg_objects_in); database key → the schemas the plan has, sorted
    #: (mapper.translate.objects.schemas_of). Both only read the snapshot and pg_objects.
    pg_by_schema: dict[tuple[str, str], list[tuple[DbObject, PgObject]]] = field(
        default_factory=dict
    )
    schemas: dict[str, list[str]] = field(default_factory=dict)
    #: database key → its GRANT rows that let a principal create in a schema, as (class,
    #: permission, folded grantee, folded schema for a SCHEMA row) (mapper.translate.permissions)
    creation_rows: dict[str, frozenset[tuple[str, str, str, str | None]]] = field(
        default_factory=dict
    )

    def find_object(self, db: Database, schema: str | None, name: str | None) -> DbObject | None:
        """The snapshot object called schema.name in a database (case-insensitive)."""
        index = self._objects.get(db.key)
        if index is None:
            index = self._objects[db.key] = {o.key: o for o in db.objects}
        return index.get(f"object:{fold(schema or 'dbo')}.{fold(name or '')}")

    def objects_in(self, db: Database, schema: str) -> list[DbObject]:
        """The objects of one schema, in key order."""
        index = self._by_schema.get(db.key)
        if index is None:
            index = self._by_schema[db.key] = {}
            for obj in db.objects:
                index.setdefault(fold(obj.schema_name), []).append(obj)
        return index.get(fold(schema), [])

    # ------------------------------------------------------------------ findings and facts

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
        self.dispositions[fact] = trusted(FactDisposition, {
            "fact": fact, "kind": kind, "source_ref": source_ref, "disposition": disposition,
            "items": _sorted_set(items), "findings": _sorted_set(findings), "reason": reason,
        })  # fmt: skip
