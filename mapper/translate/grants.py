"""Permission rows → expanded PostgreSQL grants and default privileges (DESIGN §3.3).

Schema- and database-level grants cover future objects in SQL Server, so they become a grant
per current object *and* ``ALTER DEFAULT PRIVILEGES FOR ROLE <schema owner role> IN SCHEMA``.
PostgreSQL also needs ``USAGE`` on a schema for every role that uses an object in it
(:func:`plan_schema_usage`). A grant the plan already has is not repeated: the later fact is
``implied``.

A database-level grant (GRANT SELECT TO u, db_datareader …) covers schemas created later too in
SQL Server. The plan gives it per-schema default privileges in the schemas the database has, and
disposes it ``approximated`` (GB040, :data:`mapper.privileges.FUTURE_SCHEMAS_NOTE`): a schema
created later needs grants of its own. PostgreSQL's global default privileges (``ALTER DEFAULT
PRIVILEGES FOR ROLE r`` without ``IN SCHEMA``: "for all objects created in the current
database") would not be equivalent: they apply to the objects ``r`` itself creates only ("new
object permissions are only affected by the default privileges of the current role, and are not
inherited"), not to a new schema's objects created by a role the plan does not know; they give
no USAGE on the new schema, without which its objects cannot be reached (that takes ``ON
SCHEMAS`` defaults for whichever role creates the schema); and per-schema default privileges
can only add to them, so a DENY that leaves one schema out (DENY restructuring removes that
schema's defaults) could not be honoured.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, replace

from mapper import findings
from mapper.naming import object_name
from mapper.plan import (
    DefaultObjectType,
    Disposition,
    GrantObjectType,
    PgDefaultPrivilege,
    PgGrant,
    PgMembership,
    PgObject,
    trusted,
)
from mapper.privileges import PrivilegeRow
from mapper.translate.items import Item
from mapper.translate.objects import (
    SYSTEM_SCHEMAS,
    owner_role,
    pg_object,
    pg_objects_in,
    schema_name,
    schemas_of,
)
from mapper.translate.state import PlanState
from mssql_extract.snapshot import Database, DbObject, ObjectKind, fold

GRANT_TYPES: Mapping[str, GrantObjectType] = {
    "table": "TABLE", "view": "TABLE", "sequence": "SEQUENCE",
    "function": "FUNCTION", "procedure": "PROCEDURE", "type": "TYPE",
}  # fmt: skip
DEFAULT_TYPES: Mapping[str, DefaultObjectType] = {
    "table": "TABLES", "view": "TABLES", "sequence": "SEQUENCES",
    "function": "FUNCTIONS", "procedure": "FUNCTIONS", "type": "TYPES",
}  # fmt: skip


@dataclass(frozen=True)
class Target:
    """What a permission is on: class plus names (source spelling)."""

    securable_class: str
    schema_name: str | None = None
    object_name: str | None = None
    column_name: str | None = None


def expand(
    state: PlanState, db: Database | None, grantee: str, target: Target, row: PrivilegeRow
) -> list[Item] | None:
    """The plan items a mapping row gives ``grantee`` on ``target`` (None: securable unknown)."""
    if row.role or row.attribute:
        return list(_server_items(state, grantee, row))
    handler = _EXPANDERS.get(target.securable_class)
    if handler is None or db is None:
        return []
    return handler(state, db, grantee, target, row)


def _server_items(state: PlanState, grantee: str, row: PrivilegeRow) -> Iterator[Item]:
    if row.attribute and grantee in state.roles:
        state.roles[grantee].attributes.add(row.attribute)
    if row.role:
        # PostgreSQL's own pg_* roles exist on every server and are not listed among the plan's
        # roles (only the RDS roles are: plain PostgreSQL needs stand-ins for them)
        yield PgMembership(role=row.role, member=grantee)


def _object(
    state: PlanState, db: Database, grantee: str, target: Target, row: PrivilegeRow
) -> list[Item] | None:
    if fold(target.schema_name or "") in SYSTEM_SCHEMAS:
        return []
    obj = state.find_object(db, target.schema_name, target.object_name)
    if obj is None:
        return None
    return _object_items(state, db, obj, grantee, target.column_name, row)


def _object_items(
    state: PlanState, db: Database, obj: DbObject, grantee: str, column: str | None,
    row: PrivilegeRow,
) -> list[Item]:  # fmt: skip
    item = pg_object(state, db, obj)
    if item is None:  # a synonym, an XML schema collection …: nothing to grant on
        return []
    columns = (object_name(column, state.policy.naming),) if column else ()
    return _grants_on(item, grantee, columns, row)


def _grants_on(
    item: PgObject, grantee: str, columns: tuple[str, ...], row: PrivilegeRow
) -> list[Item]:
    privileges = row.privileges.get(item.kind, ())
    if not privileges:
        return []
    # every value is already valid: the object's own fields, the grantee's role name and the
    # mapping table's privileges (the hottest constructor of the planner: issue 7)
    fields = {
        "database": item.database, "object_type": GRANT_TYPES[item.kind],
        "schema_name": item.schema_name, "name": item.name, "signature": item.signature,
        "columns": columns, "grantee": grantee,
    }  # fmt: skip
    return [trusted(PgGrant, fields, privilege=privilege) for privilege in privileges]


def _schema(
    state: PlanState, db: Database, grantee: str, target: Target, row: PrivilegeRow
) -> list[Item]:
    if fold(target.object_name or "") in SYSTEM_SCHEMAS:  # the catalog: as on its objects
        return []
    return list(_in_schema(state, db, grantee, target.object_name or "dbo", row))


def _database(
    state: PlanState, db: Database, grantee: str, target: Target, row: PrivilegeRow
) -> list[Item]:
    name = state.target_db(db)
    items: list[Item] = [
        PgGrant(database=name, object_type="DATABASE", name=name, privilege=p, grantee=grantee)
        for p in row.privileges.get("database", ())
    ]
    for schema in schemas_of(state, db):  # those the plan creates
        items.extend(_in_schema(state, db, grantee, schema, row))
    return items


def _in_schema(
    state: PlanState, db: Database, grantee: str, schema: str, row: PrivilegeRow
) -> Iterator[Item]:
    target_db, target_schema = state.target_db(db), schema_name(state, db, schema)
    for privilege in row.privileges.get("schema", ()):
        yield PgGrant(database=target_db, object_type="SCHEMA", name=target_schema,
                      privilege=privilege, grantee=grantee)  # fmt: skip
    for obj, item in pg_objects_in(state, db, schema):
        on_object = _for_object(row, obj)
        if item.kind in on_object.privileges:  # most kinds get nothing (SELECT: no procedure)
            yield from _grants_on(item, grantee, (), on_object)
    owner = owner_role(state, db, _schema_owner(db, schema))
    for kind, privileges in sorted(row.privileges.items()):
        if kind in DEFAULT_TYPES:
            for privilege in privileges:
                yield PgDefaultPrivilege(
                    database=target_db, owner=owner, schema_name=target_schema,
                    object_type=DEFAULT_TYPES[kind], privilege=privilege, grantee=grantee,
                )  # fmt: skip


def _for_object(row: PrivilegeRow, obj: DbObject) -> PrivilegeRow:
    """SELECT on a schema or database covers table-valued functions (SELECTed from in SQL
    Server, EXECUTEd in PostgreSQL) and EXECUTE does not, though both kinds of function are
    PostgreSQL functions ("GRANT Object Permissions": a table-valued function has SELECT, not
    EXECUTE; a scalar function EXECUTE, not SELECT)."""
    if obj.kind != ObjectKind.TABLE_FUNCTION or row.permission not in ("SELECT", "EXECUTE"):
        return row
    if row.permission == "EXECUTE":
        return replace(row, privileges={k: v for k, v in row.privileges.items() if k != "function"})
    return replace(row, privileges={**row.privileges, "function": ("EXECUTE",)})


def _schema_owner(db: Database, schema: str) -> str:
    found = next((s for s in db.schemas if fold(s.name) == fold(schema)), None)
    return found.owner if found else "dbo"


_EXPANDERS = {"OBJECT": _object, "TYPE": _object, "SCHEMA": _schema, "DATABASE": _database}

#: Why a permission on SQL Server's catalog is not planned (:data:`SYSTEM_SCHEMAS`).
ON_CATALOG = (
    "on SQL Server's catalog (schema sys or INFORMATION_SCHEMA): PostgreSQL has no such schema, "
    "and every role may read PostgreSQL's own catalog, so there is nothing to grant"
)


def on_catalog(securable_class: str, schema_name: str | None, object_name: str | None) -> bool:
    """Whether a securable is SQL Server's catalog schema, or something in it."""
    schema = object_name if securable_class == "SCHEMA" else schema_name
    return securable_class in _EXPANDERS and fold(schema or "") in SYSTEM_SCHEMAS


def record(
    state: PlanState, fact: str, kind: str, ref: str, items: list[Item], *,
    disposition: Disposition = Disposition.MAPPED, found: list[str] | None = None,
    reason: str = "",
) -> None:  # fmt: skip
    """Add items for a fact and dispose it: mapped if anything is new, else implied."""
    keys, fresh = state.add_all(items, fact)
    if not keys:
        state.dispose(fact, kind, ref, Disposition.NOT_APPLICABLE, findings=found or [],
                      reason=reason or "grants nothing on the target")  # fmt: skip
        return
    if not fresh and disposition == Disposition.MAPPED:
        disposition, reason = Disposition.IMPLIED, reason or "the plan already grants this"
    state.dispose(fact, kind, ref, disposition, items=keys, findings=found or [], reason=reason)


_USAGE = "PostgreSQL needs USAGE on the schema to reach its objects"


def plan_schema_usage(state: PlanState) -> None:
    """USAGE on a schema for every grantee of an object or default privilege in it."""
    needs: dict[tuple[str, str, str], set[str]] = {}
    item_facts = state.item_facts  # state.facts_in(), inlined: every grant passes here
    for grantee, granted in state.by_grantee.items():  # grants and default privileges
        for key, item in granted.items():
            if item.schema_name and item.object_type != "SCHEMA":
                where = (item.database, item.schema_name, grantee)
                facts = needs.get(where)
                if facts is None:
                    facts = needs[where] = set()
                held = item_facts[key]
                if type(held) is str:
                    facts.add(held)
                else:
                    facts.update(held)
    for (database, schema, grantee), facts in sorted(needs.items()):
        # every value is already valid: the fields of the grants in the schema (issue 7)
        usage = trusted(PgGrant, {"database": database, "object_type": "SCHEMA", "name": schema,
                                  "privilege": "USAGE", "grantee": grantee, "comment": _USAGE})  # fmt: skip
        state.add_facts(usage, facts, usage.key)


def grant_option_finding(state: PlanState, grantee: str, where: str, ref: str, action: str) -> str:
    """GB007 for a WITH GRANT OPTION grant to any grantee (the plan never carries the grant
    option); ``action`` says what the plan did for the row (granted, or nothing and why)."""
    finding = findings.make(
        "GB007", f"WITH GRANT OPTION to [{grantee}] on {where}", action,
        principal=grantee, securable=where, source_ref=ref,
    )  # fmt: skip
    return state.finding(finding)
