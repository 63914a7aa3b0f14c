"""Database principals, role memberships and permissions from one database's catalog rows.

Converts ``sys.database_principals`` (users, database roles, application roles),
``sys.database_role_members`` and ``sys.database_permissions`` rows, resolved through a
:class:`~mssql_extract.catalog_db_index.DatabaseIndex`, for
:func:`mssql_extract.catalog_db.convert_database`. Built-in users and unused fixed roles are left
implicit; a row naming an unknown principal, an unread securable class or a column that was not
found is recorded as skipped (a column permission is never widened to its object).
"""

from __future__ import annotations

from collections.abc import Mapping

from mssql_extract.catalog_db_index import DatabaseIndex, Row
from mssql_extract.catalog_rows import as_bool, as_hex, as_str, permission_state, permission_text
from mssql_extract.snapshot import (
    ApplicationRole,
    AuthenticationType,
    DatabaseRole,
    Membership,
    Permission,
    User,
    UserType,
)

#: sys.database_principals.type → UserType (catalog_views.json, sys.database_principals.type).
USER_TYPES: dict[str, UserType] = {
    "S": UserType.SQL,
    "U": UserType.WINDOWS_USER,
    "G": UserType.WINDOWS_GROUP,
    "C": UserType.CERTIFICATE,
    "K": UserType.ASYMMETRIC_KEY,
    "E": UserType.EXTERNAL_USER,
    "X": UserType.EXTERNAL_GROUP,
}

#: sys.database_principals.authentication_type → its _desc, for captures without the _desc
#: column (catalog_views.json: 0 None, 1 Instance, 2 Database, 3 Windows, 4 Microsoft Entra).
AUTHENTICATION_CODES: dict[int, AuthenticationType] = {
    0: AuthenticationType.NONE,
    1: AuthenticationType.INSTANCE,
    2: AuthenticationType.DATABASE,
    3: AuthenticationType.WINDOWS,
    4: AuthenticationType.EXTERNAL,
}

#: dbo, guest, INFORMATION_SCHEMA and sys have principal_id 1–4 in every database.
BUILTIN_USER_IDS = frozenset({1, 2, 3, 4})
GUEST_ID = 2

#: sys.database_permissions.class → securable class (catalog_views.json); 4 is resolved by type.
DATABASE_CLASSES: dict[int, str] = {
    0: "DATABASE",
    1: "OBJECT",
    3: "SCHEMA",
    4: "USER",
    5: "ASSEMBLY",
    6: "TYPE",
    10: "XML SCHEMA COLLECTION",
    24: "SYMMETRIC KEY",
    25: "CERTIFICATE",
    26: "ASYMMETRIC KEY",
}
_PRINCIPAL_CLASS = {"R": "ROLE", "A": "APPLICATION ROLE"}
_SCHEMA_SCOPED = frozenset({"OBJECT", "TYPE", "XML SCHEMA COLLECTION"})


def _authentication(row: Row) -> AuthenticationType:
    desc = row.get("authentication_type_desc")
    if desc is None and row.get("authentication_type") is not None:
        return AUTHENTICATION_CODES[int(row["authentication_type"])]
    return AuthenticationType(desc or "NONE")


def _user(db: DatabaseIndex, row: Row, logins_by_sid: Mapping[str, str] | None) -> User:
    sid = as_hex(row.get("sid"))
    auth = _authentication(row)
    login = logins_by_sid.get(sid) if sid and logins_by_sid is not None else None
    return User(
        name=row["name"],
        type=USER_TYPES[row["type"]],
        authentication_type=auth,
        login=login,
        sid=sid,
        default_schema=as_str(row.get("default_schema_name")),
        # sp_change_users_login 'Report': a login-mapped SQL user whose SID matches no login
        # (unknown when the logins were not read: Azure SQL Database)
        orphaned=auth == AuthenticationType.INSTANCE
        and login is None
        and logins_by_sid is not None,
        has_password=auth == AuthenticationType.DATABASE,
        # CONNECT revoked: a user that can sign in (not WITHOUT LOGIN) without its CONNECT row
        connect_revoked=auth != AuthenticationType.NONE
        and int(row["principal_id"]) not in db.connects,
        source_ref=db.ref("sys.database_principals", f"principal_id={row['principal_id']}"),
    )


def read_principals(
    db: DatabaseIndex, logins_by_sid: Mapping[str, str] | None, referenced: set[int]
) -> tuple[list[User], list[DatabaseRole], list[ApplicationRole]]:
    """Users, database roles and application roles; fixed roles only when ``referenced``."""
    users, roles, app_roles = [], [], []
    for pid, row in db.principals.items():
        ref = db.ref("sys.database_principals", f"principal_id={pid}")
        kind = row["type"]
        if kind in USER_TYPES and pid not in BUILTIN_USER_IDS:
            users.append(_user(db, row, logins_by_sid))
        elif kind == "A":
            app_roles.append(
                ApplicationRole(
                    name=row["name"],
                    default_schema=as_str(row.get("default_schema_name")),
                    source_ref=ref,
                )
            )
        elif kind == "R":
            # public (principal 0) is fixed in all but name: listed, like fixed roles, when used
            fixed = as_bool(row.get("is_fixed_role")) or pid == 0
            if fixed and pid not in referenced:
                continue
            owner = None if fixed else db.name(row.get("owning_principal_id"))
            roles.append(
                DatabaseRole(name=row["name"], is_fixed=fixed, owner=owner, source_ref=ref)
            )
        elif kind not in USER_TYPES:  # a type this grantbridge does not know: said, not dropped
            db.skip(ref, f"database principal of unknown type {kind!r}", text=str(row["name"]))
    return users, roles, app_roles


def read_memberships(db: DatabaseIndex) -> list[Membership]:
    """Role memberships; one naming an unknown principal is recorded skipped."""
    found = []
    for row in db.src.rows("database_role_members"):
        rid, mid = row["role_principal_id"], row["member_principal_id"]
        ref = db.ref("sys.database_role_members", f"role={rid},member={mid}")
        role, member = db.name(rid), db.name(mid)
        if role is None or member is None:
            db.known(ref, role=rid, member=mid)  # records the row as skipped
            continue
        found.append(Membership(role=role, member=member, source_ref=ref))
    return found


#: (class, schema, name, column) of a permission row.
_Resolved = tuple[str, str | None, str | None, str | None]


def _securable(db: DatabaseIndex, row: Row) -> _Resolved | str:
    """(class, schema, name, column) of a permission row, or why it cannot be resolved."""
    cls = DATABASE_CLASSES.get(int(row["class"]))
    if cls is None:
        return f"securable class {row['class']} ({row.get('class_desc')}) is not read"
    if cls == "DATABASE":
        return (cls, None, None, None)
    name = as_str(row.get("securable_name"))
    if name is None:
        return f"the {cls} securable with major_id {row['major_id']} was not found"
    if cls == "USER":
        target = db.principals.get(int(row["major_id"]), {})
        cls = _PRINCIPAL_CLASS.get(str(target.get("type")), "USER")
    schema = as_str(row.get("securable_schema_name")) if cls in _SCHEMA_SCOPED else None
    minor = int(row["minor_id"])
    column = as_str(row.get("column_name")) if minor > 0 else None
    if minor > 0 and column is None:
        # minor_id > 0 is a column permission (catalog_views.json, sys.database_permissions
        # .minor_id); read at the object's level it would widen to every column
        where = ".".join(f"[{p}]" for p in (schema, name) if p is not None)
        return f"column permission on {where}: column_id {minor} was not found (never widened)"
    return (cls, schema, name, column)


def read_permissions(db: DatabaseIndex) -> list[Permission]:
    """GRANT, WITH GRANT OPTION and DENY rows (REVOKE rows are no facts)."""
    found = []
    for row in db.src.rows("database_permissions"):
        key = (
            f"class={row['class']},major_id={row['major_id']},minor_id={row['minor_id']},"
            f"grantee={row['grantee_principal_id']},type={str(row['type']).strip()}"
        )
        ref = db.ref("sys.database_permissions", key)
        state = permission_state(row["state"])
        if state is None or not db.known(ref, grantee=row["grantee_principal_id"]):
            continue  # REVOKE rows are no facts; an unknown grantee is recorded skipped
        grantee = str(db.principals[int(row["grantee_principal_id"])]["name"])
        securable = _securable(db, row)
        if isinstance(securable, str):
            db.skip(ref, securable, text=permission_text(row, state, grantee))
            continue
        cls, schema, name, column = securable
        found.append(
            Permission(
                securable_class=cls,
                schema_name=schema,
                object_name=name,
                column_name=column,
                permission=row["permission_name"],
                state=state,
                grantee=grantee,
                grantor=db.name(row.get("grantor_principal_id")),
                source_ref=ref,
            )
        )
    return found


def referenced_ids(db: DatabaseIndex) -> set[int]:
    """Ids of the principals a membership or a permission names."""
    members = db.src.rows("database_role_members")
    ids = {int(r["role_principal_id"]) for r in members} | {
        int(r["member_principal_id"]) for r in members
    }
    return ids | {int(r["grantee_principal_id"]) for r in db.src.rows("database_permissions")}


def is_guest_enabled(db: DatabaseIndex) -> bool:
    """Whether guest holds CONNECT (granted, not denied)."""
    return any(
        int(r["class"]) == 0 and int(r["grantee_principal_id"]) == GUEST_ID
        and r["permission_name"] == "CONNECT" and str(r["state"]).strip() in {"G", "W"}
        for r in db.src.rows("database_permissions")
    )  # fmt: skip
