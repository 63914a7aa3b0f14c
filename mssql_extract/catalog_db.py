"""Catalog rows of one database → :class:`Database` (see :mod:`mssql_extract.catalog`)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from typing import Any

from mssql_extract.catalog_rows import (
    Source,
    as_bool,
    as_hex,
    as_str,
    by_id,
    lookup,
    permission_state,
    permission_text,
    unknown_ids,
    unknown_principal,
)
from mssql_extract.snapshot import (
    TYPE_NAMED_LIKE_AN_OBJECT,
    ApplicationRole,
    AuditAction,
    AuditSpecification,
    AuthenticationType,
    Database,
    DatabaseRole,
    DbObject,
    MaskedColumn,
    Membership,
    ObjectKind,
    Permission,
    Schema,
    SecurityPolicy,
    SecurityPredicate,
    Skipped,
    SourceRef,
    User,
    UserType,
    fold,
    one_per_grantor_merged,
)

Row = Mapping[str, Any]

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

#: sys.objects.type → ObjectKind (catalog_views.json, sys.objects.type).
OBJECT_KINDS: dict[str, ObjectKind] = {
    "U": ObjectKind.TABLE,
    "V": ObjectKind.VIEW,
    "P": ObjectKind.PROCEDURE,
    "PC": ObjectKind.PROCEDURE,
    "FN": ObjectKind.SCALAR_FUNCTION,
    "FS": ObjectKind.SCALAR_FUNCTION,
    "IF": ObjectKind.TABLE_FUNCTION,
    "TF": ObjectKind.TABLE_FUNCTION,
    "FT": ObjectKind.TABLE_FUNCTION,
    "AF": ObjectKind.AGGREGATE,
    "SO": ObjectKind.SEQUENCE,
    "SN": ObjectKind.SYNONYM,
}

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


#: Default owners of built-in schemas: dbo(1)→dbo, guest(2)→guest, INFORMATION_SCHEMA(3)→3,
#: sys(4)→4; fixed-role schemas (16384–16393) are owned by the role of the same id.
def _default_owner(schema_id: int) -> int | None:
    if schema_id in BUILTIN_USER_IDS or 16384 <= schema_id <= 16393:
        return schema_id
    return None


class _Db:
    """Indexes over one database's rows, and the list its unread rows are recorded in."""

    def __init__(self, src: Source, skipped: list[Skipped]) -> None:
        self.src = src
        self.skipped = skipped
        self.principals = by_id(src.rows("database_principals"), "principal_id")
        self.schemas = by_id(src.rows("schemas"), "schema_id")
        self.objects = by_id(src.rows("objects"), "object_id")
        self.columns: dict[int, list[Row]] = defaultdict(list)
        for row in src.rows("columns"):
            self.columns[int(row["object_id"])].append(row)
        #: principals holding CONNECT on the database, granted or denied: CREATE USER grants it
        #: ("CREATE USER": the new user gets CONNECT), so a user without the row had it revoked
        self.connects = {
            int(row["grantee_principal_id"]) for row in src.rows("database_permissions")
            if int(row["class"]) == 0 and str(row["permission_name"]) == "CONNECT"
            and permission_state(row["state"]) is not None
        }  # fmt: skip

    def name(self, pid: Any) -> str | None:
        return lookup(self.principals, pid)

    def schema_name(self, schema_id: Any) -> str:
        return str(self.schemas[int(schema_id)]["name"])

    def object_names(self, object_id: Any) -> tuple[str, str] | None:
        row = self.objects.get(int(object_id))
        return None if row is None else (self.schema_name(row["schema_id"]), str(row["name"]))

    def ref(self, view: str, key: str) -> SourceRef:
        return self.src.ref(view, key)

    def skip(self, ref: SourceRef, reason: str, text: str = "") -> None:
        self.skipped.append(Skipped(kind="row", reason=reason, text=text, source_ref=ref))

    def known(self, ref: SourceRef, **ids: Any) -> bool:
        """Whether every principal id of a row is known; if not, the row is recorded skipped."""
        missing = unknown_ids(self.principals, **ids)
        if missing:
            self.skipped.append(unknown_principal(ref, "sys.database_principals", missing))
        return not missing

    def owner(self, ref: SourceRef, pid: Any, what: str, fallback: str) -> str | None:
        """The principal ``pid`` names; an unknown one is recorded and ``None`` returned."""
        name = self.name(pid)
        if pid is not None and name is None:
            reason = f"{what} (principal_id {pid}) is not in sys.database_principals"
            self.skip(ref, f"{reason}; {fallback}")
        return name


def _authentication(row: Row) -> AuthenticationType:
    desc = row.get("authentication_type_desc")
    if desc is None and row.get("authentication_type") is not None:
        return AUTHENTICATION_CODES[int(row["authentication_type"])]
    return AuthenticationType(desc or "NONE")


def _user(db: _Db, row: Row, logins_by_sid: Mapping[str, str] | None) -> User:
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


def _principals(
    db: _Db, logins_by_sid: Mapping[str, str] | None, referenced: set[int]
) -> tuple[list[User], list[DatabaseRole], list[ApplicationRole]]:
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


def _memberships(db: _Db) -> list[Membership]:
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


def _securable(db: _Db, row: Row) -> _Resolved | str:
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


def _permissions(db: _Db) -> list[Permission]:
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


def _schemas(db: _Db) -> list[Schema]:
    found = []
    for sid, row in db.schemas.items():
        owner_id = row.get("principal_id")
        if _default_owner(sid) is not None and owner_id == _default_owner(sid):
            continue
        ref = db.ref("sys.schemas", f"schema_id={sid}")
        # not listed when its owner is unknown: the plan then takes dbo (an unlisted schema's
        # owner), and the skipped row says so
        owner: str | None = "dbo"
        if owner_id is not None:
            what = f"the owner of schema [{row['name']}]"
            owner = db.owner(ref, owner_id, what, "planned as owned by dbo")
        if owner is not None:
            found.append(Schema(name=row["name"], owner=owner, source_ref=ref))
    return found


#: Kinds that can carry EXECUTE AS (views and triggers cannot).
_EXECUTE_AS_KINDS = frozenset(
    {ObjectKind.PROCEDURE, ObjectKind.SCALAR_FUNCTION, ObjectKind.TABLE_FUNCTION}
)


def _execute_as(db: _Db, modules: Mapping[int, Row], row: Row, kind: ObjectKind) -> str | None:
    object_id = int(row["object_id"])
    module = modules.get(object_id)
    if module is None or kind not in _EXECUTE_AS_KINDS:
        return None
    pid = module.get("execute_as_principal_id")
    if pid is None:
        return "CALLER"
    # -2 = EXECUTE AS OWNER (catalog_views.json, sys.sql_modules.execute_as_principal_id)
    if int(pid) == -2:
        return "OWNER"
    ref = db.ref("sys.sql_modules", f"object_id={object_id}")
    what = f"the EXECUTE AS principal of [{db.schema_name(row['schema_id'])}].[{row['name']}]"
    return db.owner(ref, pid, what, "recorded without EXECUTE AS")


def _individual_owner(db: _Db, row: Row, ref: SourceRef) -> str | None:
    """sys.objects.principal_id / sys.types.principal_id: NULL = owned by the schema owner."""
    what = f"the owner of [{db.schema_name(row['schema_id'])}].[{row['name']}]"
    return db.owner(ref, row.get("principal_id"), what, "planned as owned by its schema's owner")


def _objects(db: _Db) -> list[DbObject]:
    modules = by_id(db.src.rows("sql_modules"), "object_id")
    found = []
    for oid, row in db.objects.items():
        kind = OBJECT_KINDS.get(str(row["type"]).strip())
        if kind is None:
            continue
        columns = tuple(
            str(c["name"])
            for c in sorted(db.columns.get(oid, []), key=lambda c: int(c["column_id"]))
        )
        module = modules.get(oid)
        ref = db.ref("sys.objects", f"object_id={oid}")
        found.append(
            DbObject(
                schema_name=db.schema_name(row["schema_id"]),
                name=row["name"],
                kind=kind,
                owner=_individual_owner(db, row, ref),
                columns=columns,
                execute_as=_execute_as(db, modules, row, kind),
                definition=as_str(module.get("definition")) if module else None,
                source_ref=ref,
            )
        )
    taken = {fold(o.schema_name) + "." + fold(o.name): o.kind for o in found}
    for tid, row in by_id(db.src.rows("types"), "user_type_id").items():
        ref = db.ref("sys.types", f"user_type_id={tid}")
        schema = db.schema_name(row["schema_id"])
        other = taken.get(fold(schema) + "." + fold(str(row["name"])))
        if other is not None:  # sys.types and sys.objects are apart in SQL Server only
            reason = TYPE_NAMED_LIKE_AN_OBJECT.format(kind=other.value)
            db.skip(ref, reason, text=f"TYPE [{schema}].[{row['name']}]")
            continue
        found.append(
            DbObject(
                schema_name=db.schema_name(row["schema_id"]),
                name=row["name"],
                kind=ObjectKind.TYPE,
                owner=_individual_owner(db, row, ref),
                source_ref=ref,
            )
        )
    return found


def _predicate(db: _Db, row: Row) -> SecurityPredicate | None:
    target = db.object_names(row["target_object_id"])
    if target is None:
        return None
    return SecurityPredicate(
        predicate_type=row["predicate_type_desc"],
        operation=as_str(row.get("operation_desc")) or None,
        target_schema=target[0],
        target_table=target[1],
        predicate_definition=row["predicate_definition"],
    )


def _policies(db: _Db) -> list[SecurityPolicy]:
    predicates: dict[int, list[SecurityPredicate]] = defaultdict(list)
    for row in db.src.rows("security_predicates"):
        predicate = _predicate(db, row)
        if predicate is None:  # a lost FILTER predicate would show every row: said, not dropped
            key = f"object_id={row['object_id']},target_object_id={row['target_object_id']}"
            db.skip(
                db.ref("sys.security_predicates", key),
                f"the predicate's table (object_id {row['target_object_id']}) was not found",
            )
            continue
        predicates[int(row["object_id"])].append(predicate)
    return [
        SecurityPolicy(
            schema_name=db.schema_name(row["schema_id"]),
            name=row["name"],
            enabled=as_bool(row.get("is_enabled")),
            predicates=tuple(predicates.get(oid, [])),
            source_ref=db.ref("sys.security_policies", f"object_id={oid}"),
        )
        for oid, row in by_id(db.src.rows("security_policies"), "object_id").items()
    ]


def _masked(db: _Db) -> list[MaskedColumn]:
    found = []
    for row in db.src.rows("masked_columns"):
        table = db.object_names(row["object_id"])
        key = f"object_id={row['object_id']},column_id={row['column_id']}"
        if not as_bool(row.get("is_masked", True)):
            continue
        if table is None:  # an unmasked column would show its data: said, not dropped
            reason = f"the masked column's table (object_id {row['object_id']}) was not found"
            db.skip(db.ref("sys.masked_columns", key), reason, text=str(row["name"]))
            continue
        found.append(
            MaskedColumn(
                schema_name=table[0],
                table_name=table[1],
                column_name=row["name"],
                masking_function=row["masking_function"],
                source_ref=db.ref("sys.masked_columns", key),
            )
        )
    return found


def audit_specifications(
    rows: list[Row], level: str, ref: Any, principal: Any
) -> list[AuditSpecification]:
    """Group audit specification rows (one per action) by specification."""
    specs: dict[str, list[Row]] = defaultdict(list)
    for row in rows:
        specs[str(row["name"])].append(row)
    return [
        AuditSpecification(
            name=name,
            level=level,
            audit_name=as_str(group[0].get("audit_name")),
            enabled=as_bool(group[0].get("is_state_enabled")),
            actions=tuple(
                AuditAction(
                    action=r["audit_action_name"],
                    securable_class=as_str(r.get("class_desc")),
                    principal=principal(r.get("audited_principal_id")),
                )
                for r in group
                if r.get("audit_action_name")
            ),
            source_ref=ref(name),
        )
        for name, group in specs.items()
    ]


def _referenced(db: _Db) -> set[int]:
    members = db.src.rows("database_role_members")
    ids = {int(r["role_principal_id"]) for r in members} | {
        int(r["member_principal_id"]) for r in members
    }
    return ids | {int(r["grantee_principal_id"]) for r in db.src.rows("database_permissions")}


def _guest_enabled(db: _Db) -> bool:
    return any(
        int(r["class"]) == 0 and int(r["grantee_principal_id"]) == GUEST_ID
        and r["permission_name"] == "CONNECT" and str(r["state"]).strip() in {"G", "W"}
        for r in db.src.rows("database_permissions")
    )  # fmt: skip


def convert_database(
    src: Source,
    row: Row,
    logins_by_sid: Mapping[str, str] | None,
    ref: SourceRef,
    skipped: list[Skipped],
) -> Database:
    """One database's rows (``src``) plus its ``sys.databases`` row → :class:`Database`.

    ``logins_by_sid`` is None when the server's logins were not read (Azure SQL Database):
    users then name no login and none is called orphaned. Rows that cannot be read are
    appended to ``skipped``.
    """
    db = _Db(src, skipped)
    users, roles, app_roles = _principals(db, logins_by_sid, _referenced(db))
    owner_sid = as_hex(row.get("owner_sid"))
    owner = logins_by_sid.get(owner_sid) if owner_sid and logins_by_sid is not None else None
    audits = audit_specifications(
        list(src.rows("database_audit_specifications")), "DATABASE",
        lambda name: db.ref("sys.database_audit_specifications", f"name={name}"), db.name,
    )  # fmt: skip
    return Database(
        name=row["name"],
        owner=owner,
        owner_sid=owner_sid,
        trustworthy=as_bool(row.get("is_trustworthy_on")),
        db_chaining=as_bool(row.get("is_db_chaining_on")),
        containment="PARTIAL" if int(row.get("containment") or 0) == 1 else "NONE",
        collation=as_str(row.get("collation_name")),
        state=as_str(row.get("state_desc")) or "ONLINE",
        guest_enabled=_guest_enabled(db),
        users=tuple(users),
        roles=tuple(roles),
        application_roles=tuple(app_roles),
        memberships=tuple(_memberships(db)),
        permissions=tuple(one_per_grantor_merged(_permissions(db))),
        schemas=tuple(_schemas(db)),
        objects=tuple(_objects(db)),
        security_policies=tuple(_policies(db)),
        masked_columns=tuple(_masked(db)),
        audit_specifications=tuple(audits),
        source_ref=ref,
    )
