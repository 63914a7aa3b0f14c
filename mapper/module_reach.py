"""Ownership chains followed from module to module: what a caller reaches without a check.

SQL Server compares each object a chain reaches with the object that referenced it, "the
previous link in the chain": the same owner, and "permissions on the referenced object are not
evaluated"; another owner, and the execution context is checked, and the chain goes on from the
referenced object, against *its* owner ("Ownership Chains",
https://learn.microsoft.com/sql/relational-databases/security/ownership-chains). So a caller of
view ``v`` (dbo) calling function ``f1`` (dbo) calling ``f2`` (dbo) reading table ``t`` is
checked on ``v`` only when ``t`` is dbo's too, and on ``v`` and ``t`` when ``t`` is carol's.

:func:`chain_reliance` walks that chain for every principal from each module it may use itself,
breadth first (the shortest way to each module, once: recursive and mutually recursive modules
end the walk), and records every object the principal reaches only through an intact link
(:class:`ChainReliance`, ``via`` naming the modules on the way). It does not go

* across a broken link the principal holds no permission for: SQL Server refuses it there;
* below a module with an ``EXECUTE AS`` other than CALLER: "the execution context is switched
  to the proxy user. All code, as well as any calls to nested stored procedures or triggers,
  executes under the security context of the proxy user" (Customizing Permissions with
  Impersonation in SQL Server, https://learn.microsoft.com/dotnet/framework/data/adonet/sql/
  customizing-permissions-with-impersonation-in-sql-server); the principal's own permissions
  are checked nowhere below it (that module's links are still recorded, as for a module the
  principal runs itself);
* into dynamic SQL, which never chains (EXECUTE AS clause, https://learn.microsoft.com/sql/
  t-sql/statements/execute-as-clause-transact-sql).

A synonym is one more link on the way to its base object (:class:`Link`): the principal passes
it where its owner is the module's or the principal holds the permission on the synonym, and
then the base object as any link, against the synonym's owner.

Module bodies are needed: without ``--include-definitions`` a module has no links (GB309).

A walk asks principals × modules questions, most answered "no". Principals the engine gives
the same verdicts (:meth:`~mapper.effective.EffectivePermissions.verdict_key`: role-mates who
hold nothing themselves) share one walk, and a walk asks only about the objects its
principal's GRANTs could allow (:class:`Checker`): on a call-heavy estate, 300 procedures and
220 principals, that was 66,600 questions about who may run which procedure.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Hashable, Iterable, Iterator
from dataclasses import dataclass
from typing import TypeVar

from pydantic import BaseModel, ConfigDict

from grantbridge.errors import MappingError
from mapper.effective import EffectivePermissions
from mapper.module_findings import (
    CALLER_PERMISSION,
    ObjectIndex,
    allowed,
    owner_of,
    resolve_through,
)
from mapper.modules import RULES, ModuleAnalysis
from mapper.review_rules import FindingSpec, make_finding
from mssql_extract.snapshot import Database, DbObject, fold

T = TypeVar("T")


class ChainReliance(BaseModel):
    """``principal`` reaches ``target`` only through module ``module`` (same owner); ``via``:
    the modules it ran on the way, from the one it may use itself (empty: that is ``module``)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    database: str
    module_schema: str
    module_name: str
    principal: str
    target_schema: str
    target_name: str
    access: str
    owner: str
    via: tuple[str, ...] = ()

    @property
    def key(self) -> str:
        return fold(
            f"{self.database}/{self.module_schema}.{self.module_name}:{self.principal}:"
            f"{self.target_schema}.{self.target_name}:{self.access}"
        )

    @property
    def module(self) -> str:
        return f"{self.module_schema}.{self.module_name}"

    @property
    def target(self) -> str:
        return f"{self.target_schema}.{self.target_name}"


@dataclass(frozen=True)
class Link:
    """One reference of a module to a snapshot object; ``intact``: both have one owner. Through
    a synonym, ``target`` is its base object and the synonym is one more link: ``intact`` when
    the module, the synonym and the base object have one owner, ``to_synonym`` and ``to_base``
    for each of the two links (SQL Server checks the synonym, then the base object, where the
    owner changes)."""

    target: DbObject
    access: str
    intact: bool
    key: str  # the target's key, kept: walks ask for it at every step
    synonym: DbObject | None = None
    to_synonym: bool = True
    to_base: bool = True
    owner: str | None = None  # the target's owner, where it is reached through a synonym

    @property
    def chains(self) -> bool:
        """Whether the last link is intact: its target is not checked when reached."""
        return self.intact or (self.synonym is not None and self.to_base)

    def passes(self, can: Callable[[DbObject, str], bool]) -> bool:
        """Whether SQL Server lets a principal (``can``) through every link to the target."""
        if self.synonym is None:
            return self.intact or can(self.target, self.access)
        return (self.to_synonym or can(self.synonym, self.access)) and (
            self.to_base or can(self.target, self.access)
        )


@dataclass(frozen=True)
class Node:
    """A module with its owner and its links (none when its owner is unknown)."""

    module: DbObject
    analysis: ModuleAnalysis
    owner: str | None
    links: tuple[Link, ...]

    @property
    def qualified(self) -> str:
        return f"{self.module.schema_name}.{self.module.name}"

    @property
    def switches(self) -> bool:
        """Whether it runs in another execution context than its caller's (EXECUTE AS)."""
        return (self.analysis.execute_as or "CALLER").upper() != "CALLER"


Graph = dict[str, Node]


def module_graph(
    database: Database, analyses: Iterable[ModuleAnalysis], index: ObjectIndex | None = None
) -> Graph:
    """Module key → :class:`Node`, links in reference order (sorted: deterministic walks).
    A reference to a synonym links to its base object; one whose base object is not the
    database's is left out (:attr:`mapper.module_findings.ModuleChain.unknown` says so)."""
    index = index or ObjectIndex(database)
    graph: Graph = {}
    for analysis in analyses:
        module = index.by_key.get(f"object:{fold(analysis.schema_name)}.{fold(analysis.name)}")
        if module is None:
            continue
        owner = owner_of(database, module)
        links = []
        for ref in analysis.references if owner is not None else ():
            target, synonym, _ = resolve_through(database, module, ref, index)
            if target is None:
                continue
            target_owner = fold(owner_of(database, target) or "")
            if synonym is None:
                same = target_owner == fold(owner or "")
                links.append(Link(target=target, access=ref.access, intact=same, key=target.key))
                continue
            synonym_owner = fold(owner_of(database, synonym) or "")
            to_synonym, to_base = synonym_owner == fold(owner or ""), target_owner == synonym_owner
            links.append(Link(
                target=target, access=ref.access, intact=to_synonym and to_base, key=target.key,
                synonym=synonym, to_synonym=to_synonym, to_base=to_base,
                owner=owner_of(database, target),
            ))  # fmt: skip
        graph[module.key] = Node(module=module, analysis=analysis, owner=owner, links=tuple(links))
    return graph


def chain_reliance(
    database: Database,
    analyses: Iterable[ModuleAnalysis],
    perms: EffectivePermissions,
    index: ObjectIndex | None = None,
    graph: Graph | None = None,
) -> tuple[ChainReliance, ...]:
    """Every (principal, module, object) where access works only through ownership chaining,
    at any depth (see the module docstring)."""
    principals = sorted(
        {u.name for u in database.users}
        | {r.name for r in database.roles}
        | {a.name for a in database.application_roles}
        | {"public"}
    )
    graph = graph if graph is not None else module_graph(database, analyses, index)
    # a module with no intact link and no module behind a link gives nobody anything
    entries = sorted(
        key for key, node in graph.items()
        if node.module.kind in CALLER_PERMISSION
        and any(link.chains or link.key in graph for link in node.links)
    )  # fmt: skip
    found: dict[str, ChainReliance] = {}
    walks: dict[Hashable, list[Step]] = {}  # principals given the same verdicts walk alike
    for principal in principals:
        share = _verdict_key(perms, database, principal)
        steps = walks.get(share) if share is not None else None
        if steps is None:
            steps = list(_walk(graph, entries, Checker(perms, database, principal)))
            if share is not None:
                walks[share] = steps
        for node, link, via in steps:
            item = ChainReliance(
                database=database.name, module_schema=node.module.schema_name,
                module_name=node.module.name, principal=principal,
                target_schema=link.target.schema_name, target_name=link.target.name,
                access=link.access, owner=(link.owner if link.synonym else node.owner) or "", via=via,
            )  # fmt: skip
            found.setdefault(item.key, item)  # breadth first: the shortest way comes first
    return tuple(found[k] for k in sorted(found))


def _verdict_key(perms: EffectivePermissions, database: Database, principal: str) -> Hashable:
    """The engine's :meth:`~mapper.effective.EffectivePermissions.verdict_key`; None (walk
    alone) where it does not know the principal, as explain() would not."""
    try:
        return perms.verdict_key(database.name, principal)
    except MappingError:
        return None


class Checker:
    """SQL Server's answer for one principal on objects themselves (no chain), remembered.

    An object outside the engine's :meth:`~mapper.effective.EffectivePermissions.object_grants`
    for the permission is refused without a question: most principals hold EXECUTE on a few of
    the modules, and every one of them is asked about every module.
    """

    def __init__(self, perms: EffectivePermissions, database: Database, principal: str) -> None:
        self.perms, self.database, self.principal = perms, database, principal
        self._known: dict[tuple[str, str], bool] = {}
        self._bounds: dict[str, set[str] | None] = {}

    def __call__(self, obj: DbObject, permission: str, key: str | None = None) -> bool:
        """``key``: ``obj.key`` where the caller has it at hand."""
        key = key or obj.key
        answer = self._known.get((key, permission))
        if answer is None:
            answer = self._known[(key, permission)] = self._ask(obj, permission, key)
        return answer

    def _ask(self, obj: DbObject, permission: str, key: str) -> bool:
        if permission not in self._bounds:
            try:
                bound = self.perms.object_grants(self.database.name, self.principal, permission)
            except MappingError:
                bound = None  # explain() raises too, and allowed() says no
            # as object keys (names folded, as the bound's are): a dotted name that makes two
            # objects one key only asks the engine once more
            self._bounds[permission] = (
                None if bound is None else {f"object:{s.schema_name}.{s.name}" for s in bound}
            )
        bound_keys = self._bounds[permission]
        if bound_keys is not None and key not in bound_keys:
            return False
        return allowed(self.perms, self.database, self.principal, obj, permission)


#: A reliance of a walk, whoever walks it: the module, its intact link to an object the walker
#: may not use itself, and the modules on the way (:class:`ChainReliance`).
Step = tuple[Node, Link, tuple[str, ...]]


def _walk(graph: Graph, entries: list[str], can: Checker) -> Iterator[Step]:
    """One principal's reliances, breadth first from the modules it may use itself."""
    queue: deque[tuple[str, tuple[str, ...]]] = deque(
        (key, ()) for key in entries
        if can(graph[key].module, CALLER_PERMISSION[graph[key].module.kind], key)
    )  # fmt: skip
    seen = {key for key, _ in queue}
    while queue:
        key, via = queue.popleft()
        node = graph[key]
        for link in node.links:
            if not link.passes(can):
                continue  # a broken link the principal may not pass: refused there
            if not can(link.target, link.access, link.key):  # passed by chaining alone
                yield node, link, via
            if link.key in graph and link.key not in seen and not node.switches:
                seen.add(link.key)
                queue.append((link.key, (*via, node.qualified)))


#: How many objects a GB306 names in its evidence, nearest first; the rest are counted.
EVIDENCE_NAMED = 100


def entry_of(chain: ChainReliance) -> str:
    """The module the principal runs itself on its (shortest) way to the reliance."""
    return chain.via[0] if chain.via else chain.module


def chain_groups(chains: Iterable[ChainReliance]) -> dict[tuple[str, str], list[ChainReliance]]:
    """Reliances by (folded principal, folded entry module: :func:`entry_of`), in key order,
    each group nearest first. Each reliance is in exactly one group: the entry of its shortest
    way, so a principal's groups together hold everything it reaches only through chains."""
    return entry_groups(chains, _itself)


def entry_groups(
    items: Iterable[T], chain_of: Callable[[T], ChainReliance]
) -> dict[tuple[str, str], list[T]]:
    """:func:`chain_groups` of items that each carry a reliance (``chain_of`` finds it), kept
    whole: the GB306 of a group wants what the plan did about each reliance too."""
    groups: dict[tuple[str, str], list[T]] = {}
    for item in items:
        chain = chain_of(item)
        groups.setdefault((fold(chain.principal), fold(entry_of(chain))), []).append(item)
    return {
        key: sorted(groups[key], key=lambda item: _nearest(chain_of(item)))
        for key in sorted(groups)
    }


def _itself(chain: ChainReliance) -> ChainReliance:
    return chain


def _nearest(chain: ChainReliance) -> tuple[int, str, str, str]:
    return (len(chain.via), fold(chain.module), fold(chain.target), chain.access)


def chain_finding(chains: list[ChainReliance]) -> FindingSpec:
    """One GB306 for a principal and a module it runs itself (one :func:`chain_groups` group):
    every object it reaches through that module only by ownership chaining, at any depth."""
    first = chains[0]
    entry = entry_of(first)
    owners = sorted({c.owner for c in chains}, key=fold)
    named = ", ".join(_item(c) for c in chains[:EVIDENCE_NAMED])
    rest = chains[EVIDENCE_NAMED:]
    if rest:
        counts: dict[str, int] = {}
        for chain in rest:
            counts[chain.access] = counts.get(chain.access, 0) + 1
        named += f", and {len(rest)} more as deep or deeper (" + ", ".join(
            f"{access} on {n}" for access, n in sorted(counts.items())
        ) + ")"  # fmt: skip
    many = len(chains) > 1
    return make_finding(
        RULES["GB306"],
        f"{first.principal} can run {entry} and through it reaches "
        f"{len(chains) if many else 'an'} {'objects' if many else 'object'} only by ownership "
        f"chaining (no permission of its own; owned by {', '.join(owners)}, as the modules "
        f"that use {'them' if many else 'it'}): {named}",
        principal=first.principal,
        securable=entry,
        source_ref=first.database,
    )


def _item(chain: ChainReliance) -> str:
    """``ACCESS on target``, with the way to the module that uses it when that is deeper."""
    way = f" ({' -> '.join((*chain.via, chain.module))})" if chain.via else ""
    return f"{chain.access} on {chain.target}{way}"
