"""Turning the replay state into frozen snapshot models.

Names referenced by memberships and permissions take the spelling of the statement that created
the principal (resolution is case-insensitive, as under SQL Server's default collation). Fixed
roles exist implicitly; one is listed (``is_fixed=True``) when a script references it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mssql_extract.snapshot import (
    ApplicationRole,
    AuthenticationType,
    Database,
    DatabaseRole,
    Login,
    LoginType,
    Membership,
    Permission,
    Schema,
    ServerRole,
    SourceRef,
    User,
    UserType,
    fold,
)
from mssql_extract.tsql.state import (
    FIXED_DATABASE_ROLES,
    FIXED_SERVER_ROLES,
    DbState,
    LoginState,
    NamedState,
    PermRow,
    UserState,
    guess_login_type,
)
from mssql_extract.tsql.system_databases import user_databases

if TYPE_CHECKING:
    from mssql_extract.tsql.replay import Builder

#: Login type → (user type, authentication type) of a user mapped to it.
_USER_OF_LOGIN: dict[LoginType, tuple[UserType, AuthenticationType]] = {
    LoginType.SQL: (UserType.SQL, AuthenticationType.INSTANCE),
    LoginType.WINDOWS_USER: (UserType.WINDOWS_USER, AuthenticationType.WINDOWS),
    LoginType.WINDOWS_GROUP: (UserType.WINDOWS_GROUP, AuthenticationType.WINDOWS),
    LoginType.CERTIFICATE: (UserType.CERTIFICATE, AuthenticationType.NONE),
    LoginType.ASYMMETRIC_KEY: (UserType.ASYMMETRIC_KEY, AuthenticationType.NONE),
    LoginType.EXTERNAL_USER: (UserType.EXTERNAL_USER, AuthenticationType.EXTERNAL),
    LoginType.EXTERNAL_GROUP: (UserType.EXTERNAL_GROUP, AuthenticationType.EXTERNAL),
}

#: How a user without a mapped login authenticates (``UserState.via``).
_USER_WITHOUT_LOGIN: dict[str, tuple[UserType, AuthenticationType]] = {
    "none": (UserType.SQL, AuthenticationType.NONE),
    "password": (UserType.SQL, AuthenticationType.DATABASE),
    "external": (UserType.EXTERNAL_USER, AuthenticationType.EXTERNAL),
    "certificate": (UserType.CERTIFICATE, AuthenticationType.NONE),
    "asymmetric key": (UserType.ASYMMETRIC_KEY, AuthenticationType.NONE),
}


def _login(state: LoginState) -> Login:
    return Login(
        name=state.name,
        type=state.type,
        sid=state.sid,
        disabled=state.disabled,
        default_database=state.default_database,
        default_language=state.default_language,
        check_policy=state.check_policy,
        check_expiration=state.check_expiration,
        must_change=state.must_change,
        has_password=state.has_password,
        credential=state.credential,
        type_inferred=state.type == LoginType.WINDOWS_USER,  # FROM WINDOWS: user or group
        connect_revoked=state.connect_revoked,
        source_ref=state.ref,
    )


def _permission(row: PermRow, spell: dict[str, str]) -> Permission:
    cls, schema, name, column = row.securable
    grantor = spell.get(fold(row.grantor), row.grantor) if row.grantor else None
    return Permission(
        securable_class=cls,
        schema_name=schema,
        object_name=name,
        column_name=column,
        permission=row.permission,
        state=row.state,
        grantee=spell.get(fold(row.grantee), row.grantee),
        grantor=grantor,
        source_ref=row.ref,
    )


def _memberships(
    items: dict[tuple[str, str], tuple[str, str, SourceRef]], spell: dict[str, str]
) -> tuple[Membership, ...]:
    return tuple(
        Membership(
            role=spell.get(fold(role), role), member=spell.get(fold(member), member), source_ref=ref
        )
        for role, member, ref in items.values()
    )


def _fixed_refs(
    fixed: frozenset[str],
    defined: dict[str, NamedState],
    memberships: dict[tuple[str, str], tuple[str, str, SourceRef]],
    rows: list[PermRow],
) -> dict[str, tuple[str, SourceRef]]:
    """Fixed roles referenced by a membership or a permission, with the first reference."""
    found: dict[str, tuple[str, SourceRef]] = {}
    candidates = [(n, ref) for role, member, ref in memberships.values() for n in (role, member)]
    candidates += [(row.grantee, row.ref) for row in rows]
    for name, ref in candidates:
        key = fold(name)
        if key in fixed and key not in defined:
            found.setdefault(key, (name, ref))
    return found


def freeze_server(builder: Builder) -> dict[str, Any]:
    """Logins, server roles, server memberships and server permissions."""
    spell = {k: v.name for k, v in builder.logins.items()}
    spell.update({k: v.name for k, v in builder.server_roles.items()})
    rows = list(builder.server_perms.rows.values())
    roles = [
        ServerRole(name=r.name, is_fixed=r.fixed, owner=r.owner, source_ref=r.ref)
        for r in builder.server_roles.values()
    ]
    fixed = _fixed_refs(FIXED_SERVER_ROLES, builder.server_roles, builder.server_memberships, rows)
    roles += [ServerRole(name=n, is_fixed=True, source_ref=ref) for n, ref in fixed.values()]
    return {
        "logins": tuple(_login(login) for login in builder.logins.values()),
        "server_roles": tuple(roles),
        "server_memberships": _memberships(builder.server_memberships, spell),
        "server_permissions": tuple(_permission(row, spell) for row in rows),
        "audit_specifications": tuple(builder.server_audits.values()),
    }


def _user(state: UserState, builder: Builder) -> User:
    if state.via != "login":
        user_type, auth = _USER_WITHOUT_LOGIN[state.via]
        return User(
            name=state.name, type=user_type, authentication_type=auth, sid=state.sid,
            default_schema=state.default_schema, has_password=state.via == "password",
            connect_revoked=state.connect_revoked, source_ref=state.ref,
        )  # fmt: skip
    login = builder.logins.get(fold(state.login or state.name))
    user_type, auth = _USER_OF_LOGIN[login.type if login else guess_login_type(state.name)]
    return User(
        name=state.name, type=user_type, authentication_type=auth,
        login=login.name if login else None, sid=(login.sid if login else None) or state.sid,
        default_schema=state.default_schema, orphaned=login is None,
        missing_login=(state.login or state.name) if login is None else None,
        type_inferred=user_type == UserType.WINDOWS_USER, connect_revoked=state.connect_revoked,
        source_ref=state.ref,
    )  # fmt: skip


def _database_principals(db: DbState) -> dict[str, str]:
    spell = {k: v.name for k, v in db.users.items()}
    spell.update({k: v.name for k, v in db.roles.items()})
    spell.update({k: v.name for k, v in db.app_roles.items()})
    return spell


def freeze_databases(builder: Builder) -> tuple[Database, ...]:
    """The databases of the snapshot: a system database holding facts is recorded as skipped
    on ``builder`` instead (``system_databases``)."""
    return tuple(freeze_database(builder, db) for db in user_databases(builder))


def freeze_database(builder: Builder, db: DbState) -> Database:
    """One database and everything recorded inside it."""
    spell = _database_principals(db)
    rows = list(db.perms.rows.values())
    roles = [
        DatabaseRole(name=r.name, owner=r.owner and spell.get(fold(r.owner), r.owner),
                     source_ref=r.ref, owner_ref=r.owner_ref)
        for r in db.roles.values()
    ]  # fmt: skip
    fixed = _fixed_refs(FIXED_DATABASE_ROLES, db.roles, db.memberships, rows)
    roles += [DatabaseRole(name=n, is_fixed=True, source_ref=ref) for n, ref in fixed.values()]
    guest = any(
        fold(r.grantee) == "guest" and r.permission == "CONNECT" and r.state != "D"
        for r in rows
        if r.securable[0] == "DATABASE"
    )
    return Database(
        name=db.name,
        owner=db.owner,
        trustworthy=db.trustworthy,
        db_chaining=db.db_chaining,
        containment=db.containment,
        collation=db.collation,
        owner_ref=db.owner_ref,
        trustworthy_ref=db.trustworthy_ref,
        guest_enabled=guest,
        users=tuple(_user(u, builder) for u in db.users.values()),
        roles=tuple(roles),
        application_roles=tuple(
            ApplicationRole(name=a.name, default_schema=a.owner, source_ref=a.ref)
            for a in db.app_roles.values()
        ),
        memberships=_memberships(db.memberships, spell),
        permissions=tuple(_permission(row, spell) for row in rows),
        schemas=tuple(
            Schema(
                name=s.name,
                owner=spell.get(fold(s.owner or "dbo"), s.owner or "dbo"),
                source_ref=s.ref,
                owner_ref=s.owner_ref,
            )
            for s in db.schemas.values()
        ),
        objects=tuple(db.objects.values()),
        security_policies=tuple(db.policies.values()),
        masked_columns=tuple(db.masked.values()),
        audit_specifications=tuple(db.audits.values()),
        source_ref=db.ref,
    )
