"""``sp_rename``: a table, view, routine, type or column gets a new name and keeps its permissions
(a DEFAULT constraint its new name, for a later DROP CONSTRAINT).

SQL Server records a permission by the securable's id, not its name (``sys.database_permissions``:
``major_id`` is the object's id, ``minor_id`` the column's ``column_id``), so a renamed object or
column keeps what was granted and denied on it; here every row naming the old name takes the new
one, and so do the object's masked columns, row-level security predicates, column defaults and
module signatures. SqlPackage's deployment scripts rebuild a table this way (``CREATE TABLE
[dbo].[tmp_ms_xx_T]``, copy, ``DROP TABLE [dbo].[T]``, ``EXECUTE sp_rename
N'[dbo].[tmp_ms_xx_T]', N'T'``) and apply a refactoring log's column renames with
``sp_rename @objname = N'[dbo].[T].[a]', @newname = N'b', @objtype = N'COLUMN'``; replayed, the
rebuilt table is ``T`` again, and the grants after it land on it.

Parameters (sp_rename, Transact-SQL): ``@objname`` is ``[schema.]object`` or, for a column,
``[schema.]table.column`` (a name without schema is taken in ``dbo``, as ``sp_changeobjectowner``
takes it); ``@newname`` is the new name alone; ``@objtype`` is ``COLUMN``, ``USERDATATYPE``,
``INDEX``, ``STATISTICS``, ``DATABASE``, ``OBJECT`` or NULL (an object). An index or statistics
holds no permission. A rename SQL Server refuses (the new name is taken; a view or inline
function WITH SCHEMABINDING references the table, view or column: :mod:`.rename_refusals`)
and a database rename are kept as skipped and reported (GB045).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from mssql_extract.snapshot import SourceRef, fold
from mssql_extract.tsql import indexes, rename_refusals
from mssql_extract.tsql.cursor import Args, Parser, Procedure
from mssql_extract.tsql.principals import required
from mssql_extract.tsql.state import DbState, PermRow, sec_key
from mssql_extract.tsql.tokens import split_name

#: Securable classes of schema-scoped objects an object rename can reach.
_OBJECT_CLASSES = frozenset({"OBJECT", "TYPE", "XML SCHEMA COLLECTION"})


def sp_rename(p: Parser, args: Args, ref: SourceRef) -> None:
    """``sp_rename [@objname =] 'old', [@newname =] 'new' [, [@objtype =] 'kind']``."""
    parts = split_name(required(p, args, "objname"))
    new = required(p, args, "newname")
    kind = (args.get("objtype") or "OBJECT").upper()
    if kind in ("INDEX", "STATISTICS"):
        indexes.rename(p, parts, new)
        p.builder.skip("statement", f"sp_rename of an {kind.lower()}, without a security "
                       "effect", p.statement_text(), ref)  # fmt: skip
        return
    if kind == "DATABASE":
        reason = (
            "sp_rename of a database: not replayed (rename it with ALTER DATABASE … MODIFY NAME)"
        )
        p.builder.skip("statement", reason, p.statement_text(), ref)
        return
    if kind == "COLUMN" and len(parts) >= 2:
        schema = parts[-3] if len(parts) > 2 else "dbo"
        written = required(p, args, "objname")
        if not rename_refusals.refused_column(p, written, schema, parts[-2], parts[-1], ref):
            _rename_column(p.builder.db(), schema, parts[-2], parts[-1], new)
        return
    if kind not in ("OBJECT", "USERDATATYPE"):
        raise p.error(f"unknown @objtype {kind!r} for sp_rename")
    schema = parts[-2] if len(parts) > 1 else "dbo"
    db = p.builder.db()
    taken = db.objects.get((fold(schema), fold(new))) or db.objects.constraint_named(schema, new)
    if taken is not None and fold(new) != fold(parts[-1]):
        reason = (
            f"sp_rename refused: [{schema}].[{new}] exists already (Msg 15335), so "
            f"[{schema}].[{parts[-1]}] keeps its name (not replayed)"
        )
        p.builder.skip("statement", reason, p.statement_text(), ref)
        return
    if rename_refusals.refused_object(p, required(p, args, "objname"), schema, parts[-1], ref):
        return
    if not _rename_default(db, schema, parts[-1], new):
        _rename_object(db, schema, parts[-1], new)


def _rename_default(db: DbState, schema: str, old: str, new: str) -> bool:
    """A constraint of the schema renamed (``OBJECT`` covers constraints: sp_rename,
    Arguments, "@objtype": "OBJECT could be used to rename objects including constraints"): a
    later ``DROP CONSTRAINT`` names it by its new name (:mod:`.column_defaults`,
    :mod:`.dependents`)."""
    stated = _rename_dependent(db, schema, old, new)
    for key, found in db.objects.items():
        defaults = found.sequence_defaults or ()
        hit = [d for d in defaults if d.constraint and fold(d.constraint) == fold(old)]
        if key[0] == fold(schema) and hit:
            renamed = tuple(d.model_copy(update={"constraint": new}) if d in hit else d
                            for d in defaults)  # fmt: skip
            db.objects[key] = found.model_copy(update={"sequence_defaults": renamed})
            return True
    return stated


def _rename_dependent(db: DbState, schema: str, old: str, new: str) -> bool:
    """A constraint the scripts state (:mod:`.dependents`) renamed; whether there is one."""
    key = db.objects.named.get((fold(schema), fold(old)), ("", ""))
    for dependent in db.objects.dependents.get(key, ()):
        if dependent.constraint and fold(dependent.name or "") == fold(old):
            db.objects.undepend(key, [dependent])
            db.objects.depend(key, [replace(dependent, name=new)])
            return True
    return False


def _rename_object(db: DbState, schema: str, old: str, new: str) -> None:
    if (fold(schema), fold(old)) in db.objects:  # foreign keys that reference it follow it
        db.objects.retarget((fold(schema), fold(old)), (fold(schema), fold(new)))
    depending = db.objects.dependents.get((fold(schema), fold(old)), ())
    found = db.objects.pop((fold(schema), fold(old)), None)
    if found is not None:
        db.objects[(fold(schema), fold(new))] = found.model_copy(update={"name": new})
        db.objects.depend((fold(schema), fold(new)), list(depending))
    key = sec_key(("OBJECT", schema, old, None))[1:3]

    def renamed(row: PermRow) -> PermRow:
        cls, where, _, column = row.securable
        if cls in _OBJECT_CLASSES and sec_key(row.securable)[1:3] == key:
            row.securable = (cls, where, new, column)
        return row

    _rebuild(db, renamed)
    for masked_key in [k for k in db.masked if k[:2] == (fold(schema), fold(old))]:
        masked = db.masked.pop(masked_key)
        db.masked[(masked_key[0], fold(new), masked_key[2])] = masked.model_copy(
            update={"table_name": new}
        )
    for policy_key, policy in list(db.policies.items()):
        predicates = tuple(
            q.model_copy(update={"target_table": new})
            if (fold(q.target_schema), fold(q.target_table)) == (fold(schema), fold(old))
            else q
            for q in policy.predicates
        )
        db.policies[policy_key] = policy.model_copy(update={"predicates": predicates})
    module = ("OBJECT", fold(schema), fold(old))
    if module in db.signatures:
        db.signatures[("OBJECT", fold(schema), fold(new))] = db.signatures.pop(module)


def _rename_column(db: DbState, schema: str, table: str, old: str, new: str) -> None:
    object_key = (fold(schema), fold(table))
    found = db.objects.get(object_key)
    if found is not None:
        columns = tuple(new if fold(c) == fold(old) else c for c in found.columns)
        defaults = tuple(
            d.model_copy(update={"column": new}) if fold(d.column) == fold(old) else d
            for d in found.sequence_defaults
        )
        db.objects[object_key] = found.model_copy(
            update={"columns": columns, "sequence_defaults": defaults}
        )
        db.objects.rename_column(object_key, old, new)
    key = sec_key(("OBJECT", schema, table, old))

    def renamed(row: PermRow) -> PermRow:
        if row.securable[3] is not None and sec_key(row.securable) == key:
            row.securable = (*row.securable[:3], new)
        return row

    _rebuild(db, renamed)
    masked = db.masked.pop((*object_key, fold(old)), None)
    if masked is not None:
        db.masked[(*object_key, fold(new))] = masked.model_copy(update={"column_name": new})


def _rebuild(db: DbState, renamed: Callable[[PermRow], PermRow]) -> None:
    """Put every permission row of ``db`` again, through ``renamed`` (its keys name the
    securable, so a renamed one needs a new key)."""
    db.perms.rebuild(renamed)


PROCEDURES: dict[str, Procedure] = {
    "sp_rename": (("objname", "newname", "objtype"), sp_rename),
}
