"""Windows principals whose type the source could not state (DESIGN §3.3, "Authentication").

``CREATE LOGIN [DOMAIN\\x] FROM WINDOWS`` reads the same for a Windows user and a Windows group
(SSMS, sp_help_revlogin and dbatools all write it so), and a dacpac's ``SqlLogin`` only says
``MappedToWindowsLogin``. Such logins, and the users mapped to them, reach the snapshot as Windows
users with ``type_inferred``. The policy's ``authentication.windows_groups`` names the groups;
:func:`classify_windows_groups` makes them WINDOWS_GROUP before planning, so the usual group
mapping follows (``ad_group`` by default, finding GB032). An inferred login the policy leaves a
user gets GB034 (``mapper.translate.principals``). Types read from a catalog are never changed.
"""

from __future__ import annotations

from mapper.policy import Authentication, Policy
from mssql_extract.snapshot import (
    Database,
    Login,
    LoginType,
    SecuritySnapshot,
    User,
    UserType,
    fold,
)


def classify_windows_groups(snapshot: SecuritySnapshot, policy: Policy) -> SecuritySnapshot:
    """The snapshot with the inferred Windows logins and users the policy declares groups as
    WINDOWS_GROUP (the same snapshot object when there are none)."""
    auth = policy.authentication
    if not auth.windows_groups:
        return snapshot
    groups = {fold(lg.name) for lg in snapshot.logins if _declared(auth, lg)}
    known = {fold(lg.name) for lg in snapshot.logins}
    databases = tuple(_database(db, auth, groups, known) for db in snapshot.databases)
    unchanged = all(new is old for new, old in zip(databases, snapshot.databases, strict=True))
    if not groups and unchanged:
        return snapshot
    logins = tuple(
        lg.model_copy(update={"type": LoginType.WINDOWS_GROUP}) if fold(lg.name) in groups else lg
        for lg in snapshot.logins
    )
    return snapshot.model_copy(update={"logins": logins, "databases": databases})


def _declared(auth: Authentication, login: Login) -> bool:
    return (
        login.type_inferred
        and login.type == LoginType.WINDOWS_USER
        and auth.is_windows_group(login.name)
    )


def _database(db: Database, auth: Authentication, groups: set[str], known: set[str]) -> Database:
    """The database with the users of group logins (or, without a login in the snapshot,
    declared groups) as WINDOWS_GROUP users."""
    grouped = [_group_user(u, auth, groups, known) for u in db.users]
    if not any(grouped):
        return db
    users = tuple(
        u.model_copy(update={"type": UserType.WINDOWS_GROUP}) if group else u
        for u, group in zip(db.users, grouped, strict=True)
    )
    return db.model_copy(update={"users": users})


def _group_user(user: User, auth: Authentication, groups: set[str], known: set[str]) -> bool:
    if not user.type_inferred or user.type != UserType.WINDOWS_USER:
        return False
    if user.login and fold(user.login) in known:  # a user follows its login
        return fold(user.login) in groups
    # no login in the snapshot (a database dacpac holds none): the policy names the group
    return auth.is_windows_group(user.login or user.name)
