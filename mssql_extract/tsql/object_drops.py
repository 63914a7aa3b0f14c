"""``DROP {TABLE | VIEW | PROCEDURE | FUNCTION | SEQUENCE | TYPE | SYNONYM} [IF EXISTS] name
[, …]``: each object named, in the list's order, with its permissions and signatures.

SQL Server refuses to drop some of them, which then stand with their permissions: a sequence a
column default calls (DROP SEQUENCE, Remarks: ``column_defaults``), a table a foreign key of
another table references (Msg 3726, DROP TABLE, Remarks: ``key_refusals``), and a table or
view a view or function WITH SCHEMABINDING references (Msg 3729: ``schema_binding``). Each
refused name is left as it is, and the rest of the list is dropped; the statement is kept as a
skipped item naming those SQL Server refuses, which the plan reports (GB045).
"""

from __future__ import annotations

from sqlglot.tokenizer_core import TokenType

from mssql_extract.snapshot import ObjectKind, fold
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
    refused: list[key_refusals.Refused] = []
    for schema, name, written in _names(p):
        key = (fold(schema), fold(name))
        calling = column_defaults.calling(db, schema, name) if kind == "SEQUENCE" else []
        if calling and db.object_kind(schema, name) == ObjectKind.SEQUENCE:
            found = db.objects[key]
            sequences[f"[{found.schema_name}].[{found.name}]"] = calling
            continue
        held = key_refusals.in_the_way(db.objects, schema, name) if kind in _HELD else []
        if held:
            refused.append((written, db.objects[key], held))
            continue
        db.objects.pop(key, None)
        p.builder.drop_object_permissions(schema, name)
        p.builder.unsign(("OBJECT", key[0], key[1]))
    if sequences:
        column_defaults.refuse_drop(p, sequences, ref)
    if refused:
        key_refusals.refuse_drop(p, kind, refused, ref)


def _names(p: Parser) -> list[tuple[str, str, str]]:
    """The names of the list: (schema, name, the name as the statement writes it)."""
    names: list[tuple[str, str, str]] = []
    while not names or p.accept_type(TokenType.COMMA):
        start = p.pos
        schema, name = object_name(p)
        names.append((schema, name, "".join(t.text for t in p.tokens[start : p.pos])))
    return names


_DROPPABLE = ("TABLE", "VIEW", "PROC", "PROCEDURE", "FUNCTION", "SEQUENCE", "TYPE", "SYNONYM")
#: The kinds of DROP what references the object may keep from it (``key_refusals``).
_HELD = ("TABLE", "VIEW")

STATEMENTS: dict[str, Handler] = {f"DROP {kind}": drop_objects for kind in _DROPPABLE}
