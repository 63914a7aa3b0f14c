"""A DROP SQL Server refuses while a foreign key of another table references what it drops: the
table (Msg 3726), or the PRIMARY KEY or UNIQUE constraint the foreign key uses (Msg 3725).

"DROP TABLE can't be used to drop a table that is referenced by a FOREIGN KEY constraint. The
referencing FOREIGN KEY constraint or the referencing table must first be dropped. If both the
referencing table and the table that holds the primary key are being dropped in the same DROP
TABLE statement, the referencing table must be listed first." ("DROP TABLE (Transact-SQL)",
Remarks, https://learn.microsoft.com/sql/t-sql/statements/drop-table-transact-sql): Msg 3726
"Could not drop object 'p' because it is referenced by a FOREIGN KEY constraint." ("Database
Engine events and errors (3000 to 3999)", https://learn.microsoft.com/sql/relational-databases/
errors-events/database-engine-events-and-errors-3000-to-3999; the name as the statement writes
it). A foreign key of the table to itself does not keep it: it goes with the table. The names
of a list are dropped in its order, so ``DROP TABLE child, parent`` drops both and ``DROP TABLE
parent, child`` the child only; the page does not say whether the names after a refused one
are dropped, and the replay drops them, as it does the rest of a DROP SEQUENCE list
(``column_defaults``): a wrong drop leaves out grants one can grant again, where a wrong
refusal would plan grants on a table the server no longer has.

``ALTER TABLE p DROP CONSTRAINT pk`` of the key a foreign key of another table references: Msg
3725 "The constraint 'pk' is being referenced by table 'child', foreign key constraint 'fk'.",
then Msg 3727 "Could not drop constraint. See previous errors." (the same list), and the
statement changes nothing (``table_drops``). A foreign key uses one unique index of the table it
references (``sys.foreign_keys.key_index_id``), which the scripts do not name: the key is the
one whose columns are those the foreign key references, and none is refused where another key
or index of the table has those columns too (which one SQL Server chose is not known). A
foreign key of the table to itself is not counted: the page says nothing of it, and dropping
its key with the column (``DROP CONSTRAINT pk, COLUMN id``) is refused for the column anyway
(Msg 5074).

A view or function WITH SCHEMABINDING keeps the tables and views it references from a DROP
TABLE or DROP VIEW in the same way (Msg 3729, ``schema_binding``). A reason names every foreign
key and module in the way the replay knows, with a message for each: which of them SQL Server
names, and in what order, is not documented.

Only what the replay knows counts (``dependents``): the foreign keys the scripts state, between
tables a script creates, followed through renames, schema transfers and drops. A refused DROP
is kept as a skipped item naming the table or key and each foreign key in the way (with their
tables and SQL Server's messages), which the plan reports (GB045): the table, view or key
stands, with its permissions (and, for the ALTER TABLE, every item of the statement).
"""

from __future__ import annotations

from mssql_extract.snapshot import DbObject, ObjectKind, SourceRef, fold
from mssql_extract.tsql import loops, schema_binding
from mssql_extract.tsql.cursor import Parser
from mssql_extract.tsql.state import Dependent, Objects

#: How the reason of a refused DROP TABLE ends (the mapper's GB045 action tells it by this).
TABLE_STANDS = "the table stands (not replayed)"
#: How the reason of a refused DROP VIEW ends.
VIEW_STANDS = "the view stands (not replayed)"
#: How the reason of a refused DROP CONSTRAINT of a referenced key ends.
KEY_STANDS = "the key stands (not replayed)"

#: A foreign key of another table, with that table; or a schema-bound view or function, with
#: itself.
Referencing = tuple[DbObject, Dependent]
#: A DROP TABLE or VIEW of an object refused: the name as written, the object, what keeps it.
Refused = tuple[str, DbObject, list[Referencing]]

#: When a later pass of a loop succeeds where the refused DROP failed (``loops``).
_OBJECT_LATER = "once a later pass finds what references it dropped, SQL Server drops the {}"
_KEY_LATER = "once a later pass finds the foreign keys dropped, SQL Server drops the key"
#: Dependents a foreign key may use (a unique index is an INDEX: whether it is unique is not
#: kept).
_KEYS = ("PRIMARY KEY", "UNIQUE", "INDEX")


def of_other_tables(objects: Objects, key: tuple[str, str]) -> list[Referencing]:
    """The foreign keys of other tables that reference the table at ``key``, in their tables'
    order."""
    found = []
    for child, fk in objects.referencing_of(key):
        table = objects.get(child)
        if child != key and table is not None and fk.kind == "FOREIGN KEY":
            found.append((table, fk))
    return found


def in_the_way(objects: Objects, schema: str, name: str) -> list[Referencing]:
    """The foreign keys and schema-bound views and functions that keep SQL Server from
    dropping the table or view ``schema.name`` (none for another kind of object, or one no
    script creates)."""
    key = (fold(schema), fold(name))
    found = objects.get(key)
    if found is None or found.kind not in (ObjectKind.TABLE, ObjectKind.VIEW):
        return []
    return of_other_tables(objects, key) + schema_binding.bound_by(objects, key)


def key_held(
    dropped: Dependent, dependents: list[Dependent], others: list[Referencing]
) -> list[Referencing]:
    """The foreign keys of ``others`` that use the key ``dropped`` (one of ``dependents``, the
    table's): none for another constraint, or where another key or index has its columns."""
    if dropped.kind not in ("PRIMARY KEY", "UNIQUE"):
        return []
    if any(d is not dropped and d.kind in _KEYS and d.columns == dropped.columns
           for d in dependents):  # fmt: skip
        return []
    return [(table, fk) for table, fk in others if fk.referenced == dropped.columns]


def refuse_drop(p: Parser, kind: str, refused: list[Refused], ref: SourceRef) -> None:
    """Keep a DROP TABLE or DROP VIEW (``kind``) as skipped, naming each object it does not
    drop and what keeps it: those stand, with their permissions."""
    what = kind.lower()
    said = "; ".join(f"{what} {spelled(obj)} {_referenced(held)}" for _, obj, held in refused)
    messages = ", ".join(m for written, _, held in refused for m in _messages(kind, written, held))
    them = "them" if len(refused) > 1 else "it"
    reason = (
        f"{said}, so SQL Server refuses to drop {them} ({messages})"
        f"{loops.refused_in_loop(p, _OBJECT_LATER.format(what))}: "
        f"{TABLE_STANDS if kind == 'TABLE' else VIEW_STANDS}"
    )
    p.builder.skip("statement", reason, p.statement_text(), ref)


def _messages(kind: str, written: str, held: list[Referencing]) -> list[str]:
    """SQL Server's messages for what keeps the object written so: Msg 3726 for its foreign
    keys (it names none), 3729 for each schema-bound module."""
    found = [
        f"Msg 3729 \"Cannot DROP {kind} '{written}' because it is being referenced by object "
        f"'{holder.name}'.\""
        for holder, dependent in held
        if dependent.kind in schema_binding.BINDING
    ]
    if any(dependent.kind == "FOREIGN KEY" for _, dependent in held):
        found.insert(
            0,
            f"Msg 3726 \"Could not drop object '{written}' because it is referenced by a "
            'FOREIGN KEY constraint."',
        )
    return found


def refuse_key(
    p: Parser, table: DbObject, key: Dependent, held: list[Referencing], ref: SourceRef
) -> None:
    """Keep an ALTER TABLE … DROP CONSTRAINT of ``key`` as skipped, naming the foreign keys
    that reference it (a Msg 3725 each): the statement changes nothing."""
    what = "primary key" if key.kind == "PRIMARY KEY" else "unique constraint"
    messages = ", ".join(
        f"Msg 3725 \"The constraint '{key.name}' is being referenced by table '{child.name}', "
        f"foreign key constraint '{fk.name or 'FK__…'}'.\""
        for child, fk in held
    )
    reason = (
        f"the {what} [{key.name}] of {spelled(table)} {_referenced(held)}, so SQL Server "
        f'refuses the ALTER TABLE ({messages}, Msg 3727 "Could not drop constraint. See '
        f'previous errors."){loops.refused_in_loop(p, _KEY_LATER)}: {KEY_STANDS}'
    )
    p.builder.skip("statement", reason, p.statement_text(), ref)


def _referenced(held: list[Referencing]) -> str:
    """``is referenced by the foreign key [fk] of [s].[c] and the view [s].[v] WITH
    SCHEMABINDING``."""
    return "is referenced by " + " and ".join(_holder(table, d) for table, d in held)


def _holder(holder: DbObject, dependent: Dependent) -> str:
    if dependent.kind != "FOREIGN KEY":
        return f"the {dependent.kind.lower()} {spelled(holder)} WITH SCHEMABINDING"
    name = f"[{dependent.name}]" if dependent.name else "that SQL Server named"
    return f"the foreign key {name} of {spelled(holder)}"


def spelled(table: DbObject) -> str:
    """A table as a reason names it (``[s].[t]``)."""
    return f"[{table.schema_name}].[{table.name}]"
