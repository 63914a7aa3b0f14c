"""Column defaults that call a sequence, in scripts: ``CREATE TABLE … DEFAULT (NEXT VALUE FOR …)``
and ``ALTER TABLE t ADD [CONSTRAINT c] DEFAULT (NEXT VALUE FOR s.seq) FOR col``.

SSMS "Generate Scripts" writes a table's defaults as ``ALTER TABLE [s].[t] ADD DEFAULT (NEXT
VALUE FOR [s].[seq]) FOR [col]`` after the table, SSDT projects and hand-written scripts
inline in the column or as ``ADD CONSTRAINT``. The table's ``DbObject.sequence_defaults`` records
each (:mod:`mssql_extract.sequence_defaults` reads the expression). An ALTER TABLE … ADD without
one stays what it was: a statement without a security effect (``modules.alter_table``).
A later ``DROP CONSTRAINT`` is not followed (constraint names are not kept).
"""

from __future__ import annotations

from sqlglot.tokenizer_core import Token, TokenType

from mssql_extract.sequence_defaults import sequence_defaults, sequences_in_tokens
from mssql_extract.snapshot import DbObject, ObjectKind, SourceRef, fold
from mssql_extract.tsql.cursor import Parser

#: Words that open a table constraint instead of a column in ``ALTER TABLE … ADD``.
_CONSTRAINTS = frozenset(
    {"PRIMARY", "PRIMARY KEY", "UNIQUE", "FOREIGN", "FOREIGN KEY", "CHECK", "INDEX", "PERIOD"}
)
#: What an ALTER TABLE … ADD without a sequence default is (``modules.alter_table``'s words).
WITHOUT_EFFECT = "ALTER TABLE without a security effect"
#: Why a default on a table no script creates is kept as skipped (a GB045 finding).
NO_TABLE = (
    "a column default calling a sequence, on a table that no script creates: the USAGE on the "
    "sequence that its INSERT grantees need in PostgreSQL is not planned"
)


def in_column(tokens: list[Token]) -> list[str]:
    """The sequences a column definition's default calls (NEXT VALUE FOR is allowed in a
    default constraint only: "NEXT VALUE FOR (Transact-SQL)", Limitations)."""
    return sequences_in_tokens(tokens)


def alter_table_add(p: Parser, schema: str, table: str, ref: SourceRef) -> bool:
    """``ALTER TABLE t [WITH {CHECK | NOCHECK}] ADD item, …`` read at the current token: the
    sequence defaults among its items recorded on the table; a statement without one is kept
    as skipped, without a security effect. False, nothing read: not an ``ADD``."""
    if p.word() == "WITH" and p.word(1) in ("CHECK", "NOCHECK") and p.word(2) == "ADD":
        p.pos += 2
    if not p.accept("ADD"):
        return False
    start = p.pos
    p.skip_to_boundary()  # no ALTER or DROP inside an ADD list: the next statement's
    called: dict[str, list[str]] = {}
    added: list[str] = []
    for item in _items(p.tokens[start : p.pos]):
        column, sequences, new = _item(item)
        if column and sequences:
            called[column] = sequences
            added += [column] if new else []
    if called:
        _record(p, schema, table, called, added, ref)
    else:
        p.builder.skip("statement", WITHOUT_EFFECT, p.statement_text(), ref)
    return True


def _items(tokens: list[Token]) -> list[list[Token]]:
    """The comma-separated items of an ``ADD`` list (commas inside parentheses kept)."""
    items: list[list[Token]] = [[]]
    depth = 0
    for token in tokens:
        kind = token.token_type
        depth += (kind == TokenType.L_PAREN) - (kind == TokenType.R_PAREN)
        if kind == TokenType.COMMA and depth == 0:
            items.append([])
        elif kind != TokenType.SEMICOLON:
            items[-1].append(token)
    return [item for item in items if item]


def _upper(token: Token) -> str:
    return "" if token.token_type == TokenType.IDENTIFIER else token.text.upper()


def _item(tokens: list[Token]) -> tuple[str | None, list[str], bool]:
    """(column, sequences its default calls, whether the item adds the column) of one item:
    ``[CONSTRAINT c] DEFAULT expr FOR col [WITH VALUES]`` or a column definition."""
    words = [_upper(t) for t in tokens]
    at = 2 if words[0] == "CONSTRAINT" else 0
    if at >= len(tokens) or words[at] in _CONSTRAINTS:
        return None, [], False
    if words[at] != "DEFAULT":  # a new column, with its definition
        return tokens[0].text, in_column(tokens[1:]), True
    depth, column = 0, None
    for i, token in enumerate(tokens):
        depth += (token.token_type == TokenType.L_PAREN) - (token.token_type == TokenType.R_PAREN)
        if depth == 0 and words[i] == "FOR" and words[i - 1] != "VALUE" and i + 1 < len(tokens):
            column = tokens[i + 1].text, i
    if column is None:
        return None, [], False
    return column[0], sequences_in_tokens(tokens[at + 1 : column[1]]), False


def _record(
    p: Parser, schema: str, table: str, called: dict[str, list[str]], added: list[str],
    ref: SourceRef,
) -> None:  # fmt: skip
    """The defaults onto the table (replacing the columns' earlier ones: a column has one
    default, "Column already has a DEFAULT bound to it" otherwise), or kept as skipped."""
    objects = p.builder.db().objects
    key = (fold(schema), fold(table))
    found = objects.get(key)
    if found is None or found.kind != ObjectKind.TABLE:
        p.builder.skip("statement", NO_TABLE, p.statement_text(), ref)
        return
    replaced = {fold(c) for c in called}
    kept: dict[str, list[str]] = {}
    for earlier in found.sequence_defaults:
        if fold(earlier.column) not in replaced:
            kept.setdefault(earlier.column, []).append(earlier.sequence)
    known = {fold(c) for c in found.columns}
    columns = (*found.columns, *(c for c in added if fold(c) not in known))
    fields = {name: getattr(found, name) for name in found.model_fields_set}
    fields |= {"sequence_defaults": sequence_defaults({**kept, **called}), "columns": columns}
    objects[key] = DbObject(**fields)  # built, not copied: its fields set is shared
