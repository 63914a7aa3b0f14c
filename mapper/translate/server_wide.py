"""Server-wide permissions → grants in every database a login may enter.

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
from dataclasses import dataclass

from grantbridge.errors import GrantbridgeError
from mapper import findings
from mapper.effective import Securable
from mapper.plan import Disposition, Finding, PgGrant, PgMembership
from mapper.privileges import lookup
from mapper.translate.fixed import WIDE_PERMISSIONS, fixed_role, member_of, split_server_role
from mapper.translate.items import Item
from mapper.translate.state import SERVER, PlanState, fact_key
from mssql_extract.snapshot import Database, ObjectKind, PermissionState, fold


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


@dataclass(frozen=True)
class WideGrant:
    """A server-wide permission to complete with grants in each database entered: a GRANT row,
    or a fixed server role's permission held by a member (``partial``: the role has others that
    map to nothing, so the membership stays ``approximated`` whatever this one gives)."""

    fact: str
    principal: str  # the grantee or the member (source name), for the engine and the finding
    role: str  # its PostgreSQL role
    permission: str
    evidence: str
    securable: str  # of the finding: "SERVER", or "role <fixed role>"
    partial: bool = False

    @property
    def of_role(self) -> bool:
        """A fixed server role's permission (the fact is the membership)."""
        return self.securable != "SERVER"


#: A handler: (items, what the plan did, whether it grants less than SQL Server allows).
Wide = Callable[[PlanState, WideGrant], tuple[list[Item], str, bool]]


def plan_server_wide(state: PlanState) -> None:
    """CONNECT ANY DATABASE and SELECT ALL USER SECURABLES → grants in each database entered.

    Their facts (GRANT rows, fixed server role memberships) were disposed by the permission and
    membership passes, which grant nothing for them (a server row has no database to expand
    into); this replaces those dispositions. It runs once every CONNECT and DENY restructuring
    is planned, so it asks the engine about DENYs itself.
    """
    for perm in state.snapshot.server_permissions:
        role = state.role_of(SERVER, perm.grantee)
        if (
            perm.permission not in WIDE_PERMISSIONS
            or role is None
            or perm.state == PermissionState.DENY
        ):
            continue
        fact = fact_key(SERVER, perm.key)
        if fact in state.dispositions and _holds(state, perm.grantee, perm.permission):
            evidence = f"{perm.permission} ON SERVER TO [{perm.grantee}]"
            _complete(state, WideGrant(fact, perm.grantee, role, perm.permission, evidence,
                                       "SERVER"))  # fmt: skip
    for member in state.snapshot.server_memberships:
        role = state.role_of(SERVER, member.member)
        fact = fact_key(SERVER, member.key)
        if role is None or fact not in state.dispositions:
            continue
        held = split_server_role(state, member)
        for permission in () if held.overgrants else held.wide:
            _complete(state, WideGrant(fact, member.member, role, permission, member_of(member),
                                       f"role {member.role}", bool(held.left_out)))  # fmt: skip


def _holds(state: PlanState, principal: str, permission: str) -> bool:
    """False when a DENY overrides the grant in SQL Server (the permission pass said so)."""
    return state.engine.allows(None, principal, Securable("SERVER"), permission)


def _complete(state: PlanState, grant: WideGrant) -> None:
    items, action, narrowed = _WIDE[grant.permission](state, grant)
    if grant.of_role:  # say which of the role's permissions this is
        action = f"{grant.permission}: {action}"
    note = lookup("SERVER", grant.permission).note
    _dispose(state, grant, items, action, replaces=note, narrowed=narrowed or grant.partial)


def _connect_anywhere(state: PlanState, grant: WideGrant) -> tuple[list[Item], str, bool]:
    databases = entered(state, grant.principal)
    logins = server_logins(state, grant.principal)
    # a server role's members that a DENY keeps out of a database keep its CONNECT out of it
    withheld = [db for db in state.snapshot.databases if db not in databases
                and any(_enters(state, db, lg) for lg in logins)]  # fmt: skip
    action = (
        f"CONNECT on {named(databases, state)}, each migrated database SQL Server lets it into; "
        "a database created later needs its own GRANT CONNECT."
        if databases
        else "Nothing granted: SQL Server lets it into no migrated database (DENY CONNECT)."
    )
    if withheld:
        action = (
            (action if databases else "Nothing granted.") + f" Not granted on "
            f"{named(withheld, state)}: a DENY keeps some of its members out, and the role's "
            "CONNECT would let them in; grant CONNECT there to the members SQL Server lets in."
        )
    return connect_grants(state, databases, grant.role), action, bool(withheld)


def _read_anywhere(state: PlanState, grant: WideGrant) -> tuple[list[Item], str, bool]:
    databases = entered(state, grant.principal)
    logins = server_logins(state, grant.principal)
    readable = [db for db in databases if not any(_contested(state, db, lg) for lg in logins)]
    readers = sorted({r for db in readable if (r := _reader(state, db, grant.fact))})
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
    items: list[Item] = [
        PgMembership(role=r, member=grant.role) for r in readers if r != grant.role
    ]
    return items, action, bool(contested)


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
    return not all(
        state.engine.allows(db.name, login, securable, "SELECT") for securable in _readable(db)
    )


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
    state: PlanState, grant: WideGrant, items: list[Item], action: str,
    *, replaces: str = "", narrowed: bool = False,
) -> None:  # fmt: skip
    """Replace the fact's disposition: approximated with the items and GB040 saying what the
    plan did, or not applicable when SQL Server gives nothing either. ``replaces``: the mapping
    row's note, the text of a GB040 the permission or membership pass made for the fact
    (rewritten); ``narrowed``: the plan grants less than SQL Server allows (approximated, with
    GB040, even without items)."""
    old = state.dispositions.pop(grant.fact)
    found = list(old.findings)
    placeholder = any(state.findings[k].action == replaces for k in found)
    if items or narrowed or placeholder:
        finding = findings.make("GB040", grant.evidence, action, principal=grant.principal,
                                securable=grant.securable, source_ref=old.source_ref)  # fmt: skip
        found.append(_say(state, finding, replaces))
    keys, _ = state.add_all(items, grant.fact)
    keys += [*old.items, *_held(state, grant.fact, grant.role)]
    approximated = keys or narrowed
    disposition = Disposition.APPROXIMATED if approximated else Disposition.NOT_APPLICABLE
    # a membership's reason says what its other permissions gave; a GRANT row's is the placeholder
    reason = " ".join(r for r in (old.reason, action) if r) if grant.of_role else action
    state.dispose(grant.fact, old.kind, old.source_ref, disposition, items=keys, findings=found,
                  reason=reason)  # fmt: skip


def _held(state: PlanState, fact: str, role: str) -> list[str]:
    """The memberships of ``role`` the fact gave before (schema mode's ``<db>_public``)."""
    return [key for key in state.by_member.get(role, {}) if fact in state.facts_in(key)]


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
