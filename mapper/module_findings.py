"""Findings implied by module analysis, ownership-chain reliance, and each module's chain.

Ownership chaining: in SQL Server, when a module and the objects it touches have the same owner,
the caller needs permission on the module only (DOCS: "Ownership Chains",
https://learn.microsoft.com/sql/relational-databases/security/ownership-chains: "If both
objects have the same owner, permissions on the referenced object are not evaluated"). Where
the owners differ the chain is broken and the referenced object is checked against the
execution context: the caller, or with ``EXECUTE AS`` the owner or the named user; dynamic SQL
is a batch of its own and never chains. PostgreSQL has no such chain: a SECURITY INVOKER
routine checks every object against the caller, a SECURITY DEFINER routine and a view against
their owner. So

* a principal that can run a module but holds no permission on an object the module touches,
  where the owners match, loses that access in PostgreSQL unless the module runs with its
  owner's privileges or the object is granted to it (:func:`mapper.module_reach.chain_reliance`,
  which follows the chain from module to module);
* a module may run with its owner's privileges only where every object it touches is its
  owner's, or a caller would reach through it what SQL Server checked against the caller
  (:class:`ModuleChain`, :func:`module_chain`).
"""

from __future__ import annotations

from collections.abc import Iterator

from pydantic import BaseModel, ConfigDict

from grantbridge.errors import MappingError
from mapper.effective import EffectivePermissions, Securable
from mapper.module_names import ObjectIndex as ObjectIndex
from mapper.module_names import ambiguous as ambiguous
from mapper.module_names import base_of as base_of
from mapper.module_names import default_schema as default_schema
from mapper.module_names import elsewhere as elsewhere
from mapper.module_names import lookup as lookup
from mapper.module_names import owner_of as owner_of
from mapper.module_names import resolve as resolve
from mapper.module_names import resolve_through as resolve_through
from mapper.modules import RULES, ModuleAnalysis
from mapper.review_rules import FindingSpec, make_finding
from mssql_extract.snapshot import Database, DbObject, ObjectKind, fold

#: The permission a caller needs to use a module of each kind.
CALLER_PERMISSION: dict[ObjectKind, str] = {
    ObjectKind.PROCEDURE: "EXECUTE",
    ObjectKind.SCALAR_FUNCTION: "EXECUTE",
    ObjectKind.TABLE_FUNCTION: "SELECT",
    ObjectKind.VIEW: "SELECT",
}


class ChainLink(BaseModel):
    """One object a module references (``access``), with the object's owner."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    schema_name: str
    name: str
    access: str
    owner: str | None

    @property
    def qualified(self) -> str:
        return f"{self.schema_name}.{self.name}"


class ModuleChain(BaseModel):
    """A module's references against its owner: ``intact`` (the same owner: SQL Server checks
    no permission on them) and ``broken`` (another owner: SQL Server checks the execution
    context), whether it runs dynamic SQL (never chained), and ``unknown``: why its references
    are not all known (no body and other owners in the database, statements not read).

    References that resolve to no object of the snapshot (another database, a system view, an
    object the export left out) are in neither list: no owner role of the plan owns them, so
    running as one gives the module nothing on them.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    schema_name: str
    name: str
    owner: str | None
    intact: tuple[ChainLink, ...] = ()
    broken: tuple[ChainLink, ...] = ()
    dynamic: bool = False
    unknown: str | None = None

    @property
    def qualified(self) -> str:
        return f"{self.schema_name}.{self.name}"

    @property
    def owner_safe(self) -> bool:
        """Whether running with the owner's privileges gives no caller more than SQL Server:
        every object it touches is the owner's, no dynamic SQL, nothing unknown."""
        return not (self.broken or self.dynamic or self.unknown)

    @property
    def broken_objects(self) -> tuple[ChainLink, ...]:
        """One broken link per object (a table read and written is named once)."""
        seen: dict[str, ChainLink] = {}
        for link in self.broken:
            seen.setdefault(fold(link.qualified), link)
        return tuple(seen.values())

    def why_not(self) -> str:
        """Why the module may not run with its owner's privileges, as a clause ("" if it may)."""
        reasons = [
            f"{link.qualified} is owned by {link.owner or 'someone unknown'}, not {self.owner}"
            for link in self.broken_objects
        ]
        if self.dynamic:
            reasons.append("its dynamic SQL runs as the caller in SQL Server (it never chains)")
        if self.unknown:
            reasons.append(self.unknown)
        return "; ".join(reasons)


def module_chain(
    database: Database, module: DbObject, analysis: ModuleAnalysis, index: ObjectIndex | None = None
) -> ModuleChain:
    """How the objects ``module`` references stand against its owner (see :class:`ModuleChain`)."""
    index = index or ObjectIndex(database)
    owner = owner_of(database, module)
    intact: list[ChainLink] = []
    broken: list[ChainLink] = []
    unresolved: set[str] = set()
    for ref in analysis.references if owner is not None else ():
        target, synonym, why = resolve_through(database, module, ref, index)
        if why is not None:
            unresolved.add(why)
        if target is None:
            continue
        hops = [synonym, target] if synonym is not None else [target]
        links = [_link(database, hop, ref.access) for hop in hops]
        if all(fold(link.owner or "") == fold(owner or "") for link in links):
            intact.append(links[-1])  # a synonym's base object: what the module reaches
        else:
            broken += [link for link in links if fold(link.owner or "") != fold(owner or "")]
    unknown = [_unknown(index, module, analysis, owner)]
    if unresolved:
        unknown.append("it references " + "; ".join(sorted(unresolved)))
    return ModuleChain(
        schema_name=module.schema_name, name=module.name, owner=owner, intact=tuple(intact),
        broken=tuple(broken), dynamic=bool(analysis.dynamic_sql),
        unknown="; ".join(u for u in unknown if u) or None,
    )  # fmt: skip


def _unknown(
    index: ObjectIndex, module: DbObject, analysis: ModuleAnalysis, owner: str | None
) -> str | None:
    """Why the module's references are not all known, or None."""
    database = index.database
    if owner is None:
        return "its owner is not in the snapshot"
    if not module.definition:
        others = [o for o in index.owners if fold(o) != fold(owner)]
        if not others:
            return None  # whatever it references in its database is its owner's
        return (
            f"its body is not in the snapshot, and objects of {database.name} have other owners "
            f"than {owner} ({', '.join(others[:3])}{', …' if len(others) > 3 else ''})"
        )
    if analysis.unparsed:
        count = len(analysis.unparsed)
        return f"{count} statement{'s' if count > 1 else ''} of its body could not be read (GB308)"
    return None


def _link(database: Database, obj: DbObject, access: str) -> ChainLink:
    return ChainLink(schema_name=obj.schema_name, name=obj.name, access=access,
                     owner=owner_of(database, obj))  # fmt: skip


def allowed(
    perms: EffectivePermissions, database: Database, principal: str, obj: DbObject, permission: str
) -> bool:
    """Whether SQL Server lets ``principal`` use ``permission`` on ``obj`` itself (no chain)."""
    securable = Securable("OBJECT", obj.schema_name, obj.name)
    try:
        return perms.explain(database.name, principal, securable, permission).allowed
    except MappingError:
        return False  # a permission the object's class lacks (e.g. EXECUTE on a table)


# --------------------------------------------------------------------------- findings


def module_findings(
    analysis: ModuleAnalysis, source_ref: str | None = None, database: str | None = None
) -> tuple[FindingSpec, ...]:
    """The findings one module implies: EXECUTE AS, dynamic SQL, cross-database, unparsed.
    ``database``: the module's own, whose three-part names are no other database's."""
    module = f"{analysis.schema_name}.{analysis.name}"
    found: list[FindingSpec] = []
    execute_as = (analysis.execute_as or "CALLER").upper()
    if execute_as == "OWNER":
        found.append(make_finding(RULES["GB300"], f"{module} is declared WITH EXECUTE AS OWNER",
                                  securable=module, source_ref=source_ref))  # fmt: skip
    elif execute_as != "CALLER":
        found.append(make_finding(RULES["GB301"], f"{module} runs as {analysis.execute_as}",
                                  securable=module, source_ref=source_ref))  # fmt: skip
    found.extend(_dynamic_findings(analysis, module, source_ref))
    own = fold(database or "")
    for name in sorted(
        {r.qualified for r in analysis.references if r.database and fold(r.database) != own}
    ):
        found.append(make_finding(RULES["GB307"], f"{module} references {name}",
                                  securable=module, source_ref=f"{source_ref or module}->{name}"))  # fmt: skip
    for note in analysis.unparsed:
        found.append(make_finding(RULES["GB308"], f"{module}: {note}", securable=module,
                                  source_ref=f"{source_ref or module}#{note.split(':')[0]}"))  # fmt: skip
    return tuple(found)


def _dynamic_findings(
    analysis: ModuleAnalysis, module: str, source_ref: str | None
) -> Iterator[FindingSpec]:
    for dyn in analysis.dynamic_sql:
        where = f"{source_ref or module}#line {dyn.line}"
        if not dyn.concatenated:
            rule, detail = RULES["GB305"], "runs parameterised dynamic SQL"
        elif dyn.quotename_all:
            rule, detail = RULES["GB304"], "concatenates only QUOTENAME'd parts into dynamic SQL"
        elif analysis.runs_as_owner:
            rule, detail = (
                RULES["GB302"],
                "runs as owner and concatenates " + ", ".join(dyn.unquoted_parts),
            )
        else:
            rule, detail = RULES["GB303"], "concatenates " + ", ".join(dyn.unquoted_parts)
        yield make_finding(
            rule, f"{module} {detail}: {dyn.text}", securable=module, source_ref=where
        )
