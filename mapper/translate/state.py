"""The planner's working state: plan items being built, findings, and fact dispositions.

Translators add items through :class:`PlanState`; an item whose key already exists is not
duplicated — the later fact is recorded as ``implied`` by the existing item (least privilege:
one grant per privilege, however many source facts asked for it).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from grantbridge.fields_sets import shared_fields_set
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
    PgDefaultRevoke,
    PgGrant,
    PgMembership,
    PgObject,
    PgRevoke,
    PgRole,
    PgSchema,
    PlanModel,
    RoleKind,
    trusted,
)
from mapper.policy import Policy
from mssql_extract.snapshot import Database, DbObject, SecuritySnapshot, fold

SERVER = "server"

Item = (
    PgGrant | PgMembership | PgDefaultPrivilege | PgRevoke | PgSchema | PgObject | PgDatabase
    | PgDefaultRevoke
)  # fmt: skip
Granted = PgGrant | PgDefaultPrivilege
_GRANTED = (PgGrant, PgDefaultPrivilege)


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

    def build(self) -> PgRole:
        return PgRole(
            name=self.name, kind=self.kind, login=self.login, auth=self.auth,
            attributes=tuple(sorted(self.attributes)), source=self.source,
            facts=tuple(sorted(self.facts)), comment=self.comment, realm=self.realm,
        )  # fmt: skip


_ItemT = TypeVar("_ItemT", bound=PlanModel)
_set = object.__setattr__


def copy_with(item: _ItemT, **changes: Any) -> _ItemT:
    """``item.model_copy(update=changes)``, about twice as fast (no validation either way).

    What pydantic's ``__copy__`` does, minus the generic parts a plan model never needs: plan
    models forbid extra fields and have no private attributes. The planner copies every grant at
    least once (facts written in, DENY-derived roles), so this is on its hottest path;
    ``tests/mapper/test_deny_signature.py`` checks the copy equals ``model_copy``'s.
    """
    cls = type(item)
    copied = cls.__new__(cls)
    _set(copied, "__dict__", {**item.__dict__, **changes})
    _set(copied, "__pydantic_extra__", None)
    _set(copied, "__pydantic_fields_set__", _fields_set(item.__pydantic_fields_set__, changes))
    _set(copied, "__pydantic_private__", None)
    return copied


def _fields_set(fields: set[str], changes: dict[str, Any]) -> set[str]:
    if changes.keys() <= fields:  # a grantee or the facts changed: the item's own (shared) set
        return fields
    return shared_fields_set(fields | changes.keys())


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
class PlanState:
    """Everything the translators share while building one plan."""

    snapshot: SecuritySnapshot
    policy: Policy
    names: NameRegistry
    engine: EffectivePermissions
    roles: dict[str, RoleSpec] = field(default_factory=dict)
    items: dict[str, Item] = field(default_factory=dict)
    #: item key → the facts it came from: one fact as a plain string, two or more as a set
    #: (most items have one, and a set of one costs 216 bytes: a tenth of the planner's memory)
    item_facts: dict[str, str | set[str]] = field(default_factory=dict)
    findings: dict[str, Finding] = field(default_factory=dict)
    dispositions: dict[str, FactDisposition] = field(default_factory=dict)
    iam: dict[str, IamPolicy] = field(default_factory=dict)
    #: (scope, folded principal) → PostgreSQL role name ("PUBLIC" for public)
    principal_roles: dict[tuple[str, str], str] = field(default_factory=dict)
    #: source database (folded) → target database name
    databases: dict[str, str] = field(default_factory=dict)
    #: grantee → its grants and default privileges by key; member → its memberships by key.
    #: Kept by add()/remove() so DENY restructuring never scans every item (insertion order,
    #: as in :attr:`items`).
    by_grantee: dict[str, dict[str, Granted]] = field(default_factory=dict)
    by_member: dict[str, dict[str, PgMembership]] = field(default_factory=dict)
    #: ownership to carry once DENYs are restructured (owners are never denied)
    owned: list[Owned] = field(default_factory=list)
    #: (role, source database) pairs a DENY covering CONNECT shuts out of the database
    #: (mapper.translate.deny_shut): ownership gives them nothing there either
    shut_out: set[tuple[str, str]] = field(default_factory=set)
    #: item keys by model type, made by the first hand_over() (the planner's last step)
    _handed: dict[type, list[str]] | None = None

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

    #: per database: object key → object, folded schema → objects (built on first use)
    _objects: dict[str, dict[str, DbObject]] = field(default_factory=dict)
    _by_schema: dict[str, dict[str, list[DbObject]]] = field(default_factory=dict)
    #: (database key, object key) → its target object (mapper.translate.objects.pg_object):
    #: asked once per object and grant, built once per object
    pg_objects: dict[tuple[str, str], PgObject | None] = field(default_factory=dict)
    #: (database key, folded schema) → its objects with their target objects
    #: (mapper.translate.objects.pg_objects_in); database key → its schemas, sorted
    #: (mapper.translate.grants.schemas_of). Both only read the snapshot and pg_objects.
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

    # ------------------------------------------------------------------ items

    def add(self, item: Item, fact: str, key: str | None = None) -> tuple[str, bool]:
        """Add an item for ``fact``; returns its key and whether it is new.

        Facts are collected in :attr:`item_facts` (adding stays O(1)) and written into the items
        by :meth:`of_type`. ``key``: ``item.key``, when the caller has spelled it already.
        """
        if key is None:
            key = item.key
        facts = self.item_facts.get(key)
        if facts is None:
            self.items[key] = item
            self.item_facts[key] = fact
            index = self._index(item)
            if index is not None:
                index[key] = item
            return key, True
        if isinstance(facts, str):
            if facts != fact:
                self.item_facts[key] = {facts, fact}
        else:
            facts.add(fact)
        return key, False

    def move(self, key: str, item: Item) -> str:
        """Put ``item`` in place of the item under ``key`` with that item's facts; returns its key.

        What :meth:`remove` and then :meth:`add` of each of the facts do, without sorting and
        adding them one by one (DENY restructuring moves a split role's grants: :meth:`move_grants`).
        """
        facts = self.item_facts[key]
        self.remove(key)
        moved = item.key
        if moved in self.item_facts:  # the item exists already: it gains the facts
            for fact in (facts,) if isinstance(facts, str) else sorted(facts):
                self.add(item, fact)
            return moved
        self.items[moved] = item
        self.item_facts[moved] = facts  # the removed item's: nothing else holds it
        index = self._index(item)
        if index is not None:
            index[moved] = item
        return moved

    def move_grants(self, grants: Iterable[tuple[str, Granted]], grantee: str, to: str) -> None:
        """:meth:`move` of each of ``grantee``'s ``grants`` (key, item) to the grantee ``to``.

        The new key is the old one with ``to`` at its end (every grant's and default
        privilege's key ends in its grantee): a split role's grants, most of the plan's at
        scale, move without their keys spelled again or their index looked up per grant.
        """
        items, item_facts = self.items, self.item_facts
        source, target = self.by_grantee[grantee], self.by_grantee.setdefault(to, {})
        cut = len(grantee)
        for key, item in grants:
            copy = copy_with(item, grantee=to)
            moved = key[: len(key) - cut] + to
            facts = item_facts.pop(key)
            del items[key], source[key]
            if moved in item_facts:  # the item exists already: it gains the facts
                for fact in (facts,) if isinstance(facts, str) else sorted(facts):
                    self.add(copy, fact, moved)
            else:
                items[moved] = copy
                item_facts[moved] = facts  # the removed item's: nothing else holds it
                target[moved] = copy

    def remove(self, key: str) -> None:
        """Drop an item (DENY restructuring, implied grants)."""
        item = self.items.pop(key)
        del self.item_facts[key]
        index = self._index(item)
        if index is not None:
            del index[key]

    def _index(self, item: Item) -> dict[str, Any] | None:
        """The items of the same grantee or member, by key (None: a kind not indexed)."""
        if isinstance(item, _GRANTED):  # a tuple: checked faster than a union (hot: issue 7)
            return self.by_grantee.setdefault(item.grantee, {})
        if isinstance(item, PgMembership):
            return self.by_member.setdefault(item.member, {})
        return None

    def granted_to(self, grantee: str) -> list[tuple[str, Granted]]:
        """The grants and default privileges of one grantee with their keys (without facts)."""
        return list(self.by_grantee.get(grantee, {}).items())

    def granted_keys(self, grantee: str) -> Iterable[str]:
        """The keys of one grantee's grants and default privileges (a live view)."""
        return self.by_grantee.get(grantee, {}).keys()

    def memberships(self) -> list[PgMembership]:
        """Every membership, in no particular order (without their facts: no copies)."""
        return [m for index in self.by_member.values() for m in index.values()]

    def memberships_of(self, member: str) -> list[PgMembership]:
        """The memberships of one member, in key order (without their facts)."""
        return [m for _, m in sorted(self.by_member.get(member, {}).items())]

    def facts_of(self, key: str) -> tuple[str, ...]:
        """The facts of one item, sorted (as :meth:`of_type` writes them)."""
        facts = self.item_facts[key]
        return (facts,) if isinstance(facts, str) else tuple(sorted(facts))

    def facts_in(self, key: str) -> Collection[str]:
        """The facts of one item, in no particular order (no copy)."""
        facts = self.item_facts[key]
        return (facts,) if isinstance(facts, str) else facts

    def add_all(self, items: Iterable[Item], fact: str) -> tuple[list[str], bool]:
        """Add many items; returns their keys and whether any was new."""
        keys, fresh = [], False
        for item in items:
            key, new = self.add(item, fact)
            keys.append(key)
            fresh = fresh or new
        return keys, fresh

    def add_keyed(self, items: Iterable[tuple[str, Item]], fact: str) -> tuple[list[str], bool]:
        """:meth:`add_all` of items whose keys the caller has (each with its key).

        :meth:`add` inlined: the permission rows add every grant they make here (issue 7;
        ``tests/mapper/test_permission_fast_paths.py`` checks it against :meth:`add_all`).
        """
        keys, fresh = [], False
        all_items, item_facts = self.items, self.item_facts
        for key, item in items:
            keys.append(key)
            facts = item_facts.get(key)
            if facts is None:
                all_items[key] = item
                item_facts[key] = fact
                index = self._index(item)
                if index is not None:
                    index[key] = item
                fresh = True
            elif isinstance(facts, str):
                if facts != fact:
                    item_facts[key] = {facts, fact}
            else:
                facts.add(fact)
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
        self.dispositions[fact] = trusted(FactDisposition, {
            "fact": fact, "kind": kind, "source_ref": source_ref, "disposition": disposition,
            "items": _sorted_set(items), "findings": _sorted_set(findings), "reason": reason,
        })  # fmt: skip

    def of_type(self, kind: type[Any]) -> list[Any]:
        """Items of one model type, in key order, with their facts."""
        keys = sorted(k for k, item in self.items.items() if isinstance(item, kind))
        return [copy_with(self.items[k], facts=self.facts_of(k)) for k in keys]

    def hand_over(self, kind: type[Any]) -> list[Any]:
        """:meth:`of_type` for the finished plan: facts written into the items themselves.

        The state is discarded once the plan is built, so its items are handed over instead of
        copied (a copy of every item was a fifth of the planner's peak memory at scale). Only
        the planner's last step may call this: the items are not to be read as state after it.
        """
        if self._handed is None:  # the items no longer change: group them once, not per kind
            self._handed = {}
            for key, item in self.items.items():
                self._handed.setdefault(type(item), []).append(key)
        items = []
        # by the fields set an item holds now (shared: a handful), which the entry keeps alive
        # so that its id is not reused
        with_facts: dict[int, tuple[set[str], set[str]]] = {}
        all_items, item_facts = self.items, self.item_facts  # facts_of(), inlined: hot at scale
        for key in sorted(self._handed.get(kind, ())):
            item = all_items[key]
            facts = item_facts[key]
            item.__dict__["facts"] = (facts,) if type(facts) is str else tuple(sorted(facts))
            fields = item.__pydantic_fields_set__
            entry = with_facts.get(id(fields))
            if entry is None:
                entry = with_facts[id(fields)] = (fields, _fields_set(fields, {"facts": ()}))
            _set(item, "__pydantic_fields_set__", entry[1])
            items.append(item)
        return items
