"""Schemas, objects, types, security policies and masked columns from one database's rows.

Converts ``sys.schemas``, ``sys.objects`` (with ``sys.columns``, ``sys.sql_modules``,
``sys.synonyms`` and ``sys.default_constraints``), ``sys.types``, ``sys.security_policies`` / ``sys.security_predicates`` and
``sys.masked_columns`` rows, resolved through a
:class:`~mssql_extract.catalog_db_index.DatabaseIndex`, for
:func:`mssql_extract.catalog_db.convert_database`. Built-in schemas keep their default owner
implicitly; an owner that is not a principal, a type named like an object, and a predicate or
masked column whose table was not found are recorded as skipped, not dropped in silence.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping

from mssql_extract.catalog_db_index import DatabaseIndex, Row
from mssql_extract.catalog_db_principals import BUILTIN_USER_IDS
from mssql_extract.catalog_rows import as_bool, as_str, by_id
from mssql_extract.sequence_defaults import sequence_defaults, sequences_in
from mssql_extract.snapshot import (
    TYPE_NAMED_LIKE_AN_OBJECT,
    DbObject,
    MaskedColumn,
    ObjectKind,
    Schema,
    SecurityPolicy,
    SecurityPredicate,
    SourceRef,
    fold,
)

#: sys.objects.type → ObjectKind (catalog_views.json, sys.objects.type).
OBJECT_KINDS: dict[str, ObjectKind] = {
    "U": ObjectKind.TABLE,
    "V": ObjectKind.VIEW,
    "P": ObjectKind.PROCEDURE,
    "PC": ObjectKind.PROCEDURE,
    "FN": ObjectKind.SCALAR_FUNCTION,
    "FS": ObjectKind.SCALAR_FUNCTION,
    "IF": ObjectKind.TABLE_FUNCTION,
    "TF": ObjectKind.TABLE_FUNCTION,
    "FT": ObjectKind.TABLE_FUNCTION,
    "AF": ObjectKind.AGGREGATE,
    "SO": ObjectKind.SEQUENCE,
    "SN": ObjectKind.SYNONYM,
}


#: Default owners of built-in schemas: dbo(1)→dbo, guest(2)→guest, INFORMATION_SCHEMA(3)→3,
#: sys(4)→4; fixed-role schemas (16384–16393) are owned by the role of the same id.
def _default_owner(schema_id: int) -> int | None:
    if schema_id in BUILTIN_USER_IDS or 16384 <= schema_id <= 16393:
        return schema_id
    return None


def read_schemas(db: DatabaseIndex) -> list[Schema]:
    """Schemas; a built-in one only when its owner was changed (else it is implicit)."""
    found = []
    for sid, row in db.schemas.items():
        owner_id = row.get("principal_id")
        if _default_owner(sid) is not None and owner_id == _default_owner(sid):
            continue
        ref = db.ref("sys.schemas", f"schema_id={sid}")
        # not listed when its owner is unknown: the plan then takes dbo (an unlisted schema's
        # owner), and the skipped row says so
        owner: str | None = "dbo"
        if owner_id is not None:
            what = f"the owner of schema [{row['name']}]"
            owner = db.owner(ref, owner_id, what, "planned as owned by dbo")
        if owner is not None:
            found.append(Schema(name=row["name"], owner=owner, source_ref=ref))
    return found


#: Kinds that can carry EXECUTE AS (views and triggers cannot).
_EXECUTE_AS_KINDS = frozenset(
    {ObjectKind.PROCEDURE, ObjectKind.SCALAR_FUNCTION, ObjectKind.TABLE_FUNCTION}
)


def _execute_as(
    db: DatabaseIndex, modules: Mapping[int, Row], row: Row, kind: ObjectKind
) -> str | None:
    object_id = int(row["object_id"])
    module = modules.get(object_id)
    if module is None or kind not in _EXECUTE_AS_KINDS:
        return None
    pid = module.get("execute_as_principal_id")
    if pid is None:
        return "CALLER"
    # -2 = EXECUTE AS OWNER (catalog_views.json, sys.sql_modules.execute_as_principal_id)
    if int(pid) == -2:
        return "OWNER"
    ref = db.ref("sys.sql_modules", f"object_id={object_id}")
    what = f"the EXECUTE AS principal of [{db.schema_name(row['schema_id'])}].[{row['name']}]"
    return db.owner(ref, pid, what, "recorded without EXECUTE AS")


def _individual_owner(db: DatabaseIndex, row: Row, ref: SourceRef) -> str | None:
    """sys.objects.principal_id / sys.types.principal_id: NULL = owned by the schema owner."""
    what = f"the owner of [{db.schema_name(row['schema_id'])}].[{row['name']}]"
    return db.owner(ref, row.get("principal_id"), what, "planned as owned by its schema's owner")


def _sequence_defaults(db: DatabaseIndex) -> dict[int, dict[str, list[str]]]:
    """object_id → column name → the sequences its default calls (``sys.default_constraints``);
    a default on a column the rows lack is recorded as skipped."""
    found: dict[int, dict[str, list[str]]] = defaultdict(dict)
    for row in db.src.rows("default_constraints"):
        called = sequences_in(as_str(row.get("definition")))
        if not called:
            continue
        oid, column_id = int(row["parent_object_id"]), int(row["parent_column_id"])
        column = next(
            (c for c in db.columns.get(oid, []) if int(c["column_id"]) == column_id), None
        )
        if column is None:  # the USAGE its INSERT grantees need would be missing: said
            key = f"parent_object_id={oid},parent_column_id={column_id}"
            reason = f"the default's column (object_id {oid}, column_id {column_id}) was not found"
            db.skip(db.ref("sys.default_constraints", key), reason, text=str(row["definition"]))
            continue
        found[oid][str(column["name"])] = called
    return found


def read_objects(db: DatabaseIndex) -> list[DbObject]:
    """Objects a GRANT can target, then user-defined types not named like one of them."""
    modules = by_id(db.src.rows("sql_modules"), "object_id")
    synonyms = by_id(db.src.rows("synonyms"), "object_id")
    defaults = _sequence_defaults(db)
    found = []
    for oid, row in db.objects.items():
        kind = OBJECT_KINDS.get(str(row["type"]).strip())
        if kind is None:
            continue
        columns = tuple(
            str(c["name"])
            for c in sorted(db.columns.get(oid, []), key=lambda c: int(c["column_id"]))
        )
        module = modules.get(oid)
        ref = db.ref("sys.objects", f"object_id={oid}")
        found.append(
            DbObject(
                schema_name=db.schema_name(row["schema_id"]),
                name=row["name"],
                kind=kind,
                owner=_individual_owner(db, row, ref),
                columns=columns,
                execute_as=_execute_as(db, modules, row, kind),
                definition=as_str(module.get("definition")) if module else None,
                base_object=as_str(synonyms.get(oid, {}).get("base_object_name")),
                sequence_defaults=sequence_defaults(defaults.get(oid, {})),
                source_ref=ref,
            )
        )
    taken = {fold(o.schema_name) + "." + fold(o.name): o.kind for o in found}
    for tid, row in by_id(db.src.rows("types"), "user_type_id").items():
        ref = db.ref("sys.types", f"user_type_id={tid}")
        schema = db.schema_name(row["schema_id"])
        other = taken.get(fold(schema) + "." + fold(str(row["name"])))
        if other is not None:  # sys.types and sys.objects are apart in SQL Server only
            reason = TYPE_NAMED_LIKE_AN_OBJECT.format(kind=other.value)
            db.skip(ref, reason, text=f"TYPE [{schema}].[{row['name']}]")
            continue
        found.append(
            DbObject(
                schema_name=db.schema_name(row["schema_id"]),
                name=row["name"],
                kind=ObjectKind.TYPE,
                owner=_individual_owner(db, row, ref),
                source_ref=ref,
            )
        )
    return found


def _predicate(db: DatabaseIndex, row: Row) -> SecurityPredicate | None:
    target = db.object_names(row["target_object_id"])
    if target is None:
        return None
    return SecurityPredicate(
        predicate_type=row["predicate_type_desc"],
        operation=as_str(row.get("operation_desc")) or None,
        target_schema=target[0],
        target_table=target[1],
        predicate_definition=row["predicate_definition"],
    )


def read_policies(db: DatabaseIndex) -> list[SecurityPolicy]:
    """Row-level security policies with their predicates."""
    predicates: dict[int, list[SecurityPredicate]] = defaultdict(list)
    for row in db.src.rows("security_predicates"):
        predicate = _predicate(db, row)
        if predicate is None:  # a lost FILTER predicate would show every row: said, not dropped
            key = f"object_id={row['object_id']},target_object_id={row['target_object_id']}"
            db.skip(
                db.ref("sys.security_predicates", key),
                f"the predicate's table (object_id {row['target_object_id']}) was not found",
            )
            continue
        predicates[int(row["object_id"])].append(predicate)
    return [
        SecurityPolicy(
            schema_name=db.schema_name(row["schema_id"]),
            name=row["name"],
            enabled=as_bool(row.get("is_enabled")),
            predicates=tuple(predicates.get(oid, [])),
            source_ref=db.ref("sys.security_policies", f"object_id={oid}"),
        )
        for oid, row in by_id(db.src.rows("security_policies"), "object_id").items()
    ]


def read_masked_columns(db: DatabaseIndex) -> list[MaskedColumn]:
    """Dynamic data masking: the masked columns and their functions."""
    found = []
    for row in db.src.rows("masked_columns"):
        table = db.object_names(row["object_id"])
        key = f"object_id={row['object_id']},column_id={row['column_id']}"
        if not as_bool(row.get("is_masked", True)):
            continue
        if table is None:  # an unmasked column would show its data: said, not dropped
            reason = f"the masked column's table (object_id {row['object_id']}) was not found"
            db.skip(db.ref("sys.masked_columns", key), reason, text=str(row["name"]))
            continue
        found.append(
            MaskedColumn(
                schema_name=table[0],
                table_name=table[1],
                column_name=row["name"],
                masking_function=row["masking_function"],
                source_ref=db.ref("sys.masked_columns", key),
            )
        )
    return found
