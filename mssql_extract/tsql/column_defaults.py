"""Column defaults that call a sequence, in scripts: ``CREATE TABLE … DEFAULT (NEXT VALUE FOR …)``
and ``ALTER TABLE t ADD [CONSTRAINT c] DEFAULT (NEXT VALUE FOR s.seq) FOR col``.

SSMS "Generate Scripts" writes a table's defaults as ``ALTER TABLE [s].[t] ADD DEFAULT (NEXT
VALUE FOR [s].[seq]) FOR [col]`` after the table, SSDT projects and hand-written scripts
inline in the column or as ``ADD CONSTRAINT``. The table's ``DbObject.sequence_defaults`` records
each (:mod:`mssql_extract.sequence_defaults` reads the expression), with the constraint's name
where the script gives one. An ALTER TABLE … ADD without one stays what it was: a statement
without a security effect (``modules.alter_table``), though the columns it adds are the
table's from then on, as those of CREATE TABLE are (what depends on them: ``dependents``).

A constraint named as one of those defaults, on any table of the schema, is refused as SQL
Server refuses it (Msg 2714: :mod:`mssql_extract.tsql.constraint_names`).

``ALTER TABLE t DROP [CONSTRAINT] [IF EXISTS] df, …`` removes the default named so, and ``DROP
COLUMN`` the column, unless a default depends on it (:mod:`mssql_extract.tsql.table_drops`).
A ``DROP SEQUENCE`` of a sequence a default calls is refused by SQL Server ("A
sequence object cannot be dropped if it is referenced as a default value in a table", DROP
SEQUENCE, Remarks, https://learn.microsoft.com/sql/t-sql/statements/drop-sequence-transact-sql):
:func:`calling` names the defaults in the way (``object_drops``). ``DROP TABLE`` takes
the table's defaults, and their names, with it.
"""

from __future__ import annotations

from sqlglot.tokenizer_core import Token, TokenType

from mssql_extract.sequence_defaults import sequence_defaults, sequences_in_tokens
from mssql_extract.snapshot import DbObject, ObjectKind, SequenceDefault, SourceRef, fold
from mssql_extract.tsql import constraint_names, dependents, loops
from mssql_extract.tsql.cursor import Parser
from mssql_extract.tsql.state import DbState, Dependent

#: Words that open a table constraint instead of a column in ``ALTER TABLE … ADD``.
_CONSTRAINTS = frozenset(
    {"PRIMARY", "PRIMARY KEY", "UNIQUE", "FOREIGN", "FOREIGN KEY", "CHECK", "INDEX", "PERIOD"}
)
#: What an ALTER TABLE … ADD without a sequence default is (``modules.alter_table``'s words).
WITHOUT_EFFECT = "ALTER TABLE without a security effect"
#: How the reason of a refused DROP SEQUENCE ends (the mapper's GB045 action tells it by this).
SEQUENCE_STANDS = "the sequence stands (not replayed)"
#: When a later pass of a loop succeeds where a refused DROP SEQUENCE failed (``loops``).
_DEFAULT_GONE = "once a later pass finds the defaults dropped, SQL Server drops the sequence"
#: Why a default on a table no script creates is kept as skipped (a GB045 finding).
NO_TABLE = (
    "a column default calling a sequence, on a table that no script creates: the USAGE on the "
    "sequence that its INSERT grantees need in PostgreSQL is not planned"
)


def in_column(tokens: list[Token]) -> list[str]:
    """The sequences a column definition's default calls (NEXT VALUE FOR is allowed in a
    default constraint only: "NEXT VALUE FOR (Transact-SQL)", Limitations)."""
    return sequences_in_tokens(tokens)


def named_in_column(tokens: list[Token]) -> str | None:
    """The name a column definition gives its default (``… CONSTRAINT df DEFAULT …``), if any."""
    depth = 0
    for i, token in enumerate(tokens):
        depth += (token.token_type == TokenType.L_PAREN) - (token.token_type == TokenType.R_PAREN)
        if depth == 0 and upper(token) == "DEFAULT":
            return tokens[i - 1].text if i >= 2 and upper(tokens[i - 2]) == "CONSTRAINT" else None
    return None


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
    names: dict[str, str | None] = {}
    added: list[str] = []  # the columns it adds, each onto the table's (``_record``)
    constraints: list[str] = []
    found = table_named(p, schema, table)
    columns = list(found.columns) if found is not None else []
    depending: list[Dependent] = []
    for item in items(p.tokens[start : p.pos]):
        column, sequences, new, name = _item(item)
        if column and sequences:
            called[column], names[column] = sequences, name
        constraints += constraint_names.named(item)
        depending += _depending(item, columns, ref)
        added += [item[0].text] if new else []
        columns += [item[0].text] if new else []  # a computed column names earlier ones
    if constraint_names.refused(p, schema, constraints):
        return True
    dependents.record(p, schema, table, depending)
    if called:
        _record(p, schema, table, sequence_defaults(called, names), added, ref)
        return True
    if found is not None and added:
        replace_table(p, found, columns=_with(found, added))
    p.builder.skip("statement", WITHOUT_EFFECT, p.statement_text(), ref)
    return True


def _depending(item: list[Token], columns: list[str], ref: SourceRef) -> list[Dependent]:
    """What an ``ADD`` item states depends on the table's columns (:mod:`.dependents`): a
    table constraint's or index's, or a new column's own constraints."""
    words = [upper(t) for t in item]
    at = 2 if words[0] == "CONSTRAINT" else 0
    if at < len(words) and (words[at] in _CONSTRAINTS or words[at] == "DEFAULT"):
        return dependents.in_item(item, columns, ref)
    if words[0] == "PERIOD":
        return []
    return dependents.in_column(item[0].text, item[1:], ref) + dependents.computed(
        item[0].text, item[1:], columns, ref
    )


def items(tokens: list[Token]) -> list[list[Token]]:
    """The comma-separated items of an ``ADD`` or ``DROP`` list (commas inside parentheses
    kept)."""
    found: list[list[Token]] = [[]]
    depth = 0
    for token in tokens:
        kind = token.token_type
        depth += (kind == TokenType.L_PAREN) - (kind == TokenType.R_PAREN)
        if kind == TokenType.COMMA and depth == 0:
            found.append([])
        elif kind != TokenType.SEMICOLON:
            found[-1].append(token)
    return [item for item in found if item]


def upper(token: Token) -> str:
    """A word token upper-cased; ``""`` for a quoted name (``[DEFAULT]`` is no keyword)."""
    return "" if token.token_type == TokenType.IDENTIFIER else token.text.upper()


def _item(tokens: list[Token]) -> tuple[str | None, list[str], bool, str | None]:
    """(column, sequences its default calls, whether the item adds the column, the default's
    name) of one item: ``[CONSTRAINT c] DEFAULT expr FOR col [WITH VALUES]`` or a column
    definition."""
    words = [upper(t) for t in tokens]
    at = 2 if words[0] == "CONSTRAINT" else 0
    if at >= len(tokens) or words[at] in _CONSTRAINTS:
        return None, [], False, None
    if words[at] != "DEFAULT":  # a new column, with its definition
        return tokens[0].text, in_column(tokens[1:]), True, named_in_column(tokens[1:])
    depth, column = 0, None
    for i, token in enumerate(tokens):
        depth += (token.token_type == TokenType.L_PAREN) - (token.token_type == TokenType.R_PAREN)
        if depth == 0 and words[i] == "FOR" and words[i - 1] != "VALUE" and i + 1 < len(tokens):
            column = tokens[i + 1].text, i
    if column is None:
        return None, [], False, None
    name = tokens[1].text if at else None
    return column[0], sequences_in_tokens(tokens[at + 1 : column[1]]), False, name


def _record(
    p: Parser, schema: str, table: str, made: tuple[SequenceDefault, ...], added: list[str],
    ref: SourceRef,
) -> None:  # fmt: skip
    """The defaults onto the table (replacing the columns' earlier ones: a column has one
    default, "Column already has a DEFAULT bound to it" otherwise), or kept as skipped."""
    found = table_named(p, schema, table)
    if found is None:
        p.builder.skip("statement", NO_TABLE, p.statement_text(), ref)
        return
    replaced = {fold(d.column) for d in made}
    kept = [d for d in found.sequence_defaults if fold(d.column) not in replaced]
    replace_table(p, found, sequence_defaults=(*kept, *made), columns=_with(found, added))


def _with(table: DbObject, added: list[str]) -> tuple[str, ...]:
    """The table's columns and those an ``ADD`` adds: a later statement's computed column,
    CHECK or DROP COLUMN finds them as it finds those of CREATE TABLE (:mod:`.dependents`)."""
    known = {fold(c) for c in table.columns}
    return (*table.columns, *(c for c in added if fold(c) not in known))


def table_named(p: Parser, schema: str, table: str) -> DbObject | None:
    """The table ``schema.table`` of the current database; None where no script creates one."""
    found = p.builder.db().objects.get((fold(schema), fold(table)))
    return found if found is not None and found.kind == ObjectKind.TABLE else None


def replace_table(p: Parser, table: DbObject, **update: object) -> None:
    """``table`` again, with the fields of ``update`` (its defaults sorted by key)."""
    fields = {name: getattr(table, name) for name in table.model_fields_set} | update
    defaults: tuple[SequenceDefault, ...] = fields.get("sequence_defaults", ())
    fields["sequence_defaults"] = tuple(sorted(defaults, key=lambda d: d.key))
    key = (fold(table.schema_name), fold(table.name))
    p.builder.db().objects[key] = DbObject(**fields)  # built, not copied: its fields set is shared


def calling(db: DbState, schema: str, name: str) -> list[str]:
    """The defaults that call the sequence ``schema.name`` (``[s].[t] column [id]``), whose
    name a default gives with its schema, or alone where no other sequence has it (as the
    mapper resolves one: :mod:`mapper.translate.default_sequences`)."""
    key = (fold(schema), fold(name))
    named = [k for k, o in db.objects.items() if o.kind == ObjectKind.SEQUENCE and k[1] == key[1]]
    found: list[str] = []
    for table in db.objects.values():
        for default in table.sequence_defaults if table.kind == ObjectKind.TABLE else ():
            if _calls(default.sequence_parts, db.name, key, alone=len(named) == 1):
                found.append(f"[{table.schema_name}].[{table.name}] column [{default.column}]")
    return sorted(found)


def _calls(parts: tuple[str, ...], database: str, key: tuple[str, str], *, alone: bool) -> bool:
    """Whether a default that names its sequence by ``parts`` calls the one of ``key``."""
    if fold(parts[-1]) != key[1]:
        return False
    if len(parts) == 3 and parts[0] and fold(parts[0]) != fold(database):
        return False  # another database's: refused when the default was made
    return fold(parts[-2]) == key[0] if len(parts) > 1 and parts[-2] else alone


def refuse_drop(p: Parser, refused: dict[str, list[str]], ref: SourceRef) -> None:
    """Keep a ``DROP SEQUENCE`` as skipped, naming each sequence (``[s].[q]``) SQL Server does
    not drop and the defaults that call it (:func:`calling`): the sequence stands, as on the
    server, and the default's INSERT grantees still need USAGE on it."""
    said = "; ".join(f"sequence {sequence} is called by the default of {', '.join(users)}"
                     for sequence, users in sorted(refused.items()))  # fmt: skip
    reason = (
        f'{said}, so SQL Server refuses the DROP SEQUENCE ("A sequence object cannot be '
        f'dropped if it is referenced as a default value in a table", DROP SEQUENCE, Remarks)'
        f"{loops.refused_in_loop(p, _DEFAULT_GONE)}: {SEQUENCE_STANDS}"
    )
    p.builder.skip("statement", reason, p.statement_text(), ref)
