"""Renaming a principal, and what follows it.

SQL Server keys memberships, permissions and ownership by ``principal_id``, so ``ALTER USER |
ROLE | APPLICATION ROLE | LOGIN | SERVER ROLE … WITH NAME = new`` keeps all of them: here every
reference to the old name (grantee, grantor, role or member, owner, a user's login, and the
principal as a securable, ``ON ROLE::old``) takes the new one.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from mssql_extract.snapshot import SourceRef, fold
from mssql_extract.tsql.state import DATABASE_PRINCIPALS, SERVER_PRINCIPALS, DbState, NamedState

if TYPE_CHECKING:
    from mssql_extract.tsql.replay import Builder

Memberships = dict[tuple[str, str], tuple[str, str, SourceRef]]


def _memberships(items: Memberships, key: str, new: str) -> Memberships:
    renamed: Memberships = {}
    for (role_key, member_key), (role, member, ref) in items.items():
        role = new if role_key == key else role
        member = new if member_key == key else member
        renamed[(fold(role), fold(member))] = (role, member, ref)
    return renamed


def _owners(states: list[NamedState], key: str, new: str) -> None:
    for state in states:
        if state.owner is not None and fold(state.owner) == key:
            state.owner = new


def rename_in_database(db: DbState, old: str, new: str) -> None:
    """A user, role or application role of ``db`` is now called ``new``."""
    key = fold(old)
    for table in (db.users, db.roles, db.app_roles):
        principal = table.pop(key, None)
        if principal is not None:
            principal.name = new
            table[fold(new)] = principal  # type: ignore[assignment]
    db.memberships = _memberships(db.memberships, key, new)
    db.perms.rename(key, new, DATABASE_PRINCIPALS)
    _owners([*db.roles.values(), *db.schemas.values()], key, new)
    for object_key, obj in db.objects.items():
        if obj.owner is not None and fold(obj.owner) == key:
            db.objects[object_key] = obj.model_copy(update={"owner": new})


def rename_on_server(builder: Builder, old: str, new: str) -> None:
    """A login or server role is now called ``new`` (users keep their names)."""
    key = fold(old)
    login = builder.logins.pop(key, None)
    if login is not None:
        login.name = new
        builder.logins[fold(new)] = login
    role = builder.server_roles.pop(key, None)
    if role is not None:
        role.name = new
        builder.server_roles[fold(new)] = role
    builder.server_memberships = _memberships(builder.server_memberships, key, new)
    builder.server_perms.rename(key, new, SERVER_PRINCIPALS)
    _owners(list(builder.server_roles.values()), key, new)
    for db in builder.databases.values():
        if db.owner is not None and fold(db.owner) == key:
            db.owner = new
        for user in db.users.values():
            if user.login is not None and fold(user.login) == key:
                user.login = new
