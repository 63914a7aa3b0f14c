"""A database's ``public``: PostgreSQL's PUBLIC, or a NOLOGIN ``<database>_public`` role.

SQL Server's public is per database; PostgreSQL's PUBLIC reaches every role. In database mode
``public`` stays PUBLIC only where CONNECT confines PUBLIC to the database's users: hardening
revokes PUBLIC's CONNECT there (:func:`public_keeps_connect`) and no DENY may take from what
public is granted (:func:`denied_against_public`). Otherwise, and always in schema mode,
:func:`plan_public` makes it a role of its own, held by every user and application role of its
database (:func:`join_public`), by its owner login (:mod:`mapper.translate.ownership`), by its
guest role and by the logins that enter it through CONNECT ANY DATABASE.
"""

from __future__ import annotations

from grantbridge.errors import GrantbridgeError
from mapper.effective import Securable
from mapper.plan import PgMembership, RoleKind
from mapper.translate.guest import guest_fact
from mapper.translate.state import SERVER, PlanState, fact_key
from mssql_extract.snapshot import Database, Login, Permission, PermissionState, fold


def denied_against_public(state: PlanState, db: Database) -> bool:
    """Whether the database grants public something and DENYs something to another principal
    (a DENY row, db_denydatareader / db_denydatawriter membership, or a server DENY covering a
    permission in databases, such as SELECT ALL USER SECURABLES).

    A DENY beats public's GRANT for its holder in SQL Server ("Permissions Hierarchy"), but no
    PostgreSQL role can be kept from what PUBLIC is granted, so such a database's public needs a
    role of its own, which DENY restructuring can take its holders off. The test is coarse on
    purpose (any DENY, any grant to public): a role where PUBLIC would have done is only less
    convenient, PUBLIC where a DENY applies is a widening.
    """
    grants_public = any(
        p.state != PermissionState.DENY and fold(p.grantee) == "public" for p in db.permissions
    )
    if not grants_public:
        return False
    return (
        any(p.state == PermissionState.DENY and fold(p.grantee) != "public" for p in db.permissions)
        or any(fold(m.role) in ("db_denydatareader", "db_denydatawriter") for m in db.memberships)
        or any(_reaches_databases(state, p) for p in state.snapshot.server_permissions)
    )


def _reaches_databases(state: PlanState, perm: Permission) -> bool:
    """Whether a server row is a DENY (to a principal other than public) that covers a
    permission inside databases."""
    if perm.state != PermissionState.DENY or fold(perm.grantee) == "public":
        return False
    try:
        covered = state.engine.covers(perm.securable_class, perm.permission)
    except GrantbridgeError:
        return False
    return any(cls == "DATABASE" for cls, _ in covered)  # and through it, what it contains


def public_keeps_connect(state: PlanState, db: Database) -> bool:
    """Whether PostgreSQL's PUBLIC keeps CONNECT on the database's target database: hardening
    is off (``[hardening] revoke_public_defaults = false``), or the source grants public
    CONNECT there, which hardening leaves on PUBLIC when public is PUBLIC
    (:func:`mapper.translate.hardening.plan_hardening`).

    Either way every login of the cluster may connect, where SQL Server lets in only the
    database's users (and guest, when enabled): a grant to PUBLIC would reach logins that
    cannot enter the source database at all.
    """
    if not state.policy.hardening.revoke_public_defaults:
        return True
    return any(
        fold(p.grantee) == "public" and p.securable_class == "DATABASE"
        and p.permission == "CONNECT" and p.state != PermissionState.DENY
        for p in db.permissions
    )  # fmt: skip


def public_role_reason(state: PlanState, db: Database) -> str:
    """Why the database's public is a role of its own, not PUBLIC (:func:`plan_public`), as a
    clause for the GB008 action."""
    if state.policy.database_mode == "schema":
        return (
            "in schema mode one PostgreSQL database holds every source database, and PUBLIC "
            "would reach their users too"
        )
    if public_keeps_connect(state, db):
        return (
            f"PUBLIC keeps CONNECT on [{db.name}]'s database ("
            + ("hardening is off" if not state.policy.hardening.revoke_public_defaults
               else "the source grants public CONNECT")
            + "), so PUBLIC would reach logins that have no user in it"
        )  # fmt: skip
    return (
        f"a DENY in [{db.name}] takes from what public is granted, and PostgreSQL cannot keep a "
        "role from what PUBLIC is granted"
    )


def plan_public(state: PlanState, db: Database) -> None:
    """The database's ``public`` → a NOLOGIN ``<database>_public`` role in schema mode, and in
    database mode when PUBLIC keeps CONNECT there (:func:`public_keeps_connect`) or a DENY may
    take from what public is granted (:func:`denied_against_public`).

    SQL Server's public is per database: its grants reach that database's users (and guest)
    only. PostgreSQL's PUBLIC reaches every role, which CONNECT confines to the database's users
    when each source database has a target database of its own and hardening revokes CONNECT
    from PUBLIC (database mode: public stays PUBLIC). Where PUBLIC keeps CONNECT every login
    may connect, and a grant to PUBLIC would reach logins without a user in the database. In
    schema mode one target database holds every source database and every user of any of them
    gets CONNECT on it, so a grant to PUBLIC would reach the users of the other databases.
    There public becomes a role named by the database-role template (collisions refused like
    any role name) held by every user and application role of its database
    (:func:`join_public`), by its guest role and by the logins that enter it through CONNECT
    ANY DATABASE; grants and DENYs to public then target it. Hardening still revokes
    PostgreSQL's defaults from PUBLIC itself.
    """
    if (
        state.policy.database_mode != "schema"
        and not public_keeps_connect(state, db)
        and not denied_against_public(state, db)
    ):
        return  # the planner bound public to PUBLIC
    name = state.names.database_principal(db.name, "public", "role", always_prefixed=True)
    spec = state.role(
        name, RoleKind.GROUP, source=f"role [{db.name}].[public]",
        comment=f"SQL Server's public of [{db.name}]: held by every user of that database",
    )  # fmt: skip
    spec.facts.add(fact_key(SERVER, db.key))
    state.bind(db.name, "public", name)
    guest = state.role_of(db.name, "guest")
    if guest is not None:  # logins entering as guest get public's permissions too
        membership = PgMembership(role=name, member=guest,
                                  comment="guest is a member of public")  # fmt: skip
        state.add(membership, guest_fact(db))
    for member, fact in _public_entrants(state, db):
        membership = PgMembership(role=name, member=member,
                                  comment="enters through CONNECT ANY DATABASE, as public")  # fmt: skip
        state.add(membership, fact)


def _public_entrants(state: PlanState, db: Database) -> list[tuple[str, str]]:
    """Roles (with a fact) of the migrated logins that enter the database with public's
    permissions while having no user there and not entering as guest: those holding CONNECT ANY
    DATABASE (sysadmin members enter as dbo instead). The fact is the CONNECT ANY DATABASE row,
    or the login's when a fixed server role grants it."""
    found = []
    users = {fold(u.login) for u in db.users if u.login}
    for login in state.snapshot.logins:
        role = state.role_of(SERVER, login.name)
        if role is None or fold(login.name) in users:
            continue
        grant = _enters_as_public(state, db, login)
        if grant is not None:
            source = grant if grant in state.snapshot.server_permissions else login
            found.append((role, fact_key(SERVER, source.key)))
    return found


def _enters_as_public(state: PlanState, db: Database, login: Login) -> Permission | None:
    """The CONNECT ANY DATABASE grant that lets a login without a user into the database with
    public's permissions (the engine's security context), or None."""
    engine = state.engine
    try:
        connects = engine.explain(None, login.name, Securable("SERVER"), "CONNECT ANY DATABASE")
        if not connects.allowed or engine.enters_as_guest(db.name, login.name):
            return None
        public = "public" in {fold(r) for r in engine.memberships(db.name, login.name)}
    except GrantbridgeError:
        return None
    return connects.grant if public else None


def join_public(state: PlanState, db: Database, member: str, fact: str) -> list[str]:
    """A user's or application role's membership in its database's public role (:func:`plan_public`)."""
    public = state.role_of(db.name, "public")
    if public is None or public == "PUBLIC" or public == member:
        return []
    membership = PgMembership(role=public, member=member,
                              comment=f"every user of [{db.name}] is a member of public")  # fmt: skip
    key, _ = state.add(membership, fact)
    return [key]
