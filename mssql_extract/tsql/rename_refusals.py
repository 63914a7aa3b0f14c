"""An ``sp_rename`` SQL Server refuses because a view or inline function WITH SCHEMABINDING
references what it renames: a table or view, or a column the module names.

"When SCHEMABINDING is specified, the base table or tables cannot be modified in a way that
would affect the view definition" ("CREATE VIEW (Transact-SQL)", Arguments, SCHEMABINDING,
https://learn.microsoft.com/sql/t-sql/statements/create-view-transact-sql), and SQL Server
refuses an ``sp_rename`` of such a table, view or column with Msg 15336 "Object '%.*ls' cannot
be renamed because the object participates in enforced dependencies." ("Database Engine events
and errors (15000 to 15999)"; the current "sp_rename (Transact-SQL)" page,
https://learn.microsoft.com/sql/relational-databases/system-stored-procedures/sp-rename-
transact-sql, is said to name schema-bound objects as what blocks a rename). Neither that remark
nor the message's wording could be confirmed against a stored copy of the pages when this was
written (only older versions of sp_rename's page were found, which do not say it), and the
object the message names is taken to be ``@objname`` as written.

The replay knows what the scripts bind (:mod:`.schema_binding`): a table or view a schema-bound
module references, and the columns it names of it. Such a rename is kept as a skipped item
naming each module in the way, which the plan reports (GB045): the object or column keeps its
name, and its permissions stay on it. A column of a bound table that no module names is renamed
as before, and so is a module that no other schema-bound module references (binding keeps
what it references, not the module) and an object moved by ``ALTER SCHEMA … TRANSFER`` (not
followed here). A refusal in a WHILE loop's body is that of the one pass replayed, without the
note a refused DROP there carries (``loops``).
"""

from __future__ import annotations

from mssql_extract.snapshot import DbObject, ObjectKind, SourceRef, fold
from mssql_extract.tsql import schema_binding
from mssql_extract.tsql.cursor import Parser
from mssql_extract.tsql.key_refusals import Referencing, spelled

#: How the reason of a refused sp_rename ends (the mapper's GB045 action tells it by this).
NAME_STANDS = "the name stands (not replayed)"


def refused_object(p: Parser, written: str, schema: str, name: str, ref: SourceRef) -> bool:
    """Whether SQL Server refuses to rename the table or view ``schema.name`` (``written``: the
    ``@objname``) as a schema-bound module references it; if so, kept as skipped."""
    objects = p.builder.db().objects
    found = objects.get((fold(schema), fold(name)))
    if found is None or found.kind not in (ObjectKind.TABLE, ObjectKind.VIEW):
        return False
    modules = schema_binding.bound_by(objects, _key(found))
    what = f"{found.kind.value.lower()} {spelled(found)}"
    return _refuse(p, written, f"{what} is referenced by", modules, ref)


def refused_column(
    p: Parser, written: str, schema: str, table: str, column: str, ref: SourceRef
) -> bool:
    """Whether SQL Server refuses to rename ``column`` of ``schema.table`` as a schema-bound
    module names it; if so, kept as skipped."""
    objects = p.builder.db().objects
    found = objects.get((fold(schema), fold(table)))
    if found is None:
        return False
    modules = [(module, bound) for module, bound in schema_binding.bound_by(objects, _key(found))
               if fold(column) in bound.referenced]  # fmt: skip
    return _refuse(p, written, f"column [{column}] of {spelled(found)} is used by", modules, ref)


def _refuse(p: Parser, written: str, said: str, modules: list[Referencing], ref: SourceRef) -> bool:
    """Keep the sp_rename as skipped where ``modules`` bind what it renames (``said``)."""
    if not modules:
        return False
    holders = " and ".join(f"the {bound.kind.lower()} {spelled(module)} WITH SCHEMABINDING"
                           for module, bound in modules)  # fmt: skip
    reason = (
        f'{said} {holders}, so SQL Server refuses the sp_rename (Msg 15336 "Object '
        f"'{written}' cannot be renamed because the object participates in enforced "
        f'dependencies."): {NAME_STANDS}'
    )
    p.builder.skip("statement", reason, p.statement_text(), ref)
    return True


def _key(obj: DbObject) -> tuple[str, str]:
    return fold(obj.schema_name), fold(obj.name)
