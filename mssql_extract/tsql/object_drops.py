"""``DROP {TABLE | VIEW | PROCEDURE | FUNCTION | SEQUENCE | TYPE | SYNONYM} [IF EXISTS] name
[, …]``: each object named, in the list's order, with its permissions and signatures.

SQL Server refuses to drop some of them, which then stand with their permissions: a sequence a
column default calls (DROP SEQUENCE, Remarks: ``column_defaults``) and a table a foreign key of
another table references (Msg 3726, DROP TABLE, Remarks: ``key_refusals``). Each refused name
is left as it is, and the rest of the list is dropped; the statement is kept as a skipped item
naming those SQL Server refuses, which the plan reports (GB045).
"""

from __future__ import annotations

from sqlglot.tokenizer_core import TokenType

from mssql_extract.snapshot import DbObject, ObjectKind, fold
from mssql_extract.tsql import column_defaults, key_refusals
from mssql_extract.tsql.cursor import Handler, Parser
from mssql_extract.tsql.modules import object_name


def drop_objects(p: Parser) -> None:
    """``DROP {TABLE | VIEW | …} [IF EXISTS] name [, …]``: objects and their permissions, but
    for those SQL Server refuses to drop."""
    ref, kind = p.ref(), p.words[p.start + 1]
    p.accept("IF", "EXISTS")
    db = p.builder.db()
    sequences: dict[str, list[str]] = {}
    tables: list[tuple[str, DbObject, list[key_refusals.Referencing]]] = []
    for schema, name, written in _names(p):
        key = (fold(schema), fold(name))
        calling = column_defaults.calling(db, schema, name) if kind == "SEQUENCE" else []
        if calling and db.object_kind(schema, name) == ObjectKind.SEQUENCE:
            found = db.objects[key]
            sequences[f"[{found.schema_name}].[{found.name}]"] = calling
            continue
        held = key_refusals.table_held(db.objects, schema, name) if kind == "TABLE" else []
        if held:
            tables.append((written, db.objects[key], held))
            continue
        db.objects.pop(key, None)
        p.builder.drop_object_permissions(schema, name)
        p.builder.unsign(("OBJECT", key[0], key[1]))
    if sequences:
        column_defaults.refuse_drop(p, sequences, ref)
    if tables:
        key_refusals.refuse_tables(p, tables, ref)


def _names(p: Parser) -> list[tuple[str, str, str]]:
    """The names of the list: (schema, name, the name as the statement writes it)."""
    names: list[tuple[str, str, str]] = []
    while not names or p.accept_type(TokenType.COMMA):
        start = p.pos
        schema, name = object_name(p)
        names.append((schema, name, "".join(t.text for t in p.tokens[start : p.pos])))
    return names


_DROPPABLE = ("TABLE", "VIEW", "PROC", "PROCEDURE", "FUNCTION", "SEQUENCE", "TYPE", "SYNONYM")

STATEMENTS: dict[str, Handler] = {f"DROP {kind}": drop_objects for kind in _DROPPABLE}
