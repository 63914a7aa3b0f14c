"""Findings implied by module analysis, and ownership-chain reliance.

Ownership chaining: in SQL Server, when a module and the objects it touches have the same owner,
the caller needs permission on the module only (DOCS: "Ownership Chains",
https://learn.microsoft.com/sql/relational-databases/security/ownership-chains). PostgreSQL has
no such chain: a SECURITY INVOKER routine checks every object against the caller. So a principal
that can run a module but holds no permission on an object the module touches, where the
owners match, loses that access in PostgreSQL unless the routine becomes SECURITY DEFINER or the
object is granted to it.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from pydantic import BaseModel, ConfigDict

from grantbridge.errors import MappingError
from mapper.effective import EffectivePermissions, Securable
from mapper.modules import RULES, ModuleAnalysis, ObjectAccess
from mapper.review_rules import FindingSpec, make_finding
from mssql_extract.snapshot import Database, DbObject, ObjectKind, fold

#: The permission a caller needs to use a module of each kind.
CALLER_PERMISSION: dict[ObjectKind, str] = {
    ObjectKind.PROCEDURE: "EXECUTE",
    ObjectKind.SCALAR_FUNCTION: "EXECUTE",
    ObjectKind.TABLE_FUNCTION: "SELECT",
    ObjectKind.VIEW: "SELECT",
}


class ChainReliance(BaseModel):
    """``principal`` reaches ``target`` only through module ``module`` (same owner)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    database: str
    module_schema: str
    module_name: str
    principal: str
    target_schema: str
    target_name: str
    access: str
    owner: str

    @property
    def key(self) -> str:
        return fold(
            f"{self.database}/{self.module_schema}.{self.module_name}:{self.principal}:"
            f"{self.target_schema}.{self.target_name}:{self.access}"
        )


def owner_of(database: Database, obj: DbObject) -> str | None:
    """The individual owner, else the schema owner (None if the schema is unknown)."""
    if obj.owner:
        return obj.owner
    schema = next((s for s in database.schemas if fold(s.name) == fold(obj.schema_name)), None)
    return schema.owner if schema else None


def resolve(database: Database, module: DbObject, ref: ObjectAccess) -> DbObject | None:
    """The snapshot object a reference names: same database only; unqualified names are looked
    up in the module's schema, then dbo (SQL Server's resolution order inside a module)."""
    if ref.database and fold(ref.database) != fold(database.name):
        return None
    schemas = [ref.schema_name] if ref.schema_name else [module.schema_name, "dbo"]
    by_key = {o.key: o for o in database.objects}
    for schema in schemas:
        found = by_key.get(f"object:{fold(schema)}.{fold(ref.name)}")
        if found:
            return found
    return None


def chain_reliance(
    database: Database, analyses: Iterable[ModuleAnalysis], perms: EffectivePermissions
) -> tuple[ChainReliance, ...]:
    """Every (caller, module, object) where access works only through ownership chaining."""
    principals = sorted(
        {u.name for u in database.users}
        | {r.name for r in database.roles}
        | {a.name for a in database.application_roles}
        | {"public"}
    )
    modules = {o.key: o for o in database.objects}
    found: dict[str, ChainReliance] = {}
    for analysis in analyses:
        module = modules.get(f"object:{fold(analysis.schema_name)}.{fold(analysis.name)}")
        if module is None or module.kind not in CALLER_PERMISSION:
            continue
        for item in _module_chains(database, module, analysis, principals, perms):
            found.setdefault(item.key, item)
    return tuple(found[k] for k in sorted(found))


def _module_chains(
    database: Database,
    module: DbObject,
    analysis: ModuleAnalysis,
    principals: list[str],
    perms: EffectivePermissions,
) -> Iterator[ChainReliance]:
    owner = owner_of(database, module)
    chained = []
    for ref in analysis.references:
        target = resolve(database, module, ref)
        if target is None or owner is None or fold(owner_of(database, target) or "") != fold(owner):
            continue  # a broken chain checks the caller in SQL Server too: nothing is lost
        chained.append((ref, target))
    if not chained:
        return  # no chain: who may call the module does not matter (and is not asked)
    callers = [
        p
        for p in principals
        if _allowed(perms, database, p, module, CALLER_PERMISSION[module.kind])
    ]
    for ref, target in chained:
        for caller in callers:
            if not _allowed(perms, database, caller, target, ref.access):
                yield ChainReliance(
                    database=database.name, module_schema=module.schema_name,
                    module_name=module.name, principal=caller, target_schema=target.schema_name,
                    target_name=target.name, access=ref.access, owner=owner,
                )  # fmt: skip


def _allowed(
    perms: EffectivePermissions, database: Database, principal: str, obj: DbObject, permission: str
) -> bool:
    securable = Securable("OBJECT", obj.schema_name, obj.name)
    try:
        return perms.explain(database.name, principal, securable, permission).allowed
    except MappingError:
        return False  # a permission the object's class lacks (e.g. EXECUTE on a table)


# --------------------------------------------------------------------------- findings


def module_findings(
    analysis: ModuleAnalysis, source_ref: str | None = None
) -> tuple[FindingSpec, ...]:
    """The findings one module implies: EXECUTE AS, dynamic SQL, cross-database, unparsed."""
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
    for name in analysis.cross_database:
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


def chain_findings(chains: Iterable[ChainReliance]) -> tuple[FindingSpec, ...]:
    """One GB306 finding per (caller, module, object) that relies on ownership chaining."""
    return tuple(
        make_finding(
            RULES["GB306"],
            f"{c.principal} can run {c.module_schema}.{c.module_name} but has no {c.access} on "
            f"{c.target_schema}.{c.target_name}; both are owned by {c.owner}",
            principal=c.principal,
            securable=f"{c.module_schema}.{c.module_name}->{c.target_schema}.{c.target_name}:{c.access}",
            source_ref=c.database,
        )
        for c in chains
    )
