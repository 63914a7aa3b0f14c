"""SSDT ``.dacpac`` → :class:`SecuritySnapshot`, from the ``model.xml`` inside the zip.

Elements read (DacFx model names): SqlLogin, SqlServerRole, SqlServerRoleMembership, SqlUser,
SqlRole, SqlApplicationRole (never its Password), SqlRoleMembership, SqlSchema (its
``Authorizer``), SqlDatabaseOptions, SqlPermissionStatement
(:mod:`mssql_extract.dacpac_permissions`), and for objects SqlTable / SqlView / SqlProcedure /
SqlScalarFunction / SqlInlineTableValuedFunction / SqlMultiStatementTableValuedFunction /
SqlAggregate / SqlSequence / SqlSynonym / SqlUserDefinedDataType / SqlUserDefinedType /
SqlTableType / SqlXmlSchemaCollection, and SqlDefaultConstraint (a table's defaults that call a
sequence: ``DbObject.sequence_defaults``). Reading elements and their targets (``References``,
unresolved ``Annotation``) is :mod:`mssql_extract.dacpac_model`; logins, users, roles and
memberships are read by :mod:`mssql_extract.dacpac_principals`.

A dacpac holds one database; its name is DacMetadata.xml's ``<Name>``, else the file name. A
system database (a ``master``-scoped project) is left out, as the catalog path leaves it out;
its server-level facts (logins, server roles and memberships) are kept.

Logins. A database dacpac (SqlPackage ``/Action:Extract``) holds no logins: they live in
``master``, and a user's ``Login`` relationship points at one with an unresolved
``PersistedResolvableAnnotation`` (or a ``References``). The user then keeps the login's name
and is *not* orphaned: nothing says the login is missing from the server, only that the dacpac
does not hold it. The plan cannot create those logins, so one skipped entry names them
(finding GB045). When the model does script logins (an SSDT project with CREATE LOGIN), it is
read like a set of scripts: a user whose login is not among them is orphaned (GB013).

Permissions. SqlPackage extracts leave permission statements out unless asked
(``/p:IgnorePermissions=False``; "Import permissions" in SSDT, "Include permissions" in Azure
Data Studio, sqltoolsservice PR #1723). A database with no statement at all is therefore
recorded as a skipped entry (GB045), and ``grantbridge extract`` prints it as a warning.

Shapes checked against real SSDT/DacFx output (what we rely on, and where it was seen):

* ``SqlPermissionStatement`` named ``[Grant.Delete.Object].[grantee].[grantor].[schema].[object]``
  with ``<Property Name="Permission" Value="4" />`` (an enum *number*, not a name) and the
  relationships ``Grantee``, ``Grantor`` (``ExternalSource="BuiltIns"`` for ``[dbo]``) and
  ``SecuredObject``; a database-scoped one is ``[Grant.KillDatabaseConnection.Database]…``:
  d365collaborative/d365fo.tools, d365fo.tools/functions/repair-d365bacpacmodelfile.ps1 and
  d365fo.tools/internal/misc/RepairBacpac.Simple.json (model.xml of real bacpacs). We read the
  permission from the name, never from the number. ``[Grant.Execute.Type]…`` on a user-defined
  type, without a ``Grantor``: the model.xml quoted in microsoft/DacFx issue #700.
* A column (``SqlSimpleColumn``) carries a nested, unnamed ``SqlTypeSpecifier`` element in its
  ``TypeSpecifier`` relationship: same issue. Only the columns themselves are read.
* ``SqlDefaultConstraint``, named or not, with the relationships ``DefiningTable`` and
  ``ForColumn`` and its expression as ``<Property Name="DefaultExpressionScript"><Value>`` in
  CDATA: model.xml test data of public dacpac readers found by find_string.
* ``SqlRoleMembership`` with relationships ``Member`` and ``Role`` (fixed roles referenced with
  ``ExternalSource="BuiltIns"``): same repository, RepairBacpac.Qualifier.json and
  repair-d365bacpacmodelfile.ps1. SqlPackage names none, so its key is ``[role]<-[member]``.
* ``SqlUser`` with ``<Property Name="AuthenticationType" Value="1" />`` (sys.database_principals
  numbering) and relationship ``Login``: a public bacpac-import script found by find_string.
* Booleans are serialised under ``Is…`` names, not the API's (found by an audit of SqlPackage
  output, not yet matched to a public model.xml): ``IsWithGrantOption``,
  ``IsMappedToWindowsLogin``, ``IsDisabled``, ``IsCheckPolicyOn``, ``IsCheckExpirationOn``,
  ``IsOwner`` / ``IsSelf`` / ``IsCaller`` (EXECUTE AS), and in SqlDatabaseOptions
  ``IsTrustworthyOn``, ``IsDbChainingOn`` with ``Containment`` (1 = PARTIAL). The API names of
  DacFx's model classes (Microsoft.SqlServer.Dac.Model on learn.microsoft.com: Login
  ``CheckPolicy``, ``MappedToWindowsLogin`` …, Permission ``WithGrantOption``, Procedure
  ``ExecuteAsOwner``) are accepted too. A property at its default is left out, so an absent
  ``IsCheckPolicyOn`` is ON and an absent ``IsCheckExpirationOn`` is OFF, as in CREATE LOGIN.

Not confirmed from real output (kept tolerant): the state word of a DENY (``Deny``) and whether
WITH GRANT OPTION shows in the name (``GrantWithGrantOption``) or only as the property — both
are accepted; a column permission's ``SecuredObject`` as a three-part column reference; the
text form of ``Sid`` (read as hex); class words beyond ``Object``, ``Schema``, ``Database``,
``User``, ``Role`` and ``Type`` (matched to the snapshot's classes by spelling).
"""

from __future__ import annotations

import zipfile
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

from pydantic import ValidationError

from grantbridge.errors import ExtractError, Location
from mssql_extract.dacpac_model import (
    NS,
    ModelXml,
    flag,
    nested,
    parts,
    prop,
    script,
    target,
    targets,
    tolerate_char_refs,
)
from mssql_extract.dacpac_permissions import is_server_level, read_permission
from mssql_extract.dacpac_principals import (
    Logins,
    element_name,
    read_memberships,
    read_roles,
    read_user,
)
from mssql_extract.sequence_defaults import sequence_defaults, sequences_in
from mssql_extract.snapshot import (
    TYPE_NAMED_LIKE_AN_OBJECT,
    ApplicationRole,
    Database,
    DbObject,
    ObjectKind,
    Permission,
    PermissionState,
    Schema,
    SecuritySnapshot,
    Server,
    ServerRole,
    Skipped,
    SourceRef,
    fold,
    one_per_grantor_merged,
    types_named_like_objects,
)
from mssql_extract.snapshot_database import name_parts, quote_name

#: EXECUTE AS of a module: its serialised and API property names → ``execute_as``.
_EXECUTE_AS = (
    (("IsOwner", "ExecuteAsOwner"), "OWNER"),
    (("IsSelf", "ExecuteAsSelf"), "SELF"),
)
_MODULES = frozenset({"SqlProcedure", "SqlScalarFunction", "SqlInlineTableValuedFunction",
                      "SqlMultiStatementTableValuedFunction"})  # fmt: skip
_KINDS = {
    "SqlTable": ObjectKind.TABLE,
    "SqlView": ObjectKind.VIEW,
    "SqlProcedure": ObjectKind.PROCEDURE,
    "SqlScalarFunction": ObjectKind.SCALAR_FUNCTION,
    "SqlInlineTableValuedFunction": ObjectKind.TABLE_FUNCTION,
    "SqlMultiStatementTableValuedFunction": ObjectKind.TABLE_FUNCTION,
    "SqlAggregate": ObjectKind.AGGREGATE,
    "SqlSequence": ObjectKind.SEQUENCE,
    "SqlSynonym": ObjectKind.SYNONYM,
    "SqlUserDefinedDataType": ObjectKind.TYPE,
    "SqlUserDefinedType": ObjectKind.TYPE,
    "SqlTableType": ObjectKind.TYPE,
    "SqlXmlSchemaCollection": ObjectKind.XML_SCHEMA_COLLECTION,
}
#: Left out as ``mssql_extract.catalog.SYSTEM_DATABASES`` are (a test keeps the two equal).
SYSTEM_DATABASES = frozenset({"master", "tempdb", "model", "msdb"})
#: ``Containment`` of SqlDatabaseOptions (the enum number, or its name).
_CONTAINMENT = {"0": "NONE", "none": "NONE", "1": "PARTIAL", "partial": "PARTIAL"}
_NO_PERMISSIONS = (
    "the dacpac holds no permission statement, so the plan grants nothing: SqlPackage "
    "/Action:Extract leaves permissions out unless given /p:IgnorePermissions=False (SSDT: "
    "'Import permissions'; Azure Data Studio: 'Include permissions'). Extract it again with "
    "permissions, or accept this finding if the database grants nothing"
)
EXTERNAL_LOGINS = (
    "logins are server objects a database dacpac does not hold: the plan has no login for "
    "these users (their roles cannot log in); extract the dacpac together with a source that "
    "holds them (the logins script, a master dacpac, catalog rows), or from a live server"
)


def _columns(m: ModelXml, el: ElementTree.Element) -> tuple[str, ...]:
    """Column names of a table or view: its own column elements, not what they nest."""
    return tuple(m.name(c, 1, "column")[0] for c in nested(el, "Columns"))


def _execute_as(el: ElementTree.Element) -> str | None:
    """EXECUTE AS of a module (None for tables, views, sequences …)."""
    if el.get("Type") not in _MODULES:
        return None
    return next((who for names, who in _EXECUTE_AS if flag(el, *names)), "CALLER")


def _objects(m: ModelXml) -> list[DbObject]:
    found = []
    defaults = _sequence_defaults(m)
    for kind, object_kind in _KINDS.items():
        for e in m.of(kind):
            schema, name = m.name(e, 2, kind)
            columns = _columns(m, e) if kind in {"SqlTable", "SqlView"} else ()
            called = defaults.get((fold(schema), fold(name)), {}) if kind == "SqlTable" else {}
            found.append(DbObject(schema_name=schema, name=name, kind=object_kind, owner=target(e, "Authorizer"),
                                  columns=columns, execute_as=_execute_as(e), base_object=_base_object(e),
                                  sequence_defaults=sequence_defaults(called), source_ref=m.ref(e)))  # fmt: skip
    return found


def _sequence_defaults(m: ModelXml) -> dict[tuple[str, str], dict[str, list[str]]]:
    """(folded schema, folded table) → column → the sequences its default calls: each
    ``SqlDefaultConstraint`` (named or not) points at its table (``DefiningTable``) and column
    (``ForColumn``) and holds its expression as ``DefaultExpressionScript``."""
    found: dict[tuple[str, str], dict[str, list[str]]] = {}
    for e in m.of("SqlDefaultConstraint"):
        called = sequences_in(script(e, "DefaultExpressionScript"))
        table = next(iter(parts(t) for t in targets(e, "DefiningTable")), [])
        column = next(iter(parts(t) for t in targets(e, "ForColumn")), [])
        if called and len(table) >= 2 and column:
            found.setdefault((fold(table[-2]), fold(table[-1])), {})[column[-1]] = called
    return found


def _base_object(el: ElementTree.Element) -> str | None:
    """A synonym's base object: the ``ForObjectName`` property DacFx's Synonym class has, else
    the name its ``ForObject`` relationship points at (resolved or not); quoted as
    ``sys.synonyms.base_object_name`` is."""
    if el.get("Type") != "SqlSynonym":
        return None
    name = prop(el, "ForObjectName") or next(iter(targets(el, "ForObject")), None)
    return quote_name(name_parts(name)) if name else None


def _options(m: ModelXml) -> dict[str, Any]:
    """Database settings from SqlDatabaseOptions (TRUSTWORTHY, DB_CHAINING, containment)."""
    found: dict[str, Any] = {}
    for e in m.of("SqlDatabaseOptions"):
        containment = prop(e, "Containment")
        if containment is not None and containment.casefold() not in _CONTAINMENT:
            raise m.error(e, f"unsupported Containment {containment!r}")
        found |= {
            "trustworthy": bool(flag(e, "IsTrustworthyOn")),
            "db_chaining": bool(flag(e, "IsDbChainingOn")),
            "containment": _CONTAINMENT[(containment or "0").casefold()],
            "collation": prop(e, "Collation"),
        }
    return found


def _guest_enabled(permissions: list[Permission]) -> bool:
    return any(
        p.securable_class == "DATABASE" and p.permission == "CONNECT"
        and fold(p.grantee) == "guest" and p.state != PermissionState.DENY
        for p in permissions
    )  # fmt: skip


def _database(m: ModelXml, name: str, logins: Logins, permissions: list[Permission]) -> Database:
    memberships = read_memberships(m, "SqlRoleMembership")
    app_roles = [ApplicationRole(name=element_name(m, e),
                                 default_schema=target(e, "DefaultSchema"), source_ref=m.ref(e))
                 for e in m.of("SqlApplicationRole")]  # fmt: skip
    schemas = [Schema(name=element_name(m, e), owner=target(e, "Authorizer") or "dbo",
                      source_ref=m.ref(e))
               for e in m.of("SqlSchema")]  # fmt: skip
    return Database(
        name=name, users=tuple(read_user(m, e, logins) for e in m.of("SqlUser")),
        roles=tuple(read_roles(m, memberships)), application_roles=tuple(app_roles),
        memberships=tuple(memberships), permissions=tuple(permissions), schemas=tuple(schemas),
        objects=tuple(types_named_like_objects(_objects(m))[0]),
        guest_enabled=_guest_enabled(permissions),
        source_ref=SourceRef(origin=m.origin), **_options(m),
    )  # fmt: skip


def _gaps(m: ModelXml, db: Database, logins: Logins) -> list[Skipped]:
    """What a database dacpac does not hold although the plan needs it (see module docstring)."""
    found = [
        Skipped(kind="statement", reason=TYPE_NAMED_LIKE_AN_OBJECT.format(kind=other.kind.value),
                text=f"TYPE [{t.schema_name}].[{t.name}]", source_ref=t.source_ref)
        for t, other in types_named_like_objects(_objects(m))[1]
    ]  # fmt: skip
    if not m.of("SqlPermissionStatement"):
        ref = SourceRef(origin=m.origin, key="SqlPermissionStatement")
        found.append(Skipped(kind="statement", reason=_NO_PERMISSIONS, source_ref=ref))
    gap = external_logins(db, set(logins.by_name), SourceRef(origin=m.origin, key="SqlUser.Login"))
    return [*found, gap] if gap else found


def external_logins(db: Database, logins: set[str], ref: SourceRef) -> Skipped | None:
    """The entry naming the users of ``db`` whose login is not among ``logins`` (folded
    names), or None. Worked out again when sources are combined (:mod:`mssql_extract.combine`)."""
    external = [(u.name, u.login) for u in db.users if u.login and fold(u.login) not in logins]
    if not external:
        return None
    text = ", ".join(f"[{login}] (user [{user}])" for user, login in external)
    return Skipped(kind="statement", reason=EXTERNAL_LOGINS, text=text, source_ref=ref)


def _database_name(archive: zipfile.ZipFile, path: Path) -> str:
    """``<Name>`` of DacMetadata.xml (the project's database name), else the file name."""
    try:
        found = ElementTree.fromstring(archive.read("DacMetadata.xml")).find(f"{NS}Name")
    except (KeyError, ElementTree.ParseError):
        found = None
    return found.text.strip() if found is not None and found.text else path.stem


def _read_model(path: Path) -> tuple[ElementTree.Element, str]:
    try:
        with zipfile.ZipFile(path) as archive:
            data = archive.read("model.xml")
            name = _database_name(archive, path)
    except (OSError, zipfile.BadZipFile) as exc:
        raise ExtractError(
            f"not a readable dacpac (zip) file: {exc}", Location(str(path))
        ) from None
    except KeyError:
        raise ExtractError("the dacpac has no model.xml", Location(str(path))) from None
    try:
        root = ElementTree.fromstring(tolerate_char_refs(data))
    except ElementTree.ParseError as exc:
        line, column = exc.position
        raise ExtractError(
            f"model.xml is not valid XML: {exc}", Location(f"{path}!model.xml", line, column)
        ) from None
    # read on, either was a database without security (exit 0, and one finding: no permissions)
    if root.tag.endswith("DataSchemaModel") and root.tag != f"{NS}DataSchemaModel":
        problem = f"<DataSchemaModel> is not in SqlPackage's namespace {NS[1:-1]}"
    elif root.tag != f"{NS}DataSchemaModel":
        problem = f"its root is <{_local(root.tag)}>, not SqlPackage's <DataSchemaModel>"
    elif root.find(f"{NS}Model") is None:
        problem = "<DataSchemaModel> holds no <Model>"
    else:
        return root, name
    raise ExtractError(f"model.xml is not a dacpac model: {problem}", Location(f"{path}!model.xml"))


def _local(tag: str) -> str:
    """``tag`` as model.xml spells it: its namespace, when it is the models' one, left out."""
    return tag.removeprefix(NS)


def _snapshot(m: ModelXml, name: str) -> SecuritySnapshot:
    logins = Logins(m)
    read = [read_permission(m, e) for e in m.of("SqlPermissionStatement")]
    # the same GRANT from two grantors is two statements and one fact
    permissions = one_per_grantor_merged(p for p in read if isinstance(p, Permission))
    skipped = [s for s in read if isinstance(s, Skipped)]
    server_roles = [ServerRole(name=element_name(m, e), owner=target(e, "Authorizer"),
                               source_ref=m.ref(e))
                    for e in m.of("SqlServerRole")]  # fmt: skip
    databases = []
    if fold(name) not in SYSTEM_DATABASES:  # as the catalog path: server-level facts only
        in_db = [p for p in permissions if not is_server_level(p)]
        databases.append(_database(m, name, logins, in_db))
        skipped += _gaps(m, databases[0], logins)
    return SecuritySnapshot(
        source="dacpac", server=Server(name="(dacpac)"), logins=tuple(logins.found),
        server_roles=tuple(server_roles),
        server_memberships=tuple(read_memberships(m, "SqlServerRoleMembership")),
        server_permissions=tuple(p for p in permissions if is_server_level(p)),
        databases=tuple(databases), skipped=tuple(skipped),
    )  # fmt: skip


def extract_dacpac(path: Path) -> SecuritySnapshot:
    """Read the security model of one database from an SSDT ``.dacpac``.

    Raises:
        ExtractError: the file is not a dacpac, or an element cannot be read (the message
            names the element), or two elements state the same fact.
    """
    root, name = _read_model(path)
    try:
        return _snapshot(ModelXml(root, path), name)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        message = str(first["msg"]).removeprefix("Value error, ")
        raise ExtractError(f"unsupported dacpac content: {message} ({where})",
                           Location(str(path))) from None  # fmt: skip
