"""Fixed database roles → per-database NOLOGIN roles with the equivalent explicit grants.

``db_datareader`` becomes ``<database>_db_datareader`` holding SELECT on every table, view and
sequence plus default privileges, so the plan says exactly what the role contains (fixed role
permissions: mapper/data/fixed_database_roles.csv, "Database-level roles"). db_owner and the
administration roles are over-grants (:mod:`mapper.translate.overgrants`); the deny roles are
DENYs (:mod:`mapper.translate.deny`).

Two server permissions stand for grants in every database a login may enter (``_EXTRA_PARENTS``
in :mod:`mapper.permissions`; "GRANT Server Permissions (Transact-SQL)"): CONNECT ANY DATABASE
lets it connect to each, and SELECT ALL USER SECURABLES lets it read all data in the databases
it can connect to. :func:`plan_server_wide` gives the first CONNECT and makes the second a
member of each database's ``<database>_db_datareader`` role, never ``pg_read_all_data``
(PostgreSQL 14+ only, and cluster-wide: reference/mssql/pg_predefined_roles.csv). Both are
``approximated`` (GB040): a database created later is not covered.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping

from grantbridge.errors import GrantbridgeError
from mapper import findings
from mapper.effective import Securable
from mapper.plan import Disposition, Finding, PgGrant, PgMembership, RoleKind
from mapper.privileges import lookup
from mapper.translate.grants import Target, expand
from mapper.translate.state import SERVER, Item, PlanState, fact_key
from mssql_extract.snapshot import Database, ObjectKind, Permission, PermissionState, fold

#: Fixed role → the DATABASE-level permissions it stands for (db_datareader = SELECT on the
#: database, db_datawriter = INSERT, UPDATE, DELETE on the database: fixed_database_roles.csv).
EQUIVALENT: Mapping[str, tuple[str, ...]] = {
    "db_datareader": ("SELECT",),
    "db_datawriter": ("INSERT", "UPDATE", "DELETE"),
    # downscoped db_owner: DML, sequences and EXECUTE; no DDL, ownership or role administration
    "db_owner": ("SELECT", "INSERT", "UPDATE", "DELETE", "EXECUTE"),
}
DENY_ROLES: Mapping[str, tuple[str, ...]] = {
    "db_denydatareader": ("SELECT",),
    "db_denydatawriter": ("INSERT", "UPDATE", "DELETE"),
}
OVERGRANT_ROLES: Mapping[str, str] = {
    "db_owner": "GB001",
    "db_securityadmin": "GB005",
    "db_accessadmin": "GB005",
    "db_ddladmin": "GB043",
    "db_backupoperator": "GB043",
}


def fixed_role(state: PlanState, db: Database, role: str, fact: str) -> str | None:
    """The NOLOGIN role standing for a fixed role with explicit grants, made on first use."""
    permissions = EQUIVALENT.get(fold(role))
    if permissions is None:
        return None
    existing = state.role_of(db.name, role)
    if existing is not None:
        return existing
    name = state.names.database_principal(db.name, fold(role), "fixed role", always_prefixed=True)
    comment = f"{role} equivalent: {', '.join(permissions)} on every object of the database"
    if fold(role) == "db_owner":
        comment = "db_owner downscoped: " + comment + "; no DDL, ownership or role administration"
    state.role(name, RoleKind.GROUP, source=f"fixed role [{db.name}].[{role}]", comment=comment)
    state.roles[name].facts.add(fact)
    state.bind(db.name, role, name)
    for permission in permissions:
        items = expand(state, db, name, Target("DATABASE"), lookup("DATABASE", permission)) or []
        state.add_all(items, fact)
    return name


# ---------------------------------------------------------------- access in every database


def server_logins(state: PlanState, principal: str) -> list[str]:
    """The migrated logins a server principal's grant reaches: itself when it is a login, else
    the logins that are members of the server role (transitively), sorted."""
    logins = {fold(login.name): login.name for login in state.snapshot.logins}
    if fold(principal) in logins:
        return [logins[fold(principal)]]
    found, todo = set(), [fold(principal)]
    while todo:
        role = todo.pop()
        for m in state.snapshot.server_memberships:
            if fold(m.role) == role and fold(m.member) not in found:
                found.add(fold(m.member))
                todo.append(fold(m.member))
    return sorted(logins[n] for n in found if n in logins and state.role_of(SERVER, n))


def entered(state: PlanState, principal: str) -> list[Database]:
    """The databases SQL Server lets a server principal into (asked of the engine): for a
    server role, those every member login enters (a member's DENY CONNECT keeps the role's
    CONNECT out of that database rather than letting the member in)."""
    logins = server_logins(state, principal)
    return [db for db in state.snapshot.databases if all(_enters(state, db, lg) for lg in logins)]


def _enters(state: PlanState, db: Database, login: str) -> bool:
    """May ``login`` connect to ``db``? The engine's answer, except that a mapped user of the
    login enters unless denied CONNECT: CREATE USER grants CONNECT without a GRANT statement, so
    a snapshot read from scripts has no CONNECT row for it, and the plan gives every mapped user
    CONNECT (:func:`mapper.translate.principals.plan_users`)."""
    try:
        decision = state.engine.explain(db.name, login, Securable("DATABASE"), "CONNECT")
    except GrantbridgeError:
        return False  # the engine does not know the principal there: fail closed
    if decision.allowed or decision.deny is not None:
        return decision.allowed
    return any(
        fold(user.login or "") == fold(login) and state.role_of(db.name, user.name) is not None
        for user in db.users
    )


def connect_grants(state: PlanState, databases: list[Database], role: str) -> list[Item]:
    """CONNECT on each of ``databases`` (their target databases) for ``role``."""
    names = sorted({state.target_db(db) for db in databases})
    return [PgGrant(database=n, object_type="DATABASE", name=n, privilege="CONNECT", grantee=role)
            for n in names]  # fmt: skip


def named(databases: list[Database], state: PlanState) -> str:
    """The target databases, comma-separated (``nothing`` for none)."""
    return ", ".join(sorted({state.target_db(db) for db in databases})) or "nothing"


def _allowed(
    state: PlanState, db: Database, login: str, securable: Securable, permission: str
) -> bool:
    try:
        return state.engine.explain(db.name, login, securable, permission).allowed
    except GrantbridgeError:
        return False  # the engine does not know the principal there: fail closed


Wide = Callable[[PlanState, Permission, str, str], None]


def plan_server_wide(state: PlanState) -> None:
    """CONNECT ANY DATABASE and SELECT ALL USER SECURABLES → grants in each database entered.

    Their facts were disposed by the permission pass, which grants nothing for them (a server
    row has no database to expand into); this replaces those dispositions. It runs once every
    CONNECT and DENY restructuring is planned, so it asks the engine about DENYs itself.
    """
    for perm in state.snapshot.server_permissions:
        handler = _WIDE.get(perm.permission)
        role = state.role_of(SERVER, perm.grantee)
        if handler is None or role is None or perm.state == PermissionState.DENY:
            continue
        fact = fact_key(SERVER, perm.key)
        if fact in state.dispositions and _holds(state, perm):
            handler(state, perm, role, fact)


def _holds(state: PlanState, perm: Permission) -> bool:
    """False when a DENY overrides the grant in SQL Server (the permission pass said so)."""
    try:
        return state.engine.explain(
            None, perm.grantee, Securable("SERVER"), perm.permission
        ).allowed
    except GrantbridgeError:
        return False


def _connect_anywhere(state: PlanState, perm: Permission, role: str, fact: str) -> None:
    databases = entered(state, perm.grantee)
    action = (
        f"CONNECT on {named(databases, state)}, each migrated database SQL Server lets it into; "
        "a database created later needs its own GRANT CONNECT."
        if databases
        else "Nothing granted: SQL Server lets it into no migrated database (DENY CONNECT)."
    )
    items = connect_grants(state, databases, role)
    _dispose(
        state, perm, role, fact, items, action, replaces=lookup("SERVER", perm.permission).note
    )


def _read_anywhere(state: PlanState, perm: Permission, role: str, fact: str) -> None:
    databases = entered(state, perm.grantee)
    logins = server_logins(state, perm.grantee)
    readable = [db for db in databases if not any(_contested(state, db, lg) for lg in logins)]
    readers = sorted({r for db in readable if (r := _reader(state, db, fact))})
    contested = [db for db in databases if db not in readable]
    said = [
        f"Made a member of {', '.join(readers)}: SELECT on every table, view and sequence of "
        "each migrated database it may enter; a database created later is not covered."
    ] if readers else []  # fmt: skip
    if contested:
        said.append(
            f"Nothing granted in {named(contested, state)}: DENYs there take SELECT away on "
            "some objects; grant what SQL Server allows there by hand."
        )
    action = " ".join(said) or "Nothing granted: SQL Server lets it into no migrated database."
    items: list[Item] = [PgMembership(role=r, member=role) for r in readers if r != role]
    note = lookup("SERVER", perm.permission).note
    _dispose(state, perm, role, fact, items, action, replaces=note, narrowed=bool(contested))


def _reader(state: PlanState, db: Database, fact: str) -> str | None:
    """The database's db_datareader role; made now, it gets its USAGE here (the planner's
    USAGE pass has run)."""
    made = state.role_of(db.name, "db_datareader") is None
    reader = fixed_role(state, db, "db_datareader", fact)
    if made and reader is not None:
        schema_usage(state, reader)
    return reader


def _contested(state: PlanState, db: Database, login: str) -> bool:
    """Does a DENY take SELECT from ``login`` on anything db_datareader reads in ``db``?"""
    return not all(_allowed(state, db, login, securable, "SELECT") for securable in _readable(db))


def _readable(db: Database) -> Iterator[Securable]:
    """The securables db_datareader's SELECT reaches, and each column a DENY names."""
    for obj in db.objects:
        if obj.kind in _READ_KINDS:
            yield Securable("OBJECT", obj.schema_name, obj.name)
    for perm in db.permissions:
        if perm.state == PermissionState.DENY and perm.column_name and perm.object_name:
            yield Securable.of(perm)


_READ_KINDS = frozenset({ObjectKind.TABLE, ObjectKind.VIEW, ObjectKind.SEQUENCE,
                         ObjectKind.TABLE_FUNCTION})  # fmt: skip


def schema_usage(state: PlanState, role: str) -> None:
    """USAGE on each schema ``role`` is granted objects in (what
    :func:`~mapper.translate.grants.plan_schema_usage` gives, for a role made after it ran)."""
    for key, item in state.granted_to(role):
        if item.schema_name and item.object_type != "SCHEMA":
            usage = PgGrant(database=item.database, object_type="SCHEMA", name=item.schema_name,
                            privilege="USAGE", grantee=role,
                            comment="PostgreSQL needs USAGE on the schema to reach its objects")  # fmt: skip
            for fact in state.facts_of(key):
                state.add(usage, fact)


def _dispose(
    state: PlanState, perm: Permission, role: str, fact: str, items: list[Item], action: str,
    *, replaces: str = "", narrowed: bool = False,
) -> None:  # fmt: skip
    """Replace the fact's disposition: approximated with the items and GB040 saying what the
    plan did, or not applicable when SQL Server gives nothing either. ``replaces``: the mapping
    row's note, the text of a GB040 the permission pass may have made for the fact (rewritten);
    ``narrowed``: the plan grants less than SQL Server allows (approximated, with GB040, even
    without items)."""
    old = state.dispositions.pop(fact)
    found = list(old.findings)
    placeholder = any(state.findings[k].action == replaces for k in found)
    if items or narrowed or placeholder:
        evidence = f"{perm.permission} ON SERVER TO [{perm.grantee}]"
        finding = findings.make("GB040", evidence, action, principal=perm.grantee,
                                securable="SERVER", source_ref=old.source_ref)  # fmt: skip
        found.append(_say(state, finding, replaces))
    keys, _ = state.add_all(items, fact)
    keys += [*old.items, *_held(state, fact, role)]
    approximated = keys or narrowed
    disposition = Disposition.APPROXIMATED if approximated else Disposition.NOT_APPLICABLE
    state.dispose(fact, old.kind, old.source_ref, disposition, items=keys, findings=found,
                  reason=action)  # fmt: skip


def _held(state: PlanState, fact: str, role: str) -> list[str]:
    """The memberships of ``role`` the fact gave before (schema mode's ``<db>_public``)."""
    return [key for key in state.by_member.get(role, {}) if fact in state.item_facts[key]]


def _say(state: PlanState, finding: Finding, replaces: str) -> str:
    """Record a finding. A statement granting both permissions gives both facts one finding
    key: its texts are joined, without ``replaces`` (the permission pass's placeholder)."""
    existing = state.findings.get(finding.key)
    if existing is None:
        return state.finding(finding)
    actions = dict.fromkeys(a for a in (existing.action, finding.action) if a != replaces)
    evidence = dict.fromkeys((existing.evidence, finding.evidence))
    state.findings[finding.key] = existing.model_copy(
        update={"action": " ".join(actions), "evidence": "; ".join(evidence)}
    )
    return finding.key


_WIDE: Mapping[str, Wide] = {
    "CONNECT ANY DATABASE": _connect_anywhere,
    "SELECT ALL USER SECURABLES": _read_anywhere,
}
