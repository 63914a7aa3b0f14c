"""Fixed database roles → per-database NOLOGIN roles with the equivalent explicit grants.

``db_datareader`` becomes ``<database>_db_datareader`` holding SELECT on every table, view and
sequence plus default privileges, so the plan says exactly what the role contains (fixed role
permissions: mapper/data/fixed_database_roles.csv, "Database-level roles"). db_owner and the
administration roles are over-grants (:mod:`mapper.translate.overgrants`); the deny roles are
DENYs (:mod:`mapper.translate.deny`).

A member of a fixed server role gets what the role's permissions (mapper/data/fixed_server_roles.csv:
"Permissions of Fixed Server Roles" and the SQL Server 2022 ``##MS_…##`` roles of "Server-level
roles") map to when granted directly (:mod:`mapper.privileges`, SERVER rows), with the same
dispositions and findings: processadmin's ALTER ANY CONNECTION → ``pg_signal_backend``,
dbcreator's CREATE ANY DATABASE → CREATEDB, ``##MS_ServerStateReader##``'s VIEW SERVER STATE →
``pg_read_all_stats``, ``##MS_DatabaseConnector##``'s CONNECT ANY DATABASE → CONNECT on each
database entered (GB040, :mod:`mapper.translate.server_wide`). What maps to nothing is listed
in a GB043 finding; what PostgreSQL gives every role already (reading its catalogs:
``##MS_DefinitionReader##``) needs nothing and is ``not_applicable``. Roles holding an
over-granting permission (sysadmin, securityadmin, ``##MS_LoginManager##``) take the over-grant
rules instead (:mod:`mapper.translate.memberships`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields

from grantbridge.errors import GrantbridgeError
from mapper import findings
from mapper.effective import Securable
from mapper.fixed_roles import server_role_permissions
from mapper.plan import Disposition, RoleKind
from mapper.privileges import PrivilegeRow, lookup
from mapper.translate.grants import Target, expand
from mapper.translate.state import PlanState
from mssql_extract.snapshot import Database, Membership, fold

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


# ---------------------------------------------------------------- fixed server roles


@dataclass(frozen=True)
class ServerRoleHeld:
    """A fixed server role's permissions for one member, by what each becomes granted directly."""

    overgrants: tuple[str, ...]  # CONTROL SERVER, ALTER ANY LOGIN: the over-grant rules decide
    granted: tuple[str, ...]  # a predefined role or a role attribute
    wide: tuple[str, ...]  # grants in each database entered (:func:`plan_server_wide`)
    left_out: tuple[str, ...]  # nothing in PostgreSQL (GB043)
    everyone: tuple[str, ...]  # PostgreSQL gives every role this already: nothing lost
    overridden: tuple[str, ...]  # a DENY refuses them to the member in SQL Server


#: Server permissions that stand for grants in every database a login may enter, completed by
#: :func:`mapper.translate.server_wide.plan_server_wide` once DENYs are restructured.
WIDE_PERMISSIONS = frozenset({"CONNECT ANY DATABASE", "SELECT ALL USER SECURABLES"})


def split_server_role(state: PlanState, member: Membership) -> ServerRoleHeld:
    """Sort the role's permissions (fixed_server_roles.csv, via :mod:`mapper.fixed_roles`) by
    their mapping row, as :func:`mapper.translate.permissions.plan_permissions` does a GRANT
    row's; a permission a DENY overrides for the member gives nothing, as a GRANT row's."""
    parts: dict[str, list[str]] = {f.name: [] for f in fields(ServerRoleHeld)}
    for permission in server_role_permissions(member.role):
        row = lookup("SERVER", permission)
        if row.outcome == "overgrant":
            part = "overgrants"
        elif _refused(state, member.member, permission):
            part = "overridden"
        elif permission in WIDE_PERMISSIONS:
            part = "wide"
        else:
            part = "granted" if row.role or row.attribute else "left_out"
            part = "everyone" if row.everyone else part
        parts[part].append(permission)
    return ServerRoleHeld(**{k: tuple(v) for k, v in parts.items()})


def _refused(state: PlanState, principal: str, permission: str) -> str | None:
    try:
        decision = state.engine.refusal(None, principal, Securable("SERVER"), permission)
    except GrantbridgeError:
        return None
    return None if decision is None else decision.reason


def server_row_items(
    state: PlanState, role: str, row: PrivilegeRow, fact: str
) -> tuple[list[str], bool]:
    """Plan a SERVER row's predefined role or role attribute for ``role``: the keys its fact
    points at (``role:<role>`` for an attribute, which is no plan item of its own) and whether
    any is new. PUBLIC holds no attribute: none for it."""
    had = set(state.roles[role].attributes) if role in state.roles else set()
    keys, fresh = state.add_all(expand(state, None, role, Target("SERVER"), row) or [], fact)
    if row.attribute and role in state.roles:
        state.roles[role].give(row.attribute, fact)  # a DENY taking it re-disposes the fact
        keys.append(f"role:{role}")
        fresh = fresh or row.attribute not in had
    return keys, fresh


def becomes(row: PrivilegeRow, role: str) -> str:
    """What a SERVER row with a predefined role or an attribute gives ``role``, in words."""
    if row.attribute:
        return f"the {row.attribute} attribute on role {role!r}"
    return f"membership in {row.role}"


def plan_fixed_server_role(state: PlanState, member: Membership, role: str, fact: str) -> bool:
    """Membership in a fixed server role without an over-granting permission: what each of its
    permissions maps to granted directly (False: the role has none in the reference data).
    CONNECT ANY DATABASE waits for :func:`plan_server_wide`, with a placeholder GB040. Every
    SERVER row giving a predefined role or an attribute is ``mapped`` (tests/mapper/
    test_fixed_server_roles.py), so only the wide rows and those left out approximate."""
    held = split_server_role(state, member)
    if not (held.granted or held.wide or held.left_out or held.overridden or held.everyone):
        return False
    keys, fresh, gives = _server_rows(state, held.granted, role, fact)
    said = [f"{', '.join(ps)}: {what}." for what, ps in gives.items()]
    said += _not_granted(held.left_out)
    if held.everyone:
        said.append(f"Nothing to grant for {', '.join(held.everyone)}: every PostgreSQL role "
                    "may read its catalogs.")  # fmt: skip
    found = [_member_finding(state, member, "GB043", " ".join(said))] if held.left_out else []
    found += [_member_finding(state, member, "GB040", lookup("SERVER", p).note) for p in held.wide]
    if held.overridden:
        said.append(f"Overridden in SQL Server by a DENY: {', '.join(held.overridden)}.")
    disposition = _membership_disposition(found, keys, fresh)
    if disposition == Disposition.IMPLIED:
        said.append("The plan already grants this.")
    state.dispose(fact, "membership", str(member.source_ref), disposition, items=keys,
                  findings=found, reason=" ".join(said))  # fmt: skip
    return True


def _server_rows(
    state: PlanState, permissions: tuple[str, ...], role: str, fact: str
) -> tuple[list[str], bool, dict[str, list[str]]]:
    """:func:`server_row_items` for each permission: keys, whether any is new, and the
    permissions by what they give (in words)."""
    keys: list[str] = []
    fresh, gives = False, dict[str, list[str]]()
    for permission in permissions:
        row = lookup("SERVER", permission)
        got, new = server_row_items(state, role, row, fact)
        keys, fresh = keys + got, fresh or new
        gives.setdefault(becomes(row, role), []).append(permission)
    return keys, fresh, gives


def _membership_disposition(found: list[str], keys: list[str], fresh: bool) -> Disposition:
    if found:  # something left out (GB043), or CONNECT ANY DATABASE to complete (GB040)
        return Disposition.APPROXIMATED
    if not keys:  # every permission overridden by a DENY
        return Disposition.NOT_APPLICABLE
    return Disposition.MAPPED if fresh else Disposition.IMPLIED


def _not_granted(permissions: tuple[str, ...]) -> list[str]:
    """A sentence per mapping note saying which permissions map to nothing, and why."""
    by_note: dict[str, list[str]] = {}
    for permission in permissions:
        by_note.setdefault(lookup("SERVER", permission).note, []).append(permission)
    return [f"Not granted: {', '.join(ps)}. {note}".rstrip() for note, ps in by_note.items()]


def member_of(member: Membership) -> str:
    return f"[{member.member}] is a member of fixed role {member.role} in the server"


def _member_finding(state: PlanState, member: Membership, rule_id: str, action: str) -> str:
    finding = findings.make(rule_id, member_of(member), action, principal=member.member,
                            securable=f"role {member.role}", source_ref=str(member.source_ref))  # fmt: skip
    return state.finding(finding)


# ---------------------------------------------------------------- access in every database
