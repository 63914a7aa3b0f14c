"""SSDT ``.dacpac`` → :class:`SecuritySnapshot`, from the ``model.xml`` inside the zip.

Elements read (DacFx model names): SqlLogin, SqlServerRole, SqlServerRoleMembership, SqlUser,
SqlRole, SqlApplicationRole (never its Password), SqlRoleMembership, SqlSchema (its
``Authorizer``), SqlDatabaseOptions, SqlPermissionStatement
(:mod:`mssql_extract.dacpac_permissions`), and for objects SqlTable / SqlView / SqlProcedure /
SqlScalarFunction / SqlInlineTableValuedFunction / SqlMultiStatementTableValuedFunction /
SqlAggregate / SqlSequence / SqlSynonym / SqlUserDefinedDataType / SqlUserDefinedType /
SqlTableType / SqlXmlSchemaCollection. Reading elements and their targets (``References``,
unresolved ``Annotation``) is :mod:`mssql_extract.dacpac_model`.

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
    prop,
    target,
    tolerate_char_refs,
)
from mssql_extract.dacpac_permissions import is_server_level, read_permission
from mssql_extract.snapshot import (
    TYPE_NAMED_LIKE_AN_OBJECT,
    ApplicationRole,
    AuthenticationType,
    Database,
    DatabaseRole,
    DbObject,
    Login,
    LoginType,
    Membership,
    ObjectKind,
    Permission,
    PermissionState,
    Schema,
    SecuritySnapshot,
    Server,
    ServerRole,
    Skipped,
    SourceRef,
    User,
    UserType,
    fold,
    one_per_grantor_merged,
    types_named_like_objects,
)

#: ``AuthenticationType`` property of SqlUser: sys.database_principals.authentication_type numbers.
_AUTHENTICATION = {
    "0": AuthenticationType.NONE,
    "1": AuthenticationType.INSTANCE,
    "2": AuthenticationType.DATABASE,
    "3": AuthenticationType.WINDOWS,
    "4": AuthenticationType.EXTERNAL,
}
#: Authentication → user type; a Windows user may be a group and an Entra user a group
#: (the model does not say), so those types are the snapshot's usual guesses.
_USER_TYPES = {AuthenticationType.WINDOWS: UserType.WINDOWS_USER,
               AuthenticationType.EXTERNAL: UserType.EXTERNAL_USER}  # fmt: skip
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
#: shared/reference/mssql/fixed_database_roles.csv
_FIXED_DB_ROLES = frozenset({"db_owner", "db_accessadmin", "db_securityadmin", "db_ddladmin",
                             "db_backupoperator", "db_datareader", "db_datawriter",
                             "db_denydatareader", "db_denydatawriter", "public"})  # fmt: skip
_NO_PERMISSIONS = (
    "the dacpac holds no permission statement, so the plan grants nothing: SqlPackage "
    "/Action:Extract leaves permissions out unless given /p:IgnorePermissions=False (SSDT: "
    "'Import permissions'; Azure Data Studio: 'Include permissions'). Extract it again with "
    "permissions, or accept this finding if the database grants nothing"
)
_EXTERNAL_LOGINS = (
    "logins are server objects a database dacpac does not hold: the plan has no login for "
    "these users (their roles cannot log in); read the logins from the catalog or a live server"
)


def _sid(el: ElementTree.Element) -> str | None:
    """The ``Sid`` property as ``0x…`` upper-case hex (the snapshot's spelling)."""
    value = prop(el, "Sid")
    if not value:
        return None
    digits = value[2:] if value[:2].lower() == "0x" else value
    return "0x" + digits.upper()


def _name(m: ModelXml, el: ElementTree.Element) -> str:
    return m.name(el, 1, str(el.get("Type")))[0]


def _login(m: ModelXml, e: ElementTree.Element) -> Login:
    windows = bool(flag(e, "IsMappedToWindowsLogin", "MappedToWindowsLogin"))
    # absent means the CREATE LOGIN default: CHECK_POLICY ON, CHECK_EXPIRATION OFF (SQL logins)
    policy = None if windows else flag(e, "IsCheckPolicyOn", "CheckPolicy", default=True)
    expiration = (
        None if windows else flag(e, "IsCheckExpirationOn", "CheckExpiration", default=False)
    )
    return Login(
        name=_name(m, e),
        type=LoginType.WINDOWS_USER if windows else LoginType.SQL,
        sid=_sid(e),
        disabled=bool(flag(e, "IsDisabled", "Disabled")),
        default_database=prop(e, "DefaultDatabase"),
        default_language=prop(e, "DefaultLanguage"),
        check_policy=policy,
        check_expiration=expiration,
        has_password=not windows,  # the Password property itself is never read
        type_inferred=windows,  # the model does not say user or group
        source_ref=m.ref(e),
    )


class _Logins:
    """The logins of the model, and how a user's login reference resolves against them."""

    def __init__(self, m: ModelXml) -> None:
        self.found = [_login(m, e) for e in m.of("SqlLogin")]
        self.by_name = {fold(x.name): x for x in self.found}

    def resolve(self, login: str | None) -> tuple[Login | None, str | None, bool]:
        """(login in the model, login name kept, orphaned) for a user's ``Login`` target."""
        mapped = self.by_name.get(fold(login)) if login else None
        if login is None or mapped is not None:
            return mapped, mapped.name if mapped else None, False
        if self.found:  # the model scripts logins, as scripts do: one not among them is missing
            return None, None, True
        return None, login, False  # a database dacpac: the login is in master, not here

    def external(self, db: Database) -> list[tuple[str, str]]:
        """(user, login) of the users whose login the dacpac does not hold."""
        return [
            (u.name, u.login) for u in db.users if u.login and fold(u.login) not in self.by_name
        ]


def _user(m: ModelXml, e: ElementTree.Element, logins: _Logins) -> User:
    name = _name(m, e)
    wanted = None if flag(e, "IsWithoutLogin", "WithoutLogin") else target(e, "Login")
    mapped, login, orphaned = logins.resolve(wanted)
    windows = mapped.type != LoginType.SQL if mapped else "\\" in (wanted or "")
    guessed = AuthenticationType.NONE if wanted is None \
        else AuthenticationType.WINDOWS if windows else AuthenticationType.INSTANCE  # fmt: skip
    authentication = _AUTHENTICATION.get(prop(e, "AuthenticationType") or "", guessed)
    user_type = _USER_TYPES.get(authentication, UserType.SQL)
    return User(
        name=name, type=user_type, type_inferred=user_type == UserType.WINDOWS_USER,
        authentication_type=authentication, login=login,
        sid=mapped.sid if mapped else _sid(e), default_schema=target(e, "DefaultSchema"),
        orphaned=orphaned, has_password=authentication == AuthenticationType.DATABASE,
        source_ref=m.ref(e),
    )  # fmt: skip


def _memberships(m: ModelXml, kind: str) -> list[Membership]:
    found = []
    for e in m.of(kind):
        role, member = target(e, "Role"), target(e, "Member")
        name = e.get("Name") or f"[{role or '?'}]<-[{member or '?'}]"
        if not role or not member:
            raise m.error(e, f"{kind} has no {'Role' if not role else 'Member'}", name)
        found.append(Membership(role=role, member=member, source_ref=m.ref(e, name)))
    return found


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
    for kind, object_kind in _KINDS.items():
        for e in m.of(kind):
            schema, name = m.name(e, 2, kind)
            columns = _columns(m, e) if kind in {"SqlTable", "SqlView"} else ()
            found.append(DbObject(schema_name=schema, name=name, kind=object_kind, owner=target(e, "Authorizer"),
                                  columns=columns, execute_as=_execute_as(e), source_ref=m.ref(e)))  # fmt: skip
    return found


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


def _roles(m: ModelXml, memberships: list[Membership]) -> list[DatabaseRole]:
    roles = [DatabaseRole(name=_name(m, e), owner=target(e, "Authorizer"), source_ref=m.ref(e))
             for e in m.of("SqlRole")]  # fmt: skip
    defined = {fold(r.name) for r in roles}
    # public exists in every database; other fixed roles are listed when something names them
    named = {x.role for x in memberships} | {"public"}
    fixed = sorted({r for r in named if fold(r) in _FIXED_DB_ROLES - defined})
    return roles + [
        DatabaseRole(name=r, is_fixed=True, source_ref=SourceRef(origin=m.origin)) for r in fixed
    ]


def _guest_enabled(permissions: list[Permission]) -> bool:
    return any(
        p.securable_class == "DATABASE" and p.permission == "CONNECT"
        and fold(p.grantee) == "guest" and p.state != PermissionState.DENY
        for p in permissions
    )  # fmt: skip


def _database(m: ModelXml, name: str, logins: _Logins, permissions: list[Permission]) -> Database:
    memberships = _memberships(m, "SqlRoleMembership")
    app_roles = [ApplicationRole(name=_name(m, e), default_schema=target(e, "DefaultSchema"),
                                 source_ref=m.ref(e)) for e in m.of("SqlApplicationRole")]  # fmt: skip
    schemas = [Schema(name=_name(m, e), owner=target(e, "Authorizer") or "dbo", source_ref=m.ref(e))
               for e in m.of("SqlSchema")]  # fmt: skip
    return Database(
        name=name, users=tuple(_user(m, e, logins) for e in m.of("SqlUser")),
        roles=tuple(_roles(m, memberships)), application_roles=tuple(app_roles),
        memberships=tuple(memberships), permissions=tuple(permissions), schemas=tuple(schemas),
        objects=tuple(types_named_like_objects(_objects(m))[0]),
        guest_enabled=_guest_enabled(permissions),
        source_ref=SourceRef(origin=m.origin), **_options(m),
    )  # fmt: skip


def _gaps(m: ModelXml, db: Database, logins: _Logins) -> list[Skipped]:
    """What a database dacpac does not hold although the plan needs it (see module docstring)."""
    found = [
        Skipped(kind="statement", reason=TYPE_NAMED_LIKE_AN_OBJECT.format(kind=other.kind.value),
                text=f"TYPE [{t.schema_name}].[{t.name}]", source_ref=t.source_ref)
        for t, other in types_named_like_objects(_objects(m))[1]
    ]  # fmt: skip
    if not m.of("SqlPermissionStatement"):
        ref = SourceRef(origin=m.origin, key="SqlPermissionStatement")
        found.append(Skipped(kind="statement", reason=_NO_PERMISSIONS, source_ref=ref))
    if external := logins.external(db):
        text = ", ".join(f"[{login}] (user [{user}])" for user, login in external)
        ref = SourceRef(origin=m.origin, key="SqlUser.Login")
        found.append(Skipped(kind="statement", reason=_EXTERNAL_LOGINS, text=text, source_ref=ref))
    return found


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
        return ElementTree.fromstring(tolerate_char_refs(data)), name
    except ElementTree.ParseError as exc:
        line, column = exc.position
        raise ExtractError(
            f"model.xml is not valid XML: {exc}", Location(f"{path}!model.xml", line, column)
        ) from None


def _snapshot(m: ModelXml, name: str) -> SecuritySnapshot:
    logins = _Logins(m)
    read = [read_permission(m, e) for e in m.of("SqlPermissionStatement")]
    # the same GRANT from two grantors is two statements and one fact
    permissions = one_per_grantor_merged(p for p in read if isinstance(p, Permission))
    skipped = [s for s in read if isinstance(s, Skipped)]
    server_roles = [ServerRole(name=_name(m, e), owner=target(e, "Authorizer"), source_ref=m.ref(e))
                    for e in m.of("SqlServerRole")]  # fmt: skip
    databases = []
    if fold(name) not in SYSTEM_DATABASES:  # as the catalog path: server-level facts only
        in_db = [p for p in permissions if not is_server_level(p)]
        databases.append(_database(m, name, logins, in_db))
        skipped += _gaps(m, databases[0], logins)
    return SecuritySnapshot(
        source="dacpac", server=Server(name="(dacpac)"), logins=tuple(logins.found),
        server_roles=tuple(server_roles),
        server_memberships=tuple(_memberships(m, "SqlServerRoleMembership")),
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
