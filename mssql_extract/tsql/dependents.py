"""What depends on a table's columns, as the scripts state it: constraints, indexes, statistics.

SQL Server refuses ``ALTER TABLE t DROP COLUMN c`` while c is used in an index (as a key column
or an INCLUDE) or statistics, in a PRIMARY KEY, UNIQUE, FOREIGN KEY or CHECK constraint, or by a
DEFAULT constraint ("ALTER TABLE (Transact-SQL)", DROP COLUMN, which lists what a column cannot
be dropped for, https://learn.microsoft.com/sql/t-sql/statements/alter-table-transact-sql):
Msg 5074 "The object 'pk' is dependent on column 'c'." ("The index 'ix' …", "The statistics
's' …"), then Msg 4922 "ALTER TABLE DROP COLUMN c failed because one or more objects access
this column." (``table_drops``). The replay keeps, for each table a script creates
(``Objects.dependents``), what the scripts state of them:

* ``CREATE TABLE`` and ``ALTER TABLE … ADD``: a column's own constraints (``c int CONSTRAINT pk
  PRIMARY KEY``, ``REFERENCES``, ``CHECK``, ``DEFAULT``, an inline ``INDEX ix``) depend on it;
  a table constraint or index on the columns of its list (``PRIMARY KEY (a, b)``, ``FOREIGN KEY
  (a) REFERENCES …``, ``INDEX ix (a) INCLUDE (b) WHERE …``), a CHECK on the table's columns its
  expression names, ``ADD [CONSTRAINT df] DEFAULT … FOR c`` on c;
* ``CREATE [UNIQUE] [[NON]CLUSTERED] INDEX ix ON t (…) [INCLUDE (…)] [WHERE …]`` and ``CREATE
  STATISTICS s ON t (…)``, ``DROP INDEX`` and ``DROP STATISTICS`` (both spellings: ``ix ON t``,
  ``t.ix``); ``ALTER TABLE … DROP CONSTRAINT`` (``table_drops``), ``DROP TABLE``, ``sp_rename``
  and ``ALTER SCHEMA … TRANSFER`` follow them (``Objects``, ``object_renames``).

Only what a script states is kept: a CLUSTERED COLUMNSTORE index (no column list), a computed
column, a foreign key of another table that references the column, a statement in an IF branch
the replay cannot decide or in a WHILE loop (it may not run) add nothing, and a DROP COLUMN the
replay knows no dependent of is followed as before. A constraint without a name (SQL Server
names it ``PK__t__…``) may be what a ``DROP CONSTRAINT`` of a name the replay does not know
drops: such a drop forgets the table's unnamed constraints, and dynamic SQL the replay cannot
read (``EXEC (@sql)``: scripts drop one so, its name read from ``sys.default_constraints``)
forgets every unnamed constraint of the database (``procedures``).

Those statements have no security effect: each is still kept as a skipped item, as before
(``indexes`` reads CREATE and DROP INDEX and STATISTICS).
"""

from __future__ import annotations

from sqlglot.tokenizer_core import Token, TokenType

from mssql_extract.snapshot import ObjectKind, SourceRef, fold
from mssql_extract.tsql.cursor import Parser
from mssql_extract.tsql.state import Dependent

#: A word that opens a constraint or index → its kind.
_KINDS = {
    "PRIMARY KEY": "PRIMARY KEY", "PRIMARY": "PRIMARY KEY", "UNIQUE": "UNIQUE",
    "FOREIGN KEY": "FOREIGN KEY", "FOREIGN": "FOREIGN KEY", "REFERENCES": "FOREIGN KEY",
    "CHECK": "CHECK", "DEFAULT": "DEFAULT", "INDEX": "INDEX",
}  # fmt: skip


def upper(token: Token) -> str:
    """A word token upper-cased; ``""`` for a quoted name (``[DEFAULT]`` is no keyword)."""
    return "" if token.token_type == TokenType.IDENTIFIER else token.text.upper()


def in_column(column: str, tokens: list[Token], ref: SourceRef) -> list[Dependent]:
    """The constraints and inline index of a column definition (``tokens``: after its name),
    each depending on the column."""
    found: list[Dependent] = []
    on, name, depth, last = frozenset({fold(column)}), None, 0, ""
    i = 0
    while i < len(tokens):
        token = tokens[i]
        depth += (token.token_type == TokenType.L_PAREN) - (token.token_type == TokenType.R_PAREN)
        word = upper(token) if depth == 0 else ""
        kind = _KINDS.get(word)
        if word == "CONSTRAINT" and i + 1 < len(tokens):
            name, i = tokens[i + 1].text, i + 2
            continue
        if kind == "INDEX" and i + 1 < len(tokens):
            found.append(Dependent("INDEX", tokens[i + 1].text, on, ref))
            name, i = None, i + 2
            continue
        if kind and not (word == "REFERENCES" and last == "FOREIGN KEY") and last != "SET":
            found.append(Dependent(kind, name, on, ref))  # (ON DELETE SET DEFAULT is no default)
            name = None
        last = (kind or word) if word else last
        i += 1
    return found


def in_item(tokens: list[Token], columns: list[str], ref: SourceRef) -> list[Dependent]:
    """The table constraint or index of a CREATE TABLE or ALTER TABLE … ADD item that is not a
    column (``[CONSTRAINT n] PRIMARY KEY (a, b)`` …; ``DEFAULT … FOR c``), on the table's
    ``columns`` it names; none for an item the replay does not follow."""
    words = [upper(t) for t in tokens]
    at, name = (2, tokens[1].text) if words[0] == "CONSTRAINT" and len(tokens) > 2 else (0, None)
    kind = _KINDS.get(words[at]) if at < len(words) else None
    if kind == "INDEX" and at + 1 < len(tokens):
        name, at = tokens[at + 1].text, at + 2
    if kind is None or (kind == "INDEX" and not _opens_list(tokens, at)):
        return []
    if kind == "DEFAULT":
        fors = [i for i, w in enumerate(words) if w == "FOR" and words[i - 1] != "VALUE"]
        target = tokens[fors[-1] + 1].text if fors and fors[-1] + 1 < len(tokens) else None
        return [Dependent(kind, name, frozenset({fold(target)}), ref)] if target else []
    if kind == "CHECK":
        return [Dependent(kind, name, named_columns(tokens[at + 1 :], columns), ref)]
    return [Dependent(kind, name, key_columns(tokens, at, columns), ref)]


def _opens_list(tokens: list[Token], at: int) -> bool:
    """Whether a ``( … )`` list follows ``at`` before anything but CLUSTERED/NONCLUSTERED and
    UNIQUE (``INDEX ix CLUSTERED COLUMNSTORE`` has none)."""
    for token in tokens[at:]:
        if token.token_type == TokenType.L_PAREN:
            return True
        if upper(token) not in ("UNIQUE", "CLUSTERED", "NONCLUSTERED"):
            return False
    return False


def key_columns(tokens: list[Token], at: int, columns: list[str]) -> frozenset[str]:
    """The columns of the first ``( … )`` list after ``at`` (a key, or a foreign key's own
    columns) and of an ``INCLUDE ( … )`` list, and the ``columns`` a ``WHERE`` filter names,
    folded: each item of a list begins with its column (``a ASC``)."""
    found: set[str] = set()
    depth, first, taking = 0, True, False
    for i in range(at, len(tokens)):
        kind, word = tokens[i].token_type, upper(tokens[i])
        if depth == 0 and word == "REFERENCES":
            break  # the referenced table's columns are not this table's
        if depth == 0 and word == "WHERE":
            found |= named_columns(tokens[i + 1 :], columns)
            break
        if kind == TokenType.L_PAREN:
            depth += 1
            if depth == 1:
                taking = first or (i > 0 and upper(tokens[i - 1]) == "INCLUDE")
                first = False
        elif kind == TokenType.R_PAREN:
            depth -= 1
        opens = kind in (TokenType.L_PAREN, TokenType.COMMA) and i + 1 < len(tokens)
        if taking and depth == 1 and opens:
            found.add(fold(tokens[i + 1].text))
    return frozenset(found)


def named_columns(tokens: list[Token], columns: list[str]) -> frozenset[str]:
    """The ``columns`` (of the table) a CHECK or filter expression names, folded; a name
    followed by ``(`` is a function's."""
    known = {fold(c) for c in columns}
    return frozenset(
        fold(token.text)
        for i, token in enumerate(tokens)
        if fold(token.text) in known
        and not (i + 1 < len(tokens) and tokens[i + 1].token_type == TokenType.L_PAREN)
    )


def record(p: Parser, schema: str, table: str, found: list[Dependent]) -> None:
    """``found`` onto the table ``schema.table`` a script created; nothing for another table,
    or where the script may not run the statement (an IF the replay cannot decide, a loop)."""
    key = (fold(schema), fold(table))
    db = p.builder.db()
    obj = db.objects.get(key)
    if found and obj is not None and obj.kind == ObjectKind.TABLE and not _maybe_not_run(p):
        db.objects.depend(key, found)


def _maybe_not_run(p: Parser) -> bool:
    return p.uncertain or p.loop is not None
