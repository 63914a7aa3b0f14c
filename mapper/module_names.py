"""Which snapshot object a name in a module body names, and who owns it.

A module names objects by one, two or three parts (:class:`~mapper.module_refs.ObjectAccess`);
:func:`lookup` finds the object as SQL Server would, or says why it cannot be told, and
:func:`resolve_through` follows a synonym to its base object. Split out of
:mod:`mapper.module_findings`, which re-exports these names.
"""

from __future__ import annotations

from collections.abc import Collection
from functools import cached_property

from mapper.modules import ModuleAnalysis, ObjectAccess
from mapper.system_names import system_procedure, system_view
from mssql_extract.snapshot import Database, DbObject, ObjectKind, UserType, fold


class ObjectIndex:
    """A database's objects by key and their distinct owners, built once per database (a
    module without a body asks for the owners, every reference for an object)."""

    def __init__(self, database: Database) -> None:
        self.database = database
        self.by_key = {o.key: o for o in database.objects}

    @cached_property
    def owners(self) -> tuple[str, ...]:
        """Every owner of an object of the database, sorted."""
        database = self.database
        return tuple(
            sorted({owner_of(database, o) or "an unknown owner" for o in database.objects})
        )

    @cached_property
    def by_name(self) -> dict[str, tuple[DbObject, ...]]:
        """Folded object name → the objects of that name in every schema, by key (types and XML
        schema collections have names of their own: not objects a module body names)."""
        found: dict[str, list[DbObject]] = {}
        for obj in sorted(self.database.objects, key=lambda o: o.key):
            if obj.kind in (ObjectKind.TYPE, ObjectKind.XML_SCHEMA_COLLECTION):
                continue
            found.setdefault(fold(obj.name), []).append(obj)
        return {name: tuple(objects) for name, objects in found.items()}


def owner_of(database: Database, obj: DbObject) -> str | None:
    """The individual owner, else the schema owner: ``dbo`` for schema dbo, which every
    database has (a script need not create it), None for another schema the snapshot lacks."""
    if obj.owner:
        return obj.owner
    schema = next((s for s in database.schemas if fold(s.name) == fold(obj.schema_name)), None)
    if schema is None:
        return "dbo" if fold(obj.schema_name) == "dbo" else None
    return schema.owner


def resolve(
    database: Database, module: DbObject, ref: ObjectAccess, index: ObjectIndex | None = None
) -> DbObject | None:
    """The snapshot object a reference names (:func:`lookup`), None where it names none of the
    database's or which one cannot be told."""
    found = lookup(database, module, ref, index)
    return found if isinstance(found, DbObject) else None


def lookup(
    database: Database,
    module: DbObject,
    ref: ObjectAccess,
    index: ObjectIndex | None = None,
    *,
    dynamic: bool = False,
    default_schemas: Collection[str] | None = None,
) -> DbObject | str | None:
    """The snapshot object a reference of ``module`` names; None where it names none of the
    database's (another database, a system object, one the export left out); why not, where
    which one the snapshot does not tell. ``db.s.name`` of the module's own database is
    ``s.name``. A name without its schema (``name``, ``db..name``) is looked up "sys first",
    then in "the active default schema", then dbo ("Name resolution, default schema, implicit
    schema", Parts II and III, https://learn.microsoft.com/archive/blogs/sqlprogrammability/
    name-resolution-default-schema-implicit-schema-part-iii): a system procedure run is none
    of the database's, and a catalog view's name the database holds too is not known
    (:mod:`mapper.system_names`). Inside a module the default schema is the module's, for a
    procedure run too: "if the nonqualified procedure name appears inside the body of another
    procedure definition, the schema containing this other procedure is searched next"
    ("Executing Stored Procedures (Database Engine)", https://learn.microsoft.com/previous-
    versions/sql/sql-server-2008-r2/ms189915(v=sql.105); an older page, "Qualifying Names
    Inside Stored Procedures", ms191132(v=sql.90), gave EXECUTE the caller's schema instead).
    Dynamic SQL inside a module takes the "current user's default schema" (Part III):
    ``default_schemas``, each default schema of the principals it may run as, where the
    snapshot tells them all; the name is known where each of them finds the same object.
    Otherwise any schema may be someone's default, and the name is known only where the
    database has one object of that name."""
    if ref.database and fold(ref.database) != fold(database.name):
        return None
    by_key = (index := index or ObjectIndex(database)).by_key
    if ref.schema_name:
        return by_key.get(f"object:{fold(ref.schema_name)}.{fold(ref.name)}")
    if system_procedure(ref.name, ref.access):
        return None  # sys first: the system procedure, whatever the database holds of that name

    def first(schema: str) -> DbObject | None:
        found = by_key.get(f"object:{fold(schema)}.{fold(ref.name)}")
        return found or by_key.get(f"object:dbo.{fold(ref.name)}")

    found: DbObject | str | None
    if not dynamic:
        found = first(module.schema_name)
    elif default_schemas and len(each := {first(schema) for schema in default_schemas}) == 1:
        found = each.pop()
    else:
        named = index.by_name.get(fold(ref.name), ())
        found = named[0] if len(named) == 1 else None
        if len(named) > 1:
            return (
                f"{ref.qualified} without its schema, which dynamic SQL looks up in the caller's "
                f"default schema, then dbo, and the database has "
                f"{', '.join(f'{o.schema_name}.{o.name}' for o in named)}"
            )
    if found is not None and system_view(ref.name, ref.access):
        return (
            f"{ref.qualified} without its schema, which SQL Server may take for the catalog "
            f"view sys.{ref.name} (looked up first) or for {found.schema_name}.{found.name}"
        )
    return found


def default_schema(database: Database, principal: str) -> str | None:
    """The default schema one-part names in dynamic SQL resolve in when ``principal`` runs it,
    None where the snapshot does not tell it: a user without one has dbo ("If DEFAULT_SCHEMA
    is left undefined, the database user will use dbo as its default schema", CREATE USER,
    https://learn.microsoft.com/previous-versions/sql/sql-server-2005/ms173463(v=sql.90)); a
    user of a Windows or external group without one leaves it to each member, and a principal
    not among the database's users (a role) is not known."""
    if fold(principal) == "dbo" and not any(fold(u.name) == "dbo" for u in database.users):
        return "dbo"
    user = next((u for u in database.users if fold(u.name) == fold(principal)), None)
    if user is None:
        return None
    if user.default_schema:
        return user.default_schema
    groups = (UserType.WINDOWS_GROUP, UserType.EXTERNAL_GROUP)
    return None if user.type in groups else "dbo"


def resolve_through(
    database: Database,
    module: DbObject,
    ref: ObjectAccess,
    index: ObjectIndex | None = None,
    *,
    dynamic: bool = False,
    default_schemas: Collection[str] | None = None,
) -> tuple[DbObject | None, DbObject | None, str | None]:
    """(object, synonym, why): the object a reference reaches (:func:`lookup`; ``dynamic``: the
    reference is in the module's dynamic SQL, run by principals of ``default_schemas``), through
    the synonym it names if it names one, or (None, synonym, why not) where the synonym's base
    object is not one of the database's (:func:`base_of`), or (None, None, why) where which
    object it names cannot be told. SQL Server binds a synonym to its base object by name at
    run time and checks it then ("Synonyms (Database Engine)", https://learn.microsoft.com/sql/
    relational-databases/synonyms/synonyms-database-engine), so the synonym is one more link
    of the chain: the module to the synonym, the synonym to its base object, each compared with
    the previous one's owner ("Ownership Chains")."""
    index = index or ObjectIndex(database)
    target = lookup(database, module, ref, index, dynamic=dynamic, default_schemas=default_schemas)
    if isinstance(target, str):
        return None, None, target
    if target is None or target.kind != ObjectKind.SYNONYM:
        return target, None, None
    base = base_of(database, target, index)
    return (None, target, base) if isinstance(base, str) else (base, target, None)


def base_of(database: Database, synonym: DbObject, index: ObjectIndex) -> DbObject | str:
    """A synonym's base object in its own database, or why it is not known: no base object in
    the snapshot, another server or database (never guessed), a name without its schema (SQL
    Server took its creator's default schema, "CREATE SYNONYM"), an object the snapshot lacks."""
    what = f"synonym {synonym.schema_name}.{synonym.name}"
    parts, base = synonym.base_parts, synonym.base_object
    if not parts:
        return f"{what}, whose base object is not in the snapshot"
    if len(parts) == 4:
        return f"{what}, whose base object {base} is on another server"
    if len(parts) == 3 and fold(parts[0]) != fold(database.name):
        return f"{what}, whose base object {base} is in another database"
    if len(parts) < 2 or not parts[-2]:
        return f"{what}, whose base object {base} names no schema"
    found = index.by_key.get(f"object:{fold(parts[-2])}.{fold(parts[-1])}")
    if found is None or found.kind == ObjectKind.SYNONYM:  # a synonym of a synonym: refused
        return f"{what}, whose base object {base} is not in the snapshot"
    return found


def elsewhere(
    database: Database, module: DbObject, analysis: ModuleAnalysis, index: ObjectIndex | None
) -> list[str]:
    """``Other.s.t through synonym s.syn``: each synonym the module references whose base object
    is in another database or on another server (a GB307, as a name of that database is)."""
    found = set()
    for ref in analysis.references:
        synonym = resolve(database, module, ref, index)
        if synonym is None or synonym.kind != ObjectKind.SYNONYM:
            continue
        parts = synonym.base_parts
        if len(parts) == 4 or (len(parts) == 3 and fold(parts[0]) != fold(database.name)):
            base = ".".join(p for p in parts if p)
            found.add(f"{base} through synonym {synonym.schema_name}.{synonym.name}")
    return sorted(found)


def ambiguous(
    database: Database, module: DbObject, analysis: ModuleAnalysis, index: ObjectIndex | None
) -> list[str]:
    """Why each name the module's body uses cannot be told from the snapshot (:func:`lookup`):
    a name alone of a catalog view that a schema the module looks in also holds (a GB308, as a
    statement not read is)."""
    found = (lookup(database, module, ref, index) for ref in analysis.references)
    return sorted({why for why in found if isinstance(why, str)})
