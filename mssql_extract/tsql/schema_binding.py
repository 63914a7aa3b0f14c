"""Views and inline functions WITH SCHEMABINDING: SQL Server keeps what they reference from a drop.

"When SCHEMABINDING is specified, the base table or tables cannot be modified in a way that
would affect the view definition. … When you use SCHEMABINDING, the select_statement must
include the two-part names (schema.object) of tables, views, or user-defined functions that are
referenced. … Views or tables that participate in a view created with the SCHEMABINDING clause
cannot be dropped unless that view is dropped or changed so that it no longer has schema
binding." ("CREATE VIEW (Transact-SQL)", Arguments, SCHEMABINDING,
https://learn.microsoft.com/sql/t-sql/statements/create-view-transact-sql; "CREATE FUNCTION
(Transact-SQL)", SCHEMABINDING, says the same of a function). A DROP TABLE or DROP VIEW of one
fails with Msg 3729 "Cannot DROP TABLE 's.t' because it is being referenced by object 'v'."
("Database Engine events and errors (3000 to 3999)"; ``object_drops``), and an ``ALTER TABLE …
DROP COLUMN`` of a column the view names with Msg 5074 "The object 'v' is dependent on column
'c'." and 4922 (``table_drops``).

The replay reads the SELECT of a ``CREATE [OR ALTER] VIEW`` or ``ALTER VIEW`` WITH
SCHEMABINDING, and of an inline table-valued function's ``RETURN``, with sqlglot: what it
references is each two-part name of its FROM clauses that is a table or view a script creates
(a one-part name is a common table expression's), and the columns it names of each, a column
being the referenced object's where its qualifier is that object's alias or name, or where it
has none and exactly one of the objects referenced has a column of that name (the replay knows
the columns of CREATE TABLE, of ALTER TABLE … ADD and of a view's SELECT). Each is kept as a
dependent of the view (``Objects.dependents``, kind VIEW or FUNCTION, ``references`` the
object, ``referenced`` its columns), so a rename of the module, schema transfers of either end,
and a drop of the module are followed as for a foreign key (``dependents``); an ALTER of the
view or function forgets what it bound before.

What the replay cannot read binds nothing (a wrong drop leaves out grants one can grant again,
where a wrong refusal would plan grants on what the server no longer has): a SELECT sqlglot
does not parse, a scalar or multi-statement function (its body is not read), a column whose
table the replay cannot tell, a statement in an IF branch the replay cannot decide or in a
WHILE loop. SQL Server also refuses an ``ALTER TABLE … ALTER COLUMN`` of such a column (no
security effect: not replayed) and an ``sp_rename`` of a table, view or column such a module
references (Msg 15336), which the replay refuses too (``rename_refusals``).
"""

from __future__ import annotations

from sqlglot import exp
from sqlglot.tokenizer_core import Token

from mssql_extract.snapshot import DbObject, ObjectKind, SourceRef, fold
from mssql_extract.tsql.cursor import Parser
from mssql_extract.tsql.state import Dependent, Objects

#: The kinds of dependent a schema-bound module is (``Dependent.kind``).
BINDING = frozenset({"VIEW", "FUNCTION"})
#: What a schema-bound module may reference that a DROP of it SQL Server refuses.
_BOUND = (ObjectKind.TABLE, ObjectKind.VIEW)

Key = tuple[str, str]


def bind(
    p: Parser, module: DbObject, header: list[Token], query: exp.Expr | None, ref: SourceRef
) -> None:
    """Replace what the module (just registered) binds by what its SELECT (``query``, read by
    sqlglot; None: not read) references, where its ``header`` says WITH SCHEMABINDING."""
    objects = p.builder.db().objects
    key = (fold(module.schema_name), fold(module.name))
    objects.undepend(key, [d for d in objects.dependents.get(key, ()) if d.kind in BINDING])
    schemabound = any(t.text.upper() == "SCHEMABINDING" for t in header)
    if not schemabound or query is None or p.uncertain or p.loop is not None:
        return
    kind = "VIEW" if module.kind == ObjectKind.VIEW else "FUNCTION"
    used = _references(objects, query)
    objects.depend(key, [Dependent(kind, None, frozenset(), ref, target, columns)
                         for target, columns in used.items() if target != key])  # fmt: skip


def _references(objects: Objects, query: exp.Expr) -> dict[Key, frozenset[str]]:
    """The tables and views a script creates that ``query`` names by two-part names, each
    with the columns it names of it (folded)."""
    aliases: dict[str, set[Key]] = {}
    used: dict[Key, set[str]] = {}
    for table in query.find_all(exp.Table):
        found = objects.get(target := (fold(table.db), fold(table.name))) if table.db else None
        if found is not None and found.kind in _BOUND:
            used.setdefault(target, set())
            aliases.setdefault(fold(table.alias_or_name), set()).add(target)
            aliases.setdefault(f"{target[0]}.{target[1]}", set()).add(target)
    for column in query.find_all(exp.Column):
        qualifier = f"{fold(column.db)}.{fold(column.table)}" if column.db else fold(column.table)
        targets = aliases.get(qualifier, set()) if qualifier else _having(objects, used, column)
        if len(targets) == 1:
            used[next(iter(targets))].add(fold(column.name))
    return {target: frozenset(columns) for target, columns in used.items()}


def _having(objects: Objects, used: dict[Key, set[str]], column: exp.Column) -> set[Key]:
    """The referenced objects with a column named as ``column`` (unqualified)."""
    name = fold(column.name)
    return {key for key in used if name in {fold(c) for c in objects[key].columns}}


def bound_by(objects: Objects, key: Key) -> list[tuple[DbObject, Dependent]]:
    """The schema-bound views and functions that reference the object at ``key``."""
    found = []
    for module, dependent in objects.referencing_of(key):
        obj = objects.get(module)
        if dependent.kind in BINDING and obj is not None:
            found.append((obj, dependent))
    return found
