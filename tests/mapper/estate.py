"""Small hand-built snapshots for the planner tests (the T-SQL parser is tested elsewhere)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mapper.policy import parse_policy
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
    SourceRef,
    User,
    UserType,
)

if TYPE_CHECKING:
    from mapper.plan import Disposition, MigrationPlan

REF = SourceRef(origin="test.sql", line=1)
#: Ownership carried faithfully (GB016's faithful mode) instead of downscoped.
FAITHFUL_OWNERS = parse_policy('[overgrants]\nmodes = {GB016 = "faithful"}\n')


def login(name: str, kind: LoginType = LoginType.SQL, **extra: Any) -> Login:
    return Login(name=name, type=kind, source_ref=REF, has_password=kind == LoginType.SQL, **extra)


def user(name: str, login_name: str | None = None, **extra: Any) -> User:
    auth = AuthenticationType.INSTANCE if login_name else AuthenticationType.NONE
    return User(name=name, type=UserType.SQL, authentication_type=auth, login=login_name,
                source_ref=REF, **extra)  # fmt: skip


def role(name: str, fixed: bool = False) -> DatabaseRole:
    return DatabaseRole(name=name, is_fixed=fixed, source_ref=REF)


def member(role_name: str, member_name: str) -> Membership:
    return Membership(role=role_name, member=member_name, source_ref=REF)


def perm(permission: str, grantee: str, securable_class: str = "OBJECT", state: str = "G",
         **names: Any) -> Permission:  # fmt: skip
    return Permission(securable_class=securable_class, permission=permission,  # type: ignore[arg-type]
                      state=PermissionState(state), grantee=grantee, source_ref=REF, **names)  # fmt: skip


def table(schema: str, name: str, *columns: str, kind: ObjectKind = ObjectKind.TABLE) -> DbObject:
    return DbObject(schema_name=schema, name=name, kind=kind, columns=columns, source_ref=REF)


def database(name: str = "Sales", **fields: Any) -> Database:
    base: dict[str, Any] = {
        "schemas": (Schema(name="dbo", owner="dbo", source_ref=REF),),
        "objects": (table("dbo", "Orders", "id", "total"), table("dbo", "Customers", "id", "name"),
                    table("dbo", "usp_Report", kind=ObjectKind.PROCEDURE)),
    }  # fmt: skip
    return Database(name=name, source_ref=REF, **(base | fields))


def snapshot(
    *databases: Database, logins: tuple[Login, ...] = (), **fields: Any
) -> SecuritySnapshot:
    return SecuritySnapshot(server=Server(name="SQL01"), logins=logins,
                            databases=databases or (database(),), **fields)  # fmt: skip


def reach(plan: MigrationPlan, member: str) -> set[str]:
    """The member and every role it inherits from in a plan, through any chain."""
    seen, todo = {member}, [member]
    while todo:
        current = todo.pop()
        for m in plan.memberships:
            if m.member == current and m.inherit and m.role not in seen:
                seen.add(m.role)
                todo.append(m.role)
    return seen


def disposition_of(plan: MigrationPlan, fact: str) -> tuple[Disposition, str]:
    """The disposition of one source fact in a plan, with its reason."""
    [found] = [d for d in plan.dispositions if d.fact == fact]
    return found.disposition, found.reason


def rules_of(plan: MigrationPlan, principal: str) -> set[tuple[str, str | None]]:
    """The (rule, securable) of each finding of a plan about one principal."""
    return {(f.rule_id, f.securable) for f in plan.findings if f.principal == principal}
