"""An enabled guest → a NOLOGIN ``<database>_guest`` role, not PUBLIC (finding GB009).

In SQL Server, guest lets a login that has no user in a database in, with guest's permissions
(and public's), once guest holds CONNECT; a login with a user there, the database owner and
sysadmin members never get guest's permissions ("guest-permissions-on-user-databases"). PUBLIC
would reach every role, so guest becomes a NOLOGIN role named by the database-role template
(``{database}_guest``, collisions refused like any role name) holding guest's grants and
CONNECT, granted to every migrated login that enters the database as guest
(:meth:`~mapper.effective.EffectivePermissions.enters_as_guest`). A login created later in
PostgreSQL is not a member until it is granted the role: GB009 says so.
"""

from __future__ import annotations

from grantbridge.plural import plural
from mapper import findings
from mapper.plan import PgGrant, PgMembership, RoleKind
from mapper.quoting import quote_ident
from mapper.translate.state import SERVER, PlanState, fact_key
from mssql_extract.snapshot import Database, PermissionState, fold


def guest_fact(db: Database) -> str:
    """The fact that enables guest: its CONNECT grant (else the database itself)."""
    connect = next(
        (p for p in db.permissions
         if fold(p.grantee) == "guest" and p.securable_class == "DATABASE"
         and p.permission == "CONNECT" and p.state != PermissionState.DENY),
        None,
    )  # fmt: skip
    return fact_key(db.name, connect.key) if connect else fact_key(SERVER, db.key)


def plan_guest(state: PlanState, db: Database) -> None:
    """The guest role of a database where guest is enabled, and its login members."""
    if not db.guest_enabled:
        return
    fact = guest_fact(db)
    name = state.names.database_principal(db.name, "guest", "guest", always_prefixed=True)
    spec = state.role(
        name, RoleKind.GROUP, source=f"guest [{db.name}]",
        comment="SQL Server's guest: granted to the logins without a user in the database",
    )  # fmt: skip
    spec.facts.add(fact)
    state.bind(db.name, "guest", name)
    if fact == fact_key(SERVER, db.key):  # no CONNECT row to map: guest is enabled, so grant it
        target = state.target_db(db)
        state.add(PgGrant(database=target, object_type="DATABASE", name=target,
                          privilege="CONNECT", grantee=name), fact)  # fmt: skip
    for member in guest_members(state, db):
        state.add(PgMembership(role=name, member=member,
                               comment="enters as guest: no user in the database"), fact)  # fmt: skip


def guest_members(state: PlanState, db: Database) -> list[str]:
    """Roles of the migrated logins that enter the database as guest, sorted."""
    members = set()
    for login in state.snapshot.logins:
        role = state.role_of(SERVER, login.name)
        if role is not None and state.engine.enters_as_guest(db.name, login.name):
            members.add(role)
    return sorted(members)


def guest_finding(
    state: PlanState, db: Database, evidence: str, ref: str, securable: str, *,
    action: str | None = None,
) -> str:  # fmt: skip
    """GB009: what guest became and that later logins need the membership (``action``: what
    the plan did instead, when the row granted nothing new)."""
    role = state.role_of(db.name, "guest")
    count = len(guest_members(state, db))
    action = action or (
        f"Granted to {role!r}, a NOLOGIN role held by the {plural(count, 'login')} that "
        f"{'enters' if count == 1 else 'enter'} "
        f"[{db.name}] as guest (no user there); a login created later in PostgreSQL needs "
        f"GRANT {quote_ident(role or 'guest')} TO <login> to get guest's access."
    )
    finding = findings.make(
        "GB009", evidence, action, principal="guest", securable=securable, source_ref=ref
    )
    return state.finding(finding)
