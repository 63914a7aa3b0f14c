"""SSDT ``.dacpac`` → :class:`SecuritySnapshot`, from the ``model.xml`` inside the zip.

Elements read (DacFx model names): SqlLogin, SqlServerRole, SqlServerRoleMembership, SqlUser,
SqlRole, SqlApplicationRole, SqlRoleMembership, SqlSchema (its ``Authorizer``),
SqlPermissionStatement, and SqlTable / SqlView / SqlProcedure / SqlScalarFunction /
SqlInlineTableValuedFunction / SqlMultiStatementTableValuedFunction / SqlSequence for object
kinds. A permission statement is named ``[Grant.Select.Object].[grantee].[grantor]…``: its first
part gives the state (Grant, GrantWithGrantOption, Deny) and the permission in PascalCase.
A dacpac holds one database; its name is the file name unless the model says otherwise.
Logins appear only when the project scripts them (SSDT keeps CREATE LOGIN in the model of a
database project); server roles and server permissions belong to a master-scoped project.

Shapes checked against real SSDT/DacFx output (what we rely on, and where it was seen):

* ``SqlPermissionStatement`` named ``[Grant.Delete.Object].[grantee].[grantor].[schema].[object]``
  with ``<Property Name="Permission" Value="4" />`` (an enum *number*, not a name) and the
  relationships ``Grantee``, ``Grantor`` (``ExternalSource="BuiltIns"`` for ``[dbo]``) and
  ``SecuredObject``; a database-scoped one is ``[Grant.KillDatabaseConnection.Database]…``:
  d365collaborative/d365fo.tools, d365fo.tools/functions/repair-d365bacpacmodelfile.ps1 and
  d365fo.tools/internal/misc/RepairBacpac.Simple.json (model.xml of real bacpacs). We read the
  permission from the name, never from the number (only Delete = 4 is attested).
* ``SqlRoleMembership`` with relationships ``Member`` and ``Role`` (fixed roles referenced with
  ``ExternalSource="BuiltIns"``): same repository, RepairBacpac.Qualifier.json and
  repair-d365bacpacmodelfile.ps1.
* ``SqlUser`` with ``<Property Name="AuthenticationType" Value="1" />`` (sys.database_principals
  numbering) and relationship ``Login``: a public bacpac-import script found by find_string.
* Property and relationship names of DacFx's model classes (Microsoft.SqlServer.Dac.Model on
  learn.microsoft.com): Login (CheckExpiration, CheckPolicy, DefaultDatabase, DefaultLanguage,
  Disabled, MappedToWindowsLogin, Sid, Password — never read), User (AuthenticationType,
  DefaultSchema, Login, Sid, WithoutLogin), Permission (PermissionAction Grant/Deny,
  WithGrantOption, Grantee, Grantor, SecuredObject), Procedure (ExecuteAsCaller,
  ExecuteAsOwner, ExecuteAsSelf).

Not confirmed from real output (kept tolerant): the state word of a DENY (``Deny``) and whether
WITH GRANT OPTION shows in the name (``GrantWithGrantOption``) or only as the
``WithGrantOption`` property — both are accepted; a column permission's ``SecuredObject`` as a
three-part column reference; the text form of ``Sid`` (read as hex).
"""

from __future__ import annotations

import re
import zipfile
from pathlib import Path
from xml.etree import ElementTree

from grantbridge.errors import ExtractError, Location
from mssql_extract.snapshot import (
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
    SourceRef,
    User,
    UserType,
)

_NS = "{http://schemas.microsoft.com/sqlserver/dac/Serialization/2012/02}"
_PART = re.compile(r"\[((?:[^\]]|\]\])*)\]")
_STATES = {
    "Grant": PermissionState.GRANT,
    "GrantWithGrantOption": PermissionState.GRANT_WITH_GRANT_OPTION,
    "Deny": PermissionState.DENY,
}
#: The securable class word of a permission statement name → snapshot securable class.
_CLASSES = {
    "Object": "OBJECT",
    "Schema": "SCHEMA",
    "Database": "DATABASE",
    "User": "USER",
    "Role": "ROLE",
}
#: ``AuthenticationType`` property of SqlUser: sys.database_principals.authentication_type numbers.
_AUTHENTICATION = {
    "0": AuthenticationType.NONE,
    "1": AuthenticationType.INSTANCE,
    "2": AuthenticationType.DATABASE,
    "3": AuthenticationType.WINDOWS,
    "4": AuthenticationType.EXTERNAL,
}
#: Module properties → ``execute_as`` (CALLER when none is set, as in SQL Server).
_EXECUTE_AS = {"ExecuteAsOwner": "OWNER", "ExecuteAsSelf": "SELF"}
_MODULES = frozenset(
    {
        "SqlProcedure",
        "SqlScalarFunction",
        "SqlInlineTableValuedFunction",
        "SqlMultiStatementTableValuedFunction",
    }
)
_KINDS = {
    "SqlTable": ObjectKind.TABLE,
    "SqlView": ObjectKind.VIEW,
    "SqlProcedure": ObjectKind.PROCEDURE,
    "SqlScalarFunction": ObjectKind.SCALAR_FUNCTION,
    "SqlInlineTableValuedFunction": ObjectKind.TABLE_FUNCTION,
    "SqlMultiStatementTableValuedFunction": ObjectKind.TABLE_FUNCTION,
    "SqlSequence": ObjectKind.SEQUENCE,
}
_FIXED_DB_ROLES = frozenset(
    {
        "db_owner",
        "db_accessadmin",
        "db_securityadmin",
        "db_ddladmin",
        "db_backupoperator",
        "db_datareader",
        "db_datawriter",
        "db_denydatareader",
        "db_denydatawriter",
        "public",
    }
)  # fmt: skip  — shared/reference/mssql/fixed_database_roles.csv


def parts(name: str | None) -> list[str]:
    """``[a].[b]`` → ``["a", "b"]`` (``]]`` unescaped)."""
    return [p.replace("]]", "]") for p in _PART.findall(name or "")]


def _prop(el: ElementTree.Element, name: str) -> str | None:
    found = el.find(f"{_NS}Property[@Name='{name}']")
    return None if found is None else found.get("Value")


def _refs(el: ElementTree.Element, relationship: str) -> list[str]:
    rel = el.find(f"{_NS}Relationship[@Name='{relationship}']")
    if rel is None:
        return []
    return [r.get("Name", "") for r in rel.iter(f"{_NS}References")]


def _ref1(el: ElementTree.Element, relationship: str) -> str | None:
    found = _refs(el, relationship)
    return parts(found[0])[-1] if found else None


def _words(pascal: str) -> str:
    return re.sub(r"(?<=[a-z])(?=[A-Z])", " ", pascal).upper()


class _Model:
    def __init__(self, root: ElementTree.Element, origin: str) -> None:
        self.origin = origin
        self.elements = list(root.iter(f"{_NS}Element"))

    def of(self, kind: str) -> list[ElementTree.Element]:
        return [e for e in self.elements if e.get("Type") == kind]

    def ref(self, el: ElementTree.Element) -> SourceRef:
        return SourceRef(origin=self.origin, key=f"{el.get('Type')}:{el.get('Name') or ''}")


def _true(value: str | None) -> bool:
    return (value or "").lower() == "true"


def _flag(el: ElementTree.Element, name: str) -> bool | None:
    value = _prop(el, name)
    return None if value is None else _true(value)


def _sid(el: ElementTree.Element) -> str | None:
    """The ``Sid`` property as ``0x…`` upper-case hex (the snapshot's spelling)."""
    value = _prop(el, "Sid")
    if not value:
        return None
    digits = value[2:] if value[:2].lower() == "0x" else value
    return "0x" + digits.upper()


def _login(m: _Model, e: ElementTree.Element) -> Login:
    windows = _true(_prop(e, "MappedToWindowsLogin"))
    return Login(
        name=parts(e.get("Name"))[-1],
        type=LoginType.WINDOWS_USER if windows else LoginType.SQL,
        sid=_sid(e),
        disabled=_true(_prop(e, "Disabled")),
        default_database=_prop(e, "DefaultDatabase"),
        default_language=_prop(e, "DefaultLanguage"),
        check_policy=_flag(e, "CheckPolicy"),
        check_expiration=_flag(e, "CheckExpiration"),
        has_password=not windows,  # the Password property itself is never read
        type_inferred=windows,  # the model does not say user or group
        source_ref=m.ref(e),
    )


def _logins(m: _Model) -> list[Login]:
    return [_login(m, e) for e in m.of("SqlLogin")]


def _user(m: _Model, e: ElementTree.Element, logins: dict[str, Login]) -> User:
    login = None if _true(_prop(e, "WithoutLogin")) else _ref1(e, "Login")
    mapped = logins.get(login.casefold()) if login else None
    windows = mapped is not None and mapped.type != LoginType.SQL
    guessed = (AuthenticationType.WINDOWS if windows else AuthenticationType.INSTANCE) if login \
        else AuthenticationType.NONE  # fmt: skip
    authentication = _AUTHENTICATION.get(_prop(e, "AuthenticationType") or "", guessed)
    windows_auth = authentication == AuthenticationType.WINDOWS  # user or group: not in the model
    return User(
        name=parts(e.get("Name"))[-1],
        type=UserType.WINDOWS_USER if windows_auth else UserType.SQL,
        type_inferred=windows_auth,
        authentication_type=authentication,
        login=mapped.name if mapped else None,
        sid=mapped.sid if mapped else _sid(e),
        default_schema=_ref1(e, "DefaultSchema"),
        orphaned=login is not None and mapped is None,
        source_ref=m.ref(e),
    )


def _users(m: _Model, logins: dict[str, Login]) -> list[User]:
    return [_user(m, e, logins) for e in m.of("SqlUser")]


def _memberships(m: _Model, kind: str) -> list[Membership]:
    return [
        Membership(
            role=_ref1(e, "Role") or "", member=_ref1(e, "Member") or "", source_ref=m.ref(e)
        )
        for e in m.of(kind)
    ]


def _permission(m: _Model, e: ElementTree.Element) -> Permission | None:
    head = parts(e.get("Name"))
    if not head:
        return None
    state_word, _, rest = head[0].partition(".")
    permission, _, class_word = rest.rpartition(".")
    secured = [parts(r) for r in _refs(e, "SecuredObject")]
    target = secured[0] if secured else []
    cls = _CLASSES.get(class_word, "OBJECT")
    schema = target[0] if cls == "OBJECT" and len(target) >= 2 else None
    name = (target[1] if cls == "OBJECT" and len(target) >= 2 else target[-1]) if target else None
    column = target[2] if cls == "OBJECT" and len(target) == 3 else None
    state = _STATES[state_word]
    if state == PermissionState.GRANT and _true(_prop(e, "WithGrantOption")):
        state = PermissionState.GRANT_WITH_GRANT_OPTION
    return Permission(
        securable_class=cls,
        schema_name=schema,
        object_name=None if cls == "DATABASE" else name,
        column_name=column,
        permission=_words(permission),
        state=state,
        grantee=_ref1(e, "Grantee") or "",
        grantor=_ref1(e, "Grantor"),
        source_ref=m.ref(e),
    )


def _columns(el: ElementTree.Element) -> tuple[str, ...]:
    """Column names of a table or view: nested SqlSimpleColumn / SqlComputedColumn elements."""
    rel = el.find(f"{_NS}Relationship[@Name='Columns']")
    if rel is None:
        return ()
    return tuple(parts(c.get("Name"))[-1] for c in rel.iter(f"{_NS}Element"))


def _execute_as(el: ElementTree.Element) -> str | None:
    """EXECUTE AS of a module (None for tables, views, sequences)."""
    if el.get("Type") not in _MODULES:
        return None
    return next((who for prop, who in _EXECUTE_AS.items() if _true(_prop(el, prop))), "CALLER")


def _objects(m: _Model) -> list[DbObject]:
    found = []
    for kind, object_kind in _KINDS.items():
        for e in m.of(kind):
            schema, name = parts(e.get("Name"))[-2:]
            columns = _columns(e) if kind in {"SqlTable", "SqlView"} else ()
            found.append(DbObject(schema_name=schema, name=name, kind=object_kind, owner=_ref1(e, "Authorizer"),
                                  columns=columns, execute_as=_execute_as(e), source_ref=m.ref(e)))  # fmt: skip
    return found


def _database(m: _Model, name: str, logins: dict[str, Login]) -> Database:
    roles = [DatabaseRole(name=parts(e.get("Name"))[-1], owner=_ref1(e, "Authorizer"), source_ref=m.ref(e))
             for e in m.of("SqlRole")]  # fmt: skip
    memberships = _memberships(m, "SqlRoleMembership")
    defined = {r.name.casefold() for r in roles}
    # public exists in every database; other fixed roles are listed when something names them
    named = {x.role for x in memberships} | {"public"}
    fixed = sorted({r for r in named if r.casefold() in _FIXED_DB_ROLES - defined})
    roles += [
        DatabaseRole(name=r, is_fixed=True, source_ref=SourceRef(origin=m.origin)) for r in fixed
    ]
    permissions = [p for p in (_permission(m, e) for e in m.of("SqlPermissionStatement")) if p]
    schemas = [Schema(name=parts(e.get("Name"))[-1], owner=_ref1(e, "Authorizer") or "dbo", source_ref=m.ref(e))
               for e in m.of("SqlSchema")]  # fmt: skip
    return Database(
        name=name, users=tuple(_users(m, logins)), roles=tuple(roles), memberships=tuple(memberships),
        permissions=tuple(permissions), schemas=tuple(schemas), objects=tuple(_objects(m)),
        source_ref=SourceRef(origin=m.origin),
    )  # fmt: skip


def _database_name(archive: zipfile.ZipFile, path: Path) -> str:
    """``<Name>`` of DacMetadata.xml (the project's database name), else the file name."""
    try:
        found = ElementTree.fromstring(archive.read("DacMetadata.xml")).find(f"{_NS}Name")
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
        return ElementTree.fromstring(data), name
    except ElementTree.ParseError as exc:
        line, column = exc.position
        raise ExtractError(
            f"model.xml is not valid XML: {exc}", Location(f"{path}!model.xml", line, column)
        ) from None


def extract_dacpac(path: Path) -> SecuritySnapshot:
    """Read the security model of one database from an SSDT ``.dacpac``."""
    root, name = _read_model(path)
    model = _Model(root, f"{path.name}!model.xml")
    logins = _logins(model)
    by_name = {x.name.casefold(): x for x in logins}
    server_roles = [ServerRole(name=parts(e.get("Name"))[-1], owner=_ref1(e, "Authorizer"), source_ref=model.ref(e))
                    for e in model.of("SqlServerRole")]  # fmt: skip
    try:
        return SecuritySnapshot(
            source="dacpac",
            server=Server(name="(dacpac)"),
            logins=tuple(logins),
            server_roles=tuple(server_roles),
            server_memberships=tuple(_memberships(model, "SqlServerRoleMembership")),
            databases=(_database(model, name, by_name),),
        )
    except (ValueError, KeyError) as exc:
        raise ExtractError(f"unsupported dacpac content: {exc}", Location(str(path))) from None
