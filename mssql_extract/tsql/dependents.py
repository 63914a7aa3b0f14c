"""What depends on a table's columns, as the scripts state it: constraints, indexes, statistics,
computed columns, the foreign keys of other tables that reference them, and the views and
functions WITH SCHEMABINDING that name them (``schema_binding``).

SQL Server refuses ``ALTER TABLE t DROP COLUMN c`` while c is used in an index (as a key column
or an INCLUDE) or statistics, in a PRIMARY KEY, UNIQUE, FOREIGN KEY or CHECK constraint, or by a
DEFAULT constraint ("ALTER TABLE (Transact-SQL)", DROP COLUMN, which lists what a column cannot
be dropped for, https://learn.microsoft.com/sql/t-sql/statements/alter-table-transact-sql), and
while a computed column of the table uses it ("A computed column expression can use data from
other columns", "Specify computed columns in a table", https://learn.microsoft.com/sql/
relational-databases/tables/specify-computed-columns-in-a-table; its column is then a dependent:
Msg 5074 "The column 'b' is dependent on column 'a'."): Msg 5074 "The object 'pk' is dependent
on column 'c'." ("The index 'ix' …", "The statistics 's' …"), one for each, then Msg 4922 "ALTER
TABLE DROP COLUMN c failed because one or more objects access this column." (``table_drops``).
A FOREIGN KEY uses c also where c is a column it references (``REFERENCES t (c)``, or
``REFERENCES t`` without a list: t's primary key, CREATE TABLE (Transact-SQL), REFERENCES);
such a column is always in a PRIMARY KEY, UNIQUE constraint or unique index too (a foreign key
references only those: CREATE TABLE (Transact-SQL), FOREIGN KEY constraints), named as well:
the reason names each thing the replay knows on the column, in the order the scripts state them
(the order of SQL Server's messages is not documented), the foreign keys of other tables last.
The replay keeps, for each table a script creates (``Objects.dependents``), what the scripts
state of them; a column an ``ALTER TABLE … ADD`` adds is one of the table's as a column of
CREATE TABLE is (``column_defaults``), for the computed columns and CHECKs of that statement
after it and of later ones:

* ``CREATE TABLE`` and ``ALTER TABLE … ADD``: a column's own constraints (``c int CONSTRAINT pk
  PRIMARY KEY``, ``REFERENCES``, ``CHECK``, ``DEFAULT``, an inline ``INDEX ix``) depend on it;
  a table constraint or index on the columns of its list (``PRIMARY KEY (a, b)``, ``FOREIGN KEY
  (a) REFERENCES …``, ``INDEX ix (a) INCLUDE (b) WHERE …``), a CHECK on the table's columns its
  expression names, ``ADD [CONSTRAINT df] DEFAULT … FOR c`` on c; a computed column (``b AS a *
  2``, ``ADD b AS (a + 1) PERSISTED``) on the table's columns its expression names (not a
  string, a function's name or a type after ``AS``); a foreign key also on the columns it
  references of a table a script creates (``Objects.referencing``), read where it is made;
* ``CREATE [UNIQUE] [[NON]CLUSTERED] INDEX ix ON t (…) [INCLUDE (…)] [WHERE …]`` and ``CREATE
  STATISTICS s ON t (…)``, ``DROP INDEX`` and ``DROP STATISTICS`` (both spellings: ``ix ON t``,
  ``t.ix``); ``ALTER TABLE … DROP CONSTRAINT`` and ``DROP COLUMN`` of a computed column
  (``table_drops``), ``DROP TABLE`` (``object_drops``), ``sp_rename`` (of a table, constraint,
  column or index) and ``ALTER SCHEMA … TRANSFER`` follow them, at both ends of a foreign key
  (``Objects``, ``object_renames``).

A DROP COLUMN list that names a computed column and a column it uses (``DROP COLUMN b, a`` or
``a, b``): the documentation says only that "multiple columns can be listed", not whether SQL
Server checks each column against the columns listed before it, after it or none. The replay
takes the reading that drops: a computed column the same list drops holds nothing, as what a
wrong drop leaves out (the column's grants) can be granted again, where a wrong refusal would
plan grants on a column the server no longer has (``table_drops``). Constraints, indexes and
statistics are dropped in the list's order, as before.

Only what a script states is kept: a CLUSTERED COLUMNSTORE index (no column list), a foreign
key of a table no script creates or that references one, a ``REFERENCES t`` whose t has no
primary key the scripts state, what the replay cannot read of a view or function WITH
SCHEMABINDING (``schema_binding``: it reads a view's SELECT and an inline function's), a
statement in an IF branch the replay cannot decide or in a WHILE loop (it may not run) add
nothing, and a DROP COLUMN the replay knows no dependent of is followed as before.
The foreign keys of other tables keep the table they reference from a DROP TABLE (Msg 3726),
and the PRIMARY KEY or UNIQUE constraint they use from a DROP CONSTRAINT (Msg 3725): the replay
refuses both as SQL Server does (``key_refusals``, which says what it leaves out: a key whose
columns another key or index of the table has too, a foreign key of a table to itself). A view
or function WITH SCHEMABINDING keeps the tables and views it references from a DROP (Msg 3729)
and the columns it names from a DROP COLUMN (Msg 5074), as a foreign key does (it is kept as a
dependent of itself that references them), and both from an ``sp_rename`` (Msg 15336:
``rename_refusals``). A constraint without a name (SQL Server names it
``PK__t__…``) may be what a ``DROP CONSTRAINT`` of a name the replay does not know drops: such a
drop forgets the table's unnamed constraints, and dynamic SQL the replay cannot read (``EXEC
(@sql)``: scripts drop one so, its name read from ``sys.default_constraints``) forgets every
unnamed constraint of the database (``procedures``).

Those statements have no security effect: each is still kept as a skipped item, as before
(``indexes`` reads CREATE and DROP INDEX and STATISTICS).
"""

from __future__ import annotations

from dataclasses import replace

from sqlglot.tokenizer_core import Token, TokenType

from mssql_extract.snapshot import ObjectKind, SourceRef, fold
from mssql_extract.tsql.cursor import Parser
from mssql_extract.tsql.state import Dependent
from mssql_extract.tsql.tokens import LITERALS

#: Words that end a computed column's expression (its constraints follow: "ALTER TABLE
#: computed_column_definition (Transact-SQL)").
_AFTER_EXPRESSION = frozenset(
    {"PERSISTED", "CONSTRAINT", "PRIMARY KEY", "PRIMARY", "UNIQUE", "CHECK", "FOREIGN KEY"}
    | {"FOREIGN", "REFERENCES", "INDEX"}
)
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
            made = Dependent(kind, name, on, ref)
            found.append(_referencing(made, tokens, i) if kind == "FOREIGN KEY" else made)
            name = None  # (ON DELETE SET DEFAULT is no default)
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
    return [_referencing(Dependent(kind, name, key_columns(tokens, at, columns), ref), tokens, at)]


def computed(
    column: str, tokens: list[Token], columns: list[str], ref: SourceRef
) -> list[Dependent]:
    """A computed column (``tokens``: after its name, ``AS expression [PERSISTED] …``) on the
    ``columns`` (of the table) its expression names; none for another column."""
    if not tokens or upper(tokens[0]) != "AS":
        return []
    depth, end = 0, len(tokens)
    for i, token in enumerate(tokens):
        depth += (token.token_type == TokenType.L_PAREN) - (token.token_type == TokenType.R_PAREN)
        if depth == 0 and upper(token) in _AFTER_EXPRESSION:
            end = i
            break
    on = named_columns(tokens[1:end], columns) - {fold(column)}
    return [Dependent("COMPUTED", column, on, ref)] if on else []


def _referencing(dependent: Dependent, tokens: list[Token], at: int) -> Dependent:
    """A FOREIGN KEY opened at ``at`` with the table after its ``REFERENCES`` and the columns
    of its list (none: that table's primary key, :func:`record`); another kind as it is."""
    if dependent.kind != "FOREIGN KEY":
        return dependent
    depth, i = 0, at
    while i < len(tokens) and not (depth == 0 and upper(tokens[i]) == "REFERENCES"):
        depth += (tokens[i].token_type == TokenType.L_PAREN) - (
            tokens[i].token_type == TokenType.R_PAREN
        )
        i += 1
    parts: list[str] = []
    while i + 1 < len(tokens) and (not parts or tokens[i].token_type == TokenType.DOT):
        parts.append(fold(tokens[i + 1].text))
        i += 2
    if not parts:
        return dependent
    referenced = key_columns(tokens, i, []) if i < len(tokens) else frozenset()
    if i < len(tokens) and tokens[i].token_type != TokenType.L_PAREN:
        referenced = frozenset()  # (ON DELETE …, NOT FOR REPLICATION: no list)
    schema = parts[-2] if len(parts) > 1 else ""
    return replace(dependent, references=(schema, parts[-1]), referenced=referenced)


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
    """The ``columns`` (of the table) a CHECK, filter or computed column's expression names,
    folded; a name followed by ``(`` is a function's, one after ``AS`` a type's
    (``CAST(a AS date)``), a string is none."""
    known = {fold(c) for c in columns}
    return frozenset(
        fold(token.text)
        for i, token in enumerate(tokens)
        if fold(token.text) in known
        and token.token_type not in LITERALS
        and not (i > 0 and upper(tokens[i - 1]) == "AS")
        and not (i + 1 < len(tokens) and tokens[i + 1].token_type == TokenType.L_PAREN)
    )


def record(p: Parser, schema: str, table: str, found: list[Dependent]) -> None:
    """``found`` onto the table ``schema.table`` a script created; nothing for another table,
    or where the script may not run the statement (an IF the replay cannot decide, a loop)."""
    key = (fold(schema), fold(table))
    db = p.builder.db()
    obj = db.objects.get(key)
    if found and obj is not None and obj.kind == ObjectKind.TABLE and not _maybe_not_run(p):
        db.objects.depend(key, [_resolved(p, key, d, found) for d in found])


def _resolved(
    p: Parser, key: tuple[str, str], dependent: Dependent, found: list[Dependent]
) -> Dependent:
    """A foreign key's referenced table in the default schema where the script names none, and
    its referenced columns that table's primary key where it lists none ("REFERENCES
    ref_table [ ( ref_column ) ]": "the primary key of the referenced table" otherwise, CREATE
    TABLE (Transact-SQL)); it references nothing the replay follows where that table or key is
    not known."""
    if dependent.references is None:
        return dependent
    schema, name = dependent.references
    target = (schema or fold(p.schema or "dbo"), name)
    objects = p.builder.db().objects
    table = objects.get(target)
    keys = list(objects.dependents.get(target, ())) + (found if target == key else [])
    primary = [d.columns for d in keys if d.kind == "PRIMARY KEY"]
    referenced = dependent.referenced or (primary[-1] if primary else frozenset())
    if table is None or table.kind != ObjectKind.TABLE or not referenced:
        return replace(dependent, references=None, referenced=frozenset())
    return replace(dependent, references=target, referenced=referenced)


def _maybe_not_run(p: Parser) -> bool:
    return p.uncertain or p.loop is not None
