"""Schema objects a GRANT can target: CREATE TABLE | VIEW | PROCEDURE | FUNCTION | SEQUENCE |
TYPE | SYNONYM (and CREATE OR ALTER, ALTER of modules; DROP: ``object_drops``).

Objects are registered with kind, schema, name and, for tables and views, their columns. Module
bodies are kept only with ``include_definitions``. T-SQL requires CREATE PROCEDURE, FUNCTION, VIEW
and TRIGGER to be alone in their batch, so a module statement runs to the end of its batch and
its body is never mistaken for script statements. A CREATE of a name taken is refused, as SQL
Server refuses it (``duplicates``); ALTER and CREATE OR ALTER replace.
"""

from __future__ import annotations

import sqlglot
from sqlglot import exp
from sqlglot.errors import SqlglotError
from sqlglot.tokenizer_core import Token, TokenType

from mssql_extract.sequence_defaults import sequence_defaults
from mssql_extract.snapshot import (
    TYPE_NAMED_LIKE_AN_OBJECT,
    DbObject,
    MaskedColumn,
    ObjectKind,
    SourceRef,
    fold,
)
from mssql_extract.snapshot_database import quote_name
from mssql_extract.tsql import (
    column_defaults,
    constraint_names,
    dependents,
    duplicates,
    schema_binding,
    table_drops,
)
from mssql_extract.tsql.cursor import STOP_WORDS, Handler, Parser
from mssql_extract.tsql.state import Dependent
from mssql_extract.tsql.tokens import STRINGS
from mssql_extract.tsql.triggers import create_trigger

#: Words that open a table constraint or index item instead of a column in CREATE TABLE.
_NOT_COLUMNS = frozenset({"CONSTRAINT", "PRIMARY", "UNIQUE", "FOREIGN", "CHECK", "INDEX"})
_NOT_COLUMNS |= {"PERIOD", "PRIMARY KEY", "FOREIGN KEY"}  # sqlglot's tokens of two words


def object_name(p: Parser) -> tuple[str, str]:
    """``[db.][schema.]name`` → (schema, name); one part is in the default schema, dbo (in a
    CREATE SCHEMA statement, the schema it creates)."""
    parts = p.qualified("an object name")
    if len(parts) > 3:
        raise p.error(f"too many name parts in {'.'.join(parts)!r}")
    schema = parts[-2] if len(parts) > 1 and parts[-2] else p.schema or "dbo"
    return schema, parts[-1]


def _creates(p: Parser) -> bool:
    """Whether the statement read is a CREATE (not ALTER, not CREATE OR ALTER): it is refused
    when its name is taken."""
    return p.words[p.start] == "CREATE" and p.words[p.start + 1] != "OR"


def register(p: Parser, obj: DbObject) -> bool:
    """Add or replace an object, keeping an individual owner set earlier; False when a CREATE
    is refused (``duplicates``). A user-defined type and an object of one name (apart in SQL
    Server, not in PostgreSQL) keep the object, and the type is recorded as skipped
    (:data:`TYPE_NAMED_LIKE_AN_OBJECT`)."""
    db = p.builder.db()
    is_type = obj.kind == ObjectKind.TYPE
    if _creates(p):
        taken = db.object_named(obj.schema_name, obj.name, type_=is_type)
        message = duplicates.TYPE if is_type else duplicates.OBJECT
        if duplicates.refused(p, obj.name, taken, message):
            return False
    objects = db.objects
    key = (fold(obj.schema_name), fold(obj.name))
    earlier = objects.get(key)
    if earlier is not None and (earlier.kind == ObjectKind.TYPE) != (obj.kind == ObjectKind.TYPE):
        kept, type_ = (earlier, obj) if obj.kind == ObjectKind.TYPE else (obj, earlier)
        reason = TYPE_NAMED_LIKE_AN_OBJECT.format(kind=kept.kind.value)
        text = f"TYPE [{type_.schema_name}].[{type_.name}]"
        p.builder.skip("statement", reason, text, type_.source_ref)
        if kept is earlier:
            return True
        earlier = None
    if earlier is not None and earlier.owner:
        obj = obj.model_copy(update={"owner": earlier.owner, "owner_ref": earlier.owner_ref})
    p.builder.unsign(("OBJECT", *key))  # ALTER drops a module's signatures (``signatures``)
    objects[key] = obj
    return True


def _definition(p: Parser) -> str | None:
    if not p.include_definitions:
        return None
    return p.batch.text[p.tokens[p.start].start :].strip()


# ----------------------------------------------------------------------- tables


def _mask_function(p: Parser) -> str:
    """``MASKED WITH (FUNCTION = '…')`` after the word MASKED."""
    p.expect("WITH")
    p.expect_type(TokenType.L_PAREN, "(")
    p.expect("FUNCTION")
    p.expect_type(TokenType.EQ, "=")
    function = p.string("a masking function")
    p.expect_type(TokenType.R_PAREN, ")")
    return function


def _column_item(p: Parser) -> tuple[str | None, str | None]:
    """One item of a table body: (column name or None, masking function or None)."""
    column = None if p.word() in _NOT_COLUMNS else p.name("a column name")
    mask, depth = None, 0
    while (token := p.tok()) is not None:
        kind = token.token_type
        if kind == TokenType.L_PAREN:
            depth += 1
        elif kind == TokenType.R_PAREN:
            if depth == 0:
                return column, mask
            depth -= 1
        elif kind == TokenType.COMMA and depth == 0:
            return column, mask
        elif depth == 0 and column and p.word() == "MASKED":
            p.pos += 1
            mask = _mask_function(p)
            continue
        p.pos += 1
    raise p.error("unterminated column list")


def create_table(p: Parser) -> None:
    """``CREATE TABLE name (column …, constraint …) [ON …] [WITH …]``."""
    ref = p.ref()
    schema, name = object_name(p)
    p.expect_type(TokenType.L_PAREN, "( and the column list")
    columns: list[str] = []
    masks: dict[str, str] = {}
    called: dict[str, list[str]] = {}  # column → the sequences its default calls
    names: dict[str, str | None] = {}  # column → its default's name (CONSTRAINT df DEFAULT …)
    constraints: list[str] = []  # every constraint's name (``constraint_names``)
    found: list[Dependent] = []  # what depends on its columns (``dependents``)
    items: list[list[Token]] = []  # its table constraints and indexes
    bodies: dict[str, list[Token]] = {}  # column → its definition (a computed one's expression)
    while True:
        begin = p.pos
        column, mask = _column_item(p)
        constraints += constraint_names.named(p.tokens[begin : p.pos])
        if not column:
            items.append(p.tokens[begin : p.pos])
        else:
            found += dependents.in_column(column, p.tokens[begin + 1 : p.pos], ref)
            bodies[column] = p.tokens[begin + 1 : p.pos]
            columns.append(column)
            called[column] = column_defaults.in_column(p.tokens[begin + 1 : p.pos])
            names[column] = column_defaults.named_in_column(p.tokens[begin + 1 : p.pos])
        if mask and column:
            masks[column] = mask
        if p.accept_type(TokenType.R_PAREN):
            break
        p.expect_type(TokenType.COMMA, ",")
    p.skip_to_boundary()
    taken = p.builder.db().object_named(schema, name, type_=False)
    if taken is None and constraint_names.refused(p, schema, constraints, creating=name):
        return  # a name taken is refused by ``register``, or its branch skipped
    table = DbObject(schema_name=schema, name=name, kind=ObjectKind.TABLE, columns=tuple(columns),
                     sequence_defaults=sequence_defaults(called, names), source_ref=ref)  # fmt: skip
    if register(p, table):
        for column, mask in masks.items():
            _add_mask(p, schema, name, column, mask, ref)
        found += [d for item in items for d in dependents.in_item(item, columns, ref)]
        found += [
            d for c, body in bodies.items() for d in dependents.computed(c, body, columns, ref)
        ]
        dependents.record(p, schema, name, found)


def _add_mask(p: Parser, schema: str, table: str, column: str, fn: str, ref: SourceRef) -> None:
    masked = MaskedColumn(
        schema_name=schema, table_name=table, column_name=column, masking_function=fn,
        source_ref=ref,
    )  # fmt: skip
    p.builder.db().masked[(fold(schema), fold(table), fold(column))] = masked


def alter_table(p: Parser) -> None:
    """``ALTER TABLE t ALTER COLUMN c {ADD MASKED WITH (FUNCTION = '…') | DROP MASKED}``,
    ``ALTER TABLE t ADD`` of defaults calling a sequence (``column_defaults``), and ``DROP`` of
    constraints and columns (``table_drops``)."""
    ref = p.ref()
    schema, name = object_name(p)
    if column_defaults.alter_table_add(p, schema, name, ref):
        return
    if table_drops.alter_table_drop(p, schema, name, ref):
        return
    if not p.at("ALTER", "COLUMN"):
        p.skip_to_boundary(STOP_WORDS - {"ALTER", "DROP"})
        p.builder.skip("statement", "ALTER TABLE without a security effect",
                       p.statement_text(), ref)  # fmt: skip
        return
    p.pos += 2
    column = p.name("a column name")
    if p.accept("ADD", "MASKED"):
        _add_mask(p, schema, name, column, _mask_function(p), ref)
    elif p.accept("DROP", "MASKED"):
        p.builder.db().masked.pop((fold(schema), fold(name), fold(column)), None)
    else:
        p.skip_to_boundary(STOP_WORDS - {"ALTER", "DROP"})
        p.builder.skip("statement", "ALTER COLUMN without a security effect",
                       p.statement_text(), ref)  # fmt: skip


# ----------------------------------------------------------------------- modules


def _parsed(sql: str) -> exp.Expr | None:
    """A view's or inline function's SELECT read by sqlglot; None where it cannot."""
    try:
        return sqlglot.parse_one(sql, read="tsql")
    except SqlglotError:
        return None


def _select_names(query: exp.Expr | None) -> tuple[str, ...]:
    """Output column names of a view's SELECT, best effort (``*`` cannot be expanded)."""
    if not isinstance(query, exp.Query):
        return ()
    return tuple(n for n in query.named_selects if n and n != "*")


def _to_body(p: Parser) -> str | None:
    """Skip the module header up to its body's ``AS``; return an ``EXECUTE AS`` found there."""
    execute_as, depth = None, 0
    while (token := p.tok()) is not None:
        kind = token.token_type
        depth += (kind == TokenType.L_PAREN) - (kind == TokenType.R_PAREN)
        if depth == 0 and p.word() in ("EXECUTE", "EXEC") and p.word(1) == "AS":
            p.pos += 2
            token = p.tok()
            if token is not None and token.token_type in STRINGS:
                execute_as = p.string("a user name")
            else:
                execute_as = p.name("CALLER, SELF, OWNER or a user name").upper()
            continue
        if depth == 0 and p.word() == "AS" and not _is_parameter_type(p):
            p.pos += 1
            return execute_as
        p.pos += 1
    raise p.error("expected AS and the module body")


def _is_parameter_type(p: Parser) -> bool:
    """``@p AS int``: this AS belongs to a parameter, not to the body."""
    before = p.tokens[p.pos - 2] if p.pos >= 2 else None
    return before is not None and before.token_type == TokenType.PARAMETER


def create_view(p: Parser) -> None:
    """``CREATE VIEW name [(columns)] [WITH …] AS SELECT …``."""
    ref = p.ref()
    schema, name = object_name(p)
    listed = p.paren_names("a column name") if p.at_type(TokenType.L_PAREN) else None
    header = p.pos
    _to_body(p)
    body = p.tok()
    query = _parsed(p.batch.text[body.start :] if body else "")
    columns = listed if listed is not None else _select_names(query)
    view = DbObject(schema_name=schema, name=name, kind=ObjectKind.VIEW, columns=tuple(columns),
                    definition=_definition(p), source_ref=ref)  # fmt: skip
    if register(p, view):
        schema_binding.bind(p, view, p.tokens[header : p.pos], query, ref)
    p.skip_to_batch_end()


def create_procedure(p: Parser) -> None:
    """``CREATE PROC[EDURE] name [;n] [params] [WITH EXECUTE AS …] AS body``."""
    ref = p.ref()
    schema, name = object_name(p)
    execute_as = _to_body(p) or "CALLER"
    register(p, DbObject(schema_name=schema, name=name, kind=ObjectKind.PROCEDURE,
                         execute_as=execute_as, definition=_definition(p), source_ref=ref))  # fmt: skip
    p.skip_to_batch_end()


def _function_kind(p: Parser) -> ObjectKind:
    """Look ahead at RETURNS: ``TABLE`` or ``@t TABLE`` make a table-valued function."""
    for k in range(len(p.tokens) - p.pos):
        if p.word(k) == "RETURNS":
            table = p.word(k + 1) == "TABLE" or p.at_type(TokenType.PARAMETER, k + 1)
            return ObjectKind.TABLE_FUNCTION if table else ObjectKind.SCALAR_FUNCTION
    raise p.error("expected RETURNS")


def create_function(p: Parser) -> None:
    """``CREATE FUNCTION name (params) RETURNS … [WITH …] AS body``."""
    ref = p.ref()
    schema, name = object_name(p)
    kind, header = _function_kind(p), p.pos
    execute_as = _to_body(p) or "CALLER"
    function = DbObject(schema_name=schema, name=name, kind=kind, execute_as=execute_as,
                        definition=_definition(p), source_ref=ref)  # fmt: skip
    inline = kind == ObjectKind.TABLE_FUNCTION and p.word() == "RETURN" and p.tok(1) is not None
    query = _parsed(p.batch.text[p.tokens[p.pos + 1].start :]) if inline else None  # (RETURN …)
    if register(p, function):
        schema_binding.bind(p, function, p.tokens[header : p.pos], query, ref)
    p.skip_to_batch_end()


def _simple(kind: ObjectKind) -> Handler:
    def handler(p: Parser) -> None:
        ref = p.ref()
        schema, name = object_name(p)
        p.skip_to_boundary()
        register(p, DbObject(schema_name=schema, name=name, kind=kind, source_ref=ref))

    handler.__doc__ = f"``CREATE {kind.value} name …`` (its options are not read)."
    return handler


def create_synonym(p: Parser) -> None:
    """``CREATE SYNONYM name FOR [server.][db.][schema.]base``: the base object kept quoted, as
    ``sys.synonyms.base_object_name`` gives it."""
    ref = p.ref()
    schema, name = object_name(p)
    p.expect("FOR")
    base = p.qualified("a base object name")
    if len(base) > 4:
        raise p.error(f"too many name parts in {'.'.join(base)!r}")
    p.skip_to_boundary()
    register(p, DbObject(schema_name=schema, name=name, kind=ObjectKind.SYNONYM,
                         base_object=quote_name(base), source_ref=ref))  # fmt: skip


_CREATE_KINDS: dict[str, Handler] = {
    "TABLE": create_table,
    "VIEW": create_view,
    "PROC": create_procedure,
    "PROCEDURE": create_procedure,
    "FUNCTION": create_function,
    "SEQUENCE": _simple(ObjectKind.SEQUENCE),
    "TYPE": _simple(ObjectKind.TYPE),
    "SYNONYM": create_synonym,
    "TRIGGER": create_trigger,
}
_ALTERABLE = ("VIEW", "PROC", "PROCEDURE", "FUNCTION", "TRIGGER")


def create_or_alter(p: Parser) -> None:
    """``CREATE OR ALTER {VIEW | PROCEDURE | FUNCTION | TRIGGER} …``."""
    handler = _CREATE_KINDS.get(p.word()) if p.word() in _ALTERABLE else None
    if handler is None:
        raise p.error("expected VIEW, PROCEDURE, FUNCTION or TRIGGER")
    p.pos += 1
    handler(p)


STATEMENTS: dict[str, Handler] = {
    **{f"CREATE {kind}": handler for kind, handler in _CREATE_KINDS.items()},
    **{f"ALTER {kind}": _CREATE_KINDS[kind] for kind in _ALTERABLE},
    "CREATE OR ALTER": create_or_alter,
    "ALTER TABLE": alter_table,
}
