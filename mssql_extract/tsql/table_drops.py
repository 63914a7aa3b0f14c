"""``ALTER TABLE t DROP item, …``: the constraints and columns it names, in the list's order.

``DROP { [CONSTRAINT] [IF EXISTS] name [WITH (…)] [, …] | COLUMN [IF EXISTS] column [, …] |
PERIOD FOR SYSTEM_TIME } [, …]`` ("ALTER TABLE (Transact-SQL)", DROP,
https://learn.microsoft.com/sql/t-sql/statements/alter-table-transact-sql): the word CONSTRAINT
is optional, and a name after a ``COLUMN`` item's comma is a column until the next CONSTRAINT.

A constraint item removes the sequence default it names (``column_defaults``), whose sequence
then needs no USAGE for the table's INSERT grantees. A name the replay does not know is no
error: it may be a CHECK, a key, a default calling no sequence, or one SQL Server named
(``DF__t__id__…``, which a script cannot know before it runs).

A column item removes the column, its mask and every column-level permission on it, GRANT or
DENY, of every grantee: such a permission is a ``sys.database_permissions`` row whose
``minor_id`` is the column's ``column_id``, and it goes with the column (left in the snapshot,
the plan would grant on a column the target does not have). A column the replay knows nothing
of (not among the table's columns, no permission or mask on it; a table no script creates has
no columns) changes nothing.

SQL Server refuses to drop a column that a DEFAULT constraint depends on: Msg 5074 "The object
'DF_…' is dependent on column 'c'.", then Msg 4922 "ALTER TABLE DROP COLUMN c failed because one
or more objects access this column." ("Database Engine events and errors"); so it does for a
column in a PRIMARY KEY, UNIQUE, FOREIGN KEY or CHECK constraint, an index or statistics ("The
index 'ix' is dependent …"), a column a computed column uses ("The column 'b' …"), one a
foreign key of another table references, and one a view or function WITH SCHEMABINDING names
("The object 'v' …", :mod:`.schema_binding`). The replay knows the defaults that call a
sequence, and the other constraints, indexes, statistics, computed columns, foreign keys and
schema-bound modules the scripts state (:mod:`.dependents`): one on the column that no earlier
item of the list dropped (``DROP CONSTRAINT df, COLUMN c`` drops both; an index goes by DROP
INDEX, before; a computed column the list drops too, anywhere in it, holds nothing) makes SQL
Server refuse the statement (the reason names each, a Msg 5074 each), which then changes
nothing, the constraints before the column included (a statement fails as a whole). It is kept
as skipped, as a refused ``DROP SEQUENCE`` is, and the plan reports it (GB045). A default or other constraint without a name (SQL Server's,
``DF__t__c__…``) after an item that dropped a name the replay does not know may have been that
one: the drop is followed (and such a statement forgets the table's unnamed constraints other
than sequence defaults, whose USAGE is kept as before). What the plan then leaves out (the
column's grants, the default's USAGE) is missed access one can grant again, where keeping it
would be access the server does not give.

A constraint item dropping the PRIMARY KEY or UNIQUE constraint a foreign key of another table
uses is refused too (Msg 3725, :mod:`.key_refusals`), and so is the statement, which changes
nothing: each column it names stands with its permissions. The first item SQL Server refuses
is the one the skipped item names.

A statement that changes nothing is kept as skipped, without a security effect, as before.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from sqlglot.tokenizer_core import Token, TokenType

from mssql_extract.snapshot import DbObject, SequenceDefault, SourceRef, fold
from mssql_extract.tsql import key_refusals, loops, schema_binding
from mssql_extract.tsql.column_defaults import (
    WITHOUT_EFFECT,
    items,
    replace_table,
    table_named,
    upper,
)
from mssql_extract.tsql.cursor import Parser
from mssql_extract.tsql.state import Dependent

#: How the reason of a refused DROP COLUMN ends (the mapper's GB045 action tells it by this).
COLUMN_STANDS = "the column stands (not replayed)"

#: One item of a DROP list: ("CONSTRAINT" or "COLUMN", the name as the script writes it).
Item = tuple[str, str]
#: What keeps a column, and the table of a foreign key of another table (``[s].[t]``, else "").
Held = tuple[SequenceDefault | Dependent, str]


def alter_table_drop(p: Parser, schema: str, table: str, ref: SourceRef) -> bool:
    """``ALTER TABLE t DROP item, …`` read at the current token and replayed item by item;
    refused, or kept as skipped when it changes nothing. False, nothing read: not a ``DROP``."""
    if not p.accept("DROP"):
        return False
    start = p.pos
    p.skip_to_boundary()
    while p.at("IF", "EXISTS") and (p.pos == start or p.word(-1) in ("CONSTRAINT", "COLUMN")
                                    or p.at_type(TokenType.COMMA, -1)):  # fmt: skip
        p.pos += 2  # a statement's IF never follows these: this one is the item's
        p.skip_to_boundary()
    found = table_named(p, schema, table)
    key = (fold(schema), fold(table))
    objects = p.builder.db().objects
    listed = drop_items(p.tokens[start : p.pos])
    dropping = _Dropping(
        list(found.sequence_defaults) if found is not None else [],
        list(objects.dependents.get(key, ())),
        [_referencing(objects.get(child), d) for child, d in objects.referencing_of(key)],
        frozenset(fold(name) for kind, name in listed if kind == "COLUMN"),
        key_refusals.of_other_tables(objects, key),
    )
    for kind, name in listed:
        if dropping.refused is not None or dropping.key is not None:
            break  # (the statement fails as a whole)
        if kind == "CONSTRAINT":
            dropping.constraint(name)
        else:
            dropping.column(name)
    if found is not None and dropping.refused is not None:
        _refuse(p, found, *dropping.refused, ref)
        return True
    if found is not None and dropping.key is not None:
        key_refusals.refuse_key(p, found, *dropping.key, ref)
        return True
    _undepend(p, key, dropping)
    if not _replay(p, schema, table, found, dropping):
        p.builder.skip("statement", WITHOUT_EFFECT, p.statement_text(), ref)
    return True


def drop_items(tokens: list[Token]) -> list[Item]:
    """The constraints and columns of a ``DROP`` list, in order (``IF EXISTS``, ``WITH (…)``
    and ``PERIOD FOR SYSTEM_TIME`` left out)."""
    found: list[Item] = []
    columns = False
    for item in items(tokens):
        words = [upper(t) for t in item]
        if words[0] == "PERIOD":
            columns = False
            continue
        at = 1 if words[0] in ("CONSTRAINT", "COLUMN") else 0
        columns = words[0] == "COLUMN" if at else columns
        at += 2 if words[at : at + 2] == ["IF", "EXISTS"] else 0
        if at < len(item):
            found.append(("COLUMN" if columns else "CONSTRAINT", item[at].text))
    return found


@dataclass
class _Dropping:
    """What a DROP list does to a table's sequence ``defaults``, other ``dependents`` and the
    foreign keys ``referencing`` it, each with its table (:mod:`.dependents`), item after item;
    ``listed``: the columns the list drops, folded; ``others``: the foreign keys of other
    tables that reference it (no item of the list drops one)."""

    defaults: list[SequenceDefault]
    dependents: list[Dependent]
    referencing: list[tuple[str, Dependent]]
    listed: frozenset[str]
    others: list[key_refusals.Referencing]
    #: The columns dropped, as the script writes them.
    columns: list[str] = field(default_factory=list)
    #: The dependents dropped (DROP CONSTRAINT, or a computed column's DROP COLUMN).
    gone: list[Dependent] = field(default_factory=list)
    #: Whether an earlier item dropped a constraint name the replay does not know.
    unknown: bool = False
    #: The first column something keeps, and what (each with the table of a foreign key that
    #: references it): SQL Server refuses the statement.
    refused: tuple[str, list[Held]] | None = None
    #: The first key foreign keys of other tables use, and those: SQL Server refuses the
    #: statement (Msg 3725, :mod:`.key_refusals`).
    key: tuple[Dependent, list[key_refusals.Referencing]] | None = None

    def constraint(self, name: str) -> None:
        key = fold(name)
        left = [d for d in self.defaults if d.constraint is None or fold(d.constraint) != key]
        named = [d for d in self.dependents if d.constraint and fold(d.name or "") == key]
        for dependent in named:
            held = key_refusals.key_held(dependent, self.dependents, self.others)
            if held and self.key is None:
                self.key = dependent, held
        self.unknown |= len(left) == len(self.defaults) and not named
        self.defaults = left
        self.dependents = [d for d in self.dependents if d not in named]
        self.referencing = [(of, d) for of, d in self.referencing if d not in named]
        self.gone += named

    def column(self, name: str) -> None:
        on = [d for d in self.defaults if fold(d.column) == fold(name)]
        held: list[Held] = (
            [(on[0], "")] if on and not (self.unknown and on[0].constraint is None) else []
        )
        # an unnamed constraint may be what an unknown name dropped (the module docstring); a
        # computed column the list drops too holds nothing (:mod:`.dependents`)
        held += [(d, "") for d in self.dependents if fold(name) in d.columns
                 and not (self.unknown and d.constraint and d.name is None)
                 and not (d.kind == "COMPUTED" and fold(d.name or "") in self.listed)
                 and not (d.kind == "DEFAULT" and on)]  # fmt: skip
        held += [(d, of) for of, d in self.referencing if fold(name) in d.referenced
                 and all(d is not h for h, _ in held)]  # fmt: skip
        if self.refused is None and held:
            self.refused = name, held
        itself = [
            d for d in self.dependents if d.kind == "COMPUTED" and fold(d.name or "") == fold(name)
        ]
        self.dependents = [d for d in self.dependents if d not in itself]
        self.gone += itself
        self.defaults = [d for d in self.defaults if d not in on]
        self.columns.append(name)


def _undepend(p: Parser, key: tuple[str, str], dropping: _Dropping) -> None:
    """The constraints the statement dropped are no dependents any more; after a name the
    replay does not know, neither are the table's unnamed ones (it may have been one)."""
    unnamed = [d for d in dropping.dependents if d.constraint and d.name is None]
    p.builder.db().objects.undepend(key, dropping.gone + (unnamed if dropping.unknown else []))


def _replay(
    p: Parser, schema: str, table: str, found: DbObject | None, dropping: _Dropping
) -> bool:
    """The dropped columns out of the table (their permissions and masks too) and the dropped
    defaults; whether anything changed."""
    changed = False
    for column in dropping.columns:
        changed |= bool(p.builder.drop_column_permissions(schema, table, column))
        masked = p.builder.db().masked.pop((fold(schema), fold(table), fold(column)), None)
        changed |= masked is not None
    if found is None:
        return changed
    gone = {fold(column) for column in dropping.columns}
    columns = tuple(column for column in found.columns if fold(column) not in gone)
    if len(columns) < len(found.columns) or len(dropping.defaults) < len(found.sequence_defaults):
        replace_table(p, found, columns=columns, sequence_defaults=tuple(dropping.defaults))
        return True
    return changed


def _refuse(p: Parser, table: DbObject, column: str, held: list[Held], ref: SourceRef) -> None:
    """Keep the statement as skipped, naming each default, constraint, index, computed column
    and foreign key SQL Server finds on ``column`` (one Msg 5074 each): the column stands,
    with its permissions, and so does every item of the statement."""
    said = [_said(thing, of, column) for thing, of in held]
    has = ", ".join(h for h, _ in said[:-1]) + " and " if len(said) > 1 else ""
    messages = ", ".join(m for _, m in said)
    later = f"once a later pass finds the {_what(held[0][0])} dropped, SQL Server drops the column"
    reason = (
        f"column [{column}] of [{table.schema_name}].[{table.name}] {has}{said[-1][0]}, so SQL "
        f'Server refuses the ALTER TABLE ({messages}, Msg 4922 "ALTER TABLE DROP COLUMN {column} '
        f'failed because one or more objects access this column."){loops.refused_in_loop(p, later)}'
        f": {COLUMN_STANDS}"
    )
    p.builder.skip("statement", reason, p.statement_text(), ref)


def _said(held: SequenceDefault | Dependent, of: str, column: str) -> tuple[str, str]:
    """How the column stands to what keeps it (``has the default [df]``), and SQL Server's
    Msg 5074 naming it."""
    if isinstance(held, SequenceDefault):
        name, kind, thing = held.constraint, "DEFAULT", "object"
    else:
        name, kind = held.name, held.kind
        thing = {"INDEX": "index", "STATISTICS": "statistics", "COMPUTED": "column"}.get(
            kind, "object"
        )
    spelled = f"[{name}]" if name else "that SQL Server named"
    if kind in schema_binding.BINDING:
        has = f"is used by the {_WHAT[kind]} {of} WITH SCHEMABINDING"
    elif of:
        has = f"is referenced by the {_WHAT[kind]} {spelled} of {of}"
    else:
        has = f"{_HAS[kind]} the {_WHAT[kind]} {spelled}"
    named = name or f"{_PREFIXES[kind]}__…"
    return has, f"Msg 5074 \"The {thing} '{named}' is dependent on column '{column}'.\""


def _referencing(holder: DbObject | None, dependent: Dependent) -> tuple[str, Dependent]:
    """A foreign key of a table, with the table spelled; a schema-bound view or function
    (:mod:`.schema_binding`), spelled and with its name (Msg 5074 names it)."""
    if dependent.kind in schema_binding.BINDING and holder is not None:
        return _spelled(holder), replace(dependent, name=holder.name)
    return _spelled(holder), dependent


def _what(held: SequenceDefault | Dependent) -> str:
    return _WHAT["DEFAULT" if isinstance(held, SequenceDefault) else held.kind]


def _spelled(table: DbObject | None) -> str:
    """A table as a reason names it (``[s].[t]``)."""
    return f"[{table.schema_name}].[{table.name}]" if table is not None else "a table"


#: How a dependent of each kind is spelled in a reason.
_WHAT = {
    "PRIMARY KEY": "primary key", "UNIQUE": "unique constraint", "FOREIGN KEY": "foreign key",
    "CHECK": "check constraint", "DEFAULT": "default", "INDEX": "index",
    "STATISTICS": "statistics", "COMPUTED": "computed column", "VIEW": "view",
    "FUNCTION": "function",
}  # fmt: skip
#: How a column stands to a dependent of each kind, in a reason.
_HAS = {"DEFAULT": "has", "CHECK": "is used by", "COMPUTED": "is used by"}
_HAS = {kind: _HAS.get(kind, "is in") for kind in _WHAT}
#: How SQL Server begins the name it gives a constraint of each kind (``PK__t__3213E83F…``).
_PREFIXES = {"PRIMARY KEY": "PK", "UNIQUE": "UQ", "FOREIGN KEY": "FK", "CHECK": "CK",
             "DEFAULT": "DF", "INDEX": "", "STATISTICS": "", "COMPUTED": "", "VIEW": "",
             "FUNCTION": ""}  # fmt: skip
