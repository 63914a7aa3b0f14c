"""SSDT ``.dacpac`` → :class:`SecuritySnapshot`, from the ``model.xml`` inside the zip.

Elements read (DacFx model names): SqlLogin, SqlServerRole, SqlServerRoleMembership, SqlUser,
SqlRole, SqlApplicationRole, SqlRoleMembership, SqlSchema (its ``Authorizer``),
SqlPermissionStatement, and SqlTable / SqlView / SqlProcedure / SqlScalarFunction /
SqlInlineTableValuedFunction / SqlMultiStatementTableValuedFunction / SqlSequence for object
kinds. A permission statement is named ``[Grant.Select.Object].[grantee].[grantor]…``: its first
part gives the state (Grant, GrantWithGrantOption, Deny) and the permission in PascalCase.
A dacpac holds one database; its name is the file name unless the model says otherwise.
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


def _logins(m: _Model) -> list[Login]:
    return [
        Login(
            name=parts(e.get("Name"))[-1],
            type=LoginType.WINDOWS_USER
            if _true(_prop(e, "MappedToWindowsLogin"))
            else LoginType.SQL,
            disabled=_true(_prop(e, "Disabled")),
            check_policy=None
            if _prop(e, "CheckPolicy") is None
            else _true(_prop(e, "CheckPolicy")),
            check_expiration=None
            if _prop(e, "CheckExpiration") is None
            else _true(_prop(e, "CheckExpiration")),
            has_password=not _true(_prop(e, "MappedToWindowsLogin")),
            source_ref=m.ref(e),
        )
        for e in m.of("SqlLogin")
    ]


def _users(m: _Model, logins: dict[str, Login]) -> list[User]:
    found = []
    for e in m.of("SqlUser"):
        login = _ref1(e, "Login")
        mapped = logins.get(login.casefold()) if login else None
        windows = mapped is not None and mapped.type != LoginType.SQL
        found.append(
            User(
                name=parts(e.get("Name"))[-1],
                type=UserType.WINDOWS_USER if windows else UserType.SQL,
                authentication_type=(AuthenticationType.WINDOWS if windows else AuthenticationType.INSTANCE)
                if login else AuthenticationType.NONE,
                login=mapped.name if mapped else None,
                sid=mapped.sid if mapped else None,
                default_schema=_ref1(e, "DefaultSchema"),
                orphaned=login is not None and mapped is None,
                source_ref=m.ref(e),
            )
        )  # fmt: skip
    return found


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
    return Permission(
        securable_class=cls,
        schema_name=schema,
        object_name=None if cls == "DATABASE" else name,
        column_name=column,
        permission=_words(permission),
        state=_STATES[state_word],
        grantee=_ref1(e, "Grantee") or "",
        grantor=_ref1(e, "Grantor"),
        source_ref=m.ref(e),
    )


def _columns(el: ElementTree.Element) -> tuple[str, ...]:
    """Column names of a table: nested SqlSimpleColumn / SqlComputedColumn elements."""
    rel = el.find(f"{_NS}Relationship[@Name='Columns']")
    if rel is None:
        return ()
    return tuple(parts(c.get("Name"))[-1] for c in rel.iter(f"{_NS}Element"))


def _objects(m: _Model) -> list[DbObject]:
    found = []
    for kind, object_kind in _KINDS.items():
        for e in m.of(kind):
            schema, name = parts(e.get("Name"))[-2:]
            columns = _columns(e) if kind == "SqlTable" else ()
            found.append(DbObject(schema_name=schema, name=name, kind=object_kind, owner=_ref1(e, "Authorizer"),
                                  columns=columns, source_ref=m.ref(e)))  # fmt: skip
    return found


def _database(m: _Model, name: str, logins: dict[str, Login]) -> Database:
    roles = [DatabaseRole(name=parts(e.get("Name"))[-1], owner=_ref1(e, "Authorizer"), source_ref=m.ref(e))
             for e in m.of("SqlRole")]  # fmt: skip
    memberships = _memberships(m, "SqlRoleMembership")
    defined = {r.name.casefold() for r in roles}
    fixed = sorted({x.role for x in memberships if x.role.casefold() in _FIXED_DB_ROLES - defined})
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


def _read_model(path: Path) -> ElementTree.Element:
    try:
        with zipfile.ZipFile(path) as archive:
            data = archive.read("model.xml")
    except (OSError, zipfile.BadZipFile) as exc:
        raise ExtractError(
            f"not a readable dacpac (zip) file: {exc}", Location(str(path))
        ) from None
    except KeyError:
        raise ExtractError("the dacpac has no model.xml", Location(str(path))) from None
    try:
        return ElementTree.fromstring(data)
    except ElementTree.ParseError as exc:
        line, column = exc.position
        raise ExtractError(
            f"model.xml is not valid XML: {exc}", Location(f"{path}!model.xml", line, column)
        ) from None


def extract_dacpac(path: Path) -> SecuritySnapshot:
    """Read the security model of one database from an SSDT ``.dacpac``."""
    model = _Model(_read_model(path), f"{path.name}!model.xml")
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
            databases=(_database(model, path.stem, by_name),),
        )
    except (ValueError, KeyError) as exc:
        raise ExtractError(f"unsupported dacpac content: {exc}", Location(str(path))) from None
