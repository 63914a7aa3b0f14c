"""Databases, schemas and objects, owned by NOLOGIN owner roles (DESIGN §3.3, "Ownership").

One owner role per source owner (``dbo`` → the database's owner role), never a login role. What
the source owner itself keeps (DML and EXECUTE, or membership in its owner role) is decided by
:mod:`mapper.translate.ownership` once DENYs are restructured; it disposes the ownership facts
(databases, schemas, objects with an individual owner).
"""

from __future__ import annotations

import re

from mapper import findings
from mapper.plan import Disposition, PgDatabase, PgObject, PgSchema, RoleKind
from mapper.privileges import PG_KIND
from mapper.translate.state import SERVER, Owned, PlanState, fact_key
from mssql_extract.snapshot import Database, DbObject, fold

ROUTINES = frozenset({"function", "procedure"})


def plan_databases(state: PlanState) -> None:
    """Target database names; in schema mode every source goes into one database."""
    single = state.policy.target_database or re.sub(
        r"[^a-z0-9_]+", "_", state.snapshot.server.name.lower()
    ).strip("_")
    for db in state.snapshot.databases:
        schema_mode = state.policy.database_mode == "schema"
        state.databases[fold(db.name)] = single if schema_mode else state.names.database(db.name)


def owner_role(state: PlanState, db: Database, principal: str) -> str:
    """The NOLOGIN owner role for a source owner in a database (created on first use).

    An owner the snapshot does not hold (a partial export) gets dbo's: no role of the plan
    stands for it (:mod:`mapper.translate.ownership` disposes of the fact with GB046).
    """
    existing = state.role_of(f"owner:{db.name}", principal)
    if existing is not None:
        return existing
    if not state.engine.knows(db.name, principal):
        return owner_role(state, db, "dbo")
    base = "owner" if fold(principal) == "dbo" else f"{principal}_owner"
    name = state.names.database_principal(db.name, base, "owner role of", always_prefixed=True)
    state.role(name, RoleKind.OWNER, source=f"owner [{db.name}].[{principal}]")
    state.bind(f"owner:{db.name}", principal, name)
    return name


def plan_database(state: PlanState, db: Database) -> None:
    """The database itself, owned by its owner role (``dbo``)."""
    owner = owner_role(state, db, "dbo")
    state.bind(db.name, "dbo", owner)
    fact = fact_key(SERVER, db.key)
    item = PgDatabase(name=state.target_db(db), owner=owner, source_database=db.name)
    key, _ = state.add(item, fact)
    state.owned.append(Owned(fact, "database", str(db.owner_ref or db.source_ref), db, db.owner, owner, key,
                             findings=tuple(_trustworthy(state, db, owner))))  # fmt: skip


def _trustworthy(state: PlanState, db: Database, owner: str) -> list[str]:
    """GB012: TRUSTWORTHY ON and owned by a sysadmin lets dbo act as sysadmin."""
    if not db.trustworthy or not db.owner:
        return []
    admins = {
        fold(m.member) for m in state.snapshot.server_memberships if fold(m.role) == "sysadmin"
    }
    if fold(db.owner) not in admins | {"sa"}:
        return []
    finding = findings.make(
        "GB012", f"[{db.name}] is TRUSTWORTHY and owned by [{db.owner}], a sysadmin",
        f"Not carried over: PostgreSQL has no TRUSTWORTHY; {owner!r} owns the database.",
        principal=db.owner, securable=f"DATABASE {db.name}",
        source_ref=str(db.trustworthy_ref or db.source_ref),
    )  # fmt: skip
    return [state.finding(finding)]


def schema_name(state: PlanState, db: Database, schema: str) -> str:
    """The target schema of a source schema (prefixed by the database in schema mode).

    Two source schemas ending up with one name is a MappingError (``a_b.c`` and ``a.b_c`` in
    schema mode, or a cut at 63 bytes): merged, each would grant the other's objects.
    """
    prefixed = state.policy.database_mode == "schema"
    return state.names.schema(state.target_db(db), db.name, schema, prefixed=prefixed)


#: SQL Server's system schemas, which no PostgreSQL database has: their objects are the catalog,
#: which PostgreSQL lets every role read (its own catalog).
SYSTEM_SCHEMAS = frozenset({"sys", "information_schema"})


def schemas_of(state: PlanState, db: Database) -> list[str]:
    """Every schema the plan has in a database (:func:`plan_schemas`), sorted by folded name.

    Declared, holding objects, or named by a permission only (dbatools' Export-DbaUser scripts
    GRANT EXECUTE ON SCHEMA::[hr] without the schema): the plan creates each, so a
    database-level grant covers each. An undeclared schema has its first spelling in sort order.
    Kept in ``state.schemas``: the snapshot's schemas do not change while planning.
    """
    found = state.schemas.get(db.key)
    if found is None:
        named = [o.schema_name for o in db.objects]
        named += [p.object_name or "dbo" for p in db.permissions if p.securable_class == "SCHEMA"]
        names = {fold(name): name for name in sorted(named, reverse=True)}
        names.update((fold(s.name), s.name) for s in db.schemas)
        found = [names[k] for k in sorted(names) if k not in SYSTEM_SCHEMAS]
        state.schemas[db.key] = found
    return found


def plan_schemas(state: PlanState, db: Database) -> None:
    """Schemas and their owners; dbo (implicit in every SQL Server database) when used."""
    declared = {fold(s.name) for s in db.schemas}
    # an implicit schema (dbo, or one the source did not script): the plan's grants need it
    for name in sorted(n for n in schemas_of(state, db) if fold(n) not in declared):
        item = PgSchema(database=state.target_db(db), name=schema_name(state, db, name),
                        owner=owner_role(state, db, "dbo"))  # fmt: skip
        state.add(item, fact_key(SERVER, db.key))
    for schema in db.schemas:
        fact = fact_key(db.name, schema.key)
        item = PgSchema(
            database=state.target_db(db), name=schema_name(state, db, schema.name),
            owner=owner_role(state, db, schema.owner),
        )  # fmt: skip
        key, _ = state.add(item, fact)
        ref = str(schema.owner_ref or schema.source_ref)  # ALTER AUTHORIZATION's line, if any
        state.owned.append(Owned(fact, "schema", ref, db, schema.owner, item.owner, key,
                                 schema=schema.name))  # fmt: skip


def schema_owner(db: Database, schema: str) -> str:
    """The source owner of a schema (dbo when the schema is not in the snapshot)."""
    found = next((s for s in db.schemas if fold(s.name) == fold(schema)), None)
    return found.owner if found else "dbo"


def pg_object(state: PlanState, db: Database, obj: DbObject) -> PgObject | None:
    """The target object for a source object, or None when PostgreSQL has no such kind."""
    key = (db.key, obj.key)
    if key not in state.pg_objects:
        state.pg_objects[key] = _pg_object(state, db, obj)
    return state.pg_objects[key]


def pg_objects_in(state: PlanState, db: Database, schema: str) -> list[tuple[DbObject, PgObject]]:
    """The objects of one schema that PostgreSQL has, with their target objects, in key order.

    A schema- or database-level grant expands to every object of the schema, and asking
    :func:`pg_object` once per object and grant was the largest part of planning one (issue 7).
    Kept per schema for good: the snapshot's objects do not change while planning, and neither
    do :func:`pg_object`'s answers (cached on first use, in this same order).
    """
    key = (db.key, fold(schema))
    found = state.pg_by_schema.get(key)
    if found is None:
        pairs = [(obj, pg_object(state, db, obj)) for obj in state.objects_in(db, schema)]
        found = state.pg_by_schema[key] = [(obj, item) for obj, item in pairs if item is not None]
    return found


def _pg_object(state: PlanState, db: Database, obj: DbObject) -> PgObject | None:
    kind = PG_KIND[obj.kind]
    if kind is None:
        return None
    owner = obj.owner or schema_owner(db, obj.schema_name)
    # the names the schema conversion gives: never renamed, so a collision is an error
    database, schema = state.target_db(db), schema_name(state, db, obj.schema_name)
    name = state.names.object((database, schema), db.name, obj.schema_name, obj.name)
    columns = state.names.columns((database, schema, name),
                                  (db.name, obj.schema_name, obj.name), obj.columns)  # fmt: skip
    return PgObject(database=database, schema_name=schema, name=name, kind=kind,
                    columns=columns, signature=None, owner=owner_role(state, db, owner))  # fmt: skip


def plan_objects(state: PlanState, db: Database) -> None:
    """Objects with their owners."""
    for obj in db.objects:
        fact = fact_key(db.name, obj.key)
        item = pg_object(state, db, obj)
        if item is None:
            state.dispose(fact, "object", str(obj.source_ref), Disposition.NOT_APPLICABLE,
                          reason=f"{obj.kind.value} has no PostgreSQL counterpart")  # fmt: skip
            continue
        key, _ = state.add(item, fact)
        if obj.owner is None:  # owned through its schema
            state.dispose(fact, "object", str(obj.source_ref), Disposition.MAPPED, items=[key])
            continue
        ref = str(obj.owner_ref or obj.source_ref)  # ALTER AUTHORIZATION's line, if any
        state.owned.append(Owned(fact, "object", ref, db, obj.owner, item.owner, key,
                                 schema=obj.schema_name, name=obj.name))  # fmt: skip
